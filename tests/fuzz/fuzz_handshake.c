/* libFuzzer target: the server handshake, fed the input in two slices at a split it chooses. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "ezr_buf.h"
#include "ezr_handshake.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    uint8_t random[EZR_HANDSHAKE_SIZE];
    memset(random, 0xA5, sizeof random);
    struct ezr_handshake hs;
    ezr_handshake_server_init(&hs, random, 7);
    struct ezr_buf out;
    ezr_buf_init(&out);
    size_t split = size ? data[0] * size / 256 : 0;
    size_t used = 0;
    int rc = ezr_handshake_server_feed(&hs, data, split, &out);
    if (rc >= 0) {
        used = (size_t)rc;
        rc = ezr_handshake_server_feed(&hs, data + used, size - used, &out);
    }
    /* Whatever came in, the answer is S0 S1 S2 or nothing. */
    if (out.len != 0 && out.len != 1 + 2 * EZR_HANDSHAKE_SIZE)
        __builtin_trap();
    ezr_buf_free(&out);
    return 0;
}
