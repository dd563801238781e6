/* The protocol every connection starts with: one port serves RTMP and HTTP, told apart by the
 * first byte (as h2o tells TLS from HTTP). An RTMP handshake starts with C0, version 3; an HTTP
 * request with its method, an ASCII letter; TLS is unwrapped before this by the connection's
 * transport (ezr_tls.h), so the bytes sniffed here are the plaintext either way. The connection
 * then becomes that protocol (ezr_client_set_proto) and the same bytes are fed to it. The handshake timeout, the connection limit, the read budget and the
 * reply bound stay the client's (ezr_client.c), whatever it turns out to speak. */
#include "ezr_client.h"
#include "ezr_error.h"
#include "ezr_server_priv.h"
#include "ezr_sniff.h"

static int sniff_open(struct ezr_client *c)
{
    c->proto_state = NULL;
    return 0;
}

/* The connection speaks proto from now on: the sniffer closes, proto opens and is fed the same
 * bytes. */
static int become(struct ezr_client *c, const struct ezr_client_proto *proto, const uint8_t *in,
                  size_t len)
{
    int rc = ezr_client_set_proto(c, proto);
    return rc < 0 ? rc : proto->feed(c, in, len);
}

static int sniff_feed(struct ezr_client *c, const uint8_t *in, size_t len)
{
    if (len == 0)
        return 0;
    enum ezr_sniff kind = ezr_sniff_first_byte(in[0]);
    if (kind == EZR_SNIFF_RTMP)
        return become(c, &ezr_proto_rtmp, in, len);
    if (kind == EZR_SNIFF_HTTP && (c->set->srv->http || c->set->srv->metrics))
        return become(c, &ezr_proto_http, in, len);
    /* TLS was taken off by the transport below (ezr_tls.c); a ClientHello inside TLS, or on a
     * port without a certificate, is refused here like any other unknown byte. */
    c->close_reason = c->set->srv->http || c->set->srv->metrics
                          ? "neither RTMP (C0 is not version 3) nor HTTP"
                          : "not RTMP: C0 is not version 3";
    return EZR_EPROTO;
}

static void sniff_stream_ended(struct ezr_client *c, bool final)
{
    (void)c;
    (void) final;
}

static void sniff_stream_restarted(struct ezr_client *c)
{
    (void)c;
}

static void sniff_close(struct ezr_client *c)
{
    (void)c;
}

const struct ezr_client_proto ezr_proto_sniff = {
    .id = EZR_PROTOCOL_UNDECIDED,
    .ack_each_read = true,
    .open = sniff_open,
    .feed = sniff_feed,
    .make_view = NULL, /* never a player */
    .stream_ended = sniff_stream_ended,
    .stream_restarted = sniff_stream_restarted,
    .ping = NULL,
    .pongs = NULL,
    .close = sniff_close,
};
