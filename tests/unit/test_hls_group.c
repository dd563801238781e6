/* Renditions served over loopback by a real server: two streams of one hls-group listed in the
 * multivariant playlist with the bit rates their segments have as served, each media playlist
 * reporting the other's last part (current also in a blocking reload's answer and after a
 * sibling alone moved), the multivariant request waiting for every rendition's first segment,
 * a play-token carried into the variant URIs, a stream leaving the group, and a rendition's
 * hinted part sent whole. */
#include "ezr_test.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ezr_error.h"
#include "ezr_limits.h"
#include "hls_serve_fixture.h"

#define GROUP "/live/abr.m3u8"
#define HI "/live/hi/index.m3u8"
#define LO "/live/lo/index.m3u8"

/* A server with streams live/hi and live/lo in group "abr" (token: their play-token, or NULL),
 * their sequence headers pushed. */
static struct ezr_server *start_group(struct ezr_stream **hi, struct ezr_stream **lo,
                                      const char *token)
{
    struct ezr_server_config cfg;
    test_server_config(&cfg);
    cfg.http = true;
    struct ezr_server *s = NULL;
    if (ezr_server_new(&cfg, &s) < 0)
        return NULL;
    struct ezr_stream_config sc = {
        .app = "live", .key = "hi", .hls = true, .hls_group = "abr", .play_token = token};
    if (ezr_server_add_stream(s, &sc, hi) < 0) {
        ezr_server_free(s);
        return NULL;
    }
    sc.key = "lo";
    if (ezr_server_add_stream(s, &sc, lo) < 0) {
        ezr_server_free(s);
        return NULL;
    }
    push_headers(*hi);
    push_headers(*lo);
    return s;
}

/* The last EXT-X-PART of a media playlist: its MSN and index. */
static bool last_part(const char *pl, unsigned long long *msn, unsigned *part)
{
    const char *p = pl, *last = NULL;
    while ((p = strstr(p, "#EXT-X-PART:")))
        last = p++;
    if (!last || !(last = strstr(last, "URI=\"part-")))
        return false;
    const char *dash = strchr(last + 10, '-');
    return dash && sscanf(dash + 1, "%llu.%u.m4s", msn, part) == 2;
}

/* The report pl gives of rendition key: its LAST-MSN and LAST-PART. */
static bool report_of(const char *pl, const char *key, unsigned long long *msn, unsigned *part)
{
    char marker[64];
    snprintf(marker, sizeof marker, "#EXT-X-RENDITION-REPORT:URI=\"../%s/index.m3u8\",", key);
    const char *p = strstr(pl, marker);
    return p && sscanf(p + strlen(marker), "LAST-MSN=%llu,LAST-PART=%u\n", msn, part) == 2;
}

static int count(const char *text, const char *what)
{
    int n = 0;
    for (const char *p = text; (p = strstr(p, what)); p++)
        n++;
    return n;
}

/* BANDWIDTH and AVERAGE-BANDWIDTH as the spec defines them, from a media playlist's segments as
 * served (GET each): segments of 1 s and a target of 1, so each segment alone is a run of
 * 0.5-1.5 target durations and no two are. */
static bool measured(struct http_client *h, const char *pl, unsigned long long *peak,
                     unsigned long long *average)
{
    unsigned long long bytes = 0, ms = 0;
    *peak = 0;
    for (const char *p = pl; (p = strstr(p, "#EXTINF:")); p++) {
        unsigned s, frac;
        char name[128], path[160];
        if (sscanf(p, "#EXTINF:%u.%u,\n%127s", &s, &frac, name) != 3)
            return false;
        snprintf(path, sizeof path, "/live/hi/%s", name);
        struct http_answer a = {0};
        if (get(h, path, &a) < 0 || a.status != 200)
            return false;
        unsigned long long d = s * 1000ull + frac;
        unsigned long long r = (a.body_len * 8000ull + d - 1) / d;
        *peak = r > *peak ? r : *peak;
        bytes += a.body_len;
        ms += d;
        http_answer_free(&a);
    }
    *average = ms ? (bytes * 8000ull + ms - 1) / ms : 0;
    return ms > 0;
}

EZR_TEST(test_multivariant_lists_each_rendition_as_served)
{
    struct ezr_stream *hi, *lo;
    struct ezr_server *s = start_group(&hi, &lo, NULL);
    EZR_CHECK(s != NULL);
    push_media(hi, 0, 3100);
    push_media(lo, 0, 3100);
    bool made = WAIT_STAT(hi, hls_segments, 3, false) && WAIT_STAT(lo, hls_segments, 3, false);
    struct http_client h;
    bool opened = http_client_open(&h, ezr_server_port(s));
    struct http_answer mv = {0}, pl = {0};
    int rc = opened ? get(&h, GROUP, &mv) : -1;
    int prc = opened ? get(&h, HI, &pl) : -1;
    unsigned long long peak = 0, average = 0;
    bool counted = prc == 0 && measured(&h, (char *)pl.body, &peak, &average);
    http_client_close(&h);
    ezr_server_free(s);
    EZR_CHECK(made && opened);
    EZR_CHECK_EQ(rc, 0);
    EZR_CHECK_EQ(mv.status, 200);
    EZR_CHECK(strcmp(mv.content_type, "application/vnd.apple.mpegurl") == 0);
    EZR_CHECK(counted);
    const char *body = (const char *)mv.body;
    char want[512];
    snprintf(want, sizeof want,
             "#EXT-X-STREAM-INF:BANDWIDTH=%llu,AVERAGE-BANDWIDTH=%llu,"
             "CODECS=\"avc1.42c00d,mp4a.40.2\",RESOLUTION=320x240,FRAME-RATE=30.000\n",
             peak, average);
    char all[1200];
    snprintf(all, sizeof all,
             "#EXTM3U\n#EXT-X-VERSION:6\n#EXT-X-INDEPENDENT-SEGMENTS\n%shi/index.m3u8\n%s"
             "lo/index.m3u8\n",
             want, want);
    if (strcmp(body, all) != 0)
        ezr_test_fail_("# got:\n%s# expected:\n%s", body, all);
    http_answer_free(&mv);
    http_answer_free(&pl);
}

EZR_TEST(test_media_playlists_report_each_other)
{
    struct ezr_stream *hi, *lo;
    struct ezr_server *s = start_group(&hi, &lo, NULL);
    EZR_CHECK(s != NULL);
    /* lo behind hi (its report must say so); neither makes a part after the segment awaited (a
     * part ends on the first video frame 200 ms past its start), so both stand still. */
    push_media(hi, 0, 3100);
    push_media(lo, 0, 1100);
    bool made = WAIT_STAT(hi, hls_segments, 3, false) && WAIT_STAT(lo, hls_segments, 1, false);
    struct http_client h;
    bool opened = http_client_open(&h, ezr_server_port(s));
    struct http_answer a = {0}, b = {0};
    int ra = opened ? get(&h, HI, &a) : -1, rb = opened ? get(&h, LO, &b) : -1;
    http_client_close(&h);
    ezr_server_free(s);
    EZR_CHECK(made && opened && ra == 0 && rb == 0);
    unsigned long long hm, lm, rhm, rlm;
    unsigned hp, lp, rhp, rlp;
    EZR_CHECK(last_part((char *)a.body, &hm, &hp) && last_part((char *)b.body, &lm, &lp));
    EZR_CHECK(report_of((char *)a.body, "lo", &rlm, &rlp));
    EZR_CHECK(report_of((char *)b.body, "hi", &rhm, &rhp));
    EZR_CHECK_EQ(rlm, lm);
    EZR_CHECK_EQ(rlp, lp);
    EZR_CHECK_EQ(rhm, hm);
    EZR_CHECK_EQ(rhp, hp);
    EZR_CHECK(hm > lm); /* they differ: each reports the other, not itself */
    EZR_CHECK_EQ(count((char *)a.body, "#EXT-X-RENDITION-REPORT:"), 1);
    EZR_CHECK_EQ(count((char *)b.body, "#EXT-X-RENDITION-REPORT:"), 1);
    http_answer_free(&a);
    http_answer_free(&b);
}

EZR_TEST(test_reports_are_current_in_a_blocking_reload)
{
    struct ezr_stream *hi, *lo;
    struct ezr_server *s = start_group(&hi, &lo, NULL);
    EZR_CHECK(s != NULL);
    push_media(hi, 0, 2100);
    push_media(lo, 0, 2100);
    bool made = WAIT_STAT(hi, hls_segments, 2, false) && WAIT_STAT(lo, hls_segments, 2, false);
    struct ezr_stream_stats ls;
    bool lstats = ezr_stream_get_stats(lo, &ls, NULL, NULL, DEADLINE_MS) == 0;
    struct http_client h, w;
    bool opened =
        http_client_open(&h, ezr_server_port(s)) && http_client_open(&w, ezr_server_port(s));
    struct http_answer first = {0}, again = {0}, blocked = {0}, lo_now = {0};
    int r1 = opened ? get(&h, HI, &first) : -1;
    /* lo alone moves on: hi's own playlist is the same version, its report must not be. */
    push_media(lo, 2100, 2500);
    bool moved = lstats && WAIT_STAT(lo, hls_parts, ls.hls_parts + 2, false);
    int r2 = moved ? get(&h, HI, &again) : -1;
    /* A blocking reload on hi for the part after its last, parked; lo moves, then hi makes it. */
    unsigned long long hm = 0;
    unsigned hp = 0;
    char path[128];
    bool asked = r1 == 0 && last_part((char *)first.body, &hm, &hp);
    snprintf(path, sizeof path, HI "?_HLS_msn=%llu&_HLS_part=%u", hm, hp + 1);
    asked = asked && http_client_get(&w, path) && WAIT_STAT(hi, hls_waiting, 1, true);
    push_media(lo, 2500, 2900);
    push_media(hi, 2100, 2900);
    int r3 = asked ? http_client_answer(&w, &blocked, mono_ms() + DEADLINE_MS) : -1;
    int r4 = r3 == 0 ? get(&h, LO, &lo_now) : -1; /* nothing is pushed any more */
    http_client_close(&h);
    http_client_close(&w);
    ezr_server_free(s);
    EZR_CHECK(made && opened && r1 == 0 && moved && r2 == 0 && asked && r3 == 0 && r4 == 0);
    unsigned long long m1, m2, m3, lm;
    unsigned p1, p2, p3, lp;
    EZR_CHECK(report_of((char *)first.body, "lo", &m1, &p1));
    EZR_CHECK(report_of((char *)again.body, "lo", &m2, &p2));
    EZR_CHECK(m2 * 100 + p2 > m1 * 100 + p1);
    EZR_CHECK_EQ(blocked.status, 200);
    EZR_CHECK(report_of((char *)blocked.body, "lo", &m3, &p3));
    EZR_CHECK(last_part((char *)lo_now.body, &lm, &lp));
    EZR_CHECK_EQ(m3, lm);
    EZR_CHECK_EQ(p3, lp);
    http_answer_free(&first);
    http_answer_free(&again);
    http_answer_free(&blocked);
    http_answer_free(&lo_now);
}

EZR_TEST(test_multivariant_waits_for_every_rendition)
{
    struct ezr_stream *hi, *lo;
    struct ezr_server *s = start_group(&hi, &lo, NULL);
    EZR_CHECK(s != NULL);
    push_media(hi, 0, 1100);
    bool made = WAIT_STAT(hi, hls_segments, 1, false);
    struct http_client h;
    bool opened = http_client_open(&h, ezr_server_port(s));
    struct http_answer mv = {0};
    uint64_t t0 = mono_ms();
    bool sent = opened && http_client_get(&h, GROUP);
    push_media(lo, 0, 1100); /* lo's first segment: the wait ends now, not at its bound */
    int rc = sent ? http_client_answer(&h, &mv, mono_ms() + DEADLINE_MS) : -1;
    uint64_t waited = mono_ms() - t0;
    http_client_close(&h);
    ezr_server_free(s);
    EZR_CHECK(made && sent);
    EZR_CHECK_EQ(rc, 0);
    EZR_CHECK_EQ(mv.status, 200);
    EZR_CHECK_EQ(count((char *)mv.body, "#EXT-X-STREAM-INF:"), 2);
    EZR_CHECK(waited < EZR_HLS_FIRST_PLAYLIST_WAIT_MS);
    http_answer_free(&mv);
}

EZR_TEST(test_multivariant_lists_what_it_has_after_its_wait)
{
    struct ezr_stream *hi, *lo;
    struct ezr_server *s = start_group(&hi, &lo, NULL);
    EZR_CHECK(s != NULL);
    push_media(hi, 0, 1100); /* lo makes nothing */
    bool made = WAIT_STAT(hi, hls_segments, 1, false);
    struct http_client h;
    bool opened = http_client_open(&h, ezr_server_port(s));
    struct http_answer mv = {0};
    uint64_t t0 = mono_ms();
    int rc =
        opened && http_client_get(&h, GROUP)
            ? http_client_answer(&h, &mv, mono_ms() + EZR_HLS_FIRST_PLAYLIST_WAIT_MS + DEADLINE_MS)
            : -1;
    uint64_t waited = mono_ms() - t0;
    http_client_close(&h);
    ezr_server_free(s);
    EZR_CHECK(made && opened);
    EZR_CHECK_EQ(rc, 0);
    EZR_CHECK_EQ(mv.status, 200);
    EZR_CHECK_EQ(count((char *)mv.body, "#EXT-X-STREAM-INF:"), 1);
    EZR_CHECK(strstr((char *)mv.body, "\nhi/index.m3u8\n") != NULL);
    /* The server's tick ends a wait up to a tick late, never early. */
    EZR_CHECK(waited + 5 >= EZR_HLS_FIRST_PLAYLIST_WAIT_MS);
    http_answer_free(&mv);
}

EZR_TEST(test_multivariant_carries_the_play_token_into_variant_uris)
{
    struct ezr_stream *hi, *lo;
    struct ezr_server *s = start_group(&hi, &lo, "s3cret");
    EZR_CHECK(s != NULL);
    push_media(hi, 0, 1100);
    push_media(lo, 0, 1100);
    bool made = WAIT_STAT(hi, hls_segments, 1, false) && WAIT_STAT(lo, hls_segments, 1, false);
    struct http_client h, k;
    bool opened =
        http_client_open(&h, ezr_server_port(s)) && http_client_open(&k, ezr_server_port(s));
    struct http_answer refused = {0}, mv = {0};
    int r1 = opened ? get(&k, GROUP, &refused) : -1;
    int r2 = opened ? get(&h, GROUP "?token=s3cret", &mv) : -1;
    http_client_close(&h);
    http_client_close(&k);
    ezr_server_free(s);
    EZR_CHECK(made && opened && r1 == 0 && r2 == 0);
    EZR_CHECK_EQ(refused.status, 403);
    EZR_CHECK_EQ(mv.status, 200);
    EZR_CHECK(strstr((char *)mv.body, "\nhi/index.m3u8?token=s3cret\n") != NULL);
    EZR_CHECK(strstr((char *)mv.body, "\nlo/index.m3u8?token=s3cret\n") != NULL);
    http_answer_free(&refused);
    http_answer_free(&mv);
}

EZR_TEST(test_a_stream_leaving_the_group_drops_out)
{
    struct ezr_stream *hi, *lo;
    struct ezr_server *s = start_group(&hi, &lo, NULL);
    EZR_CHECK(s != NULL);
    push_media(hi, 0, 1100);
    push_media(lo, 0, 1100);
    bool made = WAIT_STAT(hi, hls_segments, 1, false) && WAIT_STAT(lo, hls_segments, 1, false);
    struct http_client h;
    bool opened = http_client_open(&h, ezr_server_port(s));
    struct http_answer before = {0}, after = {0}, pl = {0}, none = {0};
    int r1 = opened ? get(&h, GROUP, &before) : -1;
    ezr_server_remove_stream(s, lo);
    int r2 = r1 == 0 ? get(&h, GROUP, &after) : -1;
    int r3 = r2 == 0 ? get(&h, HI, &pl) : -1;
    ezr_server_remove_stream(s, hi);
    struct http_client k;
    bool reopened = http_client_open(&k, ezr_server_port(s));
    int r4 = reopened ? get(&k, GROUP, &none) : -1;
    http_client_close(&h);
    if (reopened)
        http_client_close(&k);
    ezr_server_free(s);
    EZR_CHECK(made && opened && r1 == 0 && r2 == 0 && r3 == 0 && r4 == 0);
    EZR_CHECK_EQ(count((char *)before.body, "#EXT-X-STREAM-INF:"), 2);
    EZR_CHECK_EQ(count((char *)after.body, "#EXT-X-STREAM-INF:"), 1);
    EZR_CHECK(strstr((char *)after.body, "lo/index.m3u8") == NULL);
    EZR_CHECK_EQ(count((char *)pl.body, "#EXT-X-RENDITION-REPORT:"), 0);
    EZR_CHECK_EQ(none.status, 404);
    http_answer_free(&before);
    http_answer_free(&after);
    http_answer_free(&pl);
    http_answer_free(&none);
}

/* A rendition sends the hinted part whole once complete (a lone stream streams it: unit/hls_serve):
 * the request stays parked while the part is being made, and its answer has a Content-Length,
 * the same bytes as the part asked for afterwards. */
EZR_TEST(test_a_rendition_sends_its_hinted_part_whole_once_complete)
{
    struct ezr_stream *hi, *lo;
    struct ezr_server *s = start_group(&hi, &lo, NULL);
    EZR_CHECK(s != NULL);
    push_media(hi, 0, 1100);
    bool made = WAIT_STAT(hi, hls_segments, 1, false);
    struct http_client h;
    struct http_answer pl = {0}, hinted = {0}, again = {0};
    char hint[256] = "";
    const char *tag = NULL;
    bool ok = made && http_client_open(&h, ezr_server_port(s)) && get(&h, HI, &pl) == 0 &&
              (tag = strstr((char *)pl.body, "#EXT-X-PRELOAD-HINT:TYPE=PART,URI=\"")) &&
              sscanf(tag + strlen("#EXT-X-PRELOAD-HINT:TYPE=PART,URI=\""), "%200[^\"]",
                     hint + strlen("/live/hi/")) == 1;
    memcpy(hint, "/live/hi/", strlen("/live/hi/"));
    ok = ok && http_client_get(&h, hint);
    bool parked = ok && WAIT_STAT(hi, hls_waiting, 1, true);
    /* One more video frame puts the one before it into the hinted part, which is not complete:
     * the request stays parked (the stats are answered after the frames are taken). */
    push_media(hi, 1100, 1140);
    struct ezr_stream_stats mid;
    bool still = parked && ezr_stream_get_stats(hi, &mid, NULL, NULL, DEADLINE_MS) == 0 &&
                 mid.hls_waiting == 1;
    push_media(hi, 1140, 1700);
    int rc = still ? http_client_answer(&h, &hinted, mono_ms() + DEADLINE_MS) : -1;
    int rc2 = rc == 0 ? get(&h, hint, &again) : -1;
    http_client_close(&h);
    ezr_server_free(s);
    EZR_CHECK(made && ok && parked && still);
    EZR_CHECK_EQ(rc, 0);
    EZR_CHECK_EQ(hinted.status, 200);
    EZR_CHECK(!hinted.chunked);
    EZR_CHECK_EQ(hinted.content_length, (long long)hinted.body_len);
    EZR_CHECK_EQ(rc2, 0);
    EZR_CHECK_EQ(again.body_len, hinted.body_len); /* the same part, the same bytes */
    EZR_CHECK_MEM(again.body, hinted.body, again.body_len);
    http_answer_free(&pl);
    http_answer_free(&hinted);
    http_answer_free(&again);
}

EZR_TEST_MAIN(EZR_CASE(test_multivariant_lists_each_rendition_as_served),
              EZR_CASE(test_media_playlists_report_each_other),
              EZR_CASE(test_reports_are_current_in_a_blocking_reload),
              EZR_CASE(test_multivariant_waits_for_every_rendition),
              EZR_CASE(test_multivariant_lists_what_it_has_after_its_wait),
              EZR_CASE(test_multivariant_carries_the_play_token_into_variant_uris),
              EZR_CASE(test_a_stream_leaving_the_group_drops_out),
              EZR_CASE(test_a_rendition_sends_its_hinted_part_whole_once_complete))
