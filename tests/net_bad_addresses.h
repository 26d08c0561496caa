/*
 * The malformed addresses test_net.c and test_net_posix.c feed to every
 * function taking an IP address: each must answer -EINVAL, whatever the
 * system would have said, and leave nothing open.
 */
#ifndef XPOLL_TESTS_NET_BAD_ADDRESSES_H
#define XPOLL_TESTS_NET_BAD_ADDRESSES_H

static const char *const bad_addresses[] = {
    "",
    "127.0.0.1",       /* no port: read as a bare port, not a number */
    "127.0.0.1:",      /* empty port */
    ":80",             /* empty host */
    "127.0.0.1:65536", /* port out of range */
    "127.0.0.1:123456",
    "127.0.0.1:-1",
    "127.0.0.1:+80", /* strtol() would take these three */
    "127.0.0.1: 80",
    "127.0.0.1:0x50",
    " 127.0.0.1:80",
    "127.0.0.1:80 ",
    "127.0.0.1:80x",
    "127.0.0.1:80:90",
    "256.0.0.1:80",
    "1.2.3:80",
    "1.2.3.4.5:80",
    "localhost:80", /* names would need DNS, which can block */
    "example.com:80",
    "::1:80", /* IPv6 without brackets */
    "::1",
    "[::1]", /* no port */
    "[::1]:",
    "[::1]80",
    "[::1:80", /* missing ']' */
    "::1]:80", /* missing '[' */
    "[]:80",
    "[127.0.0.1]:80", /* IPv4 in brackets */
    "[::1]:65536",
    "[::1]:80]",
    "[[::1]]:80",
    "[::g]:80",
    "[::1%]:80",            /* empty scope */
    "[::1%no-such-if0]:80", /* unknown interface */
    "[::1%99999999999]:80", /* scope index beyond 32 bits */
    "65536",                /* bare port out of range */
    "99999",
    "-5",
    "abc",
    "8o",
};
#define N_BAD (sizeof bad_addresses / sizeof bad_addresses[0])

#endif /* XPOLL_TESTS_NET_BAD_ADDRESSES_H */
