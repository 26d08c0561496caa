/*
 * Registration is thread-safe and takes effect in a wait that is already
 * blocked in another thread (mio's register_during_poll).
 */
#define _GNU_SOURCE
#include "support.h"

#include <pthread.h>
#include <stdlib.h>
#include <unistd.h>

enum { LATE = 0x1a7e };

enum op { REGISTER, REREGISTER, DEREGISTER_THEN_WRITE };

struct registrar {
    xpoll *poll;
    enum op op;
    int fds[2];
    xpoll_interests interests;
    int delay_ms;
    int rc;
    pthread_t thread;
};

static void *act_later(void *arg)
{
    struct registrar *r = arg;
    sleep_ms(r->delay_ms);
    switch (r->op) {
    case REGISTER:
        r->rc = xpoll_register(r->poll, r->fds[0], LATE, r->interests);
        break;
    case REREGISTER:
        r->rc = xpoll_reregister(r->poll, r->fds[0], LATE, r->interests);
        break;
    case DEREGISTER_THEN_WRITE:
        r->rc = xpoll_deregister(r->poll, r->fds[0]);
        if (r->rc == 0 && write(r->fds[1], "x", 1) != 1)
            r->rc = -1;
        break;
    }
    return NULL;
}

/* Starts `r` on a thread, waits up to 5 s (or `timeout_ns`) and returns
 * the wait's result and elapsed time. */
static int wait_while(struct fixture *f, struct registrar *r,
                      int64_t timeout_ns, int64_t *elapsed)
{
    r->poll = f->poll;
    assert_int_equal(pthread_create(&r->thread, NULL, act_later, r), 0);
    int64_t start = now_ns();
    int n = xpoll_wait(f->poll, f->events, timeout_ns);
    *elapsed = now_ns() - start;
    assert_int_equal(pthread_join(r->thread, NULL), 0);
    assert_int_equal(r->rc, 0);
    return n;
}

static void register_during_wait(void **state)
{
    struct fixture *f = *state;
    /* A connected datagram socket is writable at once. */
    struct registrar r = {.op = REGISTER,
                          .interests = XPOLL_WRITABLE,
                          .delay_ms = 200};
    int64_t elapsed;
    pair_open(PAIR_UDP, r.fds);
    assert_int_equal(wait_while(f, &r, 5 * SEC, &elapsed), 1);
    const xpoll_event *ev = xpoll_events_get(f->events, 0);
    assert_int_equal(xpoll_event_token(ev), LATE);
    assert_true(xpoll_event_is_writable(ev));
    assert_true(elapsed >= 150 * MS && elapsed < 4 * SEC);
    pair_close(PAIR_UDP, r.fds);
}

static void reregister_during_wait(void **state)
{
    struct fixture *f = *state;
    struct registrar r = {.op = REREGISTER,
                          .interests = XPOLL_READABLE | XPOLL_WRITABLE,
                          .delay_ms = 100};
    int64_t elapsed;
    pair_open(PAIR_UNIX_STREAM, r.fds);
    /* Registered for reading only (nothing to read); another thread adds
     * WRITABLE, which holds at once. */
    assert_int_equal(xpoll_register(f->poll, r.fds[0], 1, XPOLL_READABLE), 0);
    expect_no_event(f->poll, f->events, 0);
    assert_int_equal(wait_while(f, &r, 5 * SEC, &elapsed), 1);
    const xpoll_event *ev = xpoll_events_get(f->events, 0);
    assert_int_equal(xpoll_event_token(ev), LATE);
    assert_true(xpoll_event_is_writable(ev));
    assert_true(elapsed < 4 * SEC);
    pair_close(PAIR_UNIX_STREAM, r.fds);
}

static void deregister_during_wait(void **state)
{
    struct fixture *f = *state;
    struct registrar r = {.op = DEREGISTER_THEN_WRITE, .delay_ms = 50};
    int64_t elapsed;
    pair_open(PAIR_PIPE, r.fds);
    assert_int_equal(xpoll_register(f->poll, r.fds[0], 1, XPOLL_READABLE), 0);
    /* The write after the deregistration must not end the wait. */
    assert_int_equal(wait_while(f, &r, 300 * MS, &elapsed), 0);
    assert_true(elapsed >= 290 * MS);
    pair_close(PAIR_PIPE, r.fds);
}

enum { THREADS = 4, PER_THREAD = 64 };

struct bulk {
    xpoll *poll;
    int base;
    int fds[PER_THREAD][2];
    int failures;
    pthread_t thread;
};

static void *register_many(void *arg)
{
    struct bulk *b = arg;
    for (int i = 0; i < PER_THREAD; i++) {
        if (xpoll_register(b->poll, b->fds[i][0], (xpoll_token)(b->base + i),
                           XPOLL_READABLE) != 0 ||
            write(b->fds[i][1], "x", 1) != 1)
            b->failures++;
    }
    return NULL;
}

static void concurrent_registrations_all_report(void **state)
{
    (void)state;
    xpoll *poll;
    xpoll_events *events;
    struct bulk bulk[THREADS];
    int seen[THREADS * PER_THREAD] = {0};

    assert_int_equal(xpoll_new(&poll), 0);
    assert_int_equal(xpoll_events_new(&events, 32), 0);
    for (int t = 0; t < THREADS; t++) {
        bulk[t].poll = poll;
        bulk[t].base = t * PER_THREAD;
        bulk[t].failures = 0;
        for (int i = 0; i < PER_THREAD; i++)
            pair_open(PAIR_PIPE, bulk[t].fds[i]);
    }
    for (int t = 0; t < THREADS; t++)
        assert_int_equal(
            pthread_create(&bulk[t].thread, NULL, register_many, &bulk[t]), 0);

    int total = 0;
    while (total < THREADS * PER_THREAD) {
        int n = xpoll_wait(poll, events, 5 * SEC);
        assert_true(n > 0);
        for (int i = 0; i < n; i++) {
            xpoll_token t = xpoll_event_token(xpoll_events_get(events, (size_t)i));
            assert_true(t < THREADS * PER_THREAD);
            assert_int_equal(seen[t]++, 0); /* one event per edge */
            total++;
        }
    }
    for (int t = 0; t < THREADS; t++) {
        assert_int_equal(pthread_join(bulk[t].thread, NULL), 0);
        assert_int_equal(bulk[t].failures, 0);
        for (int i = 0; i < PER_THREAD; i++)
            pair_close(PAIR_PIPE, bulk[t].fds[i]);
    }
    xpoll_events_free(events);
    xpoll_free(poll);
}

#define T(name) \
    cmocka_unit_test_setup_teardown(name, fixture_setup, fixture_teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(register_during_wait),
        T(reregister_during_wait),
        T(deregister_during_wait),
        cmocka_unit_test(concurrent_registrations_all_report),
    };
    return RUN(tests, NULL, NULL);
}
