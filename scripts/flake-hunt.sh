#!/usr/bin/env bash
# Runs whole ctest stages N times in a row and counts, per test, how often
# it failed: a test that fails once in N runs is a flaky test, whatever the
# reason.  Every run is the stage's full suite, in parallel as CI runs it.
#
#   scripts/flake-hunt.sh [--load] N [STAGE...]
#
# STAGE: a ctest stage of scripts/test.sh (dev pipe-waker kqueue-freebsd
# kqueue-darwin asan tsan valgrind); default: all of them.  Each stage is
# configured and built once (build/<stage>, as scripts/test.sh does).
# --load keeps a second build of the project running beside the tests
# (a clean rebuild in a loop, in build/flake-load), the way a busy
# two-core machine runs them.
#
# Prints a table: stage, test, runs, failures (and the failing runs' logs
# are kept in build/flake-hunt/).  Exits 1 if any test failed.  Meant to be
# run by hand: N=10 takes about 10 minutes for dev, 25 for valgrind and 15
# for each kqueue stage on two busy cores.
set -euo pipefail
cd "$(dirname "$0")/.."

load=false
if [ "${1:-}" = --load ]; then
    load=true
    shift
fi
runs=${1:-}
[[ "$runs" =~ ^[1-9][0-9]*$ ]] || {
    echo "usage: $0 [--load] N [STAGE...]" >&2
    exit 2
}
shift
stages=("$@")
[ ${#stages[@]} -gt 0 ] ||
    stages=(dev pipe-waker kqueue-freebsd kqueue-darwin asan tsan valgrind)

declare -A compiler=(
    [dev]=gcc [pipe-waker]=clang [kqueue-freebsd]=gcc [kqueue-darwin]=clang
    [asan]=gcc [tsan]=clang [valgrind]=gcc
)
for stage in "${stages[@]}"; do
    [ -n "${compiler[$stage]:-}" ] || { echo "unknown stage: $stage" >&2; exit 2; }
done

logs=build/flake-hunt
mkdir -p "$logs"
loader=
stop_loader() {
    if [ -n "$loader" ]; then
        kill -- -"$loader" 2>/dev/null || true
        wait "$loader" 2>/dev/null || true
    fi
}
trap stop_loader EXIT

if $load; then
    cmake -S . -B build/flake-load -DXPOLL_BUILD_TESTS=ON >/dev/null
    # A process group of its own, so that stopping it stops its compilers.
    set -m
    (while :; do cmake --build build/flake-load --clean-first -j2 >/dev/null 2>&1; done) &
    loader=$!
    set +m
    echo "load: a clean rebuild in a loop (pid $loader)"
fi

table=$logs/table.txt
: >"$table"
start=$SECONDS
for stage in "${stages[@]}"; do
    cc=${compiler[$stage]}
    echo "=== $stage: configure and build"
    CC=$cc CXX=$([ "$cc" = clang ] && echo clang++ || echo g++) \
        cmake --preset "$stage" >/dev/null
    cmake --build --preset "$stage" >/dev/null
    declare -A tried=() failed=()
    for ((i = 1; i <= runs; i++)); do
        log=$logs/$stage.$i.log
        rc=0
        ctest --preset "$stage" >"$log" 2>&1 || rc=$?
        # "  3/51 Test  #3: test_wait.epoll ......   Passed    0.05 sec"
        # "  9/51 Test  #9: name ..........***Failed    2.31 sec"
        n=0
        while read -r name result; do
            n=$((n + 1))
            tried[$name]=$((${tried[$name]:-0} + 1))
            case $result in
            Passed | Skipped) failed[$name]=${failed[$name]:-0} ;;
            *) failed[$name]=$((${failed[$name]:-0} + 1)) ;;
            esac
        done < <(sed -nE 's/^ *[0-9]+\/[0-9]+ Test +#[0-9]+: ([^ ]+) [ .]*(\*\*\*)?([A-Za-z]+).*/\1 \3/p' "$log")
        [ "$n" -gt 0 ] || { echo "$stage run $i: no test ran (see $log)" >&2; exit 1; }
        bad=$(grep -cE '^ *[0-9]+/[0-9]+ Test .*\*\*\*' "$log" || true)
        printf '%s run %d/%d: %d tests, %d failed (ctest exit %d)\n' \
            "$stage" "$i" "$runs" "$n" "$bad" "$rc"
        [ "$bad" -gt 0 ] || [ "$rc" -eq 0 ] || {
            echo "ctest failed without a failing test: see $log" >&2
            exit 1
        }
        [ "$bad" -gt 0 ] || rm -f "$log"
    done
    for name in "${!tried[@]}"; do
        printf '%s %s %d %d\n' "$stage" "$name" "${tried[$name]}" "${failed[$name]}"
    done | sort >>"$table"
    unset tried failed
done

echo
echo "=== flake hunt: $runs runs of each stage$($load && echo ', a second build running beside'), $((SECONDS - start)) s"
printf '%-16s %-58s %5s %9s\n' stage test runs failures
sort -k4,4nr -k1,1 -k2,2 "$table" | awk '{ printf "%-16s %-58s %5d %9d\n", $1, $2, $3, $4 }'
echo
echo "=== per stage"
awk '{ t[$1] += $3; f[$1] += $4; n[$1]++ } $4 > 0 { bad[$1]++ }
     END { for (s in t) printf "%-16s %4d tests, %6d runs, %d failures, %d flaky tests\n",
                                s, n[s], t[s], f[s], bad[s] }' "$table" | sort
! awk '$4 > 0 { exit 1 }' "$table"
