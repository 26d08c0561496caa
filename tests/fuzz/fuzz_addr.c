/*
 * fuzz_addr - the address parser and formatter of net.h, through the public
 * functions only (src/ is not touched).
 *
 * For each input string:
 *  - a reference parser, written from the grammar in net.h ("host:port",
 *    "[v6%scope]:port", a bare port meaning 127.0.0.1, numeric only, port
 *    1-5 digits up to 65535), decides valid or not;
 *  - xpoll_udp_connect() must answer -EINVAL exactly for the invalid ones.
 *    A UDP connect sends nothing and listens on nothing, so any address is
 *    safe to try; for a valid one the library's result must equal a plain
 *    socket()+connect() on the reference's sockaddr (same errno, or both
 *    succeed with the same peer);
 *  - a successful socket is non-blocking and close-on-exec, and its peer
 *    and local addresses format to text that parses back to the same
 *    sockaddr; every buffer size from 0 to the text's length is -ENOSPC
 *    and never written past (ASan, exact-size heap buffers);
 *  - only when the reference says the host is loopback (not its broadcast
 *    address) and the port is 0
 *    (so nothing outside this machine and no fixed port is ever bound):
 *    xpoll_udp_bind() and xpoll_tcp_listen() succeed, and a datagram to
 *    the bound socket and a connection to the listener are reported by the
 *    poll of the backend under test (XPOLL_BACKEND);
 *  - the same bytes as a Linux abstract Unix name under a per-process
 *    prefix (no file system effects): xpoll_unix_dgram_bind() succeeds or
 *    says -ENAMETOOLONG exactly when the name does not fit, and
 *    xpoll_local_addr() gives the name back byte for byte.
 *
 * Input: byte 0 selects the flags for bind/listen (unknown flags must be
 * -EINVAL); the rest, up to the first NUL, is the address text.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "xpoll.h"
#include "fuzz_check.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_TEXT 200

static char abstract_prefix[64];
static const char *current_input = "";

/* The input under test, printed when a check fails. */
static void fuzz_dump_state(void)
{
    fprintf(stderr, "input: \"");
    for (const char *p = current_input; *p != '\0'; p++)
        fprintf(stderr,
                (unsigned char)*p >= 0x20 && *p != 0x7f ? "%c" : "\\x%02x",
                (unsigned char)*p);
    fprintf(stderr, "\"\n");
}

/* ---- the reference parser --------------------------------------------------
 */

struct ref {
    bool valid;
    bool loopback; /* 127.0.0.0/8 or ::1 */
    struct sockaddr_storage ss;
    socklen_t len;
};

/* 1 to 5 decimal digits, at most 65535. */
static bool ref_port(const char *s, uint16_t *port)
{
    size_t n = strlen(s);
    unsigned long v = 0;
    if (n < 1 || n > 5)
        return false;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return false;
        v = v * 10 + (unsigned long)(s[i] - '0');
    }
    if (v > 65535)
        return false;
    *port = (uint16_t)v;
    return true;
}

/* An interface index (at most 10 digits, fits 32 bits) or a name. */
static bool ref_scope(const char *s, uint32_t *scope)
{
    size_t n = strlen(s);
    if (n == 0)
        return false;
    if (strspn(s, "0123456789") == n) {
        if (n > 10)
            return false;
        unsigned long long v = strtoull(s, NULL, 10);
        if (v > UINT32_MAX)
            return false;
        *scope = (uint32_t)v;
        return true;
    }
    unsigned idx = if_nametoindex(s);
    if (idx == 0)
        return false;
    *scope = idx;
    return true;
}

static struct ref ref_parse(const char *text)
{
    struct ref r;
    char host[MAX_TEXT + 1];
    const char *port_text;
    uint16_t port;

    memset(&r, 0, sizeof r);
    if (text[0] == '[') {
        const char *close = strchr(text, ']');
        if (close == NULL || close[1] != ':')
            return r;
        size_t n = (size_t)(close - text - 1);
        memcpy(host, text + 1, n);
        host[n] = '\0';
        port_text = close + 2;
        struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&r.ss;
        char *pct = strchr(host, '%');
        if (pct != NULL) {
            *pct = '\0';
            if (!ref_scope(pct + 1, &sin6->sin6_scope_id))
                return r;
        }
        if (host[0] == '\0' ||
            inet_pton(AF_INET6, host, &sin6->sin6_addr) != 1 ||
            !ref_port(port_text, &port))
            return r;
        sin6->sin6_family = AF_INET6;
        sin6->sin6_port = htons(port);
        r.len = sizeof *sin6;
        r.loopback = IN6_IS_ADDR_LOOPBACK(&sin6->sin6_addr);
        r.valid = true;
        return r;
    }
    const char *colon = strchr(text, ':');
    if (colon == NULL) {
        strcpy(host, "127.0.0.1"); /* a bare port */
        port_text = text;
    } else {
        size_t n = (size_t)(colon - text);
        memcpy(host, text, n);
        host[n] = '\0';
        port_text = colon + 1;
    }
    struct sockaddr_in *sin = (struct sockaddr_in *)&r.ss;
    if (inet_pton(AF_INET, host, &sin->sin_addr) != 1 ||
        !ref_port(port_text, &port))
        return r;
    sin->sin_family = AF_INET;
    sin->sin_port = htons(port);
    r.len = sizeof *sin;
    /* 127.0.0.0/8 but its broadcast address, which binds yet cannot be
     * connected to (EACCES, ENETUNREACH). */
    uint32_t a = ntohl(sin->sin_addr.s_addr);
    r.loopback = (a >> 24) == 127 && a != 0x7fffffffu;
    r.valid = true;
    return r;
}

static bool same_sockaddr(const struct sockaddr_storage *a,
                          const struct sockaddr_storage *b)
{
    if (a->ss_family != b->ss_family)
        return false;
    if (a->ss_family == AF_INET) {
        const struct sockaddr_in *x = (const void *)a, *y = (const void *)b;
        return x->sin_port == y->sin_port &&
               x->sin_addr.s_addr == y->sin_addr.s_addr;
    }
    if (a->ss_family == AF_INET6) {
        const struct sockaddr_in6 *x = (const void *)a, *y = (const void *)b;
        return x->sin6_port == y->sin6_port &&
               x->sin6_scope_id == y->sin6_scope_id &&
               memcmp(&x->sin6_addr, &y->sin6_addr, sizeof x->sin6_addr) == 0;
    }
    return false;
}

/* ---- checks on a descriptor ------------------------------------------------
 */

static void check_flags(int fd, const char *what)
{
    int fl = fcntl(fd, F_GETFL), fdfl = fcntl(fd, F_GETFD);
    FUZZ_CHECK(fl >= 0 && (fl & O_NONBLOCK), "%s: not non-blocking", what);
    FUZZ_CHECK(fdfl >= 0 && (fdfl & FD_CLOEXEC), "%s: not close-on-exec", what);
}

/* The address text of fd (local or peer) with every buffer size: -ENOSPC
 * below length + 1, the same text from there on, nothing written past the
 * buffer (exact-size heap blocks: ASan sees an overflow). */
static int addr_text(int fd, bool peer, char *out, size_t outlen)
{
    char full[XPOLL_ADDRSTRLEN];
    int n = peer ? xpoll_peer_addr(fd, full, sizeof full)
                 : xpoll_local_addr(fd, full, sizeof full);
    if (n < 0)
        return n;
    FUZZ_CHECK((size_t)n < sizeof full && strlen(full) == (size_t)n,
               "%s_addr returned %d for \"%s\"", peer ? "peer" : "local", n,
               full);
    for (size_t len = 0; len <= (size_t)n + 1; len++) {
        char *buf = malloc(len ? len : 1);
        FUZZ_CHECK(buf != NULL, "malloc");
        int m = peer ? xpoll_peer_addr(fd, buf, len)
                     : xpoll_local_addr(fd, buf, len);
        if (len <= (size_t)n)
            FUZZ_CHECK(m == -ENOSPC, "%s_addr with %zu bytes for %d: %d",
                       peer ? "peer" : "local", len, n, m);
        else
            FUZZ_CHECK(m == n && memcmp(buf, full, (size_t)n + 1) == 0,
                       "%s_addr with %zu bytes: %d", peer ? "peer" : "local",
                       len, m);
        free(buf);
    }
    snprintf(out, outlen, "%s", full);
    return n;
}

/* The text must name exactly the sockaddr getsockname/getpeername give. */
static void check_round_trip(int fd, bool peer)
{
    char text[XPOLL_ADDRSTRLEN];
    struct sockaddr_storage ss;
    socklen_t len = sizeof ss;

    memset(&ss, 0, sizeof ss);
    int n = addr_text(fd, peer, text, sizeof text);
    FUZZ_CHECK(n > 0, "%s_addr failed: %d", peer ? "peer" : "local", n);
    FUZZ_CHECK((peer ? getpeername(fd, (struct sockaddr *)&ss, &len)
                     : getsockname(fd, (struct sockaddr *)&ss, &len)) == 0,
               "getsockname/getpeername: %s", strerror(errno));
    struct ref back = ref_parse(text);
    FUZZ_CHECK(back.valid, "formatted \"%s\" does not parse", text);
    FUZZ_CHECK(same_sockaddr(&back.ss, &ss), "\"%s\" names another address",
               text);
}

/* ---- the properties -------------------------------------------------------
 */

static void check_udp_connect(const char *text, const struct ref *ref)
{
    int fd = xpoll_udp_connect(text);
    if (!ref->valid) {
        FUZZ_CHECK(fd == -EINVAL,
                   "xpoll_udp_connect: %d for an invalid address", fd);
        return;
    }
    /* The kernel's answer for the same sockaddr, straight. */
    int ref_fd = socket(ref->ss.ss_family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    FUZZ_CHECK(ref_fd >= 0, "socket: %s", strerror(errno));
    int ref_rc =
        connect(ref_fd, (const struct sockaddr *)&ref->ss, ref->len) == 0
            ? 0
            : -errno;
    if (ref_rc < 0) {
        FUZZ_CHECK(fd == ref_rc, "xpoll_udp_connect: %d, connect(): %d", fd,
                   ref_rc);
    } else {
        FUZZ_CHECK(fd >= 0, "xpoll_udp_connect: %d, connect() succeeded", fd);
        check_flags(fd, "xpoll_udp_connect");
        struct sockaddr_storage a, b;
        socklen_t alen = sizeof a, blen = sizeof b;
        memset(&a, 0, sizeof a);
        memset(&b, 0, sizeof b);
        /* (Port 0 connects, yet has no peer name: ENOTCONN for both.) */
        int ga =
            getpeername(fd, (struct sockaddr *)&a, &alen) == 0 ? 0 : -errno;
        int gb =
            getpeername(ref_fd, (struct sockaddr *)&b, &blen) == 0 ? 0 : -errno;
        FUZZ_CHECK(ga == gb, "getpeername: %d for xpoll's socket, %d for ours",
                   ga, gb);
        if (ga == 0) {
            FUZZ_CHECK(same_sockaddr(&a, &b),
                       "connected to another peer than connect()");
            check_round_trip(fd, true);
        } else {
            char buf[XPOLL_ADDRSTRLEN];
            FUZZ_CHECK(xpoll_peer_addr(fd, buf, sizeof buf) == ga,
                       "peer_addr without a peer: not %d", ga);
        }
        check_round_trip(fd, false);
        close(fd);
    }
    close(ref_fd);
}

static uint16_t port_of(const struct sockaddr_storage *ss)
{
    return ss->ss_family == AF_INET
               ? ntohs(((const struct sockaddr_in *)ss)->sin_port)
               : ntohs(((const struct sockaddr_in6 *)ss)->sin6_port);
}

/* Waits up to 2 s for an event with `token` and the wanted readiness. */
static bool wait_for(xpoll *poll, xpoll_events *events, xpoll_token token,
                     bool writable)
{
    for (int i = 0; i < 200; i++) {
        int n = xpoll_wait(poll, events, 10 * INT64_C(1000000));
        FUZZ_CHECK(n >= 0, "xpoll_wait: %d", n);
        for (int k = 0; k < n; k++) {
            const xpoll_event *ev = xpoll_events_get(events, (size_t)k);
            if (xpoll_event_token(ev) == token &&
                (writable ? xpoll_event_is_writable(ev)
                          : xpoll_event_is_readable(ev)))
                return true;
        }
    }
    return false;
}

/* Loopback, port 0: bind and listen for real, and let the poll see a
 * datagram and a connection arrive. */
static void check_bind_listen(const char *text, const struct ref *ref,
                              unsigned flags)
{
    bool bad_flags = (flags & ~XPOLL_NET_REUSEPORT) != 0;
    int u = xpoll_udp_bind(text, flags);
    int l = xpoll_tcp_listen(text, 0, flags);
    if (bad_flags) {
        FUZZ_CHECK(u == -EINVAL && l == -EINVAL, "unknown flags %#x: %d, %d",
                   flags, u, l);
        return;
    }
    if (u == -EADDRNOTAVAIL && l == -EADDRNOTAVAIL &&
        ref->ss.ss_family == AF_INET6)
        return; /* no IPv6 loopback in this container */
    FUZZ_CHECK(u >= 0 && l >= 0, "bind/listen on loopback port 0: %d, %d", u,
               l);
    check_flags(u, "xpoll_udp_bind");
    check_flags(l, "xpoll_tcp_listen");
    check_round_trip(u, false);
    check_round_trip(l, false);
    if (flags & XPOLL_NET_REUSEPORT) {
        /* A port-0 bind with SO_REUSEPORT may share its port with any
         * other SO_REUSEPORT socket of this user (the kernel balances
         * between them) - such as the other backend's fuzzer running at
         * the same time - so delivery to this socket is not guaranteed:
         * check the option, not the traffic. */
        int on = 0;
        socklen_t len = sizeof on;
        FUZZ_CHECK(getsockopt(u, SOL_SOCKET, SO_REUSEPORT, &on, &len) == 0 &&
                       on,
                   "udp: SO_REUSEPORT not set");
        len = sizeof on;
        on = 0;
        FUZZ_CHECK(getsockopt(l, SOL_SOCKET, SO_REUSEPORT, &on, &len) == 0 &&
                       on,
                   "tcp: SO_REUSEPORT not set");
        close(u);
        close(l);
        return;
    }

    xpoll *poll = NULL;
    xpoll_events *events = NULL;
    FUZZ_CHECK(xpoll_new(&poll) == 0, "xpoll_new");
    FUZZ_CHECK(xpoll_events_new(&events, 8) == 0, "xpoll_events_new");
    char at[XPOLL_ADDRSTRLEN];
    FUZZ_CHECK(xpoll_local_addr(u, at, sizeof at) > 0, "local_addr");
    int c = xpoll_udp_connect(at);
    FUZZ_CHECK(c >= 0, "udp_connect to %s: %d", at, c);
    FUZZ_CHECK(xpoll_register(poll, u, 1, XPOLL_READABLE) == 0, "register udp");
    FUZZ_CHECK(send(c, "x", 1, 0) == 1, "send: %s", strerror(errno));
    FUZZ_CHECK(wait_for(poll, events, 1, false),
               "no readable event for the datagram");
    FUZZ_CHECK(xpoll_deregister(poll, u) == 0, "deregister udp");
    close(c);

    FUZZ_CHECK(xpoll_local_addr(l, at, sizeof at) > 0, "local_addr");
    c = xpoll_tcp_connect(at);
    FUZZ_CHECK(c >= 0, "tcp_connect to %s: %d", at, c);
    FUZZ_CHECK(xpoll_register(poll, l, 2, XPOLL_READABLE) == 0,
               "register listener");
    FUZZ_CHECK(xpoll_register(poll, c, 3, XPOLL_WRITABLE) == 0,
               "register client");
    FUZZ_CHECK(wait_for(poll, events, 3, true),
               "connect never became writable");
    FUZZ_CHECK(xpoll_socket_error(c) == 0, "connect failed: %d",
               xpoll_socket_error(c));
    int a = xpoll_accept(l);
    if (a == -EAGAIN) {
        FUZZ_CHECK(wait_for(poll, events, 2, false),
                   "no event for the connection");
        a = xpoll_accept(l);
    }
    FUZZ_CHECK(a >= 0, "accept: %d", a);
    check_flags(a, "xpoll_accept");
    check_round_trip(a, true);
    struct sockaddr_storage ls;
    socklen_t lslen = sizeof ls;
    FUZZ_CHECK(getsockname(l, (struct sockaddr *)&ls, &lslen) == 0 &&
                   port_of(&ls) != 0,
               "listener without a port");
    FUZZ_CHECK(xpoll_deregister(poll, c) == 0 && xpoll_deregister(poll, l) == 0,
               "deregister");
    /* Close with a reset: a million runs leaving TIME_WAIT sockets behind
     * would use up the ephemeral ports, and then binding port 0 fails
     * with EADDRINUSE (seen with both backends fuzzing at once). */
    struct linger reset = {.l_onoff = 1, .l_linger = 0};
    FUZZ_CHECK(setsockopt(a, SOL_SOCKET, SO_LINGER, &reset, sizeof reset) == 0,
               "SO_LINGER");
    close(a);
    close(c);
    xpoll_events_free(events);
    xpoll_free(poll);
    close(u);
    close(l);
}

/* The bytes as an abstract name under our prefix: no file is created, and
 * no socket of anyone else can be reached (a bind, never a connect). */
static void check_abstract(const char *text)
{
    struct sockaddr_un sun;
    char name[sizeof sun.sun_path + MAX_TEXT + 80];
    snprintf(name, sizeof name, "%s%s", abstract_prefix, text);
    size_t n = strlen(name);

    int fd = xpoll_unix_dgram_bind(name);
    if (n > sizeof sun.sun_path) { /* '@' stands for the leading NUL */
        FUZZ_CHECK(fd == -ENAMETOOLONG, "abstract name of %zu bytes: %d", n,
                   fd);
        return;
    }
    FUZZ_CHECK(fd >= 0, "abstract name of %zu bytes: %d", n, fd);
    check_flags(fd, "xpoll_unix_dgram_bind");
    char got[XPOLL_ADDRSTRLEN];
    int m = addr_text(fd, false, got, sizeof got);
    FUZZ_CHECK(m == (int)n && memcmp(got, name, n) == 0,
               "abstract name came back as %d bytes", m);
    close(fd);

    /* The same length as a path: refused before any file is touched. */
    char path[sizeof name];
    memset(path, 'p', n);
    path[0] = '/';
    path[n] = '\0';
    if (n >= sizeof sun.sun_path) {
        FUZZ_CHECK(xpoll_unix_dgram_bind(path) == -ENAMETOOLONG &&
                       xpoll_unix_listen(path, 0) == -ENAMETOOLONG &&
                       xpoll_unix_connect(path) == -ENAMETOOLONG,
                   "path of %zu bytes not -ENAMETOOLONG", n);
    }
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    signal(SIGPIPE, SIG_IGN);
    snprintf(abstract_prefix, sizeof abstract_prefix, "@xpoll-fuzz-%ld-",
             (long)getpid());
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char text[MAX_TEXT + 1];

    if (abstract_prefix[0] == '\0')
        LLVMFuzzerInitialize(NULL, NULL);
    if (size == 0)
        return 0;
    unsigned flags = data[0] & 0x80 ? (unsigned)data[0] & 0x3 : 0;
    size_t n = size - 1 > MAX_TEXT ? MAX_TEXT : size - 1;
    memcpy(text, data + 1, n);
    text[n] = '\0'; /* C strings: the text ends at its first NUL */
    current_input = text;

    if (text[0] == '\0') {
        FUZZ_CHECK(xpoll_udp_connect(text) == -EINVAL &&
                       xpoll_udp_bind(text, 0) == -EINVAL &&
                       xpoll_tcp_listen(text, 0, 0) == -EINVAL &&
                       xpoll_unix_dgram_bind(text) == -EINVAL,
                   "empty address not -EINVAL");
        return 0;
    }
    struct ref ref = ref_parse(text);
    check_udp_connect(text, &ref);
    if (ref.valid && ref.loopback && port_of(&ref.ss) == 0)
        check_bind_listen(text, &ref, flags);
    else if (!ref.valid)
        FUZZ_CHECK(xpoll_udp_bind(text, flags) == -EINVAL &&
                       xpoll_tcp_listen(text, 0, flags) == -EINVAL,
                   "bind/listen of an invalid address not -EINVAL");
    check_abstract(text);
    return 0;
}
