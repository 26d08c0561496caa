/* Helpers for the kqemu fidelity tests. */
#include "test_util.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

int t_kqueue(void) {
  int kq = kqueue();
  assert_true(kq >= 0);
  return kq;
}

void t_pipe(int p[2]) { assert_int_equal(pipe2(p, O_NONBLOCK), 0); }

void t_socketpair(int s[2]) {
  assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, s), 0);
}

void t_close(int fd) { assert_int_equal(close(fd), 0); }

struct kevent t_kev(uintptr_t ident, short filter, unsigned short flags,
                    unsigned int fflags, intptr_t data, void *udata) {
  struct kevent k;
  memset(&k, 0, sizeof k);
  EV_SET(&k, ident, filter, flags, fflags, data, udata);
  return k;
}

int t_change(int kq, uintptr_t ident, short filter, unsigned short flags,
             unsigned int fflags, intptr_t data, void *udata) {
  struct kevent k = t_kev(ident, filter, flags | EV_RECEIPT, fflags, data,
                          udata);
  struct kevent out;
  memset(&out, 0, sizeof out);
  assert_int_equal(kevent(kq, &k, 1, &out, 1, NULL), 1);
  assert_true(out.flags & EV_ERROR);
  assert_int_equal(out.ident, ident);
  assert_int_equal(out.filter, filter);
  return (int)out.data;
}

int t_poll(int kq, struct kevent *ev, int n) {
  struct timespec ts = {0, 0};
  return kevent(kq, NULL, 0, ev, n, &ts);
}

int t_wait_ms(int kq, struct kevent *ev, int n, long ms) {
  struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
  return kevent(kq, NULL, 0, ev, n, &ts);
}

void t_write(int fd, size_t n) {
  char buf[256];
  memset(buf, 'x', sizeof buf);
  assert_true(n <= sizeof buf);
  assert_int_equal(write(fd, buf, n), (ssize_t)n);
}

void t_read(int fd, size_t n) {
  char buf[256];
  assert_true(n <= sizeof buf);
  assert_int_equal(read(fd, buf, n), (ssize_t)n);
}

const struct kevent *t_find(const struct kevent *ev, int n, uintptr_t ident,
                            short filter) {
  for (int i = 0; i < n; i++)
    if (ev[i].ident == ident && ev[i].filter == filter)
      return &ev[i];
  return NULL;
}

double t_now_ms(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec * 1e3 + (double)t.tv_nsec / 1e6;
}

void t_sleep_ms(long ms) {
  struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
  while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
  }
}

int t_tcp_listener(uint16_t *port) {
  int l = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
  assert_true(l >= 0);
  struct sockaddr_in a;
  memset(&a, 0, sizeof a);
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  assert_int_equal(bind(l, (struct sockaddr *)&a, sizeof a), 0);
  assert_int_equal(listen(l, 16), 0);
  socklen_t len = sizeof a;
  assert_int_equal(getsockname(l, (struct sockaddr *)&a, &len), 0);
  *port = ntohs(a.sin_port);
  return l;
}

static int tcp_connect_nb(uint16_t port) {
  int c = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
  assert_true(c >= 0);
  struct sockaddr_in a;
  memset(&a, 0, sizeof a);
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = htons(port);
  int r = connect(c, (struct sockaddr *)&a, sizeof a);
  assert_true(r == 0 || errno == EINPROGRESS);
  return c;
}

void t_tcp_pair(int *client, int *server) {
  uint16_t port;
  int l = t_tcp_listener(&port);
  *client = tcp_connect_nb(port);
  int s = -1;
  for (int i = 0; i < 200 && s < 0; i++) {
    s = accept4(l, NULL, NULL, SOCK_NONBLOCK);
    if (s < 0)
      t_sleep_ms(5);
  }
  assert_true(s >= 0);
  *server = s;
  t_close(l);
}

bool t_delete_ok(int kq, uintptr_t ident, short filter) {
  int err = t_change(kq, ident, filter, EV_DELETE, 0, 0, NULL);
  assert_true(err == 0 || err == ENOENT || err == EBADF);
  return err == 0;
}
