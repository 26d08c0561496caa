/*
 * Installing a seccomp filter on the calling thread, for the tests that
 * prove what happens at the system-call boundary (a call the kernel lacks,
 * a descriptor table that is full, a wait that must make no other call),
 * and running checks in a forked child, where such a filter can be
 * installed without touching the test runner.  Linux only, like the tests
 * that use it.
 *
 * One assertion for code in a child: CHILD_CHECK(cond).  cmocka's
 * assert_* cannot serve there: a failure unwinds into the runner's state
 * in the child and reports through stdio, which the filter may forbid.
 */
#ifndef XPOLL_TESTS_SECCOMP_H
#define XPOLL_TESTS_SECCOMP_H

#include <errno.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stddef.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

/* A filter that matches system call numbers must first check the
 * architecture: the numbers mean other calls under another ABI. */
#if defined(__x86_64__)
#define AUDIT_ARCH_HERE AUDIT_ARCH_X86_64
#elif defined(__aarch64__)
#define AUDIT_ARCH_HERE AUDIT_ARCH_AARCH64
#else
#error "tests/seccomp.h: add this architecture's AUDIT_ARCH_*"
#endif

/* Installs `filter` on the calling thread only (no
 * SECCOMP_FILTER_FLAG_TSYNC); 0 or -errno.  Async-signal-safe and
 * allocation-free, so a forked child may call it. */
static inline int seccomp_install(struct sock_filter *filter, size_t len)
{
    struct sock_fprog prog = {.len = (unsigned short)len, .filter = filter};
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0 ||
        syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &prog) != 0)
        return -errno;
    return 0;
}

/* Runs `body` in a forked child and fails the test (cmocka) if a
 * CHILD_CHECK failed there, naming its file and line, or if the child was
 * killed (SIGSYS: a forbidden system call) or exited with another status
 * than 0.  The report travels through memory shared with the parent
 * (MAP_SHARED), so a child that may do no I/O, or is killed, still leaves
 * it. */
void run_in_child(void (*body)(void));

/* In a child of run_in_child(): records `file` and `line` and ends the
 * child at once by the raw exit_group system call (sanitizer runtimes hook
 * _exit(), and a filter may allow nothing else).  Async-signal-safe. */
_Noreturn void child_check_failed(const char *file, int line);

#define CHILD_CHECK(cond)                                                      \
    do {                                                                       \
        if (!(cond))                                                           \
            child_check_failed(__FILE__, __LINE__);                            \
    } while (0)

#endif
