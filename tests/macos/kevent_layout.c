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

#define CHECK(cond) _Static_assert(cond, #cond)

/* #pragma pack(4): 32 bytes, 4-byte alignment, on x86_64 and arm64. */
CHECK(sizeof(struct kevent) == 32);
CHECK(_Alignof(struct kevent) == 4);
CHECK(offsetof(struct kevent, ident) == 0);
CHECK(offsetof(struct kevent, filter) == 8);
CHECK(offsetof(struct kevent, flags) == 10);
CHECK(offsetof(struct kevent, fflags) == 12);
CHECK(offsetof(struct kevent, data) == 16);
CHECK(offsetof(struct kevent, udata) == 24);
CHECK(sizeof(((struct kevent *)0)->data) == sizeof(intptr_t));

CHECK(EVFILT_READ == -1);
CHECK(EVFILT_WRITE == -2);
CHECK(EVFILT_AIO == -3);
CHECK(EVFILT_USER == -10);

CHECK(EV_ADD == 0x0001);
CHECK(EV_DELETE == 0x0002);
CHECK(EV_ENABLE == 0x0004);
CHECK(EV_DISABLE == 0x0008);
CHECK(EV_ONESHOT == 0x0010);
CHECK(EV_CLEAR == 0x0020);
CHECK(EV_RECEIPT == 0x0040);
CHECK(EV_DISPATCH == 0x0080);
CHECK(EV_ERROR == 0x4000);
CHECK(EV_EOF == 0x8000);
CHECK(EV_SYSFLAGS == 0xF000);

CHECK(NOTE_TRIGGER == 0x01000000);
CHECK(NOTE_FFLAGSMASK == 0x00ffffff);
CHECK(NOTE_LOWAT == 0x00000001);

/* Only declarations above; keep the translation unit non-empty. */
typedef int xpoll_kevent_layout_checked;
