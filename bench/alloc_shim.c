/*
 * alloc_shim.so - counts heap allocations over a window, for LD_PRELOAD.
 *
 *   XPOLL_BENCH_ALLOC_OUT=/path LD_PRELOAD=.../alloc_shim.so SERVER ...
 *   kill -USR1 PID    # zero the counters and start counting
 *   kill -USR2 PID    # stop counting, write "allocs=N bytes=B frees=F\n"
 *                     # to $XPOLL_BENCH_ALLOC_OUT (stderr if unset)
 *
 * malloc, calloc, realloc, memalign, posix_memalign, aligned_alloc, valloc
 * and pvalloc count as allocations (realloc of NULL included), free of a
 * non-NULL pointer as a free.  Outside a window the wrappers only test a
 * flag.  The real allocator is reached through glibc's __libc_* entry
 * points, so no dlsym() is needed (it can allocate itself).
 *
 * A program linked with this library (micro.c) can also drive it directly
 * through xpoll_bench_alloc_start() / xpoll_bench_alloc_stop().
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

extern void *__libc_malloc(size_t);
extern void *__libc_calloc(size_t, size_t);
extern void *__libc_realloc(void *, size_t);
extern void *__libc_memalign(size_t, size_t);
extern void *__libc_valloc(size_t);
extern void *__libc_pvalloc(size_t);
extern void __libc_free(void *);

static volatile int counting;
static unsigned long n_allocs, n_bytes, n_frees;

#define EXPORT __attribute__((visibility("default")))

static void count(size_t bytes)
{
    if (counting) {
        __atomic_fetch_add(&n_allocs, 1, __ATOMIC_RELAXED);
        __atomic_fetch_add(&n_bytes, bytes, __ATOMIC_RELAXED);
    }
}

EXPORT void *malloc(size_t n)
{
    count(n);
    return __libc_malloc(n);
}

EXPORT void *calloc(size_t a, size_t b)
{
    count(a * b);
    return __libc_calloc(a, b);
}

EXPORT void *realloc(void *p, size_t n)
{
    count(n);
    return __libc_realloc(p, n);
}

EXPORT void free(void *p)
{
    if (p != NULL && counting)
        __atomic_fetch_add(&n_frees, 1, __ATOMIC_RELAXED);
    __libc_free(p);
}

EXPORT void *memalign(size_t align, size_t n)
{
    count(n);
    return __libc_memalign(align, n);
}

EXPORT void *aligned_alloc(size_t align, size_t n)
{
    count(n);
    return __libc_memalign(align, n);
}

EXPORT int posix_memalign(void **out, size_t align, size_t n)
{
    if (align < sizeof(void *) || (align & (align - 1)) != 0)
        return EINVAL;
    count(n);
    void *p = __libc_memalign(align, n);
    if (p == NULL)
        return ENOMEM;
    *out = p;
    return 0;
}

EXPORT void *valloc(size_t n)
{
    count(n);
    return __libc_valloc(n);
}

EXPORT void *pvalloc(size_t n)
{
    count(n);
    return __libc_pvalloc(n);
}

EXPORT void xpoll_bench_alloc_start(void)
{
    n_allocs = n_bytes = n_frees = 0;
    __atomic_store_n(&counting, 1, __ATOMIC_SEQ_CST);
}

EXPORT void xpoll_bench_alloc_stop(unsigned long *allocs, unsigned long *bytes,
                                   unsigned long *frees)
{
    __atomic_store_n(&counting, 0, __ATOMIC_SEQ_CST);
    *allocs = n_allocs;
    *bytes = n_bytes;
    *frees = n_frees;
}

/* Async-signal-safe decimal formatting. */
static char *put_ul(char *p, unsigned long v)
{
    char tmp[24];
    int i = 0;
    do {
        tmp[i++] = (char)('0' + v % 10);
        v /= 10;
    } while (v != 0);
    while (i > 0)
        *p++ = tmp[--i];
    return p;
}

static char *put_s(char *p, const char *s)
{
    size_t n = strlen(s);
    memcpy(p, s, n);
    return p + n;
}

static const char *out_path;

static void on_signal(int sig)
{
    int saved = errno;
    if (sig == SIGUSR1) {
        xpoll_bench_alloc_start();
    } else {
        unsigned long a, b, f;
        xpoll_bench_alloc_stop(&a, &b, &f);
        char line[128], *p = line;
        p = put_s(p, "allocs=");
        p = put_ul(p, a);
        p = put_s(p, " bytes=");
        p = put_ul(p, b);
        p = put_s(p, " frees=");
        p = put_ul(p, f);
        *p++ = '\n';
        int fd =
            out_path != NULL
                ? open(out_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644)
                : 2;
        if (fd >= 0) {
            ssize_t r = write(fd, line, (size_t)(p - line));
            (void)r;
            if (fd != 2)
                close(fd);
        }
    }
    errno = saved;
}

__attribute__((constructor)) static void init(void)
{
    out_path = getenv("XPOLL_BENCH_ALLOC_OUT");
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sa.sa_flags = SA_RESTART;
    sigemptyset(&sa.sa_mask);
    sigaddset(&sa.sa_mask, SIGUSR1);
    sigaddset(&sa.sa_mask, SIGUSR2);
    sigaction(SIGUSR1, &sa, NULL);
    sigaction(SIGUSR2, &sa, NULL);
}
