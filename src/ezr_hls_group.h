/* Renditions: the HLS outputs of one server that share an application and an hls-group name (the
 * 720p and 360p branches of one pipeline). Together they are listed in a multivariant playlist
 * (APP/GROUP.m3u8) and each media playlist reports every other one (EXT-X-RENDITION-REPORT), so
 * that players switch between them.
 *
 * The server embeds the registry (struct ezr_hls_groups) and each output its membership
 * (struct ezr_hls_member). A member tells its group when its playlist changed; the group keeps
 * two counters from that news, and renders nothing itself until asked:
 *   - reports_version: a member's last part changed, or one joined or left. A media playlist
 *     with rendition reports is valid while its own version and this one are the same, so it is
 *     still rendered once per version and shared; nobody is woken by a sibling's part.
 *   - variants_version: a member completed a segment (its BANDWIDTH may change), joined or left.
 *     The multivariant playlist is rendered once per version and shared, and the requests that
 *     wait for every member's first segment are woken only then.
 * Reactor-thread only, except ezr_hls_member_prepare.
 *
 * Ownership: a group is made with its first member (from the spare each member brings) and freed
 * when its last member leaves, waking its parked requests with gone set. */
#ifndef EZR_HLS_GROUP_H
#define EZR_HLS_GROUP_H

#include <stdbool.h>
#include <stdint.h>

#include "ezr_buf.h"
#include "ezr_frame.h"
#include "ezr_hls.h"
#include "ezr_limits.h"
#include "ezr_list.h"
#include "ezr_stream.h"

/* A server's groups (by ezr_hls_group.link). */
struct ezr_hls_groups {
    struct ezr_list list;
};

struct ezr_hls_group {
    struct ezr_link link; /* on the registry */
    char app[EZR_MAX_NAME_LEN + 1];
    char name[EZR_MAX_NAME_LEN + 1];
    struct ezr_list members; /* by ezr_hls_member.link, in the order they joined */
    size_t nmembers;
    uint64_t reports_version;
    uint64_t variants_version;
    /* The multivariant playlist of variants_version rendered_version (without a query). */
    struct ezr_frame *playlist;
    uint64_t rendered_version;
    struct ezr_list waits; /* by ezr_hls_group_wait.link */
    size_t nwaits;
};

/* An output's place in its group. */
struct ezr_hls_member {
    struct ezr_link link;        /* on group->members */
    struct ezr_hls_group *group; /* NULL until it joined */
    struct ezr_hls_group *spare; /* made beforehand: adopted or freed when it joins */
    const struct ezr_hls *hls;
    struct ezr_stream *stream;
    uint64_t segments_seen; /* the muxer's count when last told: a new one changes its variant */
};

/* A multivariant request parked until every member has a segment. */
struct ezr_hls_group_wait {
    struct ezr_link link;
    struct ezr_hls_group *group; /* while parked */
    /* Called when a member made its first segment, left or joined (the playlist may be complete
     * now), the deadline passed (timed_out), or the group is gone (gone; no longer parked). */
    void (*wake)(struct ezr_hls_group_wait *w);
    uint64_t deadline_ms;
    bool timed_out;
    bool gone;
};

void ezr_hls_groups_init(struct ezr_hls_groups *r);
/* The group app/name, or NULL. */
struct ezr_hls_group *ezr_hls_groups_find(struct ezr_hls_groups *r, const char *app,
                                          const char *name);

/* Any thread, before the output is visible to the reactor: m will join group name of app (at
 * most EZR_MAX_NAME_LEN each). Returns 0, EZR_EINVAL or EZR_ENOMEM. */
int ezr_hls_member_prepare(struct ezr_hls_member *m, const char *app, const char *name,
                           const struct ezr_hls *hls);
/* m (of stream st) joins its group in r, made from its spare if it is the first. */
void ezr_hls_member_join(struct ezr_hls_groups *r, struct ezr_hls_member *m, struct ezr_stream *st);
/* m leaves its group (its output is freed); the group goes with its last member. */
void ezr_hls_member_leave(struct ezr_hls_member *m);
/* m's playlist changed (the muxer's news): the reports, and after a new segment the variants. */
void ezr_hls_member_changed(struct ezr_hls_member *m);
/* What a media playlist with reports depends on besides its own muxer: 0 outside a group. */
uint64_t ezr_hls_member_reports_version(const struct ezr_hls_member *m);
/* Appends an EXT-X-RENDITION-REPORT for every other member that has a part. */
void ezr_hls_member_put_reports(const struct ezr_hls_member *m, struct ezr_buf *out);
/* The deadlines of the group's parked requests (a member's tick). */
void ezr_hls_member_tick(struct ezr_hls_member *m, uint64_t now_ms);

/* The streams of the group, in the order they joined: pass NULL for the first. */
struct ezr_hls_member *ezr_hls_group_next(struct ezr_hls_group *g, struct ezr_hls_member *m);
/* Every member has a complete segment (a variant line). */
bool ezr_hls_group_complete(const struct ezr_hls_group *g);
/* The multivariant playlist: a variant line for each member that has a segment, its URI
 * "KEY/index.m3u8" followed by "?query" when query is not empty. Without a query it is
 * rendered once per variants version and shared (borrowed: take a reference to queue it); with
 * one, it is the caller's (*owned set: unref it). NULL when no member has a segment yet, or out
 * of memory (*failed). */
struct ezr_frame *ezr_hls_group_playlist(struct ezr_hls_group *g, const char *query, bool *owned,
                                         bool *failed);

void ezr_hls_group_park(struct ezr_hls_group *g, struct ezr_hls_group_wait *w);
void ezr_hls_group_unpark(struct ezr_hls_group_wait *w);

#endif
