/*
 * A mutex and the monotonic clock, for the platform-neutral core (the
 * timers of src/timer.c).  Not installed.  POSIX threads and
 * clock_gettime(2) here; another platform's port replaces this file.
 */
#ifndef XPOLL_SYS_THREAD_H
#define XPOLL_SYS_THREAD_H

#include <pthread.h>
#include <stdint.h>
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

#ifdef XPOLL_TEST_CLOCK
/* A virtual clock for tests that compile the timers themselves with
 * -DXPOLL_TEST_CLOCK (tests/fuzz/fuzz_timer_wait.c, which defines it).
 * The library is never built so: its clock is the one below. */
int64_t xpoll__test_clock_ns(void);

static inline int64_t xpoll__clock_ns(void)
{
    return xpoll__test_clock_ns();
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
