# What `cmake --install` puts where, and how `cpack -G DEB` packages it.
#
# Two components: `server` (the programs, their man pages, the systemd units, the
# configuration file and the documents: what runs a service) and `development` (static
# libraries, headers, the CMake package and the pkg-config file: what embeds ringline in
# another program). cpack makes one Debian package of each, and both pass lintian
# (tests/packaging/lintian_test.sh).
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
# `--strip` (cpack strips) also takes the debug sections out of the static libraries, as
# dh_strip does: CMake strips only programs and shared libraries. Debug sections make the
# libraries ten times larger, and lintian minutes slower.
install(CODE "
  if(CMAKE_INSTALL_DO_STRIP)
    set(ringline_libdir \"${CMAKE_INSTALL_LIBDIR}\")
    if(NOT IS_ABSOLUTE \"\${ringline_libdir}\")
      set(ringline_libdir \"\${CMAKE_INSTALL_PREFIX}/\${ringline_libdir}\")
    endif()
    file(GLOB ringline_archives \"\$ENV{DESTDIR}\${ringline_libdir}/libringline_*.a\")
    execute_process(COMMAND \"${CMAKE_STRIP}\" --strip-debug --remove-section=.comment
      --remove-section=.note --enable-deterministic-archives
      \${ringline_archives} COMMAND_ERROR_IS_FATAL ANY)
  endif()"
  COMPONENT development)
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

# Man pages from the programs' own --help, so they cannot drift from it, compressed as Debian
# installs them (gzip -n: no name or time inside, so a rebuild gives the same bytes). help2man
# is a Debian package (scripts/install-deps installs it). They are part of `all`, and
# scripts/serve builds them, so every build tree can be installed.
find_program(HELP2MAN help2man REQUIRED)
find_program(GZIP gzip REQUIRED)
# The server's SIGNALS section is made from docs/operations.md's table of signals.
set(ringline_server_signals ${PROJECT_BINARY_DIR}/man/ringline-server-signals.h2m)
add_custom_command(OUTPUT ${ringline_server_signals}
  COMMAND ${CMAKE_COMMAND} -DOPERATIONS=${PROJECT_SOURCE_DIR}/docs/operations.md
          -DOUTPUT=${ringline_server_signals} -P ${PROJECT_SOURCE_DIR}/cmake/ringline-man-signals.cmake
  DEPENDS ${PROJECT_SOURCE_DIR}/docs/operations.md ${PROJECT_SOURCE_DIR}/cmake/ringline-man-signals.cmake
  COMMENT "Writing the signals of ringline-server's man page from docs/operations.md")
set(ringline-server_includes ${ringline_server_signals})
set(ringline-client_includes)
foreach(program IN ITEMS ringline-server ringline-client)
  set(page ${PROJECT_BINARY_DIR}/man/${program}.1)
  set(includes ${PROJECT_SOURCE_DIR}/docs/man/${program}.h2m ${${program}_includes})
  list(TRANSFORM includes PREPEND --include= OUTPUT_VARIABLE include_options)
  add_custom_command(OUTPUT ${page}.gz
    COMMAND ${CMAKE_COMMAND} -E make_directory ${PROJECT_BINARY_DIR}/man
    COMMAND ${HELP2MAN} --no-info --no-discard-stderr --section 1 ${include_options}
            --output ${page} $<TARGET_FILE:${program}>
    COMMAND ${GZIP} -9 -n -k -f ${page}
    DEPENDS ${program} ${includes}
    COMMENT "Writing the man page of ${program}")
  list(APPEND ringline_man_pages ${page}.gz)
endforeach()
add_custom_target(man ALL DEPENDS ${ringline_man_pages})
install(FILES ${ringline_man_pages} DESTINATION ${CMAKE_INSTALL_MANDIR}/man1 COMPONENT server)

# What Debian wants in /usr/share/doc/<package>: the copyright and the changelog (gzipped),
# and for the server the documents the man page points to.
set(ringline_debian ${PROJECT_SOURCE_DIR}/packaging/debian)
add_custom_command(OUTPUT ${PROJECT_BINARY_DIR}/debian/changelog.gz
  COMMAND ${CMAKE_COMMAND} -E copy ${ringline_debian}/changelog ${PROJECT_BINARY_DIR}/debian/changelog
  COMMAND ${GZIP} -9 -n -f ${PROJECT_BINARY_DIR}/debian/changelog
  DEPENDS ${ringline_debian}/changelog
  COMMENT "Compressing the changelog")
add_custom_target(debian_changelog ALL DEPENDS ${PROJECT_BINARY_DIR}/debian/changelog.gz)
set(ringline_components server development)
set(ringline_packages ringline ringline-dev)
foreach(component package IN ZIP_LISTS ringline_components ringline_packages)
  install(FILES ${ringline_debian}/copyright ${PROJECT_BINARY_DIR}/debian/changelog.gz
    DESTINATION ${CMAKE_INSTALL_DATAROOTDIR}/doc/${package} COMPONENT ${component})
endforeach()
# The reasons for lintian's overrides are in the file.
install(FILES ${ringline_debian}/ringline.lintian-overrides RENAME ringline
  DESTINATION ${CMAKE_INSTALL_DATAROOTDIR}/lintian/overrides COMPONENT server)
install(FILES ${PROJECT_SOURCE_DIR}/README.md ${PROJECT_SOURCE_DIR}/docs/operations.md
              ${PROJECT_SOURCE_DIR}/docs/protocol.md
  DESTINATION ${CMAKE_INSTALL_DATAROOTDIR}/doc/ringline COMPONENT server)

# The configuration file, in <sysconfdir>/ringline, where <sysconfdir> is what
# CMAKE_INSTALL_FULL_SYSCONFDIR would be for the prefix the install really uses: /etc for the
# prefix / or /usr (so the Debian package holds /etc/ringline/ringline.conf), /etc/opt/<name>
# for /opt/<name>, <prefix>/etc otherwise. GNUInstallDirs computes its FULL_ variable once, at
# configure time, for the configured prefix (/usr/local by default); an absolute DESTINATION
# made of it would ignore `cmake --install --prefix` and cpack's /usr. So its rule is applied
# at install time, to CMAKE_INSTALL_PREFIX as the install sees it; a staged install never
# writes to /etc.
#
# The systemd units go to <prefix>/lib/systemd/system (/usr/lib/systemd/system for the Debian
# package, which systemd reads on Debian 12, usrmerge; systemd reads /usr/local/lib/systemd/
# system too). ringline.service is written at install time as well, from ringline.service.in,
# so that it runs the program this install put in <bindir> and reads the configuration file
# it put in <sysconfdir>.
set(ringline_conf ${PROJECT_SOURCE_DIR}/packaging/ringline.conf)
install(CODE "
  set(ringline_sysconfdir \"${CMAKE_INSTALL_SYSCONFDIR}\")
  if(NOT IS_ABSOLUTE \"\${ringline_sysconfdir}\")
    if(CMAKE_INSTALL_PREFIX MATCHES \"^/(usr/?)?$\")
      set(ringline_sysconfdir \"/${CMAKE_INSTALL_SYSCONFDIR}\")
    elseif(CMAKE_INSTALL_PREFIX MATCHES \"^/opt/\" AND NOT CMAKE_INSTALL_PREFIX MATCHES \"^/opt/homebrew/\")
      set(ringline_sysconfdir \"/${CMAKE_INSTALL_SYSCONFDIR}\${CMAKE_INSTALL_PREFIX}\")
    else()
      set(ringline_sysconfdir \"\${CMAKE_INSTALL_PREFIX}/${CMAKE_INSTALL_SYSCONFDIR}\")
    endif()
  endif()
  file(INSTALL DESTINATION \"\${ringline_sysconfdir}/ringline\" TYPE FILE
    FILES \"${ringline_conf}\")

  set(RINGLINE_SERVER \"${CMAKE_INSTALL_BINDIR}/ringline-server\")
  if(NOT IS_ABSOLUTE \"\${RINGLINE_SERVER}\")
    set(RINGLINE_SERVER \"\${CMAKE_INSTALL_PREFIX}/\${RINGLINE_SERVER}\")
  endif()
  set(RINGLINE_CONFIG \"\${ringline_sysconfdir}/ringline/ringline.conf\")
  # One directory per destination, so installs to two prefixes never share a file.
  string(MD5 ringline_units_id \"\$ENV{DESTDIR}\${CMAKE_INSTALL_PREFIX}\")
  set(ringline_units \"${PROJECT_BINARY_DIR}/units/\${ringline_units_id}\")
  configure_file(\"${PROJECT_SOURCE_DIR}/packaging/systemd/ringline.service.in\"
    \"\${ringline_units}/ringline.service\" @ONLY)
  file(INSTALL DESTINATION \"\${CMAKE_INSTALL_PREFIX}/lib/systemd/system\" TYPE FILE
    FILES \"\${ringline_units}/ringline.service\"
          \"${PROJECT_SOURCE_DIR}/packaging/systemd/ringline.socket\")"
  COMPONENT server)

set(CPACK_PACKAGE_NAME ringline)
set(CPACK_PACKAGE_VENDOR "the ringline developers")
# The Maintainer field. example.org is reserved (RFC 2606): whoever publishes the packages
# sets their own address (-DRINGLINE_PACKAGE_CONTACT=...).
set(RINGLINE_PACKAGE_CONTACT "ringline developers <ringline@example.org>" CACHE STRING
  "Maintainer of the Debian packages: Name <address>")
set(CPACK_PACKAGE_CONTACT "${RINGLINE_PACKAGE_CONTACT}")
# Debian descriptions: the synopsis, then the extended description (lines under 80
# characters). No CPACK_PACKAGE_DESCRIPTION_SUMMARY: CPack would put it before both.
set(CPACK_DEBIAN_SERVER_DESCRIPTION
  "line service that acknowledges every line once it reached its sink
ringline-server listens on a TCP port, greets every client with a line,
reads newline-terminated lines, writes each one to its sink (standard
output, a file or nowhere) and then acknowledges it, in order; with
--durable only once the line is on disk. It runs on io_uring with one event
loop per CPU, under systemd as a socket-activated notify service, and
serves Prometheus metrics and a health check.
ringline-client sends lines to such a server, and delivers a file at least
once, reconnecting and resending what was not acknowledged.")
set(CPACK_DEBIAN_DEVELOPMENT_DESCRIPTION
  "ringline client, server and runtime libraries (development files)
The static libraries and headers of ringline: its io_uring coroutine
runtime, the line protocol, the coroutine client and the server, with a
CMake package (find_package(ringline), targets such as ringline::client)
and a pkg-config file, for programs that embed a ringline client or server.")
# Stripped programs, as Debian ships them (cpack installs with --strip).
set(CPACK_STRIP_FILES ON)
set(CPACK_GENERATOR DEB)
set(CPACK_DEB_COMPONENT_INSTALL ON)
set(CPACK_COMPONENTS_ALL server development)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_SECTION net)
set(CPACK_DEBIAN_SERVER_PACKAGE_NAME ringline)
# The programs' dependencies come from the libraries they link (dpkg-shlibdeps): liburing2,
# libfmt9, libsystemd0, libstdc++6, libgcc-s1, libc6, as Debian names them.
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
# The maintainer scripts do what dh_installsystemd's would: reload systemd's units after
# install and removal, restart a running service on upgrade, stop it before removal.
set(CPACK_DEBIAN_SERVER_PACKAGE_CONTROL_EXTRA ${PROJECT_BINARY_DIR}/debian/conffiles
  ${ringline_debian}/postinst ${ringline_debian}/prerm ${ringline_debian}/postrm)
set(CPACK_DEBIAN_SERVER_PACKAGE_CONTROL_STRICT_PERMISSION ON)
set(CPACK_DEBIAN_DEVELOPMENT_PACKAGE_NAME ringline-dev)
set(CPACK_DEBIAN_DEVELOPMENT_PACKAGE_SECTION libdevel)
set(CPACK_DEBIAN_DEVELOPMENT_PACKAGE_DEPENDS
  "liburing-dev (>= 2.3), libfmt-dev, libcli11-dev, libsystemd-dev")
include(CPack)
