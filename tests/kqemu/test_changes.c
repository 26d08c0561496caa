/*
 * Fidelity tests of the kqueue object and of change processing (FreeBSD
 * sys/kern/kern_event.c kern_kevent() and kqueue_register(), xnu
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
    struct t_fx *f = *state;
    struct t_waits w;
    assert_int_equal(fcntl(f->kq, F_GETFD), 0);
    assert_int_equal(fcntl(f->kq, F_SETFD, FD_CLOEXEC), 0);
    assert_int_equal(fcntl(f->kq, F_GETFD), FD_CLOEXEC);
    t_waits_reset();
    assert_int_equal(kevent(f->kq, NULL, 0, NULL, 0, NULL), 0);
    t_waits(&w);
    assert_int_equal(w.sleeping, 0);
}

/* Bad and non-kqueue descriptors.  The FreeBSD personality is 12.x,
 * which answers EBADF for a non-kqueue fd (FreeBSD main would say EINVAL). */
static void kevent_on_bad_fds(void **state)
{
    struct t_fx *f = *state;
    struct kevent ev;
    int closed = t_kqueue();
    t_close(closed);
    t_expect_errno(kevent(-1, NULL, 0, &ev, 1, NULL), EBADF);
    t_expect_errno(kevent(closed, NULL, 0, &ev, 1, NULL), EBADF);
    t_expect_errno(kevent(f->rd, NULL, 0, &ev, 1, NULL), EBADF);
}

/* A dup is the same queue; it dies with the last alias. */
static void dup_shares_queue_until_last_close(void **state)
{
    struct t_fx *f = *state;
    struct kevent ev;
    int d = dup(f->kq);
    assert_true(d >= 0);
    t_add(f->kq, f->rd, EVFILT_READ, 0);
    t_write(f->wr, 1);
    t_expect(d, T_EV(f->rd, EVFILT_READ));
    t_fx_close(f, f->kq);
    t_expect(d, T_EV(f->rd, EVFILT_READ));
    t_close(d);
    t_expect_errno(t_poll(d, &ev, 1), EBADF);
}

/* A dup that kevent() never saw still keeps the queue alive
 * when the original is closed (found through /proc/self/fdinfo). */
static void unseen_dup_keeps_queue_alive(void **state)
{
    struct t_fx *f = *state;
    int d = fcntl(f->kq, F_DUPFD_CLOEXEC, 0);
    assert_true(d >= 0);
    t_add(f->kq, f->rd, EVFILT_READ, 0);
    t_fx_close(f, f->kq);
    t_write(f->wr, 2);
    t_expect(d, T_EV(f->rd, EVFILT_READ, T_DATA(2)));
    t_close(d);
}

/* Closing a kqueue with knotes frees them (ASan checks leaks). */
static void close_with_knotes_frees_everything(void **state)
{
    struct t_fx *f = *state;
    struct kqemu_stats before, after;
    kqemu_stats(&before);
    int kq = t_kqueue();
    t_add_udata(kq, f->fd[0], EVFILT_READ, 0, (void *)0xA);
    t_add(kq, 7, EVFILT_USER, EV_CLEAR);
    t_close(kq);
    kqemu_stats(&after);
    assert_int_equal(after.kqueues, before.kqueues);
    assert_int_equal(after.knotes, before.knotes);
    t_expect_errno(fcntl(kq, F_GETFD), EBADF); /* the number is free again */
    int again = t_kqueue();
    assert_false(t_delete_ok(again, f->fd[0], EVFILT_READ));
    t_close(again);
}

/* One kevent() call that changes (fd, EVFILT_READ) twice, with `first`
 * and then `then`, each with EV_RECEIPT; the receipts go to out. */
static int read_changes(int kq, int fd, unsigned short first,
                        unsigned short then, struct kevent out[2])
{
    struct kevent ch[2] = {
        t_kev((uintptr_t)fd, EVFILT_READ, first | EV_RECEIPT, 0, 0, NULL),
        t_kev((uintptr_t)fd, EVFILT_READ, then | EV_RECEIPT, 0, 0, NULL)};
    return kevent(kq, ch, 2, out, 2, NULL);
}

/* Changes apply in order, each receipt data 0. */
static void add_then_delete_in_one_call(void **state)
{
    struct t_fx *f = *state;
    struct kevent out[2];
    int n = read_changes(f->kq, f->rd, EV_ADD, EV_DELETE, out);
    t_expect_receipts(out, n, T_EV(f->rd, EVFILT_READ, T_DATA(0)),
                      T_EV(f->rd, EVFILT_READ, T_DATA(0)));
    t_expect_receipt(f->kq, f->rd, EVFILT_READ, EV_DELETE, ENOENT);
}

/* An error entry does not stop later changes. */
static void delete_absent_then_add(void **state)
{
    struct t_fx *f = *state;
    struct kevent out[2];
    int n = read_changes(f->kq, f->rd, EV_DELETE, EV_ADD, out);
    t_expect_receipts(out, n, T_EV(f->rd, EVFILT_READ, T_DATA(ENOENT)),
                      T_EV(f->rd, EVFILT_READ, T_DATA(0)));
    assert_true(t_delete_ok(f->kq, f->rd, EVFILT_READ));
}

/* Receipt shape; flags differ per personality. */
static void receipt_entry_shape(void **state)
{
    struct t_fx *f = *state;
    void *u = (void *)(uintptr_t)0xfedcba9876543210ull;
    struct kevent out =
        t_receipt(f->kq, f->rd, EVFILT_READ, EV_ADD | EV_CLEAR, 0, 0, u);
    assert_int_equal(out.data, 0);
    assert_ptr_equal(out.udata, u);
    if (IS_DARWIN)
        assert_int_equal(out.flags, EV_ADD | EV_CLEAR | EV_RECEIPT | EV_ERROR);
    else
        assert_int_equal(out.flags, EV_ERROR);
}

/* A call that produced a receipt neither collects nor waits. */
static void receipt_call_does_not_collect_or_block(void **state)
{
    struct t_fx *f = *state;
    t_add(f->kq, f->rd, EVFILT_READ, 0);
    t_write(f->wr, 1);
    struct kevent ch =
        t_kev(f->wr, EVFILT_WRITE, EV_ADD | EV_RECEIPT, 0, 0, NULL);
    struct kevent out[8];
    struct t_waits w;
    t_waits_reset();
    int n = kevent(f->kq, &ch, 1, out, 8, NULL);
    t_waits(&w);
    assert_int_equal(w.sleeping, 0);
    t_expect_receipts(out, n, T_EV(f->wr, EVFILT_WRITE));
    t_expect(f->kq, T_EV(f->rd, EVFILT_READ), T_EV(f->wr, EVFILT_WRITE));
}

/* An error entry, later changes applied, no collection. */
static void error_entry_then_add(void **state)
{
    struct t_fx *f = *state;
    t_write(f->wr, 1);
    struct kevent ch[2] = {t_kev(1000, EVFILT_READ, EV_ADD, 0, 0, NULL),
                           t_kev(f->rd, EVFILT_READ, EV_ADD, 0, 0, NULL)};
    struct kevent out[4];
    assert_int_equal(fcntl(1000, F_GETFD), -1);
    int n = kevent(f->kq, ch, 2, out, 4, NULL);
    t_expect_receipts(out, n,
                      T_EV(1000, EVFILT_READ, T_DATA(EBADF),
                           T_FLAGS(IS_DARWIN ? EV_ADD | EV_ERROR : EV_ERROR)));
    assert_true(t_delete_ok(f->kq, f->rd, EVFILT_READ));
}

/* Without room an error fails the call at once. */
static void error_without_room_stops(void **state)
{
    struct t_fx *f = *state;
    struct kevent ch[2] = {t_kev(1000, EVFILT_READ, EV_ADD, 0, 0, NULL),
                           t_kev(f->rd, EVFILT_READ, EV_ADD, 0, 0, NULL)};
    t_expect_errno(kevent(f->kq, ch, 2, NULL, 0, NULL), EBADF);
    assert_false(t_delete_ok(f->kq, f->rd, EVFILT_READ));
    struct kevent rev[2] = {ch[1], ch[0]};
    t_expect_errno(kevent(f->kq, rev, 2, NULL, 0, NULL), EBADF);
    assert_true(t_delete_ok(f->kq, f->rd, EVFILT_READ));
}

/* Receipts without room: FreeBSD stops and returns 0, macOS goes on. */
static void receipt_without_room(void **state)
{
    struct t_fx *f = *state;
    int s[2];
    t_socketpair(s);
    struct kevent ch[3] = {
        t_kev(f->rd, EVFILT_READ, EV_ADD | EV_RECEIPT, 0, 0, NULL),
        t_kev((uintptr_t)s[0], EVFILT_READ, EV_ADD | EV_RECEIPT, 0, 0, NULL),
        t_kev((uintptr_t)s[1], EVFILT_READ, EV_ADD | EV_RECEIPT, 0, 0, NULL)};
    struct kevent out[1];
    memset(out, 0, sizeof out);
    int r = kevent(f->kq, ch, 3, out, 1, NULL);
    t_expect_receipts(out, 1, T_EV(f->rd, EVFILT_READ)); /* the room for one */
    assert_true(t_delete_ok(f->kq, f->rd, EVFILT_READ));
    assert_true(t_delete_ok(f->kq, (uintptr_t)s[0], EVFILT_READ));
    assert_int_equal(r, IS_DARWIN ? 1 : 0);
    assert_int_equal(t_delete_ok(f->kq, (uintptr_t)s[1], EVFILT_READ),
                     IS_DARWIN);
    t_close(s[0]);
    t_close(s[1]);
}

/* Filter 0 is skipped by FreeBSD, EINVAL on macOS. */
static void filter_zero_per_personality(void **state)
{
    struct t_fx *f = *state;
    struct kevent ch[2] = {
        t_kev(f->rd, 0, EV_ADD | EV_RECEIPT, 0, 0, NULL),
        t_kev(f->rd, EVFILT_READ, EV_ADD | EV_RECEIPT, 0, 0, NULL)};
    struct kevent out[2];
    int n = kevent(f->kq, ch, 2, out, 2, NULL);
    if (IS_DARWIN)
        t_expect_receipts(out, n, T_EV(f->rd, 0, T_DATA(EINVAL)),
                          T_EV(f->rd, EVFILT_READ, T_DATA(0)));
    else
        t_expect_receipts(out, n, T_EV(f->rd, EVFILT_READ, T_DATA(0)));
}

/* Unknown filter in-band EINVAL; negative counts -1. */
static void bad_filter_and_negative_counts(void **state)
{
    struct t_fx *f = *state;
    struct kevent ev;
    t_expect_receipt(f->kq, 1, -100, EV_ADD, EINVAL);
    t_expect_errno(kevent(f->kq, NULL, -1, &ev, 1, NULL), EINVAL);
    t_expect_errno(kevent(f->kq, NULL, 0, &ev, -1, NULL), EINVAL);
}

/* EV_ENABLE|EV_DISABLE: FreeBSD EINVAL, macOS disable wins. */
static void enable_with_disable(void **state)
{
    struct t_fx *f = *state;
    t_add(f->kq, f->rd, EVFILT_READ, 0);
    t_expect_receipt(f->kq, f->rd, EVFILT_READ, EV_ENABLE | EV_DISABLE,
                     IS_DARWIN ? 0 : EINVAL);
    t_write(f->wr, 1);
    if (IS_DARWIN)
        t_expect_none(f->kq);
    else
        t_expect(f->kq, T_EV(f->rd, EVFILT_READ));
}

/* EV_ADD|EV_DELETE on an absent knote. */
static void add_with_delete_on_absent(void **state)
{
    struct t_fx *f = *state;
    t_expect_receipt(f->kq, f->rd, EVFILT_READ, EV_ADD | EV_DELETE,
                     IS_DARWIN ? ENOENT : 0);
    assert_int_equal(t_delete_ok(f->kq, f->rd, EVFILT_READ), !IS_DARWIN);
}

/* One buffer as changelist and eventlist. */
static void same_buffer_for_changes_and_events(void **state)
{
    struct t_fx *f = *state;
    struct kevent buf[3] = {
        t_kev(f->rd, EVFILT_READ, EV_ADD | EV_RECEIPT, 0, 0, (void *)1),
        t_kev(f->wr, EVFILT_WRITE, EV_ADD | EV_RECEIPT, 0, 0, (void *)2),
        t_kev(77, EVFILT_USER, EV_DELETE | EV_RECEIPT, 0, 0, (void *)3)};
    int n = kevent(f->kq, buf, 3, buf, 3, NULL);
    t_expect_receipts(
        buf, n, T_EV(f->rd, EVFILT_READ, T_DATA(0), T_UDATA((void *)1)),
        T_EV(f->wr, EVFILT_WRITE, T_DATA(0), T_UDATA((void *)2)),
        T_EV(77, EVFILT_USER, T_DATA(ENOENT), T_UDATA((void *)3)));
}

/* EV_SYSFLAGS in a change are cleared before processing. */
static void sysflags_in_input_are_ignored(void **state)
{
    struct t_fx *f = *state;
    t_add(f->kq, f->rd, EVFILT_READ, EV_EOF | EV_ERROR);
    t_write(f->wr, 1);
    t_expect(f->kq,
             T_EV(f->rd, EVFILT_READ, T_DATA(1), T_WITHOUT(EV_ERROR | EV_EOF)));
}

/* Other filters are rejected in-band with a stderr diagnostic, which the
 * test captures in its pipe. */
static void unemulated_filter_einval_with_diagnostic(void **state)
{
    struct t_fx *f = *state;
    int saved = dup(2);
    assert_true(saved >= 0);
    assert_int_equal(dup2(f->wr, 2), 2);
    int err = t_change(f->kq, 1, EVFILT_TIMER, EV_ADD, 0, 100, NULL);
    assert_int_equal(dup2(saved, 2), 2);
    t_close(saved);
    char msg[256] = {0};
    assert_true(read(f->rd, msg, sizeof msg - 1) > 0);
    assert_int_equal(err, EINVAL);
    assert_non_null(strstr(msg, "EVFILT_TIMER"));
}

int kqt_run_changes(void)
{
    const struct CMUnitTest tests[] = {
        T_TEST(new_kqueue_no_cloexec_and_empty_call, t_setup_kqueue),
        T_TEST(kevent_on_bad_fds, t_setup_pipe),
        T_TEST(dup_shares_queue_until_last_close, t_setup_pipe),
        T_TEST(unseen_dup_keeps_queue_alive, t_setup_pipe),
        T_TEST(close_with_knotes_frees_everything, t_setup_socketpair),
        T_TEST(add_then_delete_in_one_call, t_setup_pipe),
        T_TEST(delete_absent_then_add, t_setup_pipe),
        T_TEST(receipt_entry_shape, t_setup_pipe),
        T_TEST(receipt_call_does_not_collect_or_block, t_setup_pipe),
        T_TEST(error_entry_then_add, t_setup_pipe),
        T_TEST(error_without_room_stops, t_setup_pipe),
        T_TEST(receipt_without_room, t_setup_pipe),
        T_TEST(filter_zero_per_personality, t_setup_pipe),
        T_TEST(bad_filter_and_negative_counts, t_setup_kqueue),
        T_TEST(enable_with_disable, t_setup_pipe),
        T_TEST(add_with_delete_on_absent, t_setup_pipe),
        T_TEST(same_buffer_for_changes_and_events, t_setup_pipe),
        T_TEST(sysflags_in_input_are_ignored, t_setup_pipe),
        T_TEST(unemulated_filter_einval_with_diagnostic, t_setup_pipe),
    };
    return cmocka_run_group_tests_name("kqemu: object and change processing",
                                       tests, NULL, NULL);
}
