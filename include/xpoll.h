/*
 * xpoll.h - an edge-triggered event reactor for C, in the style of mio.
 *
 * Include this header and link xpoll (pkg-config xpoll, or CMake
 * find_package(xpoll CONFIG) and the target xpoll::xpoll).
 *
 *   <xpoll/poll.h>  the reactor: poll, registration, events, waker
 *   <xpoll/net.h>   non-blocking socket helpers
 *   <xpoll/timer.h> timers, delivered as events
 *
 * Copyright (c) 2026 the xpoll authors.  MIT licence, see LICENSE.
 */
#ifndef XPOLL_H
#define XPOLL_H

#include "xpoll/poll.h"
#include "xpoll/net.h"
#include "xpoll/timer.h"

#define XPOLL_VERSION_MAJOR 0
#define XPOLL_VERSION_MINOR 1
#define XPOLL_VERSION_PATCH 0

#ifdef __cplusplus
extern "C" {
#endif

/**
 * The library's version as "MAJOR.MINOR.PATCH".  Compare it with the
 * XPOLL_VERSION_* macros to detect a header/library mismatch.
 */
XPOLL_API const char *xpoll_version(void);

#ifdef __cplusplus
}
#endif

#endif /* XPOLL_H */
