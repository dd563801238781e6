/* The failing allocator of -Dfailmalloc=true builds; see ezr_alloc.h. One mutex guards the
 * whole state: the library allocates from the reactor thread and the application's threads, and
 * a test build is not measured for speed. */
#include "ezr_alloc.h"

#include <errno.h>
#include <pthread.h>

#define SITES_MAX 4096 /* src/ has a few dozen; OpenSSL's TLS handshake reaches some hundreds */

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static enum ezr_failmalloc_mode mode;
static uint64_t target;      /* N of the mode */
static uint64_t rng;         /* xorshift64 state for EZR_FAILMALLOC_RANDOM */
static uint64_t calls;       /* counted since the last arm */
static uint64_t failures;    /* made since the last arm */
static int last_failed = -1; /* the site of the last of them */
static struct ezr_failmalloc_site sites[SITES_MAX];
static size_t nsites;
static _Thread_local bool exempt;
static void (*on_failure)(const char *file, int line);

/* The index of file:line in sites, added if new; -1 when the table is full. */
static int site_index(const char *file, int line, bool openssl)
{
    for (size_t i = 0; i < nsites; i++)
        if (sites[i].line == line && sites[i].openssl == openssl &&
            (sites[i].file == file || strcmp(sites[i].file, file) == 0))
            return (int)i;
    if (nsites == SITES_MAX)
        return -1;
    sites[nsites] = (struct ezr_failmalloc_site){.file = file, .line = line, .openssl = openssl};
    return (int)nsites++;
}

static uint64_t next_random(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

/* Counts one allocation from file:line; true if it is to fail. */
static bool should_fail(const char *file, int line, bool openssl)
{
    if (exempt)
        return false;
    pthread_mutex_lock(&lock);
    int si = site_index(file, line, openssl);
    uint64_t k = ++calls;
    bool fail = (mode == EZR_FAILMALLOC_NTH && k == target) ||
                (mode == EZR_FAILMALLOC_AFTER && k >= target) ||
                (mode == EZR_FAILMALLOC_RANDOM && target && next_random() % target == 0) ||
                (mode == EZR_FAILMALLOC_SITE && si >= 0 && (uint64_t)si == target && !failures);
    if (si >= 0) {
        sites[si].calls++;
        sites[si].calls_since_arm++;
        sites[si].failed += fail;
    }
    failures += fail;
    if (fail)
        last_failed = si;
    pthread_mutex_unlock(&lock);
    if (fail && on_failure)
        on_failure(file, line);
    if (fail)
        errno = ENOMEM; /* as the C library's allocators set it */
    return fail;
}

void *ezr_failmalloc_malloc(size_t n, const char *file, int line)
{
    return should_fail(file, line, false) ? NULL : malloc(n);
}

void *ezr_failmalloc_calloc(size_t count, size_t n, const char *file, int line)
{
    return should_fail(file, line, false) ? NULL : calloc(count, n);
}

void *ezr_failmalloc_realloc(void *p, size_t n, const char *file, int line)
{
    return should_fail(file, line, false) ? NULL : realloc(p, n);
}

char *ezr_failmalloc_strdup(const char *s, const char *file, int line)
{
    return should_fail(file, line, false) ? NULL : strdup(s);
}

void *ezr_failmalloc_openssl_malloc(size_t n, const char *file, int line)
{
    return should_fail(file ? file : "?", line, true) ? NULL : malloc(n);
}

void *ezr_failmalloc_openssl_realloc(void *p, size_t n, const char *file, int line)
{
    /* CRYPTO_realloc hands both edge cases to a replacement as they come. */
    if (!p)
        return ezr_failmalloc_openssl_malloc(n, file, line);
    if (n == 0) {
        free(p);
        return NULL;
    }
    return should_fail(file ? file : "?", line, true) ? NULL : realloc(p, n);
}

void ezr_failmalloc_openssl_free(void *p, const char *file, int line)
{
    free(p);
}

void ezr_failmalloc_arm(enum ezr_failmalloc_mode m, uint64_t n, uint64_t seed)
{
    pthread_mutex_lock(&lock);
    mode = m;
    target = n;
    rng = seed ? seed : 0x9e3779b97f4a7c15u;
    calls = 0;
    failures = 0;
    last_failed = -1;
    for (size_t i = 0; i < nsites; i++)
        sites[i].calls_since_arm = 0;
    pthread_mutex_unlock(&lock);
}

void ezr_failmalloc_on_failure(void (*fn)(const char *file, int line))
{
    on_failure = fn;
}

void ezr_failmalloc_disarm(void)
{
    pthread_mutex_lock(&lock);
    mode = EZR_FAILMALLOC_OFF;
    pthread_mutex_unlock(&lock);
}

int ezr_failmalloc_last_failed_site(void)
{
    pthread_mutex_lock(&lock);
    int si = last_failed;
    pthread_mutex_unlock(&lock);
    return si;
}

uint64_t ezr_failmalloc_calls(void)
{
    pthread_mutex_lock(&lock);
    uint64_t n = calls;
    pthread_mutex_unlock(&lock);
    return n;
}

uint64_t ezr_failmalloc_failures(void)
{
    pthread_mutex_lock(&lock);
    uint64_t n = failures;
    pthread_mutex_unlock(&lock);
    return n;
}

void ezr_failmalloc_exempt_thread(bool on)
{
    exempt = on;
}

bool ezr_failmalloc_thread_exempt(void)
{
    return exempt;
}

size_t ezr_failmalloc_sites(struct ezr_failmalloc_site *out, size_t max)
{
    pthread_mutex_lock(&lock);
    size_t n = nsites;
    memcpy(out, sites, (n < max ? n : max) * sizeof *out);
    pthread_mutex_unlock(&lock);
    return n;
}
