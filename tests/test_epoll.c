/*
 * epoll-only behaviour, checked at the system-call boundary:
 *  - without epoll_pwait2 (blocked here by a seccomp filter, as an old
 *    kernel or a container would), timeouts round up to whole
 *    milliseconds and huge ones clamp instead of wrapping;
 *  - with epoll_pwait2, sub-millisecond timeouts are not rounded;
 *  - xpoll_wait makes no system call but the wait itself;
 *  - the fd-based waker (eventfd, or pipe when forced) costs one write
 *    per burst of wakes and survives a full counter or pipe.
 *
 * Checks that need a seccomp filter run in a forked child (run_in_child
 * and CHILD_CHECK, seccomp.h).
 *
 * XPOLL_TEST_DENY_EPOLL_PWAIT2=1 makes epoll_pwait2 fail with ENOSYS for
 * the whole run, as on a kernel before Linux 5.11 (ctest runs it so once).
 */
#define _GNU_SOURCE
#include "seccomp.h"
#include "support_posix.h"

#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

/* ---- what the library passes to epoll_pwait2 ------------------------------
 */

/* The epoll backend calls epoll_pwait2 through syscall(2).  This
 * definition, in the executable, comes first in the dynamic linker's
 * search order (ld.so(8)), so the shared library's calls reach it: it
 * counts every epoll_pwait2, keeps the last timeout and passes each call
 * on unchanged. */
static struct {
    long calls;
    struct timespec timeout;
} pwait2_seen;

static long (*real_syscall)(long, ...);

static void resolve_real_syscall(void)
{
    void *sym = dlsym(RTLD_NEXT, "syscall");
    _Static_assert(sizeof sym == sizeof real_syscall, "pointer sizes");
    memcpy(&real_syscall, &sym, sizeof sym);
}

long syscall(long nr, ...)
{
    long arg[6];
    va_list ap;
    va_start(ap, nr);
    for (int i = 0; i < 6; i++) /* as many as any call takes, like libc */
        arg[i] = va_arg(ap, long);
    va_end(ap);
    if (nr == SYS_epoll_pwait2) {
        const struct timespec *ts = (const struct timespec *)(uintptr_t)arg[3];
        pwait2_seen.calls++;
        pwait2_seen.timeout = ts != NULL ? *ts : (struct timespec){-1, -1};
    }
    if (real_syscall == NULL)
        resolve_real_syscall();
    return real_syscall(nr, arg[0], arg[1], arg[2], arg[3], arg[4], arg[5]);
}

/* seccomp: `nr` fails with ENOSYS, everything else is allowed; 0 or
 * -errno. */
static int install_enosys_filter(long nr)
{
    struct sock_filter filter[] = {
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch)),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, AUDIT_ARCH_HERE, 1, 0),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, (unsigned)nr, 0, 1),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | ENOSYS),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
    };
    return seccomp_install(filter, sizeof filter / sizeof filter[0]);
}

static void deny_syscall_enosys(long nr)
{
    CHILD_CHECK(install_enosys_filter(nr) == 0);
}

/* seccomp: only the epoll waits (and exit) are allowed; anything else
 * kills the process with SIGSYS. */
static void allow_only_epoll_waits(void)
{
    struct sock_filter filter[] = {
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_epoll_wait, 5, 0),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_epoll_pwait, 4, 0),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_epoll_pwait2, 3, 0),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_exit_group, 2, 0),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_exit, 1, 0),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_KILL_PROCESS),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
    };
    CHILD_CHECK(seccomp_install(filter, sizeof filter / sizeof filter[0]) == 0);
}

/* ---- timeouts without epoll_pwait2 -------------------------------------- */

static int64_t timed_wait(xpoll *poll, xpoll_events *events, int64_t ns)
{
    int64_t start = now_ns();
    CHILD_CHECK(xpoll_wait(poll, events, ns) == 0);
    return now_ns() - start;
}

static void fallback_rounds_up_body(void)
{
    xpoll *poll;
    xpoll_events *events;
    deny_syscall_enosys(SYS_epoll_pwait2);
    CHILD_CHECK(xpoll_new(&poll) == 0);
    CHILD_CHECK(xpoll_events_new(&events, 4) == 0);
    long tried = pwait2_seen.calls;
    /* 1 ns must become 1 ms, not 0 (a busy loop; mio #1615).  epoll_wait
     * sleeps on an hrtimer armed for now + timeout (fs/eventpoll.c,
     * ep_timeout_to_timespec and ep_poll), so it never returns early. */
    CHILD_CHECK(timed_wait(poll, events, 1) >= MS);
    CHILD_CHECK(pwait2_seen.calls == tried + 1); /* tried once, ENOSYS */
    CHILD_CHECK(timed_wait(poll, events, 1) >= MS);
    CHILD_CHECK(timed_wait(poll, events, MS / 2) >= MS);
    CHILD_CHECK(timed_wait(poll, events, MS + 1) >= 2 * MS);
    CHILD_CHECK(pwait2_seen.calls == tried + 1); /* ENOSYS is remembered */
    xpoll_events_free(events);
    xpoll_free(poll);
}

static void fallback_rounds_up_to_milliseconds(void **state)
{
    (void)state;
    run_in_child(fallback_rounds_up_body);
}

/* A thread that waits until `tid` sleeps in epoll_wait, notes the timeout
 * it passed, then writes to `fd` to end that wait.  /proc/PID/task/TID/
 * syscall names the system call a blocked thread sleeps in and its
 * arguments (proc(5)), so the writer acts on a fact, not on a delay. */
struct blocked_wait {
    pid_t tid;
    int fd;
    int timeout_ms; /* epoll_wait's fourth argument, as the kernel saw it */
    pthread_t thread;
};

/* 1 and the call's number and arguments if `tid` is blocked in a system
 * call; 0 if it is running or between calls ("running", or "-1 sp pc"). */
static int blocked_in(pid_t tid, long *nr, unsigned long arg[6])
{
    char path[64], text[256];
    snprintf(path, sizeof path, "/proc/self/task/%d/syscall", (int)tid);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    CHILD_CHECK(fd >= 0);
    ssize_t n = read(fd, text, sizeof text - 1);
    close(fd);
    CHILD_CHECK(n > 0);
    text[n] = '\0';
    return sscanf(text, "%ld %lx %lx %lx %lx %lx %lx", nr, &arg[0], &arg[1],
                  &arg[2], &arg[3], &arg[4], &arg[5]) == 7;
}

static void *write_once_blocked(void *p)
{
    struct blocked_wait *w = p;
    long nr;
    unsigned long arg[6];
    while (!blocked_in(w->tid, &nr, arg) ||
           (nr != SYS_epoll_wait && nr != SYS_epoll_pwait))
        sleep_ms(1); /* only the pace of the polling */
    w->timeout_ms = (int)arg[3];
    CHILD_CHECK(write(w->fd, "x", 1) == 1);
    return NULL;
}

static void fallback_clamps_body(void)
{
    const int64_t huge[] = {INT64_MAX, ((int64_t)INT_MAX + 1) * MS,
                            (int64_t)UINT32_MAX * MS + 1};
    xpoll *poll;
    xpoll_events *events;
    int fds[2];
    deny_syscall_enosys(SYS_epoll_pwait2);
    CHILD_CHECK(xpoll_new(&poll) == 0);
    CHILD_CHECK(xpoll_events_new(&events, 4) == 0);
    CHILD_CHECK(pipe2(fds, O_NONBLOCK | O_CLOEXEC) == 0);
    CHILD_CHECK(xpoll_register(poll, fds[0], 1, XPOLL_READABLE) == 0);
    for (size_t i = 0; i < sizeof huge / sizeof huge[0]; i++) {
        /* A wrapped value would be negative (block forever) or small
         * (return 0 early): the kernel must see INT_MAX ms, and the wait
         * must end only with the write made while it was blocked. */
        struct blocked_wait w = {
            .tid = gettid(), .fd = fds[1], .timeout_ms = 0};
        CHILD_CHECK(pthread_create(&w.thread, NULL, write_once_blocked, &w) ==
                    0);
        CHILD_CHECK(xpoll_wait(poll, events, huge[i]) == 1);
        CHILD_CHECK(pthread_join(w.thread, NULL) == 0);
        CHILD_CHECK(w.timeout_ms == INT_MAX);
        char buf[8];
        CHILD_CHECK(read(fds[0], buf, sizeof buf) == 1);
    }
    xpoll_events_free(events);
    xpoll_free(poll);
}

static void fallback_clamps_huge_timeouts(void **state)
{
    (void)state;
    run_in_child(fallback_clamps_body);
}

/* ---- timeouts with epoll_pwait2 ------------------------------------------ */

/* NULL if this kernel runs epoll_pwait2, else why not. */
static const char *pwait2_unavailable(void)
{
    int ep = epoll_create1(EPOLL_CLOEXEC);
    assert_true(ep >= 0);
    struct epoll_event ev;
    struct timespec zero = {0, 0};
    long n =
        syscall(SYS_epoll_pwait2, ep, &ev, 1, &zero, NULL, (size_t)(_NSIG / 8));
    int err = n < 0 ? errno : 0;
    close(ep);
    if (err == ENOSYS)
        return "the kernel has no epoll_pwait2 (ENOSYS; Linux 5.11 added it)";
    if (err == EPERM)
        return "epoll_pwait2 is refused here (EPERM, a seccomp policy)";
    assert_int_equal(n, 0);
    return NULL;
}

/* Timeouts that are not whole milliseconds reach epoll_pwait2 to the
 * nanosecond; whole ones take epoll_wait.  Proven by the argument the
 * kernel gets, not by timing; epoll_pwait2 sleeps on an hrtimer armed for
 * now + timeout (fs/eventpoll.c, ep_poll), so a wait that returns 0 lasted
 * at least its timeout. */
static void pwait2_keeps_sub_millisecond_precision(void **state)
{
    struct fixture *f = *state;
    const char *why = pwait2_unavailable();
    if (why != NULL) {
        print_message("pwait2_keeps_sub_millisecond_precision: skipped: %s\n",
                      why);
        skip();
    }
    const int64_t precise[] = {1,      999,    1000,       100 * 1000,
                               MS - 1, MS + 1, 3 * MS / 2, 2 * MS + 7};
    for (size_t i = 0; i < sizeof precise / sizeof precise[0]; i++) {
        int64_t t = precise[i];
        long calls = pwait2_seen.calls;
        int64_t start = now_ns();
        assert_int_equal(xpoll_wait(f->poll, f->events, t), 0);
        int64_t elapsed = now_ns() - start;
        assert_int_equal(pwait2_seen.calls, calls + 1);
        assert_int_equal(pwait2_seen.timeout.tv_sec, t / SEC);
        assert_int_equal(pwait2_seen.timeout.tv_nsec, t % SEC);
        assert_true(elapsed >= t);
    }
    /* Long ones too, seconds included; a ready pipe ends them at once. */
    const int64_t long_ones[] = {10 * SEC + 1, INT64_MAX};
    int fds[2];
    pair_open(PAIR_PIPE, fds);
    assert_int_equal(xpoll_register(f->poll, fds[0], 1, XPOLL_READABLE), 0);
    for (size_t i = 0; i < sizeof long_ones / sizeof long_ones[0]; i++) {
        int64_t t = long_ones[i];
        long calls = pwait2_seen.calls;
        put(PAIR_PIPE, fds);
        assert_int_equal(xpoll_wait(f->poll, f->events, t), 1);
        assert_int_equal(drain(fds[0]), 1);
        assert_int_equal(pwait2_seen.calls, calls + 1);
        assert_int_equal(pwait2_seen.timeout.tv_sec, t / SEC);
        assert_int_equal(pwait2_seen.timeout.tv_nsec, t % SEC);
    }
    pair_close(PAIR_PIPE, fds);
    long calls = pwait2_seen.calls;
    assert_int_equal(xpoll_wait(f->poll, f->events, MS), 0);
    assert_int_equal(xpoll_wait(f->poll, f->events, 0), 0);
    assert_int_equal(pwait2_seen.calls, calls);
}

/* ---- the wait is the only system call ------------------------------------ */

static void only_the_wait_body(void)
{
    xpoll *poll;
    xpoll_events *events;
    xpoll_waker *waker;
    int fds[2];
    CHILD_CHECK(xpoll_new(&poll) == 0);
    CHILD_CHECK(xpoll_events_new(&events, 8) == 0);
    CHILD_CHECK(xpoll_waker_new(poll, 99, &waker) == 0);
    CHILD_CHECK(pipe2(fds, O_NONBLOCK | O_CLOEXEC) == 0);
    CHILD_CHECK(xpoll_register(poll, fds[0], 1, XPOLL_READABLE) == 0);
    CHILD_CHECK(write(fds[1], "x", 1) == 1);
    /* Warm every code path (and the ENOSYS probe) before the filter. */
    CHILD_CHECK(xpoll_wait(poll, events, MS + 1) == 1);
    CHILD_CHECK(write(fds[1], "x", 1) == 1);

    allow_only_epoll_waits();
    CHILD_CHECK(xpoll_wait(poll, events, -1) == 1); /* the pipe */
    CHILD_CHECK(xpoll_event_token(xpoll_events_get(events, 0)) == 1);
    for (int i = 0; i < 100; i++)
        CHILD_CHECK(xpoll_wait(poll, events, 0) == 0);
    CHILD_CHECK(xpoll_wait(poll, events, MS) == 0);
    CHILD_CHECK(xpoll_wait(poll, events, 100 * 1000) == 0); /* epoll_pwait2 */
    /* The raw system call: sanitizer runtimes hook _exit() (leak checks,
     * sigaltstack), and nothing but the waits may run under this filter. */
    syscall(SYS_exit_group, 0);
}

static void wait_makes_no_other_system_call(void **state)
{
    (void)state;
    run_in_child(only_the_wait_body);
}

/* ---- the descriptor-based waker ------------------------------------------ */

enum waker_kind { WAKER_EVENTFD, WAKER_PIPE };

struct fd_waker {
    xpoll *poll;
    xpoll_events *events;
    xpoll_waker *waker;
    enum waker_kind kind;
    int read_fd, write_fd;
};

static int fd_waker_setup(void **state)
{
    struct fd_waker *w = calloc(1, sizeof *w);
    struct fd_set_snapshot before;
    int fds[4];
    char link[64], target[128];

    assert_non_null(w);
    assert_int_equal(xpoll_new(&w->poll), 0);
    assert_int_equal(xpoll_events_new(&w->events, 8), 0);
    fd_snapshot(&before);
    assert_int_equal(xpoll_waker_new(w->poll, 5, &w->waker), 0);
    int n = fds_opened_since(&before, fds, 4);
    assert_true(n == 1 || n == 2);
    snprintf(link, sizeof link, "/proc/self/fd/%d", fds[0]);
    ssize_t len = readlink(link, target, sizeof target - 1);
    assert_true(len > 0);
    target[len] = '\0';
    if (strstr(target, "eventfd") != NULL) {
        assert_int_equal(n, 1);
        w->kind = WAKER_EVENTFD;
        w->read_fd = w->write_fd = fds[0];
    } else {
        assert_non_null(strstr(target, "pipe"));
        assert_int_equal(n, 2); /* pipe2 returns the read end first */
        w->kind = WAKER_PIPE;
        w->read_fd = fds[0];
        w->write_fd = fds[1];
    }
    *state = w;
    return 0;
}

static int fd_waker_teardown(void **state)
{
    struct fd_waker *w = *state;
    xpoll_waker_free(w->waker);
    xpoll_events_free(w->events);
    xpoll_free(w->poll);
    free(w);
    return 0;
}

/* How many writes reached the mechanism since it was last drained. */
static uint64_t writes_pending(struct fd_waker *w)
{
    if (w->kind == WAKER_PIPE) {
        int bytes = 0;
        assert_int_equal(ioctl(w->read_fd, FIONREAD, &bytes), 0);
        return (uint64_t)bytes;
    }
    char path[64], line[128];
    unsigned long long count = UINT64_MAX;
    snprintf(path, sizeof path, "/proc/self/fdinfo/%d", w->read_fd);
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    while (fgets(line, sizeof line, f) != NULL)
        sscanf(line, "eventfd-count: %llx", &count);
    fclose(f);
    assert_true(count != UINT64_MAX);
    return count;
}

enum { WAKERS = 8, WAKES = 10000 };

struct burst {
    xpoll_waker *waker;
    int failures;
    pthread_t thread;
};

static void *wake_many(void *arg)
{
    struct burst *b = arg;
    for (int i = 0; i < WAKES; i++)
        b->failures += xpoll_waker_wake(b->waker) != 0;
    return NULL;
}

static void burst_of_wakes_costs_one_write(void **state)
{
    struct fd_waker *w = *state;
    struct burst b[WAKERS];
    assert_int_equal(writes_pending(w), 0);
    for (int i = 0; i < WAKERS; i++) {
        b[i] = (struct burst){.waker = w->waker};
        assert_int_equal(pthread_create(&b[i].thread, NULL, wake_many, &b[i]),
                         0);
    }
    for (int i = 0; i < WAKERS; i++) {
        assert_int_equal(pthread_join(b[i].thread, NULL), 0);
        assert_int_equal(b[i].failures, 0);
    }
    assert_int_equal(writes_pending(w), 1);
    assert_int_equal(xpoll_wait(w->poll, w->events, SEC), 1);
    assert_int_equal(xpoll_event_token(xpoll_events_get(w->events, 0)), 5);
    /* Delivered: the next wake writes again. */
    assert_int_equal(xpoll_waker_wake(w->waker), 0);
    assert_int_equal(writes_pending(w), w->kind == WAKER_PIPE ? 1 : 2);
}

static void wake_survives_full_mechanism(void **state)
{
    struct fd_waker *w = *state;
    if (w->kind == WAKER_EVENTFD) {
        /* The counter at its maximum: write() would fail with EAGAIN. */
        uint64_t max = UINT64_MAX - 1;
        assert_int_equal(write(w->write_fd, &max, sizeof max),
                         (ssize_t)sizeof max);
    } else {
        assert_true(fill(w->write_fd) > 0);
    }
    /* The stuffing above was an edge of its own: consume it. */
    assert_int_equal(xpoll_wait(w->poll, w->events, SEC), 1);
    assert_int_equal(xpoll_waker_wake(w->waker), 0);
    assert_int_equal(xpoll_wait(w->poll, w->events, SEC), 1);
    assert_int_equal(xpoll_event_token(xpoll_events_get(w->events, 0)), 5);
    assert_true(xpoll_event_is_readable(xpoll_events_get(w->events, 0)));
}

static void forced_pipe_waker_matches_build(void **state)
{
    struct fd_waker *w = *state;
#ifdef XPOLL_TEST_PIPE_WAKER
    assert_int_equal(w->kind, WAKER_PIPE);
#else
    assert_int_equal(w->kind, WAKER_EVENTFD);
#endif
}

#define F(name)                                                                \
    cmocka_unit_test_setup_teardown(name, fixture_setup, fixture_teardown)
#define W(name)                                                                \
    cmocka_unit_test_setup_teardown(name, fd_waker_setup, fd_waker_teardown)

int main(void)
{
    resolve_real_syscall();
    const char *deny = getenv("XPOLL_TEST_DENY_EPOLL_PWAIT2");
    if (deny != NULL && strcmp(deny, "1") == 0) {
        /* As on a kernel without it; every thread made later inherits the
         * filter (seccomp(2)). */
        int err = install_enosys_filter(SYS_epoll_pwait2);
        if (err != 0) {
            fprintf(stderr, "seccomp: %s\n", strerror(-err));
            return 1;
        }
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(fallback_rounds_up_to_milliseconds),
        cmocka_unit_test(fallback_clamps_huge_timeouts),
        F(pwait2_keeps_sub_millisecond_precision),
        cmocka_unit_test(wait_makes_no_other_system_call),
        W(forced_pipe_waker_matches_build),
        W(burst_of_wakes_costs_one_write),
        W(wake_survives_full_mechanism),
    };
    return RUN(tests, NULL, NULL);
}
