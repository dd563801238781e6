/* The failing-allocator sweep (meson test --suite failmalloc): for each scenario, a run that
 * counts its allocations, then runs with the Nth failing for every N (--full) or a sample (every
 * k-th N), one for each call site of src/ it reaches with that site's first call failing, a few
 * with every allocation after the Nth failing, and a few failing at random. Each run must pass its scenario's checks (scenarios.c) and leave
 * nothing for LeakSanitizer. Last, the allocation sites of src/ (the door's call sites, read
 * from the sources given on the command line) that no run made fail, and the TAP line
 *   ok 15 - failmalloc: N of M allocation sites failed
 * which passes when N = M.
 * Usage: test_failmalloc [--full] [--only SCENARIO] SOURCE.c...
 * OpenSSL allocates through the injector too (CRYPTO_set_mem_functions, before anything else). */
#include "sweep.h"

#include <dirent.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include "test_cert.h"

#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/common_interface_defs.h>
#include <sanitizer/lsan_interface.h>
#define HAVE_LSAN 1
#else
#define HAVE_LSAN 0
#endif

/* The sampled sweep runs about this many Ns per scenario besides each site's first call. */
#define SAMPLES 16
#define PRINT_MAX 8 /* failing runs described per scenario */

char fm_cert_path[128], fm_key_path[128];
static struct ezr_failmalloc_site seen[4096];
static char tmpdir[64];

/* ---- the plan of a run ------------------------------------------------------------------ */

static enum ezr_failmalloc_mode plan_mode;
static uint64_t plan_n, plan_seed;

void fm_set_plan(enum ezr_failmalloc_mode mode, uint64_t n, uint64_t seed)
{
    plan_mode = mode;
    plan_n = n;
    plan_seed = seed;
}

void fm_arm(void)
{
    ezr_failmalloc_arm(plan_mode, plan_n, plan_seed);
}

void fm_disarm(struct run *r)
{
    ezr_failmalloc_disarm(); /* first: no failure comes after the count read */
    r->failures = ezr_failmalloc_failures();
    r->calls = ezr_failmalloc_calls();
    size_t ns = ezr_failmalloc_sites(seen, sizeof seen / sizeof seen[0]);
    memset(r->site_calls, 0, sizeof r->site_calls);
    for (size_t i = 0; i < ns && i < sizeof seen / sizeof seen[0]; i++)
        r->site_calls[i] = seen[i].calls_since_arm;
}

#if HAVE_LSAN
/* EZR_FAILMALLOC_STACKS=1: where each injected failure happened, to find what mishandled it. */
static void print_stack(const char *file, int line)
{
    fprintf(stderr, "failmalloc: failing the allocation at %s:%d\n", file, line);
    __sanitizer_print_stack_trace();
}
#endif

bool fm_last_failure_in_openssl(void)
{
    int si = ezr_failmalloc_last_failed_site();
    size_t ns = ezr_failmalloc_sites(seen, sizeof seen / sizeof seen[0]);
    return si >= 0 && (size_t)si < ns && (size_t)si < sizeof seen / sizeof seen[0] &&
           seen[si].openssl;
}

/* ---- the certificate -------------------------------------------------------------------- */

static bool make_cert(void)
{
    snprintf(tmpdir, sizeof tmpdir, "/tmp/ezrtmp-failmalloc-XXXXXX");
    if (!mkdtemp(tmpdir))
        return false;
    snprintf(fm_cert_path, sizeof fm_cert_path, "%s/cert.pem", tmpdir);
    snprintf(fm_key_path, sizeof fm_key_path, "%s/key.pem", tmpdir);
    EVP_PKEY *k = EVP_EC_gen("P-256");
    X509 *x = test_self_signed_cert(k);
    FILE *kf = fopen(fm_key_path, "w"), *cf = fopen(fm_cert_path, "w");
    bool ok = x && kf && cf && PEM_write_PrivateKey(kf, k, NULL, NULL, 0, NULL, NULL) == 1 &&
              PEM_write_X509(cf, x) == 1;
    if (kf)
        fclose(kf);
    if (cf)
        fclose(cf);
    X509_free(x);
    EVP_PKEY_free(k);
    return ok;
}

static void remove_cert(void)
{
    unlink(fm_cert_path);
    unlink(fm_key_path);
    rmdir(tmpdir);
}

/* ---- the sites of src/ ------------------------------------------------------------------ */

struct src_site {
    char file[64]; /* base name */
    int line;
};
static struct src_site src_sites[512];
static size_t nsrc_sites;

static const char *base_name(const char *path)
{
    const char *s = strrchr(path, '/');
    return s ? s + 1 : path;
}

/* The door's call sites in one file: lines calling ezr_malloc( and its siblings, outside
 * comments (the same reading as use_door.py). */
static size_t scan_file(const char *path, bool record)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return 0;
    char line[1024];
    size_t found = 0;
    for (int no = 1; fgets(line, sizeof line, f); no++) {
        const char *p = line + strspn(line, " \t");
        if (strncmp(p, "/*", 2) == 0 || *p == '*')
            continue;
        char *cut = strstr(line, "/*");
        if (cut)
            *cut = 0;
        static const char *const calls[] = {"ezr_malloc(", "ezr_calloc(", "ezr_realloc(",
                                            "ezr_strdup("};
        for (size_t i = 0; i < 4; i++) {
            const char *at = strstr(line, calls[i]);
            if (!at || (at > line && (at[-1] == '_' || at[-1] == '.')))
                continue;
            found++;
            if (record && nsrc_sites < sizeof src_sites / sizeof src_sites[0]) {
                snprintf(src_sites[nsrc_sites].file, sizeof src_sites[0].file, "%s",
                         base_name(path));
                src_sites[nsrc_sites++].line = no;
            }
            break;
        }
    }
    fclose(f);
    return found;
}

static bool in_build(const char *name, char **files, int nfiles)
{
    for (int i = 0; i < nfiles; i++)
        if (strcmp(base_name(files[i]), name) == 0)
            return true;
    return false;
}

/* The sites of the built sources, and the headers beside them; says which files of the
 * directory this build leaves out (the other reactor backend) and their sites. */
static void scan_sources(char **files, int nfiles)
{
    for (int i = 0; i < nfiles; i++)
        if (!strstr(files[i], "ezr_alloc."))
            scan_file(files[i], true);
    if (nfiles == 0)
        return;
    char dir[512];
    snprintf(dir, sizeof dir, "%s", files[0]);
    char *slash = strrchr(dir, '/');
    if (slash)
        *slash = 0;
    else
        snprintf(dir, sizeof dir, ".");
    DIR *d = opendir(dir);
    struct dirent *e;
    while (d && (e = readdir(d))) {
        size_t len = strlen(e->d_name);
        if (len < 3 || strncmp(e->d_name, "ezr_alloc.", 10) == 0)
            continue;
        char path[1024];
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        bool header = strcmp(e->d_name + len - 2, ".h") == 0;
        if (header) {
            scan_file(path, true);
        } else if (strcmp(e->d_name + len - 2, ".c") == 0 &&
                   !in_build(e->d_name, files, nfiles)) {
            size_t n = scan_file(path, false);
            if (n)
                printf("# not in this build: %s (%zu allocation sites; another reactor "
                       "backend's, swept in a build with that -Dreactor=)\n",
                       e->d_name, n);
        }
    }
    if (d)
        closedir(d);
}

/* Prints the sites no run made fail; N, the number that did. */
static size_t report_sites(void)
{
    size_t ns = ezr_failmalloc_sites(seen, sizeof seen / sizeof seen[0]);
    if (ns > sizeof seen / sizeof seen[0])
        ns = sizeof seen / sizeof seen[0];
    size_t failed = 0, ossl = 0, ossl_failed = 0;
    for (size_t i = 0; i < ns; i++)
        if (seen[i].openssl) {
            ossl++;
            ossl_failed += seen[i].failed > 0;
        }
    for (size_t j = 0; j < nsrc_sites; j++) {
        bool hit = false, reached = false;
        for (size_t i = 0; i < ns; i++)
            if (!seen[i].openssl && seen[i].line == src_sites[j].line &&
                strcmp(base_name(seen[i].file), src_sites[j].file) == 0) {
                reached = reached || seen[i].calls > 0;
                hit = hit || seen[i].failed > 0;
            }
        failed += hit;
        if (!hit)
            printf("# allocation site %s:%d %s\n", src_sites[j].file, src_sites[j].line,
                   reached ? "reached but never failed" : "never reached");
    }
    printf("# OpenSSL: %zu of the %zu allocation sites reached failed\n", ossl_failed, ossl);
    return failed;
}

/* ---- the sweep -------------------------------------------------------------------------- */

static bool full;

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* One run: the scenario's checks, then nothing leaked. */
static bool run_once(const struct scenario *sc, struct run *r, unsigned *printed,
                     const char *plan)
{
    memset(r->why, 0, sizeof r->why);
    bool ok = sc->fn(r);
#if HAVE_LSAN
    if (__lsan_do_recoverable_leak_check() != 0) {
        if (ok)
            snprintf(r->why, sizeof r->why, "LeakSanitizer found leaks (report above)");
        ok = false;
    }
#endif
    if (!ok && (*printed)++ < PRINT_MAX) {
        int si = ezr_failmalloc_last_failed_site();
        size_t ns = ezr_failmalloc_sites(seen, sizeof seen / sizeof seen[0]);
        char where[128] = "";
        if (si >= 0 && (size_t)si < ns && (size_t)si < sizeof seen / sizeof seen[0])
            snprintf(where, sizeof where, ", last at %s%s:%d", seen[si].openssl ? "openssl:" : "",
                     base_name(seen[si].file), seen[si].line);
        printf("# %s, %s (%llu allocations, %llu failed%s): %s\n", sc->name, plan,
               (unsigned long long)r->calls, (unsigned long long)r->failures, where, r->why);
    }
    fflush(stdout);
    return ok;
}

static struct run count_run, r;
static uint64_t ns_plan[8192];

/* The Ns of a scenario: all of 1..calls, or every k-th. */
static size_t plan_ns(uint64_t calls, uint64_t *out, size_t max)
{
    size_t n = 0;
    uint64_t step = full || calls <= SAMPLES ? 1 : (calls + SAMPLES - 1) / SAMPLES;
    for (uint64_t k = 1; k <= calls && n < max; k += step)
        out[n++] = k;
    return n;
}

static bool sweep(const struct scenario *sc, size_t tap)
{
    double t0 = now_s();
    unsigned printed = 0;
    /* A first run does what OpenSSL and the C library do once per process (OpenSSL's providers
     * and caches, lazily): the count comes from the second, as every later run allocates. */
    fm_set_plan(EZR_FAILMALLOC_OFF, 0, 0);
    bool ok = run_once(sc, &count_run, &printed, "nothing failing (warm-up)") &&
              run_once(sc, &count_run, &printed, "nothing failing");
    uint64_t calls = count_run.calls;
    size_t nplan = ok ? plan_ns(calls + (full ? 2 : 0), ns_plan, sizeof ns_plan / sizeof ns_plan[0])
                      : 0;
    size_t runs = 2, failed_runs = !ok;
    char plan[96];
    for (size_t i = 0; i < nplan; i++, runs++) {
        fm_set_plan(EZR_FAILMALLOC_NTH, ns_plan[i], 0);
        snprintf(plan, sizeof plan, "allocation %llu failing", (unsigned long long)ns_plan[i]);
        failed_runs += !run_once(sc, &r, &printed, plan);
    }
    /* Each call site of src/ the scenario reaches, its first call failing: which allocation is
     * the Nth can vary from run to run (two threads, the sockets' timing), a site's does not. */
    size_t ns = ezr_failmalloc_sites(seen, sizeof seen / sizeof seen[0]);
    for (size_t i = 0; ok && i < ns && i < sizeof seen / sizeof seen[0]; i++) {
        if (!count_run.site_calls[i] || seen[i].openssl)
            continue;
        fm_set_plan(EZR_FAILMALLOC_SITE, i, 0);
        snprintf(plan, sizeof plan, "the first allocation at %s:%d failing",
                 base_name(seen[i].file), seen[i].line);
        failed_runs += !run_once(sc, &r, &printed, plan);
        runs++;
    }
    /* Lasting shortage: every allocation from the Nth on. */
    for (int i = 0; ok && i < 3; i++, runs++) {
        uint64_t n = 1 + calls * (uint64_t)i / 3;
        fm_set_plan(EZR_FAILMALLOC_AFTER, n, 0);
        snprintf(plan, sizeof plan, "every allocation from %llu failing", (unsigned long long)n);
        failed_runs += !run_once(sc, &r, &printed, plan);
    }
    /* Scattered failures: one in eight, three seeds. */
    for (uint64_t seed = 1; ok && seed <= 3; seed++, runs++) {
        fm_set_plan(EZR_FAILMALLOC_RANDOM, 8, seed);
        snprintf(plan, sizeof plan, "one in 8 failing, seed %llu", (unsigned long long)seed);
        failed_runs += !run_once(sc, &r, &printed, plan);
    }
    printf("# %s: %llu allocations, %zu runs, %zu failed, %.1f s\n", sc->name,
           (unsigned long long)calls, runs, failed_runs, now_s() - t0);
    printf("%s %zu - %s\n", failed_runs ? "not ok" : "ok", tap, sc->name);
    fflush(stdout);
    return failed_runs == 0;
}

int main(int argc, char **argv)
{
    /* Before anything of OpenSSL allocates: its allocations go through the injector too. */
    if (!CRYPTO_set_mem_functions(ezr_failmalloc_openssl_malloc, ezr_failmalloc_openssl_realloc,
                                  ezr_failmalloc_openssl_free)) {
        printf("1..0 # SKIP OpenSSL allocated before main (CRYPTO_set_mem_functions refused)\n");
        return 1;
    }
    /* The TLS players write with write(2) to connections the server may have closed. */
    signal(SIGPIPE, SIG_IGN);
    /* The test's own thread: only what it does through LIB() counts. */
    ezr_failmalloc_exempt_thread(true);
    /* OpenSSL's one-time initialisation, which no later call can redo once it failed. */
    OPENSSL_init_ssl(0, NULL);
    const char *only = NULL;
    int first_file = 1;
    for (; first_file < argc && argv[first_file][0] == '-'; first_file++) {
        if (strcmp(argv[first_file], "--full") == 0)
            full = true;
        else if (strcmp(argv[first_file], "--only") == 0 && first_file + 1 < argc)
            only = argv[++first_file];
    }
    if (getenv("EZR_FAILMALLOC_FULL") && strcmp(getenv("EZR_FAILMALLOC_FULL"), "0") != 0)
        full = true;
#if HAVE_LSAN
    if (getenv("EZR_FAILMALLOC_STACKS"))
        ezr_failmalloc_on_failure(print_stack);
#endif
    scan_sources(argv + first_file, argc - first_file);
    if (!make_cert()) {
        printf("1..0\n# no test certificate could be made\n");
        return 1;
    }
    viewer_tls_init();
    bool ok = true;
    size_t n = 0;
    for (size_t i = 0; i < nscenarios; i++)
        n += !only || strcmp(only, scenarios[i].name) == 0;
    printf("1..%zu\n", n + (only ? 0 : 1));
    printf("# %s sweep; leak checks %s\n", full ? "full" : "sampled",
           HAVE_LSAN ? "after every run (LeakSanitizer)" : "off (no AddressSanitizer)");
    size_t tap = 0;
    for (size_t i = 0; i < nscenarios; i++)
        if (!only || strcmp(only, scenarios[i].name) == 0)
            ok = sweep(&scenarios[i], ++tap) && ok;
    if (!only) {
        size_t failed = report_sites();
        /* The last line: every site of src/ failed in some run. */
        bool all = failed == nsrc_sites && nsrc_sites > 0;
        printf("%s %zu - failmalloc: %zu of %zu allocation sites failed\n", all ? "ok" : "not ok",
               ++tap, failed, nsrc_sites);
        ok = ok && all;
    }
    viewer_tls_free();
    remove_cert();
    return ok ? 0 : 1;
}
