/* Fidelity tests t18-t31: registration rules (FreeBSD
 * sys/kern/kern_event.c kqueue_register() and kqueue_scan()). */
#include "test_util.h"

#include <errno.h>
#include <string.h>
#include <unistd.h>

/* Re-ADD modifies, never duplicates; last udata wins. */
static void readd_replaces_udata_no_duplicate(void **state)
{
    (void)state;
    int s[2];
    struct kevent ev[4];
    t_socketpair(s);
    int kq = t_kqueue();
    assert_int_equal(
        t_change(kq, (uintptr_t)s[0], EVFILT_READ, EV_ADD, 0, 0, (void *)1), 0);
    assert_int_equal(
        t_change(kq, (uintptr_t)s[0], EVFILT_READ, EV_ADD, 0, 0, (void *)2), 0);
    t_write(s[1], 1);
    assert_int_equal(t_poll(kq, ev, 4), 1);
    assert_ptr_equal(ev[0].udata, (void *)2);
    t_close(kq);
    t_close(s[0]);
    t_close(s[1]);
}

/* ENOENT in-band and out-of-band; EBADF for bad fds. */
static void enoent_and_ebadf(void **state)
{
    (void)state;
    int p[2];
    t_pipe(p);
    int kq = t_kqueue();
    assert_int_equal(
        t_change(kq, (uintptr_t)p[0], EVFILT_READ, EV_DELETE, 0, 0, NULL),
        ENOENT);
    struct kevent del =
        t_kev((uintptr_t)p[0], EVFILT_READ, EV_DELETE, 0, 0, NULL);
    errno = 0;
    assert_int_equal(kevent(kq, &del, 1, NULL, 0, NULL), -1);
    assert_int_equal(errno, ENOENT);
    assert_int_equal(t_change(kq, 1000, EVFILT_READ, EV_ADD, 0, 0, NULL),
                     EBADF);
    assert_int_equal(t_change(kq, (uintptr_t)0x100000000ull, EVFILT_READ,
                              EV_ADD, 0, 0, NULL),
                     EBADF);
    t_close(kq);
    t_close(p[0]);
    t_close(p[1]);
}

/* An fd readable at registration reports on the next poll. */
static void immediate_readiness(void **state)
{
    (void)state;
    int p[2];
    struct kevent ev[4];
    t_pipe(p);
    t_write(p[1], 3);
    int kq = t_kqueue();
    struct kevent add = t_kev((uintptr_t)p[0], EVFILT_READ, EV_ADD, 0, 0, NULL);
    assert_int_equal(kevent(kq, &add, 1, NULL, 0, NULL), 0);
    assert_int_equal(t_poll(kq, ev, 4), 1);
    assert_int_equal(ev[0].data, 3);
    t_close(kq);
    t_close(p[0]);
    t_close(p[1]);
}

/* EV_DELETE discards a pending event. */
static void delete_discards_pending(void **state)
{
    (void)state;
    int p[2];
    struct kevent ev[4];
    t_pipe(p);
    t_write(p[1], 1);
    int kq = t_kqueue();
    assert_int_equal(
        t_change(kq, (uintptr_t)p[0], EVFILT_READ, EV_ADD, 0, 0, NULL), 0);
    assert_int_equal(
        t_change(kq, (uintptr_t)p[0], EVFILT_READ, EV_DELETE, 0, 0, NULL), 0);
    assert_int_equal(t_poll(kq, ev, 4), 0);
    t_close(kq);
    t_close(p[0]);
    t_close(p[1]);
}

/* Disabled knotes are silent; enable re-evaluates. */
static void disable_then_enable(void **state)
{
    (void)state;
    int p[2];
    struct kevent ev[4];
    t_pipe(p);
    int kq = t_kqueue();
    assert_int_equal(
        t_change(kq, (uintptr_t)p[0], EVFILT_READ, EV_ADD, 0, 0, NULL), 0);
    assert_int_equal(
        t_change(kq, (uintptr_t)p[0], EVFILT_READ, EV_DISABLE, 0, 0, NULL), 0);
    t_write(p[1], 1);
    assert_int_equal(t_poll(kq, ev, 4), 0);
    assert_int_equal(
        t_change(kq, (uintptr_t)p[0], EVFILT_READ, EV_ENABLE, 0, 0, NULL), 0);
    assert_int_equal(t_poll(kq, ev, 4), 1);
    assert_int_equal(ev[0].data, 1);
    t_close(kq);
    t_close(p[0]);
    t_close(p[1]);
}

/* EV_ONESHOT fires once, then the knote is gone. */
static void oneshot_fires_once_then_deletes(void **state)
{
    (void)state;
    int p[2];
    struct kevent ev[4];
    t_pipe(p);
    int kq = t_kqueue();
    assert_int_equal(t_change(kq, (uintptr_t)p[0], EVFILT_READ,
                              EV_ADD | EV_ONESHOT, 0, 0, NULL),
                     0);
    t_write(p[1], 1);
    assert_int_equal(t_poll(kq, ev, 4), 1);
    assert_true(ev[0].flags & EV_ONESHOT);
    t_write(p[1], 1);
    assert_int_equal(t_poll(kq, ev, 4), 0);
    assert_int_equal(
        t_change(kq, (uintptr_t)p[0], EVFILT_READ, EV_DELETE, 0, 0, NULL),
        ENOENT);
    t_close(kq);
    t_close(p[0]);
    t_close(p[1]);
}

/* EV_DISPATCH disables after delivery; enable re-arms. */
static void dispatch_disables_after_firing(void **state)
{
    (void)state;
    int p[2];
    struct kevent ev[4];
    t_pipe(p);
    int kq = t_kqueue();
    assert_int_equal(t_change(kq, (uintptr_t)p[0], EVFILT_READ,
                              EV_ADD | EV_DISPATCH, 0, 0, NULL),
                     0);
    t_write(p[1], 1);
    assert_int_equal(t_poll(kq, ev, 4), 1);
    t_write(p[1], 1);
    assert_int_equal(t_poll(kq, ev, 4), 0);
    assert_int_equal(
        t_change(kq, (uintptr_t)p[0], EVFILT_READ, EV_ENABLE, 0, 0, NULL), 0);
    assert_int_equal(t_poll(kq, ev, 4), 1);
    assert_int_equal(ev[0].data, 2);
    assert_int_equal(t_poll(kq, ev, 4), 0);
    assert_int_equal(
        t_change(kq, (uintptr_t)p[0], EVFILT_READ, EV_DELETE, 0, 0, NULL), 0);
    t_close(kq);
    t_close(p[0]);
    t_close(p[1]);
}

/* A level knote reports on every poll while readable. */
static void level_reports_each_poll(void **state)
{
    (void)state;
    int p[2];
    struct kevent ev[4];
    t_pipe(p);
    int kq = t_kqueue();
    assert_int_equal(
        t_change(kq, (uintptr_t)p[0], EVFILT_READ, EV_ADD, 0, 0, NULL), 0);
    t_write(p[1], 1);
    assert_int_equal(t_poll(kq, ev, 4), 1);
    assert_int_equal(t_poll(kq, ev, 4), 1);
    t_read(p[0], 1);
    assert_int_equal(t_poll(kq, ev, 4), 0);
    t_close(kq);
    t_close(p[0]);
    t_close(p[1]);
}

/* EV_CLEAR reports new data only (as libkqueue's test_kevent_socket_clear). */
static void clear_reports_new_events_only(void **state)
{
    (void)state;
    int p[2];
    struct kevent ev[4];
    t_pipe(p);
    int kq = t_kqueue();
    assert_int_equal(t_change(kq, (uintptr_t)p[0], EVFILT_READ,
                              EV_ADD | EV_CLEAR, 0, 0, NULL),
                     0);
    t_write(p[1], 1);
    t_write(p[1], 1);
    assert_int_equal(t_poll(kq, ev, 4), 1);
    assert_int_equal(ev[0].data, 2);
    assert_int_equal(t_poll(kq, ev, 4), 0);
    t_read(p[0], 1);
    assert_int_equal(t_poll(kq, ev, 4), 0);
    t_write(p[1], 1);
    assert_int_equal(t_poll(kq, ev, 4), 1);
    assert_int_equal(ev[0].data, 2);
    t_close(kq);
    t_close(p[0]);
    t_close(p[1]);
}

/* Re-adding an EV_CLEAR knote re-evaluates and reports. */
static void readd_clear_knote_reports_again(void **state)
{
    (void)state;
    int p[2];
    struct kevent ev[4];
    t_pipe(p);
    int kq = t_kqueue();
    assert_int_equal(t_change(kq, (uintptr_t)p[0], EVFILT_READ,
                              EV_ADD | EV_CLEAR, 0, 0, NULL),
                     0);
    t_write(p[1], 2);
    assert_int_equal(t_poll(kq, ev, 4), 1);
    assert_int_equal(t_poll(kq, ev, 4), 0);
    assert_int_equal(t_change(kq, (uintptr_t)p[0], EVFILT_READ,
                              EV_ADD | EV_CLEAR, 0, 0, NULL),
                     0);
    assert_int_equal(t_poll(kq, ev, 4), 1);
    assert_int_equal(ev[0].data, 2);
    t_close(kq);
    t_close(p[0]);
    t_close(p[1]);
}

/* A condition that no longer holds is not reported. */
static void recheck_at_collection(void **state)
{
    (void)state;
    int p[2];
    struct kevent ev[4];
    t_pipe(p);
    int kq = t_kqueue();
    assert_int_equal(
        t_change(kq, (uintptr_t)p[0], EVFILT_READ, EV_ADD, 0, 0, NULL), 0);
    t_write(p[1], 1);
    t_read(p[0], 1);
    assert_int_equal(t_poll(kq, ev, 4), 0);
    t_close(kq);
    t_close(p[0]);
    t_close(p[1]);
}

/* fd and dup(fd) are two knotes. */
static void fd_and_dup_are_independent(void **state)
{
    (void)state;
    int p[2];
    struct kevent ev[4];
    t_pipe(p);
    int d = dup(p[0]);
    assert_true(d >= 0);
    int kq = t_kqueue();
    assert_int_equal(
        t_change(kq, (uintptr_t)p[0], EVFILT_READ, EV_ADD, 0, 0, NULL), 0);
    assert_int_equal(
        t_change(kq, (uintptr_t)d, EVFILT_READ, EV_ADD, 0, 0, NULL), 0);
    t_write(p[1], 1);
    int n = t_poll(kq, ev, 4);
    assert_int_equal(n, 2);
    assert_non_null(t_find(ev, n, (uintptr_t)p[0], EVFILT_READ));
    assert_non_null(t_find(ev, n, (uintptr_t)d, EVFILT_READ));
    t_close(kq);
    t_close(d);
    t_close(p[0]);
    t_close(p[1]);
}

/* Flags echoed on later events. */
static void event_flags_after_receipt_add(void **state)
{
    (void)state;
    int p[2];
    struct kevent ev[4];
    t_pipe(p);
    int kq = t_kqueue();
    assert_int_equal(t_change(kq, (uintptr_t)p[0], EVFILT_READ,
                              EV_ADD | EV_CLEAR, 0, 0, NULL),
                     0);
    t_write(p[1], 1);
    assert_int_equal(t_poll(kq, ev, 4), 1);
    if (IS_DARWIN)
        assert_int_equal(ev[0].flags, EV_ADD | EV_CLEAR | EV_RECEIPT);
    else
        assert_int_equal(ev[0].flags, EV_CLEAR | EV_RECEIPT);
    t_close(kq);
    t_close(p[0]);
    t_close(p[1]);
}

/* udata round-trips at full width; receipts echo the change. */
static void udata_round_trip(void **state)
{
    (void)state;
    int p[2];
    struct kevent ev[4];
    void *big = (void *)(UINTPTR_MAX - 1);
    t_pipe(p);
    int kq = t_kqueue();
    assert_int_equal(
        t_change(kq, (uintptr_t)p[0], EVFILT_READ, EV_ADD, 0, 0, big), 0);
    t_write(p[1], 1);
    assert_int_equal(t_poll(kq, ev, 4), 1);
    assert_ptr_equal(ev[0].udata, big);
    struct kevent del = t_kev((uintptr_t)p[0], EVFILT_READ,
                              EV_DELETE | EV_RECEIPT, 0, 0, (void *)0x5150);
    assert_int_equal(kevent(kq, &del, 1, ev, 1, NULL), 1);
    assert_int_equal(ev[0].data, 0);
    assert_ptr_equal(ev[0].udata, (void *)0x5150);
    t_close(kq);
    t_close(p[0]);
    t_close(p[1]);
}

/* FreeBSD 12 replaces udata on every modify unless EV_KEEPUDATA
 * (13+), which may not be combined with EV_ADD.  macOS has no EV_KEEPUDATA;
 * the emulator replaces udata on a modify there too (not verified on xnu). */
static void modify_udata_and_keepudata(void **state)
{
    (void)state;
    int p[2];
    struct kevent ev[4];
    t_pipe(p);
    int kq = t_kqueue();
    assert_int_equal(
        t_change(kq, (uintptr_t)p[0], EVFILT_READ, EV_ADD, 0, 0, (void *)1), 0);
    assert_int_equal(
        t_change(kq, (uintptr_t)p[0], EVFILT_READ, EV_ENABLE, 0, 0, (void *)2),
        0);
#ifdef EV_KEEPUDATA
    assert_int_equal(t_change(kq, (uintptr_t)p[0], EVFILT_READ,
                              EV_ADD | EV_KEEPUDATA, 0, 0, (void *)3),
                     EINVAL);
    assert_int_equal(t_change(kq, (uintptr_t)p[0], EVFILT_READ,
                              EV_ENABLE | EV_KEEPUDATA, 0, 0, (void *)4),
                     0);
#endif
    t_write(p[1], 1);
    assert_int_equal(t_poll(kq, ev, 4), 1);
    assert_ptr_equal(ev[0].udata, (void *)2);
    t_close(kq);
    t_close(p[0]);
    t_close(p[1]);
}

/* FreeBSD zeroes fflags in the receipt of a newly created knote; xnu
 * echoes the change.  A modify echoes the change on both. */
static void receipt_fflags_of_new_knote(void **state)
{
    (void)state;
    int p[2];
    t_pipe(p);
    int kq = t_kqueue();
    struct kevent ch = t_kev((uintptr_t)p[0], EVFILT_READ, EV_ADD | EV_RECEIPT,
                             NOTE_LOWAT, 1, NULL);
    struct kevent out;
    assert_int_equal(kevent(kq, &ch, 1, &out, 1, NULL), 1);
    assert_int_equal(out.fflags, IS_DARWIN ? NOTE_LOWAT : 0);
    assert_int_equal(kevent(kq, &ch, 1, &out, 1, NULL), 1);
    assert_int_equal(out.fflags, NOTE_LOWAT);
    t_close(kq);
    t_close(p[0]);
    t_close(p[1]);
}

int kqt_run_registration(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(readd_replaces_udata_no_duplicate),
        cmocka_unit_test(enoent_and_ebadf),
        cmocka_unit_test(immediate_readiness),
        cmocka_unit_test(delete_discards_pending),
        cmocka_unit_test(disable_then_enable),
        cmocka_unit_test(oneshot_fires_once_then_deletes),
        cmocka_unit_test(dispatch_disables_after_firing),
        cmocka_unit_test(level_reports_each_poll),
        cmocka_unit_test(clear_reports_new_events_only),
        cmocka_unit_test(readd_clear_knote_reports_again),
        cmocka_unit_test(recheck_at_collection),
        cmocka_unit_test(fd_and_dup_are_independent),
        cmocka_unit_test(event_flags_after_receipt_add),
        cmocka_unit_test(udata_round_trip),
        cmocka_unit_test(modify_udata_and_keepudata),
        cmocka_unit_test(receipt_fflags_of_new_knote),
    };
    return cmocka_run_group_tests_name("kqemu: registration rules", tests, NULL,
                                       NULL);
}
