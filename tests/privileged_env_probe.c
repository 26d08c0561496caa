/*
 * What xpoll_new() makes of the environment, for check_privileged_env.sh,
 * which runs copies of this program set-user-ID and set-group-ID.  Prints
 * one line: "rc=<0, ENOTSUP or the number> backend=<name or none>
 * ids=<uid>,<euid>,<gid>,<egid>".
 */
#include <errno.h>
#include <stdio.h>
#include <unistd.h>

#include "xpoll.h"

int main(void)
{
    xpoll *poll;
    int rc = xpoll_new(&poll);
    char code[16];
    if (rc == -ENOTSUP)
        snprintf(code, sizeof code, "ENOTSUP");
    else
        snprintf(code, sizeof code, "%d", rc);
    printf("rc=%s backend=%s ids=%ld,%ld,%ld,%ld\n", code,
           rc == 0 ? xpoll_backend_name(xpoll_get_backend(poll)) : "none",
           (long)getuid(), (long)geteuid(), (long)getgid(), (long)getegid());
    xpoll_free(poll);
    return 0;
}
