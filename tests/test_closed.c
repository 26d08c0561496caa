/*
 * read-closed, write-closed and error: FIN, RST, shutdown() and a refused
 * connect on TCP.  Where the backends differ the test asserts each
 * backend's documented meaning (the accessor table in <xpoll/poll.h>,
 * which follows mio's).  Closed pipe ends and Unix sockets are in
 * test_closed_posix.c.
 */
#define _GNU_SOURCE
#include "support.h"

#include <errno.h>

enum { TOKEN = 77 };
#define RW (XPOLL_READABLE | XPOLL_WRITABLE)

static struct seen register_and_wait(struct fixture *f, xpoll_socket fd,
                                     xpoll_interests interests)
{
    assert_int_equal(xpoll_register(f->poll, fd, TOKEN, interests), 0);
    return expect_event(f->poll, f->events, TOKEN);
}

static void tcp_peer_fin_closes_read_half(void **state)
{
    struct fixture *f = *state;
    xpoll_socket fds[2];
    tcp_pair(fds);
    fd_close(fds[1]);
    struct seen seen = register_and_wait(f, fds[0], RW);
    assert_true(seen.flags & SEEN_READABLE);
    assert_true(seen.flags & SEEN_READ_CLOSED);
    /* A FIN says nothing about our direction: writing still works. */
    assert_true(seen.flags & SEEN_WRITABLE);
    assert_false(seen.flags & SEEN_WRITE_CLOSED);
    assert_false(seen.flags & SEEN_ERROR);
    fd_close(fds[0]);
}

static void tcp_fin_while_registered(void **state)
{
    struct fixture *f = *state;
    xpoll_socket fds[2];
    tcp_pair(fds);
    assert_int_equal(xpoll_register(f->poll, fds[0], TOKEN, XPOLL_READABLE), 0);
    expect_no_event(f->poll, f->events, 0);
    fd_close(fds[1]);
    struct seen seen = expect_event(f->poll, f->events, TOKEN);
    assert_true(seen.flags & SEEN_READ_CLOSED);
    assert_false(seen.flags & SEEN_ERROR);
    fd_close(fds[0]);
}

static void tcp_peer_shutdown_wr(void **state)
{
    struct fixture *f = *state;
    xpoll_socket fds[2];
    tcp_pair(fds);
    shutdown_write(fds[1]);
    struct seen seen = register_and_wait(f, fds[0], XPOLL_READABLE);
    assert_true(seen.flags & SEEN_READ_CLOSED);
    assert_false(seen.flags & (SEEN_WRITE_CLOSED | SEEN_ERROR));
    pair_close(PAIR_TCP, fds);
}

static void tcp_peer_reset(void **state)
{
    struct fixture *f = *state;
    xpoll_socket fds[2];
    tcp_pair(fds);
    close_with_reset(fds[1]);
    struct seen seen = register_and_wait(f, fds[0], RW);
    assert_true(seen.flags & SEEN_READ_CLOSED);
    assert_true(seen.flags & SEEN_WRITE_CLOSED);
    assert_true(seen.flags & SEEN_ERROR);
    /* Windows keeps no reset in SO_ERROR: Wine's own conformance test
     * (dlls/ws2_32/tests/sock.c, after close_with_rst) expects 0 there,
     * and Wine's server/sock.c sock_error() turns a reset into 0 to match.
     * The accessors above are what tells a reset on every backend. */
    assert_int_equal(so_error(fds[0]), on_iocp() ? 0 : ECONNRESET);
    fd_close(fds[0]);
}

static void tcp_write_after_peer_close(void **state)
{
    struct fixture *f = *state;
    xpoll_socket fds[2];
    tcp_pair(fds);
    assert_int_equal(xpoll_register(f->poll, fds[0], TOKEN, RW), 0);
    fd_close(fds[1]);
    expect_flags(f->poll, f->events, TOKEN, SEEN_READ_CLOSED);
    /* The peer is gone: our data draws an RST. */
    assert_int_equal(fd_write(fds[0], "x", 1), 1);
    struct seen seen =
        expect_flags(f->poll, f->events, TOKEN, SEEN_WRITE_CLOSED);
    assert_true(seen.flags & SEEN_WRITE_CLOSED);
    assert_true(seen.flags & SEEN_ERROR);
    assert_int_equal(fd_write(fds[0], "x", 1), -1);
    assert_true(errno == EPIPE || errno == ECONNRESET);
    fd_close(fds[0]);
}

/* A local shutdown of both halves: epoll and kqueue report both halves
 * closed.  AFD sets no bit for a local shutdown: Wine's afd.c test_poll
 * expects AFD_POLL_WRITE | AFD_POLL_CONNECT after shutdown(SD_RECEIVE)
 * and shutdown(SD_SEND), on Windows as on Wine (no todo_wine), so iocp
 * reports writable and neither half closed. */
static void tcp_local_shutdown_both(void **state)
{
    struct fixture *f = *state;
    xpoll_socket fds[2];
    tcp_pair(fds);
    shutdown_both(fds[0]);
    struct seen seen = register_and_wait(f, fds[0], RW);
    if (on_iocp()) {
        assert_true(seen.flags & SEEN_WRITABLE);
        assert_false(seen.flags & (SEEN_READ_CLOSED | SEEN_WRITE_CLOSED));
    } else {
        assert_true(seen.flags & SEEN_READ_CLOSED);
        assert_true(seen.flags & SEEN_WRITE_CLOSED);
    }
    pair_close(PAIR_TCP, fds);
}

static void tcp_local_shutdown_wr(void **state)
{
    struct fixture *f = *state;
    xpoll_socket fds[2];
    tcp_pair(fds);
    shutdown_write(fds[0]);
    struct seen seen = register_and_wait(f, fds[0], XPOLL_WRITABLE);
    /* kqueue reports EV_EOF on the write filter; Linux sets no poll bit
     * for a local SHUT_WR (net/ipv4/tcp.c tcp_poll has no bit for a send
     * side shut alone), so epoll cannot, and AFD has none either (Wine's
     * afd.c test_poll: AFD_POLL_WRITE | AFD_POLL_CONNECT after
     * shutdown(SD_SEND)), so iocp cannot. */
    if (on_kqueue())
        assert_true(seen.flags & SEEN_WRITE_CLOSED);
    else
        assert_false(seen.flags & SEEN_WRITE_CLOSED);
    assert_false(seen.flags & SEEN_ERROR);
    pair_close(PAIR_TCP, fds);
}

static void tcp_connect_refused(void **state)
{
    struct fixture *f = *state;
    uint16_t port;
    fd_close(tcp_listener(&port)); /* a port nobody listens on */
    xpoll_socket fd = tcp_socket();
    int err = tcp_connect(fd, port);
    assert_true(err == EINPROGRESS || err == ECONNREFUSED);
    struct seen seen = register_and_wait(f, fd, RW);
    assert_true(seen.flags & SEEN_ERROR);
    assert_true(seen.flags & SEEN_WRITE_CLOSED);
    assert_int_equal(so_error(fd), ECONNREFUSED);
    fd_close(fd);
}

/* Deregistering a descriptor already closed is -EBADF on every backend:
 * epoll_ctl(2) looks the fd up first (EBADF), FreeBSD's kevent() too; a
 * macOS EV_DELETE answers ENOENT for the knote the close removed, and the
 * backend then finds the fd closed; iocp finds the handle closed
 * (GetHandleInformation).  Sockets of both kinds here, pipes and Unix
 * sockets in test_closed_posix.c. */
static void deregister_after_close_is_ebadf(void **state)
{
    struct fixture *f = *state;
    const enum pair_kind kinds[] = {PAIR_TCP, PAIR_UDP};
    for (size_t i = 0; i < sizeof kinds / sizeof kinds[0]; i++) {
        xpoll_socket fds[2];
        pair_open(kinds[i], fds);
        assert_int_equal(xpoll_register(f->poll, fds[0], TOKEN, RW), 0);
        fd_close(fds[0]);
        assert_int_equal(xpoll_deregister(f->poll, fds[0]), -EBADF);
        fd_close(fds[1]);
    }
}

#define T(name)                                                                \
    cmocka_unit_test_setup_teardown(name, fixture_setup, fixture_teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(tcp_peer_fin_closes_read_half),
        T(tcp_fin_while_registered),
        T(tcp_peer_shutdown_wr),
        T(tcp_peer_reset),
        T(tcp_write_after_peer_close),
        T(tcp_local_shutdown_both),
        T(tcp_local_shutdown_wr),
        T(tcp_connect_refused),
        T(deregister_after_close_is_ebadf),
    };
    return RUN(tests, NULL, NULL);
}
