/* Growable byte buffer; see ezr_buf.h. */
#include "ezr_buf.h"

#include <stdlib.h>
#include <string.h>

#include "ezr_alloc.h"
#include "ezr_bytes.h"
#include "ezr_error.h"

void ezr_buf_init(struct ezr_buf *b)
{
    b->data = NULL;
    b->len = 0;
    b->cap = 0;
    b->failed = false;
}

void ezr_buf_free(struct ezr_buf *b)
{
    free(b->data);
    ezr_buf_init(b);
}

void ezr_buf_reset(struct ezr_buf *b)
{
    b->len = 0;
    b->failed = false;
}

int ezr_buf_reserve(struct ezr_buf *b, size_t extra)
{
    if (b->failed)
        return EZR_ENOMEM;
    if (extra <= b->cap - b->len)
        return 0;
    if (extra > SIZE_MAX / 2 - b->len) {
        b->failed = true;
        return EZR_ENOMEM;
    }
    size_t need = b->len + extra;
    size_t cap = b->cap ? b->cap : 256;
    while (cap < need)
        cap *= 2;
    uint8_t *p = ezr_realloc(b->data, cap);
    if (!p) {
        b->failed = true;
        return EZR_ENOMEM;
    }
    b->data = p;
    b->cap = cap;
    return 0;
}

void ezr_buf_append(struct ezr_buf *b, const void *p, size_t n)
{
    if (n == 0 || ezr_buf_reserve(b, n) < 0)
        return;
    memcpy(b->data + b->len, p, n);
    b->len += n;
}

void ezr_buf_put_u8(struct ezr_buf *b, uint8_t v)
{
    ezr_buf_append(b, &v, 1);
}

void ezr_buf_put_be16(struct ezr_buf *b, uint16_t v)
{
    uint8_t t[2];
    ezr_wr_be16(t, v);
    ezr_buf_append(b, t, 2);
}

void ezr_buf_put_be24(struct ezr_buf *b, uint32_t v)
{
    uint8_t t[3];
    ezr_wr_be24(t, v);
    ezr_buf_append(b, t, 3);
}

void ezr_buf_put_be32(struct ezr_buf *b, uint32_t v)
{
    uint8_t t[4];
    ezr_wr_be32(t, v);
    ezr_buf_append(b, t, 4);
}

void ezr_buf_put_le32(struct ezr_buf *b, uint32_t v)
{
    uint8_t t[4];
    ezr_wr_le32(t, v);
    ezr_buf_append(b, t, 4);
}

void ezr_buf_consume(struct ezr_buf *b, size_t n)
{
    if (n >= b->len) {
        b->len = 0;
        return;
    }
    memmove(b->data, b->data + n, b->len - n);
    b->len -= n;
}

uint8_t *ezr_buf_steal(struct ezr_buf *b, size_t *len)
{
    uint8_t *p = b->data;
    *len = b->len;
    ezr_buf_init(b);
    return p;
}
