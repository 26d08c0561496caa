/* platform.h for Windows: ntdll's NtQuerySystemInformation (thread
 * states, context switches, handles), resolved at run time, and Wine's
 * own export that tells Wine apart. */
#include "platform.h" /* first: xpoll.h brings <winsock2.h> */

#include <windows.h>
#include <winternl.h>

#include <errno.h>
#include <stdlib.h>

/* The layouts ntdll fills on x86-64 (Wine's include/winternl.h gives the
 * offsets: the threads follow the process entry at 0x100, 0x50 bytes
 * each), as mingw-w64's <winternl.h> declares them. */
_Static_assert(sizeof(void *) != 8 ||
                   (sizeof(SYSTEM_PROCESS_INFORMATION) == 0x100 &&
                    sizeof(SYSTEM_THREAD_INFORMATION) == 0x50),
               "SYSTEM_PROCESS_INFORMATION as ntdll fills it");

/* SystemExtendedHandleInformation (class 64): every open handle of every
 * process (Wine's include/winternl.h; mingw-w64 does not declare it). */
enum { SYSTEM_EXTENDED_HANDLE_INFORMATION = 64 };
struct handle_entry {
    void *object;
    ULONG_PTR pid;
    ULONG_PTR handle;
    ULONG access;
    USHORT creator_back_trace_index;
    USHORT type;
    ULONG attributes;
    ULONG reserved;
};
struct handle_information {
    ULONG_PTR count;
    ULONG_PTR reserved;
    struct handle_entry handles[];
};

/* KTHREAD_STATE and KWAIT_REASON values (the Windows Driver Kit's wdm.h
 * declares KWAIT_REASON; Wine's include/ddk/wdm.h has the same). */
enum { THREAD_RUNNING = 2, THREAD_WAITING = 5, WAIT_REASON_WR_QUEUE = 15 };

#define STATUS_INFO_LENGTH_MISMATCH_ ((NTSTATUS)0xC0000004L)

typedef NTSTATUS(NTAPI *query_system_information)(ULONG cls, void *info,
                                                  ULONG size, ULONG *len);

/* NtQuerySystemInformation(cls) into a buffer from malloc, grown until
 * the answer fits; NULL and *err on failure. */
static void *system_information(ULONG cls, int *err)
{
    query_system_information query =
        (query_system_information)(void (*)(void))GetProcAddress(
            GetModuleHandleW(L"ntdll.dll"), "NtQuerySystemInformation");
    if (query == NULL) {
        *err = -ENOTSUP;
        return NULL;
    }
    for (ULONG size = 1u << 16; size <= 1u << 28; size *= 2) {
        void *buf = malloc(size);
        if (buf == NULL) {
            *err = -ENOMEM;
            return NULL;
        }
        ULONG len = 0;
        NTSTATUS status = query(cls, buf, size, &len);
        if (status == 0)
            return buf;
        free(buf);
        if (status != STATUS_INFO_LENGTH_MISMATCH_) {
            *err = -EIO;
            return NULL;
        }
        while (size < len)
            size *= 2;
    }
    *err = -ENOMEM;
    return NULL;
}

/* The entry of process `pid` in a SystemProcessInformation answer. */
static SYSTEM_PROCESS_INFORMATION *find_process(void *buf, DWORD pid)
{
    for (char *p = buf;;) {
        SYSTEM_PROCESS_INFORMATION *proc = (void *)p;
        if ((DWORD)(ULONG_PTR)proc->UniqueProcessId == pid)
            return proc;
        if (proc->NextEntryOffset == 0)
            return NULL;
        p += proc->NextEntryOffset;
    }
}

/* Thread `tid` of `proc`'s entry. */
static SYSTEM_THREAD_INFORMATION *find_thread(SYSTEM_PROCESS_INFORMATION *proc,
                                              DWORD tid)
{
    SYSTEM_THREAD_INFORMATION *threads = (void *)(proc + 1);
    for (ULONG i = 0; i < proc->NumberOfThreads; i++)
        if ((DWORD)(ULONG_PTR)threads[i].ClientId.UniqueThread == tid)
            return &threads[i];
    return NULL;
}

/* Thread `tid` of process `pid` in a SystemProcessInformation snapshot,
 * or NULL. */
static SYSTEM_THREAD_INFORMATION *snapshot_thread(void *buf, DWORD pid,
                                                  DWORD tid)
{
    SYSTEM_PROCESS_INFORMATION *proc = find_process(buf, pid);
    return proc != NULL ? find_thread(proc, tid) : NULL;
}

xpoll_backend platform_native_backend(void)
{
    return XPOLL_BACKEND_IOCP;
}

uint64_t platform_thread_id(void)
{
    return GetCurrentThreadId();
}

/* Windows shows a thread blocked in GetQueuedCompletionStatusEx as state
 * Waiting with wait reason WrQueue: the port is a kernel queue, and
 * KeRemoveQueue sets both when it puts the thread to sleep, only after it
 * found the queue empty (Windows Research Kernel base/ntos/ke/queueobj.c,
 * ReactOS ntoskrnl/ke/queue.c, KeRemoveQueue).  A packet queued later
 * wakes it.
 *
 * Wine 8.0 reports no thread states.  dlls/ntdll/unix/system.c
 * get_system_process_info() clears each SYSTEM_THREAD_INFORMATION and
 * fills in only the times, the client id and the priorities: the
 * wineserver's struct thread_info (server/protocol.def, filled by
 * list_processes in server/process.c) carries nothing else, so every
 * thread reads as state 0 (Initialized) with wait reason 0, the running
 * caller and one blocked in a completion port alike (measured).  Nor does
 * NtQueryInformationThread help: ThreadIsIoPending is a stub answering
 * FALSE (dlls/ntdll/unix/thread.c).  So the calling thread's own entry is
 * the test of whether the system reports states at all: a thread that
 * reads its own state while running must see Running; where it does not,
 * nothing can be told (-ENOTSUP), and no state the system reports for
 * another thread is believed. */
int platform_blocked_in_wait(pid_t pid, uint64_t tid)
{
    int err = 0;
    void *buf = system_information(SystemProcessInformation, &err);
    if (buf == NULL)
        return err;
    SYSTEM_THREAD_INFORMATION *me =
        snapshot_thread(buf, GetCurrentProcessId(), GetCurrentThreadId());
    SYSTEM_THREAD_INFORMATION *thread =
        snapshot_thread(buf, (DWORD)pid, (DWORD)tid);
    int result;
    if (me == NULL || me->ThreadState != THREAD_RUNNING)
        result = -ENOTSUP;
    else if (thread == NULL)
        result = -ESRCH;
    else
        result = thread->ThreadState == THREAD_WAITING &&
                 thread->WaitReason == WAIT_REASON_WR_QUEUE;
    free(buf);
    return result;
}

/* The handles process `pid` has open: its entries among every process's
 * handles.  Wine answers this from the wineserver's handle tables
 * (server/handle.c enum_handles, one entry per handle in use); the
 * handle count of SystemProcessInformation is no count there (the size of
 * the table, server/handle.c get_handle_table_count), and
 * GetProcessHandleCount answers 0 (ProcessHandleCount in
 * dlls/ntdll/unix/process.c). */
int platform_fd_count(pid_t pid)
{
    int err = 0;
    struct handle_information *info =
        system_information(SYSTEM_EXTENDED_HANDLE_INFORMATION, &err);
    if (info == NULL)
        return err;
    int n = 0;
    for (ULONG_PTR i = 0; i < info->count; i++)
        n += info->handles[i].pid == (ULONG_PTR)pid;
    free(info);
    return n;
}

/* No eventfd on Windows. */
int platform_eventfd(void)
{
    return -ENOTSUP;
}

/* The calling thread's context switches (SYSTEM_THREAD_INFORMATION's
 * ContextSwitches, which mingw-w64 calls Reserved3).  Windows counts
 * every switch, not only sleeps; the callers retry what another switch
 * may have disturbed.  A thread that runs has been switched in at least
 * once, so a count of 0 means the system counts nothing: Wine 8.0 leaves
 * the field 0 (dlls/ntdll/unix/system.c get_system_process_info()), and
 * the answer is then -ENOTSUP. */
long platform_thread_sleeps(void)
{
    int err = 0;
    void *buf = system_information(SystemProcessInformation, &err);
    if (buf == NULL)
        return err;
    SYSTEM_THREAD_INFORMATION *me =
        snapshot_thread(buf, GetCurrentProcessId(), GetCurrentThreadId());
    long result = me == NULL           ? -ESRCH
                  : me->Reserved3 == 0 ? -ENOTSUP
                                       : (long)me->Reserved3;
    free(buf);
    return result;
}

/* Wine's ntdll exports wine_get_version (dlls/ntdll/ntdll.spec); Windows'
 * does not. */
const char *platform_wine_version(void)
{
    const char *(CDECL * version)(void) =
        (const char *(CDECL *)(void))(void (*)(void))GetProcAddress(
            GetModuleHandleW(L"ntdll.dll"), "wine_get_version");
    return version != NULL ? version() : NULL;
}
