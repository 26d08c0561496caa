/*
 * API misuse of <xpoll/poll.h> not covered elsewhere, for
 * docs/bad-input.md: every row of the table names the test that backs it;
 * the rows already proven by test_api.c, test_backend.c, test_wait.c,
 * test_waker.c, test_register.c and test_net.c (all of <xpoll/net.h>) are
 * not repeated here.  Descriptors only POSIX systems have (directories,
 * /dev/null, a pipe under LIO) are in test_badinput_posix.c.
 *
 * Where the backends differ the test asserts each backend's documented
 * (or, marked so, observed) result.
 */
#define _GNU_SOURCE
#include "support.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- xpoll_wait ---------------------------------------------------------- */

static void wait_both_null_is_einval(void **state)
{
    (void)state;
    assert_int_equal(xpoll_wait(NULL, NULL, 0), -EINVAL);
    assert_int_equal(xpoll_wait(NULL, NULL, -1), -EINVAL); /* never blocks */
}

/* ---- descriptor numbers -------------------------------------------------- */

/* Numbers no open descriptor has.  On Windows a handle's two low bits are
 * tags the kernel ignores, so the largest is INT_MAX with them cleared;
 * Wine takes INT_MAX itself for the current process (server/handle.c
 * get_magic_handle), an open handle that is no socket. */
static void huge_fd_is_ebadf(void **state)
{
    struct fixture *f = *state;
    const xpoll_socket fds[] = {on_iocp() ? INT_MAX & ~3 : INT_MAX, 1 << 20,
                                65536};
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
    xpoll_socket gone = closed_fd();
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
    /* The poll(2) backend has no kernel object, and iocp's port is no
     * descriptor: nothing to register (test_api.c poll_fd_per_backend
     * asserts what xpoll_fd() and registering its result answer there). */
    xpoll_backend b = xpoll_get_backend(f->poll);
    if (b == XPOLL_BACKEND_POLL || b == XPOLL_BACKEND_IOCP) {
        print_message("skipped: the %s backend has no descriptor\n",
                      xpoll_backend_name(b));
        skip();
    }
    /* epoll_ctl refuses fd == epfd (epoll_ctl(2), EINVAL); kqueue refuses
     * itself (FreeBSD kern_event.c kqueue_register: EINVAL). */
    assert_int_equal(
        xpoll_register(f->poll, xpoll_fd(f->poll), 1, XPOLL_READABLE), -EINVAL);
    expect_no_event(f->poll, f->events, 0);
}

/* ---- interests ---------------------------------------------------------- */

/* AIO/LIO register no filter on kqueue, so no kevent() ever looks at the
 * descriptor: the contract still says a closed fd is -EBADF. */
static void aio_interest_on_closed_fd_is_ebadf(void **state)
{
    struct fixture *f = *state;
    xpoll_socket gone = closed_fd();
    if (!on_kqueue()) {
        assert_int_equal(xpoll_register(f->poll, gone, 1, XPOLL_AIO), -ENOTSUP);
        return;
    }
    assert_int_equal(xpoll_register(f->poll, gone, 1, XPOLL_AIO), -EBADF);
    assert_int_equal(xpoll_reregister(f->poll, gone, 1, XPOLL_AIO), -EBADF);
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
        assert_int_equal(env_set("XPOLL_BACKEND", bad[i]), 0);
        int rc = xpoll_new(&poll);
        if (rc != -ENOTSUP)
            fail_msg("XPOLL_BACKEND #%zu: %d", i, rc);
        assert_null(poll);
    }
    env_set("XPOLL_BACKEND", had ? saved : NULL);
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
        T(aio_interest_on_closed_fd_is_ebadf),
        cmocka_unit_test(backend_values_far_outside_the_enum),
        cmocka_unit_test(backend_env_garbage),
    };
    return RUN(tests, NULL, NULL);
}
