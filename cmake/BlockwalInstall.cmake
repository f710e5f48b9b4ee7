# Installs the libraries and headers and exports a CMake package, so another
# project can:  find_package(blockwal CONFIG REQUIRED)
#               target_link_libraries(app PRIVATE blockwal::blockwal)
include(GNUInstallDirs)
include(CMakePackageConfigHelpers)

install(TARGETS blockwal_util blockwal_wal blockwal_db blockwal
        EXPORT blockwalTargets
        ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
        LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR})
foreach(_dir util wal db)
  install(DIRECTORY ${PROJECT_SOURCE_DIR}/${_dir}/
          DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}/blockwal/${_dir}
          FILES_MATCHING PATTERN "*.h")
endforeach()
install(EXPORT blockwalTargets
        NAMESPACE blockwal::
        DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/blockwal)
configure_package_config_file(
  ${PROJECT_SOURCE_DIR}/cmake/blockwalConfig.cmake.in
  ${PROJECT_BINARY_DIR}/blockwalConfig.cmake
  INSTALL_DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/blockwal)
write_basic_package_version_file(
  ${PROJECT_BINARY_DIR}/blockwalConfigVersion.cmake
  COMPATIBILITY SameMinorVersion)
install(FILES ${PROJECT_BINARY_DIR}/blockwalConfig.cmake
              ${PROJECT_BINARY_DIR}/blockwalConfigVersion.cmake
        DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/blockwal)
