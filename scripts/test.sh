#!/usr/bin/env bash
# Builds and runs every test xpoll has, the way CI does:
#
#   format          every C file as .clang-format says (clang-format 14)
#   dev             gcc, -Werror: the suite on epoll, examples, package checks
#   pipe-waker      clang, -Werror, the pipe waker forced
#   kqueue-freebsd  gcc: the suite on epoll and on kqueue (FreeBSD emulation),
#                   the emulation's own fidelity suites, constants cross-check
#   kqueue-darwin   clang: the same with the macOS emulation
#   asan            ASan+UBSan, epoll and kqueue
#   tsan            ThreadSanitizer, epoll and kqueue
#   valgrind        memcheck over every test binary, epoll and kqueue
#   macos           cross-build for x86_64/aarch64 macOS against Apple's headers
#   windows         cross-build for x86_64 Windows (mingw-w64): the suite
#                   and the examples on iocp, run under Wine 8.0
#   fuzz            libFuzzer (clang): each fuzzer 30 s on epoll, kqueue and poll
#                   (the timer core's, which no backend touches: once)
#
# usage: scripts/test.sh [STAGE...]      (default: all, in the order above)
# Needs: cmake pkg-config libcmocka-dev gcc g++ clang clang-format valgrind
#        librust-libc-dev npm (see README.md for the one-line install);
#        the windows stage installs Wine and mingw-w64 itself (root).
set -euo pipefail
cd "$(dirname "$0")/.."

all_stages=(format dev pipe-waker kqueue-freebsd kqueue-darwin asan tsan valgrind macos windows fuzz)
stages=("$@")
[ ${#stages[@]} -gt 0 ] || stages=("${all_stages[@]}")

declare -A compiler=(
    [dev]=gcc [pipe-waker]=clang [kqueue-freebsd]=gcc [kqueue-darwin]=clang
    [asan]=gcc [tsan]=clang [valgrind]=gcc
)

summary=()
for stage in "${stages[@]}"; do
    start=$SECONDS
    echo
    echo "=== $stage"
    case $stage in
    format)
        scripts/check-format.sh
        ;;
    macos)
        scripts/macos-cross.sh build/macos
        ;;
    windows)
        scripts/windows.sh build/windows/xpoll
        ;;
    fuzz)
        scripts/fuzz.sh 30
        ;;
    *)
        [ -n "${compiler[$stage]:-}" ] || { echo "unknown stage: $stage" >&2; exit 2; }
        CC=${compiler[$stage]} CXX=$([ "${compiler[$stage]}" = clang ] && echo clang++ || echo g++) \
            cmake --workflow --preset "$stage"
        ;;
    esac
    summary+=("$(printf '%-16s passed in %4ds' "$stage" $((SECONDS - start)))")
done

echo
echo "=== summary"
printf '%s\n' "${summary[@]}"
