/* libFuzzer target: a whole client session through the sans-I/O core. A valid simple handshake
 * is sent first, so the input reaches the chunk stream and the commands. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "ezr_error.h"
#include "ezr_handshake.h"
#include "ezr_session.h"

static size_t sent;

static void cb_send(void *ctx, const uint8_t *d, size_t n)
{
    sent += n;
}
static int cb_connect(void *ctx, const char *app)
{
    return strcmp(app, "live") == 0 ? 0 : EZR_ENOTFOUND;
}
static int cb_play(void *ctx, const char *name)
{
    return strncmp(name, "stream", 6) == 0 ? 0 : EZR_ENOTFOUND;
}
static void cb_started(void *ctx)
{
}
static void cb_stopped(void *ctx)
{
}
static void cb_receive(void *ctx, bool a, bool v)
{
}

static void cb_pause(void *ctx, bool paused)
{
}

static const struct ezr_session_callbacks cbs = {cb_send,    cb_connect, cb_play, cb_started,
                                                 cb_stopped, cb_receive, cb_pause, NULL,
                                                 NULL,       NULL,       NULL,    NULL};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static uint8_t hello[1 + 2 * EZR_HANDSHAKE_SIZE];
    uint8_t random[EZR_HANDSHAKE_SIZE] = {0};
    hello[0] = 3; /* C0, then C1 and C2 of zeros */
    struct ezr_session s;
    ezr_session_init(&s, &cbs, NULL, 4096, random, 0);
    int rc = ezr_session_feed(&s, hello, sizeof hello);
    struct ezr_buf pending;
    ezr_buf_init(&pending);
    for (size_t off = 0; rc >= 0 && off < size; off += 61) {
        size_t n = size - off < 61 ? size - off : 61;
        ezr_buf_append(&pending, data + off, n);
        rc = ezr_session_feed(&s, pending.data, pending.len);
        if (rc >= 0)
            ezr_buf_consume(&pending, (size_t)rc);
    }
    ezr_buf_free(&pending);
    ezr_session_free(&s);
    return 0;
}
