/* Unit tests for the AMF0 codec (src/ezr_amf0.c): exact wire bytes of each type, round trips
 * through ezr_amf0_put_value, a connect command as ffmpeg sends it, and hostile input (truncation
 * at every offset, deep nesting, lying lengths and counts, unsupported markers). Most cases are
 * rows of a table per kind (encode, decode, reject, truncate, nest), each row its own TAP case. */
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
/* ---- table rows -------------------------------------------------------------------------- */

/* A byte string in a table row. */
struct bytes {
    const uint8_t *p;
    size_t len;
};
#define LIT(lit) {(const uint8_t *)(lit), sizeof(lit) - 1}

/* Expected values, written as static trees for values_equal(). */
#define V_NUM(x) {.type = EZR_AMF0_NUMBER, .u.number = (x)}
#define V_BOOL(x) {.type = EZR_AMF0_BOOLEAN, .u.boolean = (x)}
#define V_STR(s) {.type = EZR_AMF0_STRING, .u.str = {(char *)(s), sizeof(s) - 1}}
#define V_LSTR(s) {.type = EZR_AMF0_LONG_STRING, .u.str = {(char *)(s), sizeof(s) - 1}}
#define V_NULL {.type = EZR_AMF0_NULL}
#define V_UNDEF {.type = EZR_AMF0_UNDEFINED}
#define PROP(k, v) {(char *)(k), sizeof(k) - 1, v}
#define LIST_(type, ...) (type[]){__VA_ARGS__}, sizeof((type[]){__VA_ARGS__}) / sizeof(type)
#define V_OBJ(...) {.type = EZR_AMF0_OBJECT, .u.obj = {LIST_(struct ezr_amf0_prop, __VA_ARGS__)}}
#define V_ECMA(...)                                                                        \
    {.type = EZR_AMF0_ECMA_ARRAY, .u.obj = {LIST_(struct ezr_amf0_prop, __VA_ARGS__)}}
#define V_ARR(...)                                                                         \
    {.type = EZR_AMF0_STRICT_ARRAY, .u.arr = {LIST_(struct ezr_amf0_value, __VA_ARGS__)}}
#define V_OBJ0 {.type = EZR_AMF0_OBJECT}
#define V_ARR0 {.type = EZR_AMF0_STRICT_ARRAY}

/* ezr_amf0_get() finds every property of an object or ECMA array: the first of its key. */
static bool get_finds_every_key(const struct ezr_amf0_value *v)
{
    if (v->type != EZR_AMF0_OBJECT && v->type != EZR_AMF0_ECMA_ARRAY)
        return true;
    for (size_t i = 0; i < v->u.obj.count; i++) {
        size_t first = 0;
        while (strcmp(v->u.obj.props[first].key, v->u.obj.props[i].key) != 0)
            first++;
        if (ezr_amf0_get(v, v->u.obj.props[i].key) != &v->u.obj.props[first].value)
            return false;
    }
    return true;
}

/* ---- encoders: exact bytes, then decoded back value by value ----------------------------- */

struct encode_row {
    const char *name;
    void (*put)(struct ezr_buf *b);
    struct bytes want;
    /* The values the bytes decode to, one after the other, and the bytes each takes. */
    size_t nvalues;
    struct ezr_amf0_value values[2];
    int used[2];
};

static void put_number_one(struct ezr_buf *b)
{
    ezr_amf0_put_number(b, 1.0);
}

static void put_true_false(struct ezr_buf *b)
{
    ezr_amf0_put_bool(b, true);
    ezr_amf0_put_bool(b, false);
}

static void put_app(struct ezr_buf *b)
{
    ezr_amf0_put_cstring(b, "app");
}

static void put_null_undefined(struct ezr_buf *b)
{
    ezr_amf0_put_null(b);
    ezr_amf0_put_undefined(b);
}

static void put_object(struct ezr_buf *b)
{
    ezr_amf0_put_object_begin(b);
    ezr_amf0_put_key(b, "app");
    ezr_amf0_put_cstring(b, "live");
    ezr_amf0_put_key(b, "fpad");
    ezr_amf0_put_bool(b, false);
    ezr_amf0_put_object_end(b);
}

static void put_ecma(struct ezr_buf *b)
{
    ezr_amf0_put_ecma_begin(b, 2);
    ezr_amf0_put_key(b, "duration");
    ezr_amf0_put_number(b, 0.0);
    ezr_amf0_put_key(b, "width");
    ezr_amf0_put_number(b, 252.0);
    ezr_amf0_put_object_end(b);
}

static void put_strict_array(struct ezr_buf *b)
{
    ezr_amf0_put_strict_array_begin(b, 3);
    ezr_amf0_put_number(b, 1.0);
    ezr_amf0_put_cstring(b, "a");
    ezr_amf0_put_null(b);
}

static const struct encode_row encode_rows[] = {
    {"test_number_one_encodes_to_exact_bytes", put_number_one,
     LIT("\x00\x3f\xf0\x00\x00\x00\x00\x00\x00"), 1, {V_NUM(1.0)}, {9}},
    {"test_bool_encodes_marker_and_byte", put_true_false, LIT("\x01\x01\x01\x00"), 2,
     {V_BOOL(true), V_BOOL(false)}, {2, 2}},
    {"test_string_encodes_u16_length_and_bytes", put_app, LIT("\x02\x00\x03" "app"), 1,
     {V_STR("app")}, {6}},
    /* The null is one value only, even with more bytes after it. */
    {"test_null_and_undefined_are_one_byte", put_null_undefined, LIT("\x05\x06"), 2,
     {V_NULL, V_UNDEF}, {1, 1}},
    {"test_object_encodes_exact_bytes", put_object,
     LIT("\x03"
         "\x00\x03" "app" "\x02\x00\x04" "live"
         "\x00\x04" "fpad" "\x01\x00"
         "\x00\x00\x09"),
     1, {V_OBJ(PROP("app", V_STR("live")), PROP("fpad", V_BOOL(false)))}, {24}},
    {"test_ecma_array_encodes_count_then_pairs", put_ecma,
     LIT("\x08\x00\x00\x00\x02"
         "\x00\x08" "duration" "\x00\x00\x00\x00\x00\x00\x00\x00\x00"
         "\x00\x05" "width" "\x00\x40\x6f\x80\x00\x00\x00\x00\x00"
         "\x00\x00\x09"),
     1, {V_ECMA(PROP("duration", V_NUM(0.0)), PROP("width", V_NUM(252.0)))}, {43}},
    {"test_strict_array_encodes_count_then_items", put_strict_array,
     LIT("\x0a\x00\x00\x00\x03"
         "\x00\x3f\xf0\x00\x00\x00\x00\x00\x00"
         "\x02\x00\x01" "a"
         "\x05"),
     1, {V_ARR(V_NUM(1.0), V_STR("a"), V_NULL)}, {19}},
};

EZR_TEST_ROW(run_encode_row, struct encode_row)
{
    struct ezr_buf b;
    ezr_buf_init(&b);
    row->put(&b);
    bool failed = ezr_buf_failed(&b);
    size_t len = b.len;
    bool exact = len == row->want.len && memcmp(b.data, row->want.p, len) == 0;
    /* Each value from its offset to the end of the bytes, out of an exact-size copy. */
    size_t off = 0;
    int used[2] = {0};
    bool same[2] = {false}, cleared[2] = {false};
    for (size_t i = 0; exact && i < row->nvalues; i++) {
        struct ezr_amf0_value v;
        used[i] = decode_exact(b.data + off, len - off, &v);
        same[i] = used[i] > 0 && values_equal(&row->values[i], &v) && get_finds_every_key(&v);
        ezr_amf0_value_clear(&v);
        cleared[i] = v.type == EZR_AMF0_NULL;
        off += used[i] > 0 ? (size_t)used[i] : 0;
    }
    ezr_buf_free(&b);
    EZR_CHECK(!failed);
    EZR_CHECK_EQ(len, row->want.len);
    EZR_CHECK(exact);
    for (size_t i = 0; i < row->nvalues; i++) {
        EZR_CHECK_EQ(used[i], row->used[i]);
        EZR_CHECK(same[i]);
        EZR_CHECK(cleared[i]);
    }
}

/* ---- decoding: a value from bytes -------------------------------------------------------- */

struct decode_row {
    const char *name;
    struct bytes in;
    int used;
    struct ezr_amf0_value value;
    bool writes_back; /* ezr_amf0_put_value() writes the value back as exactly `in` */
};

static const struct decode_row decode_rows[] = {
    {"test_negative_number_round_trips", LIT("\x00\xc0\x04\x00\x00\x00\x00\x00\x00"), 9,
     V_NUM(-2.5), false},
    {"test_bool_nonzero_byte_decodes_true", LIT("\x01\x7f"), 2, V_BOOL(true), false},
    {"test_empty_string_round_trips", LIT("\x02\x00\x00"), 3, V_STR(""), false},
    /* The length counts the NUL, and a terminator follows it (values_equal checks it). */
    {"test_string_with_nul_keeps_length_and_terminator", LIT("\x02\x00\x03" "a\x00" "b"), 6,
     V_STR("a\0b"), true},
    {"test_short_long_string_keeps_its_type_through_put_value",
     LIT("\x0c\x00\x00\x00\x02" "hi"), 7, V_LSTR("hi"), true},
    {"test_empty_object_is_marker_and_end", LIT("\x03\x00\x00\x09"), 4, V_OBJ0, false},
    /* Only an empty key followed by 0x09 ends an object; an empty key before a value is a
     * property (ffmpeg and librtmp read it the same way). */
    {"test_object_property_with_empty_key_is_kept", LIT("\x03\x00\x00\x05\x00\x00\x09"), 7,
     V_OBJ(PROP("", V_NULL)), false},
    {"test_ecma_array_count_hint_too_large_is_ignored",
     LIT("\x08\xff\xff\xff\xff"
         "\x00\x01" "a" "\x05"
         "\x00\x00\x09"),
     12, V_ECMA(PROP("a", V_NULL)), false},
    {"test_ecma_array_count_hint_too_small_is_ignored",
     LIT("\x08\x00\x00\x00\x00"
         "\x00\x01" "a" "\x05"
         "\x00\x01" "b" "\x06"
         "\x00\x01" "c" "\x01\x01"
         "\x00\x00\x09"),
     21, V_ECMA(PROP("a", V_NULL), PROP("b", V_UNDEF), PROP("c", V_BOOL(true))), false},
    {"test_empty_strict_array_round_trips", LIT("\x0a\x00\x00\x00\x00"), 5, V_ARR0, true},
    /* The count that test_strict_array_count_one_past_remaining_bytes_is_rejected lies about. */
    {"test_strict_array_count_of_remaining_items_decodes", LIT("\x0a\x00\x00\x00\x02\x05\x05"),
     7, V_ARR(V_NULL, V_NULL), false},
    /* get_finds_every_key() checks that "a" finds the first. */
    {"test_get_returns_first_of_duplicate_keys",
     LIT("\x03"
         "\x00\x01" "a" "\x01\x01"
         "\x00\x01" "a" "\x01\x00"
         "\x00\x00\x09"),
     14, V_OBJ(PROP("a", V_BOOL(true)), PROP("a", V_BOOL(false))), false},
};

EZR_TEST_ROW(run_decode_row, struct decode_row)
{
    struct ezr_amf0_value v;
    int used = decode_exact(row->in.p, row->in.len, &v);
    bool same = used > 0 && values_equal(&row->value, &v) && get_finds_every_key(&v);
    struct ezr_buf b;
    ezr_buf_init(&b);
    if (used > 0 && row->writes_back)
        ezr_amf0_put_value(&b, &v);
    bool back = !row->writes_back || (!ezr_buf_failed(&b) && b.len == row->in.len &&
                                      memcmp(b.data, row->in.p, b.len) == 0);
    ezr_buf_free(&b);
    ezr_amf0_value_clear(&v);
    EZR_CHECK_EQ(used, row->used);
    EZR_CHECK(same);
    EZR_CHECK(back);
    EZR_CHECK_EQ(v.type, EZR_AMF0_NULL);
}

/* ---- strings at the 16-bit length's edge ------------------------------------------------- */

struct big_string_row {
    const char *name;
    size_t n;          /* that many 'x' through ezr_amf0_put_string() */
    struct bytes head; /* the marker and length written */
    bool decode;       /* and decoded back as a LONG_STRING */
};

static const struct big_string_row big_string_rows[] = {
    {"test_string_of_65535_bytes_stays_short", 65535, LIT("\x02\xff\xff"), false},
    {"test_string_over_65535_bytes_becomes_long_string", 65536, LIT("\x0c\x00\x01\x00\x00"),
     true},
};

EZR_TEST_ROW(run_big_string_row, struct big_string_row)
{
    char *s = malloc(row->n);
    memset(s, 'x', row->n);
    struct ezr_buf b;
    ezr_buf_init(&b);
    ezr_amf0_put_string(&b, s, row->n);
    free(s);
    size_t len = b.len;
    bool head = len >= row->head.len && memcmp(b.data, row->head.p, row->head.len) == 0;
    struct ezr_amf0_value v = {.type = EZR_AMF0_NULL};
    int used = row->decode ? ezr_amf0_decode(b.data, b.len, &v) : 0;
    ezr_buf_free(&b);
    bool decoded = !row->decode ||
                   (v.type == EZR_AMF0_LONG_STRING && v.u.str.len == row->n &&
                    ezr_amf0_as_string(&v) != NULL && v.u.str.ptr[row->n - 1] == 'x' &&
                    v.u.str.ptr[row->n] == '\0');
    ezr_amf0_value_clear(&v);
    EZR_CHECK_EQ(len, row->head.len + row->n);
    EZR_CHECK(head);
    EZR_CHECK_EQ(used, row->decode ? (int)(row->head.len + row->n) : 0);
    EZR_CHECK(decoded);
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

/* ---- hostile input: rejected, *out left cleared ------------------------------------------- */

struct reject_row {
    const char *name;
    int rc;
    size_t n;
    struct bytes in[10]; /* {NULL, 0}: a NULL pointer */
};

/* A marker followed by zeros, which would parse for many. */
#define MARKER(m) LIT(m "\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0")

static const struct reject_row reject_rows[] = {
    {"test_string_length_past_end_is_rejected", EZR_EPROTO, 2,
     {LIT("\x02\x00\x05" "abc"), LIT("\x02\xff\xff" "abc")}},
    {"test_long_string_claiming_4gb_is_rejected", EZR_EPROTO, 2,
     {LIT("\x0c\xff\xff\xff\xff" "abc"), LIT("\x0c\x00\x00\x00\x04" "abc")}},
    {"test_key_length_past_end_is_rejected", EZR_EPROTO, 1, {LIT("\x03\x00\x10" "ab")}},
    {"test_strict_array_count_0xffffffff_is_rejected", EZR_EPROTO, 1,
     {LIT("\x0a\xff\xff\xff\xff\x05\x05")}},
    {"test_strict_array_count_one_past_remaining_bytes_is_rejected", EZR_EPROTO, 1,
     {LIT("\x0a\x00\x00\x00\x03\x05\x05")}},
    /* movieclip, reference, date, unsupported, recordset, xml, typed object, AVM+, unassigned */
    {"test_unsupported_markers_are_rejected", EZR_EPROTO, 10,
     {MARKER("\x04"), MARKER("\x07"), MARKER("\x0b"), MARKER("\x0d"), MARKER("\x0e"),
      MARKER("\x0f"), MARKER("\x10"), MARKER("\x11"), MARKER("\x12"), MARKER("\xff")}},
    {"test_unsupported_marker_inside_object_is_rejected", EZR_EPROTO, 1,
     {LIT("\x03"
          "\x00\x01" "a" "\x02\x00\x01" "x"
          "\x00\x01" "r" "\x07\x00\x00"
          "\x00\x00\x09")}},
    {"test_bare_object_end_is_rejected", EZR_EPROTO, 1, {LIT("\x09")}},
    {"test_object_end_as_property_value_is_rejected", EZR_EPROTO, 1,
     {LIT("\x03\x00\x01" "a" "\x09")}},
    {"test_object_end_as_strict_array_item_is_rejected", EZR_EPROTO, 1,
     {LIT("\x0a\x00\x00\x00\x01\x09")}},
    {"test_empty_input_is_rejected", EZR_EPROTO, 2, {LIT(""), {NULL, 0}}},
};

EZR_TEST_ROW(run_reject_row, struct reject_row)
{
    for (size_t i = 0; i < row->n; i++) {
        struct ezr_amf0_value v;
        const struct bytes *in = &row->in[i];
        int rc = in->p ? decode_exact(in->p, in->len, &v) : ezr_amf0_decode(NULL, 0, &v);
        if (rc != row->rc || v.type != EZR_AMF0_NULL)
            ezr_test_fail_("# input %zu (%zu bytes): rc %d, type %d\n", i, in->len, rc,
                           (int)v.type);
        EZR_CHECK_EQ(rc, row->rc);
        EZR_CHECK_EQ(v.type, EZR_AMF0_NULL);
    }
}

/* ---- truncation: every proper prefix of a valid encoding fails ---------------------------- */

struct truncate_row {
    const char *name;
    struct bytes whole;
    void (*put)(struct ezr_buf *b); /* instead of whole */
};

static const struct truncate_row truncate_rows[] = {
    {"test_kitchen_sink_truncated_at_every_offset_fails", {NULL, 0}, put_kitchen_sink},
    {"test_connect_object_truncated_at_every_offset_fails",
     {(const uint8_t *)connect_cmd + CONNECT_OBJ_OFFSET,
      sizeof connect_cmd - 1 - CONNECT_OBJ_OFFSET},
     NULL},
    {"test_ecma_array_truncated_at_every_offset_fails",
     LIT("\x08\x00\x00\x00\x01"
         "\x00\x01" "k" "\x02\x00\x01" "v"
         "\x00\x00\x09"),
     NULL},
    {"test_strict_array_truncated_at_every_offset_fails",
     LIT("\x0a\x00\x00\x00\x02"
         "\x01\x01"
         "\x0a\x00\x00\x00\x01\x05"),
     NULL},
};

EZR_TEST_ROW(run_truncate_row, struct truncate_row)
{
    if (!row->put) {
        EZR_CHECK(every_prefix_fails(row->whole.p, row->whole.len));
        return;
    }
    struct ezr_buf b;
    ezr_buf_init(&b);
    row->put(&b);
    bool ok = every_prefix_fails(b.data, b.len);
    ezr_buf_free(&b);
    EZR_CHECK(ok);
}

/* ---- nesting: up to EZR_AMF0_MAX_DEPTH and past it ---------------------------------------- */

/* `levels` copies of `open`, then a null, then `levels` copies of `close`. */
static uint8_t *nested(struct bytes open, struct bytes close, size_t levels, size_t *len)
{
    *len = levels * (open.len + close.len) + 1;
    uint8_t *p = malloc(*len), *w = p;
    for (size_t i = 0; i < levels; i++, w += open.len)
        memcpy(w, open.p, open.len);
    *w++ = EZR_AMF0_NULL;
    for (size_t i = 0; i < levels; i++, w += close.len)
        memcpy(w, close.p, close.len);
    return p;
}

struct nest_row {
    const char *name;
    struct bytes open, close;
    size_t levels;
    int rc; /* 0: decoded whole, and ezr_amf0_put_value() writes it back the same */
};

static const struct nest_row nest_rows[] = {
    {"test_objects_nested_to_max_depth_decode", LIT("\x03\x00\x01" "a"), LIT("\x00\x00\x09"),
     EZR_AMF0_MAX_DEPTH, 0},
    {"test_objects_nested_one_past_max_depth_hit_limit", LIT("\x03\x00\x01" "a"),
     LIT("\x00\x00\x09"), EZR_AMF0_MAX_DEPTH + 1, EZR_ELIMIT},
    {"test_objects_nested_10000_deep_hit_limit", LIT("\x03\x00\x01" "a"), LIT(""), 10000,
     EZR_ELIMIT},
    {"test_ecma_arrays_nested_10000_deep_hit_limit", LIT("\x08\x00\x00\x00\x01\x00\x01" "a"),
     LIT(""), 10000, EZR_ELIMIT},
    {"test_strict_arrays_nested_10000_deep_hit_limit", LIT("\x0a\x00\x00\x00\x01"), LIT(""),
     10000, EZR_ELIMIT},
};

EZR_TEST_ROW(run_nest_row, struct nest_row)
{
    size_t len;
    uint8_t *p = nested(row->open, row->close, row->levels, &len);
    struct ezr_amf0_value v;
    int rc = decode_exact(p, len, &v);
    struct ezr_buf b;
    ezr_buf_init(&b);
    if (row->rc == 0)
        ezr_amf0_put_value(&b, &v);
    bool same = row->rc != 0 ||
                (!ezr_buf_failed(&b) && b.len == len && memcmp(b.data, p, len) == 0);
    bool cleared = row->rc == 0 || v.type == EZR_AMF0_NULL;
    ezr_buf_free(&b);
    ezr_amf0_value_clear(&v);
    free(p);
    EZR_CHECK_EQ(rc, row->rc == 0 ? (int)len : row->rc);
    EZR_CHECK(same);
    EZR_CHECK(cleared);
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
EZR_TEST_MAIN(EZR_ROWS(encode_rows, run_encode_row),
              EZR_ROWS(decode_rows, run_decode_row),
              EZR_ROWS(big_string_rows, run_big_string_row),
              EZR_CASE(test_put_value_reproduces_every_type_byte_for_byte),
              EZR_CASE(test_put_value_of_built_tree_decodes_to_equal_tree),
              EZR_CASE(test_ffmpeg_connect_command_decodes),
              EZR_CASE(test_get_returns_null_for_absent_key_and_non_objects),
              EZR_ROWS(truncate_rows, run_truncate_row),
              EZR_ROWS(nest_rows, run_nest_row),
              EZR_CASE(test_put_value_refuses_tree_deeper_than_max_depth),
              EZR_ROWS(reject_rows, run_reject_row),
              EZR_CASE(test_error_after_many_properties_leaves_nothing_behind),
              EZR_CASE(test_put_key_longer_than_65535_sets_failed),
              EZR_CASE(test_put_value_of_object_end_sets_failed))
