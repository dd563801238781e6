/* Write scheduling; see ezr_flush.h. */
#include "ezr_flush.h"

#include "ezr_client.h"
#include "ezr_clock.h"
#include "ezr_limits.h"

void ezr_flush_init(struct ezr_flusher *fl, uint32_t interval_ms)
{
    ezr_list_init(&fl->now);
    ezr_list_init(&fl->later);
    ezr_list_init(&fl->sweep);
    fl->later_due_ms = 0;
    fl->interval_ms = interval_ms;
}

void ezr_flush_now(struct ezr_flusher *fl, struct ezr_client *c)
{
    if (!c->dead && !ezr_link_linked(&c->dirty_link))
        ezr_list_push_back(&fl->now, &c->dirty_link);
}

void ezr_flush_media(struct ezr_flusher *fl, struct ezr_client *c)
{
    if (!fl->interval_ms || c->q.bytes >= EZR_FLUSH_BYTES) {
        ezr_flush_now(fl, c);
        return;
    }
    /* Already waiting, in later or in the sweep: the write to come takes this frame too. */
    if (c->dead || ezr_link_linked(&c->media_link))
        return;
    if (ezr_list_empty(&fl->later))
        fl->later_due_ms = ezr_now_ms() + fl->interval_ms;
    ezr_list_push_back(&fl->later, &c->media_link);
}

void ezr_flush_forget(struct ezr_client *c)
{
    ezr_list_remove(&c->dirty_link);
    ezr_list_remove(&c->media_link);
}

int ezr_flush_timeout(const struct ezr_flusher *fl, int max_ms)
{
    if (!ezr_list_empty(&fl->sweep) || !ezr_list_empty(&fl->now))
        return 0;
    if (ezr_list_empty(&fl->later))
        return max_ms;
    uint64_t now = ezr_now_ms();
    if (fl->later_due_ms <= now)
        return 0;
    uint64_t wait = fl->later_due_ms - now;
    return wait < (uint64_t)max_ms ? (int)wait : max_ms;
}

void ezr_flush_run(struct ezr_flusher *fl, bool all)
{
    struct ezr_link *n;
    while ((n = ezr_list_pop_front(&fl->now)))
        ezr_client_flush(EZR_CONTAINER_OF(n, struct ezr_client, dirty_link));
    for (unsigned i = 0; all || i < EZR_FLUSH_BATCH; i++) {
        if (ezr_list_empty(&fl->sweep) && !ezr_list_empty(&fl->later) &&
            (all || ezr_now_ms() >= fl->later_due_ms))
            ezr_list_splice_back(&fl->sweep, &fl->later);
        if (!(n = ezr_list_pop_front(&fl->sweep)))
            break;
        ezr_client_flush(EZR_CONTAINER_OF(n, struct ezr_client, media_link));
    }
}
