/*
 * The backends this build carries, best first.  CMake decides which
 * backend files are compiled and defines XPOLL_HAVE_<BACKEND> for each.
 */
#include <stddef.h>

#include "selector.h"

#ifdef XPOLL_HAVE_EPOLL
extern const struct xpoll__selector xpoll__epoll_selector;
#endif
#ifdef XPOLL_HAVE_KQUEUE
extern const struct xpoll__selector xpoll__kqueue_selector;
#endif

const struct xpoll__selector *const xpoll__selectors[] = {
#ifdef XPOLL_HAVE_EPOLL
    &xpoll__epoll_selector,
#endif
#ifdef XPOLL_HAVE_KQUEUE
    &xpoll__kqueue_selector,
#endif
    NULL,
};
