# Where things install and how the programs are hardened: what a Debian package needs of a
# build, applied to every build so `cmake --install` and `cpack` agree.

# Libraries go to the Debian multiarch directory (lib/x86_64-linux-gnu) for every prefix, not
# only /usr as GNUInstallDirs would have it: the Debian package installs under /usr although
# the build was configured for /usr/local, and /usr/local/lib/<triplet> is on Debian's
# linker, pkg-config and CMake search paths as well. An explicit -DCMAKE_INSTALL_LIBDIR wins.
if(CMAKE_LIBRARY_ARCHITECTURE AND NOT DEFINED CACHE{CMAKE_INSTALL_LIBDIR})
  set(CMAKE_INSTALL_LIBDIR "lib/${CMAKE_LIBRARY_ARCHITECTURE}" CACHE PATH
    "Object code libraries (lib/<multiarch triplet>)")
endif()
include(GNUInstallDirs)

# Debian's hardening (dpkg-buildflags, which lintian checks the packaged programs against):
# every symbol bound at start and the GOT read-only (-z now, -z relro), and the checked
# variants of memcpy, read and the like where the compiler knows a buffer's size
# (_FORTIFY_SOURCE=2, which needs optimisation, so not in Debug builds, and which the
# sanitizers' interceptors replace).
add_link_options(LINKER:-z,relro LINKER:-z,now)
if(NOT RINGLINE_SANITIZE AND NOT RINGLINE_FUZZ)
  set(ringline_optimised $<NOT:$<CONFIG:Debug>>)
  add_compile_options($<${ringline_optimised}:-U_FORTIFY_SOURCE>
                      $<${ringline_optimised}:-D_FORTIFY_SOURCE=2>)
endif()
