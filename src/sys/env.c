/*
 * The one place the library reads the environment.  A set-user-ID or
 * set-group-ID program must not let the user who runs it choose its
 * backend, so the variable is ignored there:
 *  - secure_getenv(3) (glibc 2.17, musl): NULL when the kernel marked the
 *    process AT_SECURE (getauxval(3)): set-user-ID, set-group-ID, file
 *    capabilities, or a security module's say;
 *  - issetugid(2) (macOS, the BSDs): true when the process was started
 *    set-user-ID or set-group-ID, or changed its ids since;
 *  - Windows: plain getenv; a program there has no set-user-ID or
 *    set-group-ID bit to run with its owner's rights;
 *  - neither: real and effective ids compared, which sees set-user-ID and
 *    set-group-ID, not capabilities.
 * CMake defines XPOLL_HAVE_SECURE_GETENV and XPOLL_HAVE_ISSETUGID for the
 * ones the C library declares.
 */
#define _GNU_SOURCE /* secure_getenv in glibc's <stdlib.h> */
#include <stdlib.h>
#if !defined(_WIN32)
#include <unistd.h>
#endif

#include "env.h"

const char *xpoll__secure_getenv(const char *name)
{
#if defined(XPOLL_HAVE_SECURE_GETENV)
    return secure_getenv(name);
#elif defined(XPOLL_HAVE_ISSETUGID)
    return issetugid() ? NULL : getenv(name);
#elif defined(_WIN32)
    return getenv(name);
#else
    if (getuid() != geteuid() || getgid() != getegid())
        return NULL;
    return getenv(name);
#endif
}
