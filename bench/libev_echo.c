/*
 * libev_echo - a TCP echo server on libev 4, written the way a competent
 * libev user writes one when performance matters.
 *
 *   libev_echo PORT           (listens on 127.0.0.1:PORT; prints the address)
 *
 *  - the default loop (epoll on Linux), one ev_io read watcher per
 *    connection, embedded in the connection (libev's idiom: no allocation
 *    per watcher), level-triggered: one read() and one write() per
 *    readiness, no allocation per message;
 *  - output the socket does not take is kept, the read watcher stopped and
 *    a write watcher started until it is out (bounded buffering);
 *  - half-close: EOF ends the connection (nothing is pending while reading);
 *  - SIGTERM/SIGINT through ev_signal: leave the loop, free, exit 0.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <ev.h>

#define BUF_SIZE (64 * 1024)

struct conn {
    ev_io rio, wio;
    int fd;
    size_t start, end; /* pending output: buf[start, end) */
    struct conn *prev, *next;
    char buf[BUF_SIZE];
};

static struct ev_loop *loop;
static struct conn *live;

static void conn_close(struct conn *c)
{
    ev_io_stop(loop, &c->rio);
    ev_io_stop(loop, &c->wio);
    close(c->fd);
    if (c->prev != NULL)
        c->prev->next = c->next;
    else
        live = c->next;
    if (c->next != NULL)
        c->next->prev = c->prev;
    free(c);
}

/* Write what is pending; returns -1 on error, 1 if some is left. */
static int flush(struct conn *c)
{
    while (c->start < c->end) {
        ssize_t n = write(c->fd, c->buf + c->start, c->end - c->start);
        if (n > 0)
            c->start += (size_t)n;
        else if (n < 0 && errno == EINTR)
            continue;
        else if (n < 0 && errno == EAGAIN)
            return 1;
        else
            return -1;
    }
    c->start = c->end = 0;
    return 0;
}

static void on_readable(struct ev_loop *l, ev_io *w, int revents)
{
    struct conn *c = (struct conn *)((char *)w - offsetof(struct conn, rio));
    (void)revents;
    ssize_t n = read(c->fd, c->buf, BUF_SIZE);
    if (n <= 0) {
        if (n < 0 && (errno == EAGAIN || errno == EINTR))
            return;
        conn_close(c); /* EOF or error */
        return;
    }
    c->start = 0;
    c->end = (size_t)n;
    int r = flush(c);
    if (r < 0) {
        conn_close(c);
    } else if (r > 0) {
        ev_io_stop(l, &c->rio);
        ev_io_start(l, &c->wio);
    }
}

static void on_writable(struct ev_loop *l, ev_io *w, int revents)
{
    struct conn *c = (struct conn *)((char *)w - offsetof(struct conn, wio));
    (void)revents;
    int r = flush(c);
    if (r < 0) {
        conn_close(c);
    } else if (r == 0) {
        ev_io_stop(l, &c->wio);
        ev_io_start(l, &c->rio);
    }
}

static void on_accept(struct ev_loop *l, ev_io *w, int revents)
{
    (void)revents;
    for (;;) {
        int fd = accept4(w->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno == EINTR || errno == ECONNABORTED)
                continue;
            if (errno != EAGAIN)
                perror("libev_echo: accept4");
            return;
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
        ev_io_init(&c->rio, on_readable, fd, EV_READ);
        ev_io_init(&c->wio, on_writable, fd, EV_WRITE);
        ev_io_start(l, &c->rio);
        c->next = live;
        if (live != NULL)
            live->prev = c;
        live = c;
    }
}

static void on_signal(struct ev_loop *l, ev_signal *w, int revents)
{
    (void)w;
    (void)revents;
    ev_break(l, EVBREAK_ALL);
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: %s PORT\n", argv[0]);
        return 2;
    }
    signal(SIGPIPE, SIG_IGN);
    loop = ev_default_loop(0);
    if (loop == NULL) {
        fprintf(stderr, "libev_echo: no event loop\n");
        return 1;
    }
    struct sockaddr_in sa;
    memset(&sa, 0, sizeof sa);
    sa.sin_family = AF_INET;
    sa.sin_port = htons((unsigned short)atoi(argv[1]));
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    int lfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    int one = 1;
    if (lfd < 0 ||
        setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) < 0 ||
        bind(lfd, (struct sockaddr *)&sa, sizeof sa) < 0 ||
        listen(lfd, SOMAXCONN) < 0) {
        perror("libev_echo: listen");
        return 1;
    }
    ev_io accept_w;
    ev_io_init(&accept_w, on_accept, lfd, EV_READ);
    ev_io_start(loop, &accept_w);
    ev_signal sig_term, sig_int;
    ev_signal_init(&sig_term, on_signal, SIGTERM);
    ev_signal_start(loop, &sig_term);
    ev_signal_init(&sig_int, on_signal, SIGINT);
    ev_signal_start(loop, &sig_int);
    printf("127.0.0.1:%s (backend %#x)\n", argv[1], ev_backend(loop));
    fflush(stdout);

    ev_run(loop, 0);

    while (live != NULL)
        conn_close(live);
    ev_io_stop(loop, &accept_w);
    close(lfd);
    return 0;
}
