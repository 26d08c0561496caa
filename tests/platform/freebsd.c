/* platform.h for FreeBSD: sysctl(3) kern.proc (eventfd and RUSAGE_THREAD:
 * eventfd_rusage.c). */
#include "platform.h"

#include <errno.h>
#include <pthread.h>
#include <pthread_np.h>
#include <stdlib.h>
#include <string.h>
#include <sys/param.h>
#include <sys/sysctl.h>
#include <sys/user.h>
#include <unistd.h>

xpoll_backend platform_native_backend(void)
{
    return XPOLL_BACKEND_KQUEUE;
}

uint64_t platform_thread_id(void)
{
    return (uint64_t)pthread_getthreadid_np();
}

/* kern.proc.pid.<pid> with KERN_PROC_INC_THREAD returns one struct
 * kinfo_proc per thread (sys/kern/kern_proc.c sysctl_kern_proc()); a
 * sleeping thread has ki_stat SSLEEP and its sleep's message in ki_wmesg.
 * kevent() sleeps as "kqread" (sys/kern/kern_event.c kqueue_scan()), poll()
 * as "select" (sys/kern/sys_generic.c seltdinit()), both only after they
 * found nothing ready. */
int platform_blocked_in_wait(pid_t pid, uint64_t tid)
{
    int mib[4] = {CTL_KERN, KERN_PROC, KERN_PROC_PID | KERN_PROC_INC_THREAD,
                  (int)pid};
    size_t size = 0;
    if (sysctl(mib, 4, NULL, &size, NULL, 0) != 0)
        return -errno;
    size += size / 2; /* threads may come meanwhile */
    struct kinfo_proc *kp = malloc(size);
    if (kp == NULL)
        return -ENOMEM;
    if (sysctl(mib, 4, kp, &size, NULL, 0) != 0) {
        int err = errno;
        free(kp);
        return -err;
    }
    int found = -ESRCH;
    for (size_t i = 0; i < size / sizeof *kp; i++) {
        if ((uint64_t)kp[i].ki_tid == tid)
            found = kp[i].ki_stat == SSLEEP &&
                    (strcmp(kp[i].ki_wmesg, "kqread") == 0 ||
                     strcmp(kp[i].ki_wmesg, "select") == 0);
    }
    free(kp);
    return found;
}

/* kern.proc.filedesc.<pid> returns one struct kinfo_file per descriptor,
 * each kf_structsize bytes long, beside entries with a negative kf_fd for
 * the working, root and jail directories (<sys/user.h>). */
int platform_fd_count(pid_t pid)
{
    int mib[4] = {CTL_KERN, KERN_PROC, KERN_PROC_FILEDESC, (int)pid};
    size_t size = 0;
    if (sysctl(mib, 4, NULL, &size, NULL, 0) != 0)
        return -errno;
    size += size / 2;
    char *buf = malloc(size);
    if (buf == NULL)
        return -ENOMEM;
    if (sysctl(mib, 4, buf, &size, NULL, 0) != 0) {
        int err = errno;
        free(buf);
        return -err;
    }
    int n = 0;
    for (size_t off = 0; off < size;) {
        const struct kinfo_file *kf = (const void *)(buf + off);
        if (kf->kf_structsize <= 0)
            break;
        n += kf->kf_fd >= 0;
        off += (size_t)kf->kf_structsize;
    }
    free(buf);
    return n;
}

/* Wine runs Windows programs only. */
const char *platform_wine_version(void)
{
    return NULL;
}
