/*
 * The caller-owned event buffer.  The event accessors are inline functions
 * in <xpoll/poll.h>; XPOLL__EMIT_INLINES makes this file compile their
 * bodies out of line too, so the library exports them.
 */
#define XPOLL__EMIT_INLINES
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>

#include "sys/selector.h"
#include "xpoll/timer.h"

/* A timer's event can be told from any descriptor's. */
_Static_assert((XPOLL__EV_TIMER &
                (XPOLL__EV_IN | XPOLL__EV_PRI | XPOLL__EV_OUT | XPOLL__EV_ERR |
                 XPOLL__EV_HUP | XPOLL__EV_RDHUP | XPOLL__EV_WRITE_EOF |
                 XPOLL__EV_KQ_ERROR | XPOLL__EV_AIO | XPOLL__EV_LIO)) == 0,
               "XPOLL__EV_TIMER must be a readiness bit of its own");

size_t xpoll__native_event_size(void)
{
    size_t size = 0;

    for (size_t i = 0; xpoll__selectors[i] != NULL; i++) {
        if (xpoll__selectors[i]->native_event_size > size)
            size = xpoll__selectors[i]->native_event_size;
    }
    return size;
}

int xpoll_events_new(xpoll_events **out, size_t capacity)
{
    if (out == NULL)
        return -EINVAL;
    *out = NULL;
    if (capacity == 0)
        return -EINVAL;

    /* One allocation: header, events, then the backend's scratch array
     * (none on epoll), which starts on an 8-byte boundary. */
    size_t native_size = xpoll__native_event_size();
    size_t per_event = sizeof(struct xpoll_event) + native_size;
    if (capacity > (SIZE_MAX - sizeof(xpoll_events) - 8) / per_event)
        return -ENOMEM;
    size_t item_bytes =
        (capacity * sizeof(struct xpoll_event) + 7) & ~(size_t)7;
    size_t total = sizeof(xpoll_events) + item_bytes + capacity * native_size;

    xpoll_events *events = malloc(total);
    if (events == NULL)
        return -ENOMEM;
    events->xpoll__len = 0;
    events->xpoll__capacity = capacity;
    events->xpoll__items = (struct xpoll_event *)(void *)(events + 1);
    events->xpoll__native = (char *)(events + 1) + item_bytes;
    *out = events;
    return 0;
}

void xpoll_events_free(xpoll_events *events)
{
    free(events);
}

size_t xpoll_events_capacity(const xpoll_events *events)
{
    return events != NULL ? events->xpoll__capacity : 0;
}

void xpoll_events_clear(xpoll_events *events)
{
    if (events != NULL)
        events->xpoll__len = 0;
}
