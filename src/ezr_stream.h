/* A stream's insides (its public API is ezr_stream_api.h): who may play it, its players, its GOP
 * cache, the fan-out of each frame to every player, the EOS drain and its counters. It knows the
 * server that serves it only through struct ezr_stream_host, which the server fills in
 * (docs/layers.md). Reactor-thread only unless a field says otherwise. */
#ifndef EZR_STREAM_H
#define EZR_STREAM_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "ezr_acl.h"
#include "ezr_fan.h"
#include "ezr_gop.h"
#include "ezr_limits.h"
#include "ezr_list.h"
#include "ezr_queue.h"
#include "ezr_stream_api.h"
#include "ezr_types.h"

struct ezr_client;
struct ezr_mailbox;
struct ezr_stream_host;

/* What a stream needs of the server that serves it, the same for all its streams: embedded in
 * the server, which fills it in. */
struct ezr_stream_host {
    pthread_mutex_t *lock;       /* the server's: the streams' EOS counters, stats replies */
    pthread_cond_t *cond;        /* an EOS drained, a stats reply arrived, a stream was removed */
    struct ezr_mailbox *mailbox; /* how the public calls reach the reactor */
    const struct ezr_log *log;
    struct ezr_queue_limits qlimits; /* max_age_ms: as configured, 0 = by stream kind */
    uint32_t chunk_size;
    /* Is this the reactor thread? (a client callback calling back into the API) */
    bool (*on_reactor)(const struct ezr_stream_host *h);
    /* Fills in the server-wide fields of a stats answer (connections, reactor):
     * ezr_server_fill_stats. */
    void (*server_stats)(const struct ezr_stream_host *h, struct ezr_stream_stats *out);
};

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
    size_t nallowed; /* 0: anyone */
    char *token;     /* NULL: no token needed */
    enum ezr_sync_method sync_method; /* players' join policy unless their play name asks */
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
    /* Under host->lock. */
    uint64_t eos_requested;
    uint64_t eos_done;
    bool flushing;                  /* ezr_stream_set_flushing(): EOS does not wait for players */
    bool failure_told;              /* on_failed was called (or is being called) */
    struct ezr_ingest_stats ingest; /* as told by ezr_stream_report_ingest() */
};

/* A stream for cfg, not yet registered. Returns 0 and *out, EZR_EINVAL, EZR_ENOMEM. */
int ezr_stream_new(struct ezr_stream_host *h, const struct ezr_stream_config *cfg,
                   struct ezr_stream **out);
/* Posts the stream's removal to the reactor and waits until it is done: its players are told the
 * stream ended and closed, then it is freed. Not from the reactor thread. */
void ezr_stream_remove_and_wait(struct ezr_stream *st);
/* Frees a stream the reactor no longer runs (ezr_server_free after the thread ended). */
void ezr_stream_free(struct ezr_stream *st);

/* May the client at c->addr play `name` (the query string holds the token)? 0, or EZR_EACCES
 * (logged, without the query: it holds a secret), or EZR_EINVAL when the query's sync-method
 * names no method. Admitted, c->sync_method is the join policy it asked for or the stream's. */
int ezr_stream_admit(struct ezr_stream *st, struct ezr_client *c, const char *name);
/* c starts playing st: client-added, then metadata, headers and the cached GOP from its
 * keyframe. */
void ezr_stream_add_player(struct ezr_stream *st, struct ezr_client *c);
/* c stops playing its stream, if any: client-removed with reason. */
void ezr_stream_remove_player(struct ezr_client *c, const char *reason);

/* The stream's own fields of a stats snapshot, for ezr_stream_get_stats() and /metrics alike;
 * out->ingest is left as it is (the stream's copy is under host->lock). The server-wide fields
 * are the server's (ezr_server_fill_stats). Reactor thread. */
void ezr_stream_fill_stats(const struct ezr_stream *st, struct ezr_stream_stats *out);

/* Ended, or no frame for EZR_IDLE_STREAM_MS: its players are checked for liveness. */
bool ezr_stream_idle(const struct ezr_stream *st, uint64_t now);

#endif
