/*
 * Registration is thread-safe and takes effect in a wait that is already
 * blocked in another thread (mio's register_during_poll).  Each such test
 * acts only once the waiting thread is proven asleep in the wait
 * (blocked_action in support.c), so a registration that reached the
 * kernel before the wait started cannot make it pass.
 */
#define _GNU_SOURCE
#include "support.h"

#include <pthread.h>
#include <stdlib.h>

enum { LATE = 0x1a7e, FINISH = 0xf1 };

enum op { REGISTER, REREGISTER, DEREGISTER_THEN_WRITE };

struct registrar {
    xpoll *poll;
    enum op op;
    xpoll_socket fds[2];
    xpoll_socket
        finish[2]; /* DEREGISTER_THEN_WRITE: written last, ends the wait */
    xpoll_interests interests;
    int rc;
};

static void act(void *arg)
{
    struct registrar *r = arg;
    switch (r->op) {
    case REGISTER:
        r->rc = xpoll_register(r->poll, r->fds[0], LATE, r->interests);
        break;
    case REREGISTER:
        r->rc = xpoll_reregister(r->poll, r->fds[0], LATE, r->interests);
        break;
    case DEREGISTER_THEN_WRITE:
        r->rc = xpoll_deregister(r->poll, r->fds[0]);
        if (r->rc == 0 && fd_write(r->fds[1], "x", 1) != 1)
            r->rc = -1;
        if (r->rc == 0 && fd_write(r->finish[1], "x", 1) != 1)
            r->rc = -1;
        break;
    }
}

/* Waits (HANG_NS at most: the wait must end because of what `r` does)
 * while another thread performs `r` once this thread is blocked in the
 * wait; returns the wait's result. */
static int wait_while(struct fixture *f, struct registrar *r)
{
    struct blocked_action b;
    r->poll = f->poll;
    blocked_action_start(&b, act, r);
    int n = xpoll_wait(f->poll, f->events, HANG_NS);
    blocked_action_finish(&b);
    assert_int_equal(r->rc, 0);
    return n;
}

static void register_during_wait(void **state)
{
    struct fixture *f = *state;
    /* A connected datagram socket is writable at once. */
    struct registrar r = {.op = REGISTER, .interests = XPOLL_WRITABLE};
    pair_open(PAIR_UDP, r.fds);
    assert_int_equal(wait_while(f, &r), 1);
    const xpoll_event *ev = xpoll_events_get(f->events, 0);
    assert_int_equal(xpoll_event_token(ev), LATE);
    assert_true(xpoll_event_is_writable(ev));
    pair_close(PAIR_UDP, r.fds);
}

static void reregister_during_wait(void **state)
{
    struct fixture *f = *state;
    struct registrar r = {.op = REREGISTER,
                          .interests = XPOLL_READABLE | XPOLL_WRITABLE};
    pair_open(pair_stream, r.fds);
    /* Registered for reading only (nothing to read); another thread adds
     * WRITABLE, which holds at once. */
    assert_int_equal(xpoll_register(f->poll, r.fds[0], 1, XPOLL_READABLE), 0);
    expect_no_event(f->poll, f->events, 0);
    assert_int_equal(wait_while(f, &r), 1);
    const xpoll_event *ev = xpoll_events_get(f->events, 0);
    assert_int_equal(xpoll_event_token(ev), LATE);
    assert_true(xpoll_event_is_writable(ev));
    pair_close(pair_stream, r.fds);
}

/* Another thread deregisters a pair's reading end, writes to the pair,
 * then writes to a second registered pair.  The writes happen in that
 * order, each making its pair ready at once, so a deregistration that did
 * not reach the blocked wait would put the first pair's token in the
 * events; only the second's may come. */
static void deregister_during_wait(void **state)
{
    struct fixture *f = *state;
    struct registrar r = {.op = DEREGISTER_THEN_WRITE};
    pair_open(pair_simple, r.fds);
    pair_open(pair_simple, r.finish);
    assert_int_equal(xpoll_register(f->poll, r.fds[0], 1, XPOLL_READABLE), 0);
    assert_int_equal(
        xpoll_register(f->poll, r.finish[0], FINISH, XPOLL_READABLE), 0);
    assert_int_equal(wait_while(f, &r), 1);
    assert_int_equal(xpoll_event_token(xpoll_events_get(f->events, 0)), FINISH);
    assert_int_equal(xpoll_deregister(f->poll, r.finish[0]), 0);
    pair_close(pair_simple, r.fds);
    pair_close(pair_simple, r.finish);
}

enum { THREADS = 4, PER_THREAD = 64 };

struct bulk {
    xpoll *poll;
    int base;
    xpoll_socket fds[PER_THREAD][2];
    int failures;
    pthread_t thread;
};

static void *register_many(void *arg)
{
    struct bulk *b = arg;
    for (int i = 0; i < PER_THREAD; i++) {
        if (xpoll_register(b->poll, b->fds[i][0], (xpoll_token)(b->base + i),
                           XPOLL_READABLE) != 0 ||
            fd_write(b->fds[i][1], "x", 1) != 1)
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
            pair_open(pair_simple, bulk[t].fds[i]);
    }
    for (int t = 0; t < THREADS; t++)
        assert_int_equal(
            pthread_create(&bulk[t].thread, NULL, register_many, &bulk[t]), 0);

    int total = 0;
    while (total < THREADS * PER_THREAD) {
        int n = xpoll_wait(poll, events, HANG_NS);
        assert_true(n > 0);
        for (int i = 0; i < n; i++) {
            xpoll_token t =
                xpoll_event_token(xpoll_events_get(events, (size_t)i));
            assert_true(t < THREADS * PER_THREAD);
            assert_int_equal(seen[t]++, 0); /* one event per edge */
            total++;
        }
    }
    for (int t = 0; t < THREADS; t++) {
        assert_int_equal(pthread_join(bulk[t].thread, NULL), 0);
        assert_int_equal(bulk[t].failures, 0);
        for (int i = 0; i < PER_THREAD; i++)
            pair_close(pair_simple, bulk[t].fds[i]);
    }
    xpoll_events_free(events);
    xpoll_free(poll);
}

#define T(name)                                                                \
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
