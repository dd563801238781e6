/* A growable byte buffer with a sticky failure flag: appends after an allocation failure are
 * ignored and ezr_buf_failed() reports it once at the end, so encoders need not check every put.
 * The buffer owns `data`; ezr_buf_free() releases it, ezr_buf_steal() hands it to the caller. */
#ifndef EZR_BUF_H
#define EZR_BUF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct ezr_buf {
    uint8_t *data;
    size_t len;
    size_t cap;
    bool failed; /* an allocation failed; contents are incomplete */
};

void ezr_buf_init(struct ezr_buf *b);
void ezr_buf_free(struct ezr_buf *b);
/* Empties the buffer but keeps its storage. Clears the failure flag. */
void ezr_buf_reset(struct ezr_buf *b);
/* Ensures room for `extra` more bytes; returns 0 or EZR_ENOMEM (and sets failed). */
int ezr_buf_reserve(struct ezr_buf *b, size_t extra);
void ezr_buf_append(struct ezr_buf *b, const void *p, size_t n);
void ezr_buf_put_u8(struct ezr_buf *b, uint8_t v);
void ezr_buf_put_be16(struct ezr_buf *b, uint16_t v);
void ezr_buf_put_be24(struct ezr_buf *b, uint32_t v);
void ezr_buf_put_be32(struct ezr_buf *b, uint32_t v);
void ezr_buf_put_le32(struct ezr_buf *b, uint32_t v);
/* Drops the first n bytes (n <= len). */
void ezr_buf_consume(struct ezr_buf *b, size_t n);
/* Transfers ownership of the bytes to the caller (free() them); the buffer is left empty. */
uint8_t *ezr_buf_steal(struct ezr_buf *b, size_t *len);
static inline bool ezr_buf_failed(const struct ezr_buf *b)
{
    return b->failed;
}

#endif
