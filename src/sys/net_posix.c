/*
 * The system calls behind <xpoll/net.h> on POSIX systems (src/sys/net_sys.h;
 * the Windows side is src/sys/net_winsock.c).  Each is the socket call
 * itself with its errno returned negated; the descriptors come from
 * src/sys/fd.c, the one place that gives them their flags.
 */
#include <errno.h>
#include <sys/socket.h>
#include <unistd.h>

#include "fd.h"
#include "net_sys.h"

/* -errno of the call just failed. */
static int fail(void)
{
    return -errno;
}

xpoll_socket xpoll__net_socket(int domain, int type)
{
    return xpoll__socket(domain, type);
}

/* Errors that belong to the connection accept() just dequeued, not to the
 * listener: POSIX's ECONNABORTED (reset while in the backlog) and the
 * network errors Linux passes through from the new socket (accept(2),
 * "Error handling").  The next connection may be fine, so accept again;
 * each failed call consumed one connection, so this loop ends. */
static bool accept_retryable(int err)
{
    return err == EINTR || err == ECONNABORTED || err == EPROTO ||
           err == ENETDOWN || err == ENETUNREACH || err == EHOSTUNREACH ||
           err == ENOPROTOOPT;
}

xpoll_socket xpoll__net_accept(xpoll_socket listener)
{
    int fd;
    do
        fd = xpoll__accept(listener);
    while (fd < 0 && accept_retryable(-fd));
    return fd;
}

int xpoll__net_socketpair(int type, xpoll_socket fds[2])
{
    return xpoll__socketpair(type, fds);
}

int xpoll__net_pipe(xpoll_socket fds[2])
{
    return xpoll__pipe(fds);
}

/* EINTR counts as closed and is never retried: Linux releases the
 * descriptor before close() can fail with it, so a retry could close a
 * descriptor another thread has just been given (close(2), "Dealing with
 * error returns from close()"). */
int xpoll__net_close(xpoll_socket s)
{
    if (close(s) < 0 && errno != EINTR)
        return fail();
    return 0;
}

int xpoll__net_bind(xpoll_socket s, const struct sockaddr *sa, socklen_t len)
{
    return bind(s, sa, len) < 0 ? fail() : 0;
}

int xpoll__net_listen(xpoll_socket s, int backlog)
{
    return listen(s, backlog) < 0 ? fail() : 0;
}

/* EINPROGRESS: the handshake goes on in the background; writability plus
 * SO_ERROR report how it ended.  EINTR means the same thing for a connect
 * (POSIX: "the connection shall be established asynchronously"), and
 * calling connect() again would fail with EALREADY.  Linux Unix sockets
 * answer EAGAIN instead when the listener's backlog is full: that connect
 * did not happen. */
int xpoll__net_connect(xpoll_socket s, const struct sockaddr *sa, socklen_t len)
{
    if (connect(s, sa, len) < 0 && errno != EINPROGRESS && errno != EINTR)
        return fail();
    return 0;
}

int xpoll__net_set_int(xpoll_socket s, int level, int name, int value)
{
    return setsockopt(s, level, name, &value, sizeof value) < 0 ? fail() : 0;
}

/* SO_REUSEADDR: without it bind() fails with EADDRINUSE while a
 * connection of the port's previous listener lingers in TIME_WAIT
 * (socket(7), SO_REUSEADDR). */
int xpoll__net_reuse_addr(xpoll_socket s)
{
    return xpoll__net_set_int(s, SOL_SOCKET, SO_REUSEADDR, 1);
}

bool xpoll__net_have_reuse_port(void)
{
    return xpoll__have_so_reuseport();
}

int xpoll__net_reuse_port(xpoll_socket s)
{
    return xpoll__set_reuseport(s);
}

int xpoll__net_error(xpoll_socket s)
{
    int value = 0;
    socklen_t len = sizeof value;
    if (getsockopt(s, SOL_SOCKET, SO_ERROR, &value, &len) < 0)
        return fail();
    return -value;
}

int xpoll__net_name(xpoll_socket s, struct sockaddr_storage *ss, socklen_t *len,
                    bool peer)
{
    int r = peer ? getpeername(s, (struct sockaddr *)ss, len)
                 : getsockname(s, (struct sockaddr *)ss, len);
    return r < 0 ? fail() : 0;
}

ssize_t xpoll__net_read(xpoll_socket s, void *buf, size_t len)
{
    ssize_t n = read(s, buf, len);
    return n < 0 ? fail() : n;
}

ssize_t xpoll__net_write(xpoll_socket s, const void *buf, size_t len)
{
    ssize_t n = write(s, buf, len);
    return n < 0 ? fail() : n;
}

ssize_t xpoll__net_recvfrom(xpoll_socket s, void *buf, size_t len, int flags,
                            struct sockaddr *addr, socklen_t *addrlen)
{
    ssize_t n = recvfrom(s, buf, len, flags, addr, addrlen);
    return n < 0 ? fail() : n;
}

ssize_t xpoll__net_sendto(xpoll_socket s, const void *buf, size_t len,
                          int flags, const struct sockaddr *addr,
                          socklen_t addrlen)
{
    ssize_t n = sendto(s, buf, len, flags, addr, addrlen);
    return n < 0 ? fail() : n;
}
