/* Making client-supplied text safe to log: bounded and with control and non-ASCII bytes
 * escaped, so nothing a client sends can forge log lines or flood them. */
#ifndef EZR_TEXT_H
#define EZR_TEXT_H

#include <stddef.h>

/* Writes src[0..len) to dst (capacity cap >= 1) with bytes outside printable ASCII as \xNN and
 * backslash and quote escaped, truncated with "..." when it does not fit. Always NUL-terminates.
 * Returns dst. */
char *ezr_text_escape(char *dst, size_t cap, const char *src, size_t len);

#endif
