/*
 * EINTR storm: a thread signals the loop's thread every 100 µs while data
 * flows and wakes arrive.  Every xpoll_wait returns a count or -EINTR,
 * never another error, and nothing is lost end to end: every byte written
 * is read back in order, the last wake is always seen, and registration
 * calls are not disturbed.
 *
 * Helper threads only record; the test's own thread asserts.  Scaled by
 * XPOLL_STRESS_SCALE.
 */
#define _GNU_SOURCE
#include "stress.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define PERIOD_NS (100 * 1000) /* a signal every 100 µs */

static atomic_long caught;
static xpoll_waker *handler_waker; /* woken from the handler when set */
static atomic_long handler_wakes;
static atomic_int handler_wake_errors;

static void on_signal(int sig)
{
    (void)sig;
    atomic_fetch_add(&caught, 1);
    if (handler_waker != NULL) {
        /* Publish, then wake: the loop reads the count after the event. */
        atomic_fetch_add(&handler_wakes, 1);
        if (xpoll_waker_wake(handler_waker) != 0)
            atomic_fetch_add(&handler_wake_errors, 1);
    }
}

struct storm {
    pthread_t thread, target;
    atomic_bool stop;
    long sent;
    int errors;
};

static void *storm_main(void *arg)
{
    struct storm *s = arg;
    struct timespec next;
    clock_gettime(CLOCK_MONOTONIC, &next);
    while (!atomic_load(&s->stop)) {
        if (pthread_kill(s->target, SIGUSR1) != 0)
            s->errors++;
        s->sent++;
        next.tv_nsec += PERIOD_NS;
        if (next.tv_nsec >= 1000000000L) {
            next.tv_nsec -= 1000000000L;
            next.tv_sec++;
        }
        while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &next, NULL) ==
               EINTR) {
        }
    }
    return NULL;
}

static void storm_start(struct storm *s)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal; /* no SA_RESTART: waits must see EINTR */
    sigemptyset(&sa.sa_mask);
    assert_int_equal(sigaction(SIGUSR1, &sa, NULL), 0);
    memset(s, 0, sizeof *s);
    atomic_init(&s->stop, false);
    s->target = pthread_self();
    atomic_store(&caught, 0);
    assert_int_equal(pthread_create(&s->thread, NULL, storm_main, s), 0);
}

static void storm_stop(struct storm *s)
{
    atomic_store(&s->stop, true);
    assert_int_equal(pthread_join(s->thread, NULL), 0);
    assert_int_equal(s->errors, 0);
    signal(SIGUSR1, SIG_IGN); /* a signal still in flight is harmless */
}

/* ---- data flows through the storm ---------------------------------------- */

enum { PAIRS = 8, CHUNK = 4096 };

struct writer {
    pthread_t thread;
    int fds[PAIRS];
    size_t per_pair;
    int errors;
};

static unsigned char pattern(int pair, size_t offset)
{
    return (unsigned char)((offset * 131 + (size_t)pair * 17 + offset / 4096) &
                           0xff);
}

/* Writes per_pair bytes to each pair, round robin, pausing 1 ms every
 * 64 KiB so that the loop blocks in its wait (where signals land), then
 * closes its ends (EOF).  Blocking descriptors: never EAGAIN. */
static void *writer_main(void *arg)
{
    struct writer *w = arg;
    unsigned char buf[CHUNK];
    size_t done[PAIRS] = {0};
    size_t total = 0;
    for (bool more = true; more;) {
        more = false;
        for (int p = 0; p < PAIRS; p++) {
            if (done[p] == w->per_pair)
                continue;
            size_t n =
                w->per_pair - done[p] < CHUNK ? w->per_pair - done[p] : CHUNK;
            for (size_t i = 0; i < n; i++)
                buf[i] = pattern(p, done[p] + i);
            ssize_t k = write(w->fds[p], buf, n);
            if (k < 0 && errno == EINTR)
                k = 0;
            if (k < 0) {
                w->errors++;
                return NULL;
            }
            done[p] += (size_t)k;
            total += (size_t)k;
            more = more || done[p] < w->per_pair;
            if (total % (64 * 1024) < (size_t)k)
                sleep_ms(1);
        }
    }
    for (int p = 0; p < PAIRS; p++)
        close(w->fds[p]);
    return NULL;
}

static void data_survives_signal_storm(void **state)
{
    (void)state;
    size_t per_pair = (size_t)stress_scaled(1 << 21, 1 << 17); /* 2 MiB */
    xpoll *poll;
    xpoll_events *events;
    int rd[PAIRS];
    size_t got[PAIRS] = {0};
    bool eof[PAIRS] = {false}, bad[PAIRS] = {false};
    struct writer w = {.per_pair = per_pair};

    assert_int_equal(xpoll_new(&poll), 0);
    assert_int_equal(xpoll_events_new(&events, 4), 0);
    for (int p = 0; p < PAIRS; p++) {
        int fds[2];
        /* Half socketpairs, half pipes. */
        if (p % 2 == 0)
            assert_int_equal(xpoll_socketpair(SOCK_STREAM, fds), 0);
        else
            assert_int_equal(xpoll_pipe(fds), 0);
        rd[p] = fds[0];
        w.fds[p] = fds[1];
        int fl = fcntl(fds[1], F_GETFL);
        assert_int_equal(fcntl(fds[1], F_SETFL, fl & ~O_NONBLOCK), 0);
        assert_int_equal(
            xpoll_register(poll, rd[p], (xpoll_token)p, XPOLL_READABLE), 0);
    }

    struct storm storm;
    storm_start(&storm);
    assert_int_equal(pthread_create(&w.thread, NULL, writer_main, &w), 0);

    long waits = 0, eintr = 0, other = 0, stalls = 0;
    int first_other = 0, open_pairs = PAIRS;
    unsigned char buf[65536];
    int64_t deadline = now_ns() + HANG_NS;
    while (open_pairs > 0 && now_ns() < deadline) {
        int n = xpoll_wait(poll, events, SEC);
        waits++;
        if (n == -EINTR) {
            eintr++;
            continue;
        }
        if (n < 0) {
            if (other++ == 0)
                first_other = n;
            continue;
        }
        if (n == 0)
            stalls++; /* a second without any event: a lost edge */
        for (int i = 0; i < n; i++) {
            int p = (int)xpoll_event_token(xpoll_events_get(events, (size_t)i));
            /* Edge-triggered: until EAGAIN or EOF.  xpoll_read re-arms
             * READABLE on EAGAIN (the re-arm rule: free on epoll and
             * kqueue, required on poll) and retries EINTR. */
            for (;;) {
                ssize_t k = xpoll_read(poll, rd[p], buf, sizeof buf);
                if (k > 0) {
                    for (ssize_t j = 0; j < k; j++)
                        bad[p] |= buf[j] != pattern(p, got[p] + (size_t)j);
                    got[p] += (size_t)k;
                    continue;
                }
                if (k == 0 && !eof[p]) {
                    eof[p] = true;
                    open_pairs--;
                    assert_int_equal(xpoll_deregister(poll, rd[p]), 0);
                }
                break; /* EOF or EAGAIN */
            }
        }
    }
    /* With the data flowing the loop may seldom block (under valgrind it
     * barely does): an idle wait inside the storm must still end in
     * -EINTR, not sleep through it.  The storm keeps signalling, so a
     * signal that lands just before a wait only delays this. */
    bool idle_eintr = false;
    deadline = now_ns() + HANG_NS;
    while (!idle_eintr && open_pairs == 0 && now_ns() < deadline) {
        int n = xpoll_wait(poll, events, HANG_NS);
        waits++;
        if (n == -EINTR) {
            eintr++;
            idle_eintr = true;
            continue;
        }
        if (n != 0 && other++ == 0)
            first_other = n;
    }
    storm_stop(&storm);
    assert_int_equal(pthread_join(w.thread, NULL), 0);
    printf("EINTR storm [%s]: %ld signals sent, %ld caught; %ld waits, "
           "%ld returned -EINTR, %ld idle seconds; %zu bytes per pair\n",
           xpoll_backend_name(xpoll_get_backend(poll)), storm.sent,
           atomic_load(&caught), waits, eintr, stalls, per_pair);

    assert_int_equal(w.errors, 0);
    assert_int_equal(other, 0);
    assert_int_equal(first_other, 0);
    for (int p = 0; p < PAIRS; p++) {
        assert_true(eof[p]);
        assert_int_equal(got[p], per_pair);
        assert_false(bad[p]);
        close(rd[p]);
    }
    assert_true(atomic_load(&caught) > 0);
    assert_true(idle_eintr); /* the storm did land in a wait */
    xpoll_events_free(events);
    xpoll_free(poll);
}

/* ---- wakes from the handler itself --------------------------------------- */

static void last_wake_is_never_lost(void **state)
{
    (void)state;
    xpoll *poll;
    xpoll_events *events;
    xpoll_waker *waker;
    assert_int_equal(xpoll_new(&poll), 0);
    assert_int_equal(xpoll_events_new(&events, 4), 0);
    assert_int_equal(xpoll_waker_new(poll, 99, &waker), 0);
    atomic_store(&handler_wakes, 0);
    atomic_store(&handler_wake_errors, 0);
    handler_waker = waker;

    /* The handler wakes the poll from the thread it interrupts, the loop's
     * own, which may be inside xpoll_wait (or inside the kqueue emulation's
     * kevent(), which blocks signals while it holds its lock). */
    struct storm storm;
    storm_start(&storm);
    /* The storm lasts a while and until the handler has woken the poll
     * `min_wakes` times, however long that takes on this machine (the
     * deadline only catches a storm that never gets going). */
    long waits = 0, eintr = 0, other = 0, waker_events = 0, seen = 0;
    long min_wakes = stress_scaled(1000, 100);
    int64_t storm_end = now_ns() + stress_scaled(1000, 200) * MS;
    int64_t deadline = now_ns() + HANG_NS;
    while ((now_ns() < storm_end || atomic_load(&handler_wakes) < min_wakes) &&
           now_ns() < deadline) {
        int n = xpoll_wait(poll, events, -1);
        waits++;
        if (n == -EINTR) {
            eintr++;
            continue;
        }
        if (n < 0) {
            other++;
            continue;
        }
        for (int i = 0; i < n; i++) {
            if (xpoll_event_token(xpoll_events_get(events, (size_t)i)) == 99) {
                waker_events++;
                seen = atomic_load(&handler_wakes);
            }
        }
    }
    storm_stop(&storm);
    long final = atomic_load(&handler_wakes);
    /* Every wake after the loop last saw the event must produce one more:
     * the count the loop knows must reach the final count. */
    deadline = now_ns() + HANG_NS;
    while (seen < final && now_ns() < deadline) {
        int n = xpoll_wait(poll, events, 100 * MS);
        if (n == -EINTR)
            continue;
        if (n < 0) {
            other++;
            continue;
        }
        for (int i = 0; i < n; i++)
            if (xpoll_event_token(xpoll_events_get(events, (size_t)i)) == 99) {
                waker_events++;
                seen = atomic_load(&handler_wakes);
            }
    }
    handler_waker = NULL;
    printf("wake storm [%s]: %ld wakes from the handler, %ld waker events, "
           "%ld waits, %ld -EINTR\n",
           xpoll_backend_name(xpoll_get_backend(poll)), final, waker_events,
           waits, eintr);
    assert_int_equal(atomic_load(&handler_wake_errors), 0);
    assert_int_equal(other, 0);
    assert_true(final >= min_wakes);
    assert_true(waker_events > 0);
    assert_int_equal(seen, final);
    xpoll_waker_free(waker);
    xpoll_events_free(events);
    xpoll_free(poll);
}

/* ---- timed waits and registration under the storm ----------------------- */

static void timed_waits_return_zero_or_eintr(void **state)
{
    (void)state;
    xpoll *poll;
    xpoll_events *events;
    assert_int_equal(xpoll_new(&poll), 0);
    assert_int_equal(xpoll_events_new(&events, 4), 0);
    struct storm storm;
    storm_start(&storm);
    /* `rounds` waits, and more until one was interrupted: whether a signal
     * lands inside so short a wait depends on scheduling, not on xpoll. */
    int rounds = stress_scaled(400, 50), i;
    long zero = 0, eintr = 0, other = 0;
    int64_t deadline = now_ns() + HANG_NS;
    for (i = 0; (i < rounds || eintr == 0) && now_ns() < deadline; i++) {
        /* 1 ms, 1.5 ms (epoll_pwait2 or rounded up), 2 ms */
        int n = xpoll_wait(poll, events, (int64_t)(2 + i % 3) * MS / 2);
        if (n == 0)
            zero++;
        else if (n == -EINTR)
            eintr++;
        else
            other++;
    }
    storm_stop(&storm);
    assert_int_equal(other, 0);
    assert_int_equal(zero + eintr, i);
    assert_true(eintr > 0);
    xpoll_events_free(events);
    xpoll_free(poll);
}

static void registration_is_not_disturbed(void **state)
{
    (void)state;
    enum { FDS = 32 };
    xpoll *poll;
    xpoll_events *events;
    int fds[FDS][2];
    assert_int_equal(xpoll_new(&poll), 0);
    assert_int_equal(xpoll_events_new(&events, FDS), 0);
    for (int i = 0; i < FDS; i++)
        assert_int_equal(xpoll_pipe(fds[i]), 0);
    struct storm storm;
    storm_start(&storm);
    int rounds = stress_scaled(300, 30);
    long failures = 0, missing = 0;
    for (int r = 0; r < rounds; r++) {
        for (int i = 0; i < FDS; i++) {
            failures += xpoll_register(poll, fds[i][0], (xpoll_token)i,
                                       XPOLL_READABLE) != 0;
            failures +=
                xpoll_reregister(poll, fds[i][0], (xpoll_token)(i + FDS),
                                 XPOLL_READABLE) != 0;
        }
        assert_int_equal(write(fds[r % FDS][1], "x", 1), 1);
        int n;
        do
            n = xpoll_wait(poll, events, SEC);
        while (n == -EINTR);
        bool found = false;
        for (int i = 0; i < n; i++)
            found |= xpoll_event_token(xpoll_events_get(events, (size_t)i)) ==
                     (xpoll_token)(r % FDS + FDS);
        missing += !found;
        char c;
        assert_int_equal(read(fds[r % FDS][0], &c, 1), 1);
        for (int i = 0; i < FDS; i++)
            failures += xpoll_deregister(poll, fds[i][0]) != 0;
    }
    storm_stop(&storm);
    assert_int_equal(failures, 0);
    assert_int_equal(missing, 0);
    for (int i = 0; i < FDS; i++) {
        close(fds[i][0]);
        close(fds[i][1]);
    }
    xpoll_events_free(events);
    xpoll_free(poll);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(data_survives_signal_storm),
        cmocka_unit_test(last_wake_is_never_lost),
        cmocka_unit_test(timed_waits_return_zero_or_eintr),
        cmocka_unit_test(registration_is_not_disturbed),
    };
    return RUN(tests, NULL, NULL);
}
