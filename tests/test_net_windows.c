/*
 * What only Windows has or answers in <xpoll/net.h> (src/sys/net_winsock.c),
 * through the public API on the iocp backend: Winsock's start-up, the
 * socket pairs made of TCP and UDP sockets, inheritance, what Windows
 * lacks (SO_REUSEPORT, pipes, Unix datagram sockets; Unix stream sockets
 * under Wine), a handle that is no socket, the POSIX answers the library
 * gives where Winsock's differ, and the I/O helpers' re-arm rule (on POSIX
 * systems test_rearm_posix.c).  What every system answers alike is in
 * test_net.c, which runs on Windows too.  Runs under wine64, once against
 * xpoll.dll and once against the static library (tests/CMakeLists.txt).
 *
 * The program never calls WSAStartup itself (so not the test harness's
 * run_group either): the library's own start-up is what lets its first
 * socket call work.  Every wait is bounded (WAIT_NS), so a missing event
 * fails the test instead of hanging it.
 */
/* First: <xpoll.h> includes <winsock2.h>, which must come before
 * <windows.h> (mingw-w64's winsock2.h warns otherwise). */
#include "xpoll.h"

#include <windows.h>

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "platform/platform.h"

#define WAIT_NS ((int64_t)10 * 1000000000) /* 10 s */

static bool under_wine(void)
{
    return platform_wine_version() != NULL;
}

static int64_t now_ns(void)
{
    LARGE_INTEGER c, f;
    QueryPerformanceCounter(&c);
    QueryPerformanceFrequency(&f);
    return (int64_t)(c.QuadPart / f.QuadPart * 1000000000 +
                     c.QuadPart % f.QuadPart * 1000000000 / f.QuadPart);
}

#define MAX_TOKEN 128

struct fixture {
    xpoll *poll;
    xpoll_events *events;
    /* Readiness seen for each token (below MAX_TOKEN) and not yet taken by
     * wait_token(): one wait may bring the events of several sockets. */
    unsigned seen[MAX_TOKEN];
};

static int setup(void **state)
{
    static struct fixture f;
    memset(&f, 0, sizeof f);
    if (xpoll_new(&f.poll) != 0 || xpoll_events_new(&f.events, 16) != 0)
        return -1;
    *state = &f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    xpoll_events_free(f->events);
    xpoll_free(f->poll);
    return 0;
}

/* Wait (at most WAIT_NS in all) for an event with `token`, or take one
 * an earlier wait brought; returns its readiness as flags, failing the
 * test when none comes. */
enum { READ = 1, WRITE = 2, ERR = 4, RCLOSED = 8 };

static unsigned wait_token(struct fixture *f, xpoll_token token)
{
    assert_true(token < MAX_TOKEN);
    int64_t deadline = now_ns() + WAIT_NS;
    while (f->seen[token] == 0) {
        int64_t left = deadline - now_ns();
        assert_true(left > 0); /* no event for the token in time */
        int n = xpoll_wait(f->poll, f->events, left);
        assert_true(n >= 0);
        for (size_t i = 0; i < (size_t)n; i++) {
            const xpoll_event *ev = xpoll_events_get(f->events, i);
            xpoll_token t = xpoll_event_token(ev);
            assert_true(t < MAX_TOKEN);
            f->seen[t] |= (xpoll_event_is_readable(ev) ? READ : 0) |
                          (xpoll_event_is_writable(ev) ? WRITE : 0) |
                          (xpoll_event_is_error(ev) ? ERR : 0) |
                          (xpoll_event_is_read_closed(ev) ? RCLOSED : 0);
        }
    }
    unsigned flags = f->seen[token];
    f->seen[token] = 0;
    return flags;
}

/* No event is pending now (a wait of 0 returns nothing, and none was
 * kept from an earlier wait). */
static void assert_quiet(struct fixture *f)
{
    for (size_t t = 0; t < MAX_TOKEN; t++)
        assert_int_equal(f->seen[t], 0);
    assert_int_equal(xpoll_wait(f->poll, f->events, 0), 0);
}

static bool inheritable(xpoll_socket s)
{
    DWORD flags = 0;
    assert_true(GetHandleInformation((HANDLE)s, &flags));
    return (flags & HANDLE_FLAG_INHERIT) != 0;
}

static void close_all(xpoll_socket *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (s[i] >= 0)
            assert_int_equal(xpoll_close(s[i]), 0);
}

/* Send `msg` on `from` and read it back from `to` (registered READABLE
 * under `token`) after its event. */
static void pass(struct fixture *f, xpoll_socket from, xpoll_socket to,
                 xpoll_token token, const char *msg)
{
    size_t len = strlen(msg);
    char buf[256];
    f->seen[token] = 0; /* only an event after this write counts */
    assert_int_equal(xpoll_write(f->poll, from, msg, len), (ssize_t)len);
    assert_true(wait_token(f, token) & READ);
    assert_int_equal(xpoll_read(f->poll, to, buf, sizeof buf), (ssize_t)len);
    assert_memory_equal(buf, msg, len);
    /* Drained: READABLE is re-armed, nothing else is queued. */
    assert_int_equal(xpoll_read(f->poll, to, buf, sizeof buf), -EAGAIN);
}

/* ---- start-up ------------------------------------------------------------ */

/* First in the program: no WSAStartup has been called by anyone, so a
 * socket made here proves the library's own start-up.  errno is left as
 * the caller had it. */
static void first_socket_call_starts_winsock(void **state)
{
    (void)state;
    errno = 4321;
    xpoll_socket s = xpoll_tcp_listen("127.0.0.1:0", 0, 0);
    assert_true(s >= 0);
    assert_int_equal(errno, 4321);
    char name[XPOLL_ADDRSTRLEN];
    assert_true(xpoll_local_addr(s, name, sizeof name) > 0);
    assert_memory_equal(name, "127.0.0.1:", 10);
    assert_int_equal(xpoll_close(s), 0);
    assert_int_equal(errno, 4321);
}

/* ---- socket pairs ---------------------------------------------------------
 */

static void socketpair_stream_both_ways(void **state)
{
    struct fixture *f = *state;
    xpoll_socket p[2] = {-7, -7};
    assert_int_equal(xpoll_socketpair(SOCK_STREAM, p), 0);
    assert_true(p[0] >= 0 && p[1] >= 0);
    /* One TCP connection: each end's peer is the other end. */
    char a[XPOLL_ADDRSTRLEN], b[XPOLL_ADDRSTRLEN];
    assert_true(xpoll_local_addr(p[0], a, sizeof a) > 0);
    assert_true(xpoll_peer_addr(p[1], b, sizeof b) > 0);
    assert_string_equal(a, b);
    assert_true(xpoll_local_addr(p[1], a, sizeof a) > 0);
    assert_true(xpoll_peer_addr(p[0], b, sizeof b) > 0);
    assert_string_equal(a, b);

    assert_int_equal(xpoll_register(f->poll, p[0], 10, XPOLL_READABLE), 0);
    assert_int_equal(xpoll_register(f->poll, p[1], 11, XPOLL_READABLE), 0);
    pass(f, p[0], p[1], 11, "ping");
    pass(f, p[1], p[0], 10, "pong");
    pass(f, p[0], p[1], 11, "again");
    assert_int_equal(xpoll_deregister(f->poll, p[0]), 0);
    assert_int_equal(xpoll_deregister(f->poll, p[1]), 0);
    close_all(p, 2);
}

static void socketpair_dgram_both_ways(void **state)
{
    struct fixture *f = *state;
    xpoll_socket p[2];
    assert_int_equal(xpoll_socketpair(SOCK_DGRAM, p), 0);
    assert_int_equal(xpoll_register(f->poll, p[0], 20, XPOLL_READABLE), 0);
    assert_int_equal(xpoll_register(f->poll, p[1], 21, XPOLL_READABLE), 0);
    pass(f, p[0], p[1], 21, "one datagram");
    pass(f, p[1], p[0], 20, "and back");

    /* Datagram boundaries are kept: two sends, two receives. */
    char buf[64];
    assert_int_equal(xpoll_send(f->poll, p[0], "ab", 2, 0), 2);
    assert_int_equal(xpoll_send(f->poll, p[0], "cde", 3, 0), 3);
    assert_true(wait_token(f, 21) & READ);
    assert_int_equal(xpoll_recv(f->poll, p[1], buf, sizeof buf, 0), 2);
    assert_memory_equal(buf, "ab", 2);
    /* The second may still be on its way through loopback: a bounded
     * wait for it, then it is whole. */
    int64_t deadline = now_ns() + WAIT_NS;
    ssize_t n;
    while ((n = xpoll_recv(f->poll, p[1], buf, sizeof buf, 0)) == -EAGAIN) {
        assert_true(now_ns() < deadline);
        assert_true(wait_token(f, 21) & READ);
    }
    assert_int_equal(n, 3);
    assert_memory_equal(buf, "cde", 3);

    /* Each end is connected to the other: its peer address is the other's
     * local one. */
    char a[XPOLL_ADDRSTRLEN], b[XPOLL_ADDRSTRLEN];
    assert_true(xpoll_local_addr(p[0], a, sizeof a) > 0);
    assert_true(xpoll_peer_addr(p[1], b, sizeof b) > 0);
    assert_string_equal(a, b);
    assert_int_equal(xpoll_deregister(f->poll, p[0]), 0);
    assert_int_equal(xpoll_deregister(f->poll, p[1]), 0);
    close_all(p, 2);
}

static void socketpair_other_types_and_pipe(void **state)
{
    (void)state;
    xpoll_socket p[2] = {5, 5};
    assert_int_equal(xpoll_socketpair(SOCK_SEQPACKET, p), -ENOTSUP);
    assert_true(p[0] == -1 && p[1] == -1);
    p[0] = p[1] = 5;
    assert_int_equal(xpoll_socketpair(SOCK_RAW, p), -EINVAL);
    assert_true(p[0] == -1 && p[1] == -1);
    assert_int_equal(xpoll_socketpair(SOCK_STREAM, NULL), -EINVAL);
    /* An anonymous pipe is no socket: AFD cannot poll it. */
    p[0] = p[1] = 5;
    assert_int_equal(xpoll_pipe(p), -ENOTSUP);
    assert_true(p[0] == -1 && p[1] == -1);
    assert_int_equal(xpoll_pipe(NULL), -EINVAL);
}

/* ---- TCP ----------------------------------------------------------------- */

static void tcp_listen_connect_accept(void **state)
{
    struct fixture *f = *state;
    char where[XPOLL_ADDRSTRLEN], mine[XPOLL_ADDRSTRLEN];
    char theirs[XPOLL_ADDRSTRLEN];
    xpoll_socket s[3] = {-1, -1, -1}; /* listener, client, accepted */

    s[0] = xpoll_tcp_listen("127.0.0.1:0", 0, 0);
    assert_true(s[0] >= 0);
    assert_true(xpoll_local_addr(s[0], where, sizeof where) > 0);
    assert_int_equal(xpoll_register(f->poll, s[0], 30, XPOLL_READABLE), 0);
    /* Nothing waits yet: -EAGAIN, and the listener is re-armed. */
    assert_int_equal(xpoll_accept_on(f->poll, s[0]), -EAGAIN);

    s[1] = xpoll_tcp_connect(where);
    assert_true(s[1] >= 0);
    assert_int_equal(xpoll_register(f->poll, s[1], 31, XPOLL_WRITABLE), 0);
    assert_true(wait_token(f, 31) & WRITE);
    assert_int_equal(xpoll_socket_error(s[1]), 0);
    assert_int_equal(xpoll_tcp_nodelay(s[1], true), 0);

    assert_true(wait_token(f, 30) & READ);
    s[2] = xpoll_accept_on(f->poll, s[0]);
    assert_true(s[2] >= 0);
    assert_int_equal(xpoll_accept_on(f->poll, s[0]), -EAGAIN);
    assert_true(xpoll_local_addr(s[1], mine, sizeof mine) > 0);
    assert_true(xpoll_peer_addr(s[2], theirs, sizeof theirs) > 0);
    assert_string_equal(mine, theirs);

    /* A second connection: the listener was re-armed by the -EAGAIN. */
    xpoll_socket c2 = xpoll_tcp_connect(where);
    assert_true(c2 >= 0);
    assert_true(wait_token(f, 30) & READ);
    xpoll_socket a2 = xpoll_accept(s[0]); /* the plain form */
    assert_true(a2 >= 0);
    assert_int_equal(xpoll_close(a2), 0);
    assert_int_equal(xpoll_close(c2), 0);

    assert_int_equal(xpoll_register(f->poll, s[2], 32, XPOLL_READABLE), 0);
    assert_int_equal(xpoll_reregister(f->poll, s[1], 31, XPOLL_READABLE), 0);
    pass(f, s[1], s[2], 32, "over tcp");
    pass(f, s[2], s[1], 31, "and back");

    /* MSG_PEEK is passed to recv as it is: the bytes stay queued. */
    char buf[16];
    assert_int_equal(xpoll_send(f->poll, s[1], "peek", 4, 0), 4);
    assert_true(wait_token(f, 32) & READ);
    assert_int_equal(xpoll_recv(f->poll, s[2], buf, sizeof buf, MSG_PEEK), 4);
    assert_int_equal(xpoll_recv(f->poll, s[2], buf, sizeof buf, 0), 4);
    assert_memory_equal(buf, "peek", 4);

    for (int i = 0; i < 3; i++)
        assert_int_equal(xpoll_deregister(f->poll, s[i]), 0);
    close_all(s, 3);
}

/* Every socket the helpers make or accept is non-inheritable.  Wine
 * creates accepted sockets inheritable (server/sock.c,
 * IOCTL_AFD_WINE_ACCEPT), so this checks the accept path's
 * SetHandleInformation, not only WSA_FLAG_NO_HANDLE_INHERIT. */
static void sockets_are_not_inheritable(void **state)
{
    struct fixture *f = *state;
    char where[XPOLL_ADDRSTRLEN];
    xpoll_socket s[7];
    for (size_t i = 0; i < 7; i++)
        s[i] = -1;

    s[0] = xpoll_tcp_listen("127.0.0.1:0", 0, 0);
    assert_true(s[0] >= 0);
    assert_true(xpoll_local_addr(s[0], where, sizeof where) > 0);
    s[1] = xpoll_tcp_connect(where);
    assert_true(s[1] >= 0);
    assert_int_equal(xpoll_register(f->poll, s[0], 40, XPOLL_READABLE), 0);
    assert_true(wait_token(f, 40) & READ);
    s[2] = xpoll_accept_on(f->poll, s[0]);
    assert_true(s[2] >= 0);
    assert_int_equal(xpoll_deregister(f->poll, s[0]), 0);
    s[3] = xpoll_udp_bind("127.0.0.1:0", 0);
    assert_true(s[3] >= 0);
    assert_int_equal(xpoll_socketpair(SOCK_STREAM, &s[4]), 0);
    s[6] = xpoll_udp_connect(where);
    assert_true(s[6] >= 0);
    for (size_t i = 0; i < 7; i++) {
        print_message("socket %d: inheritable %d\n", (int)i, inheritable(s[i]));
        assert_false(inheritable(s[i]));
    }
    /* Non-blocking: a read with nothing queued fails at once. */
    char byte;
    assert_int_equal(xpoll_read(f->poll, s[2], &byte, 1), -EAGAIN);
    assert_int_equal(xpoll_read(f->poll, s[5], &byte, 1), -EAGAIN);
    close_all(s, 7);
}

/* No SO_REUSEPORT on Windows; a handle that is open but no socket is
 * -ENOTSOCK (one that is not open, test_net.c's closed descriptors:
 * -EBADF), told apart by GetHandleInformation. */
static void reuseport_and_non_socket_handles(void **state)
{
    (void)state;
    assert_int_equal(xpoll_tcp_listen("127.0.0.1:0", 0, XPOLL_NET_REUSEPORT),
                     -ENOTSUP);
    assert_int_equal(xpoll_udp_bind("127.0.0.1:0", XPOLL_NET_REUSEPORT),
                     -ENOTSUP);
    HANDLE event = CreateEventW(NULL, TRUE, FALSE, NULL);
    assert_non_null(event);
    char buf[XPOLL_ADDRSTRLEN];
    assert_int_equal(xpoll_socket_error((xpoll_socket)event), -ENOTSOCK);
    assert_int_equal(xpoll_tcp_nodelay((xpoll_socket)event, true), -ENOTSOCK);
    assert_int_equal(xpoll_local_addr((xpoll_socket)event, buf, sizeof buf),
                     -ENOTSOCK);
    assert_int_equal(xpoll_accept((xpoll_socket)event), -ENOTSOCK);
    CloseHandle(event);
}

/* ---- UDP ----------------------------------------------------------------- */

static void udp_bind_connect(void **state)
{
    struct fixture *f = *state;
    char where[XPOLL_ADDRSTRLEN], client[XPOLL_ADDRSTRLEN];
    char from_text[XPOLL_ADDRSTRLEN], buf[64];
    xpoll_socket s = xpoll_udp_bind("127.0.0.1:0", 0);
    assert_true(s >= 0);
    assert_true(xpoll_local_addr(s, where, sizeof where) > 0);
    xpoll_socket c = xpoll_udp_connect(where);
    assert_true(c >= 0);
    assert_true(xpoll_local_addr(c, client, sizeof client) > 0);
    assert_int_equal(xpoll_peer_addr(c, buf, sizeof buf), (int)strlen(where));
    assert_string_equal(buf, where);
    assert_int_equal(xpoll_register(f->poll, s, 60, XPOLL_READABLE), 0);
    assert_int_equal(xpoll_register(f->poll, c, 61, XPOLL_READABLE), 0);

    assert_int_equal(xpoll_send(f->poll, c, "hello", 5, 0), 5);
    assert_true(wait_token(f, 60) & READ);
    struct sockaddr_storage from;
    socklen_t fromlen = sizeof from;
    assert_int_equal(xpoll_recvfrom(f->poll, s, buf, sizeof buf, 0,
                                    (struct sockaddr *)&from, &fromlen),
                     5);
    assert_memory_equal(buf, "hello", 5);
    assert_int_equal(fromlen, (socklen_t)sizeof(struct sockaddr_in));
    /* The sender is the connected client. */
    const struct sockaddr_in *sin = (const struct sockaddr_in *)&from;
    char ip[INET_ADDRSTRLEN];
    assert_non_null(inet_ntop(AF_INET, &sin->sin_addr, ip, sizeof ip));
    snprintf(from_text, sizeof from_text, "%s:%u", ip,
             (unsigned)ntohs(sin->sin_port));
    assert_string_equal(from_text, client);

    assert_int_equal(xpoll_sendto(f->poll, s, "world", 5, 0,
                                  (struct sockaddr *)&from, fromlen),
                     5);
    assert_true(wait_token(f, 61) & READ);
    assert_int_equal(xpoll_recv(f->poll, c, buf, sizeof buf, 0), 5);
    assert_memory_equal(buf, "world", 5);
    assert_int_equal(xpoll_recv(f->poll, c, buf, sizeof buf, 0), -EAGAIN);

    /* Two POSIX behaviours Winsock lacks: a datagram larger than the
     * buffer comes back as the buffer's length (Winsock: WSAEMSGSIZE), and
     * an address buffer too small is filled as far as it goes, with the
     * full length in *addrlen (Winsock: WSAEFAULT). */
    assert_int_equal(xpoll_send(f->poll, c, "0123456789abcdef", 16, 0), 16);
    assert_true(wait_token(f, 60) & READ);
    memset(&from, 0, sizeof from);
    fromlen = 4;
    assert_int_equal(xpoll_recvfrom(f->poll, s, buf, 10, 0,
                                    (struct sockaddr *)&from, &fromlen),
                     10);
    assert_memory_equal(buf, "0123456789", 10);
    assert_int_equal(fromlen, (socklen_t)sizeof(struct sockaddr_in));
    assert_int_equal(sin->sin_family, AF_INET);
    assert_int_equal(sin->sin_addr.s_addr, 0); /* beyond the 4 bytes */
    /* The rest of that datagram is gone. */
    assert_int_equal(xpoll_recv(f->poll, s, buf, sizeof buf, 0), -EAGAIN);

    /* No address on an unconnected socket: Winsock documents
     * WSAEDESTADDRREQ for sendto (Microsoft Learn, "sendto function");
     * Wine 8.0 answers WSAEINVAL. */
    ssize_t err = xpoll_send(f->poll, s, "x", 1, 0);
    print_message("send without an address: %d\n", (int)err);
    assert_int_equal(err, under_wine() ? -EINVAL : -EDESTADDRREQ);

    assert_int_equal(xpoll_deregister(f->poll, s), 0);
    assert_int_equal(xpoll_deregister(f->poll, c), 0);
    xpoll_socket both[2] = {s, c};
    close_all(both, 2);
}

/* ---- Unix sockets -------------------------------------------------------- */

static void unix_sockets(void **state)
{
    (void)state;
    char path[MAX_PATH];
    DWORD n = GetTempPathA(sizeof path - 32, path);
    assert_true(n > 0 && n < sizeof path - 32);
    snprintf(path + n, sizeof path - n, "xpoll-%lu.sock",
             (unsigned long)GetCurrentProcessId());
    DeleteFileA(path);

    /* Windows has no Unix datagram sockets and no abstract names. */
    assert_int_equal(xpoll_unix_dgram_bind(NULL), -ENOTSUP);
    assert_int_equal(xpoll_unix_dgram_bind(path), -ENOTSUP);
    assert_int_equal(xpoll_unix_listen("@abstract", 0), -ENOTSUP);
    assert_int_equal(xpoll_unix_connect("@abstract"), -ENOTSUP);
    assert_int_equal(xpoll_unix_listen("", 0), -EINVAL);

    xpoll_socket l = xpoll_unix_listen(path, 0);
    if (under_wine()) {
        /* Wine 8.0 has no AF_UNIX (dlls/ws2_32/socket.c,
         * supported_protocols). */
        assert_int_equal(l, -EAFNOSUPPORT);
        assert_int_equal(xpoll_unix_connect(path), -EAFNOSUPPORT);
        return;
    }
    if (l == -EAFNOSUPPORT) {
        print_message("no AF_UNIX (before Windows 10 1803)\n");
        return;
    }
    assert_true(l >= 0);
    xpoll_socket c = xpoll_unix_connect(path);
    assert_true(c >= 0);
    xpoll_socket a = -1;
    int64_t deadline = now_ns() + WAIT_NS;
    while ((a = xpoll_accept(l)) == -EAGAIN) {
        assert_true(now_ns() < deadline);
        Sleep(1);
    }
    assert_true(a >= 0);
    xpoll_socket all[3] = {l, c, a};
    close_all(all, 3);
    DeleteFileA(path);
}

/* ---- the re-arm rule ----------------------------------------------------- */

/* AFD polls are one-shot: after an event, a direction is reported again
 * only once it was re-armed.  The I/O helpers re-arm on -EAGAIN and after
 * a short transfer, so new data after either gives a new event. */
static void read_helpers_rearm(void **state)
{
    struct fixture *f = *state;
    xpoll_socket p[2];
    char buf[64];
    assert_int_equal(xpoll_socketpair(SOCK_STREAM, p), 0);
    assert_int_equal(xpoll_register(f->poll, p[1], 70, XPOLL_READABLE), 0);
    assert_quiet(f);

    /* A short read re-arms. */
    assert_int_equal(send((SOCKET)p[0], "a", 1, 0), 1);
    assert_true(wait_token(f, 70) & READ);
    assert_int_equal(xpoll_read(f->poll, p[1], buf, sizeof buf), 1);
    assert_int_equal(send((SOCKET)p[0], "b", 1, 0), 1);
    assert_true(wait_token(f, 70) & READ);

    /* -EAGAIN re-arms: read "b" and then nothing, then more data. */
    assert_int_equal(xpoll_read(f->poll, p[1], buf, 1), 1); /* full: no */
    assert_int_equal(xpoll_read(f->poll, p[1], buf, 1), -EAGAIN);
    assert_quiet(f);
    assert_int_equal(send((SOCKET)p[0], "c", 1, 0), 1);
    assert_true(wait_token(f, 70) & READ);
    assert_int_equal(xpoll_recv(f->poll, p[1], buf, 1, 0), 1);
    assert_int_equal(buf[0], 'c');
    assert_int_equal(xpoll_recv(f->poll, p[1], buf, 1, 0), -EAGAIN);
    assert_int_equal(send((SOCKET)p[0], "d", 1, 0), 1);
    assert_true(wait_token(f, 70) & READ);

    /* recvfrom on a datagram pair, the same. */
    xpoll_socket d[2];
    assert_int_equal(xpoll_socketpair(SOCK_DGRAM, d), 0);
    assert_int_equal(xpoll_register(f->poll, d[1], 71, XPOLL_READABLE), 0);
    assert_int_equal(
        xpoll_recvfrom(f->poll, d[1], buf, sizeof buf, 0, NULL, NULL), -EAGAIN);
    assert_int_equal(send((SOCKET)d[0], "e", 1, 0), 1);
    assert_true(wait_token(f, 71) & READ);
    assert_int_equal(
        xpoll_recvfrom(f->poll, d[1], buf, sizeof buf, 0, NULL, NULL), 1);
    assert_int_equal(
        xpoll_recvfrom(f->poll, d[1], buf, sizeof buf, 0, NULL, NULL), -EAGAIN);
    assert_int_equal(send((SOCKET)d[0], "f", 1, 0), 1);
    assert_true(wait_token(f, 71) & READ);

    /* The argument checks come before any I/O. */
    assert_int_equal(xpoll_read(NULL, p[1], buf, 1), -EINVAL);
    assert_int_equal(xpoll_accept_on(NULL, p[1]), -EINVAL);

    assert_int_equal(xpoll_deregister(f->poll, p[1]), 0);
    assert_int_equal(xpoll_deregister(f->poll, d[1]), 0);
    close_all(p, 2);
    close_all(d, 2);
}

/* Fill the send side until -EAGAIN (which re-arms WRITABLE), let the peer
 * drain, and the writable event comes. */
static void write_helpers_rearm(void **state)
{
    struct fixture *f = *state;
    xpoll_socket p[2];
    static char chunk[65536];
    static char sink[65536];
    assert_int_equal(xpoll_socketpair(SOCK_STREAM, p), 0);
    assert_int_equal(xpoll_register(f->poll, p[0], 80, XPOLL_WRITABLE), 0);
    assert_true(wait_token(f, 80) & WRITE);

    size_t sent = 0;
    ssize_t n = 0;
    /* Loopback buffers hold megabytes at most: 1 GiB means EAGAIN never
     * came. */
    while (sent < ((size_t)1 << 30) &&
           (n = xpoll_write(f->poll, p[0], chunk, sizeof chunk)) > 0)
        sent += (size_t)n;
    assert_int_equal(n, -EAGAIN);
    print_message("%lu bytes sent before -EAGAIN\n", (unsigned long)sent);
    assert_int_equal(xpoll_send(f->poll, p[0], chunk, 1, 0), -EAGAIN);
    assert_int_equal(xpoll_sendto(f->poll, p[0], chunk, 1, 0, NULL, 0),
                     -EAGAIN);

    /* Drain everything on the other side; the space comes back. */
    size_t got = 0;
    int64_t deadline = now_ns() + WAIT_NS;
    while (got < sent) {
        int r = recv((SOCKET)p[1], sink, sizeof sink, 0);
        if (r > 0) {
            got += (size_t)r;
            continue;
        }
        assert_int_equal(WSAGetLastError(), WSAEWOULDBLOCK);
        assert_true(now_ns() < deadline);
        Sleep(1);
    }
    assert_int_equal(got, sent);
    assert_true(wait_token(f, 80) & WRITE);
    assert_int_equal(xpoll_deregister(f->poll, p[0]), 0);
    close_all(p, 2);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(first_socket_call_starts_winsock),
        cmocka_unit_test_setup_teardown(socketpair_stream_both_ways, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(socketpair_dgram_both_ways, setup,
                                        teardown),
        cmocka_unit_test(socketpair_other_types_and_pipe),
        cmocka_unit_test_setup_teardown(tcp_listen_connect_accept, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(sockets_are_not_inheritable, setup,
                                        teardown),
        cmocka_unit_test(reuseport_and_non_socket_handles),
        cmocka_unit_test_setup_teardown(udp_bind_connect, setup, teardown),
        cmocka_unit_test(unix_sockets),
        cmocka_unit_test_setup_teardown(read_helpers_rearm, setup, teardown),
        cmocka_unit_test_setup_teardown(write_helpers_rearm, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
