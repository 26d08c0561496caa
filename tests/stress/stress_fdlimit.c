/*
 * Descriptor exhaustion.  The table is filled for real (the soft
 * RLIMIT_NOFILE lowered, then dup() until EMFILE) to get EMFILE; ENFILE
 * (the system-wide table) cannot be exhausted safely on a shared machine,
 * so a seccomp filter on a helper thread answers ENFILE for the creating
 * system calls of that thread only.
 *
 * Each constructor must return the clear negative errno, leave *out NULL
 * and open nothing; after descriptors come back the same objects work, and
 * a poll that already exists keeps working while the table is full.
 * xpoll_accept leaves the connection in the backlog.
 */
#define _GNU_SOURCE
#include "seccomp.h"
#include "stress.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

/* ---- filling the table ----------------------------------------------------
 */

struct fill {
    struct rlimit saved;
    int fds[512];
    int n;
};

static int highest_open_fd(void)
{
    int highest = -1;
    for (int fd = 0; fd < 4096; fd++)
        if (fcntl(fd, F_GETFD) >= 0)
            highest = fd;
    return highest;
}

/* Leaves exactly `leave` descriptor numbers free under the soft limit. */
static void fill_table(struct fill *f, int leave)
{
    int null = open("/dev/null", O_RDONLY | O_CLOEXEC);
    assert_true(null >= 0);
    assert_int_equal(getrlimit(RLIMIT_NOFILE, &f->saved), 0);
    struct rlimit low = f->saved;
    low.rlim_cur = (rlim_t)highest_open_fd() + 1 + 64;
    assert_int_equal(setrlimit(RLIMIT_NOFILE, &low), 0);
    f->n = 0;
    for (;;) {
        int fd = fcntl(null, F_DUPFD_CLOEXEC, 0);
        if (fd < 0) {
            assert_int_equal(errno, EMFILE);
            break;
        }
        assert_true(f->n < (int)(sizeof f->fds / sizeof f->fds[0]));
        f->fds[f->n++] = fd;
    }
    f->fds[f->n++] = null; /* the table is full: this one counts too */
    for (int i = 0; i < leave; i++)
        close(f->fds[--f->n]);
}

static void unfill_table(struct fill *f)
{
    while (f->n > 0)
        close(f->fds[--f->n]);
    assert_int_equal(setrlimit(RLIMIT_NOFILE, &f->saved), 0);
}

/* kqueue wakes through EVFILT_USER, unless the pipe waker is forced.  The
 * poll(2) backend's waker sets a flag and writes the notification
 * descriptor xpoll_new already made (src/sys/pollfd.c), whichever waker
 * the build forces. */
static bool waker_needs_no_descriptor(const xpoll *poll)
{
    if (xpoll_get_backend(poll) == XPOLL_BACKEND_POLL)
        return true;
#ifdef XPOLL_TEST_PIPE_WAKER
    (void)poll;
    return false;
#else
    return xpoll_get_backend(poll) == XPOLL_BACKEND_KQUEUE;
#endif
}

/* ---- EMFILE ------------------------------------------------------------- */

/* Tries xpoll_new with 0, 1, 2, ... free descriptors: a clean -EMFILE
 * (nothing left open, *out NULL) until it has enough, then success. */
static void poll_new_at_emfile(void **state)
{
    (void)state;
    int needed = -1;
    for (int leave = 0; leave <= 8 && needed < 0; leave++) {
        int before = open_fd_count();
        struct fill f;
        xpoll *poll = (xpoll *)&poll;
        fill_table(&f, leave);
        int rc = xpoll_new(&poll);
        unfill_table(&f);
        if (rc == 0) {
            needed = leave;
            assert_non_null(poll);
            /* It works once descriptors are back. */
            int fds[2];
            xpoll_events *events;
            assert_int_equal(xpoll_events_new(&events, 4), 0);
            assert_int_equal(xpoll_pipe(fds), 0);
            assert_int_equal(xpoll_register(poll, fds[0], 5, XPOLL_READABLE),
                             0);
            assert_int_equal(write(fds[1], "x", 1), 1);
            assert_int_equal(xpoll_wait(poll, events, SEC), 1);
            assert_int_equal(xpoll_deregister(poll, fds[0]), 0);
            close(fds[0]);
            close(fds[1]);
            xpoll_events_free(events);
            xpoll_free(poll);
        } else {
            assert_int_equal(rc, -EMFILE);
            assert_null(poll);
        }
        assert_int_equal(open_fd_count(), before);
    }
    /* epoll needs one descriptor; the kqueue emulation several. */
    assert_true(needed >= 1);
    if (test_backend() == XPOLL_BACKEND_EPOLL)
        assert_int_equal(needed, 1);
}

static void waker_new_at_emfile(void **state)
{
    (void)state;
    xpoll *poll;
    xpoll_events *events;
    assert_int_equal(xpoll_new(&poll), 0);
    assert_int_equal(xpoll_events_new(&events, 4), 0);
    int before = open_fd_count();
    struct fill f;
    xpoll_waker *waker = (xpoll_waker *)&waker;
    fill_table(&f, 0);
    int rc = xpoll_waker_new(poll, 7, &waker);
    unfill_table(&f);
    if (waker_needs_no_descriptor(poll)) {
        /* EVFILT_USER, or poll's notification descriptor: none new. */
        assert_int_equal(rc, 0);
        assert_int_equal(open_fd_count(), before);
        assert_int_equal(xpoll_waker_wake(waker), 0);
        assert_int_equal(xpoll_wait(poll, events, SEC), 1);
        xpoll_waker_free(waker);
        xpoll_events_free(events);
        xpoll_free(poll);
        return;
    }
    /* eventfd or pipe: EMFILE, nothing registered, nothing open. */
    assert_int_equal(rc, -EMFILE);
    assert_null(waker);
    assert_int_equal(open_fd_count(), before);
    assert_int_equal(xpoll_wait(poll, events, 0), 0);
    /* With descriptors back, the poll gets its waker after all. */
    expect_new_waker_works(poll, events, 7);
    xpoll_events_free(events);
    xpoll_free(poll);
}

/* A pending connection in the listener's backlog, data already sent on
 * it.  The loopback handshake runs in softirq context, which load can
 * defer: the client waits until it is connected, and then until the
 * listener is readable, which it is exactly when a connection is waiting
 * to be accepted (net/ipv4/inet_connection_sock.c inet_csk_listen_poll()). */
static void pending_connection(int *listener, int *client)
{
    char addr[XPOLL_ADDRSTRLEN];
    *listener = xpoll_tcp_listen("127.0.0.1:0", 0, 0);
    assert_true(*listener >= 0);
    assert_true(xpoll_local_addr(*listener, addr, sizeof addr) > 0);
    *client = xpoll_tcp_connect(addr);
    assert_true(*client >= 0);
    wait_fd(*client, POLLOUT);
    assert_int_equal(xpoll_socket_error(*client), 0);
    assert_int_equal(send(*client, "hello", 5, MSG_NOSIGNAL), 5);
    wait_fd(*listener, POLLIN);
}

/* Accepts the pending connection of pending_connection() and checks that
 * its data is intact (waiting for it to arrive); returns the accepted
 * descriptor. */
static int accept_pending_connection(int listener)
{
    int a = xpoll_accept(listener);
    assert_true(a >= 0);
    wait_fd(a, POLLIN);
    char buf[8] = {0};
    assert_int_equal(read(a, buf, sizeof buf), 5);
    assert_memory_equal(buf, "hello", 5);
    return a;
}

static void accept_at_emfile_keeps_the_connection(void **state)
{
    (void)state;
    int l, c;
    xpoll *poll;
    xpoll_events *events;
    assert_int_equal(xpoll_new(&poll), 0);
    assert_int_equal(xpoll_events_new(&events, 4), 0);
    pending_connection(&l, &c);
    assert_int_equal(xpoll_register(poll, l, 1, XPOLL_READABLE), 0);
    assert_int_equal(xpoll_wait(poll, events, SEC), 1); /* the edge */

    int before = open_fd_count();
    struct fill f;
    fill_table(&f, 0);
    int rc = xpoll_accept(l);
    int rc_again = xpoll_accept(l);
    unfill_table(&f);
    assert_int_equal(rc, -EMFILE);
    assert_int_equal(rc_again, -EMFILE);
    assert_int_equal(open_fd_count(), before);

    /* No new edge comes (edge-triggered): the caller retries when it has
     * descriptors again, and the connection is still there, data and all. */
    int a = accept_pending_connection(l);
    assert_int_equal(xpoll_accept(l), -EAGAIN);
    close(a);
    close(c);
    assert_int_equal(xpoll_deregister(poll, l), 0);
    close(l);
    xpoll_events_free(events);
    xpoll_free(poll);
}

static void poll_keeps_working_with_a_full_table(void **state)
{
    (void)state;
    xpoll *poll;
    xpoll_events *events;
    int a[2], b[2];
    assert_int_equal(xpoll_new(&poll), 0);
    assert_int_equal(xpoll_events_new(&events, 4), 0);
    assert_int_equal(xpoll_pipe(a), 0);
    assert_int_equal(xpoll_socketpair(SOCK_STREAM, b), 0);
    struct fill f;
    fill_table(&f, 0);
    /* Registration, waits and reregistration need no descriptor. */
    int r1 = xpoll_register(poll, a[0], 1, XPOLL_READABLE);
    int r2 = xpoll_register(poll, b[0], 2, XPOLL_READABLE | XPOLL_WRITABLE);
    ssize_t w = write(a[1], "x", 1);
    int n1 = xpoll_wait(poll, events, SEC);
    int r3 = xpoll_reregister(poll, b[0], 3, XPOLL_READABLE);
    ssize_t w2 = write(b[1], "y", 1);
    int n2 = xpoll_wait(poll, events, SEC);
    xpoll_token t2 = xpoll_event_token(xpoll_events_get(events, 0));
    int r4 = xpoll_deregister(poll, a[0]);
    int r5 = xpoll_deregister(poll, b[0]);
    unfill_table(&f);
    assert_int_equal(r1, 0);
    assert_int_equal(r2, 0);
    assert_int_equal(w, 1);
    assert_true(n1 >= 2); /* a readable, b writable (split on kqueue) */
    assert_int_equal(r3, 0);
    assert_int_equal(w2, 1);
    assert_int_equal(n2, 1);
    assert_int_equal(t2, 3);
    assert_int_equal(r4, 0);
    assert_int_equal(r5, 0);
    for (int i = 0; i < 2; i++) {
        close(a[i]);
        close(b[i]);
    }
    xpoll_events_free(events);
    xpoll_free(poll);
}

static void net_helpers_at_emfile(void **state)
{
    (void)state;
    int before = open_fd_count();
    int pair[2] = {7, 7}, pipefd[2] = {7, 7};
    struct fill f;
    fill_table(&f, 0);
    int l = xpoll_tcp_listen("127.0.0.1:0", 0, 0);
    int c = xpoll_tcp_connect("127.0.0.1:9");
    int u = xpoll_udp_bind("127.0.0.1:0", 0);
    int uc = xpoll_udp_connect("127.0.0.1:9");
    int sp = xpoll_socketpair(SOCK_STREAM, pair);
    int pp = xpoll_pipe(pipefd);
    int ud = xpoll_unix_dgram_bind(NULL);
    unfill_table(&f);
    assert_int_equal(l, -EMFILE);
    assert_int_equal(c, -EMFILE);
    assert_int_equal(u, -EMFILE);
    assert_int_equal(uc, -EMFILE);
    assert_int_equal(sp, -EMFILE);
    assert_int_equal(pair[0], -1);
    assert_int_equal(pair[1], -1);
    assert_int_equal(pp, -EMFILE);
    assert_int_equal(pipefd[0], -1);
    assert_int_equal(pipefd[1], -1);
    assert_int_equal(ud, -EMFILE);
    assert_int_equal(open_fd_count(), before);
}

/* ---- ENFILE: injected on one thread ------------------------------------- */

struct enfile_call {
    int (*call)(void *arg);
    void *arg;
    int filter_rc;
    int rc;
};

static void *enfile_thread(void *arg)
{
    struct enfile_call *e = arg;
    struct sock_filter filter[] = {
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch)),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, AUDIT_ARCH_HERE, 1, 0),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_epoll_create1, 6, 0),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_eventfd2, 5, 0),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_pipe2, 4, 0),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_accept4, 3, 0),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_socket, 2, 0),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_socketpair, 1, 0),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | ENFILE),
    };
    /* The filter belongs to this thread only. */
    e->filter_rc = seccomp_install(filter, sizeof filter / sizeof filter[0]);
    if (e->filter_rc == 0)
        e->rc = e->call(e->arg);
    return NULL;
}

static int with_enfile(int (*call)(void *), void *arg)
{
    struct enfile_call e = {.call = call, .arg = arg};
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, enfile_thread, &e), 0);
    assert_int_equal(pthread_join(t, NULL), 0);
    assert_int_equal(e.filter_rc, 0);
    return e.rc;
}

static int call_poll_new(void *arg)
{
    return xpoll_new(arg);
}

static int call_waker_new(void *arg)
{
    void **a = arg;
    return xpoll_waker_new(a[0], 7, a[1]);
}

static int call_accept(void *arg)
{
    return xpoll_accept(*(int *)arg);
}

static void poll_new_at_enfile(void **state)
{
    (void)state;
    int before = open_fd_count();
    xpoll *poll = (xpoll *)&poll;
    assert_int_equal(with_enfile(call_poll_new, &poll), -ENFILE);
    assert_null(poll);
    assert_int_equal(open_fd_count(), before);
    assert_int_equal(xpoll_new(&poll), 0); /* other threads unaffected */
    xpoll_free(poll);
}

static void waker_new_at_enfile(void **state)
{
    (void)state;
    xpoll *poll;
    xpoll_events *events;
    xpoll_waker *waker = (xpoll_waker *)&waker;
    assert_int_equal(xpoll_new(&poll), 0);
    assert_int_equal(xpoll_events_new(&events, 4), 0);
    int before = open_fd_count();
    void *args[2] = {poll, &waker};
    int rc = with_enfile(call_waker_new, args);
    if (waker_needs_no_descriptor(poll)) {
        assert_int_equal(
            rc, 0); /* EVFILT_USER, or poll's notification descriptor */
        xpoll_waker_free(waker);
        xpoll_events_free(events);
        xpoll_free(poll);
        return;
    }
    assert_int_equal(rc, -ENFILE);
    assert_null(waker);
    assert_int_equal(open_fd_count(), before);
    expect_new_waker_works(poll, events, 7);
    xpoll_events_free(events);
    xpoll_free(poll);
}

static void accept_at_enfile_keeps_the_connection(void **state)
{
    (void)state;
    int l, c;
    pending_connection(&l, &c);
    int before = open_fd_count();
    assert_int_equal(with_enfile(call_accept, &l), -ENFILE);
    assert_int_equal(open_fd_count(), before);
    int a = accept_pending_connection(l);
    close(a);
    close(c);
    close(l);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(poll_new_at_emfile),
        cmocka_unit_test(waker_new_at_emfile),
        cmocka_unit_test(accept_at_emfile_keeps_the_connection),
        cmocka_unit_test(poll_keeps_working_with_a_full_table),
        cmocka_unit_test(net_helpers_at_emfile),
        cmocka_unit_test(poll_new_at_enfile),
        cmocka_unit_test(waker_new_at_enfile),
        cmocka_unit_test(accept_at_enfile_keeps_the_connection),
    };
    return RUN(tests, NULL, NULL);
}
