/* libFuzzer target: AMF0 decoding; what decodes must re-encode to bytes that decode the same. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "ezr_amf0.h"
#include "ezr_buf.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    while (size) {
        struct ezr_amf0_value v;
        int used = ezr_amf0_decode(data, size, &v);
        if (used <= 0)
            break;
        struct ezr_buf a, b;
        ezr_buf_init(&a);
        ezr_buf_init(&b);
        ezr_amf0_put_value(&a, &v);
        struct ezr_amf0_value w;
        int again = ezr_amf0_decode(a.data, a.len, &w);
        if (again != (int)a.len)
            __builtin_trap();
        ezr_amf0_put_value(&b, &w);
        if (a.len != b.len || memcmp(a.data, b.data, a.len) != 0)
            __builtin_trap();
        ezr_amf0_value_clear(&w);
        ezr_amf0_value_clear(&v);
        ezr_buf_free(&a);
        ezr_buf_free(&b);
        data += used;
        size -= (size_t)used;
    }
    return 0;
}
