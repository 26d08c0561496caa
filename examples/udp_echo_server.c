/*
 * udp_echo_server - sends every datagram back to where it came from.
 *
 *   udp_echo_server [ADDR]    ADDR: host:port, [v6]:port, or a bare port
 *                             (127.0.0.1:PORT); default 127.0.0.1:9000
 *
 * Prints the bound address as its first line; exits 0 on SIGINT/SIGTERM
 * (on Windows: Ctrl+C or Ctrl+Break).
 *
 * Unlike a stream, a datagram socket returns one datagram per read, and its
 * size says nothing about what is queued behind it: after an event, read
 * until EAGAIN - the short-read rule of tcp_echo_server does not apply.
 *
 * The socket I/O goes through the helpers of <xpoll/net.h> (xpoll_recvfrom,
 * xpoll_sendto): on -EAGAIN they re-arm the direction, which the poll(2)
 * backend needs before it reports that direction again, so the server runs
 * unchanged on every backend.
 */
#define _XOPEN_SOURCE 700

#include <errno.h>
#include <stdbool.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

#include <xpoll.h>

#include "platform.h"

#define SOCKET_TOKEN ((xpoll_token)1)
#define WAKER_TOKEN  ((xpoll_token)2)

/* The request to stop (SIGINT/SIGTERM, or Ctrl+C) sets this and wakes the
 * loop, as in tcp_echo_server (platform.h). */
static atomic_bool stop_requested;

/* Echo everything queued.  A reply that does not fit the send buffer
 * (EAGAIN) is dropped, as the network may drop any datagram: queueing it
 * would need memory without bound, and the client has to retry anyway. */
static int echo_all(xpoll *poll, xpoll_socket fd, unsigned long *echoed,
                    unsigned long *dropped)
{
    static unsigned char buf[65536]; /* the largest UDP payload fits */
    struct sockaddr_storage from;

    for (;;) {
        socklen_t fromlen = sizeof from;
        /* Retries EINTR; -EAGAIN means drained, and READABLE is re-armed. */
        ssize_t n = xpoll_recvfrom(poll, fd, buf, sizeof buf, 0,
                                   (struct sockaddr *)&from, &fromlen);
        if (n == -EAGAIN)
            return 0;
        if (n < 0) {
            /* An ICMP error from an earlier reply (ECONNREFUSED on Linux,
             * ECONNRESET on Windows) is reported once by the next call; it
             * is not ours to keep. */
            if (n == -ECONNREFUSED || n == -ECONNRESET || n == -EHOSTUNREACH ||
                n == -ENETUNREACH)
                continue;
            return (int)n;
        }
        /* A -EAGAIN here re-arms WRITABLE, which this socket is not
         * registered for: nothing happens, the reply is just dropped. */
        if (xpoll_sendto(poll, fd, buf, (size_t)n, 0, (struct sockaddr *)&from,
                         fromlen) < 0)
            ++*dropped;
        else
            ++*echoed;
    }
}

int main(int argc, char **argv)
{
    const char *addr = argc > 1 ? argv[1] : "127.0.0.1:9000";
    char name[XPOLL_ADDRSTRLEN];
    xpoll *poll = NULL;
    xpoll_events *events = NULL;
    xpoll_waker *waker = NULL;
    unsigned long echoed = 0, dropped = 0;
    int err;

    if (argc > 2) {
        fprintf(stderr, "usage: %s [ADDR]\n", argv[0]);
        return 2;
    }
    xpoll_socket fd = xpoll_udp_bind(addr, 0);
    if (fd < 0) {
        fprintf(stderr, "udp_echo_server: %s: %s\n", addr, strerror((int)-fd));
        return 1;
    }
    if ((err = xpoll_local_addr(fd, name, sizeof name)) < 0 ||
        (err = xpoll_new(&poll)) < 0 ||
        (err = xpoll_events_new(&events, 64)) < 0 ||
        (err = xpoll_waker_new(poll, WAKER_TOKEN, &waker)) < 0 ||
        (err = xpoll_register(poll, fd, SOCKET_TOKEN, XPOLL_READABLE)) < 0)
        goto out;
    platform_stop_on_request(&stop_requested, waker); /* once it exists */

    printf("%s\n", name);
    fflush(stdout);

    while (!atomic_load(&stop_requested)) {
        int n = xpoll_wait(poll, events, -1);
        if (n == -EINTR)
            continue;
        if (n < 0) {
            err = n;
            break;
        }
        for (int i = 0; i < n && err == 0; i++) {
            const xpoll_event *ev = xpoll_events_get(events, (size_t)i);
            if (xpoll_event_token(ev) == SOCKET_TOKEN)
                err = echo_all(poll, fd, &echoed, &dropped);
        }
        if (err < 0)
            break;
    }

out:
    platform_stop_off(); /* nothing may touch the waker once freed */
    xpoll_waker_free(waker);
    xpoll_events_free(events);
    xpoll_free(poll);
    xpoll_close(fd);
    if (err < 0) {
        fprintf(stderr, "udp_echo_server: %s\n", strerror(-err));
        return 1;
    }
    fprintf(stderr, "udp_echo_server: %lu datagrams echoed, %lu dropped\n",
            echoed, dropped);
    return 0;
}
