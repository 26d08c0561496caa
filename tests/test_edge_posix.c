/*
 * Edge-triggered readiness (edge.h) on what POSIX systems alone have:
 * Unix stream and datagram sockets, pipes, and an eventfd (where the
 * system has one: Linux, FreeBSD).  Built for POSIX systems only.
 */
#include "edge.h"

READ_TESTS(unix_stream, UNIX_STREAM)
READ_TESTS(unix_dgram, UNIX_DGRAM)
READ_TESTS(pipe, PIPE)
READ_TESTS(eventfd, EVENTFD)
KIND_TEST(both_interests, unix_stream, UNIX_STREAM)
KIND_TEST(both_interests, unix_dgram, UNIX_DGRAM)
KIND_TEST(both_interests, eventfd, EVENTFD)
KIND_TEST(partial_read_gives_no_event, unix_stream, UNIX_STREAM)
KIND_TEST(partial_read_gives_no_event, pipe, PIPE)
KIND_TEST(writable_again_after_drain, unix_stream, UNIX_STREAM)
KIND_TEST(writable_again_after_drain, unix_dgram, UNIX_DGRAM)
KIND_TEST(writable_again_after_drain, pipe, PIPE)
KIND_TEST(writable_again_after_drain, eventfd, EVENTFD)

int main(void)
{
    const struct CMUnitTest tests[] = {
        READ_ENTRIES(unix_stream),
        READ_ENTRIES(unix_dgram),
        READ_ENTRIES(pipe),
        READ_ENTRIES(eventfd),
        T(both_interests__unix_stream),
        T(both_interests__unix_dgram),
        T(both_interests__eventfd),
        T(partial_read_gives_no_event__unix_stream),
        T(partial_read_gives_no_event__pipe),
        T(writable_again_after_drain__unix_stream),
        T(writable_again_after_drain__unix_dgram),
        T(writable_again_after_drain__pipe),
        T(writable_again_after_drain__eventfd),
    };
    return RUN(tests, NULL, NULL);
}
