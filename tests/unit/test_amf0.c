/* Unit tests for the AMF0 codec (src/ezr_amf0.c): exact wire bytes of each type, round trips
 * through ezr_amf0_put_value, a connect command as ffmpeg sends it, and hostile input (truncation
 * at every offset, deep nesting, lying lengths and counts, unsupported markers). */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ezr_amf0.h"
#include "ezr_buf.h"
#include "ezr_error.h"
#include "ezr_limits.h"
#include "ezr_test.h"

/* String literals used as byte arrays: the length excludes the literal's trailing NUL. */
#define BYTES(lit) ((const uint8_t *)(lit)), (sizeof(lit) - 1)

/* A connect command as ffmpeg (libavformat rtmpproto.c gen_connect) sends it when playing
 * rtmp://127.0.0.1:1935/live/..., written out by hand from the AMF0 spec. */
static const char connect_cmd[] =
    "\x02\x00\x07" "connect"
    "\x00\x3f\xf0\x00\x00\x00\x00\x00\x00" /* transaction id 1.0 */
    "\x03"
    "\x00\x03" "app" "\x02\x00\x04" "live"
    "\x00\x08" "flashVer" "\x02\x00\x0d" "LNX 9,0,124,2"
    "\x00\x05" "tcUrl" "\x02\x00\x1a" "rtmp://127.0.0.1:1935/live"
    "\x00\x04" "fpad" "\x01\x00"
    "\x00\x0c" "capabilities" "\x00\x40\x2e\x00\x00\x00\x00\x00\x00"  /* 15.0 */
    "\x00\x0b" "audioCodecs" "\x00\x40\xaf\xce\x00\x00\x00\x00\x00"   /* 4071.0 */
    "\x00\x0b" "videoCodecs" "\x00\x40\x6f\x80\x00\x00\x00\x00\x00"   /* 252.0 */
    "\x00\x0d" "videoFunction" "\x00\x3f\xf0\x00\x00\x00\x00\x00\x00" /* 1.0 */
    "\x00\x00\x09";
/* Offset of the command object inside connect_cmd: after the name (10) and the number (9). */
#define CONNECT_OBJ_OFFSET 19u

static bool values_equal(const struct ezr_amf0_value *a, const struct ezr_amf0_value *b)
{
    if (a->type != b->type)
        return false;
    switch (a->type) {
    case EZR_AMF0_NUMBER:
        return memcmp(&a->u.number, &b->u.number, sizeof a->u.number) == 0;
    case EZR_AMF0_BOOLEAN:
        return a->u.boolean == b->u.boolean;
    case EZR_AMF0_STRING:
    case EZR_AMF0_LONG_STRING:
        return a->u.str.len == b->u.str.len &&
               memcmp(a->u.str.ptr, b->u.str.ptr, a->u.str.len) == 0 &&
               b->u.str.ptr[b->u.str.len] == '\0';
    case EZR_AMF0_OBJECT:
    case EZR_AMF0_ECMA_ARRAY:
        if (a->u.obj.count != b->u.obj.count)
            return false;
        for (size_t i = 0; i < a->u.obj.count; i++) {
            const struct ezr_amf0_prop *pa = &a->u.obj.props[i], *pb = &b->u.obj.props[i];
            if (pa->key_len != pb->key_len || memcmp(pa->key, pb->key, pa->key_len) != 0 ||
                !values_equal(&pa->value, &pb->value))
                return false;
        }
        return true;
    case EZR_AMF0_STRICT_ARRAY:
        if (a->u.arr.count != b->u.arr.count)
            return false;
        for (size_t i = 0; i < a->u.arr.count; i++)
            if (!values_equal(&a->u.arr.items[i], &b->u.arr.items[i]))
                return false;
        return true;
    default:
        return true;
    }
}

/* Decodes from an exact-size heap copy so that ASan reports any read past `len`. */
static int decode_exact(const uint8_t *p, size_t len, struct ezr_amf0_value *out)
{
    uint8_t *copy = malloc(len ? len : 1);
    if (len)
        memcpy(copy, p, len);
    int rc = ezr_amf0_decode(copy, len, out);
    free(copy);
    return rc;
}

/* One of every type, nested: object {n, t, f, s, ls, nu, u, o:{x}, e:ecma{k}, a:[1,"a",null],
 * empty:{}}. */
static void put_kitchen_sink(struct ezr_buf *b)
{
    ezr_amf0_put_object_begin(b);
    ezr_amf0_put_key(b, "n");
    ezr_amf0_put_number(b, -2.5);
    ezr_amf0_put_key(b, "t");
    ezr_amf0_put_bool(b, true);
    ezr_amf0_put_key(b, "f");
    ezr_amf0_put_bool(b, false);
    ezr_amf0_put_key(b, "s");
    ezr_amf0_put_cstring(b, "str");
    ezr_amf0_put_key(b, "ls");
    ezr_buf_append(b, "\x0c\x00\x00\x00\x04" "long", 9);
    ezr_amf0_put_key(b, "nu");
    ezr_amf0_put_null(b);
    ezr_amf0_put_key(b, "u");
    ezr_amf0_put_undefined(b);
    ezr_amf0_put_key(b, "o");
    ezr_amf0_put_object_begin(b);
    ezr_amf0_put_key(b, "x");
    ezr_amf0_put_number(b, 2.0);
    ezr_amf0_put_object_end(b);
    ezr_amf0_put_key(b, "e");
    ezr_amf0_put_ecma_begin(b, 1);
    ezr_amf0_put_key(b, "k");
    ezr_amf0_put_cstring(b, "v");
    ezr_amf0_put_object_end(b);
    ezr_amf0_put_key(b, "a");
    ezr_amf0_put_strict_array_begin(b, 3);
    ezr_amf0_put_number(b, 1.0);
    ezr_amf0_put_cstring(b, "a");
    ezr_amf0_put_null(b);
    ezr_amf0_put_key(b, "empty");
    ezr_amf0_put_object_begin(b);
    ezr_amf0_put_object_end(b);
    ezr_amf0_put_object_end(b);
}

EZR_TEST(test_number_one_encodes_to_exact_bytes)
{
    struct ezr_buf b;
    ezr_buf_init(&b);
    ezr_amf0_put_number(&b, 1.0);
    EZR_CHECK(!ezr_buf_failed(&b));
    EZR_CHECK_EQ(b.len, 9);
    EZR_CHECK_MEM(b.data, "\x00\x3f\xf0\x00\x00\x00\x00\x00\x00", 9);
    struct ezr_amf0_value v;
    int rc = ezr_amf0_decode(b.data, b.len, &v);
    ezr_buf_free(&b);
    EZR_CHECK_EQ(rc, 9);
    EZR_CHECK_EQ(v.type, EZR_AMF0_NUMBER);
    EZR_CHECK(v.u.number == 1.0);
}

EZR_TEST(test_negative_number_round_trips)
{
    struct ezr_amf0_value v;
    EZR_CHECK_EQ(ezr_amf0_decode(BYTES("\x00\xc0\x04\x00\x00\x00\x00\x00\x00"), &v), 9);
    EZR_CHECK_EQ(v.type, EZR_AMF0_NUMBER);
    EZR_CHECK(v.u.number == -2.5);
}

EZR_TEST(test_bool_encodes_marker_and_byte)
{
    struct ezr_buf b;
    ezr_buf_init(&b);
    ezr_amf0_put_bool(&b, true);
    ezr_amf0_put_bool(&b, false);
    EZR_CHECK_EQ(b.len, 4);
    EZR_CHECK_MEM(b.data, "\x01\x01\x01\x00", 4);
    struct ezr_amf0_value v1, v2;
    int rc1 = ezr_amf0_decode(b.data, b.len, &v1);
    int rc2 = ezr_amf0_decode(b.data + 2, b.len - 2, &v2);
    ezr_buf_free(&b);
    EZR_CHECK_EQ(rc1, 2);
    EZR_CHECK_EQ(rc2, 2);
    EZR_CHECK_EQ(v1.type, EZR_AMF0_BOOLEAN);
    EZR_CHECK(v1.u.boolean);
    EZR_CHECK_EQ(v2.type, EZR_AMF0_BOOLEAN);
    EZR_CHECK(!v2.u.boolean);
}

EZR_TEST(test_bool_nonzero_byte_decodes_true)
{
    struct ezr_amf0_value v;
    EZR_CHECK_EQ(ezr_amf0_decode(BYTES("\x01\x7f"), &v), 2);
    EZR_CHECK(v.u.boolean);
}

EZR_TEST(test_string_encodes_u16_length_and_bytes)
{
    struct ezr_buf b;
    ezr_buf_init(&b);
    ezr_amf0_put_cstring(&b, "app");
    EZR_CHECK_EQ(b.len, 6);
    EZR_CHECK_MEM(b.data, "\x02\x00\x03" "app", 6);
    struct ezr_amf0_value v;
    int rc = ezr_amf0_decode(b.data, b.len, &v);
    ezr_buf_free(&b);
    EZR_CHECK_EQ(rc, 6);
    EZR_CHECK_EQ(v.type, EZR_AMF0_STRING);
    EZR_CHECK_EQ(v.u.str.len, 3);
    EZR_CHECK(strcmp(ezr_amf0_as_string(&v), "app") == 0);
    ezr_amf0_value_clear(&v);
    EZR_CHECK_EQ(v.type, EZR_AMF0_NULL);
}

EZR_TEST(test_empty_string_round_trips)
{
    struct ezr_amf0_value v;
    EZR_CHECK_EQ(ezr_amf0_decode(BYTES("\x02\x00\x00"), &v), 3);
    EZR_CHECK_EQ(v.type, EZR_AMF0_STRING);
    EZR_CHECK_EQ(v.u.str.len, 0);
    EZR_CHECK(strcmp(ezr_amf0_as_string(&v), "") == 0);
    ezr_amf0_value_clear(&v);
}

EZR_TEST(test_string_with_nul_keeps_length_and_terminator)
{
    struct ezr_amf0_value v;
    EZR_CHECK_EQ(ezr_amf0_decode(BYTES("\x02\x00\x03" "a\x00" "b"), &v), 6);
    EZR_CHECK_EQ(v.u.str.len, 3);
    EZR_CHECK_MEM(v.u.str.ptr, "a\0b\0", 4);
    struct ezr_buf b;
    ezr_buf_init(&b);
    ezr_amf0_put_value(&b, &v);
    ezr_amf0_value_clear(&v);
    EZR_CHECK_EQ(b.len, 6);
    EZR_CHECK_MEM(b.data, "\x02\x00\x03" "a\x00" "b", 6);
    ezr_buf_free(&b);
}

EZR_TEST(test_string_of_65535_bytes_stays_short)
{
    char *s = malloc(65535);
    memset(s, 'x', 65535);
    struct ezr_buf b;
    ezr_buf_init(&b);
    ezr_amf0_put_string(&b, s, 65535);
    free(s);
    EZR_CHECK_EQ(b.len, 3 + 65535);
    EZR_CHECK_MEM(b.data, "\x02\xff\xff", 3);
    ezr_buf_free(&b);
}

EZR_TEST(test_string_over_65535_bytes_becomes_long_string)
{
    char *s = malloc(65536);
    memset(s, 'x', 65536);
    struct ezr_buf b;
    ezr_buf_init(&b);
    ezr_amf0_put_string(&b, s, 65536);
    free(s);
    EZR_CHECK_EQ(b.len, 5 + 65536);
    EZR_CHECK_MEM(b.data, "\x0c\x00\x01\x00\x00", 5);
    struct ezr_amf0_value v;
    int rc = ezr_amf0_decode(b.data, b.len, &v);
    ezr_buf_free(&b);
    EZR_CHECK_EQ(rc, 5 + 65536);
    EZR_CHECK_EQ(v.type, EZR_AMF0_LONG_STRING);
    EZR_CHECK_EQ(v.u.str.len, 65536);
    EZR_CHECK(ezr_amf0_as_string(&v) != NULL);
    EZR_CHECK_EQ(v.u.str.ptr[65535], 'x');
    EZR_CHECK_EQ(v.u.str.ptr[65536], '\0');
    ezr_amf0_value_clear(&v);
}

EZR_TEST(test_short_long_string_keeps_its_type_through_put_value)
{
    struct ezr_amf0_value v;
    EZR_CHECK_EQ(ezr_amf0_decode(BYTES("\x0c\x00\x00\x00\x02" "hi"), &v), 7);
    EZR_CHECK_EQ(v.type, EZR_AMF0_LONG_STRING);
    EZR_CHECK(strcmp(ezr_amf0_as_string(&v), "hi") == 0);
    struct ezr_buf b;
    ezr_buf_init(&b);
    ezr_amf0_put_value(&b, &v);
    ezr_amf0_value_clear(&v);
    EZR_CHECK_EQ(b.len, 7);
    EZR_CHECK_MEM(b.data, "\x0c\x00\x00\x00\x02" "hi", 7);
    ezr_buf_free(&b);
}

EZR_TEST(test_null_and_undefined_are_one_byte)
{
    struct ezr_buf b;
    ezr_buf_init(&b);
    ezr_amf0_put_null(&b);
    ezr_amf0_put_undefined(&b);
    EZR_CHECK_EQ(b.len, 2);
    EZR_CHECK_MEM(b.data, "\x05\x06", 2);
    struct ezr_amf0_value v1, v2;
    int rc1 = ezr_amf0_decode(b.data, b.len, &v1);
    int rc2 = ezr_amf0_decode(b.data + 1, 1, &v2);
    ezr_buf_free(&b);
    EZR_CHECK_EQ(rc1, 1); /* one value only, even with more bytes after it */
    EZR_CHECK_EQ(v1.type, EZR_AMF0_NULL);
    EZR_CHECK_EQ(rc2, 1);
    EZR_CHECK_EQ(v2.type, EZR_AMF0_UNDEFINED);
}

EZR_TEST(test_object_encodes_exact_bytes)
{
    static const char want[] = "\x03"
                               "\x00\x03" "app" "\x02\x00\x04" "live"
                               "\x00\x04" "fpad" "\x01\x00"
                               "\x00\x00\x09";
    struct ezr_buf b;
    ezr_buf_init(&b);
    ezr_amf0_put_object_begin(&b);
    ezr_amf0_put_key(&b, "app");
    ezr_amf0_put_cstring(&b, "live");
    ezr_amf0_put_key(&b, "fpad");
    ezr_amf0_put_bool(&b, false);
    ezr_amf0_put_object_end(&b);
    EZR_CHECK(!ezr_buf_failed(&b));
    EZR_CHECK_EQ(b.len, sizeof want - 1);
    EZR_CHECK_MEM(b.data, want, sizeof want - 1);
    struct ezr_amf0_value v;
    int rc = ezr_amf0_decode(b.data, b.len, &v);
    ezr_buf_free(&b);
    EZR_CHECK_EQ(rc, (int)(sizeof want - 1));
    EZR_CHECK_EQ(v.type, EZR_AMF0_OBJECT);
    EZR_CHECK_EQ(v.u.obj.count, 2);
    EZR_CHECK_EQ(v.u.obj.props[0].key_len, 3);
    EZR_CHECK(strcmp(v.u.obj.props[0].key, "app") == 0);
    EZR_CHECK(strcmp(ezr_amf0_as_string(&v.u.obj.props[0].value), "live") == 0);
    EZR_CHECK(strcmp(v.u.obj.props[1].key, "fpad") == 0);
    EZR_CHECK_EQ(v.u.obj.props[1].value.type, EZR_AMF0_BOOLEAN);
    ezr_amf0_value_clear(&v);
}

EZR_TEST(test_empty_object_is_marker_and_end)
{
    struct ezr_amf0_value v;
    EZR_CHECK_EQ(ezr_amf0_decode(BYTES("\x03\x00\x00\x09"), &v), 4);
    EZR_CHECK_EQ(v.type, EZR_AMF0_OBJECT);
    EZR_CHECK_EQ(v.u.obj.count, 0);
    ezr_amf0_value_clear(&v);
}

EZR_TEST(test_object_property_with_empty_key_is_kept)
{
    /* Only an empty key followed by 0x09 ends an object; an empty key before a value is a
     * property (ffmpeg and librtmp read it the same way). */
    struct ezr_amf0_value v;
    EZR_CHECK_EQ(ezr_amf0_decode(BYTES("\x03\x00\x00\x05\x00\x00\x09"), &v), 7);
    EZR_CHECK_EQ(v.u.obj.count, 1);
    EZR_CHECK_EQ(v.u.obj.props[0].key_len, 0);
    EZR_CHECK_EQ(v.u.obj.props[0].value.type, EZR_AMF0_NULL);
    EZR_CHECK(ezr_amf0_get(&v, "") == &v.u.obj.props[0].value);
    ezr_amf0_value_clear(&v);
}

EZR_TEST(test_ecma_array_encodes_count_then_pairs)
{
    static const char want[] = "\x08\x00\x00\x00\x02"
                               "\x00\x08" "duration" "\x00\x00\x00\x00\x00\x00\x00\x00\x00"
                               "\x00\x05" "width" "\x00\x40\x6f\x80\x00\x00\x00\x00\x00"
                               "\x00\x00\x09";
    struct ezr_buf b;
    ezr_buf_init(&b);
    ezr_amf0_put_ecma_begin(&b, 2);
    ezr_amf0_put_key(&b, "duration");
    ezr_amf0_put_number(&b, 0.0);
    ezr_amf0_put_key(&b, "width");
    ezr_amf0_put_number(&b, 252.0);
    ezr_amf0_put_object_end(&b);
    EZR_CHECK_EQ(b.len, sizeof want - 1);
    EZR_CHECK_MEM(b.data, want, sizeof want - 1);
    struct ezr_amf0_value v;
    int rc = ezr_amf0_decode(b.data, b.len, &v);
    ezr_buf_free(&b);
    EZR_CHECK_EQ(rc, (int)(sizeof want - 1));
    EZR_CHECK_EQ(v.type, EZR_AMF0_ECMA_ARRAY);
    EZR_CHECK_EQ(v.u.obj.count, 2);
    const struct ezr_amf0_value *w = ezr_amf0_get(&v, "width");
    EZR_CHECK(w != NULL);
    EZR_CHECK(w->u.number == 252.0);
    ezr_amf0_value_clear(&v);
}

EZR_TEST(test_ecma_array_count_hint_too_large_is_ignored)
{
    struct ezr_amf0_value v;
    EZR_CHECK_EQ(ezr_amf0_decode(BYTES("\x08\xff\xff\xff\xff"
                                       "\x00\x01" "a" "\x05"
                                       "\x00\x00\x09"),
                                 &v),
                 12);
    EZR_CHECK_EQ(v.type, EZR_AMF0_ECMA_ARRAY);
    EZR_CHECK_EQ(v.u.obj.count, 1);
    ezr_amf0_value_clear(&v);
}

EZR_TEST(test_ecma_array_count_hint_too_small_is_ignored)
{
    struct ezr_amf0_value v;
    EZR_CHECK_EQ(ezr_amf0_decode(BYTES("\x08\x00\x00\x00\x00"
                                       "\x00\x01" "a" "\x05"
                                       "\x00\x01" "b" "\x06"
                                       "\x00\x01" "c" "\x01\x01"
                                       "\x00\x00\x09"),
                                 &v),
                 21);
    EZR_CHECK_EQ(v.u.obj.count, 3);
    EZR_CHECK_EQ(ezr_amf0_get(&v, "c")->type, EZR_AMF0_BOOLEAN);
    ezr_amf0_value_clear(&v);
}

EZR_TEST(test_strict_array_encodes_count_then_items)
{
    static const char want[] = "\x0a\x00\x00\x00\x03"
                               "\x00\x3f\xf0\x00\x00\x00\x00\x00\x00"
                               "\x02\x00\x01" "a"
                               "\x05";
    struct ezr_buf b;
    ezr_buf_init(&b);
    ezr_amf0_put_strict_array_begin(&b, 3);
    ezr_amf0_put_number(&b, 1.0);
    ezr_amf0_put_cstring(&b, "a");
    ezr_amf0_put_null(&b);
    EZR_CHECK_EQ(b.len, sizeof want - 1);
    EZR_CHECK_MEM(b.data, want, sizeof want - 1);
    struct ezr_amf0_value v;
    int rc = ezr_amf0_decode(b.data, b.len, &v);
    ezr_buf_free(&b);
    EZR_CHECK_EQ(rc, (int)(sizeof want - 1));
    EZR_CHECK_EQ(v.type, EZR_AMF0_STRICT_ARRAY);
    EZR_CHECK_EQ(v.u.arr.count, 3);
    EZR_CHECK(v.u.arr.items[0].u.number == 1.0);
    EZR_CHECK(strcmp(ezr_amf0_as_string(&v.u.arr.items[1]), "a") == 0);
    EZR_CHECK_EQ(v.u.arr.items[2].type, EZR_AMF0_NULL);
    ezr_amf0_value_clear(&v);
}

EZR_TEST(test_empty_strict_array_round_trips)
{
    struct ezr_amf0_value v;
    EZR_CHECK_EQ(ezr_amf0_decode(BYTES("\x0a\x00\x00\x00\x00"), &v), 5);
    EZR_CHECK_EQ(v.type, EZR_AMF0_STRICT_ARRAY);
    EZR_CHECK_EQ(v.u.arr.count, 0);
    struct ezr_buf b;
    ezr_buf_init(&b);
    ezr_amf0_put_value(&b, &v);
    ezr_amf0_value_clear(&v);
    EZR_CHECK_EQ(b.len, 5);
    EZR_CHECK_MEM(b.data, "\x0a\x00\x00\x00\x00", 5);
    ezr_buf_free(&b);
}

EZR_TEST(test_put_value_reproduces_every_type_byte_for_byte)
{
    struct ezr_buf in, out;
    ezr_buf_init(&in);
    ezr_buf_init(&out);
    put_kitchen_sink(&in);
    EZR_CHECK(!ezr_buf_failed(&in));
    struct ezr_amf0_value v, again;
    int rc = ezr_amf0_decode(in.data, in.len, &v);
    EZR_CHECK_EQ(rc, (int)in.len);
    EZR_CHECK_EQ(v.u.obj.count, 11);
    ezr_amf0_put_value(&out, &v);
    EZR_CHECK(!ezr_buf_failed(&out));
    EZR_CHECK_EQ(out.len, in.len);
    EZR_CHECK_MEM(out.data, in.data, in.len);
    rc = ezr_amf0_decode(out.data, out.len, &again);
    bool same = rc == (int)out.len && values_equal(&v, &again);
    ezr_amf0_value_clear(&v);
    ezr_amf0_value_clear(&again);
    ezr_buf_free(&in);
    ezr_buf_free(&out);
    EZR_CHECK(same);
}

EZR_TEST(test_put_value_of_built_tree_decodes_to_equal_tree)
{
    /* A tree built by hand, not by the decoder: ECMA array {"w": 1280, "k\0x": ["s", true]}. */
    struct ezr_amf0_value items[2];
    items[0].type = EZR_AMF0_STRING;
    items[0].u.str.ptr = (char *)"s";
    items[0].u.str.len = 1;
    items[1].type = EZR_AMF0_BOOLEAN;
    items[1].u.boolean = true;
    struct ezr_amf0_prop props[2];
    props[0].key = (char *)"w";
    props[0].key_len = 1;
    props[0].value.type = EZR_AMF0_NUMBER;
    props[0].value.u.number = 1280;
    props[1].key = (char *)"k\0x";
    props[1].key_len = 3;
    props[1].value.type = EZR_AMF0_STRICT_ARRAY;
    props[1].value.u.arr.items = items;
    props[1].value.u.arr.count = 2;
    struct ezr_amf0_value root;
    root.type = EZR_AMF0_ECMA_ARRAY;
    root.u.obj.props = props;
    root.u.obj.count = 2;

    struct ezr_buf b;
    ezr_buf_init(&b);
    ezr_amf0_put_value(&b, &root);
    EZR_CHECK(!ezr_buf_failed(&b));
    EZR_CHECK_MEM(b.data, "\x08\x00\x00\x00\x02", 5); /* the exact count, not a guess */
    struct ezr_amf0_value got;
    int rc = ezr_amf0_decode(b.data, b.len, &got);
    EZR_CHECK_EQ(rc, (int)b.len);
    ezr_buf_free(&b);
    bool same = values_equal(&root, &got);
    ezr_amf0_value_clear(&got);
    EZR_CHECK(same);
}

EZR_TEST(test_ffmpeg_connect_command_decodes)
{
    const uint8_t *p = (const uint8_t *)connect_cmd;
    size_t len = sizeof connect_cmd - 1;
    struct ezr_amf0_value name, txid, obj;

    int rc = ezr_amf0_decode(p, len, &name);
    EZR_CHECK_EQ(rc, 10);
    EZR_CHECK(strcmp(ezr_amf0_as_string(&name), "connect") == 0);
    ezr_amf0_value_clear(&name);

    rc = ezr_amf0_decode(p + 10, len - 10, &txid);
    EZR_CHECK_EQ(rc, 9);
    EZR_CHECK_EQ(txid.type, EZR_AMF0_NUMBER);
    EZR_CHECK(txid.u.number == 1.0);

    rc = ezr_amf0_decode(p + CONNECT_OBJ_OFFSET, len - CONNECT_OBJ_OFFSET, &obj);
    EZR_CHECK_EQ(rc, (int)(len - CONNECT_OBJ_OFFSET));
    EZR_CHECK_EQ(obj.type, EZR_AMF0_OBJECT);
    EZR_CHECK_EQ(obj.u.obj.count, 8);
    const struct ezr_amf0_value *app = ezr_amf0_get(&obj, "app");
    const struct ezr_amf0_value *flashver = ezr_amf0_get(&obj, "flashVer");
    const struct ezr_amf0_value *tcurl = ezr_amf0_get(&obj, "tcUrl");
    const struct ezr_amf0_value *fpad = ezr_amf0_get(&obj, "fpad");
    const struct ezr_amf0_value *caps = ezr_amf0_get(&obj, "capabilities");
    const struct ezr_amf0_value *acodecs = ezr_amf0_get(&obj, "audioCodecs");
    const struct ezr_amf0_value *vcodecs = ezr_amf0_get(&obj, "videoCodecs");
    const struct ezr_amf0_value *vfunc = ezr_amf0_get(&obj, "videoFunction");
    bool ok = app && flashver && tcurl && fpad && caps && acodecs && vcodecs && vfunc;
    if (ok) {
        ok = strcmp(ezr_amf0_as_string(app), "live") == 0 &&
             strcmp(ezr_amf0_as_string(flashver), "LNX 9,0,124,2") == 0 &&
             strcmp(ezr_amf0_as_string(tcurl), "rtmp://127.0.0.1:1935/live") == 0 &&
             fpad->type == EZR_AMF0_BOOLEAN && !fpad->u.boolean && caps->u.number == 15.0 &&
             acodecs->u.number == 4071.0 && vcodecs->u.number == 252.0 &&
             vfunc->u.number == 1.0;
    }
    ezr_amf0_value_clear(&obj);
    EZR_CHECK(ok);
}

EZR_TEST(test_get_returns_null_for_absent_key_and_non_objects)
{
    struct ezr_amf0_value obj, num;
    const uint8_t *p = (const uint8_t *)connect_cmd + CONNECT_OBJ_OFFSET;
    EZR_CHECK(ezr_amf0_decode(p, sizeof connect_cmd - 1 - CONNECT_OBJ_OFFSET, &obj) > 0);
    bool absent = ezr_amf0_get(&obj, "swfUrl") == NULL && ezr_amf0_get(&obj, "ap") == NULL &&
                  ezr_amf0_get(&obj, "appx") == NULL && ezr_amf0_get(&obj, "App") == NULL;
    bool not_string = ezr_amf0_as_string(ezr_amf0_get(&obj, "fpad")) == NULL &&
                      ezr_amf0_as_string(&obj) == NULL && ezr_amf0_as_string(NULL) == NULL;
    ezr_amf0_value_clear(&obj);
    EZR_CHECK(absent);
    EZR_CHECK(not_string);
    EZR_CHECK_EQ(ezr_amf0_decode(BYTES("\x00\x3f\xf0\x00\x00\x00\x00\x00\x00"), &num), 9);
    EZR_CHECK(ezr_amf0_get(&num, "app") == NULL);
    EZR_CHECK(ezr_amf0_get(NULL, "app") == NULL);
}

EZR_TEST(test_get_returns_first_of_duplicate_keys)
{
    struct ezr_amf0_value v;
    EZR_CHECK_EQ(ezr_amf0_decode(BYTES("\x03"
                                       "\x00\x01" "a" "\x01\x01"
                                       "\x00\x01" "a" "\x01\x00"
                                       "\x00\x00\x09"),
                                 &v),
                 14);
    const struct ezr_amf0_value *a = ezr_amf0_get(&v, "a");
    bool first = a == &v.u.obj.props[0].value && a->u.boolean;
    ezr_amf0_value_clear(&v);
    EZR_CHECK(first);
}

/* Every proper prefix of a valid encoding is an error with *out cleared, never a crash or a read
 * past the prefix (decode_exact puts the prefix in an exact-size allocation for ASan). */
static bool every_prefix_fails(const uint8_t *p, size_t len)
{
    for (size_t cut = 0; cut < len; cut++) {
        struct ezr_amf0_value v;
        int rc = decode_exact(p, cut, &v);
        if (rc != EZR_EPROTO || v.type != EZR_AMF0_NULL) {
            printf("# prefix of %zu bytes: rc %d type %d\n", cut, rc, (int)v.type);
            ezr_amf0_value_clear(&v);
            return false;
        }
    }
    struct ezr_amf0_value v;
    int rc = decode_exact(p, len, &v);
    ezr_amf0_value_clear(&v);
    return rc == (int)len;
}

EZR_TEST(test_kitchen_sink_truncated_at_every_offset_fails)
{
    struct ezr_buf b;
    ezr_buf_init(&b);
    put_kitchen_sink(&b);
    bool ok = every_prefix_fails(b.data, b.len);
    ezr_buf_free(&b);
    EZR_CHECK(ok);
}

EZR_TEST(test_connect_object_truncated_at_every_offset_fails)
{
    EZR_CHECK(every_prefix_fails((const uint8_t *)connect_cmd + CONNECT_OBJ_OFFSET,
                                 sizeof connect_cmd - 1 - CONNECT_OBJ_OFFSET));
}

EZR_TEST(test_ecma_array_truncated_at_every_offset_fails)
{
    EZR_CHECK(every_prefix_fails(BYTES("\x08\x00\x00\x00\x01"
                                       "\x00\x01" "k" "\x02\x00\x01" "v"
                                       "\x00\x00\x09")));
}

EZR_TEST(test_strict_array_truncated_at_every_offset_fails)
{
    EZR_CHECK(every_prefix_fails(BYTES("\x0a\x00\x00\x00\x02"
                                       "\x01\x01"
                                       "\x0a\x00\x00\x00\x01\x05")));
}

/* `levels` copies of `open`, then `inner`, then `levels` copies of `close`. */
static uint8_t *nested(const char *open, size_t open_len, const char *close, size_t close_len,
                       size_t levels, size_t *len)
{
    *len = levels * (open_len + close_len) + 1;
    uint8_t *p = malloc(*len), *w = p;
    for (size_t i = 0; i < levels; i++, w += open_len)
        memcpy(w, open, open_len);
    *w++ = EZR_AMF0_NULL;
    for (size_t i = 0; i < levels; i++, w += close_len)
        memcpy(w, close, close_len);
    return p;
}

EZR_TEST(test_objects_nested_to_max_depth_decode)
{
    size_t len;
    uint8_t *p = nested("\x03\x00\x01" "a", 4, "\x00\x00\x09", 3, EZR_AMF0_MAX_DEPTH, &len);
    struct ezr_amf0_value v;
    int rc = decode_exact(p, len, &v);
    struct ezr_buf b;
    ezr_buf_init(&b);
    ezr_amf0_put_value(&b, &v);
    bool same = !ezr_buf_failed(&b) && b.len == len && memcmp(b.data, p, len) == 0;
    ezr_buf_free(&b);
    ezr_amf0_value_clear(&v);
    free(p);
    EZR_CHECK_EQ(rc, (int)len);
    EZR_CHECK(same);
}

EZR_TEST(test_objects_nested_one_past_max_depth_hit_limit)
{
    size_t len;
    uint8_t *p = nested("\x03\x00\x01" "a", 4, "\x00\x00\x09", 3, EZR_AMF0_MAX_DEPTH + 1, &len);
    struct ezr_amf0_value v;
    int rc = decode_exact(p, len, &v);
    free(p);
    EZR_CHECK_EQ(rc, EZR_ELIMIT);
    EZR_CHECK_EQ(v.type, EZR_AMF0_NULL);
}

EZR_TEST(test_objects_nested_10000_deep_hit_limit)
{
    size_t len;
    uint8_t *p = nested("\x03\x00\x01" "a", 4, "", 0, 10000, &len);
    struct ezr_amf0_value v;
    int rc = decode_exact(p, len, &v);
    free(p);
    EZR_CHECK_EQ(rc, EZR_ELIMIT);
    EZR_CHECK_EQ(v.type, EZR_AMF0_NULL);
}

EZR_TEST(test_ecma_arrays_nested_10000_deep_hit_limit)
{
    size_t len;
    uint8_t *p = nested("\x08\x00\x00\x00\x01\x00\x01" "a", 8, "", 0, 10000, &len);
    struct ezr_amf0_value v;
    int rc = decode_exact(p, len, &v);
    free(p);
    EZR_CHECK_EQ(rc, EZR_ELIMIT);
    EZR_CHECK_EQ(v.type, EZR_AMF0_NULL);
}

EZR_TEST(test_strict_arrays_nested_10000_deep_hit_limit)
{
    size_t len;
    uint8_t *p = nested("\x0a\x00\x00\x00\x01", 5, "", 0, 10000, &len);
    struct ezr_amf0_value v;
    int rc = decode_exact(p, len, &v);
    free(p);
    EZR_CHECK_EQ(rc, EZR_ELIMIT);
    EZR_CHECK_EQ(v.type, EZR_AMF0_NULL);
}

EZR_TEST(test_put_value_refuses_tree_deeper_than_max_depth)
{
    /* The encoder never writes what the decoder would refuse. */
    struct ezr_amf0_value objs[EZR_AMF0_MAX_DEPTH + 1];
    struct ezr_amf0_prop props[EZR_AMF0_MAX_DEPTH + 1];
    for (size_t i = 0; i <= EZR_AMF0_MAX_DEPTH; i++) {
        objs[i].type = EZR_AMF0_OBJECT;
        objs[i].u.obj.props = &props[i];
        objs[i].u.obj.count = 1;
        props[i].key = (char *)"a";
        props[i].key_len = 1;
    }
    props[EZR_AMF0_MAX_DEPTH].value.type = EZR_AMF0_NULL;
    /* Each object holds a copy of the next one, so fill them from the innermost out. */
    for (size_t i = EZR_AMF0_MAX_DEPTH; i-- > 0;)
        props[i].value = objs[i + 1];
    struct ezr_buf b;
    ezr_buf_init(&b);
    ezr_amf0_put_value(&b, &objs[1]); /* exactly the limit */
    bool fits = !ezr_buf_failed(&b);
    ezr_buf_reset(&b);
    ezr_amf0_put_value(&b, &objs[0]); /* one past it */
    bool refused = ezr_buf_failed(&b);
    ezr_buf_free(&b);
    EZR_CHECK(fits);
    EZR_CHECK(refused);
}

EZR_TEST(test_string_length_past_end_is_rejected)
{
    struct ezr_amf0_value v;
    EZR_CHECK_EQ(ezr_amf0_decode(BYTES("\x02\x00\x05" "abc"), &v), EZR_EPROTO);
    EZR_CHECK_EQ(v.type, EZR_AMF0_NULL);
    EZR_CHECK_EQ(ezr_amf0_decode(BYTES("\x02\xff\xff" "abc"), &v), EZR_EPROTO);
    EZR_CHECK_EQ(v.type, EZR_AMF0_NULL);
}

EZR_TEST(test_long_string_claiming_4gb_is_rejected)
{
    struct ezr_amf0_value v;
    EZR_CHECK_EQ(ezr_amf0_decode(BYTES("\x0c\xff\xff\xff\xff" "abc"), &v), EZR_EPROTO);
    EZR_CHECK_EQ(v.type, EZR_AMF0_NULL);
    EZR_CHECK_EQ(ezr_amf0_decode(BYTES("\x0c\x00\x00\x00\x04" "abc"), &v), EZR_EPROTO);
    EZR_CHECK_EQ(v.type, EZR_AMF0_NULL);
}

EZR_TEST(test_key_length_past_end_is_rejected)
{
    struct ezr_amf0_value v;
    EZR_CHECK_EQ(ezr_amf0_decode(BYTES("\x03\x00\x10" "ab"), &v), EZR_EPROTO);
    EZR_CHECK_EQ(v.type, EZR_AMF0_NULL);
}

EZR_TEST(test_strict_array_count_0xffffffff_is_rejected)
{
    struct ezr_amf0_value v;
    EZR_CHECK_EQ(ezr_amf0_decode(BYTES("\x0a\xff\xff\xff\xff\x05\x05"), &v), EZR_EPROTO);
    EZR_CHECK_EQ(v.type, EZR_AMF0_NULL);
}

EZR_TEST(test_strict_array_count_one_past_remaining_bytes_is_rejected)
{
    struct ezr_amf0_value v;
    EZR_CHECK_EQ(ezr_amf0_decode(BYTES("\x0a\x00\x00\x00\x03\x05\x05"), &v), EZR_EPROTO);
    EZR_CHECK_EQ(v.type, EZR_AMF0_NULL);
    EZR_CHECK_EQ(ezr_amf0_decode(BYTES("\x0a\x00\x00\x00\x02\x05\x05"), &v), 7);
    ezr_amf0_value_clear(&v);
}

EZR_TEST(test_unsupported_markers_are_rejected)
{
    /* movieclip, reference, date, unsupported, recordset, xml, typed object, AVM+, unassigned */
    static const uint8_t markers[] = {0x04, 0x07, 0x0b, 0x0d, 0x0e, 0x0f, 0x10, 0x11, 0x12, 0xff};
    for (size_t i = 0; i < sizeof markers; i++) {
        uint8_t msg[16] = {markers[i]}; /* followed by zeros, which would parse for many */
        struct ezr_amf0_value v;
        EZR_CHECK_EQ(ezr_amf0_decode(msg, sizeof msg, &v), EZR_EPROTO);
        EZR_CHECK_EQ(v.type, EZR_AMF0_NULL);
    }
}

EZR_TEST(test_unsupported_marker_inside_object_is_rejected)
{
    struct ezr_amf0_value v;
    EZR_CHECK_EQ(ezr_amf0_decode(BYTES("\x03"
                                       "\x00\x01" "a" "\x02\x00\x01" "x"
                                       "\x00\x01" "r" "\x07\x00\x00"
                                       "\x00\x00\x09"),
                                 &v),
                 EZR_EPROTO);
    EZR_CHECK_EQ(v.type, EZR_AMF0_NULL);
}

EZR_TEST(test_bare_object_end_is_rejected)
{
    struct ezr_amf0_value v;
    EZR_CHECK_EQ(ezr_amf0_decode(BYTES("\x09"), &v), EZR_EPROTO);
    EZR_CHECK_EQ(v.type, EZR_AMF0_NULL);
}

EZR_TEST(test_object_end_as_property_value_is_rejected)
{
    struct ezr_amf0_value v;
    EZR_CHECK_EQ(ezr_amf0_decode(BYTES("\x03\x00\x01" "a" "\x09"), &v), EZR_EPROTO);
    EZR_CHECK_EQ(v.type, EZR_AMF0_NULL);
}

EZR_TEST(test_object_end_as_strict_array_item_is_rejected)
{
    struct ezr_amf0_value v;
    EZR_CHECK_EQ(ezr_amf0_decode(BYTES("\x0a\x00\x00\x00\x01\x09"), &v), EZR_EPROTO);
    EZR_CHECK_EQ(v.type, EZR_AMF0_NULL);
}

EZR_TEST(test_empty_input_is_rejected)
{
    struct ezr_amf0_value v;
    static const uint8_t one = 0;
    EZR_CHECK_EQ(ezr_amf0_decode(&one, 0, &v), EZR_EPROTO);
    EZR_CHECK_EQ(v.type, EZR_AMF0_NULL);
    EZR_CHECK_EQ(ezr_amf0_decode(NULL, 0, &v), EZR_EPROTO);
    EZR_CHECK_EQ(v.type, EZR_AMF0_NULL);
}

EZR_TEST(test_error_after_many_properties_leaves_nothing_behind)
{
    /* 1000 properties (several array growths) and then a bad marker: ASan's leak check at exit
     * is the real assertion here. */
    struct ezr_buf b;
    ezr_buf_init(&b);
    ezr_amf0_put_object_begin(&b);
    for (int i = 0; i < 1000; i++) {
        ezr_amf0_put_key(&b, "key");
        ezr_amf0_put_cstring(&b, "value");
    }
    ezr_amf0_put_key(&b, "bad");
    ezr_buf_put_u8(&b, 0x0b);
    struct ezr_amf0_value v;
    int rc = ezr_amf0_decode(b.data, b.len, &v);
    ezr_buf_free(&b);
    EZR_CHECK_EQ(rc, EZR_EPROTO);
    EZR_CHECK_EQ(v.type, EZR_AMF0_NULL);
}

EZR_TEST(test_put_key_longer_than_65535_sets_failed)
{
    char *key = malloc(65537);
    memset(key, 'k', 65536);
    key[65536] = '\0';
    struct ezr_buf b;
    ezr_buf_init(&b);
    ezr_amf0_put_key(&b, key);
    free(key);
    bool failed = ezr_buf_failed(&b);
    ezr_buf_free(&b);
    EZR_CHECK(failed);
}

EZR_TEST(test_put_value_of_object_end_sets_failed)
{
    struct ezr_amf0_value v;
    memset(&v, 0, sizeof v);
    v.type = EZR_AMF0_OBJECT_END;
    struct ezr_buf b;
    ezr_buf_init(&b);
    ezr_amf0_put_value(&b, &v);
    bool failed = ezr_buf_failed(&b);
    ezr_buf_free(&b);
    EZR_CHECK(failed);
}

EZR_TEST_MAIN(EZR_CASE(test_number_one_encodes_to_exact_bytes),
              EZR_CASE(test_negative_number_round_trips),
              EZR_CASE(test_bool_encodes_marker_and_byte),
              EZR_CASE(test_bool_nonzero_byte_decodes_true),
              EZR_CASE(test_string_encodes_u16_length_and_bytes),
              EZR_CASE(test_empty_string_round_trips),
              EZR_CASE(test_string_with_nul_keeps_length_and_terminator),
              EZR_CASE(test_string_of_65535_bytes_stays_short),
              EZR_CASE(test_string_over_65535_bytes_becomes_long_string),
              EZR_CASE(test_short_long_string_keeps_its_type_through_put_value),
              EZR_CASE(test_null_and_undefined_are_one_byte),
              EZR_CASE(test_object_encodes_exact_bytes),
              EZR_CASE(test_empty_object_is_marker_and_end),
              EZR_CASE(test_object_property_with_empty_key_is_kept),
              EZR_CASE(test_ecma_array_encodes_count_then_pairs),
              EZR_CASE(test_ecma_array_count_hint_too_large_is_ignored),
              EZR_CASE(test_ecma_array_count_hint_too_small_is_ignored),
              EZR_CASE(test_strict_array_encodes_count_then_items),
              EZR_CASE(test_empty_strict_array_round_trips),
              EZR_CASE(test_put_value_reproduces_every_type_byte_for_byte),
              EZR_CASE(test_put_value_of_built_tree_decodes_to_equal_tree),
              EZR_CASE(test_ffmpeg_connect_command_decodes),
              EZR_CASE(test_get_returns_null_for_absent_key_and_non_objects),
              EZR_CASE(test_get_returns_first_of_duplicate_keys),
              EZR_CASE(test_kitchen_sink_truncated_at_every_offset_fails),
              EZR_CASE(test_connect_object_truncated_at_every_offset_fails),
              EZR_CASE(test_ecma_array_truncated_at_every_offset_fails),
              EZR_CASE(test_strict_array_truncated_at_every_offset_fails),
              EZR_CASE(test_objects_nested_to_max_depth_decode),
              EZR_CASE(test_objects_nested_one_past_max_depth_hit_limit),
              EZR_CASE(test_objects_nested_10000_deep_hit_limit),
              EZR_CASE(test_ecma_arrays_nested_10000_deep_hit_limit),
              EZR_CASE(test_strict_arrays_nested_10000_deep_hit_limit),
              EZR_CASE(test_put_value_refuses_tree_deeper_than_max_depth),
              EZR_CASE(test_string_length_past_end_is_rejected),
              EZR_CASE(test_long_string_claiming_4gb_is_rejected),
              EZR_CASE(test_key_length_past_end_is_rejected),
              EZR_CASE(test_strict_array_count_0xffffffff_is_rejected),
              EZR_CASE(test_strict_array_count_one_past_remaining_bytes_is_rejected),
              EZR_CASE(test_unsupported_markers_are_rejected),
              EZR_CASE(test_unsupported_marker_inside_object_is_rejected),
              EZR_CASE(test_bare_object_end_is_rejected),
              EZR_CASE(test_object_end_as_property_value_is_rejected),
              EZR_CASE(test_object_end_as_strict_array_item_is_rejected),
              EZR_CASE(test_empty_input_is_rejected),
              EZR_CASE(test_error_after_many_properties_leaves_nothing_behind),
              EZR_CASE(test_put_key_longer_than_65535_sets_failed),
              EZR_CASE(test_put_value_of_object_end_sets_failed))
