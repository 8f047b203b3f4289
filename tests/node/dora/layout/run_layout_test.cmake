# Checks Dora discovery (cmake/dcp_find_dora.cmake via node/src/dora/CMakeLists.txt) against each layout
# a real build of Dora's dora-node-api-cxx (v1.0.0-rc.3 and later) produces, with the fake Dora API
# (../fake_dora/) laid out like it and standing in for the Rust library (Dora cannot be built here),
# and fake_package/ as Dora's CMake package.
#
#   cmake -DDCP_SOURCE_DIR=... -DWORK_DIR=... -DCMAKE_GENERATOR=... [-DCMAKE_MAKE_PROGRAM=...]
#         [-DCMAKE_CXX_COMPILER=...] [-DBUILD_TYPE=...] -P run_layout_test.cmake
#
# Each layout configures consumer/ (which vendors dcp) and checks what configure says it found:
#   package_build_tree  a checkout after `cargo build --release -p dora-node-api-cxx`:
#                       target/cxxbridge/dora-node-api-cxx/{include,src,install,lib/cmake/dora-node-api-cxx}/,
#                       the library in target/release/ (not where the package says)
#   build_tree          the same without the CMake package
#   install_folder      DCP_DORA_DIR = that build's target/cxxbridge/dora-node-api-cxx/install/
#   custom_install      a copy of it elsewhere ($DORA_NODE_API_CXX_INSTALL): fails asking for
#                       DCP_DORA_LIBRARY, then works with it
#   staged_prefix       include/, src/, lib/libdora_node_api_cxx.a, lib/cmake/ (a release archive; no
#                       cxx.h): configured, built and run (the probe node must exit 0)
#   package_dir         the staged prefix through -Ddora-node-api-cxx_DIR only
#   rc3_prefix          a staged prefix without the package, with the rc.3/rc.4 header ("input metadata 0")
#   too_old             the flat layout of before November 2025 with an old API: configure fails
#                       naming the missing functions and the floor
cmake_minimum_required(VERSION 3.25)

include("${CMAKE_CURRENT_LIST_DIR}/../../../../cmake/dcp_script_steps.cmake")
dcp_require_variables(run_layout_test.cmake DCP_SOURCE_DIR WORK_DIR CMAKE_GENERATOR)

set(_fake_dora "${DCP_SOURCE_DIR}/tests/node/dora/fake_dora")
set(_package "${CMAKE_CURRENT_LIST_DIR}/fake_package")
file(REMOVE_RECURSE "${WORK_DIR}")
dcp_configure_arguments(_configure_args)

# The fake Dora library (libdora_node_api_cxx.a), built once.
dcp_run_step("configure the fake Dora library"
    "${CMAKE_COMMAND}" -S "${CMAKE_CURRENT_LIST_DIR}/fake_dora_library" -B "${WORK_DIR}/fake_dora_library"
    ${_configure_args} "-DFAKE_DORA_DIR=${_fake_dora}" "-DOUTPUT_DIR=${WORK_DIR}/fake_dora_library/out")
dcp_run_step("build the fake Dora library" "${CMAKE_COMMAND}" --build "${WORK_DIR}/fake_dora_library")
set(_library "${WORK_DIR}/fake_dora_library/out/libdora_node_api_cxx.a")
if(NOT EXISTS "${_library}")
    message(FATAL_ERROR "the fake Dora library is not at ${_library}")
endif()

file(READ "${_fake_dora}/dora-node-api.h" _main_header)
string(REGEX REPLACE "[^\n]*event_as_input_with_metadata[^\n]*\n" "" _rc3_header "${_main_header}")
string(REGEX REPLACE "[^\n]*(next_event_timeout|try_next_event|close_outputs|event_as_node_failed)\\([^\n]*\n" ""
    _old_header "${_rc3_header}")
set(_bridge_text "// Stand-in for the C++ half of Dora's cxx bridge (the fake library has everything).\n#include \"dora-node-api.h\"\n")

# _header(<dir> <text>): dora-node-api.h (and the rust:: types the fake keeps beside it) in <dir>.
function(_header dir text)
    file(WRITE "${dir}/dora-node-api.h" "${text}")
    file(COPY_FILE "${_fake_dora}/rust_builtins.h" "${dir}/rust_builtins.h")
endfunction()
function(_cmake_package prefix)
    file(MAKE_DIRECTORY "${prefix}/lib/cmake/dora-node-api-cxx")
    foreach(_file dora-node-api-cxxConfig.cmake dora-node-api-cxxConfigVersion.cmake)
        file(COPY_FILE "${_package}/${_file}" "${prefix}/lib/cmake/dora-node-api-cxx/${_file}")
    endforeach()
endfunction()
# _build_tree(<checkout> <with package: ON|OFF>)
function(_build_tree checkout with_package)
    set(_crate "${checkout}/target/cxxbridge/dora-node-api-cxx")
    _header("${_crate}/include" "${_main_header}")
    file(WRITE "${_crate}/src/dora-node-api.cc" "${_bridge_text}")
    _header("${_crate}/install" "${_main_header}")
    file(WRITE "${_crate}/install/dora-node-api.cc" "${_bridge_text}")
    file(WRITE "${_crate}/install/cxx.h" "#error \"dcp must not need cxx.h\"\n")
    file(MAKE_DIRECTORY "${checkout}/target/release")
    file(COPY_FILE "${_library}" "${checkout}/target/release/libdora_node_api_cxx.a")
    if(with_package)
        _cmake_package("${_crate}")
    endif()
endfunction()
# _staged_prefix(<prefix> <header text> <with package: ON|OFF>)
function(_staged_prefix prefix text with_package)
    _header("${prefix}/include" "${text}")
    file(WRITE "${prefix}/src/dora-node-api.cc" "${_bridge_text}")
    file(MAKE_DIRECTORY "${prefix}/lib")
    file(COPY_FILE "${_library}" "${prefix}/lib/libdora_node_api_cxx.a")
    if(with_package)
        _cmake_package("${prefix}")
    endif()
endfunction()

# _configure(<name> <expect: ok|fail> [ARGS <cache arguments>] [ENV <VAR=value>...] EXPECT <text>...):
# configures consumer/ into WORK_DIR/<name>-consumer (with ENV in its environment) and checks that
# configure succeeded (or failed) saying each <text>.
function(_configure name expect)
    cmake_parse_arguments(PARSE_ARGV 2 _arg "" "" "ARGS;ENV;EXPECT")
    execute_process(
        COMMAND "${CMAKE_COMMAND}" -E env ${_arg_ENV} "${CMAKE_COMMAND}" -S "${CMAKE_CURRENT_FUNCTION_LIST_DIR}/consumer" -B "${WORK_DIR}/${name}-consumer"
            ${_configure_args} "-DDCP_SOURCE_DIR=${DCP_SOURCE_DIR}" "-DFAKE_DORA_DIR=${_fake_dora}" ${_arg_ARGS}
        RESULT_VARIABLE _result OUTPUT_VARIABLE _output ERROR_VARIABLE _output)
    string(REGEX REPLACE "[ \t\r\n]+" " " _flat "${_output}")  # CMake wraps long messages
    if(expect STREQUAL "ok" AND NOT _result EQUAL 0)
        message(FATAL_ERROR "${name}: configure failed:\n${_output}")
    elseif(expect STREQUAL "fail" AND _result EQUAL 0)
        message(FATAL_ERROR "${name}: configure succeeded, expected it to fail:\n${_output}")
    endif()
    foreach(_expected IN LISTS _arg_EXPECT)
        string(FIND "${_flat}" "${_expected}" _at)
        if(_at EQUAL -1)
            message(FATAL_ERROR "${name}: the configure output lacks '${_expected}':\n${_output}")
        endif()
    endforeach()
    message(STATUS "${name}: configure said what was expected")
endfunction()

set(_on "dcp: Dora backend: ON — needs Dora >= v1.0.0-rc.3")

_build_tree("${WORK_DIR}/package_build_tree" ON)
_configure(package_build_tree ok ARGS "-DDCP_DORA_DIR=${WORK_DIR}/package_build_tree"
    EXPECT "${_on}" "found CMake package ${WORK_DIR}/package_build_tree/target/cxxbridge/dora-node-api-cxx/lib/cmake/dora-node-api-cxx (version 1.0.0-rc.4)"
           "${WORK_DIR}/package_build_tree/target/release/libdora_node_api_cxx.a (+ pthread dl m rt)"
           "bridge ${WORK_DIR}/package_build_tree/target/cxxbridge/dora-node-api-cxx/src/dora-node-api.cc"
           "input metadata 1")

_build_tree("${WORK_DIR}/build_tree" OFF)
_configure(build_tree ok ARGS "-DDCP_DORA_DIR=${WORK_DIR}/build_tree/target"
    EXPECT "${_on}" "found build tree: ${WORK_DIR}/build_tree/target/cxxbridge/dora-node-api-cxx/include/dora-node-api.h"
           "${WORK_DIR}/build_tree/target/release/libdora_node_api_cxx.a"
           "bridge ${WORK_DIR}/build_tree/target/cxxbridge/dora-node-api-cxx/src/dora-node-api.cc")

_configure(install_folder ok ARGS "-DDCP_DORA_DIR=${WORK_DIR}/build_tree/target/cxxbridge/dora-node-api-cxx/install"
    EXPECT "${_on}" "found install folder: ${WORK_DIR}/build_tree/target/cxxbridge/dora-node-api-cxx/install/dora-node-api.h"
           "${WORK_DIR}/build_tree/target/release/libdora_node_api_cxx.a"
           "bridge ${WORK_DIR}/build_tree/target/cxxbridge/dora-node-api-cxx/install/dora-node-api.cc")

# $DORA_NODE_API_CXX_INSTALL outside the build tree: no library beside it, DCP_DORA_LIBRARY names it.
file(COPY "${WORK_DIR}/build_tree/target/cxxbridge/dora-node-api-cxx/install/" DESTINATION "${WORK_DIR}/custom_install")
_configure(custom_install fail ARGS "-DDCP_DORA_DIR=${WORK_DIR}/custom_install"
    EXPECT "but not libdora_node_api_cxx.a" "set DCP_DORA_LIBRARY to the file")
_configure(custom_install_library ok ARGS "-DDCP_DORA_DIR=${WORK_DIR}/custom_install"
    "-DDCP_DORA_LIBRARY=${WORK_DIR}/build_tree/target/release/libdora_node_api_cxx.a"
    EXPECT "${_on}" "found install folder: ${WORK_DIR}/custom_install/dora-node-api.h"
           "${WORK_DIR}/build_tree/target/release/libdora_node_api_cxx.a")

_staged_prefix("${WORK_DIR}/staged_prefix" "${_main_header}" ON)
_configure(staged_prefix ok ARGS "-DDCP_DORA_DIR=${WORK_DIR}/staged_prefix"
    EXPECT "${_on}" "found CMake package ${WORK_DIR}/staged_prefix/lib/cmake/dora-node-api-cxx"
           "${WORK_DIR}/staged_prefix/lib/libdora_node_api_cxx.a (+ pthread dl m rt)"
           "bridge ${WORK_DIR}/staged_prefix/src/dora-node-api.cc" "input metadata 1")
dcp_run_step("build the probe (staged prefix)" "${CMAKE_COMMAND}" --build "${WORK_DIR}/staged_prefix-consumer" --target probe)
dcp_run_step("run the probe (staged prefix)" "${WORK_DIR}/staged_prefix-consumer/probe" OUTPUT _probe_output)
message(STATUS "${_probe_output}")

# DCP_DORA_DIR from the environment (how `DCP_DORA_DIR=... dora build` reaches the robot example's build step).
_configure(environment ok ENV "DCP_DORA_DIR=${WORK_DIR}/staged_prefix"
    EXPECT "dcp: DCP_DORA_DIR=${WORK_DIR}/staged_prefix (from the environment)"
           "${_on}" "found CMake package ${WORK_DIR}/staged_prefix/lib/cmake/dora-node-api-cxx")

_configure(package_dir ok ARGS "-Ddora-node-api-cxx_DIR=${WORK_DIR}/staged_prefix/lib/cmake/dora-node-api-cxx"
    EXPECT "${_on}" "found CMake package ${WORK_DIR}/staged_prefix/lib/cmake/dora-node-api-cxx")

_staged_prefix("${WORK_DIR}/rc3_prefix" "${_rc3_header}" OFF)
_configure(rc3_prefix ok ARGS "-DDCP_DORA_DIR=${WORK_DIR}/rc3_prefix"
    EXPECT "${_on}" "found staged prefix: ${WORK_DIR}/rc3_prefix/include/dora-node-api.h"
           "${WORK_DIR}/rc3_prefix/lib/libdora_node_api_cxx.a" "input metadata 0")

_header("${WORK_DIR}/too_old/target/cxxbridge/dora-node-api-cxx" "${_old_header}")
file(MAKE_DIRECTORY "${WORK_DIR}/too_old/target/release")
file(COPY_FILE "${_library}" "${WORK_DIR}/too_old/target/release/libdora_node_api_cxx.a")
_configure(too_old fail ARGS "-DDCP_DORA_DIR=${WORK_DIR}/too_old"
    EXPECT "dora-node-api.h (flat layout of before November 2025) lacks next_event_timeout, try_next_event, event_as_node_failed, close_outputs: this Dora C++ node API is older than v1.0.0-rc.3")
