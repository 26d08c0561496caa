/*
 * tcp_echo_server - an edge-triggered TCP echo server on one thread.  The
 * example to copy, with its engine in tcp_echo_engine.c.
 *
 *   tcp_echo_server [--idle-timeout SECONDS] [ADDR]
 *       ADDR: host:port, [v6]:port, or a bare port (127.0.0.1:PORT);
 *       default 127.0.0.1:9000.  SECONDS (> 0, fractions allowed): close
 *       a connection from which nothing was read for that long.
 *
 * Prints the bound address as its first line (so port 0 works from
 * scripts), echoes every byte back, and exits 0 on SIGINT or SIGTERM (on
 * Windows: Ctrl+C or Ctrl+Break) after closing every connection.
 *
 * This file shows the set-up around the loop: a listener, a poll, a waker,
 * and the request to stop turned into a waker event (by a signal handler,
 * platform_posix.c; by a console handler, platform_windows.c), so the
 * server stays on one thread.  The loop itself - connections, buffering,
 * half-close, EMFILE, and the re-arm rule that lets it run unchanged on
 * the poll(2) backend - is echo_serve() in tcp_echo_engine.c.
 */
#define _XOPEN_SOURCE 700

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "platform.h"
#include "tcp_echo_engine.h"

static atomic_bool stop_requested;

static int die(const char *what, int err)
{
    fprintf(stderr, "tcp_echo_server: %s: %s\n", what, strerror(-err));
    return 1;
}

/* SECONDS as nanoseconds: a positive decimal number within int64_t's
 * range of nanoseconds; 0 for anything else. */
static int64_t parse_seconds(const char *text)
{
    char *end;
    double s = strtod(text, &end);
    if (end == text || *end != '\0' || !(s > 0 && s < 9e9))
        return 0; /* garbage, trailing characters, <= 0, NaN, too large */
    int64_t ns = (int64_t)(s * 1e9);
    return ns > 0 ? ns : 1;
}

static int usage(const char *argv0)
{
    fprintf(stderr, "usage: %s [--idle-timeout SECONDS] [ADDR]\n", argv0);
    return 2;
}

int main(int argc, char **argv)
{
    const char *addr = NULL;
    char name[XPOLL_ADDRSTRLEN];
    xpoll *poll = NULL;
    xpoll_waker *waker = NULL;
    unsigned long accepted = 0;
    int64_t idle_ns = 0; /* no idle timeout */

    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--idle-timeout") == 0) {
            if (i + 1 == argc || (idle_ns = parse_seconds(argv[++i])) == 0)
                return usage(argv[0]);
        } else if (argv[i][0] == '-' || addr != NULL) {
            return usage(argv[0]); /* an unknown option, or a second ADDR */
        } else {
            addr = argv[i];
        }
    }
    if (addr == NULL)
        addr = "127.0.0.1:9000";
    platform_setup_process();

    xpoll_socket listen_fd = xpoll_tcp_listen(addr, 0, 0);
    if (listen_fd < 0)
        return die(addr, (int)listen_fd);
    int err = xpoll_local_addr(listen_fd, name, sizeof name);
    if (err < 0)
        return die("local address", err);
    if ((err = xpoll_new(&poll)) < 0)
        return die("xpoll_new", err);
    if ((err = xpoll_waker_new(poll, ECHO_WAKER_TOKEN, &waker)) < 0)
        return die("xpoll_waker_new", err);

    platform_stop_on_request(&stop_requested, waker); /* once it exists */

    printf("%s\n", name);
    fflush(stdout);

    err = echo_serve(poll, listen_fd, idle_ns, &stop_requested, &accepted);
    platform_stop_off(); /* nothing may touch the waker once freed */
    xpoll_waker_free(waker);
    xpoll_free(poll);
    xpoll_close(listen_fd);
    if (err < 0)
        return die("xpoll_wait", err);
    fprintf(stderr, "tcp_echo_server: %lu connections served\n", accepted);
    return 0;
}
