/*
 * The system calls behind <xpoll/net.h>, so that src/net.c and src/addr.c
 * are the same code on every system.  Not installed.
 *
 *  - POSIX: src/sys/net_posix.c, the socket calls themselves, with the
 *    descriptors made by src/sys/fd.c (non-blocking, close-on-exec);
 *  - Windows: src/sys/net_winsock.c, Winsock 2 (what it does differently,
 *    and how that is met, is written at the top of that file).
 *
 * Every function returns its result (a socket, 0, a length) or a negative
 * errno; none reports through errno or WSAGetLastError(), and none changes
 * errno on success.  Every function that makes sockets closes them again
 * on its error paths.
 */
#ifndef XPOLL_SYS_NET_SYS_H
#define XPOLL_SYS_NET_SYS_H

#include <stdbool.h>
#include <stddef.h>

#if defined(_WIN32)
/* Winsock 2 before anything that includes <windows.h> ("Creating a Basic
 * Winsock Application", Microsoft Learn); <afunix.h> has struct
 * sockaddr_un (mingw-w64 10); <iphlpapi.h> declares if_nametoindex() and
 * if_indextoname() through <netioapi.h> (Microsoft Learn, "if_nametoindex
 * function": Netioapi.h, include Iphlpapi.h). */
#include <winsock2.h>
#include <ws2tcpip.h>
#include <afunix.h>
#include <iphlpapi.h>
#else
#include <arpa/inet.h>
#include <net/if.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <sys/un.h>
#endif

#include "xpoll/net.h" /* xpoll_socket, ssize_t, struct sockaddr */

/* Abstract Unix socket names (a sun_path that starts with a NUL) exist on
 * Linux only (unix(7), "Abstract sockets"). */
#if defined(__linux__)
#define XPOLL__HAVE_ABSTRACT_UNIX 1
#else
#define XPOLL__HAVE_ABSTRACT_UNIX 0
#endif

/* A new socket of (domain, type, protocol 0): non-blocking, and not
 * handed to child processes (close-on-exec; on Windows not inheritable);
 * on Apple platforms with SO_NOSIGPIPE. */
xpoll_socket xpoll__net_socket(int domain, int type);

/* A connection accepted from `listener`, with the flags above (never the
 * listener's).  Errors that belong to the connection dequeued, not to the
 * listener (a reset while it waited in the backlog, ...), are retried
 * inside: the caller sees a socket or the listener's error (-EAGAIN when
 * the backlog is empty). */
xpoll_socket xpoll__net_accept(xpoll_socket listener);

/* A connected pair of `type` (SOCK_STREAM, SOCK_DGRAM or SOCK_SEQPACKET;
 * the caller checked) in fds[0], fds[1], with the flags above; fds[] is
 * written only on success. */
int xpoll__net_socketpair(int type, xpoll_socket fds[2]);

/* pipe(): fds[0] reads, fds[1] writes; written only on success. */
int xpoll__net_pipe(xpoll_socket fds[2]);

/* Close `s` (s >= 0).  An interrupted close counts as closed. */
int xpoll__net_close(xpoll_socket s);

int xpoll__net_bind(xpoll_socket s, const struct sockaddr *sa, socklen_t len);
int xpoll__net_listen(xpoll_socket s, int backlog);

/* connect(): 0 when the connection is made or goes on in the background
 * (a stream socket's handshake: its end is told by writability and
 * xpoll__net_error()). */
int xpoll__net_connect(xpoll_socket s, const struct sockaddr *sa,
                       socklen_t len);

/* setsockopt() of an int option. */
int xpoll__net_set_int(xpoll_socket s, int level, int name, int value);

/* What lets a restarted TCP server bind its port again while connections
 * of its previous run are in TIME_WAIT, set on a listener before bind(). */
int xpoll__net_reuse_addr(xpoll_socket s);

/* Whether the system has SO_REUSEPORT; where it has not,
 * xpoll__net_reuse_port() is -ENOTSUP. */
bool xpoll__net_have_reuse_port(void);
int xpoll__net_reuse_port(xpoll_socket s);

/* The socket's pending error (SO_ERROR), read and cleared: 0 or its
 * negation; a failing getsockopt() is returned negated too. */
int xpoll__net_error(xpoll_socket s);

/* getsockname() (peer false) or getpeername() (peer true) into *ss; *len
 * is the address's full length, which may exceed sizeof *ss. */
int xpoll__net_name(xpoll_socket s, struct sockaddr_storage *ss, socklen_t *len,
                    bool peer);

/* One read(2)/write(2) of a descriptor (on Windows: recv/send of a
 * socket), and recvfrom(2)/sendto(2): a count or a negative errno.  A call
 * that would block is -EAGAIN, or -EWOULDBLOCK on a POSIX system where the
 * two differ (none of those supported); an interrupted call is -EINTR, for
 * the caller to repeat. */
ssize_t xpoll__net_read(xpoll_socket s, void *buf, size_t len);
ssize_t xpoll__net_write(xpoll_socket s, const void *buf, size_t len);
ssize_t xpoll__net_recvfrom(xpoll_socket s, void *buf, size_t len, int flags,
                            struct sockaddr *addr, socklen_t *addrlen);
ssize_t xpoll__net_sendto(xpoll_socket s, const void *buf, size_t len,
                          int flags, const struct sockaddr *addr,
                          socklen_t addrlen);

#if defined(_WIN32)
/* Winsock's start-up, once per process (src/sys/net_winsock.c): 0, or
 * what WSAStartup failed with.  Every Winsock user in the library (the
 * iocp backend included) calls it before its first Winsock call. */
int xpoll__winsock_start(void);

/* A Winsock error (WSAGetLastError(), or a result of WSAStartup) as a
 * negative errno: the one table of them in the library. */
int xpoll__wsa_errno(int wsa_error);
#endif

#endif /* XPOLL_SYS_NET_SYS_H */
