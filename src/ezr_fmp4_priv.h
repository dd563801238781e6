/* What the two halves of the fMP4 writer share: ezr_fmp4_codec.c, which reads the sequence
 * headers, and ezr_fmp4.c, which writes the boxes from what it read. */
#ifndef EZR_FMP4_PRIV_H
#define EZR_FMP4_PRIV_H

/* FLV's DataSize is 24 bits: no tag body, so no record or config from one, is longer. Also keeps
 * every box and descriptor length of the init segment far from its field's limit. */
#define EZR_FMP4_FLV_BODY_MAX 0xFFFFFFu

#endif
