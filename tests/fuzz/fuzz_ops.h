/*
 * What the model-based timer fuzzers (fuzz_timers.c, fuzz_timer_wait.c)
 * share: the input read as a stream of little-endian fields, and a ring of
 * the last operations, printed when a check fails.  Header-only: each
 * fuzzer is one translation unit with its own copy of this state.
 */
#ifndef XPOLL_FUZZ_OPS_H
#define XPOLL_FUZZ_OPS_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

static const uint8_t *input;
static size_t input_len, input_pos;

#define LOG_LINES 48
static char log_ring[LOG_LINES][140];
static unsigned log_count;

/* Starts a run on `data`: the stream at its first byte, the log empty. */
static void ops_start(const uint8_t *data, size_t size)
{
    input = data;
    input_len = size;
    input_pos = 0;
    log_count = 0;
}

/* The next `bytes` bytes, little-endian; zeros past the end. */
static uint64_t take(int bytes)
{
    uint64_t v = 0;
    for (int b = 0; b < bytes; b++) {
        uint64_t byte = input_pos < input_len ? input[input_pos++] : 0;
        v |= byte << (8 * b);
    }
    return v;
}

/* Records one operation in the ring. */
__attribute__((format(printf, 1, 2))) static void note(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(log_ring[log_count % LOG_LINES], sizeof log_ring[0], fmt, ap);
    va_end(ap);
    log_count++;
}

/* Prints the last LOG_LINES operations, numbered, to stderr. */
static void ops_print_log(void)
{
    unsigned first = log_count > LOG_LINES ? log_count - LOG_LINES : 0;
    fprintf(stderr, "last operations:\n");
    for (unsigned k = first; k < log_count; k++)
        fprintf(stderr, "  %4u %s\n", k, log_ring[k % LOG_LINES]);
}

#endif /* XPOLL_FUZZ_OPS_H */
