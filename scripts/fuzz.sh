#!/usr/bin/env bash
# Builds the libFuzzer targets with clang (ASan + UBSan + coverage) and runs
# each fuzzer for SECONDS on every backend: epoll and poll from build/fuzz
# (XPOLL_BACKEND=poll), kqueue through the emulation from
# build/fuzz-kqueue.  fuzz_timers drives the timer core alone and
# fuzz_timer_wait the public timers on a fake selector of its own; no
# backend touches either, so each runs once, from build/fuzz.  The runs go
# in two rounds of parallel runs (fuzz_reactor on the three backends and
# fuzz_timer_wait; fuzz_addr on the three and fuzz_timers), so the whole
# takes about 2 x SECONDS plus the build (160 s for 60 on two cores).
# Prints executions and coverage (libFuzzer's cov: and ft:) per run; exits
# non-zero on any crash, leak, sanitizer report, timeout or failed check.
#
# usage: scripts/fuzz.sh [SECONDS]       (seconds per run; default 60)
#
# Needs: clang, libclang-rt-14-dev (libFuzzer), cmake, pkg-config,
# libcmocka-dev.  New corpus entries go to build/fuzz*/corpus/<fuzzer>
# (poll: <fuzzer>.poll; the checked-in seeds in tests/fuzz/corpus/ are only
# read); a run's log is build/fuzz*/<fuzzer>-<backend>.log; a crashing
# input is saved as build/fuzz*/artifacts/<fuzzer>-<backend>-crash-*, and
# replays with `build/fuzz/fuzz_reactor FILE` (XPOLL_BACKEND=... for the
# backend).
set -euo pipefail
cd "$(dirname "$0")/.."

seconds=${1:-60}
case $seconds in
'' | *[!0-9]*) echo "usage: $0 [SECONDS]" >&2; exit 2 ;;
esac
fuzzers=(fuzz_reactor fuzz_addr fuzz_timers fuzz_timer_wait)
declare -A max_len=([fuzz_reactor]=1600 [fuzz_addr]=256 [fuzz_timers]=1024
    [fuzz_timer_wait]=1024)

if ! echo 'int LLVMFuzzerTestOneInput(const char *d, long n){(void)d;(void)n;return 0;}' |
    clang -x c -fsanitize=fuzzer -o /dev/null - 2>/dev/null; then
    echo "clang cannot link libFuzzer: apt-get install -y clang libclang-rt-14-dev" >&2
    exit 2
fi

flags="-O1 -g -fno-omit-frame-pointer -fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=all"
configure() { # DIR [extra cmake args...]
    local dir=$1
    shift
    CC=clang cmake -S . -B "$dir" -DCMAKE_BUILD_TYPE=None \
        -DCMAKE_C_FLAGS="$flags" \
        -DCMAKE_EXE_LINKER_FLAGS="-fsanitize=address,undefined" \
        -DCMAKE_SHARED_LINKER_FLAGS="-fsanitize=address,undefined" \
        -DXPOLL_WERROR=ON -DXPOLL_BUILD_TESTS=ON -DXPOLL_BUILD_EXAMPLES=OFF \
        -DXPOLL_BUILD_FUZZ=ON "$@" >"$dir.configure.log" 2>&1 ||
        { cat "$dir.configure.log" >&2; exit 1; }
    cmake --build "$dir" -j2 --target "${fuzzers[@]}" >"$dir.build.log" 2>&1 ||
        { cat "$dir.build.log" >&2; exit 1; }
}

start=$SECONDS
mkdir -p build
echo "=== building (clang, ASan+UBSan, libFuzzer)"
configure build/fuzz
configure build/fuzz-kqueue -DXPOLL_KQUEUE_EMULATION=ON
echo "built in $((SECONDS - start)) s"

declare -A dir_of=([epoll]=build/fuzz [kqueue]=build/fuzz-kqueue [poll]=build/fuzz)
# epoll and poll share a build: each keeps its own corpus
declare -A corpus_suffix=([epoll]= [kqueue]= [poll]=.poll)
export ASAN_OPTIONS="detect_leaks=1:abort_on_error=1:allocator_may_return_null=1"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"

# run FUZZER BACKEND: one libFuzzer run; its log is build/fuzz*/FUZZER-BACKEND.log
run() {
    local fuzzer=$1 backend=$2 dir=${dir_of[$2]}
    local corpus=$dir/corpus/$fuzzer${corpus_suffix[$2]}
    local dict=()
    [ -f "tests/fuzz/$fuzzer.dict" ] && dict=(-dict="tests/fuzz/$fuzzer.dict")
    mkdir -p "$corpus" "$dir/artifacts"
    XPOLL_BACKEND=$backend "$dir/$fuzzer" "$corpus" "tests/fuzz/corpus/$fuzzer" "${dict[@]}" \
        -max_total_time="$seconds" -max_len="${max_len[$fuzzer]}" \
        -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
        -artifact_prefix="$dir/artifacts/$fuzzer-$backend-" \
        >"$dir/$fuzzer-$backend.log" 2>&1
}

# The rounds: FUZZER:BACKEND runs that go side by side.
rounds=(
    "fuzz_reactor:epoll fuzz_reactor:kqueue fuzz_reactor:poll fuzz_timer_wait:epoll"
    "fuzz_addr:epoll fuzz_addr:kqueue fuzz_addr:poll fuzz_timers:epoll"
)
status=0
summary=()
for round in "${rounds[@]}"; do
    read -ra jobs <<<"$round"
    echo "=== ${seconds} s each, in parallel: ${jobs[*]}"
    pids=()
    for job in "${jobs[@]}"; do
        run "${job%%:*}" "${job#*:}" &
        pids+=($!)
    done
    i=0
    for job in "${jobs[@]}"; do
        fuzzer=${job%%:*} backend=${job#*:}
        rc=0
        wait "${pids[$i]}" || rc=$?
        i=$((i + 1))
        log=${dir_of[$backend]}/$fuzzer-$backend.log
        execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
        last=$(grep -E '^#[0-9]+' "$log" | tail -1 || true)
        cov=$(sed -n 's/.* cov: \([0-9]*\).*/\1/p' <<<"$last")
        ft=$(sed -n 's/.* ft: \([0-9]*\).*/\1/p' <<<"$last")
        corp=$(sed -n 's/.* corp: \([0-9]*\/[^ ]*\).*/\1/p' <<<"$last")
        verdict=ok
        if [ "$rc" -ne 0 ] || [ -z "$execs" ]; then
            verdict="FAILED (exit $rc)"
            status=1
            echo "--- $fuzzer on $backend failed; the end of $log:" >&2
            tail -60 "$log" >&2
        fi
        line=$(printf '%-15s %-7s %10s execs  cov %-5s ft %-6s corpus %-10s %s' \
            "$fuzzer" "$backend" "${execs:-?}" "${cov:-?}" "${ft:-?}" "${corp:-?}" "$verdict")
        echo "$line"
        summary+=("$line")
    done
done

echo
echo "=== fuzz summary (${seconds} s per run, $((SECONDS - start)) s in all)"
printf '%s\n' "${summary[@]}"
if ls build/fuzz/artifacts/* build/fuzz-kqueue/artifacts/* >/dev/null 2>&1; then
    echo "artifacts:"
    ls -l build/fuzz/artifacts/ build/fuzz-kqueue/artifacts/ 2>/dev/null | grep -v '^total' || true
fi
exit $status
