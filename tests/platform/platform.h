/*
 * What the tests ask of the operating system beyond POSIX, answered once
 * per system: linux.c, darwin.c (macOS), freebsd.c, windows.c, and
 * other.c for the rest; tests/CMakeLists.txt compiles the one for the
 * system it builds for.  Plain C without cmocka: every function reports by its
 * return value, and -ENOTSUP means the system offers no way to answer (a caller
 * then says so, never guesses).
 */
#ifndef XPOLL_TESTS_PLATFORM_H
#define XPOLL_TESTS_PLATFORM_H

#include <stdint.h>
#include <sys/types.h>

#include "xpoll.h"

/* The backend xpoll_new() picks here when XPOLL_BACKEND is unset, or
 * XPOLL_BACKEND_DEFAULT where this file does not know it. */
xpoll_backend platform_native_backend(void);

/* The calling thread, as platform_blocked_in_wait() names threads. */
uint64_t platform_thread_id(void);

/* Whether thread `tid` of process `pid` is asleep in the system call in
 * which an xpoll wait blocks (any backend's), having found nothing ready:
 * 1 if it is, 0 if not (running, or asleep anywhere else), -errno if its
 * state cannot be read, -ENOTSUP where the system cannot tell.  On Linux
 * a process's main thread has tid == pid. */
int platform_blocked_in_wait(pid_t pid, uint64_t tid);

/* The number of descriptors process `pid` has open (the calling process
 * included, without any descriptor this call opens), -errno, or
 * -ENOTSUP. */
int platform_fd_count(pid_t pid);

/* A new non-blocking, close-on-exec eventfd with counter 0, or -errno;
 * -ENOTSUP where the system has no eventfd. */
int platform_eventfd(void);

/* The voluntary context switches of the calling thread so far (each time
 * it went to sleep in the kernel), -errno, or -ENOTSUP where the system
 * counts none per thread. */
long platform_thread_sleeps(void);

/* The Wine version when the tests run under Wine (a Windows build run on
 * another system), NULL otherwise.  The tests use it only to tell the
 * known Wine gaps from failures (docs/windows.md, section 10). */
const char *platform_wine_version(void);

#endif /* XPOLL_TESTS_PLATFORM_H */
