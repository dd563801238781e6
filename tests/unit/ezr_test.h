/* A minimal unit test harness printing TAP: EZR_TEST(name) defines a test, EZR_CHECK* assert
 * (recording failure and returning from the test), EZR_SKIP(reason) ends a test as a TAP skip
 * (what this machine cannot run is never reported as passed), and EZR_TEST_MAIN(...) runs the
 * listed tests. meson runs each test program with protocol 'tap'. */
#ifndef EZR_TEST_H
#define EZR_TEST_H

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int ezr_test_failed_;
static char ezr_test_skip_[200];

/* A failed check's line, as a TAP comment on stdout and again on stderr: meson reads a TAP
 * test's stdout itself, and what it shows of a failure (--print-errorlogs, a CI log) is stderr. */
__attribute__((format(printf, 1, 2))) static inline void ezr_test_fail_(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vfprintf(stdout, fmt, ap);
    va_end(ap);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    ezr_test_failed_ = 1;
}

#define EZR_TEST(name) static void name(void)

#define EZR_CHECK(cond)                                                                    \
    do {                                                                                   \
        if (!(cond)) {                                                                     \
            ezr_test_fail_("# %s:%d: check failed: %s\n", __FILE__, __LINE__, #cond);     \
            return;                                                                        \
        }                                                                                  \
    } while (0)

#define EZR_CHECK_EQ(a, b)                                                                 \
    do {                                                                                   \
        long long ezr_a_ = (long long)(a), ezr_b_ = (long long)(b);                        \
        if (ezr_a_ != ezr_b_) {                                                            \
            ezr_test_fail_("# %s:%d: %s == %lld, expected %s == %lld\n", __FILE__, __LINE__, \
                           #a, ezr_a_, #b, ezr_b_);                                        \
            return;                                                                        \
        }                                                                                  \
    } while (0)

#define EZR_CHECK_MEM(a, b, n)                                                             \
    do {                                                                                   \
        if (memcmp((a), (b), (n)) != 0) {                                                  \
            ezr_test_fail_("# %s:%d: bytes differ: %s vs %s\n", __FILE__, __LINE__, #a, #b); \
            return;                                                                        \
        }                                                                                  \
    } while (0)

#define EZR_SKIP(...)                                                                      \
    do {                                                                                   \
        snprintf(ezr_test_skip_, sizeof ezr_test_skip_, __VA_ARGS__);                      \
        return;                                                                            \
    } while (0)

typedef void (*ezr_test_fn_)(void);
struct ezr_test_case_ {
    const char *name;
    ezr_test_fn_ fn;
};

#define EZR_CASE(fn) {#fn, fn}

static inline int ezr_test_run_(const struct ezr_test_case_ *cases, size_t n)
{
    int failures = 0;
    printf("1..%zu\n", n);
    for (size_t i = 0; i < n; i++) {
        ezr_test_failed_ = 0;
        ezr_test_skip_[0] = '\0';
        cases[i].fn();
        if (ezr_test_skip_[0] && !ezr_test_failed_)
            printf("ok %zu - %s # SKIP %s\n", i + 1, cases[i].name, ezr_test_skip_);
        else
            printf("%s %zu - %s\n", ezr_test_failed_ ? "not ok" : "ok", i + 1, cases[i].name);
        failures += ezr_test_failed_;
        fflush(stdout);
    }
    return failures ? 1 : 0;
}

#define EZR_TEST_MAIN(...)                                                                 \
    int main(void)                                                                         \
    {                                                                                      \
        static const struct ezr_test_case_ cases_[] = {__VA_ARGS__};                       \
        return ezr_test_run_(cases_, sizeof cases_ / sizeof cases_[0]);                    \
    }

#endif
