# Checks that another CMake project can consume dcp.
#
#   cmake -DMODE=install|subdirectory -DDCP_SOURCE_DIR=... -DDCP_BINARY_DIR=... -DWORK_DIR=...
#         -DCMAKE_GENERATOR=... [-DCMAKE_MAKE_PROGRAM=...] [-DCMAKE_CXX_COMPILER=...]
#         [-DBUILD_TYPE=...] -P run_install_test.cmake
#
# MODE=install:      `cmake --install` DCP_BINARY_DIR into WORK_DIR/prefix, then build
#                    tests/install/consumer (find_package(dcp CONFIG REQUIRED)) against it.
# MODE=subdirectory: build tests/install/subdirectory_consumer, which add_subdirectory()s
#                    DCP_SOURCE_DIR.
# Either way the consumer binary is run and must exit 0.
cmake_minimum_required(VERSION 3.25)

if(NOT DEFINED DCP_SOURCE_DIR OR DCP_SOURCE_DIR STREQUAL "")
    message(FATAL_ERROR "run_install_test.cmake: DCP_SOURCE_DIR is not set")
endif()
include("${DCP_SOURCE_DIR}/tests/support/project_build.cmake")
dcp_test_require(run_install_test.cmake MODE DCP_BINARY_DIR WORK_DIR CMAKE_GENERATOR)

file(REMOVE_RECURSE "${WORK_DIR}")
file(MAKE_DIRECTORY "${WORK_DIR}")

dcp_test_configure_args(_configure_args)

if(MODE STREQUAL "install")
    set(_prefix "${WORK_DIR}/prefix")
    dcp_test_run_step("install dcp"
        "${CMAKE_COMMAND}" --install "${DCP_BINARY_DIR}" --prefix "${_prefix}" --config "${BUILD_TYPE}")
    if(NOT EXISTS "${_prefix}/include/dcp/core/channel.hpp")
        message(FATAL_ERROR "install did not put include/dcp/core/channel.hpp under ${_prefix}")
    endif()
    set(_consumer_source "${CMAKE_CURRENT_LIST_DIR}/consumer")
    list(APPEND _configure_args
        "-DCMAKE_PREFIX_PATH=${_prefix}"
        # Only the fresh prefix may satisfy find_package(dcp), never a system-wide install
        # or the user package registry.
        -DCMAKE_FIND_USE_PACKAGE_REGISTRY=OFF
        -DCMAKE_FIND_USE_SYSTEM_PACKAGE_REGISTRY=OFF)
elseif(MODE STREQUAL "subdirectory")
    set(_consumer_source "${CMAKE_CURRENT_LIST_DIR}/subdirectory_consumer")
    list(APPEND _configure_args "-DDCP_SOURCE_DIR=${DCP_SOURCE_DIR}")
else()
    message(FATAL_ERROR "run_install_test.cmake: MODE must be 'install' or 'subdirectory', got '${MODE}'")
endif()

set(_build_dir "${WORK_DIR}/build")
dcp_test_run_step("configure consumer"
    "${CMAKE_COMMAND}" -S "${_consumer_source}" -B "${_build_dir}" ${_configure_args})
dcp_test_run_step("build consumer"
    "${CMAKE_COMMAND}" --build "${_build_dir}" --config "${BUILD_TYPE}")

file(GLOB_RECURSE _binaries LIST_DIRECTORIES false
    "${_build_dir}/consumer" "${_build_dir}/*/consumer" "${_build_dir}/consumer.exe" "${_build_dir}/*/consumer.exe")
if(NOT _binaries)
    message(FATAL_ERROR "consumer binary not found under ${_build_dir}")
endif()
list(GET _binaries 0 _binary)
dcp_test_run_step("run consumer" "${_binary}")
message(STATUS "${MODE} consumer: OK")
