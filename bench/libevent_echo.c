/*
 * libevent_echo - a TCP echo server on libevent 2, written the way a
 * competent libevent user writes one when performance matters.
 *
 *   libevent_echo PORT        (listens on 127.0.0.1:PORT; prints the address)
 *
 *  - evconnlistener for accepting (it sets the sockets non-blocking);
 *  - one persistent read event per connection (EV_READ | EV_PERSIST,
 *    level-triggered, libevent's default) and a per-connection buffer: one
 *    read() and one write() per readiness, no allocation per message.
 *    (bufferevents would add an evbuffer layer with its own allocations:
 *    this is libevent's reactor, the layer xpoll competes with);
 *  - output the socket does not take is kept, the read event is removed and
 *    a write event added until it is out (bounded buffering);
 *  - half-close: EOF ends the connection (nothing is pending while reading);
 *  - SIGTERM/SIGINT through evsignal: leave the loop, free, exit 0.
 */
#define _GNU_SOURCE
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

#include <event2/event.h>
#include <event2/listener.h>

#define BUF_SIZE (64 * 1024)

struct conn {
    evutil_socket_t fd;
    struct event *rev, *wev;
    size_t start, end; /* pending output: buf[start, end) */
    struct conn *prev, *next;
    char buf[BUF_SIZE];
};

static struct event_base *base;
static struct conn *live;

static void conn_close(struct conn *c)
{
    event_free(c->rev);
    event_free(c->wev);
    evutil_closesocket(c->fd);
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

static void on_readable(evutil_socket_t fd, short what, void *arg)
{
    struct conn *c = arg;
    (void)what;
    ssize_t n = read(fd, c->buf, BUF_SIZE);
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
        event_del(c->rev);
        event_add(c->wev, NULL);
    }
}

static void on_writable(evutil_socket_t fd, short what, void *arg)
{
    struct conn *c = arg;
    (void)fd;
    (void)what;
    int r = flush(c);
    if (r < 0) {
        conn_close(c);
    } else if (r == 0) {
        event_del(c->wev);
        event_add(c->rev, NULL);
    }
}

static void on_accept(struct evconnlistener *l, evutil_socket_t fd,
                      struct sockaddr *sa, int socklen, void *arg)
{
    (void)l;
    (void)sa;
    (void)socklen;
    (void)arg;
    struct conn *c = malloc(sizeof *c);
    if (c == NULL) {
        evutil_closesocket(fd);
        return;
    }
    memset(c, 0, offsetof(struct conn, buf));
    c->fd = fd;
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    c->rev = event_new(base, fd, EV_READ | EV_PERSIST, on_readable, c);
    c->wev = event_new(base, fd, EV_WRITE | EV_PERSIST, on_writable, c);
    if (c->rev == NULL || c->wev == NULL || event_add(c->rev, NULL) < 0) {
        if (c->rev != NULL)
            event_free(c->rev);
        if (c->wev != NULL)
            event_free(c->wev);
        evutil_closesocket(fd);
        free(c);
        return;
    }
    c->next = live;
    if (live != NULL)
        live->prev = c;
    live = c;
}

static void on_signal(evutil_socket_t sig, short what, void *arg)
{
    (void)sig;
    (void)what;
    (void)arg;
    event_base_loopbreak(base);
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: %s PORT\n", argv[0]);
        return 2;
    }
    signal(SIGPIPE, SIG_IGN);
    base = event_base_new();
    if (base == NULL) {
        fprintf(stderr, "libevent_echo: event_base_new failed\n");
        return 1;
    }
    struct sockaddr_in sin;
    memset(&sin, 0, sizeof sin);
    sin.sin_family = AF_INET;
    sin.sin_port = htons((unsigned short)atoi(argv[1]));
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    struct evconnlistener *l = evconnlistener_new_bind(
        base, on_accept, NULL,
        LEV_OPT_CLOSE_ON_FREE | LEV_OPT_REUSEABLE | LEV_OPT_CLOSE_ON_EXEC, -1,
        (struct sockaddr *)&sin, sizeof sin);
    if (l == NULL) {
        perror("libevent_echo: listen");
        return 1;
    }
    struct event *st = evsignal_new(base, SIGTERM, on_signal, NULL);
    struct event *si = evsignal_new(base, SIGINT, on_signal, NULL);
    if (st == NULL || si == NULL || event_add(st, NULL) < 0 ||
        event_add(si, NULL) < 0) {
        fprintf(stderr, "libevent_echo: evsignal failed\n");
        return 1;
    }
    printf("127.0.0.1:%s (%s backend)\n", argv[1], event_base_get_method(base));
    fflush(stdout);

    event_base_dispatch(base);

    while (live != NULL)
        conn_close(live);
    evconnlistener_free(l);
    event_free(st);
    event_free(si);
    event_base_free(base);
    return 0;
}
