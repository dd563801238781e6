/* The HTTP tests' helpers: see http_fixture.h. */
#include "http_fixture.h"

#include <string.h>

#include "server_fixture.h"

struct ezr_server *start_http(bool http, bool metrics, uint32_t hs_timeout_ms,
                              struct ezr_stream **st)
{
    struct ezr_server_config cfg;
    test_server_config(&cfg);
    cfg.http = http;
    cfg.metrics = metrics;
    cfg.handshake_timeout_ms = hs_timeout_ms;
    return start_live_stream(&cfg, st);
}

size_t ws_client_frame(uint8_t *out, uint8_t opcode, bool fin, bool masked, const uint8_t *payload,
                       size_t len)
{
    static const uint8_t key[4] = {0x37, 0xfa, 0x21, 0x3d};
    size_t n = 0;
    out[n++] = (uint8_t)((fin ? 0x80 : 0) | opcode);
    out[n++] = (uint8_t)((masked ? 0x80 : 0) | len);
    if (masked) {
        memcpy(out + n, key, 4);
        n += 4;
    }
    for (size_t i = 0; i < len; i++)
        out[n++] = masked ? payload[i] ^ key[i & 3] : payload[i];
    return n;
}
