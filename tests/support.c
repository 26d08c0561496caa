/* The portable part of support.h: C11, cmocka, POSIX threads and clocks
 * (mingw-w64's winpthreads on Windows), the public API and platform.h. */
#define _GNU_SOURCE
#include "support.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static const char *const pair_names[PAIR_KIND_COUNT] = {
    [PAIR_TCP] = "tcp",
    [PAIR_UDP] = "udp",
    [PAIR_UNIX_STREAM] = "unix_stream",
    [PAIR_UNIX_DGRAM] = "unix_dgram",
    [PAIR_PIPE] = "pipe",
    [PAIR_EVENTFD] = "eventfd",
};

const char *pair_name(enum pair_kind kind)
{
    return pair_names[kind];
}

xpoll_socket accept_wait(xpoll_socket listen_fd)
{
    wait_ready(listen_fd, XPOLL_READABLE);
    xpoll_socket fd = xpoll_accept(listen_fd);
    assert_true(fd >= 0);
    return fd;
}

void assert_flows(xpoll_socket from, xpoll_socket to, const char *msg)
{
    char buf[64];
    size_t len = strlen(msg);
    assert_true(len <= sizeof buf);
    wait_ready(from, XPOLL_WRITABLE);
    assert_int_equal(fd_write(from, msg, len), (ssize_t)len);
    wait_ready(to, XPOLL_READABLE);
    assert_int_equal(fd_read(to, buf, sizeof buf), (ssize_t)len);
    assert_memory_equal(buf, msg, len);
}

int drain(xpoll_socket fd)
{
    char buf[65536];
    int reads = 0;

    for (;;) {
        ssize_t n = fd_read(fd, buf, sizeof buf);
        if (n > 0) {
            reads++;
            continue;
        }
        if (n == 0)
            return reads; /* end of stream, or an empty datagram */
        if (errno == EINTR)
            continue;
        assert_int_equal(errno, EAGAIN);
        return reads;
    }
}

size_t fill(xpoll_socket fd)
{
    static const char buf[65536];
    size_t total = 0;

    for (;;) {
        ssize_t n = fd_write(fd, buf, sizeof buf);
        if (n > 0) {
            total += (size_t)n;
            continue;
        }
        if (n < 0 && errno == EINTR)
            continue;
        assert_true(n < 0);
        assert_int_equal(errno, EAGAIN);
        return total;
    }
}

uint32_t event_flags(const xpoll_event *event)
{
    return (xpoll_event_is_readable(event) ? SEEN_READABLE : 0) |
           (xpoll_event_is_writable(event) ? SEEN_WRITABLE : 0) |
           (xpoll_event_is_error(event) ? SEEN_ERROR : 0) |
           (xpoll_event_is_read_closed(event) ? SEEN_READ_CLOSED : 0) |
           (xpoll_event_is_write_closed(event) ? SEEN_WRITE_CLOSED : 0) |
           (xpoll_event_is_priority(event) ? SEEN_PRIORITY : 0);
}

int wait_once(xpoll *poll, xpoll_events *events, int64_t timeout_ns,
              xpoll_token token, struct seen *seen)
{
    int n = xpoll_wait(poll, events, timeout_ns);
    if (n > 0)
        assert_int_equal((size_t)n, xpoll_events_len(events));
    for (int i = 0; i < n; i++) {
        const xpoll_event *ev = xpoll_events_get(events, (size_t)i);
        assert_non_null(ev);
        if (xpoll_event_token(ev) == token) {
            seen->events++;
            seen->flags |= event_flags(ev);
        }
    }
    return n;
}

struct seen expect_event(xpoll *poll, xpoll_events *events, xpoll_token token)
{
    struct seen seen = {0};

    /* The event is due already or about to be (the caller made it so):
     * the deadline only catches one that never comes. */
    for (int64_t waited = 0; waited < HANG_NS && seen.events == 0;
         waited += 100 * MS) {
        int n = wait_once(poll, events, 100 * MS, token, &seen);
        assert_true(n >= 0 || n == -EINTR);
    }
    if (seen.events == 0)
        fail_msg("no event for token %#lx within %d s", (unsigned long)token,
                 (int)(HANG_NS / SEC));
    /* kqueue reports read and write readiness as separate events; both
     * are queued by now, so a non-blocking wait collects the other half. */
    assert_true(wait_once(poll, events, 0, token, &seen) >= 0);
    return seen;
}

struct seen expect_flags(xpoll *poll, xpoll_events *events, xpoll_token token,
                         uint32_t flags)
{
    struct seen all = {0};
    for (int i = 0; i < 10 && (all.flags & flags) != flags; i++) {
        struct seen seen = expect_event(poll, events, token);
        all.events += seen.events;
        all.flags |= seen.flags;
    }
    return all;
}

int wait_tokens(xpoll *poll, xpoll_events *events, int64_t timeout_ns,
                xpoll_token *out, int max)
{
    int n = xpoll_wait(poll, events, timeout_ns);
    assert_true(n >= 0);
    for (int i = 0; i < n && i < max; i++)
        out[i] = xpoll_event_token(xpoll_events_get(events, (size_t)i));
    return n;
}

bool has_token(const xpoll_token *tokens, int n, xpoll_token token)
{
    for (int i = 0; i < n; i++)
        if (tokens[i] == token)
            return true;
    return false;
}

void expect_no_event(xpoll *poll, xpoll_events *events, int64_t timeout_ns)
{
    int n = xpoll_wait(poll, events, timeout_ns);
    if (n > 0) {
        const xpoll_event *ev = xpoll_events_get(events, 0);
        fail_msg("unexpected event: token %#lx flags %#x",
                 (unsigned long)xpoll_event_token(ev), event_flags(ev));
    }
    assert_int_equal(n, 0);
}

void expect_new_waker_works(xpoll *poll, xpoll_events *events,
                            xpoll_token token)
{
    xpoll_waker *waker;
    assert_int_equal(xpoll_waker_new(poll, token, &waker), 0);
    assert_int_equal(xpoll_waker_wake(waker), 0);
    assert_int_equal(xpoll_wait(poll, events, SEC), 1);
    assert_int_equal(xpoll_event_token(xpoll_events_get(events, 0)), token);
    xpoll_waker_free(waker);
}

int64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * SEC + ts.tv_nsec;
}

void sleep_ms(int ms)
{
    struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * MS};
    while (nanosleep(&ts, &ts) < 0 && errno == EINTR) {
    }
}

int wait_until_blocked_in_wait(uint64_t tid, int64_t timeout_ns)
{
    int64_t deadline = now_ns() + timeout_ns;
    for (;;) {
        int blocked = platform_blocked_in_wait(getpid(), tid);
        if (blocked != 0)
            return blocked < 0 ? blocked : 0;
        if (now_ns() >= deadline)
            return -ETIMEDOUT;
        struct timespec ts = {0, 200 * 1000}; /* only the pace of the polling */
        nanosleep(&ts, NULL);
    }
}

static void *blocked_action_main(void *arg)
{
    struct blocked_action *b = arg;
    b->proof = wait_until_blocked_in_wait(b->waiter, HANG_NS);
    b->act(b->arg);
    return NULL;
}

void blocked_action_start(struct blocked_action *b, void (*act)(void *arg),
                          void *arg)
{
    b->act = act;
    b->arg = arg;
    b->waiter = platform_thread_id();
    b->proof = 1;
    assert_int_equal(pthread_create(&b->thread, NULL, blocked_action_main, b),
                     0);
}

void blocked_action_finish(struct blocked_action *b)
{
    assert_int_equal(pthread_join(b->thread, NULL), 0);
    if (b->proof == -ENOTSUP) {
        print_message("skipped: this system cannot show that a thread is "
                      "blocked in its wait\n");
        skip();
    }
    if (b->proof != 0)
        fail_msg("the waiting thread was not seen blocked in the wait: %s",
                 strerror(-b->proof));
}

int open_fd_count(void)
{
    int n = platform_fd_count(getpid());
    if (n == -ENOTSUP) {
        print_message("skipped: this system cannot count open descriptors\n");
        skip();
    }
    if (n < 0)
        fail_msg("counting open descriptors: %s", strerror(-n));
    return n;
}

xpoll_backend test_backend(void)
{
    xpoll *poll;
    assert_int_equal(xpoll_new(&poll), 0);
    xpoll_backend backend = xpoll_get_backend(poll);
    xpoll_free(poll);
    return backend;
}

bool on_kqueue(void)
{
    return test_backend() == XPOLL_BACKEND_KQUEUE;
}

bool on_iocp(void)
{
    return test_backend() == XPOLL_BACKEND_IOCP;
}

void expected_failure_under_wine(const char *what)
{
    const char *wine = platform_wine_version();
    if (wine == NULL)
        fail_msg("%s", what);
    print_message("expected failure under Wine %s (docs/windows.md, "
                  "section 10): %s\n",
                  wine, what);
    skip();
}

int fixture_setup(void **state)
{
    struct fixture *f = calloc(1, sizeof *f);
    if (f == NULL || xpoll_new(&f->poll) != 0 ||
        xpoll_events_new(&f->events, 64) != 0) {
        if (f != NULL)
            xpoll_free(f->poll);
        free(f);
        return -1;
    }
    *state = f;
    return 0;
}

int fixture_teardown(void **state)
{
    struct fixture *f = *state;
    xpoll_events_free(f->events);
    xpoll_free(f->poll);
    free(f);
    return 0;
}

int run_group(const char *name, const struct CMUnitTest *tests, size_t count,
              CMFixtureFunction setup, CMFixtureFunction teardown)
{
    support_system_init();

    const char *backend = getenv("XPOLL_BACKEND");
    char group[256];
    snprintf(group, sizeof group, "%s [%s]", name,
             backend != NULL && backend[0] != '\0' ? backend : "default");
    return _cmocka_run_group_tests(group, tests, count, setup, teardown);
}
