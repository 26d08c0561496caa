/*
 * malloc/calloc/realloc/free interposed in the test executable that links
 * heap_inject.c (glibc's __libc_* do the work): counts the allocations
 * made between heap_count_from() and heap_stop(), and can make the k-th
 * of them fail with ENOMEM.
 *
 * Not for sanitizer builds (they bring their own allocator).  Under
 * valgrind the executable must run natively: valgrind replaces malloc in
 * the executable too.
 */
#ifndef XPOLL_TESTS_HEAP_INJECT_H
#define XPOLL_TESTS_HEAP_INJECT_H

struct heap_counts {
    long calls; /* allocations requested while counting */
    long live;  /* of those, not freed yet */
};

/* Starts counting from zero; the fail_at-th allocation (0 = the first)
 * fails, none if fail_at < 0. */
void heap_count_from(long fail_at);

/* Stops counting and failing; returns what was counted. */
struct heap_counts heap_stop(void);

#endif
