/*
 * Edge-triggered readiness on every kind of descriptor a server polls:
 * TCP, UDP, Unix stream and datagram sockets, pipes and an eventfd (where
 * the system has one: Linux, FreeBSD).
 *
 *  - an event per edge (the descriptor becomes ready: one event);
 *  - no second event while the readiness is not consumed to EAGAIN;
 *  - new readiness after EAGAIN gives a new event;
 *  - the same for writability: an initial edge, then one after the peer
 *    drains a full buffer.
 *
 * Every test that reads or writes until EAGAIN then calls xpoll_rearm()
 * for that direction, as the contract asks of every program: free on
 * epoll and kqueue (no system call), required on the level-triggered
 * poll(2) backend, which reports a direction once and then waits for the
 * re-arm.
 */
#define _GNU_SOURCE
#include "support.h"

#include <errno.h>
#include <stdint.h>
#include <unistd.h>

enum { TOKEN = 0x5eed };

/* The end that becomes writable when the reader drains: a pipe writes on
 * fds[1]; sockets and the eventfd test their own end. */
static int writer_end(enum pair_kind kind, int fds[2])
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

static void one_event_per_edge(struct fixture *f, enum pair_kind kind)
{
    int fds[2];
    pair_open(kind, fds);
    assert_int_equal(xpoll_register(f->poll, fds[0], TOKEN, XPOLL_READABLE), 0);
    expect_no_event(f->poll, f->events, 0);
    put(kind, fds);
    readable_once(f);
    pair_close(kind, fds);
}

static void no_second_event_before_eagain(struct fixture *f,
                                          enum pair_kind kind)
{
    int fds[2];
    pair_open(kind, fds);
    assert_int_equal(xpoll_register(f->poll, fds[0], TOKEN, XPOLL_READABLE), 0);
    put(kind, fds);
    readable_once(f);
    /* Still readable, but the edge was delivered: nothing more. */
    expect_no_event(f->poll, f->events, 20 * MS);
    expect_no_event(f->poll, f->events, 0);
    pair_close(kind, fds);
}

static void new_data_after_eagain(struct fixture *f, enum pair_kind kind)
{
    int fds[2];
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

static void partial_read_gives_no_event(struct fixture *f, enum pair_kind kind)
{
    int fds[2];
    char byte;
    pair_open(kind, fds);
    assert_int_equal(xpoll_register(f->poll, fds[0], TOKEN, XPOLL_READABLE), 0);
    assert_int_equal(write(fds[1], "ab", 2), 2);
    readable_once(f);
    /* Consuming part of the data is not EAGAIN: no new edge. */
    assert_int_equal(read(fds[0], &byte, 1), 1);
    expect_no_event(f->poll, f->events, 10 * MS);
    pair_close(kind, fds);
}

static void writable_initial_edge(struct fixture *f, enum pair_kind kind)
{
    int fds[2];
    pair_open(kind, fds);
    int fd = writer_end(kind, fds);
    assert_int_equal(xpoll_register(f->poll, fd, TOKEN, XPOLL_WRITABLE), 0);
    struct seen seen = expect_event(f->poll, f->events, TOKEN);
    assert_int_equal(seen.events, 1);
    assert_true(seen.flags & SEEN_WRITABLE);
    assert_false(seen.flags & SEEN_READABLE);
    expect_no_event(f->poll, f->events, 10 * MS);
    pair_close(kind, fds);
}

/* eventfd: "full" means the counter is at its maximum, 2^64 - 2. */
static void fill_writer(enum pair_kind kind, int fd)
{
    if (kind == PAIR_EVENTFD) {
        uint64_t max = UINT64_MAX - 1, one = 1;
        assert_int_equal(write(fd, &max, sizeof max), (ssize_t)sizeof max);
        assert_int_equal(write(fd, &one, sizeof one), -1);
        assert_int_equal(errno, EAGAIN);
    } else {
        assert_true(fill(fd) > 0);
    }
}

static void writable_again_after_drain(struct fixture *f, enum pair_kind kind)
{
    int fds[2];
    pair_open(kind, fds);
    int fd = writer_end(kind, fds);
    int reader = kind == PAIR_PIPE || kind == PAIR_EVENTFD ? fds[0] : fds[1];
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
static void both_interests(struct fixture *f, enum pair_kind kind)
{
    int fds[2];
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

#define KIND_TEST(behaviour, kind, KIND)                                       \
    static void behaviour##__##kind(void **state)                              \
    {                                                                          \
        behaviour(*state, PAIR_##KIND);                                        \
    }
#define READ_TESTS(kind, KIND)                                                 \
    KIND_TEST(one_event_per_edge, kind, KIND)                                  \
    KIND_TEST(no_second_event_before_eagain, kind, KIND)                       \
    KIND_TEST(new_data_after_eagain, kind, KIND)                               \
    KIND_TEST(writable_initial_edge, kind, KIND)

READ_TESTS(tcp, TCP)
READ_TESTS(udp, UDP)
READ_TESTS(unix_stream, UNIX_STREAM)
READ_TESTS(unix_dgram, UNIX_DGRAM)
READ_TESTS(pipe, PIPE)
READ_TESTS(eventfd, EVENTFD)
/* A pipe's read end is never writable, so it has no merged event. */
KIND_TEST(both_interests, tcp, TCP)
KIND_TEST(both_interests, udp, UDP)
KIND_TEST(both_interests, unix_stream, UNIX_STREAM)
KIND_TEST(both_interests, unix_dgram, UNIX_DGRAM)
KIND_TEST(both_interests, eventfd, EVENTFD)
/* A byte stream can be read in part; datagrams and eventfd reads are whole. */
KIND_TEST(partial_read_gives_no_event, tcp, TCP)
KIND_TEST(partial_read_gives_no_event, unix_stream, UNIX_STREAM)
KIND_TEST(partial_read_gives_no_event, pipe, PIPE)
/* UDP never reports a full send buffer on loopback (datagrams are dropped
 * at the receiver instead), so it has no "writable again" edge to test. */
KIND_TEST(writable_again_after_drain, tcp, TCP)
KIND_TEST(writable_again_after_drain, unix_stream, UNIX_STREAM)
KIND_TEST(writable_again_after_drain, unix_dgram, UNIX_DGRAM)
KIND_TEST(writable_again_after_drain, pipe, PIPE)
KIND_TEST(writable_again_after_drain, eventfd, EVENTFD)

#define T(name)                                                                \
    cmocka_unit_test_setup_teardown(name, fixture_setup, fixture_teardown)
#define READ_ENTRIES(kind)                                                     \
    T(one_event_per_edge__##kind), T(no_second_event_before_eagain__##kind),   \
        T(new_data_after_eagain__##kind), T(writable_initial_edge__##kind)

int main(void)
{
    const struct CMUnitTest tests[] = {
        READ_ENTRIES(tcp),
        READ_ENTRIES(udp),
        READ_ENTRIES(unix_stream),
        READ_ENTRIES(unix_dgram),
        READ_ENTRIES(pipe),
        READ_ENTRIES(eventfd),
        T(both_interests__tcp),
        T(both_interests__udp),
        T(both_interests__unix_stream),
        T(both_interests__unix_dgram),
        T(both_interests__eventfd),
        T(partial_read_gives_no_event__tcp),
        T(partial_read_gives_no_event__unix_stream),
        T(partial_read_gives_no_event__pipe),
        T(writable_again_after_drain__tcp),
        T(writable_again_after_drain__unix_stream),
        T(writable_again_after_drain__unix_dgram),
        T(writable_again_after_drain__pipe),
        T(writable_again_after_drain__eventfd),
    };
    return RUN(tests, NULL, NULL);
}
