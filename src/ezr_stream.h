/* What the layers above a stream (the server, the protocols, /metrics) may do with it beyond its
 * public API (ezr_stream_api.h): admit and add players, feed it subscribers, read its names and
 * stats. Its insides are ezr_stream_priv.h, for the stream's own files and the server that
 * registers it: the protocols never look into it. It knows the server that serves it only
 * through struct ezr_stream_host, which the server fills in (docs/layers.md). Reactor-thread only
 * unless a function says otherwise. */
#ifndef EZR_STREAM_H
#define EZR_STREAM_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

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
/* Is c's address in allowed-clients (what ezr_stream_admit checks first)? */
bool ezr_stream_allows(const struct ezr_stream *st, const struct ezr_client *c);
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

/* The stream on the server's registry at link (its registry_link). */
struct ezr_stream *ezr_stream_of_registry_link(struct ezr_link *link);
/* Its application name and stream key, as configured. */
const char *ezr_stream_app(const struct ezr_stream *st);
const char *ezr_stream_key(const struct ezr_stream *st);
/* What it carries so far (frames seen or sequence headers cached): an FLV file header's flags. */
void ezr_stream_carries(const struct ezr_stream *st, bool *audio, bool *video);
/* The application's last ezr_stream_report_ingest(), under host->lock (held by the caller). */
void ezr_stream_ingest_locked(const struct ezr_stream *st, struct ezr_ingest_stats *out);

/* ---- subscribers: outputs fed every frame besides the players ---------------------------- */

/* An output that makes its own product of the stream's frames instead of queueing them to
 * players one by one (the HLS muxer, ezr_hls_out.h). The stream calls its ops on the reactor
 * thread where it would tell its players; it never asks what the output is. */
struct ezr_stream_sub;
struct ezr_stream_sub_ops {
    /* A frame pushed, borrowed (a reference keeps it). */
    void (*frame)(struct ezr_stream_sub *sub, struct ezr_frame *f);
    /* The stream broke: final, the pipeline stopped; not final, a flush upstream (a seek). */
    void (*interrupted)(struct ezr_stream_sub *sub, bool final);
    /* End of stream (EOS). */
    void (*ended)(struct ezr_stream_sub *sub);
    /* Once a second or so (the server's tick): timeouts of its own. */
    void (*tick)(struct ezr_stream_sub *sub, uint64_t now_ms);
    /* Adds its viewers and counters to the stream's part of a stats snapshot. */
    void (*stats)(const struct ezr_stream_sub *sub, struct ezr_stream_stats *out);
    /* The stream is being freed: close what it serves and free it. */
    void (*free)(struct ezr_stream_sub *sub);
};
struct ezr_stream_sub {
    const struct ezr_stream_sub_ops *ops;
    enum ezr_protocol protocol; /* the output it is: ezr_stream_sub_of() finds it by this */
    struct ezr_stream *stream;  /* set by ezr_stream_subscribe */
    struct ezr_link link;       /* on the stream's subscribers */
};
/* Feeds sub every frame from now on; the stream owns it from here and frees it with itself
 * (ops->free). Before the stream is registered, or on the reactor thread. */
void ezr_stream_subscribe(struct ezr_stream *st, struct ezr_stream_sub *sub);
/* Ticks every subscriber (the server's timer). */
void ezr_stream_tick(struct ezr_stream *st, uint64_t now_ms);
/* The subscriber that is output p, or NULL. */
struct ezr_stream_sub *ezr_stream_sub_of(const struct ezr_stream *st, enum ezr_protocol p);

#endif
