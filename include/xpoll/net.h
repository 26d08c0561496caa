/*
 * xpoll/net.h - non-blocking socket helpers, and I/O that follows the
 * re-arm rule.
 *
 * Thin wrappers over the socket calls a server built on xpoll needs.  Every
 * descriptor they return is non-blocking and close-on-exec (atomically
 * where the platform allows, with fcntl() elsewhere); on Apple platforms
 * sockets also get SO_NOSIGPIPE.  Every function returns a descriptor, 0 or
 * a length on success and a negative errno on failure, leaving nothing
 * open behind on an error path.  errno is left as the caller had it, on
 * success and on failure alike.
 *
 * Windows (Winsock 2): the library starts Winsock itself, once per process
 * (a program's own WSAStartup/WSACleanup pairs do not disturb it); sockets
 * are non-blocking and not inheritable by child processes; Winsock errors
 * come back as negative errno values (WSAEWOULDBLOCK as -EAGAIN).  What
 * Windows lacks is -ENOTSUP: pipes, SO_REUSEPORT, Unix datagram sockets,
 * SOCK_SEQPACKET.  Where a function differs, its comment says so.
 *
 * Addresses are numeric only (no DNS, nothing that can block):
 *   "127.0.0.1:8080"   IPv4 host:port
 *   "[::1]:8080"       IPv6 [host]:port (a %scope suffix is accepted)
 *   "8080"             a bare port: 127.0.0.1:port
 * Port 0 asks the kernel for an ephemeral port; read it back with
 * xpoll_local_addr().  The port is 1 to 5 decimal digits, at most 65535,
 * nothing else (no sign, no blanks).  Host names are -EINVAL: resolving
 * them could block the loop; resolve them yourself beforehand.
 * Unix-domain functions take a filesystem path; a leading '@' names a
 * Linux abstract socket (-ENOTSUP on other systems).  A malformed address
 * is -EINVAL.
 *
 * Copyright (c) 2026 the xpoll authors.  MIT licence, see LICENSE.
 */
#ifndef XPOLL_NET_H
#define XPOLL_NET_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h> /* ssize_t (mingw-w64 declares it there too) */
#if defined(_WIN32)
/* struct sockaddr and socklen_t (an int) come from Winsock 2
 * ("Creating a Basic Winsock Application", Microsoft Learn: Winsock2.h
 * and Ws2tcpip.h; Winsock2.h includes what it needs of Windows.h), so
 * portable code gets them from <xpoll.h> as it does on POSIX.  As with
 * curl.h and uv.h, include <xpoll.h> before <windows.h>, or define
 * WIN32_LEAN_AND_MEAN first: a full <windows.h> brings the old
 * <winsock.h>, and mingw-w64's <winsock2.h> then warns "Please include
 * winsock2.h before windows.h". */
#include <winsock2.h>
#include <ws2tcpip.h>
#else
#include <sys/socket.h> /* struct sockaddr, socklen_t */
#endif

#include "poll.h" /* XPOLL_API, xpoll, xpoll_rearm */

#ifdef __cplusplus
extern "C" {
#endif

/** Room for any address text these helpers write, NUL included. */
#define XPOLL_ADDRSTRLEN 112

/** xpoll_tcp_listen() / xpoll_udp_bind() flag: set SO_REUSEPORT too. */
#define XPOLL_NET_REUSEPORT 0x1u

/**
 * A TCP listener bound to `addr` with SO_REUSEADDR (and SO_REUSEPORT with
 * XPOLL_NET_REUSEPORT).  backlog <= 0 means SOMAXCONN.
 *
 * SO_REUSEADDR lets a restarted server bind while connections of its
 * previous run are in TIME_WAIT; it does not let two listeners share a
 * port (that is XPOLL_NET_REUSEPORT).  IPV6_V6ONLY is left at the system
 * default: "[::]:port" also accepts IPv4 on Linux (net.ipv6.bindv6only=0)
 * and does not on the BSDs; set it yourself if it matters, or listen on
 * both "0.0.0.0:port" and "[::]:port" with V6ONLY on.
 *
 * Errors: -EINVAL (bad address or flags), -EADDRINUSE, -EACCES,
 * -EADDRNOTAVAIL, -ENOTSUP (XPOLL_NET_REUSEPORT where SO_REUSEPORT does
 * not exist), -EAFNOSUPPORT (an IPv6 address where the system has no
 * IPv6), -EMFILE/-ENFILE (no descriptor left), -ENOBUFS/-ENOMEM, or
 * another negative errno from socket(2), setsockopt(2), bind(2) or
 * listen(2).
 *
 * Windows: no SO_REUSEADDR (there it would let another socket take over
 * the port, and a listener binds past TIME_WAIT without it); "[::]:port"
 * is IPv6-only by default.
 */
XPOLL_API xpoll_socket xpoll_tcp_listen(const char *addr, int backlog,
                                        unsigned flags);

/**
 * Start a non-blocking TCP connect to `addr`; returns the socket at once.
 * The connect finishes in the background: register it XPOLL_WRITABLE, and
 * when it is writable xpoll_socket_error() tells whether it succeeded
 * (the event also says xpoll_event_is_error() when it failed).
 * Errors (immediate failures only): -EINVAL (bad address), -ENETUNREACH,
 * -EADDRNOTAVAIL (no local port left), -EAFNOSUPPORT, -EMFILE/-ENFILE,
 * -ENOBUFS/-ENOMEM, or another negative errno from socket(2) or
 * connect(2).
 */
XPOLL_API xpoll_socket xpoll_tcp_connect(const char *addr);

/**
 * Accept one connection from a TCP or Unix stream listener (accept4()
 * where available).  Returns the new socket, or -EAGAIN when no connection
 * is waiting (with edge triggering: accept until -EAGAIN).  -EMFILE and
 * -ENFILE are returned as they are: the connection stays in the backlog.
 * (Linux reports EMFILE at the limit even when the backlog is empty.)
 *
 * Errors that belong to the dequeued connection, not to the listener -
 * ECONNABORTED (reset while queued), EPROTO and the network errors Linux
 * passes through from the new socket (accept(2), "Error handling") - and
 * EINTR are retried inside: the caller sees a socket or a listener error.
 * The accepted socket's own flags never come from the listener.
 *
 * Errors: -EAGAIN, -EMFILE/-ENFILE (above), -EBADF (listen_fd < 0 or not
 * open), -ENOTSOCK (not a socket), -EINVAL (a stream socket that is not
 * listening), -EOPNOTSUPP (not a stream socket), -ENOBUFS/-ENOMEM, or
 * another negative errno from accept(2).
 */
XPOLL_API xpoll_socket xpoll_accept(xpoll_socket listen_fd);

/**
 * Set or clear TCP_NODELAY (disable Nagle).  Returns 0, or -EBADF (fd < 0
 * or not open), -ENOTSOCK (not a socket), -ENOPROTOOPT or -EOPNOTSUPP (a
 * socket that is not TCP; Linux: UDP and Unix sockets respectively), or
 * another negative errno from setsockopt(2).
 */
XPOLL_API int xpoll_tcp_nodelay(xpoll_socket fd, bool on);

/**
 * The socket's pending error, cleared by reading it (getsockopt SO_ERROR):
 * 0 when there is none, otherwise its negation (-ECONNREFUSED, ...).  A
 * failing getsockopt() is also returned negated (-EBADF, -ENOTSOCK).
 */
XPOLL_API int xpoll_socket_error(xpoll_socket fd);

/**
 * A UDP socket bound to `addr` (flags: XPOLL_NET_REUSEPORT).  No
 * SO_REUSEADDR: on UDP it would let two sockets share a port silently.
 * Errors: -EINVAL (bad address or flags), -ENOTSUP (XPOLL_NET_REUSEPORT
 * where SO_REUSEPORT does not exist), -EADDRINUSE, -EACCES,
 * -EADDRNOTAVAIL, -EAFNOSUPPORT, -EMFILE/-ENFILE, -ENOBUFS/-ENOMEM, or
 * another negative errno from socket(2), setsockopt(2) or bind(2).
 */
XPOLL_API xpoll_socket xpoll_udp_bind(const char *addr, unsigned flags);

/**
 * A UDP socket connected to `addr` (bound to an ephemeral local port), so
 * plain send()/recv() work and ICMP errors are reported.
 * Errors: -EINVAL (bad address), -ENETUNREACH, -EACCES (a broadcast
 * address), -EAFNOSUPPORT, -EMFILE/-ENFILE, -ENOBUFS/-ENOMEM, or
 * another negative errno from socket(2) or connect(2).
 */
XPOLL_API xpoll_socket xpoll_udp_connect(const char *addr);

/**
 * A Unix stream listener at `path`.  An existing file at `path` is not
 * removed (-EADDRINUSE); unlink() it first if it is stale.
 * Errors: -EINVAL (empty or NULL path), -ENAMETOOLONG (does not fit
 * sun_path), -ENOTSUP (an abstract name outside Linux), -EACCES, -ENOENT
 * (a directory of the path does not exist), -EMFILE/-ENFILE,
 * -ENOBUFS/-ENOMEM, or another negative errno from socket(2), bind(2) or
 * listen(2).
 * Windows has Unix stream sockets from Windows 10 1803 on: elsewhere, and
 * under Wine 8.0, -EAFNOSUPPORT.
 */
XPOLL_API xpoll_socket xpoll_unix_listen(const char *path, int backlog);

/**
 * A non-blocking connect to the Unix stream socket at `path`.  Returns the
 * socket; a connect still in progress completes as for TCP.
 * Errors: -EINVAL, -ENAMETOOLONG, -ENOTSUP (an abstract name outside
 * Linux), -ENOENT (no such path), -ECONNREFUSED (nobody listens there),
 * -EAGAIN (Linux: the listener's backlog is full; nothing was connected,
 * try again later), -EACCES, -EAFNOSUPPORT (Windows without Unix sockets:
 * before Windows 10 1803, and Wine 8.0), -EMFILE/-ENFILE,
 * -ENOBUFS/-ENOMEM, or another negative errno from socket(2) or
 * connect(2).
 */
XPOLL_API xpoll_socket xpoll_unix_connect(const char *path);

/**
 * A Unix datagram socket bound to `path` (NULL: unbound; it can still
 * sendto() any bound socket).  Errors: -EINVAL (empty path), -ENAMETOOLONG,
 * -ENOTSUP (an abstract name outside Linux; always on Windows, which has
 * Unix stream sockets only), -EADDRINUSE (a file at `path`), -EACCES,
 * -ENOENT, -EMFILE/-ENFILE, -ENOBUFS/-ENOMEM, or another negative errno
 * from socket(2) or bind(2).
 */
XPOLL_API xpoll_socket xpoll_unix_dgram_bind(const char *path);

/**
 * A connected pair of Unix sockets of `type` (SOCK_STREAM, SOCK_DGRAM or
 * SOCK_SEQPACKET) in fds[0], fds[1], both non-blocking and close-on-exec.
 * On failure both are set to -1.  Errors: -EINVAL (fds NULL, or another
 * type), -EMFILE/-ENFILE, or another negative errno from socketpair(2).
 *
 * Windows has no socketpair(): SOCK_STREAM gives the two ends of a TCP
 * connection over 127.0.0.1 (checked to be between the two: -ECONNABORTED
 * if another program's connection came first), SOCK_DGRAM two UDP sockets
 * on 127.0.0.1 connected to each other, SOCK_SEQPACKET -ENOTSUP.
 */
XPOLL_API int xpoll_socketpair(int type, xpoll_socket fds[2]);

/**
 * A pipe: fds[0] reads, fds[1] writes; both ends non-blocking and
 * close-on-exec.  On failure both are set to -1.
 * Errors: -EINVAL (fds NULL), -EMFILE, -ENFILE.
 * -ENOTSUP on Windows: a pipe is no socket, and the iocp backend polls
 * sockets only.
 */
XPOLL_API int xpoll_pipe(xpoll_socket fds[2]);

/**
 * Close a descriptor made by these helpers (close(), or closesocket() on
 * Windows), so portable code needs no #ifdef.  Deregister it first (see
 * xpoll_deregister()).  Returns 0, or -EBADF (fd < 0 or not open), -EIO.
 * EINTR counts as closed and is never retried: Linux releases the
 * descriptor before close() can fail with it, so a retry could close a
 * descriptor another thread has just been given (close(2), "Dealing with
 * error returns from close()").
 */
XPOLL_API int xpoll_close(xpoll_socket fd);

/**
 * The socket's local / peer address as text in the address syntax above
 * ("127.0.0.1:8080", "[::1]:8080", "[fe80::1%eth0]:8080", a Unix path,
 * "@name" for an abstract Unix socket, "" for an unnamed one), which the
 * functions above accept back.  An abstract name's bytes are copied as
 * they are (a NUL inside one ends the C string early).  Returns the length
 * written (NUL excluded).  Errors: -EINVAL (buf NULL), -ENOSPC (len too
 * small, NUL included: XPOLL_ADDRSTRLEN always fits), -ENOTCONN (peer of
 * an unconnected socket), -EAFNOSUPPORT (not an IP or Unix socket),
 * -EBADF, -ENOTSOCK.
 */
XPOLL_API int xpoll_local_addr(xpoll_socket fd, char *buf, size_t len);
XPOLL_API int xpoll_peer_addr(xpoll_socket fd, char *buf, size_t len);

/* ------------------------------------------------------------------------
 * I/O that follows the re-arm rule
 *
 * read(2), write(2), recv(2), send(2), recvfrom(2), sendto(2) and accept on
 * a descriptor registered with `poll`, which say to the poll what they
 * learnt (xpoll_rearm(), <xpoll/poll.h>).  With these (or with its own
 * xpoll_rearm() after each EAGAIN) a program gets the same edge-triggered
 * behaviour on every backend, poll(2) included: no lost edge, spurious
 * events allowed.  On epoll and kqueue they cost nothing beyond the call
 * itself.
 *
 * Each one:
 *  - checks `poll` (NULL: -EINVAL) and the descriptor (< 0: -EBADF) before
 *    any I/O;
 *  - makes the call, again as long as it fails with EINTR;
 *  - returns the count (0: end of file, or an empty datagram, or len 0),
 *    the new descriptor (accept), or a negative errno; EWOULDBLOCK comes
 *    back as -EAGAIN;
 *  - re-arms the direction it used when the call failed with EAGAIN, and
 *    when it moved fewer bytes than asked but more than none: on a stream
 *    socket such a short transfer proves the buffer was empty (read) or
 *    full (write) at that moment, so a program may stop there as on epoll
 *    (README, "The short-read rule"); elsewhere it costs at most a
 *    spurious event.  Reading calls (read, recv, recvfrom, accept) re-arm
 *    XPOLL_READABLE, writing calls (write, send, sendto) XPOLL_WRITABLE.
 *    A descriptor `poll` does not have registered is not an error: there
 *    is nothing to re-arm.
 *
 * The flags are passed to the system as they are: a send to a socket whose
 * peer is gone raises SIGPIPE unless the socket has SO_NOSIGPIPE (Apple,
 * set by the helpers above), MSG_NOSIGNAL is passed, or SIGPIPE is
 * ignored.
 *
 * Windows: xpoll_read and xpoll_write are recv() and send() (sockets
 * only); a length above INT_MAX moves at most INT_MAX bytes; there is no
 * SIGPIPE.  A datagram longer than the buffer returns the buffer's length,
 * the rest being lost, as on POSIX (Winsock itself fails with
 * WSAEMSGSIZE), and recvfrom's address is cut to *addrlen as on POSIX.
 * ---------------------------------------------------------------------- */

XPOLL_API ssize_t xpoll_read(xpoll *poll, xpoll_socket fd, void *buf,
                             size_t len);
XPOLL_API ssize_t xpoll_write(xpoll *poll, xpoll_socket fd, const void *buf,
                              size_t len);
XPOLL_API ssize_t xpoll_recv(xpoll *poll, xpoll_socket fd, void *buf,
                             size_t len, int flags);
XPOLL_API ssize_t xpoll_send(xpoll *poll, xpoll_socket fd, const void *buf,
                             size_t len, int flags);
/** `addr`/`addrlen` as recvfrom(2): NULL for no address; on return
 * *addrlen is the address's full length, which may exceed the room.
 * Errors, for both functions below, as xpoll_recv(). */
XPOLL_API ssize_t xpoll_recvfrom(xpoll *poll, xpoll_socket fd, void *buf,
                                 size_t len, int flags, struct sockaddr *addr,
                                 socklen_t *addrlen);
XPOLL_API ssize_t xpoll_sendto(xpoll *poll, xpoll_socket fd, const void *buf,
                               size_t len, int flags,
                               const struct sockaddr *addr, socklen_t addrlen);

/**
 * xpoll_accept() on a listener registered with `poll`: one connection, or
 * -EAGAIN once the backlog is empty, after which XPOLL_READABLE is
 * re-armed.  Errors and retries as xpoll_accept() (-EMFILE and -ENFILE
 * leave the connection in the backlog and re-arm nothing: retry once
 * descriptors are back); also -EINVAL (poll NULL) and -EBADF (listen_fd <
 * 0).
 */
XPOLL_API xpoll_socket xpoll_accept_on(xpoll *poll, xpoll_socket listen_fd);

#ifdef __cplusplus
}
#endif

#endif /* XPOLL_NET_H */
