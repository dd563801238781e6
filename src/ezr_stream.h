/* A stream's insides (the public API is in ezr_server.h): who may play it, its players, its GOP
 * cache, the fan-out of each frame to every player, the EOS drain and its counters.
 * Reactor-thread only unless a field says otherwise. */
#ifndef EZR_STREAM_H
#define EZR_STREAM_H

#include <stdbool.h>
#include <stdint.h>

#include "ezr_acl.h"
#include "ezr_fan.h"
#include "ezr_gop.h"
#include "ezr_limits.h"
#include "ezr_list.h"
#include "ezr_queue.h"
#include "ezr_server.h"

struct ezr_client;

struct ezr_stream {
    struct ezr_server *srv;
    struct ezr_link registry_link; /* on srv->streams, under srv->lock */
    char app[EZR_MAX_NAME_LEN + 1];
    char key[EZR_MAX_NAME_LEN + 1];
    ezr_client_fn on_client;
    void *client_ctx;
    ezr_failed_fn on_failed;
    void *failed_ctx;
    struct ezr_cidr allowed[EZR_MAX_ACL_RANGES];
    size_t nallowed; /* 0: anyone */
    char *token;     /* NULL: no token needed */
    /* Reactor thread only. */
    struct ezr_gop gop;
    struct ezr_list players;        /* by client.player_link */
    struct ezr_fan fan;             /* the same players, for the fan-out (ezr_fan.h) */
    struct ezr_stream_stats stats;  /* the stream's part; server-wide fields filled on query */
    bool ended;                     /* EOS seen and no frame since */
    uint64_t last_frame_ms;         /* when the last frame was pushed */
    bool audio_seen, video_seen;    /* decide the default age limit (audio-only: shorter) */
    struct ezr_queue_limits limits; /* its players' queue limits */
    uint64_t eos_target;            /* the EOS whose drain is awaited, 0: none */
    /* Under srv->lock. */
    uint64_t eos_requested;
    uint64_t eos_done;
    bool flushing;     /* ezr_stream_set_flushing(): EOS does not wait for players */
    bool failure_told; /* on_failed was called (or is being called) */
    struct ezr_ingest_stats ingest; /* as told by ezr_stream_report_ingest() */
};

/* A stream for cfg, not yet registered. Returns 0 and *out, EZR_EINVAL, EZR_ENOMEM. */
int ezr_stream_new(struct ezr_server *s, const struct ezr_stream_config *cfg,
                   struct ezr_stream **out);
/* Posts the stream's removal to the reactor and waits until it is done: its players are told the
 * stream ended and closed, then it is freed. Not from the reactor thread. */
void ezr_stream_remove_and_wait(struct ezr_stream *st);
/* Frees a stream the reactor no longer runs (ezr_server_free after the thread ended). */
void ezr_stream_free(struct ezr_stream *st);

/* May the client at c->addr play `name` (the query string holds the token)? 0, or EZR_EACCES
 * (logged, without the query: it holds a secret). */
int ezr_stream_admit(struct ezr_stream *st, const struct ezr_client *c, const char *name);
/* c starts playing st: client-added, then metadata, headers and the cached GOP from its
 * keyframe. */
void ezr_stream_add_player(struct ezr_stream *st, struct ezr_client *c);
/* c stops playing its stream, if any: client-removed with reason. */
void ezr_stream_remove_player(struct ezr_client *c, const char *reason);
/* An awaited EOS is done once every player's queue is written. */
void ezr_stream_check_drained(struct ezr_stream *st);

/* The queue limits of its players: the server's, with the age limit for this kind of stream. */
const struct ezr_queue_limits *ezr_stream_limits(const struct ezr_stream *st);

/* Ended, or no frame for EZR_IDLE_STREAM_MS: its players are checked for liveness. */
bool ezr_stream_idle(const struct ezr_stream *st, uint64_t now);

/* Counters. */
void ezr_stream_count_disconnect(struct ezr_stream *st, enum ezr_close_reason code);
void ezr_stream_count_drop(struct ezr_stream *st, enum ezr_queue_level level, uint64_t n);
void ezr_stream_count_sent(struct ezr_stream *st, uint64_t bytes);

#endif
