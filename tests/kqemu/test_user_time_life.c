/*
 * Fidelity tests t46-t62: user events, timeouts and signals, descriptor
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

static int user_add(int kq, unsigned short flags, unsigned int fflags,
                    void *udata)
{
    return t_change(kq, UID, EVFILT_USER, EV_ADD | flags, fflags, 0, udata);
}

/* mio's wake(): EV_ADD|EV_RECEIPT plus NOTE_TRIGGER, no EV_CLEAR
 * (mio src/sys/unix/selector/kqueue.rs, Waker::wake). */
static int user_trigger(int kq, unsigned int fflags, intptr_t data)
{
    return t_change(kq, UID, EVFILT_USER, EV_ADD, NOTE_TRIGGER | fflags, data,
                    (void *)0xC0DE);
}

/* An EV_CLEAR user event fires once per trigger. */
static void user_trigger_clear(void **state)
{
    (void)state;
    struct kevent ev[4];
    int kq = t_kqueue();
    assert_int_equal(user_add(kq, EV_CLEAR, 0, (void *)0xC0DE), 0);
    assert_int_equal(t_poll(kq, ev, 4), 0);
    assert_int_equal(user_trigger(kq, 0, 0), 0);
    assert_int_equal(t_poll(kq, ev, 4), 1);
    assert_int_equal(ev[0].filter, EVFILT_USER);
    assert_int_equal(ev[0].ident, UID);
    assert_ptr_equal(ev[0].udata, (void *)0xC0DE);
    assert_int_equal(t_poll(kq, ev, 4), 0);
    t_close(kq);
}

/* Triggers coalesce. */
static void two_triggers_one_event(void **state)
{
    (void)state;
    struct kevent ev[4];
    int kq = t_kqueue();
    assert_int_equal(user_add(kq, EV_CLEAR, 0, NULL), 0);
    assert_int_equal(user_trigger(kq, 0, 0), 0);
    assert_int_equal(user_trigger(kq, 0, 0), 0);
    assert_int_equal(t_poll(kq, ev, 4), 1);
    assert_int_equal(t_poll(kq, ev, 4), 0);
    t_close(kq);
}

/* A trigger wakes a kevent() blocked in another thread. */
static void trigger_wakes_blocked_thread(void **state)
{
    (void)state;
    struct t_waiter w;
    struct t_blocked b;
    int kq = t_kqueue();
    assert_int_equal(user_add(kq, EV_CLEAR, 0, NULL), 0);
    t_waiter_start(&w, kq, NULL);
    assert_int_equal(t_wait_blocked(w.tid, &b), 0); /* asleep, no timeout */
    assert_true(t_blocked_forever(&b));
    assert_int_equal(user_trigger(kq, 0, 0), 0);
    t_waiter_join(&w);
    assert_int_equal(w.n, 1);
    assert_int_equal(w.ev[0].filter, EVFILT_USER);
    assert_int_equal(w.ev[0].ident, UID);
    t_close(kq);
}

/* NOTE_FF* operations and the data passed with a trigger. */
static void fflags_operations_and_data(void **state)
{
    (void)state;
    struct kevent ev[4];
    int kq = t_kqueue();
    assert_int_equal(user_add(kq, EV_CLEAR, 0, NULL), 0);
    static const struct {
        unsigned int ffl;
        unsigned int want;
    } steps[] = {{NOTE_FFOR | 5, 5},
                 {NOTE_FFAND | 4, 4},
                 {NOTE_FFCOPY | 9, 9},
                 {NOTE_FFNOP | 1, 9}};
    for (size_t i = 0; i < sizeof steps / sizeof steps[0]; i++) {
        assert_int_equal(user_trigger(kq, steps[i].ffl, 0), 0);
        assert_int_equal(t_poll(kq, ev, 4), 1);
        assert_int_equal(ev[0].fflags & NOTE_FFLAGSMASK, steps[i].want);
    }
    assert_int_equal(user_trigger(kq, 0, 7), 0);
    assert_int_equal(t_poll(kq, ev, 4), 1);
    assert_int_equal(ev[0].data, 7);
    t_close(kq);
}

/* NOTE_TRIGGER on the creating EV_ADD. */
static void trigger_on_initial_add(void **state)
{
    (void)state;
    struct kevent ev[4];
    int kq = t_kqueue();
    assert_int_equal(user_add(kq, EV_CLEAR, NOTE_TRIGGER, NULL), 0);
    assert_int_equal(t_poll(kq, ev, 4), IS_DARWIN ? 1 : 0);
    t_close(kq);
}

/* EV_CLEAR in the trigger change. */
static void trigger_with_clear_flag(void **state)
{
    (void)state;
    struct kevent ev[4];
    int kq = t_kqueue();
    assert_int_equal(user_add(kq, EV_CLEAR, 0, NULL), 0);
    assert_int_equal(t_change(kq, UID, EVFILT_USER, EV_ADD | EV_CLEAR,
                              NOTE_TRIGGER, 0, NULL),
                     0);
    assert_int_equal(t_poll(kq, ev, 4), IS_DARWIN ? 1 : 0);
    t_close(kq);
}

/* Without EV_CLEAR a triggered user event is level. */
static void level_user_event(void **state)
{
    (void)state;
    struct kevent ev[4];
    int kq = t_kqueue();
    assert_int_equal(user_add(kq, 0, 0, NULL), 0);
    assert_int_equal(user_trigger(kq, 0, 0), 0);
    for (int i = 0; i < 3; i++)
        assert_int_equal(t_poll(kq, ev, 4), 1);
    t_close(kq);
}

/* A trigger while disabled is delivered after enable. */
static void trigger_while_disabled(void **state)
{
    (void)state;
    struct kevent ev[4];
    int kq = t_kqueue();
    assert_int_equal(user_add(kq, EV_CLEAR | EV_DISABLE, 0, NULL), 0);
    assert_int_equal(t_change(kq, UID, EVFILT_USER, 0, NOTE_TRIGGER, 0, NULL),
                     0);
    assert_int_equal(t_poll(kq, ev, 4), 0);
    assert_int_equal(t_change(kq, UID, EVFILT_USER, EV_ENABLE, 0, 0, NULL), 0);
    assert_int_equal(t_poll(kq, ev, 4), 1);
    t_close(kq);
}

/* Poll, finite wait, NULL with an event pending.  What
 * the emulator asks the kernel to wait for is read from t_waits: a poll
 * and a call with an event pending never wait; a finite wait asks for no
 * more than its timeout, and with nothing to report returns 0 no sooner. */
static void timeout_poll_finite_and_null(void **state)
{
    (void)state;
    struct kevent ev[4];
    struct t_waits w;
    int kq = t_kqueue();
    t_waits_reset();
    assert_int_equal(t_poll(kq, ev, 4), 0);
    t_waits(&w);
    assert_int_equal(w.sleeping, 0);

    t_waits_reset();
    double t0 = t_now_ms();
    assert_int_equal(t_wait_ms(kq, ev, 4, 50), 0);
    assert_true(t_now_ms() - t0 >= 50.0);
    t_waits(&w);
    assert_true(w.longest <= 50000000LL);

    assert_int_equal(user_add(kq, 0, NOTE_TRIGGER, NULL), 0);
    assert_int_equal(user_trigger(kq, 0, 0), 0);
    t_waits_reset();
    assert_int_equal(kevent(kq, NULL, 0, ev, 4, NULL), 1);
    t_waits(&w);
    assert_int_equal(w.sleeping, 0);
    t_close(kq);
}

/* One [ADD READ p0] call with the given timeout; returns result/errno and
 * whether the ADD took effect. */
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
    (void)state;
    int p[2], err;
    t_pipe(p);
    int kq = t_kqueue();
    struct timespec bad = {0, 1000000000L};
    assert_int_equal(add_with_timeout(kq, p[0], 4, &bad, &err), -1);
    assert_int_equal(err, EINVAL);
    assert_int_equal(t_delete_ok(kq, (uintptr_t)p[0], EVFILT_READ), !IS_DARWIN);
    int r = add_with_timeout(kq, p[0], 0, &bad, &err);
    if (IS_DARWIN) {
        assert_int_equal(r, -1);
        assert_int_equal(err, EINVAL);
    } else {
        assert_int_equal(r, 0);
    }
    t_close(kq);
    t_close(p[0]);
    t_close(p[1]);
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
    (void)state;
    int p[2], err;
    struct kevent ev[4];
    t_pipe(p);
    int kq = t_kqueue();
    struct timespec neg = {-1, 0};
    assert_int_equal(add_with_timeout(kq, p[0], 4, &neg, &err), -1);
    assert_int_equal(err, EINVAL);
    assert_int_equal(t_delete_ok(kq, (uintptr_t)p[0], EVFILT_READ), !IS_DARWIN);

    assert_int_equal(user_add(kq, 0, 0, NULL), 0);
    assert_int_equal(user_trigger(kq, 0, 0), 0); /* level: stays pending */
    struct timespec max_ok = {100000000, 0};
    assert_int_equal(kevent(kq, NULL, 0, ev, 4, &max_ok), 1);
    struct timespec over = {100000001, 0};
    errno = 0;
    int r = kevent(kq, NULL, 0, ev, 4, &over);
    if (IS_DARWIN) {
        assert_int_equal(r, -1);
        assert_int_equal(errno, EINVAL);
    } else {
        assert_int_equal(r, 1);
    }
    assert_int_equal(t_change(kq, UID, EVFILT_USER, EV_DELETE, 0, 0, NULL), 0);

    assert_int_equal(user_add(kq, EV_CLEAR, 0, NULL), 0);
    struct timespec huge = {INT64_MAX, 0};
    if (IS_DARWIN) {
        errno = 0;
        assert_int_equal(kevent(kq, NULL, 0, ev, 4, &huge), -1);
        assert_int_equal(errno, EINVAL);
    } else {
        /* Beyond INT32_MAX seconds FreeBSD's kqueue_scan (sys/kern/
         * kern_event.c) sets no deadline: the call sleeps, with no timeout,
         * until the trigger. */
        pthread_t th;
        struct watcher wt = {.kq = kq, .tid = t_gettid()};
        assert_int_equal(pthread_create(&th, NULL, trigger_once_blocked, &wt),
                         0);
        assert_int_equal(kevent(kq, NULL, 0, ev, 4, &huge), 1);
        assert_int_equal(pthread_join(th, NULL), 0);
        assert_int_equal(wt.seen, 0);
        assert_true(t_blocked_forever(&wt.blocked));
        assert_int_equal(ev[0].filter, EVFILT_USER);
    }
    t_close(kq);
    t_close(p[0]);
    t_close(p[1]);
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
    (void)state;
    int p[2];
    struct kevent ev[4];
    t_pipe(p);
    int kq = t_kqueue();
    struct sigaction sa, old;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_alarm;
    sa.sa_flags = SA_RESTART;
    sigemptyset(&sa.sa_mask);
    assert_int_equal(sigaction(SIGALRM, &sa, &old), 0);
    pthread_t th;
    struct watcher wt = {.kq = kq, .tid = t_gettid(), .target = pthread_self()};
    assert_int_equal(pthread_create(&th, NULL, signal_once_blocked, &wt), 0);
    struct kevent ch = t_kev((uintptr_t)p[0], EVFILT_READ, EV_ADD, 0, 0, NULL);
    struct t_waits waits;
    t_waits_reset();
    errno = 0;
    int r = kevent(kq, &ch, 1, ev, 4, NULL);
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
    assert_true(t_delete_ok(kq, (uintptr_t)p[0], EVFILT_READ));
    t_close(kq);
    t_close(p[0]);
    t_close(p[1]);
}

/* Close drops knotes; reuse starts clean. */
static void close_drops_knotes(void **state)
{
    (void)state;
    int p[2];
    struct kevent ev[4];
    t_pipe(p);
    int kq = t_kqueue();
    assert_int_equal(
        t_change(kq, (uintptr_t)p[0], EVFILT_READ, EV_ADD, 0, 0, NULL), 0);
    t_write(p[1], 1);
    int num = p[0];
    t_close(p[0]);
    assert_int_equal(t_poll(kq, ev, 4), 0);
    assert_int_equal(
        t_change(kq, (uintptr_t)num, EVFILT_READ, EV_DELETE, 0, 0, NULL),
        IS_DARWIN ? ENOENT : EBADF);
    t_close(p[1]);
    int q[2];
    t_pipe(q);
    assert_true(q[0] == num || q[1] == num);
    assert_int_equal(
        t_change(kq, (uintptr_t)num, EVFILT_READ, EV_DELETE, 0, 0, NULL),
        ENOENT);
    t_close(kq);
    t_close(q[0]);
    t_close(q[1]);
}

/* Close and dup2 act on the number, not the file. */
static void close_and_dup2_on_dup(void **state)
{
    (void)state;
    int p[2], o[2];
    struct kevent ev[4];
    t_pipe(p);
    t_pipe(o);
    int d = dup(p[0]);
    assert_true(d >= 0);
    int kq = t_kqueue();
    assert_int_equal(
        t_change(kq, (uintptr_t)p[0], EVFILT_READ, EV_ADD, 0, 0, NULL), 0);
    assert_int_equal(
        t_change(kq, (uintptr_t)d, EVFILT_READ, EV_ADD, 0, 0, NULL), 0);
    t_close(p[0]);
    t_write(p[1], 1);
    assert_int_equal(t_poll(kq, ev, 4), 1);
    assert_int_equal(ev[0].ident, (uintptr_t)d);
    assert_int_equal(dup2(o[0], d), d);
    assert_int_equal(t_poll(kq, ev, 4), 0);
    assert_int_equal(
        t_change(kq, (uintptr_t)d, EVFILT_READ, EV_DELETE, 0, 0, NULL), ENOENT);
    t_close(kq);
    t_close(d);
    t_close(p[1]);
    t_close(o[0]);
    t_close(o[1]);
}

/* A knote left stale by a raw close is replaced by a
 * fresh add on the reused number; the old file never reports. */
static void stale_knote_after_raw_close(void **state)
{
    (void)state;
    int a[2], b[2];
    struct kevent ev[4];
    t_pipe(a);
    int keep = dup(a[0]); /* the old file outlives its number */
    assert_true(keep >= 0);
    int kq = t_kqueue();
    assert_int_equal(t_change(kq, (uintptr_t)a[0], EVFILT_READ,
                              EV_ADD | EV_CLEAR, 0, 0, (void *)1),
                     0);
    int num = a[0];
    assert_int_equal(syscall(SYS_close, a[0]), 0); /* bypasses the interposer */
    t_pipe(b);
    assert_int_equal(b[0], num);
    assert_int_equal(
        t_change(kq, (uintptr_t)num, EVFILT_READ, EV_ADD, 0, 0, (void *)2), 0);
    t_write(a[1], 5);
    t_write(b[1], 3);
    for (int i = 0; i < 2; i++) { /* fresh add: level, not the old EV_CLEAR */
        int n = t_poll(kq, ev, 4);
        assert_int_equal(n, 1);
        assert_ptr_equal(ev[0].udata, (void *)2);
        assert_int_equal(ev[0].data, 3);
        assert_false(ev[0].flags & EV_CLEAR);
    }
    t_close(kq);
    t_close(keep);
    t_close(a[1]);
    t_close(b[0]);
    t_close(b[1]);
}

/* A kqueue watched by another kqueue. */
static void kqueue_in_kqueue(void **state)
{
    (void)state;
    struct kevent ev[4];
    int kq1 = t_kqueue(), kq2 = t_kqueue(), kq3 = t_kqueue();
    assert_int_equal(
        t_change(kq1, (uintptr_t)kq2, EVFILT_READ, EV_ADD, 0, 0, NULL), 0);
    assert_int_equal(t_poll(kq1, ev, 4), 0);
    assert_int_equal(user_add(kq2, EV_CLEAR, 0, NULL), 0);
    assert_int_equal(user_trigger(kq2, 0, 0), 0);
    assert_int_equal(t_poll(kq1, ev, 4), 1);
    assert_int_equal(ev[0].ident, (uintptr_t)kq2);
    assert_int_equal(ev[0].filter, EVFILT_READ);
    assert_true(ev[0].data >= 1);
    assert_int_equal(t_poll(kq2, ev, 4), 1);
    assert_int_equal(
        t_change(kq1, (uintptr_t)kq2, EVFILT_WRITE, EV_ADD, 0, 0, NULL),
        EINVAL);
    assert_int_equal(
        t_change(kq1, (uintptr_t)kq1, EVFILT_READ, EV_ADD, 0, 0, NULL), EINVAL);
    /* Documented deviation: a third level needs 6 nested epolls. */
    assert_int_equal(
        t_change(kq2, (uintptr_t)kq3, EVFILT_READ, EV_ADD, 0, 0, NULL), EINVAL);
    t_close(kq3);
    t_close(kq2);
    t_close(kq1);
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
    (void)state;
    int p[2];
    t_pipe(p);
    t_write(p[1], 1);
    int kq = t_kqueue();
    struct t_waiter w;
    struct t_blocked b;
    t_waiter_start(&w, kq, NULL);
    assert_int_equal(t_wait_blocked(w.tid, &b), 0); /* asleep, no timeout */
    assert_true(t_blocked_forever(&b));
    assert_int_equal(
        t_change(kq, (uintptr_t)p[0], EVFILT_READ, EV_ADD, 0, 0, NULL), 0);
    t_waiter_join(&w);
    assert_int_equal(w.n, 1);
    assert_int_equal(w.ev[0].ident, (uintptr_t)p[0]);
    t_close(kq);
    t_close(p[0]);
    t_close(p[1]);
}

/* The trace records arguments as passed and results as returned. */
static void trace_records_calls(void **state)
{
    (void)state;
    int p[2];
    t_pipe(p);
    int kq = t_kqueue();
    kqemu_trace_reset();
    assert_int_equal(kqemu_trace_count(), 0);
    struct kevent ch[2] = {
        t_kev((uintptr_t)p[1], EVFILT_WRITE, EV_ADD | EV_CLEAR | EV_RECEIPT, 0,
              0, (void *)9),
        t_kev((uintptr_t)p[0], EVFILT_READ, EV_ADD | EV_CLEAR | EV_RECEIPT, 0,
              0, (void *)9)};
    assert_int_equal(kevent(kq, ch, 2, ch, 2, NULL), 2);
    struct timespec ts = {0, 1};
    struct kevent ev[2];
    assert_int_equal(kevent(kq, NULL, 0, ev, 2, &ts), 1);
    assert_int_equal(kqemu_trace_count(), 2);
    struct kqemu_call c;
    assert_int_equal(kqemu_trace_get(0, &c), 0);
    assert_int_equal(c.kq, kq);
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
    t_close(kq);
    t_close(p[0]);
    t_close(p[1]);
}

/* kqemu_inject_eintr_after_changes: applied, nothing written, EINTR. */
static void inject_eintr(void **state)
{
    (void)state;
    int p[2];
    struct kevent ev[4];
    t_pipe(p);
    int kq = t_kqueue();
    assert_int_equal(kqemu_inject_eintr_after_changes(kq, 1), 0);
    struct kevent ch =
        t_kev((uintptr_t)p[0], EVFILT_READ, EV_ADD | EV_RECEIPT, 0, 0, NULL);
    memset(ev, 0, sizeof ev);
    errno = 0;
    assert_int_equal(kevent(kq, &ch, 1, ev, 4, NULL), -1);
    assert_int_equal(errno, EINTR);
    assert_int_equal(ev[0].flags, 0);
    assert_true(t_delete_ok(kq, (uintptr_t)p[0], EVFILT_READ)); /* not EINTR */
    assert_int_equal(kqemu_inject_eintr_after_changes(p[0], 1), -1);
    t_close(kq);
    t_close(p[0]);
    t_close(p[1]);
}

/* kqemu_inject_change_errno: in-band error, change still applied. */
static void inject_change_errno(void **state)
{
    (void)state;
    int p[2];
    t_pipe(p);
    int kq = t_kqueue();
    assert_int_equal(kqemu_inject_change_errno(kq, EVFILT_WRITE, EBADF, 1), 0);
    assert_int_equal(
        t_change(kq, (uintptr_t)p[0], EVFILT_READ, EV_ADD, 0, 0, NULL), 0);
    assert_int_equal(
        t_change(kq, (uintptr_t)p[1], EVFILT_WRITE, EV_ADD, 0, 0, NULL), EBADF);
    assert_int_equal(
        t_change(kq, (uintptr_t)p[1], EVFILT_WRITE, EV_ADD, 0, 0, NULL), 0);
    t_close(kq);
    t_close(p[0]);
    t_close(p[1]);
}

/* A forked child inherits no queue. */
static void fork_child_has_no_queue(void **state)
{
    (void)state;
    int kq = t_kqueue();
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        struct kevent ev;
        struct kqemu_stats st;
        kqemu_stats(&st);
        int r = kevent(kq, NULL, 0, &ev, 1, NULL);
        _exit(r == -1 && errno == EBADF && st.kqueues == 0 ? 0 : 1);
    }
    int status = 0;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
    struct kevent ev;
    assert_int_equal(t_poll(kq, &ev, 1), 0); /* the parent's still works */
    t_close(kq);
}

/* kqemu_stats counts queues and knotes. */
static void control_stats_count_kqueues_and_knotes(void **state)
{
    (void)state;
    struct kqemu_stats a, b;
    kqemu_stats(&a);
    int kq = t_kqueue();
    assert_int_equal(user_add(kq, 0, 0, NULL), 0);
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
        cmocka_unit_test(user_trigger_clear),
        cmocka_unit_test(two_triggers_one_event),
        cmocka_unit_test(trigger_wakes_blocked_thread),
        cmocka_unit_test(fflags_operations_and_data),
        cmocka_unit_test(trigger_on_initial_add),
        cmocka_unit_test(trigger_with_clear_flag),
        cmocka_unit_test(level_user_event),
        cmocka_unit_test(trigger_while_disabled),
        cmocka_unit_test(timeout_poll_finite_and_null),
        cmocka_unit_test(bad_nsec),
        cmocka_unit_test(timeout_bounds),
        cmocka_unit_test(eintr_not_restarted),
        cmocka_unit_test(close_drops_knotes),
        cmocka_unit_test(close_and_dup2_on_dup),
        cmocka_unit_test(stale_knote_after_raw_close),
        cmocka_unit_test(kqueue_in_kqueue),
        cmocka_unit_test(struct_kevent_layout),
        cmocka_unit_test(registration_wakes_blocked_thread),
        cmocka_unit_test(trace_records_calls),
        cmocka_unit_test(inject_eintr),
        cmocka_unit_test(inject_change_errno),
        cmocka_unit_test(fork_child_has_no_queue),
        cmocka_unit_test(control_stats_count_kqueues_and_knotes),
        cmocka_unit_test(fds_per_kqueue),
    };
    return cmocka_run_group_tests_name(
        "kqemu: user events, timeouts, lifetime, nesting", tests, NULL, NULL);
}
