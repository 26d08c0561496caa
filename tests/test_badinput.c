/*
 * API misuse of <xpoll/poll.h> not covered elsewhere, for
 * docs/bad-input.md: every row of the table names the test that backs it;
 * the rows already proven by test_api.c, test_backend.c, test_wait.c,
 * test_waker.c, test_register.c and test_net.c (all of <xpoll/net.h>) are
 * not repeated here.
 *
 * Where the backends differ the test asserts each backend's documented
 * (or, marked so, observed) result.
 */
#define _GNU_SOURCE
#include "support.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/utsname.h>
#include <unistd.h>

#ifdef XPOLL_TEST_KQEMU
#include "kqemu.h"
#endif

/* kqueue with FreeBSD's rules rather than macOS's: the emulation's
 * personality, or the kernel's. */
static bool kqueue_freebsd_rules(void)
{
#ifdef XPOLL_TEST_KQEMU
    return kqemu_personality() == KQEMU_FREEBSD;
#else
    struct utsname os;
    assert_int_equal(uname(&os), 0);
    return strcmp(os.sysname, "FreeBSD") == 0;
#endif
}

/* ---- xpoll_wait ---------------------------------------------------------- */

static void wait_both_null_is_einval(void **state)
{
    (void)state;
    assert_int_equal(xpoll_wait(NULL, NULL, 0), -EINVAL);
    assert_int_equal(xpoll_wait(NULL, NULL, -1), -EINVAL); /* never blocks */
}

/* ---- descriptor numbers -------------------------------------------------- */

static void huge_fd_is_ebadf(void **state)
{
    struct fixture *f = *state;
    const int fds[] = {INT_MAX, 1 << 20, 65536};
    for (size_t i = 0; i < sizeof fds / sizeof fds[0]; i++) {
        assert_int_equal(xpoll_register(f->poll, fds[i], 1, XPOLL_READABLE),
                         -EBADF);
        assert_int_equal(xpoll_reregister(f->poll, fds[i], 1, XPOLL_READABLE),
                         -EBADF);
        assert_int_equal(xpoll_deregister(f->poll, fds[i]), -EBADF);
    }
}

static void int_min_fd_is_ebadf(void **state)
{
    struct fixture *f = *state;
    assert_int_equal(xpoll_register(f->poll, INT_MIN, 1, XPOLL_READABLE),
                     -EBADF);
    assert_int_equal(xpoll_reregister(f->poll, INT_MIN, 1, XPOLL_READABLE),
                     -EBADF);
    assert_int_equal(xpoll_deregister(f->poll, INT_MIN), -EBADF);
}

/* Which error wins when several apply: poll, then fd < 0, then interests,
 * then what the backend supports, then what the kernel says about fd. */
static void error_precedence(void **state)
{
    struct fixture *f = *state;
    int gone = closed_fd();
    xpoll_interests unsupported = on_kqueue() ? XPOLL_PRIORITY : XPOLL_AIO;
    assert_int_equal(xpoll_register(NULL, -1, 1, 0), -EINVAL);
    assert_int_equal(xpoll_register(f->poll, -1, 1, 0), -EBADF);
    assert_int_equal(xpoll_register(f->poll, -1, 1, unsupported), -EBADF);
    assert_int_equal(xpoll_register(f->poll, gone, 1, 0), -EINVAL);
    assert_int_equal(xpoll_register(f->poll, gone, 1, 0x80), -EINVAL);
    assert_int_equal(xpoll_register(f->poll, gone, 1, unsupported), -ENOTSUP);
    assert_int_equal(xpoll_register(f->poll, gone, 1, XPOLL_READABLE), -EBADF);
    assert_int_equal(xpoll_reregister(f->poll, gone, 1, 0), -EINVAL);
    assert_int_equal(xpoll_reregister(f->poll, gone, 1, unsupported), -ENOTSUP);
}

/* ---- descriptors a poll cannot watch ------------------------------------- */

static void poll_inside_itself_is_einval(void **state)
{
    struct fixture *f = *state;
    /* The poll(2) backend has no kernel object: xpoll_fd() is -ENOTSUP,
     * and that value is no descriptor to register (-EBADF, fd < 0). */
    if (xpoll_get_backend(f->poll) == XPOLL_BACKEND_POLL) {
        assert_int_equal(xpoll_fd(f->poll), -ENOTSUP);
        assert_int_equal(
            xpoll_register(f->poll, xpoll_fd(f->poll), 1, XPOLL_READABLE),
            -EBADF);
        expect_no_event(f->poll, f->events, 0);
        print_message("skipped: the poll backend has no descriptor\n");
        skip();
    }
    /* epoll_ctl refuses fd == epfd (epoll_ctl(2), EINVAL); kqueue refuses
     * itself (FreeBSD kern_event.c kqueue_register: EINVAL). */
    assert_int_equal(
        xpoll_register(f->poll, xpoll_fd(f->poll), 1, XPOLL_READABLE), -EINVAL);
    expect_no_event(f->poll, f->events, 0);
}

enum unpollable { UNPOLLABLE_DIRECTORY, UNPOLLABLE_DEV_NULL };

/* Registering READABLE for a descriptor epoll cannot watch, per kernel:
 *  - the poll(2) backend: accepted, always ready, reported once per re-arm.
 *  - epoll: -EPERM for both (epoll_ctl(2): "the target file fd does not
 *    support epoll"; fs/eventpoll.c checks file_can_poll()).
 *  - kqueue on Linux, that is the emulation in tests/kqemu: -EINVAL for
 *    both; it watches such descriptors through epoll and turns epoll's
 *    EPERM into EINVAL (kqemu_fd.c arm_error), like a filter it lacks.
 *  - macOS: -EINVAL for both.  vn_kqfilter (bsd/vfs/vfs_vnops.c) takes
 *    EVFILT_READ only on regular files, FIFOs and character devices, and
 *    for /dev/null spec_kqfilter -> filt_specattach
 *    (bsd/miscfs/specfs/spec_vnops.c) says EINVAL: its cdevsw lacks
 *    CDEVSW_SELECT_KQUEUE and the change has no NOTE_LOWAT.
 *  - FreeBSD: a directory attaches (vfs_kqfilter in sys/kern/vfs_subr.c
 *    takes EVFILT_READ on any vnode).  /dev/null is -ENODEV where the
 *    null driver has no d_kqfilter (FreeBSD 14 and before: prep_cdevsw in
 *    sys/kern/kern_conf.c installs no_kqfilter, which is enodev); newer
 *    sys/dev/null/null.c attaches an EVFILT_READ that never fires.
 * Other kqueue kernels are not covered: the test skips there. */
static void unpollable_fd(struct fixture *f, int fd, enum unpollable kind)
{
    int rc = xpoll_register(f->poll, fd, 1, XPOLL_READABLE);
    if (xpoll_get_backend(f->poll) == XPOLL_BACKEND_POLL) {
        /* poll(2) takes any open descriptor, and a file without a poll
         * method is always ready (Linux include/linux/poll.h vfs_poll
         * returns DEFAULT_POLLMASK), so the backend reports it once per
         * re-arm. */
        assert_int_equal(rc, 0);
        assert_true(expect_event(f->poll, f->events, 1).flags & SEEN_READABLE);
        expect_no_event(f->poll, f->events, 0);
        assert_int_equal(xpoll_rearm(f->poll, fd, XPOLL_READABLE), 0);
        assert_true(expect_event(f->poll, f->events, 1).flags & SEEN_READABLE);
        assert_int_equal(xpoll_deregister(f->poll, fd), 0);
        expect_no_event(f->poll, f->events, 0);
        return;
    }
    if (!on_kqueue()) {
        assert_int_equal(rc, -EPERM);
        return;
    }
    struct utsname os;
    assert_int_equal(uname(&os), 0);
    if (strcmp(os.sysname, "Linux") == 0 || strcmp(os.sysname, "Darwin") == 0) {
        assert_int_equal(rc, -EINVAL);
    } else if (strcmp(os.sysname, "FreeBSD") == 0) {
        if (kind == UNPOLLABLE_DEV_NULL && rc != -ENODEV) {
            assert_int_equal(rc, 0); /* the filter that never fires */
            expect_no_event(f->poll, f->events, 0);
        } else if (kind == UNPOLLABLE_DIRECTORY) {
            assert_int_equal(rc, 0);
        }
        if (rc == 0)
            assert_int_equal(xpoll_deregister(f->poll, fd), 0);
    } else {
        print_message("no documented kqueue result on %s\n", os.sysname);
        skip();
    }
    /* Refused or removed: the poll reports nothing for it. */
    expect_no_event(f->poll, f->events, 0);
}

static void directory_fd(void **state)
{
    int fd = open("/", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    assert_true(fd >= 0);
    unpollable_fd(*state, fd, UNPOLLABLE_DIRECTORY);
    close(fd);
}

static void dev_null(void **state)
{
    int fd = open("/dev/null", O_RDWR | O_CLOEXEC);
    assert_true(fd >= 0);
    unpollable_fd(*state, fd, UNPOLLABLE_DEV_NULL);
    close(fd);
}

/* ---- interests ---------------------------------------------------------- */

/* AIO/LIO register no filter on kqueue, so no kevent() ever looks at the
 * descriptor: the contract still says a closed fd is -EBADF. */
static void aio_interest_on_closed_fd_is_ebadf(void **state)
{
    struct fixture *f = *state;
    int gone = closed_fd();
    if (!on_kqueue()) {
        assert_int_equal(xpoll_register(f->poll, gone, 1, XPOLL_AIO), -ENOTSUP);
        return;
    }
    assert_int_equal(xpoll_register(f->poll, gone, 1, XPOLL_AIO), -EBADF);
    assert_int_equal(xpoll_reregister(f->poll, gone, 1, XPOLL_AIO), -EBADF);
}

static void lio_interest_per_backend(void **state)
{
    struct fixture *f = *state;
    int fds[2];
    assert_int_equal(xpoll_pipe(fds), 0);
    int rc = xpoll_register(f->poll, fds[0], 1, XPOLL_LIO);
    if (on_kqueue() && kqueue_freebsd_rules())
        assert_int_equal(rc, 0); /* EVFILT_LIO: FreeBSD only */
    else
        assert_int_equal(rc, -ENOTSUP); /* epoll, macOS */
    /* LIO (like AIO) adds no filter: nothing is reported for the pipe. */
    assert_int_equal(write(fds[1], "x", 1), 1);
    expect_no_event(f->poll, f->events, 0);
    close(fds[0]);
    close(fds[1]);
}

/* ---- backends ----------------------------------------------------------- */

static void backend_values_far_outside_the_enum(void **state)
{
    (void)state;
    xpoll *poll = (xpoll *)&poll;
    assert_int_equal(xpoll_new_with_backend(&poll, (xpoll_backend)INT_MAX),
                     -EINVAL);
    assert_null(poll);
    poll = (xpoll *)&poll;
    assert_int_equal(xpoll_new_with_backend(&poll, (xpoll_backend)INT_MIN),
                     -EINVAL);
    assert_null(poll);
    assert_null(xpoll_backend_name((xpoll_backend)INT_MAX));
    assert_null(xpoll_backend_name((xpoll_backend)INT_MIN));
}

static void backend_env_garbage(void **state)
{
    (void)state;
    char saved[64] = "";
    const char *v = getenv("XPOLL_BACKEND");
    bool had = v != NULL;
    if (had)
        snprintf(saved, sizeof saved, "%s", v);

    static char huge[10000];
    memset(huge, 'e', sizeof huge - 1);
    const char *bad[] = {huge,   "epoll\n",  "epoll\t", "kqueue,epoll",
                         "\x01", "\xff\xfe", "epoll=1", "-",
                         "0",    "1"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        xpoll *poll = (xpoll *)&poll;
        assert_int_equal(setenv("XPOLL_BACKEND", bad[i], 1), 0);
        int rc = xpoll_new(&poll);
        if (rc != -ENOTSUP)
            fail_msg("XPOLL_BACKEND #%zu: %d", i, rc);
        assert_null(poll);
    }
    if (had)
        setenv("XPOLL_BACKEND", saved, 1);
    else
        unsetenv("XPOLL_BACKEND");
}

#define T(name)                                                                \
    cmocka_unit_test_setup_teardown(name, fixture_setup, fixture_teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(wait_both_null_is_einval),
        T(huge_fd_is_ebadf),
        T(int_min_fd_is_ebadf),
        T(error_precedence),
        T(poll_inside_itself_is_einval),
        T(directory_fd),
        T(dev_null),
        T(aio_interest_on_closed_fd_is_ebadf),
        T(lio_interest_per_backend),
        cmocka_unit_test(backend_values_far_outside_the_enum),
        cmocka_unit_test(backend_env_garbage),
    };
    return RUN(tests, NULL, NULL);
}
