/* The first-byte classifier; see ezr_sniff.h. Its own file, low in the stack: the TLS
 * detection transport (ezr_tls.c) and the protocol sniffer (ezr_proto_sniff.c) both ask it. */
#include "ezr_sniff.h"

/* TLS's record type for handshake messages (RFC 8446 5.1): what a ClientHello starts with. */
#define TLS_RECORD_HANDSHAKE 0x16

enum ezr_sniff ezr_sniff_first_byte(uint8_t b)
{
    if (b == 0x03)
        return EZR_SNIFF_RTMP;
    if ((b >= 'A' && b <= 'Z') || (b >= 'a' && b <= 'z'))
        return EZR_SNIFF_HTTP;
    if (b == TLS_RECORD_HANDSHAKE)
        return EZR_SNIFF_TLS;
    return EZR_SNIFF_UNKNOWN;
}
