/* The location property: rtmp[s]://HOST[:PORT]/APP/STREAM-KEY, the form rtmp2sink and players
 * use. HOST may be a bracketed IPv6 address; APP is everything between the host and the last
 * slash (it may hold slashes), STREAM-KEY what follows it. The port defaults as in rtmp2sink:
 * 1935, or 443 for rtmps. */
#include <stdlib.h>
#include <string.h>

#include "ezr_net.h"
#include "ezrsinkprops.h"

#define RTMP_PORT 1935
#define RTMPS_PORT 443

/* Parses url; on success fills the outs (owned by the caller), else returns the reason. */
static const gchar *parse(const gchar *url, gboolean *tls, gchar **host, gint *port, gchar **app,
                          gchar **key)
{
    const gchar *p;
    if (g_str_has_prefix(url, "rtmp://")) {
        *tls = FALSE;
        p = url + strlen("rtmp://");
    } else if (g_str_has_prefix(url, "rtmps://")) {
        *tls = TRUE;
        p = url + strlen("rtmps://");
    } else {
        return "it does not start with rtmp:// or rtmps://";
    }
    const gchar *host_end;
    const gchar *after;
    if (*p == '[') {
        host_end = strchr(p, ']');
        if (!host_end)
            return "an IPv6 address without its closing ]";
        p++;
        after = host_end + 1;
    } else {
        host_end = p + strcspn(p, ":/");
        after = host_end;
    }
    if (host_end == p)
        return "it names no host";
    *port = *tls ? RTMPS_PORT : RTMP_PORT;
    if (*after == ':') {
        const gchar *digits = after + 1;
        gsize n = strspn(digits, "0123456789");
        if (n == 0 || n > 5 || (digits[n] != '/' && digits[n] != '\0'))
            return "its port is not a number";
        gint v = atoi(digits);
        if (v > 65535)
            return "its port is over 65535";
        *port = v;
        after = digits + n;
    }
    if (*after != '/')
        return "it has no /APP/STREAM-KEY";
    const gchar *path = after + 1;
    const gchar *last = strrchr(path, '/');
    if (!last || last == path)
        return "it has no application or no stream key (rtmp://HOST:PORT/APP/STREAM-KEY)";
    if (last[1] == '\0')
        return "its stream key is empty";
    *host = g_strndup(p, (gsize)(host_end - p));
    *app = g_strndup(path, (gsize)(last - path));
    *key = g_strdup(last + 1);
    return NULL;
}

void ezr_sink_location_set(struct ezr_sink_settings *s, const gchar *url)
{
    g_clear_pointer(&s->bad_location, g_free);
    g_clear_pointer(&s->bad_location_why, g_free);
    s->location_tls = FALSE;
    if (!url)
        return; /* NULL: nothing to apply */
    gboolean tls;
    gchar *host, *app, *key;
    gint port;
    const gchar *why = parse(url, &tls, &host, &port, &app, &key);
    if (why) {
        s->bad_location = g_strdup(url);
        s->bad_location_why = g_strdup(why);
        return;
    }
    g_free(s->host);
    s->host = host;
    s->port = port;
    g_free(s->app);
    s->app = app;
    g_free(s->stream_key);
    s->stream_key = key;
    s->location_tls = tls;
}

gchar *ezr_sink_location_get(const struct ezr_sink_settings *s, guint bound_port)
{
    /* host:port as in a URL, brackets around IPv6: a DNS name is at most 253 bytes. */
    char where[264];
    guint port = bound_port ? bound_port : (guint)s->port;
    ezr_net_format_host_port(s->host ? s->host : "", port, where, sizeof where);
    gboolean tls = s->tls_certificate && *s->tls_certificate;
    return g_strdup_printf("%s://%s/%s/%s", tls ? "rtmps" : "rtmp", where, s->app, s->stream_key);
}
