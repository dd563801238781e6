/* The HLS output of one stream: its muxer (ezr_hls.h) fed as a stream subscriber, each playlist
 * version rendered once and shared by every request for it, the requests parked until what they
 * ask for exists, and the viewers and counters of the stream's stats. It answers no request
 * itself: the HTTP side (ezr_http_hls.c) parks a struct ezr_hls_waiter here and is woken through
 * its ops when the playlist changes, a sample enters the part it streams, the wait times out or
 * the stream goes away. A parked request costs its struct and a list link, nothing else, and is
 * looked at only when something it waits for changed. Reactor-thread only.
 *
 * Ownership: ezr_hls_out_new() returns an output that the stream owns once subscribed
 * (ezr_stream_subscribe); the stream frees it with itself, waking every parked request with
 * gone set. */
#ifndef EZR_HLS_OUT_H
#define EZR_HLS_OUT_H

#include <stdbool.h>
#include <stdint.h>

#include "ezr_frame.h"
#include "ezr_hls.h"
#include "ezr_hls_group.h"
#include "ezr_list.h"
#include "ezr_stream.h"

struct ezr_hls_out;
struct ezr_hls_waiter;

struct ezr_hls_waiter_ops {
    /* Something the request waits for may be there (the playlist changed, a sample entered the
     * part in progress), it waited too long (w->timed_out), or the stream is gone (w->gone, and
     * w is no longer parked). Called on the reactor thread, never from inside ezr_hls_out_park. */
    void (*wake)(struct ezr_hls_waiter *w);
};

enum ezr_hls_waiter_kind {
    EZR_HLS_WAIT_PLAYLIST, /* a blocking playlist reload: q */
    EZR_HLS_WAIT_PART,     /* a part being made (the preload hint): q.msn, q.part */
    EZR_HLS_NWAIT_KINDS,
};

/* Ordered without holes: 10,000 parked requests keep 10,000 of these. */
struct ezr_hls_waiter {
    struct ezr_link link; /* on the output's waiters while parked (linked: parked) */
    const struct ezr_hls_waiter_ops *ops;
    /* What it asks for: a playlist reload's query, or the part q.msn, q.part (its index). */
    struct ezr_hls_query q;
    size_t sent; /* the part's samples already sent (streaming a part) */
    uint64_t deadline_ms;
    uint8_t kind;   /* enum ezr_hls_waiter_kind */
    bool streaming; /* its head is sent: samples follow as they are made */
    bool chunked;   /* ... as chunks of a chunked body (the part was not complete) */
    bool timed_out;
    bool gone;
};

/* A connection that asked for a stream's HLS: one viewer while it is open. */
struct ezr_hls_viewer {
    struct ezr_link link;
    struct ezr_hls_out *out;
};

/* An output for st's frames with cfg, a rendition of hls-group `group` of app when group is
 * not NULL or "" (it joins with ezr_hls_out_join_group). Returns 0 and *out (its stream_sub to
 * subscribe), EZR_EINVAL or EZR_ENOMEM. */
int ezr_hls_out_new(const struct ezr_hls_config *cfg, const char *app, const char *group,
                    const struct ezr_log *log, struct ezr_hls_out **out);
/* Reactor thread, once subscribed: o joins its group in groups (nothing without a group). Its
 * playlists carry the reports of the group's other renditions from then on. */
void ezr_hls_out_join_group(struct ezr_hls_out *o, struct ezr_hls_groups *groups);
struct ezr_stream_sub *ezr_hls_out_sub(struct ezr_hls_out *o);
/* The output of a stream, or NULL when it serves no HLS. */
struct ezr_hls_out *ezr_hls_out_of(const struct ezr_stream *st);
const struct ezr_hls *ezr_hls_out_muxer(const struct ezr_hls_out *o);
/* Whether a request for the part in progress (the preload hint) gets each sample as it is made
 * (a lone stream: the lowest latency), or the part whole once complete (a rendition of an
 * hls-group: a player's bandwidth estimate, which picks its rendition, then times the link and
 * not the stream's own rate, as draft-pantos-hls-rfc8216bis 6.2.6 advises). */
bool ezr_hls_out_streams_parts(const struct ezr_hls_out *o);

/* The playlist now (skip: the delta update), rendered once per version and shared: a borrowed
 * EZR_FRAME_BYTES frame (take a reference to queue it), or NULL before there is anything to list
 * or out of memory (*failed). */
struct ezr_frame *ezr_hls_out_playlist(struct ezr_hls_out *o, bool skip, bool *failed);

/* Parks w until what it asks for may be there or deadline_ms passes. */
void ezr_hls_out_park(struct ezr_hls_out *o, struct ezr_hls_waiter *w);
/* Takes w off o's list if it is parked there (the connection closed): o is the output it was
 * parked on, which the caller keeps (its viewer's; NULL only when w is parked nowhere). */
void ezr_hls_out_unpark(struct ezr_hls_out *o, struct ezr_hls_waiter *w);
/* Wakes the parked requests whose deadline passed (the server's tick). */
void ezr_hls_out_tick(struct ezr_hls_out *o, uint64_t now_ms);

/* Registers v as a viewer of o (moving it from another output); ezr_hls_out_leave when its
 * connection closes. */
void ezr_hls_out_join(struct ezr_hls_out *o, struct ezr_hls_viewer *v);
void ezr_hls_out_leave(struct ezr_hls_viewer *v);
/* An answer of this many bytes went out (head and body), for the stats. */
void ezr_hls_out_count(struct ezr_hls_out *o, uint64_t bytes);

#endif
