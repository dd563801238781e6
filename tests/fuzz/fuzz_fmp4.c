/* libFuzzer target: the fMP4 writer's two sequence header parsers (the input is an FLV tag body,
 * tried as video and as audio), the init segment made from what they accept, and the sample
 * finder. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "ezr_buf.h"
#include "ezr_bytes.h"
#include "ezr_fmp4.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct ezr_fmp4_video v;
    struct ezr_fmp4_audio a;
    int hv = ezr_fmp4_parse_avc_header(data, size, &v) == 0;
    int ha = ezr_fmp4_parse_aac_header(data, size, &a) == 0;
    if (hv || ha) {
        struct ezr_buf out;
        ezr_buf_init(&out);
        /* The init segment is ftyp then moov, and moov's size covers the rest exactly. */
        if (ezr_fmp4_write_init(&out, hv ? &v : NULL, ha ? &a : NULL) == 0 &&
            (out.len < 32 || ezr_rd_be32(out.data) + ezr_rd_be32(out.data + 24) != out.len))
            abort();
        ezr_buf_free(&out);
    }
    size_t off;
    int32_t cts;
    for (uint8_t kind = 8; kind <= 9; kind++)
        if (ezr_fmp4_sample_of(kind, data, size, &off, &cts) == 0 && off >= size)
            abort();
    return 0;
}
