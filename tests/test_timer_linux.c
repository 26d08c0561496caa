/*
 * xpoll_timer at the system-call boundary (Linux, seccomp): on the thread
 * that waits, setting, resetting and cancelling timers and receiving
 * their expiries make no system call; the wait's own is the only one.
 * Runs on every backend (epoll, poll, and kqueue through its emulation).
 */
#define _GNU_SOURCE
#include "support.h"

#include <fcntl.h>
#include <stddef.h>
#include <unistd.h>

#include "seccomp.h"

/* Only the calls in which xpoll_wait blocks on epoll and poll, and exit.
 * clock_gettime is allowed too: timers read CLOCK_MONOTONIC, which Linux
 * serves from the vDSO without entering the kernel wherever the clock
 * source allows (vdso(7)); a machine whose clock source does not would
 * otherwise fail this test for a call the library cannot avoid.  Anything
 * else kills the process with SIGSYS. */
static void allow_only_waits(void)
{
    struct sock_filter filter[] = {
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_epoll_wait, 7, 0),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_epoll_pwait, 6, 0),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_epoll_pwait2, 5, 0),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_ppoll, 4, 0),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_clock_gettime, 3, 0),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_exit_group, 2, 0),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_exit, 1, 0),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_KILL_PROCESS),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
    };
    CHILD_CHECK(seccomp_install(filter, sizeof filter / sizeof filter[0]) == 0);
}

/* On the kqueue backend the wait is the emulation's kevent(), which makes
 * calls of its own (epoll_wait and epoll_ctl, fstat and ioctl(FIONREAD)
 * to compute what it reports, rt_sigprocmask around its registry lock:
 * tests/kqemu/kqemu_fd.c and kqemu_registry.c).  So there the calls the
 * timers could make are the ones forbidden: the wake-up's write and read,
 * a contended lock's futex, and memory from the kernel. */
static void forbid_timer_calls(void)
{
    struct sock_filter filter[] = {
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_write, 6, 0),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_read, 5, 0),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_futex, 4, 0),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_brk, 3, 0),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_mmap, 2, 0),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_munmap, 1, 0),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_KILL_PROCESS),
    };
    CHILD_CHECK(seccomp_install(filter, sizeof filter / sizeof filter[0]) == 0);
}

/* One event, the timer's with `token`, within HANG_NS. */
static void child_expect_timer(xpoll *poll, xpoll_events *events,
                               xpoll_token token)
{
    CHILD_CHECK(xpoll_wait(poll, events, HANG_NS) == 1);
    const xpoll_event *ev = xpoll_events_get(events, 0);
    CHILD_CHECK(xpoll_event_is_timer(ev));
    CHILD_CHECK(xpoll_event_token(ev) == token);
}

static void timers_make_no_system_call_body(void)
{
    xpoll *poll;
    xpoll_events *events;
    xpoll_timer *a, *b, *periodic;
    bool kqueue = on_kqueue();
    CHILD_CHECK(xpoll_new(&poll) == 0);
    CHILD_CHECK(xpoll_events_new(&events, 8) == 0);
    CHILD_CHECK(xpoll_timer_new(poll, 1, &a) == 0);
    CHILD_CHECK(xpoll_timer_new(poll, 2, &b) == 0);
    CHILD_CHECK(xpoll_timer_new(poll, 3, &periodic) == 0);
    /* Before the filter: the poll's first set wakes it once (no wait had
     * recorded its deadline yet), and the wait that consumes the wake-up
     * empties its descriptor. */
    CHILD_CHECK(xpoll_timer_set(a, MS, 0) == 0);
    child_expect_timer(poll, events, 1);
    CHILD_CHECK(xpoll_wait(poll, events, 0) == 0);
    int fds[2];
    CHILD_CHECK(pipe2(fds, O_NONBLOCK | O_CLOEXEC) == 0);
    CHILD_CHECK(xpoll_register(poll, fds[0], 4, XPOLL_READABLE) == 0);
    CHILD_CHECK(write(fds[1], "x", 1) == 1);

    if (kqueue)
        forbid_timer_calls();
    else
        allow_only_waits();
    /* A wait meant to sleep long ends early for the descriptor; a set
     * made after it, before that sleep's end, is still no other thread's
     * and wakes nothing. */
    CHILD_CHECK(xpoll_wait(poll, events, HANG_NS) == 1);
    CHILD_CHECK(xpoll_event_token(xpoll_events_get(events, 0)) == 4);
    CHILD_CHECK(xpoll_timer_set(a, 2 * MS, 0) == 0);
    child_expect_timer(poll, events, 1);
    for (int round = 0; round < 3; round++) {
        CHILD_CHECK(xpoll_timer_set(b, HANG_NS, 0) == 0);
        CHILD_CHECK(xpoll_timer_set(a, 50 * MS, 0) == 0);
        CHILD_CHECK(xpoll_timer_set(a, 2 * MS, 0) == 0); /* reset */
        CHILD_CHECK(xpoll_timer_set(b, 3 * HANG_NS, 0) == 0);
        CHILD_CHECK(xpoll_timer_cancel(b) == 0);
        child_expect_timer(poll, events, 1);
    }
    CHILD_CHECK(xpoll_timer_set(periodic, MS, MS) == 0);
    for (int i = 0; i < 3; i++)
        child_expect_timer(poll, events, 3);
    CHILD_CHECK(xpoll_timer_cancel(periodic) == 0);
    CHILD_CHECK(xpoll_wait(poll, events, 5 * MS) == 0);
    /* The raw system call: sanitizer runtimes hook _exit(), and nothing
     * but the waits may run under this filter. */
    syscall(SYS_exit_group, 0);
}

static void timers_make_no_system_call_on_the_waiting_thread(void **state)
{
    (void)state;
    run_in_child(timers_make_no_system_call_body);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(timers_make_no_system_call_on_the_waiting_thread),
    };
    return RUN(tests, NULL, NULL);
}
