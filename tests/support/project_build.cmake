# tests/support/project_build.cmake — helpers for the cmake -P scripts that configure, build and run
# a small CMake project as a test (consumer/run_install_test.cmake, node/dora/layout/run_layout_test.cmake).
#
#   include("${DCP_SOURCE_DIR}/tests/support/project_build.cmake")
#   dcp_test_require(my_script.cmake DCP_SOURCE_DIR WORK_DIR CMAKE_GENERATOR)
#   dcp_test_configure_args(_configure_args)      # -G, build type, make program, compiler
#   dcp_test_run_step("build it" "${CMAKE_COMMAND}" --build ... [OUTPUT <var>])
#
# BUILD_TYPE defaults to Release when the caller did not pass one. Nothing here runs in parallel;
# each step blocks until its command exits.

# Fails the script, naming it, when one of the variables is unset or empty; defaults BUILD_TYPE.
macro(dcp_test_require script)
    foreach(_dcp_var ${ARGN})
        if(NOT DEFINED ${_dcp_var} OR "${${_dcp_var}}" STREQUAL "")
            message(FATAL_ERROR "${script}: ${_dcp_var} is not set")
        endif()
    endforeach()
    if(NOT DEFINED BUILD_TYPE OR BUILD_TYPE STREQUAL "")
        set(BUILD_TYPE Release)
    endif()
endmacro()

# The configure arguments every project built by a test gets: the caller's generator, build type,
# make program and compiler.
function(dcp_test_configure_args out_var)
    set(_args -G "${CMAKE_GENERATOR}" -DCMAKE_BUILD_TYPE=${BUILD_TYPE})
    if(CMAKE_MAKE_PROGRAM)
        list(APPEND _args "-DCMAKE_MAKE_PROGRAM=${CMAKE_MAKE_PROGRAM}")
    endif()
    if(CMAKE_CXX_COMPILER)
        list(APPEND _args "-DCMAKE_CXX_COMPILER=${CMAKE_CXX_COMPILER}")
    endif()
    set(${out_var} "${_args}" PARENT_SCOPE)
endfunction()

# Runs a command, echoing it; fails the test with its output if it exits non-zero. With
# OUTPUT <var>, the output (stdout and stderr) is left in <var>.
function(dcp_test_run_step description)
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
