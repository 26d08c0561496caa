/*
 * test_register.c's close and reuse cases where they depend on POSIX
 * descriptor numbers: a closed number is the lowest free one and comes
 * back at once, dup() keeps a file open under another number, and dup2()
 * replaces what a number names.  Built for POSIX systems only.
 */
#define _GNU_SOURCE
#include "support_posix.h"

#include <errno.h>
#include <fcntl.h>
#include <unistd.h>

enum { OLD = 100, NEW = 200 };

static void fd_number_reuse_after_deregister(void **state)
{
    struct fixture *f = *state;
    int a[2], b[2];
    pair_open(PAIR_PIPE, a);
    assert_int_equal(xpoll_register(f->poll, a[0], OLD, XPOLL_READABLE), 0);
    assert_int_equal(xpoll_deregister(f->poll, a[0]), 0);
    int number = a[0];
    pair_close(PAIR_PIPE, a);
    pair_open(PAIR_PIPE, b); /* lowest free numbers: the same ones */
    assert_int_equal(b[0], number);
    assert_int_equal(xpoll_register(f->poll, b[0], NEW, XPOLL_READABLE), 0);
    put(PAIR_PIPE, b);
    struct seen old = {0};
    assert_int_equal(wait_once(f->poll, f->events, SEC, OLD, &old), 1);
    assert_int_equal(old.events, 0);
    assert_int_equal(xpoll_event_token(xpoll_events_get(f->events, 0)), NEW);
    pair_close(PAIR_PIPE, b);
}

/* Closing a registered descriptor without deregistering it, with no dup
 * alive: the registration dies with the file (epoll) or the number
 * (kqueue), the reused number registers afresh, and an event queued for
 * the closed descriptor is never delivered. */
static void reused_number_without_dup_registers_afresh(void **state)
{
    struct fixture *f = *state;
    int a[2], b[2];
    xpoll_token t[16];
    assert_int_equal(xpoll_pipe(a), 0);
    assert_int_equal(xpoll_register(f->poll, a[0], OLD, XPOLL_READABLE), 0);
    int number = a[0];
    close(a[0]); /* the bug: no deregister */
    close(a[1]);
    assert_int_equal(xpoll_pipe(b), 0);
    assert_int_equal(b[0], number); /* lowest free: the same number */
    /* The old registration is gone on both backends: ADD succeeds. */
    assert_int_equal(xpoll_register(f->poll, b[0], NEW, XPOLL_READABLE), 0);
    assert_int_equal(write(b[1], "x", 1), 1);
    int n = wait_tokens(f->poll, f->events, SEC, t, 16);
    assert_int_equal(n, 1);
    assert_int_equal(t[0], NEW);
    assert_int_equal(xpoll_deregister(f->poll, b[0]), 0);
    close(b[0]);
    close(b[1]);
}

/* The documented epoll pitfall (epoll(7), Q&A "Will closing a file
 * descriptor cause it to be removed from all epoll interest lists?"):
 * closing a registered fd whose open file lives on through a dup does not
 * remove the registration, so events keep coming with the old token, also
 * beside a new registration of the reused number, until the last
 * reference to the file is closed.  kqueue drops knotes when the
 * descriptor number is closed (kevent(2): "Calling close() on a file
 * descriptor will remove any kevents that reference the descriptor").
 * The poll(2) backend answers as kqueue: poll() knows numbers, not files,
 * so the closed number reads POLLNVAL and its registration is disarmed
 * (src/sys/pollfd.c), and registering the reused number replaces it.
 * Pins today's behaviour of each backend. */
static void close_without_deregister_with_dup(void **state)
{
    struct fixture *f = *state;
    int a[2], b[2];
    xpoll_token t[16];
    /* epoll alone keeps the registration alive through the dup. */
    bool old_lives_on = xpoll_get_backend(f->poll) == XPOLL_BACKEND_EPOLL;
    pair_open(PAIR_PIPE, a);
    assert_int_equal(xpoll_register(f->poll, a[0], OLD, XPOLL_READABLE), 0);
    int keep = fcntl(a[0], F_DUPFD_CLOEXEC, 100); /* the file lives on */
    assert_true(keep >= 100);
    int number = a[0];
    close(a[0]);
    assert_int_equal(write(a[1], "o", 1), 1);
    if (!old_lives_on) {
        expect_no_event(f->poll, f->events, 20 * MS);
    } else {
        struct seen seen = expect_event(f->poll, f->events, OLD);
        assert_int_equal(seen.events, 1);
        /* And it cannot be removed through the closed number. */
        assert_int_equal(xpoll_deregister(f->poll, number), -EBADF);
    }

    /* The number is reused and registered anew. */
    pair_open(PAIR_PIPE, b);
    assert_int_equal(b[0], number);
    assert_int_equal(xpoll_register(f->poll, b[0], NEW, XPOLL_READABLE), 0);
    assert_int_equal(write(b[1], "n", 1), 1);
    int n = wait_tokens(f->poll, f->events, SEC, t, 16);
    assert_true(has_token(t, n, NEW));
    assert_false(has_token(t, n, OLD)); /* no new edge on the old file */

    /* Deregistering the number removes the new registration only. */
    assert_int_equal(xpoll_deregister(f->poll, b[0]), 0);
    char c;
    assert_int_equal(read(keep, &c, 1), 1); /* drain, then a new edge */
    assert_int_equal(write(a[1], "o", 1), 1);
    assert_int_equal(write(b[1], "n", 1), 1);
    n = wait_tokens(f->poll, f->events, 50 * MS, t, 16);
    assert_false(has_token(t, n, NEW));
    if (!old_lives_on)
        assert_int_equal(n, 0);
    else
        assert_true(n == 1 && t[0] == OLD);

    /* Only closing the last reference ends it. */
    close(keep);
    assert_int_equal(write(a[1], "o", 1), -1); /* no reader left: EPIPE */
    assert_int_equal(errno, EPIPE);
    n = wait_tokens(f->poll, f->events, 20 * MS, t, 16);
    assert_int_equal(n, 0);
    pair_close(PAIR_PIPE, a);
    pair_close(PAIR_PIPE, b);
}

/* dup2() onto a registered number closes it implicitly.  On epoll and
 * kqueue the registration dies with the file.  The poll(2) backend keeps
 * numbers, not files, and no poll() saw the number closed: the new file's
 * readiness comes with the old token (the caller's bug, documented in
 * docs/bad-input.md), and registering the number again replaces the stale
 * registration because fstat() shows another file (src/sys/pollfd.c). */
static void dup2_over_a_registered_number(void **state)
{
    struct fixture *f = *state;
    int a[2], b[2];
    xpoll_token t[16];
    assert_int_equal(xpoll_pipe(a), 0);
    assert_int_equal(xpoll_pipe(b), 0);
    assert_int_equal(xpoll_register(f->poll, a[0], OLD, XPOLL_READABLE), 0);
    assert_int_equal(dup2(b[0], a[0]), a[0]); /* a's read end is gone */
    assert_int_equal(write(b[1], "x", 1), 1);
    if (xpoll_get_backend(f->poll) == XPOLL_BACKEND_POLL) {
        int n = wait_tokens(f->poll, f->events, SEC, t, 16);
        assert_int_equal(n, 1);
        assert_int_equal(t[0], OLD); /* b's byte, under a's token */
    }
    int n = wait_tokens(f->poll, f->events, 20 * MS, t, 16);
    assert_int_equal(n, 0); /* b unregistered; a's died (poll: disarmed) */
    assert_int_equal(xpoll_register(f->poll, a[0], NEW, XPOLL_READABLE), 0);
    n = wait_tokens(f->poll, f->events, SEC, t, 16);
    assert_int_equal(n, 1);
    assert_int_equal(t[0], NEW); /* the byte already there is reported */
    assert_int_equal(xpoll_deregister(f->poll, a[0]), 0);
    close(a[0]);
    close(a[1]);
    close(b[0]);
    close(b[1]);
}

#define T(name)                                                                \
    cmocka_unit_test_setup_teardown(name, fixture_setup, fixture_teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(fd_number_reuse_after_deregister),
        T(reused_number_without_dup_registers_afresh),
        T(close_without_deregister_with_dup),
        T(dup2_over_a_registered_number),
    };
    return RUN(tests, NULL, NULL);
}
