/*
 * Installing a seccomp filter on the calling thread, for the tests that
 * prove what happens at the system-call boundary (a call the kernel lacks,
 * a descriptor table that is full, a wait that must make no other call).
 * Linux only, like the tests that use it.
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

#endif
