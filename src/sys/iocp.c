/*
 * The iocp backend (Windows): an I/O completion port per poll, waited on
 * with GetQueuedCompletionStatusEx, and socket readiness from
 * IOCTL_AFD_POLL requests that complete to that port, as in wepoll and mio
 * (docs/windows.md describes the design and its sources).
 *
 *  - Each registration has a state (struct iocp_sock) that holds the one
 *    poll request it may have in flight: its IO_STATUS_BLOCK and its
 *    AFD_POLL_INFO, which the kernel writes until the request's packet is
 *    dequeued, and whose address the packet carries back (the ApcContext
 *    of NtDeviceIoControlFile becomes the packet's lpOverlapped).  A state
 *    is therefore never moved, and never freed while a request is in
 *    flight: a deregistration cancels the request (NtCancelIoFileEx) and
 *    marks the state deleted, and the code that dequeues the cancelled
 *    request's packet frees it (wepoll's sock__delete and delete_pending,
 *    mio's mark_delete).  States: IDLE (no request), PENDING (one in
 *    flight), CANCELLED (one in flight, cancel asked).
 *  - A deleted state stays in the map until its packet comes, and
 *    registering the same socket again revives it instead of sending a
 *    second request for the socket: two AFD polls on one socket in flight
 *    on one port lose events (wepoll issue 35; trio issue 1269).
 *  - Requests go through \Device\Afd\Xpoll handles tied to the port, one
 *    per group of up to 32 registrations (wepoll's and mio's
 *    POLL_GROUP_MAX_GROUP_SIZE: cancelling slows down with the requests
 *    outstanding on one handle, trio issue 1280).
 *  - A request is one-shot and level-triggered, so edges are emulated as
 *    on the poll(2) backend: an event disarms the directions it reports
 *    until xpoll_rearm() or a reregistration arms them again; errors are
 *    armed on their own, and reporting one disarms everything.
 *  - Changes only queue the state; the waiting thread sends what is
 *    queued just before it blocks (wepoll's port__update_events, mio's
 *    update_sockets_events), so a reregister and two re-arms between two
 *    waits cost one request.  While a thread is blocked in the port, a
 *    change sends at once, and the request's packet ends that wait.
 *  - One lock (an SRW lock) guards the map, the queue, the groups and every
 *    state; the waiter drops it while blocked.
 *
 * The waker and the timers' wake-up are packets posted to the port
 * (PostQueuedCompletionStatus) under completion keys of their own, as
 * mio's Waker::wake posts its token.
 */
#include <winsock2.h>
#include <windows.h>
#include <mswsock.h>

#include <errno.h>
#include <limits.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>

#include "afd.h"
#include "net_sys.h" /* xpoll__winsock_start, xpoll__wsa_errno */
#include "selector.h"
#include "thread.h"

/* Completion keys: what a packet is, decided by the key alone. */
#define XPOLL__IOCP_KEY_WAKER     ((ULONG_PTR)1)
#define XPOLL__IOCP_KEY_INTERRUPT ((ULONG_PTR)2)
#define XPOLL__IOCP_KEY_AFD       ((ULONG_PTR)3)

/* GetQueuedCompletionStatusEx takes milliseconds as a DWORD and
 * INFINITE (0xFFFFFFFF, <winbase.h>) means no limit: a finite timeout is
 * clamped one below it. */
#define XPOLL__IOCP_MAX_MS ((DWORD)0xFFFFFFFEu)

/* Registrations per AFD handle (wepoll src/poll-group.c, mio
 * selector.rs). */
#define XPOLL__IOCP_GROUP_SIZE 32

/* How long xpoll_free() waits for the packets of cancelled requests
 * before it leaks their states rather than free memory the kernel may
 * still write. */
#define XPOLL__IOCP_DRAIN_MS 10000

/* What a state has armed: the two directions, and errors on their own. */
#define ARM_READ  1u
#define ARM_WRITE 2u
#define ARM_FAULT 4u

enum iocp_status { IOCP_IDLE, IOCP_PENDING, IOCP_CANCELLED };

struct iocp_group {
    HANDLE afd;
    unsigned users;
    struct iocp_group *next;
};

struct iocp_sock {
    /* Written by the kernel while a request is in flight. */
    IO_STATUS_BLOCK iosb;
    struct xpoll__afd_poll_info info;

    SOCKET socket; /* the map key: what the program registered */
    SOCKET base;   /* what is polled (SIO_BASE_HANDLE) */
    struct iocp_group *group;
    xpoll_token token;
    xpoll_interests interests;
    unsigned armed;
    ULONG sent; /* AFD_POLL_* of the request in flight */
    enum iocp_status status;
    bool deleted;
    bool queued;
    struct iocp_sock *prev, *next; /* the update queue */
};

struct xpoll__iocp {
    HANDLE port;
    xpoll__mutex lock; /* guards everything below but waker_gen */
    /* The user's waker: its token while it exists.  `waker_gen` counts
     * the wakers closed; a wake posts the count it read, and a packet
     * whose count is not the current one (posted for a waker since
     * freed) yields no event. */
    bool waker_armed;
    xpoll_token waker_token;
    atomic_uint waker_gen;

    bool polling; /* a thread is blocked in the port */
    /* SOCKET -> state: open addressing, linear probing, a power-of-two
     * number of slots; deleted states stay until their packet comes. */
    struct iocp_sock **map;
    size_t map_cap, map_len;
    /* States whose request must be (re)sent, oldest change first, so the
     * sends go out in the order of the changes (wepoll appends to its
     * update queue, mio's is a VecDeque pushed at the back) and readiness
     * that holds for several sockets comes back in that order. */
    struct iocp_sock *queue, *queue_tail;
    struct iocp_group *groups;
};

static struct xpoll__iocp *iocp_of(const xpoll *poll)
{
    return poll->state;
}

/* ---- errors -------------------------------------------------------------
 * Every failure is a negative errno (docs/windows.md, section 7).  Note
 * that in the CRT's <errno.h> EWOULDBLOCK (140) is not EAGAIN (11). */

/* GetLastError() as a negative errno. */
static int iocp_error(DWORD err)
{
    switch (err) {
    case ERROR_INVALID_HANDLE:
    case ERROR_ABANDONED_WAIT_0: /* the port was closed during the wait */
        return -EBADF;
    case ERROR_NOT_ENOUGH_MEMORY:
    case ERROR_OUTOFMEMORY:
    case ERROR_NO_SYSTEM_RESOURCES:
        return -ENOMEM;
    case ERROR_INVALID_PARAMETER:
        return -EINVAL;
    case ERROR_ACCESS_DENIED:
        return -EACCES;
    case ERROR_TOO_MANY_OPEN_FILES:
        return -EMFILE;
    case ERROR_NOT_SUPPORTED:
        return -ENOTSUP;
    default:
        return -EIO;
    }
}

/* An NTSTATUS of the backend's own ntdll calls as a negative errno. */
static int iocp_nt_error(NTSTATUS status)
{
    switch (status) {
    case XPOLL__STATUS_INVALID_HANDLE:
        return -EBADF;
    case XPOLL__STATUS_OBJECT_TYPE_MISMATCH:
        return -ENOTSOCK;
    case XPOLL__STATUS_NO_MEMORY:
    case XPOLL__STATUS_INSUFFICIENT_RESOURCES:
        return -ENOMEM;
    default:
        return iocp_error(RtlNtStatusToDosError(status));
    }
}

/* ---- the map ------------------------------------------------------------
 * Socket handles are multiples of 4: the hash drops those bits and mixes
 * the rest (Fibonacci hashing). */

static size_t iocp_home(const struct xpoll__iocp *s, SOCKET socket)
{
    uint64_t h = ((uint64_t)socket >> 2) * UINT64_C(0x9E3779B97F4A7C15);
    return (size_t)(h ^ (h >> 32)) & (s->map_cap - 1);
}

static struct iocp_sock *iocp_find(const struct xpoll__iocp *s, SOCKET socket)
{
    if (s->map_cap == 0)
        return NULL;
    for (size_t i = iocp_home(s, socket);; i = (i + 1) & (s->map_cap - 1)) {
        if (s->map[i] == NULL)
            return NULL;
        if (s->map[i]->socket == socket)
            return s->map[i];
    }
}

static void iocp_map_put(struct xpoll__iocp *s, struct iocp_sock *k)
{
    size_t i = iocp_home(s, k->socket);
    while (s->map[i] != NULL)
        i = (i + 1) & (s->map_cap - 1);
    s->map[i] = k;
}

/* Room for one more entry, at most three quarters full.  The only
 * allocation besides the states and the groups. */
static int iocp_map_reserve(struct xpoll__iocp *s)
{
    if ((s->map_len + 1) * 4 <= s->map_cap * 3)
        return 0;
    size_t cap = s->map_cap == 0 ? 64 : s->map_cap * 2;
    if (cap > SIZE_MAX / sizeof *s->map)
        return -ENOMEM;
    struct iocp_sock **old = s->map;
    size_t old_cap = s->map_cap;
    s->map = calloc(cap, sizeof *s->map);
    if (s->map == NULL) {
        s->map = old;
        return -ENOMEM;
    }
    s->map_cap = cap;
    for (size_t i = 0; i < old_cap; i++)
        if (old[i] != NULL)
            iocp_map_put(s, old[i]);
    free(old);
    return 0;
}

/* Removal with backward shifting, so that probing needs no tombstones. */
static void iocp_map_remove(struct xpoll__iocp *s, struct iocp_sock *k)
{
    size_t mask = s->map_cap - 1;
    size_t i = iocp_home(s, k->socket);
    while (s->map[i] != k)
        i = (i + 1) & mask;
    s->map[i] = NULL;
    for (size_t j = (i + 1) & mask; s->map[j] != NULL; j = (j + 1) & mask) {
        size_t home = iocp_home(s, s->map[j]->socket);
        /* Entry j may fill the hole at i unless its home lies cyclically
         * in (i, j]. */
        bool stays = i <= j ? (i < home && home <= j) : (i < home || home <= j);
        if (!stays) {
            s->map[i] = s->map[j];
            s->map[j] = NULL;
            i = j;
        }
    }
    s->map_len--;
}

/* ---- the update queue --------------------------------------------------- */

static void iocp_enqueue(struct xpoll__iocp *s, struct iocp_sock *k)
{
    if (k->queued)
        return;
    k->queued = true;
    k->next = NULL;
    k->prev = s->queue_tail;
    if (s->queue_tail != NULL)
        s->queue_tail->next = k;
    else
        s->queue = k;
    s->queue_tail = k;
}

static void iocp_dequeue(struct xpoll__iocp *s, struct iocp_sock *k)
{
    if (!k->queued)
        return;
    k->queued = false;
    if (k->prev != NULL)
        k->prev->next = k->next;
    else
        s->queue = k->next;
    if (k->next != NULL)
        k->next->prev = k->prev;
    else
        s->queue_tail = k->prev;
}

/* ---- AFD handle groups -------------------------------------------------- */

/* \Device\Afd\Xpoll: the part after \Device\Afd\ is free (wepoll opens
 * \Device\Afd\Wepoll, mio \Device\Afd\Mio).  No extended attributes: the
 * handle talks to the AFD driver but is no socket.  Asynchronous (no
 * FILE_SYNCHRONOUS_IO_* option), so requests can stay pending; tied to the
 * port, and FILE_SKIP_SET_EVENT_ON_HANDLE since nobody waits on the handle
 * itself (wepoll's afd_create_device_handle, mio's Afd::new).  Not
 * FILE_SKIP_COMPLETION_PORT_ON_SUCCESS: a request that succeeds at once
 * still queues its packet, so every completion takes the same path. */
static int iocp_afd_open(struct xpoll__iocp *s, HANDLE *out)
{
    static WCHAR name[] = L"\\Device\\Afd\\Xpoll";
    UNICODE_STRING uname = {
        .Length = sizeof name - sizeof name[0],
        .MaximumLength = sizeof name,
        .Buffer = name,
    };
    OBJECT_ATTRIBUTES attributes = {
        .Length = sizeof attributes,
        .RootDirectory = NULL,
        .ObjectName = &uname,
        .Attributes = 0, /* not inheritable */
        .SecurityDescriptor = NULL,
        .SecurityQualityOfService = NULL,
    };
    IO_STATUS_BLOCK iosb;
    HANDLE afd = NULL;
    NTSTATUS status =
        NtCreateFile(&afd, SYNCHRONIZE, &attributes, &iosb, NULL, 0,
                     FILE_SHARE_READ | FILE_SHARE_WRITE, FILE_OPEN, 0, NULL, 0);
    if (status != XPOLL__STATUS_SUCCESS)
        return iocp_nt_error(status);
    if (CreateIoCompletionPort(afd, s->port, XPOLL__IOCP_KEY_AFD, 0) == NULL ||
        !SetFileCompletionNotificationModes(afd,
                                            FILE_SKIP_SET_EVENT_ON_HANDLE)) {
        int err = iocp_error(GetLastError());
        CloseHandle(afd);
        return err;
    }
    *out = afd;
    return 0;
}

/* A group with room, or a new one.  Groups live until xpoll_free(), as
 * wepoll's do. */
static int iocp_group_acquire(struct xpoll__iocp *s, struct iocp_group **out)
{
    for (struct iocp_group *g = s->groups; g != NULL; g = g->next) {
        if (g->users < XPOLL__IOCP_GROUP_SIZE) {
            g->users++;
            *out = g;
            return 0;
        }
    }
    struct iocp_group *g = calloc(1, sizeof *g);
    if (g == NULL)
        return -ENOMEM;
    int err = iocp_afd_open(s, &g->afd);
    if (err < 0) {
        free(g);
        return err;
    }
    g->users = 1;
    g->next = s->groups;
    s->groups = g;
    *out = g;
    return 0;
}

/* Frees a state that has no request in flight. */
static void iocp_sock_free(struct iocp_sock *k)
{
    k->group->users--;
    free(k);
}

/* Drops a registration whose state has no request in flight. */
static void iocp_drop(struct xpoll__iocp *s, struct iocp_sock *k)
{
    iocp_dequeue(s, k);
    iocp_map_remove(s, k);
    iocp_sock_free(k);
}

/* ---- arming and the event mapping --------------------------------------- */

/* Arms the directions of `interests` the registration has, and errors
 * with any of them (PRIORITY goes with reading). */
static bool iocp_arm(struct iocp_sock *k, xpoll_interests interests)
{
    unsigned bits = 0;
    xpoll_interests read = XPOLL_READABLE | XPOLL_PRIORITY;
    if ((interests & read) != 0 && (k->interests & read) != 0)
        bits |= ARM_READ | ARM_FAULT;
    if ((interests & XPOLL_WRITABLE) != 0 &&
        (k->interests & XPOLL_WRITABLE) != 0)
        bits |= ARM_WRITE | ARM_FAULT;
    if ((k->armed & bits) == bits)
        return false;
    k->armed |= bits;
    return true;
}

/* The AFD_POLL_* bits a request asks for now; 0 when only LOCAL_CLOSE
 * would be asked, and then no request is sent. */
static ULONG iocp_wanted(const struct iocp_sock *k)
{
    ULONG mask = 0;
    if (k->armed & ARM_READ) {
        if (k->interests & XPOLL_READABLE)
            mask |=
                XPOLL__AFD_RECEIVE | XPOLL__AFD_ACCEPT | XPOLL__AFD_DISCONNECT;
        if (k->interests & XPOLL_PRIORITY)
            mask |= XPOLL__AFD_RECEIVE_EXPEDITED;
    }
    if (k->armed & ARM_WRITE)
        mask |= XPOLL__AFD_SEND;
    if (k->armed & ARM_FAULT)
        mask |= XPOLL__AFD_ABORT | XPOLL__AFD_CONNECT_FAIL;
    return mask == 0 ? 0 : mask | XPOLL__AFD_LOCAL_CLOSE;
}

/* The readiness of the AFD bits `afd` that are armed now (a reregister
 * may have narrowed them since the request was sent), and what it
 * disarms.  As wepoll's sock__afd_events_to_epoll_events: a FIN is
 * readable and read-closed; a reset is read- and write-closed and an
 * error; a failed connect is an error, writable and read-closed, as Linux
 * reports it; CONNECT is never asked (it holds on every connected
 * socket). */
static uint32_t iocp_readiness(struct iocp_sock *k, ULONG afd)
{
    bool readable = (k->armed & ARM_READ) && (k->interests & XPOLL_READABLE);
    bool priority = (k->armed & ARM_READ) && (k->interests & XPOLL_PRIORITY);
    bool writable = (k->armed & ARM_WRITE) != 0;
    bool fault = (k->armed & ARM_FAULT) != 0;
    uint32_t r = 0;

    if (readable && (afd & (XPOLL__AFD_RECEIVE | XPOLL__AFD_ACCEPT)))
        r |= XPOLL__EV_IN;
    if (readable && (afd & XPOLL__AFD_DISCONNECT))
        r |= XPOLL__EV_IN | XPOLL__EV_RDHUP;
    if (priority && (afd & XPOLL__AFD_RECEIVE_EXPEDITED))
        r |= XPOLL__EV_PRI;
    if (writable && (afd & XPOLL__AFD_SEND))
        r |= XPOLL__EV_OUT;
    if (fault && (afd & XPOLL__AFD_ABORT))
        r |= XPOLL__EV_HUP | XPOLL__EV_ERR | (readable ? XPOLL__EV_IN : 0) |
             (writable ? XPOLL__EV_OUT : 0);
    if (fault && (afd & XPOLL__AFD_CONNECT_FAIL))
        r |= XPOLL__EV_ERR | (writable ? XPOLL__EV_OUT : 0) |
             (readable ? XPOLL__EV_IN | XPOLL__EV_RDHUP : 0);

    if (r & XPOLL__EV_ERR)
        k->armed = 0; /* an error does not go away */
    if (r & (XPOLL__EV_IN | XPOLL__EV_PRI | XPOLL__EV_RDHUP))
        k->armed &= ~ARM_READ;
    if (r & XPOLL__EV_OUT)
        k->armed &= ~ARM_WRITE;
    return r;
}

/* ---- sending and cancelling requests ------------------------------------ */

/* Asks for the cancel of `k`'s request.  The request still completes
 * through the port (STATUS_CANCELLED, or whatever it ended with), and only
 * that packet ends the state's use by the kernel.  STATUS_NOT_FOUND means
 * it had completed already; nothing else is expected, and nothing else
 * could be done about it: the packet comes either way. */
static void iocp_cancel(struct iocp_sock *k)
{
    if (k->iosb.Status == XPOLL__STATUS_PENDING) {
        IO_STATUS_BLOCK scratch;
        (void)NtCancelIoFileEx(k->group->afd, &k->iosb, &scratch);
    }
    k->status = IOCP_CANCELLED;
}

/* Brings `k`'s request in line with what is armed (docs/windows.md,
 * section 3.2), and takes `k` off the queue.  May free `k`. */
static void iocp_update(struct xpoll__iocp *s, struct iocp_sock *k)
{
    ULONG wanted = iocp_wanted(k);

    iocp_dequeue(s, k);
    if (k->status == IOCP_CANCELLED)
        return; /* its packet requeues it */
    if (k->status == IOCP_PENDING) {
        /* A request that asks for more than is armed is kept; its
         * answer is filtered when it comes. */
        if ((wanted & ~k->sent) != 0)
            iocp_cancel(k);
        return;
    }
    if (wanted == 0)
        return;

    k->info.timeout.QuadPart = INT64_MAX; /* never */
    k->info.number_of_handles = 1;
    k->info.exclusive = FALSE;
    k->info.handles[0].handle = (HANDLE)k->base;
    k->info.handles[0].events = wanted;
    k->info.handles[0].status = 0;
    k->iosb.Status = XPOLL__STATUS_PENDING;
    /* The ApcContext (`k`) is what the packet carries back; a NULL one
     * would queue no packet at all (libuv's uv__msafd_poll relies on
     * that). */
    NTSTATUS status = NtDeviceIoControlFile(
        k->group->afd, NULL, NULL, k, &k->iosb, XPOLL__IOCTL_AFD_POLL, &k->info,
        sizeof k->info, &k->info, sizeof k->info);
    if (status == XPOLL__STATUS_SUCCESS || status == XPOLL__STATUS_PENDING) {
        k->status = IOCP_PENDING;
        k->sent = wanted;
        return;
    }
    /* Failed at once: no packet will come (Wine's async_set_result does
     * not signal a request that failed synchronously). */
    if (status == XPOLL__STATUS_INVALID_HANDLE) {
        /* The socket was closed without being deregistered: it goes
         * without an event, as epoll drops a closed descriptor (wepoll's
         * sock_update does the same). */
        iocp_drop(s, k);
        return;
    }
    /* Any other failure becomes an error event for the registration,
     * through a packet of our own that looks like the request's
     * completion, so that one path reports it whichever thread sent. */
    k->iosb.Status = status;
    k->status = IOCP_PENDING;
    k->sent = wanted;
    if (!PostQueuedCompletionStatus(s->port, 0, XPOLL__IOCP_KEY_AFD,
                                    (LPOVERLAPPED)k)) {
        /* Not even that: the registration stays disarmed, silent until
         * re-armed, rather than failing every later wait. */
        k->status = IOCP_IDLE;
        k->sent = 0;
        k->armed = 0;
    }
}

/* After a change to `k`: queued for the next wait, or sent now when a
 * thread is blocked in the port, so that the change takes effect in that
 * wait (wepoll's port__update_events_if_polling). */
static void iocp_changed(struct xpoll__iocp *s, struct iocp_sock *k)
{
    iocp_enqueue(s, k);
    if (s->polling)
        iocp_update(s, k);
}

/* Sends every queued request; the waiting thread, before it blocks. */
static void iocp_flush(struct xpoll__iocp *s)
{
    while (s->queue != NULL)
        iocp_update(s, s->queue);
}

/* ---- registration ------------------------------------------------------- */

/* The handle to poll: the base provider's socket, which differs from the
 * program's when a Layered Service Provider sits above it.  LSPs must
 * pass SIO_BASE_HANDLE through (Microsoft Learn, "Winsock IOCTLs"); for
 * those that break it (wepoll's ws.c names Komodia-based ones), the
 * SIO_BSP_HANDLE_* ioctls peel a layer, and the loop starts again from
 * there (wepoll's ws_get_base_socket; mio's get_base_socket tries the three
 * in this order, mio commit b15fc184). */
static int iocp_base_socket(SOCKET socket, SOCKET *out)
{
    static const DWORD bsp[] = {SIO_BSP_HANDLE_SELECT, SIO_BSP_HANDLE_POLL,
                                SIO_BSP_HANDLE};
    int first = 0;

    for (int round = 0; round < 8; round++) {
        SOCKET base = INVALID_SOCKET;
        DWORD bytes;
        if (WSAIoctl(socket, SIO_BASE_HANDLE, NULL, 0, &base, sizeof base,
                     &bytes, NULL, NULL) != SOCKET_ERROR) {
            *out = base;
            return 0;
        }
        int err = WSAGetLastError();
        if (first == 0)
            first = err;
        if (err == WSAENOTSOCK)
            break;
        SOCKET next = INVALID_SOCKET;
        for (size_t i = 0; i < sizeof bsp / sizeof bsp[0]; i++) {
            if (WSAIoctl(socket, bsp[i], NULL, 0, &base, sizeof base, &bytes,
                         NULL, NULL) != SOCKET_ERROR &&
                base != socket) {
                next = base;
                break;
            }
        }
        if (next == INVALID_SOCKET)
            break;
        socket = next;
    }
    return xpoll__wsa_errno(first);
}

/* Whether `socket` is an open socket, then its base handle.  SO_TYPE is
 * the test, not SIO_BASE_HANDLE: Wine's WSAIoctl answers SIO_BASE_HANDLE
 * with the handle it is given, socket or not (dlls/ws2_32/socket.c).  A
 * failure is told apart as wepoll's epoll_ctl does: a handle that is not
 * open at all (GetHandleInformation fails) is -EBADF, one that is open but
 * not a socket -ENOTSOCK (Wine answers a file with WSAEOPNOTSUPP). */
static int iocp_check_socket(SOCKET socket, SOCKET *base)
{
    int type;
    int len = sizeof type;
    if (getsockopt(socket, SOL_SOCKET, SO_TYPE, (char *)&type, &len) != 0) {
        int err = WSAGetLastError();
        DWORD flags;
        if (!GetHandleInformation((HANDLE)socket, &flags))
            return -EBADF;
        if (err == WSAENOTSOCK || err == WSAEOPNOTSUPP)
            return -ENOTSOCK;
        return xpoll__wsa_errno(err);
    }
    return iocp_base_socket(socket, base);
}

/* xpoll_socket is intptr_t on Windows: the whole SOCKET value, with
 * INVALID_SOCKET as -1, which the argument checks already refused. */
static SOCKET iocp_socket(xpoll_socket fd)
{
    return (SOCKET)fd;
}

static int xpoll__iocp_register(xpoll *poll, xpoll_socket fd, xpoll_token token,
                                xpoll_interests interests)
{
    struct xpoll__iocp *s = iocp_of(poll);
    SOCKET socket = iocp_socket(fd);
    SOCKET base = INVALID_SOCKET; /* set when err is 0; gcc -O2 cannot tell */
    int err = iocp_check_socket(socket, &base);
    if (err < 0)
        return err;

    xpoll__mutex_lock(&s->lock);
    struct iocp_sock *k = iocp_find(s, socket);
    if (k != NULL && !k->deleted) {
        err = -EEXIST;
        goto out;
    }
    if (k != NULL) {
        /* Deregistered, its request's packet still to come: revived
         * rather than doubled, so one request at most is in flight for the
         * socket.  Its old request answers the old registration only: a
         * cancelled request's packet never counts (it is requeued), so a
         * LOCAL_CLOSE of a socket whose handle value was reused since
         * cannot drop this one (wepoll issue 34). */
        k->deleted = false;
    } else {
        err = iocp_map_reserve(s);
        if (err < 0)
            goto out;
        k = calloc(1, sizeof *k);
        if (k == NULL) {
            err = -ENOMEM;
            goto out;
        }
        err = iocp_group_acquire(s, &k->group);
        if (err < 0) {
            free(k);
            goto out;
        }
        k->socket = socket;
        k->status = IOCP_IDLE;
        iocp_map_put(s, k);
        s->map_len++;
    }
    k->base = base;
    k->token = token;
    k->interests = interests;
    k->armed = 0;
    (void)iocp_arm(k, interests);
    iocp_changed(s, k);
out:
    xpoll__mutex_unlock(&s->lock);
    return err;
}

/* Replaces token and interests and arms every registered direction, so a
 * readiness that holds is reported again (as EPOLL_CTL_MOD does). */
static int xpoll__iocp_reregister(xpoll *poll, xpoll_socket fd,
                                  xpoll_token token, xpoll_interests interests)
{
    struct xpoll__iocp *s = iocp_of(poll);
    /* A handle that is not open is -EBADF, as epoll_ctl(2) and the poll
     * backend answer for a closed descriptor. */
    DWORD flags;
    if (!GetHandleInformation((HANDLE)iocp_socket(fd), &flags))
        return -EBADF;
    xpoll__mutex_lock(&s->lock);
    struct iocp_sock *k = iocp_find(s, iocp_socket(fd));
    int err = -ENOENT;
    if (k != NULL && !k->deleted) {
        k->token = token;
        k->interests = interests;
        k->armed = 0;
        (void)iocp_arm(k, interests);
        iocp_changed(s, k);
        err = 0;
    }
    xpoll__mutex_unlock(&s->lock);
    return err;
}

/* Immediate: a packet of this registration dequeued from now on is turned
 * into events after this, under the lock, and yields none.  A handle that
 * is no longer open is -EBADF, its registration dropped all the same (as
 * on the poll backend). */
static int xpoll__iocp_deregister(xpoll *poll, xpoll_socket fd)
{
    struct xpoll__iocp *s = iocp_of(poll);
    SOCKET socket = iocp_socket(fd);
    DWORD flags;
    int err = GetHandleInformation((HANDLE)socket, &flags) ? 0 : -EBADF;

    xpoll__mutex_lock(&s->lock);
    struct iocp_sock *k = iocp_find(s, socket);
    if (k == NULL || k->deleted) {
        if (err == 0)
            err = -ENOENT;
    } else if (k->status == IOCP_IDLE) {
        iocp_drop(s, k);
    } else {
        iocp_dequeue(s, k);
        if (k->status == IOCP_PENDING)
            iocp_cancel(k);
        k->deleted = true;
    }
    xpoll__mutex_unlock(&s->lock);
    return err;
}

/* No system call unless a thread is blocked in the port: the state is
 * queued for the next wait. */
static int xpoll__iocp_rearm(xpoll *poll, xpoll_socket fd,
                             xpoll_interests interests)
{
    struct xpoll__iocp *s = iocp_of(poll);
    xpoll__mutex_lock(&s->lock);
    struct iocp_sock *k = iocp_find(s, iocp_socket(fd));
    int err = -ENOENT;
    if (k != NULL && !k->deleted) {
        if (iocp_arm(k, interests))
            iocp_changed(s, k);
        err = 0;
    }
    xpoll__mutex_unlock(&s->lock);
    return err;
}

/* ---- the poll's life ---------------------------------------------------- */

static int xpoll__iocp_open(xpoll *poll)
{
    /* Winsock, for the registrations' SO_TYPE and SIO_BASE_HANDLE. */
    int err = xpoll__winsock_start();
    if (err < 0)
        return err;
    struct xpoll__iocp *s = calloc(1, sizeof *s);
    if (s == NULL)
        return -ENOMEM;
    /* A new port, no file: CreateIoCompletionPort(INVALID_HANDLE_VALUE,
     * NULL, 0, 0), as wepoll's port__create_iocp and mio's
     * CompletionPort::new. */
    s->port = CreateIoCompletionPort(INVALID_HANDLE_VALUE, NULL, 0, 0);
    if (s->port == NULL) {
        err = iocp_error(GetLastError());
        free(s);
        return err;
    }
    xpoll__mutex_init(&s->lock);
    atomic_init(&s->waker_gen, 0);
    poll->state = s;
    /* The port is a HANDLE, not a descriptor: xpoll_fd() is -ENOTSUP. */
    poll->fd = -ENOTSUP;
    return 0;
}

/* Cancels every request in flight, then takes packets from the port until
 * each has come back, so that no state is freed while the kernel may
 * write it.  Closing an AFD handle does not end its requests on Windows
 * (Wine's dlls/ws2_32/tests/afd.c test_poll, "Close a socket while polling
 * on another": the request runs to its own timeout, never here), hence
 * the cancels.  If the packets do not all come within
 * XPOLL__IOCP_DRAIN_MS, the states are leaked. */
static void xpoll__iocp_close(xpoll *poll)
{
    struct xpoll__iocp *s = iocp_of(poll);
    size_t in_flight = 0;

    xpoll__mutex_lock(&s->lock);
    for (size_t i = 0; i < s->map_cap; i++) {
        struct iocp_sock *k = s->map[i];
        if (k == NULL)
            continue;
        s->map[i] = NULL;
        if (k->status == IOCP_IDLE) {
            iocp_sock_free(k);
            continue;
        }
        if (k->status == IOCP_PENDING)
            iocp_cancel(k);
        k->deleted = true;
        in_flight++;
    }
    s->map_len = 0;
    s->queue = s->queue_tail = NULL;
    xpoll__mutex_unlock(&s->lock);

    int64_t deadline =
        xpoll__clock_ns() + (int64_t)XPOLL__IOCP_DRAIN_MS * 1000000;
    while (in_flight > 0) {
        OVERLAPPED_ENTRY entries[64];
        ULONG removed = 0;
        int64_t left = deadline - xpoll__clock_ns();
        if (left <= 0)
            break;
        if (!GetQueuedCompletionStatusEx(s->port, entries, 64, &removed,
                                         (DWORD)(left / 1000000 + 1), FALSE)) {
            if (GetLastError() == WAIT_TIMEOUT)
                continue; /* the deadline decides */
            break;
        }
        for (ULONG i = 0; i < removed; i++) {
            if (entries[i].lpCompletionKey != XPOLL__IOCP_KEY_AFD)
                continue;
            iocp_sock_free((struct iocp_sock *)entries[i].lpOverlapped);
            in_flight--;
        }
    }
    for (struct iocp_group *g = s->groups, *next; g != NULL; g = next) {
        next = g->next;
        CloseHandle(g->afd);
        if (in_flight == 0)
            free(g);
    }
    free(s->map);
    /* Packets still queued (wakes) go with the port. */
    CloseHandle(s->port);
    xpoll__mutex_destroy(&s->lock);
    free(s);
    poll->state = NULL;
}

/* ---- the waker ----------------------------------------------------------
 * PostQueuedCompletionStatus from any thread ends a wait in
 * GetQueuedCompletionStatusEx with that packet (Microsoft Learn,
 * "PostQueuedCompletionStatus"); coalescing stays in src/waker.c. */

static int xpoll__iocp_waker_open(xpoll_waker *waker)
{
    (void)waker;
    return 0;
}

static int xpoll__iocp_waker_arm(xpoll_waker *waker)
{
    struct xpoll__iocp *s = iocp_of(waker->poll);
    xpoll__mutex_lock(&s->lock);
    s->waker_token = waker->token;
    s->waker_armed = true;
    xpoll__mutex_unlock(&s->lock);
    return 0;
}

static int xpoll__iocp_waker_wake(xpoll_waker *waker)
{
    struct xpoll__iocp *s = iocp_of(waker->poll);
    DWORD gen = atomic_load_explicit(&s->waker_gen, memory_order_relaxed);
    if (!PostQueuedCompletionStatus(s->port, gen, XPOLL__IOCP_KEY_WAKER, NULL))
        return iocp_error(GetLastError());
    return 0;
}

static void xpoll__iocp_waker_close(xpoll_waker *waker, int armed)
{
    struct xpoll__iocp *s = iocp_of(waker->poll);
    if (!armed)
        return;
    xpoll__mutex_lock(&s->lock);
    s->waker_armed = false;
    atomic_fetch_add_explicit(&s->waker_gen, 1, memory_order_relaxed);
    xpoll__mutex_unlock(&s->lock);
}

static const struct xpoll__waker_ops xpoll__iocp_waker = {
    .open = xpoll__iocp_waker_open,
    .arm = xpoll__iocp_waker_arm,
    .wake = xpoll__iocp_waker_wake,
    .close = xpoll__iocp_waker_close,
    .drain = NULL,
};

/* ---- the timers' wake-up ------------------------------------------------
 * No descriptor (fds[] stay -1): a packet under its own key carries the
 * wake-up's token as its lpOverlapped, which the port hands back
 * untouched, and select() turns it into a readable event with that token,
 * which src/timer.c drops.  The timers' state lives until the poll is
 * freed, so every such packet carries the current state's token. */

static int xpoll__iocp_interrupt_arm(xpoll_waker *waker)
{
    (void)waker;
    return 0;
}

static int xpoll__iocp_interrupt_wake(xpoll_waker *waker)
{
    struct xpoll__iocp *s = iocp_of(waker->poll);
    if (!PostQueuedCompletionStatus(s->port, 0, XPOLL__IOCP_KEY_INTERRUPT,
                                    (LPOVERLAPPED)waker->token))
        return iocp_error(GetLastError());
    return 0;
}

static void xpoll__iocp_interrupt_close(xpoll_waker *waker, int armed)
{
    (void)waker;
    (void)armed;
}

static const struct xpoll__waker_ops xpoll__iocp_interrupt = {
    .open = xpoll__iocp_waker_open,
    .arm = xpoll__iocp_interrupt_arm,
    .wake = xpoll__iocp_interrupt_wake,
    .close = xpoll__iocp_interrupt_close,
    .drain = NULL,
};

/* ---- the wait ----------------------------------------------------------- */

/* What is left of a wait until `deadline` (ns on xpoll__clock_ns), in
 * milliseconds rounded up, so that a sub-millisecond rest waits 1 ms
 * rather than spinning (mio's duration_millis), and clamped below
 * INFINITE.  0 when the deadline has passed. */
static DWORD iocp_ms_left(int64_t deadline)
{
    int64_t left = deadline - xpoll__clock_ns();
    if (left <= 0)
        return 0;
    int64_t ms = left / 1000000 + (left % 1000000 != 0);
    return ms > (int64_t)XPOLL__IOCP_MAX_MS ? XPOLL__IOCP_MAX_MS : (DWORD)ms;
}

/* One request's packet (docs/windows.md, section 3.2); returns the
 * readiness of its event, 0 for none.  May free `k`. */
static uint32_t iocp_completed(struct xpoll__iocp *s, struct iocp_sock *k)
{
    bool cancelled = k->status == IOCP_CANCELLED;
    k->status = IOCP_IDLE;
    k->sent = 0;
    if (k->deleted) {
        iocp_map_remove(s, k);
        iocp_sock_free(k);
        return 0;
    }
    iocp_enqueue(s, k);
    if (cancelled || k->iosb.Status == XPOLL__STATUS_CANCELLED)
        return 0; /* cancelled by us, or ended by the system: resent */
    if (k->iosb.Status < 0) {
        /* The request failed: an error for the registration, which does
         * not go away, so everything is disarmed. */
        k->armed = 0;
        return XPOLL__EV_ERR;
    }
    if (k->info.number_of_handles < 1)
        return 0;
    ULONG afd = k->info.handles[0].events;
    if (afd & XPOLL__AFD_LOCAL_CLOSE) {
        /* The socket's last handle was closed here without deregistering:
         * dropped without an event, as epoll drops a closed descriptor. */
        iocp_drop(s, k);
        return 0;
    }
    return iocp_readiness(k, afd);
}

/* Packets into events, with the lock held; returns how many events they
 * made.  One packet makes one event at most. */
static int iocp_translate(struct xpoll__iocp *s,
                          const OVERLAPPED_ENTRY *entries, ULONG removed,
                          struct xpoll_event *out)
{
    int n = 0;

    for (ULONG i = 0; i < removed; i++) {
        const OVERLAPPED_ENTRY *e = &entries[i];
        if (e->lpCompletionKey == XPOLL__IOCP_KEY_AFD) {
            struct iocp_sock *k = (struct iocp_sock *)e->lpOverlapped;
            xpoll_token token = k->token;
            uint32_t r = iocp_completed(s, k);
            if (r == 0)
                continue;
            out[n].xpoll__readiness = r;
            out[n].xpoll__token = token;
            n++;
        } else if (e->lpCompletionKey == XPOLL__IOCP_KEY_WAKER) {
            /* Dropped when posted for a waker freed since. */
            if (!s->waker_armed || e->dwNumberOfBytesTransferred !=
                                       (DWORD)atomic_load_explicit(
                                           &s->waker_gen, memory_order_relaxed))
                continue;
            out[n].xpoll__readiness = XPOLL__EV_IN;
            out[n].xpoll__token = s->waker_token;
            n++;
        } else if (e->lpCompletionKey == XPOLL__IOCP_KEY_INTERRUPT) {
            out[n].xpoll__readiness = XPOLL__EV_IN;
            out[n].xpoll__token = (xpoll_token)e->lpOverlapped;
            n++;
        }
    }
    return n;
}

/* A negative timeout waits without limit, 0 polls once; a positive one
 * is a deadline on the monotonic clock: a call that times out early
 * (libuv's uv__poll in src/win/core.c notes it "can occasionally return a
 * little early"), or at the clamp, or whose packets made no event, waits
 * again for what is left (wepoll's port_wait loops the same way), sending
 * the requests queued meanwhile first.  fAlertable is FALSE (wepoll, mio,
 * libuv): no APC ends the wait, so there is no -EINTR on this backend. */
static int xpoll__iocp_select(xpoll *poll, xpoll_events *events,
                              int64_t timeout_ns)
{
    struct xpoll__iocp *s = iocp_of(poll);
    OVERLAPPED_ENTRY *entries = events->xpoll__native;
    size_t cap = events->xpoll__capacity;
    ULONG room = cap > (size_t)ULONG_MAX ? ULONG_MAX : (ULONG)cap;
    int64_t deadline = 0;

    if (room == 0)
        return 0;
    if (timeout_ns > 0) {
        int64_t now = xpoll__clock_ns();
        deadline = now > INT64_MAX - timeout_ns ? INT64_MAX : now + timeout_ns;
    }
    for (;;) {
        DWORD ms = timeout_ns < 0    ? INFINITE
                   : timeout_ns == 0 ? 0
                                     : iocp_ms_left(deadline);
        ULONG removed = 0;
        xpoll__mutex_lock(&s->lock);
        iocp_flush(s);
        s->polling = true;
        xpoll__mutex_unlock(&s->lock);
        BOOL ok = GetQueuedCompletionStatusEx(s->port, entries, room, &removed,
                                              ms, FALSE);
        DWORD err = ok ? 0 : GetLastError();
        xpoll__mutex_lock(&s->lock);
        s->polling = false;
        int n =
            ok ? iocp_translate(s, entries, removed, events->xpoll__items) : 0;
        xpoll__mutex_unlock(&s->lock);
        if (!ok && err != WAIT_TIMEOUT)
            return iocp_error(err);
        if (n > 0) {
            events->xpoll__len = (size_t)n;
            return n;
        }
        if (timeout_ns == 0 || (timeout_ns > 0 && iocp_ms_left(deadline) == 0))
            return 0;
    }
}

const struct xpoll__selector xpoll__iocp_selector = {
    .backend = XPOLL_BACKEND_IOCP,
    .interests = XPOLL_READABLE | XPOLL_WRITABLE | XPOLL_PRIORITY,
    .native_event_size = sizeof(OVERLAPPED_ENTRY),
    .waker = &xpoll__iocp_waker,
    .interrupt = &xpoll__iocp_interrupt,
    .open = xpoll__iocp_open,
    .close = xpoll__iocp_close,
    .register_fd = xpoll__iocp_register,
    .reregister_fd = xpoll__iocp_reregister,
    .deregister_fd = xpoll__iocp_deregister,
    .rearm = xpoll__iocp_rearm,
    .select = xpoll__iocp_select,
};
