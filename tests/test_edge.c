/*
 * Edge-triggered readiness (edge.h) on the pairs every system has: TCP
 * and UDP.  The POSIX kinds are in test_edge_posix.c.
 */
#include "edge.h"

READ_TESTS(tcp, TCP)
READ_TESTS(udp, UDP)
KIND_TEST(both_interests, tcp, TCP)
KIND_TEST(both_interests, udp, UDP)
KIND_TEST(partial_read_gives_no_event, tcp, TCP)
KIND_TEST(writable_again_after_drain, tcp, TCP)

int main(void)
{
    const struct CMUnitTest tests[] = {
        READ_ENTRIES(tcp),
        READ_ENTRIES(udp),
        T(both_interests__tcp),
        T(both_interests__udp),
        T(partial_read_gives_no_event__tcp),
        T(writable_again_after_drain__tcp),
    };
    return RUN(tests, NULL, NULL);
}
