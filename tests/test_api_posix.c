/*
 * test_api.c's subjects where they need POSIX descriptors: the type of a
 * descriptor, the poll's own descriptor (close-on-exec, nested in another
 * poll) and a regular file.  Built for POSIX systems only.
 */
#define _GNU_SOURCE
#include "support_posix.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>

/* On POSIX systems a descriptor is a plain int in the API: source and ABI
 * as before xpoll_socket existed. */
_Static_assert(_Generic((xpoll_socket)0, int : 1, default : 0),
               "xpoll_socket is int on POSIX");

static void poll_fd_is_open_and_cloexec(void **state)
{
    struct fixture *f = *state;
    /* The poll backend has none (test_api.c poll_fd_per_backend); its
     * notification descriptor's close-on-exec is checked in test_rearm.c. */
    if (xpoll_get_backend(f->poll) == XPOLL_BACKEND_POLL) {
        print_message("skipped: the poll backend has no descriptor\n");
        skip();
    }
    int fd = xpoll_fd(f->poll);
    assert_true(fd >= 0);
    int flags = fcntl(fd, F_GETFD);
    assert_true(flags >= 0);
    assert_true(flags & FD_CLOEXEC);
}

/* The poll's own descriptor reads as readable while events are pending,
 * so a poll nests inside another event loop (<xpoll/poll.h>, xpoll_fd). */
static void another_poll_nests_and_reads_readable(void **state)
{
    struct fixture *f = *state;
    xpoll *inner;
    int fds[2];
    assert_int_equal(xpoll_new(&inner), 0);
    if (xpoll_get_backend(inner) == XPOLL_BACKEND_POLL) {
        xpoll_free(inner);
        print_message("skipped: the poll backend has no descriptor to nest\n");
        skip();
    }
    assert_int_equal(xpoll_pipe(fds), 0);
    assert_int_equal(xpoll_register(inner, fds[0], 1, XPOLL_READABLE), 0);
    assert_int_equal(
        xpoll_register(f->poll, xpoll_fd(inner), 2, XPOLL_READABLE), 0);
    expect_no_event(f->poll, f->events, 0);
    assert_int_equal(write(fds[1], "x", 1), 1);
    struct seen seen = expect_event(f->poll, f->events, 2);
    assert_true(seen.flags & SEEN_READABLE);
    assert_int_equal(xpoll_deregister(f->poll, xpoll_fd(inner)), 0);
    assert_int_equal(xpoll_deregister(inner, fds[0]), 0);
    close(fds[0]);
    close(fds[1]);
    xpoll_free(inner);
}

static void register_regular_file(void **state)
{
    struct fixture *f = *state;
    char path[] = "/tmp/xpoll-test-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    unlink(path);
    int err = xpoll_register(f->poll, fd, 1, XPOLL_READABLE);
    if (on_kqueue()) {
        /* EVFILT_READ accepts vnodes (kevent(2): readable while the offset
         * is before EOF). */
        assert_int_equal(err, 0);
        assert_int_equal(xpoll_deregister(f->poll, fd), 0);
    } else if (xpoll_get_backend(f->poll) == XPOLL_BACKEND_POLL) {
        /* poll(2) accepts any descriptor, and "regular files shall always
         * poll TRUE for reading and writing" (POSIX poll(), DESCRIPTION):
         * the backend reports the direction once per re-arm. */
        assert_int_equal(err, 0);
        struct seen seen = expect_event(f->poll, f->events, 1);
        assert_int_equal(seen.events, 1);
        assert_true(seen.flags & SEEN_READABLE);
        expect_no_event(f->poll, f->events, 0);
        assert_int_equal(xpoll_rearm(f->poll, fd, XPOLL_READABLE), 0);
        assert_true(expect_event(f->poll, f->events, 1).flags & SEEN_READABLE);
        assert_int_equal(xpoll_deregister(f->poll, fd), 0);
    } else {
        /* epoll refuses files that cannot block (epoll_ctl(2), EPERM: "fd
         * refers to, for example, a regular file or a directory"). */
        assert_int_equal(err, -EPERM);
    }
    close(fd);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(poll_fd_is_open_and_cloexec,
                                        fixture_setup, fixture_teardown),
        cmocka_unit_test_setup_teardown(another_poll_nests_and_reads_readable,
                                        fixture_setup, fixture_teardown),
        cmocka_unit_test_setup_teardown(register_regular_file, fixture_setup,
                                        fixture_teardown),
    };
    return RUN(tests, NULL, NULL);
}
