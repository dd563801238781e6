/* A publish point's insides (ezr_ingest_api.h is its public side): who may publish, the publisher
 * now, the queue of its tags bounded in bytes, and holding the publisher's input while the queue
 * is full. For the server that registers it (ezr_server_ingest.c) and the RTMP protocol that feeds
 * it (ezr_proto_rtmp.c). It calls the publishing client (below it) directly: hold and resume its
 * input, close it.
 *
 * Threads: the reactor attaches, pushes, detaches and ticks; the application pops from its own
 * thread; the queue and the counters are under `lock`. Room made by a pop reaches the reactor as
 * one op on the server's mailbox (`room`), which resumes the publisher's input. */
#ifndef EZR_INGEST_H
#define EZR_INGEST_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "ezr_acl.h"
#include "ezr_client.h"
#include "ezr_ingest_api.h"
#include "ezr_limits.h"
#include "ezr_list.h"
#include "ezr_mailbox.h"
#include "ezr_types.h"

struct ezr_ingest_entry; /* a queued item (ezr_ingest.c) */

struct ezr_ingest {
    struct ezr_link registry_link; /* on the server's publish points, under the server's lock */
    char app[EZR_MAX_NAME_LEN + 1];
    char key[EZR_MAX_NAME_LEN + 1];
    struct ezr_cidr allowed[EZR_MAX_ACL_RANGES];
    size_t nallowed; /* 0: anyone */
    char *token;     /* NULL: no token needed */
    size_t max_bytes;
    uint32_t timeout_ms;
    ezr_client_fn on_client;
    void *client_ctx;
    struct ezr_mailbox *mailbox; /* the server's */
    const struct ezr_log *log;

    /* Reactor thread only. */
    struct ezr_client *publisher; /* publishing now, NULL: none */
    struct ezr_ingest_entry *ended; /* its ENDED, made when it started: queued when it stops */
    uint64_t last_input_ms;       /* its last tag, or when its input was last resumed */
    uint32_t frames_before_key;   /* its video frames so far, while none was a keyframe */
    bool key_seen;                /* it sent a video keyframe (or no video to need one) */
    struct ezr_op room;           /* posted by a pop that made room while held */
    struct ezr_op kick;           /* posted by ezr_ingest_kick */

    /* Under lock. */
    pthread_mutex_t lock;
    pthread_cond_t cond;   /* an item was queued, flushing changed, the point was removed */
    struct ezr_list items; /* struct ingest_entry, oldest first */
    size_t bytes;          /* of the tags queued */
    bool held;             /* the publisher's input is held until there is room */
    bool room_posted;      /* `room` is on the mailbox */
    bool kick_posted;      /* `kick` is on the mailbox */
    bool flushing;
    bool removed;
    struct ezr_publisher_stats stats;
    uint64_t started_ms;    /* when the publisher now started */
    uint64_t window_ms;     /* the bitrate's window started */
    uint64_t window_bytes;
};

/* A point for cfg, not yet registered. Returns 0, EZR_EINVAL (no app or key, a name too long,
 * allowed_clients that does not parse) or EZR_ENOMEM. */
int ezr_ingest_new(const struct ezr_ingest_config *cfg, struct ezr_mailbox *mailbox,
                   const struct ezr_log *log, struct ezr_ingest **out);
/* Reactor thread (or after it stopped): closes the publisher if any, then frees the point. */
void ezr_ingest_free(struct ezr_ingest *ing);
/* Marks it removed (pop returns EZR_ECLOSED, no op is posted any more). Any thread. */
void ezr_ingest_mark_removed(struct ezr_ingest *ing);

/* Reactor thread. May c publish name (its query has the token)? 0, EZR_EEXIST (a publisher is
 * live), EZR_EACCES (not in allowed-clients, wrong or missing token). */
int ezr_ingest_admit(struct ezr_ingest *ing, struct ezr_client *c, const char *name);
/* c publishes from now on: STARTED is queued (its ENDED made ready) and on_client told;
 * c->publishing is set. 0, or EZR_ENOMEM and nothing changed. */
int ezr_ingest_attach(struct ezr_ingest *ing, struct ezr_client *c);
/* A message c published: audio (8), video (9) or data (18). Queues it whole; when the queue has
 * reached max_bytes, c's input is held until a pop makes room. Returns 0, EZR_ENOMEM, or
 * EZR_EPROTO (not queued) for a video frame past EZR_MAX_FRAMES_BEFORE_KEYFRAME with no keyframe
 * yet: the caller closes c. */
int ezr_ingest_push(struct ezr_ingest *ing, struct ezr_client *c, uint8_t type, uint32_t ts,
                    const uint8_t *body, size_t len);
/* c stopped publishing (unpublish, or its connection closes, reason says why): ENDED is queued,
 * on_client told, c->publishing cleared. Nothing if c is not the publisher. */
void ezr_ingest_detach(struct ezr_ingest *ing, struct ezr_client *c, const char *reason);
/* The publisher if it has been silent for timeout_ms (the caller closes it), else NULL. A
 * publisher whose input is held is not silent. */
struct ezr_client *ezr_ingest_timed_out(struct ezr_ingest *ing, uint64_t now);

#endif
