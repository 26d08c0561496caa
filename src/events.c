/*
 * The caller-owned event buffer and the event accessors.  The backend has
 * already reduced each kernel event to XPOLL__EV_* bits, so an accessor is
 * one bit test.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>

#include "sys/selector.h"

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

    /* One allocation: header, translated items, then the kernel's array. */
    size_t native_size = xpoll__native_event_size();
    size_t per_event = sizeof(struct xpoll_event) + native_size;
    if (capacity > (SIZE_MAX - sizeof(xpoll_events)) / per_event)
        return -ENOMEM;
    size_t item_bytes = capacity * sizeof(struct xpoll_event);
    size_t total = sizeof(xpoll_events) + capacity * per_event;

    xpoll_events *events = malloc(total);
    if (events == NULL)
        return -ENOMEM;
    events->len = 0;
    events->capacity = capacity;
    /* items[] ends on an 8-byte boundary (16-byte elements), which suits
     * every kernel event layout we use. */
    events->native = (char *)events + sizeof(xpoll_events) + item_bytes;
    *out = events;
    return 0;
}

void xpoll_events_free(xpoll_events *events)
{
    free(events);
}

size_t xpoll_events_capacity(const xpoll_events *events)
{
    return events != NULL ? events->capacity : 0;
}

size_t xpoll_events_len(const xpoll_events *events)
{
    return events != NULL ? events->len : 0;
}

bool xpoll_events_is_empty(const xpoll_events *events)
{
    return xpoll_events_len(events) == 0;
}

void xpoll_events_clear(xpoll_events *events)
{
    if (events != NULL)
        events->len = 0;
}

const xpoll_event *xpoll_events_get(const xpoll_events *events, size_t index)
{
    if (events == NULL || index >= events->len)
        return NULL;
    return &events->items[index];
}

xpoll_token xpoll_event_token(const xpoll_event *event)
{
    return event != NULL ? event->token : 0;
}

static bool has(const xpoll_event *event, uint32_t bit)
{
    return event != NULL && (event->readiness & bit) != 0;
}

bool xpoll_event_is_readable(const xpoll_event *event)
{
    return has(event, XPOLL__EV_READABLE);
}

bool xpoll_event_is_writable(const xpoll_event *event)
{
    return has(event, XPOLL__EV_WRITABLE);
}

bool xpoll_event_is_error(const xpoll_event *event)
{
    return has(event, XPOLL__EV_ERROR);
}

bool xpoll_event_is_read_closed(const xpoll_event *event)
{
    return has(event, XPOLL__EV_READ_CLOSED);
}

bool xpoll_event_is_write_closed(const xpoll_event *event)
{
    return has(event, XPOLL__EV_WRITE_CLOSED);
}

bool xpoll_event_is_priority(const xpoll_event *event)
{
    return has(event, XPOLL__EV_PRIORITY);
}

bool xpoll_event_is_aio(const xpoll_event *event)
{
    return has(event, XPOLL__EV_AIO);
}

bool xpoll_event_is_lio(const xpoll_event *event)
{
    return has(event, XPOLL__EV_LIO);
}
