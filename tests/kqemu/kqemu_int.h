/*
 * Internal declarations of the kqueue emulator.  Nothing here is exported:
 * every non-static function carries KQEMU_HIDDEN so that only the entry
 * points of <sys/event.h> and kqemu.h leave libxpoll.so.
 */
#ifndef KQEMU_INT_H
#define KQEMU_INT_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/types.h>

#include "kqemu.h"

#define KQEMU_HIDDEN __attribute__((visibility("hidden")))

/*
 * Every observable FreeBSD/macOS difference the engine implements, in one
 * place (FB: FreeBSD sys/kern/kern_event.c; MAC: xnu bsd/kern/kern_event.c;
 * docs/kqueue.md, "FreeBSD and macOS side by side").
 */
struct kqemu_personality {
    int id;
    const char *name;
    bool skip_filter_zero;           /* FB skips filter 0, MAC EINVAL */
    bool error_keeps_input_flags;    /* error entry: MAC |= EV_ERROR, FB = */
    bool receipt_without_room_stops; /* FB returns 0 at once */
    bool timeout_checked_first;      /* MAC before changes, FB at scan */
    bool timeout_in_usec;            /* MAC converts to a timeval */
    bool enable_with_disable_einval; /* FB EINVAL, MAC disable wins */
    bool delete_overrules_add;       /* MAC delete wins over add */
    bool has_keepudata;              /* FB EV_KEEPUDATA */
    bool fd_checked_for_every_op;    /* FB EBADF before lookup */
    bool new_knote_zeroes_fflags;    /* FB receipt of a new knote */
    bool user_trigger_on_add;        /* NOTE_TRIGGER in EV_ADD: MAC only */
    bool user_clear_cancels_trigger; /* EV_CLEAR with NOTE_TRIGGER: FB */
    bool pipe_write_closed_epipe;    /* FB EPIPE on a reader-less pipe */
    bool wrong_direction_neutered;   /* MAC fires at EOF, FB never */
    unsigned short unemulated_flags; /* flags rejected with a diagnostic */
};
extern const struct kqemu_personality kqemu__p KQEMU_HIDDEN;

/* What kind of object an fd knote watches, from fstat/getsockopt. */
enum kqemu_obj {
    KQEMU_OBJ_OTHER,
    KQEMU_OBJ_TCP,
    KQEMU_OBJ_UDP,
    KQEMU_OBJ_UNIX_STREAM,
    KQEMU_OBJ_SOCKET, /* any other socket */
    KQEMU_OBJ_PIPE_READ,
    KQEMU_OBJ_PIPE_WRITE,
    KQEMU_OBJ_PIPE_RDWR, /* FIFO opened O_RDWR */
    KQEMU_OBJ_REGULAR,
    KQEMU_OBJ_KQUEUE
};

/*
 * State shared by every knote watching one open file.  Sockets are shared
 * by (dev, ino) so that fd and dup(fd) see one cached SO_ERROR (Linux
 * clears SO_ERROR on read, BSD does not).
 */
struct kqemu_file {
    struct kqemu_file *next;
    int refs;
    dev_t dev;
    ino_t ino;
    enum kqemu_obj type;
    int so_error; /* cached first non-zero SO_ERROR */
};

enum kqemu_kind {
    KQEMU_KN_USER,   /* EVFILT_USER: pure user-space state */
    KQEMU_KN_POLLED, /* fd knote registered in the READ or WRITE epoll set */
    KQEMU_KN_NULL,   /* FB wrong-direction pipe filter: never fires */
    KQEMU_KN_SYNTH   /* regular file: evaluated at each collection */
};

struct kqemu_kq;

struct kqemu_knote {
    struct kqemu_knote *hnext; /* hash chain of the kqueue */
    struct kqemu_knote *qnext; /* user-event ready queue */
    uintptr_t ident;
    short filter;
    enum kqemu_kind kind;
    unsigned short mode;    /* EV_CLEAR|EV_ONESHOT|EV_DISPATCH, fixed */
    unsigned short evflags; /* flags echoed on returned events */
    unsigned int sfflags;
    int64_t sdata;
    void *udata;
    uint64_t ext[4];
    bool enabled;
    /* fd knotes */
    struct kqemu_file *file;
    uint32_t inner_id; /* KQEMU_OBJ_KQUEUE: the watched kqueue */
    bool neutered;     /* MAC wrong-direction pipe: EOF only */
    bool in_set;       /* registered in its epoll set */
    bool parked;       /* level knote temporarily edge-registered */
    bool eof_seen;     /* sticky EV_EOF on sockets */
    /* TCP edge WRITE knotes: what their last evaluation since the last arm
     * saw, to tell a peer's FIN from a send-side wakeup (kqemu_fd.c). */
    bool tcp_seen;
    bool tcp_seen_fin;
    uint64_t tcp_seen_acked;
    int64_t last_data; /* KQEMU_KN_SYNTH with EV_CLEAR */
    bool synth_reported;
    /* user knotes */
    bool triggered;
    bool queued;
};

#define KQEMU_BUCKETS    64
#define KQEMU_MAX_INJECT 8

struct kqemu_inject {
    short filter;
    int err;
    int n;
};

struct kqemu_kq {
    struct kqemu_kq *next;
    uint32_t id;
    int top;  /* internal epoll; user fds are aliases of its open file */
    int rset; /* epoll set of READ knotes, nested in top */
    int wset; /* epoll set of WRITE knotes, nested in top */
    int bell; /* eventfd in top: user events, synthetic knotes */
    bool bell_rung;
    unsigned refs; /* kevent() calls in flight */
    int *alias;
    size_t nalias, calias;
    struct kqemu_knote *bucket[KQEMU_BUCKETS];
    struct kqemu_knote *uq_head, *uq_tail;
    size_t nsynth;
    unsigned nparents;  /* kqueues watching this one */
    unsigned nchildren; /* kqueues this one watches */
    int eintr_inject;
    struct kqemu_inject inject[KQEMU_MAX_INJECT];
};

/* The data word of the bell in top: identifies a kqueue in fdinfo. */
#define KQEMU_MAGIC 0x6b71656d00000000ull /* "kqem" */

/* ---- registry (kqemu_registry.c) --------------------------------------- */
void kqemu__lock(void) KQEMU_HIDDEN;
void kqemu__unlock(void) KQEMU_HIDDEN;
void kqemu__note_fd(int fd) KQEMU_HIDDEN;
struct kqemu_kq *kqemu__kq_by_id(uint32_t id) KQEMU_HIDDEN;
struct kqemu_kq *kqemu__kq_resolve(int fd) KQEMU_HIDDEN;
int kqemu__kq_register(struct kqemu_kq *kq) KQEMU_HIDDEN;
void kqemu__kq_release(struct kqemu_kq *kq) KQEMU_HIDDEN;
void kqemu__stat_knotes(int delta) KQEMU_HIDDEN;
void kqemu__stat_call(void) KQEMU_HIDDEN;
bool kqemu__legacy_pipe_epipe(void) KQEMU_HIDDEN;
int kqemu__raw_close(int fd) KQEMU_HIDDEN;
int kqemu__raw_getsockopt(int fd, int level, int name, void *val,
                          socklen_t *len) KQEMU_HIDDEN;
void kqemu__init(void) KQEMU_HIDDEN;
void kqemu__trace_record(const struct kqemu_call *rec) KQEMU_HIDDEN;
void kqemu__diag(const char *fmt, ...) KQEMU_HIDDEN
    __attribute__((format(printf, 1, 2)));

/* ---- engine (kqemu.c) -------------------------------------------------- */
void kqemu__kq_destroy(struct kqemu_kq *kq) KQEMU_HIDDEN;
void kqemu__purge_ident(struct kqemu_kq *kq, int fd) KQEMU_HIDDEN;
/* Re-polls fd's enabled READ (read) and WRITE (write) knotes after a
 * local shutdown(): SHUT_RD wakes only the receive side (FreeBSD
 * sys/kern/uipc_socket.c soshutdown -> sorflush -> socantrcvmore), SHUT_WR
 * only the send side (socantsendmore -> sowwakeup). */
void kqemu__poke_ident(struct kqemu_kq *kq, int fd, bool read,
                       bool write) KQEMU_HIDDEN;
void kqemu__knote_drop(struct kqemu_kq *kq,
                       struct kqemu_knote *kn) KQEMU_HIDDEN;

/* ---- fd filters (kqemu_fd.c) ------------------------------------------- */
int kqemu__fd_attach(struct kqemu_kq *kq, struct kqemu_knote *kn,
                     int *late_err) KQEMU_HIDDEN;
void kqemu__fd_detach(struct kqemu_kq *kq, struct kqemu_knote *kn) KQEMU_HIDDEN;
bool kqemu__fd_stale(const struct kqemu_knote *kn) KQEMU_HIDDEN;
int kqemu__fd_arm(struct kqemu_kq *kq, struct kqemu_knote *kn) KQEMU_HIDDEN;
int kqemu__fd_disarm(struct kqemu_kq *kq, struct kqemu_knote *kn) KQEMU_HIDDEN;
int kqemu__fd_collect(struct kqemu_kq *kq, short filter, struct kevent *out,
                      int room) KQEMU_HIDDEN;
int kqemu__synth_collect(struct kqemu_kq *kq, struct kevent *out, int room,
                         bool *any_ready) KQEMU_HIDDEN;
void kqemu__file_unref(struct kqemu_file *f) KQEMU_HIDDEN;
bool kqemu__take_so_error(int fd, int *err) KQEMU_HIDDEN;
void kqemu__fill_event(const struct kqemu_knote *kn,
                       struct kevent *out) KQEMU_HIDDEN;
void kqemu__deliver(struct kqemu_kq *kq, struct kqemu_knote *kn) KQEMU_HIDDEN;

#endif /* KQEMU_INT_H */
