/*
 * macOS's struct kevent and kqueue constants, as Apple's <sys/event.h>
 * defines them and the emulator's Darwin personality must reproduce them
 * (docs/kqueue.md, section 7).
 *
 * Compiled twice: by scripts/macos-cross.sh against Apple's real
 * <sys/event.h> (zig cc -target *-macos), and by the test build against
 * tests/kqemu's Darwin header, so both agree with the numbers below.
 */
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/event.h>
#include <sys/time.h>

/* A fact of the layout, proven at compile time; the message is the fact. */
#define LAYOUT(cond) _Static_assert(cond, #cond)

/* #pragma pack(4): 32 bytes, 4-byte alignment, on x86_64 and arm64. */
LAYOUT(sizeof(struct kevent) == 32);
LAYOUT(_Alignof(struct kevent) == 4);
LAYOUT(offsetof(struct kevent, ident) == 0);
LAYOUT(offsetof(struct kevent, filter) == 8);
LAYOUT(offsetof(struct kevent, flags) == 10);
LAYOUT(offsetof(struct kevent, fflags) == 12);
LAYOUT(offsetof(struct kevent, data) == 16);
LAYOUT(offsetof(struct kevent, udata) == 24);
LAYOUT(sizeof(((struct kevent *)0)->data) == sizeof(intptr_t));

LAYOUT(EVFILT_READ == -1);
LAYOUT(EVFILT_WRITE == -2);
LAYOUT(EVFILT_AIO == -3);
LAYOUT(EVFILT_USER == -10);

LAYOUT(EV_ADD == 0x0001);
LAYOUT(EV_DELETE == 0x0002);
LAYOUT(EV_ENABLE == 0x0004);
LAYOUT(EV_DISABLE == 0x0008);
LAYOUT(EV_ONESHOT == 0x0010);
LAYOUT(EV_CLEAR == 0x0020);
LAYOUT(EV_RECEIPT == 0x0040);
LAYOUT(EV_DISPATCH == 0x0080);
LAYOUT(EV_ERROR == 0x4000);
LAYOUT(EV_EOF == 0x8000);
LAYOUT(EV_SYSFLAGS == 0xF000);

LAYOUT(NOTE_TRIGGER == 0x01000000);
LAYOUT(NOTE_FFLAGSMASK == 0x00ffffff);
LAYOUT(NOTE_LOWAT == 0x00000001);

/* Only declarations above; keep the translation unit non-empty. */
typedef int xpoll_kevent_layout_checked;
