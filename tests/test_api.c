/*
 * Every public function and every error <xpoll/poll.h> documents: argument
 * checks, the object lifecycle, and the registration cases where the
 * backends are allowed to differ (asserted per backend).  Built for every
 * system; what needs POSIX descriptors is in test_api_posix.c.
 */
#define _GNU_SOURCE
#include "support.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- version and backend names ---------------------------------------- */

static void version_matches_macros(void **state)
{
    (void)state;
    char expected[64];
    snprintf(expected, sizeof expected, "%d.%d.%d", XPOLL_VERSION_MAJOR,
             XPOLL_VERSION_MINOR, XPOLL_VERSION_PATCH);
    assert_string_equal(xpoll_version(), expected);
}

static void backend_names_cover_the_enum(void **state)
{
    (void)state;
    assert_string_equal(xpoll_backend_name(XPOLL_BACKEND_DEFAULT), "default");
    assert_string_equal(xpoll_backend_name(XPOLL_BACKEND_EPOLL), "epoll");
    assert_string_equal(xpoll_backend_name(XPOLL_BACKEND_KQUEUE), "kqueue");
    assert_string_equal(xpoll_backend_name(XPOLL_BACKEND_POLL), "poll");
    assert_string_equal(xpoll_backend_name(XPOLL_BACKEND_IO_URING), "io_uring");
    assert_string_equal(xpoll_backend_name(XPOLL_BACKEND_IOCP), "iocp");
    assert_int_equal(XPOLL_BACKEND_IOCP, 5); /* appended: no value moved */
    assert_null(xpoll_backend_name((xpoll_backend)99));
    assert_null(xpoll_backend_name((xpoll_backend)-1));
}

/* ---- poll lifecycle ----------------------------------------------------- */

static void new_rejects_null_out(void **state)
{
    (void)state;
    assert_int_equal(xpoll_new(NULL), -EINVAL);
    assert_int_equal(xpoll_new_with_backend(NULL, XPOLL_BACKEND_DEFAULT),
                     -EINVAL);
}

static void new_reports_a_concrete_backend(void **state)
{
    (void)state;
    xpoll *poll = NULL;
    assert_int_equal(xpoll_new(&poll), 0);
    assert_non_null(poll);
    xpoll_backend b = xpoll_get_backend(poll);
    assert_int_not_equal(b, XPOLL_BACKEND_DEFAULT);
    const char *want = getenv("XPOLL_BACKEND");
    if (want != NULL && want[0] != '\0')
        assert_string_equal(xpoll_backend_name(b), want);
    xpoll_free(poll);
}

static void default_backend_is_concrete(void **state)
{
    (void)state;
    xpoll *poll = NULL;
    assert_int_equal(xpoll_new_with_backend(&poll, XPOLL_BACKEND_DEFAULT), 0);
    assert_int_not_equal(xpoll_get_backend(poll), XPOLL_BACKEND_DEFAULT);
    /* The system's own (epoll on Linux, kqueue on macOS and FreeBSD). */
    if (platform_native_backend() != XPOLL_BACKEND_DEFAULT)
        assert_int_equal(xpoll_get_backend(poll), platform_native_backend());
    xpoll_free(poll);
}

static void reserved_backends_are_not_supported(void **state)
{
    (void)state;
    xpoll *poll = (xpoll *)&poll; /* must be reset to NULL */
    assert_int_equal(xpoll_new_with_backend(&poll, XPOLL_BACKEND_IO_URING),
                     -ENOTSUP);
    assert_null(poll);
    /* iocp is Windows' alone, and Windows has none of the others. */
    const xpoll_backend posix[] = {XPOLL_BACKEND_EPOLL, XPOLL_BACKEND_KQUEUE,
                                   XPOLL_BACKEND_POLL};
    if (platform_native_backend() == XPOLL_BACKEND_IOCP) {
        for (size_t i = 0; i < sizeof posix / sizeof posix[0]; i++) {
            poll = (xpoll *)&poll;
            assert_int_equal(xpoll_new_with_backend(&poll, posix[i]), -ENOTSUP);
            assert_null(poll);
        }
    } else {
        poll = (xpoll *)&poll;
        assert_int_equal(xpoll_new_with_backend(&poll, XPOLL_BACKEND_IOCP),
                         -ENOTSUP);
        assert_null(poll);
    }
}

static void backend_outside_enum_is_invalid(void **state)
{
    (void)state;
    xpoll *poll = (xpoll *)&poll;
    assert_int_equal(xpoll_new_with_backend(&poll, (xpoll_backend)42), -EINVAL);
    assert_null(poll);
    poll = (xpoll *)&poll;
    assert_int_equal(xpoll_new_with_backend(&poll, (xpoll_backend)-3), -EINVAL);
    assert_null(poll);
}

static void free_null_is_noop(void **state)
{
    (void)state;
    xpoll_free(NULL);
    xpoll_events_free(NULL);
    xpoll_waker_free(NULL);
}

static void null_poll_queries(void **state)
{
    (void)state;
    assert_int_equal(xpoll_get_backend(NULL), XPOLL_BACKEND_DEFAULT);
    assert_int_equal(xpoll_fd(NULL), -EINVAL);
}

/* The poll(2) backend has no kernel object to hand out, nor has iocp a
 * descriptor (its completion port is a HANDLE): xpoll_fd() is -ENOTSUP
 * there, and registering that value is -EBADF (fd < 0).  epoll and
 * kqueue hand out theirs (test_api_posix.c checks it). */
static void poll_fd_per_backend(void **state)
{
    struct fixture *f = *state;
    xpoll_backend b = xpoll_get_backend(f->poll);
    if (b == XPOLL_BACKEND_POLL || b == XPOLL_BACKEND_IOCP) {
        assert_int_equal(xpoll_fd(f->poll), -ENOTSUP);
        assert_int_equal(
            xpoll_register(f->poll, xpoll_fd(f->poll), 1, XPOLL_READABLE),
            -EBADF);
    } else {
        assert_true(xpoll_fd(f->poll) >= 0);
    }
}

static void free_closes_the_selector(void **state)
{
    (void)state;
    int before = open_fd_count();
    xpoll *poll;
    assert_int_equal(xpoll_new(&poll), 0);
    /* One epoll or kqueue descriptor (the emulation uses a few), or the
     * completion port's handle. */
    assert_true(open_fd_count() > before);
    xpoll_free(poll);
    assert_int_equal(open_fd_count(), before);
}

/* ---- events ------------------------------------------------------------- */

static void events_new_rejects_bad_arguments(void **state)
{
    (void)state;
    xpoll_events *events = (xpoll_events *)&events;
    assert_int_equal(xpoll_events_new(NULL, 8), -EINVAL);
    assert_int_equal(xpoll_events_new(&events, 0), -EINVAL);
    assert_null(events);
}

static void events_new_rejects_impossible_capacity(void **state)
{
    (void)state;
    xpoll_events *events = (xpoll_events *)&events;
    assert_int_equal(xpoll_events_new(&events, SIZE_MAX), -ENOMEM);
    assert_null(events);
    events = (xpoll_events *)&events;
    assert_int_equal(xpoll_events_new(&events, SIZE_MAX / 16), -ENOMEM);
    assert_null(events);
}

static void events_start_empty(void **state)
{
    (void)state;
    xpoll_events *events;
    assert_int_equal(xpoll_events_new(&events, 7), 0);
    assert_int_equal(xpoll_events_capacity(events), 7);
    assert_int_equal(xpoll_events_len(events), 0);
    assert_true(xpoll_events_is_empty(events));
    assert_null(xpoll_events_get(events, 0));
    xpoll_events_free(events);
}

static void events_null_queries(void **state)
{
    (void)state;
    assert_int_equal(xpoll_events_capacity(NULL), 0);
    assert_int_equal(xpoll_events_len(NULL), 0);
    assert_true(xpoll_events_is_empty(NULL));
    assert_null(xpoll_events_get(NULL, 0));
    xpoll_events_clear(NULL);
}

static void event_accessors_on_null(void **state)
{
    (void)state;
    assert_int_equal(xpoll_event_token(NULL), 0);
    assert_false(xpoll_event_is_readable(NULL));
    assert_false(xpoll_event_is_writable(NULL));
    assert_false(xpoll_event_is_error(NULL));
    assert_false(xpoll_event_is_read_closed(NULL));
    assert_false(xpoll_event_is_write_closed(NULL));
    assert_false(xpoll_event_is_priority(NULL));
    assert_false(xpoll_event_is_aio(NULL));
    assert_false(xpoll_event_is_lio(NULL));
}

static void events_get_past_len_is_null(void **state)
{
    struct fixture *f = *state;
    xpoll_socket fds[2];
    pair_open(pair_simple, fds);
    assert_int_equal(xpoll_register(f->poll, fds[0], 5, XPOLL_READABLE), 0);
    put(pair_simple, fds);
    assert_int_equal(xpoll_wait(f->poll, f->events, SEC), 1);
    assert_non_null(xpoll_events_get(f->events, 0));
    assert_null(xpoll_events_get(f->events, 1));
    assert_null(xpoll_events_get(f->events, SIZE_MAX));
    pair_close(pair_simple, fds);
}

static void events_clear_empties(void **state)
{
    struct fixture *f = *state;
    xpoll_socket fds[2];
    pair_open(pair_simple, fds);
    assert_int_equal(xpoll_register(f->poll, fds[0], 5, XPOLL_READABLE), 0);
    put(pair_simple, fds);
    assert_int_equal(xpoll_wait(f->poll, f->events, SEC), 1);
    assert_false(xpoll_events_is_empty(f->events));
    xpoll_events_clear(f->events);
    assert_true(xpoll_events_is_empty(f->events));
    assert_null(xpoll_events_get(f->events, 0));
    pair_close(pair_simple, fds);
}

/* ---- wait argument checks ----------------------------------------------- */

static void wait_rejects_null(void **state)
{
    struct fixture *f = *state;
    assert_int_equal(xpoll_wait(f->poll, NULL, 0), -EINVAL);
    assert_int_equal(xpoll_wait(NULL, f->events, 0), -EINVAL);
}

static void wait_clears_events_even_when_failing(void **state)
{
    struct fixture *f = *state;
    xpoll_socket fds[2];
    pair_open(pair_simple, fds);
    assert_int_equal(xpoll_register(f->poll, fds[0], 5, XPOLL_READABLE), 0);
    put(pair_simple, fds);
    assert_int_equal(xpoll_wait(f->poll, f->events, SEC), 1);
    assert_int_equal(xpoll_wait(NULL, f->events, 0), -EINVAL);
    assert_int_equal(xpoll_events_len(f->events), 0);
    pair_close(pair_simple, fds);
}

static void wait_clears_events_on_timeout(void **state)
{
    struct fixture *f = *state;
    xpoll_socket fds[2];
    pair_open(pair_simple, fds);
    assert_int_equal(xpoll_register(f->poll, fds[0], 5, XPOLL_READABLE), 0);
    put(pair_simple, fds);
    assert_int_equal(xpoll_wait(f->poll, f->events, SEC), 1);
    assert_int_equal(xpoll_wait(f->poll, f->events, 0), 0);
    assert_int_equal(xpoll_events_len(f->events), 0);
    pair_close(pair_simple, fds);
}

/* ---- registration argument checks --------------------------------------- */

static void register_null_poll(void **state)
{
    (void)state;
    assert_int_equal(xpoll_register(NULL, 0, 1, XPOLL_READABLE), -EINVAL);
    assert_int_equal(xpoll_reregister(NULL, 0, 1, XPOLL_READABLE), -EINVAL);
    assert_int_equal(xpoll_deregister(NULL, 0), -EINVAL);
}

static void register_negative_fd(void **state)
{
    struct fixture *f = *state;
    assert_int_equal(xpoll_register(f->poll, -1, 1, XPOLL_READABLE), -EBADF);
    assert_int_equal(xpoll_reregister(f->poll, -1, 1, XPOLL_READABLE), -EBADF);
    assert_int_equal(xpoll_deregister(f->poll, -1), -EBADF);
}

static void register_closed_fd(void **state)
{
    struct fixture *f = *state;
    xpoll_socket fds[2];
    pair_open(pair_simple, fds);
    pair_close(pair_simple, fds);
    assert_int_equal(xpoll_register(f->poll, fds[0], 1, XPOLL_READABLE),
                     -EBADF);
    assert_int_equal(xpoll_reregister(f->poll, fds[0], 1, XPOLL_READABLE),
                     -EBADF);
}

static void deregister_closed_fd(void **state)
{
    struct fixture *f = *state;
    xpoll_socket fds[2];
    pair_open(pair_simple, fds);
    pair_close(pair_simple, fds);
    /* epoll and FreeBSD's kevent() look the fd up first; macOS answers
     * ENOENT for the absent knote, and the kqueue backend then checks the
     * fd itself. */
    assert_int_equal(xpoll_deregister(f->poll, fds[0]), -EBADF);
}

static void register_empty_interests(void **state)
{
    struct fixture *f = *state;
    xpoll_socket fds[2];
    pair_open(pair_simple, fds);
    assert_int_equal(xpoll_register(f->poll, fds[0], 1, 0), -EINVAL);
    assert_int_equal(xpoll_reregister(f->poll, fds[0], 1, 0), -EINVAL);
    pair_close(pair_simple, fds);
}

static void register_unknown_interest_bits(void **state)
{
    struct fixture *f = *state;
    xpoll_socket fds[2];
    pair_open(pair_simple, fds);
    assert_int_equal(xpoll_register(f->poll, fds[0], 1, 0x20), -EINVAL);
    assert_int_equal(xpoll_register(f->poll, fds[0], 1, XPOLL_READABLE | 0x80),
                     -EINVAL);
    assert_int_equal(xpoll_reregister(f->poll, fds[0], 1, 0x40), -EINVAL);
    pair_close(pair_simple, fds);
}

static void register_unsupported_interests(void **state)
{
    struct fixture *f = *state;
    xpoll_socket fds[2];
    pair_open(pair_simple, fds);
    if (on_kqueue()) {
        assert_int_equal(xpoll_register(f->poll, fds[0], 1, XPOLL_PRIORITY),
                         -ENOTSUP);
        assert_int_equal(
            xpoll_register(f->poll, fds[0], 1, XPOLL_READABLE | XPOLL_PRIORITY),
            -ENOTSUP);
    } else {
        assert_int_equal(xpoll_register(f->poll, fds[0], 1, XPOLL_AIO),
                         -ENOTSUP);
        assert_int_equal(xpoll_register(f->poll, fds[0], 1, XPOLL_LIO),
                         -ENOTSUP);
        assert_int_equal(
            xpoll_reregister(f->poll, fds[0], 1, XPOLL_READABLE | XPOLL_AIO),
            -ENOTSUP);
    }
    /* A refused registration left nothing behind. */
    put(pair_simple, fds);
    expect_no_event(f->poll, f->events, 0);
    pair_close(pair_simple, fds);
}

static void register_twice(void **state)
{
    struct fixture *f = *state;
    xpoll_socket fds[2];
    pair_open(pair_simple, fds);
    assert_int_equal(xpoll_register(f->poll, fds[0], 1, XPOLL_READABLE), 0);
    int err = xpoll_register(f->poll, fds[0], 2, XPOLL_READABLE);
    put(pair_simple, fds);
    struct seen seen;
    if (on_kqueue()) {
        /* EV_ADD on an existing knote updates it: the new token wins. */
        assert_int_equal(err, 0);
        seen = expect_event(f->poll, f->events, 2);
    } else {
        assert_int_equal(err, -EEXIST);
        seen = expect_event(f->poll, f->events, 1);
    }
    assert_int_equal(seen.events, 1);
    pair_close(pair_simple, fds);
}

static void reregister_unregistered(void **state)
{
    struct fixture *f = *state;
    xpoll_socket fds[2];
    pair_open(pair_simple, fds);
    int err = xpoll_reregister(f->poll, fds[0], 3, XPOLL_READABLE);
    if (on_kqueue()) {
        /* reregister adds the wanted filters (absent ones are ignored). */
        assert_int_equal(err, 0);
        put(pair_simple, fds);
        assert_int_equal(expect_event(f->poll, f->events, 3).events, 1);
    } else {
        assert_int_equal(err, -ENOENT);
    }
    pair_close(pair_simple, fds);
}

static void deregister_unregistered(void **state)
{
    struct fixture *f = *state;
    xpoll_socket fds[2];
    pair_open(pair_simple, fds);
    assert_int_equal(xpoll_deregister(f->poll, fds[0]),
                     on_kqueue() ? 0 : -ENOENT);
    pair_close(pair_simple, fds);
}

static void deregister_twice(void **state)
{
    struct fixture *f = *state;
    xpoll_socket fds[2];
    pair_open(pair_simple, fds);
    assert_int_equal(xpoll_register(f->poll, fds[0], 1, XPOLL_READABLE), 0);
    assert_int_equal(xpoll_deregister(f->poll, fds[0]), 0);
    assert_int_equal(xpoll_deregister(f->poll, fds[0]),
                     on_kqueue() ? 0 : -ENOENT);
    pair_close(pair_simple, fds);
}

static void register_deregister_register(void **state)
{
    struct fixture *f = *state;
    xpoll_socket fds[2];
    pair_open(pair_simple, fds);
    assert_int_equal(xpoll_register(f->poll, fds[0], 1, XPOLL_READABLE), 0);
    assert_int_equal(xpoll_deregister(f->poll, fds[0]), 0);
    assert_int_equal(xpoll_register(f->poll, fds[0], 2, XPOLL_READABLE), 0);
    put(pair_simple, fds);
    struct seen seen = expect_event(f->poll, f->events, 2);
    assert_int_equal(seen.events, 1);
    assert_true(seen.flags & SEEN_READABLE);
    pair_close(pair_simple, fds);
}

static void token_round_trips_full_width(void **state)
{
    struct fixture *f = *state;
    xpoll_socket fds[2];
    const xpoll_token tokens[] = {0, 1, UINTPTR_MAX, UINTPTR_MAX - 1,
                                  (xpoll_token)&tokens};
    for (size_t i = 0; i < sizeof tokens / sizeof tokens[0]; i++) {
        pair_open(pair_simple, fds);
        assert_int_equal(
            xpoll_register(f->poll, fds[0], tokens[i], XPOLL_READABLE), 0);
        put(pair_simple, fds);
        assert_int_equal(xpoll_wait(f->poll, f->events, SEC), 1);
        assert_true(xpoll_event_token(xpoll_events_get(f->events, 0)) ==
                    tokens[i]);
        assert_int_equal(xpoll_deregister(f->poll, fds[0]), 0);
        pair_close(pair_simple, fds);
    }
}

static void failed_registration_keeps_the_poll_usable(void **state)
{
    struct fixture *f = *state;
    xpoll_socket fds[2];
    pair_open(pair_simple, fds);
    assert_int_equal(xpoll_register(f->poll, -1, 1, XPOLL_READABLE), -EBADF);
    assert_int_equal(xpoll_register(f->poll, fds[0], 1, 0), -EINVAL);
    assert_int_equal(xpoll_register(f->poll, fds[0], 1, XPOLL_READABLE), 0);
    put(pair_simple, fds);
    assert_int_equal(expect_event(f->poll, f->events, 1).events, 1);
    pair_close(pair_simple, fds);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(version_matches_macros),
        cmocka_unit_test(backend_names_cover_the_enum),
        cmocka_unit_test(new_rejects_null_out),
        cmocka_unit_test(new_reports_a_concrete_backend),
        cmocka_unit_test(default_backend_is_concrete),
        cmocka_unit_test(reserved_backends_are_not_supported),
        cmocka_unit_test(backend_outside_enum_is_invalid),
        cmocka_unit_test(free_null_is_noop),
        cmocka_unit_test(null_poll_queries),
        cmocka_unit_test_setup_teardown(poll_fd_per_backend, fixture_setup,
                                        fixture_teardown),
        cmocka_unit_test(free_closes_the_selector),
        cmocka_unit_test(events_new_rejects_bad_arguments),
        cmocka_unit_test(events_new_rejects_impossible_capacity),
        cmocka_unit_test(events_start_empty),
        cmocka_unit_test(events_null_queries),
        cmocka_unit_test(event_accessors_on_null),
        cmocka_unit_test_setup_teardown(events_get_past_len_is_null,
                                        fixture_setup, fixture_teardown),
        cmocka_unit_test_setup_teardown(events_clear_empties, fixture_setup,
                                        fixture_teardown),
        cmocka_unit_test_setup_teardown(wait_rejects_null, fixture_setup,
                                        fixture_teardown),
        cmocka_unit_test_setup_teardown(wait_clears_events_even_when_failing,
                                        fixture_setup, fixture_teardown),
        cmocka_unit_test_setup_teardown(wait_clears_events_on_timeout,
                                        fixture_setup, fixture_teardown),
        cmocka_unit_test(register_null_poll),
        cmocka_unit_test_setup_teardown(register_negative_fd, fixture_setup,
                                        fixture_teardown),
        cmocka_unit_test_setup_teardown(register_closed_fd, fixture_setup,
                                        fixture_teardown),
        cmocka_unit_test_setup_teardown(deregister_closed_fd, fixture_setup,
                                        fixture_teardown),
        cmocka_unit_test_setup_teardown(register_empty_interests, fixture_setup,
                                        fixture_teardown),
        cmocka_unit_test_setup_teardown(register_unknown_interest_bits,
                                        fixture_setup, fixture_teardown),
        cmocka_unit_test_setup_teardown(register_unsupported_interests,
                                        fixture_setup, fixture_teardown),
        cmocka_unit_test_setup_teardown(register_twice, fixture_setup,
                                        fixture_teardown),
        cmocka_unit_test_setup_teardown(reregister_unregistered, fixture_setup,
                                        fixture_teardown),
        cmocka_unit_test_setup_teardown(deregister_unregistered, fixture_setup,
                                        fixture_teardown),
        cmocka_unit_test_setup_teardown(deregister_twice, fixture_setup,
                                        fixture_teardown),
        cmocka_unit_test_setup_teardown(register_deregister_register,
                                        fixture_setup, fixture_teardown),
        cmocka_unit_test_setup_teardown(token_round_trips_full_width,
                                        fixture_setup, fixture_teardown),
        cmocka_unit_test_setup_teardown(
            failed_registration_keeps_the_poll_usable, fixture_setup,
            fixture_teardown),
    };
    return RUN(tests, NULL, NULL);
}
