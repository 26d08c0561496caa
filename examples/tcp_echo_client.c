/*
 * tcp_echo_client - checks an echo server byte for byte.
 *
 *   tcp_echo_client ADDR [N] [BYTES]    default 1 connection, 64 bytes
 *
 * Opens N connections at once, sends BYTES random bytes on each while
 * reading the echo, and compares every byte.  Prints one summary line;
 * exits 1 on a mismatch, an early close, an error, or 10 s without
 * progress.  Non-blocking on xpoll, so N can be in the thousands.
 *
 * Reads and writes go through xpoll_read and xpoll_write (<xpoll/net.h>),
 * which re-arm the direction that ran into EAGAIN: the poll(2) backend
 * reports a direction once and then waits for that re-arm, so the client
 * runs unchanged on every backend.
 */
#define _XOPEN_SOURCE 700

#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <xpoll.h>

#include "platform.h"

#define CHUNK           (64 * 1024)
#define IDLE_TIMEOUT_NS (10 * 1000000000LL)

struct conn {
    xpoll_socket fd; /* -1 when done */
    bool connected;
    size_t sent, received;
};

static uint64_t seed;

/* The payload is a function of (connection, offset), so neither the data
 * sent nor the data expected needs storing: splitmix64 over 8-byte words. */
static void payload(size_t conn, size_t offset, unsigned char *buf, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        uint64_t z = seed + (uint64_t)conn * 0x9e3779b97f4a7c15u +
                     (uint64_t)((offset + i) / 8) * 0xbf58476d1ce4e5b9u;
        z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9u;
        z = (z ^ (z >> 27)) * 0x94d049bb133111ebu;
        z ^= z >> 31;
        buf[i] = (unsigned char)(z >> (8 * ((offset + i) % 8)));
    }
}

/* Send and check what the socket allows now.  Returns 1 when the
 * connection is complete, 0 to wait, -1 on failure (reported). */
static int pump(xpoll *poll, struct conn *c, size_t k, size_t bytes)
{
    static unsigned char out[CHUNK], in[CHUNK], want[CHUNK];

    if (!c->connected) {
        /* The connect ended; SO_ERROR says how.  A plain readable event
         * before that cannot happen on an echo connection. */
        int err = xpoll_socket_error(c->fd);
        if (err < 0) {
            fprintf(stderr, "connection %zu: connect: %s\n", k, strerror(-err));
            return -1;
        }
        c->connected = true;
    }
    while (c->sent < bytes) {
        size_t len = bytes - c->sent < CHUNK ? bytes - c->sent : CHUNK;
        payload(k, c->sent, out, len);
        ssize_t n = xpoll_write(poll, c->fd, out, len);
        if (n == -EAGAIN)
            break; /* full: WRITABLE re-armed, wait for its event */
        if (n < 0) {
            fprintf(stderr, "connection %zu: write: %s\n", k,
                    strerror((int)-n));
            return -1;
        }
        c->sent += (size_t)n;
    }
    for (;;) {
        ssize_t n = xpoll_read(poll, c->fd, in, sizeof in);
        if (n == -EAGAIN)
            return 0; /* drained: READABLE re-armed, wait for its event */
        if (n < 0) {
            fprintf(stderr, "connection %zu: read: %s\n", k, strerror((int)-n));
            return -1;
        }
        if (n == 0 || c->received + (size_t)n > c->sent) {
            fprintf(stderr, "connection %zu: %s after %zu of %zu bytes\n", k,
                    n == 0 ? "closed" : "more data than sent", c->received,
                    bytes);
            return -1;
        }
        payload(k, c->received, want, (size_t)n);
        for (size_t i = 0; i < (size_t)n; i++) {
            if (in[i] != want[i]) {
                fprintf(stderr,
                        "connection %zu: byte %zu is 0x%02x, sent 0x%02x\n", k,
                        c->received + i, in[i], want[i]);
                return -1;
            }
        }
        c->received += (size_t)n;
        if (c->received == bytes)
            return 1;
    }
}

static bool parse_size(const char *s, size_t min, size_t *out)
{
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno != 0 || end == s || *end != '\0' || s[0] == '-' || v < min ||
        v > SIZE_MAX / 2)
        return false;
    *out = (size_t)v;
    return true;
}

int main(int argc, char **argv)
{
    size_t nconns = 1, bytes = 64, done = 0;
    struct conn *conns = NULL;
    xpoll *poll = NULL;
    xpoll_events *events = NULL;
    int status = 1, err;

    if (argc < 2 || argc > 4 ||
        (argc > 2 && !parse_size(argv[2], 1, &nconns)) ||
        (argc > 3 && !parse_size(argv[3], 0, &bytes))) {
        fprintf(stderr, "usage: %s ADDR [N] [BYTES]\n", argv[0]);
        return 2;
    }
    /* A server that goes away must show up as EPIPE, not kill us; and one
     * descriptor per connection. */
    platform_setup_process();
    seed = (uint64_t)platform_now_ns() ^ ((uint64_t)platform_pid() << 32);
    int64_t start = platform_now_ns(), last_progress = start;

    if ((err = xpoll_new(&poll)) < 0 ||
        (err = xpoll_events_new(&events, 1024)) < 0) {
        fprintf(stderr, "tcp_echo_client: %s\n", strerror(-err));
        goto out;
    }
    conns = calloc(nconns, sizeof *conns);
    if (conns == NULL)
        goto out;
    for (size_t k = 0; k < nconns; k++)
        conns[k].fd = -1;
    for (size_t k = 0; k < nconns; k++) {
        conns[k].fd = xpoll_tcp_connect(argv[1]);
        if (conns[k].fd < 0) {
            fprintf(stderr, "tcp_echo_client: connect %s: %s\n", argv[1],
                    strerror((int)-conns[k].fd));
            goto out;
        }
        /* The token is the connection's index. */
        err = xpoll_register(poll, conns[k].fd, (xpoll_token)k,
                             XPOLL_READABLE | XPOLL_WRITABLE);
        if (err < 0) {
            fprintf(stderr, "tcp_echo_client: register: %s\n", strerror(-err));
            goto out;
        }
    }

    while (done < nconns) {
        int n = xpoll_wait(poll, events, 1000000000LL);
        if (n < 0 && n != -EINTR) {
            fprintf(stderr, "tcp_echo_client: wait: %s\n", strerror(-n));
            goto out;
        }
        int64_t t = platform_now_ns();
        if (n > 0)
            last_progress = t;
        else if (t - last_progress > IDLE_TIMEOUT_NS) {
            fprintf(stderr,
                    "tcp_echo_client: no progress for 10 s, %zu of "
                    "%zu connections done\n",
                    done, nconns);
            goto out;
        }
        for (int i = 0; i < n; i++) {
            size_t k =
                (size_t)xpoll_event_token(xpoll_events_get(events, (size_t)i));
            struct conn *c = &conns[k];
            if (c->fd < 0)
                continue; /* done earlier in this batch (kqueue: 2 events) */
            int r = pump(poll, c, k, bytes);
            if (r < 0) {
                fprintf(stderr, "tcp_echo_client: seed %" PRIu64 "\n", seed);
                goto out;
            }
            if (r > 0 || (c->connected && bytes == 0)) {
                xpoll_deregister(poll, c->fd);
                xpoll_close(c->fd);
                c->fd = -1;
                done++;
            }
        }
    }
    printf("%zu connections, %zu bytes echoed, %.1f ms\n", nconns,
           nconns * bytes, (double)(platform_now_ns() - start) / 1e6);
    status = 0;
out:
    for (size_t k = 0; conns != NULL && k < nconns; k++)
        if (conns[k].fd >= 0)
            xpoll_close(conns[k].fd);
    free(conns);
    xpoll_events_free(events);
    xpoll_free(poll);
    return status;
}
