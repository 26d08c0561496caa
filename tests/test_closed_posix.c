/*
 * read-closed, write-closed and error on what POSIX systems alone have: a
 * Unix stream socket's peer closing, and closed pipe ends.  Where epoll
 * and kqueue differ the test asserts each backend's documented meaning
 * (the accessor table in <xpoll/poll.h>, which follows mio's).  Built for
 * POSIX systems only.
 */
#define _GNU_SOURCE
#include "support_posix.h"

#include <errno.h>
#include <unistd.h>

enum { TOKEN = 77 };
#define RW (XPOLL_READABLE | XPOLL_WRITABLE)

static void unix_stream_peer_close(void **state)
{
    struct fixture *f = *state;
    int fds[2];
    pair_open(PAIR_UNIX_STREAM, fds);
    assert_int_equal(xpoll_register(f->poll, fds[0], TOKEN, RW), 0);
    expect_event(f->poll, f->events, TOKEN); /* the initial writable edge */
    close(fds[1]);
    struct seen seen = expect_flags(f->poll, f->events, TOKEN,
                                    SEEN_READ_CLOSED | SEEN_WRITE_CLOSED);
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

/* Deregistering a descriptor already closed is -EBADF on every backend
 * (test_closed.c says why), for pipes and Unix sockets too. */
static void deregister_after_close_is_ebadf(void **state)
{
    struct fixture *f = *state;
    const enum pair_kind kinds[] = {PAIR_PIPE, PAIR_UNIX_STREAM};
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
        T(unix_stream_peer_close),          T(pipe_writer_closed),
        T(pipe_writer_closed_empty),        T(pipe_reader_closed),
        T(deregister_after_close_is_ebadf),
    };
    return RUN(tests, NULL, NULL);
}
