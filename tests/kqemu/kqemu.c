/*
 * kqueue()/kevent() emulated on epoll: the kqueue bookkeeping (knotes,
 * receipts, flag rules, EVFILT_USER) lives here in user space; epoll only
 * tells which fds are ready (kqemu_fd.c).  FB below is FreeBSD's
 * sys/kern/kern_event.c, MAC xnu's bsd/kern/kern_event.c; README.md lists
 * where the emulation deviates from them.
 *
 * Locking: one process-wide mutex (kqemu__lock) guards every kqueue, as a
 * kernel lock would.  It is never held across the wait in epoll_pwait2.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "kqemu_int.h"

/* The personality: one full table per kernel, so that each reads on its
 * own as that kernel's profile.  The two tables name the same fields and
 * differ in every value, as they must: a rule both kernels share is not a
 * field (kqemu_int.h says what each field decides). */
#if KQEMU_PERSONALITY == KQEMU_DARWIN
#define KQEMU_KEEPUDATA 0
const struct kqemu_personality kqemu__p = {
    .id = KQEMU_DARWIN,
    .name = "darwin",
    .skip_filter_zero = false,
    .error_keeps_input_flags = true,
    .receipt_without_room_stops = false,
    .timeout_checked_first = true,
    .timeout_in_usec = true,
    .enable_with_disable_einval = false,
    .delete_overrules_add = true,
    .has_keepudata = false,
    .fd_checked_for_every_op = false,
    .new_knote_zeroes_fflags = false,
    .user_trigger_on_add = true,
    .user_clear_cancels_trigger = false,
    .pipe_write_closed_epipe = false,
    .wrong_direction_neutered = true,
    /* EV_UDATA_SPECIFIC/EV_VANISHED drive xnu's workloop and
     * deferred-delete paths, which no test of xpoll needs. */
    .unemulated_flags = EV_UDATA_SPECIFIC | EV_VANISHED,
};
#else
#define KQEMU_KEEPUDATA EV_KEEPUDATA
const struct kqemu_personality kqemu__p = {
    .id = KQEMU_FREEBSD,
    .name = "freebsd",
    .skip_filter_zero = true,
    .error_keeps_input_flags = false,
    .receipt_without_room_stops = true,
    .timeout_checked_first = false,
    .timeout_in_usec = false,
    .enable_with_disable_einval = true,
    .delete_overrules_add = false,
    .has_keepudata = true,
    .fd_checked_for_every_op = true,
    .new_knote_zeroes_fflags = true,
    .user_trigger_on_add = false,
    .user_clear_cancels_trigger = true,
    .pipe_write_closed_epipe = true,
    .wrong_direction_neutered = false,
    /* EV_FORCEONESHOT activates a knote without its filter; no backend
     * uses it, so it is rejected rather than approximated. */
    .unemulated_flags = EV_FORCEONESHOT,
};
#endif

#define KQEMU_MODE_FLAGS (EV_CLEAR | EV_ONESHOT | EV_DISPATCH)
/* Operation bits stripped before a knote's flags are stored: FB
 * keeps only mode bits and EV_RECEIPT, xnu also keeps EV_ADD. */
#if KQEMU_PERSONALITY == KQEMU_DARWIN
#define KQEMU_STRIPPED_FLAGS (EV_DELETE | EV_ENABLE | EV_DISABLE)
#else
#define KQEMU_STRIPPED_FLAGS                                                   \
    (EV_ADD | EV_DELETE | EV_ENABLE | EV_DISABLE | EV_FORCEONESHOT |           \
     EV_KEEPUDATA)
#endif

/* ---- knote table -------------------------------------------------------- */

static size_t bucket_of(uintptr_t ident, short filter)
{
    return (size_t)((ident * 31u) ^ (uintptr_t)(unsigned short)filter) %
           KQEMU_BUCKETS;
}

static struct kqemu_knote *knote_find(struct kqemu_kq *kq, uintptr_t ident,
                                      short filter)
{
    struct kqemu_knote *kn = kq->bucket[bucket_of(ident, filter)];
    while (kn && (kn->ident != ident || kn->filter != filter))
        kn = kn->hnext;
    return kn;
}

static void knote_link(struct kqemu_kq *kq, struct kqemu_knote *kn)
{
    size_t b = bucket_of(kn->ident, kn->filter);
    kn->hnext = kq->bucket[b];
    kq->bucket[b] = kn;
    kqemu__stat_knotes(+1);
}

static void knote_unlink(struct kqemu_kq *kq, struct kqemu_knote *kn)
{
    struct kqemu_knote **pp = &kq->bucket[bucket_of(kn->ident, kn->filter)];
    while (*pp && *pp != kn)
        pp = &(*pp)->hnext;
    if (*pp) {
        *pp = kn->hnext;
        kqemu__stat_knotes(-1);
    }
}

/* ---- user-event ready queue and doorbell ------------------------------- */

static void uq_push(struct kqemu_kq *kq, struct kqemu_knote *kn)
{
    kn->qnext = NULL;
    kn->queued = true;
    if (kq->uq_tail)
        kq->uq_tail->qnext = kn;
    else
        kq->uq_head = kn;
    kq->uq_tail = kn;
}

static struct kqemu_knote *uq_pop(struct kqemu_kq *kq)
{
    struct kqemu_knote *kn = kq->uq_head;
    if (!kn)
        return NULL;
    kq->uq_head = kn->qnext;
    if (!kq->uq_head)
        kq->uq_tail = NULL;
    kn->qnext = NULL;
    kn->queued = false;
    return kn;
}

static void uq_remove(struct kqemu_kq *kq, struct kqemu_knote *kn)
{
    struct kqemu_knote *prev = NULL, *it = kq->uq_head;
    while (it && it != kn) {
        prev = it;
        it = it->qnext;
    }
    if (!it)
        return;
    if (prev)
        prev->qnext = kn->qnext;
    else
        kq->uq_head = kn->qnext;
    if (kq->uq_tail == kn)
        kq->uq_tail = prev;
    kn->qnext = NULL;
    kn->queued = false;
}

/* The bell keeps top readable while user events (or ready synthetic
 * knotes) wait, so a blocked kevent() and an outer kqueue both see them. */
static void bell_set(struct kqemu_kq *kq, bool want)
{
    uint64_t v = 1;
    if (want == kq->bell_rung)
        return;
    if (want) {
        if (write(kq->bell, &v, sizeof v) == (ssize_t)sizeof v)
            kq->bell_rung = true;
    } else {
        if (read(kq->bell, &v, sizeof v) == (ssize_t)sizeof v ||
            errno == EAGAIN)
            kq->bell_rung = false;
    }
}

static void user_requeue(struct kqemu_kq *kq, struct kqemu_knote *kn)
{
    if (kn->enabled && kn->triggered && !kn->queued) {
        uq_push(kq, kn);
        bell_set(kq, true);
    } else if (!kn->enabled && kn->queued) {
        uq_remove(kq, kn);
    }
}

/* ---- knote life cycle ---------------------------------------------------- */

void kqemu__knote_drop(struct kqemu_kq *kq, struct kqemu_knote *kn)
{
    knote_unlink(kq, kn);
    if (kn->queued)
        uq_remove(kq, kn);
    if (kn->kind == KQEMU_KN_POLLED)
        kqemu__fd_disarm(kq, kn);
    if (kn->kind != KQEMU_KN_USER)
        kqemu__fd_detach(kq, kn);
    free(kn);
}

/* Every knote on fd number `fd` goes when the number is closed (FB
 * knote_fdclose(), called from closefp()). */
void kqemu__purge_ident(struct kqemu_kq *kq, int fd)
{
    static const short fd_filters[] = {EVFILT_READ, EVFILT_WRITE};
    for (size_t i = 0; i < sizeof fd_filters / sizeof fd_filters[0]; i++) {
        struct kqemu_knote *kn = knote_find(kq, (uintptr_t)fd, fd_filters[i]);
        if (kn)
            kqemu__knote_drop(kq, kn);
    }
}

/* After shutdown(): re-evaluate the knotes of the side that shut down, so
 * that an edge knote sees the new EOF even where Linux raises no poll bit
 * (an AF_UNIX socket's own shutdown wakes no epoll waiter). */
void kqemu__poke_ident(struct kqemu_kq *kq, int fd, bool read, bool write)
{
    const short fd_filters[] = {read ? EVFILT_READ : 0,
                                write ? EVFILT_WRITE : 0};
    for (size_t i = 0; i < sizeof fd_filters / sizeof fd_filters[0]; i++) {
        if (fd_filters[i] == 0)
            continue;
        struct kqemu_knote *kn = knote_find(kq, (uintptr_t)fd, fd_filters[i]);
        if (kn && kn->kind == KQEMU_KN_POLLED && kn->enabled)
            kqemu__fd_arm(kq, kn);
    }
}

void kqemu__kq_destroy(struct kqemu_kq *kq)
{
    for (size_t b = 0; b < KQEMU_BUCKETS; b++) {
        while (kq->bucket[b]) {
            struct kqemu_knote *kn = kq->bucket[b];
            /* The sets are closed below; deleting items one by one is moot. */
            kn->in_set = false;
            kqemu__knote_drop(kq, kn);
        }
    }
    kqemu__raw_close(kq->bell);
    kqemu__raw_close(kq->rset);
    kqemu__raw_close(kq->wset);
    kqemu__raw_close(kq->top);
    free(kq->alias);
    free(kq);
}

void kqemu__fill_event(const struct kqemu_knote *kn, struct kevent *out)
{
    memset(out, 0, sizeof *out);
    out->ident = kn->ident;
    out->filter = kn->filter;
    out->flags = kn->evflags;
    out->fflags = kn->sfflags;
    out->data = (intptr_t)kn->sdata;
    out->udata = kn->udata;
#if KQEMU_PERSONALITY == KQEMU_FREEBSD
    memcpy(out->ext, kn->ext, sizeof out->ext);
#endif
}

/* What happens to a knote once its event has been copied out. */
void kqemu__deliver(struct kqemu_kq *kq, struct kqemu_knote *kn)
{
    if (kn->mode & EV_ONESHOT) { /* deleted once reported */
        kqemu__knote_drop(kq, kn);
        return;
    }
    if (kn->kind == KQEMU_KN_USER && (kn->mode & EV_CLEAR))
        kn->triggered = false;    /* EV_CLEAR resets a user event's state */
    if (kn->mode & EV_DISPATCH) { /* disabled once reported */
        kn->enabled = false;
        if (kn->kind == KQEMU_KN_POLLED)
            kqemu__fd_disarm(kq, kn);
        return;
    }
    if (kn->kind == KQEMU_KN_USER && !(kn->mode & EV_CLEAR))
        uq_push(kq, kn); /* level: stays queued at the tail */
}

/* ---- applying one change ------------------------------------------------ */

static int reject_filter(short filter)
{
    static const struct {
        short filter;
        const char *name;
    } unemulated[] = {
        {EVFILT_AIO, "EVFILT_AIO"},
        {EVFILT_VNODE, "EVFILT_VNODE"},
        {EVFILT_PROC, "EVFILT_PROC"},
        {EVFILT_SIGNAL, "EVFILT_SIGNAL"},
        {EVFILT_TIMER, "EVFILT_TIMER"},
        {EVFILT_FS, "EVFILT_FS"},
#if KQEMU_PERSONALITY == KQEMU_DARWIN
        {EVFILT_MACHPORT, "EVFILT_MACHPORT"},
        {EVFILT_VM, "EVFILT_VM"},
        {EVFILT_EXCEPT, "EVFILT_EXCEPT"},
#else
        {EVFILT_PROCDESC, "EVFILT_PROCDESC"},
        {EVFILT_LIO, "EVFILT_LIO"},
        {EVFILT_SENDFILE, "EVFILT_SENDFILE"},
        {EVFILT_EMPTY, "EVFILT_EMPTY"},
#endif
    };
    for (size_t i = 0; i < sizeof unemulated / sizeof unemulated[0]; i++) {
        if (unemulated[i].filter == filter) {
            kqemu__diag("%s (%d) is not emulated; change rejected with EINVAL",
                        unemulated[i].name, filter);
            break;
        }
    }
    return EINVAL; /* any filter outside the table is EINVAL too */
}

/* EV_ENABLE with EV_DISABLE, EV_ADD with EV_DELETE, EV_KEEPUDATA: resolve
 * conflicting operation bits as each kernel's kqueue_register() does. */
static int normalize_flags(unsigned short *fl)
{
    const unsigned short both = EV_ENABLE | EV_DISABLE;
    if ((*fl & both) == both) {
        if (kqemu__p.enable_with_disable_einval)
            return EINVAL;
        *fl &= (unsigned short)~EV_ENABLE; /* MAC: disable overrules */
    }
    if (kqemu__p.has_keepudata && (*fl & EV_ADD) && (*fl & KQEMU_KEEPUDATA))
        return EINVAL; /* FB: "may not be used with EV_ADD" */
    if (kqemu__p.delete_overrules_add && (*fl & EV_DELETE))
        *fl &= (unsigned short)~EV_ADD;
    return 0;
}

static unsigned short stored_event_flags(unsigned short fl)
{
    return (unsigned short)(fl & ~KQEMU_STRIPPED_FLAGS);
}

/* A change touching an existing EVFILT_USER knote (FB filt_usertouch(),
 * MAC filt_usertouch()). */
static void user_touch(struct kqemu_knote *kn, const struct kevent *kev,
                       unsigned short fl)
{
    unsigned int ff = kev->fflags & NOTE_FFLAGSMASK;
    switch (kev->fflags & NOTE_FFCTRLMASK) {
    case NOTE_FFAND:
        kn->sfflags &= ff;
        break;
    case NOTE_FFOR:
        kn->sfflags |= ff;
        break;
    case NOTE_FFCOPY:
        kn->sfflags = ff;
        break;
    default: /* NOTE_FFNOP */
        break;
    }
    kn->sdata = (int64_t)kev->data;
    if (kev->fflags & NOTE_TRIGGER)
        kn->triggered = true;
    if (kqemu__p.user_clear_cancels_trigger && (fl & EV_CLEAR))
        kn->triggered = false; /* FB: filt_usertouch() resets the hook */
}

static int create_knote(struct kqemu_kq *kq, struct kevent *kev,
                        unsigned short fl)
{
    int late_err = 0;
    struct kqemu_knote *kn = calloc(1, sizeof *kn);
    if (!kn)
        return ENOMEM;
    kn->ident = kev->ident;
    kn->filter = kev->filter;
    kn->mode = fl & KQEMU_MODE_FLAGS;
    kn->evflags = stored_event_flags(fl);
    kn->sfflags = kev->fflags; /* FB keeps control bits too */
    kn->sdata = (int64_t)kev->data;
    kn->udata = kev->udata;
#if KQEMU_PERSONALITY == KQEMU_FREEBSD
    memcpy(kn->ext, kev->ext, sizeof kn->ext);
#endif
    kn->enabled = !(fl & EV_DISABLE); /* EV_ADD implies EV_ENABLE */
    if (kqemu__p.new_knote_zeroes_fflags)
        kev->fflags = 0; /* FB zeroes the working copy before attach */

    if (kn->filter == EVFILT_USER) {
        kn->kind = KQEMU_KN_USER;
        /* NOTE_TRIGGER in EV_ADD: FB attaches with the working fflags
         * already zeroed, so only MAC triggers. */
        kn->triggered =
            kqemu__p.user_trigger_on_add && (kn->sfflags & NOTE_TRIGGER);
        knote_link(kq, kn);
        user_requeue(kq, kn);
        return 0;
    }

    int err = kqemu__fd_attach(kq, kn, &late_err);
    if (err) {
        free(kn);
        return err;
    }
    knote_link(kq, kn);
    if (kn->enabled && kn->kind == KQEMU_KN_POLLED) {
        /* The kernels run the filter at registration (kqueue(2)); epoll
         * evaluates the condition at once on EPOLL_CTL_ADD. */
        err = kqemu__fd_arm(kq, kn);
        if (err) {
            kqemu__knote_drop(kq, kn);
            return err;
        }
    }
    return late_err;
}

/* A change on an existing knote: udata, enable state, filter flags. */
static int modify_knote(struct kqemu_kq *kq, struct kqemu_knote *kn,
                        const struct kevent *kev, unsigned short fl)
{
    if (!(fl & KQEMU_KEEPUDATA))
        kn->udata = kev->udata; /* the last change wins */
    if (fl & EV_ENABLE)
        kn->enabled = true;
    else if (fl & EV_DISABLE)
        kn->enabled = false;

    if (kn->kind == KQEMU_KN_USER) {
        user_touch(kn, kev, fl);
        user_requeue(kq, kn);
        return 0;
    }
    kn->sfflags = kev->fflags; /* NOTE_LOWAT and its threshold */
    kn->sdata = (int64_t)kev->data;
    kn->synth_reported = false;
    if (kn->kind != KQEMU_KN_POLLED)
        return 0;
    /* Re-arming re-polls the fd, so a condition that still holds is
     * queued again, also for an edge knote, as the kernels re-run the
     * filter on a modify or an EV_ENABLE. */
    return kn->enabled ? kqemu__fd_arm(kq, kn) : kqemu__fd_disarm(kq, kn);
}

static bool fd_is_open(uintptr_t ident)
{
    return ident <= INT_MAX && fcntl((int)ident, F_GETFD) >= 0;
}

static int apply_change(struct kqemu_kq *kq, struct kevent *kev)
{
    unsigned short fl = kev->flags;
    bool is_fd;

    if (kev->filter == EVFILT_READ || kev->filter == EVFILT_WRITE)
        is_fd = true;
    else if (kev->filter == EVFILT_USER)
        is_fd = false;
    else
        return reject_filter(kev->filter);
    if (fl & kqemu__p.unemulated_flags) {
        kqemu__diag("flags 0x%x are not emulated; change rejected with EINVAL",
                    fl & kqemu__p.unemulated_flags);
        return EINVAL;
    }
    int err = normalize_flags(&fl);
    if (err)
        return err;

    /* FB looks the fd up before the knote, for every operation;
     * xnu only needs a file for a new knote. */
    if (is_fd && !fd_is_open(kev->ident) &&
        (kqemu__p.fd_checked_for_every_op || (fl & EV_ADD)))
        return EBADF;

    struct kqemu_knote *kn = knote_find(kq, kev->ident, kev->filter);
    if (kn && is_fd && kqemu__fd_stale(kn)) {
        /* The number was closed behind our back (raw close) and now
         * names another file, or nothing: the old knote is gone. */
        kqemu__knote_drop(kq, kn);
        kn = NULL;
    }
    if (!kn)
        return (fl & EV_ADD) ? create_knote(kq, kev, fl) : ENOENT;
    if (fl & EV_DELETE) {
        kqemu__knote_drop(kq, kn); /* pending event discarded */
        return 0;
    }
    return modify_knote(kq, kn, kev, fl);
}

static int injected_errno(struct kqemu_kq *kq, short filter, int err)
{
    for (size_t i = 0; i < KQEMU_MAX_INJECT; i++) {
        struct kqemu_inject *in = &kq->inject[i];
        if (in->n > 0 && in->filter == filter) {
            in->n--;
            return in->err;
        }
    }
    return err;
}

/*
 * Apply the changelist in order.  Returns the number of entries
 * written, or -errno when the call must fail.  *stop_zero is set when FB
 * ran out of room for a receipt: the call then returns 0.
 */
static int apply_changes(struct kqemu_kq *kq, const struct kevent *changes,
                         int nchanges, struct kevent *out, int nevents,
                         bool swallow, bool *stop_zero)
{
    int nout = 0, room = nevents;
    for (int i = 0; i < nchanges; i++) {
        struct kevent kev = changes[i]; /* read before slot i is written */
        if (kqemu__p.skip_filter_zero && kev.filter == 0)
            continue; /* FB skips filter 0 */
        kev.flags &=
            (unsigned short)~EV_SYSFLAGS; /* input system flags ignored */
        unsigned short in_flags = kev.flags;
        int err = apply_change(kq, &kev);
        err = injected_errno(kq, kev.filter, err);
        if (swallow || (err == 0 && !(in_flags & EV_RECEIPT)))
            continue;
        if (room == 0) {
            if (err)
                return -err; /* no room, fail at once */
            if (kqemu__p.receipt_without_room_stops) {
                *stop_zero = true;
                return 0;
            }
            continue; /* MAC: receipt dropped */
        }
        kev.flags = kqemu__p.error_keeps_input_flags
                        ? (unsigned short)(in_flags | EV_ERROR)
                        : (unsigned short)EV_ERROR;
        kev.data = err;
        out[nout++] = kev;
        room--;
    }
    return nout;
}

/* ---- timeouts ----------------------------------------------------------- */

enum wait_kind { WAIT_POLL, WAIT_FOREVER, WAIT_FINITE };

struct wait_spec {
    enum wait_kind kind;
    struct timespec rel;
};

static int parse_timeout_fb(const struct timespec *ts, struct wait_spec *w)
{
    if (ts->tv_sec < 0 || ts->tv_nsec < 0 || ts->tv_nsec >= 1000000000L)
        return EINVAL;
    if (ts->tv_sec == 0 && ts->tv_nsec == 0) {
        w->kind = WAIT_POLL;
    } else if (ts->tv_sec > INT32_MAX) {
        w->kind = WAIT_FOREVER; /* FBK12 kqueue_scan: beyond INT32_MAX */
    } else {
        w->kind = WAIT_FINITE;
        w->rel = *ts;
    }
    return 0;
}

/* xnu: high 32 bits of tv_sec must be clear, then the timespec becomes a
 * timeval (nsec / 1000, truncating) and itimerfix() bounds it. */
static int parse_timeout_mac(const struct timespec *ts, struct wait_spec *w)
{
    if (((uint64_t)ts->tv_sec >> 32) != 0)
        return EINVAL;
    long usec = ts->tv_nsec / 1000;
    if (ts->tv_sec < 0 || ts->tv_sec > 100000000 || usec < 0 || usec >= 1000000)
        return EINVAL;
    if (ts->tv_sec == 0 && usec == 0) {
        w->kind = WAIT_POLL;
    } else {
        w->kind = WAIT_FINITE;
        w->rel.tv_sec = ts->tv_sec;
        w->rel.tv_nsec = usec * 1000;
    }
    return 0;
}

static int parse_timeout(const struct timespec *ts, struct wait_spec *w)
{
    if (!ts) {
        w->kind = WAIT_FOREVER;
        return 0;
    }
    return kqemu__p.timeout_in_usec ? parse_timeout_mac(ts, w)
                                    : parse_timeout_fb(ts, w);
}

static struct timespec ts_now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t;
}

static struct timespec ts_add(struct timespec a, struct timespec b)
{
    a.tv_sec += b.tv_sec;
    a.tv_nsec += b.tv_nsec;
    if (a.tv_nsec >= 1000000000L) {
        a.tv_sec++;
        a.tv_nsec -= 1000000000L;
    }
    return a;
}

/* a - b, or {0,0} when a <= b */
static struct timespec ts_left(struct timespec a, struct timespec b)
{
    struct timespec d = {0, 0};
    if (a.tv_sec < b.tv_sec || (a.tv_sec == b.tv_sec && a.tv_nsec <= b.tv_nsec))
        return d;
    d.tv_sec = a.tv_sec - b.tv_sec;
    d.tv_nsec = a.tv_nsec - b.tv_nsec;
    if (d.tv_nsec < 0) {
        d.tv_sec--;
        d.tv_nsec += 1000000000L;
    }
    return d;
}

/* ---- collection ---------------------------------------------------------- */

static int collect_user(struct kqemu_kq *kq, struct kevent *out, int room)
{
    int n = 0;
    /* Only the knotes queued now: a level knote re-queued below must not
     * come out twice in one call. */
    size_t pending = 0;
    for (struct kqemu_knote *it = kq->uq_head; it; it = it->qnext)
        pending++;
    while (pending-- > 0 && n < room) {
        struct kqemu_knote *kn = uq_pop(kq);
        if (!kn->enabled || !kn->triggered)
            continue; /* FB: EV_CLEAR with NOTE_TRIGGER may have cancelled it */
        kqemu__fill_event(kn, &out[n++]);
        kqemu__deliver(kq, kn);
    }
    return n;
}

static int harvest(struct kqemu_kq *kq, struct kevent *out, int room)
{
    bool synth_ready = false;
    int n = collect_user(kq, out, room);
    if (kq->nsynth > 0) {
        if (n < room)
            n += kqemu__synth_collect(kq, out + n, room - n, &synth_ready);
        else
            synth_ready = true; /* unknown: keep the bell rung */
    }
    if (n < room)
        n += kqemu__fd_collect(kq, EVFILT_READ, out + n, room - n);
    if (n < room)
        n += kqemu__fd_collect(kq, EVFILT_WRITE, out + n, room - n);
    bell_set(kq, kq->uq_head != NULL || synth_ready);
    return n;
}

static int wait_top(int top, const struct wait_spec *w,
                    struct timespec deadline)
{
    struct epoll_event ev;
    struct timespec left;
    if (w->kind == WAIT_FINITE) {
        left = ts_left(deadline, ts_now());
        if (left.tv_sec == 0 && left.tv_nsec == 0)
            return 0;
    }
    /* epoll_pwait2 keeps nanoseconds; EINTR is never restarted, even
     * under SA_RESTART, exactly like kevent (docs/kqueue.md, "Waiting and
     * timeouts"). */
    int r =
        epoll_pwait2(top, &ev, 1, w->kind == WAIT_FINITE ? &left : NULL, NULL);
    if (r < 0 && errno == ENOSYS) {
        int ms = -1;
        if (w->kind == WAIT_FINITE) {
            long long m = (long long)left.tv_sec * 1000 +
                          (left.tv_nsec + 999999) / 1000000;
            ms = m > INT_MAX ? INT_MAX : (int)m;
        }
        r = epoll_wait(top, &ev, 1, ms);
    }
    return r < 0 ? -errno : r;
}

/* Harvest, or wait on top without the lock and retry. */
static int collect_and_wait(struct kqemu_kq *kq, struct kevent *out,
                            int nevents, const struct wait_spec *w)
{
    struct timespec deadline = {0, 0};
    if (w->kind == WAIT_FINITE)
        deadline = ts_add(ts_now(), w->rel);
    for (;;) {
        int n = harvest(kq, out, nevents);
        if (n > 0 || w->kind == WAIT_POLL)
            return n;
        int top = kq->top; /* stays open: our reference keeps kq alive */
        kqemu__unlock();
        int r = wait_top(top, w, deadline);
        kqemu__lock();
        if (r < 0)
            return r;
        if (r == 0 && w->kind == WAIT_FINITE)
            return harvest(kq, out, nevents); /* 0 on timeout */
    }
}

/* ---- entry points ---------------------------------------------------------
 */

static int kevent_locked(struct kqemu_kq *kq, const struct kevent *changes,
                         int nchanges, struct kevent *events, int nevents,
                         const struct timespec *timeout)
{
    struct wait_spec w;
    int err;
    /* MAC: an invalid timeout fails before any change is applied. */
    if (kqemu__p.timeout_checked_first && (err = parse_timeout(timeout, &w)))
        return -err;

    bool swallow = nchanges > 0 && kq->eintr_inject > 0;
    if (swallow)
        kq->eintr_inject--;
    bool stop_zero = false;
    int nout = apply_changes(kq, changes, nchanges, events, nevents, swallow,
                             &stop_zero);
    if (swallow)
        return -EINTR; /* changes applied, nothing written */
    if (nout != 0 || stop_zero)
        return nout; /* entries mean no collection, no wait */
    if (nevents == 0)
        return 0; /* no room for events: no wait either */
    /* FB: validated only on the way to the scan (kqueue_scan()). */
    if (!kqemu__p.timeout_checked_first && (err = parse_timeout(timeout, &w)))
        return -err;
    return collect_and_wait(kq, events, nevents, &w);
}

static int kevent_impl(int kqfd, const struct kevent *changes, int nchanges,
                       struct kevent *events, int nevents,
                       const struct timespec *timeout)
{
    if (nchanges < 0 || nevents < 0)
        return -EINVAL; /* as FreeBSD main */
    if ((nchanges > 0 && !changes) || (nevents > 0 && !events))
        return -EFAULT;
    kqemu__lock();
    struct kqemu_kq *kq = kqemu__kq_resolve(kqfd);
    if (!kq) {
        kqemu__unlock();
        return -EBADF; /* as FreeBSD 12 and xnu */
    }
    kq->refs++;
    int r = kevent_locked(kq, changes, nchanges, events, nevents, timeout);
    kqemu__kq_release(kq);
    kqemu__unlock();
    return r;
}

static void trace_begin(struct kqemu_call *rec, int kqfd,
                        const struct kevent *changes, int nchanges, int nevents,
                        const struct timespec *timeout)
{
    memset(rec, 0, sizeof *rec);
    rec->kq = kqfd;
    rec->nchanges = nchanges;
    rec->nevents = nevents;
    if (timeout) {
        rec->has_timeout = 1;
        rec->timeout = *timeout;
    }
    /* Copied now: the eventlist may overwrite the changelist. */
    int ncopy =
        nchanges < KQEMU_TRACE_MAX_CHANGES ? nchanges : KQEMU_TRACE_MAX_CHANGES;
    if (changes && ncopy > 0)
        memcpy(rec->changes, changes, (size_t)ncopy * sizeof *changes);
}

KQEMU_EXPORT int kevent(int kq, const struct kevent *changelist, int nchanges,
                        struct kevent *eventlist, int nevents,
                        const struct timespec *timeout)
{
    struct kqemu_call rec;
    trace_begin(&rec, kq, changelist, nchanges, nevents, timeout);
    kqemu__stat_call();
    int r = kevent_impl(kq, changelist, nchanges, eventlist, nevents, timeout);
    rec.result = r < 0 ? -1 : r;
    rec.error = r < 0 ? -r : 0;
    kqemu__trace_record(&rec);
    if (r < 0) {
        errno = -r;
        return -1;
    }
    return r;
}

static void close_quietly(int fd)
{
    if (fd >= 0)
        kqemu__raw_close(fd);
}

KQEMU_EXPORT int kqueue(void)
{
    kqemu__init();
    struct kqemu_kq *kq = calloc(1, sizeof *kq);
    if (!kq) {
        errno = ENOMEM;
        return -1;
    }
    kq->top = epoll_create1(EPOLL_CLOEXEC);
    kq->rset = epoll_create1(EPOLL_CLOEXEC);
    kq->wset = epoll_create1(EPOLL_CLOEXEC);
    kq->bell = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    struct epoll_event ev = {.events = EPOLLIN};
    int err = 0;
    if (kq->top < 0 || kq->rset < 0 || kq->wset < 0 || kq->bell < 0 ||
        epoll_ctl(kq->top, EPOLL_CTL_ADD, kq->rset, &ev) != 0 ||
        epoll_ctl(kq->top, EPOLL_CTL_ADD, kq->wset, &ev) != 0)
        err = errno;
    int fd = -1;
    if (!err) {
        kqemu__lock();
        fd = kqemu__kq_register(kq);
        err = fd < 0 ? -fd : 0;
        kqemu__unlock();
    }
    if (err) {
        close_quietly(kq->top);
        close_quietly(kq->rset);
        close_quietly(kq->wset);
        close_quietly(kq->bell);
        free(kq);
        errno = err;
        return -1;
    }
    return fd;
}

KQEMU_EXPORT int kqemu_personality(void)
{
    return kqemu__p.id;
}
