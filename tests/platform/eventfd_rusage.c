/* The part of platform.h that Linux and FreeBSD (13 and later) answer
 * alike: eventfd(2) and getrusage(RUSAGE_THREAD).  Built beside linux.c or
 * freebsd.c. */
#define _GNU_SOURCE
#include "platform.h"

#include <errno.h>
#include <sys/eventfd.h>
#include <sys/resource.h>

int platform_eventfd(void)
{
    int fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    return fd >= 0 ? fd : -errno;
}

long platform_thread_sleeps(void)
{
    struct rusage ru;
    if (getrusage(RUSAGE_THREAD, &ru) != 0)
        return -errno;
    return ru.ru_nvcsw;
}
