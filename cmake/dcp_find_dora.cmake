# dcp_find_dora(<dora dir>) — finds a build of Dora's C++ node API (crate dora-node-api-cxx,
# v1.0.0-rc.3 or later) for dcp's Dora backend (node/src/dora/). Used by node/src/dora/CMakeLists.txt.
#
# Search order (the first that has dora-node-api.h wins):
#   1. find_package(dora-node-api-cxx CONFIG): the CMake package a Dora build writes
#      (target/cxxbridge/dora-node-api-cxx/lib/cmake/dora-node-api-cxx/) and a staged prefix or
#      release archive carries (<prefix>/lib/cmake/dora-node-api-cxx/). Searched under <dora dir>
#      (the checkout, its target/, target/cxxbridge/dora-node-api-cxx/ or a prefix), or wherever
#      dora-node-api-cxx_DIR / CMAKE_PREFIX_PATH say when <dora dir> is empty. Used from it: the
#      include directory and library of dora-node-api-cxx::dora-node-api-cxx, the link libraries of
#      dora-node-api-cxx::extra and dora-node-api-cxx_CXX_BRIDGE_FILES. In a build tree the package's
#      library (<prefix>/lib/) does not exist yet: it is then taken from target/<profile>/.
#   2. The files themselves under <dora dir>:
#        build tree      target/cxxbridge/dora-node-api-cxx/{include/dora-node-api.h, src/dora-node-api.cc},
#                        library target/release/ or target/debug/ (also target/<triple>/<profile>/)
#        install folder  target/cxxbridge/dora-node-api-cxx/install/ or $DORA_NODE_API_CXX_INSTALL:
#                        dora-node-api.h, dora-node-api.cc (and a flat cxx.h, not needed); the library
#                        from the build tree around it, else DCP_DORA_LIBRARY
#        staged prefix   include/dora-node-api.h, src/dora-node-api.cc, lib/libdora_node_api_cxx.a
#        too old         target/cxxbridge/dora-node-api-cxx/dora-node-api.h (flat, before Nov 2025):
#                        found so that the error can name what it lacks
#   cxx.h is never required: the generated header carries the rust:: types it needs.
#   DCP_DORA_LIBRARY (a file) overrides the library found.
#
# Then the header is checked for the functions of the floor (v1.0.0-rc.3); configure fails naming
# the missing ones. event_as_input_with_metadata (Dora after rc.4) is optional.
#
# Sets in the caller's scope:
#   DCP_DORA_FOUND             TRUE when found (otherwise configure has failed already)
#   DCP_DORA_HEADER_DIR        the folder of dora-node-api.h
#   DCP_DORA_INCLUDE_DIRS      it, and in a build tree also target/cxxbridge/ (where the bridge's .cc
#                              of a build tree may look for its header)
#   DCP_DORA_BRIDGE_SOURCE     dora-node-api.cc (empty: the library must contain the bridge)
#   DCP_DORA_LIBRARY_FILE      libdora_node_api_cxx.a
#   DCP_DORA_SYSTEM_LIBRARIES  what the Rust library needs besides it (from ::extra, else pthread;dl;m;rt)
#   DCP_DORA_HAS_INPUT_METADATA  1 when the header has event_as_input_with_metadata, else 0
#   DCP_DORA_FOUND_HOW         "CMake package <dir> (version V)", "build tree", "install folder", "staged prefix"
include_guard(GLOBAL)

set(DCP_DORA_VERSION_FLOOR "v1.0.0-rc.3")
# What dcp's backend calls; all present from v1.0.0-rc.3 on.
set(DCP_DORA_REQUIRED_FUNCTIONS
    init_dora_node next_event next_event_timeout try_next_event event_type event_as_input event_as_node_failed
    send_output send_output_with_metadata new_metadata close_outputs)

# _dcp_dora_has_function(<header text> <function> <out var>)
function(_dcp_dora_has_function header function out)
    string(REGEX MATCH "[^A-Za-z0-9_]${function}[ \t\r\n]*\\(" _found "${header}")
    if(_found)
        set(${out} 1 PARENT_SCOPE)
    else()
        set(${out} 0 PARENT_SCOPE)
    endif()
endfunction()

# _dcp_dora_library_near(<header dir> <out var>): libdora_node_api_cxx.a of the Cargo target folder
# around a build tree's header (…/target/cxxbridge/dora-node-api-cxx[/include|/install]), release first.
function(_dcp_dora_library_near header_dir out)
    set(${out} "" PARENT_SCOPE)
    if(NOT header_dir MATCHES "^(.*)/cxxbridge/dora-node-api-cxx(/include|/install)?$")
        return()
    endif()
    set(_target "${CMAKE_MATCH_1}")
    file(GLOB _cross LIST_DIRECTORIES true "${_target}/*/release" "${_target}/*/debug")
    foreach(_dir IN ITEMS "${_target}/release" "${_target}/debug" ${_cross})
        if(EXISTS "${_dir}/libdora_node_api_cxx.a")
            set(${out} "${_dir}/libdora_node_api_cxx.a" PARENT_SCOPE)
            return()
        endif()
    endforeach()
endfunction()

function(dcp_find_dora dora_dir)
    set(DCP_DORA_FOUND FALSE PARENT_SCOPE)
    set(_how "")
    set(_header_dir "")
    set(_bridge "")
    set(_library "")
    set(_system "")

    # 1. The CMake package. find_package caches where it found it: search again when DCP_DORA_DIR changes.
    if(dora_dir AND NOT "${dora_dir}" STREQUAL "${_DCP_DORA_DIR_SEARCHED}")
        unset(dora-node-api-cxx_DIR CACHE)
    endif()
    set(_DCP_DORA_DIR_SEARCHED "${dora_dir}" CACHE INTERNAL "DCP_DORA_DIR of the last search for Dora")
    if(dora_dir)
        # Each path is a prefix: its lib/cmake/dora-node-api-cxx/ is looked at.
        find_package(dora-node-api-cxx CONFIG QUIET
            PATHS "${dora_dir}" "${dora_dir}/target/cxxbridge/dora-node-api-cxx" "${dora_dir}/cxxbridge/dora-node-api-cxx"
                  "${dora_dir}/dora-node-api-cxx"
            NO_DEFAULT_PATH)
    else()
        find_package(dora-node-api-cxx CONFIG QUIET)
    endif()
    if(dora-node-api-cxx_FOUND AND TARGET dora-node-api-cxx::dora-node-api-cxx)
        get_target_property(_includes dora-node-api-cxx::dora-node-api-cxx INTERFACE_INCLUDE_DIRECTORIES)
        foreach(_dir IN LISTS _includes)
            if(EXISTS "${_dir}/dora-node-api.h")
                set(_header_dir "${_dir}")
                break()
            endif()
        endforeach()
        if(_header_dir)
            set(_version "${dora-node-api-cxx_VERSION}")
            if(NOT _version)
                set(_version "unknown")
            endif()
            set(_how "CMake package ${dora-node-api-cxx_DIR} (version ${_version})")
            foreach(_file IN LISTS dora-node-api-cxx_CXX_BRIDGE_FILES)
                if(EXISTS "${_file}")
                    set(_bridge "${_file}")
                endif()
            endforeach()
            get_target_property(_library dora-node-api-cxx::dora-node-api-cxx IMPORTED_LOCATION)
            if(NOT _library OR NOT EXISTS "${_library}")
                _dcp_dora_library_near("${_header_dir}" _library)  # a build tree: not staged yet
            endif()
            if(TARGET dora-node-api-cxx::extra)
                get_target_property(_system dora-node-api-cxx::extra INTERFACE_LINK_LIBRARIES)
                if(NOT _system)
                    set(_system "")
                endif()
            endif()
        else()
            message(STATUS "dcp: the CMake package ${dora-node-api-cxx_DIR} names no folder with dora-node-api.h; "
                "looking for the files instead")
        endif()
    endif()

    # 2. The file layouts.
    if(NOT _header_dir)
        if(NOT dora_dir)
            return()
        endif()
        foreach(_layout IN ITEMS
                "build tree|target/cxxbridge/dora-node-api-cxx/include;cxxbridge/dora-node-api-cxx/include"
                "install folder|target/cxxbridge/dora-node-api-cxx/install;cxxbridge/dora-node-api-cxx/install;install;."
                "staged prefix|include"
                "flat layout of before November 2025|target/cxxbridge/dora-node-api-cxx;cxxbridge/dora-node-api-cxx")
            string(REPLACE "|" ";" _parts "${_layout}")
            list(POP_FRONT _parts _name)
            foreach(_suffix IN LISTS _parts)
                cmake_path(APPEND dora_dir "${_suffix}" OUTPUT_VARIABLE _dir)
                cmake_path(NORMAL_PATH _dir)
                string(REGEX REPLACE "/+$" "" _dir "${_dir}")
                if(EXISTS "${_dir}/dora-node-api.h")
                    set(_header_dir "${_dir}")
                    set(_how "${_name}")
                    break()
                endif()
            endforeach()
            if(_header_dir)
                break()
            endif()
        endforeach()
        if(NOT _header_dir)
            message(FATAL_ERROR "dcp: no Dora C++ node API under DCP_DORA_DIR='${dora_dir}': no CMake package "
                "dora-node-api-cxx and no dora-node-api.h in target/cxxbridge/dora-node-api-cxx/{include,install}/, "
                "install/, include/ or the folder itself (build it with `cargo build --release -p dora-node-api-cxx` "
                "in a Dora checkout, ${DCP_DORA_VERSION_FLOOR} or later; see docs/dora.md)")
        endif()
        foreach(_candidate IN ITEMS "${_header_dir}/dora-node-api.cc" "${_header_dir}/../src/dora-node-api.cc")
            if(EXISTS "${_candidate}")
                cmake_path(NORMAL_PATH _candidate OUTPUT_VARIABLE _bridge)
                break()
            endif()
        endforeach()
        _dcp_dora_library_near("${_header_dir}" _library)
        if(NOT _library)
            foreach(_candidate IN ITEMS "${_header_dir}/../lib/libdora_node_api_cxx.a"
                                        "${dora_dir}/lib/libdora_node_api_cxx.a" "${dora_dir}/libdora_node_api_cxx.a")
                if(EXISTS "${_candidate}")
                    cmake_path(NORMAL_PATH _candidate OUTPUT_VARIABLE _library)
                    break()
                endif()
            endforeach()
        endif()
    endif()

    # The API: the floor's functions, then the optional ones.
    file(READ "${_header_dir}/dora-node-api.h" _header)
    set(_missing "")
    foreach(_function IN LISTS DCP_DORA_REQUIRED_FUNCTIONS)
        _dcp_dora_has_function("${_header}" ${_function} _has)
        if(NOT _has)
            list(APPEND _missing ${_function})
        endif()
    endforeach()
    if(_missing)
        list(JOIN _missing ", " _missing)
        message(FATAL_ERROR "dcp: ${_header_dir}/dora-node-api.h (${_how}) lacks ${_missing}: this Dora C++ "
            "node API is older than ${DCP_DORA_VERSION_FLOOR}, the oldest dcp's Dora backend supports; build "
            "dora-node-api-cxx of Dora ${DCP_DORA_VERSION_FLOOR} or later (see docs/dora.md)")
    endif()
    _dcp_dora_has_function("${_header}" event_as_input_with_metadata _has_input_metadata)

    # The library.
    if(DCP_DORA_LIBRARY)
        set(_library "${DCP_DORA_LIBRARY}")
    endif()
    if(NOT _library OR NOT EXISTS "${_library}")
        message(FATAL_ERROR "dcp: found ${_header_dir}/dora-node-api.h (${_how}) but not libdora_node_api_cxx.a "
            "(looked in the Cargo target folder around it — release/, debug/, <triple>/<profile>/ — and in lib/); "
            "set DCP_DORA_LIBRARY to the file")
    endif()
    if(NOT _system)
        set(_system pthread dl m rt)
    endif()

    set(DCP_DORA_FOUND TRUE PARENT_SCOPE)
    set(DCP_DORA_HEADER_DIR "${_header_dir}" PARENT_SCOPE)
    set(_includes "${_header_dir}")
    if(_header_dir MATCHES "^(.*/cxxbridge)/dora-node-api-cxx(/include|/install)?$")
        list(APPEND _includes "${CMAKE_MATCH_1}")
    endif()
    set(DCP_DORA_INCLUDE_DIRS "${_includes}" PARENT_SCOPE)
    set(DCP_DORA_BRIDGE_SOURCE "${_bridge}" PARENT_SCOPE)
    set(DCP_DORA_LIBRARY_FILE "${_library}" PARENT_SCOPE)
    set(DCP_DORA_SYSTEM_LIBRARIES "${_system}" PARENT_SCOPE)
    set(DCP_DORA_HAS_INPUT_METADATA ${_has_input_metadata} PARENT_SCOPE)
    set(DCP_DORA_FOUND_HOW "${_how}" PARENT_SCOPE)
endfunction()
