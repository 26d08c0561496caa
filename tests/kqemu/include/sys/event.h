/*
 * Test-only <sys/event.h> for the kqueue emulator (kqemu).
 *
 * This is NOT a system header.  It lets xpoll's kqueue backend compile on
 * Linux and run against the user-space kqueue engine in tests/kqemu/.  The
 * layout and constants follow one of two personalities, chosen at compile
 * time with -DKQEMU_PERSONALITY=KQEMU_FREEBSD or =KQEMU_DARWIN (default
 * FreeBSD).  The struct layout and the values are those of FreeBSD's
 * sys/sys/event.h and xnu's bsd/sys/event.h, cross-checked against Debian's
 * librust-libc-dev by scripts/check-kqemu-constants.sh.
 *
 * Backends must key feature code on the constants (#ifdef EVFILT_USER,
 * NOTE_TRIGGER), never on __APPLE__/__FreeBSD__: only the constants tell
 * the two personalities apart here.
 */
#ifndef KQEMU_SYS_EVENT_H
#define KQEMU_SYS_EVENT_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#define KQEMU         1
#define KQEMU_FREEBSD 1
#define KQEMU_DARWIN  2
#ifndef KQEMU_PERSONALITY
#define KQEMU_PERSONALITY KQEMU_FREEBSD
#endif
#if KQEMU_PERSONALITY != KQEMU_FREEBSD && KQEMU_PERSONALITY != KQEMU_DARWIN
#error "KQEMU_PERSONALITY must be KQEMU_FREEBSD or KQEMU_DARWIN"
#endif

/* ---- struct kevent ----------------------------------------------------- */
#if KQEMU_PERSONALITY == KQEMU_DARWIN
/* Apple's header packs the struct to 4 bytes: 32 bytes on LP64 (xnu
 * bsd/sys/event.h). */
#pragma pack(push, 4)
struct kevent {
    uintptr_t ident;
    int16_t filter;
    uint16_t flags;
    uint32_t fflags;
    intptr_t data;
    void *udata;
};
#pragma pack(pop)
#else
/* FreeBSD 12+: 64 bytes, ext[4] appended (FreeBSD sys/sys/event.h;
 * the Rust libc crate, freebsd12 module). */
struct kevent {
    uintptr_t ident;
    short filter;
    unsigned short flags;
    unsigned int fflags;
    int64_t data;
    void *udata;
    uint64_t ext[4];
};
#endif

/* EV_SET fills the six fields the two layouts share.  FreeBSD's also
 * zeroes ext[] (FreeBSD sys/sys/event.h), which xnu's struct does not
 * have: that one step is all that differs. */
#if KQEMU_PERSONALITY == KQEMU_DARWIN
#define KQEMU_EV_SET_EXT_(kevp) ((void)0)
#else
#define KQEMU_EV_SET_EXT_(kevp)                                                \
    ((kevp)->ext[0] = (kevp)->ext[1] = (kevp)->ext[2] = (kevp)->ext[3] = 0)
#endif
#define EV_SET(kevp, a, b, c, d, e, f)                                         \
    do {                                                                       \
        struct kevent *kqemu_kevp_ = (kevp);                                   \
        kqemu_kevp_->ident = (a);                                              \
        kqemu_kevp_->filter = (b);                                             \
        kqemu_kevp_->flags = (c);                                              \
        kqemu_kevp_->fflags = (d);                                             \
        kqemu_kevp_->data = (e);                                               \
        kqemu_kevp_->udata = (f);                                              \
        KQEMU_EV_SET_EXT_(kqemu_kevp_);                                        \
    } while (0)

/* ---- filters ----------------------------------------------------------- */
#define EVFILT_READ   (-1)
#define EVFILT_WRITE  (-2)
#define EVFILT_AIO    (-3)
#define EVFILT_VNODE  (-4)
#define EVFILT_PROC   (-5)
#define EVFILT_SIGNAL (-6)
#define EVFILT_TIMER  (-7)
#define EVFILT_FS     (-9)
#if KQEMU_PERSONALITY == KQEMU_DARWIN
#define EVFILT_MACHPORT (-8)
#define EVFILT_USER     (-10)
#define EVFILT_VM       (-12)
#define EVFILT_EXCEPT   (-15)
#else
#define EVFILT_PROCDESC (-8)
#define EVFILT_LIO      (-10)
#define EVFILT_USER     (-11)
#define EVFILT_SENDFILE (-12)
#define EVFILT_EMPTY    (-13)
#endif

/* ---- flags ------------------------------------------------------------- */
#define EV_ADD      0x0001
#define EV_DELETE   0x0002
#define EV_ENABLE   0x0004
#define EV_DISABLE  0x0008
#define EV_ONESHOT  0x0010
#define EV_CLEAR    0x0020
#define EV_RECEIPT  0x0040
#define EV_DISPATCH 0x0080
#define EV_SYSFLAGS 0xF000
#define EV_FLAG1    0x2000
#define EV_ERROR    0x4000
#define EV_EOF      0x8000
#if KQEMU_PERSONALITY == KQEMU_DARWIN
#define EV_UDATA_SPECIFIC 0x0100
#define EV_VANISHED       0x0200
#define EV_FLAG0          0x1000
#define EV_POLL           EV_FLAG0
#define EV_OOBAND         EV_FLAG1
#else
#define EV_FORCEONESHOT 0x0100
#define EV_KEEPUDATA    0x0200
#define EV_DROP         0x1000
#endif

/* ---- filter flags ------------------------------------------------------ */
#define NOTE_FFNOP      0x00000000
#define NOTE_FFAND      0x40000000
#define NOTE_FFOR       0x80000000
#define NOTE_FFCOPY     0xc0000000
#define NOTE_FFCTRLMASK 0xc0000000
#define NOTE_FFLAGSMASK 0x00ffffff
#define NOTE_TRIGGER    0x01000000
#define NOTE_LOWAT      0x0001

/* ---- layout checks ----------------------------------------------------- */
#ifdef __cplusplus
#define KQEMU_STATIC_ASSERT_(c, m) static_assert(c, m)
#define KQEMU_ALIGNOF_(t)          alignof(t)
#else
#define KQEMU_STATIC_ASSERT_(c, m) _Static_assert(c, m)
#define KQEMU_ALIGNOF_(t)          _Alignof(t)
#endif
#if UINTPTR_MAX == 0xffffffffffffffffu
#if KQEMU_PERSONALITY == KQEMU_DARWIN
KQEMU_STATIC_ASSERT_(sizeof(struct kevent) == 32, "darwin kevent is 32 bytes");
KQEMU_STATIC_ASSERT_(KQEMU_ALIGNOF_(struct kevent) == 4,
                     "darwin kevent pack(4)");
KQEMU_STATIC_ASSERT_(offsetof(struct kevent, filter) == 8, "darwin filter");
KQEMU_STATIC_ASSERT_(offsetof(struct kevent, flags) == 10, "darwin flags");
KQEMU_STATIC_ASSERT_(offsetof(struct kevent, fflags) == 12, "darwin fflags");
KQEMU_STATIC_ASSERT_(offsetof(struct kevent, data) == 16, "darwin data");
KQEMU_STATIC_ASSERT_(offsetof(struct kevent, udata) == 24, "darwin udata");
KQEMU_STATIC_ASSERT_(EVFILT_USER == -10, "darwin EVFILT_USER");
#else
KQEMU_STATIC_ASSERT_(sizeof(struct kevent) == 64, "freebsd kevent is 64 bytes");
KQEMU_STATIC_ASSERT_(offsetof(struct kevent, data) == 16, "freebsd data");
KQEMU_STATIC_ASSERT_(offsetof(struct kevent, udata) == 24, "freebsd udata");
KQEMU_STATIC_ASSERT_(offsetof(struct kevent, ext) == 32, "freebsd ext");
KQEMU_STATIC_ASSERT_(EVFILT_USER == -11, "freebsd EVFILT_USER");
#endif
#endif

/* ---- entry points ------------------------------------------------------ */
#if defined(__GNUC__)
#define KQEMU_EXPORT __attribute__((visibility("default")))
#else
#define KQEMU_EXPORT
#endif

#ifdef __cplusplus
extern "C" {
#endif
KQEMU_EXPORT int kqueue(void);
KQEMU_EXPORT int kevent(int kq, const struct kevent *changelist, int nchanges,
                        struct kevent *eventlist, int nevents,
                        const struct timespec *timeout);
#ifdef __cplusplus
}
#endif

#endif /* KQEMU_SYS_EVENT_H */
