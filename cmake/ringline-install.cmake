# What `cmake --install` puts where, and how `cpack -G DEB` packages it.
#
# Two components: `server` (the programs and their man pages: what runs a service) and
# `development` (static libraries, headers, the CMake package and the pkg-config file: what
# embeds ringline in another program). cpack makes one Debian package of each.
include(GNUInstallDirs)
include(CMakePackageConfigHelpers)

install(TARGETS ringline-server ringline-client
  RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR} COMPONENT server)

set_target_properties(ringline_runtime PROPERTIES EXPORT_NAME runtime)
set_target_properties(ringline_protocol PROPERTIES EXPORT_NAME protocol)
set_target_properties(ringline_client PROPERTIES EXPORT_NAME client)
set_target_properties(ringline_service PROPERTIES EXPORT_NAME service)
# The INTERFACE targets every library links go along: static libraries carry their link
# dependencies into the consumer.
install(TARGETS ringline_runtime ringline_protocol ringline_client ringline_service
                ringline_warnings ringline_sanitizers
  EXPORT ringline-targets
  ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR} COMPONENT development
  INCLUDES DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}/ringline)
foreach(layer IN ITEMS runtime protocol client service)
  install(DIRECTORY ${PROJECT_SOURCE_DIR}/${layer}/
    DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}/ringline/${layer}
    COMPONENT development
    FILES_MATCHING PATTERN "*.hpp")
endforeach()

set(ringline_cmake_dir ${CMAKE_INSTALL_LIBDIR}/cmake/ringline)
install(EXPORT ringline-targets NAMESPACE ringline:: DESTINATION ${ringline_cmake_dir}
  COMPONENT development)
configure_package_config_file(${PROJECT_SOURCE_DIR}/cmake/ringline-config.cmake.in
  ${PROJECT_BINARY_DIR}/ringline-config.cmake INSTALL_DESTINATION ${ringline_cmake_dir})
write_basic_package_version_file(${PROJECT_BINARY_DIR}/ringline-config-version.cmake
  COMPATIBILITY SameMinorVersion)
install(FILES ${PROJECT_BINARY_DIR}/ringline-config.cmake
              ${PROJECT_BINARY_DIR}/ringline-config-version.cmake
  DESTINATION ${ringline_cmake_dir} COMPONENT development)
file(RELATIVE_PATH ringline_pc_to_prefix /prefix/${CMAKE_INSTALL_LIBDIR}/pkgconfig /prefix)
configure_file(${PROJECT_SOURCE_DIR}/cmake/ringline.pc.in ${PROJECT_BINARY_DIR}/ringline.pc @ONLY)
install(FILES ${PROJECT_BINARY_DIR}/ringline.pc
  DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig COMPONENT development)

# Man pages from the programs' own --help, so they cannot drift from it; help2man is a
# Debian package (scripts/install-deps installs it).
find_program(HELP2MAN help2man)
if(HELP2MAN)
  foreach(program IN ITEMS ringline-server ringline-client)
    set(page ${PROJECT_BINARY_DIR}/man/${program}.1)
    add_custom_command(OUTPUT ${page}
      COMMAND ${CMAKE_COMMAND} -E make_directory ${PROJECT_BINARY_DIR}/man
      COMMAND ${HELP2MAN} --no-info --no-discard-stderr --section 1
              --include ${PROJECT_SOURCE_DIR}/docs/man/${program}.h2m
              --output ${page} $<TARGET_FILE:${program}>
      DEPENDS ${program} ${PROJECT_SOURCE_DIR}/docs/man/${program}.h2m
      COMMENT "Writing the man page of ${program}")
    list(APPEND ringline_man_pages ${page})
  endforeach()
  add_custom_target(man ALL DEPENDS ${ringline_man_pages})
  install(FILES ${ringline_man_pages} DESTINATION ${CMAKE_INSTALL_MANDIR}/man1 COMPONENT server)
else()
  message(WARNING "help2man not found: no man pages (scripts/install-deps installs it)")
endif()

# Under <prefix>/lib/systemd/system: /usr/lib/systemd/system for the Debian package, which
# systemd reads on Debian 12 (usrmerge). The service runs /usr/bin/ringline-server.
install(FILES ${PROJECT_SOURCE_DIR}/packaging/systemd/ringline.socket
              ${PROJECT_SOURCE_DIR}/packaging/systemd/ringline.service
  DESTINATION lib/systemd/system COMPONENT server)

# The configuration file, every setting commented out at its default (`--config FILE`), in
# <sysconfdir>/ringline, where <sysconfdir> is what CMAKE_INSTALL_FULL_SYSCONFDIR would be for
# the prefix the install really uses: /etc for the prefix / or /usr (so the Debian package
# holds /etc/ringline/ringline.conf), /etc/opt/<name> for /opt/<name>, <prefix>/etc otherwise.
# GNUInstallDirs computes its FULL_ variable once, at configure time, for the configured prefix
# (/usr/local by default); an absolute DESTINATION made of it would ignore
# `cmake --install --prefix` and cpack's /usr. So its rule is applied at install time, to
# CMAKE_INSTALL_PREFIX as the install sees it; a staged install never writes to /etc.
set(ringline_conf ${PROJECT_SOURCE_DIR}/packaging/ringline.conf)
if(IS_ABSOLUTE "${CMAKE_INSTALL_SYSCONFDIR}")
  install(FILES ${ringline_conf} DESTINATION ${CMAKE_INSTALL_SYSCONFDIR}/ringline COMPONENT server)
else()
  install(CODE "
    set(ringline_sysconfdir \"\${CMAKE_INSTALL_PREFIX}/${CMAKE_INSTALL_SYSCONFDIR}\")
    if(CMAKE_INSTALL_PREFIX MATCHES \"^/(usr/?)?$\")
      set(ringline_sysconfdir \"/${CMAKE_INSTALL_SYSCONFDIR}\")
    elseif(CMAKE_INSTALL_PREFIX MATCHES \"^/opt/\" AND NOT CMAKE_INSTALL_PREFIX MATCHES \"^/opt/homebrew/\")
      set(ringline_sysconfdir \"/${CMAKE_INSTALL_SYSCONFDIR}\${CMAKE_INSTALL_PREFIX}\")
    endif()
    file(INSTALL DESTINATION \"\${ringline_sysconfdir}/ringline\" TYPE FILE
      FILES \"${ringline_conf}\")"
    COMPONENT server)
endif()

set(CPACK_PACKAGE_NAME ringline)
set(CPACK_PACKAGE_VENDOR "the ringline developers")
set(CPACK_PACKAGE_CONTACT "ringline developers <ringline@localhost>")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY
  "line-oriented TCP service that acknowledges every line once it reached its sink")
set(CPACK_GENERATOR DEB)
set(CPACK_DEB_COMPONENT_INSTALL ON)
set(CPACK_COMPONENTS_ALL server development)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_SECTION net)
set(CPACK_DEBIAN_SERVER_PACKAGE_NAME ringline)
# The programs' dependencies come from the libraries they link (dpkg-shlibdeps): liburing2,
# libfmt9, libstdc++6, libc6, as Debian names them.
set(CPACK_DEBIAN_SERVER_PACKAGE_SHLIBDEPS ON)
# The configuration file is a conffile: dpkg keeps an operator's edits on upgrade and asks
# before replacing them. CPack's DEB generator does not list files under /etc by itself, so
# DEBIAN/conffiles is written here, with the path the install rule above gives the package's
# prefix (GNUInstallDirs' own macro, for that prefix).
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
function(ringline_packaged_sysconfdir result)
  set(CMAKE_INSTALL_PREFIX ${CPACK_PACKAGING_INSTALL_PREFIX})
  GNUInstallDirs_get_absolute_install_dir(directory CMAKE_INSTALL_SYSCONFDIR SYSCONFDIR)
  set(${result} ${directory} PARENT_SCOPE)
endfunction()
ringline_packaged_sysconfdir(ringline_packaged_sysconfdir)
file(WRITE ${PROJECT_BINARY_DIR}/debian/conffiles
  "${ringline_packaged_sysconfdir}/ringline/ringline.conf\n")
set(CPACK_DEBIAN_SERVER_PACKAGE_CONTROL_EXTRA ${PROJECT_BINARY_DIR}/debian/conffiles)
set(CPACK_DEBIAN_SERVER_PACKAGE_CONTROL_STRICT_PERMISSION ON)
set(CPACK_DEBIAN_DEVELOPMENT_PACKAGE_NAME ringline-dev)
set(CPACK_DEBIAN_DEVELOPMENT_PACKAGE_SECTION libdevel)
set(CPACK_DEBIAN_DEVELOPMENT_PACKAGE_DEPENDS
  "liburing-dev (>= 2.3), libfmt-dev, libcli11-dev, libsystemd-dev")
include(CPack)
