/* The public calls on a publish point ("ingest"): the application registers one on a server for
 * APP/KEY (ezr_server_add_ingest, in ezr_server.h, which includes this), an RTMP client publishes
 * to rtmp://HOST:PORT/APP/KEY, and what it publishes comes out here as FLV tags, in order, through
 * a queue bounded in bytes that the application drains (ezr_ingest_pop). When the queue is full
 * the server stops reading the publisher's socket, so TCP pushes back on it; it reads again once
 * the application has made room. Nothing is dropped.
 *
 * Threads: the reactor produces into the queue; any one thread (the element's streaming thread)
 * pops. The other calls may come from any thread. */
#ifndef EZR_INGEST_API_H
#define EZR_INGEST_API_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ezr_stream_api.h" /* ezr_client_fn and struct ezr_client_info, for the publisher */

struct ezr_ingest;

struct ezr_ingest_config {
    const char *app; /* the application publishers connect to, e.g. "live" */
    const char *key; /* the stream name they publish, e.g. "obs" */
    /* Who may publish: CIDR ranges as ezr_stream_config's allowed_clients. NULL or "": anyone. */
    const char *allowed_clients;
    /* If set, publishers must publish "key?token=THIS" (compared in constant time); others get
     * NetStream.Publish.BadName and are closed. */
    const char *publish_token;
    /* Bytes of tags the queue holds before the publisher's socket is no longer read;
     * 0 = EZR_DEFAULT_INGEST_MAX_BYTES. The queue may pass it by one message (a message is
     * queued whole) and what one read of the socket holds. */
    size_t max_bytes;
    /* A publisher that sends nothing this long (ms) is closed; its socket not being read because
     * the queue is full does not count. 0 = never. */
    uint32_t timeout_ms;
    /* The publisher started (EZR_CLIENT_ADDED) or stopped publishing (EZR_CLIENT_REMOVED, with
     * the reason). Reactor thread, as ezr_client_fn says. May be NULL. */
    ezr_client_fn on_client;
    void *client_ctx;
};

enum ezr_ingest_event {
    EZR_INGEST_TAG,     /* an FLV tag the publisher sent */
    EZR_INGEST_STARTED, /* a publisher started publishing: its tags follow */
    EZR_INGEST_ENDED,   /* it stopped (unpublish, deleteStream, disconnect, timeout, removed) */
};

/* What ezr_ingest_pop() hands over; the caller owns it (ezr_ingest_item_free). */
struct ezr_ingest_item {
    enum ezr_ingest_event event;
    uint8_t type;       /* EZR_INGEST_TAG: the FLV tag type, 8 audio, 9 video, 18 script */
    uint32_t timestamp; /* EZR_INGEST_TAG: ms, as the publisher stamped it */
    uint64_t publisher; /* the publisher's client id (STARTED and ENDED too) */
    /* EZR_INGEST_TAG: the whole FLV tag, writable: its 11-byte header (type, size, timestamp,
     * stream id 0), the body (body_len bytes: the RTMP message payload, "@setDataFrame" taken
     * off metadata), then the 4-byte previous tag size. NULL for the events. */
    uint8_t *tag;
    size_t tag_len;
    size_t body_len;
};

/* Takes the oldest item. Waits at most timeout_ms (-1: without limit) for one. Returns 0 and
 * *out, EZR_EAGAIN when the time ran out, EZR_ECLOSED while flushing (ezr_ingest_set_flushing)
 * or once the point is removed. */
int ezr_ingest_pop(struct ezr_ingest *ing, int timeout_ms, struct ezr_ingest_item **out);
void ezr_ingest_item_free(struct ezr_ingest_item *it);
/* While flushing, ezr_ingest_pop() returns EZR_ECLOSED at once, and a thread waiting in it wakes
 * (GstBaseSrc's unlock and unlock_stop). What is queued stays. Any thread. */
void ezr_ingest_set_flushing(struct ezr_ingest *ing, bool flushing);
/* Closes the publisher, if any (it is told NetStream.Unpublish.Success... no: its connection
 * closes; ENDED follows). Asynchronous. */
void ezr_ingest_kick(struct ezr_ingest *ing);

/* The publisher now (or the last one) and the point's counters. */
struct ezr_publisher_stats {
    uint64_t id;           /* the publisher's client id, 0: none yet */
    uint64_t bytes_in;     /* tag bodies received from this publisher */
    uint64_t tags;         /* its tags */
    uint64_t video_frames; /* its video tags that are not sequence headers */
    uint64_t audio_frames; /* its audio tags that are not sequence headers */
    uint64_t keyframes;    /* its video keyframes */
    uint64_t connected_ms; /* how long it has published (0: none now) */
    uint64_t bitrate;      /* bits per second over the last second or two */
    uint64_t publishes;    /* publications accepted on this point */
    uint64_t refused;      /* publish attempts refused (busy, token, allowed-clients) */
    uint64_t held;         /* times its socket was not read because the queue was full */
    uint64_t queued_bytes; /* in the queue now */
    uint64_t max_bytes;    /* the queue's bound */
    char addr[64];         /* "" when none */
    bool publishing;
};
/* A snapshot, under the point's lock. Any thread. */
void ezr_ingest_get_stats(struct ezr_ingest *ing, struct ezr_publisher_stats *out);

#endif
