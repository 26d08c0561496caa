/*
 * A mutex and the monotonic clock, for the platform-neutral core (the
 * timers of src/timer.c).  Not installed.  POSIX threads and
 * clock_gettime(2); on Windows a slim reader/writer lock and the
 * performance counter.
 */
#ifndef XPOLL_SYS_THREAD_H
#define XPOLL_SYS_THREAD_H

#include <stdint.h>

#if defined(_WIN32)
#include <windows.h>

/* An SRW lock held exclusively: no kernel object, nothing to destroy,
 * and it cannot fail ("Slim Reader/Writer (SRW) Locks", Microsoft
 * Learn). */
typedef SRWLOCK xpoll__mutex;

static inline int xpoll__mutex_init(xpoll__mutex *mutex)
{
    InitializeSRWLock(mutex);
    return 0;
}

static inline void xpoll__mutex_destroy(xpoll__mutex *mutex)
{
    (void)mutex;
}

static inline void xpoll__mutex_lock(xpoll__mutex *mutex)
{
    AcquireSRWLockExclusive(mutex);
}

static inline void xpoll__mutex_unlock(xpoll__mutex *mutex)
{
    ReleaseSRWLockExclusive(mutex);
}
#else
#include <pthread.h>
#include <time.h>

typedef pthread_mutex_t xpoll__mutex;

/* 0 or a negative errno (pthread_mutex_init returns the error). */
static inline int xpoll__mutex_init(xpoll__mutex *mutex)
{
    return -pthread_mutex_init(mutex, NULL);
}

static inline void xpoll__mutex_destroy(xpoll__mutex *mutex)
{
    pthread_mutex_destroy(mutex);
}

/* Uncontended, neither makes a system call (glibc's futex-based mutex
 * enters the kernel only to sleep or to wake a sleeper). */
static inline void xpoll__mutex_lock(xpoll__mutex *mutex)
{
    pthread_mutex_lock(mutex);
}

static inline void xpoll__mutex_unlock(xpoll__mutex *mutex)
{
    pthread_mutex_unlock(mutex);
}
#endif

#if defined(XPOLL_TEST_CLOCK)
/* A virtual clock for tests that compile the timers themselves with
 * -DXPOLL_TEST_CLOCK (tests/fuzz/fuzz_timer_wait.c, which defines it).
 * The library is never built so: its clock is one of those below. */
int64_t xpoll__test_clock_ns(void);

static inline int64_t xpoll__clock_ns(void)
{
    return xpoll__test_clock_ns();
}
#elif defined(_WIN32)
/* The performance counter in nanoseconds: monotonic, and neither call
 * fails on Windows XP or later ("Acquiring high-resolution time stamps",
 * Microsoft Learn).  Split into whole seconds and the rest, so the
 * product cannot overflow below 9.2 GHz (Windows 10 and later report
 * 10 MHz). */
static inline int64_t xpoll__clock_ns(void)
{
    LARGE_INTEGER count, frequency;

    QueryPerformanceCounter(&count);
    QueryPerformanceFrequency(&frequency);
    int64_t seconds = count.QuadPart / frequency.QuadPart;
    int64_t rest = count.QuadPart % frequency.QuadPart;
    return seconds * 1000000000 + rest * 1000000000 / frequency.QuadPart;
}
#else
/* CLOCK_MONOTONIC in nanoseconds.  Linux serves it from the vDSO, with
 * no system call, wherever the clock source allows (vdso(7)). */
static inline int64_t xpoll__clock_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}
#endif

#endif /* XPOLL_SYS_THREAD_H */
