/* The process-wide pool of shared servers; see ezrserverpool.h. */
#include "ezrserverpool.h"

struct pooled {
    gchar *host;
    /* As asked for, or for a server asked for on port 0, the port it bound: an element that
     * reads another's bound-port and asks for it (a source and its sink on one free port, as
     * the tests run the restreamer) joins that server. */
    guint port;
    struct ezr_server *server;
    guint refs;
    /* The settings it was opened with that a later element cannot change (ezr_server_pool_acquire
     * tells that element when its own differ). */
    gboolean http, tls_only;
    gchar *tls_certificate;
    /* Where the server's log lines go (the first element's logger). */
    ezr_log_fn log;
    void *log_ctx;
    ezr_log_wants_fn log_wants;
    /* Its own lock, not pool_lock: the reactor thread logs, and pool_release joins that thread
     * while holding pool_lock. */
    GMutex error_lock;
    gchar *last_error;
    GSList *kept; /* GObject refs of elements whose streams are still in the server */
};

static GMutex pool_lock;
static GList *pool; /* of struct pooled */

/* Keeps the last error line, so that the element can tell why the reactor stopped. */
static void pooled_log(void *ctx, enum ezr_log_level level, const char *msg)
{
    struct pooled *p = ctx;
    if (level == EZR_LOG_ERROR) {
        g_mutex_lock(&p->error_lock);
        g_free(p->last_error);
        p->last_error = g_strdup(msg);
        g_mutex_unlock(&p->error_lock);
    }
    if (p->log)
        p->log(p->log_ctx, level, msg);
}

/* Error lines always (pooled_log keeps the last), others as the element's logger wants them. */
static bool pooled_log_wants(void *ctx, enum ezr_log_level level)
{
    struct pooled *p = ctx;
    return level == EZR_LOG_ERROR || (p->log && (!p->log_wants || p->log_wants(p->log_ctx, level)));
}

static void pooled_free(struct pooled *p)
{
    g_free(p->host);
    g_free(p->tls_certificate);
    g_free(p->last_error);
    g_mutex_clear(&p->error_lock);
    g_free(p);
}

/* What cfg asks for that a server opened with p's settings does not give, or NULL; g_free() it.
 * Asking for less is no loss (a source has no http property; a sink with http=false on a
 * server with HTTP only has its stream served over HTTP too). */
static gchar *ignored_settings(const struct pooled *p, const struct ezr_server_config *cfg)
{
    const gchar *cert = cfg->tls_certificate && *cfg->tls_certificate ? cfg->tls_certificate : NULL;
    if (cfg->http && !p->http)
        return g_strdup("http=true (the server has no HTTP)");
    if ((cert && g_strcmp0(p->tls_certificate, cert) != 0) || (cfg->tls_only && !p->tls_only))
        return g_strdup("tls-certificate, tls-key and tls-only (the server has its own)");
    return NULL;
}

struct ezr_server *ezr_server_pool_acquire(const struct ezr_server_config *cfg, int *err,
                                           gchar **ignored)
{
    struct ezr_server *server = NULL;
    *ignored = NULL;
    g_mutex_lock(&pool_lock);
    for (GList *l = pool; l && cfg->port != 0; l = l->next) {
        struct pooled *p = l->data;
        if (p->port == cfg->port && g_strcmp0(p->host, cfg->host) == 0) {
            p->refs++;
            server = p->server;
            *ignored = ignored_settings(p, cfg);
            break;
        }
    }
    if (!server) {
        struct pooled *p = g_new0(struct pooled, 1);
        g_mutex_init(&p->error_lock);
        p->host = g_strdup(cfg->host);
        p->port = cfg->port;
        p->http = cfg->http;
        p->tls_only = cfg->tls_only;
        p->tls_certificate = cfg->tls_certificate && *cfg->tls_certificate
                                 ? g_strdup(cfg->tls_certificate)
                                 : NULL;
        p->refs = 1;
        p->log = cfg->log;
        p->log_ctx = cfg->log_ctx;
        p->log_wants = cfg->log_wants;
        struct ezr_server_config c = *cfg;
        c.log = pooled_log;
        c.log_ctx = p;
        c.log_wants = pooled_log_wants;
        /* Started under the lock, so two elements asking for the same port at once get one. */
        *err = ezr_server_new(&c, &server);
        if (*err == 0) {
            p->server = server;
            if (!p->port)
                p->port = ezr_server_port(server);
            pool = g_list_prepend(pool, p);
        } else {
            pooled_free(p);
        }
    }
    g_mutex_unlock(&pool_lock);
    return server;
}

static void release(struct ezr_server *server, GObject *owner)
{
    struct pooled *gone = NULL;
    g_mutex_lock(&pool_lock);
    for (GList *l = pool; l; l = l->next) {
        struct pooled *p = l->data;
        if (p->server == server) {
            if (--p->refs == 0) {
                pool = g_list_delete_link(pool, l);
                /* Under the lock: an element restarting on the same port must find the port
                 * free, not a server half shut down. */
                ezr_server_free(p->server);
                gone = p;
            } else if (owner) {
                p->kept = g_slist_prepend(p->kept, g_object_ref(owner));
            }
            break;
        }
    }
    g_mutex_unlock(&pool_lock);
    if (gone) {
        /* Outside the lock: the last unref finalizes an element. */
        g_slist_free_full(gone->kept, g_object_unref);
        pooled_free(gone);
    }
}

void ezr_server_pool_release(struct ezr_server *server)
{
    release(server, NULL);
}

void ezr_server_pool_release_failed(struct ezr_server *server, GObject *owner)
{
    release(server, owner);
}

gchar *ezr_server_pool_last_error(struct ezr_server *server)
{
    gchar *msg = NULL;
    g_mutex_lock(&pool_lock);
    for (GList *l = pool; l; l = l->next) {
        struct pooled *p = l->data;
        if (p->server == server) {
            g_mutex_lock(&p->error_lock);
            msg = g_strdup(p->last_error);
            g_mutex_unlock(&p->error_lock);
            break;
        }
    }
    g_mutex_unlock(&pool_lock);
    return msg;
}
