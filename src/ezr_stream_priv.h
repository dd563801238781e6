/* A stream's insides, for its own files (ezr_stream.c: players and the reactor's side;
 * ezr_stream_calls.c: the public calls from other threads; ezr_stream_stats.c: stats) and the
 * server that registers it. The protocols and /metrics use ezr_stream.h only (docs/layers.md).
 * Reactor-thread only unless a field says otherwise. */
#ifndef EZR_STREAM_PRIV_H
#define EZR_STREAM_PRIV_H

#include "ezr_acl.h"
#include "ezr_fan.h"
#include "ezr_gop.h"
#include "ezr_mailbox.h"
#include "ezr_stream.h"

struct ezr_stream {
    struct ezr_stream_host *host;
    struct ezr_link registry_link; /* on the server's registry, under host->lock */
    char app[EZR_MAX_NAME_LEN + 1];
    char key[EZR_MAX_NAME_LEN + 1];
    ezr_client_fn on_client;
    void *client_ctx;
    ezr_failed_fn on_failed;
    void *failed_ctx;
    struct ezr_cidr allowed[EZR_MAX_ACL_RANGES];
    size_t nallowed;                  /* 0: anyone */
    char *token;                      /* NULL: no token needed */
    enum ezr_sync_method sync_method; /* players' join policy unless their play name asks */
    /* Reactor thread only. */
    struct ezr_gop gop;
    struct ezr_list players;        /* by client.player_link */
    struct ezr_list subs;           /* outputs fed every frame, by ezr_stream_sub.link */
    struct ezr_fan fan;             /* the same players, for the fan-out (ezr_fan.h) */
    struct ezr_stream_stats stats;  /* the stream's part; server-wide fields filled on query */
    bool ended;                     /* EOS seen and no frame since */
    uint64_t last_frame_ms;         /* when the last frame was pushed */
    bool audio_seen, video_seen;    /* decide the default age limit (audio-only: shorter) */
    struct ezr_queue_limits limits; /* its players' queue limits */
    uint64_t eos_target;            /* the EOS whose drain is awaited, 0: none */
    /* Under host->lock. */
    uint64_t eos_requested;
    uint64_t eos_done;
    bool flushing;                  /* ezr_stream_set_flushing(): EOS does not wait for players */
    bool failure_told;              /* on_failed was called (or is being called) */
    struct ezr_ingest_stats ingest; /* as told by ezr_stream_report_ingest() */
};

/* One public call on its way to the reactor (ezr_mailbox.h). */
struct stats_query;
struct ezr_stream_op {
    struct ezr_op op;
    struct ezr_stream *st;
    struct ezr_frame *frame;   /* push: the op owns one reference */
    uint64_t arg;              /* eos: the sequence number; kick: the client id */
    struct stats_query *query; /* stats */
    bool *done;                /* remove: set under host->lock when the stream is gone */
};
/* Posts o (allocated by the caller) to be run by run on the reactor. Cannot fail: the mailbox is
 * a list. */
void ezr_stream_post(struct ezr_stream *st, void (*run)(struct ezr_op *), struct ezr_stream_op *o);

/* What the reactor does for the public calls (ezr_stream_calls.c posts them). */
void ezr_stream_on_frame(struct ezr_stream *st, struct ezr_frame *f);
void ezr_stream_on_eos(struct ezr_stream *st, uint64_t seq);
/* The stream goes on after a break: final, the pipeline stopped; not final, a flush. */
void ezr_stream_on_interrupt(struct ezr_stream *st, bool final);
void ezr_stream_on_kick(struct ezr_stream *st, uint64_t id);

#endif
