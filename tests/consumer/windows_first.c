/* A Windows program that includes <windows.h> before <xpoll.h> does so
 * with WIN32_LEAN_AND_MEAN, as <xpoll/net.h> says: <xpoll.h> brings
 * <winsock2.h>, which mingw-w64 refuses after a full <windows.h> ("Please
 * include winsock2.h before windows.h", an error under -Werror).
 * check_consumer.sh windows compiles this with -Werror and runs it. */
#define WIN32_LEAN_AND_MEAN
#include <windows.h>

#include <errno.h>
#include <xpoll.h>

int main(void)
{
    /* Winsock's types, through <xpoll.h>. */
    struct sockaddr_storage from;
    socklen_t len = sizeof from;
    /* A negative descriptor: -EBADF before any system call. */
    return xpoll_close(-1) == -EBADF && len > 0 ? 0 : 1;
}
