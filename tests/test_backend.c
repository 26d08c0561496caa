/*
 * Backend choice: the XPOLL_BACKEND environment variable selects a
 * compiled-in backend, never silently falls back, and
 * xpoll_new_with_backend() ignores it.
 */
#define _GNU_SOURCE
#include "support.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char saved[64];
static bool had_saved;

static int save_env(void **state)
{
    (void)state;
    const char *v = getenv("XPOLL_BACKEND");
    had_saved = v != NULL;
    if (had_saved)
        snprintf(saved, sizeof saved, "%s", v);
    return 0;
}

static int restore_env(void **state)
{
    (void)state;
    env_set("XPOLL_BACKEND", had_saved ? saved : NULL);
    return 0;
}

static int new_with_env(const char *value, xpoll **poll)
{
    assert_int_equal(env_set("XPOLL_BACKEND", value), 0);
    *poll = (xpoll *)poll; /* must be overwritten */
    return xpoll_new(poll);
}

static void env_selects_the_backend_under_test(void **state)
{
    (void)state;
    xpoll *poll;
    /* ctest runs this binary with XPOLL_BACKEND set to each backend. */
    assert_true(had_saved);
    assert_int_equal(new_with_env(saved, &poll), 0);
    assert_string_equal(xpoll_backend_name(xpoll_get_backend(poll)), saved);
    xpoll_free(poll);
}

/* The backend every build for this system carries (epoll on Linux, kqueue
 * on macOS and FreeBSD, iocp on Windows). */
static xpoll_backend native_backend(void)
{
    xpoll_backend native = platform_native_backend();
    if (native == XPOLL_BACKEND_DEFAULT) {
        print_message("skipped: no native backend known for this system\n");
        skip();
    }
    return native;
}

static void env_names_the_native_backend(void **state)
{
    (void)state;
    xpoll *poll;
    xpoll_backend native = native_backend();
    assert_int_equal(new_with_env(xpoll_backend_name(native), &poll), 0);
    assert_int_equal(xpoll_get_backend(poll), native);
    xpoll_free(poll);
}

static void env_unknown_name_is_enotsup(void **state)
{
    (void)state;
    const char *bad[] = {"bogus",  "EPOLL",   "epoll ", " kqueue",
                         "select", "default", "epollx"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        xpoll *poll;
        assert_int_equal(new_with_env(bad[i], &poll), -ENOTSUP);
        assert_null(poll);
    }
}

static void env_reserved_names_are_enotsup(void **state)
{
    (void)state;
    xpoll *poll;
    assert_int_equal(new_with_env("io_uring", &poll), -ENOTSUP);
    assert_null(poll);
}

static void env_empty_or_unset_means_default(void **state)
{
    (void)state;
    xpoll *poll;
    assert_int_equal(new_with_env("", &poll), 0);
    xpoll_backend empty = xpoll_get_backend(poll);
    xpoll_free(poll);
    assert_int_equal(new_with_env(NULL, &poll), 0);
    assert_int_equal(xpoll_get_backend(poll), empty);
    xpoll_free(poll);
    assert_int_equal(empty, native_backend());
}

static void new_with_backend_ignores_env(void **state)
{
    (void)state;
    xpoll *poll;
    assert_int_equal(env_set("XPOLL_BACKEND", "bogus"), 0);
    assert_int_equal(xpoll_new_with_backend(&poll, XPOLL_BACKEND_DEFAULT), 0);
    xpoll_free(poll);
    xpoll_backend native = native_backend();
    assert_int_equal(xpoll_new_with_backend(&poll, native), 0);
    assert_int_equal(xpoll_get_backend(poll), native);
    xpoll_free(poll);
}

static void kqueue_availability_matches_build(void **state)
{
    (void)state;
    xpoll *poll;
    int err = xpoll_new_with_backend(&poll, XPOLL_BACKEND_KQUEUE);
    /* The build tells the test whether the kqueue emulation is in. */
#ifdef XPOLL_TEST_HAVE_KQUEUE
    assert_int_equal(err, 0);
    assert_int_equal(xpoll_get_backend(poll), XPOLL_BACKEND_KQUEUE);
    xpoll_free(poll);
    assert_int_equal(new_with_env("kqueue", &poll), 0);
    xpoll_free(poll);
#else
    assert_int_equal(err, -ENOTSUP);
    assert_null(poll);
    assert_int_equal(new_with_env("kqueue", &poll), -ENOTSUP);
    assert_null(poll);
#endif
}

#define T(name) cmocka_unit_test_setup_teardown(name, save_env, restore_env)

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(env_selects_the_backend_under_test),
        T(env_names_the_native_backend),
        T(env_unknown_name_is_enotsup),
        T(env_reserved_names_are_enotsup),
        T(env_empty_or_unset_means_default),
        T(new_with_backend_ignores_env),
        T(kqueue_availability_matches_build),
    };
    return RUN(tests, NULL, NULL);
}
