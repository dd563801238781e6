#!/usr/bin/env python3
"""The ezrtmp side of the benchmark: serves a pre-encoded FLV file through ezrtmpserversink at
real-time rate (sync=true), prints the port it listens on, samples the sink's render() time every
second, and on SIGTERM writes the final stats as JSON and exits.

    GST_PLUGIN_PATH=build/gst python3 bench/serve.py INPUT.flv --stats-out stats.json \\
        [--tracks av|v|a] [--set PROPERTY=VALUE ...]

Output on stdout: one line "PORT <n>" once listening, one line "PLAYING" once the first
frame was parsed.
"""

import argparse
import json
import signal
import sys
import time

import gi

gi.require_version("Gst", "1.0")
from gi.repository import GLib, Gst  # noqa: E402

COUNTERS = ["renders", "render-time-ns", "render-time-max-ns", "bytes-sent", "clients-total",
            "frames-dropped-normal", "frames-dropped-warning", "frames-dropped-high",
            "disconnects-player", "disconnects-slow", "disconnects-timeout",
            "disconnects-protocol", "connections-refused", "video-frames", "audio-frames",
            "hls-requests"]


def counters(stats):
    out = {k: stats.get_uint64(k)[1] for k in COUNTERS}
    out["clients"] = stats.get_uint("clients")[1]
    out["clients-peak"] = stats.get_uint("clients-peak")[1]
    return out


def tracks_launch(tracks):
    """The links from flvdemux d to flvmux m for the tracks ("av", "v" or "a")."""
    out = ""
    if "v" in tracks:
        out += "d.video ! queue ! h264parse ! m.video "
    if "a" in tracks:
        out += "d.audio ! queue ! aacparse ! m.audio "
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("input", help="FLV file (H.264 + AAC)")
    ap.add_argument("--stats-out", required=True, help="where to write the final JSON")
    ap.add_argument("--tracks", default="av", choices=["av", "v", "a"],
                    help="the input's tracks: flvmux waits for every pad it has, so only "
                    "those the file holds are linked")
    ap.add_argument("--set", action="append", default=[], metavar="PROPERTY=VALUE",
                    help="a property of the sink (e.g. flush-interval=40); may be repeated")
    args = ap.parse_args()

    Gst.init(None)
    # flvdemux/flvmux give the buffers the timestamps that sync=true paces on.
    pipeline = Gst.parse_launch(
        "filesrc location=\"%s\" ! flvdemux name=d flvmux name=m streamable=true "
        "! ezrtmpserversink name=sink host=127.0.0.1 port=0 sync=true %s %s"
        % (args.input, " ".join(args.set), tracks_launch(args.tracks)))
    sink = pipeline.get_by_name("sink")
    loop = GLib.MainLoop()
    bus = pipeline.get_bus()
    failed = []

    def on_message(_bus, msg):
        if msg.type in (Gst.MessageType.ERROR, Gst.MessageType.EOS):
            if msg.type == Gst.MessageType.ERROR:
                failed.append(msg.parse_error()[0].message)
            else:
                failed.append("the input ended before the benchmark did")
            loop.quit()

    bus.add_signal_watch()
    bus.connect("message", on_message)
    if pipeline.set_state(Gst.State.READY) == Gst.StateChangeReturn.FAILURE:
        print("error: cannot start the pipeline", file=sys.stderr)
        return 1
    print("PORT %d" % sink.get_property("bound-port"), flush=True)
    pipeline.set_state(Gst.State.PLAYING)

    # One sample per second: render() calls and time in that second.
    samples = []
    last = {"t": time.monotonic(), "renders": 0, "render-time-ns": 0}

    def sample():
        stats = sink.get_property("stats")
        c = counters(stats)
        # Players the server has dropped frames for, connected now.
        with_drops = sum(1 for s in stats.get_value("client-list")
                         if s.get_uint64("frames-dropped")[1])
        now = time.monotonic()
        n = c["renders"] - last["renders"]
        ns = c["render-time-ns"] - last["render-time-ns"]
        samples.append({"t": round(now - start, 3), "renders": n,
                        "reactor_busy": round(stats.get_double("reactor-busy")[1], 3),
                        "send_latency_p50_us": stats.get_uint64("send-latency-p50-us")[1],
                        "send_latency_p99_us": stats.get_uint64("send-latency-p99-us")[1],
                        "render_mean_us": round(ns / n / 1000.0, 2) if n else 0.0,
                        "clients": c["clients"], "dropped_warning": c["frames-dropped-warning"],
                        "dropped_high": c["frames-dropped-high"],
                        "disconnects_slow": c["disconnects-slow"],
                        "clients_with_drops": with_drops})
        last.update(t=now, renders=c["renders"], **{"render-time-ns": c["render-time-ns"]})
        return True

    def announce_playing():
        stats = sink.get_property("stats")
        if stats.get_uint64("video-frames")[1] + stats.get_uint64("audio-frames")[1] == 0:
            return True
        print("PLAYING", flush=True)
        return False

    start = time.monotonic()
    GLib.timeout_add(1000, sample)
    GLib.timeout_add(100, announce_playing)
    GLib.unix_signal_add(GLib.PRIORITY_HIGH, signal.SIGTERM, loop.quit)
    GLib.unix_signal_add(GLib.PRIORITY_HIGH, signal.SIGINT, loop.quit)
    loop.run()

    stats = sink.get_property("stats")
    clients = [{"id": s.get_uint64("client-id")[1], "address": s.get_string("address"),
                "bytes_sent": s.get_uint64("bytes-sent")[1],
                "frames_dropped": s.get_uint64("frames-dropped")[1]}
               for s in stats.get_value("client-list")]
    with open(args.stats_out, "w") as f:
        json.dump({"error": failed[0] if failed else None, "final": counters(stats),
                   "clients": clients, "samples": samples}, f)
    pipeline.set_state(Gst.State.NULL)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
