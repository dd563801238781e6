/* Every limit and protocol default of the library, in one place, each with why it has its value. */
#ifndef EZR_LIMITS_H
#define EZR_LIMITS_H

/* Our outgoing chunk size. 4096 is what nginx-rtmp and SRS send; larger chunks mean fewer
 * headers per frame and every common player accepts it. */
#define EZR_DEFAULT_CHUNK_SIZE 4096u
/* RTMP's chunk size before any Set Chunk Size (spec 5.4.1). */
#define EZR_PROTO_CHUNK_SIZE 128u
/* Chunk size is 31 bits (the top bit must be 0). We cap what we send at 16 MiB: no message we
 * send is larger, and a bigger value only confuses some clients. */
#define EZR_MAX_CHUNK_SIZE 0xFFFFFFu

/* Largest message a player may send us. Players send only commands and control messages, a
 * few hundred bytes; 64 KiB leaves room for large connect objects while a 16 MB claim is refused
 * before anything is allocated. */
#define EZR_MAX_IN_MSG_SIZE (64u * 1024u)
/* Largest message a publisher may send once its publish is accepted (before, the player limit
 * above holds): the largest FLV tag body the library's FLV parser takes (EZR_FLV_MAX_TAG_SIZE,
 * 8 MiB), so that whatever a publisher sends can go on to an ezrtmpserversink; a larger message
 * closes the publisher at its first chunk, where it would otherwise reach the sink and fail the
 * pipeline. A keyframe of 20 Mbps 1080p is a megabyte or two, of 4K at broadcast rates a few;
 * the chunk reader allocates a message once, as its first chunk declares it, so a publisher
 * costs at most this (and EZR_MAX_IN_PENDING_EXTRA) beyond its queue. */
#define EZR_MAX_PUBLISH_MSG_SIZE (8u * 1024u * 1024u)
/* Video frames a publisher may send before its first keyframe: an encoder starts with one, and a
 * relay that joined a GOP late sends at most a GOP's inter frames first (10 s at 30 fps: OBS's
 * automatic keyframe interval is about 8 s). One that sends more is not sending a playable
 * stream, and is closed rather than fed to the pipeline for ever. */
#define EZR_MAX_FRAMES_BEFORE_KEYFRAME 300u
/* Bytes of FLV tags a publish point queues for the application before the publisher's socket is
 * no longer read (max-bytes' default): 8 MiB is 3 s of a 20 Mbps publisher, enough to ride out
 * a pipeline's hiccup (a keyframe's encode, a state change) without holding the publisher, and
 * little for a server next to the frames its players share. */
#define EZR_DEFAULT_INGEST_MAX_BYTES (8u * 1024u * 1024u)
/* ezrtmpserversrc's timeout: a publisher that has sent nothing for 30 s (OBS and ffmpeg send
 * frames many times a second, and acknowledgements) is gone or stuck; the same as a player's
 * client timeout. */
#define EZR_DEFAULT_PUBLISHER_TIMEOUT_S 30u
/* ezrtmpserversrc's publish-timeout: no publisher 30 s after start is worth a warning (a
 * mistyped key or URL), and long enough for a person to start OBS. */
#define EZR_DEFAULT_PUBLISH_TIMEOUT_S 30u
/* Chunk streams a player may have open at once. Clients use 2-8; each costs a header and a
 * partial message buffer, so thousands of ids must not mean thousands of allocations. */
#define EZR_MAX_IN_CHUNK_STREAMS 32u
/* Bytes of messages one client may have in progress at once (begun, not yet complete, each on
 * its chunk stream) beyond one message of the largest size it may send. Real clients send a
 * message's chunks one after another, or interleave small audio, data and command messages
 * with one large video message: this is room for those. Without a bound on the sum, a client
 * on 32 chunk streams could make the server hold 32 of its largest messages (for a publisher,
 * hundreds of MB). */
#define EZR_MAX_IN_PENDING_EXTRA (256u * 1024u)
/* Chunk stream ids the protocol can express: 3 byte form goes up to 65599 (spec 5.3.1.1). */
#define EZR_MAX_CHUNK_STREAM_ID 65599u

/* AMF0 nesting. Real connect/onMetaData objects nest 2-3 deep; 32 leaves margin while keeping
 * the recursive decoder's stack small. */
#define EZR_AMF0_MAX_DEPTH 32u

/* Window acknowledgement size and peer bandwidth we announce; the value nginx-rtmp and
 * ffmpeg use (2.5 MB). */
#define EZR_WINDOW_ACK_SIZE 2500000u

/* Message stream id of the one stream createStream hands out. Every shared frame is serialised
 * once with this id, so it is the same for every client (nginx-rtmp does the same). */
#define EZR_MEDIA_MSID 1u

/* Chunk stream ids we send on. Media frames are serialised once with type-0 headers on these. */
#define EZR_CSID_PROTOCOL 2u /* protocol control and user control (spec: must be 2) */
#define EZR_CSID_COMMAND 3u  /* command replies and onStatus */
#define EZR_CSID_AUDIO 4u
#define EZR_CSID_DATA 5u /* onMetaData, |RtmpSampleAccess */
#define EZR_CSID_VIDEO 6u

/* Default cap on simultaneous connections; the server lowers it to 80% of RLIMIT_NOFILE so
 * that the pipeline keeps descriptors for itself. */
#define EZR_DEFAULT_MAX_CONNECTIONS 10000u

/* GOPs kept for late joiners by default: one is enough to start on a keyframe at once. */
#define EZR_DEFAULT_MAX_GOPS 1u
/* A GOP cache that never sees a keyframe must not grow forever: past this many frames or bytes
 * the oldest frames are dropped (a player then waits for the next keyframe). */
#define EZR_GOP_MAX_FRAMES 4096u
#define EZR_GOP_MAX_BYTES (64u * 1024u * 1024u)

/* Per-client write queue tiers (bytes queued, not yet written). Below WARNING every frame is
 * queued; from WARNING non-key video is dropped; from HIGH only keyframes and headers; at MAX the
 * client is disconnected. 1/2/4 MiB: several seconds of a 2 Mbps stream before we degrade. */
#define EZR_DEFAULT_QUEUE_WARNING_BYTES (1u * 1024u * 1024u)
#define EZR_DEFAULT_QUEUE_HIGH_BYTES (2u * 1024u * 1024u)
#define EZR_DEFAULT_QUEUE_MAX_BYTES (4u * 1024u * 1024u)

/* Age of a player's oldest queued item from which it is treated as at the high tier (only
 * keyframes, headers and metadata): bytes alone let a slow player of a low-bitrate stream fall
 * far behind (1 MiB is a minute of 128 kbps audio). 10 s is more than any player buffers; an
 * audio-only stream has no keyframes to skip to, so it is cut back sooner. */
#define EZR_DEFAULT_QUEUE_MAX_AGE_MS 10000u
#define EZR_DEFAULT_QUEUE_MAX_AGE_AUDIO_ONLY_MS 5000u

/* Pieces gathered into one writev. IOV_MAX is 1024 on Linux; 64 already carries many frames
 * per syscall while keeping the iovec array on the stack small. */
#define EZR_WRITEV_MAX 64

/* The most plaintext one TLS record carries (RFC 8446 5.1): small queued pieces are gathered
 * into one record of at most this before they are encrypted and sent (ezr_tls.c). */
#define EZR_TLS_RECORD 16384u

/* The server's read buffer, shared by all clients (players send little: acknowledgements). */
#define EZR_READ_BUF (64u * 1024u)
/* Bytes read from one connection per reactor round; the rest waits for the next round, so one
 * fast sender cannot hold the reactor while the others wait. A player's whole conversation is a
 * few KiB: this only ever slows a flood. */
#define EZR_READ_BUDGET (64u * 1024u)
/* Bytes read from all connections together per reactor round; the connections left wait on the
 * readable list for the next round (first come, first read), and the media due is written in
 * between. Without it, a thousand peers flooding requests at once made one round a thousand
 * reads and parses long, and players waited that long for their frames. Four connections'
 * budgets: far more than any number of players send. */
#define EZR_ROUND_READ_BUDGET (4u * EZR_READ_BUDGET)
/* Replies queued to one connection (and not yet taken by its socket) from which its input is no
 * longer read: a peer that sends requests and never reads the answers costs at most this. A
 * player's connect and play replies are under 1 KiB; 8 KiB keeps 1,000 such peers to 8 MiB of
 * replies (about 30 MB of process growth in e2e/flood_non_reading_clients, with their sessions
 * and buffers). */
#define EZR_MAX_QUEUED_REPLY_BYTES (8u * 1024u)
/* The smallest read: a handshake's C0+C1 (1,537 bytes) fits, so a new connection is never read
 * in slivers. */
#define EZR_MIN_READ 2048u

/* flush-interval's default (ezr_flush.h), auto: video goes at once, audio and data wait for the
 * next video frame, at most EZR_FLUSH_AUTO_WAIT_MS. Only held audio or data whose video stalls
 * (or is dropped for that player) reaches that; 100 ms is far below any player's buffer. Any
 * other value is the most ms that any media may wait (SRS merges writes for 350 ms by default);
 * the element takes up to EZR_FLUSH_INTERVAL_MAX_MS, the range the setting has always had (a
 * queue is written anyway once it holds EZR_FLUSH_BYTES). */
#define EZR_FLUSH_AUTO (-1)
#define EZR_DEFAULT_FLUSH_INTERVAL_MS EZR_FLUSH_AUTO
#define EZR_FLUSH_AUTO_WAIT_MS 100u
#define EZR_FLUSH_INTERVAL_MAX_MS 1000
/* The stats' reactor-busy and send latencies cover the last one to two windows of this: long
 * enough to hold thousands of writes, short enough that an operator sees a change within
 * seconds. */
#define EZR_METER_WINDOW_MS 1000u
/* A player's queue this large is written at once, interval or not. */
#define EZR_FLUSH_BYTES (64u * 1024u)
/* Busy fraction of the reactor from which its sweeps are spaced (ezr_flush.h), up to the flush
 * interval when always busy. Below it every frame goes in its round: at 1,000 players of a 1 Mbps
 * stream the reactor is busy a quarter to a half of the time (more on a machine whose other work
 * delays it: busy is wall time); at 10,000 of 200 kbps it would be always busy, leaving nothing to
 * handshakes and the pipeline. */
#define EZR_FLUSH_BUSY_FROM 0.7
/* Clients' media written per reactor round before it looks at new events again (the sweep). */
#define EZR_FLUSH_BATCH 256u

/* Seconds a client may take to finish the handshake and start playing. */
#define EZR_DEFAULT_HANDSHAKE_TIMEOUT_S 10u
/* Seconds a player's socket may accept nothing while we have data for it. Longer than any
 * player's pause in reading (ffplay stops reading when its buffer is full, for a second or two). */
#define EZR_DEFAULT_CLIENT_TIMEOUT_S 30u

/* Liveness of players of a stream that sends nothing (ended, or no frame for IDLE_STREAM_MS):
 * a PingRequest every PING_INTERVAL, and a player that has answered none for PING_TIMEOUT is
 * closed as gone (a peer that vanished without a FIN otherwise holds its connection forever;
 * ffmpeg, librtmp, GStreamer's rtmp2 and nginx-rtmp all answer pings at once). */
#define EZR_IDLE_STREAM_MS 3000u
#define EZR_PING_INTERVAL_MS 2000u
#define EZR_PING_TIMEOUT_MS 6000u

/* TCP keepalive on every accepted connection: a peer that vanished without a FIN (power cut,
 * a NAT or Wi-Fi that dropped it) is found by the kernel once its socket has been silent for
 * IDLE, then after COUNT unanswered probes INTERVAL apart (20 + 3 x 10 = 50 s), and the socket's
 * error closes the client. It is the only liveness check an HTTP-FLV player of an idle stream
 * has (HTTP cannot ask, see EZR_PING_INTERVAL_MS for RTMP and WebSocket); on a connection that
 * carries data no probe is ever sent. Linux's defaults (2 hours, then 9 x 75 s) would hold a
 * gone player for over two hours; tens of seconds cost a few empty segments per idle player. */
#define EZR_TCP_KEEPIDLE_S 20
#define EZR_TCP_KEEPINTVL_S 10
#define EZR_TCP_KEEPCNT 3

/* createStream calls one connection may make. Players make one; a loop of them is abuse. */
#define EZR_MAX_STREAMS_PER_CONN 16u

/* CIDR ranges in allowed-clients: an access list, not a firewall; 64 covers real setups. */
#define EZR_MAX_ACL_RANGES 64u

/* Longest app or stream name we accept (bytes). */
#define EZR_MAX_NAME_LEN 256u

/* HTTP (HTTP-FLV, WebSocket-FLV, /metrics on the RTMP port). A request head is a request line and
 * a few headers; browsers send 0.5-2 KiB (cookies of other paths never reach a player URL on
 * our port). 8 KiB is what nginx's default large_client_header_buffers allows per line and
 * Node's old default for the whole head; more is refused with 431 before it is buffered. */
#define EZR_HTTP_MAX_HEAD 8192u
/* Header lines in one request: browsers send 10-20; each costs a scan, never an allocation. */
#define EZR_HTTP_MAX_HEADERS 64u
/* Request target (path and query): /APP/STREAM-KEY.flv?token=... is two names and a token;
 * longer targets get 414. */
#define EZR_HTTP_MAX_TARGET 1024u
/* Origin and Host values kept (a scheme, a host name and a port). */
#define EZR_HTTP_MAX_ORIGIN 256u
/* Answers queued to an HTTP connection past which its next pipelined request is not read until
 * they are written: a player that asks ahead gets its answers in turn, one that never reads holds
 * this much (plus the one answer that crossed it: a segment, a few MB at most). */
#define EZR_HTTP_PIPELINE_QUEUE_BYTES (256u * 1024u)
/* Pipelined requests held unread behind one whose answer waits (an LL-HLS blocking reload): past
 * this the socket is not read until the connection moves on. hls.js and AVPlayer pipeline a
 * playlist and a part or two: a few hundred bytes each. */
#define EZR_HTTP_MAX_PIPELINED_BYTES (16u * 1024u)
/* Payload of one WebSocket frame from a player. Players send only control frames (ping, pong,
 * close: at most 125 bytes by RFC 6455); data frames are read and discarded, and one over this
 * is refused with close code 1009 rather than skipped for ever. */
#define EZR_WS_MAX_IN_FRAME (64u * 1024u)

/* Low-latency HLS (ezr_hls.h). Parts of 200 ms: what Apple's examples and hls.js's low-latency
 * mode are tuned for, five playlist updates a second; shorter parts cost a request each for
 * little gain in latency. */
#define EZR_HLS_DEFAULT_PART_MS 200u
/* How long a playlist request may wait for the first segment of a stream that has not made one
 * (and a multivariant request for every rendition's first): a player that comes before the
 * pipeline plays gets the playlist as soon as there is one. Six seconds: a 4 s GOP's first
 * segment and the pipeline's start. */
#define EZR_HLS_FIRST_PLAYLIST_WAIT_MS 6000u
/* hls-segment-target 0 cuts a segment at every keyframe, once it lasts this long: a segment per
 * GOP for GOPs of a second or more (the usual 1-4 s), while keyframes that come every few frames
 * (scene cuts) are joined into segments of about a second, which a live playlist's window of
 * three target durations needs. Under a second by a quarter: a live source's 1 s GOP measures a
 * few ms either side of 1000, and at exactly 1000 such a GOP is joined to the next (a live
 * videotestsrc ! x264enc key-int-max=30 ! flvmux into the sink made a first segment of 1.993 s),
 * and EXT-X-TARGETDURATION, which never goes down, stays 2 with the skip boundary past the window. */
#define EZR_HLS_MIN_AUTO_SEGMENT_MS 750u
/* How far a segment's program date-time, counted from its timeline's first segment by stream
 * time, may be from when its first frame entered the sink before it is taken anew from the clock:
 * a pipeline that cannot keep up in real time (an encoder too slow) falls behind, and the date
 * must still say when the frame came; half a second is more than a loaded machine's jitter. */
#define EZR_HLS_MAX_DATE_DRIFT_MS 500u
/* Audio frames held behind a video frame waiting for its successor (ezr_hls.c): a frame interval
 * of AAC is 1-3 frames; 16 covers a video stall of a third of a second, past which audio goes in
 * as it comes. */
#define EZR_HLS_MAX_HELD_AUDIO 16u
/* Segments of an audio-only stream, which has no keyframe to cut at: the 2 s most LL-HLS
 * servers use (short enough for a quick start, long enough for CDN caching to pay). */
#define EZR_HLS_AUDIO_SEGMENT_MS 2000u
/* Complete segments kept in the playlist and in memory. A live playlist must span at least three
 * target durations (spec 6.2.2), a player starts three back, and a delta update (_HLS_skip) only
 * skips segments older than six target durations (CAN-SKIP-UNTIL): seven keeps one to skip, and
 * 7 s of a 1 s GOP (28 s of a 4 s GOP) is memory a server can give every stream. */
#define EZR_HLS_DEFAULT_WINDOW 7u
/* hls-window's range: a live playlist must span three target durations (spec 6.2.2), so three
 * segments at the least; at the most 100, as the window's frames are held in memory. */
#define EZR_HLS_MIN_WINDOW 3u
#define EZR_HLS_MAX_WINDOW 100u
/* hls-part-target's range: below 50 ms a part is a frame or two and costs a request each; past
 * 5 s it is no longer low latency. */
#define EZR_HLS_MIN_PART_MS 50u
#define EZR_HLS_MAX_PART_MS 5000u
/* hls-segment-target's most: a minute of media per segment is already far from live. */
#define EZR_HLS_MAX_SEGMENT_MS 60000u
/* Parts of one segment at the most: a segment that never sees a keyframe is cut here. */
#define EZR_HLS_MAX_PARTS 1000u
/* Samples of one part at the most: a part ends on time, and a stream whose timestamps stand still
 * would otherwise grow one part for ever. A 200 ms part holds about 25 (60 fps video, 48 kHz AAC);
 * even a 5 s part of both holds about 550. */
#define EZR_HLS_MAX_PART_SAMPLES 2048u
/* Part and segment targets at the most (ms): a player reloads its playlist once a target
 * duration, so a minute is beyond any live use, and it keeps every sum of durations far from
 * overflowing. */
#define EZR_HLS_MAX_TARGET_MS 60000u
/* A track's timestamps never go back: a step back of more than this (ms) is a new timeline (an
 * encoder restarted without a flush), muxed after a discontinuity. Less is jitter of a source that
 * stamps presentation times, and is smoothed over. */
#define EZR_HLS_MAX_STEP_BACK_MS 1000u
/* The duration given a video frame that has no next frame to measure to (a break or the end) and
 * no earlier one to copy: a 25 fps frame. */
#define EZR_HLS_LONE_FRAME_MS 40u

#endif
