/*
 * waker_demo - worker threads hand results to the event-loop thread.
 *
 *   waker_demo [WORKERS] [ITEMS]    default 4 workers, 5 items each
 *
 * Each worker computes ITEMS results, appends each to a mutex-protected
 * queue and calls xpoll_waker_wake().  The loop thread, blocked in
 * xpoll_wait(), takes the whole queue whenever the waker's event arrives.
 * Wakes that happen before the loop gets to the event coalesce into one
 * event, so the loop must empty the queue each time, not take one item.
 * The waker itself needs no re-arm and no draining on any backend, poll(2)
 * included, and the demo does no socket I/O: it runs unchanged everywhere.
 *
 * Prints one line per result and a summary; exits 0 once every result has
 * arrived (1 if they do not within 10 seconds).
 */
#define _XOPEN_SOURCE 700

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <xpoll.h>

#define WAKER_TOKEN ((xpoll_token)1)
#define TIMEOUT_NS  (10 * 1000000000LL)

struct result {
    struct result *next;
    int worker, item, n;
    unsigned long long value;
};

struct shared {
    pthread_mutex_t lock;
    struct result *head, **tail; /* FIFO, so one worker's items stay in order */
    xpoll_waker *waker;
    int items;
};

struct worker {
    pthread_t thread;
    int id;
    struct shared *shared;
};

/* Some work worth a thread: the n-th Fibonacci number, the slow way. */
static unsigned long long fib(int n)
{
    return n < 2 ? (unsigned long long)n : fib(n - 1) + fib(n - 2);
}

static void *worker_main(void *arg)
{
    struct worker *w = arg;
    struct shared *s = w->shared;

    for (int i = 0; i < s->items; i++) {
        struct result *r = malloc(sizeof *r);
        if (r == NULL)
            abort();
        r->next = NULL;
        r->worker = w->id;
        r->item = i;
        r->n = 20 + (w->id + i) % 10;
        r->value = fib(r->n);
        pthread_mutex_lock(&s->lock);
        *s->tail = r;
        s->tail = &r->next;
        pthread_mutex_unlock(&s->lock);
        /* After the unlock: the loop thread may run at once and must find
         * the result already queued. */
        xpoll_waker_wake(s->waker);
    }
    return NULL;
}

int main(int argc, char **argv)
{
    int nworkers = argc > 1 ? atoi(argv[1]) : 4;
    int items = argc > 2 ? atoi(argv[2]) : 5;
    xpoll *poll = NULL;
    xpoll_events *events = NULL;
    struct shared s = {.lock = PTHREAD_MUTEX_INITIALIZER, .items = items};
    struct worker *workers = NULL;
    int received = 0, wakeups = 0, started = 0, status = 1, err;

    if (argc > 3 || nworkers < 1 || nworkers > 64 || items < 1 || items > 20) {
        fprintf(stderr, "usage: %s [WORKERS (1-64)] [ITEMS (1-20)]\n", argv[0]);
        return 2;
    }
    s.tail = &s.head;
    if ((err = xpoll_new(&poll)) < 0 ||
        (err = xpoll_events_new(&events, 8)) < 0 ||
        (err = xpoll_waker_new(poll, WAKER_TOKEN, &s.waker)) < 0) {
        fprintf(stderr, "waker_demo: %s\n", strerror(-err));
        goto out;
    }
    workers = calloc((size_t)nworkers, sizeof *workers);
    if (workers == NULL)
        goto out;
    for (; started < nworkers; started++) {
        workers[started].id = started;
        workers[started].shared = &s;
        if (pthread_create(&workers[started].thread, NULL, worker_main,
                           &workers[started]) != 0)
            goto out;
    }

    while (received < nworkers * items) {
        int n = xpoll_wait(poll, events, TIMEOUT_NS);
        if (n == 0) {
            fprintf(stderr, "waker_demo: timed out with %d of %d results\n",
                    received, nworkers * items);
            goto out;
        }
        if (n < 0 && n != -EINTR) {
            fprintf(stderr, "waker_demo: xpoll_wait: %s\n", strerror(-n));
            goto out;
        }
        for (int i = 0; i < n; i++) {
            if (xpoll_event_token(xpoll_events_get(events, (size_t)i)) !=
                WAKER_TOKEN)
                continue;
            wakeups++;
            pthread_mutex_lock(&s.lock);
            struct result *r = s.head;
            s.head = NULL;
            s.tail = &s.head;
            pthread_mutex_unlock(&s.lock);
            while (r != NULL) {
                struct result *next = r->next;
                printf("worker %d item %d: fib(%d) = %llu\n", r->worker,
                       r->item, r->n, r->value);
                received++;
                free(r);
                r = next;
            }
        }
    }
    printf("received %d results from %d workers in %d wakeups\n", received,
           nworkers, wakeups);
    status = 0;
out:
    for (int i = 0; i < started; i++)
        pthread_join(workers[i].thread, NULL);
    /* Results that arrived after a failure. */
    while (s.head != NULL) {
        struct result *next = s.head->next;
        free(s.head);
        s.head = next;
    }
    free(workers);
    xpoll_waker_free(s.waker);
    xpoll_events_free(events);
    xpoll_free(poll);
    return status;
}
