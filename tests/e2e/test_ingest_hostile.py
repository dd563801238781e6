"""Hostile publishers against ezrtmpserversrc. The pipeline has two restreamer lines on one port:
live/obs -> live/live, where ffmpeg publishes a 2 Mbps stream that a player (bench/ezrload, a
process of its own) watches, and live/hostile -> live/hostile-out, which each case attacks.
Every case must close the hostile publisher only: the pipeline posts no error, the player of
live/live never waits over 500 ms for a frame and loses none, a good publisher can publish to
live/hostile afterwards and its player gets its frames, and this process's resident memory
(the pipeline's) stays within the bound the case states throughout.

Run as: test_ingest_hostile.py CASE (meson registers each case as its own test)."""

import os
import socket
import subprocess
import threading
import time

import flvtags
import test_streams
from ezrtest import LoadPlayer, alone, check, fail, run_named_test, wait_for
from ingestkit import (FlvPlayer, Restreamer, RssWatch, check_received, kill, scripted_publish,
                       wait_publisher)
from rtmpclient import Closed, RtmpClient

# async=false: a sink waits for a buffer to preroll, and the pipeline goes to PLAYING only once
# every sink has, so a line that has no publisher yet would hold the other line's sink in
# PAUSED, its first buffer blocked there.
LINES = ("ezrtmpserversrc name=src host=127.0.0.1 port=0 stream-key=obs {src} "
         "! ezrtmpserversink name=sink host=127.0.0.1 port=0 stream-key=live http=true async=false "
         "{sink} ezrtmpserversrc name=hsrc host=127.0.0.1 stream-key=hostile timeout=2 "
         "! ezrtmpserversink name=hsink host=127.0.0.1 stream-key=hostile-out async=false")

GOOD = "720p30_2mbps_gop4"

# Every case watches the good line's player and expects the hostile publisher closed in time.
watched = alone("no gap over 500 ms for the watched line's player; closed within 1.5 s")


class Stage:
    """The two lines, the good stream published and watched, the memory watched."""

    def __enter__(self):
        self.r = Restreamer(line=LINES).__enter__()
        # The hostile line, on the same server (Restreamer gave its elements the port).
        self.hsrc = self.r.pipeline.get_by_name("hsrc")
        self.hsink = self.r.pipeline.get_by_name("hsink")
        self.port = self.r.port
        self.good = subprocess.Popen(
            ["ffmpeg", "-nostdin", "-hide_banner", "-loglevel", "error", "-re", "-stream_loop",
             "-1", "-i", test_streams.fixture(GOOD), "-c", "copy", "-f", "flv",
             self.r.publish_url()], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        wait_for(lambda: self.r.sink.get_property("stats").get_uint64("video-frames")[1] >= 30,
                 20, "the good stream to flow")
        self.player = LoadPlayer(self.r.play_url())
        wait_for(lambda: self.r.sink.get_property("stats").get_uint("clients")[1] >= 1, 10,
                 "the watching player")
        short_flv(), after_flv()  # read before the memory's base is taken
        self.rss = RssWatch()
        self.rss.start()
        return self

    def __exit__(self, *exc):
        self.rss.stop()
        kill(self.good)
        self.player.__exit__()
        self.r.__exit__()

    def hostile(self):
        """A client of the port, handshaken."""
        c = RtmpClient("127.0.0.1", self.port)
        c.handshake()
        return c

    def check_unharmed(self, what, rss_mb):
        """The pipeline, the watching player and a new publisher of live/hostile are unharmed,
        and memory stayed within rss_mb over the start."""
        self.r.check_no_error()
        check(self.good.poll() is None, "%s: the good publisher ended (%s)" % (
            what, self.good.stderr.read().decode()[-500:] if self.good.poll() is not None
            else ""))
        check(self.r.src.get_property("stats").get_uint64("publishes")[1] == 1,
              "%s: the good publisher published more than once" % what)
        # A good publisher on the attacked key, and a player of its line, after the attack.
        out = FlvPlayer(self.port, "/live/hostile-out.flv")
        out.start()
        try:
            wait_for(lambda: self.hsink.get_property("stats").get_uint("clients")[1] >= 1, 10,
                     "a player of live/hostile-out")
            p, sent = scripted_publish(after_flv(), self.r.publish_url(key="hostile"))
            wait_publisher(p, 30, "%s: the publisher after it" % what)
            # Its frames; its sequence headers are the fixture's, which the attack may have
            # sent already.
            want = [t for t in flvtags.read_file(sent) if t.is_media() and not is_header(t)]
            end = time.monotonic() + 15
            while not (out.has(want[-1]) or out.error):
                if time.monotonic() > end:
                    fail("%s: the last tag of the publisher after it never came (the source: %s;"
                         " its sink: %s; the bus: %s)" % (
                             what, self.hsrc.get_property("stats").to_string(),
                             self.hsink.get_property("stats").to_string()[:400],
                             self.r.error_text()))
                time.sleep(0.02)
        finally:
            out.stop()
        # The player first gets what the line's sink kept of the hostile stream (its cached
        # headers and keyframe, if it sent any), then the new publisher's.
        check_received(want, [t for t in out.tags if not is_header(t)],
                       what + ": the publisher after it", skip_before=True)
        grew = self.rss.stop()
        self.player.check_served(self.r, what)
        if SANITIZED:
            print("%s: resident memory not checked under AddressSanitizer (grew %.1f MB)"
                  % (what, grew), flush=True)
            return
        print("%s: resident memory grew by at most %.1f MB (bound %d MB)" % (what, grew, rss_mb),
              flush=True)
        check(grew < rss_mb, "%s: resident memory grew by %.1f MB, over %d MB" % (what, grew,
                                                                                 rss_mb))


_SHORT = {}


def short_flv():
    """Two seconds of the good fixture (its first 60 video frames and the audio with them), as
    a file for the scripted publisher: what the hostile cases send of a real stream."""
    return _cut("hostile", GOOD, 0, 2000)


def after_flv():
    """The publisher after an attack: the sequence headers and the GOP from 2 to 4 s of the
    4 Mbps fixture, a keyframe no hostile case sends."""
    return _cut("after", "720p30_4mbps_gop2", 2000, 4000)


def _cut(name, fixture, start_ms, end_ms):
    if name not in _SHORT:
        tags = flvtags.read_file(test_streams.fixture(fixture))
        keep = [t for t in tags if start_ms <= t.ts < end_ms or is_header(t)]
        path = os.path.join(test_streams.fixture_dir(), "ingest-%s.flv" % name)
        with open(path + ".part", "wb") as f:
            f.write(flvtags.flv_header() + b"".join(t.flv() for t in keep))
        os.rename(path + ".part", path)
        _SHORT[name] = path
    return _SHORT[name]


def is_header(t):
    """An AVC or AAC sequence header (what a sink may keep once and not send again)."""
    return len(t.body) >= 2 and t.body[1] == 0 and (
        (t.type == flvtags.VIDEO and t.body[0] & 0x0F == 7)
        or (t.type == flvtags.AUDIO and t.body[0] >> 4 == 10))


# The hostile line's source closes a publisher that sends nothing for 2 s (timeout=2): a case
# that must be closed for what it sent, not for going quiet after, is closed sooner than this.
BEFORE_TIMEOUT_S = 1.5


def expect_closed(c, timeout, what):
    """Reads until the server closes the client; fails if it does not within timeout s.
    Returns the status codes it was sent."""
    codes = []
    end = time.monotonic() + timeout
    try:
        while True:
            m = c.read_message(max(0.01, end - time.monotonic()))
            if m.status_code():
                codes.append(m.status_code())
    except Closed:
        return codes
    except (TimeoutError, socket.timeout):
        fail("%s: the server did not close the publisher within %.1f s" % (what, timeout))
    except ConnectionResetError:
        return codes
    finally:
        c.close()


def publisher(st):
    """A hostile client publishing live/hostile, accepted."""
    c = RtmpClient("127.0.0.1", st.port)
    code, _ = c.start_publish("live", "hostile")
    check(code == "NetStream.Publish.Start", "the hostile publish was refused: %s" % code)
    return c


def headers(c):
    """The good fixture's sequence headers, as an encoder starts (no keyframe)."""
    for t in flvtags.read_file(short_flv())[:6]:
        if is_header(t):
            c.send_media(t.type, t.ts, t.body)


@watched
def test_message_over_the_limit():
    """A video message announcing 9 MB (over the 8 MiB a tag may have): closed at its chunk
    header, nothing allocated for it."""
    with Stage() as st:
        c = publisher(st)
        headers(c)
        c.send_sized(9, 40, b"\x27\x01", 9 * 1024 * 1024, upto=64 * 1024)
        expect_closed(c, BEFORE_TIMEOUT_S, "a 9 MB message")
        st.check_unharmed("a message over the limit", 32)


@watched
def test_chunk_size_zero():
    with Stage() as st:
        c = publisher(st)
        headers(c)
        c.set_chunk_size(0)
        c.send_media(9, 40, b"\x27\x01" + bytes(1000))
        expect_closed(c, BEFORE_TIMEOUT_S, "chunk size 0")
        st.check_unharmed("chunk size 0", 16)


@watched
def test_chunk_size_two_to_the_31():
    with Stage() as st:
        c = publisher(st)
        headers(c)
        c.set_chunk_size(1 << 31)
        c.send_media(9, 40, b"\x27\x01" + bytes(1000))
        expect_closed(c, BEFORE_TIMEOUT_S, "chunk size 2^31")
        st.check_unharmed("chunk size 2^31", 16)


@watched
def test_sequence_header_of_16_mb():
    """An AVC sequence header of 0xFFFFFF bytes (the most a message length can say: 16 MB),
    sent whole: closed, the sink never given a tag it cannot take."""
    with Stage() as st:
        c = publisher(st)
        try:
            c.send_sized(9, 0, b"\x17\x00\x00\x00\x00", 0xFFFFFF)
        except OSError:
            pass  # closed while it was still sending: what is expected
        expect_closed(c, BEFORE_TIMEOUT_S, "a 16 MB sequence header")
        st.check_unharmed("a 16 MB sequence header", 48)


@watched
def test_never_a_keyframe():
    """Headers, then inter frames only (2 Mbps frames, sent as fast as they are taken): closed
    after the 300 a relay that joined a GOP late may send first (EZR_MAX_FRAMES_BEFORE_KEYFRAME),
    its sink given no keyframe; the good line plays on. The frames are stamped 1 ms apart: the
    count is of frames, not time, and the line's sink keeps to the timestamps (33 ms apart, the
    301 frames took it 10 s)."""
    with Stage() as st:
        c = publisher(st)
        headers(c)
        inter = [t for t in flvtags.read_file(short_flv())
                 if t.type == flvtags.VIDEO and not t.is_video_key() and t.body[1:2] == b"\x01"]
        try:
            for i in range(301):
                t = inter[i % len(inter)]
                c.send_media(9, 40 + i, t.body)
        except OSError:
            pass  # closed while it was still sending: what is expected
        expect_closed(c, BEFORE_TIMEOUT_S, "a publisher that never sent a keyframe")
        h = st.hsink.get_property("stats")
        print("never a keyframe: the hostile line's sink took %d video frames, %d keyframes"
              % (h.get_uint64("video-frames")[1], h.get_uint64("keyframes")[1]), flush=True)
        check(h.get_uint64("keyframes")[1] == 0, "the hostile line's sink counted a keyframe")
        st.check_unharmed("never a keyframe", 32)


@watched
def test_a_thousand_publishers_of_the_same_key():
    """1,000 clients publish live/obs while ffmpeg publishes it: each gets
    NetStream.Publish.BadName and is closed; 50 at a time."""
    with Stage() as st:
        codes, errors = [], []
        lock = threading.Lock()

        def attempts(n):
            for _ in range(n):
                try:
                    c = RtmpClient("127.0.0.1", st.port)
                    code, _ = c.start_publish("live", "obs")
                    more = expect_closed(c, 10, "a second publisher")
                    with lock:
                        codes.append((code, more))
                except Exception as e:  # noqa: BLE001 - counted and reported
                    with lock:
                        errors.append(repr(e))

        threads = [threading.Thread(target=attempts, args=(20,)) for _ in range(50)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(120)
        check(not errors, "%d attempts failed otherwise: %s" % (len(errors), errors[:3]))
        bad = [c for c in codes if c[0] != "NetStream.Publish.BadName"]
        check(len(codes) == 1000 and not bad, "%d answers, %d not BadName: %r"
              % (len(codes), len(bad), bad[:3]))
        refused = st.r.src.get_property("stats").get_uint64("publishes-refused")[1]
        check(refused >= 1000, "the source counted %d refusals" % refused)
        st.check_unharmed("1,000 publishers of the same key", 48)


@watched
def test_publish_then_stall_mid_message():
    """Publishes, sends its headers, then the first 1,000 bytes of a 1 MB keyframe and nothing
    more: closed by the source's timeout (2 s), not before."""
    with Stage() as st:
        c = publisher(st)
        headers(c)
        c.send_sized(9, 40, b"\x17\x01", 1024 * 1024, upto=1000)
        t0 = time.monotonic()
        expect_closed(c, 8, "a stalled publisher")
        took = time.monotonic() - t0
        print("stalled mid-message: closed after %.2f s" % took, flush=True)
        check(took >= 1.5, "closed after %.2f s, before the 2 s timeout" % took)
        st.check_unharmed("a publisher stalled mid-message", 16)


@watched
def test_partial_messages_on_many_chunk_streams():
    """Publishes, then on 24 chunk streams (with those of its commands and headers, 28 of the 32
    a client may use) starts a message of 8 MB - 1 KB, under the limit a message may have, and
    sends all of it but its last chunk: 24 messages in progress at once, 192 MB the server would
    hold for one publisher. It must be closed before it holds much more than a message's worth,
    and the others unharmed."""
    with Stage() as st:
        c = publisher(st)
        headers(c)
        c.set_chunk_size(65536)
        size = 8 * 1024 * 1024 - 1024
        t0 = time.monotonic()
        sent = 0
        try:
            for i in range(24):
                csid = 10 + i
                # send_sized on its own chunk stream: the message header names csid.
                # Every chunk but the last (64,512 bytes): a message stops at a chunk's end, or
                # the next chunk header would be read as its payload. 12-byte message header,
                # 127 chunks of 64 KiB, a 1-byte header before each chunk after the first.
                c.send_sized(9, 40, b"\x27\x01", size, upto=12 + 127 * 65536 + 126, csid=csid)
                sent = i + 1
        except OSError:
            pass  # closed while still sending: what is expected
        expect_closed(c, BEFORE_TIMEOUT_S, "partial messages on 24 chunk streams")
        print("partial messages: %d sent (but their last chunk), closed %.2f s after the first"
              % (sent, time.monotonic() - t0), flush=True)
        st.check_unharmed("partial messages on many chunk streams", 48)


@watched
def test_publish_before_connect():
    with Stage() as st:
        c = st.hostile()
        c.send_command("publish", None, "hostile", "live", msid=1)
        expect_closed(c, BEFORE_TIMEOUT_S, "publish before connect")
        check(st.hsrc.get_property("stats").get_uint64("publishes")[1] == 0,
              "publish before connect was taken")
        st.check_unharmed("publish before connect", 16)


@watched
def test_media_before_publish():
    with Stage() as st:
        c = st.hostile()
        c.connect("live")
        c.read_until(lambda m: m.name() in ("_result", "_error"))
        c.send_command("createStream", None)
        c.read_until(lambda m: m.name() == "_result")
        c.send_media(9, 0, b"\x17\x00" + bytes(100), msid=1)
        expect_closed(c, BEFORE_TIMEOUT_S, "media before publish")
        st.check_unharmed("media before publish", 16)


# Memory figures mean nothing under AddressSanitizer (its allocator pads and quarantines every
# block): there each case checks all but its memory bound, and says so.
SANITIZED = "libasan" in os.environ.get("LD_PRELOAD", "")

if __name__ == "__main__":
    run_named_test(globals())
