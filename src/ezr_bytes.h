/* Big-endian (network order) loads and stores. RTMP is big-endian everywhere except the
 * message stream id in a type-0 chunk header, which is little-endian (ezr_rd_le32). */
#ifndef EZR_BYTES_H
#define EZR_BYTES_H

#include <stdint.h>
#include <string.h>

static inline uint16_t ezr_rd_be16(const uint8_t *p)
{
    return (uint16_t)((p[0] << 8) | p[1]);
}
static inline uint32_t ezr_rd_be24(const uint8_t *p)
{
    return ((uint32_t)p[0] << 16) | ((uint32_t)p[1] << 8) | p[2];
}
static inline uint32_t ezr_rd_be32(const uint8_t *p)
{
    return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3];
}
static inline uint32_t ezr_rd_le32(const uint8_t *p)
{
    return ((uint32_t)p[3] << 24) | ((uint32_t)p[2] << 16) | ((uint32_t)p[1] << 8) | p[0];
}
static inline void ezr_wr_be16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
}
static inline void ezr_wr_be24(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 16);
    p[1] = (uint8_t)(v >> 8);
    p[2] = (uint8_t)v;
}
static inline void ezr_wr_be32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}
static inline void ezr_wr_le32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
    p[2] = (uint8_t)(v >> 16);
    p[3] = (uint8_t)(v >> 24);
}
static inline double ezr_rd_be_double(const uint8_t *p)
{
    uint64_t u = ((uint64_t)ezr_rd_be32(p) << 32) | ezr_rd_be32(p + 4);
    double d;
    memcpy(&d, &u, sizeof d);
    return d;
}
static inline void ezr_wr_be_double(uint8_t *p, double d)
{
    uint64_t u;
    memcpy(&u, &d, sizeof u);
    ezr_wr_be32(p, (uint32_t)(u >> 32));
    ezr_wr_be32(p + 4, (uint32_t)u);
}

#endif
