"""The join-latency instrument (issue 19): how far behind live a real player plays when it joins
a stream at a given moment of the GOP: bench/join.py's (a speed, so a benchmark's figure, not a
test's threshold: a Python player timed beside the pipeline on a busy machine measures the
machine).

A stream is an FLV fixture encoded once into the build directory and served at its own pace:
flvdemux ! flvmux ! identity sync=true ! ezrtmpserversink, so each frame enters the sink when
it is due, as from a live encoder. A pad probe on the sink's sink pad records when every frame
entered, under the CRC of its coded data (joinplayers.media_crc) and its presentation time.
Each player says when it presented which frame; its latency is that time minus the frame's entry
time. Players (each its own process, started before the stream so that a join is on time):
  model     the RTMP client of rtmpclient.py as a player that plays frames at their timestamps'
            pace and never skips (ffplay, VLC and OBS by default): frame k is presented at
            max(arrival_k, t0 + pts_k - pts_0), t0 the arrival of the first frame
  rtmp2src  rtmp2src ! flvdemux ! h264parse ! avdec_h264 ! fakesink sync=true: the PTS of what
            fakesink presents, mapped to the frame by a probe after flvdemux
  mpv       Debian's mpv, headless (--vo=null --ao=null keep its timing: the null outputs play
            in real time), its time-pos (the PTS shown) read through --input-ipc-server
  chromium  Debian's headless chromium playing examples/web's page (mpegts.js) over HTTP-FLV:
            latency is how far video.currentTime is behind the end of what is buffered
  ffmpeg    ffmpeg -v error decoding to nothing: its error lines (no latency)
Times are time.monotonic() (CLOCK_MONOTONIC) in every process."""

import fcntl
import json
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse

from ezrtest import PLAYER_ENV, Gst, check, decode_errors, fail, run
from joinplayers import media_crc
from test_browser import PageServer, kill_processes_using
from test_streams import fixture_dir, kbps, probe_packets

HERE = os.path.dirname(os.path.abspath(__file__))
SOURCE_ROOT = os.path.dirname(os.path.dirname(HERE))
FPS = 30
# A player's latency is taken this long after it joined (the "5 s later"): the median
# of what it presented within MEASURE_HALF_WINDOW either side.
MEASURE_AT = 5.0
MEASURE_HALF_WINDOW = 0.25
LATE_MARGIN = 0.5  # "3.5 s into a 4 s GOP": this long before the next keyframe
RIGHT_AFTER = 0.05  # "right after a keyframe": this long after it entered the sink
# Audio and video may be apart while the first frames arrive (a replay is a burst); from this
# long after the first frame on, the newest of each a player holds must be close.
AV_SETTLE = 1.0

# name -> encoding. The 720p ones are issue 19's stream (x264enc tune=zerolatency
# key-int-max=120 at 2 Mbps), and the same with B-frames and no tune=zerolatency; the 1080p one
# the heavy stream of the same issue. Snow, so x264 spends the bitrate asked for; scenecut=0
# keeps the keyframes exactly one GOP apart.
STREAMS = {
    "720p30_2mbps_gop4": dict(width=1280, height=720, kbps=2000, gop_s=4, seconds=18,
                              x264="tune=zerolatency"),
    "720p30_2mbps_gop4_bframes": dict(width=1280, height=720, kbps=2000, gop_s=4, seconds=18,
                                      x264="bframes=2"),
    "1080p30_20mbps_gop2": dict(width=1920, height=1080, kbps=20000, gop_s=2, seconds=18,
                                x264="tune=zerolatency speed-preset=ultrafast"),
}
AUDIO = ("audiotestsrc num-buffers={aframes} samplesperbuffer=1024 wave=white-noise volume=0.3 "
         "! audio/x-raw,rate=48000,channels=2 ! avenc_aac bitrate=128000 ! aacparse ! m.")


def stream_fixture(name):
    """The path of stream name, encoded on first use (a lock keeps two runs from encoding it
    twice)."""
    f = STREAMS[name]
    path = os.path.join(fixture_dir(), "join_" + name + ".flv")
    with open(path + ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if os.path.exists(path):
            return path
        part = path + ".part"
        launch = ("videotestsrc num-buffers={frames} pattern=snow "
                  "! video/x-raw,width={width},height={height},framerate={fps}/1 "
                  "! x264enc bitrate={kbps} key-int-max={gop} {x264} option-string=scenecut=0 "
                  "! h264parse ! flvmux name=m ! filesink location={part} " + AUDIO).format(
                      frames=f["seconds"] * FPS, fps=FPS, gop=f["gop_s"] * FPS, part=part,
                      aframes=f["seconds"] * 48000 // 1024 + 1, **f)
        print("encoding %s (once)" % os.path.basename(path), flush=True)
        rc, _, err = run(["nice", "gst-launch-1.0", "-q"] + launch.split(), 900)
        check(rc == 0, "encoding %s failed: %s" % (path, err))
        video, _ = probe_packets(part)
        got = kbps(video, 1000 / FPS)
        check(abs(got - f["kbps"]) <= 0.25 * f["kbps"],
              "%s is %.0f kbps, asked for %d" % (name, got, f["kbps"]))
        os.rename(part, path)
    return path


def parse_tags(data):
    """(type, timestamp, body) of each FLV tag in data (flvmux gives one tag a buffer, the FLV
    header first)."""
    i = 13 if data[:3] == b"FLV" else 0
    while i + 11 <= len(data):
        size = int.from_bytes(data[i + 1:i + 4], "big")
        ts = int.from_bytes(data[i + 4:i + 7], "big") | (data[i + 7] << 24)
        yield data[i], ts, data[i + 11:i + 11 + size]
        i += 11 + size + 4


class JoinServer:
    """The stream under measurement. entries: every frame that entered the sink, as dicts with
    t (entry time), type (8 audio, 9 video), dts, pts (ms), key and crc; joins: (time, client
    id) of every player the server started."""

    PIPELINE = ("filesrc location=\"{path}\" ! flvdemux name=d flvmux name=m streamable=true "
                "! identity sync=true ! ezrtmpserversink name=sink host=127.0.0.1 port=0 {props} "
                "d.video ! queue ! h264parse ! m.video d.audio ! queue ! aacparse ! m.audio")

    def __init__(self, stream, props=""):
        self.stream = STREAMS[stream]
        self.pipeline = Gst.parse_launch(self.PIPELINE.format(path=stream_fixture(stream),
                                                              props=props))
        self.sink = self.pipeline.get_by_name("sink")
        self.entries, self.by_crc, self.by_pts, self.joins = [], {}, {}, []
        self.sink.get_static_pad("sink").add_probe(Gst.PadProbeType.BUFFER, self._on_buffer)
        self.sink.connect("client-added", lambda e, cid, addr: self.joins.append(
            (time.monotonic(), cid)))

    def _on_buffer(self, pad, info):
        now = time.monotonic()
        buf = info.get_buffer()
        ok, mi = buf.map(Gst.MapFlags.READ)
        if not ok:
            return Gst.PadProbeReturn.OK
        for mtype, ts, body in parse_tags(bytes(mi.data)):
            if mtype not in (8, 9) or len(body) < 2 or body[1] == 0:
                continue  # metadata and sequence headers are no frames
            e = {"t": now, "type": mtype, "dts": ts, "pts": ts, "key": False,
                 "crc": media_crc(mtype, body)}
            if mtype == 9:
                cts = int.from_bytes(body[2:5], "big")
                e["pts"] = ts + (cts - (1 << 24) if cts & 0x800000 else cts)
                e["key"] = body[0] >> 4 == 1
                self.by_pts[e["pts"]] = e
            self.entries.append(e)
            self.by_crc.setdefault(e["crc"], []).append(e)
        buf.unmap(mi)
        return Gst.PadProbeReturn.OK

    def ready(self):
        if self.pipeline.set_state(Gst.State.READY) == Gst.StateChangeReturn.FAILURE:
            fail("the pipeline did not reach READY")
        self.port = self.sink.get_property("bound-port")

    def play(self):
        self.pipeline.set_state(Gst.State.PLAYING)

    def stop(self):
        self.pipeline.set_state(Gst.State.NULL)

    def error_text(self):
        m = self.pipeline.get_bus().pop_filtered(Gst.MessageType.ERROR)
        return m and "%s (%s)" % m.parse_error()

    def entry(self, crc, before):
        """The frame of this CRC that entered last before the time before, or None."""
        got = [e for e in self.by_crc.get(crc, ()) if e["t"] <= before]
        return got[-1] if got else None

    def keyframe_before(self, t):
        keys = [e for e in self.entries if e["key"] and e["t"] <= t]
        return keys[-1] if keys else None

    def video(self):
        return [e for e in self.entries if e["type"] == 9]


def cpu_seconds(pids):
    """User + system CPU seconds the processes pids have used so far."""
    tick = os.sysconf("SC_CLK_TCK")
    total = 0
    for pid in pids:
        try:
            with open("/proc/%d/stat" % pid) as f:
                fields = f.read().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])
        except (OSError, IndexError, ValueError):
            pass
    return total / tick


class Player:
    """One player process joining once. Subclasses: spawn() (the process, READY read), go()
    (join now), collect() (wait for it, return its raw result), samples(server, result): the
    latency at each moment it presented something, as (time, latency s) pairs."""

    kind = None
    lead = 0.0  # seconds from go() to the server starting the player: sent this much early
    # (measured: 2 ms for the model player and mpv, 5-7 rtmp2src, 4-6 chromium, 48-66 ffmpeg,
    # which starts its process at go())
    run_for = MEASURE_AT + MEASURE_HALF_WINDOW + 0.3

    def __init__(self, url):
        self.url = url
        self.proc = None

    def pids(self):
        return [self.proc.pid] if self.proc else []

    def close(self):
        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()

    def spawn(self):
        """joinplayers.py's player of this kind."""
        self._spawn([sys.executable, "joinplayers.py", self.kind, self.url, str(self.run_for)])

    def _spawn(self, cmd, env=PLAYER_ENV):
        self.proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, text=True, env=env,
                                     start_new_session=True, cwd=HERE)
        line = self.proc.stdout.readline()
        if line.strip() != "READY":
            fail("%s did not start: %s %s" % (self.kind, line, self.proc.stderr.read()[-2000:]))

    def go(self):
        self.proc.stdin.write("go\n")
        self.proc.stdin.flush()

    def collect(self):
        try:
            out, err = self.proc.communicate(timeout=self.run_for + 30)
        except subprocess.TimeoutExpired:
            self.close()
            fail("%s did not finish" % self.kind)
        try:
            return json.loads(out.strip().splitlines()[-1])
        except (ValueError, IndexError):
            fail("%s said nothing we can read (exit %s): %s" % (self.kind, self.proc.returncode,
                                                               err[-2000:]))


class ModelPlayer(Player):
    kind = "model"
    lead = 0.002

    def samples(self, server, r):
        video = [m for m in r["messages"] if m["type"] == 9]
        if not video:
            return []
        t0, pts0 = video[0]["t"], video[0]["dts"] + video[0]["cts"]
        out = []
        for m in video:
            shown = max(m["t"], t0 + (m["dts"] + m["cts"] - pts0) / 1000)
            e = server.entry(m["crc"], shown)
            if e:
                out.append((shown, shown - e["t"]))
        return out


    def checks(self, r):
        """What else issue 19 asks of a join, from what the model player received: first_key
        (seconds from its connect to the first keyframe), backwards (the first (type, earlier,
        later) timestamps that went back, or None) and av_gap (the largest distance between the
        newest audio and the newest video timestamp it held, from AV_SETTLE after its first
        frame on)."""
        media = r["messages"]
        keys = [m["t"] for m in media if m["type"] == 9 and m["key"]]
        backwards, newest, gap = None, {}, 0
        for m in media:
            last = newest.get(m["type"])
            if backwards is None and last is not None and m["dts"] < last:
                backwards = ("video" if m["type"] == 9 else "audio", last, m["dts"])
            newest[m["type"]] = m["dts"]
            if len(newest) == 2 and m["t"] >= media[0]["t"] + AV_SETTLE:
                gap = max(gap, abs(newest[8] - newest[9]) / 1000)
        return {"first_key": keys[0] - r["connect"] if keys else None,
                "backwards": backwards, "av_gap": gap}


class Rtmp2srcPlayer(Player):
    kind = "rtmp2src"
    lead = 0.006

    def spawn(self):
        # GStreamer's own plugins only, with a registry of their own: a sanitizer build's plugin
        # would fail to load in a process without its runtime, and the build's registry would
        # then remember it as broken for the tests after.
        env = {k: v for k, v in PLAYER_ENV.items() if k != "GST_PLUGIN_PATH"}
        env["GST_REGISTRY"] = os.path.join(fixture_dir(), "player-registry.bin")
        self._spawn([sys.executable, "joinplayers.py", self.kind, self.url, str(self.run_for)],
                    env)

    def presented(self, server, r):
        """(time, entry) of every frame fakesink presented, in order."""
        crc_of = {}
        for d in r["demuxed"]:
            crc_of[d["pts"]] = d["crc"]
        out = []
        for p in r["presented"]:
            e = crc_of.get(p["pts"]) is not None and server.entry(crc_of[p["pts"]], p["t"])
            if e:
                out.append((p["t"], e))
        return out

    def samples(self, server, r):
        return [(t, t - e["t"]) for t, e in self.presented(server, r)]

    def out_of_order(self, server, r):
        """How many frames fakesink presented, and the first pair of them (original PTS, ms)
        presented out of the stream's order (None if none)."""
        shown = [e["pts"] for _, e in self.presented(server, r)]
        bad = next(((a, b) for a, b in zip(shown, shown[1:]) if b <= a), None)
        return len(shown), bad


class FfmpegPlayer(Player):
    """ffmpeg -v error decoding the stream to nothing; started at the join (it cannot wait for
    one) and asked to quit ('q' on stdin) after run_for. Its result: the lines of its error
    output that are errors (ezrtest.decode_errors) and how many frames it decoded."""

    kind = "ffmpeg"
    lead = 0.055
    run_for = 3.0

    def spawn(self):
        pass

    def go(self):
        # -fps_mode vfr: the null muxer's time base is the frame rate (1/30 s), where frames of
        # a replay squeezed into milliseconds share a tick; passed through as they are (its
        # default) ffmpeg calls them non-increasing, although every frame decodes and a player
        # or an FLV file (1 ms ticks) takes them as they are.
        self.proc = subprocess.Popen(
            ["ffmpeg", "-v", "error", "-progress", "pipe:1", "-i", self.url, "-fps_mode", "vfr",
             "-f", "null", "-"],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
            env=PLAYER_ENV, start_new_session=True)
        self.go_t = time.monotonic()

    def collect(self):
        time.sleep(max(0, self.go_t + self.run_for - time.monotonic()))
        try:
            out, err = self.proc.communicate("q", timeout=20)
        except subprocess.TimeoutExpired:
            self.close()
            fail("ffmpeg did not quit")
        frames = [int(line.split("=")[1]) for line in out.splitlines()
                  if line.startswith("frame=")]
        return {"errors": decode_errors(err), "frames": frames[-1] if frames else 0,
                "rc": self.proc.returncode}

    def samples(self, server, r):
        return []


class MpvPlayer(Player):
    """mpv --idle waits for a loadfile command on its IPC socket: the join. Its time-pos (the PTS
    of the video frame it shows; mpv 0.35 has no video-pts) is asked for every POLL seconds
    there (mpv does not report it as an observed property changes); the first answer that names
    a frame dates its presentation, at most POLL late.
    --rebase-start-time=no (only the numbers it shows change, not when it shows them) keeps it
    the stream's own timestamp, which names the frame."""

    kind = "mpv"
    lead = 0.002
    POLL = 0.01

    def spawn(self):
        self.dir = tempfile.mkdtemp(prefix="ezrtmp-mpv-")
        sock = os.path.join(self.dir, "ipc")
        self.proc = subprocess.Popen(
            ["mpv", "--no-config", "--idle=yes", "--input-ipc-server=" + sock, "--vo=null",
             "--ao=null", "--rebase-start-time=no", "--msg-level=all=warn"],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, env=PLAYER_ENV,
            start_new_session=True)
        deadline = time.monotonic() + 20
        while not os.path.exists(sock):
            if time.monotonic() > deadline or self.proc.poll() is not None:
                fail("mpv did not open its IPC socket: %s" % self.proc.stderr.read()[-2000:])
            time.sleep(0.02)
        self.ipc = socket.socket(socket.AF_UNIX)
        self.ipc.connect(sock)
        self.changes, self.playing = [], False
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        buf = b""
        while True:
            try:
                d = self.ipc.recv(65536)
            except OSError:
                return
            if not d:
                return
            now = time.monotonic()
            buf += d
            *lines, buf = buf.split(b"\n")
            for line in lines:
                ev = json.loads(line)
                # Before its first picture mpv answers 0 or the start time.
                self.playing = self.playing or ev.get("event") == "playback-restart"
                pts = ev.get("data") if ev.get("request_id") == 1 else None
                if self.playing and isinstance(pts, float) and (not self.changes or self.changes[-1][1] != pts):
                    self.changes.append((now, pts))

    def _poll(self, until):
        ask = b'{"command": ["get_property", "time-pos"], "request_id": 1}\n'
        while time.monotonic() < until:
            try:
                self.ipc.sendall(ask)
            except (OSError, AttributeError):
                return
            time.sleep(self.POLL)

    def go(self):
        self.go_t = time.monotonic()
        self.ipc.sendall(json.dumps({"command": ["loadfile", self.url]}).encode() + b"\n")
        threading.Thread(target=self._poll, args=(self.go_t + self.run_for,), daemon=True).start()

    def collect(self):
        time.sleep(max(0, self.go_t + self.run_for - time.monotonic()))
        changes = list(self.changes)
        self.close()
        return {"changes": changes}

    def close(self):
        if getattr(self, "ipc", None):
            self.ipc.close()
            self.ipc = None
        super().close()
        if getattr(self, "dir", None):
            shutil.rmtree(self.dir, ignore_errors=True)

    def samples(self, server, r):
        out = []
        for t, pts in r["changes"]:
            e = server.by_pts.get(round(pts * 1000))
            if e and e["t"] <= t:
                out.append((t, t - e["t"]))
        return out


class ChromiumPlayer(Player):
    """tests/browser/join.mjs; the stream URL is http://...flv, played by examples/web's page,
    whose request for it join.mjs holds until the join."""

    kind = "chromium"
    lead = 0.005
    page = None

    def spawn(self):
        self.profile = tempfile.mkdtemp(prefix="ezrtmp-chromium-")
        page = "http://127.0.0.1:%d/index.html?src=%s" % (ChromiumPlayer.page.port,
                                                           urllib.parse.quote(self.url, safe=""))
        self._spawn([os.environ.get("EZRTMP_NODE", "/usr/bin/node"),
                     os.path.join(SOURCE_ROOT, "tests", "browser", "join.mjs"), page, self.url,
                     str(self.run_for), "--chromium",
                     os.environ.get("EZRTMP_CHROMIUM", "/usr/bin/chromium"),
                     "--user-data-dir", self.profile])

    def pids(self):
        """node and every chromium process of this profile: the renderer decodes."""
        needle = ("--user-data-dir=" + self.profile).encode()
        out = super().pids()
        for entry in os.listdir("/proc"):
            if entry.isdigit():
                try:
                    with open("/proc/%s/cmdline" % entry, "rb") as f:
                        if needle in f.read():
                            out.append(int(entry))
                except OSError:
                    pass
        return out

    def close(self):
        super().close()
        kill_processes_using(self.profile)
        shutil.rmtree(self.profile, ignore_errors=True)

    def samples(self, server, r):
        return [(s["t"], s["end"] - s["cur"]) for s in r["samples"]
                if s["end"] is not None and s["cur"] > 0]


PLAYERS = {p.kind: p for p in (ModelPlayer, Rtmp2srcPlayer, MpvPlayer, ChromiumPlayer,
                               FfmpegPlayer)}


class Join:
    """One player joining at phase seconds after the keyframe that starts GOP gop. After run():
    joined (the server started it), phase (its real distance from the keyframe before), latency
    (at MEASURE_AT after joined), series ((seconds after joined, latency) pairs), cpu (seconds
    the player used in the first two seconds after joined) and result (what the player said)."""

    def __init__(self, kind, gop, phase, url):
        self.player = PLAYERS[kind](url)
        self.kind, self.gop, self.phase_wanted = kind, gop, phase

    def analyse(self, server):
        self.samples = self.player.samples(server, self.result)
        self.series = [(t - self.joined, lat) for t, lat in self.samples]
        window = [lat for t, lat in self.series if abs(t - MEASURE_AT) <= MEASURE_HALF_WINDOW]
        self.latency = statistics.median(window) if window else None
        key = server.keyframe_before(self.joined)
        self.phase = self.joined - key["t"] if key else None


def stream_url(server, kind):
    if kind == "chromium":
        return "http://127.0.0.1:%d/live/stream.flv" % server.port
    return "rtmp://127.0.0.1:%d/live/stream" % server.port


def measure(stream, joins, method=None, props="", run_for=None):
    """Serves stream and runs joins, a list of (player kind, GOP index, phase); method, if given,
    is the element's sync-method (else its default); run_for, if given, is how long each player
    plays. Returns the Join objects, analysed, and the server (its entries)."""
    if method:
        props += " sync-method=" + method
    browser = any(kind == "chromium" for kind, _, _ in joins)
    if browser:
        ChromiumPlayer.page = PageServer().__enter__()
        props += " http=true http-cors-origin=http://127.0.0.1:%d" % ChromiumPlayer.page.port
    server = JoinServer(stream, props)
    done = []
    try:
        server.ready()
        todo = [Join(kind, gop, phase, stream_url(server, kind))
                for kind, gop, phase in joins]
        for j in todo:
            if run_for:
                j.player.run_for = run_for
            j.player.spawn()
        server.play()
        gop_s = server.stream["gop_s"]
        deadline = time.monotonic() + 20
        while not server.entries:
            check(time.monotonic() < deadline, "no frame entered the sink")
            time.sleep(0.005)
        first = server.entries[0]
        start = first["t"] - first["dts"] / 1000  # when the stream's time 0 entered
        todo.sort(key=lambda j: j.gop * gop_s + j.phase_wanted)
        for j in todo:
            at = start + j.gop * gop_s + j.phase_wanted - j.player.lead
            time.sleep(max(0, at - time.monotonic()))
            j.go_t = time.monotonic()
            j.cpu0 = cpu_seconds(j.player.pids())
            j.player.go()
            done.append(j)
            threading.Thread(target=_cpu_after, args=(j, 2.0), daemon=True).start()
        for j in done:
            j.result = j.player.collect()
        err = server.error_text()
        check(err is None, "pipeline error: %s" % err)
    finally:
        for j in done:
            j.player.close()
        server.stop()
        if browser:
            ChromiumPlayer.page.__exit__()
    joins_by_time = sorted(t for t, _ in server.joins)
    for j in sorted(done, key=lambda j: j.go_t):
        later = [t for t in joins_by_time if t >= j.go_t]
        check(later, "%s never started playing" % j.kind)
        j.joined = later[0]
        joins_by_time.remove(j.joined)
        j.analyse(server)
    return done, server


def _cpu_after(j, seconds):
    time.sleep(seconds)
    j.cpu = cpu_seconds(j.player.pids()) - j.cpu0
