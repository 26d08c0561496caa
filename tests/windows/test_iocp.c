/*
 * The iocp backend as far as it goes: the completion port, the wait and
 * its timeout, the waker, and the timers with their wake-up packet.
 * Sockets (AFD polls) are not registered yet.  Runs under wine64 (ctest,
 * tests/windows/CMakeLists.txt).  Threads are Win32's (CreateThread).
 */
/* First: <xpoll.h> includes <winsock2.h>, which must come before
 * <windows.h> (mingw-w64's winsock2.h warns otherwise). */
#include "xpoll.h"

#include <windows.h>

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#define MS ((int64_t)1000000)

static int64_t now_ns(void)
{
    LARGE_INTEGER c, f;
    QueryPerformanceCounter(&c);
    QueryPerformanceFrequency(&f);
    return (int64_t)(c.QuadPart / f.QuadPart * 1000000000 +
                     c.QuadPart % f.QuadPart * 1000000000 / f.QuadPart);
}

struct fixture {
    xpoll *poll;
    xpoll_events *events;
};

static int setup(void **state)
{
    static struct fixture f;
    if (xpoll_new(&f.poll) != 0 || xpoll_events_new(&f.events, 16) != 0)
        return -1;
    *state = &f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    xpoll_events_free(f->events);
    xpoll_free(f->poll);
    return 0;
}

/* A thread that runs fn(arg) after `delay_ms`: it gives the main thread
 * time to block in its wait first, so the wake usually lands in a blocked
 * wait; each test's assertions hold either way. */
struct later {
    DWORD delay_ms;
    int (*fn)(void *arg);
    void *arg;
    int result;
};

static DWORD WINAPI later_main(LPVOID p)
{
    struct later *l = p;
    Sleep(l->delay_ms);
    l->result = l->fn(l->arg);
    return 0;
}

static HANDLE later_start(struct later *l)
{
    HANDLE h = CreateThread(NULL, 0, later_main, l, 0, NULL);
    assert_non_null(h);
    return h;
}

static void later_join(HANDLE h)
{
    assert_int_equal(WaitForSingleObject(h, 30000), WAIT_OBJECT_0);
    CloseHandle(h);
}

static void default_backend_is_iocp(void **state)
{
    struct fixture *f = *state;
    assert_int_equal(xpoll_get_backend(f->poll), XPOLL_BACKEND_IOCP);
    assert_string_equal(xpoll_backend_name(XPOLL_BACKEND_IOCP), "iocp");
    assert_int_equal(XPOLL_BACKEND_IOCP, XPOLL_BACKEND_IO_URING + 1);
    /* The port is a HANDLE, not a descriptor. */
    assert_int_equal(xpoll_fd(f->poll), -ENOTSUP);

    xpoll *by_name = NULL;
    assert_int_equal(xpoll_new_with_backend(&by_name, XPOLL_BACKEND_IOCP), 0);
    assert_int_equal(xpoll_get_backend(by_name), XPOLL_BACKEND_IOCP);
    xpoll_free(by_name);
    assert_int_equal(xpoll_new_with_backend(&by_name, XPOLL_BACKEND_EPOLL),
                     -ENOTSUP);
    assert_null(by_name);
}

static void wait_zero_returns_at_once(void **state)
{
    struct fixture *f = *state;
    assert_int_equal(xpoll_wait(f->poll, f->events, 0), 0);
    assert_int_equal(xpoll_events_len(f->events), 0);
}

static void timeout_waits_at_least_its_length(void **state)
{
    struct fixture *f = *state;
    int64_t lengths[] = {20 * MS, 1, 1500000}; /* 20 ms, 1 ns, 1.5 ms */
    for (size_t i = 0; i < sizeof lengths / sizeof lengths[0]; i++) {
        int64_t start = now_ns();
        assert_int_equal(xpoll_wait(f->poll, f->events, lengths[i]), 0);
        int64_t took = now_ns() - start;
        print_message("timeout %lld ns waited %lld ns\n", (long long)lengths[i],
                      (long long)took);
        assert_true(took >= lengths[i]);
    }
}

static int wake(void *arg)
{
    return xpoll_waker_wake(arg);
}

static void waker_from_another_thread_ends_an_unbounded_wait(void **state)
{
    struct fixture *f = *state;
    xpoll_waker *waker;
    assert_int_equal(xpoll_waker_new(f->poll, 0xC0FFEE, &waker), 0);

    struct later l = {.delay_ms = 50, .fn = wake, .arg = waker};
    HANDLE h = later_start(&l);
    assert_int_equal(xpoll_wait(f->poll, f->events, -1), 1);
    later_join(h);
    assert_int_equal(l.result, 0);
    const xpoll_event *e = xpoll_events_get(f->events, 0);
    assert_int_equal(xpoll_event_token(e), 0xC0FFEE);
    assert_true(xpoll_event_is_readable(e));
    assert_false(xpoll_event_is_timer(e));
    /* Consumed: nothing more. */
    assert_int_equal(xpoll_wait(f->poll, f->events, 0), 0);
    xpoll_waker_free(waker);
}

static void wakes_coalesce_until_the_event_is_seen(void **state)
{
    struct fixture *f = *state;
    xpoll_waker *waker;
    assert_int_equal(xpoll_waker_new(f->poll, 7, &waker), 0);

    for (int i = 0; i < 5; i++)
        assert_int_equal(xpoll_waker_wake(waker), 0);
    assert_int_equal(xpoll_wait(f->poll, f->events, 0), 1);
    assert_int_equal(xpoll_event_token(xpoll_events_get(f->events, 0)), 7);
    assert_int_equal(xpoll_wait(f->poll, f->events, 0), 0);
    /* After the event was delivered, a wake makes a new one. */
    assert_int_equal(xpoll_waker_wake(waker), 0);
    assert_int_equal(xpoll_wait(f->poll, f->events, 0), 1);
    assert_int_equal(xpoll_event_token(xpoll_events_get(f->events, 0)), 7);
    xpoll_waker_free(waker);
}

static void wake_of_a_freed_waker_yields_nothing(void **state)
{
    struct fixture *f = *state;
    xpoll_waker *waker;
    assert_int_equal(xpoll_waker_new(f->poll, 1, &waker), 0);
    assert_int_equal(xpoll_waker_wake(waker), 0);
    xpoll_waker_free(waker);
    /* Its packet is still queued; a new waker must not inherit it. */
    assert_int_equal(xpoll_waker_new(f->poll, 2, &waker), 0);
    assert_int_equal(xpoll_wait(f->poll, f->events, 0), 0);
    assert_int_equal(xpoll_waker_wake(waker), 0);
    assert_int_equal(xpoll_wait(f->poll, f->events, 0), 1);
    assert_int_equal(xpoll_event_token(xpoll_events_get(f->events, 0)), 2);
    xpoll_waker_free(waker);
}

static void timer_fires_with_its_token(void **state)
{
    struct fixture *f = *state;
    xpoll_timer *timer;
    assert_int_equal(xpoll_timer_new(f->poll, 0x7133, &timer), 0);
    int64_t start = now_ns();
    assert_int_equal(xpoll_timer_set(timer, 10 * MS, 0), 0);
    assert_int_equal(xpoll_wait(f->poll, f->events, 10000 * MS), 1);
    assert_true(now_ns() - start >= 10 * MS);
    const xpoll_event *e = xpoll_events_get(f->events, 0);
    assert_int_equal(xpoll_event_token(e), 0x7133);
    assert_true(xpoll_event_is_timer(e));
    assert_int_equal(xpoll_wait(f->poll, f->events, 0), 0);
    xpoll_timer_free(timer);
}

static int set_timer(void *arg)
{
    return xpoll_timer_set(arg, 1 * MS, 0);
}

/* The timer exists (so the poll has its timers' state) but is unset:
 * the wait is unbounded until the other thread's set posts the wake-up
 * packet, whose event src/timer.c drops; the wait then delivers the timer
 * and nothing else. */
static void timer_set_from_another_thread_ends_an_unbounded_wait(void **state)
{
    struct fixture *f = *state;
    xpoll_timer *timer;
    assert_int_equal(xpoll_timer_new(f->poll, 0x5E7, &timer), 0);
    for (int round = 0; round < 3; round++) {
        struct later l = {.delay_ms = 50, .fn = set_timer, .arg = timer};
        HANDLE h = later_start(&l);
        assert_int_equal(xpoll_wait(f->poll, f->events, -1), 1);
        later_join(h);
        assert_int_equal(l.result, 0);
        const xpoll_event *e = xpoll_events_get(f->events, 0);
        assert_int_equal(xpoll_event_token(e), 0x5E7);
        assert_true(xpoll_event_is_timer(e));
        assert_int_equal(xpoll_wait(f->poll, f->events, 0), 0);
    }
    xpoll_timer_free(timer);
}

static int create_and_set_timer(void *arg)
{
    xpoll_timer **timer = arg;
    struct fixture *f = (struct fixture *)timer[1];
    int err = xpoll_timer_new(f->poll, 0xF1257, &timer[0]);
    return err < 0 ? err : xpoll_timer_set(timer[0], 1 * MS, 0);
}

/* The first timer of a poll created and set while a wait blocks: the wait
 * began without timers, and xpoll_wait drops the wake-up's event itself
 * before delivering the timer. */
static void first_timer_created_during_a_wait(void **state)
{
    struct fixture *f;
    assert_int_equal(setup((void **)&f), 0);
    xpoll_timer *timer[2] = {NULL, (xpoll_timer *)f};
    struct later l = {.delay_ms = 50, .fn = create_and_set_timer, .arg = timer};
    HANDLE h = later_start(&l);
    assert_int_equal(xpoll_wait(f->poll, f->events, -1), 1);
    later_join(h);
    assert_int_equal(l.result, 0);
    const xpoll_event *e = xpoll_events_get(f->events, 0);
    assert_int_equal(xpoll_event_token(e), 0xF1257);
    assert_true(xpoll_event_is_timer(e));
    assert_int_equal(xpoll_wait(f->poll, f->events, 0), 0);
    xpoll_timer_free(timer[0]);
    void *fs = f;
    teardown(&fs);
    (void)state;
}

/* ---- sockets ------------------------------------------------------------
 * TCP pairs on 127.0.0.1 made with Winsock directly (<xpoll/net.h> is not
 * ported yet).  Waits that expect an event allow 5 s; one that expects
 * none lets 200 ms pass, and where it can, proves the wait was live by an
 * event of another registration made after the one that must not come. */

#define SOCK_WAIT (5000 * MS)
#define QUIET     (200 * MS)

static void nonblocking(SOCKET s)
{
    u_long on = 1;
    assert_int_equal(ioctlsocket(s, FIONBIO, &on), 0);
}

static SOCKET tcp_listener(struct sockaddr_in *addr)
{
    SOCKET l = socket(AF_INET, SOCK_STREAM, IPPROTO_TCP);
    assert_true(l != INVALID_SOCKET);
    memset(addr, 0, sizeof *addr);
    addr->sin_family = AF_INET;
    addr->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(bind(l, (struct sockaddr *)addr, sizeof *addr), 0);
    int len = sizeof *addr;
    assert_int_equal(getsockname(l, (struct sockaddr *)addr, &len), 0);
    assert_int_equal(listen(l, 8), 0);
    return l;
}

/* A connected pair, both non-blocking. */
static void tcp_pair(SOCKET pair[2])
{
    struct sockaddr_in addr;
    SOCKET l = tcp_listener(&addr);
    pair[0] = socket(AF_INET, SOCK_STREAM, IPPROTO_TCP);
    assert_true(pair[0] != INVALID_SOCKET);
    assert_int_equal(connect(pair[0], (struct sockaddr *)&addr, sizeof addr),
                     0);
    pair[1] = accept(l, NULL, NULL);
    assert_true(pair[1] != INVALID_SOCKET);
    closesocket(l);
    nonblocking(pair[0]);
    nonblocking(pair[1]);
}

static void close_pair(SOCKET pair[2])
{
    closesocket(pair[0]);
    closesocket(pair[1]);
}

static void send_byte(SOCKET s)
{
    assert_int_equal(send(s, "x", 1, 0), 1);
}

/* Reads until the socket would block; returns the bytes read. */
static int drain(SOCKET s)
{
    char buf[256];
    int total = 0, n;
    while ((n = recv(s, buf, sizeof buf, 0)) > 0)
        total += n;
    assert_int_equal(n, SOCKET_ERROR);
    assert_int_equal(WSAGetLastError(), WSAEWOULDBLOCK);
    return total;
}

/* One wait that must return exactly one event, with `token`. */
static const xpoll_event *wait_one(struct fixture *f, xpoll_token token)
{
    assert_int_equal(xpoll_wait(f->poll, f->events, SOCK_WAIT), 1);
    const xpoll_event *e = xpoll_events_get(f->events, 0);
    assert_int_equal(xpoll_event_token(e), token);
    return e;
}

static void socket_readable_after_peer_sends(void **state)
{
    struct fixture *f = *state;
    SOCKET p[2];
    tcp_pair(p);
    assert_int_equal(
        xpoll_register(f->poll, (xpoll_socket)p[0], 11, XPOLL_READABLE), 0);
    /* Nothing to read: the request goes out and nothing comes. */
    assert_int_equal(xpoll_wait(f->poll, f->events, 0), 0);
    send_byte(p[1]);
    const xpoll_event *e = wait_one(f, 11);
    assert_true(xpoll_event_is_readable(e));
    assert_false(xpoll_event_is_writable(e));
    assert_false(xpoll_event_is_read_closed(e));
    assert_false(xpoll_event_is_error(e));
    assert_int_equal(drain(p[0]), 1);
    assert_int_equal(xpoll_deregister(f->poll, (xpoll_socket)p[0]), 0);
    close_pair(p);
}

/* The re-arm rule: a reported direction stays silent, data or not, until
 * xpoll_rearm; then the next readiness is a new event. */
static void socket_rearm_gives_a_new_event(void **state)
{
    struct fixture *f = *state;
    SOCKET p[2], q[2];
    tcp_pair(p);
    tcp_pair(q);
    assert_int_equal(
        xpoll_register(f->poll, (xpoll_socket)p[0], 21, XPOLL_READABLE), 0);
    send_byte(p[1]);
    assert_true(xpoll_event_is_readable(wait_one(f, 21)));
    /* More data, unread, and no rearm: no event for p, while q, registered
     * and written after, is heard. */
    send_byte(p[1]);
    assert_int_equal(
        xpoll_register(f->poll, (xpoll_socket)q[0], 22, XPOLL_READABLE), 0);
    send_byte(q[1]);
    wait_one(f, 22);
    assert_int_equal(xpoll_wait(f->poll, f->events, QUIET), 0);

    assert_int_equal(drain(p[0]), 2);
    assert_int_equal(xpoll_rearm(f->poll, (xpoll_socket)p[0], XPOLL_READABLE),
                     0);
    assert_int_equal(xpoll_wait(f->poll, f->events, QUIET), 0);
    send_byte(p[1]);
    assert_true(xpoll_event_is_readable(wait_one(f, 21)));

    /* Re-armed while data is already there: reported again at once. */
    assert_int_equal(xpoll_rearm(f->poll, (xpoll_socket)p[0], XPOLL_READABLE),
                     0);
    assert_true(xpoll_event_is_readable(wait_one(f, 21)));
    /* Reregistering arms everything too. */
    assert_int_equal(xpoll_reregister(f->poll, (xpoll_socket)p[0], 23,
                                      XPOLL_READABLE | XPOLL_WRITABLE),
                     0);
    const xpoll_event *e = wait_one(f, 23);
    assert_true(xpoll_event_is_readable(e));
    assert_true(xpoll_event_is_writable(e));

    assert_int_equal(xpoll_deregister(f->poll, (xpoll_socket)p[0]), 0);
    assert_int_equal(xpoll_deregister(f->poll, (xpoll_socket)q[0]), 0);
    close_pair(p);
    close_pair(q);
}

static void socket_writable_after_connect(void **state)
{
    struct fixture *f = *state;
    struct sockaddr_in addr;
    SOCKET l = tcp_listener(&addr);
    SOCKET c = socket(AF_INET, SOCK_STREAM, IPPROTO_TCP);
    assert_true(c != INVALID_SOCKET);
    nonblocking(c);
    assert_int_equal(xpoll_register(f->poll, (xpoll_socket)c, 31,
                                    XPOLL_READABLE | XPOLL_WRITABLE),
                     0);
    int rc = connect(c, (struct sockaddr *)&addr, sizeof addr);
    assert_true(rc == 0 || WSAGetLastError() == WSAEWOULDBLOCK);
    const xpoll_event *e = wait_one(f, 31);
    assert_true(xpoll_event_is_writable(e));
    assert_false(xpoll_event_is_readable(e));
    assert_false(xpoll_event_is_error(e));
    /* Writing was reported: silent until re-armed, then at once. */
    assert_int_equal(xpoll_wait(f->poll, f->events, QUIET), 0);
    assert_int_equal(xpoll_rearm(f->poll, (xpoll_socket)c, XPOLL_WRITABLE), 0);
    assert_true(xpoll_event_is_writable(wait_one(f, 31)));
    assert_int_equal(xpoll_deregister(f->poll, (xpoll_socket)c), 0);
    closesocket(c);
    closesocket(l);
}

static void socket_no_event_after_deregister(void **state)
{
    struct fixture *f = *state;
    SOCKET p[2], q[2];
    tcp_pair(p);
    tcp_pair(q);
    assert_int_equal(
        xpoll_register(f->poll, (xpoll_socket)p[0], 41, XPOLL_READABLE), 0);
    /* The request goes out (pending: nothing to read), then is cancelled
     * by the deregistration while in flight. */
    assert_int_equal(xpoll_wait(f->poll, f->events, 0), 0);
    assert_int_equal(xpoll_deregister(f->poll, (xpoll_socket)p[0]), 0);
    assert_int_equal(xpoll_deregister(f->poll, (xpoll_socket)p[0]), -ENOENT);
    assert_int_equal(xpoll_rearm(f->poll, (xpoll_socket)p[0], XPOLL_READABLE),
                     -ENOENT);
    send_byte(p[1]);
    assert_int_equal(
        xpoll_register(f->poll, (xpoll_socket)q[0], 42, XPOLL_READABLE), 0);
    send_byte(q[1]);
    wait_one(f, 42);
    assert_int_equal(xpoll_wait(f->poll, f->events, QUIET), 0);
    assert_int_equal(xpoll_deregister(f->poll, (xpoll_socket)q[0]), 0);
    close_pair(p);
    close_pair(q);
}

/* Deregistered with its request in flight and registered again before
 * the cancel's packet came: the new registration works, once. */
static void socket_registered_again_while_cancel_in_flight(void **state)
{
    struct fixture *f = *state;
    SOCKET p[2];
    tcp_pair(p);
    for (int round = 0; round < 3; round++) {
        xpoll_token token = 50 + (xpoll_token)round;
        assert_int_equal(
            xpoll_register(f->poll, (xpoll_socket)p[0], token, XPOLL_READABLE),
            0);
        assert_int_equal(xpoll_wait(f->poll, f->events, 0), 0);
        assert_int_equal(xpoll_deregister(f->poll, (xpoll_socket)p[0]), 0);
        assert_int_equal(xpoll_register(f->poll, (xpoll_socket)p[0],
                                        token + 100, XPOLL_READABLE),
                         0);
        assert_int_equal(
            xpoll_register(f->poll, (xpoll_socket)p[0], token, XPOLL_READABLE),
            -EEXIST);
        send_byte(p[1]);
        assert_true(xpoll_event_is_readable(wait_one(f, token + 100)));
        assert_int_equal(xpoll_wait(f->poll, f->events, QUIET), 0);
        assert_int_equal(drain(p[0]), 1);
        assert_int_equal(xpoll_deregister(f->poll, (xpoll_socket)p[0]), 0);
    }
    close_pair(p);
}

/* The peer closes with no data left unread (under Wine 8.0 a FIN behind
 * unread data is reported only once a read returned 0). */
static void socket_read_closed_after_peer_closes(void **state)
{
    struct fixture *f = *state;
    SOCKET p[2];
    tcp_pair(p);
    assert_int_equal(
        xpoll_register(f->poll, (xpoll_socket)p[0], 61, XPOLL_READABLE), 0);
    assert_int_equal(xpoll_wait(f->poll, f->events, 0), 0);
    closesocket(p[1]);
    const xpoll_event *e = wait_one(f, 61);
    assert_true(xpoll_event_is_readable(e));
    assert_true(xpoll_event_is_read_closed(e));
    assert_false(xpoll_event_is_error(e));
    char c;
    assert_int_equal(recv(p[0], &c, 1, 0), 0);
    assert_int_equal(xpoll_deregister(f->poll, (xpoll_socket)p[0]), 0);
    closesocket(p[0]);
}

static void socket_registration_errors(void **state)
{
    struct fixture *f = *state;
    SOCKET p[2];
    tcp_pair(p);
    assert_int_equal(
        xpoll_register(f->poll, (xpoll_socket)p[0], 1, XPOLL_READABLE), 0);
    assert_int_equal(
        xpoll_register(f->poll, (xpoll_socket)p[0], 1, XPOLL_READABLE),
        -EEXIST);
    assert_int_equal(
        xpoll_reregister(f->poll, (xpoll_socket)p[1], 1, XPOLL_READABLE),
        -ENOENT);
    assert_int_equal(xpoll_rearm(f->poll, (xpoll_socket)p[1], XPOLL_READABLE),
                     -ENOENT);
    assert_int_equal(xpoll_deregister(f->poll, (xpoll_socket)p[1]), -ENOENT);
    assert_int_equal(xpoll_deregister(f->poll, (xpoll_socket)p[0]), 0);

    /* An open handle that is no socket, and one that is not open. */
    HANDLE event = CreateEventW(NULL, TRUE, FALSE, NULL);
    assert_non_null(event);
    assert_int_equal(
        xpoll_register(f->poll, (xpoll_socket)event, 1, XPOLL_READABLE),
        -ENOTSOCK);
    CloseHandle(event);
    SOCKET gone = socket(AF_INET, SOCK_STREAM, IPPROTO_TCP);
    assert_true(gone != INVALID_SOCKET);
    closesocket(gone);
    assert_int_equal(
        xpoll_register(f->poll, (xpoll_socket)gone, 1, XPOLL_READABLE), -EBADF);
    close_pair(p);
}

struct reg_args {
    xpoll *poll;
    SOCKET socket;
};

static int register_readable(void *arg)
{
    struct reg_args *a = arg;
    return xpoll_register(a->poll, (xpoll_socket)a->socket, 71, XPOLL_READABLE);
}

/* A registration from another thread takes effect in the wait already
 * blocked (the request is sent at once, not at the next wait). */
static void socket_registered_while_another_thread_waits(void **state)
{
    struct fixture *f = *state;
    SOCKET p[2];
    tcp_pair(p);
    send_byte(p[1]);
    struct reg_args a = {f->poll, p[0]};
    struct later l = {.delay_ms = 50, .fn = register_readable, .arg = &a};
    HANDLE h = later_start(&l);
    int n = xpoll_wait(f->poll, f->events, SOCK_WAIT);
    later_join(h);
    assert_int_equal(l.result, 0);
    assert_int_equal(n, 1);
    const xpoll_event *e = xpoll_events_get(f->events, 0);
    assert_int_equal(xpoll_event_token(e), 71);
    assert_true(xpoll_event_is_readable(e));
    assert_int_equal(xpoll_deregister(f->poll, (xpoll_socket)p[0]), 0);
    close_pair(p);
}

/* More registrations than one AFD handle carries (32): every one is
 * heard, once. */
#define MANY 40
static void sockets_beyond_one_group(void **state)
{
    struct fixture *f = *state;
    static SOCKET p[MANY][2];
    bool seen[MANY] = {false};
    xpoll_events *events;
    assert_int_equal(xpoll_events_new(&events, MANY), 0);
    for (int i = 0; i < MANY; i++) {
        tcp_pair(p[i]);
        assert_int_equal(xpoll_register(f->poll, (xpoll_socket)p[i][0],
                                        1000 + (xpoll_token)i, XPOLL_READABLE),
                         0);
    }
    assert_int_equal(xpoll_wait(f->poll, events, 0), 0);
    for (int i = 0; i < MANY; i++)
        send_byte(p[i][1]);
    int got = 0;
    while (got < MANY) {
        int n = xpoll_wait(f->poll, events, SOCK_WAIT);
        assert_true(n > 0);
        for (int j = 0; j < n; j++) {
            const xpoll_event *e = xpoll_events_get(events, (size_t)j);
            xpoll_token t = xpoll_event_token(e);
            assert_true(t >= 1000 && t < 1000 + MANY);
            assert_false(seen[t - 1000]);
            assert_true(xpoll_event_is_readable(e));
            seen[t - 1000] = true;
            got++;
        }
    }
    assert_int_equal(xpoll_wait(f->poll, events, QUIET), 0);
    for (int i = 0; i < MANY; i++) {
        assert_int_equal(xpoll_deregister(f->poll, (xpoll_socket)p[i][0]), 0);
        close_pair(p[i]);
    }
    xpoll_events_free(events);
}

/* Freeing a poll with requests in flight cancels them and waits for their
 * packets (no use after free; the test would crash or hang otherwise). */
static void free_with_requests_in_flight(void **state)
{
    (void)state;
    xpoll *poll;
    xpoll_events *events;
    SOCKET p[2];
    assert_int_equal(xpoll_new(&poll), 0);
    assert_int_equal(xpoll_events_new(&events, 4), 0);
    tcp_pair(p);
    assert_int_equal(
        xpoll_register(poll, (xpoll_socket)p[0], 1, XPOLL_READABLE), 0);
    assert_int_equal(
        xpoll_register(poll, (xpoll_socket)p[1], 2, XPOLL_READABLE), 0);
    assert_int_equal(xpoll_wait(poll, events, 0), 0);
    assert_int_equal(xpoll_deregister(poll, (xpoll_socket)p[1]), 0);
    xpoll_free(poll);
    xpoll_events_free(events);
    close_pair(p);
}

int main(void)
{
    WSADATA wsa;
    if (WSAStartup(MAKEWORD(2, 2), &wsa) != 0)
        return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(default_backend_is_iocp, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(wait_zero_returns_at_once, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(timeout_waits_at_least_its_length,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(
            waker_from_another_thread_ends_an_unbounded_wait, setup, teardown),
        cmocka_unit_test_setup_teardown(wakes_coalesce_until_the_event_is_seen,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(wake_of_a_freed_waker_yields_nothing,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(timer_fires_with_its_token, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(
            timer_set_from_another_thread_ends_an_unbounded_wait, setup,
            teardown),
        cmocka_unit_test(first_timer_created_during_a_wait),
        cmocka_unit_test_setup_teardown(socket_readable_after_peer_sends, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(socket_rearm_gives_a_new_event, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(socket_writable_after_connect, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(socket_no_event_after_deregister, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(
            socket_registered_again_while_cancel_in_flight, setup, teardown),
        cmocka_unit_test_setup_teardown(socket_read_closed_after_peer_closes,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(socket_registration_errors, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(
            socket_registered_while_another_thread_waits, setup, teardown),
        cmocka_unit_test_setup_teardown(sockets_beyond_one_group, setup,
                                        teardown),
        cmocka_unit_test(free_with_requests_in_flight),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
