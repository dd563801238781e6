/* WebSocket frames and handshake key; see ezr_ws.h. */
#include "ezr_ws.h"

#include <openssl/evp.h>
#include <string.h>

#include "ezr_error.h"
#include "ezr_limits.h"

size_t ezr_ws_header_size(uint64_t len)
{
    return len < 126 ? 2 : len <= 0xFFFF ? 4 : 10;
}

size_t ezr_ws_header(uint8_t out[EZR_WS_MAX_HEADER], enum ezr_ws_opcode opcode, uint64_t len)
{
    out[0] = (uint8_t)(0x80 | opcode);
    if (len < 126) {
        out[1] = (uint8_t)len;
        return 2;
    }
    if (len <= 0xFFFF) {
        out[1] = 126;
        out[2] = (uint8_t)(len >> 8);
        out[3] = (uint8_t)len;
        return 4;
    }
    out[1] = 127;
    for (int i = 0; i < 8; i++)
        out[2 + i] = (uint8_t)(len >> (56 - 8 * i));
    return 10;
}

int ezr_ws_accept_key(const char *key, char out[EZR_WS_ACCEPT_LEN + 1])
{
    static const char guid[] = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";
    uint8_t raw[18];
    size_t klen = strlen(key);
    /* 16 random bytes in base64: 24 characters ending in "==". */
    if (klen != 24 || EVP_DecodeBlock(raw, (const unsigned char *)key, 24) != 18 ||
        key[22] != '=' || key[23] != '=')
        return EZR_EINVAL;
    char cat[24 + sizeof guid];
    memcpy(cat, key, 24);
    memcpy(cat + 24, guid, sizeof guid);
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;
    if (!EVP_Digest(cat, 24 + sizeof guid - 1, md, &mdlen, EVP_sha1(), NULL) || mdlen != 20)
        return EZR_ENOMEM;
    EVP_EncodeBlock((unsigned char *)out, md, 20);
    out[EZR_WS_ACCEPT_LEN] = '\0';
    return 0;
}

void ezr_ws_put_close(struct ezr_buf *out, uint16_t code)
{
    uint8_t h[EZR_WS_MAX_HEADER];
    ezr_buf_append(out, h, ezr_ws_header(h, EZR_WS_CLOSE, 2));
    ezr_buf_put_be16(out, code);
}

void ezr_ws_reader_init(struct ezr_ws_reader *r)
{
    memset(r, 0, sizeof *r);
}

static int refuse(struct ezr_ws_reader *r, struct ezr_buf *out, uint16_t code, const char *why)
{
    ezr_ws_put_close(out, code);
    r->closed = true;
    r->close_code = code;
    r->reason = why;
    return EZR_ECLOSED;
}

int ezr_ws_feed(struct ezr_ws_reader *r, const uint8_t *in, size_t len, struct ezr_buf *out)
{
    size_t pos = 0;
    while (pos < len && !r->closed) {
        if (r->skip) {
            size_t n = len - pos < r->skip ? len - pos : (size_t)r->skip;
            r->skip -= n;
            pos += n;
            continue;
        }
        const uint8_t *h = in + pos;
        size_t avail = len - pos;
        if (avail < 2)
            break;
        uint8_t opcode = h[0] & 0x0F;
        bool fin = h[0] & 0x80;
        if (h[0] & 0x70)
            return refuse(r, out, EZR_WS_CLOSE_PROTOCOL, "WebSocket frame with reserved bits");
        if (!(h[1] & 0x80))
            return refuse(r, out, EZR_WS_CLOSE_PROTOCOL, "unmasked WebSocket frame from a client");
        bool control = opcode & 0x8;
        if ((opcode > EZR_WS_BINARY && !control) || opcode > EZR_WS_PONG)
            return refuse(r, out, EZR_WS_CLOSE_PROTOCOL, "reserved WebSocket opcode");
        uint64_t plen = h[1] & 0x7F;
        size_t hl = 2;
        if (control && (!fin || plen > 125))
            return refuse(r, out, EZR_WS_CLOSE_PROTOCOL,
                          "fragmented or long WebSocket control frame");
        if (plen == 126) {
            if (avail < 4)
                break;
            plen = (uint64_t)h[2] << 8 | h[3];
            hl = 4;
        } else if (plen == 127) {
            if (avail < 10)
                break;
            plen = 0;
            for (int i = 0; i < 8; i++)
                plen = plen << 8 | h[2 + i];
            hl = 10;
        }
        hl += 4; /* the masking key */
        if (plen > EZR_WS_MAX_IN_FRAME)
            return refuse(r, out, EZR_WS_CLOSE_TOO_BIG, "WebSocket frame over EZR_WS_MAX_IN_FRAME");
        if (!control) {
            /* Data from a player means nothing to us: discarded as it comes, never buffered. */
            if (avail < hl)
                break;
            pos += hl;
            r->skip = plen;
            continue;
        }
        if (avail < hl + plen)
            break;
        uint8_t payload[125];
        const uint8_t *mask = h + hl - 4;
        for (size_t i = 0; i < plen; i++)
            payload[i] = h[hl + i] ^ mask[i & 3];
        pos += hl + (size_t)plen;
        uint8_t hdr[EZR_WS_MAX_HEADER];
        if (opcode == EZR_WS_PING) {
            ezr_buf_append(out, hdr, ezr_ws_header(hdr, EZR_WS_PONG, plen));
            ezr_buf_append(out, payload, (size_t)plen);
        } else if (opcode == EZR_WS_PONG) {
            r->pongs++;
        } else {
            /* Close: echo its status code (1000 when it has none), then we are done. */
            if (plen == 1)
                return refuse(r, out, EZR_WS_CLOSE_PROTOCOL, "WebSocket close frame of 1 byte");
            uint16_t code =
                plen >= 2 ? (uint16_t)(payload[0] << 8 | payload[1]) : EZR_WS_CLOSE_NORMAL;
            /* Codes a peer may send (RFC 6455 7.4): 1000-1003, 1007-1011, 3000-4999. */
            bool valid = (code >= 1000 && code <= 1003) || (code >= 1007 && code <= 1011) ||
                         (code >= 3000 && code <= 4999);
            if (!valid)
                return refuse(r, out, EZR_WS_CLOSE_PROTOCOL, "WebSocket close with a bad code");
            refuse(r, out, code, "player closed the WebSocket");
            return EZR_ECLOSED;
        }
    }
    return (int)pos;
}
