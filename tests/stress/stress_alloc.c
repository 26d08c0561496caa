/*
 * Allocation failure in registration, the part test_alloc.c (which fails
 * every constructor at each allocation point) does not reach: on kqueue a
 * registration can allocate (the emulation keeps its knotes in user space,
 * as a kernel does), on epoll it must not allocate at all.
 *
 * For k = 0, 1, 2, ... the k-th allocation inside one xpoll_register /
 * xpoll_reregister fails: the call returns -ENOMEM (nothing else), the
 * poll stays usable, and after the caller's cleanup (deregister) no event
 * carries the failed call's token.  Then the call succeeds and its events
 * arrive with the right token.
 *
 * malloc/calloc/realloc/free are interposed in this executable
 * (heap_inject.c), so the test is not built with sanitizers and runs
 * natively under the valgrind preset (valgrind replaces malloc itself).
 */
#define _GNU_SOURCE
#include "heap_inject.h"
#include "stress.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

enum { TRY = 0xbad }; /* the token of the call under test */

/* No event may carry the token of a call that failed (and was cleaned up). */
static void no_failed_token(struct fixture *f, int peer)
{
    assert_int_equal(write(peer, "x", 1), 1);
    int n = xpoll_wait(f->poll, f->events, 0);
    assert_true(n >= 0);
    for (int i = 0; i < n; i++)
        assert_int_not_equal(
            xpoll_event_token(xpoll_events_get(f->events, (size_t)i)), TRY);
}

static int points_of(struct fixture *f, bool re)
{
    int fds[2];
    bool kq = xpoll_get_backend(f->poll) == XPOLL_BACKEND_KQUEUE;
    assert_int_equal(xpoll_socketpair(SOCK_STREAM, fds), 0);
    for (long k = 0; k < 64; k++) {
        if (re)
            assert_int_equal(xpoll_register(f->poll, fds[0], 1, XPOLL_READABLE),
                             0);
        heap_count_from(k);
        int rc = re ? xpoll_reregister(f->poll, fds[0], TRY, XPOLL_WRITABLE)
                    : xpoll_register(f->poll, fds[0], TRY,
                                     XPOLL_READABLE | XPOLL_WRITABLE);
        long calls = heap_stop().calls;
        if (rc == 0) {
            assert_true(calls <= k); /* nothing left to fail */
            /* Succeeded: its events carry its token. */
            struct seen seen = expect_event(f->poll, f->events, TRY);
            assert_true(seen.flags & SEEN_WRITABLE);
            if (!re) {
                assert_int_equal(write(fds[1], "y", 1), 1);
                seen = expect_event(f->poll, f->events, TRY);
                assert_true(seen.flags & SEEN_READABLE);
            }
            assert_int_equal(xpoll_deregister(f->poll, fds[0]), 0);
            close(fds[0]);
            close(fds[1]);
            return (int)k;
        }
        assert_int_equal(rc, -ENOMEM);
        /* The caller's cleanup after a failed registration: deregister.  On
         * kqueue an earlier change of the same call may have been applied
         * (changes apply in order); deregistering removes it. */
        int d = xpoll_deregister(f->poll, fds[0]);
        if (kq)
            assert_int_equal(d, 0);
        else
            assert_int_equal(d, re ? 0 : -ENOENT);
        no_failed_token(f, fds[1]);
        char buf[64];
        while (read(fds[0], buf, sizeof buf) > 0) {
        }
    }
    fail_msg("registration still failing after 64 allocation points");
    return -1;
}

static void register_fails_cleanly_at_each_allocation(void **state)
{
    struct fixture *f = *state;
    int points = points_of(f, false);
    printf("register: %d allocation point(s) on %s\n", points,
           xpoll_backend_name(xpoll_get_backend(f->poll)));
    if (xpoll_get_backend(f->poll) == XPOLL_BACKEND_EPOLL)
        assert_int_equal(points, 0); /* the token lives in the kernel */
}

static void reregister_fails_cleanly_at_each_allocation(void **state)
{
    struct fixture *f = *state;
    int points = points_of(f, true);
    printf("reregister: %d allocation point(s) on %s\n", points,
           xpoll_backend_name(xpoll_get_backend(f->poll)));
    if (xpoll_get_backend(f->poll) == XPOLL_BACKEND_EPOLL)
        assert_int_equal(points, 0);
}

#define T(name)                                                                \
    cmocka_unit_test_setup_teardown(name, fixture_setup, fixture_teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(register_fails_cleanly_at_each_allocation),
        T(reregister_fails_cleanly_at_each_allocation),
    };
    return RUN(tests, NULL, NULL);
}
