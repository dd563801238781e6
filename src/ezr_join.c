/* Join policy names and the play query's sync-method; see ezr_join.h. */
#include "ezr_join.h"

#include <string.h>

#include "ezr_acl.h"
#include "ezr_error.h"

static const char *const names[EZR_SYNC_NMETHODS] = {
    [EZR_SYNC_LIVE_EDGE] = "live-edge",
    [EZR_SYNC_LATEST_KEYFRAME] = "latest-keyframe",
    [EZR_SYNC_NEXT_KEYFRAME] = "next-keyframe",
};

const char *ezr_join_method_name(enum ezr_sync_method m)
{
    return (unsigned)m < EZR_SYNC_NMETHODS ? names[m] : "unknown";
}

int ezr_join_method_parse(const char *nick)
{
    for (int i = 0; i < EZR_SYNC_NMETHODS; i++)
        if (strcmp(nick, names[i]) == 0)
            return i;
    return -1;
}

int ezr_join_method_from_query(const char *name, enum ezr_sync_method dflt,
                               enum ezr_sync_method *out)
{
    /* Longer than any nick: a truncated value cannot match one. */
    char given[32];
    *out = dflt;
    if (!ezr_acl_query_value(name, "sync-method", given, sizeof given))
        return 0;
    int m = ezr_join_method_parse(given);
    if (m < 0)
        return EZR_EINVAL;
    *out = (enum ezr_sync_method)m;
    return 0;
}
