/* Escaping client text for logs; see ezr_text.h. */
#include "ezr_text.h"

#include <stdio.h>

char *ezr_text_escape(char *dst, size_t cap, const char *src, size_t len)
{
    size_t o = 0;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)src[i];
        char tmp[5];
        size_t n;
        if (c >= 0x20 && c < 0x7f && c != '\\' && c != '"') {
            tmp[0] = (char)c;
            n = 1;
        } else if (c == '\\' || c == '"') {
            tmp[0] = '\\';
            tmp[1] = (char)c;
            n = 2;
        } else {
            snprintf(tmp, sizeof tmp, "\\x%02x", c);
            n = 4;
        }
        /* Keep room for "..." and the NUL in case more follows. */
        if (o + n + 4 > cap) {
            size_t k = 0;
            while (k < 3 && o + 1 < cap)
                dst[o++] = '.', k++;
            break;
        }
        for (size_t k = 0; k < n; k++)
            dst[o++] = tmp[k];
    }
    dst[o] = '\0';
    return dst;
}
