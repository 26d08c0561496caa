/*
 * platform.h on Windows: the console's Ctrl+C, the clock.
 *
 * A console program learns of Ctrl+C and Ctrl+Break through a handler
 * installed with SetConsoleCtrlHandler, which the system runs on a thread
 * of its own ("HandlerRoutine callback function", Microsoft Learn).  Being
 * a thread, it may do what a signal handler may not; here it wakes the
 * loop as the POSIX signal handler does.  Under Wine, a SIGINT sent to the
 * process runs the same handlers: int_handler in
 * dlls/ntdll/unix/signal_x86_64.c starts a thread at __wine_ctrl_routine
 * with CTRL_C_EVENT.
 */
#include "platform.h"

#include <windows.h>

void platform_setup_process(void)
{
}

/* The handler thread may still be running when the loop has ended: the
 * lock keeps it from using a waker that platform_stop_off() has let go. */
static SRWLOCK stop_lock = SRWLOCK_INIT;
static atomic_bool *stop_flag;
static xpoll_waker *stop_waker;

static BOOL WINAPI on_console_event(DWORD event)
{
    if (event != CTRL_C_EVENT && event != CTRL_BREAK_EVENT)
        return FALSE; /* the next handler, or the default: exit */
    AcquireSRWLockExclusive(&stop_lock);
    if (stop_waker != NULL) {
        atomic_store(stop_flag, true);
        xpoll_waker_wake(stop_waker);
    }
    ReleaseSRWLockExclusive(&stop_lock);
    return TRUE;
}

void platform_stop_on_request(atomic_bool *stop, xpoll_waker *waker)
{
    AcquireSRWLockExclusive(&stop_lock);
    stop_flag = stop;
    stop_waker = waker;
    ReleaseSRWLockExclusive(&stop_lock);
    SetConsoleCtrlHandler(on_console_event, TRUE);
}

void platform_stop_off(void)
{
    SetConsoleCtrlHandler(on_console_event, FALSE);
    AcquireSRWLockExclusive(&stop_lock);
    stop_waker = NULL;
    ReleaseSRWLockExclusive(&stop_lock);
}

/* WSAEMFILE exists, but Windows has no small per-process limit on sockets
 * to shed connections at: no spare. */
int platform_spare_open(void)
{
    return -1;
}

void platform_spare_close(int fd)
{
    (void)fd;
}

/* The performance counter (QueryPerformanceCounter, Microsoft Learn:
 * monotonic), in nanoseconds without overflowing. */
int64_t platform_now_ns(void)
{
    LARGE_INTEGER c, f;
    QueryPerformanceCounter(&c);
    QueryPerformanceFrequency(&f);
    return (int64_t)(c.QuadPart / f.QuadPart * 1000000000 +
                     c.QuadPart % f.QuadPart * 1000000000 / f.QuadPart);
}

unsigned long platform_pid(void)
{
    return (unsigned long)GetCurrentProcessId();
}
