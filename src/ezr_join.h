/* How a player that joins a running stream is started: the join policy (`sync-method`, the name
 * GstMultiHandleSink gives the same choice), and a player's request for another one in its play
 * name or URL query ("stream?sync-method=latest-keyframe"). See docs/join.md. */
#ifndef EZR_JOIN_H
#define EZR_JOIN_H

enum ezr_sync_method {
    /* Metadata, sequence headers and the cached video from the newest keyframe, retimed into a
     * short window that ends at the newest video frame's own timestamp (cached audio is not
     * replayed): the player decodes the current picture and plays at the live edge at once. */
    EZR_SYNC_LIVE_EDGE = 0,
    /* Metadata, headers and the whole cache at its own timestamps (a recorder gets every cached
     * frame; a player that paces by timestamps stays that far behind live). */
    EZR_SYNC_LATEST_KEYFRAME = 1,
    /* Metadata and headers at once, then audio and video from the next keyframe (audio at once
     * on a stream without video), as nginx-rtmp's wait_key and wait_video. */
    EZR_SYNC_NEXT_KEYFRAME = 2,
};
#define EZR_SYNC_NMETHODS 3

/* The nick of m ("live-edge", "latest-keyframe", "next-keyframe"). */
const char *ezr_join_method_name(enum ezr_sync_method m);
/* The method named by nick, or -1 if there is none of that name. */
int ezr_join_method_parse(const char *nick);
/* The method a play name asks for with "?sync-method=NICK" (among other query fields), into
 * *out; without that field *out is dflt. Returns 0, or EZR_EINVAL when the field names no
 * method. */
int ezr_join_method_from_query(const char *name, enum ezr_sync_method dflt,
                               enum ezr_sync_method *out);

#endif
