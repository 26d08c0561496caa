/*
 * read-closed, write-closed and error: FIN, RST, shutdown(), a refused
 * connect and closed pipe ends.  Where epoll and kqueue differ the test
 * asserts each backend's documented meaning (the accessor table in
 * <xpoll/poll.h>, which follows mio's).
 */
#define _GNU_SOURCE
#include "support_posix.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

enum { TOKEN = 77 };
#define RW (XPOLL_READABLE | XPOLL_WRITABLE)

static struct seen register_and_wait(struct fixture *f, int fd,
                                     xpoll_interests interests)
{
    assert_int_equal(xpoll_register(f->poll, fd, TOKEN, interests), 0);
    return expect_event(f->poll, f->events, TOKEN);
}

/* Wait until the token has reported every bit of `flags` (the initial
 * writable edge may come first); returns everything seen on the way. */
static struct seen wait_for(struct fixture *f, uint32_t flags)
{
    struct seen all = {0};
    for (int i = 0; i < 10 && (all.flags & flags) != flags; i++) {
        struct seen seen = expect_event(f->poll, f->events, TOKEN);
        all.events += seen.events;
        all.flags |= seen.flags;
    }
    return all;
}

static void tcp_peer_fin_closes_read_half(void **state)
{
    struct fixture *f = *state;
    int fds[2];
    tcp_pair(fds);
    close(fds[1]);
    struct seen seen = register_and_wait(f, fds[0], RW);
    assert_true(seen.flags & SEEN_READABLE);
    assert_true(seen.flags & SEEN_READ_CLOSED);
    /* A FIN says nothing about our direction: writing still works. */
    assert_true(seen.flags & SEEN_WRITABLE);
    assert_false(seen.flags & SEEN_WRITE_CLOSED);
    assert_false(seen.flags & SEEN_ERROR);
    close(fds[0]);
}

static void tcp_fin_while_registered(void **state)
{
    struct fixture *f = *state;
    int fds[2];
    tcp_pair(fds);
    assert_int_equal(xpoll_register(f->poll, fds[0], TOKEN, XPOLL_READABLE), 0);
    expect_no_event(f->poll, f->events, 0);
    close(fds[1]);
    struct seen seen = expect_event(f->poll, f->events, TOKEN);
    assert_true(seen.flags & SEEN_READ_CLOSED);
    assert_false(seen.flags & SEEN_ERROR);
    close(fds[0]);
}

static void tcp_peer_shutdown_wr(void **state)
{
    struct fixture *f = *state;
    int fds[2];
    tcp_pair(fds);
    assert_int_equal(shutdown(fds[1], SHUT_WR), 0);
    struct seen seen = register_and_wait(f, fds[0], XPOLL_READABLE);
    assert_true(seen.flags & SEEN_READ_CLOSED);
    assert_false(seen.flags & (SEEN_WRITE_CLOSED | SEEN_ERROR));
    pair_close(PAIR_TCP, fds);
}

static void reset(int fd)
{
    struct linger lin = {.l_onoff = 1, .l_linger = 0};
    assert_int_equal(setsockopt(fd, SOL_SOCKET, SO_LINGER, &lin, sizeof lin),
                     0);
    close(fd); /* RST instead of FIN */
}

static void tcp_peer_reset(void **state)
{
    struct fixture *f = *state;
    int fds[2];
    tcp_pair(fds);
    reset(fds[1]);
    struct seen seen = register_and_wait(f, fds[0], RW);
    assert_true(seen.flags & SEEN_READ_CLOSED);
    assert_true(seen.flags & SEEN_WRITE_CLOSED);
    assert_true(seen.flags & SEEN_ERROR);
    assert_int_equal(so_error(fds[0]), ECONNRESET);
    close(fds[0]);
}

static void tcp_write_after_peer_close(void **state)
{
    struct fixture *f = *state;
    int fds[2];
    tcp_pair(fds);
    assert_int_equal(xpoll_register(f->poll, fds[0], TOKEN, RW), 0);
    close(fds[1]);
    wait_for(f, SEEN_READ_CLOSED);
    /* The peer is gone: our data draws an RST. */
    assert_int_equal(write(fds[0], "x", 1), 1);
    struct seen seen = wait_for(f, SEEN_WRITE_CLOSED);
    assert_true(seen.flags & SEEN_WRITE_CLOSED);
    assert_true(seen.flags & SEEN_ERROR);
    assert_int_equal(write(fds[0], "x", 1), -1);
    assert_true(errno == EPIPE || errno == ECONNRESET);
    close(fds[0]);
}

static void tcp_local_shutdown_both(void **state)
{
    struct fixture *f = *state;
    int fds[2];
    tcp_pair(fds);
    assert_int_equal(shutdown(fds[0], SHUT_RDWR), 0);
    struct seen seen = register_and_wait(f, fds[0], RW);
    assert_true(seen.flags & SEEN_READ_CLOSED);
    assert_true(seen.flags & SEEN_WRITE_CLOSED);
    pair_close(PAIR_TCP, fds);
}

static void tcp_local_shutdown_wr(void **state)
{
    struct fixture *f = *state;
    int fds[2];
    tcp_pair(fds);
    assert_int_equal(shutdown(fds[0], SHUT_WR), 0);
    struct seen seen = register_and_wait(f, fds[0], XPOLL_WRITABLE);
    /* kqueue reports EV_EOF on the write filter; Linux sets no poll bit
     * for a local SHUT_WR (net/ipv4/tcp.c tcp_poll has no bit for a send
     * side shut alone), so epoll cannot. */
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
    close(tcp_listener(&port)); /* a port nobody listens on */
    struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = htons(port)};
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(fd >= 0);
    set_nonblock(fd);
    int rc = connect(fd, (struct sockaddr *)&sin, sizeof sin);
    assert_true(rc == 0 || errno == EINPROGRESS || errno == ECONNREFUSED);
    struct seen seen = register_and_wait(f, fd, RW);
    assert_true(seen.flags & SEEN_ERROR);
    assert_true(seen.flags & SEEN_WRITE_CLOSED);
    assert_int_equal(so_error(fd), ECONNREFUSED);
    close(fd);
}

static void unix_stream_peer_close(void **state)
{
    struct fixture *f = *state;
    int fds[2];
    pair_open(PAIR_UNIX_STREAM, fds);
    assert_int_equal(xpoll_register(f->poll, fds[0], TOKEN, RW), 0);
    expect_event(f->poll, f->events, TOKEN); /* the initial writable edge */
    close(fds[1]);
    struct seen seen = wait_for(f, SEEN_READ_CLOSED | SEEN_WRITE_CLOSED);
    assert_true(seen.flags & SEEN_READ_CLOSED);
    assert_true(seen.flags & SEEN_WRITE_CLOSED);
    assert_false(seen.flags & SEEN_ERROR);
    close(fds[0]);
}

static void pipe_writer_closed(void **state)
{
    struct fixture *f = *state;
    int fds[2];
    pair_open(PAIR_PIPE, fds);
    assert_int_equal(xpoll_register(f->poll, fds[0], TOKEN, XPOLL_READABLE), 0);
    assert_int_equal(write(fds[1], "abc", 3), 3);
    close(fds[1]);
    struct seen seen = expect_event(f->poll, f->events, TOKEN);
    assert_true(seen.flags & SEEN_READABLE); /* 3 bytes are still there */
    assert_true(seen.flags & SEEN_READ_CLOSED);
    assert_false(seen.flags & SEEN_ERROR);
    close(fds[0]);
}

static void pipe_writer_closed_empty(void **state)
{
    struct fixture *f = *state;
    int fds[2];
    pair_open(PAIR_PIPE, fds);
    assert_int_equal(xpoll_register(f->poll, fds[0], TOKEN, XPOLL_READABLE), 0);
    close(fds[1]);
    struct seen seen = expect_event(f->poll, f->events, TOKEN);
    assert_true(seen.flags & SEEN_READ_CLOSED);
    /* epoll says EPOLLHUP alone (nothing to read); kqueue fires the read
     * filter with EV_EOF, which reads as readable. */
    if (on_kqueue())
        assert_true(seen.flags & SEEN_READABLE);
    else
        assert_false(seen.flags & SEEN_READABLE);
    close(fds[0]);
}

static void pipe_reader_closed(void **state)
{
    struct fixture *f = *state;
    int fds[2];
    pair_open(PAIR_PIPE, fds);
    assert_int_equal(xpoll_register(f->poll, fds[1], TOKEN, XPOLL_WRITABLE), 0);
    expect_event(f->poll, f->events, TOKEN); /* the initial writable edge */
    close(fds[0]);
    struct seen seen = expect_event(f->poll, f->events, TOKEN);
    assert_true(seen.flags & SEEN_WRITE_CLOSED);
    assert_false(seen.flags & SEEN_READ_CLOSED);
    /* epoll: EPOLLOUT|EPOLLERR (error); kqueue: EV_EOF, fflags 0. */
    if (on_kqueue())
        assert_false(seen.flags & SEEN_ERROR);
    else
        assert_true(seen.flags & SEEN_ERROR);
    assert_int_equal(write(fds[1], "x", 1), -1);
    assert_int_equal(errno, EPIPE);
    close(fds[1]);
}

/* Deregistering a descriptor already closed is -EBADF on every backend:
 * epoll_ctl(2) looks the fd up first (EBADF), FreeBSD's kevent() too; a
 * macOS EV_DELETE answers ENOENT for the knote the close removed, and the
 * backend then finds the fd closed.  Pipes and sockets alike. */
static void deregister_after_close_is_ebadf(void **state)
{
    struct fixture *f = *state;
    const enum pair_kind kinds[] = {PAIR_PIPE, PAIR_UNIX_STREAM, PAIR_TCP};
    for (size_t i = 0; i < sizeof kinds / sizeof kinds[0]; i++) {
        /* fds[0] of a pipe is its read end. */
        xpoll_interests interests = kinds[i] == PAIR_PIPE ? XPOLL_READABLE : RW;
        int fds[2];
        pair_open(kinds[i], fds);
        assert_int_equal(xpoll_register(f->poll, fds[0], TOKEN, interests), 0);
        close(fds[0]);
        assert_int_equal(xpoll_deregister(f->poll, fds[0]), -EBADF);
        close(fds[1]);
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
        T(unix_stream_peer_close),
        T(pipe_writer_closed),
        T(pipe_writer_closed_empty),
        T(pipe_reader_closed),
        T(deregister_after_close_is_ebadf),
    };
    return RUN(tests, NULL, NULL);
}
