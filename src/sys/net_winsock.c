/*
 * The system calls behind <xpoll/net.h> on Windows, through Winsock 2
 * (src/sys/net_sys.h; the POSIX side is src/sys/net_posix.c).  What
 * Winsock does differently from the POSIX socket calls, and what is done
 * about it here:
 *
 *  - Nothing works before WSAStartup.  It runs once per process, through
 *    InitOnceExecuteOnce as wepoll's init() does, on every entry into this
 *    file (a call that could be the process's first Winsock call: the
 *    program may hand in a socket value it made up).  Never WSACleanup:
 *    WSAStartup counts its calls, so the program's own WSAStartup and
 *    WSACleanup pairs leave this one in place, and process exit releases
 *    it (Microsoft Learn, "WSAStartup function", "WSACleanup function").
 *    Not from DllMain: WSAStartup loads provider DLLs, which must not
 *    happen under the loader lock ("Dynamic-Link Library Best Practices").
 *  - Errors come from WSAGetLastError() in numbers of their own;
 *    xpoll__wsa_errno() is the library's one table of them.  The CRT's
 *    EWOULDBLOCK (140) is not EAGAIN (11), and callers compare with
 *    -EAGAIN, so WSAEWOULDBLOCK is -EAGAIN.
 *  - Sockets are inheritable by child processes unless made with
 *    WSA_FLAG_NO_HANDLE_INHERIT (Microsoft Learn, "WSASocketW function";
 *    mio's new_socket in src/sys/windows/net.rs does the same; Wine honours
 *    it, dlls/ws2_32/socket.c WSASocketW).  accept() has no such flag: the
 *    accepted socket takes the listener's properties on Windows (Microsoft
 *    Learn, "accept function"), yet Wine makes every accepted handle
 *    inheritable (server/sock.c, IOCTL_AFD_WINE_ACCEPT: alloc_handle with
 *    OBJ_INHERIT).  So it is cleared with SetHandleInformation, as libuv's
 *    uv_tcp_set_socket (src/win/tcp.c) does for every socket it adopts.
 *    That is not atomic: a CreateProcess with inheritance on another
 *    thread in between hands the socket down, the same window macOS
 *    leaves for FD_CLOEXEC.  AcceptEx into a socket made with the flag
 *    would close it, but is overlapped I/O with a buffer of its own, which
 *    a readiness API has no use for.
 *  - Non-blocking mode is ioctlsocket(FIONBIO), set on every socket made
 *    or accepted here.  A connect still in progress fails with
 *    WSAEWOULDBLOCK, not WSAEINPROGRESS (Microsoft Learn, "connect
 *    function"; mio's TcpStream::connect).
 *  - SO_REUSEADDR means something else: it lets a socket bind a port
 *    another socket is using (Microsoft Learn, "Using SO_REUSEADDR and
 *    SO_EXCLUSIVEADDRUSE"), so it is never set (as mio's
 *    TcpListener::bind, which sets it on Unix only).  There is no
 *    SO_REUSEPORT: XPOLL_NET_REUSEPORT is -ENOTSUP.
 *  - There is no socketpair(): a stream pair is a TCP connection over
 *    127.0.0.1, made as libevent's evutil_ersatz_socketpair_ (evutil.c)
 *    makes it, and a datagram pair is two UDP sockets on 127.0.0.1, each
 *    connected to the other.  SOCK_SEQPACKET is -ENOTSUP.
 *  - There is no pipe a readiness poll can watch (AFD polls sockets only),
 *    so xpoll_pipe() is -ENOTSUP.
 *  - AF_UNIX exists on Windows 10 1803 and later, stream sockets only
 *    (Microsoft, "AF_UNIX comes to Windows"): a Unix datagram socket is
 *    -ENOTSUP.  Wine 8.0 has no AF_UNIX at all (dlls/ws2_32/socket.c,
 *    supported_protocols): the socket call fails, -EAFNOSUPPORT.
 *  - The CRT's read() and write() take CRT descriptors, not sockets: the
 *    I/O calls are recv() and send(), whose lengths are int, so a longer
 *    buffer is cut to INT_MAX bytes (a short transfer, as POSIX allows).
 *  - A datagram larger than the buffer fills the buffer and fails with
 *    WSAEMSGSIZE, the rest being lost (Microsoft Learn, "recvfrom
 *    function"); POSIX returns the truncated length, and so does this
 *    file.  recvfrom() with an address buffer too small for the sender's
 *    address fails with WSAEFAULT; POSIX truncates the address and
 *    returns its full length, and so does this file.
 *  - SO_ERROR holds a WSA error number, mapped like any other.
 */
#include <winsock2.h>
#include <windows.h>
#include <ws2tcpip.h>

#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <string.h>

#include "net_sys.h"

/* How long xpoll_socketpair() waits for its own loopback connection: it
 * is made in microseconds, so this bound only keeps a broken stack from
 * hanging the caller. */
#define PAIR_WAIT_MS 10000

/* ---- start-up and errors ----------------------------------------------- */

/* The one piece of global state: the InitOnce, which also keeps
 * WSAStartup's result as its context (shifted past the bits the system
 * reserves, INIT_ONCE_CTX_RESERVED_BITS; Microsoft Learn,
 * "InitOnceExecuteOnce function"). */
static INIT_ONCE winsock_once = INIT_ONCE_STATIC_INIT;

static BOOL CALLBACK winsock_init(PINIT_ONCE once, PVOID param, PVOID *context)
{
    (void)once;
    (void)param;
    WSADATA data;
    /* WSAStartup returns its error itself: WSAGetLastError() cannot be
     * used before it succeeded (Microsoft Learn, "WSAStartup function"). */
    int err = WSAStartup(MAKEWORD(2, 2), &data);
    *context = (PVOID)((uintptr_t)(unsigned)err << INIT_ONCE_CTX_RESERVED_BITS);
    return TRUE;
}

int xpoll__winsock_start(void)
{
    PVOID context = NULL;
    if (!InitOnceExecuteOnce(&winsock_once, winsock_init, NULL, &context))
        return -EIO; /* cannot happen: winsock_init always succeeds */
    int err = (int)((uintptr_t)context >> INIT_ONCE_CTX_RESERVED_BITS);
    return err == 0 ? 0 : xpoll__wsa_errno(err);
}

/* Winsock's errors (Microsoft Learn, "Windows Sockets Error Codes") as the
 * POSIX errors they name.  wepoll's src/error.c has the same table except
 * where noted.  The CRT has no ESHUTDOWN and no EHOSTDOWN. */
int xpoll__wsa_errno(int wsa_error)
{
    switch (wsa_error) {
    case WSAEWOULDBLOCK: /* wepoll: EWOULDBLOCK, which is not EAGAIN here */
        return -EAGAIN;
    case WSAEINTR:
        return -EINTR;
    case WSAEBADF:
    case WSA_INVALID_HANDLE:
        return -EBADF;
    case WSAENOTSOCK:
        return -ENOTSOCK;
    case WSAEINVAL:
        return -EINVAL;
    case WSAEFAULT:
        return -EFAULT;
    case WSAEMFILE:
        return -EMFILE;
    case WSAENOBUFS: /* wepoll: ENOMEM */
        return -ENOBUFS;
    case WSA_NOT_ENOUGH_MEMORY:
        return -ENOMEM;
    case WSAEACCES:
        return -EACCES;
    case WSAEADDRINUSE:
        return -EADDRINUSE;
    case WSAEADDRNOTAVAIL:
        return -EADDRNOTAVAIL;
    case WSAEAFNOSUPPORT:
    case WSAEPFNOSUPPORT:
        return -EAFNOSUPPORT;
    case WSAEPROTONOSUPPORT:
    case WSAESOCKTNOSUPPORT:
        return -EPROTONOSUPPORT;
    case WSAEPROTOTYPE:
        return -EPROTOTYPE;
    case WSAENOPROTOOPT:
        return -ENOPROTOOPT;
    /* An operation the socket does not support (listen() on a datagram
     * socket), which POSIX calls EOPNOTSUPP too.  Not ENOTSUP: the CRT
     * gives the two different numbers (130 and 129), and ENOTSUP is what
     * the library says of a feature it does not have here. */
    case WSAEOPNOTSUPP:
        return -EOPNOTSUPP;
    case WSAEDESTADDRREQ:
        return -EDESTADDRREQ;
    case WSAEMSGSIZE:
        return -EMSGSIZE;
    case WSAENAMETOOLONG:
        return -ENAMETOOLONG;
    case WSAECONNREFUSED:
        return -ECONNREFUSED;
    case WSAECONNRESET:
        return -ECONNRESET;
    case WSAECONNABORTED:
        return -ECONNABORTED;
    case WSAENETDOWN:
        return -ENETDOWN;
    case WSAENETUNREACH:
        return -ENETUNREACH;
    case WSAENETRESET: /* wepoll: EHOSTUNREACH */
        return -ENETRESET;
    case WSAEHOSTUNREACH:
    case WSAEHOSTDOWN:
        return -EHOSTUNREACH;
    case WSAENOTCONN:
        return -ENOTCONN;
    case WSAEISCONN:
        return -EISCONN;
    case WSAEALREADY:
        return -EALREADY;
    case WSAETIMEDOUT:
        return -ETIMEDOUT;
    /* Writing after shutdown(SD_SEND), or to a connection the peer ended
     * gracefully: POSIX's EPIPE (wepoll agrees). */
    case WSAESHUTDOWN:
    case WSAEDISCON:
        return -EPIPE;
    case WSANOTINITIALISED:
    case WSASYSNOTREADY:
        return -ENETDOWN;
    case WSAVERNOTSUPPORTED: /* no Winsock 2.2 */
        return -ENOTSUP;
    default: /* wepoll: EINVAL */
        return -EIO;
    }
}

/* The error of the Winsock call on `s` that just failed.  WSAENOTSOCK
 * covers two POSIX errors: a value that is no open handle at all is
 * -EBADF (as for a closed descriptor), an open handle that is no socket
 * -ENOTSOCK; GetHandleInformation tells them apart, as wepoll's epoll_ctl
 * does (src/api.c). */
static int sock_fail(SOCKET s)
{
    int err = WSAGetLastError();
    DWORD flags;
    if (err == WSAENOTSOCK && !GetHandleInformation((HANDLE)s, &flags))
        return -EBADF;
    return xpoll__wsa_errno(err);
}

/* xpoll_socket is intptr_t on Windows: the whole SOCKET value, with
 * INVALID_SOCKET as -1, which the callers have refused already. */
static SOCKET sock_of(xpoll_socket s)
{
    return (SOCKET)s;
}

/* int lengths: a longer buffer is cut, a short transfer. */
static int clamp_len(size_t len)
{
    return len > INT_MAX ? INT_MAX : (int)len;
}

/* ---- making sockets ------------------------------------------------------ */

static int set_nonblocking(SOCKET s)
{
    u_long on = 1;
    return ioctlsocket(s, FIONBIO, &on) == 0 ? 0 : sock_fail(s);
}

/* A socket the caller owns from here on, or a negative errno with nothing
 * left open. */
static xpoll_socket sock_open(int domain, int type)
{
    SOCKET s = WSASocketW(domain, type, 0, NULL, 0,
                          WSA_FLAG_OVERLAPPED | WSA_FLAG_NO_HANDLE_INHERIT);
    if (s == INVALID_SOCKET)
        return xpoll__wsa_errno(WSAGetLastError());
    int err = set_nonblocking(s);
    if (err < 0) {
        closesocket(s);
        return err;
    }
    return (xpoll_socket)s;
}

xpoll_socket xpoll__net_socket(int domain, int type)
{
    int err = xpoll__winsock_start();
    if (err < 0)
        return err;
    if (domain == AF_UNIX && type != SOCK_STREAM)
        return -ENOTSUP; /* stream only (see the top of this file) */
    return sock_open(domain, type);
}

/* One accept(); the caller retries -ECONNABORTED. */
static xpoll_socket accept_one(SOCKET listener)
{
    SOCKET s = accept(listener, NULL, NULL);
    if (s == INVALID_SOCKET) {
        /* "An incoming connection was indicated, but was subsequently
         * terminated by the remote peer prior to accepting the call"
         * (Microsoft Learn, "accept function"): POSIX's ECONNABORTED. */
        if (WSAGetLastError() == WSAECONNRESET)
            return -ECONNABORTED;
        return sock_fail(listener);
    }
    int err = set_nonblocking(s);
    if (err == 0 && !SetHandleInformation((HANDLE)s, HANDLE_FLAG_INHERIT, 0))
        err = GetLastError() == ERROR_INVALID_HANDLE ? -EBADF : -EIO;
    if (err < 0) {
        closesocket(s);
        return err;
    }
    return (xpoll_socket)s;
}

/* A connection reset before it was accepted belongs to that connection,
 * not to the listener; each such failure consumed one connection, so the
 * loop ends.  WSAEINTR cannot come from a non-blocking accept. */
xpoll_socket xpoll__net_accept(xpoll_socket listener)
{
    int err = xpoll__winsock_start();
    if (err < 0)
        return err;
    xpoll_socket s;
    do
        s = accept_one(sock_of(listener));
    while (s == -ECONNABORTED);
    return s;
}

/* Wait until `s` is readable (read) or writable (!read), or has failed:
 * 0, -ETIMEDOUT, or select()'s error. */
static int wait_ready(SOCKET s, bool read)
{
    fd_set set, fail;
    FD_ZERO(&set);
    FD_ZERO(&fail);
    FD_SET(s, &set);
    FD_SET(s, &fail); /* a failed connect: "exceptfds", Microsoft Learn */
    struct timeval tv = {PAIR_WAIT_MS / 1000, (PAIR_WAIT_MS % 1000) * 1000};
    int n = select(0, read ? &set : NULL, read ? NULL : &set, &fail, &tv);
    if (n == SOCKET_ERROR)
        return sock_fail(s);
    return n == 0 ? -ETIMEDOUT : 0;
}

static bool same_inet(const struct sockaddr_in *a, const struct sockaddr_in *b)
{
    return a->sin_family == b->sin_family && a->sin_port == b->sin_port &&
           a->sin_addr.s_addr == b->sin_addr.s_addr;
}

static int inet_name(SOCKET s, struct sockaddr_in *sin, bool peer)
{
    int len = sizeof *sin;
    memset(sin, 0, sizeof *sin);
    int r = peer ? getpeername(s, (struct sockaddr *)sin, &len)
                 : getsockname(s, (struct sockaddr *)sin, &len);
    if (r != 0)
        return sock_fail(s);
    return len == (int)sizeof *sin ? 0 : -EAFNOSUPPORT;
}

/* A socket of `type` bound to 127.0.0.1 on a port of the system's choice;
 * its address in *sin. */
static xpoll_socket loopback_socket(int type, struct sockaddr_in *sin)
{
    xpoll_socket s = sock_open(AF_INET, type);
    if (s < 0)
        return s;
    memset(sin, 0, sizeof *sin);
    sin->sin_family = AF_INET;
    sin->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    int err = 0;
    if (bind(sock_of(s), (struct sockaddr *)sin, sizeof *sin) != 0)
        err = sock_fail(sock_of(s));
    if (err == 0)
        err = inet_name(sock_of(s), sin, false);
    if (err < 0) {
        closesocket(sock_of(s));
        return err;
    }
    return s;
}

/* The stream pair: listen on 127.0.0.1:0 with a backlog of 1, connect to
 * it, accept, and check that the accepted connection comes from the
 * connector's own address: another local program may connect to the
 * ephemeral port first, and its connection must not become half of the
 * pair (libevent's evutil_ersatz_socketpair_ checks the same and fails
 * with ECONNABORTED; libuv's uv_socketpair does not check).  Then wait for
 * the connector's side too, so that both ends are connected on return.
 * Nagle's algorithm is off on both: a socketpair passes each write on at
 * once, where Nagle would hold a small write behind an unacknowledged
 * one. */
static int stream_pair(xpoll_socket fds[2])
{
    struct sockaddr_in where, mine, theirs;
    xpoll_socket listener = loopback_socket(SOCK_STREAM, &where);
    if (listener < 0)
        return listener;
    xpoll_socket pair[2] = {-1, -1};
    int err = 0;
    if (listen(sock_of(listener), 1) != 0)
        err = sock_fail(sock_of(listener));
    if (err == 0 && (pair[0] = sock_open(AF_INET, SOCK_STREAM)) < 0)
        err = (int)pair[0];
    if (err == 0 &&
        connect(sock_of(pair[0]), (struct sockaddr *)&where, sizeof where) !=
            0 &&
        WSAGetLastError() != WSAEWOULDBLOCK)
        err = sock_fail(sock_of(pair[0]));
    if (err == 0)
        err = wait_ready(sock_of(listener), true);
    if (err == 0 && (pair[1] = accept_one(sock_of(listener))) < 0)
        err = (int)pair[1];
    if (err == 0)
        err = wait_ready(sock_of(pair[0]), false);
    if (err == 0 && (err = xpoll__net_error(pair[0])) == 0 &&
        (err = inet_name(sock_of(pair[0]), &mine, false)) == 0 &&
        (err = inet_name(sock_of(pair[1]), &theirs, true)) == 0 &&
        !same_inet(&mine, &theirs))
        err = -ECONNABORTED;
    for (int i = 0; i < 2 && err == 0; i++)
        err = xpoll__net_set_int(pair[i], IPPROTO_TCP, TCP_NODELAY, 1);
    closesocket(sock_of(listener));
    if (err < 0) {
        for (int i = 0; i < 2; i++)
            if (pair[i] >= 0)
                closesocket(sock_of(pair[i]));
        return err;
    }
    fds[0] = pair[0];
    fds[1] = pair[1];
    return 0;
}

/* Receive and drop whatever `s` has queued: datagrams another program sent
 * to the port before the socket was connected stay queued (a connect
 * filters only what comes later).  The queue is finite, but a sender
 * could refill it for ever: after 1024 datagrams give up. */
static int drop_queued(SOCKET s)
{
    char byte;
    for (int i = 0; i < 1024; i++) {
        if (recv(s, &byte, 1, 0) != SOCKET_ERROR)
            continue;
        int err = WSAGetLastError();
        if (err == WSAEWOULDBLOCK)
            return 0;
        if (err != WSAEMSGSIZE && err != WSAECONNRESET)
            return xpoll__wsa_errno(err);
    }
    return -EAGAIN;
}

/* The datagram pair: two UDP sockets on 127.0.0.1, each connected to the
 * other, so each takes datagrams from its peer only.  No upstream has one
 * to copy. */
static int dgram_pair(xpoll_socket fds[2])
{
    struct sockaddr_in addr[2];
    xpoll_socket pair[2] = {-1, -1};
    int err = 0;
    for (int i = 0; i < 2 && err == 0; i++)
        if ((pair[i] = loopback_socket(SOCK_DGRAM, &addr[i])) < 0)
            err = (int)pair[i];
    for (int i = 0; i < 2 && err == 0; i++)
        if (connect(sock_of(pair[i]), (struct sockaddr *)&addr[1 - i],
                    sizeof addr[1 - i]) != 0)
            err = sock_fail(sock_of(pair[i]));
    for (int i = 0; i < 2 && err == 0; i++)
        err = drop_queued(sock_of(pair[i]));
    if (err < 0) {
        for (int i = 0; i < 2; i++)
            if (pair[i] >= 0)
                closesocket(sock_of(pair[i]));
        return err;
    }
    fds[0] = pair[0];
    fds[1] = pair[1];
    return 0;
}

int xpoll__net_socketpair(int type, xpoll_socket fds[2])
{
    int err = xpoll__winsock_start();
    if (err < 0)
        return err;
    if (type == SOCK_STREAM)
        return stream_pair(fds);
    if (type == SOCK_DGRAM)
        return dgram_pair(fds);
    return -ENOTSUP; /* SOCK_SEQPACKET */
}

int xpoll__net_pipe(xpoll_socket fds[2])
{
    (void)fds;
    return -ENOTSUP;
}

/* ---- calls on a socket --------------------------------------------------- */

/* Like close(2) on POSIX, a close interrupted (WSAEINTR: a blocking call
 * cancelled) still closed the socket. */
int xpoll__net_close(xpoll_socket s)
{
    int err = xpoll__winsock_start();
    if (err < 0)
        return err;
    if (closesocket(sock_of(s)) != 0 && WSAGetLastError() != WSAEINTR)
        return sock_fail(sock_of(s));
    return 0;
}

int xpoll__net_bind(xpoll_socket s, const struct sockaddr *sa, socklen_t len)
{
    int err = xpoll__winsock_start();
    if (err < 0)
        return err;
    return bind(sock_of(s), sa, len) == 0 ? 0 : sock_fail(sock_of(s));
}

int xpoll__net_listen(xpoll_socket s, int backlog)
{
    int err = xpoll__winsock_start();
    if (err < 0)
        return err;
    return listen(sock_of(s), backlog) == 0 ? 0 : sock_fail(sock_of(s));
}

/* WSAEWOULDBLOCK: the handshake goes on; CONNECT_FAIL (an error event)
 * and SO_ERROR report a failure. */
int xpoll__net_connect(xpoll_socket s, const struct sockaddr *sa, socklen_t len)
{
    int err = xpoll__winsock_start();
    if (err < 0)
        return err;
    if (connect(sock_of(s), sa, len) != 0 &&
        WSAGetLastError() != WSAEWOULDBLOCK)
        return sock_fail(sock_of(s));
    return 0;
}

int xpoll__net_set_int(xpoll_socket s, int level, int name, int value)
{
    int err = xpoll__winsock_start();
    if (err < 0)
        return err;
    if (setsockopt(sock_of(s), level, name, (const char *)&value,
                   sizeof value) != 0)
        return sock_fail(sock_of(s));
    return 0;
}

/* Nothing to set: a Windows listener binds a port whose earlier
 * connections linger in TIME_WAIT without an option, and SO_REUSEADDR
 * would let another socket take the port over (see the top of this
 * file). */
int xpoll__net_reuse_addr(xpoll_socket s)
{
    (void)s;
    return 0;
}

bool xpoll__net_have_reuse_port(void)
{
    return false;
}

int xpoll__net_reuse_port(xpoll_socket s)
{
    (void)s;
    return -ENOTSUP;
}

int xpoll__net_error(xpoll_socket s)
{
    int err = xpoll__winsock_start();
    if (err < 0)
        return err;
    int value = 0;
    int len = sizeof value;
    if (getsockopt(sock_of(s), SOL_SOCKET, SO_ERROR, (char *)&value, &len) != 0)
        return sock_fail(sock_of(s));
    return value == 0 ? 0 : xpoll__wsa_errno(value);
}

int xpoll__net_name(xpoll_socket s, struct sockaddr_storage *ss, socklen_t *len,
                    bool peer)
{
    int err = xpoll__winsock_start();
    if (err < 0)
        return err;
    int r = peer ? getpeername(sock_of(s), (struct sockaddr *)ss, len)
                 : getsockname(sock_of(s), (struct sockaddr *)ss, len);
    return r == 0 ? 0 : sock_fail(sock_of(s));
}

/* A datagram cut to the buffer is its length, as on POSIX (see the top of
 * this file). */
static ssize_t recv_result(SOCKET s, int n, int len)
{
    if (n != SOCKET_ERROR)
        return n;
    if (WSAGetLastError() == WSAEMSGSIZE)
        return len;
    return sock_fail(s);
}

ssize_t xpoll__net_read(xpoll_socket s, void *buf, size_t len)
{
    return xpoll__net_recvfrom(s, buf, len, 0, NULL, NULL);
}

ssize_t xpoll__net_write(xpoll_socket s, const void *buf, size_t len)
{
    return xpoll__net_sendto(s, buf, len, 0, NULL, 0);
}

ssize_t xpoll__net_recvfrom(xpoll_socket s, void *buf, size_t len, int flags,
                            struct sockaddr *addr, socklen_t *addrlen)
{
    int err = xpoll__winsock_start();
    if (err < 0)
        return err;
    int room = clamp_len(len);
    if (addr == NULL || addrlen == NULL)
        return recv_result(sock_of(s), recv(sock_of(s), buf, room, flags),
                           room);
    /* The sender's address lands in room for any address, and is copied
     * out as far as the caller's buffer reaches; *addrlen is its full
     * length, as POSIX has it. */
    struct sockaddr_storage from;
    int fromlen = sizeof from;
    memset(&from, 0, sizeof from);
    ssize_t n = recv_result(sock_of(s),
                            recvfrom(sock_of(s), buf, room, flags,
                                     (struct sockaddr *)&from, &fromlen),
                            room);
    if (n >= 0) {
        int copy = *addrlen < fromlen ? *addrlen : fromlen;
        if (copy > 0)
            memcpy(addr, &from, (size_t)copy);
        *addrlen = fromlen;
    }
    return n;
}

ssize_t xpoll__net_sendto(xpoll_socket s, const void *buf, size_t len,
                          int flags, const struct sockaddr *addr,
                          socklen_t addrlen)
{
    int err = xpoll__winsock_start();
    if (err < 0)
        return err;
    /* No address (send(2)): a connected socket sends to its peer, and an
     * unconnected datagram socket fails with WSAEDESTADDRREQ, as with
     * POSIX's EDESTADDRREQ (Microsoft Learn, "sendto function"). */
    int n = sendto(sock_of(s), buf, clamp_len(len), flags, addr, addrlen);
    return n == SOCKET_ERROR ? sock_fail(sock_of(s)) : n;
}
