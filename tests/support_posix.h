/*
 * Test support that exists on POSIX systems only, for the test files
 * built there only (tests/CMakeLists.txt): poll(2) waits, Unix socket
 * paths and descriptor-number snapshots.
 * Defined in support_posix.c.
 */
#ifndef XPOLL_TESTS_SUPPORT_POSIX_H
#define XPOLL_TESTS_SUPPORT_POSIX_H

#include "support.h"

void set_nonblock(int fd);
/* Waits (HANG_NS at most) until `fd` reports `events` to poll(2). */
void wait_fd(int fd, short events);
/* A Unix socket path for this process and `tag` in $TMPDIR (or /tmp),
 * with no file there. */
void unix_tmp_path(char *buf, size_t len, const char *tag);

/* Descriptors 0 to 4095 opened since `before` (a snapshot from
 * fd_snapshot). */
struct fd_set_snapshot {
    unsigned char open[4096];
};
void fd_snapshot(struct fd_set_snapshot *snap);
int fds_opened_since(const struct fd_set_snapshot *before, int *out, int max);

#endif /* XPOLL_TESTS_SUPPORT_POSIX_H */
