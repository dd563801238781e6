/* The tests' RTMP publisher over a real loopback socket, built on the test player's handshake and
 * chunk writer (rtmp_test_player.h): connect, releaseStream, FCPublish, createStream, publish,
 * then media messages as a publisher sends them (csid 4 audio, 6 video, 5 data, stream 1). */
#ifndef RTMP_TEST_PUBLISHER_H
#define RTMP_TEST_PUBLISHER_H

#include <stddef.h>
#include <stdint.h>

#include "rtmp_test_player.h"

/* Opens p (player_close() releases it, even on failure) and publishes app/name. Returns 0 once
 * the server answered NetStream.Publish.Start, -1 otherwise; code (cap bytes, may be NULL) gets
 * the onStatus code answered to publish ("" if none came). */
int publisher_open(struct player *p, uint16_t port, const char *app, const char *name, char *code,
                   size_t cap);
/* One media message: type 8 audio, 9 video, 18 data; 0 or -1. */
int publisher_send(struct player *p, uint8_t type, uint32_t ts, const uint8_t *body, size_t len);
/* @setDataFrame onMetaData {width, videocodecid 7, audiocodecid 10} at time 0. */
int publisher_send_metadata(struct player *p);
/* FCUnpublish and deleteStream, as ffmpeg sends them when it ends. */
void publisher_unpublish(struct player *p);
/* deleteStream of message stream 1 alone (no FCUnpublish first). */
void publisher_delete_stream(struct player *p);
/* The "code" of an onStatus or _result/_error message body, or "". */
const char *rtmp_status_code(const uint8_t *payload, size_t len, char *out, size_t cap);

#endif
