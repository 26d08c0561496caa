# CMake toolchain file: cross-compile for 64-bit Windows with Debian's
# mingw-w64 (package gcc-mingw-w64-x86-64, whose compilers are named
# x86_64-w64-mingw32-*), and run the built .exe files under Wine.
#
#   cmake -DCMAKE_TOOLCHAIN_FILE=cmake/mingw-w64-x86_64.cmake \
#         -DXPOLL_MINGW_DEPS=/path/to/deps ...
#
# XPOLL_MINGW_DEPS (a cache variable, or the environment variable of the
# same name) is the prefix scripts/windows-deps.sh installed cmocka into.
# It joins the find root path, so find_library/find_path/find_package see
# it, and pkg-config is pointed at its lib/pkgconfig alone: the build
# machine's own .pc files (Debian's libcmocka-dev, for Linux) must never be
# picked up by a Windows build.
#
# CMAKE_CROSSCOMPILING_EMULATOR is Wine's 64-bit loader when it is
# installed (Debian's package wine64 installs it as /usr/lib/wine/wine64),
# so ctest runs each .exe as "wine64 test.exe ...".  Set WINEPREFIX and
# friends first: source scripts/wine-env.sh.
set(CMAKE_SYSTEM_NAME Windows)
set(CMAKE_SYSTEM_PROCESSOR x86_64)

set(_xpoll_mingw_triple x86_64-w64-mingw32)
set(CMAKE_C_COMPILER ${_xpoll_mingw_triple}-gcc)
set(CMAKE_CXX_COMPILER ${_xpoll_mingw_triple}-g++)
set(CMAKE_RC_COMPILER ${_xpoll_mingw_triple}-windres)
set(CMAKE_AR ${_xpoll_mingw_triple}-ar CACHE FILEPATH "mingw-w64 ar")
set(CMAKE_RANLIB ${_xpoll_mingw_triple}-ranlib CACHE FILEPATH "mingw-w64 ranlib")

# try_compile() projects read this file again: hand them the deps prefix.
list(APPEND CMAKE_TRY_COMPILE_PLATFORM_VARIABLES XPOLL_MINGW_DEPS)
if(NOT XPOLL_MINGW_DEPS AND DEFINED ENV{XPOLL_MINGW_DEPS})
  set(XPOLL_MINGW_DEPS "$ENV{XPOLL_MINGW_DEPS}")
endif()

# Debian installs the mingw-w64 runtime and Windows headers under
# /usr/x86_64-w64-mingw32.  Libraries, headers and packages come only from
# there and from the deps prefix; programs (the compilers, pkg-config,
# wine64) come from the build machine.
set(CMAKE_FIND_ROOT_PATH /usr/${_xpoll_mingw_triple})
if(XPOLL_MINGW_DEPS)
  list(APPEND CMAKE_FIND_ROOT_PATH "${XPOLL_MINGW_DEPS}")
  set(ENV{PKG_CONFIG_LIBDIR} "${XPOLL_MINGW_DEPS}/lib/pkgconfig")
else()
  # No deps prefix: no .pc file is better than one built for Linux.
  set(ENV{PKG_CONFIG_LIBDIR} "/usr/${_xpoll_mingw_triple}/lib/pkgconfig")
endif()
unset(ENV{PKG_CONFIG_PATH})
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_PACKAGE ONLY)

# Without an emulator ctest cannot run a test binary: the build still
# works, and running the tests fails at once rather than hanging.
if(NOT CMAKE_CROSSCOMPILING_EMULATOR)
  find_program(XPOLL_WINE64 NAMES wine64 PATHS /usr/lib/wine NO_DEFAULT_PATH)
  if(NOT XPOLL_WINE64)
    find_program(XPOLL_WINE64 NAMES wine64)
  endif()
  if(XPOLL_WINE64)
    set(CMAKE_CROSSCOMPILING_EMULATOR "${XPOLL_WINE64}")
  endif()
endif()
