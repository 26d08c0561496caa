/*
 * idle_poll - idle scaling on poll(2): xpoll's poll backend beside libev's
 * and libevent's, with the three on epoll as reference points.
 *
 *   idle_poll [-r REPS] [-q]      (-q: fewer iterations, for QUICK runs)
 *
 * Linux only (the reference variants are epoll).  Six variants, each its
 * own loop:
 *
 *  xpoll poll      xpoll_new_with_backend(XPOLL_BACKEND_POLL)
 *  libev poll      ev_loop_new(EVBACKEND_POLL | EVFLAG_NOENV), checked
 *                  with ev_backend()
 *  libevent poll   every other method avoided (event_config_avoid_method)
 *                  and the environment ignored (EVENT_BASE_FLAG_IGNORE_ENV),
 *                  checked with event_base_get_method() == "poll"
 *  xpoll epoll, libev epoll, libevent epoll: the same with epoll
 *
 * Each line of the table is one variant at one N: N idle AF_UNIX stream
 * sockets (socketpairs, silent; their peers live in a helper process, so
 * 10,000 of them need 10,000 descriptors here, not 20,000) registered for
 * reading, then 10 active socketpairs registered the same way, in that
 * order in every library.  All variants register the very same idle
 * sockets; each loop has its own 10 active pairs, so a write wakes only
 * the loop being measured.  One measured iteration is:
 *
 *   write 1 byte to each of the 10 active peers,
 *   ONE iteration of the library's loop, which must deliver all 10, and
 *   the handling of each: a read of the byte
 *     xpoll:    xpoll_wait(timeout -1), then xpoll_read() per event, which
 *               follows the re-arm rule (re-arms READABLE after the short
 *               read on poll; no system call on epoll)
 *     libev:    ev_run(EVRUN_ONCE), an ev_io callback read()s
 *     libevent: event_base_loop(EVLOOP_ONCE), an EV_READ|EV_PERSIST
 *               callback read()s
 *
 * and it is timed whole (CLOCK_MONOTONIC, before the first write and after
 * the last read), identically for every variant: the writes and reads are
 * the same system calls everywhere, and the handling after the wait (the
 * re-arm, the callbacks) is part of what each library costs.  Every
 * iteration must read exactly 10 bytes and hear nothing from an idle
 * socket, or the program fails.
 *
 * Why xpoll waits with timeout -1: libev (ev_run with nothing pending
 * blocks for up to MAX_BLOCKTIME, 59.743 s) and libevent (no timers: a
 * NULL timeout) both ask poll(2) to block.  A poll() that may block adds
 * the caller to the wait queue of each descriptor it checks until it meets
 * the first ready one, and one with a zero timeout does not (Linux
 * fs/select.c do_poll: pt->_qproc is cleared for a zero timeout and after
 * the first ready descriptor).  With the 10 active sockets after the N idle
 * ones in every array, the three libraries pay that alike.
 *
 * Method: REPS reps (default 7); per rep, every variant at every N runs
 * its iterations back to back, the variants in a rotating order, so
 * machine drift hits all alike.  A rep's figure is the interquartile mean
 * of its per-iteration times (robust to the odd interrupt, finer than the
 * clock).  The table shows the median over reps with min-max, and the
 * ratio of that median to the same variant's at N = 0 (how it scales).
 * The second table compares xpoll's poll backend with libev's and
 * libevent's at each N: the median (min-max) over reps of the ratio of
 * the two figures of one rep; below 1 means xpoll is cheaper.
 *
 * Under bench/alloc_shim.so (LD_PRELOAD) it also counts the heap
 * allocations made during xpoll's measured iterations, on both backends:
 * each must be 0, or the program fails.
 *
 * libev.so also exports libevent's old API under the same names
 * (event_add, event_base_loop, ...), so libevent must come first in the
 * link; the program checks at start that those names resolve into
 * libevent.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <ev.h>
/* <event2/event.h> #defines EV_READ (0x02) and others with libevent's
 * values, which then hide libev's enumerators of the same names (libev's
 * EV_READ is 0x01): libev's is kept under another name first. */
enum { LIBEV_READ = EV_READ };

#include <event2/event.h>

#include <xpoll.h>

/* From alloc_shim.so when it is preloaded; NULL otherwise. */
extern void xpoll_bench_alloc_start(void) __attribute__((weak));
extern void xpoll_bench_alloc_stop(unsigned long *, unsigned long *,
                                   unsigned long *) __attribute__((weak));

#define MAX_REPS   31
#define ACTIVE     10
#define NVARIANTS  6
#define NSIZES     3
#define EVCAP      64
#define BATCH      200 /* descriptors per SCM_RIGHTS message (Linux: 253) */
#define WATCHDOG_S 60

static const int sizes[NSIZES] = {0, 1000, 10000};

enum lib { LIB_XPOLL, LIB_LIBEV, LIB_LIBEVENT };

struct variant {
    const char *name;
    enum lib lib;
    bool poll; /* poll(2), else epoll */
};

/* The poll variants first: the comparison table indexes them 0, 1, 2. */
static const struct variant variants[NVARIANTS] = {
    {"xpoll poll", LIB_XPOLL, true},
    {"libev poll", LIB_LIBEV, true},
    {"libevent poll", LIB_LIBEVENT, true},
    {"xpoll epoll", LIB_XPOLL, false},
    {"libev epoll", LIB_LIBEV, false},
    {"libevent epoll", LIB_LIBEVENT, false},
};

/* One variant at one N. */
struct loop {
    const struct variant *v;
    int n_idle;
    int act[ACTIVE][2]; /* [0] registered, [1] written */
    xpoll *xp;
    xpoll_events *xev;
    struct ev_loop *evl;
    ev_io *ev_idle;
    ev_io ev_act[ACTIVE];
    struct event_base *base;
    struct event **le_idle;
    struct event *le_act[ACTIVE];
    double per_rep[MAX_REPS];
    unsigned long allocs;
};

static int reps = 7;
static int quick;
static int *idle_fds;
static int holder_fd = -1;
static pid_t holder_pid = -1;

/* Set by the handlers, checked after each iteration. */
static long got_bytes;
static bool idle_heard;

static int64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static void fail(const struct loop *l, const char *fmt, ...)
    __attribute__((format(printf, 2, 3), noreturn));

static void fail(const struct loop *l, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fflush(stdout);
    fprintf(stderr, "idle_poll: ");
    if (l != NULL)
        fprintf(stderr, "%s, %d idle: ", l->v->name, l->n_idle);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    exit(1);
}

static void on_alarm(int sig)
{
    static const char msg[] =
        "idle_poll: a measurement ran past the watchdog: a loop iteration "
        "never returned (an event was lost?)\n";
    (void)sig;
    if (write(STDERR_FILENO, msg, sizeof msg - 1) < 0) {
        /* nothing more to do */
    }
    _exit(1);
}

/* ---- idle sockets whose peers live in a helper process ----------------- */

/* The helper keeps every descriptor it receives open until the control
 * socket reaches end of file (this program exited), and acknowledges each
 * message: 'K', or 'E' if the descriptors did not all arrive
 * (MSG_CTRUNC, e.g. its own RLIMIT_NOFILE). */
static void holder_main(int c)
{
    for (;;) {
        char byte;
        union {
            char buf[CMSG_SPACE(sizeof(int) * BATCH)];
            struct cmsghdr align;
        } u;
        struct iovec iov = {.iov_base = &byte, .iov_len = 1};
        struct msghdr m = {.msg_iov = &iov,
                           .msg_iovlen = 1,
                           .msg_control = u.buf,
                           .msg_controllen = sizeof u.buf};
        ssize_t n = recvmsg(c, &m, MSG_CMSG_CLOEXEC);
        if (n <= 0)
            _exit(0);
        char ack = (m.msg_flags & MSG_CTRUNC) ? 'E' : 'K';
        if (write(c, &ack, 1) != 1)
            _exit(1);
    }
}

static void holder_start(void)
{
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
        fail(NULL, "socketpair: %s", strerror(errno));
    fflush(stdout);
    holder_pid = fork();
    if (holder_pid < 0)
        fail(NULL, "fork: %s", strerror(errno));
    if (holder_pid == 0) {
        close(sv[0]);
        holder_main(sv[1]);
    }
    close(sv[1]);
    holder_fd = sv[0];
}

/* Hands fds[0..k) to the helper and closes them here. */
static void holder_send(const int *fds, int k)
{
    char byte = 'f', ack = 0;
    union {
        char buf[CMSG_SPACE(sizeof(int) * BATCH)];
        struct cmsghdr align;
    } u;
    memset(&u, 0, sizeof u);
    struct iovec iov = {.iov_base = &byte, .iov_len = 1};
    struct msghdr m = {.msg_iov = &iov,
                       .msg_iovlen = 1,
                       .msg_control = u.buf,
                       .msg_controllen = CMSG_SPACE(sizeof(int) * (size_t)k)};
    struct cmsghdr *c = CMSG_FIRSTHDR(&m);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(sizeof(int) * (size_t)k);
    memcpy(CMSG_DATA(c), fds, sizeof(int) * (size_t)k);
    if (sendmsg(holder_fd, &m, 0) != 1)
        fail(NULL, "sendmsg to the helper process: %s", strerror(errno));
    if (read(holder_fd, &ack, 1) != 1 || ack != 'K')
        fail(NULL, "the helper process could not keep the idle sockets' "
                   "peers (its RLIMIT_NOFILE?)");
    for (int i = 0; i < k; i++)
        close(fds[i]);
}

static void idle_create(int n)
{
    int peers[BATCH], np = 0;
    idle_fds = malloc(sizeof(int) * (size_t)(n > 0 ? n : 1));
    if (idle_fds == NULL)
        fail(NULL, "out of memory");
    for (int i = 0; i < n; i++) {
        int sp[2];
        if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0,
                       sp) < 0)
            fail(NULL, "socketpair for idle socket %d: %s", i, strerror(errno));
        idle_fds[i] = sp[0];
        peers[np++] = sp[1];
        if (np == BATCH || i == n - 1) {
            holder_send(peers, np);
            np = 0;
        }
    }
}

/* ---- handlers ----------------------------------------------------------- */

/* One read's outcome: bytes count, EAGAIN is a spurious event (allowed),
 * anything else is a failure. */
static void take(const struct loop *l, ssize_t r, int err)
{
    if (r > 0)
        got_bytes += r;
    else if (r == 0)
        fail(l, "end of file on an active socket");
    else if (err != EAGAIN && err != EWOULDBLOCK)
        fail(l, "read: %s", strerror(err));
}

static void libev_active_cb(struct ev_loop *evl, ev_io *w, int revents)
{
    char buf[16];
    (void)evl;
    (void)revents;
    ssize_t r = read(w->fd, buf, sizeof buf);
    take(w->data, r, errno);
}

static void libev_idle_cb(struct ev_loop *evl, ev_io *w, int revents)
{
    (void)evl;
    (void)w;
    (void)revents;
    idle_heard = true;
}

static void libevent_active_cb(evutil_socket_t fd, short what, void *arg)
{
    char buf[16];
    (void)what;
    ssize_t r = read(fd, buf, sizeof buf);
    take(arg, r, errno);
}

static void libevent_idle_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    (void)arg;
    idle_heard = true;
}

/* ---- set-up ------------------------------------------------------------- */

static void setup_xpoll(struct loop *l)
{
    xpoll_backend want = l->v->poll ? XPOLL_BACKEND_POLL : XPOLL_BACKEND_EPOLL;
    int err = xpoll_new_with_backend(&l->xp, want);
    if (err < 0)
        fail(l, "xpoll_new_with_backend: %s", strerror(-err));
    if (xpoll_get_backend(l->xp) != want)
        fail(l, "xpoll runs on %s",
             xpoll_backend_name(xpoll_get_backend(l->xp)));
    if ((err = xpoll_events_new(&l->xev, EVCAP)) < 0)
        fail(l, "xpoll_events_new: %s", strerror(-err));
    for (int i = 0; i < l->n_idle; i++)
        if ((err = xpoll_register(l->xp, idle_fds[i], (xpoll_token)(ACTIVE + i),
                                  XPOLL_READABLE)) < 0)
            fail(l, "xpoll_register: %s", strerror(-err));
    for (int k = 0; k < ACTIVE; k++)
        if ((err = xpoll_register(l->xp, l->act[k][0], (xpoll_token)k,
                                  XPOLL_READABLE)) < 0)
            fail(l, "xpoll_register: %s", strerror(-err));
}

static void setup_libev(struct loop *l)
{
    unsigned int want = l->v->poll ? EVBACKEND_POLL : EVBACKEND_EPOLL;
    l->evl = ev_loop_new(want | EVFLAG_NOENV);
    if (l->evl == NULL)
        fail(l, "ev_loop_new refused the backend");
    if (ev_backend(l->evl) != want)
        fail(l, "libev runs on backend %#x, not %#x", ev_backend(l->evl), want);
    l->ev_idle = calloc((size_t)(l->n_idle > 0 ? l->n_idle : 1), sizeof(ev_io));
    if (l->ev_idle == NULL)
        fail(l, "out of memory");
    for (int i = 0; i < l->n_idle; i++) {
        ev_io_init(&l->ev_idle[i], libev_idle_cb, idle_fds[i], LIBEV_READ);
        ev_io_start(l->evl, &l->ev_idle[i]);
    }
    for (int k = 0; k < ACTIVE; k++) {
        ev_io_init(&l->ev_act[k], libev_active_cb, l->act[k][0], LIBEV_READ);
        l->ev_act[k].data = l;
        ev_io_start(l->evl, &l->ev_act[k]);
    }
}

static void setup_libevent(struct loop *l)
{
    static const char *const methods[] = {
        "evport", "kqueue", "epoll", "devpoll", "poll", "select", "win32"};
    const char *want = l->v->poll ? "poll" : "epoll";
    struct event_config *cfg = event_config_new();
    if (cfg == NULL ||
        event_config_set_flag(cfg, EVENT_BASE_FLAG_IGNORE_ENV) < 0)
        fail(l, "event_config_new");
    for (size_t i = 0; i < sizeof methods / sizeof methods[0]; i++)
        if (strcmp(methods[i], want) != 0 &&
            event_config_avoid_method(cfg, methods[i]) < 0)
            fail(l, "event_config_avoid_method");
    l->base = event_base_new_with_config(cfg);
    event_config_free(cfg);
    if (l->base == NULL)
        fail(l, "event_base_new_with_config: no usable method");
    if (strcmp(event_base_get_method(l->base), want) != 0)
        fail(l, "libevent runs on \"%s\"", event_base_get_method(l->base));
    l->le_idle =
        calloc((size_t)(l->n_idle > 0 ? l->n_idle : 1), sizeof *l->le_idle);
    if (l->le_idle == NULL)
        fail(l, "out of memory");
    for (int i = 0; i < l->n_idle; i++) {
        l->le_idle[i] = event_new(l->base, idle_fds[i], EV_READ | EV_PERSIST,
                                  libevent_idle_cb, NULL);
        if (l->le_idle[i] == NULL || event_add(l->le_idle[i], NULL) < 0)
            fail(l, "event_new/event_add");
    }
    for (int k = 0; k < ACTIVE; k++) {
        l->le_act[k] = event_new(l->base, l->act[k][0], EV_READ | EV_PERSIST,
                                 libevent_active_cb, l);
        if (l->le_act[k] == NULL || event_add(l->le_act[k], NULL) < 0)
            fail(l, "event_new/event_add");
    }
}

static void loop_init(struct loop *l, const struct variant *v, int n_idle)
{
    memset(l, 0, sizeof *l);
    l->v = v;
    l->n_idle = n_idle;
    for (int k = 0; k < ACTIVE; k++)
        if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0,
                       l->act[k]) < 0)
            fail(l, "socketpair: %s", strerror(errno));
    switch (v->lib) {
    case LIB_XPOLL:
        setup_xpoll(l);
        break;
    case LIB_LIBEV:
        setup_libev(l);
        break;
    case LIB_LIBEVENT:
        setup_libevent(l);
        break;
    }
}

static void loop_free(struct loop *l)
{
    if (l->xp != NULL) {
        for (int i = 0; i < l->n_idle; i++)
            xpoll_deregister(l->xp, idle_fds[i]);
        for (int k = 0; k < ACTIVE; k++)
            xpoll_deregister(l->xp, l->act[k][0]);
        xpoll_events_free(l->xev);
        xpoll_free(l->xp);
    }
    if (l->evl != NULL) {
        for (int i = 0; i < l->n_idle; i++)
            ev_io_stop(l->evl, &l->ev_idle[i]);
        for (int k = 0; k < ACTIVE; k++)
            ev_io_stop(l->evl, &l->ev_act[k]);
        ev_loop_destroy(l->evl);
        free(l->ev_idle);
    }
    if (l->base != NULL) {
        for (int i = 0; i < l->n_idle; i++)
            event_free(l->le_idle[i]);
        for (int k = 0; k < ACTIVE; k++)
            event_free(l->le_act[k]);
        event_base_free(l->base);
        free(l->le_idle);
    }
    for (int k = 0; k < ACTIVE; k++) {
        close(l->act[k][0]);
        close(l->act[k][1]);
    }
}

/* ---- the measured iteration --------------------------------------------- */

/* One iteration of the library's loop, with the handling of its events. */
static void loop_once(struct loop *l)
{
    switch (l->v->lib) {
    case LIB_XPOLL: {
        int n = xpoll_wait(l->xp, l->xev, -1);
        if (n < 0)
            fail(l, "xpoll_wait: %s", strerror(-n));
        for (int i = 0; i < n; i++) {
            xpoll_token t =
                xpoll_event_token(xpoll_events_get(l->xev, (size_t)i));
            if (t >= ACTIVE) {
                idle_heard = true;
                continue;
            }
            char buf[16];
            ssize_t r = xpoll_read(l->xp, l->act[t][0], buf, sizeof buf);
            take(l, r, r < 0 ? (int)-r : 0);
        }
        break;
    }
    case LIB_LIBEV:
        ev_run(l->evl, EVRUN_ONCE);
        break;
    case LIB_LIBEVENT:
        if (event_base_loop(l->base, EVLOOP_ONCE) != 0)
            fail(l, "event_base_loop failed");
        break;
    }
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Runs `iters` measured iterations; returns their interquartile mean in
 * ns.  The allocation window (xpoll only) spans the iterations and the
 * clock reads between them, none of which allocate. */
static double loop_run(struct loop *l, long iters, double *samples)
{
    const char byte = 'x';
    bool count = l->v->lib == LIB_XPOLL && xpoll_bench_alloc_start != NULL &&
                 xpoll_bench_alloc_stop != NULL;
    alarm(WATCHDOG_S);
    if (count)
        xpoll_bench_alloc_start();
    for (long i = 0; i < iters; i++) {
        got_bytes = 0;
        int64_t t0 = now_ns();
        for (int k = 0; k < ACTIVE; k++)
            if (write(l->act[k][1], &byte, 1) != 1)
                fail(l, "write: %s", strerror(errno));
        loop_once(l);
        int64_t t1 = now_ns();
        samples[i] = (double)(t1 - t0);
        if (got_bytes != ACTIVE)
            fail(l, "one loop iteration read %ld bytes, not %d", got_bytes,
                 ACTIVE);
        if (idle_heard)
            fail(l, "an idle socket was reported ready");
    }
    if (count) {
        unsigned long a = 0, b = 0, f = 0;
        xpoll_bench_alloc_stop(&a, &b, &f);
        l->allocs += a;
    }
    alarm(0);
    qsort(samples, (size_t)iters, sizeof *samples, cmp_double);
    double sum = 0;
    long lo = iters / 4, hi = iters - iters / 4;
    for (long i = lo; i < hi; i++)
        sum += samples[i];
    return sum / (double)(hi - lo);
}

/* ---- report ------------------------------------------------------------- */

struct stat3 {
    double med, min, max;
};

static struct stat3 summarize(const double *in, int n)
{
    double v[MAX_REPS];
    memcpy(v, in, sizeof(double) * (size_t)n);
    qsort(v, (size_t)n, sizeof *v, cmp_double);
    struct stat3 s = {v[n / 2], v[0], v[n - 1]};
    if (n % 2 == 0)
        s.med = (v[n / 2 - 1] + v[n / 2]) / 2;
    return s;
}

/* libev.so exports libevent's old API under the same names; the dynamic
 * linker binds each name to the first library in link order that defines
 * it (ld.so(8): the global lookup scope).  Check that these resolved to
 * libevent. */
static void check_libevent_binding(void)
{
    static const char *const names[] = {"event_add", "event_del",
                                        "event_base_loop", "event_base_free",
                                        "event_base_get_method"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        void *p = dlsym(RTLD_DEFAULT, names[i]);
        Dl_info info;
        if (p == NULL || dladdr(p, &info) == 0 || info.dli_fname == NULL ||
            strstr(info.dli_fname, "libevent") == NULL)
            fail(NULL,
                 "%s resolves to %s, not libevent: link libevent before "
                 "libev",
                 names[i],
                 p != NULL && dladdr(p, &info) != 0 && info.dli_fname != NULL
                     ? info.dli_fname
                     : "nothing");
    }
}

int main(int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "-q") == 0) {
            quick = 1;
        } else if (strcmp(argv[i], "-r") == 0 && i + 1 < argc) {
            reps = atoi(argv[++i]);
        } else {
            fprintf(stderr, "usage: idle_poll [-r REPS] [-q]\n");
            return 2;
        }
    }
    if (reps < 1 || reps > MAX_REPS) {
        fprintf(stderr, "idle_poll: REPS must be 1..%d\n", MAX_REPS);
        return 2;
    }
    check_libevent_binding();

    /* Descriptors: the idle sockets, each loop's active pairs and its own
     * few (epoll instance, notification pipe), and some spare. */
    int max_idle = sizes[NSIZES - 1];
    rlim_t need = (rlim_t)max_idle + NSIZES * NVARIANTS * (2 * ACTIVE + 4) + 64;
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
        fail(NULL, "getrlimit: %s", strerror(errno));
    if (rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
        getrlimit(RLIMIT_NOFILE, &rl);
    }
    if (rl.rlim_cur < need)
        fail(NULL,
             "needs %lu descriptors but RLIMIT_NOFILE allows %lu (hard "
             "limit %lu): raise it (ulimit -n, limits.conf)",
             (unsigned long)need, (unsigned long)rl.rlim_cur,
             (unsigned long)rl.rlim_max);

    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_alarm;
    sigaction(SIGALRM, &sa, NULL);

    holder_start();
    idle_create(max_idle);

    /* Iterations per rep: fewer where an iteration costs more (poll at
     * large N); every variant at one N runs the same number. */
    static const long iters_full[NSIZES] = {20000, 5000, 1000};
    long div = quick ? 4 : 1;
    double *samples = malloc(sizeof(double) * (size_t)iters_full[0]);
    static struct loop loops[NSIZES][NVARIANTS];
    if (samples == NULL)
        fail(NULL, "out of memory");
    for (int si = 0; si < NSIZES; si++)
        for (int vi = 0; vi < NVARIANTS; vi++)
            loop_init(&loops[si][vi], &variants[vi], sizes[si]);

    /* Warm-up: the first iterations register with the kernel (libev's
     * fd_reify, libevent's changelist) and fault in the arrays. */
    for (int si = 0; si < NSIZES; si++)
        for (int vi = 0; vi < NVARIANTS; vi++)
            loop_run(&loops[si][vi], iters_full[si] / div / 10 + 1, samples);
    for (int vi = 0; vi < NVARIANTS; vi++)
        loops[0][vi].allocs = loops[1][vi].allocs = loops[2][vi].allocs = 0;

    for (int r = 0; r < reps; r++)
        for (int si = 0; si < NSIZES; si++)
            for (int j = 0; j < NVARIANTS; j++) {
                struct loop *l = &loops[si][(r + j) % NVARIANTS];
                l->per_rep[r] = loop_run(l, iters_full[si] / div, samples);
            }

    printf("idle_poll: one loop iteration that reads 1 byte from each of %d "
           "ready AF_UNIX stream sockets among N idle ones (the %d writes "
           "included)\n",
           ACTIVE, ACTIVE);
    printf("median of %d reps (min-max) of each rep's interquartile mean, ns "
           "per iteration; iterations per rep at N=0/1000/10000: "
           "%ld/%ld/%ld\n",
           reps, iters_full[0] / div, iters_full[1] / div, iters_full[2] / div);
    printf("%-16s %6s %10s %23s %9s\n", "variant", "N", "ns/iter", "(min-max)",
           "vs N=0");
    struct stat3 st[NSIZES][NVARIANTS];
    for (int vi = 0; vi < NVARIANTS; vi++) {
        for (int si = 0; si < NSIZES; si++) {
            st[si][vi] = summarize(loops[si][vi].per_rep, reps);
            printf("%-16s %6d %10.0f (%10.0f-%10.0f) %9.2f\n",
                   variants[vi].name, sizes[si], st[si][vi].med, st[si][vi].min,
                   st[si][vi].max, st[si][vi].med / st[0][vi].med);
        }
    }

    printf("\nxpoll poll / peer poll: median (min-max) over reps of the "
           "ratio within a rep; < 1: xpoll cheaper\n");
    printf("%6s %28s %28s\n", "N", "xpoll/libev (poll)",
           "xpoll/libevent (poll)");
    for (int si = 0; si < NSIZES; si++) {
        double rv[2][MAX_REPS];
        for (int r = 0; r < reps; r++) {
            rv[0][r] = loops[si][0].per_rep[r] / loops[si][1].per_rep[r];
            rv[1][r] = loops[si][0].per_rep[r] / loops[si][2].per_rep[r];
        }
        struct stat3 a = summarize(rv[0], reps), b = summarize(rv[1], reps);
        printf("%6d %8.3f (%7.3f-%7.3f) %10.3f (%7.3f-%7.3f)\n", sizes[si],
               a.med, a.min, a.max, b.med, b.min, b.max);
    }

    /* key=value lines for scripts, ns per iteration (medians). */
    for (int si = 0; si < NSIZES; si++) {
        printf("idle_poll_N=%d", sizes[si]);
        for (int vi = 0; vi < NVARIANTS; vi++) {
            char key[32];
            snprintf(key, sizeof key, "%s", variants[vi].name);
            for (char *c = key; *c != '\0'; c++)
                if (*c == ' ')
                    *c = '_';
            printf(" %s_ns=%.0f", key, st[si][vi].med);
        }
        printf("\n");
    }

    int status = 0;
    if (xpoll_bench_alloc_start != NULL && xpoll_bench_alloc_stop != NULL) {
        unsigned long a[NVARIANTS] = {0};
        for (int vi = 0; vi < NVARIANTS; vi++)
            for (int si = 0; si < NSIZES; si++)
                a[vi] += loops[si][vi].allocs;
        printf("heap: allocations during xpoll's measured iterations: "
               "xpoll poll %lu, xpoll epoll %lu (must be 0)\n",
               a[0], a[3]);
        printf("idle_poll_allocs_xpoll_poll=%lu "
               "idle_poll_allocs_xpoll_epoll=%lu\n",
               a[0], a[3]);
        if (a[0] != 0 || a[3] != 0) {
            fprintf(stderr, "idle_poll: xpoll allocated in its loop\n");
            status = 1;
        }
    } else {
        printf("heap: not measured (run under LD_PRELOAD=alloc_shim.so)\n");
    }

    for (int si = 0; si < NSIZES; si++)
        for (int vi = 0; vi < NVARIANTS; vi++)
            loop_free(&loops[si][vi]);
    for (int i = 0; i < max_idle; i++)
        close(idle_fds[i]);
    free(idle_fds);
    free(samples);
    close(holder_fd);
    int ws;
    if (waitpid(holder_pid, &ws, 0) < 0 || !WIFEXITED(ws) ||
        WEXITSTATUS(ws) != 0) {
        fprintf(stderr, "idle_poll: the helper process did not exit cleanly\n");
        status = 1;
    }
    return status;
}
