/* kqemu fidelity suite, one personality per executable
 * (kqemu_fidelity_freebsd, kqemu_fidelity_darwin): the groups of
 * test_changes.c, test_registration.c, test_filters.c and
 * test_user_time_life.c. */
#include <signal.h>
#include <stdio.h>

#include "test_util.h"

int main(void)
{
    /* tcp_fin_then_rst writes into a connection the peer has closed. */
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
