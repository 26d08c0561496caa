/*
 * tcp_echo_threads - the echo engine of tcp_echo_server (tcp_echo_engine.c)
 * on several threads.  Each thread has its own xpoll and its own listener
 * on the same port (SO_REUSEPORT), so the kernel spreads new connections
 * over the threads and they share no state and no lock.  Like the engine,
 * it runs on every backend, poll(2) included (XPOLL_BACKEND=poll).
 *
 *   tcp_echo_threads [ADDR] [THREADS]   default 127.0.0.1:9000, 4 threads
 *
 * Prints the bound address first; on SIGINT or SIGTERM it wakes every
 * thread's waker, prints how many connections each thread served and
 * exits 0.
 */
#define _XOPEN_SOURCE 700

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "platform.h"
#include "tcp_echo_engine.h"

#define MAX_THREADS 64

struct worker {
    pthread_t thread;
    xpoll_socket listen_fd;
    xpoll *poll;
    xpoll_waker *waker;
    unsigned long accepted;
    int err;
};

static atomic_bool stop_requested;

static void *worker_main(void *arg)
{
    struct worker *w = arg;
    w->err =
        echo_serve(w->poll, w->listen_fd, 0, &stop_requested, &w->accepted);
    return NULL;
}

/* Open the listener, poll and waker of one worker. */
static int worker_open(struct worker *w, const char *addr)
{
    w->listen_fd = xpoll_tcp_listen(addr, 0, XPOLL_NET_REUSEPORT);
    if (w->listen_fd < 0)
        return (int)w->listen_fd;
    int err = xpoll_new(&w->poll);
    if (err == 0)
        err = xpoll_waker_new(w->poll, ECHO_WAKER_TOKEN, &w->waker);
    return err;
}

static void worker_close(struct worker *w)
{
    xpoll_waker_free(w->waker);
    xpoll_free(w->poll);
    if (w->listen_fd >= 0)
        xpoll_close(w->listen_fd);
}

int main(int argc, char **argv)
{
    const char *addr = argc > 1 ? argv[1] : "127.0.0.1:9000";
    int nthreads = argc > 2 ? atoi(argv[2]) : 4;
    struct worker workers[MAX_THREADS];
    char name[XPOLL_ADDRSTRLEN];
    int err = 0, n = 0, sig;

    if (argc > 3 || nthreads < 1 || nthreads > MAX_THREADS) {
        fprintf(stderr, "usage: %s [ADDR] [THREADS (1-%d)]\n", argv[0],
                MAX_THREADS);
        return 2;
    }
    platform_setup_process();
    /* Signals go to this thread's sigwait() only: the workers inherit the
     * blocked mask, and no handler runs at all. */
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &set, NULL);

    memset(workers, 0, sizeof workers);
    for (; n < nthreads && err == 0; n++) {
        /* The first listener may ask for port 0; the others must then bind
         * the port it got, so they reuse its text form. */
        err = worker_open(&workers[n], n == 0 ? addr : name);
        if (n == 0 && err == 0) {
            int len = xpoll_local_addr(workers[0].listen_fd, name, sizeof name);
            err = len < 0 ? len : 0;
        }
    }
    if (err < 0) {
        fprintf(stderr, "tcp_echo_threads: %s: %s\n", addr, strerror(-err));
        while (n-- > 0)
            worker_close(&workers[n]);
        return 1;
    }
    printf("%s\n", name);
    fflush(stdout);

    int started = 0;
    while (started < nthreads &&
           pthread_create(&workers[started].thread, NULL, worker_main,
                          &workers[started]) == 0)
        started++;
    if (started == nthreads)
        sigwait(&set, &sig);
    else
        err = -EAGAIN; /* pthread_create failed: stop the ones running */
    atomic_store(&stop_requested, true);
    for (int i = 0; i < started; i++)
        xpoll_waker_wake(workers[i].waker);

    for (int i = 0; i < nthreads; i++) {
        if (i >= started) {
            worker_close(&workers[i]);
            continue;
        }
        pthread_join(workers[i].thread, NULL);
        printf("thread %d: %lu connections\n", i, workers[i].accepted);
        if (workers[i].err < 0) {
            fprintf(stderr, "thread %d: %s\n", i, strerror(-workers[i].err));
            err = workers[i].err;
        }
        worker_close(&workers[i]);
    }
    return err < 0 ? 1 : 0;
}
