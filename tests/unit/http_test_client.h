/* A blocking HTTP/1.1 client for the server tests: requests written as given, answers read one at a
 * time (status, the headers the tests look at, the body by Content-Length or chunked), every
 * read bounded by a deadline. Chunked bodies keep their chunk boundaries for the tests that check
 * a part arrives frame by frame. */
#ifndef HTTP_TEST_CLIENT_H
#define HTTP_TEST_CLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct http_answer {
    int status;
    char content_type[64];
    char cache_control[64];
    char connection[32];
    bool chunked;
    long long content_length; /* -1: none */
    uint8_t *body;            /* malloc'd, body_len bytes (NUL after them) */
    size_t body_len;
    size_t chunks; /* chunked: how many chunks made the body */
};

struct http_client {
    int fd;
    uint8_t buf[65536]; /* read, not yet taken */
    size_t len;
};

/* Connects to 127.0.0.1:port; false on failure. */
bool http_client_open(struct http_client *h, uint16_t port);
void http_client_close(struct http_client *h);
/* Writes text whole (a request, or several pipelined). */
bool http_client_send(struct http_client *h, const char *text);
/* GET path on it (keep-alive). */
bool http_client_get(struct http_client *h, const char *path);
/* Reads the next answer's head before the deadline (absolute, mono_ms()); with the body unless
 * head_only. 0, or -1 on timeout, close or a malformed answer. */
int http_client_head(struct http_client *h, struct http_answer *a, uint64_t deadline);
int http_client_answer(struct http_client *h, struct http_answer *a, uint64_t deadline);
/* After http_client_head of a chunked answer: the next chunk, appended to a->body. 1 a chunk,
 * 0 the last (zero-size) one, -1 timeout or error. */
int http_client_chunk(struct http_client *h, struct http_answer *a, uint64_t deadline);
/* Bytes already read and not yet taken as an answer (0: nothing came). */
size_t http_client_pending(const struct http_client *h);
void http_answer_free(struct http_answer *a);

#endif
