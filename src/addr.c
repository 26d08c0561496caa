/*
 * Address text <-> sockaddr, in the syntax include/xpoll/net.h documents.
 * Numeric only: nothing here can block.  Fuzzed through the public
 * functions by tests/fuzz/fuzz_addr.c.
 */
#define _GNU_SOURCE /* strnlen(), if_nametoindex() under -std=c11 on glibc */
#include "addr.h"

#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

/* inet_pton(), inet_ntop(), if_nametoindex(), if_indextoname() and
 * XPOLL__HAVE_ABSTRACT_UNIX come from sys/net_sys.h (through addr.h):
 * <arpa/inet.h> and <net/if.h> on POSIX, Winsock and the IP Helper API on
 * Windows. */

/* 1 to 5 decimal digits, at most 65535.  strtoul() is not used: it accepts
 * leading blanks, a sign and "0x", which would make "+80" or " 80" valid. */
static int parse_port(const char *s, size_t n, uint16_t *port)
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
int xpoll__addr_parse_ip(const char *addr, struct sockaddr_storage *ss,
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
            /* Through a uint32_t: Winsock's sin6_scope_id is a ULONG. */
            uint32_t scope;
            *pct = '\0';
            if (parse_scope(pct + 1, &scope) < 0)
                return -EINVAL;
            sin6->sin6_scope_id = scope;
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
int xpoll__addr_parse_unix(const char *path, struct sockaddr_un *sun,
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

int xpoll__addr_format(const struct sockaddr_storage *ss, socklen_t sslen,
                       char *buf, size_t len)
{
    char host[INET6_ADDRSTRLEN + 1 + IF_NAMESIZE + 1];
    char port[8];
    size_t pos = 0;
    int err;

    if (len == 0)
        return -ENOSPC;
    buf[0] = '\0';
    /* An unnamed Unix socket may come back with length 0 and no family
     * (BSD, some Linux paths); it is still "unnamed", not an error. */
    if (sslen == 0)
        return 0;

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
        size_t n = (size_t)sslen > off ? (size_t)sslen - off : 0;
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
