#!/usr/bin/env bash
# bench/run.sh - xpoll against raw epoll, libuv, libevent and libev, in one
# command.
#
#   bench/run.sh               full run (about 28 minutes on 2 vCPUs)
#   QUICK=1 bench/run.sh       smoke run (about 4 minutes)
#   QUICK=1 REPS=1 SERVERS="raw xpoll" POLL=0 bench/run.sh
#                              the xpoll entrant against raw epoll alone, one
#                              round (about 1.5 minutes with the build): it
#                              proves the pipeline, not the figures
#   PARTS=timeouts bench/run.sh
#                              the idle-timeout rounds alone (about 3 minutes)
#
# Environment: BUILD (default build/bench), OUT (default $BUILD/results),
# REPS, DURATION, WARMUP, SERVERS ("raw xpoll libuv libevent libev"),
# POLL=0 (skip the poll(2) rounds), POLL_SERVERS ("libev-poll xpoll-poll
# libevent-poll xpoll"), PARTS (the steps to run, default "echo poll
# timeouts counters micro": PARTS=poll REPS=11 reruns the poll(2) rounds
# alone, PARTS=timeouts the idle-timeout rounds), IDLE_TIMEOUT_MS (default
# 60000), PORT_BASE (default 19200), SKIP_BUILD=1, SKIP_INSTALL=1.
#
# Servers (bench/, each started as NAME PORT): raw = raw_epoll_echo.c, the
# hand-written epoll server every ratio is taken to; xpoll = xpoll_echo.c,
# the xpoll entrant (the raw server's structure and fast path on xpoll);
# libuv, libevent, libev = libuv_echo.c, libevent_echo.c, libev_echo.c.
# On poll(2) instead of epoll, each by its own switch: xpoll-poll =
# xpoll_echo with XPOLL_BACKEND=poll, libev-poll = libev_echo with
# LIBEV_FLAGS=2 (EVBACKEND_POLL), libevent-poll = libevent_echo with
# EVENT_NOEPOLL=1 (the next method in libevent's order is poll).
# xpoll-timeout = xpoll_echo with XPOLL_ECHO_IDLE_MS=$IDLE_TIMEOUT_MS: a
# per-connection idle timeout (an xpoll_timer set again on every read
# that returns data), which never fires during a run.  A
# server said to run on poll(2) must hold no epoll descriptor, and every
# other one must hold one; start_server checks it in /proc.
#
# Steps: install the Debian packages it needs (if missing and root), build
# Release (-O2 -g -DNDEBUG for the library and every server alike; xpoll
# linked statically), then
#   1. throughput rounds: every scenario x every server, REPS rounds, each
#      server run between two raw epoll runs (raw S1 raw S2 ... raw, the
#      order of the others rotated each round) so each is compared with
#      what the machine gave raw epoll at that moment; server on CPU 1,
#      load generator on CPU 0 (taskset);
#   1b. poll(2) rounds: 100 active connections with 0, 1,000 and 10,000
#      idle ones, the same way, each poll server between two runs of
#      libev's poll backend, the reference there; xpoll on epoll runs
#      beside them to show what poll(2)'s O(registered) wait costs;
#   1c. idle-timeout rounds: 100 and 10,000 active connections, the same
#      way, xpoll-timeout between two runs of xpoll without timeouts (the
#      reference there), so the CPU per round trip of a timer reset on
#      every message is a paired ratio;
#   2. counters per server over fixed windows of round trips (startup and
#      connection setup excluded): system calls per round trip (perf's
#      raw_syscalls tracepoint at full speed, and strace -c -f), user-space
#      instructions per round trip (callgrind, instrumentation switched on
#      only for the window), heap allocations in the steady state
#      (alloc_shim.so, switched on by SIGUSR1/SIGUSR2);
#   3. micro-benchmarks (micro and idle_poll, under alloc_shim.so);
#   4. the report: medians with min-max and ratios to raw epoll
#      ($OUT/report.txt, also printed).
# Every server it starts is killed on exit; a server that dies, exits
# non-zero or drops a connection fails the run.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD=${BUILD:-$ROOT/build/bench}
OUT=${OUT:-$BUILD/results}
QUICK=${QUICK:-0}
PORT_BASE=${PORT_BASE:-19200}
if [[ $QUICK == 1 ]]; then
    REPS=${REPS:-3}
    DURATION=${DURATION:-0.5}
    WARMUP=${WARMUP:-0.15}
    COUNT_RT=${COUNT_RT:-20000}     # round trips per counter window
    CG_RT=${CG_RT:-5000}            # ... under callgrind / strace
    MICRO_ARGS=(-q -r 3)
else
    REPS=${REPS:-7}
    DURATION=${DURATION:-2.5}
    WARMUP=${WARMUP:-0.5}
    COUNT_RT=${COUNT_RT:-100000}
    CG_RT=${CG_RT:-20000}
    MICRO_ARGS=(-r 7)
fi
IDLE=${IDLE:-10000}
PARTS=" ${PARTS:-echo poll timeouts counters micro} "
IDLE_TIMEOUT_MS=${IDLE_TIMEOUT_MS:-60000}
part() { [[ $PARTS == *" $1 "* ]]; }

log() { printf '[bench %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
fail() { printf '[bench] FAILED: %s\n' "$*" >&2; exit 1; }

# ---------------------------------------------------------------------------
# Cleanup: every process this script started (servers, tracers).
# ---------------------------------------------------------------------------
STARTED=()
cleanup() {
    local pid
    for pid in "${STARTED[@]}"; do
        if kill -0 "$pid" 2>/dev/null; then
            kill -TERM "$pid" 2>/dev/null || true
        fi
    done
    sleep 0.2
    for pid in "${STARTED[@]}"; do
        kill -KILL "$pid" 2>/dev/null || true
    done
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# ---------------------------------------------------------------------------
# Packages and build
# ---------------------------------------------------------------------------
PKGS=(libuv1-dev libevent-dev libev-dev strace valgrind pkg-config cmake gcc make)
if [[ ${SKIP_INSTALL:-0} != 1 ]]; then
    missing=()
    for p in "${PKGS[@]}"; do
        dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
    done
    if ((${#missing[@]})); then
        if [[ $(id -u) == 0 ]]; then
            log "installing ${missing[*]}"
            apt-get update -qq >&2
            DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >&2
        else
            log "not root: cannot install ${missing[*]}; what needs them is skipped"
        fi
    fi
fi

if [[ ${SKIP_BUILD:-0} != 1 ]]; then
    log "building into $BUILD (Release, -O2 -g -DNDEBUG)"
    mkdir -p "$(dirname "$BUILD")" # a fresh clone has no build/
    cmake -S "$ROOT" -B "$BUILD" -DCMAKE_BUILD_TYPE=Release \
        "-DCMAKE_C_FLAGS_RELEASE=-O2 -g -DNDEBUG" \
        -DXPOLL_BUILD_BENCH=ON -DXPOLL_BUILD_TESTS=OFF \
        -DXPOLL_BUILD_EXAMPLES=OFF >"$BUILD.configure.log" 2>&1 ||
        { cat "$BUILD.configure.log" >&2; fail "configure"; }
    grep 'xpoll bench:' "$BUILD.configure.log" >&2 || true
    cmake --build "$BUILD" -j2 >"$BUILD.build.log" 2>&1 ||
        { cat "$BUILD.build.log" >&2; fail "build"; }
fi
BIN=$BUILD/bench
[[ -x $BIN/loadgen && -x $BIN/raw_epoll_echo && -x $BIN/xpoll_echo ]] ||
    fail "missing binaries in $BIN"

declare -A SRV_BIN=([raw]=raw_epoll_echo [xpoll]=xpoll_echo [libuv]=libuv_echo
                    [libevent]=libevent_echo [libev]=libev_echo
                    [xpoll-poll]=xpoll_echo [libev-poll]=libev_echo
                    [libevent-poll]=libevent_echo [xpoll-timeout]=xpoll_echo)
declare -A SRV_ENV=([xpoll-poll]=XPOLL_BACKEND=poll [libev-poll]=LIBEV_FLAGS=2
                    [libevent-poll]=EVENT_NOEPOLL=1
                    [xpoll-timeout]=XPOLL_ECHO_IDLE_MS=$IDLE_TIMEOUT_MS)
SERVERS_WANTED=${SERVERS:-raw xpoll libuv libevent libev}
SERVERS=()
for s in $SERVERS_WANTED; do
    if [[ -x $BIN/${SRV_BIN[$s]:-none} ]]; then
        SERVERS+=("$s")
    else
        log "SKIPPED server $s: ${SRV_BIN[$s]:-unknown} was not built (library missing?)"
    fi
done
[[ ${SERVERS[0]} == raw ]] || fail "the raw epoll server must run first in SERVERS (ratios are to it)"
POLL=${POLL:-1}
POLL_SERVERS_WANTED=${POLL_SERVERS:-libev-poll xpoll-poll libevent-poll xpoll}
POLL_SERVERS=()
if [[ $POLL == 1 ]]; then
    for s in $POLL_SERVERS_WANTED; do
        if [[ -x $BIN/${SRV_BIN[$s]:-none} ]]; then
            POLL_SERVERS+=("$s")
        else
            log "SKIPPED poll server $s: ${SRV_BIN[$s]:-unknown} was not built (library missing?)"
        fi
    done
    if [[ ${POLL_SERVERS[0]:-} != libev-poll ]]; then
        log "SKIPPED the poll(2) rounds: libev's poll backend, their reference, is missing"
        POLL_SERVERS=()
    fi
fi

mkdir -p "$OUT"
rm -f "$OUT"/*.tsv "$OUT"/*.log "$OUT"/*.out "$OUT"/*.err "$OUT"/cg.* "$OUT"/alloc.* \
    "$OUT"/strace.* "$OUT"/perf.* "$OUT"/micro.txt "$OUT"/idle_poll.txt "$OUT"/report.txt

# CPUs: server on the last CPU, load generator on the first.
NCPU=$(nproc)
if ((NCPU >= 2)); then
    SRV_CPU=(taskset -c $((NCPU - 1)))
    LG_CPU=(taskset -c 0)
else
    SRV_CPU=()
    LG_CPU=()
    log "one CPU: no pinning; server and load generator share it"
fi

# ---------------------------------------------------------------------------
# Servers
# ---------------------------------------------------------------------------
PORT=$PORT_BASE
SRV_PID=
SRV_NAME=
SRV_LOG=

# start_server NAME TAG [WRAPPER...]: start it on a fresh port, wait for its
# address line.  Sets SRV_PID, PORT.
start_server() {
    local name=$1 tag=$2
    shift 2
    PORT=$((PORT + 1))
    ((PORT > PORT_BASE + 2000)) && PORT=$((PORT_BASE + 1))
    SRV_NAME=$name
    SRV_LOG=$OUT/srv.$name.$tag
    rm -f "$SRV_LOG.out" "$SRV_LOG.err"
    # taskset, env and valgrind exec what they run: $! is the server.
    "${SRV_CPU[@]}" env ${SRV_ENV[$name]:-} "$@" "$BIN/${SRV_BIN[$name]}" "$PORT" \
        >"$SRV_LOG.out" 2>"$SRV_LOG.err" &
    SRV_PID=$!
    STARTED+=("$SRV_PID")
    local i
    for ((i = 0; i < 300; i++)); do
        if [[ -s $SRV_LOG.out ]]; then
            check_backend
            return 0
        fi
        kill -0 "$SRV_PID" 2>/dev/null || break
        sleep 0.05
    done
    cat "$SRV_LOG.err" >&2 || true
    fail "server $name did not start (port $PORT)"
}

# check_backend: a *-poll server holds no epoll descriptor, any other one
# does (its listener is registered by the time it prints its address).
check_backend() {
    local ep
    ep=$(find "/proc/$SRV_PID/fd" -lname 'anon_inode:\[eventpoll\]' 2>/dev/null | wc -l)
    if [[ $SRV_NAME == *-poll ]]; then
        ((ep == 0)) || fail "server $SRV_NAME holds an epoll descriptor: not on poll(2)"
    else
        ((ep > 0)) || fail "server $SRV_NAME holds no epoll descriptor"
    fi
}

# stop_server: SIGTERM, then require a clean exit 0 within 20 s.
stop_server() {
    kill -0 "$SRV_PID" 2>/dev/null || {
        cat "$SRV_LOG.err" >&2
        fail "server $SRV_NAME (pid $SRV_PID) died during the run"
    }
    kill -TERM "$SRV_PID"
    local i
    for ((i = 0; i < 400; i++)); do
        kill -0 "$SRV_PID" 2>/dev/null || break
        sleep 0.05
    done
    if kill -0 "$SRV_PID" 2>/dev/null; then
        kill -KILL "$SRV_PID" 2>/dev/null || true
        fail "server $SRV_NAME did not exit on SIGTERM"
    fi
    local rc=0
    wait "$SRV_PID" || rc=$?
    if ((rc != 0)); then
        cat "$SRV_LOG.err" >&2
        fail "server $SRV_NAME exited with status $rc"
    fi
}

# loadgen ARGS...: run the load generator against $PORT; its last output
# line (key=value) goes to stdout.  Any error fails the run.
loadgen() {
    local out rc=0
    out=$("${LG_CPU[@]}" "$BIN/loadgen" -q -p "$PORT" -P "$SRV_PID" "$@" 2>"$OUT/loadgen.err") || rc=$?
    if ((rc != 0)); then
        cat "$OUT/loadgen.err" >&2
        printf '%s\n' "$out" >&2
        fail "loadgen $* against $SRV_NAME: status $rc"
    fi
    printf '%s\n' "$out" | tail -n 1
}

kv() { # kv KEY LINE
    local k=$1 line=$2
    printf '%s\n' "$line" | tr ' ' '\n' | sed -n "s/^$k=//p"
}

# ---------------------------------------------------------------------------
# 1. Throughput rounds
# ---------------------------------------------------------------------------
# name|conns|size|idle
SCENARIOS=(
    "N=1 S=64|1|64|0"
    "N=100 S=64|100|64|0"
    "N=1000 S=64|1000|64|0"
    "N=100 S=16384|100|16384|0"
    "N=10 S=64|10|64|0"
    "N=10+${IDLE}idle S=64|10|64|$IDLE"
)

uptime_line=$(uptime)
log "machine: $(nproc) CPUs, $(uptime | sed 's/.*load/load/')"
printf 'round\tscenario\tserver\trtps\tsrv_cpu_ns_rt\tp50_us\tp99_us\tp999_us\terrors\trss_b_per_conn\tsrv_util\n' \
    >"$OUT/rounds.tsv"
# This VM's speed changes in phases of tens of seconds that slow every
# server alike (CPU per round trip 4.5 us in one phase, 6.1 us in the next,
# with no steal time reported), so a server is compared with the raw epoll
# runs just before and just after it: raw S1 raw S2 ... raw.  report.sh
# takes each run's ratio to the mean of its two raw neighbours; the
# median of those paired ratios is what the targets are judged on.
run_one() { # run_one ROUND SCENARIO CONNS SIZE IDLE SERVER (to $ROUNDS)
    local line
    start_server "$6" tp
    line=$(loadgen -c "$3" -s "$4" -i "$5" -d "$DURATION" -w "$WARMUP")
    stop_server
    printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$1" "$2" "$6" \
        "$(kv rtps "$line")" "$(kv srv_cpu_ns_rt "$line")" "$(kv p50_us "$line")" \
        "$(kv p99_us "$line")" "$(kv p999_us "$line")" "$(kv errors "$line")" \
        "$(kv rss_b_per_conn "$line")" "$(kv srv_util "$line")" >>"$ROUNDS"
}
# rounds NAME REF OTHER...: REPS rounds of the scenarios in SC_LIST, each
# OTHER between two runs of REF, the order of the others rotated round by
# round.
rounds() {
    local name=$1 ref=$2 round sc scname conns size idle k
    shift 2
    local -a oth=("$@")
    local n=${#oth[@]}
    for ((round = 1; round <= REPS; round++)); do
        log "$name round $round/$REPS"
        for sc in "${SC_LIST[@]}"; do
            IFS='|' read -r scname conns size idle <<<"$sc"
            run_one "$round" "$scname" "$conns" "$size" "$idle" "$ref"
            for ((k = 0; k < n; k++)); do
                run_one "$round" "$scname" "$conns" "$size" "$idle" "${oth[$(((k + round - 1) % n))]}"
                run_one "$round" "$scname" "$conns" "$size" "$idle" "$ref"
            done
        done
    done
}
ROUNDS=$OUT/rounds.tsv
SC_LIST=("${SCENARIOS[@]}")
if part echo; then
    rounds echo "${SERVERS[@]}"
fi

# ---------------------------------------------------------------------------
# 1b. poll(2) rounds
# ---------------------------------------------------------------------------
if ((${#POLL_SERVERS[@]} > 1)) && part poll; then
    ROUNDS=$OUT/rounds_poll.tsv
    head -n 1 "$OUT/rounds.tsv" >"$ROUNDS"
    SC_LIST=(
        "poll N=100+0idle|100|64|0"
        "poll N=100+1000idle|100|64|1000"
        "poll N=100+10000idle|100|64|10000"
    )
    rounds poll "${POLL_SERVERS[@]}"
fi

# ---------------------------------------------------------------------------
# 1c. Idle-timeout rounds
# ---------------------------------------------------------------------------
# The common server pattern, a per-connection idle timeout reset on every
# message, against the same server without it.  Its timeout is longer than
# any run, so what is measured is the resets and the waits with armed
# timers (a timeout that fired would close a connection: loadgen fails).
if part timeouts; then
    ROUNDS=$OUT/rounds_timeouts.tsv
    head -n 1 "$OUT/rounds.tsv" >"$ROUNDS"
    SC_LIST=(
        "timeouts N=100|100|64|0"
        "timeouts N=10000|10000|64|0"
    )
    rounds timeouts xpoll xpoll-timeout
fi

# ---------------------------------------------------------------------------
# 2. Counters over fixed windows
# ---------------------------------------------------------------------------
# The hooks run (through system()) at the quiescent edges of the window.
HAVE_PERF=0
if command -v perf >/dev/null &&
    perf stat -e raw_syscalls:sys_enter -- true >/dev/null 2>&1; then
    HAVE_PERF=1
else
    log "perf tracepoints unavailable: system calls are counted with strace only"
fi
HAVE_STRACE=0
command -v strace >/dev/null && HAVE_STRACE=1
HAVE_CG=0
command -v valgrind >/dev/null && command -v callgrind_control >/dev/null && HAVE_CG=1

# tracer_hooks FILE READY CMD...: hooks that attach a tracer for the window.
# The start hook returns once READY (a pattern) shows in its output, or
# after 0.5 s if READY is empty; the end hook interrupts it and waits until
# it has exited (and written its summary).  Sets HOOK_START, HOOK_END.
tracer_hooks() {
    local f=$1 ready=$2 cmd wait
    shift 2
    cmd=$(printf '%q ' "$@")
    if [[ -n $ready ]]; then
        wait="i=0; while ! grep -q '$ready' $f.log 2>/dev/null && [ \$i -lt 200 ]; do sleep 0.05; i=\$((i+1)); done; sleep 0.2; grep -q '$ready' $f.log"
    else
        wait="sleep 0.5"
    fi
    HOOK_START="$cmd >$f.log 2>&1 & echo \$! >$f.pid; $wait"
    HOOK_END="p=\$(cat $f.pid); kill -INT \$p; i=0; while kill -0 \$p 2>/dev/null && [ \$i -lt 200 ]; do sleep 0.05; i=\$((i+1)); done"
}

printf 'server\twindow\tmetric\tvalue\n' >"$OUT/counters.tsv"
counter() { printf '%s\t%s\t%s\t%s\n' "$1" "$2" "$3" "$4" >>"$OUT/counters.tsv"; }

if [[ $QUICK == 1 ]]; then
    WINDOWS=("N=1 S=64|1|64" "N=100 S=64|100|64")
else
    WINDOWS=("N=1 S=64|1|64" "N=100 S=64|100|64" "N=100 S=16384|100|16384")
fi
declare -A counted=()
for s in "${SERVERS[@]}" "${POLL_SERVERS[@]}"; do
    part counters || break
    [[ -n ${counted[$s]:-} ]] && continue # xpoll is in both lists
    counted[$s]=1
    log "counters: $s"
    # perf + strace + allocations: one server process under the shim.
    start_server "$s" cnt env XPOLL_BENCH_ALLOC_OUT="$OUT/alloc.$s" \
        LD_PRELOAD="$BIN/alloc_shim.so"
    for w in "${WINDOWS[@]}"; do
        IFS='|' read -r wname conns size <<<"$w"
        tag=${wname// /_}
        if ((HAVE_PERF)); then
            f=$OUT/perf.$s.$tag
            # perf prints nothing when it has attached: wait 0.5 s.
            tracer_hooks "$f" "" perf stat -x, -e raw_syscalls:sys_enter \
                -e syscalls:sys_enter_epoll_wait -e syscalls:sys_enter_read \
                -e syscalls:sys_enter_write -e syscalls:sys_enter_epoll_ctl \
                -e syscalls:sys_enter_readv -e syscalls:sys_enter_writev \
                -e syscalls:sys_enter_poll -e syscalls:sys_enter_ppoll \
                -p "$SRV_PID"
            line=$(loadgen -c "$conns" -s "$size" -n "$COUNT_RT" -w 0.3 \
                --hook-start "$HOOK_START" --hook-end "$HOOK_END")
            rt=$(kv rt "$line")
            total=$(awk -F, '/raw_syscalls:sys_enter/ {print $1}' "$f.log")
            [[ -n $total ]] || { cat "$f.log" >&2; fail "perf output for $s"; }
            counter "$s" "$wname" syscalls_per_rt "$(awk -v a="$total" -v b="$rt" 'BEGIN{printf "%.4f", a/b}')"
            for sc in epoll_wait read write epoll_ctl readv writev poll ppoll; do
                v=$(awk -F, -v k="syscalls:sys_enter_$sc" '$3 == k {print $1}' "$f.log")
                counter "$s" "$wname" "${sc}_per_rt" "$(awk -v a="${v:-0}" -v b="$rt" 'BEGIN{printf "%.4f", a/b}')"
            done
        fi
        if ((HAVE_STRACE)) && [[ $wname == "N=100 S=64" || ($wname == "N=1 S=64" && $QUICK != 1) ]]; then
            f=$OUT/strace.$s.$tag
            tracer_hooks "$f" attached strace -c -f -o "$f.txt" -p "$SRV_PID"
            line=$(loadgen -c "$conns" -s "$size" -n "$CG_RT" -w 0.3 \
                --hook-start "$HOOK_START" --hook-end "$HOOK_END")
            rt=$(kv rt "$line")
            calls=$(awk '$NF == "total" {print $4}' "$f.txt")
            [[ -n $calls ]] || { cat "$f.txt" "$f.log" >&2; fail "strace output for $s"; }
            counter "$s" "$wname" strace_syscalls_per_rt "$(awk -v a="$calls" -v b="$rt" 'BEGIN{printf "%.4f", a/b}')"
        fi
        rm -f "$OUT/alloc.$s"
        line=$(loadgen -c "$conns" -s "$size" -n "$COUNT_RT" -w 0.3 \
            --hook-start "kill -USR1 $SRV_PID" \
            --hook-end "kill -USR2 $SRV_PID; i=0; while [ ! -s $OUT/alloc.$s ] && [ \$i -lt 100 ]; do sleep 0.02; i=\$((i+1)); done")
        a=$(sed -n 's/.*allocs=\([0-9]*\).*/\1/p' "$OUT/alloc.$s" 2>/dev/null)
        b=$(sed -n 's/.*bytes=\([0-9]*\).*/\1/p' "$OUT/alloc.$s" 2>/dev/null)
        [[ -n $a ]] || fail "allocation counts for $s"
        counter "$s" "$wname" allocs "$a"
        counter "$s" "$wname" alloc_bytes "$b"
        counter "$s" "$wname" allocs_window_rt "$(kv rt "$line")"
    done
    stop_server

    if ((HAVE_CG)); then
        cg=$OUT/cg.$s
        start_server "$s" cg valgrind --tool=callgrind --instr-atstart=no \
            --callgrind-out-file="$cg" --dump-instr=yes
        n=0
        for w in "${WINDOWS[@]}"; do
            IFS='|' read -r wname conns size <<<"$w"
            n=$((n + 1))
            line=$(loadgen -c "$conns" -s "$size" -n "$CG_RT" -w 0.3 \
                --hook-start "callgrind_control -z $SRV_PID >/dev/null 2>&1 && callgrind_control -i on $SRV_PID >/dev/null 2>&1" \
                --hook-end "callgrind_control -i off $SRV_PID >/dev/null 2>&1 && callgrind_control -d $SRV_PID >/dev/null 2>&1")
            rt=$(kv rt "$line")
            ir=$(sed -n 's/^totals: *\([0-9]*\).*/\1/p' "$cg.$n")
            [[ -n $ir ]] || fail "callgrind dump $cg.$n for $s"
            counter "$s" "$wname" instr_per_rt "$(awk -v a="$ir" -v b="$rt" 'BEGIN{printf "%.2f", a/b}')"
        done
        stop_server
    fi
done

# ---------------------------------------------------------------------------
# 3. Micro-benchmarks
# ---------------------------------------------------------------------------
if part micro; then
    log "micro-benchmarks"
    LD_PRELOAD="$BIN/alloc_shim.so" "$BIN/micro" "${MICRO_ARGS[@]}" >"$OUT/micro.txt" ||
        fail "micro"
fi
if ((${#POLL_SERVERS[@]} > 1)) && [[ -x $BIN/idle_poll ]] && part micro; then
    LD_PRELOAD="$BIN/alloc_shim.so" "$BIN/idle_poll" "${MICRO_ARGS[@]}" >"$OUT/idle_poll.txt" ||
        fail "idle_poll"
fi

# ---------------------------------------------------------------------------
# 4. Report
# ---------------------------------------------------------------------------
"$ROOT/bench/report.sh" "$OUT" "${SERVERS[@]}" -- "${POLL_SERVERS[@]}" >"$OUT/report.txt"
{
    echo
    echo "machine: $(nproc) CPUs, $(lscpu | sed -n 's/^Model name: *//p' | head -1), kernel $(uname -r), $(cc --version | head -1)"
    echo "load before the run: $uptime_line"
    echo "load after the run:  $(uptime)"
    echo "settings: QUICK=$QUICK REPS=$REPS DURATION=${DURATION}s WARMUP=${WARMUP}s counter windows ${COUNT_RT} rt (perf, allocations), ${CG_RT} rt (callgrind, strace)"
    echo "idle-timeout rounds: XPOLL_ECHO_IDLE_MS=$IDLE_TIMEOUT_MS"
    echo "raw data: $OUT/rounds.tsv, $OUT/counters.tsv, $OUT/micro.txt, callgrind dumps $OUT/cg.*"
} >>"$OUT/report.txt"
cat "$OUT/report.txt"
