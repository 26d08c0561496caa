/*
 * The re-arm rule where it needs POSIX (test_rearm.c has xpoll_rearm's own
 * contract), on every backend:
 *
 *  - a program that follows the rule through the I/O helpers of
 *    <xpoll/net.h> loses no edge, for reading and writing, on every kind of
 *    descriptor;
 *  - on poll an error or a hang-up is heard once even with both
 *    directions disarmed, never again and again;
 *  - the helpers check their arguments before any I/O, retry EINTR, return
 *    -EAGAIN for EWOULDBLOCK, keep errno, and re-arm after a short
 *    transfer;
 *  - every descriptor a poll and its waker open is close-on-exec (the poll
 *    backend's notification descriptor has no xpoll_fd() to ask).
 *
 * Each "no event" below follows a proof that the descriptor's state would
 * make poll(2) report it (wait_fd), and is a wait with timeout 0 unless
 * the point is that a wait blocks: no result depends on timing.
 */
#define _GNU_SOURCE
#include "support_posix.h"

#include <arpa/inet.h>
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdatomic.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

enum { TOKEN = 0x4ea4, OTHER = 0x07 };

/* ---- EINTR injection ---------------------------------------------------
 *
 * read(2) and write(2) of this executable come first in the dynamic
 * linker's search, so the library's calls land here (ELF symbol
 * interposition; a system that binds a library's calls to its own C
 * library, as macOS's two-level namespace does, skips this and the test
 * that needs it says so).  For the one descriptor armed below, the next
 * `eintr_left` calls fail with EINTR as a signal would make them; every
 * other call goes to the C library. */
static int eintr_fd = -1;
static int eintr_left;

static void inject_eintr(int fd, int times)
{
    eintr_fd = fd;
    eintr_left = times;
}

/* The injections that did not happen; 0 once the helper retried them all. */
static int injected_left(void)
{
    int left = eintr_left;
    eintr_fd = -1;
    eintr_left = 0;
    return left;
}

static bool take_eintr(int fd)
{
    if (fd != eintr_fd || eintr_left <= 0)
        return false;
    eintr_left--;
    errno = EINTR;
    return true;
}

ssize_t read(int fd, void *buf, size_t len)
{
    static ssize_t (*real)(int, void *, size_t);
    if (real == NULL)
        *(void **)&real = dlsym(RTLD_NEXT, "read");
    return take_eintr(fd) ? -1 : real(fd, buf, len);
}

ssize_t write(int fd, const void *buf, size_t len)
{
    static ssize_t (*real)(int, const void *, size_t);
    if (real == NULL)
        *(void **)&real = dlsym(RTLD_NEXT, "write");
    return take_eintr(fd) ? -1 : real(fd, buf, len);
}

/* ---- helpers ------------------------------------------------------------ */

/* Reads through xpoll_read until -EAGAIN; returns the bytes read.  The
 * caller's errno survives every call. */
static size_t drain_rearming(xpoll *poll, int fd)
{
    char buf[65536];
    size_t total = 0;
    for (;;) {
        errno = 12345;
        ssize_t n = xpoll_read(poll, fd, buf, sizeof buf);
        assert_int_equal(errno, 12345);
        if (n == -EAGAIN)
            return total;
        assert_true(n > 0);
        total += (size_t)n;
    }
}

/* Writes through xpoll_write until -EAGAIN; returns the bytes written. */
static size_t fill_rearming(xpoll *poll, int fd)
{
    static const char buf[65536];
    size_t total = 0;
    for (;;) {
        ssize_t n = xpoll_write(poll, fd, buf, sizeof buf);
        if (n == -EAGAIN)
            return total;
        assert_true(n > 0);
        total += (size_t)n;
    }
}

static void readable_once(struct fixture *f)
{
    struct seen seen = expect_event(f->poll, f->events, TOKEN);
    assert_int_equal(seen.events, 1);
    assert_true(seen.flags & SEEN_READABLE);
}

/* A blocking TCP connect to 127.0.0.1:port. */
static int connect_blocking(uint16_t port)
{
    struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = htons(port)};
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(fd >= 0);
    assert_int_equal(connect(fd, (struct sockaddr *)&sin, sizeof sin), 0);
    return fd;
}

/* ---- xpoll_rearm's own contract ----------------------------------------- */

/* ---- no lost edge through the helpers ----------------------------------- */

static void helpers_read_every_edge(struct fixture *f, enum pair_kind kind)
{
    int fds[2];
    pair_open(kind, fds);
    assert_int_equal(xpoll_register(f->poll, fds[0], TOKEN, XPOLL_READABLE), 0);
    for (int round = 0; round < 5; round++) {
        put(kind, fds);
        readable_once(f);
        assert_true(drain_rearming(f->poll, fds[0]) > 0);
        /* Drained: no event until new data. */
        expect_no_event(f->poll, f->events, 0);
    }
    assert_int_equal(xpoll_deregister(f->poll, fds[0]), 0);
    pair_close(kind, fds);
}

/* The end that becomes writable when the reader drains, and the reader. */
static int writer_end(enum pair_kind kind, int fds[2])
{
    return kind == PAIR_PIPE ? fds[1] : fds[0];
}

static int reader_end(enum pair_kind kind, int fds[2])
{
    return kind == PAIR_PIPE ? fds[0] : fds[1];
}

static void helpers_write_every_edge(struct fixture *f, enum pair_kind kind)
{
    int fds[2];
    pair_open(kind, fds);
    int fd = writer_end(kind, fds);
    assert_int_equal(xpoll_register(f->poll, fd, TOKEN, XPOLL_WRITABLE), 0);
    for (int round = 0; round < 3; round++) {
        struct seen seen = expect_event(f->poll, f->events, TOKEN);
        assert_int_equal(seen.events, 1);
        assert_true(seen.flags & SEEN_WRITABLE);
        assert_true(fill_rearming(f->poll, fd) > 0);
        expect_no_event(f->poll, f->events, 0); /* full: no room, no event */
        assert_true(drain(reader_end(kind, fds)) >= 1);
    }
    assert_int_equal(xpoll_deregister(f->poll, fd), 0);
    pair_close(kind, fds);
}

/* A read that returns fewer bytes than asked re-arms: a program that stops
 * there (the short-read rule, stream sockets and pipes with one writer)
 * hears about the next data on every backend. */
static void short_read_rearms(struct fixture *f, enum pair_kind kind)
{
    int fds[2];
    char buf[64];
    pair_open(kind, fds);
    assert_int_equal(xpoll_register(f->poll, fds[0], TOKEN, XPOLL_READABLE), 0);
    for (int round = 0; round < 3; round++) {
        put(kind, fds);
        readable_once(f);
        assert_int_equal(xpoll_read(f->poll, fds[0], buf, sizeof buf), 1);
    }
    assert_int_equal(xpoll_deregister(f->poll, fds[0]), 0);
    pair_close(kind, fds);
}

#define KIND_TEST(behaviour, kind, KIND)                                       \
    static void behaviour##__##kind(void **state)                              \
    {                                                                          \
        behaviour(*state, PAIR_##KIND);                                        \
    }

KIND_TEST(helpers_read_every_edge, tcp, TCP)
KIND_TEST(helpers_read_every_edge, udp, UDP)
KIND_TEST(helpers_read_every_edge, unix_stream, UNIX_STREAM)
KIND_TEST(helpers_read_every_edge, unix_dgram, UNIX_DGRAM)
KIND_TEST(helpers_read_every_edge, pipe, PIPE)
KIND_TEST(helpers_read_every_edge, eventfd, EVENTFD)
KIND_TEST(helpers_write_every_edge, tcp, TCP)
KIND_TEST(helpers_write_every_edge, unix_stream, UNIX_STREAM)
KIND_TEST(helpers_write_every_edge, unix_dgram, UNIX_DGRAM)
KIND_TEST(helpers_write_every_edge, pipe, PIPE)
KIND_TEST(short_read_rearms, tcp, TCP)
KIND_TEST(short_read_rearms, unix_stream, UNIX_STREAM)
KIND_TEST(short_read_rearms, pipe, PIPE)

/* A write that takes fewer bytes than offered re-arms too: a program that
 * keeps the rest and waits for room hears about it. */
static void short_write_rearms(void **state)
{
    struct fixture *f = *state;
    static const char big[1 << 20];
    int fds[2];
    pair_open(PAIR_UNIX_STREAM, fds);
    assert_int_equal(xpoll_register(f->poll, fds[0], TOKEN, XPOLL_WRITABLE), 0);
    assert_int_equal(expect_event(f->poll, f->events, TOKEN).events, 1);
    /* Offer more than the socket holds until it takes less: then stop,
     * without the call that would say EAGAIN. */
    ssize_t n;
    int writes = 0;
    do {
        n = xpoll_write(f->poll, fds[0], big, sizeof big);
        assert_true(n > 0 || n == -EAGAIN);
        writes++;
    } while (n == (ssize_t)sizeof big && writes < 64);
    expect_no_event(f->poll, f->events, 0);
    assert_true(drain(fds[1]) >= 1);
    struct seen seen = expect_event(f->poll, f->events, TOKEN);
    assert_true(seen.flags & SEEN_WRITABLE);
    assert_int_equal(xpoll_deregister(f->poll, fds[0]), 0);
    pair_close(PAIR_UNIX_STREAM, fds);
}

/* Every connection gets accepted: the listener is re-armed by the -EAGAIN
 * that ends each round, and a connection that arrives after it is a new
 * event. */
static void accept_on_takes_every_connection(void **state)
{
    struct fixture *f = *state;
    uint16_t port;
    int lfd = tcp_listener(&port);
    int clients[3], accepted[3], n = 0;
    assert_int_equal(xpoll_register(f->poll, lfd, TOKEN, XPOLL_READABLE), 0);
    clients[0] = connect_blocking(port);
    clients[1] = connect_blocking(port);
    /* Both handshakes are done; accept until -EAGAIN after every event
     * (a connection still on its way makes one more). */
    while (n < 2) {
        readable_once(f);
        int fd;
        while ((fd = xpoll_accept_on(f->poll, lfd)) >= 0) {
            assert_true(n < 2);
            accepted[n++] = fd;
        }
        assert_int_equal(fd, -EAGAIN);
    }
    expect_no_event(f->poll, f->events, 0);
    clients[2] = connect_blocking(port);
    readable_once(f);
    accepted[2] = xpoll_accept_on(f->poll, lfd);
    assert_true(accepted[2] >= 0);
    assert_int_equal(xpoll_accept_on(f->poll, lfd), -EAGAIN);
    for (int i = 0; i < 3; i++) {
        assert_flows(clients[i], accepted[i], "hello");
        close(clients[i]);
        close(accepted[i]);
    }
    assert_int_equal(xpoll_deregister(f->poll, lfd), 0);
    close(lfd);
}

/* ---- what the rule means on each backend -------------------------------- */

static void wake_now(void *arg)
{
    assert_int_equal(xpoll_waker_wake(arg), 0);
}

/* A wait without timeout on a poll whose only other registration holds a
 * condition that was already reported: the waiting thread is seen asleep
 * in the kernel's wait (not spinning through it), and only the wake ends
 * the wait, with the waker's event alone. */
static void wait_sleeps_until_woken(struct fixture *f)
{
    xpoll_waker *waker;
    assert_int_equal(xpoll_waker_new(f->poll, OTHER, &waker), 0);
    struct blocked_action b;
    blocked_action_start(&b, wake_now, waker);
    struct seen seen = {0};
    int n = wait_once(f->poll, f->events, -1, TOKEN, &seen);
    blocked_action_finish(&b);
    assert_int_equal(n, 1);
    assert_int_equal(seen.events, 0);
    assert_int_equal(xpoll_event_token(xpoll_events_get(f->events, 0)), OTHER);
    xpoll_waker_free(waker);
}

/* The writer goes away while the reader's direction is disarmed (reported,
 * never drained): the hang-up is heard once, then never again although
 * poll(2) keeps reporting it, so a wait blocks instead of spinning. */
static void hangup_of_a_disarmed_fd_is_heard_once(void **state)
{
    struct fixture *f = *state;
    int fds[2];
    pair_open(PAIR_PIPE, fds);
    assert_int_equal(xpoll_register(f->poll, fds[0], TOKEN, XPOLL_READABLE), 0);
    put(PAIR_PIPE, fds);
    readable_once(f);
    close(fds[1]);
    struct seen seen = expect_event(f->poll, f->events, TOKEN);
    assert_int_equal(seen.events, 1);
    assert_true(seen.flags & SEEN_READ_CLOSED);
    wait_fd(fds[0], POLLHUP);               /* the condition holds... */
    expect_no_event(f->poll, f->events, 0); /* ...and is not reported */
    wait_sleeps_until_woken(f);             /* ...nor polled in a loop */
    assert_int_equal(xpoll_deregister(f->poll, fds[0]), 0);
    close(fds[0]);
}

/* The same for an error: the write end of a pipe whose reader is gone
 * (POLLERR) after its writable edge was reported and never used. */
static void error_after_both_directions_reported_is_heard_once(void **state)
{
    struct fixture *f = *state;
    int fds[2];
    pair_open(PAIR_PIPE, fds);
    assert_int_equal(xpoll_register(f->poll, fds[1], TOKEN, XPOLL_WRITABLE), 0);
    struct seen seen = expect_event(f->poll, f->events, TOKEN);
    assert_true(seen.flags & SEEN_WRITABLE);
    close(fds[0]);
    seen = expect_event(f->poll, f->events, TOKEN);
    assert_int_equal(seen.events, 1);
    assert_true(seen.flags & SEEN_WRITE_CLOSED);
    wait_fd(fds[1], POLLOUT);
    expect_no_event(f->poll, f->events, 0);
    wait_sleeps_until_woken(f);
    assert_int_equal(xpoll_write(f->poll, fds[1], "x", 1), -EPIPE);
    assert_int_equal(xpoll_deregister(f->poll, fds[1]), 0);
    close(fds[1]);
}

/* A peer that sends data and a FIN: a program that reads until the end
 * through the helpers sees the data and the end on every backend. */
static void data_then_fin_through_helpers(void **state)
{
    struct fixture *f = *state;
    int fds[2];
    char buf[16];
    pair_open(PAIR_TCP, fds);
    assert_int_equal(xpoll_register(f->poll, fds[0], TOKEN, XPOLL_READABLE), 0);
    assert_int_equal(write(fds[1], "abc", 3), 3);
    readable_once(f);
    assert_int_equal(xpoll_read(f->poll, fds[0], buf, sizeof buf), 3);
    assert_int_equal(xpoll_read(f->poll, fds[0], buf, sizeof buf), -EAGAIN);
    assert_int_equal(shutdown(fds[1], SHUT_WR), 0);
    struct seen seen = expect_event(f->poll, f->events, TOKEN);
    assert_true(seen.flags & SEEN_READABLE);
    assert_int_equal(xpoll_read(f->poll, fds[0], buf, sizeof buf), 0);
    assert_int_equal(xpoll_deregister(f->poll, fds[0]), 0);
    pair_close(PAIR_TCP, fds);
}

/* ---- the helpers' own contract ------------------------------------------ */

static void helpers_check_arguments_before_any_io(void **state)
{
    struct fixture *f = *state;
    int fds[2];
    char buf[8];
    pair_open(PAIR_UNIX_DGRAM, fds);
    assert_int_equal(write(fds[1], "x", 1), 1);
    struct sockaddr_storage ss;
    socklen_t len = sizeof ss;

    assert_int_equal(xpoll_read(NULL, fds[0], buf, sizeof buf), -EINVAL);
    assert_int_equal(xpoll_recv(NULL, fds[0], buf, sizeof buf, 0), -EINVAL);
    assert_int_equal(xpoll_recvfrom(NULL, fds[0], buf, sizeof buf, 0,
                                    (struct sockaddr *)&ss, &len),
                     -EINVAL);
    assert_int_equal(xpoll_write(NULL, fds[1], "y", 1), -EINVAL);
    assert_int_equal(xpoll_send(NULL, fds[1], "y", 1, 0), -EINVAL);
    assert_int_equal(xpoll_sendto(NULL, fds[1], "y", 1, 0, NULL, 0), -EINVAL);
    assert_int_equal(xpoll_accept_on(NULL, fds[0]), -EINVAL);
    assert_int_equal(xpoll_read(f->poll, -1, buf, sizeof buf), -EBADF);
    assert_int_equal(xpoll_recv(f->poll, -1, buf, sizeof buf, 0), -EBADF);
    assert_int_equal(
        xpoll_recvfrom(f->poll, -1, buf, sizeof buf, 0, NULL, NULL), -EBADF);
    assert_int_equal(xpoll_write(f->poll, -1, "y", 1), -EBADF);
    assert_int_equal(xpoll_send(f->poll, -1, "y", 1, 0), -EBADF);
    assert_int_equal(xpoll_sendto(f->poll, -1, "y", 1, 0, NULL, 0), -EBADF);
    assert_int_equal(xpoll_accept_on(f->poll, -1), -EBADF);
    assert_int_equal(xpoll_accept_on(NULL, -1), -EINVAL);

    /* None of them touched a descriptor: the one datagram is still the
     * only one there. */
    assert_int_equal(read(fds[0], buf, sizeof buf), 1);
    assert_int_equal(buf[0], 'x');
    assert_int_equal(read(fds[0], buf, sizeof buf), -1);
    assert_int_equal(errno, EAGAIN);
    pair_close(PAIR_UNIX_DGRAM, fds);
}

/* -EAGAIN on every backend, registered or not (an unregistered descriptor
 * has nothing to re-arm), with errno as the caller had it. */
static void helpers_return_eagain_and_keep_errno(void **state)
{
    struct fixture *f = *state;
    int dgram[2], pipe_fds[2];
    char buf[8];
    uint16_t port;
    int lfd = tcp_listener(&port);
    pair_open(PAIR_UNIX_DGRAM, dgram);
    pair_open(PAIR_PIPE, pipe_fds);

    for (int registered = 0; registered < 2; registered++) {
        if (registered) {
            assert_int_equal(
                xpoll_register(f->poll, dgram[0], TOKEN, XPOLL_READABLE), 0);
            assert_int_equal(
                xpoll_register(f->poll, pipe_fds[1], OTHER, XPOLL_WRITABLE), 0);
            assert_int_equal(
                xpoll_register(f->poll, lfd, TOKEN + 1, XPOLL_READABLE), 0);
        }
        errno = 4242;
        assert_int_equal(xpoll_read(f->poll, dgram[0], buf, sizeof buf),
                         -EAGAIN);
        assert_int_equal(xpoll_recv(f->poll, dgram[0], buf, sizeof buf, 0),
                         -EAGAIN);
        assert_int_equal(
            xpoll_recvfrom(f->poll, dgram[0], buf, sizeof buf, 0, NULL, NULL),
            -EAGAIN);
        assert_int_equal(xpoll_accept_on(f->poll, lfd), -EAGAIN);
        assert_int_equal(errno, 4242);
        fill(pipe_fds[1]);
        errno = 4242;
        assert_int_equal(xpoll_write(f->poll, pipe_fds[1], "y", 1), -EAGAIN);
        assert_int_equal(errno, 4242);
        assert_true(drain(pipe_fds[0]) >= 1);
    }
    assert_int_equal(xpoll_deregister(f->poll, dgram[0]), 0);
    assert_int_equal(xpoll_deregister(f->poll, pipe_fds[1]), 0);
    assert_int_equal(xpoll_deregister(f->poll, lfd), 0);
    pair_close(PAIR_UNIX_DGRAM, dgram);
    pair_close(PAIR_PIPE, pipe_fds);
    close(lfd);
}

/* Errors other than EAGAIN come back as they are, errno kept. */
static void helpers_pass_other_errors_through(void **state)
{
    struct fixture *f = *state;
    int fds[2];
    char buf[8];
    pair_open(PAIR_PIPE, fds);
    int closed = closed_fd(); /* after the pipe, which could reuse it */

    errno = 4242;
    assert_int_equal(xpoll_read(f->poll, closed, buf, sizeof buf), -EBADF);
    assert_int_equal(xpoll_write(f->poll, closed, "x", 1), -EBADF);
    assert_int_equal(xpoll_recv(f->poll, fds[0], buf, sizeof buf, 0),
                     -ENOTSOCK);
    assert_int_equal(xpoll_send(f->poll, fds[1], "x", 1, 0), -ENOTSOCK);
    assert_int_equal(xpoll_accept_on(f->poll, fds[0]), -ENOTSOCK);
    close(fds[0]);
    assert_int_equal(xpoll_write(f->poll, fds[1], "x", 1), -EPIPE);
    assert_int_equal(errno, 4242);
    close(fds[1]);
}

/* sendto reaches the address it names, recvfrom names the sender. */
static void sendto_and_recvfrom_carry_addresses(void **state)
{
    struct fixture *f = *state;
    int a = xpoll_udp_bind("127.0.0.1:0", 0);
    int b = xpoll_udp_bind("127.0.0.1:0", 0);
    assert_true(a >= 0 && b >= 0);
    struct sockaddr_storage a_addr, b_addr, from;
    socklen_t a_len = sizeof a_addr, b_len = sizeof b_addr;
    assert_int_equal(getsockname(a, (struct sockaddr *)&a_addr, &a_len), 0);
    assert_int_equal(getsockname(b, (struct sockaddr *)&b_addr, &b_len), 0);
    assert_int_equal(xpoll_register(f->poll, b, TOKEN, XPOLL_READABLE), 0);

    for (int round = 0; round < 3; round++) {
        assert_int_equal(xpoll_sendto(f->poll, a, "hello", 5, 0,
                                      (struct sockaddr *)&b_addr, b_len),
                         5);
        readable_once(f);
        char buf[64];
        socklen_t from_len = sizeof from;
        memset(&from, 0, sizeof from);
        assert_int_equal(xpoll_recvfrom(f->poll, b, buf, sizeof buf, 0,
                                        (struct sockaddr *)&from, &from_len),
                         5);
        assert_memory_equal(buf, "hello", 5);
        assert_int_equal(from_len, a_len);
        assert_memory_equal(&from, &a_addr, a_len);
        assert_int_equal(
            xpoll_recvfrom(f->poll, b, buf, sizeof buf, 0, NULL, NULL),
            -EAGAIN);
    }
    assert_int_equal(xpoll_deregister(f->poll, b), 0);
    close(a);
    close(b);
}

/* A signal can interrupt any of these calls (EINTR, signal(7)): the helper
 * calls again and the caller sees the result. */
static void helpers_retry_eintr(void **state)
{
    struct fixture *f = *state;
    int fds[2];
    char buf[8];
    pair_open(PAIR_PIPE, fds);
    assert_int_equal(xpoll_register(f->poll, fds[0], TOKEN, XPOLL_READABLE), 0);

    inject_eintr(fds[1], 3);
    errno = 4242;
    assert_int_equal(xpoll_write(f->poll, fds[1], "ab", 2), 2);
    if (injected_left() != 0) {
        print_message("skipped: the library's calls cannot be interposed "
                      "here\n");
        skip();
    }
    assert_int_equal(errno, 4242);
    readable_once(f);
    inject_eintr(fds[0], 3);
    assert_int_equal(xpoll_read(f->poll, fds[0], buf, sizeof buf), 2);
    assert_int_equal(injected_left(), 0);
    assert_memory_equal(buf, "ab", 2);
    /* EINTR and then EAGAIN: still -EAGAIN, and re-armed. */
    inject_eintr(fds[0], 2);
    assert_int_equal(xpoll_read(f->poll, fds[0], buf, sizeof buf), -EAGAIN);
    assert_int_equal(injected_left(), 0);
    assert_int_equal(errno, 4242);
    put(PAIR_PIPE, fds);
    readable_once(f);
    assert_int_equal(xpoll_deregister(f->poll, fds[0]), 0);
    pair_close(PAIR_PIPE, fds);
}

/* fcntl(2) F_GETFD: a descriptor's FD_CLOEXEC, without which a child that
 * execs would inherit it. */
static void
every_new_descriptor_is_cloexec(const struct fd_set_snapshot *before)
{
    int fds[16];
    int n = fds_opened_since(before, fds, 16);
    assert_true(n <= 16);
    for (int i = 0; i < n; i++) {
        int flags = fcntl(fds[i], F_GETFD);
        assert_true(flags >= 0);
        assert_true(flags & FD_CLOEXEC);
    }
}

static void descriptors_of_a_poll_and_its_waker_are_cloexec(void **state)
{
    (void)state;
    struct fd_set_snapshot before;
    xpoll *poll;
    xpoll_waker *waker;
    fd_snapshot(&before);
    assert_int_equal(xpoll_new(&poll), 0);
    every_new_descriptor_is_cloexec(&before);
    assert_int_equal(xpoll_waker_new(poll, TOKEN, &waker), 0);
    every_new_descriptor_is_cloexec(&before);
    xpoll_waker_free(waker);
    xpoll_free(poll);
    /* And nothing stays open. */
    assert_int_equal(fds_opened_since(&before, NULL, 0), 0);
}

#define T(name)                                                                \
    cmocka_unit_test_setup_teardown(name, fixture_setup, fixture_teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(helpers_read_every_edge__tcp),
        T(helpers_read_every_edge__udp),
        T(helpers_read_every_edge__unix_stream),
        T(helpers_read_every_edge__unix_dgram),
        T(helpers_read_every_edge__pipe),
        T(helpers_read_every_edge__eventfd),
        T(helpers_write_every_edge__tcp),
        T(helpers_write_every_edge__unix_stream),
        T(helpers_write_every_edge__unix_dgram),
        T(helpers_write_every_edge__pipe),
        T(short_read_rearms__tcp),
        T(short_read_rearms__unix_stream),
        T(short_read_rearms__pipe),
        T(short_write_rearms),
        T(accept_on_takes_every_connection),
        T(hangup_of_a_disarmed_fd_is_heard_once),
        T(error_after_both_directions_reported_is_heard_once),
        T(data_then_fin_through_helpers),
        T(helpers_check_arguments_before_any_io),
        T(helpers_return_eagain_and_keep_errno),
        T(helpers_pass_other_errors_through),
        T(sendto_and_recvfrom_carry_addresses),
        T(helpers_retry_eintr),
        cmocka_unit_test(descriptors_of_a_poll_and_its_waker_are_cloexec),
    };
    return RUN(tests, NULL, NULL);
}
