/* The accept path at the process's descriptor limit (EMFILE), which this program lowers for
 * itself: while a connection waits in the backlog that the server has no descriptor to accept,
 * the reactor does not spin (the process's CPU time and the reactor's busy fraction over the
 * window stay low), a player already playing gets every frame pushed meanwhile, and the waiting
 * connection is served as soon as descriptors are free again. */
#include <fcntl.h>
#include <poll.h>
#include <sys/resource.h>
#include <sys/time.h>
#include <unistd.h>

#include "ezr_handshake.h"
#include "ezr_proto.h"
#include "ezr_test.h"
#include "server_fixture.h"

#define LIMIT 64
#define WINDOW_MS 1500u
#define FRAME_MS 50u
/* A spinning reactor burns the window's CPU (the machine's load cannot make it burn less than
 * this in 1.5 s unless it is starved entirely); pushing and reading 30 small frames takes a few
 * milliseconds. */
#define CPU_MAX_MS 400u

static uint64_t cpu_ms(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (uint64_t)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1000u +
           (uint64_t)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1000u;
}

static int dummies[LIMIT], ndummies;

static void release_dummies(int n)
{
    while (n-- > 0 && ndummies)
        close(dummies[--ndummies]);
}

EZR_TEST(test_at_the_fd_limit_no_spin_players_play_and_accept_resumes)
{
    /* The hard limit too: the server raises the soft one to it when it starts. */
    struct rlimit lim = {LIMIT, LIMIT};
    EZR_CHECK(setrlimit(RLIMIT_NOFILE, &lim) == 0);
    struct ezr_server_config cfg;
    test_server_config(&cfg);
    cfg.flush_interval_ms = 0;
    struct ezr_stream *st;
    struct ezr_server *s = start_live_stream(&cfg, &st);
    EZR_CHECK(s != NULL);
    uint16_t port = ezr_server_port(s);
    push_video(st, EZR_FRAME_HEADER, 0, 0xAA);
    push_video(st, EZR_FRAME_KEY, 0, 1);
    static struct player a;
    int rc = player_open(&a, port, "live", "stream", 0);
    bool playing = rc == 0;
    uint64_t dl = mono_ms() + DEADLINE_MS;
    while (playing && !(a.type == EZR_MSG_VIDEO && a.payload[5] == 1))
        playing = next_media(&a, dl) == 0;
    /* Every descriptor taken; then one freed for our connection, none for the server's accept. */
    int fd;
    while (ndummies < LIMIT && (fd = open("/dev/null", O_RDONLY | O_CLOEXEC)) >= 0)
        dummies[ndummies++] = fd;
    release_dummies(1);
    int b = dial(port, 0);
    uint8_t c0c1[1 + EZR_HANDSHAKE_SIZE] = {3};
    bool sent = b >= 0 && write(b, c0c1, sizeof c0c1) == (ssize_t)sizeof c0c1;
    /* The window: frames pushed and read while the connection waits. */
    uint64_t cpu0 = cpu_ms(), start = mono_ms();
    int got = 0, pushed = 0;
    for (uint8_t mark = 2; playing && mono_ms() - start < WINDOW_MS; mark++) {
        push_video(st, 0, (uint32_t)mark * FRAME_MS, mark);
        pushed++;
        playing = next_media(&a, mono_ms() + DEADLINE_MS) == 0 && a.type == EZR_MSG_VIDEO &&
                  a.payload[5] == mark;
        got += playing;
        poll(NULL, 0, FRAME_MS); /* the pace of a stream, the window's subject */
    }
    uint64_t cpu = cpu_ms() - cpu0;
    struct ezr_stream_stats stats;
    int src = ezr_stream_get_stats(st, &stats, NULL, NULL, DEADLINE_MS);
    struct pollfd pfd = {b, POLLIN, 0};
    bool waited = b >= 0 && poll(&pfd, 1, 0) == 0; /* not answered without a descriptor */
    /* Descriptors come back: the waiting connection is served. */
    release_dummies(2);
    uint64_t freed = mono_ms();
    static uint8_t s0s1s2[1 + 2 * EZR_HANDSHAKE_SIZE];
    bool served = sent && read_full(b, s0s1s2, sizeof s0s1s2, freed + DEADLINE_MS) ==
                              (ssize_t)sizeof s0s1s2;
    uint64_t served_ms = mono_ms() - freed;
    release_dummies(LIMIT);
    if (b >= 0)
        close(b);
    player_close(&a);
    ezr_server_free(s);
    printf("# window %u ms: %d of %d frames played, process CPU %llu ms, reactor busy %.2f; "
           "the waiting connection served %llu ms after descriptors were freed\n",
           WINDOW_MS, got, pushed, (unsigned long long)cpu, src == 0 ? stats.reactor_busy : -1,
           (unsigned long long)served_ms);
    EZR_CHECK(playing);
    EZR_CHECK_EQ(got, pushed);
    EZR_CHECK(sent);
    EZR_CHECK(waited);
    EZR_CHECK(cpu < CPU_MAX_MS);
    EZR_CHECK_EQ(src, 0);
    EZR_CHECK(stats.reactor_busy < 0.5);
    EZR_CHECK(served);
    EZR_CHECK(served_ms < 1500); /* the accept is retried on the reactor's tick (250 ms) */
}

EZR_TEST_MAIN(EZR_CASE(test_at_the_fd_limit_no_spin_players_play_and_accept_resumes))
