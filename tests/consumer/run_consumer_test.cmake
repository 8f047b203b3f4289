# Checks that other projects can use dcp, one way per MODE (tests/consumer/CMakeLists.txt runs each
# as a ctest, label `packaging`):
#
#   cmake -DMODE=<mode> -DDCP_SOURCE_DIR=... -DDCP_BINARY_DIR=... -DWORK_DIR=... -DCMAKE_GENERATOR=...
#         [-DCMAKE_MAKE_PROGRAM=...] [-DCMAKE_CXX_COMPILER=...] [-DCMAKE_CXX_COMPILER_LAUNCHER=...]
#         [-DBUILD_TYPE=...] -DINSTALL_LIBDIR=lib -DDCP_VERSION=x.y.z -DINSTALLED_LIBRARIES=a,b
#         [-DPKG_CONFIG_EXECUTABLE=...] -P run_consumer_test.cmake
#
# MODE=install       `cmake --install` DCP_BINARY_DIR (already built) into WORK_DIR/prefix; the
#                    prefix must hold exactly dcp's installed files (the headers of core/, node/ and
#                    patterns/include, every quoted or dcp/ include of them resolvable inside the
#                    prefix, the libraries INSTALLED_LIBRARIES, bin/dcp); builds
#                    examples/node_template with find_package(dcp 0.2 ...), runs its unit test
#                    (ctest) and runs it as a process under the INSTALLED `dcp run`, which must
#                    report every tick answered by a result.
# MODE=subdirectory  builds subdirectory_consumer/: add_subdirectory(dcp) with its defaults, then
#                    the template, whose find_package(dcp) the vendored dcp answers; runs the unit
#                    test. yaml-cpp, fmt, CLI11 and nlohmann_json are disabled for find_package: a
#                    vendored dcp must not look for the tools' dependencies.
# MODE=pkg_config    installs as MODE=install, then builds with plain compiler command lines and
#                    `pkg-config --cflags --libs` (PKG_CONFIG_PATH=<prefix>/<libdir>/pkgconfig):
#                    consumer/main.cpp with dcp-core, pkg_config/patterns_consumer.cpp + the
#                    template's my_node.cpp with dcp-patterns; runs both.
# MODE=core_only     configures dcp with -DDCP_BUILD_NODE=OFF (yaml-cpp, fmt, CLI11, GTest and
#                    nlohmann_json disabled for find_package), installs it: only core's headers, the
#                    config and dcp-core.pc; builds and runs consumer/ (dcp::core); a project asking
#                    for COMPONENTS node must fail to configure, saying DCP_BUILD_NODE=OFF.
cmake_minimum_required(VERSION 3.25)

include("${CMAKE_CURRENT_LIST_DIR}/../../cmake/dcp_script_steps.cmake")
dcp_require_variables(run_consumer_test.cmake MODE DCP_SOURCE_DIR WORK_DIR CMAKE_GENERATOR INSTALL_LIBDIR)
dcp_configure_arguments(_configure_args)

set(_template "${DCP_SOURCE_DIR}/examples/node_template")
set(_here "${CMAKE_CURRENT_LIST_DIR}")
set(_tools_dependencies yaml-cpp fmt CLI11 nlohmann_json)

file(REMOVE_RECURSE "${WORK_DIR}")
file(MAKE_DIRECTORY "${WORK_DIR}")

# Files under `dir` (recursively), relative to it, sorted.
function(_files_under dir out)
    file(GLOB_RECURSE _files LIST_DIRECTORIES false RELATIVE "${dir}" "${dir}/*")
    list(SORT _files)
    set(${out} ${_files} PARENT_SCOPE)
endfunction()

# Fails naming the differences when the lists `actual` and `expected` differ.
function(_expect_same_files what actual expected)
    set(_extra ${${actual}})
    set(_missing ${${expected}})
    if(${expected})
        list(REMOVE_ITEM _extra ${${expected}})
    endif()
    if(${actual})
        list(REMOVE_ITEM _missing ${${actual}})
    endif()
    if(_extra OR _missing)
        message(FATAL_ERROR "${what}:\n  installed but not expected: ${_extra}\n  expected but not installed: ${_missing}")
    endif()
endfunction()

# The installed headers are exactly those of the products' include/ folders (no tools/, ipc/ or
# src/ header), and every header they include that is not a system header is installed too.
function(_check_installed_headers prefix products)
    set(_expected "")
    foreach(_product IN LISTS products)
        _files_under("${DCP_SOURCE_DIR}/${_product}/include" _product_files)
        list(APPEND _expected ${_product_files})
    endforeach()
    list(SORT _expected)
    _files_under("${prefix}/include" _installed)
    _expect_same_files("installed headers (${prefix}/include)" _installed _expected)
    foreach(_header IN LISTS _installed)
        file(STRINGS "${prefix}/include/${_header}" _includes REGEX "^[ \t]*#[ \t]*include[ \t]*(\"|<dcp/)")
        foreach(_line IN LISTS _includes)
            string(REGEX REPLACE "^[ \t]*#[ \t]*include[ \t]*[\"<]([^\">]+)[\">].*$" "\\1" _included "${_line}")
            get_filename_component(_header_dir "${prefix}/include/${_header}" DIRECTORY)
            if(NOT EXISTS "${prefix}/include/${_included}" AND NOT EXISTS "${_header_dir}/${_included}")
                message(FATAL_ERROR "installed ${_header} includes ${_included}, which is not installed")
            endif()
        endforeach()
    endforeach()
endfunction()

# `cmake --install` of the already built DCP_BINARY_DIR into `prefix`, and the checks of its files.
function(_install_dcp prefix)
    dcp_require_variables(run_consumer_test.cmake DCP_BINARY_DIR DCP_VERSION)
    dcp_run_step("install dcp"
        "${CMAKE_COMMAND}" --install "${DCP_BINARY_DIR}" --prefix "${prefix}" --config "${BUILD_TYPE}")
    _check_installed_headers("${prefix}" "core;node;patterns")
    string(REPLACE "," ";" _libraries "${INSTALLED_LIBRARIES}")
    set(_expected_lib ${_libraries}
        cmake/dcp/dcpConfig.cmake cmake/dcp/dcpConfigVersion.cmake cmake/dcp/dcpTargets.cmake
        pkgconfig/dcp-core.pc pkgconfig/dcp-node.pc pkgconfig/dcp-patterns.pc)
    _files_under("${prefix}/${INSTALL_LIBDIR}" _installed_lib)
    list(FILTER _installed_lib EXCLUDE REGEX "^cmake/dcp/dcpTargets-[a-z]+\\.cmake$")  # per configuration
    list(SORT _expected_lib)
    _expect_same_files("installed ${INSTALL_LIBDIR}/" _installed_lib _expected_lib)
    _files_under("${prefix}/bin" _installed_bin)
    set(_expected_bin dcp)
    _expect_same_files("installed bin/" _installed_bin _expected_bin)
endfunction()

# Configures `source` into `build` with the extra arguments, builds it and runs its ctest tests.
function(_build_and_test source build)
    dcp_run_step("configure ${source}" "${CMAKE_COMMAND}" -S "${source}" -B "${build}" ${_configure_args} ${ARGN})
    dcp_run_step("build ${source}" "${CMAKE_COMMAND}" --build "${build}" --config "${BUILD_TYPE}")
    dcp_run_step("ctest ${build}" "${CMAKE_CTEST_COMMAND}" --test-dir "${build}" -C "${BUILD_TYPE}"
        --output-on-failure --no-tests=error OUTPUT _ctest_output)
    message(STATUS "${_ctest_output}")
endfunction()

set(_only_this_prefix
    # Only the fresh prefix may satisfy find_package(dcp): no user or system package registry.
    -DCMAKE_FIND_USE_PACKAGE_REGISTRY=OFF
    -DCMAKE_FIND_USE_SYSTEM_PACKAGE_REGISTRY=OFF)

if(MODE STREQUAL "install")
    set(_prefix "${WORK_DIR}/prefix")
    _install_dcp("${_prefix}")
    set(_build "${WORK_DIR}/my_node")
    _build_and_test("${_template}" "${_build}" "-DCMAKE_PREFIX_PATH=${_prefix}" ${_only_this_prefix})

    # The template's dataflow, with the node path pointing at this build.
    file(READ "${_template}/dataflow.yml" _dataflow)
    string(FIND "${_dataflow}" "path: build/my_node" _at)
    if(_at EQUAL -1)
        message(FATAL_ERROR "${_template}/dataflow.yml no longer says 'path: build/my_node'; update this script")
    endif()
    string(REPLACE "path: build/my_node" "path: ${_build}/my_node" _dataflow "${_dataflow}")
    file(WRITE "${WORK_DIR}/dataflow.yml" "${_dataflow}")
    # The timer ticks every 100 ms: about 15 ticks, each of which must come back as a result.
    dcp_run_step("run the template under the installed dcp"
        "${_prefix}/bin/dcp" run "${WORK_DIR}/dataflow.yml" --stop-after 1500ms OUTPUT _run_output)
    message(STATUS "${_run_output}")
    string(REGEX MATCH "\n  my_node +[0-9]+ +[^\n]* +([0-9]+) +([0-9]+) +([0-9]+)\n" _row "${_run_output}")
    set(_sent "${CMAKE_MATCH_1}")
    set(_delivered "${CMAKE_MATCH_2}")
    if(NOT _row OR NOT _run_output MATCHES "dataflow succeeded")
        message(FATAL_ERROR "`dcp run` did not report a successful my_node:\n${_run_output}")
    endif()
    if(_sent LESS 1 OR NOT _sent EQUAL _delivered)
        message(FATAL_ERROR "my_node sent ${_sent} results for ${_delivered} ticks (expected one per tick, at least one):\n${_run_output}")
    endif()
    message(STATUS "install consumer: OK (my_node sent ${_sent} results for ${_delivered} ticks)")

elseif(MODE STREQUAL "subdirectory")
    set(_no_tools_dependencies "")
    foreach(_package IN LISTS _tools_dependencies)
        list(APPEND _no_tools_dependencies "-DCMAKE_DISABLE_FIND_PACKAGE_${_package}=ON")
    endforeach()
    _build_and_test("${_here}/subdirectory_consumer" "${WORK_DIR}/build"
        "-DDCP_SOURCE_DIR=${DCP_SOURCE_DIR}" ${_no_tools_dependencies})
    message(STATUS "subdirectory consumer: OK")

elseif(MODE STREQUAL "pkg_config")
    dcp_require_variables(run_consumer_test.cmake PKG_CONFIG_EXECUTABLE CMAKE_CXX_COMPILER)
    set(_prefix "${WORK_DIR}/prefix")
    _install_dcp("${_prefix}")
    set(_pkg_env "PKG_CONFIG_PATH=${_prefix}/${INSTALL_LIBDIR}/pkgconfig")
    dcp_run_step("pkg-config version" "${PKG_CONFIG_EXECUTABLE}" --modversion "dcp-patterns >= 0.2"
        ENV "${_pkg_env}" OUTPUT _version)
    string(STRIP "${_version}" _version)
    if(NOT _version STREQUAL DCP_VERSION)
        message(FATAL_ERROR "pkg-config says dcp-patterns is '${_version}', the project is ${DCP_VERSION}")
    endif()
    set(_launcher ${CMAKE_CXX_COMPILER_LAUNCHER})
    # <program> <pkg-config package> <sources>...: compile and link with the package's flags, run.
    function(_build_with_pkg_config program package)
        dcp_run_step("pkg-config ${package}" "${PKG_CONFIG_EXECUTABLE}" --cflags --libs ${package}
            ENV "${_pkg_env}" OUTPUT _flags)
        string(STRIP "${_flags}" _flags)
        separate_arguments(_flags UNIX_COMMAND "${_flags}")
        dcp_run_step("compile ${program} (pkg-config ${package})"
            ${_launcher} "${CMAKE_CXX_COMPILER}" ${ARGN} ${_flags} -o "${WORK_DIR}/${program}")
        dcp_run_step("run ${program}" "${WORK_DIR}/${program}" OUTPUT _output)
        message(STATUS "${_output}")
    endfunction()
    _build_with_pkg_config(core_consumer dcp-core "${_here}/consumer/main.cpp")
    _build_with_pkg_config(patterns_consumer dcp-patterns
        "${_here}/pkg_config/patterns_consumer.cpp" "${_template}/my_node.cpp" "-I${_template}")
    message(STATUS "pkg-config consumer: OK")

elseif(MODE STREQUAL "core_only")
    set(_prefix "${WORK_DIR}/prefix")
    set(_disabled "")
    foreach(_package IN LISTS _tools_dependencies ITEMS GTest)
        list(APPEND _disabled "-DCMAKE_DISABLE_FIND_PACKAGE_${_package}=ON")
    endforeach()
    dcp_run_step("configure dcp core-only" "${CMAKE_COMMAND}" -S "${DCP_SOURCE_DIR}" -B "${WORK_DIR}/dcp"
        ${_configure_args} -DDCP_BUILD_NODE=OFF "-DCMAKE_INSTALL_PREFIX=${_prefix}" ${_disabled})
    dcp_run_step("build dcp core-only" "${CMAKE_COMMAND}" --build "${WORK_DIR}/dcp" --config "${BUILD_TYPE}")
    dcp_run_step("install dcp core-only" "${CMAKE_COMMAND}" --install "${WORK_DIR}/dcp" --config "${BUILD_TYPE}")
    _check_installed_headers("${_prefix}" "core")
    _files_under("${_prefix}" _installed)
    set(_expected
        "${INSTALL_LIBDIR}/cmake/dcp/dcpConfig.cmake" "${INSTALL_LIBDIR}/cmake/dcp/dcpConfigVersion.cmake"
        "${INSTALL_LIBDIR}/cmake/dcp/dcpTargets.cmake" "${INSTALL_LIBDIR}/pkgconfig/dcp-core.pc")
    list(FILTER _installed EXCLUDE REGEX "^include/")
    _expect_same_files("core-only install (${_prefix})" _installed _expected)

    _build_and_test("${_here}/consumer" "${WORK_DIR}/consumer" "-DCMAKE_PREFIX_PATH=${_prefix}" ${_only_this_prefix})

    file(WRITE "${WORK_DIR}/needs_node/CMakeLists.txt"
        "cmake_minimum_required(VERSION 3.25)\nproject(needs_node LANGUAGES CXX)\n"
        "find_package(dcp 0.2 CONFIG REQUIRED COMPONENTS node)\n")
    execute_process(
        COMMAND "${CMAKE_COMMAND}" -S "${WORK_DIR}/needs_node" -B "${WORK_DIR}/needs_node/build"
            ${_configure_args} "-DCMAKE_PREFIX_PATH=${_prefix}" ${_only_this_prefix}
        RESULT_VARIABLE _result OUTPUT_VARIABLE _output ERROR_VARIABLE _output)
    string(REGEX REPLACE "[ \t\r\n]+" " " _output "${_output}")  # CMake wraps long messages
    if(_result EQUAL 0 OR NOT _output MATCHES "has no component 'node': it was built with DCP_BUILD_NODE=OFF")
        message(FATAL_ERROR "find_package(dcp COMPONENTS node) on a core-only dcp: expected a failure "
            "naming DCP_BUILD_NODE=OFF, got (${_result}):\n${_output}")
    endif()
    message(STATUS "core-only consumer: OK")

else()
    message(FATAL_ERROR "run_consumer_test.cmake: MODE must be install, subdirectory, pkg_config or core_only, got '${MODE}'")
endif()
