/* A cmocka program for Windows whose outcome its argument chooses:
 * "pass" runs a test whose assertions hold, "fail" one whose assertion
 * fails.  scripts/windows-smoke.sh runs both under wine64 and requires
 * exit status 0 and "[  PASSED  ] 1 test(s)." from the first, exit status 1
 * (cmocka_run_group_tests returns the number of failed tests) and
 * "[  FAILED  ] 1 test(s)" from the second, so that a Windows test suite's
 * results can be read from Wine's exit status. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

static void holds(void **state)
{
    (void)state;
    assert_int_equal(2 + 2, 4);
    assert_string_equal("xpoll", "xpoll");
}

static void fails(void **state)
{
    (void)state;
    assert_int_equal(2 + 2, 5);
}

int main(int argc, char **argv)
{
    const struct CMUnitTest pass[] = {cmocka_unit_test(holds)};
    const struct CMUnitTest fail[] = {cmocka_unit_test(fails)};

    if (argc == 2 && strcmp(argv[1], "pass") == 0)
        return cmocka_run_group_tests(pass, NULL, NULL);
    if (argc == 2 && strcmp(argv[1], "fail") == 0)
        return cmocka_run_group_tests(fail, NULL, NULL);
    return 64; /* usage: smoke pass|fail */
}
