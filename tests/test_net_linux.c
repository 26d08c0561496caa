/*
 * The socket helpers of <xpoll/net.h> where Linux alone has the feature or
 * the answer: abstract Unix names (unix(7), "Abstract sockets"; '@' names
 * are -ENOTSUP elsewhere), the loopback interface as "lo" with index 1,
 * and the errors Linux gives at once for a few connects.  The rest of
 * net.h is in test_net.c.
 */
#define _GNU_SOURCE
#include "support_posix.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

static void test_ipv6_scope_accepted_by_name_and_index(void **state)
{
    (void)state;
    char buf[XPOLL_ADDRSTRLEN];
    /* The kernel ignores the scope of a global address, so any interface
     * does; "lo" has index 1 on Linux. */
    int fd = xpoll_udp_bind("[::1%lo]:0", 0);
    assert_true(fd >= 0);
    assert_true(xpoll_local_addr(fd, buf, sizeof buf) > 0);
    assert_int_equal(strncmp(buf, "[::1]:", 6), 0);
    close(fd);
    fd = xpoll_udp_connect("[::1%1]:9");
    assert_true(fd >= 0);
    close(fd);
}

/* What the kernel refuses at once is returned, not a descriptor, with
 * the socket closed again and errno untouched. */
static void test_connect_immediate_failure_returned(void **state)
{
    (void)state;
    int before = open_fd_count();
    errno = 4242;
    /* Linux refuses TCP to a broadcast address before any packet. */
    assert_int_equal(xpoll_tcp_connect("255.255.255.255:80"), -ENETUNREACH);
    /* UDP to broadcast without SO_BROADCAST. */
    assert_int_equal(xpoll_udp_connect("255.255.255.255:9"), -EACCES);
    assert_int_equal(errno, 4242);
    assert_int_equal(open_fd_count(), before);
}

static void test_unix_connect_to_non_socket_refused(void **state)
{
    (void)state;
    char path[108];
    unix_tmp_path(path, sizeof path, "plainfile");
    int fd = open(path, O_CREAT | O_WRONLY | O_CLOEXEC, 0600);
    assert_true(fd >= 0);
    close(fd);
    assert_int_equal(xpoll_unix_connect(path), -ECONNREFUSED);
    unlink(path);
}

static void test_unix_abstract_listen_connect_accept(void **state)
{
    (void)state;
    char name[64], buf[XPOLL_ADDRSTRLEN];
    snprintf(name, sizeof name, "@xpoll-net-test-%ld", (long)getpid());
    int l = xpoll_unix_listen(name, 0);
    assert_true(l >= 0);
    assert_true(xpoll_local_addr(l, buf, sizeof buf) > 0);
    assert_string_equal(buf, name);
    /* Nothing appears in the filesystem (the name without '@' either). */
    struct stat st;
    assert_int_equal(stat(name, &st), -1);
    assert_int_equal(stat(name + 1, &st), -1);
    assert_int_equal(xpoll_unix_listen(name, 0), -EADDRINUSE);

    int c = xpoll_unix_connect(name);
    assert_true(c >= 0);
    int s = accept_wait(l);
    assert_flows(c, s, "abstract");
    assert_true(xpoll_peer_addr(c, buf, sizeof buf) > 0);
    assert_string_equal(buf, name);
    close(c);
    close(s);
    close(l);
    /* An abstract name disappears with its socket. */
    l = xpoll_unix_listen(name, 0);
    assert_true(l >= 0);
    close(l);
}

static void test_unix_abstract_longest_name_fits_addrstrlen(void **state)
{
    (void)state;
    struct sockaddr_un sun;
    char name[sizeof sun.sun_path + 1];
    char buf[XPOLL_ADDRSTRLEN];

    /* An abstract name fills all of sun_path after its leading NUL. */
    name[0] = '@';
    snprintf(name + 1, sizeof name - 1, "%ld-", (long)getpid());
    size_t len = strlen(name);
    memset(name + len, 'a', sizeof sun.sun_path - len);
    name[sizeof sun.sun_path] = '\0';
    int l = xpoll_unix_listen(name, 0);
    assert_true(l >= 0);
    assert_int_equal(xpoll_local_addr(l, buf, sizeof buf),
                     (int)sizeof sun.sun_path);
    assert_string_equal(buf, name);
    close(l);
}

static void test_unix_abstract_too_long_enametoolong(void **state)
{
    (void)state;
    struct sockaddr_un sun;
    char name[sizeof sun.sun_path + 2];
    /* An abstract name needs no NUL, but one byte more does not fit. */
    name[0] = '@';
    memset(name + 1, 'a', sizeof sun.sun_path);
    name[sizeof sun.sun_path + 1] = '\0';
    assert_int_equal(xpoll_unix_listen(name, 0), -ENAMETOOLONG);
}

static void test_unix_abstract_empty_name_einval(void **state)
{
    (void)state;
    assert_int_equal(xpoll_unix_listen("@", 0), -EINVAL);
    assert_int_equal(xpoll_unix_connect("@"), -EINVAL);
    assert_int_equal(xpoll_unix_dgram_bind("@"), -EINVAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ipv6_scope_accepted_by_name_and_index),
        cmocka_unit_test(test_connect_immediate_failure_returned),
        cmocka_unit_test(test_unix_connect_to_non_socket_refused),
        cmocka_unit_test(test_unix_abstract_listen_connect_accept),
        cmocka_unit_test(test_unix_abstract_longest_name_fits_addrstrlen),
        cmocka_unit_test(test_unix_abstract_too_long_enametoolong),
        cmocka_unit_test(test_unix_abstract_empty_name_einval),
    };
    return RUN(tests, NULL, NULL);
}
