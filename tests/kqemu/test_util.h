/*
 * Helpers shared by the kqemu fidelity tests (spec section 3).  "poll"
 * means kevent(kq, NULL, 0, ev, n, &{0,0}) as in the spec.
 */
#ifndef KQEMU_TEST_UTIL_H
#define KQEMU_TEST_UTIL_H

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdbool.h>
#include <stdint.h>
#include <cmocka.h>

#include "kqemu.h"

#define IS_DARWIN (kqemu_personality() == KQEMU_DARWIN)

int t_kqueue(void);
void t_pipe(int p[2]);
void t_socketpair(int s[2]);
void t_close(int fd);
struct kevent t_kev(uintptr_t ident, short filter, unsigned short flags,
                    unsigned int fflags, intptr_t data, void *udata);
/* One change with EV_RECEIPT forced on; returns the receipt's data (0 or
 * errno) after asserting that exactly one EV_ERROR entry came back. */
int t_change(int kq, uintptr_t ident, short filter, unsigned short flags,
             unsigned int fflags, intptr_t data, void *udata);
/* kevent with a {0,0} timeout. */
int t_poll(int kq, struct kevent *ev, int n);
/* kevent with a timeout in milliseconds. */
int t_wait_ms(int kq, struct kevent *ev, int n, long ms);
void t_write(int fd, size_t n);
void t_read(int fd, size_t n);
const struct kevent *t_find(const struct kevent *ev, int n, uintptr_t ident,
                            short filter);
double t_now_ms(void);
void t_sleep_ms(long ms);
/* TCP loopback pair: *listener (unless NULL is wanted, closed), client,
 * accepted server side; all non-blocking. */
void t_tcp_pair(int *client, int *server);
int t_tcp_listener(uint16_t *port);
/* Is knote (ident, filter) present?  Probed by EV_DELETE, so it is gone
 * afterwards. */
bool t_delete_ok(int kq, uintptr_t ident, short filter);

int kqt_run_changes(void);
int kqt_run_registration(void);
int kqt_run_filters(void);
int kqt_run_user_time_life(void);

#endif
