/*
 * Test-control API of the kqueue emulator (kqemu): call trace, fault
 * injection, leak counters, personality (README.md in this directory).
 *
 * Every symbol here is exported with default visibility so that, when the
 * emulator is linked into libxpoll.so (built with -fvisibility=hidden), the
 * test executables can still reach it.
 */
#ifndef KQEMU_H
#define KQEMU_H

#include <stddef.h>
#include <time.h>
#include <sys/event.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Descriptors one emulated kqueue occupies: the fd kqueue() returns plus
 * its internal top epoll, READ set, WRITE set and eventfd doorbell.  A
 * real kqueue occupies one; tests that count open fds need this. */
#define KQEMU_FDS_PER_KQUEUE 5

/* Number of changes copied into each trace record. */
#define KQEMU_TRACE_MAX_CHANGES 8
/* Capacity of the trace ring; older records are overwritten. */
#define KQEMU_TRACE_CAPACITY    1024

/* One recorded kevent() call, as the caller passed it and as it returned. */
struct kqemu_call {
    int kq;
    int nchanges;
    int nevents;
    int has_timeout;
    struct timespec timeout;
    struct kevent
        changes[KQEMU_TRACE_MAX_CHANGES]; /* first min(nchanges,MAX) */
    int result;
    int error; /* errno when result == -1, else 0 */
};

/* Forget all recorded calls. */
KQEMU_EXPORT void kqemu_trace_reset(void);
/* Number of records retrievable now: calls since the last reset, capped at
 * KQEMU_TRACE_CAPACITY (the ring keeps the newest ones). */
KQEMU_EXPORT size_t kqemu_trace_count(void);
/* Copy record i (0 = oldest retrievable) into *out; 0, or -1 if out of range.
 */
KQEMU_EXPORT int kqemu_trace_get(size_t i, struct kqemu_call *out);

/* The next n kevent() calls on kq that carry changes apply all their
 * changes, write no entries, and return -1/EINTR, as a signal caught
 * during the wait does on both kernels (kqueue_scan() maps ERESTART to
 * EINTR; docs/kqueue.md, "Waiting and timeouts").
 * Returns 0, or -1/EBADF if kq is not an emulated kqueue. */
KQEMU_EXPORT int kqemu_inject_eintr_after_changes(int kq, int n);
/* The next n changes on kq whose filter is `filter` are applied as usual and
 * then reported as failing in-band with `err` (like old macOS, which
 * returned EPIPE yet attached the knote).  Returns 0 or -1/EBADF. */
KQEMU_EXPORT int kqemu_inject_change_errno(int kq, short filter, int err,
                                           int n);
/* Darwin only: registering a pipe end whose peer is already closed fails
 * in-band with EPIPE, as on macOS 10.10/10.11; the knote is still
 * attached.  No effect under the FreeBSD personality. */
KQEMU_EXPORT void kqemu_set_macos_legacy_pipe_epipe(int on);
/* KQEMU_FREEBSD or KQEMU_DARWIN. */
KQEMU_EXPORT int kqemu_personality(void);

struct kqemu_stats {
    size_t kqueues;      /* live emulated kqueues */
    size_t knotes;       /* live knotes over all kqueues */
    size_t kevent_calls; /* kevent() calls since process start */
};
KQEMU_EXPORT void kqemu_stats(struct kqemu_stats *out);

#ifdef __cplusplus
}
#endif

#endif /* KQEMU_H */
