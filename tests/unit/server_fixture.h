/* What the library's server tests share: the RTMP player (tests/common/rtmp_test_player.h), a
 * server with one live stream, small frames to push into it and its stats read back. */
#ifndef SERVER_FIXTURE_H
#define SERVER_FIXTURE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "ezr_server.h"
#include "rtmp_test_player.h"

/* The defaults, on 127.0.0.1 and an ephemeral port. */
void test_server_config(struct ezr_server_config *cfg);
/* test_server_config() with small tiers and socket buffers, so that a player that stops reading
 * meets them within a test: every frame is written (or found unwritable) as it is offered, so the
 * queue a test reads back is the one the next frame meets, not one a pending flush is about to
 * shrink. client_timeout_ms 0 keeps the default. */
void test_tiered_config(struct ezr_server_config *cfg, uint32_t warning, uint32_t high,
                        uint32_t max, uint32_t send_buffer, uint32_t client_timeout_ms);
/* Polls st's stats every 20 ms until one player has been closed for code, or deadline; *stats
 * receives the last read. False when not by then, or when the stats could not be read. */
bool wait_disconnect(struct ezr_stream *st, enum ezr_close_reason code, uint64_t deadline,
                     struct ezr_stream_stats *stats);
/* The largest of the players' queued bytes, as the reactor sees them after everything pushed so
 * far (*out, if not NULL, receives the stream's stats); -1 unless the stream has exactly `players`
 * players. */
long largest_queue(struct ezr_stream *st, struct ezr_stream_stats *out, size_t players);
/* A server with the one stream live/stream (one GOP cached), or NULL. */
struct ezr_server *start_live_stream(const struct ezr_server_config *cfg, struct ezr_stream **st);

/* Pushes a small AVC video frame whose payload[5] is tag (to tell frames apart). */
void push_video(struct ezr_stream *st, uint32_t flags, uint32_t ts, uint8_t tag);
/* Pushes a small AAC audio frame (not a header) whose payload[2] is tag. */
void push_audio(struct ezr_stream *st, uint32_t ts, uint8_t tag);

#endif
