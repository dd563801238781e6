/* The process-wide pool of shared servers; see ezrserverpool.h. */
#include "ezrserverpool.h"

struct pooled {
    gchar *host;
    guint port; /* as asked for; 0 entries are never matched */
    struct ezr_server *server;
    guint refs;
};

static GMutex pool_lock;
static GList *pool; /* of struct pooled */

struct ezr_server *ezr_server_pool_acquire(const struct ezr_server_config *cfg, int *err)
{
    struct ezr_server *server = NULL;
    g_mutex_lock(&pool_lock);
    for (GList *l = pool; l && cfg->port != 0; l = l->next) {
        struct pooled *p = l->data;
        if (p->port == cfg->port && g_strcmp0(p->host, cfg->host) == 0) {
            p->refs++;
            server = p->server;
            break;
        }
    }
    if (!server) {
        /* Started under the lock, so two elements asking for the same port at once get one. */
        *err = ezr_server_new(cfg, &server);
        if (*err == 0) {
            struct pooled *p = g_new0(struct pooled, 1);
            p->host = g_strdup(cfg->host);
            p->port = cfg->port;
            p->server = server;
            p->refs = 1;
            pool = g_list_prepend(pool, p);
        }
    }
    g_mutex_unlock(&pool_lock);
    return server;
}

void ezr_server_pool_release(struct ezr_server *server)
{
    g_mutex_lock(&pool_lock);
    for (GList *l = pool; l; l = l->next) {
        struct pooled *p = l->data;
        if (p->server == server) {
            if (--p->refs == 0) {
                pool = g_list_delete_link(pool, l);
                /* Under the lock: an element restarting on the same port must find the port
                 * free, not a server half shut down. */
                ezr_server_free(p->server);
                g_free(p->host);
                g_free(p);
            }
            break;
        }
    }
    g_mutex_unlock(&pool_lock);
}
