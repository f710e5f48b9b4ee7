# Installs the libraries and headers and exports a CMake package, so another
# project can:  find_package(blockwal CONFIG REQUIRED)
#               target_link_libraries(app PRIVATE blockwal::blockwal)
include(GNUInstallDirs)
include(CMakePackageConfigHelpers)

install(TARGETS blockwal_util blockwal_wal blockwal_db blockwal
        EXPORT blockwalTargets
        ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
        LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR})
# The public API (README.md, "Install"), and util/thread_role.h, which
# wal/log.h needs for a member (an implementation detail, not API). Segment,
# index, memtable, checkpoint and the other internal headers are not
# installed; tests/install checks that the public headers compile alone.
set(BLOCKWAL_PUBLIC_HEADERS
  util/file_system.h util/mem_file_system.h util/fault_injection_file_system.h
  util/histogram.h util/backup.h util/thread_role.h
  wal/format.h wal/problem.h wal/block_writer.h wal/block_reader.h wal/record.h
  wal/log_options.h wal/log.h wal/log_inspector.h wal/repair.h
  db/write_batch.h db/checkpoint_info.h db/db.h db/repair.h)
foreach(_header ${BLOCKWAL_PUBLIC_HEADERS})
  get_filename_component(_dir ${_header} DIRECTORY)
  install(FILES ${PROJECT_SOURCE_DIR}/${_header}
          DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}/blockwal/${_dir})
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

# pkg-config: blockwal.pc, relocatable (its prefix is found from where the
# file is), for builds that do not use CMake.
file(RELATIVE_PATH BLOCKWAL_PC_TO_PREFIX
     /prefix/${CMAKE_INSTALL_LIBDIR}/pkgconfig /prefix)
configure_file(${PROJECT_SOURCE_DIR}/cmake/blockwal.pc.in
               ${PROJECT_BINARY_DIR}/blockwal.pc @ONLY)
install(FILES ${PROJECT_BINARY_DIR}/blockwal.pc
        DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig)
