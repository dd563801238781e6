/* The one door every allocation of the library goes through: ezr_malloc, ezr_calloc,
 * ezr_realloc, ezr_strdup. Memory from them is released with free() (ezr_stream_get_stats hands
 * its client list to the caller, who frees it so).
 *
 * A normal build calls the C library directly: the wrappers are static inline and cost nothing.
 * Built with -Dfailmalloc=true (EZR_FAILMALLOC), every call goes through the injector below,
 * which counts allocations, remembers each call site (file and line), and can make one fail:
 * the Nth, every one after the Nth, or at random from a seed. The failing-allocator tests
 * (tests/failmalloc) use it to run every allocation's failure path. */
#ifndef EZR_ALLOC_H
#define EZR_ALLOC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#ifndef EZR_FAILMALLOC

static inline void *ezr_malloc(size_t n)
{
    return malloc(n);
}
static inline void *ezr_calloc(size_t count, size_t n)
{
    return calloc(count, n);
}
static inline void *ezr_realloc(void *p, size_t n)
{
    return realloc(p, n);
}
static inline char *ezr_strdup(const char *s)
{
    return strdup(s);
}

#else

#define ezr_malloc(n) ezr_failmalloc_malloc((n), __FILE__, __LINE__)
#define ezr_calloc(count, n) ezr_failmalloc_calloc((count), (n), __FILE__, __LINE__)
#define ezr_realloc(p, n) ezr_failmalloc_realloc((p), (n), __FILE__, __LINE__)
#define ezr_strdup(s) ezr_failmalloc_strdup((s), __FILE__, __LINE__)

void *ezr_failmalloc_malloc(size_t n, const char *file, int line);
void *ezr_failmalloc_calloc(size_t count, size_t n, const char *file, int line);
void *ezr_failmalloc_realloc(void *p, size_t n, const char *file, int line);
char *ezr_failmalloc_strdup(const char *s, const char *file, int line);

/* ---- the injector (failmalloc builds only) ---------------------------------------------- */

enum ezr_failmalloc_mode {
    EZR_FAILMALLOC_OFF,    /* count, never fail */
    EZR_FAILMALLOC_NTH,    /* only the Nth counted allocation fails */
    EZR_FAILMALLOC_AFTER,  /* the Nth and every later one fail */
    EZR_FAILMALLOC_RANDOM, /* each fails with probability 1/N, from a seed */
    EZR_FAILMALLOC_SITE,   /* the first call at site number N (ezr_failmalloc_sites) fails */
};

/* Starts counting afresh (the call count and the failures are reset; sites keep their totals).
 * n counts from 1; seed is used by EZR_FAILMALLOC_RANDOM only. Any thread. */
void ezr_failmalloc_arm(enum ezr_failmalloc_mode mode, uint64_t n, uint64_t seed);
/* Stops failing (mode OFF) but keeps the counts since the last arm, which the next arm resets. */
void ezr_failmalloc_disarm(void);
/* Allocations counted, and made to fail, since the last arm. */
uint64_t ezr_failmalloc_calls(void);
uint64_t ezr_failmalloc_failures(void);
/* While a thread is exempt, its allocations are neither counted nor failed: a test's own
 * players use the library's buffers and chunk code, and must not take the library's share. */
void ezr_failmalloc_exempt_thread(bool exempt);
bool ezr_failmalloc_thread_exempt(void);

/* For OpenSSL's CRYPTO_set_mem_functions: its allocations are counted and failed like ours,
 * their sites named "openssl:FILE". */
void *ezr_failmalloc_openssl_malloc(size_t n, const char *file, int line);
void *ezr_failmalloc_openssl_realloc(void *p, size_t n, const char *file, int line);
void ezr_failmalloc_openssl_free(void *p, const char *file, int line);

/* A call site seen since the process started: calls counted there and failures made there. */
struct ezr_failmalloc_site {
    const char *file; /* as __FILE__ gave it (or OpenSSL's), static */
    int line;
    bool openssl;
    uint64_t calls;
    uint64_t failed;
    uint64_t calls_since_arm;
};
/* Called (outside the injector's lock) on every failure it makes, e.g. to print a stack. */
void ezr_failmalloc_on_failure(void (*fn)(const char *file, int line));
/* The site of the last failure since the last arm, -1 if none. */
int ezr_failmalloc_last_failed_site(void);
/* Copies up to max sites into out; returns how many there are. */
size_t ezr_failmalloc_sites(struct ezr_failmalloc_site *out, size_t max);

#endif

#endif
