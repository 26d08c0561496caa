/* platform.h for Linux: /proc (eventfd and RUSAGE_THREAD: eventfd_rusage.c). */
#define _GNU_SOURCE
#include "platform.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <unistd.h>

xpoll_backend platform_native_backend(void)
{
    return XPOLL_BACKEND_EPOLL;
}

uint64_t platform_thread_id(void)
{
    return (uint64_t)gettid();
}

/* The calls an xpoll wait sleeps in on Linux: epoll's waits (the kqueue
 * emulation in tests/kqemu waits in them too) and poll's.  epoll_wait and
 * poll exist only on the architectures that kept the old calls (x86_64,
 * not arm64: include/uapi/asm-generic/unistd.h has neither). */
static bool is_wait_syscall(long nr)
{
#ifdef SYS_epoll_wait
    if (nr == SYS_epoll_wait)
        return true;
#endif
#ifdef SYS_poll
    if (nr == SYS_poll)
        return true;
#endif
    return nr == SYS_epoll_pwait || nr == SYS_epoll_pwait2 || nr == SYS_ppoll;
}

/* /proc/PID/task/TID/syscall names the system call a task is asleep in
 * and says "running" otherwise (proc(5); the kernel fills it in
 * task_current_syscall(), only for a task off the CPU).  epoll and poll
 * sleep only after they found nothing ready, on wait queues that any later
 * readiness wakes (fs/eventpoll.c ep_poll(), fs/select.c do_poll()). */
int platform_blocked_in_wait(pid_t pid, uint64_t tid)
{
    char path[64], buf[256];
    snprintf(path, sizeof path, "/proc/%ld/task/%llu/syscall", (long)pid,
             (unsigned long long)tid);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    ssize_t n = read(fd, buf, sizeof buf - 1);
    int err = errno;
    close(fd);
    if (n < 0)
        return -err;
    buf[n] = '\0';
    /* "running", "-1 SP PC" (asleep outside a system call) or
     * "NR ARG1 ... ARG6 SP PC" (asleep in system call NR). */
    char *end;
    long nr = strtol(buf, &end, 10);
    return end != buf && is_wait_syscall(nr);
}

/* One entry per open descriptor in /proc/PID/fd (proc(5)). */
int platform_fd_count(pid_t pid)
{
    char path[64];
    snprintf(path, sizeof path, "/proc/%ld/fd", (long)pid);
    DIR *dir = opendir(path);
    if (dir == NULL)
        return -errno;
    int own = pid == getpid() ? dirfd(dir) : -1;
    int n = 0;
    struct dirent *d;
    while ((d = readdir(dir)) != NULL)
        n += d->d_name[0] != '.' && atoi(d->d_name) != own;
    closedir(dir);
    return n;
}

/* Wine runs Windows programs only. */
const char *platform_wine_version(void)
{
    return NULL;
}
