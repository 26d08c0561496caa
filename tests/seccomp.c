#define _GNU_SOURCE
#include "seccomp.h"
#include "support.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>

/* Where the child's first failed CHILD_CHECK was. */
struct child_report {
    int line;
    char file[200];
};
static struct child_report *child_report;

_Noreturn void child_check_failed(const char *file, int line)
{
    size_t i = 0;
    for (; file[i] != '\0' && i < sizeof child_report->file - 1; i++)
        child_report->file[i] = file[i];
    child_report->file[i] = '\0';
    child_report->line = line;
    for (;;)
        syscall(SYS_exit_group, 1);
}

void run_in_child(void (*body)(void))
{
    struct child_report *report =
        mmap(NULL, sizeof *report, PROT_READ | PROT_WRITE,
             MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    assert_true(report != MAP_FAILED);
    child_report = report;
    fflush(NULL);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        body();
        _exit(0);
    }
    int status;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    struct child_report copy = *report;
    munmap(report, sizeof *report);
    child_report = NULL;

    char where[sizeof copy.file + 48] = "";
    if (copy.line != 0)
        snprintf(where, sizeof where,
                 "CHILD_CHECK failed in the child at %s:%d", copy.file,
                 copy.line);
    if (WIFSIGNALED(status))
        fail_msg("child killed by signal %d (%s)%s%s", WTERMSIG(status),
                 WTERMSIG(status) == SIGSYS ? "a forbidden system call"
                                            : strsignal(WTERMSIG(status)),
                 copy.line != 0 ? " after: " : "", where);
    if (copy.line != 0)
        fail_msg("%s", where);
    if (WEXITSTATUS(status) != 0)
        fail_msg("child exited with %d, no CHILD_CHECK failed",
                 WEXITSTATUS(status));
}
