/* What a connection's first byte says it speaks: one port serves RTMP, HTTP and TLS around either.
 * Pure, so the fuzzer and the tests drive it without sockets (ezr_sniff.c). */
#ifndef EZR_SNIFF_H
#define EZR_SNIFF_H

#include <stdint.h>

enum ezr_sniff {
    EZR_SNIFF_UNKNOWN,
    EZR_SNIFF_RTMP, /* C0: RTMP version 3 */
    EZR_SNIFF_HTTP, /* a method's first letter */
    EZR_SNIFF_TLS,  /* a TLS record of type handshake (22): the ClientHello */
};

enum ezr_sniff ezr_sniff_first_byte(uint8_t b);

#endif
