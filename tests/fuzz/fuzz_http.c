/* libFuzzer target: an HTTP request head fed in two slices at a split the input chooses, then
 * whatever follows the head as WebSocket frames from a player, as ezr_proto_http does. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "ezr_error.h"
#include "ezr_http.h"
#include "ezr_ws.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct ezr_http_parser p;
    struct ezr_http_request req;
    ezr_http_parser_init(&p);
    size_t split = size ? data[0] * size / 256 : 0;
    int rc = ezr_http_parse(&p, data, split, &req);
    if (rc == EZR_EAGAIN)
        rc = ezr_http_parse(&p, data, size, &req);
    if (rc < 0) {
        /* Sticky, with a status to answer. */
        if (rc != EZR_EAGAIN && (ezr_http_parse(&p, data, size, &req) != rc || p.status < 400))
            __builtin_trap();
        return 0;
    }
    if ((size_t)rc > size || !memchr(req.path, '\0', sizeof req.path) || req.path[0] != '/')
        __builtin_trap();
    char accept[EZR_WS_ACCEPT_LEN + 1];
    ezr_ws_accept_key(req.ws_key, accept);
    struct ezr_ws_reader r;
    struct ezr_buf out;
    ezr_ws_reader_init(&r);
    ezr_buf_init(&out);
    size_t pos = (size_t)rc;
    /* In slices of at most 7 bytes, every header split somewhere. */
    while (pos < size && !r.closed) {
        size_t n = size - pos < 7 ? size - pos : 7;
        int used = ezr_ws_feed(&r, data + pos, n, &out);
        if (used == EZR_ECLOSED)
            break;
        if (used < 0 || (size_t)used > n)
            __builtin_trap();
        if (used == 0) {
            /* Needs more than this slice: feed it all that is left. */
            used = ezr_ws_feed(&r, data + pos, size - pos, &out);
            if (used <= 0)
                break;
        }
        pos += (size_t)used;
    }
    ezr_buf_free(&out);
    return 0;
}
