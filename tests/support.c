#define _GNU_SOURCE
#include "support.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static const char *const pair_names[PAIR_KIND_COUNT] = {
    [PAIR_TCP] = "tcp",
    [PAIR_UDP] = "udp",
    [PAIR_UNIX_STREAM] = "unix_stream",
    [PAIR_UNIX_DGRAM] = "unix_dgram",
    [PAIR_PIPE] = "pipe",
    [PAIR_EVENTFD] = "eventfd",
};

const char *pair_name(enum pair_kind kind)
{
    return pair_names[kind];
}

void set_nonblock(int fd)
{
    int fl = fcntl(fd, F_GETFL);
    assert_true(fl >= 0);
    assert_int_equal(fcntl(fd, F_SETFL, fl | O_NONBLOCK), 0);
}

/* The flags every descriptor of a test carries, set after the fact: the
 * atomic SOCK_NONBLOCK/SOCK_CLOEXEC, pipe2() and accept4() are not
 * everywhere (macOS has none of them), and no test forks while another
 * thread creates descriptors. */
static void nonblock_cloexec(int fd)
{
    assert_true(fd >= 0);
    set_nonblock(fd);
    int fl = fcntl(fd, F_GETFD);
    assert_true(fl >= 0);
    assert_int_equal(fcntl(fd, F_SETFD, fl | FD_CLOEXEC), 0);
}

int so_error(int fd)
{
    int err = 0;
    socklen_t len = sizeof err;
    assert_int_equal(getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len), 0);
    return err;
}

int tcp_listener(uint16_t *port)
{
    struct sockaddr_in sin = {.sin_family = AF_INET};
    socklen_t len = sizeof sin;
    int fd = socket(AF_INET, SOCK_STREAM, 0);

    nonblock_cloexec(fd);
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(bind(fd, (struct sockaddr *)&sin, sizeof sin), 0);
    assert_int_equal(listen(fd, 128), 0);
    assert_int_equal(getsockname(fd, (struct sockaddr *)&sin, &len), 0);
    *port = ntohs(sin.sin_port);
    return fd;
}

void tcp_pair(int fds[2])
{
    uint16_t port;
    int lfd = tcp_listener(&port);
    struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = htons(port)};
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);

    fds[1] = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(fds[1] >= 0);
    assert_int_equal(connect(fds[1], (struct sockaddr *)&sin, sizeof sin), 0);
    nonblock_cloexec(fds[1]);
    /* The handshake completed in connect(); the backlog holds it now. */
    fds[0] = accept(lfd, NULL, NULL);
    nonblock_cloexec(fds[0]);
    close(lfd);
}

static void udp_pair(int fds[2])
{
    struct sockaddr_in a = {.sin_family = AF_INET}, b = a;
    socklen_t len = sizeof a;

    a.sin_addr.s_addr = b.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    for (int i = 0; i < 2; i++) {
        fds[i] = socket(AF_INET, SOCK_DGRAM, 0);
        nonblock_cloexec(fds[i]);
    }
    assert_int_equal(bind(fds[0], (struct sockaddr *)&a, sizeof a), 0);
    assert_int_equal(bind(fds[1], (struct sockaddr *)&b, sizeof b), 0);
    assert_int_equal(getsockname(fds[0], (struct sockaddr *)&a, &len), 0);
    len = sizeof b;
    assert_int_equal(getsockname(fds[1], (struct sockaddr *)&b, &len), 0);
    assert_int_equal(connect(fds[0], (struct sockaddr *)&b, sizeof b), 0);
    assert_int_equal(connect(fds[1], (struct sockaddr *)&a, sizeof a), 0);
}

void pair_open(enum pair_kind kind, int fds[2])
{
    switch (kind) {
    case PAIR_TCP:
        tcp_pair(fds);
        break;
    case PAIR_UDP:
        udp_pair(fds);
        break;
    case PAIR_UNIX_STREAM:
    case PAIR_UNIX_DGRAM:
        assert_int_equal(
            socketpair(AF_UNIX,
                       kind == PAIR_UNIX_STREAM ? SOCK_STREAM : SOCK_DGRAM, 0,
                       fds),
            0);
        nonblock_cloexec(fds[0]);
        nonblock_cloexec(fds[1]);
        break;
    case PAIR_PIPE:
        assert_int_equal(pipe(fds), 0);
        nonblock_cloexec(fds[0]);
        nonblock_cloexec(fds[1]);
        break;
    case PAIR_EVENTFD:
        fds[0] = fds[1] = platform_eventfd();
        if (fds[0] == -ENOTSUP) {
            print_message("skipped: this system has no eventfd\n");
            skip();
        }
        assert_true(fds[0] >= 0);
        break;
    default:
        fail_msg("unknown pair kind %d", (int)kind);
    }
}

void pair_close(enum pair_kind kind, int fds[2])
{
    close(fds[0]);
    if (kind != PAIR_EVENTFD)
        close(fds[1]);
}

void put(enum pair_kind kind, int fds[2])
{
    if (kind == PAIR_EVENTFD) {
        uint64_t one = 1;
        assert_int_equal(write(fds[1], &one, sizeof one), (ssize_t)sizeof one);
    } else {
        assert_int_equal(write(fds[1], "x", 1), 1);
    }
}

int drain(int fd)
{
    char buf[65536];
    int reads = 0;

    for (;;) {
        ssize_t n = read(fd, buf, sizeof buf);
        if (n > 0) {
            reads++;
            continue;
        }
        if (n == 0)
            return reads; /* EOF: nothing more will come */
        if (errno == EINTR)
            continue;
        assert_int_equal(errno, EAGAIN);
        return reads;
    }
}

size_t fill(int fd)
{
    static const char buf[65536];
    size_t total = 0;

    for (;;) {
        ssize_t n = write(fd, buf, sizeof buf);
        if (n > 0) {
            total += (size_t)n;
            continue;
        }
        if (n < 0 && errno == EINTR)
            continue;
        assert_true(n < 0);
        assert_int_equal(errno, EAGAIN);
        return total;
    }
}

int closed_fd(void)
{
    int fds[2];
    assert_int_equal(xpoll_pipe(fds), 0);
    close(fds[0]);
    close(fds[1]);
    return fds[1];
}

void wait_fd(int fd, short events)
{
    struct pollfd p = {.fd = fd, .events = events};
    int64_t deadline = now_ns() + HANG_NS;
    int n;
    do
        n = poll(&p, 1, 100);
    while ((n == 0 || (n < 0 && errno == EINTR)) && now_ns() < deadline);
    assert_int_equal(n, 1);
    assert_true(p.revents & events);
}

int accept_wait(int listen_fd)
{
    wait_fd(listen_fd, POLLIN);
    int fd = xpoll_accept(listen_fd);
    assert_true(fd >= 0);
    return fd;
}

void assert_flows(int from, int to, const char *msg)
{
    char buf[64];
    size_t len = strlen(msg);
    assert_true(len <= sizeof buf);
    wait_fd(from, POLLOUT);
    assert_int_equal(write(from, msg, len), (ssize_t)len);
    wait_fd(to, POLLIN);
    assert_int_equal(read(to, buf, sizeof buf), (ssize_t)len);
    assert_memory_equal(buf, msg, len);
}

void unix_tmp_path(char *buf, size_t len, const char *tag)
{
    const char *dir = getenv("TMPDIR");
    if (dir == NULL || strlen(dir) > 40)
        dir = "/tmp";
    snprintf(buf, len, "%s/xpoll-net-%ld-%s.sock", dir, (long)getpid(), tag);
    unlink(buf);
}

uint32_t event_flags(const xpoll_event *event)
{
    return (xpoll_event_is_readable(event) ? SEEN_READABLE : 0) |
           (xpoll_event_is_writable(event) ? SEEN_WRITABLE : 0) |
           (xpoll_event_is_error(event) ? SEEN_ERROR : 0) |
           (xpoll_event_is_read_closed(event) ? SEEN_READ_CLOSED : 0) |
           (xpoll_event_is_write_closed(event) ? SEEN_WRITE_CLOSED : 0) |
           (xpoll_event_is_priority(event) ? SEEN_PRIORITY : 0);
}

int wait_once(xpoll *poll, xpoll_events *events, int64_t timeout_ns,
              xpoll_token token, struct seen *seen)
{
    int n = xpoll_wait(poll, events, timeout_ns);
    if (n > 0)
        assert_int_equal((size_t)n, xpoll_events_len(events));
    for (int i = 0; i < n; i++) {
        const xpoll_event *ev = xpoll_events_get(events, (size_t)i);
        assert_non_null(ev);
        if (xpoll_event_token(ev) == token) {
            seen->events++;
            seen->flags |= event_flags(ev);
        }
    }
    return n;
}

struct seen expect_event(xpoll *poll, xpoll_events *events, xpoll_token token)
{
    struct seen seen = {0};

    /* The event is due already or about to be (the caller made it so):
     * the deadline only catches one that never comes. */
    for (int64_t waited = 0; waited < HANG_NS && seen.events == 0;
         waited += 100 * MS) {
        int n = wait_once(poll, events, 100 * MS, token, &seen);
        assert_true(n >= 0 || n == -EINTR);
    }
    if (seen.events == 0)
        fail_msg("no event for token %#lx within %d s", (unsigned long)token,
                 (int)(HANG_NS / SEC));
    /* kqueue reports read and write readiness as separate events; both
     * are queued by now, so a non-blocking wait collects the other half. */
    assert_true(wait_once(poll, events, 0, token, &seen) >= 0);
    return seen;
}

int wait_tokens(xpoll *poll, xpoll_events *events, int64_t timeout_ns,
                xpoll_token *out, int max)
{
    int n = xpoll_wait(poll, events, timeout_ns);
    assert_true(n >= 0);
    for (int i = 0; i < n && i < max; i++)
        out[i] = xpoll_event_token(xpoll_events_get(events, (size_t)i));
    return n;
}

bool has_token(const xpoll_token *tokens, int n, xpoll_token token)
{
    for (int i = 0; i < n; i++)
        if (tokens[i] == token)
            return true;
    return false;
}

void expect_no_event(xpoll *poll, xpoll_events *events, int64_t timeout_ns)
{
    int n = xpoll_wait(poll, events, timeout_ns);
    if (n > 0) {
        const xpoll_event *ev = xpoll_events_get(events, 0);
        fail_msg("unexpected event: token %#lx flags %#x",
                 (unsigned long)xpoll_event_token(ev), event_flags(ev));
    }
    assert_int_equal(n, 0);
}

void expect_new_waker_works(xpoll *poll, xpoll_events *events,
                            xpoll_token token)
{
    xpoll_waker *waker;
    assert_int_equal(xpoll_waker_new(poll, token, &waker), 0);
    assert_int_equal(xpoll_waker_wake(waker), 0);
    assert_int_equal(xpoll_wait(poll, events, SEC), 1);
    assert_int_equal(xpoll_event_token(xpoll_events_get(events, 0)), token);
    xpoll_waker_free(waker);
}

int64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * SEC + ts.tv_nsec;
}

void sleep_ms(int ms)
{
    struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * MS};
    while (nanosleep(&ts, &ts) < 0 && errno == EINTR) {
    }
}

int wait_until_blocked_in_wait(uint64_t tid, int64_t timeout_ns)
{
    int64_t deadline = now_ns() + timeout_ns;
    for (;;) {
        int blocked = platform_blocked_in_wait(getpid(), tid);
        if (blocked != 0)
            return blocked < 0 ? blocked : 0;
        if (now_ns() >= deadline)
            return -ETIMEDOUT;
        struct timespec ts = {0, 200 * 1000}; /* only the pace of the polling */
        nanosleep(&ts, NULL);
    }
}

static void *blocked_action_main(void *arg)
{
    struct blocked_action *b = arg;
    b->proof = wait_until_blocked_in_wait(b->waiter, HANG_NS);
    b->act(b->arg);
    return NULL;
}

void blocked_action_start(struct blocked_action *b, void (*act)(void *arg),
                          void *arg)
{
    b->act = act;
    b->arg = arg;
    b->waiter = platform_thread_id();
    b->proof = 1;
    assert_int_equal(pthread_create(&b->thread, NULL, blocked_action_main, b),
                     0);
}

void blocked_action_finish(struct blocked_action *b)
{
    assert_int_equal(pthread_join(b->thread, NULL), 0);
    if (b->proof == -ENOTSUP) {
        print_message("skipped: this system cannot show that a thread is "
                      "blocked in its wait\n");
        skip();
    }
    if (b->proof != 0)
        fail_msg("the waiting thread was not seen blocked in the wait: %s",
                 strerror(-b->proof));
}

void fd_snapshot(struct fd_set_snapshot *snap)
{
    for (int fd = 0; fd < (int)sizeof snap->open; fd++)
        snap->open[fd] = fcntl(fd, F_GETFD) >= 0;
}

int fds_opened_since(const struct fd_set_snapshot *before, int *out, int max)
{
    struct fd_set_snapshot now;
    int n = 0;

    fd_snapshot(&now);
    for (int fd = 0; fd < (int)sizeof now.open; fd++) {
        if (now.open[fd] && !before->open[fd]) {
            if (n < max)
                out[n] = fd;
            n++;
        }
    }
    return n;
}

int open_fd_count(void)
{
    int n = platform_fd_count(getpid());
    if (n == -ENOTSUP) {
        print_message("skipped: this system cannot count open descriptors\n");
        skip();
    }
    if (n < 0)
        fail_msg("counting open descriptors: %s", strerror(-n));
    return n;
}

xpoll_backend test_backend(void)
{
    xpoll *poll;
    assert_int_equal(xpoll_new(&poll), 0);
    xpoll_backend backend = xpoll_get_backend(poll);
    xpoll_free(poll);
    return backend;
}

bool on_kqueue(void)
{
    return test_backend() == XPOLL_BACKEND_KQUEUE;
}

int fixture_setup(void **state)
{
    struct fixture *f = calloc(1, sizeof *f);
    if (f == NULL || xpoll_new(&f->poll) != 0 ||
        xpoll_events_new(&f->events, 64) != 0) {
        if (f != NULL)
            xpoll_free(f->poll);
        free(f);
        return -1;
    }
    *state = f;
    return 0;
}

int fixture_teardown(void **state)
{
    struct fixture *f = *state;
    xpoll_events_free(f->events);
    xpoll_free(f->poll);
    free(f);
    return 0;
}

int run_group(const char *name, const struct CMUnitTest *tests, size_t count,
              CMFixtureFunction setup, CMFixtureFunction teardown)
{
    /* Tests write to sockets and pipes whose peer is gone and expect
     * EPIPE, not death: such a write also raises SIGPIPE (write(2),
     * EPIPE). */
    signal(SIGPIPE, SIG_IGN);

    const char *backend = getenv("XPOLL_BACKEND");
    char group[256];
    snprintf(group, sizeof group, "%s [%s]", name,
             backend != NULL && backend[0] != '\0' ? backend : "default");
    return _cmocka_run_group_tests(group, tests, count, setup, teardown);
}
