/* The edge-triggered behaviours of test_edge.c and test_edge_posix.c, each
 * run on one pair kind (edge.h). */
#include "edge.h"

#include <errno.h>
#include <stdint.h>

enum { TOKEN = 0x5eed };

/* The end that becomes writable when the reader drains: a pipe writes on
 * fds[1]; sockets and the eventfd test their own end. */
static xpoll_socket writer_end(enum pair_kind kind, xpoll_socket fds[2])
{
    return kind == PAIR_PIPE ? fds[1] : fds[0];
}

static void readable_once(struct fixture *f)
{
    struct seen seen = expect_event(f->poll, f->events, TOKEN);
    assert_int_equal(seen.events, 1);
    assert_true(seen.flags & SEEN_READABLE);
    assert_false(seen.flags & (SEEN_READ_CLOSED | SEEN_ERROR));
}

void one_event_per_edge(struct fixture *f, enum pair_kind kind)
{
    xpoll_socket fds[2];
    pair_open(kind, fds);
    assert_int_equal(xpoll_register(f->poll, fds[0], TOKEN, XPOLL_READABLE), 0);
    expect_no_event(f->poll, f->events, 0);
    put(kind, fds);
    readable_once(f);
    pair_close(kind, fds);
}

void no_second_event_before_eagain(struct fixture *f, enum pair_kind kind)
{
    xpoll_socket fds[2];
    pair_open(kind, fds);
    assert_int_equal(xpoll_register(f->poll, fds[0], TOKEN, XPOLL_READABLE), 0);
    put(kind, fds);
    readable_once(f);
    /* Still readable, but the edge was delivered: nothing more. */
    expect_no_event(f->poll, f->events, 20 * MS);
    expect_no_event(f->poll, f->events, 0);
    pair_close(kind, fds);
}

void new_data_after_eagain(struct fixture *f, enum pair_kind kind)
{
    xpoll_socket fds[2];
    pair_open(kind, fds);
    assert_int_equal(xpoll_register(f->poll, fds[0], TOKEN, XPOLL_READABLE), 0);
    for (int round = 0; round < 3; round++) {
        put(kind, fds);
        readable_once(f);
        assert_true(drain(fds[0]) >= 1);
        assert_int_equal(xpoll_rearm(f->poll, fds[0], XPOLL_READABLE), 0);
        expect_no_event(f->poll, f->events, 0);
    }
    pair_close(kind, fds);
}

void partial_read_gives_no_event(struct fixture *f, enum pair_kind kind)
{
    xpoll_socket fds[2];
    char byte;
    pair_open(kind, fds);
    assert_int_equal(xpoll_register(f->poll, fds[0], TOKEN, XPOLL_READABLE), 0);
    assert_int_equal(fd_write(fds[1], "ab", 2), 2);
    readable_once(f);
    /* Consuming part of the data is not EAGAIN: no new edge. */
    assert_int_equal(fd_read(fds[0], &byte, 1), 1);
    expect_no_event(f->poll, f->events, 10 * MS);
    pair_close(kind, fds);
}

void writable_initial_edge(struct fixture *f, enum pair_kind kind)
{
    xpoll_socket fds[2];
    pair_open(kind, fds);
    xpoll_socket fd = writer_end(kind, fds);
    assert_int_equal(xpoll_register(f->poll, fd, TOKEN, XPOLL_WRITABLE), 0);
    struct seen seen = expect_event(f->poll, f->events, TOKEN);
    assert_int_equal(seen.events, 1);
    assert_true(seen.flags & SEEN_WRITABLE);
    assert_false(seen.flags & SEEN_READABLE);
    expect_no_event(f->poll, f->events, 10 * MS);
    pair_close(kind, fds);
}

/* eventfd: "full" means the counter is at its maximum, 2^64 - 2. */
static void fill_writer(enum pair_kind kind, xpoll_socket fd)
{
    if (kind == PAIR_EVENTFD) {
        uint64_t max = UINT64_MAX - 1, one = 1;
        assert_int_equal(fd_write(fd, &max, sizeof max), (ssize_t)sizeof max);
        assert_int_equal(fd_write(fd, &one, sizeof one), -1);
        assert_int_equal(errno, EAGAIN);
    } else {
        assert_true(fill(fd) > 0);
    }
}

void writable_again_after_drain(struct fixture *f, enum pair_kind kind)
{
    xpoll_socket fds[2];
    pair_open(kind, fds);
    xpoll_socket fd = writer_end(kind, fds);
    xpoll_socket reader =
        kind == PAIR_PIPE || kind == PAIR_EVENTFD ? fds[0] : fds[1];
    assert_int_equal(xpoll_register(f->poll, fd, TOKEN, XPOLL_WRITABLE), 0);
    assert_int_equal(expect_event(f->poll, f->events, TOKEN).events, 1);
    fill_writer(kind, fd);
    assert_int_equal(xpoll_rearm(f->poll, fd, XPOLL_WRITABLE), 0);
    expect_no_event(f->poll, f->events, 10 * MS);
    assert_true(drain(reader) >= 1);
    struct seen seen = expect_event(f->poll, f->events, TOKEN);
    assert_int_equal(seen.events, 1);
    assert_true(seen.flags & SEEN_WRITABLE);
    pair_close(kind, fds);
}

/* Both interests on one descriptor: readable and writable arrive merged
 * (epoll) or split in two events with the same token (kqueue). */
void both_interests(struct fixture *f, enum pair_kind kind)
{
    xpoll_socket fds[2];
    pair_open(kind, fds);
    assert_int_equal(
        xpoll_register(f->poll, fds[0], TOKEN, XPOLL_READABLE | XPOLL_WRITABLE),
        0);
    put(kind, fds);
    struct seen seen = expect_event(f->poll, f->events, TOKEN);
    assert_true(seen.flags & SEEN_READABLE);
    assert_true(seen.flags & SEEN_WRITABLE);
    assert_int_equal(seen.events, on_kqueue() ? 2 : 1);
    pair_close(kind, fds);
}
