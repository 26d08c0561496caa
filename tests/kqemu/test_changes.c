/*
 * Fidelity tests t01-t17: the kqueue object and change processing
 * (FreeBSD sys/kern/kern_event.c kern_kevent() and kqueue_register(), xnu
 * bsd/kern/kern_event.c), plus the filters kqemu rejects (README.md,
 * "Unemulated filters").
 */
#include "test_util.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

/* Close-on-exec starts clear; an empty call returns 0 at once:
 * it never asks the kernel to wait. */
static void new_kqueue_no_cloexec_and_empty_call(void **state)
{
    (void)state;
    int kq = t_kqueue();
    assert_int_equal(fcntl(kq, F_GETFD), 0);
    assert_int_equal(fcntl(kq, F_SETFD, FD_CLOEXEC), 0);
    assert_int_equal(fcntl(kq, F_GETFD), FD_CLOEXEC);
    struct t_waits w;
    t_waits_reset();
    assert_int_equal(kevent(kq, NULL, 0, NULL, 0, NULL), 0);
    t_waits(&w);
    assert_int_equal(w.sleeping, 0);
    t_close(kq);
}

/* Bad and non-kqueue descriptors.  The FreeBSD personality is 12.x,
 * which answers EBADF for a non-kqueue fd (FreeBSD main would say EINVAL). */
static void kevent_on_bad_fds(void **state)
{
    (void)state;
    struct kevent ev;
    int p[2];
    t_pipe(p);
    errno = 0;
    assert_int_equal(kevent(-1, NULL, 0, &ev, 1, NULL), -1);
    assert_int_equal(errno, EBADF);
    int kq = t_kqueue();
    t_close(kq);
    errno = 0;
    assert_int_equal(kevent(kq, NULL, 0, &ev, 1, NULL), -1);
    assert_int_equal(errno, EBADF);
    errno = 0;
    assert_int_equal(kevent(p[0], NULL, 0, &ev, 1, NULL), -1);
    assert_int_equal(errno, EBADF);
    t_close(p[0]);
    t_close(p[1]);
}

/* A dup is the same queue; it dies with the last alias. */
static void dup_shares_queue_until_last_close(void **state)
{
    (void)state;
    struct kevent ev[4];
    int p[2];
    t_pipe(p);
    int kq = t_kqueue();
    int d = dup(kq);
    assert_true(d >= 0);
    assert_int_equal(
        t_change(kq, (uintptr_t)p[0], EVFILT_READ, EV_ADD, 0, 0, NULL), 0);
    t_write(p[1], 1);
    assert_int_equal(t_poll(d, ev, 4), 1);
    assert_int_equal(ev[0].ident, (uintptr_t)p[0]);
    t_close(kq);
    assert_int_equal(t_poll(d, ev, 4), 1);
    assert_int_equal(ev[0].filter, EVFILT_READ);
    t_close(d);
    errno = 0;
    assert_int_equal(t_poll(d, ev, 4), -1);
    assert_int_equal(errno, EBADF);
    t_close(p[0]);
    t_close(p[1]);
}

/* A dup that kevent() never saw still keeps the queue alive
 * when the original is closed (found through /proc/self/fdinfo). */
static void unseen_dup_keeps_queue_alive(void **state)
{
    (void)state;
    struct kevent ev[4];
    int p[2];
    t_pipe(p);
    int kq = t_kqueue();
    int d = fcntl(kq, F_DUPFD_CLOEXEC, 0);
    assert_true(d >= 0);
    assert_int_equal(
        t_change(kq, (uintptr_t)p[0], EVFILT_READ, EV_ADD, 0, 0, NULL), 0);
    t_close(kq);
    t_write(p[1], 2);
    assert_int_equal(t_poll(d, ev, 4), 1);
    assert_int_equal(ev[0].data, 2);
    t_close(d);
    t_close(p[0]);
    t_close(p[1]);
}

/* Closing a kqueue with knotes frees them (ASan checks leaks). */
static void close_with_knotes_frees_everything(void **state)
{
    (void)state;
    struct kqemu_stats before, after;
    int s[2];
    t_socketpair(s);
    kqemu_stats(&before);
    int kq = t_kqueue();
    assert_int_equal(
        t_change(kq, (uintptr_t)s[0], EVFILT_READ, EV_ADD, 0, 0, (void *)0xA),
        0);
    assert_int_equal(
        t_change(kq, 7, EVFILT_USER, EV_ADD | EV_CLEAR, 0, 0, NULL), 0);
    t_close(kq);
    kqemu_stats(&after);
    assert_int_equal(after.kqueues, before.kqueues);
    assert_int_equal(after.knotes, before.knotes);
    errno = 0;
    assert_int_equal(fcntl(kq, F_GETFD), -1); /* the number is free again */
    assert_int_equal(errno, EBADF);
    int again = t_kqueue();
    assert_false(t_delete_ok(again, (uintptr_t)s[0], EVFILT_READ));
    t_close(again);
    t_close(s[0]);
    t_close(s[1]);
}

/* Changes apply in order, each receipt data 0. */
static void add_then_delete_in_one_call(void **state)
{
    (void)state;
    int p[2];
    t_pipe(p);
    int kq = t_kqueue();
    struct kevent ch[2] = {
        t_kev((uintptr_t)p[0], EVFILT_READ, EV_ADD | EV_RECEIPT, 0, 0, NULL),
        t_kev((uintptr_t)p[0], EVFILT_READ, EV_DELETE | EV_RECEIPT, 0, 0,
              NULL)};
    struct kevent out[2];
    assert_int_equal(kevent(kq, ch, 2, out, 2, NULL), 2);
    assert_int_equal(out[0].data, 0);
    assert_int_equal(out[1].data, 0);
    assert_true(out[0].flags & EV_ERROR);
    assert_true(out[1].flags & EV_ERROR);
    assert_int_equal(
        t_change(kq, (uintptr_t)p[0], EVFILT_READ, EV_DELETE, 0, 0, NULL),
        ENOENT);
    t_close(kq);
    t_close(p[0]);
    t_close(p[1]);
}

/* An error entry does not stop later changes. */
static void delete_absent_then_add(void **state)
{
    (void)state;
    int p[2];
    t_pipe(p);
    int kq = t_kqueue();
    struct kevent ch[2] = {
        t_kev((uintptr_t)p[0], EVFILT_READ, EV_DELETE | EV_RECEIPT, 0, 0, NULL),
        t_kev((uintptr_t)p[0], EVFILT_READ, EV_ADD | EV_RECEIPT, 0, 0, NULL)};
    struct kevent out[2];
    assert_int_equal(kevent(kq, ch, 2, out, 2, NULL), 2);
    assert_int_equal(out[0].data, ENOENT);
    assert_int_equal(out[1].data, 0);
    assert_true(t_delete_ok(kq, (uintptr_t)p[0], EVFILT_READ));
    t_close(kq);
    t_close(p[0]);
    t_close(p[1]);
}

/* Receipt shape; flags differ per personality. */
static void receipt_entry_shape(void **state)
{
    (void)state;
    int p[2];
    t_pipe(p);
    int kq = t_kqueue();
    void *u = (void *)(uintptr_t)0xfedcba9876543210ull;
    struct kevent ch = t_kev((uintptr_t)p[0], EVFILT_READ,
                             EV_ADD | EV_CLEAR | EV_RECEIPT, 0, 0, u);
    struct kevent out;
    assert_int_equal(kevent(kq, &ch, 1, &out, 1, NULL), 1);
    assert_int_equal(out.ident, (uintptr_t)p[0]);
    assert_int_equal(out.filter, EVFILT_READ);
    assert_int_equal(out.data, 0);
    assert_ptr_equal(out.udata, u);
    if (IS_DARWIN)
        assert_int_equal(out.flags, EV_ADD | EV_CLEAR | EV_RECEIPT | EV_ERROR);
    else
        assert_int_equal(out.flags, EV_ERROR);
    t_close(kq);
    t_close(p[0]);
    t_close(p[1]);
}

/* A call that produced a receipt neither collects nor waits. */
static void receipt_call_does_not_collect_or_block(void **state)
{
    (void)state;
    int p[2];
    t_pipe(p);
    int kq = t_kqueue();
    assert_int_equal(
        t_change(kq, (uintptr_t)p[0], EVFILT_READ, EV_ADD, 0, 0, NULL), 0);
    t_write(p[1], 1);
    struct kevent ch =
        t_kev((uintptr_t)p[1], EVFILT_WRITE, EV_ADD | EV_RECEIPT, 0, 0, NULL);
    struct kevent out[8];
    struct t_waits w;
    t_waits_reset();
    assert_int_equal(kevent(kq, &ch, 1, out, 8, NULL), 1);
    t_waits(&w);
    assert_int_equal(w.sleeping, 0);
    assert_true(out[0].flags & EV_ERROR);
    assert_int_equal(out[0].filter, EVFILT_WRITE);
    int n = t_poll(kq, out, 8);
    assert_non_null(t_find(out, n, (uintptr_t)p[0], EVFILT_READ));
    t_close(kq);
    t_close(p[0]);
    t_close(p[1]);
}

/* An error entry, later changes applied, no collection. */
static void error_entry_then_add(void **state)
{
    (void)state;
    int p[2];
    t_pipe(p);
    t_write(p[1], 1);
    int kq = t_kqueue();
    struct kevent ch[2] = {
        t_kev(1000, EVFILT_READ, EV_ADD, 0, 0, NULL),
        t_kev((uintptr_t)p[0], EVFILT_READ, EV_ADD, 0, 0, NULL)};
    struct kevent out[4];
    assert_int_equal(fcntl(1000, F_GETFD), -1);
    assert_int_equal(kevent(kq, ch, 2, out, 4, NULL), 1);
    assert_int_equal(out[0].ident, 1000);
    assert_int_equal(out[0].data, EBADF);
    if (IS_DARWIN)
        assert_int_equal(out[0].flags, EV_ADD | EV_ERROR);
    else
        assert_int_equal(out[0].flags, EV_ERROR);
    assert_true(t_delete_ok(kq, (uintptr_t)p[0], EVFILT_READ));
    t_close(kq);
    t_close(p[0]);
    t_close(p[1]);
}

/* Without room an error fails the call at once. */
static void error_without_room_stops(void **state)
{
    (void)state;
    int p[2];
    t_pipe(p);
    int kq = t_kqueue();
    struct kevent ch[2] = {
        t_kev(1000, EVFILT_READ, EV_ADD, 0, 0, NULL),
        t_kev((uintptr_t)p[0], EVFILT_READ, EV_ADD, 0, 0, NULL)};
    errno = 0;
    assert_int_equal(kevent(kq, ch, 2, NULL, 0, NULL), -1);
    assert_int_equal(errno, EBADF);
    assert_false(t_delete_ok(kq, (uintptr_t)p[0], EVFILT_READ));
    struct kevent rev[2] = {ch[1], ch[0]};
    errno = 0;
    assert_int_equal(kevent(kq, rev, 2, NULL, 0, NULL), -1);
    assert_int_equal(errno, EBADF);
    assert_true(t_delete_ok(kq, (uintptr_t)p[0], EVFILT_READ));
    t_close(kq);
    t_close(p[0]);
    t_close(p[1]);
}

/* Receipts without room: FreeBSD stops and returns 0, macOS goes on. */
static void receipt_without_room(void **state)
{
    (void)state;
    int p[2], s[2];
    t_pipe(p);
    t_socketpair(s);
    int kq = t_kqueue();
    struct kevent ch[3] = {
        t_kev((uintptr_t)p[0], EVFILT_READ, EV_ADD | EV_RECEIPT, 0, 0, NULL),
        t_kev((uintptr_t)s[0], EVFILT_READ, EV_ADD | EV_RECEIPT, 0, 0, NULL),
        t_kev((uintptr_t)s[1], EVFILT_READ, EV_ADD | EV_RECEIPT, 0, 0, NULL)};
    struct kevent out[1];
    memset(out, 0, sizeof out);
    int r = kevent(kq, ch, 3, out, 1, NULL);
    assert_int_equal(out[0].ident, (uintptr_t)p[0]);
    assert_true(out[0].flags & EV_ERROR);
    assert_true(t_delete_ok(kq, (uintptr_t)p[0], EVFILT_READ));
    assert_true(t_delete_ok(kq, (uintptr_t)s[0], EVFILT_READ));
    if (IS_DARWIN) {
        assert_int_equal(r, 1);
        assert_true(t_delete_ok(kq, (uintptr_t)s[1], EVFILT_READ));
    } else {
        assert_int_equal(r, 0);
        assert_false(t_delete_ok(kq, (uintptr_t)s[1], EVFILT_READ));
    }
    t_close(kq);
    t_close(p[0]);
    t_close(p[1]);
    t_close(s[0]);
    t_close(s[1]);
}

/* Filter 0 is skipped by FreeBSD, EINVAL on macOS. */
static void filter_zero_per_personality(void **state)
{
    (void)state;
    int p[2];
    t_pipe(p);
    int kq = t_kqueue();
    struct kevent ch[2] = {
        t_kev((uintptr_t)p[0], 0, EV_ADD | EV_RECEIPT, 0, 0, NULL),
        t_kev((uintptr_t)p[0], EVFILT_READ, EV_ADD | EV_RECEIPT, 0, 0, NULL)};
    struct kevent out[2];
    int r = kevent(kq, ch, 2, out, 2, NULL);
    if (IS_DARWIN) {
        assert_int_equal(r, 2);
        assert_int_equal(out[0].data, EINVAL);
        assert_int_equal(out[1].data, 0);
    } else {
        assert_int_equal(r, 1);
        assert_int_equal(out[0].filter, EVFILT_READ);
        assert_int_equal(out[0].data, 0);
    }
    t_close(kq);
    t_close(p[0]);
    t_close(p[1]);
}

/* Unknown filter in-band EINVAL; negative counts -1. */
static void bad_filter_and_negative_counts(void **state)
{
    (void)state;
    int kq = t_kqueue();
    struct kevent ev;
    assert_int_equal(t_change(kq, 1, -100, EV_ADD, 0, 0, NULL), EINVAL);
    errno = 0;
    assert_int_equal(kevent(kq, NULL, -1, &ev, 1, NULL), -1);
    assert_int_equal(errno, EINVAL);
    errno = 0;
    assert_int_equal(kevent(kq, NULL, 0, &ev, -1, NULL), -1);
    assert_int_equal(errno, EINVAL);
    t_close(kq);
}

/* EV_ENABLE|EV_DISABLE: FreeBSD EINVAL, macOS disable wins. */
static void enable_with_disable(void **state)
{
    (void)state;
    int p[2];
    struct kevent ev[4];
    t_pipe(p);
    int kq = t_kqueue();
    assert_int_equal(
        t_change(kq, (uintptr_t)p[0], EVFILT_READ, EV_ADD, 0, 0, NULL), 0);
    int err = t_change(kq, (uintptr_t)p[0], EVFILT_READ, EV_ENABLE | EV_DISABLE,
                       0, 0, NULL);
    t_write(p[1], 1);
    if (IS_DARWIN) {
        assert_int_equal(err, 0);
        assert_int_equal(t_poll(kq, ev, 4), 0);
    } else {
        assert_int_equal(err, EINVAL);
        assert_int_equal(t_poll(kq, ev, 4), 1);
    }
    t_close(kq);
    t_close(p[0]);
    t_close(p[1]);
}

/* EV_ADD|EV_DELETE on an absent knote. */
static void add_with_delete_on_absent(void **state)
{
    (void)state;
    int p[2];
    t_pipe(p);
    int kq = t_kqueue();
    int err = t_change(kq, (uintptr_t)p[0], EVFILT_READ, EV_ADD | EV_DELETE, 0,
                       0, NULL);
    if (IS_DARWIN) {
        assert_int_equal(err, ENOENT);
        assert_false(t_delete_ok(kq, (uintptr_t)p[0], EVFILT_READ));
    } else {
        assert_int_equal(err, 0);
        assert_true(t_delete_ok(kq, (uintptr_t)p[0], EVFILT_READ));
    }
    t_close(kq);
    t_close(p[0]);
    t_close(p[1]);
}

/* One buffer as changelist and eventlist. */
static void same_buffer_for_changes_and_events(void **state)
{
    (void)state;
    int p[2];
    t_pipe(p);
    int kq = t_kqueue();
    struct kevent buf[3] = {
        t_kev((uintptr_t)p[0], EVFILT_READ, EV_ADD | EV_RECEIPT, 0, 0,
              (void *)1),
        t_kev((uintptr_t)p[1], EVFILT_WRITE, EV_ADD | EV_RECEIPT, 0, 0,
              (void *)2),
        t_kev(77, EVFILT_USER, EV_DELETE | EV_RECEIPT, 0, 0, (void *)3)};
    assert_int_equal(kevent(kq, buf, 3, buf, 3, NULL), 3);
    assert_int_equal(buf[0].ident, (uintptr_t)p[0]);
    assert_int_equal(buf[0].data, 0);
    assert_ptr_equal(buf[0].udata, (void *)1);
    assert_int_equal(buf[1].ident, (uintptr_t)p[1]);
    assert_int_equal(buf[1].filter, EVFILT_WRITE);
    assert_int_equal(buf[1].data, 0);
    assert_ptr_equal(buf[1].udata, (void *)2);
    assert_int_equal(buf[2].ident, 77);
    assert_int_equal(buf[2].filter, EVFILT_USER);
    assert_int_equal(buf[2].data, ENOENT);
    assert_ptr_equal(buf[2].udata, (void *)3);
    t_close(kq);
    t_close(p[0]);
    t_close(p[1]);
}

/* EV_SYSFLAGS in a change are cleared before processing. */
static void sysflags_in_input_are_ignored(void **state)
{
    (void)state;
    int p[2];
    struct kevent ev[4];
    t_pipe(p);
    int kq = t_kqueue();
    assert_int_equal(t_change(kq, (uintptr_t)p[0], EVFILT_READ,
                              EV_ADD | EV_EOF | EV_ERROR, 0, 0, NULL),
                     0);
    t_write(p[1], 1);
    assert_int_equal(t_poll(kq, ev, 4), 1);
    assert_false(ev[0].flags & EV_ERROR);
    assert_false(ev[0].flags & EV_EOF);
    assert_int_equal(ev[0].data, 1);
    t_close(kq);
    t_close(p[0]);
    t_close(p[1]);
}

/* Other filters are rejected in-band with a stderr diagnostic. */
static void unemulated_filter_einval_with_diagnostic(void **state)
{
    (void)state;
    int kq = t_kqueue();
    int cap[2];
    t_pipe(cap);
    int saved = dup(2);
    assert_true(saved >= 0);
    assert_int_equal(dup2(cap[1], 2), 2);
    int err = t_change(kq, 1, EVFILT_TIMER, EV_ADD, 0, 100, NULL);
    assert_int_equal(dup2(saved, 2), 2);
    t_close(saved);
    char msg[256] = {0};
    assert_true(read(cap[0], msg, sizeof msg - 1) > 0);
    assert_int_equal(err, EINVAL);
    assert_non_null(strstr(msg, "EVFILT_TIMER"));
    t_close(cap[0]);
    t_close(cap[1]);
    t_close(kq);
}

int kqt_run_changes(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(new_kqueue_no_cloexec_and_empty_call),
        cmocka_unit_test(kevent_on_bad_fds),
        cmocka_unit_test(dup_shares_queue_until_last_close),
        cmocka_unit_test(unseen_dup_keeps_queue_alive),
        cmocka_unit_test(close_with_knotes_frees_everything),
        cmocka_unit_test(add_then_delete_in_one_call),
        cmocka_unit_test(delete_absent_then_add),
        cmocka_unit_test(receipt_entry_shape),
        cmocka_unit_test(receipt_call_does_not_collect_or_block),
        cmocka_unit_test(error_entry_then_add),
        cmocka_unit_test(error_without_room_stops),
        cmocka_unit_test(receipt_without_room),
        cmocka_unit_test(filter_zero_per_personality),
        cmocka_unit_test(bad_filter_and_negative_counts),
        cmocka_unit_test(enable_with_disable),
        cmocka_unit_test(add_with_delete_on_absent),
        cmocka_unit_test(same_buffer_for_changes_and_events),
        cmocka_unit_test(sysflags_in_input_are_ignored),
        cmocka_unit_test(unemulated_filter_einval_with_diagnostic),
    };
    return cmocka_run_group_tests_name("kqemu: object and change processing",
                                       tests, NULL, NULL);
}
