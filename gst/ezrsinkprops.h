/* The elements' properties (the sink's, and the source's, which has a part of them and a few of
 * its own), described once in a table (ezrsinkprops.c) that installs the param
 * specs, answers set/get, sets the defaults and copies the values into the library's server and
 * stream configs. A new property is one entry in the table (and a field below if it keeps a
 * value). */
#ifndef EZR_SINK_PROPS_H
#define EZR_SINK_PROPS_H

#include <gst/gst.h>

#include "ezr_server.h"

G_BEGIN_DECLS

typedef struct _GstEzrtmpServerSink GstEzrtmpServerSink;

/* The property values, under the object lock. Strings are owned. */
struct ezr_sink_settings {
    gchar *host;
    gint port;
    gchar *app;
    gchar *stream_key;
    guint chunk_size;
    guint max_gops;
    gint sync_method; /* enum ezr_sync_method */
    guint max_connections;
    guint queue_warning_bytes;
    guint queue_high_bytes;
    guint queue_max_bytes;
    guint queue_max_age;     /* ms, 0 = by stream kind */
    guint handshake_timeout; /* s */
    guint client_timeout;    /* s */
    guint send_buffer_size;
    gint flush_interval; /* ms, or EZR_FLUSH_AUTO */
    gchar *allowed_clients;
    gchar *play_token;
    gboolean http; /* HTTP-FLV and WebSocket-FLV on the port */
    gchar *http_cors_origin;
    gboolean hls;             /* LL-HLS on the port (needs http) */
    guint hls_part_target;    /* ms */
    guint hls_segment_target; /* ms, 0: one segment per GOP */
    guint hls_window;         /* segments */
    gchar *hls_group;         /* renditions listed together; "": none */
    gboolean metrics;       /* GET /metrics */
    gchar *tls_certificate; /* PEM chain file; NULL: no TLS */
    gchar *tls_key;         /* PEM key file; NULL: in the certificate file */
    gboolean tls_only;
    /* The last location set did not parse (the URL, to name in the READY error), or asked for
     * rtmps:// (READY then needs a tls-certificate). */
    gchar *bad_location;
    gchar *bad_location_why;
    gboolean location_tls;
    /* ezrtmpserversrc's own. */
    gchar *publish_token;
    guint max_bytes;
    guint timeout;         /* s, a silent publisher */
    guint publish_timeout; /* s, no publisher yet: warn */
    gboolean eos_on_unpublish;
};

/* The elements a property is installed on. */
enum { EZR_PROPS_SINK = 1, EZR_PROPS_SRC = 2 };
/* class_init: installs the table's properties of the element `which` (EZR_PROPS_SINK or _SRC). */
void ezr_props_install(GObjectClass *klass, guint which);
/* init and finalize: the defaults; frees the strings. */
void ezr_sink_settings_init(struct ezr_sink_settings *s);
void ezr_sink_settings_clear(struct ezr_sink_settings *s);
/* A copy with its own strings (taken under the object lock, used outside it). */
void ezr_sink_settings_copy(struct ezr_sink_settings *dst, const struct ezr_sink_settings *src);
/* Points the configs at s's values (s must outlive them). cfg was ezr_server_config_init()ed. */
void ezr_sink_settings_to_config(const struct ezr_sink_settings *s, struct ezr_server_config *cfg,
                                 struct ezr_stream_config *sc);

/* ezrsinklocation.c: rtmp[s]://HOST[:PORT]/APP/STREAM-KEY. */
/* Sets host, port, app and stream_key from url, or keeps them and records the URL as bad. */
void ezr_sink_location_set(struct ezr_sink_settings *s, const gchar *url);
/* The URL players open, from host, port (the bound one when listening: bound_port != 0), app
 * and stream key; rtmps:// when a certificate is set. */
gchar *ezr_sink_location_get(const struct ezr_sink_settings *s, guint bound_port);

G_END_DECLS

#endif
