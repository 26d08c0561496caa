/*
 * Descriptors as the library hands them out, and the socket features that
 * differ between systems.  Not installed.
 *
 * Every descriptor made here is non-blocking and close-on-exec (but see
 * xpoll__cloexec()); sockets
 * also get SO_NOSIGPIPE where the system has it.  Each function returns a
 * descriptor (or 0, with both ends in fds[]) or a negative errno, and on
 * failure closes what it opened and leaves fds[] as it was
 * (src/sys/fd.c).
 */
#ifndef XPOLL_SYS_FD_H
#define XPOLL_SYS_FD_H

#include <stdbool.h>

/* socket(domain, type, 0). */
int xpoll__socket(int domain, int type);

/* socketpair(AF_UNIX, type, 0, fds). */
int xpoll__socketpair(int type, int fds[2]);

/* One accept(listen_fd, NULL, NULL); the new socket's flags never come
 * from the listener. */
int xpoll__accept(int listen_fd);

/* pipe(fds): fds[0] reads, fds[1] writes. */
int xpoll__pipe(int fds[2]);

/* The result of a call that creates a descriptor but has no flag for
 * close-on-exec (kqueue() on macOS): -errno when fd < 0 (errno as the
 * call left it), else fd with FD_CLOEXEC set, or closed and -errno when
 * that fails.  Blocking mode is left as it is. */
int xpoll__cloexec(int fd);

/* Whether the system has SO_REUSEPORT (asked of src/sys/fd.c, whose
 * feature macros make glibc's <sys/socket.h> define it; a file compiled
 * without them would see it missing).  Where it has not,
 * xpoll__set_reuseport() is -ENOTSUP. */
bool xpoll__have_so_reuseport(void);
int xpoll__set_reuseport(int fd);

#endif /* XPOLL_SYS_FD_H */
