/*
 * loadgen - a ping-pong load generator for TCP echo servers.
 *
 *   loadgen -p PORT [-H HOST] [-c CONNS] [-s SIZE] [-d SECONDS | -n COUNT]
 *           [-i IDLE] [-w WARMUP_SECONDS] [-P SERVER_PID]
 *           [--hook-start CMD] [--hook-end CMD] [-q]
 *
 * CONNS connections each keep one SIZE-byte message in flight: send it,
 * wait for every byte to come back, send the next.  IDLE more connections
 * are opened, exchange one message each (so the server has really served
 * them) and then stay silent while the others run.
 *
 * Phases: connect (at most 256 handshakes at a time, each connection does
 * one round trip) -> warm-up -> quiesce -> [hook-start] -> measured window
 * -> quiesce -> [hook-end] -> report.  Both window edges are quiescent (no
 * message in flight), so a hook that attaches a tracer, zeroes a profiler
 * or toggles an allocation counter brackets exactly the round trips that
 * are counted: with -n the window holds exactly COUNT round trips.
 *
 * With -P the server's CPU time over the window (sum of
 * /proc/PID/task/'*'/schedstat, nanoseconds) and its VmRSS before the
 * first connection and at the end of the window are reported.
 *
 * The last line of output is machine-readable: key=value pairs.  Exit
 * status: 0, 1 on any connection error or mismatch, 2 on usage errors, 3
 * if the run stalled (no progress for 10 s) or a hook failed.
 *
 * Single-threaded, level-triggered epoll, no allocation after setup.
 * Every buffer is bounded by SIZE; every phase by a deadline.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAX_EVENTS     1024
#define MAX_CONNECTING 256
#define STALL_NS       (10 * 1000000000LL)
#define SETUP_NS       (60 * 1000000000LL)

enum state { C_CLOSED, C_CONNECTING, C_SENDING, C_RECEIVING, C_DORMANT };

struct conn {
    int fd;
    enum state state;
    bool idle;     /* an idle connection: one round trip during setup only */
    bool want_out; /* EPOLLOUT registered */
    uint32_t off;  /* bytes sent (C_SENDING) or received (C_RECEIVING) */
    uint64_t seq;  /* message number: stamped into the first 8 bytes */
    int64_t t0;    /* when the message's first byte was sent */
};

enum phase {
    P_SETUP,
    P_WARMUP,
    P_DRAIN_WARMUP,
    P_MEASURE,
    P_DRAIN_MEASURE,
    P_DONE
};

/* A log-linear latency histogram: 32 sub-buckets per power of two (about
 * 3 % resolution), fixed size, no allocation. */
#define SUB_BITS     5
#define SUB          (1u << SUB_BITS)
#define HIST_BUCKETS ((64 - SUB_BITS) * SUB + SUB)

static uint64_t hist[HIST_BUCKETS];

static unsigned hist_index(uint64_t v)
{
    if (v < SUB)
        return (unsigned)v;
    unsigned msb = 63u - (unsigned)__builtin_clzll(v);
    unsigned shift = msb - SUB_BITS;
    return (shift + 1) * SUB + (unsigned)((v >> shift) & (SUB - 1));
}

/* The upper edge of bucket i (a conservative percentile). */
static uint64_t hist_value(unsigned i)
{
    if (i < SUB)
        return i;
    unsigned shift = i / SUB - 1;
    uint64_t mant = (uint64_t)(i % SUB) | SUB;
    return ((mant + 1) << shift) - 1;
}

static uint64_t hist_percentile(uint64_t total, double q)
{
    if (total == 0)
        return 0;
    uint64_t rank = (uint64_t)(q * (double)total);
    if (rank >= total)
        rank = total - 1;
    uint64_t seen = 0;
    for (unsigned i = 0; i < HIST_BUCKETS; i++) {
        seen += hist[i];
        if (seen > rank)
            return hist_value(i);
    }
    return hist_value(HIST_BUCKETS - 1);
}

static struct {
    const char *host;
    int port;
    int conns, idle;
    uint32_t size;
    double duration, warmup;
    uint64_t count;
    int server_pid;
    const char *hook_start, *hook_end;
    bool quiet;
} opt = {.host = "127.0.0.1",
         .conns = 1,
         .size = 64,
         .duration = 5.0,
         .warmup = 0.5,
         .server_pid = -1};

static struct conn *conns;
static int total_conns;
static int epfd;
static unsigned char *sendbuf, *recvbuf;
static enum phase phase;
static int64_t phase_start, last_progress, measure_start, measure_end;
static uint64_t issued, completed, errors, mismatches;
static int in_flight; /* active messages of non-idle connections */
static int next_open, connecting, setup_done;

static int64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static int64_t cpu_ns(clockid_t clk)
{
    struct timespec ts;
    clock_gettime(clk, &ts);
    return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

/* The server's CPU time: the sum of every thread's schedstat run time. */
static int64_t server_cpu_ns(void)
{
    char path[64];
    if (opt.server_pid <= 0)
        return -1;
    snprintf(path, sizeof path, "/proc/%d/task", opt.server_pid);
    DIR *d = opendir(path);
    if (d == NULL)
        return -1;
    int64_t sum = 0;
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        if (de->d_name[0] == '.')
            continue;
        char p[300];
        snprintf(p, sizeof p, "/proc/%d/task/%s/schedstat", opt.server_pid,
                 de->d_name);
        FILE *f = fopen(p, "r");
        if (f == NULL)
            continue;
        long long run = 0;
        if (fscanf(f, "%lld", &run) == 1)
            sum += run;
        fclose(f);
    }
    closedir(d);
    return sum;
}

static long server_rss_kb(void)
{
    char path[64], line[256];
    if (opt.server_pid <= 0)
        return -1;
    snprintf(path, sizeof path, "/proc/%d/status", opt.server_pid);
    FILE *f = fopen(path, "r");
    if (f == NULL)
        return -1;
    long kb = -1;
    while (fgets(line, sizeof line, f) != NULL) {
        if (strncmp(line, "VmRSS:", 6) == 0) {
            kb = strtol(line + 6, NULL, 10);
            break;
        }
    }
    fclose(f);
    return kb;
}

static void die(const char *what)
{
    fprintf(stderr, "loadgen: %s: %s\n", what, strerror(errno));
    exit(3);
}

static void set_out(struct conn *c, bool on)
{
    if (c->want_out == on)
        return;
    struct epoll_event ev = {.events = EPOLLIN | (on ? EPOLLOUT : 0),
                             .data.u32 = (uint32_t)(c - conns)};
    if (epoll_ctl(epfd, EPOLL_CTL_MOD, c->fd, &ev) < 0)
        die("epoll_ctl MOD");
    c->want_out = on;
}

static void conn_fail(struct conn *c, const char *why, int err)
{
    if (errors < 10)
        fprintf(stderr, "loadgen: connection %d: %s%s%s\n", (int)(c - conns),
                why, err ? ": " : "", err ? strerror(err) : "");
    errors++;
    if (c->state == C_CONNECTING)
        connecting--;
    if (!c->idle && (c->state == C_SENDING || c->state == C_RECEIVING) &&
        phase != P_SETUP)
        in_flight--;
    if (c->state == C_CONNECTING || c->state == C_SENDING ||
        c->state == C_RECEIVING) {
        if (phase == P_SETUP)
            setup_done++; /* counted as finished (failed) */
    }
    epoll_ctl(epfd, EPOLL_CTL_DEL, c->fd, NULL);
    close(c->fd);
    c->fd = -1;
    c->state = C_CLOSED;
}

/* Write what remains of the current message. */
static void conn_send(struct conn *c)
{
    uint32_t stamp_len = opt.size < 8 ? opt.size : 8;
    while (c->off < opt.size) {
        /* The shared send buffer carries this connection's stamp. */
        memcpy(sendbuf, &c->seq, stamp_len);
        ssize_t n =
            send(c->fd, sendbuf + c->off, opt.size - c->off, MSG_NOSIGNAL);
        if (n > 0) {
            c->off += (uint32_t)n;
        } else if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            set_out(c, true);
            return;
        } else if (n < 0 && errno == EINTR) {
            continue;
        } else {
            conn_fail(c, "send", n < 0 ? errno : 0);
            return;
        }
    }
    set_out(c, false);
    c->state = C_RECEIVING;
    c->off = 0;
}

static void conn_start(struct conn *c, int64_t t)
{
    c->seq++;
    c->off = 0;
    c->t0 = t;
    c->state = C_SENDING;
    if (!c->idle && phase != P_SETUP) {
        in_flight++;
        issued++;
    }
    conn_send(c);
}

static bool may_issue(void)
{
    if (phase == P_WARMUP)
        return true;
    if (phase == P_MEASURE)
        return opt.count == 0 || issued < opt.count;
    return false;
}

static void conn_done(struct conn *c, int64_t t)
{
    last_progress = t;
    if (phase == P_SETUP || c->idle) {
        c->state = C_DORMANT;
        setup_done++;
        return;
    }
    in_flight--;
    if (phase == P_MEASURE || phase == P_DRAIN_MEASURE) {
        completed++;
        hist[hist_index((uint64_t)(t - c->t0))]++;
    }
    if (may_issue())
        conn_start(c, t);
    else
        c->state = C_DORMANT;
}

static void conn_recv(struct conn *c, int64_t t)
{
    uint32_t want = opt.size - c->off;
    ssize_t n = read(c->fd, recvbuf, want);
    if (n < 0) {
        if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
            return;
        conn_fail(c, "read", errno);
        return;
    }
    if (n == 0) {
        conn_fail(c, "server closed the connection", 0);
        return;
    }
    /* Check the stamp bytes this read covers. */
    const unsigned char *stamp = (const unsigned char *)&c->seq;
    for (uint32_t i = c->off; i < 8 && i < opt.size && i < c->off + (uint32_t)n;
         i++) {
        if (recvbuf[i - c->off] != stamp[i]) {
            mismatches++;
            conn_fail(c, "echo mismatch", 0);
            return;
        }
    }
    c->off += (uint32_t)n;
    if (c->off == opt.size)
        conn_done(c, t);
}

static void conn_connected(struct conn *c, int64_t t)
{
    int err = 0;
    socklen_t len = sizeof err;
    if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0)
        err = errno;
    if (err != 0) {
        conn_fail(c, "connect", err);
        return;
    }
    connecting--;
    int one = 1;
    setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    conn_start(c, t); /* the setup round trip */
}

static struct sockaddr_in server_addr;

static void open_more(int64_t t)
{
    while (connecting < MAX_CONNECTING && next_open < total_conns) {
        struct conn *c = &conns[next_open];
        c->idle = next_open >= opt.conns;
        next_open++;
        int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (fd < 0)
            die("socket");
        c->fd = fd;
        c->state = C_CONNECTING;
        connecting++;
        struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT,
                                 .data.u32 = (uint32_t)(c - conns)};
        c->want_out = true;
        if (epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev) < 0)
            die("epoll_ctl ADD");
        if (connect(fd, (struct sockaddr *)&server_addr, sizeof server_addr) ==
            0) {
            conn_connected(c, t);
        } else if (errno != EINPROGRESS) {
            conn_fail(c, "connect", errno);
        }
    }
}

static void run_hook(const char *cmd, const char *which)
{
    if (cmd == NULL || cmd[0] == '\0')
        return;
    fflush(stdout);
    int st = system(cmd);
    if (st != 0) {
        fprintf(stderr, "loadgen: %s hook failed (status %d): %s\n", which, st,
                cmd);
        exit(3);
    }
}

static void kick_all(int64_t t)
{
    for (int i = 0; i < opt.conns; i++) {
        if (conns[i].state == C_DORMANT && may_issue())
            conn_start(&conns[i], t);
    }
}

/* Move to the next phase when this one is over; returns an exit status to
 * stop with, or -1 to go on. */
static int64_t cpu0, srv_cpu0, cpu1, srv_cpu1;
static long rss_after = -1;

static int advance(int64_t *tp)
{
    int64_t t = *tp;
    switch (phase) {
    case P_SETUP:
        open_more(t);
        if (setup_done >= total_conns) {
            if (errors > 0) {
                fprintf(stderr,
                        "loadgen: %" PRIu64
                        " connections failed during setup\n",
                        errors);
                return 1;
            }
            phase = P_WARMUP;
            phase_start = t;
            last_progress = t;
            kick_all(t);
        } else if (t - phase_start > SETUP_NS) {
            fprintf(stderr,
                    "loadgen: setup did not finish in 60 s (%d of %d)\n",
                    setup_done, total_conns);
            return 3;
        }
        break;
    case P_WARMUP:
        if (t - phase_start >= (int64_t)(opt.warmup * 1e9))
            phase = P_DRAIN_WARMUP;
        break;
    case P_DRAIN_WARMUP:
        if (in_flight == 0) {
            run_hook(opt.hook_start, "start");
            srv_cpu0 = server_cpu_ns();
            cpu0 = cpu_ns(CLOCK_PROCESS_CPUTIME_ID);
            issued = 0;
            t = *tp = now_ns();
            measure_start = t;
            phase = P_MEASURE;
            last_progress = t;
            kick_all(t);
        }
        break;
    case P_MEASURE:
        if ((opt.count == 0 &&
             t - measure_start >= (int64_t)(opt.duration * 1e9)) ||
            (opt.count != 0 && issued >= opt.count))
            phase = P_DRAIN_MEASURE;
        break;
    case P_DRAIN_MEASURE:
        if (in_flight == 0) {
            measure_end = t;
            cpu1 = cpu_ns(CLOCK_PROCESS_CPUTIME_ID);
            srv_cpu1 = server_cpu_ns();
            rss_after = server_rss_kb();
            run_hook(opt.hook_end, "end");
            phase = P_DONE;
        }
        break;
    case P_DONE:
        break;
    }
    return -1;
}

static void usage(void)
{
    fprintf(stderr,
            "usage: loadgen -p PORT [-H HOST] [-c CONNS] [-s SIZE] "
            "[-d SECONDS | -n COUNT] [-i IDLE] [-w WARMUP_S] [-P SERVER_PID]\n"
            "               [--hook-start CMD] [--hook-end CMD] [-q]\n");
    exit(2);
}

static void parse(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"hook-start", required_argument, NULL, 'A'},
        {"hook-end", required_argument, NULL, 'B'},
        {NULL, 0, NULL, 0},
    };
    int ch;
    while ((ch = getopt_long(argc, argv, "p:H:c:s:d:n:i:w:P:q", longopts,
                             NULL)) != -1) {
        switch (ch) {
        case 'p':
            opt.port = atoi(optarg);
            break;
        case 'H':
            opt.host = optarg;
            break;
        case 'c':
            opt.conns = atoi(optarg);
            break;
        case 's':
            opt.size = (uint32_t)strtoul(optarg, NULL, 10);
            break;
        case 'd':
            opt.duration = atof(optarg);
            break;
        case 'n':
            opt.count = strtoull(optarg, NULL, 10);
            break;
        case 'i':
            opt.idle = atoi(optarg);
            break;
        case 'w':
            opt.warmup = atof(optarg);
            break;
        case 'P':
            opt.server_pid = atoi(optarg);
            break;
        case 'A':
            opt.hook_start = optarg;
            break;
        case 'B':
            opt.hook_end = optarg;
            break;
        case 'q':
            opt.quiet = true;
            break;
        default:
            usage();
        }
    }
    if (opt.port <= 0 || opt.port > 65535 || opt.conns < 1 ||
        opt.conns > 100000 || opt.idle < 0 || opt.idle > 100000 ||
        opt.size < 1 || opt.size > 16u * 1024 * 1024 || opt.duration <= 0 ||
        opt.duration > 3600 || opt.warmup < 0 || opt.warmup > 600 ||
        optind != argc)
        usage();
}

int main(int argc, char **argv)
{
    parse(argc, argv);
    signal(SIGPIPE, SIG_IGN);

    total_conns = opt.conns + opt.idle;
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 &&
        rl.rlim_cur < (rlim_t)total_conns + 16) {
        fprintf(stderr,
                "loadgen: RLIMIT_NOFILE %lu is too low for %d connections\n",
                (unsigned long)rl.rlim_cur, total_conns);
        return 2;
    }

    memset(&server_addr, 0, sizeof server_addr);
    server_addr.sin_family = AF_INET;
    server_addr.sin_port = htons((uint16_t)opt.port);
    if (inet_pton(AF_INET, opt.host, &server_addr.sin_addr) != 1) {
        fprintf(stderr, "loadgen: bad IPv4 address %s\n", opt.host);
        return 2;
    }

    conns = calloc((size_t)total_conns, sizeof *conns);
    sendbuf = malloc(opt.size);
    recvbuf = malloc(opt.size);
    if (conns == NULL || sendbuf == NULL || recvbuf == NULL)
        die("malloc");
    for (uint32_t i = 0; i < opt.size; i++)
        sendbuf[i] = (unsigned char)('a' + i % 26);
    for (int i = 0; i < total_conns; i++)
        conns[i].fd = -1;
    epfd = epoll_create1(EPOLL_CLOEXEC);
    if (epfd < 0)
        die("epoll_create1");

    long rss_before = server_rss_kb();
    int64_t t = now_ns();
    phase = P_SETUP;
    phase_start = last_progress = t;
    open_more(t);

    struct epoll_event evs[MAX_EVENTS];

    while (phase != P_DONE) {
        int n = epoll_wait(epfd, evs, MAX_EVENTS, 100);
        if (n < 0 && errno != EINTR)
            die("epoll_wait");
        t = now_ns();
        for (int i = 0; i < n; i++) {
            struct conn *c = &conns[evs[i].data.u32];
            uint32_t e = evs[i].events;
            switch (c->state) {
            case C_CONNECTING:
                if (e & (EPOLLOUT | EPOLLERR | EPOLLHUP))
                    conn_connected(c, t);
                break;
            case C_SENDING:
                if (e & (EPOLLOUT | EPOLLERR | EPOLLHUP))
                    conn_send(c);
                break;
            case C_RECEIVING:
                if (e & (EPOLLIN | EPOLLERR | EPOLLHUP))
                    conn_recv(c, t);
                break;
            case C_DORMANT:
                /* Nothing is expected: only EOF or an error can come. */
                if (e & (EPOLLIN | EPOLLERR | EPOLLHUP))
                    conn_fail(
                        c, "unexpected data or close on an idle connection", 0);
                break;
            case C_CLOSED:
                break;
            }
        }
        if (n > 0)
            t = now_ns();

        enum phase before;
        do {
            before = phase;
            int rc = advance(&t);
            if (rc >= 0)
                return rc;
        } while (phase != before);
        if (phase != P_DONE && t - last_progress > STALL_NS &&
            phase != P_SETUP) {
            fprintf(stderr,
                    "loadgen: no progress for 10 s (phase %d, %d in flight)\n",
                    (int)phase, in_flight);
            return 3;
        }
        if (phase != P_SETUP && phase != P_DONE && in_flight == 0 &&
            (phase == P_WARMUP || phase == P_MEASURE) && opt.conns > 0) {
            /* Every active connection failed. */
            bool any = false;
            for (int i = 0; i < opt.conns && !any; i++)
                any = conns[i].state != C_CLOSED;
            if (!any) {
                fprintf(stderr, "loadgen: every active connection failed\n");
                return 1;
            }
        }
    }

    /* Close with RST (linger 0): no TIME_WAIT, so back-to-back runs do not
     * run out of ephemeral ports. */
    struct linger lg = {.l_onoff = 1, .l_linger = 0};
    for (int i = 0; i < total_conns; i++) {
        if (conns[i].fd >= 0) {
            setsockopt(conns[i].fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
            close(conns[i].fd);
        }
    }

    double secs = (double)(measure_end - measure_start) / 1e9;
    double rtps = secs > 0 ? (double)completed / secs : 0;
    double srv_cpu_rt = -1, srv_util = -1, lg_cpu_rt = -1;
    if (completed > 0 && srv_cpu0 >= 0 && srv_cpu1 >= 0) {
        srv_cpu_rt = (double)(srv_cpu1 - srv_cpu0) / (double)completed;
        srv_util = (double)(srv_cpu1 - srv_cpu0) /
                   (double)(measure_end - measure_start);
    }
    if (completed > 0)
        lg_cpu_rt = (double)(cpu1 - cpu0) / (double)completed;
    double rss_per_conn = -1;
    if (rss_before >= 0 && rss_after >= 0)
        rss_per_conn = (double)(rss_after - rss_before) * 1024.0 / total_conns;

    if (!opt.quiet)
        printf("%" PRIu64
               " round trips in %.3f s: %.0f rt/s, latency p50 %.1f us, "
               "p99 %.1f us, p99.9 %.1f us, %" PRIu64 " errors\n",
               completed, secs, rtps, hist_percentile(completed, 0.50) / 1e3,
               hist_percentile(completed, 0.99) / 1e3,
               hist_percentile(completed, 0.999) / 1e3, errors);
    printf("rt=%" PRIu64
           " secs=%.4f rtps=%.1f p50_us=%.2f p99_us=%.2f p999_us=%.2f "
           "errors=%" PRIu64 " conns=%d idle=%d size=%u srv_cpu_ns_rt=%.1f "
           "srv_util=%.3f lg_cpu_ns_rt=%.1f srv_rss_kb_before=%ld "
           "srv_rss_kb_after=%ld rss_b_per_conn=%.0f\n",
           completed, secs, rtps, hist_percentile(completed, 0.50) / 1e3,
           hist_percentile(completed, 0.99) / 1e3,
           hist_percentile(completed, 0.999) / 1e3, errors, opt.conns, opt.idle,
           opt.size, srv_cpu_rt, srv_util, lg_cpu_rt, rss_before, rss_after,
           rss_per_conn);
    free(conns);
    free(sendbuf);
    free(recvbuf);
    close(epfd);
    return errors > 0 ? 1 : 0;
}
