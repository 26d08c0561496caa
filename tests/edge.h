/*
 * The edge-triggered behaviours, one function per behaviour, run by
 * test_edge.c on the pairs every system has (TCP, UDP) and by
 * test_edge_posix.c on the POSIX ones (Unix stream and datagram sockets,
 * pipes, an eventfd where the system has one: Linux, FreeBSD).
 *
 *  - an event per edge (the descriptor becomes ready: one event);
 *  - no second event while the readiness is not consumed to EAGAIN;
 *  - new readiness after EAGAIN gives a new event;
 *  - the same for writability: an initial edge, then one after the peer
 *    drains a full buffer.
 *
 * Every test that reads or writes until EAGAIN then calls xpoll_rearm()
 * for that direction, as the contract asks of every program: free on
 * epoll and kqueue (no system call), required on the level-triggered
 * poll(2) backend and on iocp, which report a direction once and then
 * wait for the re-arm.
 */
#ifndef XPOLL_TESTS_EDGE_H
#define XPOLL_TESTS_EDGE_H

#include "support.h"

void one_event_per_edge(struct fixture *f, enum pair_kind kind);
void no_second_event_before_eagain(struct fixture *f, enum pair_kind kind);
void new_data_after_eagain(struct fixture *f, enum pair_kind kind);
/* A byte stream can be read in part; datagrams and eventfd reads are
 * whole. */
void partial_read_gives_no_event(struct fixture *f, enum pair_kind kind);
void writable_initial_edge(struct fixture *f, enum pair_kind kind);
/* UDP never reports a full send buffer on loopback (datagrams are dropped
 * at the receiver instead), so it has no "writable again" edge to test. */
void writable_again_after_drain(struct fixture *f, enum pair_kind kind);
/* A pipe's read end is never writable, so it has no merged event. */
void both_interests(struct fixture *f, enum pair_kind kind);

#define KIND_TEST(behaviour, kind, KIND)                                       \
    static void behaviour##__##kind(void **state)                              \
    {                                                                          \
        behaviour(*state, PAIR_##KIND);                                        \
    }
#define READ_TESTS(kind, KIND)                                                 \
    KIND_TEST(one_event_per_edge, kind, KIND)                                  \
    KIND_TEST(no_second_event_before_eagain, kind, KIND)                       \
    KIND_TEST(new_data_after_eagain, kind, KIND)                               \
    KIND_TEST(writable_initial_edge, kind, KIND)

#define T(name)                                                                \
    cmocka_unit_test_setup_teardown(name, fixture_setup, fixture_teardown)
#define READ_ENTRIES(kind)                                                     \
    T(one_event_per_edge__##kind), T(no_second_event_before_eagain__##kind),   \
        T(new_data_after_eagain__##kind), T(writable_initial_edge__##kind)

#endif /* XPOLL_TESTS_EDGE_H */
