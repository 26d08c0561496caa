/*
 * The backends this build carries, best first.  CMake decides which
 * backend files are compiled and defines XPOLL_HAVE_<BACKEND> for each.
 * poll(2) comes last: O(registered descriptors) per wait, and it needs the
 * re-arm rule, so it is the default only where neither epoll nor kqueue
 * exists.
 */
#include <stddef.h>

#include "selector.h"

#ifdef XPOLL_HAVE_EPOLL
extern const struct xpoll__selector xpoll__epoll_selector;
#endif
#ifdef XPOLL_HAVE_KQUEUE
extern const struct xpoll__selector xpoll__kqueue_selector;
#endif
#ifdef XPOLL_HAVE_POLL
extern const struct xpoll__selector xpoll__pollfd_selector;
#endif
#ifdef XPOLL_HAVE_IOCP
extern const struct xpoll__selector xpoll__iocp_selector;
#endif

const struct xpoll__selector *const xpoll__selectors[] = {
#ifdef XPOLL_HAVE_EPOLL
    &xpoll__epoll_selector,
#endif
#ifdef XPOLL_HAVE_KQUEUE
    &xpoll__kqueue_selector,
#endif
#ifdef XPOLL_HAVE_POLL
    &xpoll__pollfd_selector,
#endif
#ifdef XPOLL_HAVE_IOCP
    &xpoll__iocp_selector, /* Windows: the only one there */
#endif
    NULL,
};
