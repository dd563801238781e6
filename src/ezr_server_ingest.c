/* The server's registry of publish points (ezr_ingest.h): adding and removing them from the
 * application's threads, finding one for a publishing client, and their timeouts on the tick.
 * The registry changes under the server's lock; a point is freed on the reactor thread, after its
 * last op, so that no client holds it. */
#include <stdlib.h>
#include <string.h>

#include "ezr_error.h"
#include "ezr_ingest.h"
#include "ezr_server_priv.h"

static struct ezr_ingest *find_locked(struct ezr_server *s, const char *app, const char *key,
                                      size_t keylen)
{
    EZR_LIST_FOREACH_SAFE(it, nx, &s->ingests) {
        struct ezr_ingest *ing = EZR_CONTAINER_OF(it, struct ezr_ingest, registry_link);
        if (strcmp(ing->app, app) == 0 && strlen(ing->key) == keylen &&
            memcmp(ing->key, key, keylen) == 0)
            return ing;
    }
    return NULL;
}

struct ezr_ingest *ezr_server_find_ingest(struct ezr_server *s, const char *app, const char *key,
                                          size_t keylen)
{
    pthread_mutex_lock(&s->lock);
    struct ezr_ingest *ing = find_locked(s, app, key, keylen);
    pthread_mutex_unlock(&s->lock);
    return ing;
}

bool ezr_server_serves_app(struct ezr_server *s, const char *app)
{
    if (ezr_server_find_stream(s, app, NULL, 0))
        return true;
    bool found = false;
    pthread_mutex_lock(&s->lock);
    EZR_LIST_FOREACH_SAFE(it, nx, &s->ingests)
        if (strcmp(EZR_CONTAINER_OF(it, struct ezr_ingest, registry_link)->app, app) == 0) {
            found = true;
            break;
        }
    pthread_mutex_unlock(&s->lock);
    return found;
}

int ezr_server_add_ingest(struct ezr_server *s, const struct ezr_ingest_config *cfg,
                          struct ezr_ingest **out)
{
    struct ezr_ingest *ing;
    *out = NULL;
    int rc = ezr_ingest_new(cfg, &s->mailbox, &s->log, &ing);
    if (rc < 0)
        return rc;
    pthread_mutex_lock(&s->lock);
    if (find_locked(s, ing->app, ing->key, strlen(ing->key))) {
        pthread_mutex_unlock(&s->lock);
        ezr_ingest_free(ing);
        return EZR_EEXIST;
    }
    ezr_list_push_front(&s->ingests, &ing->registry_link);
    pthread_mutex_unlock(&s->lock);
    ezr_log(&s->log, EZR_LOG_INFO, "taking publishers on %s/%s", ing->app, ing->key);
    *out = ing;
    return 0;
}

/* The removal, run on the reactor: every earlier op of the point has run (the mailbox is a FIFO
 * and the point posts none once marked removed). */
struct remove_op {
    struct ezr_op op;
    struct ezr_server *s;
    struct ezr_ingest *ing;
    bool done;
};

static void run_remove(struct ezr_op *op)
{
    struct remove_op *r = (struct remove_op *)op;
    ezr_ingest_free(r->ing);
    pthread_mutex_lock(&r->s->lock);
    r->done = true;
    pthread_cond_broadcast(&r->s->cond);
    pthread_mutex_unlock(&r->s->lock);
}

void ezr_server_remove_ingest(struct ezr_server *s, struct ezr_ingest *ing)
{
    if (!ing)
        return;
    pthread_mutex_lock(&s->lock);
    ezr_list_remove(&ing->registry_link);
    pthread_mutex_unlock(&s->lock);
    ezr_ingest_mark_removed(ing);
    /* On our stack: we wait for it. */
    struct remove_op r = {.op.run = run_remove, .s = s, .ing = ing};
    ezr_mailbox_post(&s->mailbox, &r.op);
    pthread_mutex_lock(&s->lock);
    while (!r.done)
        pthread_cond_wait(&s->cond, &s->lock);
    pthread_mutex_unlock(&s->lock);
}

/* A silent publisher is closed without the server's lock: its close tells the application
 * (client-removed), whose handler may call into the server. A point found stays valid once the
 * lock is dropped: points are freed only on this thread. */
void ezr_server_tick_ingests(struct ezr_server *s, uint64_t now)
{
    for (;;) {
        struct ezr_client *c = NULL;
        struct ezr_ingest *ing = NULL;
        pthread_mutex_lock(&s->lock);
        EZR_LIST_FOREACH_SAFE(it, nx, &s->ingests) {
            ing = EZR_CONTAINER_OF(it, struct ezr_ingest, registry_link);
            if ((c = ezr_ingest_timed_out(ing, now)))
                break;
        }
        pthread_mutex_unlock(&s->lock);
        if (!c)
            return;
        ezr_client_close(c, EZR_LOG_WARNING, EZR_CLOSE_TIMEOUT,
                         "publisher sent nothing within the timeout");
        if (ing->publisher == c) /* cannot be: its close detaches it (its protocol's closing) */
            return;
    }
}

void ezr_server_free_ingests(struct ezr_server *s)
{
    struct ezr_link *n;
    while ((n = ezr_list_pop_front(&s->ingests)))
        ezr_ingest_free(EZR_CONTAINER_OF(n, struct ezr_ingest, registry_link));
}
