/* GOP cache for late joiners; see ezr_gop.h. */
#include "ezr_gop.h"

#include <stdlib.h>
#include <string.h>

#include "ezr_alloc.h"
#include "ezr_error.h"
#include "ezr_limits.h"

static void set_frame(struct ezr_frame **slot, struct ezr_frame *f)
{
    if (f)
        ezr_frame_ref(f);
    ezr_frame_unref(*slot);
    *slot = f;
}

static void invalidate_replay(struct ezr_gop *g)
{
    if (g->replay_valid)
        ezr_replay_clear(&g->replay);
    g->replay_valid = 0;
}

static void invalidate_join(struct ezr_gop *g)
{
    set_frame(&g->join_video_header, NULL);
    set_frame(&g->join_audio_header, NULL);
    g->join_valid = 0;
    invalidate_replay(g);
}

void ezr_gop_init(struct ezr_gop *g, uint32_t max_gops, uint32_t chunk_size)
{
    memset(g, 0, sizeof *g);
    g->max_gops = max_gops ? max_gops : 1;
    g->chunk_size = chunk_size;
}

static void drop_frames(struct ezr_gop *g, size_t n)
{
    if (n == 0)
        return;
    for (size_t i = 0; i < n; i++) {
        g->bytes -= g->frames[i]->payload_len;
        if (ezr_frame_is_video(g->frames[i]) && (g->frames[i]->flags & EZR_FRAME_KEY))
            g->ngops--;
        ezr_frame_unref(g->frames[i]);
    }
    if (g->count > n)
        memmove(g->frames, g->frames + n, (g->count - n) * sizeof *g->frames);
    g->count -= n;
    invalidate_join(g);
}

void ezr_gop_clear(struct ezr_gop *g)
{
    drop_frames(g, g->count);
    free(g->frames);
    g->frames = NULL;
    g->cap = 0;
    set_frame(&g->metadata, NULL);
    set_frame(&g->video_header, NULL);
    set_frame(&g->audio_header, NULL);
    invalidate_join(g);
}

void ezr_gop_forget_frames(struct ezr_gop *g)
{
    drop_frames(g, g->count);
}

/* Index of the second keyframe: where the oldest GOP ends. */
static size_t end_of_first_gop(const struct ezr_gop *g)
{
    for (size_t i = 1; i < g->count; i++)
        if (ezr_frame_is_video(g->frames[i]) && (g->frames[i]->flags & EZR_FRAME_KEY))
            return i;
    return g->count;
}

int ezr_gop_add(struct ezr_gop *g, struct ezr_frame *f)
{
    /* Live data (a cue point, a caption) means something only when it happens: a joiner must not
     * get it late, nor may it take the metadata's place. */
    if (f->flags & EZR_FRAME_LIVE)
        return 0;
    if (f->kind == EZR_FRAME_SCRIPT) {
        set_frame(&g->metadata, f);
        invalidate_join(g);
        return 0;
    }
    if (f->flags & EZR_FRAME_HEADER) {
        set_frame(f->kind == EZR_FRAME_VIDEO ? &g->video_header : &g->audio_header, f);
        invalidate_join(g);
        return 0;
    }
    int key = ezr_frame_is_video(f) && (f->flags & EZR_FRAME_KEY);
    if (!key && g->count == 0)
        return 0;
    if (key && g->ngops >= g->max_gops)
        drop_frames(g, end_of_first_gop(g));
    /* A stream without keyframes for a long time must not grow the cache without bound. */
    if (g->count >= EZR_GOP_MAX_FRAMES || g->bytes + f->payload_len > EZR_GOP_MAX_BYTES) {
        drop_frames(g, g->count);
        if (!key)
            return 0;
    }
    if (g->count == g->cap) {
        size_t cap = g->cap ? g->cap * 2 : 64;
        struct ezr_frame **p = ezr_realloc(g->frames, cap * sizeof *p);
        if (!p)
            return EZR_ENOMEM;
        g->frames = p;
        g->cap = cap;
    }
    g->frames[g->count++] = ezr_frame_ref(f);
    g->bytes += f->payload_len;
    if (ezr_frame_is_video(f))
        invalidate_replay(g); /* a new join moment: the replay must end at this frame */
    if (key)
        g->ngops++;
    return 0;
}

/* Returns the header as a joiner should get it: stamped with the GOP's first timestamp. */
static struct ezr_frame *joinable(struct ezr_gop *g, struct ezr_frame *orig,
                                  struct ezr_frame **slot)
{
    if (!orig)
        return NULL;
    if (orig->timestamp == g->join_ts)
        return orig;
    if (!*slot)
        *slot = ezr_frame_restamp(orig, g->join_ts, g->chunk_size);
    /* Out of memory: the original timestamp is still a valid header. */
    return *slot ? *slot : orig;
}

/* Calls fn for each of the n frames that are not NULL. */
static int visit(struct ezr_frame *const *v, size_t n, ezr_gop_visit_fn fn, void *ctx)
{
    for (size_t i = 0; i < n; i++) {
        if (v[i]) {
            int rc = fn(ctx, v[i]);
            if (rc)
                return rc;
        }
    }
    return 0;
}

/* Metadata, then the headers stamped with the GOP's first timestamp. */
static int visit_heads(struct ezr_gop *g, ezr_gop_visit_fn fn, void *ctx)
{
    uint32_t ts = g->count ? g->frames[0]->timestamp : 0;
    if (!g->join_valid || g->join_ts != ts) {
        set_frame(&g->join_video_header, NULL);
        set_frame(&g->join_audio_header, NULL);
        g->join_ts = ts;
        g->join_valid = 1;
    }
    struct ezr_frame *heads[3] = {
        g->metadata, /* at time 0, see ezr_stream_push() */
        joinable(g, g->video_header, &g->join_video_header),
        joinable(g, g->audio_header, &g->join_audio_header),
    };
    return visit(heads, 3, fn, ctx);
}

int ezr_gop_replay(struct ezr_gop *g, ezr_gop_visit_fn fn, void *ctx)
{
    int rc = visit_heads(g, fn, ctx);
    return rc ? rc : visit(g->frames, g->count, fn, ctx);
}

/* Builds the replay of this join moment from the video of the newest cached GOP. Returns 0,
 * EZR_ENOTFOUND when no keyframe is cached, or EZR_ENOMEM. */
static int build_replay(struct ezr_gop *g)
{
    size_t key = g->count;
    while (key > 0 && !(ezr_frame_is_video(g->frames[key - 1]) &&
                        (g->frames[key - 1]->flags & EZR_FRAME_KEY)))
        key--;
    if (key == 0)
        return EZR_ENOTFOUND;
    key--;
    struct ezr_frame **video = ezr_malloc((g->count - key) * sizeof *video);
    if (!video)
        return EZR_ENOMEM;
    size_t n = 0;
    for (size_t i = key; i < g->count; i++)
        if (ezr_frame_is_video(g->frames[i]))
            video[n++] = g->frames[i];
    int rc = ezr_replay_build(&g->replay, video, n, g->video_header, g->audio_header,
                              EZR_GOP_REPLAY_STEP_MS, g->chunk_size);
    free(video);
    if (rc < 0)
        return rc;
    g->replay_valid = 1;
    g->replays_built++;
    return 0;
}

int ezr_gop_join(struct ezr_gop *g, enum ezr_sync_method m, ezr_gop_visit_fn fn, void *ctx)
{
    if (m == EZR_SYNC_NEXT_KEYFRAME)
        return visit_heads(g, fn, ctx);
    if (m == EZR_SYNC_LIVE_EDGE && !g->replay_valid && build_replay(g) == EZR_ENOTFOUND)
        return visit_heads(g, fn, ctx);
    if (m == EZR_SYNC_LATEST_KEYFRAME || !g->replay_valid)
        return ezr_gop_replay(g, fn, ctx);
    struct ezr_frame *heads[3] = {g->metadata, g->replay.video_header, g->replay.audio_header};
    int rc = visit(heads, 3, fn, ctx);
    return rc ? rc : visit(g->replay.frames, g->replay.count, fn, ctx);
}
