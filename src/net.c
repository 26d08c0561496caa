/*
 * Non-blocking socket helpers (include/xpoll/net.h): sockets from address
 * text, and I/O calls that follow the re-arm rule.  The same code on every
 * system: the system calls are src/sys/net_sys.h's (POSIX in
 * src/sys/net_posix.c, Winsock in src/sys/net_winsock.c), each returning
 * a negative errno; the address text is src/addr.c's.
 *
 * Every public function returns its result (a descriptor, 0, a length or
 * a negative errno) and leaves errno as the caller had it, on success and
 * on failure alike: each is one RETURN_KEEPING_ERRNO() of a private
 * function that may use errno freely.  Every error path closes what the
 * function opened.
 */
#include "xpoll/net.h"

#include <errno.h>
#include <string.h>

#include "addr.h"
#include "sys/net_sys.h"
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
#define RETURN_SOCKET_KEEPING_ERRNO(call)                                      \
    RETURN_KEEPING_ERRNO_AS(xpoll_socket, call)

/* Every function that takes a descriptor refuses a negative one with
 * -EBADF before any system call, the same on every system.  POSIX calls
 * would say EBADF themselves; Windows would not: xpoll_socket holds the
 * whole SOCKET (a HANDLE), and -1 as a HANDLE is the current process
 * (GetCurrentProcess, Microsoft Learn: "currently (HANDLE)-1"), which
 * Winsock calls no socket and GetHandleInformation finds open, so the
 * call would answer -ENOTSOCK. */
static int descriptor_check(xpoll_socket fd)
{
    return fd < 0 ? -EBADF : 0;
}

/* socket() + options + bind() [+ listen()], closing on any failure. */
static xpoll_socket bound_socket(const struct sockaddr *sa, socklen_t salen,
                                 int type, unsigned flags, int reuseaddr,
                                 int backlog)
{
    if (flags & ~XPOLL_NET_REUSEPORT)
        return -EINVAL;
    if ((flags & XPOLL_NET_REUSEPORT) && !xpoll__net_have_reuse_port())
        return -ENOTSUP;
    xpoll_socket fd = xpoll__net_socket(sa->sa_family, type);
    if (fd < 0)
        return fd;
    int err = 0;
    /* What lets a restarted server bind while connections of its previous
     * run linger in TIME_WAIT (SO_REUSEADDR on POSIX).  Not for UDP
     * sockets: there SO_REUSEADDR would let two sockets silently share one
     * port. */
    if (reuseaddr)
        err = xpoll__net_reuse_addr(fd);
    if (err == 0 && (flags & XPOLL_NET_REUSEPORT))
        err = xpoll__net_reuse_port(fd);
    if (err == 0)
        err = xpoll__net_bind(fd, sa, salen);
    if (err == 0 && type == SOCK_STREAM)
        err = xpoll__net_listen(fd, backlog <= 0 ? SOMAXCONN : backlog);
    if (err < 0) {
        xpoll__net_close(fd);
        return err;
    }
    return fd;
}

/* socket() + connect() that may finish later (a stream socket's handshake
 * goes on in the background; a datagram socket's connect only sets its
 * default peer and never blocks). */
static xpoll_socket connecting_socket(const struct sockaddr *sa,
                                      socklen_t salen, int type)
{
    xpoll_socket fd = xpoll__net_socket(sa->sa_family, type);
    if (fd < 0)
        return fd;
    int err = xpoll__net_connect(fd, sa, salen);
    if (err < 0) {
        xpoll__net_close(fd);
        return err;
    }
    return fd;
}

static xpoll_socket tcp_listen(const char *addr, int backlog, unsigned flags)
{
    struct sockaddr_storage ss;
    socklen_t len;
    int err = xpoll__addr_parse_ip(addr, &ss, &len);
    if (err < 0)
        return err;
    return bound_socket((struct sockaddr *)&ss, len, SOCK_STREAM, flags, 1,
                        backlog);
}

static xpoll_socket tcp_connect(const char *addr)
{
    struct sockaddr_storage ss;
    socklen_t len;
    int err = xpoll__addr_parse_ip(addr, &ss, &len);
    if (err < 0)
        return err;
    return connecting_socket((struct sockaddr *)&ss, len, SOCK_STREAM);
}

static xpoll_socket udp_bind(const char *addr, unsigned flags)
{
    struct sockaddr_storage ss;
    socklen_t len;
    int err = xpoll__addr_parse_ip(addr, &ss, &len);
    if (err < 0)
        return err;
    return bound_socket((struct sockaddr *)&ss, len, SOCK_DGRAM, flags, 0, 0);
}

static xpoll_socket udp_connect(const char *addr)
{
    struct sockaddr_storage ss;
    socklen_t len;
    int err = xpoll__addr_parse_ip(addr, &ss, &len);
    if (err < 0)
        return err;
    return connecting_socket((struct sockaddr *)&ss, len, SOCK_DGRAM);
}

static xpoll_socket unix_listen(const char *path, int backlog)
{
    struct sockaddr_un sun;
    socklen_t len;
    int err = xpoll__addr_parse_unix(path, &sun, &len);
    if (err < 0)
        return err;
    return bound_socket((struct sockaddr *)&sun, len, SOCK_STREAM, 0, 0,
                        backlog);
}

static xpoll_socket unix_connect(const char *path)
{
    struct sockaddr_un sun;
    socklen_t len;
    int err = xpoll__addr_parse_unix(path, &sun, &len);
    if (err < 0)
        return err;
    return connecting_socket((struct sockaddr *)&sun, len, SOCK_STREAM);
}

static xpoll_socket unix_dgram_bind(const char *path)
{
    struct sockaddr_un sun;
    socklen_t len = 0;
    if (path != NULL) {
        int err = xpoll__addr_parse_unix(path, &sun, &len);
        if (err < 0)
            return err;
    }
    xpoll_socket fd = xpoll__net_socket(AF_UNIX, SOCK_DGRAM);
    if (fd < 0 || path == NULL)
        return fd;
    int err = xpoll__net_bind(fd, (struct sockaddr *)&sun, len);
    if (err < 0) {
        xpoll__net_close(fd);
        return err;
    }
    return fd;
}

static int socket_pair(int type, xpoll_socket fds[2])
{
    if (fds == NULL)
        return -EINVAL;
    fds[0] = fds[1] = -1;
    /* Linux quietly turns SOCK_RAW into a datagram pair; net.h promises
     * the three connection types and nothing else. */
    if (type != SOCK_STREAM && type != SOCK_DGRAM && type != SOCK_SEQPACKET)
        return -EINVAL;
    return xpoll__net_socketpair(type, fds);
}

static int pipe_pair(xpoll_socket fds[2])
{
    if (fds == NULL)
        return -EINVAL;
    fds[0] = fds[1] = -1;
    return xpoll__net_pipe(fds);
}

static int close_socket(xpoll_socket fd)
{
    int err = descriptor_check(fd);
    return err < 0 ? err : xpoll__net_close(fd);
}

static xpoll_socket accept_socket(xpoll_socket listen_fd)
{
    int err = descriptor_check(listen_fd);
    return err < 0 ? err : xpoll__net_accept(listen_fd);
}

static int tcp_nodelay(xpoll_socket fd, bool on)
{
    int err = descriptor_check(fd);
    return err < 0
               ? err
               : xpoll__net_set_int(fd, IPPROTO_TCP, TCP_NODELAY, on ? 1 : 0);
}

static int socket_error(xpoll_socket fd)
{
    int err = descriptor_check(fd);
    return err < 0 ? err : xpoll__net_error(fd);
}

/* The buffer is checked before the descriptor. */
static int sock_addr(xpoll_socket fd, char *buf, size_t len, bool peer)
{
    struct sockaddr_storage ss;
    socklen_t sslen = sizeof ss;

    if (buf == NULL)
        return -EINVAL;
    int err = descriptor_check(fd);
    if (err < 0)
        return err;
    memset(&ss, 0, sizeof ss);
    err = xpoll__net_name(fd, &ss, &sslen, peer);
    if (err < 0)
        return err;
    if ((size_t)sslen > sizeof ss)
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

static int io_check(const xpoll *poll, xpoll_socket fd)
{
    if (poll == NULL)
        return -EINVAL;
    return descriptor_check(fd);
}

/* The result (a count, or a negative errno) of one transfer of up to `len`
 * bytes in direction `dir`: re-arms after EAGAIN and after a short
 * transfer (net.h says why).  An unregistered descriptor has nothing to
 * re-arm: -ENOENT is not the caller's business here, and no other error is
 * left after io_check(). */
static ssize_t io_result(xpoll *poll, xpoll_socket fd, ssize_t n, size_t len,
                         xpoll_interests dir)
{
    if (n < 0) {
        if (!would_block((int)-n))
            return n;
        (void)xpoll__rearm(poll, fd, dir);
        return -EAGAIN;
    }
    if (n > 0 && (size_t)n < len)
        (void)xpoll__rearm(poll, fd, dir);
    return n;
}

static ssize_t io_read(xpoll *poll, xpoll_socket fd, void *buf, size_t len)
{
    int err = io_check(poll, fd);
    if (err < 0)
        return err;
    ssize_t n;
    do
        n = xpoll__net_read(fd, buf, len);
    while (n == -EINTR);
    return io_result(poll, fd, n, len, XPOLL_READABLE);
}

static ssize_t io_write(xpoll *poll, xpoll_socket fd, const void *buf,
                        size_t len)
{
    int err = io_check(poll, fd);
    if (err < 0)
        return err;
    ssize_t n;
    do
        n = xpoll__net_write(fd, buf, len);
    while (n == -EINTR);
    return io_result(poll, fd, n, len, XPOLL_WRITABLE);
}

static ssize_t io_recvfrom(xpoll *poll, xpoll_socket fd, void *buf, size_t len,
                           int flags, struct sockaddr *addr, socklen_t *addrlen)
{
    int err = io_check(poll, fd);
    if (err < 0)
        return err;
    ssize_t n;
    do
        n = xpoll__net_recvfrom(fd, buf, len, flags, addr, addrlen);
    while (n == -EINTR);
    return io_result(poll, fd, n, len, XPOLL_READABLE);
}

static ssize_t io_sendto(xpoll *poll, xpoll_socket fd, const void *buf,
                         size_t len, int flags, const struct sockaddr *addr,
                         socklen_t addrlen)
{
    int err = io_check(poll, fd);
    if (err < 0)
        return err;
    ssize_t n;
    do
        n = xpoll__net_sendto(fd, buf, len, flags, addr, addrlen);
    while (n == -EINTR);
    return io_result(poll, fd, n, len, XPOLL_WRITABLE);
}

static xpoll_socket io_accept(xpoll *poll, xpoll_socket listen_fd)
{
    xpoll_socket fd = io_check(poll, listen_fd);
    if (fd < 0)
        return fd;
    fd = xpoll__net_accept(listen_fd);
    if (fd < 0 && would_block((int)-fd)) {
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
    RETURN_SOCKET_KEEPING_ERRNO(tcp_listen(addr, backlog, flags));
}

xpoll_socket xpoll_tcp_connect(const char *addr)
{
    RETURN_SOCKET_KEEPING_ERRNO(tcp_connect(addr));
}

xpoll_socket xpoll_accept(xpoll_socket listen_fd)
{
    RETURN_SOCKET_KEEPING_ERRNO(accept_socket(listen_fd));
}

int xpoll_tcp_nodelay(xpoll_socket fd, bool on)
{
    RETURN_KEEPING_ERRNO(tcp_nodelay(fd, on));
}

int xpoll_socket_error(xpoll_socket fd)
{
    RETURN_KEEPING_ERRNO(socket_error(fd));
}

xpoll_socket xpoll_udp_bind(const char *addr, unsigned flags)
{
    RETURN_SOCKET_KEEPING_ERRNO(udp_bind(addr, flags));
}

xpoll_socket xpoll_udp_connect(const char *addr)
{
    RETURN_SOCKET_KEEPING_ERRNO(udp_connect(addr));
}

xpoll_socket xpoll_unix_listen(const char *path, int backlog)
{
    RETURN_SOCKET_KEEPING_ERRNO(unix_listen(path, backlog));
}

xpoll_socket xpoll_unix_connect(const char *path)
{
    RETURN_SOCKET_KEEPING_ERRNO(unix_connect(path));
}

xpoll_socket xpoll_unix_dgram_bind(const char *path)
{
    RETURN_SOCKET_KEEPING_ERRNO(unix_dgram_bind(path));
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
    RETURN_KEEPING_ERRNO(close_socket(fd));
}

int xpoll_local_addr(xpoll_socket fd, char *buf, size_t len)
{
    RETURN_KEEPING_ERRNO(sock_addr(fd, buf, len, false));
}

int xpoll_peer_addr(xpoll_socket fd, char *buf, size_t len)
{
    RETURN_KEEPING_ERRNO(sock_addr(fd, buf, len, true));
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
    RETURN_SOCKET_KEEPING_ERRNO(io_accept(poll, listen_fd));
}
