# Helpers for dcp's cmake -P test scripts that configure, build and run other projects
# (tests/consumer/run_consumer_test.cmake, tests/node/dora/layout/run_layout_test.cmake).
#
#   dcp_require_variables(<script> <var>...)   fail unless every variable is set and non-empty
#   dcp_run_step(<description> [OUTPUT <var>] <command>...)
#                                              run a command, echoing it; fail the test with its
#                                              output when it exits non-zero; OUTPUT keeps the output
#   dcp_configure_args(<var>)                  -G, build type, make program and compiler of the
#                                              calling build, for configuring another project
# BUILD_TYPE defaults to Release.
include_guard(GLOBAL)

function(dcp_require_variables script)
    foreach(_var IN LISTS ARGN)
        if(NOT DEFINED ${_var} OR "${${_var}}" STREQUAL "")
            message(FATAL_ERROR "${script}: ${_var} is not set")
        endif()
    endforeach()
endfunction()

function(dcp_run_step description)
    cmake_parse_arguments(PARSE_ARGV 1 _step "" "OUTPUT" "")
    message(STATUS "${description}: ${_step_UNPARSED_ARGUMENTS}")
    execute_process(COMMAND ${_step_UNPARSED_ARGUMENTS}
        RESULT_VARIABLE _result
        OUTPUT_VARIABLE _output
        ERROR_VARIABLE _output)
    if(NOT _result EQUAL 0)
        message(FATAL_ERROR "${description} failed (${_result}):\n${_output}")
    endif()
    if(_step_OUTPUT)
        set(${_step_OUTPUT} "${_output}" PARENT_SCOPE)
    endif()
endfunction()

if(NOT DEFINED BUILD_TYPE OR BUILD_TYPE STREQUAL "")
    set(BUILD_TYPE Release)
endif()

function(dcp_configure_args out)
    set(_args -G "${CMAKE_GENERATOR}" "-DCMAKE_BUILD_TYPE=${BUILD_TYPE}")
    if(CMAKE_MAKE_PROGRAM)
        list(APPEND _args "-DCMAKE_MAKE_PROGRAM=${CMAKE_MAKE_PROGRAM}")
    endif()
    if(CMAKE_CXX_COMPILER)
        list(APPEND _args "-DCMAKE_CXX_COMPILER=${CMAKE_CXX_COMPILER}")
    endif()
    set(${out} "${_args}" PARENT_SCOPE)
endfunction()
