/*
 * The socket helpers of <xpoll/net.h>: addresses (IPv4, IPv6, Unix path
 * and abstract), the flags every returned descriptor carries, TCP, UDP,
 * Unix sockets, pairs and pipes, address text, and error paths (-EINVAL
 * for malformed input, nothing left open, errno untouched).
 *
 * Runs once per backend like the rest of the suite (ctest sets
 * XPOLL_BACKEND); the backend matters where xpoll itself waits for a
 * connect to finish.  What only Linux has or answers (abstract Unix
 * names, interface "lo" as index 1, its errors for a few cases) is in
 * test_net_linux.c.
 */
#define _GNU_SOURCE
#include "support_posix.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <net/if.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

/* ------------------------------------------------------------------------
 * Helpers
 * ---------------------------------------------------------------------- */

static void assert_nonblock_cloexec(int fd)
{
    assert_true(fd >= 0);
    int fl = fcntl(fd, F_GETFL);
    assert_true(fl >= 0);
    assert_true(fl & O_NONBLOCK);
    int fdfl = fcntl(fd, F_GETFD);
    assert_true(fdfl >= 0);
    assert_true(fdfl & FD_CLOEXEC);
}

/* The port of a socket's text address (after the last ':'). */
static int addr_port(int fd)
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
    int fd =
        xpoll_tcp_listen(host_fmt[0] == '[' ? "[::1]:0" : "127.0.0.1:0", 0, 0);
    assert_true(fd >= 0);
    int port = addr_port(fd);
    close(fd);
    snprintf(out, len, host_fmt, port);
}

/* ------------------------------------------------------------------------
 * Addresses
 * ---------------------------------------------------------------------- */

static void test_listen_ipv4_port0_gets_real_port(void **state)
{
    (void)state;
    char buf[XPOLL_ADDRSTRLEN];
    int fd = xpoll_tcp_listen("127.0.0.1:0", 0, 0);
    assert_true(fd >= 0);
    int n = xpoll_local_addr(fd, buf, sizeof buf);
    assert_int_equal(n, (int)strlen(buf));
    assert_int_equal(strncmp(buf, "127.0.0.1:", 10), 0);
    int port = atoi(buf + 10);
    assert_in_range(port, 1, 65535);
    close(fd);
}

static void test_listen_ipv6_port0_gets_real_port(void **state)
{
    (void)state;
    char buf[XPOLL_ADDRSTRLEN];
    int fd = xpoll_tcp_listen("[::1]:0", 0, 0);
    assert_true(fd >= 0);
    assert_true(xpoll_local_addr(fd, buf, sizeof buf) > 0);
    assert_int_equal(strncmp(buf, "[::1]:", 6), 0);
    assert_in_range(atoi(buf + 6), 1, 65535);
    close(fd);
}

static void test_bare_port_means_ipv4_loopback(void **state)
{
    (void)state;
    char buf[XPOLL_ADDRSTRLEN];
    int fd = xpoll_tcp_listen("0", 0, 0);
    assert_true(fd >= 0);
    assert_true(xpoll_local_addr(fd, buf, sizeof buf) > 0);
    assert_int_equal(strncmp(buf, "127.0.0.1:", 10), 0);
    assert_true(atoi(buf + 10) > 0);
    close(fd);
}

/* Every malformed form gets -EINVAL from every function taking an IP
 * address, whatever the kernel would have said. */
static const char *const bad_addresses[] = {
    "",
    "127.0.0.1",       /* no port: read as a bare port, not a number */
    "127.0.0.1:",      /* empty port */
    ":80",             /* empty host */
    "127.0.0.1:65536", /* port out of range */
    "127.0.0.1:123456",
    "127.0.0.1:-1",
    "127.0.0.1:+80", /* strtol() would take these three */
    "127.0.0.1: 80",
    "127.0.0.1:0x50",
    " 127.0.0.1:80",
    "127.0.0.1:80 ",
    "127.0.0.1:80x",
    "127.0.0.1:80:90",
    "256.0.0.1:80",
    "1.2.3:80",
    "1.2.3.4.5:80",
    "localhost:80", /* names would need DNS, which can block */
    "example.com:80",
    "::1:80", /* IPv6 without brackets */
    "::1",
    "[::1]", /* no port */
    "[::1]:",
    "[::1]80",
    "[::1:80", /* missing ']' */
    "::1]:80", /* missing '[' */
    "[]:80",
    "[127.0.0.1]:80", /* IPv4 in brackets */
    "[::1]:65536",
    "[::1]:80]",
    "[[::1]]:80",
    "[::g]:80",
    "[::1%]:80",            /* empty scope */
    "[::1%no-such-if0]:80", /* unknown interface */
    "[::1%99999999999]:80", /* scope index beyond 32 bits */
    "65536",                /* bare port out of range */
    "99999",
    "-5",
    "abc",
    "8o",
};
#define N_BAD (sizeof bad_addresses / sizeof bad_addresses[0])

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
 * option) must close it; so must every parse failure. */
static void test_error_paths_leak_no_fd(void **state)
{
    (void)state;
    char path[108], too_long[200];
    int before = open_fd_count();

    for (size_t i = 0; i < N_BAD; i++) {
        xpoll_tcp_listen(bad_addresses[i], 0, 0);
        xpoll_tcp_connect(bad_addresses[i]);
        xpoll_udp_bind(bad_addresses[i], 0);
        xpoll_udp_connect(bad_addresses[i]);
    }
    int busy = xpoll_tcp_listen("127.0.0.1:0", 0, 0);
    assert_true(busy >= 0);
    char taken[XPOLL_ADDRSTRLEN];
    assert_true(xpoll_local_addr(busy, taken, sizeof taken) > 0);
    assert_int_equal(xpoll_tcp_listen(taken, 0, 0), -EADDRINUSE);
    assert_int_equal(xpoll_tcp_listen("127.0.0.1:0", 0, 0x80), -EINVAL);
    assert_int_equal(xpoll_udp_bind("192.0.2.1:0", 0), -EADDRNOTAVAIL);

    unix_tmp_path(path, sizeof path, "leak");
    int ul = xpoll_unix_listen(path, 0);
    assert_true(ul >= 0);
    assert_int_equal(xpoll_unix_listen(path, 0), -EADDRINUSE);
    assert_int_equal(xpoll_unix_dgram_bind(path), -EADDRINUSE);
    close(ul);
    unlink(path);
    assert_int_equal(xpoll_unix_connect(path), -ENOENT);
    memset(too_long, 'x', sizeof too_long - 1);
    too_long[sizeof too_long - 1] = '\0';
    assert_int_equal(xpoll_unix_listen(too_long, 0), -ENAMETOOLONG);
    assert_int_equal(xpoll_unix_connect(too_long), -ENAMETOOLONG);
    assert_int_equal(xpoll_unix_dgram_bind(too_long), -ENAMETOOLONG);

    int fds[2];
    assert_true(xpoll_socketpair(12345, fds) < 0);
    assert_true(xpoll_accept(busy) == -EAGAIN);
    close(busy);

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
    int a = xpoll_tcp_listen("127.0.0.1:0", 0, 0);
    assert_true(a >= 0);
    assert_true(xpoll_local_addr(a, addr, sizeof addr) > 0);
    /* SO_REUSEADDR does not let a second listener share the port. */
    assert_int_equal(xpoll_tcp_listen(addr, 0, 0), -EADDRINUSE);
    close(a);
}

static void test_listen_reuseport_shares_port(void **state)
{
    (void)state;
    char addr[XPOLL_ADDRSTRLEN];
    int a = xpoll_tcp_listen("127.0.0.1:0", 0, XPOLL_NET_REUSEPORT);
    assert_true(a >= 0);
    assert_true(xpoll_local_addr(a, addr, sizeof addr) > 0);
    int b = xpoll_tcp_listen(addr, 0, XPOLL_NET_REUSEPORT);
    assert_true(b >= 0);
    assert_int_equal(addr_port(b), addr_port(a));
    close(a);
    close(b);
}

static void test_udp_reuseport_shares_port(void **state)
{
    (void)state;
    char addr[XPOLL_ADDRSTRLEN];
    int a = xpoll_udp_bind("127.0.0.1:0", XPOLL_NET_REUSEPORT);
    assert_true(a >= 0);
    assert_true(xpoll_local_addr(a, addr, sizeof addr) > 0);
    int b = xpoll_udp_bind(addr, XPOLL_NET_REUSEPORT);
    assert_true(b >= 0);
    close(a);
    close(b);
}

static void test_udp_bind_same_port_twice_eaddrinuse(void **state)
{
    (void)state;
    char addr[XPOLL_ADDRSTRLEN];
    int a = xpoll_udp_bind("127.0.0.1:0", 0);
    assert_true(a >= 0);
    assert_true(xpoll_local_addr(a, addr, sizeof addr) > 0);
    /* No SO_REUSEADDR on UDP: two sockets must not share a port silently. */
    assert_int_equal(xpoll_udp_bind(addr, 0), -EADDRINUSE);
    close(a);
}

/* A scoped peer prints as [addr%ifname]:port.  Link-local addresses need an
 * interface with an IPv6 route, which "lo" lacks: try every interface and
 * check the text of each one that takes the connect. */
static void test_ipv6_scope_printed_as_interface_name(void **state)
{
    (void)state;
    struct if_nameindex *ifs = if_nameindex();
    assert_non_null(ifs);
    int checked = 0;
    for (struct if_nameindex *i = ifs; i->if_index != 0; i++) {
        char addr[64], buf[XPOLL_ADDRSTRLEN];
        snprintf(addr, sizeof addr, "[fe80::1%%%s]:9", i->if_name);
        int fd = xpoll_udp_connect(addr);
        if (fd == -ENETUNREACH || fd == -EADDRNOTAVAIL)
            continue;
        assert_true(fd >= 0);
        assert_true(xpoll_peer_addr(fd, buf, sizeof buf) > 0);
        assert_string_equal(buf, addr);
        close(fd);
        /* The index form prints as the name, too. */
        snprintf(addr, sizeof addr, "[fe80::1%%%u]:9", i->if_index);
        fd = xpoll_udp_connect(addr);
        assert_true(fd >= 0);
        assert_true(xpoll_peer_addr(fd, buf, sizeof buf) > 0);
        snprintf(addr, sizeof addr, "[fe80::1%%%s]:9", i->if_name);
        assert_string_equal(buf, addr);
        close(fd);
        checked++;
    }
    if_freenameindex(ifs);
    print_message("  %d interface(s) with an IPv6 link-local route checked\n",
                  checked);
}

/* The text the helpers print is the text they accept. */
static void test_addr_text_round_trips(void **state)
{
    (void)state;
    const char *listen_at[] = {"127.0.0.1:0", "[::1]:0"};
    for (size_t i = 0; i < 2; i++) {
        char addr[XPOLL_ADDRSTRLEN], local[XPOLL_ADDRSTRLEN];
        char peer[XPOLL_ADDRSTRLEN];
        int l = xpoll_tcp_listen(listen_at[i], 0, 0);
        assert_true(l >= 0);
        assert_true(xpoll_local_addr(l, addr, sizeof addr) > 0);
        int c = xpoll_tcp_connect(addr);
        assert_true(c >= 0);
        int s = accept_wait(l);
        assert_true(xpoll_local_addr(c, local, sizeof local) > 0);
        assert_true(xpoll_peer_addr(s, peer, sizeof peer) > 0);
        assert_string_equal(local, peer);
        assert_true(xpoll_peer_addr(c, peer, sizeof peer) > 0);
        assert_string_equal(peer, addr);
        close(c);
        close(s);
        close(l);
    }
}

/* ------------------------------------------------------------------------
 * Flags on every returned descriptor
 * ---------------------------------------------------------------------- */

static void test_tcp_fds_nonblock_cloexec(void **state)
{
    (void)state;
    const char *listen_at[] = {"127.0.0.1:0", "[::1]:0"};
    for (size_t i = 0; i < 2; i++) {
        char addr[XPOLL_ADDRSTRLEN];
        int l = xpoll_tcp_listen(listen_at[i], 0, 0);
        assert_nonblock_cloexec(l);
        assert_true(xpoll_local_addr(l, addr, sizeof addr) > 0);
        int c = xpoll_tcp_connect(addr);
        assert_nonblock_cloexec(c);
        int s = accept_wait(l);
        assert_nonblock_cloexec(s);
        close(c);
        close(s);
        close(l);
    }
}

static void test_udp_fds_nonblock_cloexec(void **state)
{
    (void)state;
    int a = xpoll_udp_bind("127.0.0.1:0", 0);
    assert_nonblock_cloexec(a);
    int b = xpoll_udp_bind("[::1]:0", 0);
    assert_nonblock_cloexec(b);
    int c = xpoll_udp_connect("127.0.0.1:9");
    assert_nonblock_cloexec(c);
    int d = xpoll_udp_connect("[::1]:9");
    assert_nonblock_cloexec(d);
    close(a);
    close(b);
    close(c);
    close(d);
}

static void test_unix_fds_nonblock_cloexec(void **state)
{
    (void)state;
    char path[108], dpath[108];
    unix_tmp_path(path, sizeof path, "flags");
    unix_tmp_path(dpath, sizeof dpath, "flags-dgram");
    int l = xpoll_unix_listen(path, 0);
    assert_nonblock_cloexec(l);
    int c = xpoll_unix_connect(path);
    assert_nonblock_cloexec(c);
    int s = accept_wait(l);
    assert_nonblock_cloexec(s);
    int d = xpoll_unix_dgram_bind(dpath);
    assert_nonblock_cloexec(d);
    int u = xpoll_unix_dgram_bind(NULL);
    assert_nonblock_cloexec(u);
    close(c);
    close(s);
    close(l);
    close(d);
    close(u);
    unlink(path);
    unlink(dpath);
}

static void test_socketpair_fds_nonblock_cloexec(void **state)
{
    (void)state;
    const int types[] = {SOCK_STREAM, SOCK_DGRAM, SOCK_SEQPACKET};
    for (size_t i = 0; i < 3; i++) {
        int fds[2];
        assert_int_equal(xpoll_socketpair(types[i], fds), 0);
        assert_nonblock_cloexec(fds[0]);
        assert_nonblock_cloexec(fds[1]);
        close(fds[0]);
        close(fds[1]);
    }
}

static void test_pipe_fds_nonblock_cloexec(void **state)
{
    (void)state;
    int fds[2];
    assert_int_equal(xpoll_pipe(fds), 0);
    assert_nonblock_cloexec(fds[0]);
    assert_nonblock_cloexec(fds[1]);
    close(fds[0]);
    close(fds[1]);
}

/* ------------------------------------------------------------------------
 * TCP
 * ---------------------------------------------------------------------- */

static void test_accept_empty_backlog_eagain(void **state)
{
    (void)state;
    int l = xpoll_tcp_listen("127.0.0.1:0", 0, 0);
    assert_true(l >= 0);
    assert_int_equal(xpoll_accept(l), -EAGAIN);
    close(l);
}

static void test_accept_on_non_listener_fails(void **state)
{
    (void)state;
    int fds[2];
    assert_int_equal(xpoll_accept(-1), -EBADF);
    assert_int_equal(xpoll_pipe(fds), 0);
    assert_int_equal(xpoll_accept(fds[0]), -ENOTSOCK);
    close(fds[0]);
    close(fds[1]);
    int u = xpoll_udp_bind("127.0.0.1:0", 0);
    assert_true(u >= 0);
    assert_int_equal(xpoll_accept(u), -EOPNOTSUPP);
    close(u);
}

static void test_tcp_connect_accept_exchange(void **state)
{
    (void)state;
    char addr[XPOLL_ADDRSTRLEN];
    int l = xpoll_tcp_listen("[::1]:0", 16, 0);
    assert_true(l >= 0);
    assert_true(xpoll_local_addr(l, addr, sizeof addr) > 0);
    int c = xpoll_tcp_connect(addr);
    assert_true(c >= 0);
    int s = accept_wait(l);
    assert_flows(c, s, "ping");
    assert_flows(s, c, "pong");
    close(c);
    close(s);
    close(l);
}

/* Wait with xpoll itself for `fd` to report writable; returns whether an
 * event also reported an error.  The poll's backend is the one under test. */
static bool xpoll_wait_writable(int fd)
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
        int c = xpoll_tcp_connect(addr);
        assert_true(c >= 0); /* EINPROGRESS is success */
        /* The event carries the failure, and SO_ERROR still holds it: the
         * kqueue emulation reads (and so clears) it to fill fflags, then
         * hands it back to the next getsockopt(), as BSD would have kept
         * it. */
        assert_true(xpoll_wait_writable(c));
        assert_int_equal(xpoll_socket_error(c), -ECONNREFUSED);
        /* Reading SO_ERROR cleared it. */
        assert_int_equal(xpoll_socket_error(c), 0);
        close(c);
    }
}

static void test_connect_success_reports_no_error(void **state)
{
    (void)state;
    char addr[XPOLL_ADDRSTRLEN];
    int l = xpoll_tcp_listen("127.0.0.1:0", 0, 0);
    assert_true(l >= 0);
    assert_true(xpoll_local_addr(l, addr, sizeof addr) > 0);
    int c = xpoll_tcp_connect(addr);
    assert_true(c >= 0);
    assert_false(xpoll_wait_writable(c));
    assert_int_equal(xpoll_socket_error(c), 0);
    close(c);
    close(l);
}

static void test_socket_error_of_non_socket(void **state)
{
    (void)state;
    int fds[2];
    assert_int_equal(xpoll_pipe(fds), 0);
    assert_int_equal(xpoll_socket_error(fds[0]), -ENOTSOCK);
    close(fds[0]);
    close(fds[1]);
    assert_int_equal(xpoll_socket_error(fds[0]), -EBADF);
    assert_int_equal(xpoll_socket_error(-1), -EBADF);
}

static void test_tcp_nodelay_sets_and_clears(void **state)
{
    (void)state;
    int c = xpoll_tcp_connect("127.0.0.1:9");
    assert_true(c >= 0);
    int v = -1;
    socklen_t len = sizeof v;
    assert_int_equal(xpoll_tcp_nodelay(c, true), 0);
    assert_int_equal(getsockopt(c, IPPROTO_TCP, TCP_NODELAY, &v, &len), 0);
    assert_true(v != 0);
    assert_int_equal(xpoll_tcp_nodelay(c, false), 0);
    assert_int_equal(getsockopt(c, IPPROTO_TCP, TCP_NODELAY, &v, &len), 0);
    assert_int_equal(v, 0);
    close(c);
}

static void test_tcp_nodelay_on_non_tcp_fails(void **state)
{
    (void)state;
    int fds[2];
    assert_int_equal(xpoll_pipe(fds), 0);
    assert_int_equal(xpoll_tcp_nodelay(fds[0], true), -ENOTSOCK);
    close(fds[0]);
    close(fds[1]);
    int u = xpoll_udp_bind("127.0.0.1:0", 0);
    assert_true(u >= 0);
    assert_true(xpoll_tcp_nodelay(u, true) < 0);
    close(u);
}

/* ------------------------------------------------------------------------
 * Address text
 * ---------------------------------------------------------------------- */

static void test_local_addr_exact_fit_and_enospc(void **state)
{
    (void)state;
    char buf[XPOLL_ADDRSTRLEN], small[XPOLL_ADDRSTRLEN];
    const char *listen_at[] = {"127.0.0.1:0", "[::1]:0"};
    for (size_t i = 0; i < 2; i++) {
        int l = xpoll_tcp_listen(listen_at[i], 0, 0);
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
        close(l);
    }
}

static void test_local_addr_null_buf_einval(void **state)
{
    (void)state;
    int l = xpoll_tcp_listen("127.0.0.1:0", 0, 0);
    assert_true(l >= 0);
    assert_int_equal(xpoll_local_addr(l, NULL, 64), -EINVAL);
    assert_int_equal(xpoll_peer_addr(l, NULL, 64), -EINVAL);
    close(l);
}

static void test_peer_addr_unconnected_enotconn(void **state)
{
    (void)state;
    char buf[XPOLL_ADDRSTRLEN];
    int l = xpoll_tcp_listen("127.0.0.1:0", 0, 0);
    assert_true(l >= 0);
    assert_int_equal(xpoll_peer_addr(l, buf, sizeof buf), -ENOTCONN);
    close(l);
    int u = xpoll_udp_bind("127.0.0.1:0", 0);
    assert_true(u >= 0);
    assert_int_equal(xpoll_peer_addr(u, buf, sizeof buf), -ENOTCONN);
    close(u);
}

static void test_addr_of_non_socket_fails(void **state)
{
    (void)state;
    char buf[XPOLL_ADDRSTRLEN];
    int fds[2];
    assert_int_equal(xpoll_pipe(fds), 0);
    assert_int_equal(xpoll_local_addr(fds[0], buf, sizeof buf), -ENOTSOCK);
    assert_int_equal(xpoll_peer_addr(fds[0], buf, sizeof buf), -ENOTSOCK);
    close(fds[0]);
    close(fds[1]);
    assert_int_equal(xpoll_local_addr(fds[0], buf, sizeof buf), -EBADF);
    assert_int_equal(xpoll_local_addr(-1, buf, sizeof buf), -EBADF);
}

static void test_addr_of_other_family_eafnosupport(void **state)
{
    (void)state;
    char buf[XPOLL_ADDRSTRLEN];
    /* A routing socket: neither IP nor Unix (route(4) on BSD and macOS;
     * on Linux AF_ROUTE is another name of AF_NETLINK, netlink(7)). */
    int fd = socket(AF_ROUTE, SOCK_RAW, 0);
    assert_true(fd >= 0);
    assert_int_equal(xpoll_local_addr(fd, buf, sizeof buf), -EAFNOSUPPORT);
    close(fd);
}

/* ------------------------------------------------------------------------
 * UDP
 * ---------------------------------------------------------------------- */

static void udp_round_trip(const char *bind_at)
{
    char addr[XPOLL_ADDRSTRLEN], peer[XPOLL_ADDRSTRLEN];
    char buf[64];
    int srv = xpoll_udp_bind(bind_at, 0);
    assert_true(srv >= 0);
    assert_true(xpoll_local_addr(srv, addr, sizeof addr) > 0);
    int cli = xpoll_udp_connect(addr);
    assert_true(cli >= 0);
    assert_true(xpoll_peer_addr(cli, peer, sizeof peer) > 0);
    assert_string_equal(peer, addr);

    assert_int_equal(send(cli, "hello", 5, 0), 5);
    wait_fd(srv, POLLIN);
    struct sockaddr_storage from;
    socklen_t fromlen = sizeof from;
    assert_int_equal(
        recvfrom(srv, buf, sizeof buf, 0, (struct sockaddr *)&from, &fromlen),
        5);
    assert_memory_equal(buf, "hello", 5);
    assert_int_equal(
        sendto(srv, "world", 5, 0, (struct sockaddr *)&from, fromlen), 5);
    wait_fd(cli, POLLIN);
    assert_int_equal(recv(cli, buf, sizeof buf, 0), 5);
    assert_memory_equal(buf, "world", 5);
    close(cli);
    close(srv);
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

static void test_udp_connect_reports_icmp_refused(void **state)
{
    (void)state;
    char addr[XPOLL_ADDRSTRLEN];
    int gone = xpoll_udp_bind("127.0.0.1:0", 0);
    assert_true(gone >= 0);
    assert_true(xpoll_local_addr(gone, addr, sizeof addr) > 0);
    close(gone);
    int cli = xpoll_udp_connect(addr);
    assert_true(cli >= 0);
    assert_int_equal(send(cli, "x", 1, 0), 1);
    /* The port-unreachable ICMP comes back as the socket's error. */
    wait_fd(cli, POLLERR);
    assert_int_equal(xpoll_socket_error(cli), -ECONNREFUSED);
    close(cli);
}

/* ------------------------------------------------------------------------
 * Unix sockets
 * ---------------------------------------------------------------------- */

static void test_unix_path_listen_connect_accept(void **state)
{
    (void)state;
    char path[108], buf[XPOLL_ADDRSTRLEN];
    unix_tmp_path(path, sizeof path, "stream");
    int l = xpoll_unix_listen(path, 0);
    assert_true(l >= 0);
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    assert_true(S_ISSOCK(st.st_mode));
    assert_true(xpoll_local_addr(l, buf, sizeof buf) > 0);
    assert_string_equal(buf, path);

    int c = xpoll_unix_connect(path);
    assert_true(c >= 0);
    int s = accept_wait(l);
    assert_flows(c, s, "over a path");
    /* The client is unnamed; the accepted socket's peer is, too. */
    assert_int_equal(xpoll_local_addr(c, buf, sizeof buf), 0);
    assert_string_equal(buf, "");
    assert_int_equal(xpoll_peer_addr(s, buf, sizeof buf), 0);
    assert_true(xpoll_peer_addr(c, buf, sizeof buf) > 0);
    assert_string_equal(buf, path);
    close(c);
    close(s);
    close(l);
    unlink(path);
}

static void test_unix_existing_path_eaddrinuse(void **state)
{
    (void)state;
    char path[108];
    unix_tmp_path(path, sizeof path, "exists");
    int fd = open(path, O_CREAT | O_WRONLY | O_CLOEXEC, 0600);
    assert_true(fd >= 0);
    close(fd);
    /* Not removed for the caller: it may be another server's socket. */
    assert_int_equal(xpoll_unix_listen(path, 0), -EADDRINUSE);
    unlink(path);
}

static void test_unix_connect_to_missing_path_enoent(void **state)
{
    (void)state;
    char path[108];
    unix_tmp_path(path, sizeof path, "missing");
    assert_int_equal(xpoll_unix_connect(path), -ENOENT);
}

static void test_unix_longest_names_fit_addrstrlen(void **state)
{
    (void)state;
    struct sockaddr_un sun;
    char path[sizeof sun.sun_path];
    char buf[XPOLL_ADDRSTRLEN];

    /* A path of sizeof(sun_path) - 1 bytes: the longest with its NUL. */
    size_t max = sizeof sun.sun_path - 1;
    const char *dir = "/tmp/";
    snprintf(path, sizeof path, "%s%ld-", dir, (long)getpid());
    size_t len = strlen(path);
    memset(path + len, 'p', max - len);
    path[max] = '\0';
    unlink(path);
    int l = xpoll_unix_listen(path, 0);
    assert_true(l >= 0);
    assert_int_equal(xpoll_local_addr(l, buf, sizeof buf), (int)max);
    assert_string_equal(buf, path);
    close(l);
    unlink(path);
}

static void test_unix_too_long_enametoolong(void **state)
{
    (void)state;
    struct sockaddr_un sun;
    char path[sizeof sun.sun_path + 1];
    /* sizeof(sun_path) bytes leave no room for the NUL. */
    memset(path, 'p', sizeof sun.sun_path);
    path[sizeof sun.sun_path] = '\0';
    assert_int_equal(xpoll_unix_listen(path, 0), -ENAMETOOLONG);
    assert_int_equal(xpoll_unix_connect(path), -ENAMETOOLONG);
    assert_int_equal(xpoll_unix_dgram_bind(path), -ENAMETOOLONG);
}

static void test_unix_empty_names_einval(void **state)
{
    (void)state;
    assert_int_equal(xpoll_unix_listen("", 0), -EINVAL);
    assert_int_equal(xpoll_unix_listen(NULL, 0), -EINVAL);
    assert_int_equal(xpoll_unix_connect(""), -EINVAL);
    assert_int_equal(xpoll_unix_connect(NULL), -EINVAL);
    assert_int_equal(xpoll_unix_dgram_bind(""), -EINVAL);
}

static void test_unix_dgram_bound_exchange(void **state)
{
    (void)state;
    char path[108], buf[XPOLL_ADDRSTRLEN];
    unix_tmp_path(path, sizeof path, "dgram");
    int srv = xpoll_unix_dgram_bind(path);
    assert_true(srv >= 0);
    assert_true(xpoll_local_addr(srv, buf, sizeof buf) > 0);
    assert_string_equal(buf, path);
    int cli = xpoll_unix_dgram_bind(NULL);
    assert_true(cli >= 0);

    struct sockaddr_un to = {.sun_family = AF_UNIX};
    strcpy(to.sun_path, path);
    assert_int_equal(
        sendto(cli, "dgram", 5, 0, (struct sockaddr *)&to, sizeof to), 5);
    wait_fd(srv, POLLIN);
    assert_int_equal(recv(srv, buf, sizeof buf, 0), 5);
    assert_memory_equal(buf, "dgram", 5);
    close(cli);
    close(srv);
    unlink(path);
}

static void test_unix_dgram_unbound_has_empty_name(void **state)
{
    (void)state;
    char buf[XPOLL_ADDRSTRLEN] = "junk";
    int u = xpoll_unix_dgram_bind(NULL);
    assert_true(u >= 0);
    assert_int_equal(xpoll_local_addr(u, buf, sizeof buf), 0);
    assert_string_equal(buf, "");
    close(u);
}

/* ------------------------------------------------------------------------
 * Pairs and pipes
 * ---------------------------------------------------------------------- */

static void test_socketpair_types_carry_data(void **state)
{
    (void)state;
    const int types[] = {SOCK_STREAM, SOCK_DGRAM, SOCK_SEQPACKET};
    for (size_t i = 0; i < 3; i++) {
        int fds[2];
        assert_int_equal(xpoll_socketpair(types[i], fds), 0);
        assert_flows(fds[0], fds[1], "there");
        assert_flows(fds[1], fds[0], "back");
        /* Non-blocking: an empty read fails at once. */
        char c;
        assert_int_equal(read(fds[0], &c, 1), -1);
        assert_int_equal(errno, EAGAIN);
        close(fds[0]);
        close(fds[1]);
    }
}

/* xpoll_close closes: the peer reads end of file, and the number is no
 * longer open. */
static void test_close_closes(void **state)
{
    (void)state;
    xpoll_socket fds[2];
    char byte;
    assert_int_equal(xpoll_socketpair(SOCK_STREAM, fds), 0);
    assert_int_equal(xpoll_close(fds[0]), 0);
    assert_int_equal(fcntl(fds[0], F_GETFD), -1);
    assert_int_equal(errno, EBADF);
    assert_int_equal(read(fds[1], &byte, 1), 0);
    assert_int_equal(xpoll_close(fds[1]), 0);
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
    int fds[2] = {7, 7};
    assert_int_equal(xpoll_socketpair(SOCK_STREAM, NULL), -EINVAL);
    assert_true(xpoll_socketpair(12345, fds) < 0);
    assert_int_equal(fds[0], -1);
    assert_int_equal(fds[1], -1);
}

static void test_pipe_carries_data_nonblocking(void **state)
{
    (void)state;
    int fds[2];
    char c;
    assert_int_equal(xpoll_pipe(fds), 0);
    assert_int_equal(read(fds[0], &c, 1), -1);
    assert_int_equal(errno, EAGAIN);
    assert_flows(fds[1], fds[0], "pipe");
    close(fds[0]);
    close(fds[1]);
}

static void test_pipe_null_einval(void **state)
{
    (void)state;
    assert_int_equal(xpoll_pipe(NULL), -EINVAL);
}

/* ------------------------------------------------------------------------
 * Bad arguments
 * ---------------------------------------------------------------------- */

static void test_bad_descriptors(void **state)
{
    (void)state;
    int gone = closed_fd();
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
        int fds[2] = {7, 7};
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
        int l = xpoll_tcp_listen("127.0.0.1:0", backlogs[i], 0);
        assert_true(l >= 0); /* <= 0: SOMAXCONN; the kernel caps the rest */
        assert_true(xpoll_local_addr(l, addr, sizeof addr) > 0);
        int c = xpoll_tcp_connect(addr);
        assert_true(c >= 0);
        /* The connection is in the accept queue once the listener polls
         * readable (accept(2)); wait for that, however long it takes. */
        struct pollfd pfd = {.fd = l, .events = POLLIN};
        int ready;
        while ((ready = poll(&pfd, 1, -1)) < 0 && errno == EINTR) {
        }
        assert_int_equal(ready, 1);
        assert_true(pfd.revents & POLLIN);
        int a = xpoll_accept(l);
        assert_true(a >= 0);
        close(a);
        close(c);
        close(l);
    }
}

/* ------------------------------------------------------------------------
 * errno
 * ---------------------------------------------------------------------- */

/* Failures inside system calls, which set errno on their way out. */
static void test_errno_untouched_by_failures(void **state)
{
    (void)state;
    char buf[XPOLL_ADDRSTRLEN], taken[XPOLL_ADDRSTRLEN], path[108];
    int fds[2];
    int l = xpoll_tcp_listen("127.0.0.1:0", 0, 0);
    assert_true(l >= 0);
    assert_true(xpoll_local_addr(l, taken, sizeof taken) > 0);
    unix_tmp_path(path, sizeof path, "errno");
    int ul = xpoll_unix_listen(path, 0);
    assert_true(ul >= 0);

    errno = 4242;
    assert_int_equal(xpoll_tcp_listen(taken, 0, 0), -EADDRINUSE);
    assert_int_equal(xpoll_udp_bind("192.0.2.1:0", 0), -EADDRNOTAVAIL);
    assert_int_equal(xpoll_unix_listen(path, 0), -EADDRINUSE);
    assert_int_equal(xpoll_unix_dgram_bind(path), -EADDRINUSE);
    assert_true(xpoll_socketpair(12345, fds) < 0);
    assert_int_equal(xpoll_peer_addr(l, buf, sizeof buf), -ENOTCONN);
    assert_int_equal(xpoll_accept(-1), -EBADF);
    assert_int_equal(xpoll_socket_error(-1), -EBADF);
    assert_int_equal(xpoll_tcp_nodelay(-1, true), -EBADF);
    assert_int_equal(xpoll_local_addr(-1, buf, sizeof buf), -EBADF);
    assert_int_equal(xpoll_unix_connect("/nonexistent/xpoll.sock"), -ENOENT);
    assert_int_equal(errno, 4242);
    close(l);
    close(ul);
    unlink(path);
}

static void test_errno_untouched_by_successes(void **state)
{
    (void)state;
    int fds[2];
    errno = 4242;
    int l = xpoll_tcp_listen("127.0.0.1:0", 0, 0);
    assert_true(l >= 0);
    assert_int_equal(xpoll_accept(l), -EAGAIN);
    assert_int_equal(xpoll_pipe(fds), 0);
    assert_int_equal(errno, 4242);
    close(l);
    close(fds[0]);
    close(fds[1]);
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
        cmocka_unit_test(test_listen_reuseport_shares_port),
        cmocka_unit_test(test_udp_reuseport_shares_port),
        cmocka_unit_test(test_udp_bind_same_port_twice_eaddrinuse),
        cmocka_unit_test(test_ipv6_scope_printed_as_interface_name),
        cmocka_unit_test(test_addr_text_round_trips),
        cmocka_unit_test(test_tcp_fds_nonblock_cloexec),
        cmocka_unit_test(test_udp_fds_nonblock_cloexec),
        cmocka_unit_test(test_unix_fds_nonblock_cloexec),
        cmocka_unit_test(test_socketpair_fds_nonblock_cloexec),
        cmocka_unit_test(test_pipe_fds_nonblock_cloexec),
        cmocka_unit_test(test_accept_empty_backlog_eagain),
        cmocka_unit_test(test_accept_on_non_listener_fails),
        cmocka_unit_test(test_tcp_connect_accept_exchange),
        cmocka_unit_test(test_connect_refused_reported_when_writable),
        cmocka_unit_test(test_connect_success_reports_no_error),
        cmocka_unit_test(test_socket_error_of_non_socket),
        cmocka_unit_test(test_tcp_nodelay_sets_and_clears),
        cmocka_unit_test(test_tcp_nodelay_on_non_tcp_fails),
        cmocka_unit_test(test_local_addr_exact_fit_and_enospc),
        cmocka_unit_test(test_local_addr_null_buf_einval),
        cmocka_unit_test(test_peer_addr_unconnected_enotconn),
        cmocka_unit_test(test_addr_of_non_socket_fails),
        cmocka_unit_test(test_addr_of_other_family_eafnosupport),
        cmocka_unit_test(test_udp_round_trip_ipv4),
        cmocka_unit_test(test_udp_round_trip_ipv6),
        cmocka_unit_test(test_udp_connect_reports_icmp_refused),
        cmocka_unit_test(test_unix_path_listen_connect_accept),
        cmocka_unit_test(test_unix_existing_path_eaddrinuse),
        cmocka_unit_test(test_unix_connect_to_missing_path_enoent),
        cmocka_unit_test(test_unix_longest_names_fit_addrstrlen),
        cmocka_unit_test(test_unix_too_long_enametoolong),
        cmocka_unit_test(test_unix_empty_names_einval),
        cmocka_unit_test(test_unix_dgram_bound_exchange),
        cmocka_unit_test(test_unix_dgram_unbound_has_empty_name),
        cmocka_unit_test(test_socketpair_types_carry_data),
        cmocka_unit_test(test_socketpair_bad_args),
        cmocka_unit_test(test_close_closes),
        cmocka_unit_test(test_close_bad_descriptors),
        cmocka_unit_test(test_pipe_carries_data_nonblocking),
        cmocka_unit_test(test_pipe_null_einval),
        cmocka_unit_test(test_bad_descriptors),
        cmocka_unit_test(test_socketpair_bad_types),
        cmocka_unit_test(test_backlog_out_of_range_is_accepted),
        cmocka_unit_test(test_errno_untouched_by_failures),
        cmocka_unit_test(test_errno_untouched_by_successes),
    };
    return RUN(tests, NULL, NULL);
}
