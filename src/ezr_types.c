/* The log writer; see ezr_types.h. */
#include "ezr_types.h"

#include <stdarg.h>
#include <stdio.h>

const char *ezr_protocol_name(enum ezr_protocol p)
{
    static const char *const names[EZR_NPROTOCOLS] = {
        [EZR_PROTOCOL_RTMP] = "rtmp",
        [EZR_PROTOCOL_HTTP_FLV] = "http-flv",
        [EZR_PROTOCOL_WS_FLV] = "ws-flv",
        [EZR_PROTOCOL_HLS] = "hls",
    };
    return (unsigned)p < EZR_NPROTOCOLS ? names[p] : "undecided";
}

void ezr_log(const struct ezr_log *log, enum ezr_log_level level, const char *fmt, ...)
{
    if (!ezr_log_wants(log, level))
        return;
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    log->fn(log->ctx, level, msg);
}
