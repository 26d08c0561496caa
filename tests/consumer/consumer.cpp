// The same check from C++: the headers must compile as C++11 with
// extern "C" linkage.
#include <cstdio>
#include <cstring>
#include <string>
#include <xpoll.h>

int main()
{
    const std::string expected = std::to_string(XPOLL_VERSION_MAJOR) + "." +
                                 std::to_string(XPOLL_VERSION_MINOR) + "." +
                                 std::to_string(XPOLL_VERSION_PATCH);
    xpoll *poll = nullptr;
    xpoll_events *events = nullptr;
    xpoll_waker *waker = nullptr;
    bool ok = expected == xpoll_version() && xpoll_new(&poll) == 0 &&
              xpoll_events_new(&events, 8) == 0 &&
              xpoll_waker_new(poll, 42, &waker) == 0 &&
              xpoll_waker_wake(waker) == 0 && xpoll_wait(poll, events, -1) == 1 &&
              xpoll_event_token(xpoll_events_get(events, 0)) == 42;
    std::printf("%s: xpoll %s on %s (C++)\n", ok ? "ok" : "FAILED", xpoll_version(),
                poll ? xpoll_backend_name(xpoll_get_backend(poll)) : "-");
    xpoll_waker_free(waker);
    xpoll_events_free(events);
    xpoll_free(poll);
    return ok ? 0 : 1;
}
