/* One connection's I/O and lifecycle; see ezr_client.h. */
#include "ezr_client.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <unistd.h>

#include "ezr_clock.h"
#include "ezr_error.h"
#include "ezr_server_priv.h"
#include "ezr_stream.h"

static void client_event(struct ezr_io *io, uint32_t events);

struct ezr_client *ezr_client_new(struct ezr_server *s, int fd, const char *addr,
                                  const struct ezr_client_proto *proto)
{
    struct ezr_client *c = calloc(1, sizeof *c);
    if (!c) {
        close(fd);
        return NULL;
    }
    c->io.fd = fd;
    c->io.fn = client_event;
    c->srv = s;
    c->proto = proto;
    c->id = ++s->next_id;
    c->accepted_ms = c->progress_ms = ezr_now_ms();
    snprintf(c->addr, sizeof c->addr, "%s", addr);
    ezr_queue_init(&c->q);
    ezr_buf_init(&c->in);
    if (proto->open(c) < 0) {
        close(fd);
        free(c);
        return NULL;
    }
    if (ezr_reactor_add(s->reactor, &c->io, EZR_IO_READ | EZR_IO_WRITE) < 0) {
        close(fd);
        c->proto->close(c);
        free(c);
        return NULL;
    }
    ezr_list_push_back(&s->clients, &c->conn_link);
    s->nclients++;
    return c;
}

void ezr_client_close(struct ezr_client *c, enum ezr_log_level level, enum ezr_close_reason code,
                      const char *reason)
{
    if (c->dead)
        return;
    struct ezr_server *s = c->srv;
    struct ezr_stream *st = c->stream;
    ezr_server_log(s, level, "client %llu (%s) closed: %s", (unsigned long long)c->id, c->addr,
                   reason);
    if (st)
        ezr_stream_count_disconnect(st, code);
    ezr_stream_remove_player(c, reason);
    ezr_reactor_del(s->reactor, &c->io);
    close(c->io.fd);
    c->io.fd = -1;
    c->dead = true;
    ezr_flush_forget(c);
    ezr_list_remove(&c->conn_link);
    ezr_list_push_back(&s->dead, &c->conn_link);
    s->nclients--;
    if (st)
        ezr_stream_check_drained(st);
}

void ezr_client_free(struct ezr_client *c)
{
    c->proto->close(c);
    ezr_queue_clear(&c->q);
    ezr_buf_free(&c->in);
    free(c);
}

void ezr_client_send(struct ezr_client *c, const uint8_t *bytes, size_t len)
{
    if (ezr_queue_push_bytes(&c->q, bytes, len) < 0)
        c->failed = true;
    ezr_flush_now(&c->srv->flusher, c);
}

void ezr_client_offer(struct ezr_client *c, struct ezr_frame *f)
{
    enum ezr_queue_level level = ezr_queue_level(&c->q, &c->srv->qlimits);
    const uint8_t *bytes;
    size_t len;
    c->proto->frame_bytes(f, &bytes, &len);
    switch (ezr_queue_offer(&c->q, f, bytes, len, &c->srv->qlimits)) {
    case EZR_QUEUE_QUEUED:
        ezr_flush_media(&c->srv->flusher, c);
        break;
    case EZR_QUEUE_DROPPED:
        c->frames_dropped++;
        if (c->stream && level < EZR_QUEUE_CRITICAL)
            ezr_stream_count_drop(c->stream, level);
        break;
    case EZR_QUEUE_OVERFLOW:
        ezr_client_close(c, EZR_LOG_WARNING, EZR_CLOSE_SLOW,
                         "write queue over its limit (player too slow)");
        break;
    }
}

void ezr_client_close_after_flush(struct ezr_client *c, enum ezr_close_reason code)
{
    c->closing = true;
    c->close_code = code;
    ezr_flush_now(&c->srv->flusher, c);
}

void ezr_client_flush(struct ezr_client *c)
{
    if (c->kicked) {
        ezr_client_close(c, EZR_LOG_INFO, EZR_CLOSE_REMOVED, "removed by the application");
        return;
    }
    while (!c->dead && !ezr_queue_empty(&c->q)) {
        struct iovec iov[EZR_WRITEV_MAX];
        int n = ezr_queue_iov(&c->q, iov, EZR_WRITEV_MAX);
        ssize_t w = writev(c->io.fd, iov, n);
        if (w < 0) {
            if (errno == EAGAIN || errno == EWOULDBLOCK)
                return; /* the reactor reports WRITE when the socket takes more */
            if (errno == EINTR)
                continue;
            ezr_client_close(c, EZR_LOG_INFO, EZR_CLOSE_PLAYER,
                             errno == EPIPE || errno == ECONNRESET ? "connection reset by player"
                                                                   : "write error");
            return;
        }
        ezr_queue_advance(&c->q, (size_t)w);
        c->progress_ms = ezr_now_ms();
        if (c->stream)
            ezr_stream_count_sent(c->stream, (uint64_t)w);
    }
    if (c->dead)
        return;
    if (c->closing) {
        ezr_client_close(c, EZR_LOG_INFO, c->close_code,
                         c->close_reason ? c->close_reason : "closing");
        return;
    }
    if (c->stream)
        ezr_stream_check_drained(c->stream);
}

/* Reads into the server's one read buffer and feeds the protocol from there; only an incomplete
 * tail (part of a chunk) is kept per client, in c->in, and freed once used: a player that sends
 * nothing but acknowledgements holds no input buffer. */
static void client_read(struct ezr_client *c)
{
    struct ezr_server *s = c->srv;
    for (;;) {
        ssize_t n = read(c->io.fd, s->rbuf, EZR_READ_BUF);
        if (n == 0) {
            ezr_client_close(c, EZR_LOG_INFO, EZR_CLOSE_PLAYER, "player disconnected");
            return;
        }
        if (n < 0) {
            if (errno == EINTR)
                continue;
            if (errno == ECONNRESET)
                ezr_client_close(c, EZR_LOG_INFO, EZR_CLOSE_PLAYER, "connection reset by player");
            else if (errno != EAGAIN && errno != EWOULDBLOCK)
                ezr_client_close(c, EZR_LOG_INFO, EZR_CLOSE_PLAYER, "read error");
            return;
        }
        if (c->closing) /* a final reply is on its way: the rest is not read */
            continue;
        const uint8_t *data = s->rbuf;
        size_t len = (size_t)n;
        if (c->in.len) {
            ezr_buf_append(&c->in, s->rbuf, len);
            data = c->in.data;
            len = c->in.len;
        }
        int rc = ezr_buf_failed(&c->in) ? EZR_ENOMEM : c->proto->feed(c, data, len);
        if (c->failed || rc == EZR_ENOMEM) {
            ezr_client_close(c, EZR_LOG_WARNING, EZR_CLOSE_SERVER, "out of memory");
            return;
        }
        if (c->dead)
            return;
        if (rc == EZR_ECLOSED) {
            ezr_buf_free(&c->in);
            ezr_client_close_after_flush(c, EZR_CLOSE_PROTOCOL);
            continue;
        }
        if (rc < 0) {
            ezr_client_close(c, EZR_LOG_WARNING, EZR_CLOSE_PROTOCOL,
                             c->close_reason ? c->close_reason : ezr_strerror(rc));
            return;
        }
        if (c->in.len)
            ezr_buf_consume(&c->in, (size_t)rc);
        else if ((size_t)rc < len)
            ezr_buf_append(&c->in, s->rbuf + rc, len - (size_t)rc);
        if (c->in.len == 0)
            ezr_buf_free(&c->in);
    }
}

static void client_event(struct ezr_io *io, uint32_t events)
{
    struct ezr_client *c = (struct ezr_client *)io;
    if (c->dead)
        return;
    if (events & (EZR_IO_READ | EZR_IO_HUP))
        client_read(c);
    if (!c->dead && (events & EZR_IO_WRITE))
        ezr_client_flush(c);
}
