#!/usr/bin/env bash
# The examples end to end under Wine: a server .exe and a client .exe, each
# its own Wine process, talking over loopback; then the server is told to
# stop the way a user would (Ctrl+C) and must exit 0 with its summary.
#
#   examples_wine.sh WINE64 BIN_DIR CHECK_DIR tcp_echo|udp_echo
#
# WINE64 is the 64-bit loader (the toolchain file's emulator); run from
# ctest after sourcing scripts/wine-env.sh (a persistent wineserver).
#
# tcp_echo: tcp_echo_server.exe on 127.0.0.1:0; tcp_echo_client.exe with 50
#   connections of 256 KiB and then 1 connection of 4 MiB (the client
#   checks every byte and exits 0 only if all came back); the server must
#   report 51 connections served.
# udp_echo: udp_echo_server.exe on 127.0.0.1:0; udp_echo_check.exe (this
#   directory) sends 200 datagrams and checks each echo; the server must
#   report as many datagrams echoed as were sent.
#
# Stopping: SIGINT to the Wine process, which Wine turns into CTRL_C_EVENT
# for the program's console control handlers (int_handler in
# dlls/ntdll/unix/signal_x86_64.c); the examples' handler
# (examples/platform_windows.c) wakes the loop.  Every wait here is
# bounded: a server that does not start, a client that hangs, or a server
# that does not stop fails the test instead of blocking it.
set -u

wine=$1 bin=$2 checks=$3 scenario=$4
work=$(mktemp -d)
pid=

cleanup() {
    if [ -n "$pid" ] && kill -0 "$pid" 2> /dev/null; then
        kill -KILL "$pid" 2> /dev/null
        wait "$pid" 2> /dev/null
    fi
    rm -rf "$work"
}
trap cleanup EXIT

fail() {
    echo "FAIL: $*"
    if [ -f "$work/err" ]; then
        echo "--- server stderr:"
        cat "$work/err"
    fi
    exit 1
}

# Start $1.exe on 127.0.0.1:0; set $addr to the address it prints first.
start_server() {
    # Background jobs of a script start with SIGINT ignored (bash(1),
    # "SIGNALS"); Wine installs its own handler over that, and the test
    # below proves that the stop arrives.
    "$wine" "$bin/$1.exe" 127.0.0.1:0 > "$work/out" 2> "$work/err" &
    pid=$!
    local i
    for ((i = 0; i < 300; i++)); do # 30 s
        if [ "$(wc -l < "$work/out")" -ge 1 ]; then # a whole line
            addr=$(head -n 1 "$work/out" | tr -d '\r')
            echo "$1 listens on $addr (pid $pid)"
            return 0
        fi
        kill -0 "$pid" 2> /dev/null || fail "$1 exited before printing its address"
        sleep 0.1
    done
    fail "$1 printed no address in 30 s"
}

# Ctrl+C, then the server must exit 0 within 30 s and its stderr match $1.
stop_server() {
    kill -INT "$pid" || fail "cannot signal the server"
    local i
    for ((i = 0; i < 300; i++)); do
        kill -0 "$pid" 2> /dev/null || break
        sleep 0.1
    done
    if kill -0 "$pid" 2> /dev/null; then
        fail "the server did not stop within 30 s of Ctrl+C"
    fi
    local status=0
    wait "$pid" || status=$?
    pid=
    tr -d '\r' < "$work/err" > "$work/err.txt"
    cat "$work/err.txt"
    [ "$status" = 0 ] || fail "the server exited $status after Ctrl+C"
    grep -qx -- "$1" "$work/err.txt" || fail "no line '$1' from the server"
}

# Run a client .exe (60 s at most); its stdout is the verdict, $out.
run_client() {
    local status=0
    out=$(timeout 60 "$wine" "$@" 2> "$work/client.err" | tr -d '\r') ||
        status=$?
    echo "$(basename "$1"): $out"
    [ "$status" = 0 ] || {
        cat "$work/client.err"
        fail "$(basename "$1") exited $status"
    }
}

case $scenario in
tcp_echo)
    start_server tcp_echo_server
    run_client "$bin/tcp_echo_client.exe" "$addr" 50 262144
    [[ $out == "50 connections, 13107200 bytes echoed, "* ]] ||
        fail "unexpected client verdict: $out"
    run_client "$bin/tcp_echo_client.exe" "$addr" 1 4194304
    [[ $out == "1 connections, 4194304 bytes echoed, "* ]] ||
        fail "unexpected client verdict: $out"
    stop_server "tcp_echo_server: 51 connections served"
    ;;
udp_echo)
    start_server udp_echo_server
    run_client "$checks/udp_echo_check.exe" "$addr" 200
    [[ $out =~ ^200\ echoed,\ ([0-9]+)\ sent$ ]] ||
        fail "unexpected checker verdict: $out"
    # Every datagram the checker sent was echoed, none dropped.
    stop_server "udp_echo_server: ${BASH_REMATCH[1]} datagrams echoed, 0 dropped"
    ;;
*)
    fail "unknown scenario $scenario"
    ;;
esac
echo "PASS: $scenario"
