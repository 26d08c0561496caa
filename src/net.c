/*
 * Non-blocking socket helpers (include/xpoll/net.h): sockets from address
 * text, and I/O calls that follow the re-arm rule.  The descriptors come
 * from src/sys/fd.c, which gives them their flags on every platform; the
 * address text is src/addr.c's.
 *
 * Every public function returns its result (a descriptor, 0, a length or
 * a negative errno) and leaves errno as the caller had it, on success and
 * on failure alike: each is one RETURN_KEEPING_ERRNO() of a private
 * function that may use errno freely.  Every error path closes what the
 * function opened.
 */
#include "xpoll/net.h"

#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "addr.h"
#include "sys/fd.h"
#include "sys/selector.h"

/* Return the `type` value `call` gives, with errno as it was before the
 * call. */
#define RETURN_KEEPING_ERRNO_AS(type, call)                                    \
    do {                                                                       \
        int saved_errno_ = errno;                                              \
        type result_ = (call);                                                 \
        errno = saved_errno_;                                                  \
        return result_;                                                        \
    } while (0)
#define RETURN_KEEPING_ERRNO(call) RETURN_KEEPING_ERRNO_AS(int, call)

/* -errno of a failed call, after closing fd.  close() can overwrite errno,
 * so read it first. */
static int fail_close(int fd)
{
    int err = errno;
    close(fd);
    return -err;
}

static int set_int_opt(int fd, int level, int name, int value)
{
    return setsockopt(fd, level, name, &value, sizeof value) < 0 ? -errno : 0;
}

/* socket() + options + bind() [+ listen()], closing on any failure. */
static int bound_socket(const struct sockaddr *sa, socklen_t salen, int type,
                        unsigned flags, int reuseaddr, int backlog)
{
    if (flags & ~XPOLL_NET_REUSEPORT)
        return -EINVAL;
    if ((flags & XPOLL_NET_REUSEPORT) && !xpoll__have_so_reuseport())
        return -ENOTSUP;
    int fd = xpoll__socket(sa->sa_family, type);
    if (fd < 0)
        return fd;
    int err = 0;
    /* SO_REUSEADDR lets a restarted server bind while connections of its
     * previous run linger in TIME_WAIT.  It is not set on UDP sockets:
     * there it would let two sockets silently share one port. */
    if (reuseaddr)
        err = set_int_opt(fd, SOL_SOCKET, SO_REUSEADDR, 1);
    if (err == 0 && (flags & XPOLL_NET_REUSEPORT))
        err = xpoll__set_reuseport(fd);
    if (err == 0 && bind(fd, sa, salen) < 0)
        err = -errno;
    if (err == 0 && type == SOCK_STREAM &&
        listen(fd, backlog <= 0 ? SOMAXCONN : backlog) < 0)
        err = -errno;
    if (err < 0) {
        close(fd);
        return err;
    }
    return fd;
}

/* socket() + connect() that may finish later. */
static int connecting_socket(const struct sockaddr *sa, socklen_t salen,
                             int type)
{
    int fd = xpoll__socket(sa->sa_family, type);
    if (fd < 0)
        return fd;
    /* EINPROGRESS: the handshake goes on in the background; writability
     * plus SO_ERROR report how it ended.  EINTR means the same thing for a
     * connect (POSIX: "the connection shall be established
     * asynchronously"), and calling connect() again would fail with
     * EALREADY.  Linux Unix sockets answer EAGAIN instead when the
     * listener's backlog is full: that connect did not happen. */
    if (connect(fd, sa, salen) < 0 && errno != EINPROGRESS && errno != EINTR)
        return fail_close(fd);
    return fd;
}

static int tcp_listen(const char *addr, int backlog, unsigned flags)
{
    struct sockaddr_storage ss;
    socklen_t len;
    int err = xpoll__addr_parse_ip(addr, &ss, &len);
    if (err < 0)
        return err;
    return bound_socket((struct sockaddr *)&ss, len, SOCK_STREAM, flags, 1,
                        backlog);
}

static int tcp_connect(const char *addr)
{
    struct sockaddr_storage ss;
    socklen_t len;
    int err = xpoll__addr_parse_ip(addr, &ss, &len);
    if (err < 0)
        return err;
    return connecting_socket((struct sockaddr *)&ss, len, SOCK_STREAM);
}

/* Errors that belong to the connection accept() just dequeued, not to the
 * listener: POSIX's ECONNABORTED (reset while in the backlog) and the
 * network errors Linux passes through from the new socket (accept(2),
 * "Error handling").  The next connection may be fine, so accept again;
 * each failed call consumed one connection, so this loop ends. */
static int accept_retryable(int err)
{
    return err == EINTR || err == ECONNABORTED || err == EPROTO ||
           err == ENETDOWN || err == ENETUNREACH || err == EHOSTUNREACH ||
           err == ENOPROTOOPT;
}

static int accept_connection(int listen_fd)
{
    int fd;
    do
        fd = xpoll__accept(listen_fd);
    while (fd < 0 && accept_retryable(-fd));
    return fd;
}

static int socket_error(int fd)
{
    int value = 0;
    socklen_t len = sizeof value;
    if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &value, &len) < 0)
        return -errno;
    return -value;
}

static int udp_bind(const char *addr, unsigned flags)
{
    struct sockaddr_storage ss;
    socklen_t len;
    int err = xpoll__addr_parse_ip(addr, &ss, &len);
    if (err < 0)
        return err;
    return bound_socket((struct sockaddr *)&ss, len, SOCK_DGRAM, flags, 0, 0);
}

static int udp_connect(const char *addr)
{
    struct sockaddr_storage ss;
    socklen_t len;
    int err = xpoll__addr_parse_ip(addr, &ss, &len);
    if (err < 0)
        return err;
    /* A UDP connect() only sets the default peer; it never blocks. */
    int fd = xpoll__socket(ss.ss_family, SOCK_DGRAM);
    if (fd < 0)
        return fd;
    if (connect(fd, (struct sockaddr *)&ss, len) < 0)
        return fail_close(fd);
    return fd;
}

static int unix_listen(const char *path, int backlog)
{
    struct sockaddr_un sun;
    socklen_t len;
    int err = xpoll__addr_parse_unix(path, &sun, &len);
    if (err < 0)
        return err;
    return bound_socket((struct sockaddr *)&sun, len, SOCK_STREAM, 0, 0,
                        backlog);
}

static int unix_connect(const char *path)
{
    struct sockaddr_un sun;
    socklen_t len;
    int err = xpoll__addr_parse_unix(path, &sun, &len);
    if (err < 0)
        return err;
    return connecting_socket((struct sockaddr *)&sun, len, SOCK_STREAM);
}

static int unix_dgram_bind(const char *path)
{
    struct sockaddr_un sun;
    socklen_t len = 0;
    if (path != NULL) {
        int err = xpoll__addr_parse_unix(path, &sun, &len);
        if (err < 0)
            return err;
    }
    int fd = xpoll__socket(AF_UNIX, SOCK_DGRAM);
    if (fd < 0 || path == NULL)
        return fd;
    if (bind(fd, (struct sockaddr *)&sun, len) < 0)
        return fail_close(fd);
    return fd;
}

static int socket_pair(int type, int fds[2])
{
    if (fds == NULL)
        return -EINVAL;
    fds[0] = fds[1] = -1;
    /* Linux quietly turns SOCK_RAW into a datagram pair; net.h promises
     * the three connection types and nothing else. */
    if (type != SOCK_STREAM && type != SOCK_DGRAM && type != SOCK_SEQPACKET)
        return -EINVAL;
    return xpoll__socketpair(type, fds);
}

static int pipe_pair(int fds[2])
{
    if (fds == NULL)
        return -EINVAL;
    fds[0] = fds[1] = -1;
    return xpoll__pipe(fds);
}

static int sock_addr(int fd, char *buf, size_t len, int peer)
{
    struct sockaddr_storage ss;
    socklen_t sslen = sizeof ss;

    if (buf == NULL)
        return -EINVAL;
    memset(&ss, 0, sizeof ss);
    int r = peer ? getpeername(fd, (struct sockaddr *)&ss, &sslen)
                 : getsockname(fd, (struct sockaddr *)&ss, &sslen);
    if (r < 0)
        return -errno;
    if (sslen > sizeof ss)
        sslen = sizeof ss;
    return xpoll__addr_format(&ss, sslen, buf, len);
}

/* ------------------------------------------------------------------------
 * I/O that follows the re-arm rule
 * ---------------------------------------------------------------------- */

/* EWOULDBLOCK is EAGAIN on Linux and the BSDs; POSIX allows it to differ. */
static int would_block(int err)
{
    if (err == EAGAIN)
        return 1;
    return err == EWOULDBLOCK;
}

static int io_check(const xpoll *poll, int fd)
{
    if (poll == NULL)
        return -EINVAL;
    return fd < 0 ? -EBADF : 0;
}

/* The result of one transfer of up to `len` bytes in direction `dir`:
 * re-arms after EAGAIN and after a short transfer (net.h says why).  An
 * unregistered descriptor has nothing to re-arm: -ENOENT is not the
 * caller's business here, and no other error is left after io_check(). */
static ssize_t io_result(xpoll *poll, int fd, ssize_t n, size_t len,
                         xpoll_interests dir)
{
    if (n < 0) {
        int err = errno;
        if (!would_block(err))
            return -err;
        (void)xpoll__rearm(poll, fd, dir);
        return -EAGAIN;
    }
    if (n > 0 && (size_t)n < len)
        (void)xpoll__rearm(poll, fd, dir);
    return n;
}

static ssize_t io_read(xpoll *poll, int fd, void *buf, size_t len)
{
    int err = io_check(poll, fd);
    if (err < 0)
        return err;
    ssize_t n;
    do
        n = read(fd, buf, len);
    while (n < 0 && errno == EINTR);
    return io_result(poll, fd, n, len, XPOLL_READABLE);
}

static ssize_t io_write(xpoll *poll, int fd, const void *buf, size_t len)
{
    int err = io_check(poll, fd);
    if (err < 0)
        return err;
    ssize_t n;
    do
        n = write(fd, buf, len);
    while (n < 0 && errno == EINTR);
    return io_result(poll, fd, n, len, XPOLL_WRITABLE);
}

static ssize_t io_recvfrom(xpoll *poll, int fd, void *buf, size_t len,
                           int flags, struct sockaddr *addr, socklen_t *addrlen)
{
    int err = io_check(poll, fd);
    if (err < 0)
        return err;
    ssize_t n;
    do
        n = recvfrom(fd, buf, len, flags, addr, addrlen);
    while (n < 0 && errno == EINTR);
    return io_result(poll, fd, n, len, XPOLL_READABLE);
}

static ssize_t io_sendto(xpoll *poll, int fd, const void *buf, size_t len,
                         int flags, const struct sockaddr *addr,
                         socklen_t addrlen)
{
    int err = io_check(poll, fd);
    if (err < 0)
        return err;
    ssize_t n;
    do
        n = sendto(fd, buf, len, flags, addr, addrlen);
    while (n < 0 && errno == EINTR);
    return io_result(poll, fd, n, len, XPOLL_WRITABLE);
}

static int io_accept(xpoll *poll, int listen_fd)
{
    int fd = io_check(poll, listen_fd);
    if (fd < 0)
        return fd;
    fd = accept_connection(listen_fd);
    if (fd < 0 && would_block(-fd)) {
        (void)xpoll__rearm(poll, listen_fd, XPOLL_READABLE);
        return -EAGAIN;
    }
    return fd;
}

/* ------------------------------------------------------------------------
 * The public functions: each keeps the caller's errno.
 * ---------------------------------------------------------------------- */

xpoll_socket xpoll_tcp_listen(const char *addr, int backlog, unsigned flags)
{
    RETURN_KEEPING_ERRNO(tcp_listen(addr, backlog, flags));
}

xpoll_socket xpoll_tcp_connect(const char *addr)
{
    RETURN_KEEPING_ERRNO(tcp_connect(addr));
}

xpoll_socket xpoll_accept(xpoll_socket listen_fd)
{
    RETURN_KEEPING_ERRNO(accept_connection(listen_fd));
}

int xpoll_tcp_nodelay(xpoll_socket fd, bool on)
{
    RETURN_KEEPING_ERRNO(set_int_opt(fd, IPPROTO_TCP, TCP_NODELAY, on ? 1 : 0));
}

int xpoll_socket_error(xpoll_socket fd)
{
    RETURN_KEEPING_ERRNO(socket_error(fd));
}

xpoll_socket xpoll_udp_bind(const char *addr, unsigned flags)
{
    RETURN_KEEPING_ERRNO(udp_bind(addr, flags));
}

xpoll_socket xpoll_udp_connect(const char *addr)
{
    RETURN_KEEPING_ERRNO(udp_connect(addr));
}

xpoll_socket xpoll_unix_listen(const char *path, int backlog)
{
    RETURN_KEEPING_ERRNO(unix_listen(path, backlog));
}

xpoll_socket xpoll_unix_connect(const char *path)
{
    RETURN_KEEPING_ERRNO(unix_connect(path));
}

xpoll_socket xpoll_unix_dgram_bind(const char *path)
{
    RETURN_KEEPING_ERRNO(unix_dgram_bind(path));
}

int xpoll_socketpair(int type, xpoll_socket fds[2])
{
    RETURN_KEEPING_ERRNO(socket_pair(type, fds));
}

int xpoll_pipe(xpoll_socket fds[2])
{
    RETURN_KEEPING_ERRNO(pipe_pair(fds));
}

int xpoll_close(xpoll_socket fd)
{
    if (fd < 0)
        return -EBADF;
    if (close(fd) < 0 && errno != EINTR)
        return -errno;
    return 0;
}

int xpoll_local_addr(xpoll_socket fd, char *buf, size_t len)
{
    RETURN_KEEPING_ERRNO(sock_addr(fd, buf, len, 0));
}

int xpoll_peer_addr(xpoll_socket fd, char *buf, size_t len)
{
    RETURN_KEEPING_ERRNO(sock_addr(fd, buf, len, 1));
}

ssize_t xpoll_read(xpoll *poll, xpoll_socket fd, void *buf, size_t len)
{
    RETURN_KEEPING_ERRNO_AS(ssize_t, io_read(poll, fd, buf, len));
}

ssize_t xpoll_write(xpoll *poll, xpoll_socket fd, const void *buf, size_t len)
{
    RETURN_KEEPING_ERRNO_AS(ssize_t, io_write(poll, fd, buf, len));
}

/* recv(2) and send(2) are recvfrom(2) and sendto(2) without an address
 * (POSIX says so of each). */
ssize_t xpoll_recv(xpoll *poll, xpoll_socket fd, void *buf, size_t len,
                   int flags)
{
    RETURN_KEEPING_ERRNO_AS(ssize_t,
                            io_recvfrom(poll, fd, buf, len, flags, NULL, NULL));
}

ssize_t xpoll_send(xpoll *poll, xpoll_socket fd, const void *buf, size_t len,
                   int flags)
{
    RETURN_KEEPING_ERRNO_AS(ssize_t,
                            io_sendto(poll, fd, buf, len, flags, NULL, 0));
}

ssize_t xpoll_recvfrom(xpoll *poll, xpoll_socket fd, void *buf, size_t len,
                       int flags, struct sockaddr *addr, socklen_t *addrlen)
{
    RETURN_KEEPING_ERRNO_AS(
        ssize_t, io_recvfrom(poll, fd, buf, len, flags, addr, addrlen));
}

ssize_t xpoll_sendto(xpoll *poll, xpoll_socket fd, const void *buf, size_t len,
                     int flags, const struct sockaddr *addr, socklen_t addrlen)
{
    RETURN_KEEPING_ERRNO_AS(
        ssize_t, io_sendto(poll, fd, buf, len, flags, addr, addrlen));
}

xpoll_socket xpoll_accept_on(xpoll *poll, xpoll_socket listen_fd)
{
    RETURN_KEEPING_ERRNO(io_accept(poll, listen_fd));
}
