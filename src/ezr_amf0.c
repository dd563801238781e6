/* AMF0 decoder and encoder; see ezr_amf0.h. The decoder is a bounded recursive descent over a
 * cursor that checks every read against the end, so hostile command messages cost at most
 * EZR_AMF0_MAX_DEPTH stack frames and memory proportional to their own size.
 * Date (0x0B) is rejected like the other unsupported markers: no player sends one in a command,
 * and decoding it as a number would break decode(encode(v)) == v. */
#include "ezr_amf0.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "ezr_alloc.h"
#include "ezr_bytes.h"
#include "ezr_error.h"
#include "ezr_limits.h"

/* Property and item arrays start this small and double: real objects have ~10 properties, and
 * growing from what was actually read (never from a declared count) keeps memory proportional to
 * the input. */
#define AMF0_INITIAL_SLOTS 8u

struct amf0_reader {
    const uint8_t *p;
    size_t len;
    size_t pos;
};

static bool rd_has(const struct amf0_reader *r, size_t n)
{
    return r->len - r->pos >= n;
}

static void value_init(struct ezr_amf0_value *v)
{
    memset(v, 0, sizeof *v);
    v->type = EZR_AMF0_NULL;
}

/* Copies n bytes at the cursor into a fresh NUL-terminated string. The caller has checked that n
 * bytes remain, so a length field claiming more than the message holds never reaches malloc. */
static int rd_copy(struct amf0_reader *r, size_t n, char **out)
{
    char *s = ezr_malloc(n + 1);
    if (!s)
        return EZR_ENOMEM;
    if (n)
        memcpy(s, r->p + r->pos, n);
    s[n] = '\0';
    r->pos += n;
    *out = s;
    return 0;
}

/* Makes room for one more element of `size` bytes in *arr (capacity *cap), doubling. */
static int grow(void **arr, size_t *cap, size_t count, size_t size)
{
    if (count < *cap)
        return 0;
    size_t ncap = *cap ? *cap * 2 : AMF0_INITIAL_SLOTS;
    if (ncap < *cap || ncap > SIZE_MAX / size)
        return EZR_ENOMEM;
    void *p = ezr_realloc(*arr, ncap * size);
    if (!p)
        return EZR_ENOMEM;
    *arr = p;
    *cap = ncap;
    return 0;
}

static int decode_value(struct amf0_reader *r, unsigned depth, struct ezr_amf0_value *v);

/* Key/value pairs up to the empty key + OBJECT_END, for OBJECT and ECMA_ARRAY. On error v holds
 * only the pairs decoded completely, so ezr_amf0_value_clear() releases everything. */
static int decode_props(struct amf0_reader *r, unsigned depth, struct ezr_amf0_value *v)
{
    size_t cap = 0;
    for (;;) {
        if (!rd_has(r, 2))
            return EZR_EPROTO;
        size_t klen = ezr_rd_be16(r->p + r->pos);
        r->pos += 2;
        if (klen == 0 && rd_has(r, 1) && r->p[r->pos] == EZR_AMF0_OBJECT_END) {
            r->pos++;
            return 0;
        }
        if (!rd_has(r, klen))
            return EZR_EPROTO;
        void *arr = v->u.obj.props;
        int rc = grow(&arr, &cap, v->u.obj.count, sizeof *v->u.obj.props);
        v->u.obj.props = arr;
        if (rc < 0)
            return rc;
        struct ezr_amf0_prop *prop = &v->u.obj.props[v->u.obj.count];
        rc = rd_copy(r, klen, &prop->key);
        if (rc < 0)
            return rc;
        prop->key_len = klen;
        rc = decode_value(r, depth + 1, &prop->value);
        if (rc < 0) {
            free(prop->key);
            return rc;
        }
        v->u.obj.count++;
    }
}

/* STRICT_ARRAY: a u32 count, then that many values with no terminator. */
static int decode_items(struct amf0_reader *r, unsigned depth, struct ezr_amf0_value *v)
{
    if (!rd_has(r, 4))
        return EZR_EPROTO;
    uint32_t n = ezr_rd_be32(r->p + r->pos);
    r->pos += 4;
    /* Every value takes at least its marker byte, so a count above the bytes left is a lie; refuse
     * it before decoding anything. */
    if (!rd_has(r, n))
        return EZR_EPROTO;
    size_t cap = 0;
    for (uint32_t i = 0; i < n; i++) {
        void *arr = v->u.arr.items;
        int rc = grow(&arr, &cap, v->u.arr.count, sizeof *v->u.arr.items);
        v->u.arr.items = arr;
        if (rc < 0)
            return rc;
        rc = decode_value(r, depth + 1, &v->u.arr.items[v->u.arr.count]);
        if (rc < 0)
            return rc;
        v->u.arr.count++;
    }
    return 0;
}

/* Decodes one value at the cursor. `depth` is the number of containers enclosing it. On error v
 * is cleared (type NULL, nothing owned). */
static int decode_value(struct amf0_reader *r, unsigned depth, struct ezr_amf0_value *v)
{
    value_init(v);
    if (!rd_has(r, 1))
        return EZR_EPROTO;
    uint8_t marker = r->p[r->pos++];
    int rc = 0;
    switch (marker) {
    case EZR_AMF0_NUMBER:
        if (!rd_has(r, 8))
            return EZR_EPROTO;
        v->type = EZR_AMF0_NUMBER;
        v->u.number = ezr_rd_be_double(r->p + r->pos);
        r->pos += 8;
        return 0;
    case EZR_AMF0_BOOLEAN:
        if (!rd_has(r, 1))
            return EZR_EPROTO;
        v->type = EZR_AMF0_BOOLEAN;
        v->u.boolean = r->p[r->pos++] != 0;
        return 0;
    case EZR_AMF0_STRING:
    case EZR_AMF0_LONG_STRING: {
        size_t width = marker == EZR_AMF0_STRING ? 2 : 4;
        if (!rd_has(r, width))
            return EZR_EPROTO;
        size_t n = width == 2 ? ezr_rd_be16(r->p + r->pos) : ezr_rd_be32(r->p + r->pos);
        r->pos += width;
        if (!rd_has(r, n))
            return EZR_EPROTO;
        char *s;
        rc = rd_copy(r, n, &s);
        if (rc < 0)
            return rc;
        v->type = (enum ezr_amf0_type)marker;
        v->u.str.ptr = s;
        v->u.str.len = n;
        return 0;
    }
    case EZR_AMF0_NULL:
    case EZR_AMF0_UNDEFINED:
        v->type = (enum ezr_amf0_type)marker;
        return 0;
    case EZR_AMF0_OBJECT:
    case EZR_AMF0_ECMA_ARRAY:
    case EZR_AMF0_STRICT_ARRAY:
        /* Checked before reading the container so that deep nesting fails at the limit, long
         * before the stack or the input runs out. */
        if (depth >= EZR_AMF0_MAX_DEPTH)
            return EZR_ELIMIT;
        v->type = (enum ezr_amf0_type)marker;
        if (marker == EZR_AMF0_STRICT_ARRAY) {
            rc = decode_items(r, depth, v);
        } else if (marker == EZR_AMF0_ECMA_ARRAY && !rd_has(r, 4)) {
            rc = EZR_EPROTO;
        } else {
            /* An ECMA array's count is only a hint (encoders get it wrong); the terminator
             * decides. */
            if (marker == EZR_AMF0_ECMA_ARRAY)
                r->pos += 4;
            rc = decode_props(r, depth, v);
        }
        if (rc < 0)
            ezr_amf0_value_clear(v);
        return rc;
    default:
        /* OBJECT_END outside an object, and the markers we do not support: movieclip, reference,
         * date, unsupported, recordset, xml, typed object, AVM+ switch, anything unassigned. */
        return EZR_EPROTO;
    }
}

int ezr_amf0_decode(const uint8_t *p, size_t len, struct ezr_amf0_value *out)
{
    if (!out)
        return EZR_EINVAL;
    value_init(out);
    if (!p)
        return len ? EZR_EINVAL : EZR_EPROTO;
    /* The result is a byte count in an int. Messages are far smaller (EZR_MAX_IN_MSG_SIZE); a
     * value longer than INT_MAX simply looks truncated. */
    struct amf0_reader r = {p, len > INT_MAX ? (size_t)INT_MAX : len, 0};
    int rc = decode_value(&r, 0, out);
    if (rc < 0)
        return rc;
    return (int)r.pos;
}

void ezr_amf0_value_clear(struct ezr_amf0_value *v)
{
    if (!v)
        return;
    switch (v->type) {
    case EZR_AMF0_STRING:
    case EZR_AMF0_LONG_STRING:
        free(v->u.str.ptr);
        break;
    case EZR_AMF0_OBJECT:
    case EZR_AMF0_ECMA_ARRAY:
        for (size_t i = 0; i < v->u.obj.count; i++) {
            free(v->u.obj.props[i].key);
            ezr_amf0_value_clear(&v->u.obj.props[i].value);
        }
        free(v->u.obj.props);
        break;
    case EZR_AMF0_STRICT_ARRAY:
        for (size_t i = 0; i < v->u.arr.count; i++)
            ezr_amf0_value_clear(&v->u.arr.items[i]);
        free(v->u.arr.items);
        break;
    default:
        break;
    }
    value_init(v);
}

const struct ezr_amf0_value *ezr_amf0_get(const struct ezr_amf0_value *v, const char *key)
{
    if (!v || !key || (v->type != EZR_AMF0_OBJECT && v->type != EZR_AMF0_ECMA_ARRAY))
        return NULL;
    size_t klen = strlen(key);
    for (size_t i = 0; i < v->u.obj.count; i++) {
        const struct ezr_amf0_prop *prop = &v->u.obj.props[i];
        if (prop->key_len == klen && memcmp(prop->key, key, klen) == 0)
            return &prop->value;
    }
    return NULL;
}

const char *ezr_amf0_as_string(const struct ezr_amf0_value *v)
{
    if (!v || (v->type != EZR_AMF0_STRING && v->type != EZR_AMF0_LONG_STRING))
        return NULL;
    return v->u.str.ptr;
}

/* Something that cannot be encoded (a length or count past what AMF0 can express, a type that is
 * not a value) is reported through the same sticky flag as a failed allocation: the caller checks
 * one flag at the end and never sends a half-written message. */
static void put_fail(struct ezr_buf *b)
{
    b->failed = true;
}

/* Through uint64_t so the test is not "always false" where size_t is 32 bits. */
static bool fits_u32(size_t n)
{
    return (uint64_t)n <= UINT32_MAX;
}

void ezr_amf0_put_number(struct ezr_buf *b, double d)
{
    uint8_t t[9];
    t[0] = EZR_AMF0_NUMBER;
    ezr_wr_be_double(t + 1, d);
    ezr_buf_append(b, t, sizeof t);
}

void ezr_amf0_put_bool(struct ezr_buf *b, bool v)
{
    uint8_t t[2] = {EZR_AMF0_BOOLEAN, v ? 1 : 0};
    ezr_buf_append(b, t, sizeof t);
}

static void put_long_string(struct ezr_buf *b, const char *s, size_t len)
{
    if (!fits_u32(len)) {
        put_fail(b);
        return;
    }
    ezr_buf_put_u8(b, EZR_AMF0_LONG_STRING);
    ezr_buf_put_be32(b, (uint32_t)len);
    ezr_buf_append(b, s, len);
}

void ezr_amf0_put_string(struct ezr_buf *b, const char *s, size_t len)
{
    if (len > UINT16_MAX) {
        put_long_string(b, s, len);
        return;
    }
    ezr_buf_put_u8(b, EZR_AMF0_STRING);
    ezr_buf_put_be16(b, (uint16_t)len);
    ezr_buf_append(b, s, len);
}

void ezr_amf0_put_cstring(struct ezr_buf *b, const char *s)
{
    ezr_amf0_put_string(b, s, strlen(s));
}

void ezr_amf0_put_null(struct ezr_buf *b)
{
    ezr_buf_put_u8(b, EZR_AMF0_NULL);
}

void ezr_amf0_put_undefined(struct ezr_buf *b)
{
    ezr_buf_put_u8(b, EZR_AMF0_UNDEFINED);
}

void ezr_amf0_put_object_begin(struct ezr_buf *b)
{
    ezr_buf_put_u8(b, EZR_AMF0_OBJECT);
}

void ezr_amf0_put_ecma_begin(struct ezr_buf *b, uint32_t count)
{
    ezr_buf_put_u8(b, EZR_AMF0_ECMA_ARRAY);
    ezr_buf_put_be32(b, count);
}

static void put_key_n(struct ezr_buf *b, const char *key, size_t len)
{
    if (len > UINT16_MAX) {
        put_fail(b);
        return;
    }
    ezr_buf_put_be16(b, (uint16_t)len);
    ezr_buf_append(b, key, len);
}

void ezr_amf0_put_key(struct ezr_buf *b, const char *key)
{
    put_key_n(b, key, strlen(key));
}

void ezr_amf0_put_object_end(struct ezr_buf *b)
{
    static const uint8_t end[3] = {0x00, 0x00, EZR_AMF0_OBJECT_END};
    ezr_buf_append(b, end, sizeof end);
}

void ezr_amf0_put_strict_array_begin(struct ezr_buf *b, uint32_t count)
{
    ezr_buf_put_u8(b, EZR_AMF0_STRICT_ARRAY);
    ezr_buf_put_be32(b, count);
}

/* Mirrors decode_value, including the depth limit: we never emit a tree we would refuse to
 * decode. */
static void put_value(struct ezr_buf *b, const struct ezr_amf0_value *v, unsigned depth)
{
    if (b->failed)
        return;
    switch (v->type) {
    case EZR_AMF0_NUMBER:
        ezr_amf0_put_number(b, v->u.number);
        return;
    case EZR_AMF0_BOOLEAN:
        ezr_amf0_put_bool(b, v->u.boolean);
        return;
    case EZR_AMF0_STRING:
        ezr_amf0_put_string(b, v->u.str.ptr, v->u.str.len);
        return;
    case EZR_AMF0_LONG_STRING:
        /* Kept long even when short, so the type survives a round trip. */
        put_long_string(b, v->u.str.ptr, v->u.str.len);
        return;
    case EZR_AMF0_NULL:
        ezr_amf0_put_null(b);
        return;
    case EZR_AMF0_UNDEFINED:
        ezr_amf0_put_undefined(b);
        return;
    case EZR_AMF0_OBJECT:
    case EZR_AMF0_ECMA_ARRAY:
        if (depth >= EZR_AMF0_MAX_DEPTH || !fits_u32(v->u.obj.count)) {
            put_fail(b);
            return;
        }
        if (v->type == EZR_AMF0_OBJECT)
            ezr_amf0_put_object_begin(b);
        else
            ezr_amf0_put_ecma_begin(b, (uint32_t)v->u.obj.count);
        for (size_t i = 0; i < v->u.obj.count; i++) {
            put_key_n(b, v->u.obj.props[i].key, v->u.obj.props[i].key_len);
            put_value(b, &v->u.obj.props[i].value, depth + 1);
        }
        ezr_amf0_put_object_end(b);
        return;
    case EZR_AMF0_STRICT_ARRAY:
        if (depth >= EZR_AMF0_MAX_DEPTH || !fits_u32(v->u.arr.count)) {
            put_fail(b);
            return;
        }
        ezr_amf0_put_strict_array_begin(b, (uint32_t)v->u.arr.count);
        for (size_t i = 0; i < v->u.arr.count; i++)
            put_value(b, &v->u.arr.items[i], depth + 1);
        return;
    case EZR_AMF0_OBJECT_END:
        break;
    }
    put_fail(b);
}

void ezr_amf0_put_value(struct ezr_buf *b, const struct ezr_amf0_value *v)
{
    put_value(b, v, 0);
}
