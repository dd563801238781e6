/* libFuzzer target: a playlist request's query and a request path's last component, as
 * ezr_http_hls.c reads them (ezr_hls_parse_query, ezr_hls_parse_name). A query is accepted only
 * with a segment for its part; a name is accepted only in the one spelling the muxer writes. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ezr_error.h"
#include "ezr_hls.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct ezr_hls *h;
    if (!h) {
        struct ezr_hls_config cfg = {.tag = "ezr"};
        if (ezr_hls_new(&cfg, NULL, NULL, &h) != 0)
            __builtin_trap();
    }
    char *s = malloc(size + 1);
    if (!s)
        return 0;
    memcpy(s, data, size);
    s[size] = '\0';

    struct ezr_hls_query q;
    int rc = ezr_hls_parse_query(s, &q);
    if ((rc != 0 && rc != EZR_EPROTO) || (rc == 0 && q.has_part && !q.has_msn))
        __builtin_trap();

    struct ezr_hls_name n = ezr_hls_parse_name(h, s);
    char again[96] = "";
    switch (n.kind) {
    case EZR_HLS_NAME_NONE:
        break;
    case EZR_HLS_NAME_PLAYLIST:
        snprintf(again, sizeof again, "index.m3u8");
        break;
    case EZR_HLS_NAME_INIT:
        snprintf(again, sizeof again, "init-ezr-%" PRIu32 ".mp4", n.index);
        break;
    case EZR_HLS_NAME_SEGMENT:
        snprintf(again, sizeof again, "seg-ezr-%" PRIu64 ".m4s", n.msn);
        break;
    case EZR_HLS_NAME_PART:
        snprintf(again, sizeof again, "part-ezr-%" PRIu64 ".%" PRIu32 ".m4s", n.msn, n.index);
        break;
    }
    if (n.kind != EZR_HLS_NAME_NONE && strcmp(again, s) != 0)
        __builtin_trap(); /* taken, but not as the muxer writes it */
    free(s);
    return 0;
}
