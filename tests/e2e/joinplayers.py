#!/usr/bin/env python3
"""The players of the join-latency instrument (joinlatency.py), each run as a process of its own
so that its work never waits for the server's pipeline in the measuring process:

  joinplayers.py model URL SECONDS     the RTMP client of rtmpclient.py: every media message
                                       it receives, with the time it arrived
  joinplayers.py rtmp2src URL SECONDS  rtmp2src ! flvdemux ! h264parse ! avdec_h264 !
                                       fakesink sync=true: every buffer flvdemux gives out (its
                                       PTS and the CRC of its payload) and every buffer fakesink
                                       presents (its PTS), with their times

Each prints READY once set up, waits for a line on stdin (the measuring process says when to
join), plays SECONDS and prints what it saw as one JSON object. Times are time.monotonic()
(CLOCK_MONOTONIC: the same clock in every process of the machine)."""

import json
import sys
import time
import urllib.parse
import zlib


def media_crc(mtype, payload):
    """The CRC that names a frame on both sides: of the coded data only, without the FLV tag
    body's own header (AVC: 5 bytes with the composition offset, AAC: 2), which a server may
    rewrite for a player without changing the frame."""
    return zlib.crc32(payload[5:] if mtype == 9 else payload[2:])


def play_model(url, seconds):
    from rtmpclient import RtmpClient, is_keyframe, is_video_header
    u = urllib.parse.urlsplit(url)
    app, _, name = u.path.lstrip("/").partition("/")
    if u.query:
        name += "?" + u.query
    ready_and_wait()
    connect = time.monotonic()
    c = RtmpClient(u.hostname, u.port)
    msgs = []
    try:
        c.start_play(app, name)
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            try:
                m = c.read_message(max(0.01, end - time.monotonic()))
            except TimeoutError:
                break
            now = time.monotonic()
            if m.type not in (8, 9) or len(m.payload) < 2:
                continue
            e = {"t": now, "type": m.type, "dts": m.ts}
            if m.type == 9:
                if is_video_header(m):
                    continue
                cts = int.from_bytes(m.payload[2:5], "big")
                e["cts"] = cts - (1 << 24) if cts & 0x800000 else cts
                e["key"] = is_keyframe(m)
            elif m.payload[1] == 0:  # AAC sequence header
                continue
            e["crc"] = media_crc(m.type, m.payload)
            msgs.append(e)
    finally:
        c.close()
    return {"connect": connect, "messages": msgs}


def play_rtmp2src(url, seconds):
    import gi
    gi.require_version("Gst", "1.0")
    from gi.repository import Gst
    Gst.init(None)
    # As a user writes it: flvdemux's audio pad stays unlinked.
    p = Gst.parse_launch("rtmp2src location=%s ! flvdemux name=d ! h264parse ! avdec_h264 "
                         "! fakesink name=out sync=true signal-handoffs=true" % url)
    demuxed, presented = [], []

    def on_demuxed(pad, info):
        buf = info.get_buffer()
        ok, mi = buf.map(Gst.MapFlags.READ)
        if ok:
            demuxed.append({"t": time.monotonic(), "pts": buf.pts, "crc": zlib.crc32(mi.data)})
            buf.unmap(mi)
        return Gst.PadProbeReturn.OK

    def on_pad(demux, pad):
        if pad.get_name() == "video":
            pad.add_probe(Gst.PadProbeType.BUFFER, on_demuxed)

    p.get_by_name("d").connect("pad-added", on_pad)
    p.get_by_name("out").connect("handoff", lambda sink, buf, pad: presented.append(
        {"t": time.monotonic(), "pts": buf.pts}))
    p.set_state(Gst.State.READY)  # plugins loaded and started: the join is only the connect
    ready_and_wait()
    connect = time.monotonic()
    p.set_state(Gst.State.PLAYING)
    bus = p.get_bus()
    end = connect + seconds
    error = None
    while time.monotonic() < end:
        m = bus.timed_pop_filtered(int((end - time.monotonic()) * Gst.SECOND) + 1,
                                   Gst.MessageType.ERROR)
        if m:
            error = "%s (%s)" % m.parse_error()
            break
    p.set_state(Gst.State.NULL)
    return {"connect": connect, "demuxed": demuxed, "presented": presented, "error": error}


def ready_and_wait():
    print("READY", flush=True)
    sys.stdin.readline()


def main():
    kind, url, seconds = sys.argv[1], sys.argv[2], float(sys.argv[3])
    out = {"model": play_model, "rtmp2src": play_rtmp2src}[kind](url, seconds)
    print(json.dumps(out), flush=True)


if __name__ == "__main__":
    main()
