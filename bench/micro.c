/*
 * micro - xpoll's per-call costs beside the bare system calls it wraps.
 *
 *   micro [-r REPS] [-q]      (-q: fewer iterations, for QUICK runs)
 *
 * Each benchmark runs REPS times (default 7), xpoll and bare alternating
 * rep by rep so machine drift hits both; the table shows the median
 * ns/op with min-max and the ratio of the medians.
 *
 *  wait0      xpoll_wait(timeout 0) with nothing ready
 *             vs epoll_wait(timeout 0)
 *  regdereg   xpoll_register + xpoll_deregister of a socket
 *             vs epoll_ctl ADD + DEL (same flags: IN|RDHUP|ET)
 *  waker      a round trip between two threads pinned to different CPUs,
 *             each blocked in xpoll_wait and woken through the other's
 *             xpoll_waker, vs the same with an edge-triggered eventfd in a
 *             bare epoll (xpoll's mechanism, hand-written); a blocking
 *             read()/write() eventfd ping-pong is shown as the floor
 *  idleN      one xpoll_wait returning 10 ready sockets while N = 10, 1000,
 *             10000 idle sockets are registered; the wait alone is timed
 *             (the writes that make the 10 ready and the reads that drain
 *             them are not; per rep, the interquartile mean of the calls);
 *             the cost must not grow with N
 *
 * Under bench/alloc_shim.so (LD_PRELOAD) it also counts the heap
 * allocations of 10000 registrations and of the timed waits: both must be
 * 0.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <xpoll.h>

/* From alloc_shim.so when it is preloaded; NULL otherwise. */
extern void xpoll_bench_alloc_start(void) __attribute__((weak));
extern void xpoll_bench_alloc_stop(unsigned long *, unsigned long *,
                                   unsigned long *) __attribute__((weak));

#define MAX_REPS 31
#define EVCAP    1024

static int reps = 7;
static int quick;

static int64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static void check(int err, const char *what)
{
    if (err < 0) {
        fprintf(stderr, "micro: %s: %s\n", what,
                strerror(err < -1 ? -err : errno));
        exit(1);
    }
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

struct stat3 {
    double med, min, max;
};

static struct stat3 summarize(double *v, int n)
{
    qsort(v, (size_t)n, sizeof *v, cmp_double);
    struct stat3 s = {v[n / 2], v[0], v[n - 1]};
    if (n % 2 == 0)
        s.med = (v[n / 2 - 1] + v[n / 2]) / 2;
    return s;
}

static void row(const char *name, struct stat3 x, struct stat3 b)
{
    printf("%-36s %9.1f (%7.1f-%7.1f) %9.1f (%7.1f-%7.1f) %7.3f\n", name, x.med,
           x.min, x.max, b.med, b.min, b.max, x.med / b.med);
}

static void pin(int cpu)
{
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(cpu % CPU_SETSIZE, &set);
    pthread_setaffinity_np(pthread_self(), sizeof set, &set);
}

/* ---- wait with nothing ready ------------------------------------------ */

static double wait0_xpoll(xpoll *p, xpoll_events *ev, long iters)
{
    int64_t t0 = now_ns();
    for (long i = 0; i < iters; i++)
        if (xpoll_wait(p, ev, 0) != 0)
            abort();
    return (double)(now_ns() - t0) / (double)iters;
}

static double wait0_bare(int epfd, struct epoll_event *evs, long iters)
{
    int64_t t0 = now_ns();
    for (long i = 0; i < iters; i++)
        if (epoll_wait(epfd, evs, EVCAP, 0) != 0)
            abort();
    return (double)(now_ns() - t0) / (double)iters;
}

/* ---- register + deregister -------------------------------------------- */

static double reg_xpoll(xpoll *p, int fd, long iters)
{
    int64_t t0 = now_ns();
    for (long i = 0; i < iters; i++) {
        if (xpoll_register(p, fd, (xpoll_token)i, XPOLL_READABLE) < 0 ||
            xpoll_deregister(p, fd) < 0)
            abort();
    }
    return (double)(now_ns() - t0) / (double)iters;
}

static double reg_bare(int epfd, int fd, long iters)
{
    int64_t t0 = now_ns();
    for (long i = 0; i < iters; i++) {
        struct epoll_event e = {.events = EPOLLIN | EPOLLRDHUP | EPOLLET,
                                .data.u64 = (uint64_t)i};
        if (epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &e) < 0 ||
            epoll_ctl(epfd, EPOLL_CTL_DEL, fd, &e) < 0)
            abort();
    }
    return (double)(now_ns() - t0) / (double)iters;
}

/* ---- waker round trip -------------------------------------------------- */

enum { MODE_XPOLL, MODE_BARE, MODE_BLOCKING };

struct side {
    int mode;
    long iters;
    int cpu;
    xpoll *poll;
    xpoll_events *events;
    xpoll_waker *waker; /* wakes this side */
    int efd, epfd;      /* bare: this side's eventfd and epoll */
    struct side *peer;
};

static void side_wait(struct side *s)
{
    struct epoll_event e;
    uint64_t v;
    switch (s->mode) {
    case MODE_XPOLL:
        while (xpoll_wait(s->poll, s->events, -1) != 1)
            ;
        break;
    case MODE_BARE:
        while (epoll_wait(s->epfd, &e, 1, -1) != 1)
            ;
        break;
    default:
        while (read(s->efd, &v, sizeof v) != sizeof v)
            ;
    }
}

static void side_wake(struct side *s)
{
    uint64_t one = 1;
    if (s->mode == MODE_XPOLL) {
        if (xpoll_waker_wake(s->waker) < 0)
            abort();
    } else if (write(s->efd, &one, sizeof one) != sizeof one) {
        abort();
    }
}

static void *responder(void *arg)
{
    struct side *s = arg;
    pin(s->cpu);
    for (long i = 0; i < s->iters; i++) {
        side_wait(s);
        side_wake(s->peer);
    }
    return NULL;
}

static void side_init(struct side *s, int mode, long iters, int cpu)
{
    memset(s, 0, sizeof *s);
    s->mode = mode;
    s->iters = iters;
    s->cpu = cpu;
    s->efd = s->epfd = -1;
    if (mode == MODE_XPOLL) {
        check(xpoll_new(&s->poll), "xpoll_new");
        check(xpoll_events_new(&s->events, 16), "xpoll_events_new");
        check(xpoll_waker_new(s->poll, 7, &s->waker), "xpoll_waker_new");
    } else if (mode == MODE_BARE) {
        s->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
        s->epfd = epoll_create1(EPOLL_CLOEXEC);
        struct epoll_event e = {.events = EPOLLIN | EPOLLET, .data.u64 = 7};
        check(s->efd < 0 || s->epfd < 0 ? -1 : 0, "eventfd/epoll");
        check(epoll_ctl(s->epfd, EPOLL_CTL_ADD, s->efd, &e), "epoll_ctl");
    } else {
        s->efd = eventfd(0, EFD_CLOEXEC); /* blocking */
        check(s->efd, "eventfd");
    }
}

static void side_free(struct side *s)
{
    xpoll_waker_free(s->waker);
    xpoll_events_free(s->events);
    xpoll_free(s->poll);
    if (s->efd >= 0)
        close(s->efd);
    if (s->epfd >= 0)
        close(s->epfd);
}

static double waker_rt(int mode, long iters)
{
    struct side a, b;
    side_init(&a, mode, iters, 0);
    side_init(&b, mode, iters, 1);
    a.peer = &b;
    b.peer = &a;
    pthread_t th;
    if (pthread_create(&th, NULL, responder, &b) != 0)
        abort();
    pin(0);
    int64_t t0 = now_ns();
    for (long i = 0; i < iters; i++) {
        side_wake(&b);
        side_wait(&a);
    }
    double r = (double)(now_ns() - t0) / (double)iters;
    pthread_join(th, NULL);
    side_free(&a);
    side_free(&b);
    return r;
}

/* ---- wait cost against idle registrations ------------------------------ */

#define ACTIVE 10

/* One set of sockets registered in both an xpoll and a bare epoll, so the
 * two are timed on the very same descriptors. */
struct idle_set {
    int n_idle;
    int *idle;          /* unbound AF_UNIX datagram sockets: never ready */
    int act[ACTIVE][2]; /* socketpairs: [0] registered, [1] written */
    xpoll *poll;
    xpoll_events *events;
    int epfd;
    struct epoll_event evs[EVCAP];
};

static void idle_init(struct idle_set *s, int n_idle, unsigned long *reg_allocs,
                      unsigned long *reg_bytes)
{
    memset(s, 0, sizeof *s);
    s->n_idle = n_idle;
    s->idle = malloc(sizeof(int) * (size_t)n_idle);
    check(xpoll_new(&s->poll), "xpoll_new");
    check(xpoll_events_new(&s->events, EVCAP), "xpoll_events_new");
    s->epfd = epoll_create1(EPOLL_CLOEXEC);
    check(s->epfd, "epoll_create1");
    for (int i = 0; i < n_idle; i++) {
        s->idle[i] =
            socket(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        check(s->idle[i], "socket (raise RLIMIT_NOFILE?)");
    }
    for (int i = 0; i < ACTIVE; i++)
        check(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0,
                         s->act[i]),
              "socketpair");
    unsigned long a = 0, b = 0, f = 0;
    if (xpoll_bench_alloc_start != NULL)
        xpoll_bench_alloc_start();
    for (int i = 0; i < n_idle; i++)
        check(xpoll_register(s->poll, s->idle[i], (xpoll_token)(1000 + i),
                             XPOLL_READABLE),
              "xpoll_register");
    if (xpoll_bench_alloc_stop != NULL) {
        xpoll_bench_alloc_stop(&a, &b, &f);
        if (reg_allocs != NULL) {
            *reg_allocs = a;
            *reg_bytes = b;
        }
    }
    for (int i = 0; i < n_idle; i++) {
        struct epoll_event e = {.events = EPOLLIN | EPOLLRDHUP | EPOLLET,
                                .data.u64 = (uint64_t)(1000 + i)};
        check(epoll_ctl(s->epfd, EPOLL_CTL_ADD, s->idle[i], &e), "epoll_ctl");
    }
    for (int i = 0; i < ACTIVE; i++) {
        struct epoll_event e = {.events = EPOLLIN | EPOLLRDHUP | EPOLLET,
                                .data.u64 = (uint64_t)i};
        check(xpoll_register(s->poll, s->act[i][0], (xpoll_token)i,
                             XPOLL_READABLE),
              "xpoll_register");
        check(epoll_ctl(s->epfd, EPOLL_CTL_ADD, s->act[i][0], &e), "epoll_ctl");
    }
}

static void idle_free(struct idle_set *s)
{
    for (int i = 0; i < s->n_idle; i++) {
        xpoll_deregister(s->poll, s->idle[i]);
        close(s->idle[i]);
    }
    for (int i = 0; i < ACTIVE; i++) {
        close(s->act[i][0]);
        close(s->act[i][1]);
    }
    free(s->idle);
    xpoll_events_free(s->events);
    xpoll_free(s->poll);
    close(s->epfd);
}

/* Times `iters` waits into samples[].  The sockets are registered in both
 * pollers: the one not being timed keeps its (edge-triggered) events
 * queued, which costs it nothing. */
static void idle_loop(struct idle_set *s, int use_xpoll, long iters,
                      double *samples)
{
    char byte = 'x', sink[16];
    for (long i = 0; i < iters; i++) {
        for (int k = 0; k < ACTIVE; k++)
            if (write(s->act[k][1], &byte, 1) != 1)
                abort();
        int64_t t0 = now_ns();
        int n = use_xpoll ? xpoll_wait(s->poll, s->events, 0)
                          : epoll_wait(s->epfd, s->evs, EVCAP, 0);
        int64_t t1 = now_ns();
        if (n != ACTIVE)
            abort();
        samples[i] = (double)(t1 - t0);
        for (int k = 0; k < ACTIVE; k++)
            if (read(s->act[k][0], sink, sizeof sink) != 1)
                abort();
    }
}

/* The interquartile mean of the per-call times: robust to the odd
 * interrupt, and finer than the clock's granularity (a median of single
 * calls would be quantized to it). */
static double idle_run(struct idle_set *s, int use_xpoll, long iters,
                       double *samples)
{
    idle_loop(s, use_xpoll, iters, samples);
    qsort(samples, (size_t)iters, sizeof *samples, cmp_double);
    double sum = 0;
    long lo = iters / 4, hi = iters - iters / 4;
    for (long i = lo; i < hi; i++)
        sum += samples[i];
    return sum / (double)(hi - lo);
}

int main(int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "-q") == 0) {
            quick = 1;
        } else if (strcmp(argv[i], "-r") == 0 && i + 1 < argc) {
            reps = atoi(argv[++i]);
        } else {
            fprintf(stderr, "usage: micro [-r REPS] [-q]\n");
            return 2;
        }
    }
    if (reps < 1 || reps > MAX_REPS)
        reps = 7;
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }

    double xs[MAX_REPS], bs[MAX_REPS];
    long k = quick ? 4 : 1; /* iteration divisor */

    printf("micro-benchmarks: median of %d reps (min-max), ns per operation\n",
           reps);
    printf("%-36s %29s %29s %7s\n", "", "xpoll", "bare system call", "ratio");

    /* wait0 */
    {
        xpoll *p;
        xpoll_events *ev;
        check(xpoll_new(&p), "xpoll_new");
        check(xpoll_events_new(&ev, EVCAP), "xpoll_events_new");
        int epfd = epoll_create1(EPOLL_CLOEXEC);
        static struct epoll_event evs[EVCAP];
        long iters = 400000 / k;
        wait0_xpoll(p, ev, iters / 10);
        wait0_bare(epfd, evs, iters / 10);
        for (int r = 0; r < reps; r++) {
            xs[r] = wait0_xpoll(p, ev, iters);
            bs[r] = wait0_bare(epfd, evs, iters);
        }
        row("wait, nothing ready (timeout 0)", summarize(xs, reps),
            summarize(bs, reps));
        xpoll_events_free(ev);
        xpoll_free(p);
        close(epfd);
    }

    /* regdereg */
    {
        xpoll *p;
        check(xpoll_new(&p), "xpoll_new");
        int epfd = epoll_create1(EPOLL_CLOEXEC);
        int sp[2];
        check(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sp),
              "socketpair");
        long iters = 200000 / k;
        reg_xpoll(p, sp[0], iters / 10);
        reg_bare(epfd, sp[0], iters / 10);
        for (int r = 0; r < reps; r++) {
            xs[r] = reg_xpoll(p, sp[0], iters);
            bs[r] = reg_bare(epfd, sp[0], iters);
        }
        row("register + deregister pair", summarize(xs, reps),
            summarize(bs, reps));
        close(sp[0]);
        close(sp[1]);
        close(epfd);
        xpoll_free(p);
    }

    /* waker */
    {
        long iters = 20000 / k;
        double fl[MAX_REPS];
        waker_rt(MODE_XPOLL, iters / 10);
        waker_rt(MODE_BARE, iters / 10);
        for (int r = 0; r < reps; r++) {
            xs[r] = waker_rt(MODE_XPOLL, iters);
            bs[r] = waker_rt(MODE_BARE, iters);
            fl[r] = waker_rt(MODE_BLOCKING, iters);
        }
        row("waker round trip, 2 threads", summarize(xs, reps),
            summarize(bs, reps));
        struct stat3 f = summarize(fl, reps);
        printf("%-36s %29s %9.1f (%7.1f-%7.1f)\n",
               "  (floor: blocking eventfd read/write)", "", f.med, f.min,
               f.max);
    }

    /* idle scaling */
    {
        static const int sizes[] = {10, 1000, 10000};
        long iters = 20000 / k;
        double *samples = malloc(sizeof(double) * (size_t)iters);
        struct stat3 xr[3], br[3];
        unsigned long reg_allocs = 0, reg_bytes = 0;
        /* All three sets exist at once and the reps go round them, so
         * drift over the run hits every size alike. */
        static struct idle_set sets[3];
        double xsz[3][MAX_REPS], bsz[3][MAX_REPS];
        for (int si = 0; si < 3; si++)
            idle_init(&sets[si], sizes[si],
                      sizes[si] == 10000 ? &reg_allocs : NULL, &reg_bytes);
        for (int si = 0; si < 3; si++) {
            idle_run(&sets[si], 1, iters / 10, samples);
            idle_run(&sets[si], 0, iters / 10, samples);
        }
        for (int r = 0; r < reps; r++) {
            for (int si = 0; si < 3; si++) {
                xsz[si][r] = idle_run(&sets[si], 1, iters, samples);
                bsz[si][r] = idle_run(&sets[si], 0, iters, samples);
            }
        }
        for (int si = 0; si < 3; si++) {
            xr[si] = summarize(xsz[si], reps);
            br[si] = summarize(bsz[si], reps);
            char name[64];
            snprintf(name, sizeof name, "wait, 10 ready + %d idle", sizes[si]);
            row(name, xr[si], br[si]);
            idle_free(&sets[si]);
        }
        printf("%-36s %9.3f %19s %9.3f\n", "idle scaling: wait(10000)/wait(10)",
               xr[2].med / xr[0].med, "", br[2].med / br[0].med);

        /* Heap use, when the allocation shim is preloaded. */
        if (xpoll_bench_alloc_start != NULL) {
            struct idle_set s;
            idle_init(&s, 10, NULL, NULL);
            unsigned long a, b, f;
            xpoll_bench_alloc_start();
            idle_loop(&s, 1, iters / 4, samples);
            xpoll_bench_alloc_stop(&a, &b, &f);
            idle_free(&s);
            printf(
                "heap: 10000 xpoll_register calls: %lu allocations, %lu bytes; "
                "%ld xpoll_wait calls: %lu allocations\n",
                reg_allocs, reg_bytes, iters / 4, a);
            printf("micro_reg_allocs=%lu micro_reg_bytes=%lu "
                   "micro_wait_allocs=%lu\n",
                   reg_allocs, reg_bytes, a);
        } else {
            printf("heap: not measured (run under LD_PRELOAD=alloc_shim.so)\n");
        }
        printf("micro_idle_ratio_xpoll=%.4f micro_idle_ratio_bare=%.4f\n",
               xr[2].med / xr[0].med, br[2].med / br[0].med);
        free(samples);
    }
    return 0;
}
