/* What the HTTP tests (test_http.c, test_http_players.c) share: a server with HTTP on or off and
 * one live stream, and the WebSocket frames a client sends. */
#ifndef HTTP_FIXTURE_H
#define HTTP_FIXTURE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ezr_server.h"

/* start_live_stream() on test_server_config() with http, metrics and the handshake timeout
 * (0: the default) set; NULL on failure. */
struct ezr_server *start_http(bool http, bool metrics, uint32_t hs_timeout_ms,
                              struct ezr_stream **st);
/* Writes a client frame into out: FIN, opcode, masked with a fixed key (or not), payload
 * (len < 126). Returns its length. */
size_t ws_client_frame(uint8_t *out, uint8_t opcode, bool fin, bool masked, const uint8_t *payload,
                       size_t len);

#endif
