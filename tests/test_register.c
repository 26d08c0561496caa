/*
 * reregister and deregister: interests and tokens change, queued readiness
 * for a dropped interest or a deregistered fd is never delivered, and a
 * descriptor closed while registered reports nothing more.  The cases of
 * reused descriptor numbers, dup() and dup2() are in test_register_posix.c.
 */
#define _GNU_SOURCE
#include "support.h"

#include <errno.h>

enum { OLD = 100, NEW = 200 };

static void reregister_changes_token(void **state)
{
    struct fixture *f = *state;
    xpoll_socket fds[2];
    pair_open(pair_stream, fds);
    assert_int_equal(xpoll_register(f->poll, fds[0], OLD, XPOLL_READABLE), 0);
    assert_int_equal(xpoll_reregister(f->poll, fds[0], NEW, XPOLL_READABLE), 0);
    put(pair_stream, fds);
    struct seen old = {0};
    assert_int_equal(wait_once(f->poll, f->events, SEC, OLD, &old), 1);
    assert_int_equal(old.events, 0);
    assert_int_equal(xpoll_event_token(xpoll_events_get(f->events, 0)), NEW);
    pair_close(pair_stream, fds);
}

static void reregister_read_to_write(void **state)
{
    struct fixture *f = *state;
    xpoll_socket fds[2];
    pair_open(pair_stream, fds);
    assert_int_equal(xpoll_register(f->poll, fds[0], OLD, XPOLL_READABLE), 0);
    expect_no_event(f->poll, f->events, 0);
    /* mio's `reregistering`: a connected stream asked for WRITABLE
     * reports it, since it already holds. */
    assert_int_equal(xpoll_reregister(f->poll, fds[0], NEW, XPOLL_WRITABLE), 0);
    struct seen seen = expect_event(f->poll, f->events, NEW);
    assert_true(seen.flags & SEEN_WRITABLE);
    assert_false(seen.flags & SEEN_READABLE);
    /* Data now arrives, but READABLE was dropped. */
    put(pair_stream, fds);
    expect_no_event(f->poll, f->events, 20 * MS);
    pair_close(pair_stream, fds);
}

static void reregister_reports_pending_readiness(void **state)
{
    struct fixture *f = *state;
    xpoll_socket fds[2];
    pair_open(pair_dgram, fds);
    assert_int_equal(xpoll_register(f->poll, fds[0], OLD, XPOLL_WRITABLE), 0);
    assert_int_equal(expect_event(f->poll, f->events, OLD).events, 1);
    /* mio's `udp_socket_reregister`: a datagram is queued; switching to
     * READABLE reports it without a new edge. */
    put(pair_dgram, fds);
    expect_no_event(f->poll, f->events, 0);
    assert_int_equal(xpoll_reregister(f->poll, fds[0], NEW, XPOLL_READABLE), 0);
    struct seen seen = expect_event(f->poll, f->events, NEW);
    assert_true(seen.flags & SEEN_READABLE);
    pair_close(pair_dgram, fds);
}

static void reregister_same_interest_rearms(void **state)
{
    struct fixture *f = *state;
    xpoll_socket fds[2];
    pair_open(pair_simple, fds);
    assert_int_equal(xpoll_register(f->poll, fds[0], OLD, XPOLL_READABLE), 0);
    put(pair_simple, fds);
    assert_int_equal(expect_event(f->poll, f->events, OLD).events, 1);
    expect_no_event(f->poll, f->events, 0);
    /* Data is still unread: a re-arm reports it again (epoll:
     * EPOLL_CTL_MOD re-polls the file; kqueue: EV_ADD on an existing knote
     * re-runs its filter, FreeBSD kern_event.c kqueue_register). */
    assert_int_equal(xpoll_reregister(f->poll, fds[0], OLD, XPOLL_READABLE), 0);
    assert_int_equal(expect_event(f->poll, f->events, OLD).events, 1);
    pair_close(pair_simple, fds);
}

static void reregister_drops_queued_readiness(void **state)
{
    struct fixture *f = *state;
    uint16_t port;
    xpoll_socket lfd = tcp_listener(&port);
    assert_int_equal(xpoll_register(f->poll, lfd, OLD, XPOLL_READABLE), 0);
    /* mio's `reregister_different_interest_without_poll`: a connection is
     * pending (readiness queued), the listener is switched to WRITABLE
     * before any wait: nothing may be reported. */
    xpoll_socket c = tcp_socket();
    int err = tcp_connect(c, port);
    assert_true(err == 0 || err == EINPROGRESS);
    wait_ready(lfd, XPOLL_READABLE); /* in the backlog */
    assert_int_equal(xpoll_reregister(f->poll, lfd, NEW, XPOLL_WRITABLE), 0);
    expect_no_event(f->poll, f->events, 50 * MS);
    fd_close(c);
    fd_close(lfd);
}

static void deregister_drops_queued_events(void **state)
{
    struct fixture *f = *state;
    xpoll_socket fds[2];
    pair_open(pair_simple, fds);
    assert_int_equal(xpoll_register(f->poll, fds[0], OLD, XPOLL_READABLE), 0);
    put(pair_simple, fds); /* the event is queued in the kernel now */
    assert_int_equal(xpoll_deregister(f->poll, fds[0]), 0);
    expect_no_event(f->poll, f->events, 20 * MS);
    put(pair_simple, fds);
    expect_no_event(f->poll, f->events, 20 * MS);
    pair_close(pair_simple, fds);
}

static void deregistered_fd_still_works(void **state)
{
    struct fixture *f = *state;
    xpoll_socket fds[2];
    char buf[4];
    pair_open(pair_stream, fds);
    assert_int_equal(
        xpoll_register(f->poll, fds[0], OLD, XPOLL_READABLE | XPOLL_WRITABLE),
        0);
    assert_int_equal(xpoll_deregister(f->poll, fds[0]), 0);
    assert_int_equal(fd_write(fds[1], "abc", 3), 3);
    wait_ready(fds[0], XPOLL_READABLE);
    assert_int_equal(fd_read(fds[0], buf, sizeof buf), 3);
    assert_int_equal(fd_write(fds[0], "de", 2), 2);
    expect_no_event(f->poll, f->events, 0);
    pair_close(pair_stream, fds);
}

static void deregister_one_of_many(void **state)
{
    struct fixture *f = *state;
    xpoll_socket a[2], b[2];
    pair_open(pair_simple, a);
    pair_open(pair_simple, b);
    assert_int_equal(xpoll_register(f->poll, a[0], OLD, XPOLL_READABLE), 0);
    assert_int_equal(xpoll_register(f->poll, b[0], NEW, XPOLL_READABLE), 0);
    put(pair_simple, a);
    put(pair_simple, b);
    assert_int_equal(xpoll_deregister(f->poll, a[0]), 0);
    struct seen old = {0};
    assert_int_equal(wait_once(f->poll, f->events, SEC, OLD, &old), 1);
    assert_int_equal(old.events, 0);
    assert_int_equal(xpoll_event_token(xpoll_events_get(f->events, 0)), NEW);
    pair_close(pair_simple, a);
    pair_close(pair_simple, b);
}

static void pending_event_of_a_closed_fd_is_dropped(void **state)
{
    struct fixture *f = *state;
    xpoll_socket a[2];
    xpoll_token t[16];
    pair_open(pair_stream, a);
    assert_int_equal(xpoll_register(f->poll, a[0], OLD, XPOLL_READABLE), 0);
    assert_int_equal(fd_write(a[1], "x", 1), 1); /* the event is queued */
    fd_close(a[0]);                              /* no deregister, no dup */
    int n = wait_tokens(f->poll, f->events, 20 * MS, t, 16);
    assert_int_equal(n, 0);
    fd_close(a[1]);
}

#define T(name)                                                                \
    cmocka_unit_test_setup_teardown(name, fixture_setup, fixture_teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(reregister_changes_token),
        T(reregister_read_to_write),
        T(reregister_reports_pending_readiness),
        T(reregister_same_interest_rearms),
        T(reregister_drops_queued_readiness),
        T(deregister_drops_queued_events),
        T(deregistered_fd_still_works),
        T(deregister_one_of_many),
        T(pending_event_of_a_closed_fd_is_dropped),
    };
    return RUN(tests, NULL, NULL);
}
