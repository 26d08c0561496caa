/*
 * Non-blocking socket helpers (include/xpoll/net.h).  The descriptors come
 * from src/sys/fd.c, which gives them their flags on every platform.
 *
 * Every public function saves errno on entry and restores it on return: the
 * result (a descriptor, a length or a negative errno) is the only channel,
 * and a caller's errno is never disturbed.  Every error path closes what the
 * function opened.
 */
#define _GNU_SOURCE /* strnlen(), if_nametoindex() under -std=c11 on glibc */
#include "xpoll/net.h"

#include <arpa/inet.h>
#include <errno.h>
#include <net/if.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "sys/fd.h"

/* -errno of a failed call, after closing fd.  close() can overwrite errno,
 * so read it first. */
static int fail_close(int fd)
{
    int err = errno;
    close(fd);
    return -err;
}

/* ------------------------------------------------------------------------
 * Address text <-> sockaddr
 * ---------------------------------------------------------------------- */

/* 1 to 5 decimal digits, at most 65535.  strtoul() is not used: it accepts
 * leading blanks, a sign and "0x", which would make "+80" or " 80" valid. */
static int parse_port(const char *s, size_t n, in_port_t *port)
{
    unsigned long v = 0;

    if (n == 0 || n > 5)
        return -EINVAL;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -EINVAL;
        v = v * 10 + (unsigned long)(s[i] - '0');
    }
    if (v > 65535)
        return -EINVAL;
    *port = htons((uint16_t)v);
    return 0;
}

/* "%scope": an interface name or index.  Only link-local addresses need
 * one, but the kernel is the judge of that, not the parser. */
static int parse_scope(const char *s, uint32_t *scope)
{
    if (*s == '\0')
        return -EINVAL;
    size_t digits = strspn(s, "0123456789");
    if (digits == strlen(s)) {
        unsigned long long v = 0;
        if (digits > 10)
            return -EINVAL;
        for (; *s != '\0'; s++)
            v = v * 10 + (unsigned long long)(*s - '0');
        if (v > UINT32_MAX)
            return -EINVAL;
        *scope = (uint32_t)v;
        return 0;
    }
    unsigned idx = if_nametoindex(s);
    if (idx == 0)
        return -EINVAL;
    *scope = idx;
    return 0;
}

/* Numeric only, by design: getaddrinfo() without AI_NUMERICHOST can block
 * on DNS for seconds, which must never happen inside an event loop. */
static int parse_ip(const char *addr, struct sockaddr_storage *ss,
                    socklen_t *len)
{
    char host[INET6_ADDRSTRLEN + IF_NAMESIZE + 1];
    const char *port;
    size_t n;

    if (addr == NULL || *addr == '\0')
        return -EINVAL;
    memset(ss, 0, sizeof *ss);

    if (addr[0] == '[') {
        const char *close = strchr(addr, ']');
        if (close == NULL || close[1] != ':')
            return -EINVAL;
        n = (size_t)(close - (addr + 1));
        if (n == 0 || n >= sizeof host)
            return -EINVAL;
        memcpy(host, addr + 1, n);
        host[n] = '\0';
        port = close + 2;

        struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)ss;
        char *pct = strchr(host, '%');
        if (pct != NULL) {
            *pct = '\0';
            if (parse_scope(pct + 1, &sin6->sin6_scope_id) < 0)
                return -EINVAL;
        }
        if (inet_pton(AF_INET6, host, &sin6->sin6_addr) != 1 ||
            parse_port(port, strlen(port), &sin6->sin6_port) < 0)
            return -EINVAL;
        sin6->sin6_family = AF_INET6;
        *len = sizeof *sin6;
        return 0;
    }

    struct sockaddr_in *sin = (struct sockaddr_in *)ss;
    const char *colon = strchr(addr, ':');
    if (colon == NULL) {
        /* A bare port: loopback, the safe default for a quick server. */
        strcpy(host, "127.0.0.1");
        port = addr;
    } else {
        /* An IPv6 address without brackets ("::1:80": is 80 a port or the
         * last group?) fails here too: its text before the first colon is
         * never an IPv4 address. */
        n = (size_t)(colon - addr);
        if (n == 0 || n >= sizeof host)
            return -EINVAL;
        memcpy(host, addr, n);
        host[n] = '\0';
        port = colon + 1;
    }
    if (inet_pton(AF_INET, host, &sin->sin_addr) != 1 ||
        parse_port(port, strlen(port), &sin->sin_port) < 0)
        return -EINVAL;
    sin->sin_family = AF_INET;
    *len = sizeof *sin;
    return 0;
}

/* A Unix address; the length passed to the kernel is what makes a name
 * abstract or not, so it is computed here once. */
static int parse_unix(const char *path, struct sockaddr_un *sun,
                      socklen_t *len)
{
    if (path == NULL || *path == '\0')
        return -EINVAL;
    memset(sun, 0, sizeof *sun);
    sun->sun_family = AF_UNIX;
    size_t n = strlen(path);

    if (path[0] == '@') {
        if (!XPOLL__HAVE_ABSTRACT_UNIX)
            return -ENOTSUP;
        /* Abstract namespace: sun_path starts with a NUL, and the name is
         * exactly the bytes the length covers (no terminating NUL). */
        if (n == 1)
            return -EINVAL;
        if (n > sizeof sun->sun_path)
            return -ENAMETOOLONG;
        memcpy(sun->sun_path + 1, path + 1, n - 1);
        *len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n);
        return 0;
    }
    /* Keep room for the NUL: some kernels (BSD) require it, and
     * getsockname() could not return the path unambiguously otherwise. */
    if (n >= sizeof sun->sun_path)
        return -ENAMETOOLONG;
    memcpy(sun->sun_path, path, n + 1);
    *len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n + 1);
    return 0;
}

/* Append src (n bytes) to buf at *pos, or fail with -ENOSPC, keeping room
 * for the terminating NUL. */
static int put(char *buf, size_t len, size_t *pos, const char *src, size_t n)
{
    if (len - *pos <= n)
        return -ENOSPC;
    memcpy(buf + *pos, src, n);
    *pos += n;
    buf[*pos] = '\0';
    return 0;
}

static int format_addr(const struct sockaddr_storage *ss, socklen_t sslen,
                       char *buf, size_t len)
{
    char host[INET6_ADDRSTRLEN + 1 + IF_NAMESIZE + 1];
    char port[8];
    size_t pos = 0;
    int err;

    if (len == 0)
        return -ENOSPC;
    buf[0] = '\0';

    switch (ss->ss_family) {
    case AF_INET: {
        const struct sockaddr_in *sin = (const struct sockaddr_in *)ss;
        inet_ntop(AF_INET, &sin->sin_addr, host, sizeof host);
        snprintf(port, sizeof port, ":%u", (unsigned)ntohs(sin->sin_port));
        if ((err = put(buf, len, &pos, host, strlen(host))) < 0 ||
            (err = put(buf, len, &pos, port, strlen(port))) < 0)
            return err;
        return (int)pos;
    }
    case AF_INET6: {
        const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *)ss;
        inet_ntop(AF_INET6, &sin6->sin6_addr, host, sizeof host);
        if (sin6->sin6_scope_id != 0) {
            /* Prefer the interface name (what users type); an index that
             * names no interface (any more) is still valid input. */
            char ifname[IF_NAMESIZE];
            size_t h = strlen(host);
            if (if_indextoname(sin6->sin6_scope_id, ifname) != NULL)
                snprintf(host + h, sizeof host - h, "%%%s", ifname);
            else
                snprintf(host + h, sizeof host - h, "%%%lu",
                         (unsigned long)sin6->sin6_scope_id);
        }
        snprintf(port, sizeof port, ":%u", (unsigned)ntohs(sin6->sin6_port));
        if ((err = put(buf, len, &pos, "[", 1)) < 0 ||
            (err = put(buf, len, &pos, host, strlen(host))) < 0 ||
            (err = put(buf, len, &pos, "]", 1)) < 0 ||
            (err = put(buf, len, &pos, port, strlen(port))) < 0)
            return err;
        return (int)pos;
    }
    case AF_UNIX: {
        const struct sockaddr_un *sun = (const struct sockaddr_un *)ss;
        size_t off = offsetof(struct sockaddr_un, sun_path);
        /* The name's length comes from the returned address length: a path
         * that fills sun_path has no NUL, and an unnamed socket (socketpair,
         * an unbound client) returns no name at all (mio #1403/#1817). */
        size_t n = sslen > off ? (size_t)sslen - off : 0;
        if (n > sizeof sun->sun_path)
            n = sizeof sun->sun_path;
        if (n == 0)
            return 0;
        if (sun->sun_path[0] == '\0') {
            /* Linux abstract name; its bytes are copied as they are. */
            if ((err = put(buf, len, &pos, "@", 1)) < 0 ||
                (err = put(buf, len, &pos, sun->sun_path + 1, n - 1)) < 0)
                return err;
        } else {
            n = strnlen(sun->sun_path, n);
            if ((err = put(buf, len, &pos, sun->sun_path, n)) < 0)
                return err;
        }
        return (int)pos;
    }
    default:
        return -EAFNOSUPPORT;
    }
}

/* ------------------------------------------------------------------------
 * Sockets
 * ---------------------------------------------------------------------- */

static int set_int_opt(int fd, int level, int name, int value)
{
    return setsockopt(fd, level, name, &value, sizeof value) < 0 ? -errno : 0;
}

/* socket() + options + bind() [+ listen()], closing on any failure. */
static int bound_socket(const struct sockaddr *sa, socklen_t salen, int type,
                        unsigned flags, int reuseaddr, int backlog)
{
    if (flags & ~XPOLL_NET_REUSEPORT)
        return -EINVAL;
    if ((flags & XPOLL_NET_REUSEPORT) && !xpoll__have_so_reuseport())
        return -ENOTSUP;
    int fd = xpoll__socket(sa->sa_family, type);
    if (fd < 0)
        return fd;
    int err = 0;
    /* SO_REUSEADDR lets a restarted server bind while connections of its
     * previous run linger in TIME_WAIT.  It is not set on UDP sockets:
     * there it would let two sockets silently share one port. */
    if (reuseaddr)
        err = set_int_opt(fd, SOL_SOCKET, SO_REUSEADDR, 1);
    if (err == 0 && (flags & XPOLL_NET_REUSEPORT))
        err = xpoll__set_reuseport(fd);
    if (err == 0 && bind(fd, sa, salen) < 0)
        err = -errno;
    if (err == 0 && type == SOCK_STREAM &&
        listen(fd, backlog <= 0 ? SOMAXCONN : backlog) < 0)
        err = -errno;
    if (err < 0) {
        close(fd);
        return err;
    }
    return fd;
}

/* socket() + connect() that may finish later. */
static int connecting_socket(const struct sockaddr *sa, socklen_t salen,
                             int type)
{
    int fd = xpoll__socket(sa->sa_family, type);
    if (fd < 0)
        return fd;
    /* EINPROGRESS: the handshake goes on in the background; writability
     * plus SO_ERROR report how it ended.  EINTR means the same thing for a
     * connect (POSIX: "the connection shall be established
     * asynchronously"), and calling connect() again would fail with
     * EALREADY.  Linux Unix sockets answer EAGAIN instead when the
     * listener's backlog is full: that connect did not happen. */
    if (connect(fd, sa, salen) < 0 && errno != EINPROGRESS && errno != EINTR)
        return fail_close(fd);
    return fd;
}

static int tcp_listen(const char *addr, int backlog, unsigned flags)
{
    struct sockaddr_storage ss;
    socklen_t len;
    int err = parse_ip(addr, &ss, &len);
    if (err < 0)
        return err;
    return bound_socket((struct sockaddr *)&ss, len, SOCK_STREAM, flags, 1,
                        backlog);
}

int xpoll_tcp_listen(const char *addr, int backlog, unsigned flags)
{
    int saved = errno;
    int r = tcp_listen(addr, backlog, flags);
    errno = saved;
    return r;
}

static int tcp_connect(const char *addr)
{
    struct sockaddr_storage ss;
    socklen_t len;
    int err = parse_ip(addr, &ss, &len);
    if (err < 0)
        return err;
    return connecting_socket((struct sockaddr *)&ss, len, SOCK_STREAM);
}

int xpoll_tcp_connect(const char *addr)
{
    int saved = errno;
    int r = tcp_connect(addr);
    errno = saved;
    return r;
}

/* Errors that belong to the connection accept() just dequeued, not to the
 * listener: POSIX's ECONNABORTED (reset while in the backlog) and the
 * network errors Linux passes through from the new socket (accept(2),
 * "Error handling").  The next connection may be fine, so accept again;
 * each failed call consumed one connection, so this loop ends. */
static int accept_retryable(int err)
{
    return err == EINTR || err == ECONNABORTED || err == EPROTO ||
           err == ENETDOWN || err == ENETUNREACH || err == EHOSTUNREACH ||
           err == ENOPROTOOPT;
}

static int accept_one(int listen_fd)
{
    int fd;
    while ((fd = xpoll__accept(listen_fd)) < 0 && accept_retryable(-fd))
        ;
    return fd;
}

int xpoll_accept(int listen_fd)
{
    int saved = errno;
    int r = accept_one(listen_fd);
    errno = saved;
    return r;
}

int xpoll_tcp_nodelay(int fd, bool on)
{
    int saved = errno;
    int r = set_int_opt(fd, IPPROTO_TCP, TCP_NODELAY, on ? 1 : 0);
    errno = saved;
    return r;
}

int xpoll_socket_error(int fd)
{
    int saved = errno, value = 0;
    socklen_t len = sizeof value;
    int r = getsockopt(fd, SOL_SOCKET, SO_ERROR, &value, &len) < 0 ? -errno
                                                                  : -value;
    errno = saved;
    return r;
}

static int udp_bind(const char *addr, unsigned flags)
{
    struct sockaddr_storage ss;
    socklen_t len;
    int err = parse_ip(addr, &ss, &len);
    if (err < 0)
        return err;
    return bound_socket((struct sockaddr *)&ss, len, SOCK_DGRAM, flags, 0, 0);
}

int xpoll_udp_bind(const char *addr, unsigned flags)
{
    int saved = errno;
    int r = udp_bind(addr, flags);
    errno = saved;
    return r;
}

static int udp_connect(const char *addr)
{
    struct sockaddr_storage ss;
    socklen_t len;
    int err = parse_ip(addr, &ss, &len);
    if (err < 0)
        return err;
    /* A UDP connect() only sets the default peer; it never blocks. */
    int fd = xpoll__socket(ss.ss_family, SOCK_DGRAM);
    if (fd < 0)
        return fd;
    if (connect(fd, (struct sockaddr *)&ss, len) < 0)
        return fail_close(fd);
    return fd;
}

int xpoll_udp_connect(const char *addr)
{
    int saved = errno;
    int r = udp_connect(addr);
    errno = saved;
    return r;
}

static int unix_listen(const char *path, int backlog)
{
    struct sockaddr_un sun;
    socklen_t len;
    int err = parse_unix(path, &sun, &len);
    if (err < 0)
        return err;
    return bound_socket((struct sockaddr *)&sun, len, SOCK_STREAM, 0, 0,
                        backlog);
}

int xpoll_unix_listen(const char *path, int backlog)
{
    int saved = errno;
    int r = unix_listen(path, backlog);
    errno = saved;
    return r;
}

static int unix_connect(const char *path)
{
    struct sockaddr_un sun;
    socklen_t len;
    int err = parse_unix(path, &sun, &len);
    if (err < 0)
        return err;
    return connecting_socket((struct sockaddr *)&sun, len, SOCK_STREAM);
}

int xpoll_unix_connect(const char *path)
{
    int saved = errno;
    int r = unix_connect(path);
    errno = saved;
    return r;
}

static int unix_dgram_bind(const char *path)
{
    struct sockaddr_un sun;
    socklen_t len = 0;
    if (path != NULL) {
        int err = parse_unix(path, &sun, &len);
        if (err < 0)
            return err;
    }
    int fd = xpoll__socket(AF_UNIX, SOCK_DGRAM);
    if (fd < 0 || path == NULL)
        return fd;
    if (bind(fd, (struct sockaddr *)&sun, len) < 0)
        return fail_close(fd);
    return fd;
}

int xpoll_unix_dgram_bind(const char *path)
{
    int saved = errno;
    int r = unix_dgram_bind(path);
    errno = saved;
    return r;
}

int xpoll_socketpair(int type, int fds[2])
{
    if (fds == NULL)
        return -EINVAL;
    fds[0] = fds[1] = -1;
    /* Linux quietly turns SOCK_RAW into a datagram pair; net.h promises
     * the three connection types and nothing else. */
    if (type != SOCK_STREAM && type != SOCK_DGRAM && type != SOCK_SEQPACKET)
        return -EINVAL;
    int saved = errno;
    int r = xpoll__socketpair(type, fds);
    errno = saved;
    return r;
}

int xpoll_pipe(int fds[2])
{
    if (fds == NULL)
        return -EINVAL;
    fds[0] = fds[1] = -1;
    int saved = errno;
    int r = xpoll__pipe(fds);
    errno = saved;
    return r;
}

static int sock_addr(int fd, char *buf, size_t len, int peer)
{
    struct sockaddr_storage ss;
    socklen_t sslen = sizeof ss;

    if (buf == NULL)
        return -EINVAL;
    memset(&ss, 0, sizeof ss);
    int r = peer ? getpeername(fd, (struct sockaddr *)&ss, &sslen)
                 : getsockname(fd, (struct sockaddr *)&ss, &sslen);
    if (r < 0)
        return -errno;
    if (sslen > sizeof ss)
        sslen = sizeof ss;
    /* An unnamed Unix socket may come back with length 0 and no family
     * (BSD, some Linux paths); it is still "unnamed", not an error. */
    if (sslen == 0) {
        if (len == 0)
            return -ENOSPC;
        buf[0] = '\0';
        return 0;
    }
    return format_addr(&ss, sslen, buf, len);
}

int xpoll_local_addr(int fd, char *buf, size_t len)
{
    int saved = errno;
    int r = sock_addr(fd, buf, len, 0);
    errno = saved;
    return r;
}

int xpoll_peer_addr(int fd, char *buf, size_t len)
{
    int saved = errno;
    int r = sock_addr(fd, buf, len, 1);
    errno = saved;
    return r;
}
