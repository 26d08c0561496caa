/*
 * test_badinput.c's rows on descriptors only POSIX systems have: a
 * directory and /dev/null, which epoll cannot watch, and a pipe
 * registered for LIO.  Built for POSIX systems only.
 *
 * Where the backends differ the test asserts each backend's documented
 * (or, marked so, observed) result.
 */
#define _GNU_SOURCE
#include "support_posix.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
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

#define T(name)                                                                \
    cmocka_unit_test_setup_teardown(name, fixture_setup, fixture_teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(directory_fd),
        T(dev_null),
        T(lio_interest_per_backend),
    };
    return RUN(tests, NULL, NULL);
}
