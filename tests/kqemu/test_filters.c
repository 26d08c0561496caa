/* Fidelity tests t32-t45: EVFILT_READ/EVFILT_WRITE on sockets (FreeBSD
 * sys/kern/uipc_socket.c filt_soread()/filt_sowrite()) and pipes
 * (sys/kern/sys_pipe.c), plus r.. checks of NOTE_LOWAT, regular files and
 * SO_ERROR. */
#include "test_util.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <string.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

/* Each test below first proves, with poll(2) or TCP_INFO, the kernel state
 * it asks kevent() about (t_wait_poll, t_wait_accept_queue, t_tcp_state),
 * then polls the kqueue once: the emulator reads that state when it
 * collects, so the answer does not depend on how long anything took. */

static void add(int kq, int fd, short filter, unsigned short flags)
{
    assert_int_equal(
        t_change(kq, (uintptr_t)fd, filter, EV_ADD | flags, 0, 0, NULL), 0);
}

/* Data is the readable byte count. */
static void socket_read_data(void **state)
{
    (void)state;
    int s[2];
    struct kevent ev[4];
    t_socketpair(s);
    int kq = t_kqueue();
    add(kq, s[0], EVFILT_READ, 0);
    t_write(s[1], 5);
    assert_int_equal(t_poll(kq, ev, 4), 1);
    assert_int_equal(ev[0].data, 5);
    assert_false(ev[0].flags & EV_EOF);
    t_close(kq);
    t_close(s[0]);
    t_close(s[1]);
}

/* AF_UNIX peer close: READ and WRITE both get EV_EOF. */
static void unix_peer_close_eof_both_ways(void **state)
{
    (void)state;
    int s[2];
    struct kevent ev[4];
    t_socketpair(s);
    int kq = t_kqueue();
    add(kq, s[0], EVFILT_READ, 0);
    add(kq, s[0], EVFILT_WRITE, 0);
    t_write(s[1], 2);
    t_close(s[1]);
    int n = t_poll(kq, ev, 4);
    const struct kevent *r = t_find(ev, n, (uintptr_t)s[0], EVFILT_READ);
    const struct kevent *w = t_find(ev, n, (uintptr_t)s[0], EVFILT_WRITE);
    assert_non_null(r);
    assert_non_null(w);
    assert_true(r->flags & EV_EOF);
    assert_int_equal(r->fflags, 0);
    assert_int_equal(r->data, 2);
    assert_true(w->flags & EV_EOF);
    t_close(kq);
    t_close(s[0]);
}

/* TCP FIN then RST; the socket error is cached. */
static void tcp_fin_then_rst(void **state)
{
    (void)state;
    int c, s;
    struct kevent ev[4];
    t_tcp_pair(&c, &s);
    int kq = t_kqueue();
    add(kq, c, EVFILT_READ, 0);
    add(kq, c, EVFILT_WRITE, 0);
    t_close(s);
    t_wait_poll(c, POLLRDHUP); /* the FIN has arrived */
    int n = t_poll(kq, ev, 4);
    const struct kevent *r = t_find(ev, n, (uintptr_t)c, EVFILT_READ);
    assert_non_null(r);
    assert_true(r->flags & EV_EOF);
    assert_int_equal(r->fflags, 0);
    const struct kevent *w = t_find(ev, n, (uintptr_t)c, EVFILT_WRITE);
    assert_non_null(w);
    assert_false(w->flags & EV_EOF);
    /* The closed peer answers new data with an RST (RFC 1122 4.2.2.13;
     * Linux net/ipv4/tcp_input.c tcp_rcv_state_process, and
     * tcp_minisocks.c tcp_timewait_state_process once it is a FIN_WAIT2
     * timewait socket).  tcp_reset() then closes c: POLLHUP, TCP_CLOSE, and
     * the error stays pending in SO_ERROR, which poll(2) does not read. */
    assert_int_equal(write(c, "x", 1), 1);
    t_wait_poll(c, POLLHUP);
    assert_int_equal(t_tcp_state(c), TCP_CLOSE);
    n = t_poll(kq, ev, 4);
    w = t_find(ev, n, (uintptr_t)c, EVFILT_WRITE);
    assert_non_null(w);
    assert_true(w->flags & EV_EOF);
    unsigned int first = w->fflags;
    assert_int_not_equal(first, 0);
    n = t_poll(kq, ev, 4);
    w = t_find(ev, n, (uintptr_t)c, EVFILT_WRITE);
    assert_non_null(w);
    assert_int_equal(w->fflags, first);
    t_close(kq);
    t_close(c);
}

static int connect_nb(uint16_t port)
{
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

/* Listener READ counts the backlog; WRITE never fires,
 * not even when a connection joins the accept queue. */
static void listener_backlog_and_silent_write(void **state)
{
    (void)state;
    uint16_t port;
    struct kevent ev[4];
    int l = t_tcp_listener(&port);
    int kq = t_kqueue();
    add(kq, l, EVFILT_READ, 0);
    int c1 = connect_nb(port), c2 = connect_nb(port);
    t_wait_accept_queue(l, 2); /* both handshakes complete */
    assert_int_equal(t_poll(kq, ev, 4), 1);
    assert_int_equal(ev[0].data, 2);
    int a = accept(l, NULL, NULL);
    assert_true(a >= 0);
    assert_int_equal(t_poll(kq, ev, 4), 1);
    assert_int_equal(ev[0].data, 1);
    assert_int_equal(
        t_change(kq, (uintptr_t)l, EVFILT_READ, EV_DELETE, 0, 0, NULL), 0);
    add(kq, l, EVFILT_WRITE, 0);
    assert_int_equal(t_poll(kq, ev, 4), 0);
    int c3 = connect_nb(port);
    t_wait_accept_queue(l, 2); /* c2 and now c3 */
    assert_int_equal(t_poll(kq, ev, 4), 0);
    t_close(kq);
    t_close(a);
    t_close(c1);
    t_close(c2);
    t_close(c3);
    t_close(l);
}

/* A refused connect: both filters EV_EOF + ECONNREFUSED. */
static void refused_connect_reports_eof_and_error(void **state)
{
    (void)state;
    uint16_t port;
    struct kevent ev[4];
    int l = t_tcp_listener(&port);
    t_close(l); /* nothing listens on port now */
    int c = connect_nb(port);
    int kq = t_kqueue();
    add(kq, c, EVFILT_READ, 0);
    add(kq, c, EVFILT_WRITE, 0);
    t_wait_poll(c, POLLHUP); /* the RST has closed it */
    int n = t_poll(kq, ev, 4);
    const struct kevent *r = t_find(ev, n, (uintptr_t)c, EVFILT_READ);
    assert_non_null(r);
    assert_true(r->flags & EV_EOF);
    assert_int_equal(r->fflags, ECONNREFUSED);
    const struct kevent *w = t_find(ev, n, (uintptr_t)c, EVFILT_WRITE);
    assert_non_null(w);
    assert_true(w->flags & EV_EOF);
    assert_int_equal(w->fflags, ECONNREFUSED);
    t_close(kq);
    t_close(c);
}

/* WRITE stays silent while the handshake is in progress.  With
 * backlog 0 one connection fills the accept queue (sk_acceptq_is_full is
 * sk_ack_backlog > sk_max_ack_backlog), and while it is full Linux drops
 * every SYN (net/ipv4/tcp_input.c, tcp_conn_request), so c2 stays in
 * SYN_SENT, retransmitting, until the queue has room. */
static void connect_in_progress_write_silent(void **state)
{
    (void)state;
    uint16_t port;
    struct kevent ev[4];
    int l = t_tcp_listener(&port);
    assert_int_equal(listen(l, 0), 0);
    int c1 = connect_nb(port);
    t_wait_poll(l, POLLIN); /* c1 is in the accept queue: it is full */
    int c2 = connect_nb(port);
    int kq = t_kqueue();
    add(kq, c2, EVFILT_WRITE, 0);
    assert_int_equal(t_tcp_state(c2), TCP_SYN_SENT);
    assert_int_equal(t_wait_ms(kq, ev, 4, 100), 0);
    assert_int_equal(t_tcp_state(c2), TCP_SYN_SENT); /* all along */
    int a = accept(l, NULL, NULL);
    assert_true(a >= 0);
    t_wait_poll(c2, POLLOUT); /* a retransmitted SYN got through */
    int n = t_poll(kq, ev, 4);
    const struct kevent *w = t_find(ev, n, (uintptr_t)c2, EVFILT_WRITE);
    assert_non_null(w);
    assert_true(w->data > 0);
    assert_false(w->flags & EV_EOF);
    t_close(kq);
    t_close(a);
    t_close(c1);
    t_close(c2);
    t_close(l);
}

/* Local shutdown: SHUT_WR ends writes, SHUT_RD reads. */
static void shutdown_directions(void **state)
{
    (void)state;
    int s[2];
    struct kevent ev[4];
    t_socketpair(s);
    int kq = t_kqueue();
    add(kq, s[0], EVFILT_WRITE, EV_CLEAR);
    add(kq, s[0], EVFILT_READ, 0);
    add(kq, s[1], EVFILT_READ, 0);
    int n = t_poll(kq, ev, 4); /* consume the initial WRITE edge */
    assert_int_equal(n, 1);
    assert_false(ev[0].flags & EV_EOF);
    assert_int_equal(shutdown(s[0], SHUT_WR), 0);
    n = t_poll(kq, ev, 4);
    const struct kevent *w = t_find(ev, n, (uintptr_t)s[0], EVFILT_WRITE);
    const struct kevent *r1 = t_find(ev, n, (uintptr_t)s[1], EVFILT_READ);
    assert_non_null(w);
    assert_true(w->flags & EV_EOF);
    assert_non_null(r1);
    assert_true(r1->flags & EV_EOF);
    assert_null(t_find(ev, n, (uintptr_t)s[0], EVFILT_READ));
    assert_int_equal(shutdown(s[0], SHUT_RD), 0);
    n = t_poll(kq, ev, 4);
    const struct kevent *r0 = t_find(ev, n, (uintptr_t)s[0], EVFILT_READ);
    assert_non_null(r0);
    assert_true(r0->flags & EV_EOF);
    t_close(kq);
    t_close(s[0]);
    t_close(s[1]);
}

/* A UDP socket watched for READ by a new kqueue, silent until it sends
 * itself `len` bytes; returns once the datagram is queued. */
static void udp_send_to_self(const char *msg, size_t len, int *u, int *kq)
{
    struct kevent ev[4];
    struct sockaddr_in a;
    *u = t_loopback_socket(SOCK_DGRAM, &a);
    *kq = t_kqueue();
    add(*kq, *u, EVFILT_READ, 0);
    assert_int_equal(t_poll(*kq, ev, 4), 0);
    assert_int_equal(sendto(*u, msg, len, 0, (struct sockaddr *)&a, sizeof a),
                     (ssize_t)len);
    t_wait_poll(*u, POLLIN); /* the datagram is queued */
}

/* A UDP datagram makes READ fire with data > 0; the sum
 * over several datagrams is a documented difference and not asserted. */
static void udp_datagram_fires_read(void **state)
{
    (void)state;
    struct kevent ev[4];
    int u, kq;
    udp_send_to_self("hello", 5, &u, &kq);
    int n = t_poll(kq, ev, 4);
    const struct kevent *r = t_find(ev, n, (uintptr_t)u, EVFILT_READ);
    assert_non_null(r);
    assert_true(r->data > 0);
    assert_false(r->flags & EV_EOF);
    t_close(kq);
    t_close(u);
}

/* An empty UDP datagram fires READ with data 0 on both kernels: FreeBSD's
 * filt_soread (sys/kern/uipc_socket.c) counts the queued sender address in
 * sbavail(), xnu's filt_soread_common (bsd/kern/uipc_socket.c) wakes for
 * "0-sized packets" on purpose. */
static void udp_empty_datagram_fires_read(void **state)
{
    (void)state;
    struct kevent ev[4];
    int u, kq;
    udp_send_to_self("", 0, &u, &kq);
    assert_int_equal(t_poll(kq, ev, 4), 1);
    assert_int_equal(ev[0].ident, (uintptr_t)u);
    assert_int_equal(ev[0].filter, EVFILT_READ);
    assert_int_equal(ev[0].data, 0);
    assert_false(ev[0].flags & EV_EOF);
    assert_int_equal(ev[0].fflags, 0);
    assert_int_equal(t_poll(kq, ev, 4), 1); /* level: still queued */
    char byte;
    assert_int_equal(recv(u, &byte, sizeof byte, 0), 0);
    assert_int_equal(t_poll(kq, ev, 4), 0); /* consumed: quiet again */
    t_close(kq);
    t_close(u);
}

/* A peer's FIN reaches BSD's socket layer as socantrcvmore(), whose
 * sorwakeup() activates only the receive buffer's knotes (FreeBSD
 * sys/kern/uipc_sockbuf.c socantrcvmore_locked, xnu
 * bsd/kern/uipc_socket2.c socantrcvmore): an edge WRITE knote that has
 * reported stays quiet, the READ knote gets EV_EOF. */
static void tcp_peer_fin_wakes_read_only(void **state)
{
    (void)state;
    int c, s;
    struct kevent ev[4];
    t_tcp_pair(&c, &s);
    int kq = t_kqueue();
    add(kq, c, EVFILT_WRITE, EV_CLEAR);
    add(kq, c, EVFILT_READ, EV_CLEAR);
    t_wait_poll(c, POLLOUT);
    assert_int_equal(t_poll(kq, ev, 4), 1); /* the initial WRITE edge */
    assert_int_equal(ev[0].filter, EVFILT_WRITE);
    assert_int_equal(t_poll(kq, ev, 4), 0);
    assert_int_equal(shutdown(s, SHUT_WR), 0);
    t_wait_poll(c, POLLRDHUP); /* the FIN has arrived */
    int n = t_poll(kq, ev, 4);
    assert_int_equal(n, 1);
    assert_int_equal(ev[0].filter, EVFILT_READ);
    assert_true(ev[0].flags & EV_EOF);
    assert_int_equal(ev[0].fflags, 0);
    assert_int_equal(t_poll(kq, ev, 4), 0);
    /* The WRITE knote is still there and reports again when re-added. */
    add(kq, c, EVFILT_WRITE, EV_CLEAR);
    n = t_poll(kq, ev, 4);
    const struct kevent *w = t_find(ev, n, (uintptr_t)c, EVFILT_WRITE);
    assert_non_null(w);
    assert_false(w->flags & EV_EOF);
    t_close(kq);
    t_close(c);
    t_close(s);
}

/* The FIN may come with the acknowledgement of data the WRITE knote waits
 * on (the peer reads everything, then shuts down): the acknowledgement is
 * a send-side wakeup on BSD (sowwakeup from tcp_input), so WRITE fires. */
static void tcp_fin_with_ack_fires_write(void **state)
{
    (void)state;
    int c, s;
    struct kevent ev[4];
    static char chunk[65536];
    t_tcp_pair(&c, &s);
    int kq = t_kqueue();
    add(kq, c, EVFILT_WRITE, EV_CLEAR);
    t_wait_poll(c, POLLOUT);
    assert_int_equal(t_poll(kq, ev, 4), 1); /* the initial WRITE edge */
    size_t sent = 0, got = 0;
    ssize_t k;
    while ((k = write(c, chunk, sizeof chunk)) > 0)
        sent += (size_t)k;
    assert_int_equal(errno, EAGAIN);
    /* No kevent() on kq until the FIN is in: drain, then shut down. */
    while (got < sent) {
        t_wait_poll(s, POLLIN);
        while ((k = read(s, chunk, sizeof chunk)) > 0)
            got += (size_t)k;
    }
    assert_int_equal(got, sent);
    assert_int_equal(shutdown(s, SHUT_WR), 0);
    t_wait_poll(c, POLLRDHUP); /* FIN in, so every byte is acknowledged */
    assert_int_equal(t_poll(kq, ev, 4), 1);
    assert_int_equal(ev[0].filter, EVFILT_WRITE);
    assert_false(ev[0].flags & EV_EOF);
    assert_true(ev[0].data > 0);
    t_close(kq);
    t_close(c);
    t_close(s);
}

/* Deviation: AF_UNIX stream.  BSD's unp_shutdown() (FreeBSD
 * sys/kern/uipc_usrreq.c, xnu bsd/kern/uipc_usrreq.c) gives the peer only
 * socantrcvmore(); Linux's unix_shutdown() wakes every waiter on the peer
 * (sk_state_change), and without a counter of bytes the peer has read,
 * nothing tells that wakeup from a send-side one.  So an edge WRITE knote
 * reports once more.  Pinned here and listed in README.md. */
static void unix_peer_shutdown_write_deviation(void **state)
{
    (void)state;
    int s[2];
    struct kevent ev[4];
    t_socketpair(s);
    int kq = t_kqueue();
    add(kq, s[0], EVFILT_WRITE, EV_CLEAR);
    assert_int_equal(t_poll(kq, ev, 4), 1); /* the initial WRITE edge */
    assert_int_equal(t_poll(kq, ev, 4), 0);
    assert_int_equal(shutdown(s[1], SHUT_WR), 0);
    assert_int_equal(t_poll(kq, ev, 4), 1);
    assert_int_equal(ev[0].filter, EVFILT_WRITE);
    assert_false(ev[0].flags & EV_EOF);
    assert_int_equal(t_poll(kq, ev, 4), 0);
    t_close(kq);
    t_close(s[0]);
    t_close(s[1]);
}

/* EV_EOF stays on a level READ knote once reported. */
static void eof_is_sticky(void **state)
{
    (void)state;
    int s[2];
    struct kevent ev[4];
    t_socketpair(s);
    int kq = t_kqueue();
    add(kq, s[0], EVFILT_READ, 0);
    t_write(s[1], 1);
    t_close(s[1]);
    assert_int_equal(t_poll(kq, ev, 4), 1);
    assert_true(ev[0].flags & EV_EOF);
    assert_int_equal(ev[0].data, 1);
    t_read(s[0], 1);
    for (int i = 0; i < 3; i++) {
        assert_int_equal(t_poll(kq, ev, 4), 1);
        assert_true(ev[0].flags & EV_EOF);
        assert_int_equal(ev[0].data, 0);
    }
    t_close(kq);
    t_close(s[0]);
}

/* Pipe READ data; EOF keeps the unread count. */
static void pipe_read_then_writer_close(void **state)
{
    (void)state;
    int p[2];
    struct kevent ev[4];
    t_pipe(p);
    int kq = t_kqueue();
    add(kq, p[0], EVFILT_READ, 0);
    t_write(p[1], 4);
    assert_int_equal(t_poll(kq, ev, 4), 1);
    assert_int_equal(ev[0].data, 4);
    assert_false(ev[0].flags & EV_EOF);
    t_close(p[1]);
    assert_int_equal(t_poll(kq, ev, 4), 1);
    assert_true(ev[0].flags & EV_EOF);
    assert_int_equal(ev[0].fflags, 0);
    assert_int_equal(ev[0].data, 4);
    t_close(kq);
    t_close(p[0]);
}

/* Edge WRITE on a pipe: silent when full, fires on drain. */
static void pipe_write_edge(void **state)
{
    (void)state;
    int p[2];
    struct kevent ev[4];
    static char chunk[4096];
    t_pipe(p);
    int kq = t_kqueue();
    add(kq, p[1], EVFILT_WRITE, EV_CLEAR);
    assert_int_equal(t_poll(kq, ev, 4), 1);
    assert_true(ev[0].data >= 512);
    while (write(p[1], chunk, sizeof chunk) > 0) {
    }
    assert_int_equal(errno, EAGAIN);
    assert_int_equal(t_poll(kq, ev, 4), 0);
    while (read(p[0], chunk, sizeof chunk) > 0) {
    }
    assert_int_equal(t_poll(kq, ev, 4), 1);
    assert_true(ev[0].data >= 512);
    assert_int_equal(t_poll(kq, ev, 4), 0);
    t_close(kq);
    t_close(p[0]);
    t_close(p[1]);
}

/* WRITE on a pipe whose reader is gone. */
static void pipe_write_reader_gone(void **state)
{
    (void)state;
    int p[2];
    struct kevent ev[4];
    t_pipe(p);
    t_close(p[0]);
    int kq = t_kqueue();
    int err = t_change(kq, (uintptr_t)p[1], EVFILT_WRITE, EV_ADD, 0, 0, NULL);
    if (IS_DARWIN) {
        assert_int_equal(err, 0);
        assert_int_equal(t_poll(kq, ev, 4), 1);
        assert_true(ev[0].flags & EV_EOF);
        assert_int_equal(ev[0].data, 0);
    } else {
        assert_int_equal(err, EPIPE);
        assert_int_equal(t_poll(kq, ev, 4), 0);
    }
    t_close(kq);
    t_close(p[1]);
}

/* The legacy knob (mio #582): old macOS says EPIPE yet attaches. */
static void legacy_macos_epipe_knob(void **state)
{
    (void)state;
    int p[2];
    struct kevent ev[4];
    t_pipe(p);
    t_close(p[0]);
    int kq = t_kqueue();
    kqemu_set_macos_legacy_pipe_epipe(1);
    int err = t_change(kq, (uintptr_t)p[1], EVFILT_WRITE, EV_ADD, 0, 0, NULL);
    kqemu_set_macos_legacy_pipe_epipe(0);
    assert_int_equal(err, EPIPE);
    int n = t_poll(kq, ev, 4);
    if (IS_DARWIN) {
        assert_int_equal(n, 1); /* attached anyway */
        assert_true(ev[0].flags & EV_EOF);
    } else {
        assert_int_equal(n, 0); /* FreeBSD: nothing attached */
    }
    t_close(kq);
    t_close(p[1]);
}

/* The reader closing later: WRITE EV_EOF with data 0. */
static void pipe_reader_closes_later(void **state)
{
    (void)state;
    int p[2];
    struct kevent ev[4];
    t_pipe(p);
    int kq = t_kqueue();
    add(kq, p[1], EVFILT_WRITE, EV_CLEAR);
    assert_int_equal(t_poll(kq, ev, 4), 1);
    assert_false(ev[0].flags & EV_EOF);
    t_close(p[0]);
    assert_int_equal(t_poll(kq, ev, 4), 1);
    assert_true(ev[0].flags & EV_EOF);
    assert_int_equal(ev[0].data, 0);
    t_close(kq);
    t_close(p[1]);
}

/* READ on a pipe's write end: FreeBSD never, macOS only at EOF. */
static void pipe_wrong_direction(void **state)
{
    (void)state;
    int p[2];
    struct kevent ev[4];
    t_pipe(p);
    int kq = t_kqueue();
    add(kq, p[1], EVFILT_READ, 0);
    t_write(p[1], 3);
    assert_int_equal(t_poll(kq, ev, 4), 0);
    t_close(p[0]);
    int n = t_poll(kq, ev, 4);
    if (IS_DARWIN) {
        assert_int_equal(n, 1);
        assert_int_equal(ev[0].ident, (uintptr_t)p[1]);
        assert_true(ev[0].flags & EV_EOF);
    } else {
        assert_int_equal(n, 0);
        assert_true(t_delete_ok(kq, (uintptr_t)p[1], EVFILT_READ));
    }
    t_close(kq);
    t_close(p[1]);
}

/* NOTE_LOWAT holds a level READ knote back until the threshold;
 * meanwhile epoll says readable, and a blocked kevent() must still sleep
 * (not spin on the readable socket) until the threshold is met. */
static void note_lowat_read(void **state)
{
    (void)state;
    int s[2];
    struct kevent ev[4];
    struct t_waiter w;
    struct t_blocked b;
    t_socketpair(s);
    int kq = t_kqueue();
    assert_int_equal(
        t_change(kq, (uintptr_t)s[0], EVFILT_READ, EV_ADD, NOTE_LOWAT, 3, NULL),
        0);
    t_write(s[1], 2);
    t_wait_poll(s[0], POLLIN);
    assert_int_equal(t_poll(kq, ev, 4), 0);
    t_waiter_start(&w, kq, NULL);
    /* Seen asleep in the kernel's wait while the socket is readable: a
     * kevent() that spun would never be. */
    assert_int_equal(t_wait_blocked(w.tid, &b), 0);
    assert_true(t_blocked_forever(&b));
    t_write(s[1], 1);
    t_waiter_join(&w);
    assert_int_equal(w.n, 1);
    assert_int_equal(w.ev[0].ident, (uintptr_t)s[0]);
    assert_int_equal(w.ev[0].data, 3);
    assert_int_equal(t_poll(kq, ev, 4), 1); /* level again once reported */
    assert_int_equal(ev[0].data, 3);
    t_close(kq);
    t_close(s[0]);
    t_close(s[1]);
}

/* A level pipe WRITE knote needs PIPE_BUF (512) bytes of space. */
static void pipe_write_lowat(void **state)
{
    (void)state;
    int p[2];
    struct kevent ev[4];
    static char chunk[65536];
    t_pipe(p);
    int kq = t_kqueue();
    assert_int_equal(
        t_change(kq, (uintptr_t)p[1], EVFILT_WRITE, EV_ADD, 0, 0, NULL), 0);
    while (write(p[1], chunk, sizeof chunk) > 0) {
    }
    assert_int_equal(t_poll(kq, ev, 4), 0);
    /* Free one page: Linux reports EPOLLOUT, but 4096 >= 512 so it fires. */
    assert_int_equal(read(p[0], chunk, 4096), 4096);
    assert_int_equal(t_poll(kq, ev, 4), 1);
    assert_true(ev[0].data >= 512);
    t_close(kq);
    t_close(p[0]);
    t_close(p[1]);
}

/* Regular files are synthesized: data = size - offset (README.md,
 * "Regular files"). */
static void regular_file_read(void **state)
{
    (void)state;
    struct kevent ev[4];
    char path[] = "/tmp/kqemu-fileXXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    unlink(path);
    t_write(fd, 10);
    assert_int_equal(lseek(fd, 4, SEEK_SET), 4);
    int kq = t_kqueue();
    assert_int_equal(
        t_change(kq, (uintptr_t)fd, EVFILT_READ, EV_ADD, 0, 0, NULL), 0);
    assert_int_equal(t_poll(kq, ev, 4), 1);
    assert_int_equal(ev[0].data, 6);
    assert_int_equal(lseek(fd, 0, SEEK_END), 10);
    assert_int_equal(t_poll(kq, ev, 4), 0);
    assert_int_equal(
        t_change(kq, (uintptr_t)fd, EVFILT_WRITE, EV_ADD, 0, 0, NULL),
        EINVAL); /* documented deviation */
    t_close(kq);
    t_close(fd);
}

/* Reporting the error in fflags must not consume it: the code
 * under test still reads it with getsockopt(SO_ERROR), once, as on BSD;
 * after that the socket reports EOF with fflags 0. */
static void so_error_still_readable_after_report(void **state)
{
    (void)state;
    uint16_t port;
    struct kevent ev[4];
    int l = t_tcp_listener(&port);
    t_close(l);
    int c = connect_nb(port);
    int kq = t_kqueue();
    add(kq, c, EVFILT_READ, 0);
    t_wait_poll(c, POLLHUP); /* the RST has closed it */
    assert_int_equal(t_poll(kq, ev, 4), 1);
    assert_int_equal(ev[0].ident, (uintptr_t)c);
    assert_int_equal(ev[0].filter, EVFILT_READ);
    assert_int_equal(ev[0].fflags, ECONNREFUSED);
    int err = -1;
    socklen_t len = sizeof err;
    assert_int_equal(getsockopt(c, SOL_SOCKET, SO_ERROR, &err, &len), 0);
    assert_int_equal(err, ECONNREFUSED);
    assert_int_equal(getsockopt(c, SOL_SOCKET, SO_ERROR, &err, &len), 0);
    assert_int_equal(err, 0);
    assert_int_equal(t_poll(kq, ev, 4), 1);
    assert_true(ev[0].flags & EV_EOF);
    assert_int_equal(ev[0].fflags, 0);
    t_close(kq);
    t_close(c);
}

int kqt_run_filters(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(socket_read_data),
        cmocka_unit_test(unix_peer_close_eof_both_ways),
        cmocka_unit_test(tcp_fin_then_rst),
        cmocka_unit_test(listener_backlog_and_silent_write),
        cmocka_unit_test(refused_connect_reports_eof_and_error),
        cmocka_unit_test(connect_in_progress_write_silent),
        cmocka_unit_test(shutdown_directions),
        cmocka_unit_test(udp_datagram_fires_read),
        cmocka_unit_test(udp_empty_datagram_fires_read),
        cmocka_unit_test(tcp_peer_fin_wakes_read_only),
        cmocka_unit_test(tcp_fin_with_ack_fires_write),
        cmocka_unit_test(unix_peer_shutdown_write_deviation),
        cmocka_unit_test(eof_is_sticky),
        cmocka_unit_test(pipe_read_then_writer_close),
        cmocka_unit_test(pipe_write_edge),
        cmocka_unit_test(pipe_write_reader_gone),
        cmocka_unit_test(legacy_macos_epipe_knob),
        cmocka_unit_test(pipe_reader_closes_later),
        cmocka_unit_test(pipe_wrong_direction),
        cmocka_unit_test(note_lowat_read),
        cmocka_unit_test(so_error_still_readable_after_report),
        cmocka_unit_test(pipe_write_lowat),
        cmocka_unit_test(regular_file_read),
    };
    return cmocka_run_group_tests_name("kqemu: sockets and pipes", tests, NULL,
                                       NULL);
}
