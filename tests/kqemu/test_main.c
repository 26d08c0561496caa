/* kqemu fidelity suite: t01-t62 and the r../k.. checks, one personality
 * per executable (kqemu_fidelity_freebsd, kqemu_fidelity_darwin). */
#include <signal.h>
#include <stdio.h>

#include "test_util.h"

int main(void)
{
    /* t34 writes into a reset TCP connection. */
    signal(SIGPIPE, SIG_IGN);
    fprintf(stderr, "kqemu personality: %s\n",
            IS_DARWIN ? "darwin" : "freebsd");
    int failed = 0;
    failed += kqt_run_changes();
    failed += kqt_run_registration();
    failed += kqt_run_filters();
    failed += kqt_run_user_time_life();
    return failed == 0 ? 0 : 1;
}
