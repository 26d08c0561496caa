/* Helpers for the kqemu fidelity tests. */
#include "test_util.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

int t_kqueue(void)
{
    int kq = kqueue();
    assert_true(kq >= 0);
    return kq;
}

void t_pipe(int p[2])
{
    assert_int_equal(pipe2(p, O_NONBLOCK), 0);
}

void t_socketpair(int s[2])
{
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, s), 0);
}

void t_close(int fd)
{
    assert_int_equal(close(fd), 0);
}

struct kevent t_kev(uintptr_t ident, short filter, unsigned short flags,
                    unsigned int fflags, intptr_t data, void *udata)
{
    struct kevent k;
    memset(&k, 0, sizeof k);
    EV_SET(&k, ident, filter, flags, fflags, data, udata);
    return k;
}

struct kevent t_receipt(int kq, uintptr_t ident, short filter,
                        unsigned short flags, unsigned int fflags,
                        intptr_t data, void *udata)
{
    struct kevent k =
        t_kev(ident, filter, flags | EV_RECEIPT, fflags, data, udata);
    struct kevent out;
    memset(&out, 0, sizeof out);
    assert_int_equal(kevent(kq, &k, 1, &out, 1, NULL), 1);
    assert_true(out.flags & EV_ERROR);
    assert_int_equal(out.ident, ident);
    assert_int_equal(out.filter, filter);
    return out;
}

int t_change(int kq, uintptr_t ident, short filter, unsigned short flags,
             unsigned int fflags, intptr_t data, void *udata)
{
    return (int)t_receipt(kq, ident, filter, flags, fflags, data, udata).data;
}

void t_expect_receipt(int kq, uintptr_t ident, short filter,
                      unsigned short flags, int err)
{
    assert_int_equal(t_change(kq, ident, filter, flags, 0, 0, NULL), err);
}

void t_add(int kq, uintptr_t ident, short filter, unsigned short flags)
{
    t_expect_receipt(kq, ident, filter, EV_ADD | flags, 0);
}

void t_add_udata(int kq, uintptr_t ident, short filter, unsigned short flags,
                 void *udata)
{
    assert_int_equal(t_change(kq, ident, filter, EV_ADD | flags, 0, 0, udata),
                     0);
}

bool t_delete_ok(int kq, uintptr_t ident, short filter)
{
    int err = t_change(kq, ident, filter, EV_DELETE, 0, 0, NULL);
    assert_true(err == 0 || err == ENOENT || err == EBADF);
    return err == 0;
}

void t_expect_errno_(long r, int err)
{
    int e = errno;
    assert_int_equal(r, -1);
    assert_int_equal(e, err);
}

int t_poll(int kq, struct kevent *ev, int n)
{
    struct timespec ts = {0, 0};
    return kevent(kq, NULL, 0, ev, n, &ts);
}

int t_wait_ms(int kq, struct kevent *ev, int n, long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    return kevent(kq, NULL, 0, ev, n, &ts);
}

static char io_buf[T_IO_MAX];

void t_write(int fd, size_t n)
{
    assert_true(n <= sizeof io_buf);
    memset(io_buf, 'x', n);
    assert_int_equal(write(fd, io_buf, n), (ssize_t)n);
}

void t_read(int fd, size_t n)
{
    assert_true(n <= sizeof io_buf);
    assert_int_equal(read(fd, io_buf, n), (ssize_t)n);
}

/* write()s (fill) or read()s the whole buffer until the call fails, which
 * must be with EAGAIN; returns the bytes moved. */
static size_t until_eagain(int fd, bool fill)
{
    size_t total = 0;
    ssize_t k;
    while ((k = fill ? write(fd, io_buf, sizeof io_buf)
                     : read(fd, io_buf, sizeof io_buf)) > 0)
        total += (size_t)k;
    int e = errno;
    assert_int_equal(k, -1);
    assert_int_equal(e, EAGAIN);
    return total;
}

size_t t_fill(int fd)
{
    return until_eagain(fd, true);
}

size_t t_drain(int fd)
{
    return until_eagain(fd, false);
}

const struct kevent *t_find(const struct kevent *ev, int n, uintptr_t ident,
                            short filter)
{
    for (int i = 0; i < n; i++)
        if (ev[i].ident == ident && ev[i].filter == filter)
            return &ev[i];
    return NULL;
}

static void check_event(const struct kevent *e, const struct t_ev *w)
{
    if (w->with)
        assert_int_equal(e->flags & w->with, w->with);
    if (w->without)
        assert_int_equal(e->flags & w->without, 0);
    if (w->has_flags)
        assert_int_equal(e->flags, w->flags);
    if (w->has_fflags)
        assert_int_equal(e->fflags, w->fflags);
    if (w->has_data)
        assert_int_equal(e->data, w->data);
    if (w->has_data_min)
        assert_true(e->data >= w->data_min);
    if (w->has_udata)
        assert_ptr_equal(e->udata, w->udata);
}

void t_match_events(const struct kevent *ev, int n, bool receipts,
                    struct kevent *got, const struct t_ev *want, int nwant)
{
    bool used[T_MAX_EVENTS] = {false};
    if (n != nwant)
        for (int j = 0; j < n; j++)
            print_error("reported: ident %ju filter %d flags %#x fflags %#x "
                        "data %jd\n",
                        (uintmax_t)ev[j].ident, ev[j].filter,
                        (unsigned)ev[j].flags, (unsigned)ev[j].fflags,
                        (intmax_t)ev[j].data);
    assert_int_equal(n, nwant);
    assert_true(n <= T_MAX_EVENTS);
    for (int i = 0; i < nwant; i++) {
        /* Receipts: the i-th entry.  Events: the first unused one of the
         * pair, so that entries of one pair match in order. */
        int j = receipts ? i : 0;
        while (!receipts && j < n &&
               (used[j] || ev[j].ident != want[i].ident ||
                ev[j].filter != want[i].filter))
            j++;
        if (j == n)
            print_error("no event with ident %ju and filter %d\n",
                        (uintmax_t)want[i].ident, want[i].filter);
        assert_int_not_equal(j, n);
        assert_int_equal(ev[j].ident, want[i].ident);
        assert_int_equal(ev[j].filter, want[i].filter);
        if (receipts)
            assert_true(ev[j].flags & EV_ERROR);
        used[j] = true;
        check_event(&ev[j], &want[i]);
        if (got)
            got[i] = ev[j];
    }
}

void t_expect_events(int kq, struct kevent *got, const struct t_ev *want,
                     int nwant)
{
    struct kevent ev[T_MAX_EVENTS];
    int n = t_poll(kq, ev, T_MAX_EVENTS);
    t_match_events(ev, n, false, got, want, nwant);
}

void t_expect_none(int kq)
{
    struct kevent ev[T_MAX_EVENTS];
    assert_int_equal(t_poll(kq, ev, T_MAX_EVENTS), 0);
}

static struct t_fx fx;

static int setup(void **state, int kq, int fd0, int fd1)
{
    fx.kq = kq;
    fx.fd[0] = fd0;
    fx.fd[1] = fd1;
    *state = &fx;
    return 0;
}

int t_setup_kqueue(void **state)
{
    return setup(state, t_kqueue(), -1, -1);
}

int t_setup_pipe(void **state)
{
    int p[2];
    t_pipe(p);
    return setup(state, t_kqueue(), p[0], p[1]);
}

int t_setup_socketpair(void **state)
{
    int s[2];
    t_socketpair(s);
    return setup(state, t_kqueue(), s[0], s[1]);
}

int t_setup_tcp(void **state)
{
    int c, s;
    t_tcp_pair(&c, &s);
    return setup(state, t_kqueue(), c, s);
}

int t_teardown(void **state)
{
    struct t_fx *f = *state;
    if (f->kq >= 0)
        t_close(f->kq);
    for (int i = 0; i < 2; i++)
        if (f->fd[i] >= 0)
            t_close(f->fd[i]);
    return 0;
}

void t_fx_close(struct t_fx *f, int fd)
{
    int *slot = f->kq == fd ? &f->kq : f->fd[0] == fd ? &f->fd[0] : &f->fd[1];
    assert_int_equal(*slot, fd);
    t_close(fd);
    *slot = -1;
}

double t_now_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec * 1e3 + (double)t.tv_nsec / 1e6;
}

void t_sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

int t_loopback_socket(int type, struct sockaddr_in *a)
{
    int fd = socket(AF_INET, type | SOCK_NONBLOCK, 0);
    assert_true(fd >= 0);
    memset(a, 0, sizeof *a);
    a->sin_family = AF_INET;
    a->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(bind(fd, (struct sockaddr *)a, sizeof *a), 0);
    socklen_t len = sizeof *a;
    assert_int_equal(getsockname(fd, (struct sockaddr *)a, &len), 0);
    return fd;
}

int t_tcp_listener(uint16_t *port)
{
    struct sockaddr_in a;
    int l = t_loopback_socket(SOCK_STREAM, &a);
    assert_int_equal(listen(l, 16), 0);
    *port = ntohs(a.sin_port);
    return l;
}

int t_tcp_connect(uint16_t port)
{
    int c = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    assert_true(c >= 0);
    struct sockaddr_in a;
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = htons(port);
    int r = connect(c, (struct sockaddr *)&a, sizeof a);
    assert_true(r == 0 || errno == EINPROGRESS);
    return c;
}

void t_tcp_pair(int *client, int *server)
{
    uint16_t port;
    int l = t_tcp_listener(&port);
    *client = t_tcp_connect(port);
    t_wait_poll(l, POLLIN); /* the handshake is done, the connection queued */
    int s = accept4(l, NULL, NULL, SOCK_NONBLOCK);
    assert_true(s >= 0);
    *server = s;
    t_close(l);
}

void t_wait_poll(int fd, short events)
{
    struct pollfd p = {.fd = fd, .events = events};
    double end = t_now_ms() + (double)T_HANG_MS;
    while ((p.revents & events) != events && t_now_ms() < end)
        assert_true(poll(&p, 1, 100) >= 0);
    assert_int_equal(p.revents & events, events);
}

static struct tcp_info tcp_info_of(int fd)
{
    struct tcp_info ti;
    memset(&ti, 0, sizeof ti);
    socklen_t len = sizeof ti;
    assert_int_equal(getsockopt(fd, IPPROTO_TCP, TCP_INFO, &ti, &len), 0);
    return ti;
}

int t_tcp_state(int fd)
{
    return tcp_info_of(fd).tcpi_state;
}

void t_wait_accept_queue(int l, unsigned int n)
{
    double end = t_now_ms() + (double)T_HANG_MS;
    struct tcp_info ti = tcp_info_of(l);
    assert_int_equal(ti.tcpi_state, TCP_LISTEN);
    while (ti.tcpi_unacked < n && t_now_ms() < end) {
        t_sleep_ms(1);
        ti = tcp_info_of(l);
    }
    assert_int_equal(ti.tcpi_unacked, n);
}

pid_t t_gettid(void)
{
    return (pid_t)syscall(SYS_gettid);
}

/* proc(5), /proc/pid/syscall: the number of the system call the thread is
 * blocked in and its six argument registers, "-1" when it is blocked
 * outside a system call, "running" when it is not blocked. */
int t_wait_blocked(pid_t tid, struct t_blocked *out)
{
    char path[64];
    snprintf(path, sizeof path, "/proc/self/task/%ld/syscall", (long)tid);
    double end = t_now_ms() + (double)T_HANG_MS;
    do {
        char buf[256];
        int fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
            return -1;
        ssize_t k = read(fd, buf, sizeof buf - 1);
        close(fd);
        if (k < 0)
            return -1;
        buf[k] = '\0';
        struct t_blocked b;
        if (sscanf(buf, "%ld %lx %lx %lx %lx %lx %lx", &b.nr, &b.arg[0],
                   &b.arg[1], &b.arg[2], &b.arg[3], &b.arg[4],
                   &b.arg[5]) == 7 &&
            (b.nr == SYS_epoll_pwait2 || b.nr == SYS_epoll_pwait)) {
            *out = b;
            return 0;
        }
        t_sleep_ms(1);
    } while (t_now_ms() < end);
    return -1;
}

static void *waiter_main(void *arg)
{
    struct t_waiter *w = arg;
    w->tid = t_gettid();
    pthread_barrier_wait(&w->started);
    w->n = kevent(w->kq, NULL, 0, w->ev, 4, w->timeout);
    w->err = w->n < 0 ? errno : 0;
    return NULL;
}

void t_waiter_start(struct t_waiter *w, int kq, const struct timespec *timeout)
{
    memset(w, 0, sizeof *w);
    w->kq = kq;
    w->timeout = timeout;
    assert_int_equal(pthread_barrier_init(&w->started, NULL, 2), 0);
    assert_int_equal(pthread_create(&w->th, NULL, waiter_main, w), 0);
    pthread_barrier_wait(&w->started);
}

void t_waiter_asleep(struct t_waiter *w, int kq)
{
    struct t_blocked b;
    t_waiter_start(w, kq, NULL);
    assert_int_equal(t_wait_blocked(w->tid, &b), 0);
    assert_true(t_blocked_forever(&b));
}

void t_waiter_join(struct t_waiter *w)
{
    struct timespec end;
    assert_int_equal(clock_gettime(CLOCK_REALTIME, &end), 0);
    end.tv_sec += T_HANG_MS / 1000;
    assert_int_equal(pthread_timedjoin_np(w->th, NULL, &end), 0);
    assert_int_equal(pthread_barrier_destroy(&w->started), 0);
}

bool t_blocked_forever(const struct t_blocked *b)
{
    if (b->nr == SYS_epoll_pwait2)
        return b->arg[3] == 0;   /* timeout: a NULL timespec */
    return (int)b->arg[3] == -1; /* epoll_pwait: -1 ms */
}

/* The emulator's waits.  kqemu.c calls epoll_pwait2, and epoll_wait where
 * the kernel lacks it (ENOSYS); kqemu_fd.c polls its READ and WRITE sets
 * with epoll_wait and a zero timeout.  The objects are linked into this
 * executable, so these definitions are the ones they call.  Each records
 * the call and makes it unchanged: epoll_pwait2 by its system call (glibc
 * passes the kernel's sigset size, _NSIG / 8, the same way), epoll_wait as
 * epoll_pwait with a NULL mask, which epoll_wait(2) says is the same call.
 * So a waiting thread sleeps in epoll_pwait2 or epoll_pwait, whatever the
 * architecture, which is what t_wait_blocked looks for. */
static pthread_mutex_t waits_mu = PTHREAD_MUTEX_INITIALIZER;
static struct t_waits waits;
static pid_t waits_tid; /* the thread whose waits are counted */

static void waits_record(long long timeout_ns, int r)
{
    if (timeout_ns == 0 || (r < 0 && errno == ENOSYS))
        return; /* a poll, or no such call: the kernel did not wait */
    pid_t self = t_gettid();
    pthread_mutex_lock(&waits_mu);
    if (self != waits_tid) {
        pthread_mutex_unlock(&waits_mu);
        return;
    }
    waits.sleeping++;
    if (timeout_ns < 0 || timeout_ns > waits.longest)
        waits.longest = timeout_ns < 0 ? LLONG_MAX : timeout_ns;
    pthread_mutex_unlock(&waits_mu);
}

void t_waits_reset(void)
{
    pid_t self = t_gettid();
    pthread_mutex_lock(&waits_mu);
    memset(&waits, 0, sizeof waits);
    waits_tid = self;
    pthread_mutex_unlock(&waits_mu);
}

void t_waits(struct t_waits *out)
{
    pthread_mutex_lock(&waits_mu);
    *out = waits;
    pthread_mutex_unlock(&waits_mu);
}

int epoll_pwait2(int epfd, struct epoll_event *events, int maxevents,
                 const struct timespec *timeout, const sigset_t *sigmask)
{
    int r = (int)syscall(SYS_epoll_pwait2, epfd, events, maxevents, timeout,
                         sigmask, _NSIG / 8);
    int e = errno;
    waits_record(timeout ? (long long)timeout->tv_sec * 1000000000LL +
                               timeout->tv_nsec
                         : -1,
                 r);
    errno = e;
    return r;
}

int epoll_wait(int epfd, struct epoll_event *events, int maxevents, int timeout)
{
    int r = epoll_pwait(epfd, events, maxevents, timeout, NULL);
    int e = errno;
    waits_record(timeout < 0 ? -1 : (long long)timeout * 1000000LL, r);
    errno = e;
    return r;
}
