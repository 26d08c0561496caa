/*
 * The echo engine of tcp_echo_server.c and tcp_echo_threads.c: one loop
 * that serves one listener on one xpoll until it is told to stop.  The
 * single-threaded server runs one; the threaded server runs one per
 * thread, each with its own xpoll and listener.
 */
#ifndef TCP_ECHO_ENGINE_H
#define TCP_ECHO_ENGINE_H

#include <stdatomic.h>
#include <stdint.h>

#include <xpoll.h>

/* Connections are tokened by their heap address, which malloc aligns, so
 * these small values can never collide with one. */
#define ECHO_LISTENER_TOKEN ((xpoll_token)1)
#define ECHO_WAKER_TOKEN    ((xpoll_token)2)

/*
 * Call platform_setup_process() (platform.h) once per process first.
 *
 * Serve `listen_fd` (non-blocking, not yet registered) on `poll` until
 * *stop is set and the poll's waker (token ECHO_WAKER_TOKEN, created by the
 * caller) is woken.  idle_ns > 0 closes a connection from which nothing
 * was read for that many nanoseconds; 0 never does.  Closes and frees
 * every connection before returning; the listener, the poll and the waker
 * stay the caller's.  *accepted counts the connections accepted.  Returns
 * 0, or the negative errno of the wait if the loop could not go on.
 */
int echo_serve(xpoll *poll, xpoll_socket listen_fd, int64_t idle_ns,
               const atomic_bool *stop, unsigned long *accepted);

#endif
