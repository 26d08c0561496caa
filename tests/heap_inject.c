#include "heap_inject.h"

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>

extern void *__libc_malloc(size_t);
extern void *__libc_calloc(size_t, size_t);
extern void *__libc_realloc(void *, size_t);
extern void __libc_free(void *);

static struct {
    bool counting;
    long fail_at;
    struct heap_counts counts;
} heap = {.fail_at = -1};

static bool refuse(void)
{
    if (!heap.counting)
        return false;
    if (heap.counts.calls++ != heap.fail_at)
        return false;
    errno = ENOMEM;
    return true;
}

static void *counted(void *p)
{
    if (p != NULL && heap.counting)
        heap.counts.live++;
    return p;
}

void *malloc(size_t size)
{
    return refuse() ? NULL : counted(__libc_malloc(size));
}

void *calloc(size_t n, size_t size)
{
    return refuse() ? NULL : counted(__libc_calloc(n, size));
}

void *realloc(void *old, size_t size)
{
    if (refuse())
        return NULL;
    void *p = __libc_realloc(old, size);
    return old == NULL ? counted(p) : p;
}

void free(void *p)
{
    if (p != NULL && heap.counting)
        heap.counts.live--;
    __libc_free(p);
}

void heap_count_from(long fail_at)
{
    heap.counts = (struct heap_counts){0, 0};
    heap.fail_at = fail_at;
    heap.counting = true;
}

struct heap_counts heap_stop(void)
{
    heap.counting = false;
    heap.fail_at = -1;
    return heap.counts;
}
