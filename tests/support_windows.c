/* support.h on Windows: TCP and UDP pairs on 127.0.0.1 and their I/O with
 * Winsock, errors turned into the errno values the tests compare with. */
#include "support.h" /* first: xpoll.h brings <winsock2.h> */

#include <windows.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* AFD polls sockets only, and Wine 8.0 has no AF_UNIX (dlls/ws2_32/
 * socket.c supported_protocols): TCP stands in for pipes and Unix stream
 * sockets, UDP for Unix datagram sockets. */
const enum pair_kind pair_simple = PAIR_TCP;
const enum pair_kind pair_stream = PAIR_TCP;
const enum pair_kind pair_dgram = PAIR_UDP;

void support_system_init(void)
{
    WSADATA wsa;
    int err = WSAStartup(MAKEWORD(2, 2), &wsa);
    if (err != 0)
        fail_msg("WSAStartup: %d", err);
}

/* A Winsock error as the errno value POSIX gives for the same failure
 * (the names match: WSAEx is Ex); one without a match is passed through,
 * so that a failing test shows it. */
static int errno_of(int wsa)
{
    switch (wsa) {
    case WSAEWOULDBLOCK:
        return EAGAIN;
    case WSAEINPROGRESS:
        return EINPROGRESS;
    case WSAEALREADY:
        return EALREADY;
    case WSAENOTSOCK:
        return ENOTSOCK;
    case WSAEBADF:
        return EBADF;
    case WSAEINVAL:
        return EINVAL;
    case WSAEMSGSIZE:
        return EMSGSIZE;
    case WSAECONNRESET:
        return ECONNRESET;
    case WSAECONNREFUSED:
        return ECONNREFUSED;
    case WSAECONNABORTED:
        return ECONNABORTED;
    case WSAENOTCONN:
        return ENOTCONN;
    case WSAETIMEDOUT:
        return ETIMEDOUT;
    case WSAESHUTDOWN: /* send after shutdown(SD_SEND): EPIPE on POSIX */
        return EPIPE;
    default:
        return wsa;
    }
}

static SOCKET sock(xpoll_socket fd)
{
    return (SOCKET)fd;
}

static void nonblocking(SOCKET s)
{
    u_long on = 1;
    assert_int_equal(ioctlsocket(s, FIONBIO, &on), 0);
}

/* A socket of `type` on IPv4, non-blocking; Windows has no close-on-exec
 * (handles are inherited only by CreateProcess with bInheritHandles, which
 * no test calls). */
static SOCKET new_socket(int type, int protocol)
{
    SOCKET s = socket(AF_INET, type, protocol);
    if (s == INVALID_SOCKET)
        fail_msg("socket: %d", WSAGetLastError());
    nonblocking(s);
    return s;
}

static struct sockaddr_in loopback(uint16_t port)
{
    struct sockaddr_in sin;
    memset(&sin, 0, sizeof sin);
    sin.sin_family = AF_INET;
    sin.sin_port = htons(port);
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    return sin;
}

static uint16_t local_port(SOCKET s)
{
    struct sockaddr_in sin;
    int len = sizeof sin;
    assert_int_equal(getsockname(s, (struct sockaddr *)&sin, &len), 0);
    return ntohs(sin.sin_port);
}

xpoll_socket tcp_listener(uint16_t *port)
{
    SOCKET s = new_socket(SOCK_STREAM, IPPROTO_TCP);
    struct sockaddr_in sin = loopback(0);
    assert_int_equal(bind(s, (struct sockaddr *)&sin, sizeof sin), 0);
    assert_int_equal(listen(s, 128), 0);
    *port = local_port(s);
    return (xpoll_socket)s;
}

xpoll_socket tcp_socket(void)
{
    return (xpoll_socket)new_socket(SOCK_STREAM, IPPROTO_TCP);
}

/* A non-blocking connect() that has not finished says WSAEWOULDBLOCK
 * (Microsoft Learn, connect: "WSAEWOULDBLOCK ... connection cannot be
 * completed immediately"), where POSIX says EINPROGRESS. */
int tcp_connect(xpoll_socket fd, uint16_t port)
{
    struct sockaddr_in sin = loopback(port);
    if (connect(sock(fd), (struct sockaddr *)&sin, sizeof sin) == 0)
        return 0;
    int err = WSAGetLastError();
    return err == WSAEWOULDBLOCK ? EINPROGRESS : errno_of(err);
}

/* The accepted socket is the one connected from `client`'s address:
 * another local program could have connected to the listener first
 * (libevent's evutil_ersatz_socketpair_ checks the same). */
void tcp_pair(xpoll_socket fds[2])
{
    uint16_t port;
    SOCKET l = sock(tcp_listener(&port));
    SOCKET c = new_socket(SOCK_STREAM, IPPROTO_TCP);
    int err = tcp_connect((xpoll_socket)c, port);
    assert_true(err == 0 || err == EINPROGRESS);
    wait_ready((xpoll_socket)l, XPOLL_READABLE);
    struct sockaddr_in peer, mine;
    int len = sizeof peer;
    SOCKET a = accept(l, (struct sockaddr *)&peer, &len);
    if (a == INVALID_SOCKET)
        fail_msg("accept: %d", WSAGetLastError());
    closesocket(l);
    len = sizeof mine;
    assert_int_equal(getsockname(c, (struct sockaddr *)&mine, &len), 0);
    assert_int_equal(peer.sin_port, mine.sin_port);
    nonblocking(a);
    wait_ready((xpoll_socket)c, XPOLL_WRITABLE); /* connected */
    fds[0] = (xpoll_socket)a;
    fds[1] = (xpoll_socket)c;
}

/* Two UDP sockets on 127.0.0.1, each connected to the other: each takes
 * datagrams from its peer only. */
static void udp_pair(xpoll_socket fds[2])
{
    SOCKET s[2];
    for (int i = 0; i < 2; i++) {
        s[i] = new_socket(SOCK_DGRAM, IPPROTO_UDP);
        struct sockaddr_in sin = loopback(0);
        assert_int_equal(bind(s[i], (struct sockaddr *)&sin, sizeof sin), 0);
    }
    for (int i = 0; i < 2; i++) {
        struct sockaddr_in peer = loopback(local_port(s[1 - i]));
        assert_int_equal(connect(s[i], (struct sockaddr *)&peer, sizeof peer),
                         0);
        fds[i] = (xpoll_socket)s[i];
    }
}

void pair_open(enum pair_kind kind, xpoll_socket fds[2])
{
    switch (kind) {
    case PAIR_TCP:
        tcp_pair(fds);
        break;
    case PAIR_UDP:
        udp_pair(fds);
        break;
    default:
        fail_msg("no %s pair on Windows", pair_name(kind));
    }
}

void pair_close(enum pair_kind kind, xpoll_socket fds[2])
{
    (void)kind;
    fd_close(fds[0]);
    fd_close(fds[1]);
}

bool tcp_nodelay_of(xpoll_socket fd)
{
    DWORD v = 0;
    int len = sizeof v;
    assert_int_equal(
        getsockopt(sock(fd), IPPROTO_TCP, TCP_NODELAY, (char *)&v, &len), 0);
    return v != 0;
}

void shutdown_write(xpoll_socket fd)
{
    assert_int_equal(shutdown(sock(fd), SD_SEND), 0);
}

void shutdown_both(xpoll_socket fd)
{
    assert_int_equal(shutdown(sock(fd), SD_BOTH), 0);
}

void close_with_reset(xpoll_socket fd)
{
    struct linger lin = {.l_onoff = 1, .l_linger = 0};
    assert_int_equal(setsockopt(sock(fd), SOL_SOCKET, SO_LINGER,
                                (const char *)&lin, sizeof lin),
                     0);
    closesocket(sock(fd)); /* RST instead of FIN */
}

/* Winsock takes int lengths; the tests move a few kilobytes at most. */
static int int_len(size_t len)
{
    return len > INT_MAX ? INT_MAX : (int)len;
}

ssize_t fd_read(xpoll_socket fd, void *buf, size_t len)
{
    int n = recv(sock(fd), buf, int_len(len), 0);
    if (n == SOCKET_ERROR) {
        errno = errno_of(WSAGetLastError());
        return -1;
    }
    return n;
}

ssize_t fd_write(xpoll_socket fd, const void *buf, size_t len)
{
    int n = send(sock(fd), buf, int_len(len), 0);
    if (n == SOCKET_ERROR) {
        errno = errno_of(WSAGetLastError());
        return -1;
    }
    return n;
}

int fd_close(xpoll_socket fd)
{
    if (closesocket(sock(fd)) != 0) {
        errno = errno_of(WSAGetLastError());
        return -1;
    }
    return 0;
}

void put(enum pair_kind kind, xpoll_socket fds[2])
{
    (void)kind;
    assert_int_equal(fd_write(fds[1], "x", 1), 1);
}

int so_error(xpoll_socket fd)
{
    int err = 0;
    int len = sizeof err;
    assert_int_equal(
        getsockopt(sock(fd), SOL_SOCKET, SO_ERROR, (char *)&err, &len), 0);
    return err == 0 ? 0 : errno_of(err);
}

/* WSAPoll, the poll(2) of Winsock (Windows Vista and later). */
void wait_ready(xpoll_socket fd, xpoll_interests direction)
{
    SHORT want = direction == XPOLL_WRITABLE ? POLLWRNORM : POLLRDNORM;
    WSAPOLLFD p = {.fd = sock(fd), .events = want};
    int64_t deadline = now_ns() + HANG_NS;
    int n;
    do
        n = WSAPoll(&p, 1, 100);
    while (n == 0 && now_ns() < deadline);
    if (n < 0)
        fail_msg("WSAPoll: %d", WSAGetLastError());
    assert_int_equal(n, 1);
    assert_true(p.revents & want);
}

xpoll_socket closed_fd(void)
{
    SOCKET s = new_socket(SOCK_STREAM, IPPROTO_TCP);
    closesocket(s);
    return (xpoll_socket)s;
}

/* The C runtime's environment, which the library's getenv() reads (one
 * msvcrt for the program and xpoll.dll); an empty value removes the
 * variable (Microsoft Learn, _putenv_s). */
int env_set(const char *name, const char *value)
{
    return _putenv_s(name, value != NULL ? value : "") == 0 ? 0 : -1;
}
