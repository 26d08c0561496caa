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
 * Checks that need a seccomp filter run in a forked child, which reports
 * the line of the first failed check through its exit status.
 */
#define _GNU_SOURCE
#include "seccomp.h"
#include "support.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

/* In a child: exit with the failing line (mod 250, plus 1, to fit an exit
 * status), so the parent can name it; no I/O, since a seccomp filter may
 * forbid it. */
#define CHECK(cond)                        \
    do {                                   \
        if (!(cond))                       \
            _exit(__LINE__ % 250 + 1);     \
    } while (0)

static int child_status_line(int status)
{
    if (WIFSIGNALED(status))
        fail_msg("child killed by signal %d (%s)", WTERMSIG(status),
                 WTERMSIG(status) == SIGSYS ? "a forbidden system call"
                                            : strsignal(WTERMSIG(status)));
    return WEXITSTATUS(status);
}

/* Runs `body` in a child; fails the test with its report if it failed. */
static void run_child(void (*body)(void))
{
    fflush(NULL);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        body();
        _exit(0);
    }
    int status;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    int code = child_status_line(status);
    if (code != 0)
        fail_msg("CHECK failed in the child at a line L with L %% 250 == %d",
                 code - 1);
}

/* seccomp: `nr` fails with ENOSYS, everything else is allowed. */
static void deny_syscall_enosys(long nr)
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
    CHECK(seccomp_install(filter, sizeof filter / sizeof filter[0]) == 0);
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
    CHECK(seccomp_install(filter, sizeof filter / sizeof filter[0]) == 0);
}

/* ---- timeouts without epoll_pwait2 -------------------------------------- */

static int64_t timed_wait(xpoll *poll, xpoll_events *events, int64_t ns)
{
    int64_t start = now_ns();
    CHECK(xpoll_wait(poll, events, ns) == 0);
    return now_ns() - start;
}

static void fallback_rounds_up_body(void)
{
    xpoll *poll;
    xpoll_events *events;
    deny_syscall_enosys(SYS_epoll_pwait2);
    CHECK(xpoll_new(&poll) == 0);
    CHECK(xpoll_events_new(&events, 4) == 0);
    /* 1 ns must become 1 ms, not 0 (a busy loop; mio #1615). */
    CHECK(timed_wait(poll, events, 1) >= MS);
    CHECK(timed_wait(poll, events, 1) >= MS); /* ENOSYS is remembered */
    CHECK(timed_wait(poll, events, MS / 2) >= MS);
    CHECK(timed_wait(poll, events, MS + 1) >= 2 * MS);
    xpoll_events_free(events);
    xpoll_free(poll);
}

static void fallback_rounds_up_to_milliseconds(void **state)
{
    (void)state;
    run_child(fallback_rounds_up_body);
}

struct late_writer {
    int fd;
    pthread_t thread;
};

static void *write_after_100ms(void *arg)
{
    struct late_writer *w = arg;
    sleep_ms(100);
    if (write(w->fd, "x", 1) != 1)
        _exit(200);
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
    CHECK(xpoll_new(&poll) == 0);
    CHECK(xpoll_events_new(&events, 4) == 0);
    CHECK(pipe2(fds, O_NONBLOCK | O_CLOEXEC) == 0);
    CHECK(xpoll_register(poll, fds[0], 1, XPOLL_READABLE) == 0);
    for (size_t i = 0; i < sizeof huge / sizeof huge[0]; i++) {
        /* A wrapped value would return at once (negative: EINVAL is not
         * possible, but a small positive one times out early). */
        struct late_writer w = {.fd = fds[1]};
        CHECK(pthread_create(&w.thread, NULL, write_after_100ms, &w) == 0);
        int64_t start = now_ns();
        CHECK(xpoll_wait(poll, events, huge[i]) == 1);
        CHECK(now_ns() - start >= 90 * MS);
        CHECK(pthread_join(w.thread, NULL) == 0);
        char buf[8];
        CHECK(read(fds[0], buf, sizeof buf) == 1);
    }
    xpoll_events_free(events);
    xpoll_free(poll);
}

static void fallback_clamps_huge_timeouts(void **state)
{
    (void)state;
    run_child(fallback_clamps_body);
}

/* ---- timeouts with epoll_pwait2 ------------------------------------------ */

static void pwait2_keeps_sub_millisecond_precision(void **state)
{
    struct fixture *f = *state;
    int64_t best = INT64_MAX;
    /* The fastest of several 100 us waits: rounding to whole ms would make
     * every one of them last at least 1 ms; scheduling noise only adds. */
    for (int i = 0; i < 7; i++) {
        int64_t start = now_ns();
        assert_int_equal(xpoll_wait(f->poll, f->events, 100 * 1000), 0);
        int64_t elapsed = now_ns() - start;
        assert_true(elapsed >= 100 * 1000);
        if (elapsed < best)
            best = elapsed;
    }
    assert_true(best < 900 * 1000);
}

/* ---- the wait is the only system call ------------------------------------ */

static void only_the_wait_body(void)
{
    xpoll *poll;
    xpoll_events *events;
    xpoll_waker *waker;
    int fds[2];
    CHECK(xpoll_new(&poll) == 0);
    CHECK(xpoll_events_new(&events, 8) == 0);
    CHECK(xpoll_waker_new(poll, 99, &waker) == 0);
    CHECK(pipe2(fds, O_NONBLOCK | O_CLOEXEC) == 0);
    CHECK(xpoll_register(poll, fds[0], 1, XPOLL_READABLE) == 0);
    CHECK(write(fds[1], "x", 1) == 1);
    /* Warm every code path (and the ENOSYS probe) before the filter. */
    CHECK(xpoll_wait(poll, events, MS + 1) == 1);
    CHECK(write(fds[1], "x", 1) == 1);

    allow_only_epoll_waits();
    CHECK(xpoll_wait(poll, events, -1) == 1); /* the pipe */
    CHECK(xpoll_event_token(xpoll_events_get(events, 0)) == 1);
    for (int i = 0; i < 100; i++)
        CHECK(xpoll_wait(poll, events, 0) == 0);
    CHECK(xpoll_wait(poll, events, MS) == 0);
    CHECK(xpoll_wait(poll, events, 100 * 1000) == 0); /* epoll_pwait2 */
    /* The raw system call: sanitizer runtimes hook _exit() (leak checks,
     * sigaltstack), and nothing but the waits may run under this filter. */
    syscall(SYS_exit_group, 0);
}

static void wait_makes_no_other_system_call(void **state)
{
    (void)state;
    run_child(only_the_wait_body);
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

#define F(name) \
    cmocka_unit_test_setup_teardown(name, fixture_setup, fixture_teardown)
#define W(name) \
    cmocka_unit_test_setup_teardown(name, fd_waker_setup, fd_waker_teardown)

int main(void)
{
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
