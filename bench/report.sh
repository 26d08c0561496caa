#!/usr/bin/env bash
# bench/report.sh OUT SERVER... [-- POLL_SERVER...] - the tables of
# bench/run.sh, from OUT/rounds.tsv, OUT/counters.tsv, OUT/micro.txt,
# OUT/rounds_timeouts.tsv if present and, with poll servers,
# OUT/rounds_poll.tsv and OUT/idle_poll.txt.  The first server is the
# reference (raw epoll) every ratio is taken to; the first poll server
# (libev's poll backend) is the poll rounds' reference; xpoll without
# timeouts is the idle-timeout rounds' reference (xpoll-timeout, the same
# server with an idle timeout reset on every message).  POSIX awk only.
set -euo pipefail
OUT=$1
shift
SERVERS=
POLL_SERVERS=
while (($#)) && [[ $1 != -- ]]; do
    SERVERS="$SERVERS $1"
    shift
done
(($#)) && shift
POLL_SERVERS="$*"
POLL_ROUNDS=$OUT/rounds_poll.tsv
[[ -n $POLL_SERVERS && -f $POLL_ROUNDS ]] || POLL_ROUNDS=/dev/null
TO_ROUNDS=$OUT/rounds_timeouts.tsv
[[ -f $TO_ROUNDS ]] || TO_ROUNDS=/dev/null

awk -v servers="$SERVERS" -v pservers="$POLL_SERVERS" -F'\t' '
function median(key,    n, i, j, v, t) {
    n = cnt[key]
    if (n == 0) return ""
    for (i = 1; i <= n; i++) v[i] = val[key, i] + 0
    for (i = 2; i <= n; i++) {
        t = v[i]
        for (j = i - 1; j >= 1 && v[j] > t; j--) v[j + 1] = v[j]
        v[j + 1] = t
    }
    lo[key] = v[1]; hi[key] = v[n]
    if (n % 2) return v[(n + 1) / 2]
    return (v[n / 2] + v[n / 2 + 1]) / 2
}
function add(key, x) { cnt[key]++; val[key, cnt[key]] = x }
function ratio(a, b) { return (b > 0 && a != "") ? sprintf("%.3f", a / b) : "-" }
# file: set before each file on the command line (an empty one, /dev/null,
# has no first line to count).
FNR == 1 { next }
file == 1 || file == 3 || file == 4 {
    # round scenario server rtps cpu p50 p99 p999 errors rss util
    if (file == 3) {
        if (!($2 in seen_sc)) { seen_sc[$2] = 1; pscen[++npsc] = $2 }
    } else if (file == 4) {
        if (!($2 in seen_sc)) { seen_sc[$2] = 1; tscen[++ntsc] = $2 }
    } else if (!($2 in seen_sc)) { seen_sc[$2] = 1; scen[++nsc] = $2 }
    add("rtps" SUBSEP $2 SUBSEP $3, $4)
    add("cpu" SUBSEP $2 SUBSEP $3, $5)
    add("p50" SUBSEP $2 SUBSEP $3, $6)
    add("p99" SUBSEP $2 SUBSEP $3, $7)
    add("util" SUBSEP $2 SUBSEP $3, $11)
    if ($10 + 0 > 0) add("rss" SUBSEP $2 SUBSEP $3, $10)
    errs += $9
    # The runs of one round and scenario, in the order they ran.
    rk = $1 SUBSEP $2
    if (!(rk in nrun)) { rkeys[++nrk] = rk; rsc[rk] = $2; rgrp[rk] = file }
    nrun[rk]++
    run_srv[rk, nrun[rk]] = $3; run_rt[rk, nrun[rk]] = $4; run_cpu[rk, nrun[rk]] = $5
    next
}
file == 2 { c[$1, $2, $3] = $4; ncnt++; next }
END {
    ns = split(servers, S, " ")
    ref = S[1]
    nps = split(pservers, PS, " ")
    pref = PS[1]
    tref = "xpoll"; tsrv = "xpoll-timeout"
    # Paired ratios: each run of a server against the mean of the reference
    # runs just before and just after it (run.sh runs raw S1 raw S2 ... raw),
    # so a phase of the machine that slows everything cancels out.
    for (q = 1; q <= nrk; q++) {
        rk = rkeys[q]
        gref = (rgrp[rk] == 3) ? pref : (rgrp[rk] == 4) ? tref : ref
        for (i = 1; i <= nrun[rk]; i++) {
            if (run_srv[rk, i] == gref) continue
            nb = 0; brt = 0; bcpu = 0
            for (j = i - 1; j >= 1; j--) if (run_srv[rk, j] == gref) { nb++; brt += run_rt[rk, j]; bcpu += run_cpu[rk, j]; break }
            for (j = i + 1; j <= nrun[rk]; j++) if (run_srv[rk, j] == gref) { nb++; brt += run_rt[rk, j]; bcpu += run_cpu[rk, j]; break }
            if (nb == 0 || brt <= 0 || bcpu <= 0) continue
            add("prt" SUBSEP rsc[rk] SUBSEP run_srv[rk, i], run_rt[rk, i] / (brt / nb))
            add("pcpu" SUBSEP rsc[rk] SUBSEP run_srv[rk, i], run_cpu[rk, i] / (bcpu / nb))
        }
    }
    if (nsc > 0) {
        print "== Ping-pong echo: medians (min-max) of " cnt["prt" SUBSEP scen[1] SUBSEP S[2]] " rounds; " ref " ran before and after every other server"
        print "   rt/s: round trips per second (load generator on CPU 0, server on CPU 1)"
        print "   CPU/rt: server CPU time per round trip, ns (schedstat, kernel time included)"
        print "   ratio: median / median of " ref "'"'"'s runs"
        print "   paired: median over rounds of (run / mean of the " ref " runs just before and after it);"
        print "           the machine'"'"'s slow and fast phases cancel out: the targets use this one"
        printf "%-22s %-9s %21s %6s %6s %19s %6s %6s %5s %8s %8s\n", "scenario", "server",
            "rt/s (min-max)", "ratio", "paired", "CPU/rt ns (min-max)", "ratio", "paired", "util", "p50 us", "p99 us"
        for (i = 1; i <= nsc; i++) {
            sc = scen[i]
            r0 = median("rtps" SUBSEP sc SUBSEP ref)
            c0 = median("cpu" SUBSEP sc SUBSEP ref)
            for (k = 1; k <= ns; k++) {
                s = S[k]
                kr = "rtps" SUBSEP sc SUBSEP s; kc = "cpu" SUBSEP sc SUBSEP s
                r = median(kr); cp = median(kc)
                if (r == "") continue
                pr = (s == ref) ? "" : median("prt" SUBSEP sc SUBSEP s)
                pc = (s == ref) ? "" : median("pcpu" SUBSEP sc SUBSEP s)
                printf "%-22s %-9s %7.0f (%5.0f-%5.0f) %6s %6s %5.0f (%5.0f-%5.0f) %6s %6s %5.2f %8.1f %8.1f\n",
                    sc, s, r, lo[kr], hi[kr], ratio(r, r0), (pr == "") ? "-" : sprintf("%.3f", pr),
                    cp, lo[kc], hi[kc], ratio(cp, c0), (pc == "") ? "-" : sprintf("%.3f", pc),
                    median("util" SUBSEP sc SUBSEP s),
                    median("p50" SUBSEP sc SUBSEP s), median("p99" SUBSEP sc SUBSEP s)
                R[sc, s] = r; C[sc, s] = cp; PR[sc, s] = pr; PC[sc, s] = pc
            }
        }
    }
    if (ncnt > 0) {
        print ""
        print "== Counters over fixed windows of round trips (startup and connection setup excluded)"
        print "   sys/rt: system calls per round trip, perf raw_syscalls tracepoint at full speed"
        print "   strace: the same counted by strace -c -f (the tracer slows the server: more events per wait)"
        print "   instr/rt: user-space instructions per round trip, callgrind (libc included)"
        print "   allocs: heap allocations in the window (alloc_shim.so); RSS/conn: server VmRSS growth per"
        print "   connection with 10 active + idle connections open, each having echoed one message"
        printf "%-9s %8s %8s %8s %8s %9s %9s %9s %6s %7s %7s %9s\n", "server", "sys/rt", "sys/rt",
            "sys/rt", "strace", "instr/rt", "instr/rt", "instr/rt", "ratio", "allocs", "allocs", "RSS/conn"
        printf "%-9s %8s %8s %8s %8s %9s %9s %9s %6s %7s %7s %9s\n", "", "N=1", "N=100", "N=100 16K",
            "N=100", "N=1", "N=100", "N=100 16K", "N=100", "N=100", "16K", "bytes"
        w1 = "N=1 S=64"; w2 = "N=100 S=64"; w3 = "N=100 S=16384"
        for (k = 1; k <= ns; k++) {
            s = S[k]
            rss = ""
            for (i = 1; i <= nsc; i++) if (scen[i] ~ /idle/) rss = median("rss" SUBSEP scen[i] SUBSEP s)
            printf "%-9s %8s %8s %8s %8s %9s %9s %9s %6s %7s %7s %9s\n", s,
                c[s, w1, "syscalls_per_rt"], c[s, w2, "syscalls_per_rt"], c[s, w3, "syscalls_per_rt"],
                c[s, w2, "strace_syscalls_per_rt"],
                c[s, w1, "instr_per_rt"], c[s, w2, "instr_per_rt"], c[s, w3, "instr_per_rt"],
                ratio(c[s, w2, "instr_per_rt"], c[ref, w2, "instr_per_rt"]),
                c[s, w2, "allocs"], c[s, w3, "allocs"], rss == "" ? "-" : sprintf("%.0f", rss)
            RSS[s] = rss
        }
        print ""
        print "   per-call system calls per round trip (perf), N=100 S=64:"
        printf "%-9s %10s %8s %8s %9s %8s %8s\n", "server", "epoll_wait", "read", "write", "epoll_ctl", "readv", "writev"
        for (k = 1; k <= ns; k++) {
            s = S[k]
            printf "%-9s %10s %8s %8s %9s %8s %8s\n", s, c[s, w2, "epoll_wait_per_rt"], c[s, w2, "read_per_rt"],
                c[s, w2, "write_per_rt"], c[s, w2, "epoll_ctl_per_rt"], c[s, w2, "readv_per_rt"], c[s, w2, "writev_per_rt"]
        }
    }

    # Idle scaling: the idle scenario against the same load without idle connections.
    base = ""; idle = ""
    for (i = 1; i <= nsc; i++) { if (scen[i] ~ /idle/) idle = scen[i]; else if (scen[i] ~ /^N=10 S=64/) base = scen[i] }
    if (idle != "" && base != "") {
        print ""
        print "== Idle scaling: \"" idle "\" / \"" base "\" (1.000 = idle connections cost nothing)"
        printf "%-9s %10s %10s\n", "server", "CPU/rt", "rt/s"
        for (k = 1; k <= ns; k++) {
            s = S[k]
            printf "%-9s %10s %10s\n", s, ratio(C[idle, s], C[base, s]), ratio(R[idle, s], R[base, s])
        }
    }

    # Targets, for xpoll.
    if (nsc > 0 || ncnt > 0) {
        x = "xpoll"
        print ""
        print "== xpoll targets"
        t = c[x, w2, "syscalls_per_rt"]; t0 = c[ref, w2, "syscalls_per_rt"]
        if (t != "") printf "  syscalls/rt N=100 equal to raw (+-0.01): %s vs %s  %s\n", t, t0, (t - t0 <= 0.01 && t0 - t <= 0.01) ? "MET" : "MISSED"
        t = c[x, w1, "syscalls_per_rt"]; t0 = c[ref, w1, "syscalls_per_rt"]
        if (t != "") printf "  syscalls/rt N=1 equal to raw (+-0.01):   %s vs %s  %s\n", t, t0, (t - t0 <= 0.01 && t0 - t <= 0.01) ? "MET" : "MISSED"
        t = c[x, w2, "instr_per_rt"]; t0 = c[ref, w2, "instr_per_rt"]
        if (t != "") printf "  instructions/rt N=100 <= 1.3x raw:       %s vs %s = %.2fx  %s\n", t, t0, t / t0, (t <= 1.3 * t0) ? "MET" : "MISSED"
        worst_c = 0; worst_r = 9
        for (i = 1; i <= nsc; i++) {
            sc = scen[i]
            if (PC[sc, x] != "" && PC[sc, x] > worst_c) { worst_c = PC[sc, x]; wc = sc }
            if (PR[sc, x] != "" && PR[sc, x] < worst_r) { worst_r = PR[sc, x]; wr = sc }
        }
        if (wc != "") {
            median("pcpu" SUBSEP wc SUBSEP x); median("prt" SUBSEP wr SUBSEP x)
            printf "  CPU/rt <= 1.03x raw in every scenario (paired):  worst %.3fx (%s; rounds %.3f-%.3f)  %s\n",
                worst_c, wc, lo["pcpu" SUBSEP wc SUBSEP x], hi["pcpu" SUBSEP wc SUBSEP x], (worst_c <= 1.03) ? "MET" : "MISSED"
            printf "  rt/s >= 0.97x raw in every scenario (paired):    worst %.3fx (%s; rounds %.3f-%.3f)  %s\n",
                worst_r, wr, lo["prt" SUBSEP wr SUBSEP x], hi["prt" SUBSEP wr SUBSEP x], (worst_r >= 0.97) ? "MET" : "MISSED"
        }
        if (c[x, w2, "allocs"] != "") {
            a = c[x, w2, "allocs"] + c[x, w3, "allocs"] + c[x, w1, "allocs"]
            printf "  heap allocations in steady state = 0:    %d  %s\n", a, (a == 0) ? "MET" : "MISSED"
        }
    }

    if (npsc > 0) {
        print ""
        print "== poll(2) backends: 100 active connections (64-byte ping-pong) with N idle ones;"
        print "   medians (min-max) of " cnt["pcpu" SUBSEP pscen[1] SUBSEP PS[2]] " rounds; " pref " ran before and after every other server"
        print "   paired: median over rounds of (run / mean of the " pref " runs just before and after it)"
        print "   vs 0 idle: CPU/rt against the same server with no idle connection (poll(2) is O(registered))"
        printf "%-22s %-13s %21s %6s %19s %6s %9s %9s %8s\n", "scenario", "server",
            "rt/s (min-max)", "paired", "CPU/rt ns (min-max)", "paired", "vs 0 idle", "instr/rt", "sys/rt"
        for (i = 1; i <= npsc; i++) {
            sc = pscen[i]
            for (k = 1; k <= nps; k++) {
                s = PS[k]
                kr = "rtps" SUBSEP sc SUBSEP s; kc = "cpu" SUBSEP sc SUBSEP s
                r = median(kr); cp = median(kc)
                if (r == "") continue
                if (i == 1) C0[s] = cp
                pr = (s == pref) ? "" : median("prt" SUBSEP sc SUBSEP s)
                pc = (s == pref) ? "" : median("pcpu" SUBSEP sc SUBSEP s)
                PPC[sc, s] = pc
                if (pc != "") { PLO[sc, s] = lo["pcpu" SUBSEP sc SUBSEP s]; PHI[sc, s] = hi["pcpu" SUBSEP sc SUBSEP s] }
                printf "%-22s %-13s %7.0f (%5.0f-%5.0f) %6s %5.0f (%5.0f-%5.0f) %6s %9s %9s %8s\n",
                    sc, s, r, lo[kr], hi[kr], (pr == "") ? "-" : sprintf("%.3f", pr),
                    cp, lo[kc], hi[kc], (pc == "") ? "-" : sprintf("%.3f", pc), ratio(cp, C0[s]),
                    (c[s, w2, "instr_per_rt"] == "") ? "-" : c[s, w2, "instr_per_rt"],
                    (c[s, w2, "syscalls_per_rt"] == "") ? "-" : c[s, w2, "syscalls_per_rt"]
            }
        }
        print "   (instr/rt and sys/rt: the counter windows at N=100 S=64 with no idle connection)"
        xp = "xpoll-poll"
        print ""
        print "== xpoll poll(2) target: CPU per round trip no more than " pref "'"'"'s (paired)"
        for (i = 1; i <= npsc; i++) {
            sc = pscen[i]
            if (PPC[sc, xp] == "") continue
            printf "  %-22s %.3fx (rounds %.3f-%.3f)  %s\n", sc, PPC[sc, xp], PLO[sc, xp], PHI[sc, xp],
                (PPC[sc, xp] <= 1.0) ? "MET" : "MISSED"
        }
    }
    if (ntsc > 0) {
        print ""
        print "== Idle timeouts: " tsrv " (the xpoll entrant with an xpoll_timer per connection, set again on"
        print "   every read that returns data, never firing) against " tref " (the same server without);"
        print "   medians (min-max) of " cnt["pcpu" SUBSEP tscen[1] SUBSEP tsrv] " rounds; " tref " ran before and after " tsrv
        print "   paired: median over rounds of (run / mean of the " tref " runs just before and after it)"
        printf "%-22s %-13s %21s %6s %19s %6s %5s %8s %8s\n", "scenario", "server",
            "rt/s (min-max)", "paired", "CPU/rt ns (min-max)", "paired", "util", "p50 us", "p99 us"
        for (i = 1; i <= ntsc; i++) {
            sc = tscen[i]
            for (k = 1; k <= 2; k++) {
                s = (k == 1) ? tref : tsrv
                kr = "rtps" SUBSEP sc SUBSEP s; kc = "cpu" SUBSEP sc SUBSEP s
                r = median(kr); cp = median(kc)
                if (r == "") continue
                pr = (s == tref) ? "" : median("prt" SUBSEP sc SUBSEP s)
                pc = (s == tref) ? "" : median("pcpu" SUBSEP sc SUBSEP s)
                if (pc != "") { TPC[sc] = pc; TLO[sc] = lo["pcpu" SUBSEP sc SUBSEP s]; THI[sc] = hi["pcpu" SUBSEP sc SUBSEP s] }
                printf "%-22s %-13s %7.0f (%5.0f-%5.0f) %6s %5.0f (%5.0f-%5.0f) %6s %5.2f %8.1f %8.1f\n",
                    sc, s, r, lo[kr], hi[kr], (pr == "") ? "-" : sprintf("%.3f", pr),
                    cp, lo[kc], hi[kc], (pc == "") ? "-" : sprintf("%.3f", pc),
                    median("util" SUBSEP sc SUBSEP s),
                    median("p50" SUBSEP sc SUBSEP s), median("p99" SUBSEP sc SUBSEP s)
            }
        }
        print ""
        print "== xpoll timers target: CPU per round trip with idle timeouts within 1.05x of without (paired)"
        for (i = 1; i <= ntsc; i++) {
            sc = tscen[i]
            if (TPC[sc] == "") continue
            printf "  %-22s %.3fx (rounds %.3f-%.3f)  %s\n", sc, TPC[sc], TLO[sc], THI[sc],
                (TPC[sc] <= 1.05) ? "MET" : "MISSED"
        }
    }
    if (errs > 0) printf "  WARNING: %d connection errors in the rounds\n", errs
}
' file=1 "$OUT/rounds.tsv" file=2 "$OUT/counters.tsv" file=3 "$POLL_ROUNDS" \
    file=4 "$TO_ROUNDS"

if [[ -n $POLL_SERVERS && -f $OUT/idle_poll.txt ]]; then
    echo
    echo "== Idle scaling on poll(2), one loop iteration (bench/idle_poll)"
    grep -v '^idle_poll_' "$OUT/idle_poll.txt"
fi

if [[ -f $OUT/micro.txt ]]; then
    echo
    echo "== Micro-benchmarks (bench/micro)"
    grep -v '^micro_' "$OUT/micro.txt"
    ratio=$(sed -n 's/.*micro_idle_ratio_xpoll=\([0-9.]*\).*/\1/p' "$OUT/micro.txt")
    regb=$(sed -n 's/.*micro_reg_bytes=\([0-9]*\).*/\1/p' "$OUT/micro.txt")
    if [[ -n $ratio ]]; then
        bratio=$(sed -n 's/.*micro_idle_ratio_bare=\([0-9.]*\).*/\1/p' "$OUT/micro.txt")
        awk -v r="$ratio" -v b="$bratio" 'BEGIN { printf "  xpoll target: wait with 10000 idle no more than 2%% above 10 idle: %.3f (bare epoll: %.3f)  %s\n", r, b, (r <= 1.02) ? "MET" : "MISSED" }'
    fi
    if [[ -n $regb ]]; then
        awk -v b="$regb" 'BEGIN { printf "  xpoll target: zero per-registration heap bytes: %d bytes for 10000  %s\n", b, b == 0 ? "MET" : "MISSED" }'
    fi
fi
