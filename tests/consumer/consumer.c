/* A tiny program built against the *installed* xpoll, as a user would. */
#include <stdio.h>
#include <string.h>
#include <xpoll.h>

int main(void)
{
    char expected[32];
    xpoll *poll = NULL;
    xpoll_events *events = NULL;
    xpoll_waker *waker = NULL;
    int ok = 0;

    snprintf(expected, sizeof expected, "%d.%d.%d", XPOLL_VERSION_MAJOR,
             XPOLL_VERSION_MINOR, XPOLL_VERSION_PATCH);
    if (strcmp(expected, xpoll_version()) == 0 && xpoll_new(&poll) == 0 &&
        xpoll_events_new(&events, 8) == 0 &&
        xpoll_waker_new(poll, 42, &waker) == 0 &&
        xpoll_waker_wake(waker) == 0 && xpoll_wait(poll, events, -1) == 1 &&
        xpoll_event_token(xpoll_events_get(events, 0)) == 42)
        ok = 1;
    printf("%s: xpoll %s on %s\n", ok ? "ok" : "FAILED", xpoll_version(),
           poll ? xpoll_backend_name(xpoll_get_backend(poll)) : "-");
    xpoll_waker_free(waker);
    xpoll_events_free(events);
    xpoll_free(poll);
    return ok ? 0 : 1;
}
