/*
 * The iocp backend as far as it goes: the completion port, the wait and
 * its timeout, the waker, and the timers with their wake-up packet.
 * Sockets (AFD polls) are not registered yet.  Runs under wine64 (ctest,
 * tests/windows/CMakeLists.txt).  Threads are Win32's (CreateThread).
 */
/* First: <xpoll.h> includes <winsock2.h>, which must come before
 * <windows.h> (mingw-w64's winsock2.h warns otherwise). */
#include "xpoll.h"

#include <windows.h>

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#define MS ((int64_t)1000000)

static int64_t now_ns(void)
{
    LARGE_INTEGER c, f;
    QueryPerformanceCounter(&c);
    QueryPerformanceFrequency(&f);
    return (int64_t)(c.QuadPart / f.QuadPart * 1000000000 +
                     c.QuadPart % f.QuadPart * 1000000000 / f.QuadPart);
}

struct fixture {
    xpoll *poll;
    xpoll_events *events;
};

static int setup(void **state)
{
    static struct fixture f;
    if (xpoll_new(&f.poll) != 0 || xpoll_events_new(&f.events, 16) != 0)
        return -1;
    *state = &f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    xpoll_events_free(f->events);
    xpoll_free(f->poll);
    return 0;
}

/* A thread that runs fn(arg) after `delay_ms`: it gives the main thread
 * time to block in its wait first, so the wake usually lands in a blocked
 * wait; each test's assertions hold either way. */
struct later {
    DWORD delay_ms;
    int (*fn)(void *arg);
    void *arg;
    int result;
};

static DWORD WINAPI later_main(LPVOID p)
{
    struct later *l = p;
    Sleep(l->delay_ms);
    l->result = l->fn(l->arg);
    return 0;
}

static HANDLE later_start(struct later *l)
{
    HANDLE h = CreateThread(NULL, 0, later_main, l, 0, NULL);
    assert_non_null(h);
    return h;
}

static void later_join(HANDLE h)
{
    assert_int_equal(WaitForSingleObject(h, 30000), WAIT_OBJECT_0);
    CloseHandle(h);
}

static void default_backend_is_iocp(void **state)
{
    struct fixture *f = *state;
    assert_int_equal(xpoll_get_backend(f->poll), XPOLL_BACKEND_IOCP);
    assert_string_equal(xpoll_backend_name(XPOLL_BACKEND_IOCP), "iocp");
    assert_int_equal(XPOLL_BACKEND_IOCP, XPOLL_BACKEND_IO_URING + 1);
    /* The port is a HANDLE, not a descriptor. */
    assert_int_equal(xpoll_fd(f->poll), -ENOTSUP);

    xpoll *by_name = NULL;
    assert_int_equal(xpoll_new_with_backend(&by_name, XPOLL_BACKEND_IOCP), 0);
    assert_int_equal(xpoll_get_backend(by_name), XPOLL_BACKEND_IOCP);
    xpoll_free(by_name);
    assert_int_equal(xpoll_new_with_backend(&by_name, XPOLL_BACKEND_EPOLL),
                     -ENOTSUP);
    assert_null(by_name);
}

static void wait_zero_returns_at_once(void **state)
{
    struct fixture *f = *state;
    assert_int_equal(xpoll_wait(f->poll, f->events, 0), 0);
    assert_int_equal(xpoll_events_len(f->events), 0);
}

static void timeout_waits_at_least_its_length(void **state)
{
    struct fixture *f = *state;
    int64_t lengths[] = {20 * MS, 1, 1500000}; /* 20 ms, 1 ns, 1.5 ms */
    for (size_t i = 0; i < sizeof lengths / sizeof lengths[0]; i++) {
        int64_t start = now_ns();
        assert_int_equal(xpoll_wait(f->poll, f->events, lengths[i]), 0);
        int64_t took = now_ns() - start;
        print_message("timeout %lld ns waited %lld ns\n", (long long)lengths[i],
                      (long long)took);
        assert_true(took >= lengths[i]);
    }
}

static int wake(void *arg)
{
    return xpoll_waker_wake(arg);
}

static void waker_from_another_thread_ends_an_unbounded_wait(void **state)
{
    struct fixture *f = *state;
    xpoll_waker *waker;
    assert_int_equal(xpoll_waker_new(f->poll, 0xC0FFEE, &waker), 0);

    struct later l = {.delay_ms = 50, .fn = wake, .arg = waker};
    HANDLE h = later_start(&l);
    assert_int_equal(xpoll_wait(f->poll, f->events, -1), 1);
    later_join(h);
    assert_int_equal(l.result, 0);
    const xpoll_event *e = xpoll_events_get(f->events, 0);
    assert_int_equal(xpoll_event_token(e), 0xC0FFEE);
    assert_true(xpoll_event_is_readable(e));
    assert_false(xpoll_event_is_timer(e));
    /* Consumed: nothing more. */
    assert_int_equal(xpoll_wait(f->poll, f->events, 0), 0);
    xpoll_waker_free(waker);
}

static void wakes_coalesce_until_the_event_is_seen(void **state)
{
    struct fixture *f = *state;
    xpoll_waker *waker;
    assert_int_equal(xpoll_waker_new(f->poll, 7, &waker), 0);

    for (int i = 0; i < 5; i++)
        assert_int_equal(xpoll_waker_wake(waker), 0);
    assert_int_equal(xpoll_wait(f->poll, f->events, 0), 1);
    assert_int_equal(xpoll_event_token(xpoll_events_get(f->events, 0)), 7);
    assert_int_equal(xpoll_wait(f->poll, f->events, 0), 0);
    /* After the event was delivered, a wake makes a new one. */
    assert_int_equal(xpoll_waker_wake(waker), 0);
    assert_int_equal(xpoll_wait(f->poll, f->events, 0), 1);
    assert_int_equal(xpoll_event_token(xpoll_events_get(f->events, 0)), 7);
    xpoll_waker_free(waker);
}

static void wake_of_a_freed_waker_yields_nothing(void **state)
{
    struct fixture *f = *state;
    xpoll_waker *waker;
    assert_int_equal(xpoll_waker_new(f->poll, 1, &waker), 0);
    assert_int_equal(xpoll_waker_wake(waker), 0);
    xpoll_waker_free(waker);
    /* Its packet is still queued; a new waker must not inherit it. */
    assert_int_equal(xpoll_waker_new(f->poll, 2, &waker), 0);
    assert_int_equal(xpoll_wait(f->poll, f->events, 0), 0);
    assert_int_equal(xpoll_waker_wake(waker), 0);
    assert_int_equal(xpoll_wait(f->poll, f->events, 0), 1);
    assert_int_equal(xpoll_event_token(xpoll_events_get(f->events, 0)), 2);
    xpoll_waker_free(waker);
}

static void timer_fires_with_its_token(void **state)
{
    struct fixture *f = *state;
    xpoll_timer *timer;
    assert_int_equal(xpoll_timer_new(f->poll, 0x7133, &timer), 0);
    int64_t start = now_ns();
    assert_int_equal(xpoll_timer_set(timer, 10 * MS, 0), 0);
    assert_int_equal(xpoll_wait(f->poll, f->events, 10000 * MS), 1);
    assert_true(now_ns() - start >= 10 * MS);
    const xpoll_event *e = xpoll_events_get(f->events, 0);
    assert_int_equal(xpoll_event_token(e), 0x7133);
    assert_true(xpoll_event_is_timer(e));
    assert_int_equal(xpoll_wait(f->poll, f->events, 0), 0);
    xpoll_timer_free(timer);
}

static int set_timer(void *arg)
{
    return xpoll_timer_set(arg, 1 * MS, 0);
}

/* The timer exists (so the poll has its timers' state) but is unset:
 * the wait is unbounded until the other thread's set posts the wake-up
 * packet, whose event src/timer.c drops; the wait then delivers the timer
 * and nothing else. */
static void timer_set_from_another_thread_ends_an_unbounded_wait(void **state)
{
    struct fixture *f = *state;
    xpoll_timer *timer;
    assert_int_equal(xpoll_timer_new(f->poll, 0x5E7, &timer), 0);
    for (int round = 0; round < 3; round++) {
        struct later l = {.delay_ms = 50, .fn = set_timer, .arg = timer};
        HANDLE h = later_start(&l);
        assert_int_equal(xpoll_wait(f->poll, f->events, -1), 1);
        later_join(h);
        assert_int_equal(l.result, 0);
        const xpoll_event *e = xpoll_events_get(f->events, 0);
        assert_int_equal(xpoll_event_token(e), 0x5E7);
        assert_true(xpoll_event_is_timer(e));
        assert_int_equal(xpoll_wait(f->poll, f->events, 0), 0);
    }
    xpoll_timer_free(timer);
}

static int create_and_set_timer(void *arg)
{
    xpoll_timer **timer = arg;
    struct fixture *f = (struct fixture *)timer[1];
    int err = xpoll_timer_new(f->poll, 0xF1257, &timer[0]);
    return err < 0 ? err : xpoll_timer_set(timer[0], 1 * MS, 0);
}

/* The first timer of a poll created and set while a wait blocks: the wait
 * began without timers, and xpoll_wait drops the wake-up's event itself
 * before delivering the timer. */
static void first_timer_created_during_a_wait(void **state)
{
    struct fixture *f;
    assert_int_equal(setup((void **)&f), 0);
    xpoll_timer *timer[2] = {NULL, (xpoll_timer *)f};
    struct later l = {.delay_ms = 50, .fn = create_and_set_timer, .arg = timer};
    HANDLE h = later_start(&l);
    assert_int_equal(xpoll_wait(f->poll, f->events, -1), 1);
    later_join(h);
    assert_int_equal(l.result, 0);
    const xpoll_event *e = xpoll_events_get(f->events, 0);
    assert_int_equal(xpoll_event_token(e), 0xF1257);
    assert_true(xpoll_event_is_timer(e));
    assert_int_equal(xpoll_wait(f->poll, f->events, 0), 0);
    xpoll_timer_free(timer[0]);
    void *fs = f;
    teardown(&fs);
    (void)state;
}

static void sockets_are_not_registered_yet(void **state)
{
    struct fixture *f = *state;
    /* The AFD part of the backend is not written: registration says so. */
    assert_int_equal(xpoll_register(f->poll, 4, 1, XPOLL_READABLE), -ENOTSUP);
    assert_int_equal(xpoll_deregister(f->poll, 4), -ENOTSUP);
    assert_int_equal(xpoll_rearm(f->poll, 4, XPOLL_READABLE), -ENOTSUP);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(default_backend_is_iocp, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(wait_zero_returns_at_once, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(timeout_waits_at_least_its_length,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(
            waker_from_another_thread_ends_an_unbounded_wait, setup, teardown),
        cmocka_unit_test_setup_teardown(wakes_coalesce_until_the_event_is_seen,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(wake_of_a_freed_waker_yields_nothing,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(timer_fires_with_its_token, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(
            timer_set_from_another_thread_ends_an_unbounded_wait, setup,
            teardown),
        cmocka_unit_test(first_timer_created_during_a_wait),
        cmocka_unit_test_setup_teardown(sockets_are_not_registered_yet, setup,
                                        teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
