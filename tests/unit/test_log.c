/* The log's level filter: a line the application does not want is neither formatted nor handed
 * to its callback, a NULL filter wants every level, and the server's config reaches the filter
 * its per-request HTTP line asks. */
#include "ezr_test.h"

#include <pthread.h>

#include "ezr_types.h"
#include "http_test_client.h"
#include "server_fixture.h"

#define DEADLINE_MS 5000

/* Lines by level, and the levels the filter was asked about; the server logs on its thread. */
struct capture {
    pthread_mutex_t lock;
    int lines[EZR_LOG_DEBUG + 1];
    int asked[EZR_LOG_DEBUG + 1];
    int http_lines; /* the per-request "HTTP GET" line */
};

static void on_log(void *ctx, enum ezr_log_level level, const char *msg)
{
    struct capture *c = ctx;
    pthread_mutex_lock(&c->lock);
    c->lines[level]++;
    if (strstr(msg, " HTTP GET "))
        c->http_lines++;
    pthread_mutex_unlock(&c->lock);
}

/* Keeps WARNING and ERROR, as GStreamer's default threshold does. */
static bool wants_warnings(void *ctx, enum ezr_log_level level)
{
    struct capture *c = ctx;
    pthread_mutex_lock(&c->lock);
    c->asked[level]++;
    pthread_mutex_unlock(&c->lock);
    return level <= EZR_LOG_WARNING;
}

static void log_every_level(const struct ezr_log *log)
{
    ezr_log(log, EZR_LOG_ERROR, "error %d", 1);
    ezr_log(log, EZR_LOG_WARNING, "warning %d", 2);
    ezr_log(log, EZR_LOG_INFO, "info %d", 3);
    ezr_log(log, EZR_LOG_DEBUG, "debug %d", 4);
}

EZR_TEST(test_filter_refusing_info_gets_warnings_and_no_info)
{
    struct capture c = {.lock = PTHREAD_MUTEX_INITIALIZER};
    struct ezr_log log = {on_log, &c, wants_warnings};
    log_every_level(&log);
    EZR_CHECK_EQ(c.lines[EZR_LOG_ERROR], 1);
    EZR_CHECK_EQ(c.lines[EZR_LOG_WARNING], 1);
    EZR_CHECK_EQ(c.lines[EZR_LOG_INFO], 0);
    EZR_CHECK_EQ(c.lines[EZR_LOG_DEBUG], 0);
    EZR_CHECK_EQ(c.asked[EZR_LOG_INFO], 1);
    EZR_CHECK(!ezr_log_wants(&log, EZR_LOG_INFO));
    EZR_CHECK(ezr_log_wants(&log, EZR_LOG_WARNING));
}

EZR_TEST(test_null_filter_gets_every_level)
{
    struct capture c = {.lock = PTHREAD_MUTEX_INITIALIZER};
    struct ezr_log log = {on_log, &c, NULL};
    log_every_level(&log);
    for (int l = EZR_LOG_ERROR; l <= EZR_LOG_DEBUG; l++)
        EZR_CHECK_EQ(c.lines[l], 1);
    EZR_CHECK(ezr_log_wants(&log, EZR_LOG_DEBUG));
}

EZR_TEST(test_no_callback_wants_nothing)
{
    struct capture c = {.lock = PTHREAD_MUTEX_INITIALIZER};
    struct ezr_log log = {NULL, &c, wants_warnings};
    EZR_CHECK(!ezr_log_wants(&log, EZR_LOG_ERROR));
    EZR_CHECK(!ezr_log_wants(NULL, EZR_LOG_ERROR));
    ezr_log(NULL, EZR_LOG_ERROR, "nowhere");
    EZR_CHECK_EQ(c.asked[EZR_LOG_ERROR], 0);
}

/* One HTTP request to a server whose config has log_wants (or not); its line counted. */
static bool request_once(ezr_log_wants_fn wants, struct capture *c)
{
    struct ezr_server_config cfg;
    test_server_config(&cfg);
    cfg.http = true;
    cfg.log = on_log;
    cfg.log_ctx = c;
    cfg.log_wants = wants;
    struct ezr_stream *st;
    struct ezr_server *s = start_live_stream(&cfg, &st);
    if (!s)
        return false;
    struct http_client h;
    struct http_answer a = {0};
    bool ok = http_client_open(&h, ezr_server_port(s));
    /* The line is logged before the answer is written, so it is in once the answer is read. */
    ok = ok && http_client_get(&h, "/live/nothing.flv") &&
         http_client_answer(&h, &a, mono_ms() + DEADLINE_MS) == 0 && a.status == 404;
    http_client_close(&h);
    http_answer_free(&a);
    ezr_server_free(s);
    return ok;
}

EZR_TEST(test_server_config_filter_drops_the_http_request_line)
{
    struct capture c = {.lock = PTHREAD_MUTEX_INITIALIZER};
    EZR_CHECK(request_once(wants_warnings, &c));
    EZR_CHECK_EQ(c.http_lines, 0);
    EZR_CHECK_EQ(c.lines[EZR_LOG_INFO], 0);
    EZR_CHECK(c.asked[EZR_LOG_INFO] > 0);
}

EZR_TEST(test_server_config_without_filter_logs_the_http_request_line)
{
    struct capture c = {.lock = PTHREAD_MUTEX_INITIALIZER};
    EZR_CHECK(request_once(NULL, &c));
    EZR_CHECK_EQ(c.http_lines, 1);
    EZR_CHECK(c.lines[EZR_LOG_INFO] > 1); /* "listening on", "serving", the request, ... */
}

EZR_TEST_MAIN(EZR_CASE(test_filter_refusing_info_gets_warnings_and_no_info),
              EZR_CASE(test_null_filter_gets_every_level), EZR_CASE(test_no_callback_wants_nothing),
              EZR_CASE(test_server_config_filter_drops_the_http_request_line),
              EZR_CASE(test_server_config_without_filter_logs_the_http_request_line))
