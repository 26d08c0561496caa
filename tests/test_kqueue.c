/*
 * kqueue-backend behaviours, proven against the emulation's call trace and
 * fault injection: the kevent rules of docs/kqueue.md.  Runs on the kqueue
 * backend only, under both personalities (one build each).
 */
#define _GNU_SOURCE
#include "support.h"

#include <errno.h>
#include <limits.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "kqemu.h"

#define ADD_FLAGS    (EV_ADD | EV_CLEAR | EV_RECEIPT)
#define DELETE_FLAGS (EV_DELETE | EV_RECEIPT)

static bool darwin(void)
{
    return kqemu_personality() == KQEMU_DARWIN;
}

/* The kevent() calls made since the last reset that carried changes. */
static size_t change_calls(struct kqemu_call *out, size_t max)
{
    size_t n = 0;
    for (size_t i = 0; i < kqemu_trace_count(); i++) {
        struct kqemu_call call;
        assert_int_equal(kqemu_trace_get(i, &call), 0);
        if (call.nchanges > 0) {
            if (n < max)
                out[n] = call;
            n++;
        }
    }
    return n;
}

/* The single kevent() a registration call must make. */
static struct kqemu_call only_call(void)
{
    struct kqemu_call calls[4];
    assert_int_equal(change_calls(calls, 4), 1);
    return calls[0];
}

static void assert_change(const struct kevent *kev, int fd, short filter,
                          unsigned flags)
{
    assert_int_equal(kev->ident, (uintptr_t)fd);
    assert_int_equal(kev->filter, filter);
    assert_int_equal(kev->flags, flags);
}

/* ---- one kevent() per registration -------------------------------------- */

static void register_both_is_one_call_with_two_changes(void **state)
{
    struct fixture *f = *state;
    int fds[2];
    pair_open(PAIR_UNIX_STREAM, fds);
    kqemu_trace_reset();
    assert_int_equal(
        xpoll_register(f->poll, fds[0], 9, XPOLL_READABLE | XPOLL_WRITABLE), 0);
    struct kqemu_call call = only_call();
    assert_int_equal(call.kq, xpoll_fd(f->poll));
    assert_int_equal(call.nchanges, 2);
    assert_int_equal(call.nevents, 2); /* receipts into the same array */
    assert_int_equal(call.has_timeout, 0);
    assert_int_equal(call.result, 2);
    assert_change(&call.changes[0], fds[0], EVFILT_WRITE, ADD_FLAGS);
    assert_change(&call.changes[1], fds[0], EVFILT_READ, ADD_FLAGS);
    assert_true(call.changes[0].udata == (void *)9);
    /* Both filters then fire. */
    put(PAIR_UNIX_STREAM, fds);
    struct seen seen = expect_event(f->poll, f->events, 9);
    assert_int_equal(seen.events, 2);
    assert_true(seen.flags & SEEN_READABLE);
    assert_true(seen.flags & SEEN_WRITABLE);
    pair_close(PAIR_UNIX_STREAM, fds);
}

static void register_one_direction_is_one_change(void **state)
{
    struct fixture *f = *state;
    int fds[2];
    pair_open(PAIR_PIPE, fds);
    kqemu_trace_reset();
    assert_int_equal(xpoll_register(f->poll, fds[0], 1, XPOLL_READABLE), 0);
    assert_int_equal(xpoll_register(f->poll, fds[1], 2, XPOLL_WRITABLE), 0);
    struct kqemu_call calls[4];
    assert_int_equal(change_calls(calls, 4), 2);
    assert_int_equal(calls[0].nchanges, 1);
    assert_change(&calls[0].changes[0], fds[0], EVFILT_READ, ADD_FLAGS);
    assert_int_equal(calls[1].nchanges, 1);
    assert_change(&calls[1].changes[0], fds[1], EVFILT_WRITE, ADD_FLAGS);
    pair_close(PAIR_PIPE, fds);
}

/* ---- receipts are parsed with a bit test -------------------------------- */

static void darwin_style_receipt_is_success(void **state)
{
    struct fixture *f = *state;
    int fds[2];
    pair_open(PAIR_PIPE, fds);
    kqemu_trace_reset();
    assert_int_equal(xpoll_register(f->poll, fds[0], 1, XPOLL_READABLE), 0);
    /* The call's receipts were written back over the changes; whatever
     * their flags (FreeBSD: EV_ERROR; macOS: flags | EV_ERROR), data 0 is
     * success.  The trace records the changes as sent. */
    assert_int_equal(only_call().result, 1);
    put(PAIR_PIPE, fds);
    assert_int_equal(expect_event(f->poll, f->events, 1).events, 1);
    pair_close(PAIR_PIPE, fds);
}

static void injected_error_surfaces(void **state)
{
    struct fixture *f = *state;
    int fds[2];
    pair_open(PAIR_PIPE, fds);
    assert_int_equal(
        kqemu_inject_change_errno(xpoll_fd(f->poll), EVFILT_READ, EBADF, 1), 0);
    assert_int_equal(xpoll_register(f->poll, fds[0], 1, XPOLL_READABLE),
                     -EBADF);
    pair_close(PAIR_PIPE, fds);
}

static void first_unignored_error_wins(void **state)
{
    struct fixture *f = *state;
    int fds[2];
    pair_open(PAIR_UNIX_STREAM, fds);
    int kq = xpoll_fd(f->poll);
    /* WRITE's EPIPE is ignored on register; READ's EACCES is not. */
    assert_int_equal(kqemu_inject_change_errno(kq, EVFILT_WRITE, EPIPE, 1), 0);
    assert_int_equal(kqemu_inject_change_errno(kq, EVFILT_READ, EACCES, 1), 0);
    assert_int_equal(
        xpoll_register(f->poll, fds[0], 1, XPOLL_READABLE | XPOLL_WRITABLE),
        -EACCES);
    pair_close(PAIR_UNIX_STREAM, fds);
}

/* ---- EPIPE on register is ignored --------------------------------------- */

static void injected_epipe_on_register_is_ignored(void **state)
{
    struct fixture *f = *state;
    int fds[2];
    pair_open(PAIR_PIPE, fds);
    assert_int_equal(
        kqemu_inject_change_errno(xpoll_fd(f->poll), EVFILT_WRITE, EPIPE, 1),
        0);
    assert_int_equal(xpoll_register(f->poll, fds[1], 3, XPOLL_WRITABLE), 0);
    assert_int_equal(expect_event(f->poll, f->events, 3).events, 1);
    pair_close(PAIR_PIPE, fds);
}

static void pipe_with_closed_reader_registers(void **state)
{
    struct fixture *f = *state;
    int fds[2];
    pair_open(PAIR_PIPE, fds);
    close(fds[0]);
    /* FreeBSD answers EPIPE in-band (sys/kern/sys_pipe.c pipe_kqfilter),
     * ignored; macOS attaches and reports EV_EOF. */
    assert_int_equal(xpoll_register(f->poll, fds[1], 3, XPOLL_WRITABLE), 0);
    assert_int_equal(write(fds[1], "x", 1), -1);
    assert_int_equal(errno, EPIPE);
    if (darwin()) {
        struct seen seen = expect_event(f->poll, f->events, 3);
        assert_true(seen.flags & SEEN_WRITE_CLOSED);
    }
    close(fds[1]);
}

static void legacy_macos_pipe_epipe_is_ignored(void **state)
{
    struct fixture *f = *state;
    int fds[2];
    pair_open(PAIR_PIPE, fds);
    close(fds[0]);
    kqemu_set_macos_legacy_pipe_epipe(1);
    int err = xpoll_register(f->poll, fds[1], 3, XPOLL_WRITABLE);
    kqemu_set_macos_legacy_pipe_epipe(0);
    assert_int_equal(err, 0);
    close(fds[1]);
}

/* ---- reregister adds and deletes in one call ---------------------------- */

static void reregister_read_to_write_is_one_call(void **state)
{
    struct fixture *f = *state;
    int fds[2];
    pair_open(PAIR_UNIX_STREAM, fds);
    assert_int_equal(xpoll_register(f->poll, fds[0], 1, XPOLL_READABLE), 0);
    kqemu_trace_reset();
    assert_int_equal(xpoll_reregister(f->poll, fds[0], 2, XPOLL_WRITABLE), 0);
    struct kqemu_call call = only_call();
    assert_int_equal(call.nchanges, 2);
    assert_change(&call.changes[0], fds[0], EVFILT_WRITE, ADD_FLAGS);
    assert_change(&call.changes[1], fds[0], EVFILT_READ, DELETE_FLAGS);
    assert_true(call.changes[0].udata == (void *)2);
    struct seen seen = expect_event(f->poll, f->events, 2);
    assert_true(seen.flags & SEEN_WRITABLE);
    pair_close(PAIR_UNIX_STREAM, fds);
}

static void reregister_ignores_enoent(void **state)
{
    struct fixture *f = *state;
    int fds[2];
    pair_open(PAIR_UNIX_STREAM, fds);
    assert_int_equal(xpoll_register(f->poll, fds[0], 1, XPOLL_WRITABLE), 0);
    expect_event(f->poll, f->events, 1);
    /* WRITE -> READ: deleting WRITE works; READ was never there, but it is
     * added, not deleted.  Now READ -> READ deletes an absent WRITE. */
    assert_int_equal(xpoll_reregister(f->poll, fds[0], 2, XPOLL_READABLE), 0);
    assert_int_equal(xpoll_reregister(f->poll, fds[0], 3, XPOLL_READABLE), 0);
    put(PAIR_UNIX_STREAM, fds);
    struct seen seen = expect_event(f->poll, f->events, 3);
    assert_int_equal(seen.events, 1);
    assert_true(seen.flags & SEEN_READABLE);
    pair_close(PAIR_UNIX_STREAM, fds);
}

static void reregister_ignores_epipe(void **state)
{
    struct fixture *f = *state;
    int fds[2];
    pair_open(PAIR_PIPE, fds);
    assert_int_equal(xpoll_register(f->poll, fds[1], 1, XPOLL_WRITABLE), 0);
    assert_int_equal(
        kqemu_inject_change_errno(xpoll_fd(f->poll), EVFILT_WRITE, EPIPE, 1),
        0);
    assert_int_equal(xpoll_reregister(f->poll, fds[1], 2, XPOLL_WRITABLE), 0);
    pair_close(PAIR_PIPE, fds);
}

/* ---- deregister deletes both filters in one call ------------------------ */

static void deregister_is_one_call_ignoring_enoent(void **state)
{
    struct fixture *f = *state;
    int fds[2];
    pair_open(PAIR_UNIX_STREAM, fds);
    assert_int_equal(xpoll_register(f->poll, fds[0], 1, XPOLL_READABLE), 0);
    kqemu_trace_reset();
    assert_int_equal(xpoll_deregister(f->poll, fds[0]), 0);
    struct kqemu_call call = only_call();
    assert_int_equal(call.nchanges, 2);
    assert_change(&call.changes[0], fds[0], EVFILT_WRITE, DELETE_FLAGS);
    assert_change(&call.changes[1], fds[0], EVFILT_READ, DELETE_FLAGS);
    put(PAIR_UNIX_STREAM, fds);
    expect_no_event(f->poll, f->events, 20 * MS);
    pair_close(PAIR_UNIX_STREAM, fds);
}

static void deregister_after_close_is_ebadf(void **state)
{
    struct fixture *f = *state;
    int fds[2];
    pair_open(PAIR_PIPE, fds);
    assert_int_equal(xpoll_register(f->poll, fds[0], 1, XPOLL_READABLE), 0);
    close(fds[0]);
    kqemu_trace_reset();
    /* FreeBSD looks the fd up first: both receipts say EBADF.  macOS looks
     * for the knote only, gone with the close: both say ENOENT, and the
     * backend then finds the fd closed.  -EBADF either way, from the same
     * single kevent() call. */
    assert_int_equal(xpoll_deregister(f->poll, fds[0]), -EBADF);
    struct kqemu_call call = only_call();
    assert_int_equal(call.nchanges, 2);
    assert_change(&call.changes[0], fds[0], EVFILT_WRITE, DELETE_FLAGS);
    assert_change(&call.changes[1], fds[0], EVFILT_READ, DELETE_FLAGS);
    assert_int_equal(call.result, 2);
    close(fds[1]);
}

/* ---- a kqueue descriptor as a source ------------------------------------ */

static void kqueue_fd_registers_readable_only(void **state)
{
    struct fixture *f = *state;
    xpoll *inner;
    xpoll_waker *waker;
    assert_int_equal(xpoll_new(&inner), 0);
    int kq2 = xpoll_fd(inner);
    assert_int_equal(xpoll_register(f->poll, kq2, 5, XPOLL_READABLE), 0);
    /* Readable when the inner queue has an event pending. */
    assert_int_equal(xpoll_waker_new(inner, 6, &waker), 0);
    assert_int_equal(xpoll_waker_wake(waker), 0);
    struct seen seen = expect_event(f->poll, f->events, 5);
    assert_true(seen.flags & SEEN_READABLE);
    assert_int_equal(xpoll_deregister(f->poll, kq2), 0);
    /* EVFILT_WRITE on a kqueue is EINVAL (FreeBSD kern_event.c
     * kqueue_kqfilter). */
    int err = xpoll_register(f->poll, kq2, 5, XPOLL_READABLE | XPOLL_WRITABLE);
    if (darwin())
        assert_true(err == 0 || err == -EINVAL);
    else
        assert_int_equal(err, -EINVAL);
    xpoll_deregister(f->poll, kq2);
    xpoll_waker_free(waker);
    xpoll_free(inner);
}

/* ---- the EVFILT_USER waker ---------------------------------------------- */

static void waker_setup_and_trigger_changes(void **state)
{
    struct fixture *f = *state;
    xpoll_waker *waker;
    kqemu_trace_reset();
    assert_int_equal(xpoll_waker_new(f->poll, 77, &waker), 0);
    struct kqemu_call setup = only_call();
    assert_int_equal(setup.nchanges, 1);
    assert_int_equal(setup.changes[0].filter, EVFILT_USER);
    assert_int_equal(setup.changes[0].flags, ADD_FLAGS);
    assert_false(setup.changes[0].fflags & NOTE_TRIGGER);

    kqemu_trace_reset();
    assert_int_equal(xpoll_waker_wake(waker), 0);
    struct kqemu_call wake = only_call();
    assert_int_equal(wake.nchanges, 1);
    assert_int_equal(wake.changes[0].filter, EVFILT_USER);
    assert_true(wake.changes[0].fflags & NOTE_TRIGGER);
    /* EV_CLEAR in the trigger cancels it on FreeBSD (kern_event.c
     * filt_usertouch). */
    assert_false(wake.changes[0].flags & EV_CLEAR);
    assert_int_equal(wake.changes[0].flags, EV_ADD | EV_RECEIPT);

    struct seen seen = expect_event(f->poll, f->events, 77);
    assert_int_equal(seen.events, 1);
    assert_true(seen.flags & SEEN_READABLE);
    xpoll_waker_free(waker);
}

static void waker_burst_triggers_once(void **state)
{
    struct fixture *f = *state;
    xpoll_waker *waker;
    assert_int_equal(xpoll_waker_new(f->poll, 77, &waker), 0);
    kqemu_trace_reset();
    for (int i = 0; i < 1000; i++)
        assert_int_equal(xpoll_waker_wake(waker), 0);
    struct kqemu_call calls[4];
    assert_int_equal(change_calls(calls, 4), 1);
    assert_int_equal(expect_event(f->poll, f->events, 77).events, 1);
    xpoll_waker_free(waker);
}

static void waker_free_deletes_the_user_event(void **state)
{
    struct fixture *f = *state;
    xpoll_waker *waker;
    struct kqemu_stats before, after;
    kqemu_stats(&before);
    assert_int_equal(xpoll_waker_new(f->poll, 77, &waker), 0);
    kqemu_trace_reset();
    xpoll_waker_free(waker);
    struct kqemu_call call = only_call();
    assert_int_equal(call.changes[0].filter, EVFILT_USER);
    assert_int_equal(call.changes[0].flags, DELETE_FLAGS);
    kqemu_stats(&after);
    assert_int_equal(after.knotes, before.knotes);
}

/* ---- timeouts ----------------------------------------------------------- */

/* The timeout the last collecting kevent() call passed. */
static struct kqemu_call last_wait(void)
{
    struct kqemu_call call = {0};
    size_t n = kqemu_trace_count();
    assert_true(n > 0);
    for (size_t i = n; i-- > 0;) {
        assert_int_equal(kqemu_trace_get(i, &call), 0);
        if (call.nchanges == 0 && call.nevents > 0)
            return call;
    }
    fail_msg("no collecting kevent() call in the trace");
    return call;
}

static void timeout_shapes(void **state)
{
    struct fixture *f = *state;
    kqemu_trace_reset();
    assert_int_equal(xpoll_wait(f->poll, f->events, 0), 0);
    struct kqemu_call call = last_wait();
    assert_int_equal(call.has_timeout, 1);
    assert_int_equal(call.timeout.tv_sec, 0);
    assert_int_equal(call.timeout.tv_nsec, 0);

    /* 1 ns rounds up to 1 us (older xnu works in timevals), never down
     * to {0,0}, which would be a busy loop. */
    assert_int_equal(xpoll_wait(f->poll, f->events, 1), 0);
    call = last_wait();
    assert_int_equal(call.timeout.tv_sec, 0);
    assert_int_equal(call.timeout.tv_nsec, 1000);

    /* Seconds and nanoseconds split exactly; a ready pipe makes the call
     * return at once, the trace still shows the timeout passed. */
    int fds[2];
    pair_open(PAIR_PIPE, fds);
    assert_int_equal(xpoll_register(f->poll, fds[0], 1, XPOLL_READABLE), 0);
    put(PAIR_PIPE, fds);
    assert_int_equal(xpoll_wait(f->poll, f->events, 2 * SEC + 5000), 1);
    call = last_wait();
    assert_int_equal(call.timeout.tv_sec, 2);
    assert_int_equal(call.timeout.tv_nsec, 5000);
    put(PAIR_PIPE, fds);
    assert_int_equal(xpoll_wait(f->poll, f->events, SEC - 1), 1);
    call = last_wait();
    assert_int_equal(call.timeout.tv_sec, 1);
    assert_int_equal(call.timeout.tv_nsec, 0);
    pair_close(PAIR_PIPE, fds);
}

/* Waits with `timeout_ns` on a poll whose waker has already fired, and
 * returns the kevent() call the wait made.  The wake makes the wait
 * return at once whatever its timeout, and the timeout is still checked:
 * FreeBSD's kqueue_scan and xnu's kevent_legacy_internal
 * (bsd/kern/kern_event.c) refuse an invalid one before collecting any
 * event, and so does the emulation (kqemu.c kevent_locked). */
static struct kqemu_call wait_with_wake_pending(struct fixture *f,
                                                int64_t timeout_ns)
{
    xpoll_waker *waker;
    assert_int_equal(xpoll_waker_new(f->poll, 1, &waker), 0);
    assert_int_equal(xpoll_waker_wake(waker), 0);
    kqemu_trace_reset();
    assert_int_equal(xpoll_wait(f->poll, f->events, timeout_ns), 1);
    struct kqemu_call call = last_wait();
    xpoll_waker_free(waker);
    return call;
}

static void huge_timeouts_clamp_for_macos(void **state)
{
    const int64_t huge[] = {INT64_MAX, (int64_t)1000000000 * SEC,
                            (int64_t)100000001 * SEC + 7};
    for (size_t i = 0; i < sizeof huge / sizeof huge[0]; i++) {
        struct kqemu_call call = wait_with_wake_pending(*state, huge[i]);
        /* Clamped to 100,000,000 s, above which macOS answers EINVAL
         * (swift-nio #1642): never wrapped, never turned into a poll. */
        assert_int_equal(call.has_timeout, 1);
        assert_int_equal(call.timeout.tv_sec, 100000000);
        assert_int_equal(call.timeout.tv_nsec, 0);
    }
}

static void negative_timeout_passes_null(void **state)
{
    struct kqemu_call call = wait_with_wake_pending(*state, -1);
    assert_int_equal(call.has_timeout, 0);
}

/* ---- EINTR while applying changes means they were applied --------------- */

static void eintr_during_register_is_success(void **state)
{
    struct fixture *f = *state;
    int fds[2];
    pair_open(PAIR_PIPE, fds);
    assert_int_equal(kqemu_inject_eintr_after_changes(xpoll_fd(f->poll), 1), 0);
    assert_int_equal(xpoll_register(f->poll, fds[0], 4, XPOLL_READABLE), 0);
    put(PAIR_PIPE, fds);
    assert_int_equal(expect_event(f->poll, f->events, 4).events, 1);
    pair_close(PAIR_PIPE, fds);
}

static void eintr_during_reregister_and_deregister(void **state)
{
    struct fixture *f = *state;
    int fds[2];
    pair_open(PAIR_UNIX_STREAM, fds);
    int kq = xpoll_fd(f->poll);
    assert_int_equal(xpoll_register(f->poll, fds[0], 4, XPOLL_WRITABLE), 0);
    expect_event(f->poll, f->events, 4);
    assert_int_equal(kqemu_inject_eintr_after_changes(kq, 1), 0);
    assert_int_equal(xpoll_reregister(f->poll, fds[0], 5, XPOLL_READABLE), 0);
    put(PAIR_UNIX_STREAM, fds);
    struct seen seen = expect_event(f->poll, f->events, 5);
    assert_true(seen.flags & SEEN_READABLE);
    assert_false(seen.flags & SEEN_WRITABLE);
    assert_int_equal(kqemu_inject_eintr_after_changes(kq, 1), 0);
    assert_int_equal(xpoll_deregister(f->poll, fds[0]), 0);
    put(PAIR_UNIX_STREAM, fds);
    expect_no_event(f->poll, f->events, 20 * MS);
    pair_close(PAIR_UNIX_STREAM, fds);
}

/* ---- AIO / LIO ---------------------------------------------------------- */

static void aio_interest_adds_no_filter(void **state)
{
    struct fixture *f = *state;
    int fds[2];
    pair_open(PAIR_PIPE, fds);
    kqemu_trace_reset();
    /* The aiocb names the kqueue itself (SIGEV_KEVENT); nothing to add. */
    assert_int_equal(xpoll_register(f->poll, fds[0], 1, XPOLL_AIO), 0);
    struct kqemu_call calls[2];
    assert_int_equal(change_calls(calls, 2), 0);
    int err = xpoll_register(f->poll, fds[0], 1, XPOLL_LIO);
    assert_int_equal(err, darwin() ? -ENOTSUP : 0); /* EVFILT_LIO: FreeBSD */
    pair_close(PAIR_PIPE, fds);
}

/* ---- close/reuse hygiene ------------------------------------------------ */

static void reused_fd_number_carries_new_token(void **state)
{
    struct fixture *f = *state;
    int a[2], b[2];
    pair_open(PAIR_UNIX_STREAM, a);
    assert_int_equal(xpoll_register(f->poll, a[0], 1, XPOLL_READABLE), 0);
    assert_int_equal(xpoll_deregister(f->poll, a[0]), 0);
    int number = a[0];
    pair_close(PAIR_UNIX_STREAM, a);
    pair_open(PAIR_UNIX_STREAM, b);
    assert_int_equal(b[0], number);
    assert_int_equal(xpoll_register(f->poll, b[0], 2, XPOLL_READABLE), 0);
    put(PAIR_UNIX_STREAM, b);
    struct seen old = {0};
    assert_int_equal(wait_once(f->poll, f->events, SEC, 1, &old), 1);
    assert_int_equal(old.events, 0);
    assert_int_equal(xpoll_event_token(xpoll_events_get(f->events, 0)), 2);
    pair_close(PAIR_UNIX_STREAM, b);
}

#define T(name)                                                                \
    cmocka_unit_test_setup_teardown(name, fixture_setup, fixture_teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(register_both_is_one_call_with_two_changes),
        T(register_one_direction_is_one_change),
        T(darwin_style_receipt_is_success),
        T(injected_error_surfaces),
        T(first_unignored_error_wins),
        T(injected_epipe_on_register_is_ignored),
        T(pipe_with_closed_reader_registers),
        T(legacy_macos_pipe_epipe_is_ignored),
        T(reregister_read_to_write_is_one_call),
        T(reregister_ignores_enoent),
        T(reregister_ignores_epipe),
        T(deregister_is_one_call_ignoring_enoent),
        T(deregister_after_close_is_ebadf),
        T(kqueue_fd_registers_readable_only),
        T(waker_setup_and_trigger_changes),
        T(waker_burst_triggers_once),
        T(waker_free_deletes_the_user_event),
        T(timeout_shapes),
        T(huge_timeouts_clamp_for_macos),
        T(negative_timeout_passes_null),
        T(eintr_during_register_is_success),
        T(eintr_during_reregister_and_deregister),
        T(aio_interest_adds_no_filter),
        T(reused_fd_number_carries_new_token),
    };
    return RUN(tests, NULL, NULL);
}
