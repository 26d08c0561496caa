/*
 * test_timer.c's subject where it needs POSIX descriptors: the ones the
 * first timer adds to a poll are close-on-exec.  Built for POSIX systems
 * only (the iocp backend adds none: the timers' wake-up is a posted
 * packet).
 */
#include "support_posix.h"

#include <fcntl.h>

/* The descriptors the first timer adds are close-on-exec. */
static void wakeup_descriptors_are_cloexec(void **state)
{
    (void)state;
    struct fd_set_snapshot before;
    xpoll *poll = NULL;
    xpoll_timer *t = NULL;
    int fds[4];

    assert_int_equal(xpoll_new(&poll), 0);
    fd_snapshot(&before);
    assert_int_equal(xpoll_timer_new(poll, 1, &t), 0);
    int n = fds_opened_since(&before, fds, 4);
    assert_true(n >= 1);
    for (int i = 0; i < n; i++)
        assert_true(fcntl(fds[i], F_GETFD) & FD_CLOEXEC);
    xpoll_timer_free(t);
    xpoll_free(poll);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(wakeup_descriptors_are_cloexec),
    };
    return RUN(tests, NULL, NULL);
}
