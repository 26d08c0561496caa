/*
 * fd filters of the kqueue emulator: EVFILT_READ/EVFILT_WRITE on sockets,
 * pipes, FIFOs, regular files and emulated kqueues, translated from epoll.
 * FB is FreeBSD's sys/kern/uipc_socket.c and sys/kern/sys_pipe.c filters,
 * MAC xnu's; README.md lists which values are only approximate.
 *
 * Each fd knote is one registration in its filter's nested epoll set
 * (READ set or WRITE set), so the two directions never see each other's
 * edges (LNX).  EV_CLEAR becomes EPOLLET.  ONESHOT and DISPATCH knotes
 * are removed from the set as soon as their event is copied out, under the
 * lock, so EPOLLONESHOT is not needed.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "kqemu_int.h"

/* FB and xnu use PIPE_BUF as the pipe write low-water mark. */
#define KQEMU_PIPE_LOWAT  512
#define KQEMU_EPOLL_BATCH 64

/* Files shared by several knotes (sockets only), see struct kqemu_file. */
static struct kqemu_file *g_files;

/* ---- object classification ------------------------------------------------
 */

static int sockopt_int(int fd, int level, int name)
{
    int v = 0;
    socklen_t len = sizeof v;
    if (kqemu__raw_getsockopt(fd, level, name, &v, &len) != 0)
        return -1;
    return v;
}

static enum kqemu_obj classify_socket(int fd)
{
    int domain = sockopt_int(fd, SOL_SOCKET, SO_DOMAIN);
    int type = sockopt_int(fd, SOL_SOCKET, SO_TYPE);
    bool inet = domain == AF_INET || domain == AF_INET6;
    if (inet && type == SOCK_STREAM)
        return KQEMU_OBJ_TCP;
    if (inet && type == SOCK_DGRAM)
        return KQEMU_OBJ_UDP;
    if (domain == AF_UNIX && type == SOCK_STREAM)
        return KQEMU_OBJ_UNIX_STREAM;
    return KQEMU_OBJ_SOCKET;
}

static enum kqemu_obj classify(int fd, const struct stat *st)
{
    if (S_ISSOCK(st->st_mode))
        return classify_socket(fd);
    if (S_ISFIFO(st->st_mode)) {
        switch (fcntl(fd, F_GETFL) & O_ACCMODE) {
        case O_RDONLY:
            return KQEMU_OBJ_PIPE_READ;
        case O_WRONLY:
            return KQEMU_OBJ_PIPE_WRITE;
        default:
            return KQEMU_OBJ_PIPE_RDWR;
        }
    }
    if (S_ISREG(st->st_mode))
        return KQEMU_OBJ_REGULAR;
    return KQEMU_OBJ_OTHER;
}

static bool is_socket(enum kqemu_obj t)
{
    return t == KQEMU_OBJ_TCP || t == KQEMU_OBJ_UDP ||
           t == KQEMU_OBJ_UNIX_STREAM || t == KQEMU_OBJ_SOCKET;
}

static struct kqemu_file *file_get(const struct stat *st, enum kqemu_obj t)
{
    if (is_socket(t)) {
        for (struct kqemu_file *f = g_files; f; f = f->next) {
            if (f->dev == st->st_dev && f->ino == st->st_ino && f->type == t) {
                f->refs++;
                return f;
            }
        }
    }
    struct kqemu_file *f = calloc(1, sizeof *f);
    if (!f)
        return NULL;
    f->refs = 1;
    f->dev = st->st_dev;
    f->ino = st->st_ino;
    f->type = t;
    if (is_socket(t)) {
        f->next = g_files;
        g_files = f;
    }
    return f;
}

void kqemu__file_unref(struct kqemu_file *f)
{
    if (!f || --f->refs > 0)
        return;
    for (struct kqemu_file **pp = &g_files; *pp; pp = &(*pp)->next) {
        if (*pp == f) {
            *pp = f->next;
            break;
        }
    }
    free(f);
}

/* ---- attach / detach
 * --------------------------------------------------------- */

/* Has the other end of this pipe gone away? */
static bool pipe_peer_gone(int fd, short filter)
{
    struct pollfd p = {.fd = fd,
                       .events = filter == EVFILT_WRITE ? POLLOUT : POLLIN};
    if (poll(&p, 1, 0) < 0)
        return false;
    return filter == EVFILT_WRITE ? (p.revents & POLLERR) != 0
                                  : (p.revents & POLLHUP) != 0;
}

static int attach_pipe(struct kqemu_knote *kn, enum kqemu_obj t, int *late_err)
{
    int fd = (int)kn->ident;
    bool wrong_way = (t == KQEMU_OBJ_PIPE_READ && kn->filter == EVFILT_WRITE) ||
                     (t == KQEMU_OBJ_PIPE_WRITE && kn->filter == EVFILT_READ);
    if (wrong_way) {
        /* FB attaches a null filter, xnu a "neutered" one (EOF only). */
        if (kqemu__p.wrong_direction_neutered) {
            kn->kind = KQEMU_KN_POLLED;
            kn->neutered = true;
        } else {
            kn->kind = KQEMU_KN_NULL;
        }
        return 0;
    }
    kn->kind = KQEMU_KN_POLLED;
    if (t == KQEMU_OBJ_PIPE_RDWR || !pipe_peer_gone(fd, kn->filter))
        return 0;
    if (kn->filter == EVFILT_WRITE && kqemu__p.pipe_write_closed_epipe)
        return EPIPE; /* FB pipe_kqfilter(); nothing attached */
    if (kqemu__legacy_pipe_epipe())
        *late_err = EPIPE; /* old macOS: attached, yet EPIPE (mio #582) */
    return 0;
}

/* An emulated kqueue watched from another one. */
static int attach_kqueue(struct kqemu_kq *kq, struct kqemu_knote *kn,
                         struct kqemu_kq *inner)
{
    if (kn->filter != EVFILT_READ || inner == kq)
        return EINVAL; /* kqueue_kqfilter; self-registration */
    if (kq->nparents > 0 || inner->nchildren > 0) {
        /* top + 2 sets per level: a third level would need 6 nested epolls
         * and Linux stops at 5 (EP_MAX_NESTS, fs/eventpoll.c).  BSD has no
         * such limit. */
        kqemu__diag("kqueue nested three levels deep is not emulated; change "
                    "rejected with EINVAL");
        return EINVAL;
    }
    kn->kind = KQEMU_KN_POLLED;
    kn->inner_id = inner->id;
    kq->nchildren++;
    inner->nparents++;
    return 0;
}

int kqemu__fd_attach(struct kqemu_kq *kq, struct kqemu_knote *kn, int *late_err)
{
    int fd = (int)kn->ident;
    struct stat st;
    if (fstat(fd, &st) != 0)
        return EBADF;
    enum kqemu_obj t = classify(fd, &st);
    struct kqemu_kq *inner = NULL;
    if (t == KQEMU_OBJ_OTHER && (inner = kqemu__kq_resolve(fd)) != NULL)
        t = KQEMU_OBJ_KQUEUE;

    int err = 0;
    switch (t) {
    case KQEMU_OBJ_KQUEUE:
        err = attach_kqueue(kq, kn, inner);
        break;
    case KQEMU_OBJ_REGULAR:
        if (kn->filter == EVFILT_WRITE) {
            kqemu__diag(
                "EVFILT_WRITE on a regular file is not emulated; change "
                "rejected with EINVAL");
            return EINVAL;
        }
        kn->kind = KQEMU_KN_SYNTH; /* epoll refuses regular files (EPERM) */
        kq->nsynth++;
        break;
    case KQEMU_OBJ_PIPE_READ:
    case KQEMU_OBJ_PIPE_WRITE:
    case KQEMU_OBJ_PIPE_RDWR:
        err = attach_pipe(kn, t, late_err);
        break;
    default:
        kn->kind = KQEMU_KN_POLLED;
        break;
    }
    if (err)
        return err;
    kn->file = file_get(&st, t);
    if (!kn->file) {
        kqemu__fd_detach(kq, kn);
        return ENOMEM;
    }
    kqemu__note_fd(fd);
    return 0;
}

void kqemu__fd_detach(struct kqemu_kq *kq, struct kqemu_knote *kn)
{
    if (kn->kind == KQEMU_KN_SYNTH)
        kq->nsynth--;
    if (kn->inner_id) {
        struct kqemu_kq *inner = kqemu__kq_by_id(kn->inner_id);
        if (inner)
            inner->nparents--;
        kq->nchildren--;
        kn->inner_id = 0;
    }
    kqemu__file_unref(kn->file);
    kn->file = NULL;
}

bool kqemu__fd_stale(const struct kqemu_knote *kn)
{
    struct stat st;
    if (kn->kind == KQEMU_KN_USER || !kn->file)
        return false;
    if (kn->ident > INT_MAX || fstat((int)kn->ident, &st) != 0)
        return true;
    return st.st_dev != kn->file->dev || st.st_ino != kn->file->ino;
}

/* ---- epoll sets
 * ---------------------------------------------------------------- */

static int *set_slot(struct kqemu_kq *kq, short filter)
{
    return filter == EVFILT_READ ? &kq->rset : &kq->wset;
}

static uint32_t mask_of(const struct kqemu_knote *kn)
{
    uint32_t m = kn->filter == EVFILT_READ ? (EPOLLIN | EPOLLRDHUP) : EPOLLOUT;
    if ((kn->mode & EV_CLEAR) || kn->parked)
        m |= EPOLLET;
    return m;
}

/*
 * Replace a set with a fresh one holding only the live registrations.
 * Needed when an item can no longer be named: its fd number was closed
 * behind our back while a dup keeps the file, so epoll would go on
 * reporting a knote that BSD has dropped.
 */
static void rebuild_set(struct kqemu_kq *kq, short filter)
{
    int *slot = set_slot(kq, filter);
    int fresh = epoll_create1(EPOLL_CLOEXEC);
    if (fresh < 0)
        return;
    for (size_t b = 0; b < KQEMU_BUCKETS; b++) {
        for (struct kqemu_knote *kn = kq->bucket[b]; kn; kn = kn->hnext) {
            if (kn->filter != filter || kn->kind != KQEMU_KN_POLLED ||
                !kn->in_set)
                continue;
            struct epoll_event ev = {.events = mask_of(kn), .data.ptr = kn};
            if (epoll_ctl(fresh, EPOLL_CTL_ADD, (int)kn->ident, &ev) != 0)
                kn->in_set = false;
        }
    }
    struct epoll_event ev = {.events = EPOLLIN};
    epoll_ctl(kq->top, EPOLL_CTL_ADD, fresh, &ev);
    epoll_ctl(kq->top, EPOLL_CTL_DEL, *slot, NULL);
    kqemu__raw_close(*slot);
    *slot = fresh;
}

static int arm_error(int err)
{
    if (err == EPERM) {
        kqemu__diag(
            "fd kind not pollable by epoll; change rejected with EINVAL");
        return EINVAL;
    }
    if (err == ELOOP) {
        kqemu__diag("epoll nesting limit reached; change rejected with EINVAL");
        return EINVAL;
    }
    return err;
}

/* Register (or re-register) an enabled fd knote; either way epoll polls
 * the fd at once and queues it if ready, as the kernels run the filter on
 * registration and on a modify. */
int kqemu__fd_arm(struct kqemu_kq *kq, struct kqemu_knote *kn)
{
    struct epoll_event ev = {.events = mask_of(kn), .data.ptr = kn};
    if (kn->kind != KQEMU_KN_POLLED)
        return 0;
    /* Arming re-evaluates the filter, as BSD's EV_ADD does: nothing seen
     * before it can hold the next event back (tcp_fin_only). */
    kn->tcp_seen = false;
    if (kn->in_set) {
        if (epoll_ctl(*set_slot(kq, kn->filter), EPOLL_CTL_MOD, (int)kn->ident,
                      &ev) == 0)
            return 0;
        if (errno != ENOENT)
            return errno;
        /* LNX: MOD gives ENOENT when the number names another file now. */
        kn->in_set = false;
        rebuild_set(kq, kn->filter);
    }
    if (epoll_ctl(*set_slot(kq, kn->filter), EPOLL_CTL_ADD, (int)kn->ident,
                  &ev) != 0)
        return arm_error(errno);
    kn->in_set = true;
    return 0;
}

/* Disable: a mask-0 MOD would still leak HUP/ERR, so delete. */
int kqemu__fd_disarm(struct kqemu_kq *kq, struct kqemu_knote *kn)
{
    if (kn->kind != KQEMU_KN_POLLED || !kn->in_set)
        return 0;
    kn->in_set = false;
    kn->parked = false;
    if (epoll_ctl(*set_slot(kq, kn->filter), EPOLL_CTL_DEL, (int)kn->ident,
                  NULL) != 0)
        rebuild_set(kq, kn->filter);
    return 0;
}

/* ---- readiness translation
 * --------------------------------------------------- */

struct readiness {
    bool eof;
    int64_t data;
    unsigned int fflags;
};

static int64_t ioctl_int(int fd, unsigned long req)
{
    int v = 0;
    if (ioctl(fd, req, &v) != 0)
        return -1;
    return v;
}

static bool tcp_info_of(int fd, struct tcp_info *ti)
{
    socklen_t len = sizeof *ti;
    memset(ti, 0, sizeof *ti);
    return kqemu__raw_getsockopt(fd, IPPROTO_TCP, TCP_INFO, ti, &len) == 0;
}

/*
 * Linux clears SO_ERROR when it is read, BSD does not when it reports
 * it in fflags (filt_soread() copies so_error).  So the emulator reads it
 * once, only when EPOLLERR says there is one, keeps it for later reports,
 * and hands it to the
 * first getsockopt(SO_ERROR) of the code under test, which on BSD would
 * still find it there (and clear it).
 */
#define KQEMU_STOLEN_MAX 64
static struct {
    dev_t dev;
    ino_t ino;
    int err;
} g_stolen[KQEMU_STOLEN_MAX];
static size_t g_nstolen_next;

static void stolen_add(const struct kqemu_file *f, int err)
{
    /* A bounded ring: an error nobody ever asks for is eventually dropped. */
    size_t i = g_nstolen_next++ % KQEMU_STOLEN_MAX;
    g_stolen[i].dev = f->dev;
    g_stolen[i].ino = f->ino;
    g_stolen[i].err = err;
}

bool kqemu__take_so_error(int fd, int *err)
{
    struct stat st;
    if (fstat(fd, &st) != 0)
        return false;
    for (size_t i = 0; i < KQEMU_STOLEN_MAX; i++) {
        if (g_stolen[i].err != 0 && g_stolen[i].dev == st.st_dev &&
            g_stolen[i].ino == st.st_ino) {
            *err = g_stolen[i].err;
            g_stolen[i].err = 0;
            /* BSD's getsockopt(SO_ERROR) clears so_error: later reports of
             * this socket carry fflags 0 unless a new error arrives. */
            for (struct kqemu_file *f = g_files; f; f = f->next)
                if (f->dev == st.st_dev && f->ino == st.st_ino)
                    f->so_error = 0;
            return true;
        }
    }
    return false;
}

static unsigned int so_error(struct kqemu_file *f, int fd, uint32_t rev)
{
    if (f->so_error == 0 && (rev & EPOLLERR)) {
        int e = sockopt_int(fd, SOL_SOCKET, SO_ERROR);
        if (e > 0) {
            f->so_error = e;
            stolen_add(f, e);
        }
    }
    return (unsigned int)f->so_error;
}

static int64_t lowat_of(const struct kqemu_knote *kn, int64_t dflt)
{
    return (kn->sfflags & NOTE_LOWAT) ? kn->sdata : dflt;
}

static bool is_listening(int fd, enum kqemu_obj t)
{
    if (t != KQEMU_OBJ_TCP && t != KQEMU_OBJ_UNIX_STREAM &&
        t != KQEMU_OBJ_SOCKET)
        return false;
    return sockopt_int(fd, SOL_SOCKET, SO_ACCEPTCONN) == 1;
}

/* Linux has no poll bit for a local SHUT_WR; derive it. */
static bool write_side_shut(int fd, enum kqemu_obj t)
{
    if (t == KQEMU_OBJ_TCP) {
        struct tcp_info ti;
        if (!tcp_info_of(fd, &ti))
            return false;
        switch (ti.tcpi_state) {
        case TCP_FIN_WAIT1:
        case TCP_FIN_WAIT2:
        case TCP_CLOSING:
        case TCP_LAST_ACK:
        case TCP_TIME_WAIT:
        case TCP_CLOSE:
            return true;
        default:
            return false;
        }
    }
    if (t == KQEMU_OBJ_UNIX_STREAM) {
        /* A zero-length send moves no data; unix_stream_sendmsg checks
         * SEND_SHUTDOWN first and answers EPIPE. */
        int saved = errno;
        bool shut =
            send(fd, "", 0, MSG_DONTWAIT | MSG_NOSIGNAL) < 0 && errno == EPIPE;
        errno = saved;
        return shut;
    }
    return false;
}

/*
 * Is a datagram queued, possibly an empty one?  FIONREAD gives 0 for an
 * empty datagram, yet both kernels fire READ for it (with data 0):
 * - FreeBSD, filt_soread (sys/kern/uipc_socket.c): fires when
 *   sbavail(&so->so_rcv) >= sb_lowat.  udp_append
 *   (sys/netinet/udp_usrreq.c) queues the sender's address as an mbuf of
 *   the record (sbappendaddr_locked), and sballoc (sys/kern/uipc_sockbuf.c)
 *   counts it in sb_ccc and in sb_ctl; data is sbavail - sb_ctl, so 0.
 * - xnu, filt_soread_common (bsd/kern/uipc_socket.c): fires when
 *   so_rcv.sb_cc >= lowat, "0-sized packets need to wake up the kqueue";
 *   data is sb_cc - sb_ctl, so 0.
 * Linux: recv(MSG_PEEK) returns 0 for a queued empty datagram and EAGAIN
 * for an empty queue.
 */
static bool udp_datagram_queued(struct kqemu_knote *kn, int fd)
{
    char byte;
    int saved = errno;
    ssize_t got = recv(fd, &byte, sizeof byte, MSG_PEEK | MSG_DONTWAIT);
    int err = errno;
    errno = saved;
    if (got >= 0)
        return true;
    if (err == EAGAIN || err == EWOULDBLOCK || err == EINTR)
        return false;
    /* An ICMP error that arrived after epoll looked: Linux's recv() returned
     * and cleared it (sock_error).  BSD keeps so_error and fires READ for it,
     * so keep it for the code under test, as so_error() does. */
    kn->file->so_error = err;
    stolen_add(kn->file, err);
    return true;
}

static bool socket_read(struct kqemu_knote *kn, uint32_t rev,
                        struct readiness *r)
{
    int fd = (int)kn->ident;
    enum kqemu_obj t = kn->file->type;
    if (is_listening(fd, t)) {
        /* data is the accept queue length (LNX: tcpi_unacked); Linux
         * does not expose it for AF_UNIX, so report 1. */
        struct tcp_info ti;
        r->data =
            (t == KQEMU_OBJ_TCP && tcp_info_of(fd, &ti)) ? ti.tcpi_unacked : 1;
        if (rev & EPOLLERR) {
            r->eof = true;
            r->fflags = so_error(kn->file, fd, rev);
        }
        return (rev & (EPOLLIN | EPOLLERR)) != 0;
    }
    r->data = ioctl_int(fd, FIONREAD);
    if (r->data < 0)
        r->data = 0;
    r->eof = (rev & (EPOLLRDHUP | EPOLLHUP)) || kn->eof_seen;
    if (r->eof)
        r->fflags = so_error(kn->file, fd, rev); /* 0 on a clean FIN */
    /* A pending error without EOF (UDP ICMP) fires too. */
    if (r->eof || (rev & EPOLLERR))
        return true;
    if (t == KQEMU_OBJ_UDP && r->data == 0 && (rev & EPOLLIN) &&
        !(kn->sfflags & NOTE_LOWAT))
        return udp_datagram_queued(kn, fd);
    return (rev & EPOLLIN) && r->data >= lowat_of(kn, 1);
}

/* Linux's struct tcp_info beyond the fields glibc's <netinet/tcp.h>
 * declares (<linux/tcp.h>, Linux 4.1): tcpi_bytes_acked follows. */
struct tcp_info_acked {
    struct tcp_info base;
    uint64_t pacing_rate;
    uint64_t max_pacing_rate;
    uint64_t bytes_acked;
};

/*
 * Was this wakeup of an edge WRITE knote on TCP the peer's FIN alone?
 * BSD: the FIN goes through socantrcvmore(), whose sorwakeup() activates
 * only the receive buffer's knotes (FreeBSD sys/kern/uipc_sockbuf.c
 * socantrcvmore_locked, xnu bsd/kern/uipc_socket2.c socantrcvmore).  A
 * WRITE knote is activated by sowwakeup(): acknowledged data leaving the
 * send buffer (FreeBSD sys/netinet/tcp_input.c tcp_do_segment:
 * sbcut_locked, then sowwakeup_locked), socantsendmore(), a disconnect.
 * Linux: tcp_fin() (net/ipv4/tcp_input.c) calls sk_state_change(), whose
 * default sock_def_wakeup() (net/core/sock.c) wakes every waiter with no
 * poll key, so epoll queues the EPOLLOUT item of the WRITE set again.  So
 * the wakeup is dropped when, since this knote's last evaluation, the
 * connection went to CLOSE_WAIT (the peer's FIN) and nothing else moved:
 * no byte was acknowledged (tcpi_bytes_acked), no error, our side not shut.
 */
static bool tcp_fin_only(struct kqemu_knote *kn, int fd, uint32_t rev,
                         const struct readiness *r)
{
    struct tcp_info_acked ti;
    socklen_t len = sizeof ti;
    memset(&ti, 0, sizeof ti);
    if (kqemu__raw_getsockopt(fd, IPPROTO_TCP, TCP_INFO, &ti, &len) != 0 ||
        len < sizeof ti) {
        kn->tcp_seen = false; /* a kernel without tcpi_bytes_acked: no filter */
        return false;
    }
    bool fin = ti.base.tcpi_state == TCP_CLOSE_WAIT;
    bool only = kn->tcp_seen && !kn->tcp_seen_fin && fin &&
                ti.bytes_acked == kn->tcp_seen_acked && !r->eof &&
                !(rev & EPOLLERR);
    kn->tcp_seen = true;
    kn->tcp_seen_fin = fin;
    kn->tcp_seen_acked = ti.bytes_acked;
    return only;
}

static bool socket_write(struct kqemu_knote *kn, uint32_t rev,
                         struct readiness *r)
{
    int fd = (int)kn->ident;
    enum kqemu_obj t = kn->file->type;
    if (is_listening(fd, t))
        return false; /* registers fine, never fires */
    int64_t sndbuf = sockopt_int(fd, SOL_SOCKET, SO_SNDBUF);
    int64_t queued = ioctl_int(fd, TIOCOUTQ);
    r->data = sndbuf > 0 ? sndbuf - (queued > 0 ? queued : 0) : 0;
    if (r->data < 0)
        r->data = 0;
    r->eof = (rev & EPOLLHUP) || kn->eof_seen || write_side_shut(fd, t);
    if (r->eof)
        r->fflags = so_error(kn->file, fd, rev);
    /* Connection-oriented sockets only get EPOLLOUT once connected. */
    bool ready = r->eof || (rev & EPOLLERR) ||
                 ((rev & EPOLLOUT) && r->data >= lowat_of(kn, 1));
    /* A level knote is reported whenever it is ready, FIN or not. */
    if (t == KQEMU_OBJ_TCP && (kn->mode & EV_CLEAR) &&
        tcp_fin_only(kn, fd, rev, r))
        return false;
    return ready;
}

static bool pipe_read(struct kqemu_knote *kn, uint32_t rev, struct readiness *r)
{
    r->data = ioctl_int((int)kn->ident, FIONREAD);
    if (r->data < 0)
        r->data = 0;
    /* Not sticky: a FIFO's EOF clears when a writer comes back. */
    r->eof = (rev & EPOLLHUP) != 0;
    return r->eof || r->data >= lowat_of(kn, 1);
}

static bool pipe_write(struct kqemu_knote *kn, uint32_t rev,
                       struct readiness *r)
{
    int fd = (int)kn->ident;
    r->eof = (rev & (EPOLLERR | EPOLLHUP)) != 0; /* LNX: reader gone = ERR */
    if (r->eof) {
        r->data = 0; /* no room reported once the reader is gone */
        return true;
    }
    int64_t size = fcntl(fd, F_GETPIPE_SZ);
    int64_t queued = ioctl_int(fd, FIONREAD);
    r->data = (size > 0 ? size : 65536) - (queued > 0 ? queued : 0);
    return r->data >= lowat_of(kn, KQEMU_PIPE_LOWAT);
}

static bool other_ready(struct kqemu_knote *kn, uint32_t rev,
                        struct readiness *r)
{
    if (kn->filter == EVFILT_READ) {
        r->data = ioctl_int((int)kn->ident, FIONREAD);
        if (r->data < 0)
            r->data = 0;
        r->eof = (rev & (EPOLLHUP | EPOLLRDHUP)) != 0;
        return (rev & (EPOLLIN | EPOLLHUP | EPOLLRDHUP | EPOLLERR)) != 0;
    }
    r->eof = (rev & EPOLLHUP) != 0;
    return (rev & (EPOLLOUT | EPOLLHUP | EPOLLERR)) != 0;
}

static bool evaluate(struct kqemu_knote *kn, uint32_t rev, struct readiness *r)
{
    memset(r, 0, sizeof *r);
    if (kn->neutered) {
        /* MAC: a wrong-direction pipe filter only reports the peer's
         * close; LNX: ERR on a write end, HUP on a read end. */
        r->eof = (rev & (EPOLLERR | EPOLLHUP)) != 0;
        return r->eof;
    }
    bool read = kn->filter == EVFILT_READ;
    switch (kn->file->type) {
    case KQEMU_OBJ_KQUEUE:
        r->data = 1; /* the pending count is unknowable without harvest */
        return (rev & EPOLLIN) != 0;
    case KQEMU_OBJ_PIPE_READ:
    case KQEMU_OBJ_PIPE_WRITE:
    case KQEMU_OBJ_PIPE_RDWR:
        return read ? pipe_read(kn, rev, r) : pipe_write(kn, rev, r);
    case KQEMU_OBJ_TCP:
    case KQEMU_OBJ_UDP:
    case KQEMU_OBJ_UNIX_STREAM:
    case KQEMU_OBJ_SOCKET:
        return read ? socket_read(kn, rev, r) : socket_write(kn, rev, r);
    default:
        return other_ready(kn, rev, r);
    }
}

/*
 * epoll said ready, the BSD filter says no (low-water mark, pipe
 * space below PIPE_BUF).  A level registration would be reported again at
 * once and make a blocked kevent() spin, so switch it to edge mode until
 * the next wakeup of the fd.
 */
static void park(struct kqemu_kq *kq, struct kqemu_knote *kn)
{
    if ((kn->mode & EV_CLEAR) || kn->parked)
        return;
    kn->parked = true;
    kqemu__fd_arm(kq, kn);
}

static void unpark(struct kqemu_kq *kq, struct kqemu_knote *kn)
{
    if (!kn->parked)
        return;
    kn->parked = false;
    if (!(kn->mode & (EV_ONESHOT | EV_DISPATCH)))
        kqemu__fd_arm(kq, kn); /* level again; re-polled and re-queued */
}

static bool emit_polled(struct kqemu_kq *kq, struct kqemu_knote *kn,
                        uint32_t rev, struct kevent *out)
{
    struct readiness r;
    if (kqemu__fd_stale(kn)) {
        kqemu__knote_drop(kq, kn); /* a close we did not see */
        return false;
    }
    if (!evaluate(kn, rev, &r)) {
        park(kq, kn);
        return false;
    }
    unpark(kq, kn);
    if (r.eof && is_socket(kn->file->type))
        kn->eof_seen = true; /* EV_EOF is sticky on sockets */
    kqemu__fill_event(kn, out);
    out->data = (intptr_t)r.data;
    out->fflags = r.fflags;
    if (r.eof)
        out->flags |= EV_EOF;
    kqemu__deliver(kq, kn);
    return true;
}

int kqemu__fd_collect(struct kqemu_kq *kq, short filter, struct kevent *out,
                      int room)
{
    struct epoll_event evs[KQEMU_EPOLL_BATCH];
    int n = 0;
    while (n < room) {
        /* Never ask for more than there is room for: what is not taken stays
         * on epoll's ready list, which edge and one-shot knotes rely on. */
        int want = room - n < KQEMU_EPOLL_BATCH ? room - n : KQEMU_EPOLL_BATCH;
        /* Re-read each round: a rebuild may have replaced the set. */
        int got = epoll_wait(*set_slot(kq, filter), evs, want, 0);
        if (got <= 0)
            break;
        for (int i = 0; i < got; i++)
            if (emit_polled(kq, evs[i].data.ptr, evs[i].events, &out[n]))
                n++;
        if (got < want)
            break;
    }
    return n;
}

/* ---- regular files (synthesized, re-evaluated at each collection) -------- */

static bool synth_eval(struct kqemu_knote *kn, int64_t *data)
{
    struct stat st;
    int fd = (int)kn->ident;
    off_t pos = lseek(fd, 0, SEEK_CUR);
    if (pos < 0 || fstat(fd, &st) != 0)
        return false;
    *data = (int64_t)st.st_size - (int64_t)pos; /* MAN: may be negative */
    return *data != 0;
}

int kqemu__synth_collect(struct kqemu_kq *kq, struct kevent *out, int room,
                         bool *any_ready)
{
    int n = 0;
    for (size_t b = 0; b < KQEMU_BUCKETS; b++) {
        struct kqemu_knote *kn = kq->bucket[b];
        while (kn) {
            struct kqemu_knote *next = kn->hnext;
            int64_t data = 0;
            if (kn->kind != KQEMU_KN_SYNTH || !kn->enabled) {
                kn = next;
                continue;
            }
            if (n >= room) {
                *any_ready = true;
                return n;
            }
            if (kqemu__fd_stale(kn)) {
                kqemu__knote_drop(kq, kn);
            } else if (synth_eval(kn, &data) &&
                       !((kn->mode & EV_CLEAR) && kn->synth_reported &&
                         data == kn->last_data)) {
                /* Edge approximation: a new event is a changed distance to EOF.
                 */
                if (!(kn->mode & EV_CLEAR))
                    *any_ready = true;
                kn->synth_reported = true;
                kn->last_data = data;
                kqemu__fill_event(kn, &out[n]);
                out[n].data = (intptr_t)data;
                out[n].fflags = 0;
                n++;
                kqemu__deliver(kq, kn);
            }
            kn = next;
        }
    }
    return n;
}
