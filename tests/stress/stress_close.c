/*
 * Close-without-deregister under churn: thousands of registrations closed
 * without deregistering (the user's bug the contract documents, "deregister
 * before close"), their numbers reused all the time, must leave no stale
 * token, leak nothing and keep the poll working, on each backend.  The
 * single cases (a reused number, a queued event, a dup keeping the file
 * alive, dup2() onto a registered number) are in test_register.c.
 */
#define _GNU_SOURCE
#include "stress.h"

#include <unistd.h>

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
            int n = wait_tokens(f->poll, f->events, SEC, t, 64);
            missed += !has_token(t, n, token);
            for (int i = 0; i < n && i < 64; i++)
                stale += t[i] != token;
        }
        if (r % 2 == 0)
            errors += xpoll_deregister(f->poll, p[0]) != 0;
        close(p[0]);
        close(p[1]);
    }
    /* Anything still queued belongs to closed descriptors: nothing. */
    int n = wait_tokens(f->poll, f->events, 20 * MS, t, 64);
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
    n = wait_tokens(f->poll, f->events, SEC, t, 64);
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
        T(close_without_deregister_churn),
    };
    return RUN(tests, NULL, NULL);
}
