#!/usr/bin/env bash
# Proves the Windows test setup end to end, before any xpoll code is built
# for Windows: cross-builds scripts/windows-smoke (a cmocka program) with
# cmake/mingw-w64-x86_64.cmake against the cmocka of scripts/windows-deps.sh,
# runs it with ctest through wine64, then runs it under wine64 directly and
# requires the exit status and output cmocka gives on Linux: 0 and
# "[  PASSED  ] 1 test(s)." for a passing test, 1 and
# "[  FAILED  ] 1 test(s)" for a failing assertion.
#
# usage: scripts/windows-smoke.sh [PREFIX]     (PREFIX: as for windows-deps.sh)
# env:   XPOLL_MINGW_DEPS, XPOLL_WINEPREFIX (see scripts/wine-env.sh)
set -euo pipefail

here=$(cd "$(dirname "$0")/.." && pwd)
deps=${1:-${XPOLL_MINGW_DEPS:-$here/build/windows/deps}}
[ -f "$deps/lib/libcmocka.a" ] || {
    echo "no cmocka for Windows in $deps: run scripts/windows-deps.sh first" >&2
    exit 1
}
deps=$(cd "$deps" && pwd)
build=$here/build/windows/smoke
ms_since() { echo $((($(date +%s%N) - $1) / 1000000)); }

# shellcheck source=scripts/wine-env.sh
. "$here/scripts/wine-env.sh"

start=$(date +%s%N)
rm -rf "$build"
mkdir -p "$build"
cmake -S "$here/scripts/windows-smoke" -B "$build" \
    -DCMAKE_TOOLCHAIN_FILE="$here/cmake/mingw-w64-x86_64.cmake" \
    -DXPOLL_MINGW_DEPS="$deps" > "$build.configure.log" 2>&1 ||
    { cat "$build.configure.log"; exit 1; }
cmake --build "$build" -j1 > "$build.build.log" 2>&1 ||
    { cat "$build.build.log"; exit 1; }
echo "windows-smoke: configured and built in $(ms_since "$start") ms"
# A PE32+ x86-64 executable: "MZ", and the PE header's machine 0x8664.
exe=$build/smoke.exe
pe=$(od -An -tu4 -j60 -N4 "$exe" | tr -d ' ')
if [ "$(head -c2 "$exe")" != MZ ] ||
    [ "$(od -An -tx1 -j"$((pe + 4))" -N2 "$exe" | tr -d ' \n')" != 6486 ]; then
    echo "$exe is not an x86-64 Windows executable" >&2
    exit 1
fi

start=$(date +%s%N)
ctest --test-dir "$build" --output-on-failure --no-tests=error
echo "windows-smoke: ctest (2 tests under wine64) in $(ms_since "$start") ms"

# Run directly: the exact status and the summary line of each outcome.
run() { # run OUTCOME STATUS LINE: smoke.exe OUTCOME must exit STATUS and print LINE
    local status=0 start out
    start=$(date +%s%N)
    out=$("$XPOLL_WINE64" "$exe" "$1" 2>&1) || status=$?
    if [ "$status" != "$2" ] || ! grep -qF -- "$3" <<< "$out"; then
        printf '%s\n' "$out"
        echo "windows-smoke: smoke.exe $1 exited $status (wanted $2) or did not print '$3'" >&2
        exit 1
    fi
    echo "windows-smoke: smoke.exe $1: exit status $status, '$3' ($(ms_since "$start") ms)"
}
run pass 0 '[  PASSED  ] 1 test(s).'
run fail 1 '[  FAILED  ] 1 test(s), listed below:'
run usage 64 ''
echo "windows-smoke: passed: wine64 tells a passing cmocka test from a failing one"
