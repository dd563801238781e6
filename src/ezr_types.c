/* The log writer; see ezr_types.h. */
#include "ezr_types.h"

#include <stdarg.h>
#include <stdio.h>

void ezr_log(const struct ezr_log *log, enum ezr_log_level level, const char *fmt, ...)
{
    if (!log || !log->fn)
        return;
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    log->fn(log->ctx, level, msg);
}
