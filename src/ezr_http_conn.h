/* One HTTP/1.1 connection's state and the answers every route writes, shared by the front door
 * (ezr_proto_http.c: requests, keep-alive, pipelining, the route table) and the routes
 * (ezr_http_flv.c: HTTP-FLV and WebSocket-FLV; ezr_http_hls.c: LL-HLS). Layer 10, not installed.
 * Reactor-thread only. */
#ifndef EZR_HTTP_CONN_H
#define EZR_HTTP_CONN_H

#include <stdbool.h>
#include <stdint.h>

#include "ezr_buf.h"
#include "ezr_client.h"
#include "ezr_hls_group.h"
#include "ezr_hls_out.h"
#include "ezr_http.h"

/* Kept small and without holes: a parked request costs this, its connection (ezr_client.h) and
 * nothing else (docs/hls.md, "Waiting requests"). */
struct ezr_http_conn {
    struct ezr_client *client; /* whose state this is */
    struct ezr_http_parser parser;
    /* Of the request in hand (the request itself is the reactor thread's, only while it is
     * routed: a parked request keeps no copy of its head). */
    bool keep_alive;    /* its answer leaves the connection open for the next request */
    bool head_only;     /* HEAD: the answer's head alone */
    bool waiting;       /* its answer is deferred (a blocked playlist reload, a hinted part) */
    bool done;          /* no more requests: it plays a stream (HTTP-FLV) or is closing */
    bool group_waiting; /* the request parked is a multivariant one: group holds it, not wait */
    /* A request waits for one thing at a time (the next one is not read until it is answered):
     * HLS: the media playlist reload or hinted part parked; or a multivariant request parked
     * until every rendition of its group has a segment, with its query (owned; NULL when none),
     * which the variant URIs carry. */
    union {
        struct ezr_hls_waiter wait;
        struct {
            struct ezr_hls_group_wait wait;
            struct ezr_hls_group *of;
            char *query;
        } group;
    };
    /* HLS: the viewer this connection is once it asked for a stream's HLS (one viewer = one
     * connection). */
    struct ezr_hls_viewer viewer;
};

/* What a route did with a request (negative: an EZR_E* error, EZR_ECLOSED when a final answer is
 * queued and the connection closes once it is written). */
enum ezr_http_outcome {
    EZR_HTTP_NEXT = 0,    /* answered: the next pipelined request may be read */
    EZR_HTTP_WAITING = 1, /* answered later (ezr_http_answered when done) */
    EZR_HTTP_PLAYING = 2, /* the connection plays a stream from now on (HTTP-FLV, WebSocket-FLV) */
};

static inline struct ezr_http_conn *ezr_http_conn_of(const struct ezr_client *c)
{
    return c->proto_state;
}

/* CORS, and Connection as the request allows (keep-alive, or close). */
void ezr_http_put_common(struct ezr_client *c, struct ezr_buf *b);
/* Queues b (freed here) as the answer; EZR_ENOMEM when it could not be built. */
int ezr_http_send_buf(struct ezr_client *c, struct ezr_buf *b);
/* An error answer with a one-line text body that says status, and said when the player can act
 * on it (NULL, or a sentence without secrets); why goes to the log. The connection closes after
 * it: returns EZR_ECLOSED, or EZR_ENOMEM. */
int ezr_http_answer_error(struct ezr_client *c, int status, const char *why, const char *said);
/* A deferred answer is queued: the connection reads its next request (pipelined ones first). */
void ezr_http_answered(struct ezr_client *c);

/* The routes (ezr_proto_http.c's table). */
int ezr_http_flv_answer(struct ezr_client *c, const struct ezr_http_request *req);
int ezr_http_hls_answer(struct ezr_client *c, const struct ezr_http_request *req);
/* Frees what an HLS request holds (a parked wait, the viewer): the connection closes. */
void ezr_http_hls_close(struct ezr_client *c);
/* The multivariant playlist of an hls-group (ezr_http_hls_group.c), reached through
 * ezr_http_hls_answer for /APP/GROUP.m3u8; and what its parked request holds, freed. */
int ezr_http_hls_group_answer(struct ezr_client *c, const struct ezr_http_request *req);
void ezr_http_hls_group_close(struct ezr_client *c);

#endif
