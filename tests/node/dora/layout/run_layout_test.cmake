# Checks node/src/dora/CMakeLists.txt against a Dora build's layout, with the fake Dora API standing in for
# the Rust library (Dora itself cannot be built here).
#
#   cmake -DDCP_SOURCE_DIR=... -DWORK_DIR=... -DCMAKE_GENERATOR=... [-DCMAKE_MAKE_PROGRAM=...]
#         [-DCMAKE_CXX_COMPILER=...] [-DBUILD_TYPE=...] -P run_layout_test.cmake
#
# 1. Lays out WORK_DIR/dora like a Dora checkout after `cargo build --release -p dora-node-api-cxx`:
#      target/cxxbridge/dora-node-api-cxx/dora-node-api.h   (the fake header)
#      target/cxxbridge/dora-node-api-cxx/dora-node-api.cc  (a stand-in for the bridge's C++ half)
#      target/cxxbridge/rust/cxx.h                          (the fake cxx.h)
#      target/release/libdora_node_api_cxx.a                (the fake, built by fake_dora_library/)
# 2. Configures consumer/ (which vendors dcp) with DCP_DORA_DIR=WORK_DIR/dora, checks the configure
#    message, builds the probe node and runs it: it must exit 0.
# 3. Configures it again (without building) against two edited headers: an older API without the
#    metadata and node-failed functions (the backend is ON, "metadata 0, node-failed details 0"),
#    and one without next_event_timeout / try_next_event (configure fails: "too old").
cmake_minimum_required(VERSION 3.25)

include("${CMAKE_CURRENT_LIST_DIR}/../../../../cmake/dcp_script_steps.cmake")
dcp_require_variables(run_layout_test.cmake DCP_SOURCE_DIR WORK_DIR CMAKE_GENERATOR)

set(_fake_dora "${DCP_SOURCE_DIR}/tests/node/dora/fake_dora")
set(_dora "${WORK_DIR}/dora")
file(REMOVE_RECURSE "${WORK_DIR}")
file(MAKE_DIRECTORY "${_dora}/target/cxxbridge/dora-node-api-cxx" "${_dora}/target/cxxbridge/rust")

dcp_configure_arguments(_configure_args)

# 1. The "Dora build".
file(COPY_FILE "${_fake_dora}/dora-node-api.h" "${_dora}/target/cxxbridge/dora-node-api-cxx/dora-node-api.h")
file(COPY_FILE "${_fake_dora}/rust_builtins.h" "${_dora}/target/cxxbridge/dora-node-api-cxx/rust_builtins.h")
file(WRITE "${_dora}/target/cxxbridge/dora-node-api-cxx/dora-node-api.cc"
    "// Stand-in for the C++ half of Dora's cxx bridge (the fake library has everything).\n"
    "#include \"dora-node-api.h\"\n")
dcp_run_step("configure the fake Dora library"
    "${CMAKE_COMMAND}" -S "${CMAKE_CURRENT_LIST_DIR}/fake_dora_library" -B "${WORK_DIR}/fake_dora_library"
    ${_configure_args} "-DFAKE_DORA_DIR=${_fake_dora}" "-DOUTPUT_DIR=${_dora}/target/release")
dcp_run_step("build the fake Dora library" "${CMAKE_COMMAND}" --build "${WORK_DIR}/fake_dora_library")
if(NOT EXISTS "${_dora}/target/release/libdora_node_api_cxx.a")
    message(FATAL_ERROR "the fake Dora library is not at ${_dora}/target/release/libdora_node_api_cxx.a")
endif()

# 2. A node project with dcp built against it.
set(_build "${WORK_DIR}/consumer")
dcp_run_step("configure the consumer"
    "${CMAKE_COMMAND}" -S "${CMAKE_CURRENT_LIST_DIR}/consumer" -B "${_build}" ${_configure_args}
    "-DDCP_SOURCE_DIR=${DCP_SOURCE_DIR}" "-DFAKE_DORA_DIR=${_fake_dora}" "-DDCP_DORA_DIR=${_dora}"
    OUTPUT _configure_output)
foreach(_expected "dcp: Dora backend: ON" "dora-node-api.cc" "input metadata 1")
    string(FIND "${_configure_output}" "${_expected}" _at)
    if(_at EQUAL -1)
        message(FATAL_ERROR "the configure output lacks '${_expected}':\n${_configure_output}")
    endif()
endforeach()
dcp_run_step("build the probe" "${CMAKE_COMMAND}" --build "${_build}" --target probe)
dcp_run_step("run the probe" "${_build}/probe" OUTPUT _probe_output)
message(STATUS "${_probe_output}")

# 3. Feature detection on other API versions (configure only).
file(READ "${_fake_dora}/dora-node-api.h" _header)
string(REGEX REPLACE "[^\n]*event_as_input_with_metadata[^\n]*\n" "" _older "${_header}")
string(REGEX REPLACE "[^\n]*(next_event_timeout|try_next_event)[^\n]*\n" "" _too_old "${_older}")
foreach(_version IN ITEMS older too_old)
    set(_dir "${WORK_DIR}/${_version}-dora")
    file(MAKE_DIRECTORY "${_dir}")
    file(WRITE "${_dir}/dora-node-api.h" "${_${_version}}")
    file(COPY_FILE "${_fake_dora}/rust_builtins.h" "${_dir}/rust_builtins.h")
    file(COPY_FILE "${_dora}/target/release/libdora_node_api_cxx.a" "${_dir}/libdora_node_api_cxx.a")
    execute_process(
        COMMAND "${CMAKE_COMMAND}" -S "${CMAKE_CURRENT_LIST_DIR}/consumer" -B "${WORK_DIR}/${_version}-consumer"
            ${_configure_args} "-DDCP_SOURCE_DIR=${DCP_SOURCE_DIR}" "-DFAKE_DORA_DIR=${_fake_dora}"
            "-DDCP_DORA_DIR=${_dir}"
        RESULT_VARIABLE _result OUTPUT_VARIABLE _output ERROR_VARIABLE _output)
    string(REGEX REPLACE "[ \t\r\n]+" " " _output "${_output}")  # CMake wraps long messages
    if(_version STREQUAL "older")
        string(FIND "${_output}" "input metadata 0" _at)
        if(NOT _result EQUAL 0 OR _at EQUAL -1)
            message(FATAL_ERROR "older Dora API: expected a configured backend without metadata:\n${_output}")
        endif()
    else()
        set(_expected "lacks next_event_timeout, try_next_event: this Dora version's C++ node API is too old")
        string(FIND "${_output}" "${_expected}" _at)
        if(_result EQUAL 0 OR _at EQUAL -1)
            message(FATAL_ERROR "too old Dora API: expected configure to fail with '${_expected}':\n${_output}")
        endif()
    endif()
    message(STATUS "${_version} Dora API: detected as expected")
endforeach()
