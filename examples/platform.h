/*
 * The little the examples need from the system besides xpoll, in one file
 * per system so that the examples read the same everywhere:
 * platform_posix.c (Linux, the BSDs, macOS) and platform_windows.c;
 * examples/CMakeLists.txt compiles the one that fits.
 */
#ifndef EXAMPLES_PLATFORM_H
#define EXAMPLES_PLATFORM_H

#include <stdatomic.h>
#include <stdint.h>

#include <xpoll.h>

/*
 * Once per process, first thing: ignore SIGPIPE, so that a write to a peer
 * that has gone fails with EPIPE instead of killing the process, and raise
 * the soft limit on descriptors to the hard one (thousands of connections
 * need more than the usual 1024).  Windows needs neither: it has no
 * SIGPIPE, and no such limit on sockets.
 */
void platform_setup_process(void);

/*
 * Until platform_stop_off(): the user's request to stop - SIGINT or
 * SIGTERM, or on Windows Ctrl+C or Ctrl+Break in the console - sets *stop
 * and wakes `waker`, whose loop then sees *stop and ends.
 */
void platform_stop_on_request(atomic_bool *stop, xpoll_waker *waker);

/* Undo platform_stop_on_request() before the waker is freed: afterwards
 * nothing touches it. */
void platform_stop_off(void);

/*
 * A descriptor held in reserve, to be given up when accept() fails with
 * EMFILE (see shed() in tcp_echo_engine.c), or -1 where there is no such
 * limit to work around (Windows).  platform_spare_close() gives it up.
 */
int platform_spare_open(void);
void platform_spare_close(int fd);

/* A monotonic clock in nanoseconds, and this process's id. */
int64_t platform_now_ns(void);
unsigned long platform_pid(void);

#endif
