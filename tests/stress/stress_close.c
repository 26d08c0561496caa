/*
 * Close-without-deregister and descriptor-number reuse: the user's bug the
 * contract documents ("deregister before close") must not crash or confuse
 * the poll, and the documented behaviour holds on each backend:
 *
 *  - no dup alive: the registration dies with the file (epoll) or the
 *    number (kqueue); its token never shows up again and the reused number
 *    registers afresh;
 *  - a dup keeps the file alive: epoll keeps reporting the old token (it
 *    tracks the open file, and the registration cannot be removed through
 *    the closed number), kqueue drops the knotes at close();
 *  - churn of thousands of such closes leaks nothing and leaves the poll
 *    working.
 *
 * These pin today's behaviour (README "Deregister before close").
 */
#define _GNU_SOURCE
#include "stress.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

enum { OLD = 1000, NEW = 2000 };

/* Collects the tokens of one wait of `timeout_ns`. */
static int tokens_of_wait(xpoll *poll, xpoll_events *events, int64_t timeout_ns,
                          xpoll_token *out, int max)
{
    int n = xpoll_wait(poll, events, timeout_ns);
    assert_true(n >= 0);
    for (int i = 0; i < n && i < max; i++)
        out[i] = xpoll_event_token(xpoll_events_get(events, (size_t)i));
    return n;
}

static bool saw(const xpoll_token *t, int n, xpoll_token want)
{
    for (int i = 0; i < n; i++)
        if (t[i] == want)
            return true;
    return false;
}

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
    int n = tokens_of_wait(f->poll, f->events, SEC, t, 16);
    assert_int_equal(n, 1);
    assert_int_equal(t[0], NEW);
    assert_int_equal(xpoll_deregister(f->poll, b[0]), 0);
    close(b[0]);
    close(b[1]);
}

static void pending_event_of_a_closed_fd_is_dropped(void **state)
{
    struct fixture *f = *state;
    int a[2];
    xpoll_token t[16];
    assert_int_equal(xpoll_socketpair(SOCK_STREAM, a), 0);
    assert_int_equal(xpoll_register(f->poll, a[0], OLD, XPOLL_READABLE), 0);
    assert_int_equal(write(a[1], "x", 1), 1); /* the event is queued */
    close(a[0]);                              /* no deregister, no dup */
    int n = tokens_of_wait(f->poll, f->events, 20 * MS, t, 16);
    assert_int_equal(n, 0);
    close(a[1]);
}

/* The dup pitfall with the number reused by a new registration. */
static void dup_keeps_old_registration_beside_the_new(void **state)
{
    struct fixture *f = *state;
    int a[2], b[2];
    xpoll_token t[16];
    bool kq = xpoll_get_backend(f->poll) == XPOLL_BACKEND_KQUEUE;

    assert_int_equal(xpoll_pipe(a), 0);
    assert_int_equal(xpoll_register(f->poll, a[0], OLD, XPOLL_READABLE), 0);
    int keep = fcntl(a[0], F_DUPFD_CLOEXEC, 100); /* the file lives on */
    assert_true(keep >= 100);
    int number = a[0];
    close(a[0]);
    assert_int_equal(xpoll_pipe(b), 0);
    assert_int_equal(b[0], number);
    assert_int_equal(xpoll_register(f->poll, b[0], NEW, XPOLL_READABLE), 0);

    assert_int_equal(write(a[1], "o", 1), 1);
    int n = tokens_of_wait(f->poll, f->events, 50 * MS, t, 16);
    if (kq) {
        /* knotes went with the number (kevent(2): close() removes any
         * kevents that reference the descriptor) */
        assert_int_equal(n, 0);
    } else {
        /* epoll tracks the open file: the old token still comes. */
        assert_int_equal(n, 1);
        assert_int_equal(t[0], OLD);
    }
    assert_int_equal(write(b[1], "n", 1), 1);
    n = tokens_of_wait(f->poll, f->events, SEC, t, 16);
    assert_true(saw(t, n, NEW));
    assert_false(saw(t, n, OLD)); /* no new edge on the old file */

    /* Deregistering the number removes the new registration only. */
    assert_int_equal(xpoll_deregister(f->poll, b[0]), 0);
    char c;
    assert_int_equal(read(keep, &c, 1), 1); /* drain, then a new edge */
    assert_int_equal(write(a[1], "o", 1), 1);
    assert_int_equal(write(b[1], "n", 1), 1);
    n = tokens_of_wait(f->poll, f->events, 50 * MS, t, 16);
    assert_false(saw(t, n, NEW));
    if (kq)
        assert_int_equal(n, 0);
    else
        assert_true(n == 1 && t[0] == OLD);

    /* Only closing the last reference ends it. */
    close(keep);
    assert_int_equal(write(a[1], "o", 1), -1); /* no reader left: EPIPE */
    assert_int_equal(errno, EPIPE);
    n = tokens_of_wait(f->poll, f->events, 20 * MS, t, 16);
    assert_int_equal(n, 0);
    close(a[1]);
    close(b[0]);
    close(b[1]);
}

/* dup2() onto a registered number closes it implicitly. */
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
    int n = tokens_of_wait(f->poll, f->events, 20 * MS, t, 16);
    assert_int_equal(n, 0); /* b is not registered; a's registration died */
    assert_int_equal(xpoll_register(f->poll, a[0], NEW, XPOLL_READABLE), 0);
    n = tokens_of_wait(f->poll, f->events, SEC, t, 16);
    assert_int_equal(n, 1);
    assert_int_equal(t[0], NEW); /* the byte already there is reported */
    assert_int_equal(xpoll_deregister(f->poll, a[0]), 0);
    close(a[0]);
    close(a[1]);
    close(b[0]);
    close(b[1]);
}

/* Thousands of registrations closed without deregistering (every other
 * one deregistered properly), numbers reused all the time: no stale token,
 * no leak, and the poll still works. */
static void close_without_deregister_churn(void **state)
{
    struct fixture *f = *state;
    int rounds = stress_scaled(20000, 1000);
    int before = open_fd_count();
    long stale = 0, missed = 0, errors = 0;
    xpoll_token t[64];
    for (int r = 0; r < rounds; r++) {
        int p[2];
        if (xpoll_pipe(p) != 0) {
            errors++;
            break;
        }
        xpoll_token token = (xpoll_token)r * 2 + 1;
        errors += xpoll_register(f->poll, p[0], token, XPOLL_READABLE) != 0;
        errors += write(p[1], "x", 1) != 1;
        if (r % 3 == 0) {
            int n = tokens_of_wait(f->poll, f->events, SEC, t, 64);
            missed += !saw(t, n, token);
            for (int i = 0; i < n && i < 64; i++)
                stale += t[i] != token;
        }
        if (r % 2 == 0)
            errors += xpoll_deregister(f->poll, p[0]) != 0;
        close(p[0]);
        close(p[1]);
    }
    /* Anything still queued belongs to closed descriptors: nothing. */
    int n = tokens_of_wait(f->poll, f->events, 20 * MS, t, 64);
    assert_int_equal(n, 0);
    assert_int_equal(errors, 0);
    assert_int_equal(stale, 0);
    assert_int_equal(missed, 0);
    assert_int_equal(open_fd_count(), before);
    /* Still a working poll. */
    int p[2];
    assert_int_equal(xpoll_pipe(p), 0);
    assert_int_equal(xpoll_register(f->poll, p[0], 7, XPOLL_READABLE), 0);
    assert_int_equal(write(p[1], "x", 1), 1);
    n = tokens_of_wait(f->poll, f->events, SEC, t, 64);
    assert_int_equal(n, 1);
    assert_int_equal(t[0], 7);
    assert_int_equal(xpoll_deregister(f->poll, p[0]), 0);
    close(p[0]);
    close(p[1]);
}

#define T(name)                                                                \
    cmocka_unit_test_setup_teardown(name, fixture_setup, fixture_teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(reused_number_without_dup_registers_afresh),
        T(pending_event_of_a_closed_fd_is_dropped),
        T(dup_keeps_old_registration_beside_the_new),
        T(dup2_over_a_registered_number),
        T(close_without_deregister_churn),
    };
    return RUN(tests, NULL, NULL);
}
