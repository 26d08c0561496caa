/*
 * platform.h on POSIX systems: signals, descriptor limits, the clock.
 */
#define _XOPEN_SOURCE 700

#include "platform.h"

#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

void platform_setup_process(void)
{
    signal(SIGPIPE, SIG_IGN);
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
}

static atomic_bool *stop_flag;
static xpoll_waker *stop_waker;

/* SIGINT/SIGTERM: the wake is async-signal-safe (one system call, errno
 * preserved), so the handler hands the stop to the loop directly.  If the
 * signal lands while the loop waits, xpoll_wait returns -EINTR first. */
static void on_stop_signal(int sig)
{
    (void)sig;
    atomic_store(stop_flag, true);
    xpoll_waker_wake(stop_waker);
}

void platform_stop_on_request(atomic_bool *stop, xpoll_waker *waker)
{
    stop_flag = stop;
    stop_waker = waker;
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_stop_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
}

void platform_stop_off(void)
{
    signal(SIGINT, SIG_DFL);
    signal(SIGTERM, SIG_DFL);
}

int platform_spare_open(void)
{
    return open("/dev/null", O_RDONLY | O_CLOEXEC);
}

void platform_spare_close(int fd)
{
    close(fd);
}

int64_t platform_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

unsigned long platform_pid(void)
{
    return (unsigned long)getpid();
}
