/*
 * The socket helpers of <xpoll/net.h> on every system, Windows included:
 * IPv4 and IPv6 addresses and their text, TCP, UDP, error paths (-EINVAL
 * for malformed input, nothing left open, errno untouched).
 *
 * Runs once per backend like the rest of the suite (ctest sets
 * XPOLL_BACKEND); the backend matters where xpoll itself waits for a
 * connect to finish.  What needs POSIX (Unix sockets, pipes, descriptor
 * flags, SO_REUSEPORT, interface names, a routing socket) is in
 * test_net_posix.c, and what only Linux has or answers in
 * test_net_linux.c.
 */
#define _GNU_SOURCE
#include "support.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "net_bad_addresses.h"

/* ------------------------------------------------------------------------
 * Helpers
 * ---------------------------------------------------------------------- */

/* The port of a socket's text address (after the last ':'). */
static int addr_port(xpoll_socket fd)
{
    char buf[XPOLL_ADDRSTRLEN];
    assert_true(xpoll_local_addr(fd, buf, sizeof buf) > 0);
    const char *colon = strrchr(buf, ':');
    assert_non_null(colon);
    return atoi(colon + 1);
}

/* A TCP port nothing listens on: bound once by us, then released.  Linux
 * hands ephemeral ports out in sequence, so it stays free for the test. */
static void closed_port_addr(const char *host_fmt, char *out, size_t len)
{
    xpoll_socket fd =
        xpoll_tcp_listen(host_fmt[0] == '[' ? "[::1]:0" : "127.0.0.1:0", 0, 0);
    assert_true(fd >= 0);
    int port = addr_port(fd);
    xpoll_close(fd);
    snprintf(out, len, host_fmt, port);
}

static void test_listen_ipv4_port0_gets_real_port(void **state)
{
    (void)state;
    char buf[XPOLL_ADDRSTRLEN];
    xpoll_socket fd = xpoll_tcp_listen("127.0.0.1:0", 0, 0);
    assert_true(fd >= 0);
    int n = xpoll_local_addr(fd, buf, sizeof buf);
    assert_int_equal(n, (int)strlen(buf));
    assert_int_equal(strncmp(buf, "127.0.0.1:", 10), 0);
    int port = atoi(buf + 10);
    assert_in_range(port, 1, 65535);
    xpoll_close(fd);
}

static void test_listen_ipv6_port0_gets_real_port(void **state)
{
    (void)state;
    char buf[XPOLL_ADDRSTRLEN];
    xpoll_socket fd = xpoll_tcp_listen("[::1]:0", 0, 0);
    assert_true(fd >= 0);
    assert_true(xpoll_local_addr(fd, buf, sizeof buf) > 0);
    assert_int_equal(strncmp(buf, "[::1]:", 6), 0);
    assert_in_range(atoi(buf + 6), 1, 65535);
    xpoll_close(fd);
}

static void test_bare_port_means_ipv4_loopback(void **state)
{
    (void)state;
    char buf[XPOLL_ADDRSTRLEN];
    xpoll_socket fd = xpoll_tcp_listen("0", 0, 0);
    assert_true(fd >= 0);
    assert_true(xpoll_local_addr(fd, buf, sizeof buf) > 0);
    assert_int_equal(strncmp(buf, "127.0.0.1:", 10), 0);
    assert_true(atoi(buf + 10) > 0);
    xpoll_close(fd);
}

static void test_bad_addresses_are_einval(void **state)
{
    (void)state;
    for (size_t i = 0; i < N_BAD; i++) {
        const char *a = bad_addresses[i];
        int r[4] = {xpoll_tcp_listen(a, 0, 0), xpoll_tcp_connect(a),
                    xpoll_udp_bind(a, 0), xpoll_udp_connect(a)};
        for (int k = 0; k < 4; k++)
            if (r[k] != -EINVAL)
                fail_msg("\"%s\": function %d returned %d, not -EINVAL", a, k,
                         r[k]);
    }
    assert_int_equal(xpoll_tcp_listen(NULL, 0, 0), -EINVAL);
    assert_int_equal(xpoll_tcp_connect(NULL), -EINVAL);
    assert_int_equal(xpoll_udp_bind(NULL, 0), -EINVAL);
    assert_int_equal(xpoll_udp_connect(NULL), -EINVAL);
}

/* Error paths that fail after a socket exists (bind, listen, connect,
 * option) must close it; so must every parse failure.  The Unix socket
 * paths are in test_net_posix.c. */
static void test_error_paths_leak_no_fd(void **state)
{
    (void)state;
    int before = open_fd_count();

    for (size_t i = 0; i < N_BAD; i++) {
        xpoll_tcp_listen(bad_addresses[i], 0, 0);
        xpoll_tcp_connect(bad_addresses[i]);
        xpoll_udp_bind(bad_addresses[i], 0);
        xpoll_udp_connect(bad_addresses[i]);
    }
    xpoll_socket busy = xpoll_tcp_listen("127.0.0.1:0", 0, 0);
    assert_true(busy >= 0);
    char taken[XPOLL_ADDRSTRLEN];
    assert_true(xpoll_local_addr(busy, taken, sizeof taken) > 0);
    assert_int_equal(xpoll_tcp_listen(taken, 0, 0), -EADDRINUSE);
    assert_int_equal(xpoll_tcp_listen("127.0.0.1:0", 0, 0x80), -EINVAL);

    xpoll_socket fds[2];
    assert_true(xpoll_socketpair(12345, fds) < 0);
    assert_true(xpoll_accept(busy) == -EAGAIN);
    xpoll_close(busy);

    assert_int_equal(open_fd_count(), before);
}

static void test_listen_bad_flags_einval(void **state)
{
    (void)state;
    assert_int_equal(xpoll_tcp_listen("127.0.0.1:0", 0, 0x2), -EINVAL);
    assert_int_equal(xpoll_udp_bind("127.0.0.1:0", ~0u), -EINVAL);
}

static void test_listen_same_port_twice_eaddrinuse(void **state)
{
    (void)state;
    char addr[XPOLL_ADDRSTRLEN];
    xpoll_socket a = xpoll_tcp_listen("127.0.0.1:0", 0, 0);
    assert_true(a >= 0);
    assert_true(xpoll_local_addr(a, addr, sizeof addr) > 0);
    /* SO_REUSEADDR (not set on Windows) does not let a second listener
     * share the port. */
    assert_int_equal(xpoll_tcp_listen(addr, 0, 0), -EADDRINUSE);
    xpoll_close(a);
}

static void test_udp_bind_same_port_twice_eaddrinuse(void **state)
{
    (void)state;
    char addr[XPOLL_ADDRSTRLEN];
    xpoll_socket a = xpoll_udp_bind("127.0.0.1:0", 0);
    assert_true(a >= 0);
    assert_true(xpoll_local_addr(a, addr, sizeof addr) > 0);
    /* No SO_REUSEADDR on UDP: two sockets must not share a port silently. */
    assert_int_equal(xpoll_udp_bind(addr, 0), -EADDRINUSE);
    xpoll_close(a);
}

/* An address no interface of this machine has (192.0.2.1, TEST-NET-1 of
 * RFC 5737): bind fails with EADDRNOTAVAIL (bind(2); Microsoft Learn,
 * "bind function": WSAEADDRNOTAVAIL, "not a valid local IP address on
 * this computer"), with nothing left open and errno untouched.
 *
 * Wine 8.0 binds such a UDP socket to INADDR_ANY instead.  In its
 * server/sock.c, IOCTL_AFD_BIND binds to INADDR_ANY whenever
 * bind_to_interface() answers non-zero, which is meant for an address
 * some interface has (the socket is then tied to that interface);
 * bind_to_interface() starts with err = 0 and returns !err, so it answers
 * 1 when no interface has the address too.  Datagram sockets only: it
 * answers 0 for any other type, so TCP fails as on Windows.  The socket
 * keeps the address it asked for as its name ("store the interface ...
 * address instead of the actual unix address") and takes datagrams sent
 * to any local address.  Later Wine starts with err = -1
 * (wine-mirror/wine, server/sock.c). */
static void test_bind_unassigned_address_eaddrnotavail(void **state)
{
    (void)state;
    int before = open_fd_count();
    errno = 4242;
    assert_int_equal(xpoll_tcp_listen("192.0.2.1:0", 0, 0), -EADDRNOTAVAIL);
    xpoll_socket u = xpoll_udp_bind("192.0.2.1:0", 0);
    if (platform_wine_version() == NULL || u == -EADDRNOTAVAIL) {
        assert_int_equal(u, -EADDRNOTAVAIL);
        assert_int_equal(errno, 4242);
        assert_int_equal(open_fd_count(), before);
        return;
    }
    /* Wine: what it did instead, proven. */
    char name[XPOLL_ADDRSTRLEN], loopback[XPOLL_ADDRSTRLEN], buf[8];
    assert_true(u >= 0);
    assert_true(xpoll_local_addr(u, name, sizeof name) > 0);
    assert_int_equal(strncmp(name, "192.0.2.1:", 10), 0);
    snprintf(loopback, sizeof loopback, "127.0.0.1:%d", addr_port(u));
    xpoll_socket c = xpoll_udp_connect(loopback);
    assert_true(c >= 0);
    assert_int_equal(send(c, "x", 1, 0), 1);
    wait_ready(u, XPOLL_READABLE); /* bound to every local address */
    assert_int_equal(recv(u, buf, sizeof buf, 0), 1);
    assert_int_equal(xpoll_close(c), 0);
    assert_int_equal(xpoll_close(u), 0);
    assert_int_equal(errno, 4242);
    assert_int_equal(open_fd_count(), before);
    expected_failure_under_wine("a UDP bind to an address no interface has "
                                "succeeds, bound to INADDR_ANY");
}

/* The text the helpers print is the text they accept. */
static void test_addr_text_round_trips(void **state)
{
    (void)state;
    const char *listen_at[] = {"127.0.0.1:0", "[::1]:0"};
    for (size_t i = 0; i < 2; i++) {
        char addr[XPOLL_ADDRSTRLEN], local[XPOLL_ADDRSTRLEN];
        char peer[XPOLL_ADDRSTRLEN];
        xpoll_socket l = xpoll_tcp_listen(listen_at[i], 0, 0);
        assert_true(l >= 0);
        assert_true(xpoll_local_addr(l, addr, sizeof addr) > 0);
        xpoll_socket c = xpoll_tcp_connect(addr);
        assert_true(c >= 0);
        xpoll_socket s = accept_wait(l);
        assert_true(xpoll_local_addr(c, local, sizeof local) > 0);
        assert_true(xpoll_peer_addr(s, peer, sizeof peer) > 0);
        assert_string_equal(local, peer);
        assert_true(xpoll_peer_addr(c, peer, sizeof peer) > 0);
        assert_string_equal(peer, addr);
        xpoll_close(c);
        xpoll_close(s);
        xpoll_close(l);
    }
}

static void test_accept_empty_backlog_eagain(void **state)
{
    (void)state;
    xpoll_socket l = xpoll_tcp_listen("127.0.0.1:0", 0, 0);
    assert_true(l >= 0);
    assert_int_equal(xpoll_accept(l), -EAGAIN);
    xpoll_close(l);
}

static void test_tcp_connect_accept_exchange(void **state)
{
    (void)state;
    char addr[XPOLL_ADDRSTRLEN];
    xpoll_socket l = xpoll_tcp_listen("[::1]:0", 16, 0);
    assert_true(l >= 0);
    assert_true(xpoll_local_addr(l, addr, sizeof addr) > 0);
    xpoll_socket c = xpoll_tcp_connect(addr);
    assert_true(c >= 0);
    xpoll_socket s = accept_wait(l);
    assert_flows(c, s, "ping");
    assert_flows(s, c, "pong");
    xpoll_close(c);
    xpoll_close(s);
    xpoll_close(l);
}

/* Wait with xpoll itself for `fd` to report writable; returns whether an
 * event also reported an error.  The poll's backend is the one under test. */
static bool xpoll_wait_writable(xpoll_socket fd)
{
    xpoll *p;
    xpoll_events *ev;
    assert_int_equal(xpoll_new(&p), 0);
    assert_int_equal(xpoll_events_new(&ev, 4), 0);
    assert_int_equal(xpoll_register(p, fd, 7, XPOLL_WRITABLE), 0);
    bool writable = false, error = false;
    for (int tries = 0; tries < 50 && !writable; tries++) {
        int n = xpoll_wait(p, ev, SEC / 10);
        assert_true(n >= 0);
        for (int i = 0; i < n; i++) {
            const xpoll_event *e = xpoll_events_get(ev, (size_t)i);
            assert_int_equal(xpoll_event_token(e), 7);
            writable |= xpoll_event_is_writable(e);
            error |= xpoll_event_is_error(e);
        }
    }
    assert_true(writable);
    assert_int_equal(xpoll_deregister(p, fd), 0);
    xpoll_events_free(ev);
    xpoll_free(p);
    return error;
}

static void test_connect_refused_reported_when_writable(void **state)
{
    (void)state;
    const char *fmts[] = {"127.0.0.1:%d", "[::1]:%d"};
    for (size_t i = 0; i < 2; i++) {
        char addr[64];
        closed_port_addr(fmts[i], addr, sizeof addr);
        xpoll_socket c = xpoll_tcp_connect(addr);
        assert_true(c >= 0); /* EINPROGRESS is success */
        /* The event carries the failure, and SO_ERROR still holds it: the
         * kqueue emulation reads (and so clears) it to fill fflags, then
         * hands it back to the next getsockopt(), as BSD would have kept
         * it. */
        assert_true(xpoll_wait_writable(c));
        assert_int_equal(xpoll_socket_error(c), -ECONNREFUSED);
        /* Reading SO_ERROR cleared it (socket(7): "the pending error ...
         * is cleared"); Windows keeps a failed connect's error: Wine's
         * dlls/ws2_32/tests/sock.c reads WSAECONNREFUSED twice after
         * one, as Windows answers. */
        assert_int_equal(xpoll_socket_error(c), on_iocp() ? -ECONNREFUSED : 0);
        xpoll_close(c);
    }
}

static void test_connect_success_reports_no_error(void **state)
{
    (void)state;
    char addr[XPOLL_ADDRSTRLEN];
    xpoll_socket l = xpoll_tcp_listen("127.0.0.1:0", 0, 0);
    assert_true(l >= 0);
    assert_true(xpoll_local_addr(l, addr, sizeof addr) > 0);
    xpoll_socket c = xpoll_tcp_connect(addr);
    assert_true(c >= 0);
    assert_false(xpoll_wait_writable(c));
    assert_int_equal(xpoll_socket_error(c), 0);
    xpoll_close(c);
    xpoll_close(l);
}

static void test_tcp_nodelay_sets_and_clears(void **state)
{
    (void)state;
    xpoll_socket c = xpoll_tcp_connect("127.0.0.1:9");
    assert_true(c >= 0);
    assert_int_equal(xpoll_tcp_nodelay(c, true), 0);
    assert_true(tcp_nodelay_of(c));
    assert_int_equal(xpoll_tcp_nodelay(c, false), 0);
    assert_false(tcp_nodelay_of(c));
    xpoll_close(c);
}

static void test_local_addr_exact_fit_and_enospc(void **state)
{
    (void)state;
    char buf[XPOLL_ADDRSTRLEN], small[XPOLL_ADDRSTRLEN];
    const char *listen_at[] = {"127.0.0.1:0", "[::1]:0"};
    for (size_t i = 0; i < 2; i++) {
        xpoll_socket l = xpoll_tcp_listen(listen_at[i], 0, 0);
        assert_true(l >= 0);
        int n = xpoll_local_addr(l, buf, sizeof buf);
        assert_true(n > 0);
        /* n + 1 bytes (the NUL) is exactly enough, n is not. */
        memset(small, 'z', sizeof small);
        assert_int_equal(xpoll_local_addr(l, small, (size_t)n + 1), n);
        assert_string_equal(small, buf);
        assert_int_equal(xpoll_local_addr(l, small, (size_t)n), -ENOSPC);
        assert_int_equal(xpoll_local_addr(l, small, 1), -ENOSPC);
        assert_int_equal(xpoll_local_addr(l, small, 0), -ENOSPC);
        xpoll_close(l);
    }
}

static void test_local_addr_null_buf_einval(void **state)
{
    (void)state;
    xpoll_socket l = xpoll_tcp_listen("127.0.0.1:0", 0, 0);
    assert_true(l >= 0);
    assert_int_equal(xpoll_local_addr(l, NULL, 64), -EINVAL);
    assert_int_equal(xpoll_peer_addr(l, NULL, 64), -EINVAL);
    xpoll_close(l);
}

static void test_peer_addr_unconnected_enotconn(void **state)
{
    (void)state;
    char buf[XPOLL_ADDRSTRLEN];
    xpoll_socket l = xpoll_tcp_listen("127.0.0.1:0", 0, 0);
    assert_true(l >= 0);
    assert_int_equal(xpoll_peer_addr(l, buf, sizeof buf), -ENOTCONN);
    xpoll_close(l);
    xpoll_socket u = xpoll_udp_bind("127.0.0.1:0", 0);
    assert_true(u >= 0);
    assert_int_equal(xpoll_peer_addr(u, buf, sizeof buf), -ENOTCONN);
    xpoll_close(u);
}

static void udp_round_trip(const char *bind_at)
{
    char addr[XPOLL_ADDRSTRLEN], peer[XPOLL_ADDRSTRLEN];
    char buf[64];
    xpoll_socket srv = xpoll_udp_bind(bind_at, 0);
    assert_true(srv >= 0);
    assert_true(xpoll_local_addr(srv, addr, sizeof addr) > 0);
    xpoll_socket cli = xpoll_udp_connect(addr);
    assert_true(cli >= 0);
    assert_true(xpoll_peer_addr(cli, peer, sizeof peer) > 0);
    assert_string_equal(peer, addr);

    assert_int_equal(send(cli, "hello", 5, 0), 5);
    wait_ready(srv, XPOLL_READABLE);
    struct sockaddr_storage from;
    socklen_t fromlen = sizeof from;
    assert_int_equal(
        recvfrom(srv, buf, sizeof buf, 0, (struct sockaddr *)&from, &fromlen),
        5);
    assert_memory_equal(buf, "hello", 5);
    assert_int_equal(
        sendto(srv, "world", 5, 0, (struct sockaddr *)&from, fromlen), 5);
    wait_ready(cli, XPOLL_READABLE);
    assert_int_equal(recv(cli, buf, sizeof buf, 0), 5);
    assert_memory_equal(buf, "world", 5);
    xpoll_close(cli);
    xpoll_close(srv);
}

static void test_udp_round_trip_ipv4(void **state)
{
    (void)state;
    udp_round_trip("127.0.0.1:0");
}

static void test_udp_round_trip_ipv6(void **state)
{
    (void)state;
    udp_round_trip("[::1]:0");
}

static void test_close_bad_descriptors(void **state)
{
    (void)state;
    assert_int_equal(xpoll_close(-1), -EBADF);
    assert_int_equal(xpoll_close(INT_MIN), -EBADF);
    assert_int_equal(xpoll_close(closed_fd()), -EBADF);
}

static void test_socketpair_bad_args(void **state)
{
    (void)state;
    xpoll_socket fds[2] = {7, 7};
    assert_int_equal(xpoll_socketpair(SOCK_STREAM, NULL), -EINVAL);
    assert_true(xpoll_socketpair(12345, fds) < 0);
    assert_int_equal(fds[0], -1);
    assert_int_equal(fds[1], -1);
}

/* A negative descriptor is -EBADF for every function that takes one, on
 * every system: on Windows a negative value is no socket but may be a
 * handle (-1 is GetCurrentProcess's pseudo-handle, Microsoft Learn), which
 * Winsock calls WSAENOTSOCK. */
static void test_negative_descriptors_ebadf(void **state)
{
    (void)state;
    const xpoll_socket negative[] = {-1, -2, INT_MIN};
    xpoll *p;
    char buf[XPOLL_ADDRSTRLEN];
    struct sockaddr_storage ss;
    socklen_t len = sizeof ss;
    assert_int_equal(xpoll_new(&p), 0);
    for (size_t i = 0; i < sizeof negative / sizeof negative[0]; i++) {
        xpoll_socket fd = negative[i];
        errno = 4242;
        assert_int_equal(xpoll_accept(fd), -EBADF);
        assert_int_equal(xpoll_accept_on(p, fd), -EBADF);
        assert_int_equal(xpoll_tcp_nodelay(fd, true), -EBADF);
        assert_int_equal(xpoll_socket_error(fd), -EBADF);
        assert_int_equal(xpoll_local_addr(fd, buf, sizeof buf), -EBADF);
        assert_int_equal(xpoll_peer_addr(fd, buf, sizeof buf), -EBADF);
        assert_int_equal(xpoll_close(fd), -EBADF);
        assert_int_equal(xpoll_read(p, fd, buf, sizeof buf), -EBADF);
        assert_int_equal(xpoll_write(p, fd, "x", 1), -EBADF);
        assert_int_equal(xpoll_recv(p, fd, buf, sizeof buf, 0), -EBADF);
        assert_int_equal(xpoll_send(p, fd, "x", 1, 0), -EBADF);
        assert_int_equal(xpoll_recvfrom(p, fd, buf, sizeof buf, 0,
                                        (struct sockaddr *)&ss, &len),
                         -EBADF);
        assert_int_equal(xpoll_sendto(p, fd, "x", 1, 0, NULL, 0), -EBADF);
        assert_int_equal(errno, 4242);
    }
    xpoll_free(p);
}

static void test_bad_descriptors(void **state)
{
    (void)state;
    xpoll_socket gone = closed_fd();
    char buf[XPOLL_ADDRSTRLEN];
    assert_int_equal(xpoll_tcp_nodelay(-1, true), -EBADF);
    assert_int_equal(xpoll_tcp_nodelay(gone, false), -EBADF);
    assert_int_equal(xpoll_accept(gone), -EBADF);
    assert_int_equal(xpoll_socket_error(gone), -EBADF);
    assert_int_equal(xpoll_peer_addr(gone, buf, sizeof buf), -EBADF);
    /* The buffer is checked before the descriptor. */
    assert_int_equal(xpoll_peer_addr(-1, NULL, 0), -EINVAL);
    assert_int_equal(xpoll_local_addr(gone, NULL, sizeof buf), -EINVAL);
}

static void test_socketpair_bad_types(void **state)
{
    (void)state;
    const struct {
        int type, err;
    } cases[] = {
        {-1, -EINVAL},       {12345, -EINVAL},    {0, -EINVAL},
        {SOCK_RDM, -EINVAL}, {SOCK_RAW, -EINVAL}, /* Linux would quietly make a
                                                     datagram pair */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        xpoll_socket fds[2] = {7, 7};
        int rc = xpoll_socketpair(cases[i].type, fds);
        if (rc != cases[i].err)
            fail_msg("xpoll_socketpair(%d): %d, expected %d", cases[i].type, rc,
                     cases[i].err);
        assert_int_equal(fds[0], -1);
        assert_int_equal(fds[1], -1);
    }
}

static void test_backlog_out_of_range_is_accepted(void **state)
{
    (void)state;
    const int backlogs[] = {-1, 0, INT_MIN, INT_MAX};
    for (size_t i = 0; i < sizeof backlogs / sizeof backlogs[0]; i++) {
        char addr[XPOLL_ADDRSTRLEN];
        xpoll_socket l = xpoll_tcp_listen("127.0.0.1:0", backlogs[i], 0);
        assert_true(l >= 0); /* <= 0: SOMAXCONN; the kernel caps the rest */
        assert_true(xpoll_local_addr(l, addr, sizeof addr) > 0);
        xpoll_socket c = xpoll_tcp_connect(addr);
        assert_true(c >= 0);
        /* The connection is in the accept queue once the listener polls
         * readable (accept(2)). */
        xpoll_socket a = accept_wait(l);
        xpoll_close(a);
        xpoll_close(c);
        xpoll_close(l);
    }
}

/* ------------------------------------------------------------------------
 * errno
 * ---------------------------------------------------------------------- */

/* Failures inside system calls, which set errno on their way out (the
 * Unix socket calls are in test_net_posix.c). */
static void test_errno_untouched_by_failures(void **state)
{
    (void)state;
    char buf[XPOLL_ADDRSTRLEN], taken[XPOLL_ADDRSTRLEN];
    xpoll_socket fds[2];
    xpoll_socket l = xpoll_tcp_listen("127.0.0.1:0", 0, 0);
    assert_true(l >= 0);
    assert_true(xpoll_local_addr(l, taken, sizeof taken) > 0);

    errno = 4242;
    assert_int_equal(xpoll_tcp_listen(taken, 0, 0), -EADDRINUSE);
    assert_true(xpoll_socketpair(12345, fds) < 0);
    assert_int_equal(xpoll_peer_addr(l, buf, sizeof buf), -ENOTCONN);
    assert_int_equal(xpoll_accept(-1), -EBADF);
    assert_int_equal(xpoll_socket_error(-1), -EBADF);
    assert_int_equal(xpoll_tcp_nodelay(-1, true), -EBADF);
    assert_int_equal(xpoll_local_addr(-1, buf, sizeof buf), -EBADF);
    assert_int_equal(errno, 4242);
    xpoll_close(l);
}

static void test_errno_untouched_by_successes(void **state)
{
    (void)state;
    xpoll_socket fds[2];
    errno = 4242;
    xpoll_socket l = xpoll_tcp_listen("127.0.0.1:0", 0, 0);
    assert_true(l >= 0);
    assert_int_equal(xpoll_accept(l), -EAGAIN);
    assert_int_equal(xpoll_socketpair(SOCK_STREAM, fds), 0);
    assert_int_equal(errno, 4242);
    xpoll_close(l);
    xpoll_close(fds[0]);
    xpoll_close(fds[1]);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_listen_ipv4_port0_gets_real_port),
        cmocka_unit_test(test_listen_ipv6_port0_gets_real_port),
        cmocka_unit_test(test_bare_port_means_ipv4_loopback),
        cmocka_unit_test(test_bad_addresses_are_einval),
        cmocka_unit_test(test_error_paths_leak_no_fd),
        cmocka_unit_test(test_listen_bad_flags_einval),
        cmocka_unit_test(test_listen_same_port_twice_eaddrinuse),
        cmocka_unit_test(test_udp_bind_same_port_twice_eaddrinuse),
        cmocka_unit_test(test_bind_unassigned_address_eaddrnotavail),
        cmocka_unit_test(test_addr_text_round_trips),
        cmocka_unit_test(test_accept_empty_backlog_eagain),
        cmocka_unit_test(test_tcp_connect_accept_exchange),
        cmocka_unit_test(test_connect_refused_reported_when_writable),
        cmocka_unit_test(test_connect_success_reports_no_error),
        cmocka_unit_test(test_tcp_nodelay_sets_and_clears),
        cmocka_unit_test(test_local_addr_exact_fit_and_enospc),
        cmocka_unit_test(test_local_addr_null_buf_einval),
        cmocka_unit_test(test_peer_addr_unconnected_enotconn),
        cmocka_unit_test(test_udp_round_trip_ipv4),
        cmocka_unit_test(test_udp_round_trip_ipv6),
        cmocka_unit_test(test_socketpair_bad_args),
        cmocka_unit_test(test_close_bad_descriptors),
        cmocka_unit_test(test_bad_descriptors),
        cmocka_unit_test(test_negative_descriptors_ebadf),
        cmocka_unit_test(test_socketpair_bad_types),
        cmocka_unit_test(test_backlog_out_of_range_is_accepted),
        cmocka_unit_test(test_errno_untouched_by_failures),
        cmocka_unit_test(test_errno_untouched_by_successes),
    };
    return RUN(tests, NULL, NULL);
}
