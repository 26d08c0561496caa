/*
 * The one place descriptors get their flags.  Where the system can create
 * a descriptor non-blocking and close-on-exec in the same call
 * (SOCK_NONBLOCK | SOCK_CLOEXEC in socket(2) and socketpair(2), accept4(2),
 * pipe2(2): Linux, the BSDs), it does; macOS has none of them, so there
 * fcntl(2) sets both right after.  The atomic form matters when another
 * thread forks and execs in between: the child inherits a descriptor that
 * has no FD_CLOEXEC yet (mio #1590); on macOS nothing better exists.
 * libuv's uv__socket() and uv__accept() (src/unix/core.c) make the same
 * choice.
 *
 * CMake defines XPOLL_HAVE_ACCEPT4 and XPOLL_HAVE_PIPE2 where the C library
 * declares them.
 */
#define _GNU_SOURCE /* accept4(), pipe2(), SOCK_NONBLOCK on glibc */
#include <errno.h>
#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "fd.h"

/* What finish() still has to do for a new descriptor. */
#define SET_CLOEXEC  0x1 /* FD_CLOEXEC: the call could not */
#define SET_NONBLOCK 0x2 /* O_NONBLOCK: the call could not */
#define IS_SOCKET    0x4 /* set SO_NOSIGPIPE where the system has it */
#define BY_FCNTL     (SET_CLOEXEC | SET_NONBLOCK)

#if defined(SOCK_NONBLOCK) && defined(SOCK_CLOEXEC)
#define SOCK_FLAGS  (SOCK_NONBLOCK | SOCK_CLOEXEC)
#define SOCK_FINISH IS_SOCKET
#else
#define SOCK_FLAGS  0
#define SOCK_FINISH (IS_SOCKET | BY_FCNTL)
#endif

/* Apple has no MSG_NOSIGNAL for write(), so SO_NOSIGPIPE is the only
 * per-socket protection from SIGPIPE; it does not apply to pipes. */
static int set_flags(int fd, unsigned todo)
{
    if (todo & SET_NONBLOCK) {
        int fl = fcntl(fd, F_GETFL);
        if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0)
            return -errno;
    }
    if (todo & SET_CLOEXEC) {
        int fd_fl = fcntl(fd, F_GETFD);
        if (fd_fl < 0 || fcntl(fd, F_SETFD, fd_fl | FD_CLOEXEC) < 0)
            return -errno;
    }
#ifdef SO_NOSIGPIPE
    if (todo & IS_SOCKET) {
        int one = 1;
        if (setsockopt(fd, SOL_SOCKET, SO_NOSIGPIPE, &one, sizeof one) < 0)
            return -errno;
    }
#endif
    return 0;
}

/* The result of a call that creates fd: -errno when it failed, else fd
 * with its flags, or closed when they cannot be set. */
static int finish(int fd, unsigned todo)
{
    if (fd < 0)
        return -errno;
    int err = set_flags(fd, todo);
    if (err < 0) {
        close(fd);
        return err;
    }
    return fd;
}

/* finish() for a call that creates a pair (made: its return value);
 * fds[] is written only on success. */
static int finish_pair(int made, const int pair[2], int fds[2], unsigned todo)
{
    if (made < 0)
        return -errno;
    int err = set_flags(pair[0], todo);
    if (err == 0)
        err = set_flags(pair[1], todo);
    if (err < 0) {
        close(pair[0]);
        close(pair[1]);
        return err;
    }
    fds[0] = pair[0];
    fds[1] = pair[1];
    return 0;
}

int xpoll__socket(int domain, int type)
{
    return finish(socket(domain, type | SOCK_FLAGS, 0), SOCK_FINISH);
}

int xpoll__socketpair(int type, int fds[2])
{
    int pair[2];
    int made = socketpair(AF_UNIX, type | SOCK_FLAGS, 0, pair);
    return finish_pair(made, pair, fds, SOCK_FINISH);
}

/* accept() does not inherit O_NONBLOCK from the listener on Linux, and
 * POSIX leaves it unspecified: without accept4() both flags are set on
 * every platform. */
int xpoll__accept(int listen_fd)
{
#ifdef XPOLL_HAVE_ACCEPT4
    return finish(accept4(listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC),
                  IS_SOCKET);
#else
    return finish(accept(listen_fd, NULL, NULL), IS_SOCKET | BY_FCNTL);
#endif
}

int xpoll__pipe(int fds[2])
{
    int pair[2];
#ifdef XPOLL_HAVE_PIPE2
    return finish_pair(pipe2(pair, O_NONBLOCK | O_CLOEXEC), pair, fds, 0);
#else
    return finish_pair(pipe(pair), pair, fds, BY_FCNTL);
#endif
}

int xpoll__cloexec(int fd)
{
    return finish(fd, SET_CLOEXEC);
}

bool xpoll__have_so_reuseport(void)
{
#ifdef SO_REUSEPORT
    return true;
#else
    return false;
#endif
}

int xpoll__set_reuseport(int fd)
{
#ifdef SO_REUSEPORT
    int one = 1;
    if (setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one) < 0)
        return -errno;
    return 0;
#else
    (void)fd;
    return -ENOTSUP;
#endif
}
