/* libFuzzer target: the element's FLV parser, fed in slices as buffers arrive. */
#include <stddef.h>
#include <stdint.h>

#include "ezr_flv_parser.h"

static int on_tag(void *ctx, const struct ezr_flv_tag *t)
{
    volatile uint8_t sum = 0;
    for (size_t i = 0; i < t->len; i++)
        sum += t->body[i];
    (void)sum;
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct ezr_flv_parser p;
    ezr_flv_parser_init(&p);
    size_t step = size ? 1 + data[0] % 64 : 1;
    for (size_t off = 0; off < size; off += step) {
        size_t n = size - off < step ? size - off : step;
        if (ezr_flv_parser_feed(&p, data + off, n, on_tag, NULL) < 0)
            break;
    }
    ezr_flv_parser_clear(&p);
    return 0;
}
