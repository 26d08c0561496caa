/*
 * udp_echo_check ADDR COUNT - the client side of the udp_echo_server
 * round trip under Wine (examples_wine.sh): from a connected UDP socket,
 * sends COUNT datagrams of different lengths and contents to the echo
 * server at ADDR, one at a time, and checks that each comes back whole.
 * A datagram may be lost, so one whose echo has not come within a second
 * is sent again, five times at most; echoes of earlier sends are skipped.
 *
 * Prints "COUNT echoed, SENT sent" and exits 0, or says what went wrong
 * and exits 1.  Every wait is bounded.
 */
/* First: <xpoll.h> includes <winsock2.h>, which must come before
 * <windows.h>. */
#include <xpoll.h>

#include <windows.h>

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TOKEN     ((xpoll_token)1)
#define WAIT_NS   1000000000LL /* 1 s per try */
#define TRIES     5
#define MAX_BYTES 1400

static int64_t now_ns(void)
{
    LARGE_INTEGER c, f;
    QueryPerformanceCounter(&c);
    QueryPerformanceFrequency(&f);
    return (int64_t)(c.QuadPart / f.QuadPart * 1000000000 +
                     c.QuadPart % f.QuadPart * 1000000000 / f.QuadPart);
}

/* Datagram i: 1 to MAX_BYTES bytes, each a function of (i, offset). */
static size_t fill(unsigned i, unsigned char *buf)
{
    size_t len = 1 + (size_t)(i * 397u) % MAX_BYTES;
    for (size_t j = 0; j < len; j++)
        buf[j] = (unsigned char)(i * 31u + j * 7u + (j >> 8));
    return len;
}

int main(int argc, char **argv)
{
    static unsigned char out[MAX_BYTES], in[MAX_BYTES + 1];
    xpoll *poll = NULL;
    xpoll_events *events = NULL;
    unsigned long count, sent = 0;
    char *end;
    int status = 1;

    if (argc != 3 || (count = strtoul(argv[2], &end, 10)) == 0 || *end) {
        fprintf(stderr, "usage: %s ADDR COUNT\n", argv[0]);
        return 2;
    }
    xpoll_socket s = xpoll_udp_connect(argv[1]);
    if (s < 0) {
        fprintf(stderr, "udp_connect %s: %d\n", argv[1], (int)s);
        return 1;
    }
    if (xpoll_new(&poll) < 0 || xpoll_events_new(&events, 8) < 0 ||
        xpoll_register(poll, s, TOKEN, XPOLL_READABLE) < 0) {
        fprintf(stderr, "xpoll set-up failed\n");
        goto out;
    }
    for (unsigned i = 0; i < count; i++) {
        size_t len = fill(i, out);
        int tries = 0;
        for (;;) {
            if (tries++ == TRIES) {
                fprintf(stderr, "datagram %u: no echo after %d sends\n", i,
                        TRIES);
                goto out;
            }
            ssize_t n = xpoll_send(poll, s, out, len, 0);
            if (n != (ssize_t)len) {
                fprintf(stderr, "datagram %u: send: %d\n", i, (int)n);
                goto out;
            }
            sent++;
            /* Up to a second for this datagram's echo; echoes of earlier
             * datagrams (a resend's first copy) do not count. */
            bool matched = false;
            int64_t deadline = now_ns() + WAIT_NS;
            int64_t left;
            while (!matched && (left = deadline - now_ns()) > 0) {
                int r = xpoll_wait(poll, events, left); /* < 0: no limit */
                if (r < 0 && r != -EINTR) {
                    fprintf(stderr, "wait: %d\n", r);
                    goto out;
                }
                /* Read until -EAGAIN, which re-arms READABLE. */
                while ((n = xpoll_recv(poll, s, in, sizeof in, 0)) != -EAGAIN) {
                    if (n < 0) {
                        fprintf(stderr, "datagram %u: recv: %d\n", i, (int)n);
                        goto out;
                    }
                    if ((size_t)n == len && memcmp(in, out, len) == 0)
                        matched = true;
                }
            }
            if (matched)
                break;
        }
    }
    printf("%lu echoed, %lu sent\n", count, sent);
    status = 0;
out:
    xpoll_events_free(events);
    xpoll_free(poll);
    xpoll_close(s);
    return status;
}
