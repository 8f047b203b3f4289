# dcp used by other projects, the ways a user would (ctest label `packaging`, plain builds).
#
#   cmake -DMODE=install|subdirectory|pkgconfig -DDCP_SOURCE_DIR=... -DDCP_BINARY_DIR=... -DWORK_DIR=...
#         -DCMAKE_GENERATOR=... [-DCMAKE_MAKE_PROGRAM=...] [-DCMAKE_CXX_COMPILER=...] [-DBUILD_TYPE=...]
#         -P run_consumer_test.cmake
#
# MODE=install       `cmake --install` DCP_BINARY_DIR into WORK_DIR/prefix; then, against that prefix
#                    only: tests/consumer/consumer (find_package, dcp::core alone) is built and run;
#                    examples/node_template (find_package, dcp::node + dcp::patterns) is copied to
#                    WORK_DIR/template, built, its NodeHarness test run with ctest, and the node run as a
#                    process by the INSTALLED `<prefix>/bin/dcp run dataflow.yml`, which must end well
#                    with results sent.
# MODE=subdirectory  tests/consumer/subdirectory_consumer vendors dcp with add_subdirectory (default
#                    options: core, node and patterns, no tools) and the template beside it; built, the
#                    core program and the template's test run.
# MODE=pkgconfig     installs into WORK_DIR/prefix, then compiles with plain c++ command lines and
#                    `pkg-config --cflags --libs`: a core-only program (dcp-core) and the template node
#                    and its test (dcp-patterns); runs the core program and the test.
cmake_minimum_required(VERSION 3.25)
include("${CMAKE_CURRENT_LIST_DIR}/../../cmake/dcp_script_steps.cmake")
dcp_require_variables(run_consumer_test.cmake MODE DCP_SOURCE_DIR DCP_BINARY_DIR WORK_DIR CMAKE_GENERATOR)
dcp_configure_args(_configure_args)

file(REMOVE_RECURSE "${WORK_DIR}")
file(MAKE_DIRECTORY "${WORK_DIR}")
set(_prefix "${WORK_DIR}/prefix")
set(_template_source "${DCP_SOURCE_DIR}/examples/node_template")

function(install_dcp)
    dcp_run_step("install dcp"
        "${CMAKE_COMMAND}" --install "${DCP_BINARY_DIR}" --prefix "${_prefix}" --config "${BUILD_TYPE}")
    # Exactly the installed targets' headers: the core, node and pattern headers, no internal ones.
    foreach(_header core/channel.hpp node/node.hpp node/node_harness.hpp patterns/output_handler.hpp)
        if(NOT EXISTS "${_prefix}/include/dcp/${_header}")
            message(FATAL_ERROR "install did not put include/dcp/${_header} under ${_prefix}")
        endif()
    endforeach()
    file(GLOB_RECURSE _installed RELATIVE "${_prefix}/include" "${_prefix}/include/*")
    foreach(_file IN LISTS _installed)
        if(NOT _file MATCHES "^dcp/(core|node|patterns)/")
            message(FATAL_ERROR "install put a header of no installed target under ${_prefix}/include: ${_file}")
        endif()
    endforeach()
endfunction()

# Copies the template beside the other work (as a user copies it) and builds it into <copy>/build,
# where its dataflow.yml expects the node.
function(build_template description)
    set(_copy "${WORK_DIR}/template")
    file(COPY "${_template_source}/" DESTINATION "${_copy}")
    dcp_run_step("configure the template (${description})"
        "${CMAKE_COMMAND}" -S "${_copy}" -B "${_copy}/build" ${_configure_args} ${ARGN})
    dcp_run_step("build the template" "${CMAKE_COMMAND}" --build "${_copy}/build")
    dcp_run_step("test the template" "${CMAKE_COMMAND}" -E chdir "${_copy}/build" ctest --output-on-failure)
endfunction()

if(MODE STREQUAL "install")
    install_dcp()
    # Only the fresh prefix may satisfy find_package(dcp), never a system-wide install or a registry.
    set(_find_args "-DCMAKE_PREFIX_PATH=${_prefix}"
        -DCMAKE_FIND_USE_PACKAGE_REGISTRY=OFF -DCMAKE_FIND_USE_SYSTEM_PACKAGE_REGISTRY=OFF)

    dcp_run_step("configure the core consumer"
        "${CMAKE_COMMAND}" -S "${CMAKE_CURRENT_LIST_DIR}/consumer" -B "${WORK_DIR}/core" ${_configure_args} ${_find_args})
    dcp_run_step("build the core consumer" "${CMAKE_COMMAND}" --build "${WORK_DIR}/core")
    dcp_run_step("run the core consumer" "${WORK_DIR}/core/consumer")

    build_template("installed dcp" ${_find_args})
    dcp_run_step("run the template under the installed dcp"
        "${_prefix}/bin/dcp" run "${WORK_DIR}/template/dataflow.yml" --stop-after 1500ms
        OUTPUT _run_output)
    message(STATUS "${_run_output}")
    if(NOT _run_output MATCHES "squares: [1-9][0-9]* ticks, sent [1-9][0-9]* results")
        message(FATAL_ERROR "the template node sent no results under `dcp run`:\n${_run_output}")
    endif()
elseif(MODE STREQUAL "subdirectory")
    set(_build "${WORK_DIR}/build")
    dcp_run_step("configure the vendoring project"
        "${CMAKE_COMMAND}" -S "${CMAKE_CURRENT_LIST_DIR}/subdirectory_consumer" -B "${_build}" ${_configure_args}
        "-DDCP_SOURCE_DIR=${DCP_SOURCE_DIR}" "-DTEMPLATE_DIR=${_template_source}" OUTPUT _configure_output)
    if(_configure_output MATCHES "yaml-cpp|CLI11")
        message(FATAL_ERROR "a vendored dcp with default options looked for the tools' dependencies:\n${_configure_output}")
    endif()
    dcp_run_step("build the vendoring project" "${CMAKE_COMMAND}" --build "${_build}")
    if(EXISTS "${_build}/dcp/tools/cli/dcp")
        message(FATAL_ERROR "a vendored dcp with default options built the tools")
    endif()
    dcp_run_step("run the core consumer" "${_build}/consumer")
    dcp_run_step("test the template" "${CMAKE_COMMAND}" -E chdir "${_build}" ctest --output-on-failure)
elseif(MODE STREQUAL "pkgconfig")
    install_dcp()
    find_program(_pkg_config NAMES pkg-config pkgconf REQUIRED)
    file(GLOB_RECURSE _pc_files "${_prefix}/*/dcp-core.pc")
    if(NOT _pc_files)
        message(FATAL_ERROR "install put no dcp-core.pc under ${_prefix}")
    endif()
    list(GET _pc_files 0 _pc_file)
    get_filename_component(_pc_dir "${_pc_file}" DIRECTORY)
    set(ENV{PKG_CONFIG_PATH} "${_pc_dir}")
    set(ENV{PKG_CONFIG_LIBDIR} "${_pc_dir}")  # nothing from the system
    if(NOT CMAKE_CXX_COMPILER)
        set(CMAKE_CXX_COMPILER c++)
    endif()
    foreach(_program IN ITEMS core node)
        if(_program STREQUAL "core")
            set(_package dcp-core)
            set(_sources "${CMAKE_CURRENT_LIST_DIR}/consumer/main.cpp")
        else()
            set(_package dcp-patterns)
            set(_sources "${_template_source}/squares_test.cpp")
        endif()
        dcp_run_step("pkg-config ${_package}" "${_pkg_config}" --cflags --libs ${_package} OUTPUT _flags)
        string(STRIP "${_flags}" _flags)
        separate_arguments(_flags UNIX_COMMAND "${_flags}")
        dcp_run_step("compile the ${_program} program with pkg-config"
            "${CMAKE_CXX_COMPILER}" ${_sources} -I "${_template_source}" -o "${WORK_DIR}/${_program}" ${_flags})
        dcp_run_step("run the ${_program} program" "${WORK_DIR}/${_program}")
    endforeach()
else()
    message(FATAL_ERROR "run_consumer_test.cmake: MODE must be install, subdirectory or pkgconfig, got '${MODE}'")
endif()
message(STATUS "${MODE} consumer: OK")
