/* What the sans-I/O session tests (test_session.c, test_session_controls.c) share: a session
 * driven by a client built from the library's own client-side handshake and chunk writer, the
 * replies it sent parsed back into messages, and the commands a player sends. */
#ifndef SESSION_HARNESS_H
#define SESSION_HARNESS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ezr_buf.h"
#include "ezr_chunk.h"
#include "ezr_session.h"

#define MAX_MSGS 64

/* One message the session sent, as the chunk reader gave it back. */
struct msg {
    uint8_t type;
    uint32_t csid, msid;
    uint8_t payload[8192];
    size_t len;
};

/* A message the session handed up from a publisher: its type, time, length and first bytes. */
struct media {
    uint8_t type;
    uint32_t ts;
    size_t len;
    uint8_t head[32];
};

/* The session under test, what it sent (raw and parsed) and what its callbacks saw. */
struct harness {
    struct ezr_session s;
    struct ezr_buf sent;
    size_t parsed;
    struct ezr_chunk_reader r;
    struct ezr_chunk_writer w;
    struct msg msgs[MAX_MSGS];
    int nmsgs;
    int connects, plays, started, stopped;
    size_t sent_when_started;
    size_t sent_when_stopped;
    bool audio, video;
    int receives;
    int pauses; /* pause callback calls */
    bool paused;
    size_t sent_when_paused;
    int publishes, unpublishes; /* publish and unpublish callback calls */
    int publish_rc;             /* what publish answers for "obs" (0: accepted) */
    struct media media[MAX_MSGS];
    int nmedia;
};

/* Callbacks that count into the struct harness passed as ctx: connect accepts the app "live",
 * play the stream "stream"; "obs" (and "obs?...") has a publish point, publish answers
 * publish_rc for it; media is recorded into media[]. */
extern const struct ezr_session_callbacks harness_callbacks;

/* Parses what the session sent since last time into h->msgs. */
void harness_drain(struct harness *h);

/* A session with 4096-byte chunks after a simple handshake, and its client. */
void harness_setup(struct harness *h);

void harness_teardown(struct harness *h);

/* Sends body as one message of type on csid and msid, then parses the replies; returns what
 * ezr_session_feed() returned. */
int send_raw(struct harness *h, uint8_t type, uint32_t csid, uint32_t msid,
             const struct ezr_buf *body);

/* Sends name(txid, {app} or null, [string arg]). */
int send_cmd(struct harness *h, uint32_t msid, const char *name, double txid, const char *app,
             const char *arg);

/* The command name of message i, or "" when it is not a command. */
const char *cmd_name(struct harness *h, int i, char *buf, size_t cap);

/* The "code" property of the info object of a reply/onStatus message i. */
const char *status_code(struct harness *h, int i, char *buf, size_t cap);

/* connect(1, {app: "live"}). */
int connect_ok(struct harness *h);

/* Handshake, connect and createStream; h->msgs then starts empty. */
void create_stream_ok(struct harness *h);

/* Handshake, connect, createStream and play "stream"; h->msgs then starts empty. */
void play_ok(struct harness *h);

/* Sends name(0, null, flag[, ms]) on msid: pause, pauseRaw, receiveVideo, receiveAudio. */
int send_flag_cmd(struct harness *h, uint32_t msid, const char *name, bool flag, bool with_ms);

/* Sends name(txid, null, number) on msid: seek(0, null, ms), deleteStream(txid, null, id). */
int send_number_cmd(struct harness *h, uint32_t msid, const char *name, double txid, double number);

/* True when message i is onStatus(0, null, {level, code, description, details}) on the media
 * stream's command chunk stream, with exactly this level and code and the stream name as
 * details. */
bool is_status(struct harness *h, int i, const char *level, const char *code);

/* A User Control message: event, then value. */
int send_user_control(struct harness *h, uint16_t event, uint32_t value);

#endif
