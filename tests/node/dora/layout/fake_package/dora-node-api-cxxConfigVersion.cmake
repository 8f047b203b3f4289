# The version file of the FAKE dora-node-api-cxx package (see dora-node-api-cxxConfig.cmake here).
set(PACKAGE_VERSION "1.0.0-rc.4")
if(PACKAGE_FIND_VERSION AND PACKAGE_VERSION VERSION_LESS PACKAGE_FIND_VERSION)
    set(PACKAGE_VERSION_COMPATIBLE FALSE)
else()
    set(PACKAGE_VERSION_COMPATIBLE TRUE)
endif()
