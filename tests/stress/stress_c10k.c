/*
 * 10,000 concurrent TCP connections (loopback) through one echo loop whose
 * event buffer holds 16 events per wait.
 *
 * A client process (forked before the server exists, so each side has its
 * own descriptor table: 10,000 + 10,000 would not fit a 20,000 limit) opens
 * every connection first and waits until all are established; the server
 * tells it to go on once it has accepted every one.  Then the client sends
 * one 64-byte request on each and checks every reply byte for byte.
 * Meanwhile a few "hot" connections keep the loop busy with back-to-back
 * requests for as long as any other reply is missing.  The client uses
 * plain level-triggered epoll, independent of xpoll.
 *
 * Asserted: every connection served with a correct reply, the server held
 * all of them at once, and afterwards every connection closed and no
 * descriptor leaked.  Since the hot connections never let the loop go
 * idle, a loop that starved any connection under its 16-event buffer
 * would never finish: RUN_LIMIT only catches that hang.  The reply
 * latencies are printed, not judged: they measure the machine.
 *
 * Scaled by XPOLL_STRESS_SCALE (TSan/valgrind: 1,000 connections).
 */
#define _GNU_SOURCE
#include "stress.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

enum { CONNS = 10000, HOT = 8, REQ = 64, CAPACITY = 16 };
#define RUN_LIMIT (40 * SEC) /* the client's and the server's hang deadline */

struct client_report {
    int conns, connected, done, mismatches, errors;
    int first_errno;
    long hot_rounds;
    int64_t connect_ns, max_latency, p50, p99;
};

/* ---- the client process (no cmocka here: it reports through a pipe) ----- */

struct cconn {
    int fd;
    int state; /* 0 connecting, 1 connected, 2 sent, 3 done */
    int got;
    long round; /* of the request in flight */
    int64_t sent_at;
    char reply[REQ];
};

static void request_bytes(int i, long round, char out[REQ])
{
    for (int k = 0; k < REQ; k++)
        out[k] = (char)((i * 31 + k * 7 + round * 13) & 0xff);
}

static int cmp64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x < y ? -1 : x > y;
}

static void client_fail(struct client_report *r, int err)
{
    r->errors++;
    if (r->first_errno == 0)
        r->first_errno = err;
}

static void run_clients(int in_fd, int out_fd, int n)
{
    struct client_report r = {.conns = n};
    char addr[XPOLL_ADDRSTRLEN] = {0};
    struct sockaddr_in sin = {.sin_family = AF_INET};

    if (read(in_fd, addr, sizeof addr - 1) <= 0 ||
        strncmp(addr, "127.0.0.1:", 10))
        _exit(3);
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    sin.sin_port = htons((uint16_t)atoi(addr + 10));
    if (stress_raise_nofile(n + 64) < n + 16)
        _exit(4);
    int ep = epoll_create1(EPOLL_CLOEXEC);
    struct cconn *c = calloc((size_t)n, sizeof *c);
    int64_t *lat = calloc((size_t)n, sizeof *lat);
    struct epoll_event evs[256];
    if (ep < 0 || c == NULL || lat == NULL)
        _exit(5);

    /* Phase 1: open every connection; they all stay open until phase 3. */
    int64_t start = now_ns(), deadline = start + RUN_LIMIT;
    for (int i = 0; i < n; i++) {
        c[i].fd =
            socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (c[i].fd < 0)
            _exit(6);
        if (connect(c[i].fd, (struct sockaddr *)&sin, sizeof sin) < 0 &&
            errno != EINPROGRESS)
            client_fail(&r, errno);
        struct epoll_event ev = {.events = EPOLLOUT, .data.u32 = (uint32_t)i};
        if (epoll_ctl(ep, EPOLL_CTL_ADD, c[i].fd, &ev) < 0)
            _exit(7);
    }
    while (r.connected < n && now_ns() < deadline) {
        int k = epoll_wait(ep, evs, 256, 100);
        for (int j = 0; j < k; j++) {
            int i = (int)evs[j].data.u32, err = 0;
            socklen_t len = sizeof err;
            getsockopt(c[i].fd, SOL_SOCKET, SO_ERROR, &err, &len);
            if (err != 0)
                client_fail(&r, err);
            c[i].state = 1;
            r.connected++;
            struct epoll_event ev = {.events = EPOLLIN,
                                     .data.u32 = (uint32_t)i};
            epoll_ctl(ep, EPOLL_CTL_MOD, c[i].fd, &ev);
        }
    }
    r.connect_ns = now_ns() - start;
    /* The server accepts at its own pace (a connection whose last
     * handshake packet overflowed the backlog completes on a retransmit):
     * wait for its word that it holds every connection, so that none is
     * closed before the last is accepted. */
    char go;
    if (r.connected == n && read(in_fd, &go, 1) != 1)
        _exit(9);

    /* Phase 2: one request on every connection, as fast as possible. */
    char req[REQ];
    for (int i = 0; i < n && r.connected == n; i++) {
        request_bytes(i, 0, req);
        c[i].sent_at = now_ns();
        if (write(c[i].fd, req, REQ) != REQ)
            client_fail(&r, errno);
        c[i].state = 2;
    }

    /* Phase 3: replies.  Cold connections close after theirs; hot ones
     * send again at once while any cold one is still waiting. */
    int cold_left = n - HOT, nlat = 0;
    while (r.done < n && r.connected == n && now_ns() < deadline) {
        int k = epoll_wait(ep, evs, 256, 100);
        for (int j = 0; j < k; j++) {
            int i = (int)evs[j].data.u32;
            struct cconn *cc = &c[i];
            ssize_t got =
                read(cc->fd, cc->reply + cc->got, (size_t)(REQ - cc->got));
            if (got <= 0) {
                if (got < 0 && errno == EAGAIN)
                    continue;
                client_fail(&r, got == 0 ? EPIPE : errno);
                epoll_ctl(ep, EPOLL_CTL_DEL, cc->fd, NULL);
                close(cc->fd);
                cc->state = 3;
                r.done++;
                continue;
            }
            cc->got += (int)got;
            if (cc->got < REQ)
                continue;
            request_bytes(i, cc->round, req);
            if (memcmp(req, cc->reply, REQ) != 0)
                r.mismatches++;
            cc->got = 0;
            if (i < HOT && cold_left > 0) {
                r.hot_rounds++;
                request_bytes(i, ++cc->round, req);
                if (write(cc->fd, req, REQ) != REQ)
                    client_fail(&r, errno);
                continue;
            }
            if (i >= HOT) {
                lat[nlat++] = now_ns() - cc->sent_at;
                cold_left--;
            }
            epoll_ctl(ep, EPOLL_CTL_DEL, cc->fd, NULL);
            close(cc->fd);
            cc->state = 3;
            r.done++;
        }
    }
    if (nlat > 0) {
        qsort(lat, (size_t)nlat, sizeof *lat, cmp64);
        r.p50 = lat[nlat / 2];
        r.p99 = lat[nlat * 99 / 100];
        r.max_latency = lat[nlat - 1];
    }
    if (write(out_fd, &r, sizeof r) != (ssize_t)sizeof r)
        _exit(8);
    _exit(0);
}

/* ---- the test ----------------------------------------------------------- */

struct wait_live {
    struct echo_server *srv;
};

static bool all_closed(void *arg)
{
    struct echo_server *srv = arg;
    return srv->st.live == 0;
}

static bool report_in(void *arg)
{
    struct echo_server *srv = arg;
    return srv->stop_seen;
}

struct accepting {
    struct echo_server *srv;
    int n;
};

/* Every connection accepted, or the client gave up and reported. */
static bool all_accepted(void *arg)
{
    struct accepting *a = arg;
    return (int)a->srv->st.accepted >= a->n || a->srv->stop_seen;
}

static void ten_thousand_connections_all_served(void **state)
{
    (void)state;
    int n = stress_scaled(CONNS, 200);
    int to_child[2], from_child[2];

    assert_true(stress_raise_nofile(n + 64) >= n + 32);
    int fds_before = open_fd_count();
    assert_int_equal(xpoll_pipe(to_child), 0);
    assert_int_equal(xpoll_pipe(from_child), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        /* Blocking pipes for the child's simple reads and writes. */
        fcntl(to_child[0], F_SETFL, 0);
        fcntl(from_child[1], F_SETFL, 0);
        run_clients(to_child[0], from_child[1], n);
    }
    close(to_child[0]);
    close(from_child[1]);

    struct echo_server srv;
    char addr[XPOLL_ADDRSTRLEN];
    assert_int_equal(echo_init(&srv, CAPACITY, addr, sizeof addr), 0);
    srv.stop_token = (xpoll_token)-2;
    assert_int_equal(
        xpoll_register(srv.poll, from_child[0], srv.stop_token, XPOLL_READABLE),
        0);
    assert_int_equal(write(to_child[1], addr, strlen(addr)),
                     (ssize_t)strlen(addr));

    int64_t start = now_ns();
    struct accepting acc = {.srv = &srv, .n = n};
    bool accepted = echo_run_until(&srv, all_accepted, &acc, RUN_LIMIT) &&
                    (int)srv.st.accepted == n;
    bool reported = false;
    if (accepted && write(to_child[1], "g", 1) == 1)
        reported = echo_run_until(&srv, report_in, &srv,
                                  RUN_LIMIT + 5 * SEC - (now_ns() - start));
    int64_t elapsed = now_ns() - start;
    struct client_report r;
    memset(&r, 0, sizeof r);
    ssize_t got = read(from_child[0], &r, sizeof r);
    int status = 0;
    if (!reported)
        kill(pid, SIGKILL);
    assert_int_equal(waitpid(pid, &status, 0), pid);
    /* The server sees every client's FIN and closes its side. */
    bool drained = echo_run_until(&srv, all_closed, &srv, HANG_NS);

    printf("c10k [%s]: %d connections, capacity %d: connected in %.2f s, "
           "all served in %.2f s; reply latency p50 %.1f ms, p99 %.1f ms, "
           "max %.1f ms; %ld hot rounds; %lu waits, %lu events, server held "
           "%d at once\n",
           xpoll_backend_name(xpoll_get_backend(srv.poll)), n, CAPACITY,
           (double)r.connect_ns / 1e9, (double)elapsed / 1e9,
           (double)r.p50 / 1e6, (double)r.p99 / 1e6,
           (double)r.max_latency / 1e6, r.hot_rounds, srv.st.waits,
           srv.st.events, srv.st.max_live);

    assert_true(accepted);
    assert_true(reported);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
    assert_int_equal(got, (ssize_t)sizeof r);
    assert_int_equal(r.errors, 0);
    assert_int_equal(r.first_errno, 0);
    assert_int_equal(r.connected, n);
    assert_int_equal(r.done, n);
    assert_int_equal(r.mismatches, 0);
    assert_true(r.hot_rounds > 0); /* the hot clients did come back */
    assert_int_equal(srv.first_error, 0);
    assert_int_equal(srv.st.accept_errors, 0);
    assert_int_equal((int)srv.st.accepted, n);
    assert_int_equal(srv.st.max_live, n); /* all of them at once */
    assert_true(drained);
    assert_int_equal((int)srv.st.closed, n);
    assert_int_equal(srv.st.read_errors + srv.st.write_errors, 0);

    assert_int_equal(xpoll_deregister(srv.poll, from_child[0]), 0);
    close(from_child[0]);
    close(to_child[1]);
    echo_fini(&srv);
    assert_int_equal(open_fd_count(), fds_before);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(ten_thousand_connections_all_served),
    };
    return RUN(tests, NULL, NULL);
}
