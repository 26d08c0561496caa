/*
 * The fuzzers' one assertion.  FUZZ_CHECK(cond, fmt, ...) does nothing when
 * cond holds; otherwise it prints the file, line and condition, the
 * message, and what the fuzzer was doing (its fuzz_dump_state()), then
 * aborts, so that libFuzzer saves the input that broke the property.
 *
 * Each fuzzer is one translation unit that defines
 *     static void fuzz_dump_state(void);
 * before or after including this header.
 */
#ifndef XPOLL_FUZZ_CHECK_H
#define XPOLL_FUZZ_CHECK_H

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

static void fuzz_dump_state(void);

__attribute__((noreturn, format(printf, 4, 5))) static void
fuzz_fail(const char *file, int line, const char *cond, const char *fmt, ...)
{
    va_list ap;
    fprintf(stderr, "\n==== %s:%d: check failed: %s\n", file, line, cond);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    fuzz_dump_state();
    abort();
}

#define FUZZ_CHECK(cond, ...)                                                  \
    do {                                                                       \
        if (!(cond))                                                           \
            fuzz_fail(__FILE__, __LINE__, #cond, __VA_ARGS__);                 \
    } while (0)

#endif
