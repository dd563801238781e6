/* HTTP/1.x request heads, sans-I/O: bytes in, a parsed request (method, path, query and the few
 * headers we act on) out; nothing is allocated, each header is looked at once and only those we
 * need are kept, in fixed fields. Also the response heads we send, written into an ezr_buf.
 *
 * The parser resumes where it stopped (the caller gives the same bytes again with more after
 * them) and its error is sticky, as llhttp's: once a request is refused, every later call returns
 * the same error, with the status to answer and a reason for the log. */
#ifndef EZR_HTTP_H
#define EZR_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ezr_buf.h"
#include "ezr_limits.h"

enum ezr_http_method {
    EZR_HTTP_OTHER, /* any other token: answered 405 */
    EZR_HTTP_GET,
    EZR_HTTP_HEAD,
    EZR_HTTP_OPTIONS,
};

struct ezr_http_request {
    enum ezr_http_method method;
    char path[EZR_HTTP_MAX_TARGET + 1];  /* as sent, not decoded: "/live/stream.flv" */
    char query[EZR_HTTP_MAX_TARGET + 1]; /* after '?', "" when none */
    int minor_version;                   /* HTTP/1.0 or HTTP/1.1 */
    bool upgrade_websocket;              /* Upgrade: websocket */
    bool connection_upgrade;             /* Connection: ..., upgrade */
    bool connection_close;               /* Connection: close */
    bool connection_keep_alive;          /* Connection: keep-alive (HTTP/1.0) */
    bool has_body;                       /* Content-Length > 0 or Transfer-Encoding */
    char ws_key[32];                     /* Sec-WebSocket-Key, "" when absent or too long */
    int ws_version;                      /* Sec-WebSocket-Version, -1 when absent */
    char origin[EZR_HTTP_MAX_ORIGIN + 1];
    char host[EZR_HTTP_MAX_ORIGIN + 1];
};

/* 16 bytes: every HTTP connection keeps one, a parked request too. */
struct ezr_http_parser {
    const char *reason; /* with error: static text for the log */
    uint32_t scanned;   /* bytes already searched for the end of the head (< EZR_HTTP_MAX_HEAD) */
    int16_t status;     /* with error: the status to answer (400, 414, 431, 505) */
    int8_t error;       /* 0, or the sticky EZR_E* */
};

void ezr_http_parser_init(struct ezr_http_parser *p);
/* Parses the request head at the start of in[0..len) into *req. Returns the head's length (the
 * bytes consumed, > 0) once it is complete, EZR_EAGAIN when more bytes are needed (give them
 * again with more), or EZR_EPROTO / EZR_ELIMIT with p->status and p->reason set, for this and
 * every later call. */
int ezr_http_parse(struct ezr_http_parser *p, const uint8_t *in, size_t len,
                   struct ezr_http_request *req);

/* The reason phrase of a status we send ("Not Found"). */
const char *ezr_http_status_text(int status);
/* Appends "HTTP/1.1 STATUS TEXT\r\n". Headers follow with ezr_http_put_header, then
 * ezr_http_end_head. */
void ezr_http_put_status(struct ezr_buf *b, int status);
void ezr_http_put_header(struct ezr_buf *b, const char *name, const char *value);
void ezr_http_end_head(struct ezr_buf *b);

/* Decodes %XX escapes of s[0..len) into out (cap bytes with the NUL). Returns the decoded
 * length, or -1 for a bad escape, a NUL or control byte, a '/' decoded from %2F, or no room. */
int ezr_http_unescape(const char *s, size_t len, char *out, size_t cap);

#endif
