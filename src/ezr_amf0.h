/* AMF0 (Action Message Format 0) values: a decoder that builds a small tree from bytes, with
 * depth and size limits, and an encoder that appends to an ezr_buf.
 *
 * Decoding never reads past `len` and never allocates more than a small multiple of `len`, so the
 * message size limit bounds its memory. Strings are copied and NUL-terminated (they may contain
 * NUL bytes; use .len). A decoded value owns everything below it: free it with
 * ezr_amf0_value_clear(). */
#ifndef EZR_AMF0_H
#define EZR_AMF0_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ezr_buf.h"

/* The type markers as they appear on the wire. */
enum ezr_amf0_type {
    EZR_AMF0_NUMBER = 0x00,
    EZR_AMF0_BOOLEAN = 0x01,
    EZR_AMF0_STRING = 0x02,
    EZR_AMF0_OBJECT = 0x03,
    EZR_AMF0_NULL = 0x05,
    EZR_AMF0_UNDEFINED = 0x06,
    EZR_AMF0_ECMA_ARRAY = 0x08,
    EZR_AMF0_OBJECT_END = 0x09,
    EZR_AMF0_STRICT_ARRAY = 0x0A,
    EZR_AMF0_LONG_STRING = 0x0C,
};

struct ezr_amf0_prop;

struct ezr_amf0_value {
    enum ezr_amf0_type type;
    union {
        double number;
        bool boolean;
        struct { /* STRING, LONG_STRING */
            char *ptr; /* NUL-terminated copy */
            size_t len;
        } str;
        struct { /* OBJECT, ECMA_ARRAY */
            struct ezr_amf0_prop *props;
            size_t count;
        } obj;
        struct { /* STRICT_ARRAY */
            struct ezr_amf0_value *items;
            size_t count;
        } arr;
    } u;
};

struct ezr_amf0_prop {
    char *key; /* NUL-terminated copy */
    size_t key_len;
    struct ezr_amf0_value value;
};

/* Decodes one value from p[0..len). Returns bytes consumed (> 0), or EZR_EPROTO on malformed or
 * truncated input (a value cut short is an error: AMF is decoded from complete messages),
 * EZR_ELIMIT past EZR_AMF0_MAX_DEPTH, EZR_ENOMEM. On error *out is left cleared (type NULL). An
 * OBJECT_END marker on its own is an error. */
int ezr_amf0_decode(const uint8_t *p, size_t len, struct ezr_amf0_value *out);
/* Releases what a decoded (or built) value owns; leaves it as NULL. */
void ezr_amf0_value_clear(struct ezr_amf0_value *v);

/* Property lookup in an OBJECT or ECMA_ARRAY; NULL if absent or v is another type. */
const struct ezr_amf0_value *ezr_amf0_get(const struct ezr_amf0_value *v, const char *key);
/* The string of a STRING/LONG_STRING value, or NULL. */
const char *ezr_amf0_as_string(const struct ezr_amf0_value *v);

/* Encoders: append to b (ezr_buf's sticky failure flag reports allocation failure). */
void ezr_amf0_put_number(struct ezr_buf *b, double d);
void ezr_amf0_put_bool(struct ezr_buf *b, bool v);
/* Writes STRING, or LONG_STRING when len > 65535. */
void ezr_amf0_put_string(struct ezr_buf *b, const char *s, size_t len);
void ezr_amf0_put_cstring(struct ezr_buf *b, const char *s);
void ezr_amf0_put_null(struct ezr_buf *b);
void ezr_amf0_put_undefined(struct ezr_buf *b);
/* Objects: begin, then key + value pairs, then end. */
void ezr_amf0_put_object_begin(struct ezr_buf *b);
void ezr_amf0_put_ecma_begin(struct ezr_buf *b, uint32_t count);
/* A property name inside an object/ECMA array (no type marker; u16 length + bytes). */
void ezr_amf0_put_key(struct ezr_buf *b, const char *key);
void ezr_amf0_put_object_end(struct ezr_buf *b);
void ezr_amf0_put_strict_array_begin(struct ezr_buf *b, uint32_t count);
/* Encodes a whole value tree (the inverse of ezr_amf0_decode). */
void ezr_amf0_put_value(struct ezr_buf *b, const struct ezr_amf0_value *v);

#endif
