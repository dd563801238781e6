/* ezrload's HLS viewers, in two files: ezrload_hls.c (the viewers: connections, requests,
 * playlists) and ezrload_hls_report.c (what they received and when, and the report). See
 * ezrload_hls.c for what a viewer does and ezrload_hls_report.c for the figures. */
#ifndef EZRLOAD_HLS_H
#define EZRLOAD_HLS_H

#include "ezrload.h"

#define HLS_SEGMENT UINT32_MAX /* the index of a whole segment, not a part */

/* What a record is of: a part or segment body that arrived, or a blocking playlist reload
 * answered. */
enum hls_rec_kind { REC_MEDIA, REC_PLAYLIST };

/* A viewer's own counts, for the report. */
struct hls_counts {
    uint32_t requests, errors, reconnects;
    bool playing; /* a playlist was answered 200 */
    bool ll;      /* it played LL-HLS (parts, blocking reloads), not whole segments */
    int64_t first_media_ms; /* from its start to its first part or segment in, -1 none */
};

/* ezrload_hls_report.c: the parts and segments seen, by (msn, index). */
void hls_note_end(uint64_t msn, uint32_t index, int64_t end_us); /* its end by PDT */
void hls_note_announced(uint64_t msn, uint32_t index, int64_t at_us);
void hls_note_received(int viewer, enum hls_rec_kind kind, uint64_t msn, uint32_t index,
                       int64_t sent_us, int64_t at_us, bool blocking);
void hls_report(double duration_s);

/* ezrload_hls.c */
int64_t wall_us(void);
const struct hls_counts *hls_counts_of(int viewer);

#endif
