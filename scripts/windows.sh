#!/usr/bin/env bash
# The windows stage of scripts/test.sh: xpoll cross-built for x86_64
# Windows with mingw-w64 and run under Wine, on the iocp backend.
#
#   1. scripts/windows-deps.sh: Wine, mingw-w64 and cmocka for Windows
#      (root on a fresh machine; quick when they are there already);
#   2. scripts/wine-env.sh: a headless Wine prefix and a persistent
#      wineserver, ended again when this script exits;
#   3. the library (xpoll.dll with its import library, and the static
#      library), the examples and the tests, -Werror;
#   4. ctest: every test program runs under wine64 (the toolchain file's
#      CMAKE_CROSSCOMPILING_EMULATOR).
#
# Verified under Wine only (Debian 12's Wine 8.0), never on real Windows.
#
# usage: scripts/windows.sh [BUILD_DIR]     (default build/windows/xpoll)
# env:   XPOLL_MINGW_DEPS, XPOLL_WINEPREFIX (see the two scripts above)
set -euo pipefail

here=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-$here/build/windows/xpoll}

deps=${XPOLL_MINGW_DEPS:-$here/build/windows/deps}
"$here/scripts/windows-deps.sh" "$deps"

# shellcheck source=scripts/wine-env.sh
. "$here/scripts/wine-env.sh"
# The persistent wineserver must not outlive the stage (it would hold the
# prefix, and a CI log pipe waiting for every writer).
trap xpoll_wine_stop EXIT

cmake -S "$here" -B "$build" \
    -DCMAKE_TOOLCHAIN_FILE="$here/cmake/mingw-w64-x86_64.cmake" \
    -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DXPOLL_MINGW_DEPS="$deps" \
    -DXPOLL_WERROR=ON -DXPOLL_BUILD_TESTS=ON -DXPOLL_BUILD_EXAMPLES=ON
cmake --build "$build" -j2
ctest --test-dir "$build" --output-on-failure -j2
