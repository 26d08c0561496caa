/* support.h and support_posix.h on POSIX systems: pairs of every kind,
 * their I/O, poll(2) waits and descriptor numbers. */
#define _GNU_SOURCE
#include "support_posix.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

const enum pair_kind pair_simple = PAIR_PIPE;
const enum pair_kind pair_stream = PAIR_UNIX_STREAM;
const enum pair_kind pair_dgram = PAIR_UNIX_DGRAM;

void support_system_init(void)
{
    /* Tests write to sockets and pipes whose peer is gone and expect
     * EPIPE, not death: such a write also raises SIGPIPE (write(2),
     * EPIPE). */
    signal(SIGPIPE, SIG_IGN);
}

ssize_t fd_read(xpoll_socket fd, void *buf, size_t len)
{
    return read(fd, buf, len);
}

ssize_t fd_write(xpoll_socket fd, const void *buf, size_t len)
{
    return write(fd, buf, len);
}

int fd_close(xpoll_socket fd)
{
    return close(fd);
}

int env_set(const char *name, const char *value)
{
    return value != NULL ? setenv(name, value, 1) : unsetenv(name);
}

void set_nonblock(int fd)
{
    int fl = fcntl(fd, F_GETFL);
    assert_true(fl >= 0);
    assert_int_equal(fcntl(fd, F_SETFL, fl | O_NONBLOCK), 0);
}

/* The flags every descriptor of a test carries, set after the fact: the
 * atomic SOCK_NONBLOCK/SOCK_CLOEXEC, pipe2() and accept4() are not
 * everywhere (macOS has none of them), and no test forks while another
 * thread creates descriptors. */
static void nonblock_cloexec(int fd)
{
    assert_true(fd >= 0);
    set_nonblock(fd);
    int fl = fcntl(fd, F_GETFD);
    assert_true(fl >= 0);
    assert_int_equal(fcntl(fd, F_SETFD, fl | FD_CLOEXEC), 0);
}

int so_error(xpoll_socket fd)
{
    int err = 0;
    socklen_t len = sizeof err;
    assert_int_equal(getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len), 0);
    return err;
}

xpoll_socket tcp_listener(uint16_t *port)
{
    struct sockaddr_in sin = {.sin_family = AF_INET};
    socklen_t len = sizeof sin;
    int fd = socket(AF_INET, SOCK_STREAM, 0);

    nonblock_cloexec(fd);
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(bind(fd, (struct sockaddr *)&sin, sizeof sin), 0);
    assert_int_equal(listen(fd, 128), 0);
    assert_int_equal(getsockname(fd, (struct sockaddr *)&sin, &len), 0);
    *port = ntohs(sin.sin_port);
    return fd;
}

void tcp_pair(xpoll_socket fds[2])
{
    uint16_t port;
    int lfd = tcp_listener(&port);
    struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = htons(port)};
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);

    fds[1] = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(fds[1] >= 0);
    assert_int_equal(connect(fds[1], (struct sockaddr *)&sin, sizeof sin), 0);
    nonblock_cloexec(fds[1]);
    /* The handshake completed in connect(); the backlog holds it now. */
    fds[0] = accept(lfd, NULL, NULL);
    nonblock_cloexec(fds[0]);
    close(lfd);
}

xpoll_socket tcp_socket(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    nonblock_cloexec(fd);
    return fd;
}

int tcp_connect(xpoll_socket fd, uint16_t port)
{
    struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = htons(port)};
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    return connect(fd, (struct sockaddr *)&sin, sizeof sin) == 0 ? 0 : errno;
}

bool tcp_nodelay_of(xpoll_socket fd)
{
    int v = -1;
    socklen_t len = sizeof v;
    assert_int_equal(getsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &v, &len), 0);
    return v != 0;
}

void shutdown_write(xpoll_socket fd)
{
    assert_int_equal(shutdown(fd, SHUT_WR), 0);
}

void shutdown_both(xpoll_socket fd)
{
    assert_int_equal(shutdown(fd, SHUT_RDWR), 0);
}

void close_with_reset(xpoll_socket fd)
{
    struct linger lin = {.l_onoff = 1, .l_linger = 0};
    assert_int_equal(setsockopt(fd, SOL_SOCKET, SO_LINGER, &lin, sizeof lin),
                     0);
    close(fd); /* RST instead of FIN */
}

static void udp_pair(int fds[2])
{
    struct sockaddr_in a = {.sin_family = AF_INET}, b = a;
    socklen_t len = sizeof a;

    a.sin_addr.s_addr = b.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    for (int i = 0; i < 2; i++) {
        fds[i] = socket(AF_INET, SOCK_DGRAM, 0);
        nonblock_cloexec(fds[i]);
    }
    assert_int_equal(bind(fds[0], (struct sockaddr *)&a, sizeof a), 0);
    assert_int_equal(bind(fds[1], (struct sockaddr *)&b, sizeof b), 0);
    assert_int_equal(getsockname(fds[0], (struct sockaddr *)&a, &len), 0);
    len = sizeof b;
    assert_int_equal(getsockname(fds[1], (struct sockaddr *)&b, &len), 0);
    assert_int_equal(connect(fds[0], (struct sockaddr *)&b, sizeof b), 0);
    assert_int_equal(connect(fds[1], (struct sockaddr *)&a, sizeof a), 0);
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
    case PAIR_UNIX_STREAM:
    case PAIR_UNIX_DGRAM:
        assert_int_equal(
            socketpair(AF_UNIX,
                       kind == PAIR_UNIX_STREAM ? SOCK_STREAM : SOCK_DGRAM, 0,
                       fds),
            0);
        nonblock_cloexec(fds[0]);
        nonblock_cloexec(fds[1]);
        break;
    case PAIR_PIPE:
        assert_int_equal(pipe(fds), 0);
        nonblock_cloexec(fds[0]);
        nonblock_cloexec(fds[1]);
        break;
    case PAIR_EVENTFD:
        fds[0] = fds[1] = platform_eventfd();
        if (fds[0] == -ENOTSUP) {
            print_message("skipped: this system has no eventfd\n");
            skip();
        }
        assert_true(fds[0] >= 0);
        break;
    default:
        fail_msg("unknown pair kind %d", (int)kind);
    }
}

void pair_close(enum pair_kind kind, xpoll_socket fds[2])
{
    close(fds[0]);
    if (kind != PAIR_EVENTFD)
        close(fds[1]);
}

void put(enum pair_kind kind, xpoll_socket fds[2])
{
    if (kind == PAIR_EVENTFD) {
        uint64_t one = 1;
        assert_int_equal(write(fds[1], &one, sizeof one), (ssize_t)sizeof one);
    } else {
        assert_int_equal(write(fds[1], "x", 1), 1);
    }
}

xpoll_socket closed_fd(void)
{
    int fds[2];
    assert_int_equal(xpoll_pipe(fds), 0);
    close(fds[0]);
    close(fds[1]);
    return fds[1];
}

void wait_ready(xpoll_socket fd, xpoll_interests direction)
{
    wait_fd(fd, direction == XPOLL_WRITABLE ? POLLOUT : POLLIN);
}

void wait_fd(int fd, short events)
{
    struct pollfd p = {.fd = fd, .events = events};
    int64_t deadline = now_ns() + HANG_NS;
    int n;
    do
        n = poll(&p, 1, 100);
    while ((n == 0 || (n < 0 && errno == EINTR)) && now_ns() < deadline);
    assert_int_equal(n, 1);
    assert_true(p.revents & events);
}

void unix_tmp_path(char *buf, size_t len, const char *tag)
{
    const char *dir = getenv("TMPDIR");
    if (dir == NULL || strlen(dir) > 40)
        dir = "/tmp";
    snprintf(buf, len, "%s/xpoll-net-%ld-%s.sock", dir, (long)getpid(), tag);
    unlink(buf);
}

void fd_snapshot(struct fd_set_snapshot *snap)
{
    for (int fd = 0; fd < (int)sizeof snap->open; fd++)
        snap->open[fd] = fcntl(fd, F_GETFD) >= 0;
}

int fds_opened_since(const struct fd_set_snapshot *before, int *out, int max)
{
    struct fd_set_snapshot now;
    int n = 0;

    fd_snapshot(&now);
    for (int fd = 0; fd < (int)sizeof now.open; fd++) {
        if (now.open[fd] && !before->open[fd]) {
            if (n < max)
                out[n] = fd;
            n++;
        }
    }
    return n;
}
