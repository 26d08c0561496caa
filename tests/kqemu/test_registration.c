/* Fidelity tests of the registration rules (FreeBSD sys/kern/kern_event.c
 * kqueue_register() and kqueue_scan()). */
#include "test_util.h"

#include <errno.h>
#include <string.h>
#include <unistd.h>

/* Re-ADD modifies, never duplicates; last udata wins. */
static void readd_replaces_udata_no_duplicate(void **state)
{
    struct t_fx *f = *state;
    t_add_udata(f->kq, f->fd[0], EVFILT_READ, 0, (void *)1);
    t_add_udata(f->kq, f->fd[0], EVFILT_READ, 0, (void *)2);
    t_write(f->fd[1], 1);
    t_expect(f->kq, T_EV(f->fd[0], EVFILT_READ, T_UDATA((void *)2)));
}

/* ENOENT in-band and out-of-band; EBADF for bad fds. */
static void enoent_and_ebadf(void **state)
{
    struct t_fx *f = *state;
    t_expect_receipt(f->kq, f->rd, EVFILT_READ, EV_DELETE, ENOENT);
    struct kevent del = t_kev(f->rd, EVFILT_READ, EV_DELETE, 0, 0, NULL);
    t_expect_errno(kevent(f->kq, &del, 1, NULL, 0, NULL), ENOENT);
    t_expect_receipt(f->kq, 1000, EVFILT_READ, EV_ADD, EBADF);
    t_expect_receipt(f->kq, (uintptr_t)0x100000000ull, EVFILT_READ, EV_ADD,
                     EBADF);
}

/* An fd readable at registration reports on the next poll. */
static void immediate_readiness(void **state)
{
    struct t_fx *f = *state;
    t_write(f->wr, 3);
    struct kevent add = t_kev(f->rd, EVFILT_READ, EV_ADD, 0, 0, NULL);
    assert_int_equal(kevent(f->kq, &add, 1, NULL, 0, NULL), 0);
    t_expect(f->kq, T_EV(f->rd, EVFILT_READ, T_DATA(3)));
}

/* EV_DELETE discards a pending event. */
static void delete_discards_pending(void **state)
{
    struct t_fx *f = *state;
    t_write(f->wr, 1);
    t_add(f->kq, f->rd, EVFILT_READ, 0);
    t_expect_receipt(f->kq, f->rd, EVFILT_READ, EV_DELETE, 0);
    t_expect_none(f->kq);
}

/* Disabled knotes are silent; enable re-evaluates. */
static void disable_then_enable(void **state)
{
    struct t_fx *f = *state;
    t_add(f->kq, f->rd, EVFILT_READ, 0);
    t_expect_receipt(f->kq, f->rd, EVFILT_READ, EV_DISABLE, 0);
    t_write(f->wr, 1);
    t_expect_none(f->kq);
    t_expect_receipt(f->kq, f->rd, EVFILT_READ, EV_ENABLE, 0);
    t_expect(f->kq, T_EV(f->rd, EVFILT_READ, T_DATA(1)));
}

/* EV_ONESHOT fires once, then the knote is gone. */
static void oneshot_fires_once_then_deletes(void **state)
{
    struct t_fx *f = *state;
    t_add(f->kq, f->rd, EVFILT_READ, EV_ONESHOT);
    t_write(f->wr, 1);
    t_expect(f->kq, T_EV(f->rd, EVFILT_READ, T_WITH(EV_ONESHOT)));
    t_write(f->wr, 1);
    t_expect_none(f->kq);
    t_expect_receipt(f->kq, f->rd, EVFILT_READ, EV_DELETE, ENOENT);
}

/* EV_DISPATCH disables after delivery; enable re-arms. */
static void dispatch_disables_after_firing(void **state)
{
    struct t_fx *f = *state;
    t_add(f->kq, f->rd, EVFILT_READ, EV_DISPATCH);
    t_write(f->wr, 1);
    t_expect(f->kq, T_EV(f->rd, EVFILT_READ));
    t_write(f->wr, 1);
    t_expect_none(f->kq);
    t_expect_receipt(f->kq, f->rd, EVFILT_READ, EV_ENABLE, 0);
    t_expect(f->kq, T_EV(f->rd, EVFILT_READ, T_DATA(2)));
    t_expect_none(f->kq);
    t_expect_receipt(f->kq, f->rd, EVFILT_READ, EV_DELETE, 0);
}

/* A level knote reports on every poll while readable. */
static void level_reports_each_poll(void **state)
{
    struct t_fx *f = *state;
    t_add(f->kq, f->rd, EVFILT_READ, 0);
    t_write(f->wr, 1);
    t_expect(f->kq, T_EV(f->rd, EVFILT_READ));
    t_expect(f->kq, T_EV(f->rd, EVFILT_READ));
    t_read(f->rd, 1);
    t_expect_none(f->kq);
}

/* EV_CLEAR reports new data only (as libkqueue's test_kevent_socket_clear). */
static void clear_reports_new_events_only(void **state)
{
    struct t_fx *f = *state;
    t_add(f->kq, f->rd, EVFILT_READ, EV_CLEAR);
    t_write(f->wr, 1);
    t_write(f->wr, 1);
    t_expect(f->kq, T_EV(f->rd, EVFILT_READ, T_DATA(2)));
    t_expect_none(f->kq);
    t_read(f->rd, 1);
    t_expect_none(f->kq);
    t_write(f->wr, 1);
    t_expect(f->kq, T_EV(f->rd, EVFILT_READ, T_DATA(2)));
}

/* Re-adding an EV_CLEAR knote re-evaluates and reports. */
static void readd_clear_knote_reports_again(void **state)
{
    struct t_fx *f = *state;
    t_add(f->kq, f->rd, EVFILT_READ, EV_CLEAR);
    t_write(f->wr, 2);
    t_expect(f->kq, T_EV(f->rd, EVFILT_READ));
    t_expect_none(f->kq);
    t_add(f->kq, f->rd, EVFILT_READ, EV_CLEAR);
    t_expect(f->kq, T_EV(f->rd, EVFILT_READ, T_DATA(2)));
}

/* A condition that no longer holds is not reported. */
static void recheck_at_collection(void **state)
{
    struct t_fx *f = *state;
    t_add(f->kq, f->rd, EVFILT_READ, 0);
    t_write(f->wr, 1);
    t_read(f->rd, 1);
    t_expect_none(f->kq);
}

/* fd and dup(fd) are two knotes. */
static void fd_and_dup_are_independent(void **state)
{
    struct t_fx *f = *state;
    int d = dup(f->rd);
    assert_true(d >= 0);
    t_add(f->kq, f->rd, EVFILT_READ, 0);
    t_add(f->kq, (uintptr_t)d, EVFILT_READ, 0);
    t_write(f->wr, 1);
    t_expect(f->kq, T_EV(f->rd, EVFILT_READ), T_EV(d, EVFILT_READ));
    t_close(d);
}

/* Flags echoed on later events. */
static void event_flags_after_receipt_add(void **state)
{
    struct t_fx *f = *state;
    t_add(f->kq, f->rd, EVFILT_READ, EV_CLEAR);
    t_write(f->wr, 1);
    t_expect(f->kq, T_EV(f->rd, EVFILT_READ,
                         T_FLAGS(IS_DARWIN ? EV_ADD | EV_CLEAR | EV_RECEIPT
                                           : EV_CLEAR | EV_RECEIPT)));
}

/* udata round-trips at full width; receipts echo the change. */
static void udata_round_trip(void **state)
{
    struct t_fx *f = *state;
    void *big = (void *)(UINTPTR_MAX - 1);
    t_add_udata(f->kq, f->rd, EVFILT_READ, 0, big);
    t_write(f->wr, 1);
    t_expect(f->kq, T_EV(f->rd, EVFILT_READ, T_UDATA(big)));
    struct kevent del =
        t_receipt(f->kq, f->rd, EVFILT_READ, EV_DELETE, 0, 0, (void *)0x5150);
    assert_int_equal(del.data, 0);
    assert_ptr_equal(del.udata, (void *)0x5150);
}

/* FreeBSD 12 replaces udata on every modify unless EV_KEEPUDATA
 * (13+), which may not be combined with EV_ADD.  macOS has no EV_KEEPUDATA;
 * the emulator replaces udata on a modify there too (not verified on xnu). */
static void modify_udata_and_keepudata(void **state)
{
    struct t_fx *f = *state;
    t_add_udata(f->kq, f->rd, EVFILT_READ, 0, (void *)1);
    assert_int_equal(
        t_change(f->kq, f->rd, EVFILT_READ, EV_ENABLE, 0, 0, (void *)2), 0);
#ifdef EV_KEEPUDATA
    assert_int_equal(t_change(f->kq, f->rd, EVFILT_READ, EV_ADD | EV_KEEPUDATA,
                              0, 0, (void *)3),
                     EINVAL);
    assert_int_equal(t_change(f->kq, f->rd, EVFILT_READ,
                              EV_ENABLE | EV_KEEPUDATA, 0, 0, (void *)4),
                     0);
#endif
    t_write(f->wr, 1);
    t_expect(f->kq, T_EV(f->rd, EVFILT_READ, T_UDATA((void *)2)));
}

/* FreeBSD zeroes fflags in the receipt of a newly created knote; xnu
 * echoes the change.  A modify echoes the change on both. */
static void receipt_fflags_of_new_knote(void **state)
{
    struct t_fx *f = *state;
    struct kevent out =
        t_receipt(f->kq, f->rd, EVFILT_READ, EV_ADD, NOTE_LOWAT, 1, NULL);
    assert_int_equal(out.fflags, IS_DARWIN ? NOTE_LOWAT : 0);
    out = t_receipt(f->kq, f->rd, EVFILT_READ, EV_ADD, NOTE_LOWAT, 1, NULL);
    assert_int_equal(out.fflags, NOTE_LOWAT);
}

int kqt_run_registration(void)
{
    const struct CMUnitTest tests[] = {
        T_TEST(readd_replaces_udata_no_duplicate, t_setup_socketpair),
        T_TEST(enoent_and_ebadf, t_setup_pipe),
        T_TEST(immediate_readiness, t_setup_pipe),
        T_TEST(delete_discards_pending, t_setup_pipe),
        T_TEST(disable_then_enable, t_setup_pipe),
        T_TEST(oneshot_fires_once_then_deletes, t_setup_pipe),
        T_TEST(dispatch_disables_after_firing, t_setup_pipe),
        T_TEST(level_reports_each_poll, t_setup_pipe),
        T_TEST(clear_reports_new_events_only, t_setup_pipe),
        T_TEST(readd_clear_knote_reports_again, t_setup_pipe),
        T_TEST(recheck_at_collection, t_setup_pipe),
        T_TEST(fd_and_dup_are_independent, t_setup_pipe),
        T_TEST(event_flags_after_receipt_add, t_setup_pipe),
        T_TEST(udata_round_trip, t_setup_pipe),
        T_TEST(modify_udata_and_keepudata, t_setup_pipe),
        T_TEST(receipt_fflags_of_new_knote, t_setup_pipe),
    };
    return cmocka_run_group_tests_name("kqemu: registration rules", tests, NULL,
                                       NULL);
}
