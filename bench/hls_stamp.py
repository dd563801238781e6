"""A stream that says which frame it is: 720p30 snow (videotestsrc pattern=snow, x264enc
tune=zerolatency key-int-max=30, AAC), encoded once into an FLV like bench/hls_players.py's
inputs, with each frame's number drawn in its top 64 rows, so a player's picture tells how far
behind live it is on any server, with or without EXT-X-PROGRAM-DATE-TIME.

The stamp: 20 cells of 64x64 pixels across the top (macroblock-aligned, flat, so that x264 at
2 Mbps on snow keeps them): white, black (the references the reader thresholds between), the
frame number's 16 bits (least significant first), and the number of its set bits modulo 4 in
two bits, a check. bench/hls/player.html (stamp=1) reads it back from the frame on screen.

Frame n of the file has timestamp n/30 s; bench/hls_peers/feed.py feeds the file at real-time
rate and prints the wall time of running time 0, so frame n entered the server's side at that
time plus n/30 s (entered_ms()). Latency at a player = the time it showed frame n minus that.
"""

import math
import os

import gi

gi.require_version("Gst", "1.0")
from gi.repository import GLib, Gst  # noqa: E402

from servers import log  # noqa: E402

FPS = 30
WIDTH, HEIGHT, KBPS, GOP_S = 1280, 720, 2000, 1
AUDIO_KBPS = 128
CELL, CELLS, BITS = 64, 20, 16
WHITE, BLACK = 235, 16  # the video range of 8-bit luma


def stamp_rows(n):
    """The I420 strip (WIDTH x CELL) that carries frame number n."""
    ones = bin(n & 0xFFFF).count("1")
    bits = [1, 0] + [(n >> b) & 1 for b in range(BITS)] + [ones & 1, (ones >> 1) & 1]
    row = b"".join(bytes([WHITE if bit else BLACK]) * CELL for bit in bits)
    row += bytes([BLACK]) * (WIDTH - len(row))
    return row * CELL + bytes([128]) * (WIDTH * CELL // 2)  # Y, then U and V at 4:2:0


def make_stamped_input(path, seconds):
    """Encodes the stamped stream (seconds long) into path once."""
    if os.path.exists(path):
        return
    log("encoding %s (720p30 2 Mbps snow, 1 s GOP, frame numbers drawn in, %d s)"
        % (path, seconds))
    Gst.init(None)
    tmp = path + ".part"
    frames = seconds * FPS
    pipeline = Gst.parse_launch(
        "compositor name=c ! video/x-raw,format=I420,width=%d,height=%d "
        "! x264enc tune=zerolatency speed-preset=ultrafast bitrate=%d key-int-max=%d "
        "option-string=scenecut=0 ! h264parse ! flvmux name=m ! filesink location=%s "
        "videotestsrc num-buffers=%d pattern=snow "
        "! video/x-raw,format=I420,width=%d,height=%d,framerate=%d/1 ! c.sink_0 "
        "appsrc name=stamp format=time "
        "caps=video/x-raw,format=I420,width=%d,height=%d,framerate=%d/1 ! c.sink_1 "
        "audiotestsrc num-buffers=%d samplesperbuffer=1024 volume=0.3 "
        "! audio/x-raw,rate=48000,channels=2 ! avenc_aac bitrate=%d ! aacparse ! m."
        % (WIDTH, HEIGHT, KBPS, GOP_S * FPS, tmp, frames, WIDTH, HEIGHT, FPS, WIDTH, CELL, FPS,
           math.ceil(seconds * 48000 / 1024), AUDIO_KBPS * 1000))
    src = pipeline.get_by_name("stamp")
    state = {"n": 0}

    def need_data(appsrc, _length):
        n = state["n"]
        if n >= frames:
            appsrc.emit("end-of-stream")
            return
        buf = Gst.Buffer.new_wrapped(stamp_rows(n))
        buf.pts = n * Gst.SECOND // FPS
        buf.duration = Gst.SECOND // FPS
        appsrc.emit("push-buffer", buf)
        state["n"] = n + 1

    src.connect("need-data", need_data)
    loop = GLib.MainLoop()
    failed = []

    def on_message(_bus, msg):
        if msg.type == Gst.MessageType.ERROR:
            failed.append(msg.parse_error()[0].message)
            loop.quit()
        elif msg.type == Gst.MessageType.EOS:
            loop.quit()

    bus = pipeline.get_bus()
    bus.add_signal_watch()
    bus.connect("message", on_message)
    pipeline.set_state(Gst.State.PLAYING)
    loop.run()
    pipeline.set_state(Gst.State.NULL)
    if failed:
        raise RuntimeError("encoding %s: %s" % (path, failed[0]))
    os.rename(tmp, path)


def entered_ms(base_ms, frame):
    """When frame number frame entered the server's side: the feeder's running time 0 (wall
    clock, ms) plus the frame's timestamp."""
    return base_ms + frame * 1000.0 / FPS
