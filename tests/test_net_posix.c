/*
 * The socket helpers of <xpoll/net.h> where they need POSIX: Unix path
 * sockets, pipes and socket pairs of every type, the flags every returned
 * descriptor carries (non-blocking, close-on-exec), SO_REUSEPORT,
 * interface names, non-sockets and other address families, and the Unix
 * socket error paths.  test_net.c has what every system runs; what only
 * Linux has or answers (abstract Unix names, interface "lo" as index 1,
 * its errors for a few cases) is in test_net_linux.c.  Built for POSIX
 * systems only.
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

/* The port of a socket's text address (after the last ':'). */
static int addr_port(int fd)
{
    char buf[XPOLL_ADDRSTRLEN];
    assert_true(xpoll_local_addr(fd, buf, sizeof buf) > 0);
    const char *colon = strrchr(buf, ':');
    assert_non_null(colon);
    return atoi(colon + 1);
}

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

/* ------------------------------------------------------------------------
 * Addresses
 * ---------------------------------------------------------------------- */

/* The Unix socket error paths close what they made (test_net.c has the
 * IP ones). */
static void test_unix_error_paths_leak_no_fd(void **state)
{
    (void)state;
    char path[108], too_long[200];
    int before = open_fd_count();

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

    assert_int_equal(open_fd_count(), before);
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

/* ------------------------------------------------------------------------
 * errno
 * ---------------------------------------------------------------------- */

/* Failures inside system calls, which set errno on their way out: the
 * Unix socket calls (test_net.c has the rest). */
static void test_unix_errno_untouched_by_failures(void **state)
{
    (void)state;
    char path[108];
    unix_tmp_path(path, sizeof path, "errno");
    int ul = xpoll_unix_listen(path, 0);
    assert_true(ul >= 0);

    errno = 4242;
    assert_int_equal(xpoll_unix_listen(path, 0), -EADDRINUSE);
    assert_int_equal(xpoll_unix_dgram_bind(path), -EADDRINUSE);
    assert_int_equal(xpoll_unix_connect("/nonexistent/xpoll.sock"), -ENOENT);
    assert_int_equal(errno, 4242);
    close(ul);
    unlink(path);
}

static void test_pipe_errno_untouched_by_success(void **state)
{
    (void)state;
    int fds[2];
    errno = 4242;
    assert_int_equal(xpoll_pipe(fds), 0);
    assert_int_equal(errno, 4242);
    close(fds[0]);
    close(fds[1]);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_unix_error_paths_leak_no_fd),
        cmocka_unit_test(test_listen_reuseport_shares_port),
        cmocka_unit_test(test_udp_reuseport_shares_port),
        cmocka_unit_test(test_ipv6_scope_printed_as_interface_name),
        cmocka_unit_test(test_tcp_fds_nonblock_cloexec),
        cmocka_unit_test(test_udp_fds_nonblock_cloexec),
        cmocka_unit_test(test_unix_fds_nonblock_cloexec),
        cmocka_unit_test(test_socketpair_fds_nonblock_cloexec),
        cmocka_unit_test(test_pipe_fds_nonblock_cloexec),
        cmocka_unit_test(test_accept_on_non_listener_fails),
        cmocka_unit_test(test_socket_error_of_non_socket),
        cmocka_unit_test(test_tcp_nodelay_on_non_tcp_fails),
        cmocka_unit_test(test_addr_of_non_socket_fails),
        cmocka_unit_test(test_addr_of_other_family_eafnosupport),
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
        cmocka_unit_test(test_close_closes),
        cmocka_unit_test(test_pipe_carries_data_nonblocking),
        cmocka_unit_test(test_pipe_null_einval),
        cmocka_unit_test(test_unix_errno_untouched_by_failures),
        cmocka_unit_test(test_pipe_errno_untouched_by_success),
    };
    return RUN(tests, NULL, NULL);
}
