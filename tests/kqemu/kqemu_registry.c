/*
 * Process-wide state of the kqueue emulator: the kqueue registry and its
 * fd aliases, the interposed close/dup2/dup3/shutdown (a closed or
 * replaced descriptor number loses its knotes, as FreeBSD's closefp() ->
 * knote_fdclose() does), fork handling, and the test-control API of
 * kqemu.h.  Epoll cannot see a close or a dup on its own: hence the
 * interposers (README.md, "Interposition").
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "kqemu_int.h"

/* fds below this get a lock-free "may matter to kqemu" hint for close(). */
#define KQEMU_HINT_FDS 65536

static pthread_mutex_t g_mu = PTHREAD_MUTEX_INITIALIZER;
static struct kqemu_kq *g_kqs;
static uint32_t g_next_id = 1;
static size_t g_nkqueues, g_nknotes;
static atomic_size_t g_ncalls;
static atomic_int g_legacy_pipe_epipe;
static atomic_uchar g_hint[KQEMU_HINT_FDS];
static pthread_once_t g_once = PTHREAD_ONCE_INIT;

/* A real kevent() is a system call, so a signal handler may call it (the
 * xpoll waker is async-signal-safe).  Here it takes locks: a handler that
 * interrupted this thread while it held one would wait for itself forever.
 * So signals stay blocked while a thread holds any emulator lock; they
 * are delivered when the outermost lock is released. */
static _Thread_local int t_lock_depth;
static _Thread_local sigset_t t_saved_mask;

static void mutex_enter(pthread_mutex_t *mu)
{
    if (t_lock_depth++ == 0) {
        sigset_t all;
        sigfillset(&all);
        pthread_sigmask(SIG_BLOCK, &all, &t_saved_mask);
    }
    pthread_mutex_lock(mu);
}

static void mutex_leave(pthread_mutex_t *mu)
{
    pthread_mutex_unlock(mu);
    if (--t_lock_depth == 0)
        pthread_sigmask(SIG_SETMASK, &t_saved_mask, NULL);
}

void kqemu__lock(void)
{
    mutex_enter(&g_mu);
}
void kqemu__unlock(void)
{
    mutex_leave(&g_mu);
}

void kqemu__diag(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "kqemu(%s): ", kqemu__p.name);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
}

/* ---- raw syscalls: never re-enter our own interposers ----------------------
 */

int kqemu__raw_close(int fd)
{
    return (int)syscall(SYS_close, fd);
}

static int raw_dup3(int oldfd, int newfd, int flags)
{
    return (int)syscall(SYS_dup3, oldfd, newfd, flags);
}

static int raw_shutdown(int fd, int how)
{
    return (int)syscall(SYS_shutdown, fd, how);
}

int kqemu__raw_getsockopt(int fd, int level, int name, void *val,
                          socklen_t *len)
{
    return (int)syscall(SYS_getsockopt, fd, level, name, val, len);
}

/* ---- close() fast-path hints ------------------------------------------------
 */

/* Set for kqueue aliases and fds with knotes; cleared when the number is
 * closed through us.  A stale 1 only costs the slow path. */
void kqemu__note_fd(int fd)
{
    if (fd >= 0 && fd < KQEMU_HINT_FDS)
        atomic_store_explicit(&g_hint[fd], 1, memory_order_relaxed);
}

static bool fd_hinted(int fd)
{
    if (fd < 0)
        return false;
    if (fd >= KQEMU_HINT_FDS)
        return true;
    return atomic_load_explicit(&g_hint[fd], memory_order_relaxed) != 0;
}

static void fd_unhint(int fd)
{
    if (fd >= 0 && fd < KQEMU_HINT_FDS)
        atomic_store_explicit(&g_hint[fd], 0, memory_order_relaxed);
}

/* ---- stats
 * --------------------------------------------------------------------- */

void kqemu__stat_knotes(int delta)
{
    g_nknotes = (size_t)((long)g_nknotes + delta);
}

void kqemu__stat_call(void)
{
    atomic_fetch_add_explicit(&g_ncalls, 1, memory_order_relaxed);
}

bool kqemu__legacy_pipe_epipe(void)
{
    return kqemu__p.id == KQEMU_DARWIN && atomic_load(&g_legacy_pipe_epipe);
}

/* ---- registry and aliases
 * ---------------------------------------------------- */

struct kqemu_kq *kqemu__kq_by_id(uint32_t id)
{
    for (struct kqemu_kq *kq = g_kqs; kq; kq = kq->next)
        if (kq->id == id)
            return kq;
    return NULL;
}

static bool is_internal_fd(int fd)
{
    for (struct kqemu_kq *kq = g_kqs; kq; kq = kq->next)
        if (fd == kq->top || fd == kq->rset || fd == kq->wset || fd == kq->bell)
            return true;
    return false;
}

static int alias_add(struct kqemu_kq *kq, int fd)
{
    if (kq->nalias == kq->calias) {
        size_t cap = kq->calias ? kq->calias * 2 : 4;
        int *a = realloc(kq->alias, cap * sizeof *a);
        if (!a)
            return ENOMEM;
        kq->alias = a;
        kq->calias = cap;
    }
    kq->alias[kq->nalias++] = fd;
    kqemu__note_fd(fd);
    return 0;
}

static bool alias_remove(struct kqemu_kq *kq, int fd)
{
    for (size_t i = 0; i < kq->nalias; i++) {
        if (kq->alias[i] == fd) {
            kq->alias[i] = kq->alias[--kq->nalias];
            return true;
        }
    }
    return false;
}

static void bell_item(const struct kqemu_kq *kq, struct epoll_event *ev)
{
    ev->events = EPOLLIN;
    ev->data.u64 = KQEMU_MAGIC | kq->id;
}

/* An alias is still ours iff it is an epoll holding our bell: cheap, and
 * catches a kqueue fd closed behind our back and its number reused. */
static bool alias_valid(const struct kqemu_kq *kq, int fd)
{
    struct epoll_event ev;
    bell_item(kq, &ev);
    return epoll_ctl(fd, EPOLL_CTL_MOD, kq->bell, &ev) == 0;
}

/* An epoll fd lists its targets in fdinfo with their data word; our
 * bell's data is KQEMU_MAGIC | id.  Returns the id, or 0. */
static uint32_t fdinfo_kq_id(int fd)
{
    char path[64], buf[4096];
    snprintf(path, sizeof path, "/proc/self/fdinfo/%d", fd);
    int in = open(path, O_RDONLY | O_CLOEXEC);
    if (in < 0)
        return 0;
    ssize_t len = read(in, buf, sizeof buf - 1);
    kqemu__raw_close(in);
    if (len <= 0)
        return 0;
    buf[len] = '\0';
    for (char *p = strstr(buf, "data:"); p; p = strstr(p + 5, "data:")) {
        unsigned long long v = strtoull(p + 5, NULL, 16);
        if ((v & 0xffffffff00000000ull) == KQEMU_MAGIC && (uint32_t)v != 0)
            return (uint32_t)v;
    }
    return 0;
}

struct kqemu_kq *kqemu__kq_resolve(int fd)
{
    if (fd < 0)
        return NULL;
    for (struct kqemu_kq *kq = g_kqs; kq; kq = kq->next) {
        for (size_t i = 0; i < kq->nalias; i++) {
            if (kq->alias[i] != fd)
                continue;
            if (alias_valid(kq, fd))
                return kq;
            alias_remove(kq, fd); /* closed behind our back */
            break;
        }
    }
    /* A dup()/F_DUPFD of a kqueue fd: learn it as an alias now. */
    uint32_t id = fdinfo_kq_id(fd);
    struct kqemu_kq *kq = id ? kqemu__kq_by_id(id) : NULL;
    if (!kq || is_internal_fd(fd) || alias_add(kq, fd) != 0)
        return NULL;
    return kq;
}

int kqemu__kq_register(struct kqemu_kq *kq)
{
    struct epoll_event ev;
    kq->id = g_next_id++;
    bell_item(kq, &ev);
    if (epoll_ctl(kq->top, EPOLL_CTL_ADD, kq->bell, &ev) != 0)
        return -errno;
    /* The fd handed out has close-on-exec clear, as kqueue() gives it; the
     * internal top keeps the queue alive independently of the user's
     * aliases. */
    int fd = fcntl(kq->top, F_DUPFD, 0);
    if (fd < 0)
        return -errno;
    if (alias_add(kq, fd) != 0) {
        kqemu__raw_close(fd);
        return -ENOMEM;
    }
    kq->next = g_kqs;
    g_kqs = kq;
    g_nkqueues++;
    return fd;
}

static void kq_unlink_and_destroy(struct kqemu_kq *kq)
{
    for (struct kqemu_kq **pp = &g_kqs; *pp; pp = &(*pp)->next) {
        if (*pp == kq) {
            *pp = kq->next;
            break;
        }
    }
    g_nkqueues--;
    kqemu__kq_destroy(kq);
}

/* The queue dies with its last alias, but not while a kevent() is
 * still inside it (BSD holds the file for the duration of the call). */
void kqemu__kq_release(struct kqemu_kq *kq)
{
    kq->refs--;
    if (kq->nalias == 0 && kq->refs == 0)
        kq_unlink_and_destroy(kq);
}

/* Before a queue dies with its last known alias, look for dups that
 * kevent() never saw (dup(), F_DUPFD): they keep it alive. */
static void adopt_hidden_alias(struct kqemu_kq *kq, int closing)
{
    DIR *d = opendir("/proc/self/fd");
    if (!d)
        return;
    int self = dirfd(d);
    for (struct dirent *e = readdir(d); e; e = readdir(d)) {
        char *end;
        long n = strtol(e->d_name, &end, 10);
        if (*end != '\0' || n == closing || n == self || is_internal_fd((int)n))
            continue;
        if (fdinfo_kq_id((int)n) == kq->id) {
            alias_add(kq, (int)n);
            break;
        }
    }
    closedir(d);
}

/* fd number `fd` is about to be closed or replaced. */
static void forget_fd_locked(int fd)
{
    struct kqemu_kq *kq = g_kqs;
    while (kq) {
        struct kqemu_kq *next = kq->next;
        kqemu__purge_ident(kq, fd);
        if (alias_remove(kq, fd) && kq->nalias == 0) {
            adopt_hidden_alias(kq, fd);
            if (kq->nalias == 0 && kq->refs == 0)
                kq_unlink_and_destroy(kq);
        }
        kq = next;
    }
    fd_unhint(fd);
}

static struct kqemu_kq *known_alias_owner(int fd)
{
    for (struct kqemu_kq *kq = g_kqs; kq; kq = kq->next)
        for (size_t i = 0; i < kq->nalias; i++)
            if (kq->alias[i] == fd)
                return kq;
    return NULL;
}

/* ---- interposers
 * -------------------------------------------------------------- */

/* The hot path: a number with no knote and no kqueue costs one relaxed
 * load and the real close. */
KQEMU_EXPORT int close(int fd)
{
    if (!fd_hinted(fd))
        return kqemu__raw_close(fd);
    kqemu__lock();
    forget_fd_locked(fd);
    int r = kqemu__raw_close(fd);
    int e = errno;
    kqemu__unlock();
    errno = e;
    return r;
}

static int dup_common(int oldfd, int newfd, int flags, bool is_dup2)
{
    if (!fd_hinted(oldfd) && !fd_hinted(newfd)) {
        if (is_dup2 && oldfd == newfd)
            return fcntl(oldfd, F_GETFD) < 0 ? -1 : newfd;
        return raw_dup3(oldfd, newfd, flags);
    }
    int r, e = 0;
    kqemu__lock();
    if (fcntl(oldfd, F_GETFD) < 0) {
        r = -1; /* EBADF: newfd must survive a failed dup2 */
        e = errno;
    } else if (oldfd == newfd) {
        r = is_dup2 ? newfd : -1;
        e = is_dup2 ? 0 : EINVAL;
    } else {
        /* oldfd stays open, so its queue cannot die in forget_fd_locked. */
        struct kqemu_kq *owner = known_alias_owner(oldfd);
        forget_fd_locked(newfd); /* an implicit close of newfd */
        r = raw_dup3(oldfd, newfd, flags);
        e = errno;
        if (r >= 0 && owner)
            alias_add(owner, newfd);
    }
    kqemu__unlock();
    errno = e;
    return r;
}

KQEMU_EXPORT int dup2(int oldfd, int newfd)
{
    return dup_common(oldfd, newfd, 0, true);
}

KQEMU_EXPORT int dup3(int oldfd, int newfd, int flags)
{
    return dup_common(oldfd, newfd, flags, false);
}

KQEMU_EXPORT int shutdown(int fd, int how)
{
    int r = raw_shutdown(fd, how);
    if (r == 0 && fd_hinted(fd)) {
        int e = errno;
        kqemu__lock();
        for (struct kqemu_kq *kq = g_kqs; kq; kq = kq->next)
            kqemu__poke_ident(kq, fd, how != SHUT_WR, how != SHUT_RD);
        kqemu__unlock();
        errno = e;
    }
    return r;
}

/* Hands back a socket error the emulator consumed to build fflags,
 * so getsockopt(SO_ERROR) sees it as on BSD.  Anything else goes
 * straight to the kernel. */
KQEMU_EXPORT int getsockopt(int fd, int level, int optname, void *optval,
                            socklen_t *optlen)
{
    if (level != SOL_SOCKET || optname != SO_ERROR || !fd_hinted(fd) ||
        !optval || !optlen || *optlen < (socklen_t)sizeof(int))
        return kqemu__raw_getsockopt(fd, level, optname, optval, optlen);
    int err = 0;
    kqemu__lock();
    bool taken = kqemu__take_so_error(fd, &err);
    kqemu__unlock();
    if (!taken)
        return kqemu__raw_getsockopt(fd, level, optname, optval, optlen);
    memcpy(optval, &err, sizeof err);
    *optlen = sizeof err;
    return 0;
}

/* ---- fork
 * ----------------------------------------------------------------------- */

static pthread_mutex_t g_trace_mu = PTHREAD_MUTEX_INITIALIZER;

static void atfork_prepare(void)
{
    mutex_enter(&g_mu);
    mutex_enter(&g_trace_mu);
}

static void atfork_parent(void)
{
    mutex_leave(&g_trace_mu);
    mutex_leave(&g_mu);
}

/* The child inherits no queue (kqueue(2), fork(2)).  Its copies of the
 * aliases still name epoll files, but their ids are gone from the
 * registry, so kevent() on them fails with EBADF. */
static void atfork_child(void)
{
    while (g_kqs) {
        struct kqemu_kq *kq = g_kqs;
        g_kqs = kq->next;
        g_nkqueues--;
        kqemu__kq_destroy(kq);
    }
    memset(g_hint, 0, sizeof g_hint);
    mutex_leave(&g_trace_mu);
    mutex_leave(&g_mu);
}

static void init_once(void)
{
    pthread_atfork(atfork_prepare, atfork_parent, atfork_child);
}

void kqemu__init(void)
{
    pthread_once(&g_once, init_once);
}

/* ---- trace
 * ----------------------------------------------------------------------- */

static struct kqemu_call g_trace[KQEMU_TRACE_CAPACITY];
static size_t g_trace_total; /* records since reset */

void kqemu__trace_record(const struct kqemu_call *rec)
{
    mutex_enter(&g_trace_mu);
    g_trace[g_trace_total % KQEMU_TRACE_CAPACITY] = *rec;
    g_trace_total++;
    mutex_leave(&g_trace_mu);
}

KQEMU_EXPORT void kqemu_trace_reset(void)
{
    mutex_enter(&g_trace_mu);
    g_trace_total = 0;
    mutex_leave(&g_trace_mu);
}

KQEMU_EXPORT size_t kqemu_trace_count(void)
{
    mutex_enter(&g_trace_mu);
    size_t n = g_trace_total < KQEMU_TRACE_CAPACITY ? g_trace_total
                                                    : KQEMU_TRACE_CAPACITY;
    mutex_leave(&g_trace_mu);
    return n;
}

KQEMU_EXPORT int kqemu_trace_get(size_t i, struct kqemu_call *out)
{
    int r = -1;
    mutex_enter(&g_trace_mu);
    size_t n = g_trace_total < KQEMU_TRACE_CAPACITY ? g_trace_total
                                                    : KQEMU_TRACE_CAPACITY;
    if (i < n && out) {
        size_t first = g_trace_total - n;
        *out = g_trace[(first + i) % KQEMU_TRACE_CAPACITY];
        r = 0;
    }
    mutex_leave(&g_trace_mu);
    return r;
}

/* ---- control API
 * --------------------------------------------------------------- */

KQEMU_EXPORT int kqemu_inject_eintr_after_changes(int kqfd, int n)
{
    kqemu__lock();
    struct kqemu_kq *kq = kqemu__kq_resolve(kqfd);
    if (kq)
        kq->eintr_inject = n > 0 ? n : 0;
    kqemu__unlock();
    if (!kq) {
        errno = EBADF;
        return -1;
    }
    return 0;
}

KQEMU_EXPORT int kqemu_inject_change_errno(int kqfd, short filter, int err,
                                           int n)
{
    int r = -1, e = EBADF;
    kqemu__lock();
    struct kqemu_kq *kq = kqemu__kq_resolve(kqfd);
    if (kq) {
        struct kqemu_inject *slot = NULL;
        for (size_t i = 0; i < KQEMU_MAX_INJECT && !slot; i++)
            if (kq->inject[i].n == 0 || kq->inject[i].filter == filter)
                slot = &kq->inject[i];
        if (slot) {
            slot->filter = filter;
            slot->err = err;
            slot->n = n > 0 ? n : 0;
            r = 0;
        } else {
            e = ENOSPC;
        }
    }
    kqemu__unlock();
    if (r != 0)
        errno = e;
    return r;
}

KQEMU_EXPORT void kqemu_set_macos_legacy_pipe_epipe(int on)
{
    atomic_store(&g_legacy_pipe_epipe, on != 0);
}

KQEMU_EXPORT void kqemu_stats(struct kqemu_stats *out)
{
    kqemu__lock();
    out->kqueues = g_nkqueues;
    out->knotes = g_nknotes;
    kqemu__unlock();
    out->kevent_calls = atomic_load(&g_ncalls);
}
