/* platform.h for a system without a file of its own (NetBSD, OpenBSD,
 * DragonFly, illumos...): what POSIX answers, -ENOTSUP for the rest. */
#include "platform.h"

#include <errno.h>
#include <stddef.h>
#include <fcntl.h>
#include <unistd.h>

xpoll_backend platform_native_backend(void)
{
    return XPOLL_BACKEND_DEFAULT;
}

uint64_t platform_thread_id(void)
{
    return 0;
}

int platform_blocked_in_wait(pid_t pid, uint64_t tid)
{
    (void)pid;
    (void)tid;
    return -ENOTSUP;
}

/* The calling process only: every number below its descriptor limit that
 * fcntl(F_GETFD) finds open. */
int platform_fd_count(pid_t pid)
{
    if (pid != getpid())
        return -ENOTSUP;
    long max = sysconf(_SC_OPEN_MAX);
    if (max < 0)
        return -ENOTSUP;
    int n = 0;
    for (long fd = 0; fd < max; fd++)
        n += fcntl((int)fd, F_GETFD) >= 0;
    return n;
}

int platform_eventfd(void)
{
    return -ENOTSUP;
}

long platform_thread_sleeps(void)
{
    return -ENOTSUP;
}

/* Wine runs Windows programs only. */
const char *platform_wine_version(void)
{
    return NULL;
}
