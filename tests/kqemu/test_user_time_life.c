/*
 * Fidelity tests of user events, timeouts and signals, descriptor
 * lifetime, kqueue in kqueue, layout (FreeBSD sys/kern/kern_event.c
 * filt_user*(), kqueue_scan(), knote_fdclose(); xnu bsd/kern/kern_event.c;
 * docs/kqueue.md), plus checks of the kqemu.h control API and of
 * cross-thread wakeups.
 */
#include "test_util.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stddef.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#define UID 42

/* Adds the user event UID with EV_ADD | flags; it must be applied. */
static void user_add(int kq, unsigned short flags, unsigned int fflags,
                     void *udata)
{
    assert_int_equal(
        t_change(kq, UID, EVFILT_USER, EV_ADD | flags, fflags, 0, udata), 0);
}

/* mio's wake(): EV_ADD|EV_RECEIPT plus NOTE_TRIGGER, no EV_CLEAR
 * (mio src/sys/unix/selector/kqueue.rs, Waker::wake); it must be applied. */
static void user_trigger(int kq, unsigned int fflags, intptr_t data)
{
    assert_int_equal(t_change(kq, UID, EVFILT_USER, EV_ADD,
                              NOTE_TRIGGER | fflags, data, (void *)0xC0DE),
                     0);
}

/* The next poll reports the user event UID if `fired`, else nothing. */
static void expect_user_event(int kq, bool fired)
{
    if (fired)
        t_expect(kq, T_EV(UID, EVFILT_USER));
    else
        t_expect_none(kq);
}

/* An EV_CLEAR user event fires once per trigger. */
static void user_trigger_clear(void **state)
{
    struct t_fx *f = *state;
    user_add(f->kq, EV_CLEAR, 0, (void *)0xC0DE);
    t_expect_none(f->kq);
    user_trigger(f->kq, 0, 0);
    t_expect(f->kq, T_EV(UID, EVFILT_USER, T_UDATA((void *)0xC0DE)));
    t_expect_none(f->kq);
}

/* Triggers coalesce. */
static void two_triggers_one_event(void **state)
{
    struct t_fx *f = *state;
    user_add(f->kq, EV_CLEAR, 0, NULL);
    user_trigger(f->kq, 0, 0);
    user_trigger(f->kq, 0, 0);
    t_expect(f->kq, T_EV(UID, EVFILT_USER));
    t_expect_none(f->kq);
}

/* A trigger wakes a kevent() blocked in another thread. */
static void trigger_wakes_blocked_thread(void **state)
{
    struct t_fx *f = *state;
    struct t_waiter w;
    user_add(f->kq, EV_CLEAR, 0, NULL);
    t_waiter_asleep(&w, f->kq);
    user_trigger(f->kq, 0, 0);
    t_waiter_join(&w);
    t_expect_in(w.ev, w.n, T_EV(UID, EVFILT_USER));
}

/* NOTE_FF* operations and the data passed with a trigger. */
static void fflags_operations_and_data(void **state)
{
    struct t_fx *f = *state;
    struct kevent got;
    user_add(f->kq, EV_CLEAR, 0, NULL);
    static const struct {
        unsigned int ffl;
        unsigned int want;
    } steps[] = {{NOTE_FFOR | 5, 5},
                 {NOTE_FFAND | 4, 4},
                 {NOTE_FFCOPY | 9, 9},
                 {NOTE_FFNOP | 1, 9}};
    for (size_t i = 0; i < sizeof steps / sizeof steps[0]; i++) {
        user_trigger(f->kq, steps[i].ffl, 0);
        t_expect_into(f->kq, &got, T_EV(UID, EVFILT_USER));
        assert_int_equal(got.fflags & NOTE_FFLAGSMASK, steps[i].want);
    }
    user_trigger(f->kq, 0, 7);
    t_expect(f->kq, T_EV(UID, EVFILT_USER, T_DATA(7)));
}

/* NOTE_TRIGGER on the creating EV_ADD. */
static void trigger_on_initial_add(void **state)
{
    struct t_fx *f = *state;
    user_add(f->kq, EV_CLEAR, NOTE_TRIGGER, NULL);
    expect_user_event(f->kq, IS_DARWIN);
}

/* EV_CLEAR in the trigger change. */
static void trigger_with_clear_flag(void **state)
{
    struct t_fx *f = *state;
    user_add(f->kq, EV_CLEAR, 0, NULL);
    assert_int_equal(t_change(f->kq, UID, EVFILT_USER, EV_ADD | EV_CLEAR,
                              NOTE_TRIGGER, 0, NULL),
                     0);
    expect_user_event(f->kq, IS_DARWIN);
}

/* Without EV_CLEAR a triggered user event is level. */
static void level_user_event(void **state)
{
    struct t_fx *f = *state;
    user_add(f->kq, 0, 0, NULL);
    user_trigger(f->kq, 0, 0);
    for (int i = 0; i < 3; i++)
        t_expect(f->kq, T_EV(UID, EVFILT_USER));
}

/* A trigger while disabled is delivered after enable. */
static void trigger_while_disabled(void **state)
{
    struct t_fx *f = *state;
    user_add(f->kq, EV_CLEAR | EV_DISABLE, 0, NULL);
    assert_int_equal(
        t_change(f->kq, UID, EVFILT_USER, 0, NOTE_TRIGGER, 0, NULL), 0);
    t_expect_none(f->kq);
    t_expect_receipt(f->kq, UID, EVFILT_USER, EV_ENABLE, 0);
    t_expect(f->kq, T_EV(UID, EVFILT_USER));
}

/* Poll, finite wait, NULL with an event pending.  What
 * the emulator asks the kernel to wait for is read from t_waits: a poll
 * and a call with an event pending never wait; a finite wait asks for no
 * more than its timeout, and with nothing to report returns 0 no sooner. */
static void timeout_poll_finite_and_null(void **state)
{
    struct t_fx *f = *state;
    struct kevent ev[4];
    struct t_waits w;
    t_waits_reset();
    t_expect_none(f->kq);
    t_waits(&w);
    assert_int_equal(w.sleeping, 0);

    t_waits_reset();
    double t0 = t_now_ms();
    assert_int_equal(t_wait_ms(f->kq, ev, 4, 50), 0);
    assert_true(t_now_ms() - t0 >= 50.0);
    t_waits(&w);
    assert_true(w.longest <= 50000000LL);

    user_add(f->kq, 0, NOTE_TRIGGER, NULL);
    user_trigger(f->kq, 0, 0);
    t_waits_reset();
    assert_int_equal(kevent(f->kq, NULL, 0, ev, 4, NULL), 1);
    t_waits(&w);
    assert_int_equal(w.sleeping, 0);
}

/* One [ADD READ fd] call with the given timeout and room for nevents;
 * returns what kevent() returned and, in *err, its errno (0 unless -1). */
static int add_with_timeout(int kq, int fd, int nevents,
                            const struct timespec *ts, int *err)
{
    struct kevent ch = t_kev((uintptr_t)fd, EVFILT_READ, EV_ADD, 0, 0, NULL);
    struct kevent ev[4];
    errno = 0;
    int r = kevent(kq, &ch, 1, ev, nevents, ts);
    *err = r < 0 ? errno : 0;
    return r;
}

/* tv_nsec = 1e9: where and when it is rejected. */
static void bad_nsec(void **state)
{
    struct t_fx *f = *state;
    int err;
    struct timespec bad = {0, 1000000000L};
    assert_int_equal(add_with_timeout(f->kq, f->rd, 4, &bad, &err), -1);
    assert_int_equal(err, EINVAL);
    assert_int_equal(t_delete_ok(f->kq, f->rd, EVFILT_READ), !IS_DARWIN);
    int r = add_with_timeout(f->kq, f->rd, 0, &bad, &err);
    if (IS_DARWIN) {
        assert_int_equal(r, -1);
        assert_int_equal(err, EINVAL);
    } else {
        assert_int_equal(r, 0);
    }
}

/* Another thread's view of a thread blocked in kevent(): waits until
 * `tid` sleeps in the kernel's wait (t_wait_blocked), records how, then
 * acts on it.  It asserts nothing (cmocka asserts belong to the test's
 * thread): the test checks `seen` and `blocked` after joining. */
struct watcher {
    int kq;
    pid_t tid;
    pthread_t target;
    int seen; /* 0: the target was seen asleep; -1: not within T_HANG_MS */
    struct t_blocked blocked;
};

/* ...then triggers the user event UID on kq, asleep or not. */
static void *trigger_once_blocked(void *arg)
{
    struct watcher *wt = arg;
    wt->seen = t_wait_blocked(wt->tid, &wt->blocked);
    struct kevent k = t_kev(UID, EVFILT_USER, 0, NOTE_TRIGGER, 0, NULL);
    kevent(wt->kq, &k, 1, NULL, 0, NULL);
    return NULL;
}

/* ...then sends SIGALRM to it, asleep or not. */
static void *signal_once_blocked(void *arg)
{
    struct watcher *wt = arg;
    wt->seen = t_wait_blocked(wt->tid, &wt->blocked);
    pthread_kill(wt->target, SIGALRM);
    return NULL;
}

/* Negative, 1e8, 1e8+1 and INT64_MAX seconds. */
static void timeout_bounds(void **state)
{
    struct t_fx *f = *state;
    int err;
    struct kevent ev[4];
    struct timespec neg = {-1, 0};
    assert_int_equal(add_with_timeout(f->kq, f->rd, 4, &neg, &err), -1);
    assert_int_equal(err, EINVAL);
    assert_int_equal(t_delete_ok(f->kq, f->rd, EVFILT_READ), !IS_DARWIN);

    user_add(f->kq, 0, 0, NULL);
    user_trigger(f->kq, 0, 0); /* level: stays pending */
    struct timespec max_ok = {100000000, 0};
    assert_int_equal(kevent(f->kq, NULL, 0, ev, 4, &max_ok), 1);
    struct timespec over = {100000001, 0};
    if (IS_DARWIN)
        t_expect_errno(kevent(f->kq, NULL, 0, ev, 4, &over), EINVAL);
    else
        assert_int_equal(kevent(f->kq, NULL, 0, ev, 4, &over), 1);
    t_expect_receipt(f->kq, UID, EVFILT_USER, EV_DELETE, 0);

    user_add(f->kq, EV_CLEAR, 0, NULL);
    struct timespec huge = {INT64_MAX, 0};
    if (IS_DARWIN) {
        t_expect_errno(kevent(f->kq, NULL, 0, ev, 4, &huge), EINVAL);
    } else {
        /* Beyond INT32_MAX seconds FreeBSD's kqueue_scan (sys/kern/
         * kern_event.c) sets no deadline: the call sleeps, with no timeout,
         * until the trigger. */
        pthread_t th;
        struct watcher wt = {.kq = f->kq, .tid = t_gettid()};
        assert_int_equal(pthread_create(&th, NULL, trigger_once_blocked, &wt),
                         0);
        int n = kevent(f->kq, NULL, 0, ev, 4, &huge);
        assert_int_equal(pthread_join(th, NULL), 0);
        assert_int_equal(wt.seen, 0);
        assert_true(t_blocked_forever(&wt.blocked));
        t_expect_in(ev, n, T_EV(UID, EVFILT_USER));
    }
}

static void on_alarm(int sig)
{
    (void)sig;
}

/* EINTR even under SA_RESTART; the changes were applied.  The
 * signal comes once the call sleeps in the kernel's wait, which epoll_wait
 * never restarts (signal(7)). */
static void eintr_not_restarted(void **state)
{
    struct t_fx *f = *state;
    struct kevent ev[4];
    struct sigaction sa, old;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_alarm;
    sa.sa_flags = SA_RESTART;
    sigemptyset(&sa.sa_mask);
    assert_int_equal(sigaction(SIGALRM, &sa, &old), 0);
    pthread_t th;
    struct watcher wt = {
        .kq = f->kq, .tid = t_gettid(), .target = pthread_self()};
    assert_int_equal(pthread_create(&th, NULL, signal_once_blocked, &wt), 0);
    struct kevent ch = t_kev(f->rd, EVFILT_READ, EV_ADD, 0, 0, NULL);
    struct t_waits waits;
    t_waits_reset();
    errno = 0;
    int r = kevent(f->kq, &ch, 1, ev, 4, NULL);
    int e = errno;
    t_waits(&waits);
    assert_int_equal(pthread_join(th, NULL), 0);
    assert_int_equal(sigaction(SIGALRM, &old, NULL), 0);
    assert_int_equal(wt.seen, 0);
    assert_true(t_blocked_forever(&wt.blocked));
    /* The wait seen asleep is the one t_waits counted: t_waits sees the
     * emulator's real waits, which timeout_poll_finite_and_null relies on. */
    assert_int_equal(waits.sleeping, 1);
    assert_int_equal(waits.longest, LLONG_MAX);
    assert_int_equal(r, -1);
    assert_int_equal(e, EINTR);
    assert_true(t_delete_ok(f->kq, f->rd, EVFILT_READ));
}

/* Close drops knotes; reuse starts clean. */
static void close_drops_knotes(void **state)
{
    struct t_fx *f = *state;
    int num = f->rd, q[2];
    t_add(f->kq, num, EVFILT_READ, 0);
    t_write(f->wr, 1);
    t_fx_close(f, num);
    t_expect_none(f->kq);
    t_expect_receipt(f->kq, num, EVFILT_READ, EV_DELETE,
                     IS_DARWIN ? ENOENT : EBADF);
    t_fx_close(f, f->wr);
    t_pipe(q);
    assert_true(q[0] == num || q[1] == num);
    t_expect_receipt(f->kq, num, EVFILT_READ, EV_DELETE, ENOENT);
    t_close(q[0]);
    t_close(q[1]);
}

/* Close and dup2 act on the number, not the file. */
static void close_and_dup2_on_dup(void **state)
{
    struct t_fx *f = *state;
    int o[2];
    t_pipe(o);
    int d = dup(f->rd);
    assert_true(d >= 0);
    t_add(f->kq, f->rd, EVFILT_READ, 0);
    t_add(f->kq, (uintptr_t)d, EVFILT_READ, 0);
    t_fx_close(f, f->rd);
    t_write(f->wr, 1);
    t_expect(f->kq, T_EV(d, EVFILT_READ));
    assert_int_equal(dup2(o[0], d), d);
    t_expect_none(f->kq);
    t_expect_receipt(f->kq, (uintptr_t)d, EVFILT_READ, EV_DELETE, ENOENT);
    t_close(d);
    t_close(o[0]);
    t_close(o[1]);
}

/* A knote left stale by a raw close is replaced by a
 * fresh add on the reused number; the old file never reports. */
static void stale_knote_after_raw_close(void **state)
{
    struct t_fx *f = *state;
    int num = f->rd, b[2];
    int keep = dup(num); /* the old file outlives its number */
    assert_true(keep >= 0);
    t_add_udata(f->kq, num, EVFILT_READ, EV_CLEAR, (void *)1);
    assert_int_equal(syscall(SYS_close, num), 0); /* bypasses the interposer */
    f->rd = -1;
    t_pipe(b);
    assert_int_equal(b[0], num);
    t_add_udata(f->kq, num, EVFILT_READ, 0, (void *)2);
    t_write(f->wr, 5);
    t_write(b[1], 3);
    for (int i = 0; i < 2; i++) /* fresh add: level, not the old EV_CLEAR */
        t_expect(f->kq, T_EV(num, EVFILT_READ, T_UDATA((void *)2), T_DATA(3),
                             T_WITHOUT(EV_CLEAR)));
    t_close(keep);
    t_close(b[0]);
    t_close(b[1]);
}

/* A kqueue watched by another kqueue. */
static void kqueue_in_kqueue(void **state)
{
    struct t_fx *f = *state;
    int kq1 = f->kq, kq2 = t_kqueue(), kq3 = t_kqueue();
    t_add(kq1, (uintptr_t)kq2, EVFILT_READ, 0);
    t_expect_none(kq1);
    user_add(kq2, EV_CLEAR, 0, NULL);
    user_trigger(kq2, 0, 0);
    t_expect(kq1, T_EV(kq2, EVFILT_READ, T_DATA_MIN(1)));
    t_expect(kq2, T_EV(UID, EVFILT_USER));
    t_expect_receipt(kq1, (uintptr_t)kq2, EVFILT_WRITE, EV_ADD, EINVAL);
    t_expect_receipt(kq1, (uintptr_t)kq1, EVFILT_READ, EV_ADD, EINVAL);
    /* Documented deviation: a third level needs 6 nested epolls. */
    t_expect_receipt(kq2, (uintptr_t)kq3, EVFILT_READ, EV_ADD, EINVAL);
    t_close(kq3);
    t_close(kq2);
}

/* Layout per personality (also asserted in <sys/event.h>). */
static void struct_kevent_layout(void **state)
{
    (void)state;
    if (IS_DARWIN) {
        assert_int_equal(sizeof(struct kevent), 32);
        assert_int_equal(_Alignof(struct kevent), 4);
        assert_int_equal(offsetof(struct kevent, filter), 8);
        assert_int_equal(offsetof(struct kevent, flags), 10);
        assert_int_equal(offsetof(struct kevent, fflags), 12);
        assert_int_equal(offsetof(struct kevent, data), 16);
        assert_int_equal(offsetof(struct kevent, udata), 24);
        assert_int_equal(EVFILT_USER, -10);
    } else {
        assert_int_equal(sizeof(struct kevent), 64);
        assert_int_equal(offsetof(struct kevent, data), 16);
        assert_int_equal(offsetof(struct kevent, udata), 24);
#if KQEMU_PERSONALITY == KQEMU_FREEBSD
        assert_int_equal(offsetof(struct kevent, ext), 32);
        struct kevent k;
        memset(&k, 0xff, sizeof k);
        EV_SET(&k, 1, EVFILT_READ, EV_ADD, 0, 0, NULL);
        assert_int_equal(k.ext[0] | k.ext[1] | k.ext[2] | k.ext[3], 0);
#endif
        assert_int_equal(EVFILT_USER, -11);
    }
}

/* ---- kqemu.h control API and cross-thread behaviour ------------------------
 */

/* A registration from another thread wakes a blocked kevent(), as a
 * registration during a wait must (docs/design.md). */
static void registration_wakes_blocked_thread(void **state)
{
    struct t_fx *f = *state;
    struct t_waiter w;
    t_write(f->wr, 1);
    t_waiter_asleep(&w, f->kq);
    t_add(f->kq, f->rd, EVFILT_READ, 0);
    t_waiter_join(&w);
    t_expect_in(w.ev, w.n, T_EV(f->rd, EVFILT_READ));
}

/* The trace records arguments as passed and results as returned. */
static void trace_records_calls(void **state)
{
    struct t_fx *f = *state;
    kqemu_trace_reset();
    assert_int_equal(kqemu_trace_count(), 0);
    struct kevent ch[2] = {
        t_kev(f->wr, EVFILT_WRITE, EV_ADD | EV_CLEAR | EV_RECEIPT, 0, 0,
              (void *)9),
        t_kev(f->rd, EVFILT_READ, EV_ADD | EV_CLEAR | EV_RECEIPT, 0, 0,
              (void *)9)};
    assert_int_equal(kevent(f->kq, ch, 2, ch, 2, NULL), 2);
    struct timespec ts = {0, 1};
    struct kevent ev[2];
    assert_int_equal(kevent(f->kq, NULL, 0, ev, 2, &ts), 1);
    assert_int_equal(kqemu_trace_count(), 2);
    struct kqemu_call c;
    assert_int_equal(kqemu_trace_get(0, &c), 0);
    assert_int_equal(c.kq, f->kq);
    assert_int_equal(c.nchanges, 2);
    assert_int_equal(c.nevents, 2);
    assert_int_equal(c.has_timeout, 0);
    assert_int_equal(c.result, 2);
    assert_int_equal(c.changes[0].filter, EVFILT_WRITE);
    assert_int_equal(c.changes[0].flags, EV_ADD | EV_CLEAR | EV_RECEIPT);
    assert_int_equal(c.changes[1].filter, EVFILT_READ);
    assert_int_equal(kqemu_trace_get(1, &c), 0);
    assert_int_equal(c.has_timeout, 1);
    assert_int_equal(c.timeout.tv_nsec, 1);
    assert_int_equal(c.result, 1);
    assert_int_equal(kqemu_trace_get(2, &c), -1);
}

/* kqemu_inject_eintr_after_changes: applied, nothing written, EINTR. */
static void inject_eintr(void **state)
{
    struct t_fx *f = *state;
    struct kevent ev[4];
    assert_int_equal(kqemu_inject_eintr_after_changes(f->kq, 1), 0);
    struct kevent ch =
        t_kev(f->rd, EVFILT_READ, EV_ADD | EV_RECEIPT, 0, 0, NULL);
    memset(ev, 0, sizeof ev);
    t_expect_errno(kevent(f->kq, &ch, 1, ev, 4, NULL), EINTR);
    assert_int_equal(ev[0].flags, 0);
    assert_true(t_delete_ok(f->kq, f->rd, EVFILT_READ)); /* not EINTR */
    assert_int_equal(kqemu_inject_eintr_after_changes(f->rd, 1), -1);
}

/* kqemu_inject_change_errno: in-band error, change still applied. */
static void inject_change_errno(void **state)
{
    struct t_fx *f = *state;
    assert_int_equal(kqemu_inject_change_errno(f->kq, EVFILT_WRITE, EBADF, 1),
                     0);
    t_add(f->kq, f->rd, EVFILT_READ, 0);
    t_expect_receipt(f->kq, f->wr, EVFILT_WRITE, EV_ADD, EBADF);
    t_add(f->kq, f->wr, EVFILT_WRITE, 0);
}

/* A forked child inherits no queue. */
static void fork_child_has_no_queue(void **state)
{
    struct t_fx *f = *state;
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        struct kevent ev;
        struct kqemu_stats st;
        kqemu_stats(&st);
        int r = kevent(f->kq, NULL, 0, &ev, 1, NULL);
        _exit(r == -1 && errno == EBADF && st.kqueues == 0 ? 0 : 1);
    }
    int status = 0;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
    t_expect_none(f->kq); /* the parent's still works */
}

/* kqemu_stats counts queues and knotes (from before the kqueue exists to
 * after it is closed, so no fixture). */
static void control_stats_count_kqueues_and_knotes(void **state)
{
    (void)state;
    struct kqemu_stats a, b;
    kqemu_stats(&a);
    int kq = t_kqueue();
    user_add(kq, 0, 0, NULL);
    kqemu_stats(&b);
    assert_int_equal(b.kqueues, a.kqueues + 1);
    assert_int_equal(b.knotes, a.knotes + 1);
    assert_true(b.kevent_calls > a.kevent_calls);
    t_close(kq);
    kqemu_stats(&b);
    assert_int_equal(b.kqueues, a.kqueues);
    assert_int_equal(b.knotes, a.knotes);
}

static int open_fds(void)
{
    int n = 0;
    for (int fd = 0; fd < 1024; fd++)
        if (fcntl(fd, F_GETFD) >= 0)
            n++;
    return n;
}

/* KQEMU_FDS_PER_KQUEUE is what one queue costs; closing gives it back. */
static void fds_per_kqueue(void **state)
{
    (void)state;
    int before = open_fds();
    int kq = t_kqueue();
    assert_int_equal(open_fds(), before + KQEMU_FDS_PER_KQUEUE);
    t_close(kq);
    assert_int_equal(open_fds(), before);
}

int kqt_run_user_time_life(void)
{
    const struct CMUnitTest tests[] = {
        T_TEST(user_trigger_clear, t_setup_kqueue),
        T_TEST(two_triggers_one_event, t_setup_kqueue),
        T_TEST(trigger_wakes_blocked_thread, t_setup_kqueue),
        T_TEST(fflags_operations_and_data, t_setup_kqueue),
        T_TEST(trigger_on_initial_add, t_setup_kqueue),
        T_TEST(trigger_with_clear_flag, t_setup_kqueue),
        T_TEST(level_user_event, t_setup_kqueue),
        T_TEST(trigger_while_disabled, t_setup_kqueue),
        T_TEST(timeout_poll_finite_and_null, t_setup_kqueue),
        T_TEST(bad_nsec, t_setup_pipe),
        T_TEST(timeout_bounds, t_setup_pipe),
        T_TEST(eintr_not_restarted, t_setup_pipe),
        T_TEST(close_drops_knotes, t_setup_pipe),
        T_TEST(close_and_dup2_on_dup, t_setup_pipe),
        T_TEST(stale_knote_after_raw_close, t_setup_pipe),
        T_TEST(kqueue_in_kqueue, t_setup_kqueue),
        cmocka_unit_test(struct_kevent_layout),
        T_TEST(registration_wakes_blocked_thread, t_setup_pipe),
        T_TEST(trace_records_calls, t_setup_pipe),
        T_TEST(inject_eintr, t_setup_pipe),
        T_TEST(inject_change_errno, t_setup_pipe),
        T_TEST(fork_child_has_no_queue, t_setup_kqueue),
        cmocka_unit_test(control_stats_count_kqueues_and_knotes),
        cmocka_unit_test(fds_per_kqueue),
    };
    return cmocka_run_group_tests_name(
        "kqemu: user events, timeouts, lifetime, nesting", tests, NULL, NULL);
}
