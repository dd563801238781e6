/* A minimal unit test harness printing TAP: EZR_TEST(name) defines a test, EZR_CHECK* assert
 * (recording failure and returning from the test), EZR_SKIP(reason) ends a test as a TAP skip
 * (what this machine cannot run is never reported as passed), and EZR_TEST_MAIN(...) runs the
 * listed tests. meson runs each test program with protocol 'tap'. */
#ifndef EZR_TEST_H
#define EZR_TEST_H

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int ezr_test_failed_;
static char ezr_test_skip_[200];

#define EZR_TEST(name) static void name(void)

#define EZR_CHECK(cond)                                                                    \
    do {                                                                                   \
        if (!(cond)) {                                                                     \
            printf("# %s:%d: check failed: %s\n", __FILE__, __LINE__, #cond);              \
            ezr_test_failed_ = 1;                                                          \
            return;                                                                        \
        }                                                                                  \
    } while (0)

#define EZR_CHECK_EQ(a, b)                                                                 \
    do {                                                                                   \
        long long ezr_a_ = (long long)(a), ezr_b_ = (long long)(b);                        \
        if (ezr_a_ != ezr_b_) {                                                            \
            printf("# %s:%d: %s == %lld, expected %s == %lld\n", __FILE__, __LINE__, #a,   \
                   ezr_a_, #b, ezr_b_);                                                    \
            ezr_test_failed_ = 1;                                                          \
            return;                                                                        \
        }                                                                                  \
    } while (0)

#define EZR_CHECK_MEM(a, b, n)                                                             \
    do {                                                                                   \
        if (memcmp((a), (b), (n)) != 0) {                                                  \
            printf("# %s:%d: bytes differ: %s vs %s\n", __FILE__, __LINE__, #a, #b);       \
            ezr_test_failed_ = 1;                                                          \
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
