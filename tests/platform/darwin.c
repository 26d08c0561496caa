/* platform.h for macOS: proc_pidinfo(3) from libproc. */
#include "platform.h"

#include <errno.h>
#include <libproc.h>
#include <mach/thread_info.h>
#include <pthread.h>
#include <stdlib.h>
#include <sys/proc_info.h>
#include <unistd.h>

xpoll_backend platform_native_backend(void)
{
    return XPOLL_BACKEND_KQUEUE;
}

uint64_t platform_thread_id(void)
{
    uint64_t id = 0;
    pthread_threadid_np(NULL, &id);
    return id;
}

/* PROC_PIDTHREADID64INFO describes the thread with that pthread_threadid_np()
 * id (bsd/kern/proc_info.c, proc_pidthreadinfo()); TH_STATE_WAITING says it
 * is asleep in the kernel (<mach/thread_info.h>).  macOS shows no more:
 * not which call it sleeps in.  The callers make no other blocking call on
 * their way into the wait, so a waiting thread is one that kevent() or
 * poll() put to sleep, and both sleep only after they found nothing ready
 * (kevent: bsd/kern/kern_event.c kqueue_scan(); poll: bsd/kern/sys_generic.c
 * poll_nocancel()). */
int platform_blocked_in_wait(pid_t pid, uint64_t tid)
{
    struct proc_threadinfo info;
    errno = 0;
    int n = proc_pidinfo(pid, PROC_PIDTHREADID64INFO, tid, &info, sizeof info);
    if (n <= 0)
        return errno != 0 ? -errno : -ESRCH;
    if (n < (int)sizeof info)
        return -EIO;
    return info.pth_run_state == TH_STATE_WAITING;
}

/* PROC_PIDLISTFDS fills one struct proc_fdinfo per open descriptor and
 * returns the bytes it filled; asked without a buffer, it returns a size
 * that leaves room to spare. */
int platform_fd_count(pid_t pid)
{
    int size = proc_pidinfo(pid, PROC_PIDLISTFDS, 0, NULL, 0);
    if (size <= 0)
        return -errno;
    struct proc_fdinfo *fds = malloc((size_t)size);
    if (fds == NULL)
        return -ENOMEM;
    int n = proc_pidinfo(pid, PROC_PIDLISTFDS, 0, fds, size);
    int err = errno;
    free(fds);
    if (n <= 0)
        return -err;
    return n / (int)PROC_PIDLISTFD_SIZE;
}

/* macOS has no eventfd. */
int platform_eventfd(void)
{
    return -ENOTSUP;
}

/* getrusage(2) on macOS knows RUSAGE_SELF and RUSAGE_CHILDREN only: no
 * count per thread. */
long platform_thread_sleeps(void)
{
    return -ENOTSUP;
}

/* Wine runs Windows programs only. */
const char *platform_wine_version(void)
{
    return NULL;
}
