# Helpers for the test scripts that configure and build other CMake projects (cmake -P):
# tests/consumer/run_consumer_test.cmake and tests/node/dora/layout/run_layout_test.cmake.
#
#   include("${DCP_SOURCE_DIR}/cmake/dcp_script_steps.cmake")
#   dcp_require_variables(<script name> <variable>...)   FATAL_ERROR naming the first one unset
#   dcp_run_step(<description> <command>... [OUTPUT <var>] [ENV <name=value>...])
#       runs the command (echoed, with its duration); fails with its output when it exits non-zero;
#       leaves stdout+stderr in <var>. ENV runs it through `cmake -E env`.
#   dcp_configure_arguments(<var>)
#       -G, CMAKE_BUILD_TYPE (BUILD_TYPE, default Release) and, when set, CMAKE_MAKE_PROGRAM,
#       CMAKE_CXX_COMPILER and CMAKE_CXX_COMPILER_LAUNCHER (ccache) for a project configured
#       from the script.
include_guard(GLOBAL)

macro(dcp_require_variables script)
    foreach(_dcp_var ${ARGN})
        if(NOT DEFINED ${_dcp_var} OR "${${_dcp_var}}" STREQUAL "")
            message(FATAL_ERROR "${script}: ${_dcp_var} is not set")
        endif()
    endforeach()
    if(NOT DEFINED BUILD_TYPE OR BUILD_TYPE STREQUAL "")
        set(BUILD_TYPE Release)
    endif()
endmacro()

function(dcp_run_step description)
    cmake_parse_arguments(PARSE_ARGV 1 _step "" "OUTPUT" "ENV")
    set(_command ${_step_UNPARSED_ARGUMENTS})
    if(_step_ENV)
        set(_command "${CMAKE_COMMAND}" -E env ${_step_ENV} ${_command})
    endif()
    string(TIMESTAMP _started "%s")
    execute_process(COMMAND ${_command}
        RESULT_VARIABLE _result
        OUTPUT_VARIABLE _output
        ERROR_VARIABLE _output)
    string(TIMESTAMP _ended "%s")
    math(EXPR _seconds "${_ended} - ${_started}")
    list(JOIN _command " " _shown)
    message(STATUS "${description} (${_seconds} s): ${_shown}")
    if(NOT _result EQUAL 0)
        message(FATAL_ERROR "${description} failed (${_result}):\n${_output}")
    endif()
    if(_step_OUTPUT)
        set(${_step_OUTPUT} "${_output}" PARENT_SCOPE)
    endif()
endfunction()

function(dcp_configure_arguments out)
    set(_args -G "${CMAKE_GENERATOR}" "-DCMAKE_BUILD_TYPE=${BUILD_TYPE}")
    foreach(_var IN ITEMS CMAKE_MAKE_PROGRAM CMAKE_CXX_COMPILER CMAKE_CXX_COMPILER_LAUNCHER)
        if(${_var})
            list(APPEND _args "-D${_var}=${${_var}}")
        endif()
    endforeach()
    set(${out} ${_args} PARENT_SCOPE)
endfunction()
