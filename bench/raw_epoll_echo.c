/*
 * raw_epoll_echo - the physical limit: a hand-written, edge-triggered epoll
 * echo server, single-threaded.
 *
 *   raw_epoll_echo PORT       (listens on 127.0.0.1:PORT; prints the address)
 *
 * Per ping-pong message: one epoll_wait (shared by every connection that is
 * ready at once), one read, one write, and as few instructions as a
 * careful hand-written loop needs (a fast path for the common case, the
 * general pump for the rest).  The read uses the short-read rule
 * for stream sockets: a read that returns less than it asked for proves the
 * receive queue was empty, so no extra read is made to reach EAGAIN (not
 * once the peer's FIN has been seen: then read on to 0 or EAGAIN).
 *
 * Same behaviour as xpoll_echo.c and the examples' engine
 * (examples/tcp_echo_engine.c): every byte is echoed, output that does not
 * fit in the socket is buffered (at most BUF_SIZE per connection; reading
 * pauses while the buffer is full) and EPOLLOUT is wanted only while
 * output is pending; a half-closed connection is flushed, then closed.  One
 * malloc per connection (at accept).  SIGTERM and SIGINT (through a signalfd)
 * end it cleanly with status 0.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <unistd.h>

#define BUF_SIZE   (64 * 1024)
#define MAX_EVENTS 1024

struct conn {
    int fd;
    bool may_read; /* input not known to be drained */
    bool fin;      /* the peer's FIN was reported: short reads prove nothing */
    bool eof;      /* read() returned 0 */
    bool want_out; /* EPOLLOUT registered */
    size_t start, end; /* pending output: buf[start, end) */
    unsigned char buf[BUF_SIZE];
};

/* Tokens of the two non-connection descriptors; connections are heap
 * pointers and never equal these. */
static char listener_tag, signal_tag;

static int epfd;
static unsigned long live;

static void conn_close(struct conn *c)
{
    epoll_ctl(epfd, EPOLL_CTL_DEL, c->fd, NULL);
    close(c->fd);
    free(c);
    live--;
}

/* Returns false if the connection was closed (and freed). */
static bool conn_pump(struct conn *c)
{
    for (;;) {
        if (c->start < c->end) {
            ssize_t n = write(c->fd, c->buf + c->start, c->end - c->start);
            if (n >= 0) {
                c->start += (size_t)n;
            } else if (errno != EAGAIN && errno != EINTR) {
                conn_close(c);
                return false;
            }
            if (c->start < c->end)
                break; /* the socket is full: wait for EPOLLOUT */
            c->start = c->end = 0;
        }
        if (!c->may_read || c->eof)
            break;
        size_t room = BUF_SIZE - c->end;
        ssize_t n = read(c->fd, c->buf + c->end, room);
        if (n > 0) {
            c->end += (size_t)n;
            if ((size_t)n < room && !c->fin)
                c->may_read = false; /* short read: drained */
        } else if (n == 0) {
            c->eof = true;
            c->may_read = false;
        } else if (errno == EAGAIN) {
            c->may_read = false;
        } else if (errno != EINTR) {
            conn_close(c);
            return false;
        }
    }
    if (c->eof && c->start == c->end) {
        conn_close(c);
        return false;
    }
    bool want_out = c->start < c->end;
    if (want_out != c->want_out) {
        struct epoll_event ev = {
            .events =
                EPOLLIN | EPOLLRDHUP | EPOLLET | (want_out ? EPOLLOUT : 0),
            .data.ptr = c,
        };
        if (epoll_ctl(epfd, EPOLL_CTL_MOD, c->fd, &ev) < 0) {
            conn_close(c);
            return false;
        }
        c->want_out = want_out;
    }
    return true;
}

static void conn_event(struct conn *c, uint32_t e)
{
    if (e & (EPOLLRDHUP | EPOLLHUP))
        c->fin = true;
    if (e & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR))
        c->may_read = true; /* a read reports an error too */
    /* The fast path, every ping-pong message: nothing pending, one short
     * read (which proves the input drained), one complete write. */
    if (c->may_read && c->end == 0 && !c->fin) {
        ssize_t n = read(c->fd, c->buf, BUF_SIZE);
        if (n > 0 && n < BUF_SIZE) {
            c->may_read = false;
            ssize_t w = write(c->fd, c->buf, (size_t)n);
            if (w == n)
                return;
            if (w < 0 && errno != EAGAIN && errno != EINTR) {
                conn_close(c);
                return;
            }
            c->start = w > 0 ? (size_t)w : 0; /* the socket is full */
            c->end = (size_t)n;
        } else if (n == BUF_SIZE) {
            c->end = BUF_SIZE; /* maybe more to read: the pump goes on */
        } else if (n == 0) {
            c->eof = true;
            c->may_read = false;
        } else if (errno == EAGAIN) {
            c->may_read = false;
        } else if (errno != EINTR) {
            conn_close(c);
            return;
        }
    }
    conn_pump(c);
}

static void accept_all(int lfd)
{
    for (;;) {
        int fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno == EINTR || errno == ECONNABORTED)
                continue;
            if (errno != EAGAIN)
                perror("raw_epoll_echo: accept4");
            return; /* EMFILE is not exercised by the benchmark */
        }
        struct conn *c = malloc(sizeof *c);
        if (c == NULL) {
            close(fd);
            continue;
        }
        memset(c, 0, offsetof(struct conn, buf));
        c->fd = fd;
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        struct epoll_event ev = {.events = EPOLLIN | EPOLLRDHUP | EPOLLET,
                                 .data.ptr = c};
        if (epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev) < 0) {
            close(fd);
            free(c);
            continue;
        }
        live++;
    }
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: %s PORT\n", argv[0]);
        return 2;
    }
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
    signal(SIGPIPE, SIG_IGN);
    sigset_t mask;
    sigemptyset(&mask);
    sigaddset(&mask, SIGTERM);
    sigaddset(&mask, SIGINT);
    sigprocmask(SIG_BLOCK, &mask, NULL);
    int sfd = signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC);

    struct sockaddr_in sa = {.sin_family = AF_INET,
                             .sin_port = htons((unsigned short)atoi(argv[1])),
                             .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    int lfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    int one = 1;
    if (lfd < 0 || sfd < 0 ||
        setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) < 0 ||
        bind(lfd, (struct sockaddr *)&sa, sizeof sa) < 0 ||
        listen(lfd, SOMAXCONN) < 0) {
        perror("raw_epoll_echo: listen");
        return 1;
    }
    epfd = epoll_create1(EPOLL_CLOEXEC);
    struct epoll_event lev = {.events = EPOLLIN | EPOLLET,
                              .data.ptr = &listener_tag};
    struct epoll_event sev = {.events = EPOLLIN, .data.ptr = &signal_tag};
    if (epfd < 0 || epoll_ctl(epfd, EPOLL_CTL_ADD, lfd, &lev) < 0 ||
        epoll_ctl(epfd, EPOLL_CTL_ADD, sfd, &sev) < 0) {
        perror("raw_epoll_echo: epoll");
        return 1;
    }
    printf("127.0.0.1:%s\n", argv[1]);
    fflush(stdout);

    static struct epoll_event events[MAX_EVENTS];
    for (;;) {
        int n = epoll_wait(epfd, events, MAX_EVENTS, -1);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            perror("raw_epoll_echo: epoll_wait");
            return 1;
        }
        for (int i = 0; i < n; i++) {
            void *p = events[i].data.ptr;
            uint32_t e = events[i].events;
            if (p == &listener_tag) {
                accept_all(lfd);
            } else if (p == &signal_tag) {
                fprintf(stderr,
                        "raw_epoll_echo: %lu connections open at exit\n", live);
                return 0;
            } else {
                conn_event(p, e);
            }
        }
    }
}
