/* A minimal unit test harness printing TAP: EZR_TEST(name) defines a test, EZR_CHECK* assert
 * (recording failure and returning from the test), EZR_SKIP(reason) ends a test as a TAP skip
 * (what this machine cannot run is never reported as passed), and EZR_TEST_MAIN(...) runs the
 * listed tests. A table-driven test is EZR_ROWS(table, fn): every row (a struct whose first
 * member is `const char *name`) is its own TAP case, run as fn(&row). meson runs each test
 * program with protocol 'tap'. */
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
typedef void (*ezr_test_row_fn_)(const void *row);
struct ezr_test_case_ {
    const char *name;
    ezr_test_fn_ fn;
    /* A table instead: row_fn runs each of its nrows rows of row_size bytes as a case. */
    ezr_test_row_fn_ row_fn;
    const void *rows;
    size_t nrows, row_size;
};

#define EZR_CASE(fn) {#fn, fn, NULL, NULL, 0, 0}
#define EZR_ROWS(table, fn)                                                                \
    {#table, NULL, fn, table, sizeof(table) / sizeof((table)[0]), sizeof((table)[0])}

/* Defines fn(const void *) running body on the row as `const type *row`, for EZR_ROWS. */
#define EZR_TEST_ROW(fn, type)                                                             \
    static void fn##_row_(const type *row);                                                \
    static void fn(const void *row)                                                        \
    {                                                                                      \
        fn##_row_(row);                                                                    \
    }                                                                                      \
    static void fn##_row_(const type *row)

static inline int ezr_test_run_(const struct ezr_test_case_ *cases, size_t n)
{
    int failures = 0;
    size_t total = 0, num = 0;
    for (size_t i = 0; i < n; i++)
        total += cases[i].row_fn ? cases[i].nrows : 1;
    printf("1..%zu\n", total);
    for (size_t i = 0; i < n; i++) {
        for (size_t r = 0; r < (cases[i].row_fn ? cases[i].nrows : 1); r++) {
            const void *row =
                cases[i].row_fn ? (const char *)cases[i].rows + r * cases[i].row_size : NULL;
            const char *name = row ? *(const char *const *)row : cases[i].name;
            ezr_test_failed_ = 0;
            ezr_test_skip_[0] = '\0';
            if (row)
                cases[i].row_fn(row);
            else
                cases[i].fn();
            num++;
            if (ezr_test_skip_[0] && !ezr_test_failed_)
                printf("ok %zu - %s # SKIP %s\n", num, name, ezr_test_skip_);
            else
                printf("%s %zu - %s\n", ezr_test_failed_ ? "not ok" : "ok", num, name);
            failures += ezr_test_failed_;
            fflush(stdout);
        }
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
