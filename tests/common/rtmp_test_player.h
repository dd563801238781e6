/* A minimal RTMP player for the element's harness tests: it plays, then reads only what the
 * test asks for (a player that reads nothing is how a test holds the server's queues full).
 * Header-only; needs gstcheck (fail_unless) and the library's AMF0 and chunk writers. */
#ifndef RTMP_TEST_PLAYER_H
#define RTMP_TEST_PLAYER_H

#include <arpa/inet.h>
#include <gst/check/gstcheck.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include "ezr_amf0.h"
#include "ezr_chunk.h"

/* A player that gets as far as play: handshake, connect, createStream, play. Returns the socket
 * once the server answered the play, or -1. rcvbuf (bytes, 0 = the kernel's) is set before
 * connecting, so that a player that then reads nothing holds back little. */
static inline int play_rcvbuf(guint16 port, int rcvbuf)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (rcvbuf)
        setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(fd, (struct sockaddr *)&a, sizeof a) < 0) {
        close(fd);
        return -1;
    }
    struct ezr_buf out, body;
    ezr_buf_init(&out);
    ezr_buf_init(&body);
    guint8 c0c1[1537] = {3};
    ezr_buf_append(&out, c0c1, sizeof c0c1);
    ezr_buf_append(&out, c0c1 + 1, 1536); /* C2: the server does not check it */
    const char *cmds[3] = {"connect", "createStream", "play"};
    for (int i = 0; i < 3; i++) {
        ezr_buf_reset(&body);
        ezr_amf0_put_cstring(&body, cmds[i]);
        ezr_amf0_put_number(&body, i + 1);
        if (i == 0) {
            ezr_amf0_put_object_begin(&body);
            ezr_amf0_put_key(&body, "app");
            ezr_amf0_put_cstring(&body, "live");
            ezr_amf0_put_object_end(&body);
        } else {
            ezr_amf0_put_null(&body);
        }
        if (i == 2)
            ezr_amf0_put_cstring(&body, "stream");
        ezr_chunk_write(&out, 3, 0, 20, i == 2 ? 1 : 0, body.data, body.len, 128);
    }
    gboolean ok = write(fd, out.data, out.len) == (ssize_t)out.len;
    ezr_buf_free(&out);
    ezr_buf_free(&body);
    /* Read until the server has sent well past the handshake (the play replies). */
    guint8 buf[8192];
    size_t got = 0;
    while (ok && got < 3073 + 400) {
        ssize_t n = read(fd, buf, sizeof buf);
        ok = n > 0;
        got += ok ? (size_t)n : 0;
    }
    if (!ok) {
        close(fd);
        return -1;
    }
    return fd;
}

static inline int play(guint16 port)
{
    return play_rcvbuf(port, 0);
}

/* Reads until the server closes the connection, then closes it. */
static inline void expect_closed_by_server(int fd)
{
    guint8 b[65536];
    ssize_t n;
    while ((n = read(fd, b, sizeof b)) > 0)
        ;
    fail_unless_equals_int(n, 0);
    close(fd);
}

#endif
