/* One connection's I/O and lifecycle; see ezr_client.h. */
#include "ezr_client.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <unistd.h>

#include "ezr_alloc.h"
#include "ezr_clock.h"
#include "ezr_error.h"
#include "ezr_limits.h"
#include "ezr_net.h"

static void client_event(struct ezr_io *io, uint32_t events);

/* Tells a level-triggered reactor what c waits for now (the epoll backend ignores it). */
static void update_interest(struct ezr_client *c)
{
    uint32_t want =
        (c->input_paused || c->input_held ? 0 : c->conn.read_wants) | (c->write_blocked ? c->conn.write_wants : 0);
    if (want != c->interest && ezr_reactor_mod(c->set->reactor, &c->conn.io, want) == 0)
        c->interest = (uint8_t)want;
}

/* Writes of the flusher (ezr_flush.h). */
static void flush_entry(struct ezr_flush_entry *e)
{
    ezr_client_flush(EZR_CONTAINER_OF(e, struct ezr_client_out, flush)->client);
}

static void read_later(struct ezr_client *c);

/* c is written at the end of this round. Without memory even for its output side (its queue is
 * empty then), it is read next round instead, which writes it (ezr_client_read): what it is
 * written for then is closing it (failed, kicked or closing). */
static void flush_now(struct ezr_client *c)
{
    if (c->dead)
        return;
    struct ezr_client_out *o = ezr_client_out(c);
    if (o)
        ezr_flush_now(&c->set->flusher, &o->flush);
    else
        read_later(c);
}

/* The input tail (c->in): allocated, with its bytes, only while there is one. */
static size_t in_len(const struct ezr_client *c)
{
    return c->in ? c->in->len : 0;
}

static void in_free(struct ezr_client *c)
{
    if (c->in) {
        ezr_buf_free(c->in);
        free(c->in);
        c->in = NULL;
    }
}

/* Appends bytes to the tail (made now if there is none). False when out of memory: what the tail
 * held is incomplete then. */
static bool in_keep(struct ezr_client *c, const uint8_t *bytes, size_t len)
{
    if (!c->in) {
        if (!(c->in = ezr_malloc(sizeof *c->in)))
            return false;
        ezr_buf_init(c->in);
    }
    ezr_buf_append(c->in, bytes, len);
    return !ezr_buf_failed(c->in);
}

struct ezr_client_out *ezr_client_out(struct ezr_client *c)
{
    if (c->out)
        return c->out;
    struct ezr_client_out *o = ezr_calloc(1, sizeof *o);
    if (!o)
        return NULL;
    o->proto = c->proto;
    o->set = c->set;
    o->client = c;
    o->progress_ms = ezr_now_ms();
    ezr_queue_init(&o->q);
    c->out = o;
    return o;
}

static void out_free(struct ezr_client *c)
{
    struct ezr_client_out *o = c->out;
    if (!o)
        return;
    ezr_flush_forget(&o->flush);
    ezr_queue_clear(&o->q);
    free(o);
    c->out = NULL;
}

/* Its queue is written: the output side goes, unless it plays or has played (what it keeps is
 * the player's: queue settings, counters) or its settings are not a new queue's. */
static void out_release(struct ezr_client *c)
{
    const struct ezr_client_out *o = c->out;
    if (o && !o->played && !c->stream && ezr_queue_empty(&o->q) && o->q.want_audio &&
        o->q.want_video && !o->q.paused)
        out_free(c);
}

void ezr_client_set_init(struct ezr_client_set *set, int32_t flush_interval_ms)
{
    *set = (struct ezr_client_set){0};
    ezr_flush_init(&set->flusher, flush_interval_ms, flush_entry);
    ezr_list_init(&set->open);
    ezr_list_init(&set->dead);
    ezr_list_init(&set->readable);
}

struct ezr_client *ezr_client_new(struct ezr_client_set *set, int fd,
                                  const char *addr, const struct ezr_transport *transport,
                                  void *transport_state, const struct ezr_client_proto *proto)
{
    size_t addr_len = strnlen(addr, EZR_ADDR_STRLEN - 1);
    /* The address's text at the end, in what would be the struct's tail padding first. */
    size_t size = offsetof(struct ezr_client, addr) + addr_len + 1;
    struct ezr_client *c = ezr_calloc(1, size > sizeof *c ? size : sizeof *c);
    if (!c) {
        close(fd);
        return NULL;
    }
    c->conn.io.fd = fd;
    c->conn.io.fn = client_event;
    c->conn.transport = transport;
    c->conn.transport_state = transport_state;
    c->conn.read_wants = EZR_IO_READ;
    c->conn.write_wants = EZR_IO_WRITE;
    c->conn.id = ++set->next_id;
    memcpy(c->addr, addr, addr_len); /* NUL-terminated by calloc */
    c->conn.addr = c->addr;
    c->set = set;
    c->proto = proto;
    c->accepted_ms = c->idle_since_ms = ezr_now_ms();
    if (proto->open(c) < 0) {
        close(fd);
        free(c);
        return NULL;
    }
    c->interest = EZR_IO_READ | EZR_IO_WRITE;
    if (ezr_reactor_add(set->reactor, &c->conn.io, c->interest) < 0) {
        close(fd);
        c->proto->close(c);
        free(c);
        return NULL;
    }
    ezr_list_push_back(&set->open, &c->conn_link);
    set->n++;
    update_interest(c);
    return c;
}

int ezr_client_set_proto(struct ezr_client *c, const struct ezr_client_proto *proto)
{
    c->proto->close(c);
    c->proto_state = NULL;
    c->proto = proto;
    if (c->out)
        c->out->proto = proto;
    return proto->open(c);
}

void ezr_client_close(struct ezr_client *c, enum ezr_log_level level, enum ezr_close_reason code,
                      const char *reason)
{
    if (c->dead)
        return;
    struct ezr_client_set *set = c->set;
    ezr_log(set->log, level, "client %llu (%s) closed: %s", (unsigned long long)c->conn.id,
            c->conn.addr, reason);
    if (c->proto->closing)
        c->proto->closing(c, reason);
    /* First, while it is still whole: the stream counts it, takes it off its players and may
     * find its EOS drained without it. */
    if (c->stream)
        c->out->player->closed(c, code, reason);
    ezr_reactor_del(set->reactor, &c->conn.io);
    c->conn.transport->close(&c->conn); /* before the socket closes: TLS says close_notify */
    close(c->conn.io.fd);
    c->conn.io.fd = -1;
    c->dead = true;
    if (c->out)
        ezr_flush_forget(&c->out->flush);
    ezr_list_remove(&c->read_link);
    ezr_list_remove(&c->conn_link);
    ezr_list_push_back(&set->dead, &c->conn_link);
    set->n--;
}

void ezr_client_free(struct ezr_client *c)
{
    c->proto->close(c);
    out_free(c);
    in_free(c);
    free(c);
}

void ezr_client_send(struct ezr_client *c, const uint8_t *bytes, size_t len)
{
    struct ezr_client_out *o = ezr_client_out(c);
    if (!o || ezr_queue_push_bytes(&o->q, bytes, len, ezr_now_ms()) < 0)
        c->failed = true;
    flush_now(c);
}

void ezr_client_send_ref(struct ezr_client *c, struct ezr_frame *f, const uint8_t *bytes, size_t len)
{
    struct ezr_client_out *o = ezr_client_out(c);
    if (!o || ezr_queue_push_ref(&o->q, f, bytes, len, ezr_now_ms()) < 0)
        c->failed = true;
    flush_now(c);
}

void ezr_client_send_media_ref(struct ezr_client *c, struct ezr_frame *f, const uint8_t *bytes,
                               size_t len)
{
    uint64_t now = ezr_now_ms();
    struct ezr_client_out *o = ezr_client_out(c);
    if (!o || ezr_queue_push_ref(&o->q, f, bytes, len, now) < 0) {
        c->failed = true;
        flush_now(c);
        return;
    }
    if (c->dead)
        return;
    /* Not a player's queue: no keyframe awaited, and in auto nothing waits (the muxer already puts
     * the audio after the video it rides with). Nor does it wait for a sweep: what the sweep's
     * spacing saves in writes the end of the part pays for, writing it all at once to every
     * viewer (at 500 viewers on a loaded machine the last viewer had the part about 20 ms
     * later). With an interval in ms it waits as a player's media does. */
    struct ezr_flusher *fl = &c->set->flusher;
    if (ezr_flush_may_wait(fl, f, false, &o->q, false))
        ezr_flush_media(fl, &o->flush, true, o->q.bytes, f->pushed_us ? f->pushed_us / 1000u : now,
                        now);
    else
        flush_now(c);
}

void ezr_client_fail(struct ezr_client *c)
{
    c->failed = true;
    flush_now(c);
}

/* Touches out and what it points at in common with every player (its protocol's table, the
 * set's flusher), never the client itself but to close it: a player on the fan is open (closing
 * takes it off first). */
void ezr_client_offer(struct ezr_client_out *out, struct ezr_frame *f,
                      const struct ezr_client_offer *o)
{
    const struct ezr_queue_limits *limits = o->limits;
    uint64_t now = o->now;
    uint32_t flags = o->flags;
    /* A player that reads, however slowly, skips ahead past what has aged; one that reads
     * nothing at all is left to the byte tiers and client-timeout, which cut it. */
    size_t shed = ezr_elapsed(now, out->progress_ms) < limits->max_age_ms
                      ? ezr_queue_shed(&out->q, limits, now)
                      : 0;
    if (shed) {
        out->frames_dropped += shed;
        o->dropped[EZR_QUEUE_HIGH] += shed;
    }
    const struct ezr_frame_view *v;
    int made = ezr_frame_view(f, out->proto->view, out->proto->make_view, NULL, &v);
    if (made < 0) {
        ezr_client_close(out->client, EZR_LOG_WARNING, EZR_CLOSE_SERVER, "out of memory");
        return;
    }
    if (made)
        (*o->copies)++;
    enum ezr_queue_level level;
    bool awaited_key = out->q.need_keyframe; /* a frame that starts the player is not held */
    struct ezr_flusher *fl = &out->set->flusher;
    switch (ezr_queue_offer(&out->q, f, v->bytes, v->len, limits, now, flags, &level)) {
    case EZR_QUEUE_QUEUED:
        if (flags & EZR_OFFER_BURST)
            ezr_flush_now(fl, &out->flush); /* a joiner starts at once */
        else
            ezr_flush_media(fl, &out->flush,
                            ezr_flush_may_wait(fl, f, o->has_video, &out->q, awaited_key),
                            out->q.bytes, o->pushed_ms, now);
        break;
    case EZR_QUEUE_DROPPED:
        out->frames_dropped++;
        if (level < EZR_QUEUE_CRITICAL)
            o->dropped[level]++;
        break;
    case EZR_QUEUE_OVERFLOW:
        ezr_client_close(out->client, EZR_LOG_WARNING, EZR_CLOSE_SLOW,
                         "write queue over its limit (player too slow)");
        break;
    }
}

void ezr_client_close_after_flush(struct ezr_client *c, enum ezr_close_reason code)
{
    c->closing = true;
    c->close_code = (uint8_t)code;
    flush_now(c);
}

void ezr_client_kick(struct ezr_client *c)
{
    c->kicked = true;
    flush_now(c);
}

/* Input is read again next round: what is left in the socket (edge-triggered: no new event
 * would come for it). */
static void read_later(struct ezr_client *c)
{
    if (!ezr_link_linked(&c->read_link))
        ezr_list_push_back(&c->set->readable, &c->read_link);
}

/* Replies are written: the peer may ask for more, and the protocol may take what it left (a
 * protocol that cannot yet consumes nothing again). A drained socket with no input left is not
 * read: its next bytes come with an event (an answered LL-HLS request costs no empty read). */
static void resume_input(struct ezr_client *c)
{
    c->feed_pending = in_len(c) > 0;
    c->input_paused = false;
    update_interest(c);
    if (!c->input_held && (c->feed_pending || !c->drained))
        read_later(c);
}

/* A frame the kernel took whole: how long since it was pushed (a joiner's cached frames were
 * pushed long before it came, and restamped headers were not pushed at all). */
struct sent_ctx {
    struct ezr_meter *meter;
    uint64_t now_us;
};

static void frame_sent(void *ctx, const struct ezr_queue_item *it)
{
    const struct sent_ctx *sc = ctx;
    if (it->frame && it->frame->pushed_us && !it->burst && sc->now_us >= it->frame->pushed_us)
        ezr_meter_send_latency(sc->meter, sc->now_us - it->frame->pushed_us);
}

void ezr_client_flush(struct ezr_client *c)
{
    if (c->failed) { /* a reply is missing: what follows it would make no sense to the peer */
        ezr_client_close(c, EZR_LOG_WARNING, EZR_CLOSE_SERVER, "out of memory");
        return;
    }
    if (c->kicked) {
        ezr_client_close(c, EZR_LOG_INFO, EZR_CLOSE_REMOVED, "removed by the application");
        return;
    }
    /* Bytes the transport took but holds (a TLS record the socket had no room for) must go out
     * too, even when the queue is empty (or there is none). */
    struct ezr_client_out *o = c->out;
    while (!c->dead && ((o && !ezr_queue_empty(&o->q)) || c->conn.transport->holds_output(&c->conn))) {
        struct iovec iov[EZR_WRITEV_MAX];
        int n = o ? ezr_queue_iov(&o->q, iov, EZR_WRITEV_MAX) : 0;
        const char *why = NULL;
        ssize_t w = c->conn.transport->writev(&c->conn, iov, n, &why);
        if (w == EZR_EAGAIN) {
            c->write_blocked = true; /* the reactor reports when it may go on */
            update_interest(c);
            return;
        }
        if (w < 0) {
            /* Out of memory is ours, not the player's doing (TLS keeping a blocked record). */
            ezr_client_close(c, w == EZR_EPROTO || w == EZR_ENOMEM ? EZR_LOG_WARNING : EZR_LOG_INFO,
                             w == EZR_EPROTO   ? EZR_CLOSE_PROTOCOL
                             : w == EZR_ENOMEM ? EZR_CLOSE_SERVER
                                               : EZR_CLOSE_PLAYER,
                             why);
            return;
        }
        if (w == 0 && n > 0)
            break; /* cannot happen: a transport takes something or says EAGAIN */
        if (!o)
            continue; /* the transport's own bytes (a TLS record it held) */
        struct sent_ctx sc = {c->set->meter, ezr_now_us()};
        ezr_queue_advance_report(&o->q, (size_t)w, frame_sent, &sc);
        o->progress_ms = sc.now_us / 1000u;
        if (c->stream)
            o->player->sent(c, (uint64_t)w);
    }
    if (c->dead)
        return;
    if (c->closing) {
        ezr_client_close(c, EZR_LOG_INFO, c->close_code,
                         c->close_reason ? c->close_reason : "closing");
        return;
    }
    c->write_blocked = false;
    update_interest(c);
    if (c->input_paused)
        resume_input(c);
    if (c->stream)
        o->player->written(c);
    else
        out_release(c);
}

/* Feeds the protocol data[0..len), which is c->in's when c has an input tail; keeps what it did
 * not consume as the tail. Returns false when c was closed or is to be closed now (the caller
 * stops reading). */
static bool feed(struct ezr_client *c, const uint8_t *data, size_t len)
{
    int rc = c->proto->feed(c, data, len);
    if (c->failed || rc == EZR_ENOMEM || rc == EZR_ESYS) {
        ezr_client_close(c, EZR_LOG_WARNING, EZR_CLOSE_SERVER,
                         rc == EZR_ESYS && c->close_reason ? c->close_reason : "out of memory");
        return false;
    }
    if (c->dead)
        return false;
    if (rc == EZR_ECLOSED) {
        in_free(c);
        ezr_client_close_after_flush(c, EZR_CLOSE_PROTOCOL);
        return true;
    }
    if (rc < 0) {
        ezr_client_close(c, EZR_LOG_WARNING, EZR_CLOSE_PROTOCOL,
                         c->close_reason ? c->close_reason : ezr_strerror(rc));
        return false;
    }
    /* A tail that could not be kept is lost input: the peer may wait for the answer to what it
     * held (a publisher's unpublish) and send nothing more that would show it. */
    if (in_len(c))
        ezr_buf_consume(c->in, (size_t)rc);
    else if ((size_t)rc < len && !in_keep(c, data + rc, len - (size_t)rc)) {
        ezr_client_close(c, EZR_LOG_WARNING, EZR_CLOSE_SERVER, "out of memory");
        return false;
    }
    if (in_len(c) == 0)
        in_free(c);
    return true;
}

void ezr_client_pause_input(struct ezr_client *c)
{
    c->input_paused = true;
    update_interest(c);
}

void ezr_client_hold_input(struct ezr_client *c)
{
    c->input_held = true;
    update_interest(c);
}

void ezr_client_resume_input(struct ezr_client *c)
{
    c->input_held = false;
    resume_input(c);
}

/* Reads into the server's one read buffer and feeds the protocol from there; only an incomplete
 * tail (part of a chunk) is kept per client, in c->in, and freed once used: a player that sends
 * nothing but acknowledgements holds no input buffer.
 *
 * Bounded four ways: nothing is read while the replies already queued are
 * EZR_MAX_QUEUED_REPLY_BYTES or more; no read asks for more than the room left below that (so a
 * peer that asks and never reads cannot make us write without limit); at most EZR_READ_BUDGET
 * bytes per call (one fast sender cannot hold the reactor), and at most EZR_ROUND_READ_BUDGET
 * from all clients in one reactor round (a thousand senders cannot either), the rest waiting
 * for the next round. */
void ezr_client_read(struct ezr_client *c)
{
    struct ezr_client_set *s = c->set;
    size_t budget = EZR_READ_BUDGET;
    /* To be written and nothing to write it with (flush_now found no memory): closed now. */
    if (!c->out && (c->failed || c->kicked || c->closing)) {
        ezr_client_flush(c);
        return;
    }
    /* What the protocol left unconsumed while it could not take it, before anything new. */
    if (c->feed_pending) {
        c->feed_pending = false;
        if (in_len(c) && !c->closing && !feed(c, c->in->data, c->in->len))
            return;
    }
    for (;;) {
        if (c->dead || c->input_held)
            return;
        size_t owned = c->out ? c->out->q.owned_bytes : 0;
        if (owned >= EZR_MAX_QUEUED_REPLY_BYTES && !c->closing) {
            c->input_paused = true;
            update_interest(c);
            return;
        }
        if (c->drained) { /* nothing there: the reactor reports what comes */
            update_interest(c);
            return;
        }
        if (budget == 0 || s->round_read >= EZR_ROUND_READ_BUDGET) {
            read_later(c);
            return;
        }
        /* No more input than replies may still be queued: a reply is about the size of its
         * request (a ping, a getStreamLength), so one read cannot queue far past the bound. */
        size_t room = owned < EZR_MAX_QUEUED_REPLY_BYTES ? EZR_MAX_QUEUED_REPLY_BYTES - owned : 0;
        if (room < EZR_MIN_READ)
            room = EZR_MIN_READ;
        size_t want = budget < room ? budget : room;
        if (want > EZR_READ_BUF)
            want = EZR_READ_BUF;
        const char *why = NULL;
        ssize_t n = c->conn.transport->read(&c->conn, s->rbuf, want, &why);
        /* Plain TCP that came back short, or EAGAIN, took all there was: the next read waits for
         * the next event, unless the peer's FIN or an error was reported, which only a read to
         * the end (0) shows. The transport asked is the one after the read (TLS detection hands
         * over inside it). */
        if (c->conn.transport->short_read_drains &&
            (n == EZR_EAGAIN || (n > 0 && (size_t)n < want && !c->peer_hup)))
            c->drained = true;
        /* Until it plays, a peer waits on our replies, and one with Nagle on (ffmpeg's RTMP,
         * so ffplay and mpv; GStreamer's rtmp2src) holds its next small write until what it
         * sent is acknowledged. The kernel would delay that ACK 40 ms hoping to ride on a reply,
         * and no reply comes to C2 or to part of a command: ffmpeg lost 40 ms before each reply to
         * connect, createStream and play. EZR_EAGAIN too: TLS may have read handshake bytes and
         * have no data yet. */
        if (c->proto->ack_each_read && !c->stream && !c->publishing && (n > 0 || n == EZR_EAGAIN))
            ezr_net_ack_now(c->conn.io.fd);
        if (n == 0) {
            ezr_client_close(c, EZR_LOG_INFO, EZR_CLOSE_PLAYER, "player disconnected");
            return;
        }
        if (n == EZR_EAGAIN) { /* the reactor reports more (TLS may wait to write first) */
            update_interest(c);
            return;
        }
        if (n < 0) {
            if (n == EZR_EPROTO)
                ezr_client_close(c, EZR_LOG_WARNING, EZR_CLOSE_PROTOCOL, why);
            else if (n == EZR_ENOMEM)
                ezr_client_close(c, EZR_LOG_WARNING, EZR_CLOSE_SERVER, "out of memory");
            else
                ezr_client_close(c, EZR_LOG_INFO, EZR_CLOSE_PLAYER, why);
            return;
        }
        budget -= (size_t)n;
        s->round_read += (size_t)n;
        if (c->closing) /* a final reply is on its way: the rest is not read */
            continue;
        const uint8_t *data = s->rbuf;
        size_t len = (size_t)n;
        if (in_len(c)) {
            if (!in_keep(c, s->rbuf, len)) {
                ezr_client_close(c, EZR_LOG_WARNING, EZR_CLOSE_SERVER, "out of memory");
                return;
            }
            data = c->in->data;
            len = c->in->len;
        }
        if (!feed(c, data, len))
            return;
    }
}

static void client_event(struct ezr_io *io, uint32_t events)
{
    struct ezr_client *c = EZR_CONTAINER_OF(io, struct ezr_client, conn.io);
    if (c->dead)
        return;
    /* A connection whose input waits (a publisher whose queue is full) and that failed: it can
     * never be read to its end, and its publish point must be free for it to come back. One the
     * peer shut down in order is read to its end once its input resumes. */
    if ((events & EZR_IO_HUP) && c->input_held && ezr_net_failed(c->conn.io.fd)) {
        char why[96];
        snprintf(why, sizeof why, "connection reset while its input waited (%zu bytes unread)",
                 ezr_net_unread(c->conn.io.fd));
        ezr_client_close(c, EZR_LOG_INFO, EZR_CLOSE_PLAYER, why);
        return;
    }
    /* Told even while input waits: the socket has something again, to be read when it
     * resumes. */
    if (events & EZR_IO_HUP)
        c->peer_hup = true;
    if (events & (c->conn.read_wants | EZR_IO_HUP))
        c->drained = false;
    if ((events & (c->conn.read_wants | EZR_IO_HUP)) && !c->input_paused && !c->input_held)
        ezr_client_read(c);
    /* Only a blocked write is resumed: media held for the player's next video frame stays held. */
    if (!c->dead && (events & c->conn.write_wants) && c->write_blocked)
        ezr_client_flush(c);
}
