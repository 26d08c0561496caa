/*
 * The echo engine of tcp_echo_server.c, shared with tcp_echo_threads.c
 * (which compiles tcp_echo_server.c with TCP_ECHO_NO_MAIN).
 */
#ifndef TCP_ECHO_H
#define TCP_ECHO_H

#include <stdatomic.h>

#include <xpoll.h>

/* Connections are tokened by their heap address, which malloc aligns, so
 * these small values can never collide with one. */
#define ECHO_LISTENER_TOKEN ((xpoll_token)1)
#define ECHO_WAKER_TOKEN    ((xpoll_token)2)

/*
 * Serve `listen_fd` (non-blocking, not yet registered) on `poll` until
 * *stop is set and the poll's waker (token ECHO_WAKER_TOKEN, created by the
 * caller) is woken.  Frees every connection before returning; the listener,
 * poll and waker stay the caller's.  *accepted counts accepted connections.
 * Returns 0, or a negative errno if the loop could not go on.
 */
int echo_serve(xpoll *poll, int listen_fd, const atomic_bool *stop,
               unsigned long *accepted);

#endif
