/*
 * The AFD driver's poll request and the ntdll calls that send it, for the
 * iocp backend (src/sys/iocp.c).  Not a public interface of Windows: the
 * layout and the numbers are those wepoll (src/afd.h) and mio
 * (src/sys/windows/afd.rs) use, and Wine declares the same layout as
 * struct afd_poll_params in include/wine/afd.h.
 *
 * Include after <winsock2.h> and <windows.h>.
 */
#ifndef XPOLL_SYS_AFD_H
#define XPOLL_SYS_AFD_H

#include <winternl.h>

/* CTL_CODE(FILE_DEVICE_BEEP, 0x809, METHOD_BUFFERED, FILE_ANY_ACCESS), as
 * Wine's include/wine/afd.h spells it. */
#define XPOLL__IOCTL_AFD_POLL 0x00012024UL

/* AFD_POLL_* bits (wepoll src/afd.h, mio afd.rs). */
#define XPOLL__AFD_RECEIVE           0x0001UL
#define XPOLL__AFD_RECEIVE_EXPEDITED 0x0002UL
#define XPOLL__AFD_SEND              0x0004UL
#define XPOLL__AFD_DISCONNECT        0x0008UL
#define XPOLL__AFD_ABORT             0x0010UL
#define XPOLL__AFD_LOCAL_CLOSE       0x0020UL
#define XPOLL__AFD_ACCEPT            0x0080UL
#define XPOLL__AFD_CONNECT_FAIL      0x0100UL

/* NTSTATUS values (mingw-w64 <ntstatus.h>), spelled here so that this
 * header does not need the WIN32_NO_STATUS dance around <windows.h>. */
#define XPOLL__STATUS_SUCCESS                ((NTSTATUS)0x00000000L)
#define XPOLL__STATUS_PENDING                ((NTSTATUS)0x00000103L)
#define XPOLL__STATUS_INVALID_HANDLE         ((NTSTATUS)0xC0000008L)
#define XPOLL__STATUS_NO_MEMORY              ((NTSTATUS)0xC0000017L)
#define XPOLL__STATUS_OBJECT_TYPE_MISMATCH   ((NTSTATUS)0xC0000024L)
#define XPOLL__STATUS_INSUFFICIENT_RESOURCES ((NTSTATUS)0xC000009AL)
#define XPOLL__STATUS_CANCELLED              ((NTSTATUS)0xC0000120L)
#define XPOLL__STATUS_NOT_FOUND              ((NTSTATUS)0xC0000225L)

/* 32 bytes on x86-64: the request and its answer share the buffer. */
struct xpoll__afd_poll_handle {
    HANDLE handle;
    ULONG events;
    NTSTATUS status;
};

struct xpoll__afd_poll_info {
    LARGE_INTEGER timeout;
    ULONG number_of_handles;
    ULONG exclusive;
    struct xpoll__afd_poll_handle handles[1];
};

/* The ntdll calls, linked from mingw-w64's libntdll.a (mio links them
 * the same way, through windows-sys).  <winternl.h> declares
 * NtCreateFile, NtDeviceIoControlFile and RtlNtStatusToDosError;
 * NtCancelIoFileEx, documented as a kernel routine (Microsoft Learn,
 * "NtCancelIoFileEx"), is declared here. */
NTSYSAPI NTSTATUS NTAPI NtCancelIoFileEx(HANDLE file, PIO_STATUS_BLOCK request,
                                         PIO_STATUS_BLOCK iosb);

#endif /* XPOLL_SYS_AFD_H */
