/* What a client's protocol must do: the seam between one connection's wire format (RTMP,
 * HTTP-FLV, WebSocket-FLV, and the sniffer that picks one) and everything protocol-blind (the
 * client's socket, queue and timeouts; the stream's GOP cache, fan-out and backpressure). A
 * protocol turns the peer's bytes into decisions (play this stream:
 * ezr_stream_admit/ezr_stream_add_player) and replies (ezr_client_send), and says which bytes of a
 * shared frame it sends; the stream and fan-out code never asks which protocol a player speaks. */
#ifndef EZR_CLIENT_PROTO_H
#define EZR_CLIENT_PROTO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ezr_view.h"
#include "ezr_types.h"

struct ezr_client;

struct ezr_client_proto {
    enum ezr_protocol id; /* its name (ezr_protocol_name) is shown in logs and stats */
    /* Each read is acknowledged at once (TCP_QUICKACK) until the client plays: true for a
     * protocol whose peer may hold its next small write for our ACK while no reply comes (RTMP's
     * handshake and commands, ezr_client.c says why), false for HTTP, which answers every request
     * at once or parks it while the peer waits: a setsockopt per request for nothing. */
    bool ack_each_read;
    /* Sets up c->proto_state: for a new connection, or when the client switches to this
     * protocol (ezr_client_set_proto, which closes the one before). Returns 0, EZR_ENOMEM, or
     * EZR_ESYS (c->close_reason says which call failed). */
    int (*open)(struct ezr_client *c);
    /* Bytes from the peer. Returns how many were consumed (the rest is fed again with more);
     * EZR_ECLOSED: a final reply is queued, close once it is written; any other negative value:
     * close now. c->close_reason says why. */
    int (*feed)(struct ezr_client *c, const uint8_t *in, size_t len);
    /* The bytes of a shared frame this protocol sends: the frame's view `view`, made once by
     * make_view the first time a player of this protocol takes the frame and shared by all of
     * them (ezr_frame_view). NULL for a protocol whose clients never play through the fan-out
     * (the sniffer). */
    enum ezr_frame_view_id view;
    ezr_frame_view_fn make_view;
    /* The stream played ended (EOS; final) or was flushed upstream (a seek: not final, it goes
     * on), or a new one started after either: tell the player. */
    void (*stream_ended)(struct ezr_client *c, bool final);
    void (*stream_restarted)(struct ezr_client *c);
    /* Liveness of a player whose stream sends nothing (idle or ended): ask the peer to answer
     * (RTMP PingRequest), and how many answers came so far. NULL when the protocol cannot ask:
     * TCP keepalive on every accepted socket (ezr_net_accept) is then all there is. */
    void (*ping)(struct ezr_client *c, uint32_t timestamp);
    uint64_t (*pongs)(const struct ezr_client *c);
    /* Called first when the connection closes, why as reason; NULL when the protocol has
     * nothing to do then (RTMP: a publisher's publication ends with that reason). */
    void (*closing)(struct ezr_client *c, const char *reason);
    /* Frees c->proto_state; also called after a failed open (then proto_state is NULL). */
    void (*close)(struct ezr_client *c);
};

/* The RTMP protocol (ezr_proto_rtmp.c). */
extern const struct ezr_client_proto ezr_proto_rtmp;
/* What every connection starts with: its first byte picks RTMP or HTTP (ezr_proto_sniff.c). */
extern const struct ezr_client_proto ezr_proto_sniff;
/* HTTP/1.1: HTTP-FLV, the WebSocket upgrade and /metrics; after the upgrade the client's protocol
 * is ezr_proto_ws, which sends the same FLV tags as WebSocket binary frames (ezr_proto_http.c). */
extern const struct ezr_client_proto ezr_proto_http;
extern const struct ezr_client_proto ezr_proto_ws;

#endif
