# A FAKE of the CMake package a build of Dora's dora-node-api-cxx writes (written by us for dcp's layout
# test, from what Dora's docs say the package provides): installed as
# <prefix>/lib/cmake/dora-node-api-cxx/, it gives
#   dora-node-api-cxx::dora-node-api-cxx  STATIC IMPORTED: <prefix>/include, <prefix>/lib/libdora_node_api_cxx.a
#   dora-node-api-cxx::extra              INTERFACE IMPORTED: the system libraries the Rust library needs
#   dora-node-api-cxx_CXX_BRIDGE_FILES    <prefix>/src/dora-node-api.cc, to compile into the node
# As in a real build tree, the library need not exist at <prefix>/lib/ (cargo leaves it in
# target/<profile>/ until Dora's staging step copies it).
get_filename_component(_fake_dora_prefix "${CMAKE_CURRENT_LIST_DIR}/../../.." ABSOLUTE)
set(dora-node-api-cxx_CXX_BRIDGE_FILES "${_fake_dora_prefix}/src/dora-node-api.cc")
if(NOT TARGET dora-node-api-cxx::dora-node-api-cxx)
    add_library(dora-node-api-cxx::dora-node-api-cxx STATIC IMPORTED)
    set_target_properties(dora-node-api-cxx::dora-node-api-cxx PROPERTIES
        INTERFACE_INCLUDE_DIRECTORIES "${_fake_dora_prefix}/include"
        IMPORTED_LOCATION "${_fake_dora_prefix}/lib/libdora_node_api_cxx.a")
endif()
if(NOT TARGET dora-node-api-cxx::extra)
    add_library(dora-node-api-cxx::extra INTERFACE IMPORTED)
    target_link_libraries(dora-node-api-cxx::extra INTERFACE pthread dl m rt)
endif()
