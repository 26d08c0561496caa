/*
 * libuv_echo - a TCP echo server on libuv, written the way a competent
 * libuv user writes one when performance matters.
 *
 *   libuv_echo PORT           (listens on 127.0.0.1:PORT; prints the address)
 *
 *  - uv_tcp_t streams (the idiomatic layer; uv_poll_t is for foreign fds);
 *  - each connection owns its read buffer: alloc_cb hands it out, so there
 *    is no allocation per read;
 *  - the echo goes out with uv_try_write (no request, no deferred
 *    callback); only what the socket does not take is queued with uv_write,
 *    reading pausing until that write completes (bounded buffering);
 *  - half-close: EOF ends the connection once the queued output is out;
 *  - SIGTERM/SIGINT through uv_signal_t: close every handle, exit 0.
 */
#define _GNU_SOURCE
#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <uv.h>

#define BUF_SIZE (64 * 1024)

struct conn {
    uv_tcp_t tcp; /* first: the handle's address is the conn's */
    uv_write_t wreq;
    bool writing; /* wreq in flight: reading is paused */
    bool eof;
    char buf[BUF_SIZE];
};

static uv_loop_t *loop;
static uv_tcp_t server;
static uv_signal_t sig_term, sig_int;

static void on_close(uv_handle_t *h)
{
    free(h);
}

static void conn_close(struct conn *c)
{
    if (!uv_is_closing((uv_handle_t *)&c->tcp))
        uv_close((uv_handle_t *)&c->tcp, on_close);
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    struct conn *c = (struct conn *)h;
    (void)suggested;
    *buf = uv_buf_init(c->buf, BUF_SIZE);
}

static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf);

static void on_write(uv_write_t *req, int status)
{
    struct conn *c = req->data;
    c->writing = false;
    if (status < 0 || c->eof) {
        conn_close(c);
        return;
    }
    if (uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read) < 0)
        conn_close(c);
}

static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
    struct conn *c = (struct conn *)s;
    if (nread == 0)
        return; /* EAGAIN */
    if (nread < 0) {
        /* UV_EOF or an error; nothing is pending when reading is on. */
        conn_close(c);
        return;
    }
    uv_buf_t out = uv_buf_init(buf->base, (unsigned)nread);
    int n = uv_try_write(s, &out, 1);
    if (n == nread)
        return;
    if (n < 0 && n != UV_EAGAIN) {
        conn_close(c);
        return;
    }
    if (n < 0)
        n = 0;
    /* The socket is full: queue the rest and stop reading until it is out
     * (the read buffer holds it). */
    out = uv_buf_init(buf->base + n, (unsigned)(nread - n));
    uv_read_stop(s);
    c->writing = true;
    c->wreq.data = c;
    if (uv_write(&c->wreq, s, &out, 1, on_write) < 0)
        conn_close(c);
}

static void on_connection(uv_stream_t *srv, int status)
{
    if (status < 0)
        return;
    struct conn *c = malloc(sizeof *c);
    if (c == NULL)
        return;
    memset(c, 0, offsetof(struct conn, buf));
    uv_tcp_init(loop, &c->tcp);
    if (uv_accept(srv, (uv_stream_t *)&c->tcp) < 0) {
        conn_close(c);
        return;
    }
    uv_tcp_nodelay(&c->tcp, 1);
    if (uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read) < 0)
        conn_close(c);
}

static void close_any(uv_handle_t *h, void *arg)
{
    (void)arg;
    if (uv_is_closing(h))
        return;
    if (h->type == UV_TCP && h != (uv_handle_t *)&server)
        uv_close(h, on_close);
    else
        uv_close(h, NULL);
}

static void on_signal(uv_signal_t *s, int signum)
{
    (void)s;
    (void)signum;
    uv_walk(loop, close_any, NULL);
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: %s PORT\n", argv[0]);
        return 2;
    }
    signal(SIGPIPE, SIG_IGN);
    loop = uv_default_loop();
    struct sockaddr_in addr;
    int err = uv_ip4_addr("127.0.0.1", atoi(argv[1]), &addr);
    if (err == 0)
        err = uv_tcp_init(loop, &server);
    if (err == 0)
        err = uv_tcp_bind(&server, (const struct sockaddr *)&addr, 0);
    if (err == 0)
        err = uv_listen((uv_stream_t *)&server, SOMAXCONN, on_connection);
    if (err < 0) {
        fprintf(stderr, "libuv_echo: listen: %s\n", uv_strerror(err));
        return 1;
    }
    uv_signal_init(loop, &sig_term);
    uv_signal_start(&sig_term, on_signal, SIGTERM);
    uv_signal_init(loop, &sig_int);
    uv_signal_start(&sig_int, on_signal, SIGINT);
    printf("127.0.0.1:%s\n", argv[1]);
    fflush(stdout);

    uv_run(loop, UV_RUN_DEFAULT);
    err = uv_loop_close(loop);
    if (err < 0) {
        fprintf(stderr, "libuv_echo: uv_loop_close: %s\n", uv_strerror(err));
        return 1;
    }
    return 0;
}
