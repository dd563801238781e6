/* The tests' RTMP player: see rtmp_test_player.h. */
#include "rtmp_test_player.h"
#include "rtmp_test_cmd.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "ezr_amf0.h"
#include "ezr_error.h"
#include "ezr_handshake.h"
#include "ezr_limits.h"
#include "ezr_proto.h"

uint64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

int dial(uint16_t port, int rcvbuf)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    if (rcvbuf > 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(fd, (struct sockaddr *)&a, sizeof a) < 0) {
        close(fd);
        return -1;
    }
    return fd;
}

ssize_t read_full(int fd, uint8_t *p, size_t n, uint64_t deadline)
{
    size_t got = 0;
    while (got < n) {
        int left = (int)(deadline > mono_ms() ? deadline - mono_ms() : 0);
        struct pollfd pfd = {fd, POLLIN, 0};
        if (poll(&pfd, 1, left) <= 0)
            return -1;
        ssize_t r = read(fd, p + got, n - got);
        if (r == 0)
            return 0;
        if (r < 0)
            return -1;
        got += (size_t)r;
    }
    return (ssize_t)got;
}

static int on_msg(void *ctx, const struct ezr_chunk_msg *m)
{
    struct player *p = ctx;
    if (p->qlen == PENDING_MAX)
        return EZR_ELIMIT;
    struct pending *e = &p->q[(p->qhead + p->qlen++) % PENDING_MAX];
    e->type = m->type;
    e->ts = m->timestamp;
    e->len = m->length;
    e->payload = malloc(m->length ? m->length : 1);
    memcpy(e->payload, m->payload, m->length);
    return 0;
}

int next_msg(struct player *p, uint64_t deadline)
{
    while (p->qlen == 0) {
        uint8_t buf[16384];
        int left = (int)(deadline > mono_ms() ? deadline - mono_ms() : 0);
        struct pollfd pfd = {p->fd, POLLIN, 0};
        if (poll(&pfd, 1, left) <= 0)
            return -1;
        ssize_t r = read(p->fd, buf, sizeof buf);
        if (r <= 0)
            return -1;
        ezr_buf_append(&p->in, buf, (size_t)r);
        int used = ezr_chunk_reader_feed(&p->r, p->in.data, p->in.len, on_msg, p);
        if (used < 0)
            return -1;
        ezr_buf_consume(&p->in, (size_t)used);
    }
    struct pending *e = &p->q[p->qhead];
    p->qhead = (p->qhead + 1) % PENDING_MAX;
    p->qlen--;
    p->type = e->type;
    p->ts = e->ts;
    p->len = e->len < sizeof p->payload ? e->len : sizeof p->payload;
    memcpy(p->payload, e->payload, p->len);
    free(e->payload);
    return 0;
}

void send_cmd(struct player *p, uint32_t msid, const char *name, double txid,
                     const char *app, const char *arg)
{
    struct ezr_buf b, out;
    ezr_buf_init(&b);
    ezr_buf_init(&out);
    rtmp_test_put_cmd(&b, name, txid, app, NULL, arg);
    ezr_chunk_writer_write(&p->w, &out, 3, 0, EZR_MSG_COMMAND_AMF0, msid, b.data, b.len);
    ssize_t w = write(p->fd, out.data, out.len);
    (void)w;
    ezr_buf_free(&b);
    ezr_buf_free(&out);
}

int player_handshake(struct player *p, uint16_t port, int rcvbuf, uint64_t deadline)
{
    memset(p, 0, sizeof *p);
    ezr_chunk_reader_init(&p->r, &(struct ezr_chunk_limits){1 << 24, 64});
    ezr_chunk_writer_init(&p->w, EZR_PROTO_CHUNK_SIZE);
    ezr_buf_init(&p->in);
    p->fd = dial(port, rcvbuf);
    if (p->fd < 0)
        return -1;
    uint8_t random[EZR_HANDSHAKE_SIZE] = {1, 2, 3};
    struct ezr_handshake_client hc;
    struct ezr_buf out;
    ezr_buf_init(&out);
    ezr_handshake_client_start(&hc, true, 0, random, &out);
    uint8_t s[1 + 2 * EZR_HANDSHAKE_SIZE];
    int ok = write(p->fd, out.data, out.len) == (ssize_t)out.len &&
             read_full(p->fd, s, sizeof s, deadline) == (ssize_t)sizeof s;
    ezr_buf_reset(&out);
    ok = ok && ezr_handshake_client_finish(&hc, s, &out) == 0 &&
         write(p->fd, out.data, out.len) == (ssize_t)out.len;
    ezr_buf_free(&out);
    return ok ? 0 : -1;
}

int player_open(struct player *p, uint16_t port, const char *app, const char *name, int rcvbuf)
{
    if (player_handshake(p, port, rcvbuf, mono_ms() + DEADLINE_MS) < 0)
        return -1;
    send_cmd(p, 0, "connect", 1, app, NULL);
    send_cmd(p, 0, "createStream", 2, NULL, NULL);
    if (name)
        send_cmd(p, 1, "play", 0, NULL, name);
    return 0;
}

void player_close(struct player *p)
{
    if (p->fd >= 0)
        close(p->fd);
    for (; p->qlen; p->qlen--, p->qhead = (p->qhead + 1) % PENDING_MAX)
        free(p->q[p->qhead].payload);
    ezr_chunk_reader_free(&p->r);
    ezr_chunk_writer_free(&p->w);
    ezr_buf_free(&p->in);
}

int next_media(struct player *p, uint64_t deadline)
{
    while (next_msg(p, deadline) == 0)
        if (p->type == EZR_MSG_VIDEO || p->type == EZR_MSG_AUDIO || p->type == EZR_MSG_DATA_AMF0)
            return 0;
    return -1;
}

int play_rcvbuf(uint16_t port, int rcvbuf)
{
    struct player *p = malloc(sizeof *p);
    uint64_t deadline = mono_ms() + DEADLINE_MS;
    bool ok = p && player_open(p, port, "live", "stream", rcvbuf) == 0;
    while (ok && !(p->type == EZR_MSG_COMMAND_AMF0 &&
                   memmem(p->payload, p->len, "NetStream.Play.Start", 20)))
        ok = next_msg(p, deadline) == 0;
    int fd = -1;
    if (p) {
        if (ok) {
            fd = p->fd;
            p->fd = -1; /* handed to the caller */
        }
        player_close(p);
        free(p);
    }
    return fd;
}

int play(uint16_t port)
{
    return play_rcvbuf(port, 0);
}

bool closed_by_server(int fd, uint64_t deadline)
{
    uint8_t b[65536];
    ssize_t n;
    do {
        int left = (int)(deadline > mono_ms() ? deadline - mono_ms() : 0);
        struct pollfd pfd = {fd, POLLIN, 0};
        n = poll(&pfd, 1, left) == 1 ? read(fd, b, sizeof b) : -1;
    } while (n > 0);
    close(fd);
    return n == 0;
}
