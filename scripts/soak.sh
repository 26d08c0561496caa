#!/usr/bin/env bash
# Soak test: runs build/release/examples/tcp_echo_server under client load
# for MINUTES and fails if its memory or its descriptor count grows.
#
# usage: scripts/soak.sh MINUTES [SAMPLE_SECONDS]      (default sample: 5 s)
#
# Load, round after round until the time is up: four bundled
# tcp_echo_client processes at once (every byte checked), alternating many
# small connections (4 x 500 x 1 KiB) and fewer large ones (4 x 20 x 1 MiB),
# plus peers that misbehave: connections that send 64 KiB and are killed
# without reading (reset with unread data) and connections that connect and
# close without a word.  After each round the load stops for a moment
# and, every SAMPLE_SECONDS, the server's RSS (VmRSS) and open descriptors
# (/proc/PID/fd) are sampled while it is idle.
#
# Verdict: after a warm-up (the first fifth of the run, at most 60 s), the
# idle descriptor count must stay exactly at its first post-warm-up value,
# and RSS must not exceed that value by more than max(1 MiB, 5 %) -- both
# at the end and at any sample.  Any failing client fails the soak.  The
# server is stopped with SIGINT and must exit 0.
#
# XPOLL_BACKEND is passed through (epoll; kqueue needs an emulation build).
# Not part of CI: run it by hand (README / docs).
set -euo pipefail
cd "$(dirname "$0")/.."

minutes=${1:-}
sample=${2:-5}
case "$minutes$sample" in
'' | *[!0-9]*) echo "usage: $0 MINUTES [SAMPLE_SECONDS]" >&2; exit 2 ;;
esac
[ "$minutes" -gt 0 ] || { echo "MINUTES must be > 0" >&2; exit 2; }

bin=build/release/examples
if [ ! -x $bin/tcp_echo_server ] || [ ! -x $bin/tcp_echo_client ]; then
    echo "=== building the release examples"
    cmake --preset release >/dev/null
    cmake --build build/release -j2 --target tcp_echo_server tcp_echo_client >/dev/null
fi

work=$(mktemp -d)
server_pid=
cleanup() {
    [ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null || true
    jobs -p | xargs -r kill 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT

$bin/tcp_echo_server 127.0.0.1:0 >"$work/server.out" 2>"$work/server.err" &
server_pid=$!
for _ in $(seq 100); do
    [ -s "$work/server.out" ] && break
    sleep 0.05
done
addr=$(head -1 "$work/server.out")
port=${addr##*:}
[ -n "$addr" ] || { echo "the server printed no address" >&2; cat "$work/server.err" >&2; exit 1; }

rss_kb() { awk '/^VmRSS:/ { print $2 }' "/proc/$server_pid/status"; }
fd_count() { ls "/proc/$server_pid/fd" | wc -l; }

# Connections that misbehave: a writer killed before it reads (the kernel
# resets a socket closed with unread data), and a silent connect-and-close.
bad_peers() {
    for _ in 1 2 3 4; do
        timeout 0.3 bash -c "exec 3<>/dev/tcp/127.0.0.1/$port; head -c 65536 /dev/zero >&3; sleep 1" \
            >/dev/null 2>&1 || true
        bash -c "exec 3<>/dev/tcp/127.0.0.1/$port; exec 3>&-" >/dev/null 2>&1 || true
    done
}

duration=$((minutes * 60))
warmup=$((duration / 5))
[ "$warmup" -le 60 ] || warmup=60
start=$SECONDS
next_sample=$start
round=0
conns=0
failures=0
samples=()
base_rss= base_fd= max_rss=0
verdict=ok

echo "=== soak: server $addr (pid $server_pid, backend ${XPOLL_BACKEND:-default}), $minutes min, warm-up ${warmup} s, sample every ${sample} s"
printf '%8s %8s %10s %6s %s\n' elapsed rounds rss_kB fds note
while [ $((SECONDS - start)) -lt "$duration" ]; do
    round=$((round + 1))
    if [ $((round % 2)) -eq 1 ]; then n=500 bytes=1024; else n=20 bytes=1048576; fi
    pids=()
    for k in 1 2 3 4; do
        $bin/tcp_echo_client "$addr" $n $bytes >"$work/client.$k.out" 2>&1 &
        pids+=($!)
    done
    bad_peers
    for k in 1 2 3 4; do
        if wait "${pids[$((k - 1))]}"; then
            conns=$((conns + n))
        else
            failures=$((failures + 1))
            echo "client failed in round $round:" >&2
            cat "$work/client.$k.out" >&2
        fi
    done
    if [ $((SECONDS)) -ge "$next_sample" ]; then
        next_sample=$((SECONDS + sample))
        sleep 0.3 # let the server see the last FINs and resets
        rss=$(rss_kb) fd=$(fd_count)
        elapsed=$((SECONDS - start)) note=
        if [ "$elapsed" -ge "$warmup" ]; then
            if [ -z "$base_rss" ]; then
                base_rss=$rss base_fd=$fd note="baseline"
            else
                [ "$rss" -gt "$max_rss" ] && max_rss=$rss
                tolerance=$((base_rss / 20 > 1024 ? base_rss / 20 : 1024))
                if [ "$fd" -ne "$base_fd" ]; then
                    sleep 1 # a straggler? look again once
                    fd=$(fd_count)
                    if [ "$fd" -ne "$base_fd" ]; then
                        note="FD GROWTH ($base_fd -> $fd)"
                        verdict=failed
                    fi
                fi
                if [ "$rss" -gt $((base_rss + tolerance)) ]; then
                    note="$note RSS GROWTH (+$((rss - base_rss)) kB > $tolerance)"
                    verdict=failed
                fi
            fi
        else
            note="warm-up"
        fi
        printf '%8s %8s %10s %6s %s\n' "${elapsed}s" "$round" "$rss" "$fd" "$note"
        samples+=("$elapsed $rss $fd")
    fi
done

end_rss=$(rss_kb) end_fd=$(fd_count)
kill -INT "$server_pid"
server_rc=0
wait "$server_pid" || server_rc=$?
server_pid=
first=(${samples[0]})
echo
echo "=== soak summary ($minutes min, $round rounds, $conns checked connections, $failures failed clients)"
echo "first sample:        rss ${first[1]} kB, ${first[2]} fds (at ${first[0]} s)"
echo "baseline (warm-up):  rss ${base_rss:-?} kB, ${base_fd:-?} fds"
echo "end:                 rss $end_rss kB, $end_fd fds; highest rss after warm-up ${max_rss} kB"
echo "samples:             ${#samples[@]}"
echo "server exit:         $server_rc ($(tail -1 "$work/server.err"))"
[ "$failures" -eq 0 ] || verdict=failed
[ "$server_rc" -eq 0 ] || verdict=failed
[ -n "$base_rss" ] || { echo "no sample after the warm-up: run longer" >&2; verdict=failed; }
echo "verdict:             $verdict"
[ "$verdict" = ok ]
