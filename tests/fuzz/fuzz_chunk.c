/* libFuzzer target: the chunk stream reader with the server's limits, fed as a socket would. */
#include <stddef.h>
#include <stdint.h>

#include "ezr_buf.h"
#include "ezr_chunk.h"

static int on_msg(void *ctx, const struct ezr_chunk_msg *m)
{
    /* Touch the payload so the sanitizers see any bad pointer. */
    volatile uint8_t sum = 0;
    for (uint32_t i = 0; i < m->length; i++)
        sum += m->payload[i];
    (void)sum;
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct ezr_chunk_reader r;
    ezr_chunk_reader_init(&r, NULL);
    struct ezr_buf pending;
    ezr_buf_init(&pending);
    /* 97-byte reads: chunks and headers cut at every kind of place. */
    for (size_t off = 0; off < size; off += 97) {
        size_t n = size - off < 97 ? size - off : 97;
        ezr_buf_append(&pending, data + off, n);
        int rc = ezr_chunk_reader_feed(&r, pending.data, pending.len, on_msg, NULL);
        if (rc < 0)
            break;
        ezr_buf_consume(&pending, (size_t)rc);
    }
    ezr_buf_free(&pending);
    ezr_chunk_reader_free(&r);
    return 0;
}
