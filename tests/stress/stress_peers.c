/*
 * Peer faults: a connection reset in the middle of the server's write, a
 * half-close, a reader that stops reading, a client that connects and
 * never sends, connections reset before they are accepted.  In each case
 * the echo loop (stress.c) deals with the bad peer and keeps serving a
 * healthy client, without a busy loop, and without leaking a descriptor.
 *
 * Single-threaded: the test drives its clients (plain non-blocking
 * sockets) and pumps the loop between steps.  Whatever a step waits for
 * (a handshake, an echo, a close) it waits for until HANG_NS: that
 * deadline only catches a loop that never gets there, since how long it
 * takes measures the machine (valgrind, load), not the loop.
 */
#define _GNU_SOURCE
#include "stress.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <linux/sockios.h>
#include <linux/tcp.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

struct fixture_peers {
    struct echo_server srv;
    char addr[XPOLL_ADDRSTRLEN];
    int healthy;
    int fds_before;
};

static int peers_setup(void **state)
{
    struct fixture_peers *f = calloc(1, sizeof *f);
    if (f == NULL)
        return -1;
    f->fds_before = open_fd_count();
    if (echo_init(&f->srv, 16, f->addr, sizeof f->addr) != 0)
        return -1;
    *state = f;
    return 0;
}

static int peers_teardown(void **state)
{
    struct fixture_peers *f = *state;
    echo_fini(&f->srv);
    free(f);
    return 0;
}

/* A connected client (the handshake is done when this returns). */
static int client(struct fixture_peers *f)
{
    int fd = xpoll_tcp_connect(f->addr);
    assert_true(fd >= 0);
    for (int64_t deadline = now_ns() + HANG_NS; now_ns() < deadline;) {
        int err = xpoll_socket_error(fd);
        assert_int_equal(err, 0);
        char addr[XPOLL_ADDRSTRLEN];
        if (xpoll_peer_addr(fd, addr, sizeof addr) > 0)
            return fd;
        echo_pump(&f->srv, MS);
    }
    fail_msg("connect did not complete");
    return -1;
}

/* Sends `len` bytes and pumps until they all came back; returns the time
 * it took.  Fails the test if the echo is wrong or never comes. */
static int64_t round_trip(struct fixture_peers *f, int fd, size_t len)
{
    static char out[65536], in[65536];
    assert_true(len <= sizeof out);
    for (size_t i = 0; i < len; i++)
        out[i] = (char)(i * 7 + len);
    int64_t start = now_ns();
    size_t sent = 0, got = 0;
    while (got < len) {
        if (sent < len) {
            ssize_t n = send(fd, out + sent, len - sent, MSG_NOSIGNAL);
            if (n > 0)
                sent += (size_t)n;
            else
                assert_int_equal(errno, EAGAIN);
        }
        echo_pump(&f->srv, sent < len ? 0 : MS);
        ssize_t n = recv(fd, in + got, len - got, 0);
        if (n > 0)
            got += (size_t)n;
        else
            assert_true(n < 0 && errno == EAGAIN);
        if (now_ns() - start > HANG_NS)
            fail_msg("healthy client: %zu of %zu bytes back after %lld ms", got,
                     len, (long long)((now_ns() - start) / MS));
    }
    assert_memory_equal(in, out, len);
    return now_ns() - start;
}

static void pump_for(struct fixture_peers *f, int64_t ns)
{
    int64_t end = now_ns() + ns;
    while (now_ns() < end)
        echo_pump(&f->srv, MS);
}

/* Server-side connections with output pending (blocked writers). */
static int count_blocked(struct fixture_peers *f, struct echo_conn **last)
{
    int n = 0;
    for (int fd = 0; fd < f->srv.nconns_cap; fd++) {
        struct echo_conn *c = f->srv.conns[fd];
        if (c != NULL && c->want_write && c->end > c->start) {
            n++;
            if (last != NULL)
                *last = c;
        }
    }
    return n;
}

/* Sends without reading until the server is blocked writing to us too. */
static struct echo_conn *stuff_until_server_blocks(struct fixture_peers *f,
                                                   int fd)
{
    static char junk[65536];
    struct echo_conn *c = NULL;
    int before = count_blocked(f, NULL);
    for (int i = 0; i < 100000 && count_blocked(f, &c) == before; i++) {
        send(fd, junk, sizeof junk, MSG_NOSIGNAL | MSG_DONTWAIT);
        echo_pump(&f->srv, 0);
    }
    assert_int_equal(count_blocked(f, NULL), before + 1);
    return c;
}

static void reset_fd(int fd)
{
    struct linger lin = {.l_onoff = 1, .l_linger = 0};
    assert_int_equal(setsockopt(fd, SOL_SOCKET, SO_LINGER, &lin, sizeof lin),
                     0);
    close(fd); /* RST instead of FIN */
}

static void end_checks(struct fixture_peers *f, int expected_live)
{
    assert_int_equal(f->srv.first_error, 0);
    assert_int_equal(f->srv.st.live, expected_live);
}

/* Pumps until the loop holds at most `live` connections (or HANG_NS). */
static void pump_until_live(struct fixture_peers *f, int live)
{
    int64_t deadline = now_ns() + HANG_NS;
    while (f->srv.st.live > live && now_ns() < deadline)
        echo_pump(&f->srv, MS);
}

/* The server's side of client `fd`'s connection, once the loop has
 * accepted it (the handshake completes on the client first), else NULL. */
static struct echo_conn *server_side(struct fixture_peers *f, int fd)
{
    char want[XPOLL_ADDRSTRLEN], got[XPOLL_ADDRSTRLEN];
    assert_true(xpoll_local_addr(fd, want, sizeof want) > 0);
    for (int s = 0; s < f->srv.nconns_cap; s++)
        if (f->srv.conns[s] != NULL &&
            xpoll_peer_addr(s, got, sizeof got) > 0 && strcmp(got, want) == 0)
            return f->srv.conns[s];
    return NULL;
}

/* Pumps until the loop holds client `fd`'s connection. */
static struct echo_conn *pump_until_held(struct fixture_peers *f, int fd)
{
    int64_t deadline = now_ns() + HANG_NS;
    struct echo_conn *c;
    while ((c = server_side(f, fd)) == NULL) {
        if (now_ns() > deadline)
            fail_msg("the loop did not accept the connection");
        echo_pump(&f->srv, MS);
    }
    return c;
}

static int sock_ioctl(int fd, unsigned long request)
{
    int v = 0;
    assert_int_equal(ioctl(fd, request, &v), 0);
    return v;
}

/* Nothing will leave `fd` for its peer and nothing will come back for it
 * until a reader reads: every byte sent was acknowledged (SIOCOUTQ, unacked
 * and unsent bytes, equals SIOCOUTQNSD, unsent bytes; tcp(7)), and either
 * nothing is left to send or the peer's receive window is closed
 * (tcpi_snd_wnd 0, include/uapi/linux/tcp.h), when only zero-window probes
 * without data go out (net/ipv4/tcp_output.c tcp_write_wakeup()).  A peer
 * that does not read never opens its window again. */
static bool sender_stalled(int fd)
{
    int queued = sock_ioctl(fd, SIOCOUTQ), unsent = sock_ioctl(fd, SIOCOUTQNSD);
    if (queued != unsent)
        return false; /* in flight: its acknowledgement is still to come */
    if (unsent == 0)
        return true;
    struct tcp_info ti;
    socklen_t len = sizeof ti;
    memset(&ti, 0, sizeof ti);
    assert_int_equal(getsockopt(fd, IPPROTO_TCP, TCP_INFO, &ti, &len), 0);
    /* tcpi_snd_wnd came with Linux 5.4. */
    assert_true(len >= offsetof(struct tcp_info, tcpi_snd_wnd) +
                           sizeof ti.tcpi_snd_wnd);
    return ti.tcpi_snd_wnd == 0;
}

/* Pumps until the loop is quiet for good: the sockets `fds` were seen
 * unable to send (sender_stalled), and the wait that followed found nothing
 * ready.  The loop did no I/O in between (nothing was ready, nothing left
 * to revisit), so nothing can change from then on: an event after that is
 * one the loop or the poll made up. */
static void pump_until_quiet(struct fixture_peers *f, const int *fds, int nfds)
{
    int64_t deadline = now_ns() + HANG_NS;
    for (;;) {
        bool stalled = f->srv.nrevisit == 0;
        for (int i = 0; i < nfds && stalled; i++)
            stalled = sender_stalled(fds[i]);
        int n = echo_pump(&f->srv, MS);
        if (n == 0 && stalled)
            return;
        if (now_ns() > deadline && stalled)
            fail_msg("waits keep reporting events on connections at a "
                     "standstill (%d in the last)",
                     n);
        if (now_ns() > deadline)
            fail_msg("the connections did not come to a standstill");
    }
}

/* 50 waits (1 ms each) deliver no event at all. */
static void expect_no_events(struct fixture_peers *f)
{
    unsigned long events = f->srv.st.events;
    for (int i = 0; i < 50; i++)
        echo_pump(&f->srv, MS);
    assert_int_equal(f->srv.st.events - events, 0);
}

/* The end of every test: the clients are closed; the loop closes its
 * side, and shutting it down leaves no descriptor behind. */
static void no_leak(struct fixture_peers *f)
{
    pump_until_live(f, 0);
    end_checks(f, 0);
    echo_fini(&f->srv);
    assert_int_equal(open_fd_count(), f->fds_before);
}

/* ---- the faults ---------------------------------------------------------- */

static void reset_mid_write_spares_others(void **state)
{
    struct fixture_peers *f = *state;
    int healthy = client(f);
    int bad = client(f);
    round_trip(f, healthy, 100);
    stuff_until_server_blocks(f, bad); /* the server is mid-write to `bad` */
    unsigned long errors = f->srv.st.read_errors + f->srv.st.write_errors;
    reset_fd(bad);
    /* The reset is noticed (error, closed flags): the loop closes it. */
    pump_until_live(f, 1);
    end_checks(f, 1);
    assert_true(f->srv.st.read_errors + f->srv.st.write_errors > errors);
    round_trip(f, healthy, 60000);
    close(healthy);
    no_leak(f);
}

static void half_close_gets_full_echo(void **state)
{
    struct fixture_peers *f = *state;
    int healthy = client(f);
    int half = client(f);
    enum { LEN = 200000 };
    static char out[LEN], in[LEN + 1];
    for (size_t i = 0; i < LEN; i++)
        out[i] = (char)(i % 251);
    size_t sent = 0, got = 0;
    bool shut = false, eof = false;
    int64_t deadline = now_ns() + HANG_NS;
    for (int iter = 0; !eof && now_ns() < deadline; iter++) {
        if (sent < LEN) {
            ssize_t n =
                send(half, out + sent, LEN - sent, MSG_NOSIGNAL | MSG_DONTWAIT);
            if (n > 0)
                sent += (size_t)n;
        } else if (!shut) {
            assert_int_equal(shutdown(half, SHUT_WR),
                             0); /* FIN, still reading */
            shut = true;
        }
        echo_pump(&f->srv, 0);
        ssize_t n = recv(half, in + got, sizeof in - got, MSG_DONTWAIT);
        if (n > 0)
            got += (size_t)n;
        else if (n == 0)
            eof = true; /* the server closed after echoing everything */
        if (iter % 64 == 0)
            round_trip(f, healthy, 10); /* meanwhile, others are served */
    }
    assert_true(shut);
    assert_true(eof);
    assert_int_equal(got, LEN);
    assert_memory_equal(in, out, LEN);
    pump_until_live(f, 1);
    end_checks(f, 1);
    close(half);
    close(healthy);
    no_leak(f);
}

static void stopped_reader_does_not_block_others(void **state)
{
    struct fixture_peers *f = *state;
    int healthy = client(f);
    int stuck = client(f);
    struct echo_conn *c = stuff_until_server_blocks(f, stuck);
    assert_true(c->end - c->start <= ECHO_BUF); /* bounded buffering */

    int64_t worst = 0;
    for (int i = 0; i < stress_scaled(200, 20); i++) {
        int64_t t = round_trip(f, healthy, 1 + (size_t)i * 97 % 8000);
        worst = t > worst ? t : worst;
    }
    printf("stopped reader: worst healthy round trip %.2f ms\n",
           (double)worst / 1e6);
    assert_int_equal(count_blocked(f, NULL), 1); /* still stuck, still open */
    end_checks(f, 2);
    close(stuck);
    close(healthy);
    no_leak(f);
}

/* Edge-triggered: a writer blocked on a reader that does not read gets no
 * event while nothing changes, so the loop does not spin on it.  Once the
 * connection is proven at a standstill, waits report nothing at all. */
static void blocked_writer_gets_no_events(void **state)
{
    struct fixture_peers *f = *state;
    int stuck = client(f);
    int fds[2] = {stuck, stuff_until_server_blocks(f, stuck)->fd};
    pump_until_quiet(f, fds, 2);
    expect_no_events(f);
    assert_int_equal(count_blocked(f, NULL), 1); /* still stuck, still open */
    close(stuck);
    no_leak(f);
}

static void silent_client_does_not_block_others(void **state)
{
    struct fixture_peers *f = *state;
    int silent = client(f);
    int healthy = client(f);
    pump_until_held(f, silent);
    for (int i = 0; i < stress_scaled(100, 10); i++)
        round_trip(f, healthy, 1000);
    end_checks(f, 2); /* the silent one is kept, not dropped */
    /* And it is served the moment it speaks. */
    round_trip(f, silent, 10);
    close(silent);
    close(healthy);
    no_leak(f);
}

/* Once accepted, connections whose clients send nothing give the loop no
 * event: nothing is ready on them, and edge-triggered waits report only
 * changes. */
static void idle_connections_get_no_events(void **state)
{
    struct fixture_peers *f = *state;
    int fds[4];
    fds[0] = client(f);
    fds[1] = client(f);
    fds[2] = pump_until_held(f, fds[0])->fd;
    fds[3] = pump_until_held(f, fds[1])->fd;
    pump_until_quiet(f, fds, 4);
    expect_no_events(f);
    close(fds[0]);
    close(fds[1]);
    no_leak(f);
}

static void resets_before_accept_are_absorbed(void **state)
{
    struct fixture_peers *f = *state;
    int healthy = client(f);
    int n = stress_scaled(200, 20);
    for (int i = 0; i < n; i++) {
        int fd = xpoll_tcp_connect(f->addr);
        assert_true(fd >= 0);
        if (i % 2 == 0)
            send(fd, "data", 4, MSG_NOSIGNAL | MSG_DONTWAIT);
        reset_fd(fd); /* often before the loop accepted it */
        if (i % 16 == 0)
            round_trip(f, healthy, 100);
    }
    round_trip(f, healthy, 100);
    /* Some connections may still be in the backlog, or their reset still
     * on its way: the loop accepts them on the listener's next edge and
     * closes them on their first event.  Pumping a while gives it the
     * chance; nothing below depends on how many it met (echo_fini closes
     * the rest). */
    pump_for(f, 100 * MS);
    pump_until_live(f, 1);
    end_checks(f, 1);
    /* A reset before accept is absorbed (ECONNABORTED is retried inside
     * xpoll_accept) or shows up as an ordinary reset connection. */
    assert_int_equal(f->srv.st.accept_errors, 0);
    close(healthy);
    no_leak(f);
}

static void many_bad_peers_at_once(void **state)
{
    struct fixture_peers *f = *state;
    int healthy = client(f);
    enum { BAD = 64 };
    int bad[BAD];
    for (int i = 0; i < BAD; i++) {
        bad[i] = client(f);
        switch (i % 4) {
        case 0: /* stop reading */
            stuff_until_server_blocks(f, bad[i]);
            break;
        case 1: /* half-close */
            assert_int_equal(shutdown(bad[i], SHUT_WR), 0);
            break;
        case 2:                         /* silent */
            pump_until_held(f, bad[i]); /* counted as live below */
            break;
        default: /* send, then vanish */
            send(bad[i], "abc", 3, MSG_NOSIGNAL);
            reset_fd(bad[i]);
            bad[i] = -1;
            break;
        }
    }
    for (int i = 0; i < 50; i++)
        round_trip(f, healthy, 4000);
    /* The half-closed ones sent nothing: the loop closed them at once. */
    for (int i = 0; i < BAD; i++)
        if (bad[i] >= 0 && i % 4 == 0)
            reset_fd(bad[i]), bad[i] = -1;
    pump_until_live(f, 1 + BAD / 4);
    end_checks(f, 1 + BAD / 4); /* healthy + the silent ones */
    round_trip(f, healthy, 100);
    for (int i = 0; i < BAD; i++)
        if (bad[i] >= 0)
            close(bad[i]);
    close(healthy);
    no_leak(f);
}

#define T(name)                                                                \
    cmocka_unit_test_setup_teardown(name, peers_setup, peers_teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(reset_mid_write_spares_others),
        T(half_close_gets_full_echo),
        T(stopped_reader_does_not_block_others),
        T(blocked_writer_gets_no_events),
        T(silent_client_does_not_block_others),
        T(idle_connections_get_no_events),
        T(resets_before_accept_are_absorbed),
        T(many_bad_peers_at_once),
    };
    return RUN(tests, NULL, NULL);
}
