/* The ezrtmpserversrc instance and what its files tell each other: gstezrtmpserversrc.c (the
 * type, signals, start/stop, unlock and create), ezrsrcserver.c (the server and the publish point,
 * stats), ezrsrcflv.c (the publisher's tags into FLV buffers: the header, retimed tags). The
 * properties are in the table the sink has too (ezrsinkprops.c). */
#ifndef GST_EZRTMP_SERVER_SRC_PRIV_H
#define GST_EZRTMP_SERVER_SRC_PRIV_H

#include "ezr_server.h"
#include "ezrelementserver.h"
#include "ezrsinkprops.h"
#include "gstezrtmpserversrc.h"

G_BEGIN_DECLS

enum {
    EZR_SRC_SIGNAL_CLIENT_ADDED,
    EZR_SRC_SIGNAL_CLIENT_REMOVED,
    EZR_SRC_LAST_SIGNAL,
};
extern guint ezr_src_signals[EZR_SRC_LAST_SIGNAL];

/* The FLV being made (streaming thread only). */
struct ezr_src_flv {
    gboolean header_sent;
    guint8 flags;         /* FLV header: 4 audio, 1 video, as seen */
    gboolean flags_known; /* from onMetaData's audiocodecid / videocodecid */
    GQueue held;          /* struct ezr_ingest_item * waiting for the header */
    /* Timestamps out = the publisher's + offset; each publication gets its own offset, so that a
     * publisher that comes back starts past what was sent (and at the running time). */
    gboolean need_offset;
    gint64 offset_ms;
    gint64 next_min_ms; /* the least this publication may start at */
    gint64 max_out_ms;  /* the latest time sent */
    gboolean any_out;
};

struct _GstEzrtmpServerSrc {
    GstPushSrc parent;

    /* The properties (ezrsinkprops.h); the object lock guards them. */
    struct ezr_sink_settings settings;

    /* The server and our publish point in it (the point, a struct ezr_ingest), open from READY
     * to NULL: the lock, users and lock order are ezrelementserver.h's. */
    struct ezr_element_server serving;

    /* Streaming thread. */
    struct ezr_src_flv flv;
    gint64 started_us;       /* start(): the publish-timeout counts from here */
    gboolean published;      /* a publisher came since start() */
    gboolean warned;         /* the publish-timeout warning is posted */
    guint publish_timeout_s; /* copied at start() */
    gboolean eos_on_unpublish;
};

/* ezrsrcserver.c */
/* NULL -> READY: opens (or joins) the server and registers the publish point; FALSE with an
 * error posted. */
gboolean ezr_src_open_server(GstEzrtmpServerSrc *self);
/* READY -> NULL and finalize: removes the point (its publisher is closed) and drops the server. */
void ezr_src_close_server(GstEzrtmpServerSrc *self);
GstStructure *ezr_src_make_stats(GstEzrtmpServerSrc *self);

/* ezrsrcflv.c */
void ezr_src_flv_init(struct ezr_src_flv *f);
/* Frees what is held and starts anew (the next buffer carries the header). */
void ezr_src_flv_reset(struct ezr_src_flv *f);
/* A publisher started: its first tag gets a new offset. */
void ezr_src_flv_publisher_started(struct ezr_src_flv *f);
/* Takes it (a tag). Returns a buffer to push, or NULL while the header waits for more. now_ms:
 * the pipeline's running time in ms, or -1 without a clock. */
GstBuffer *ezr_src_flv_take(struct ezr_src_flv *f, struct ezr_ingest_item *it, gint64 now_ms);
/* A tag held behind the header once it is out, or NULL. */
GstBuffer *ezr_src_flv_next_held(struct ezr_src_flv *f, gint64 now_ms);

G_END_DECLS

#endif
