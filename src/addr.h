/*
 * Address text <-> sockaddr for the socket helpers (src/addr.c).  Not
 * installed.  Each function returns 0 (or a length) or a negative errno,
 * never touching the network.
 */
#ifndef XPOLL_ADDR_H
#define XPOLL_ADDR_H

#include <stddef.h>

#include "sys/net_sys.h" /* struct sockaddr_storage, sockaddr_un, socklen_t */

/* "host:port", "[v6%scope]:port" or a bare port (127.0.0.1), numeric
 * only.  -EINVAL for anything else. */
int xpoll__addr_parse_ip(const char *addr, struct sockaddr_storage *ss,
                         socklen_t *len);

/* A path, or "@name" for a Linux abstract name (-ENOTSUP elsewhere).
 * *len is what makes a name abstract or not, so pass it to the kernel as
 * it is.  -EINVAL (empty, or "@" alone), -ENAMETOOLONG (does not fit
 * sun_path). */
int xpoll__addr_parse_unix(const char *path, struct sockaddr_un *sun,
                           socklen_t *len);

/* The text of a kernel-returned address of length sslen, NUL-terminated
 * in buf: its length, -ENOSPC (len too small, NUL included) or
 * -EAFNOSUPPORT.  Length 0 (an unnamed Unix socket) is "". */
int xpoll__addr_format(const struct sockaddr_storage *ss, socklen_t sslen,
                       char *buf, size_t len);

#endif /* XPOLL_ADDR_H */
