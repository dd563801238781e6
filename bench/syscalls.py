#!/usr/bin/env python3
"""The reactor's system calls and packets per request: one server as bench/hls_cdn.py's direct
phase starts it (720p30 2 Mbps, 1 s GOP, AAC, 200 ms parts), N bench/ezrload viewers (LL-HLS, or
HTTP-FLV with --flv) for SECONDS, and `perf stat` of the reactor thread alone over the load run:
counts of the system calls a request costs, the loopback packets it sends (each also received in
this thread: loopback delivers in the sender's context) and its CPU time, per request and per MB
the viewers received. Counts, unlike CPU seconds, hold still on a shared machine.

    /usr/bin/python3 bench/syscalls.py [--build build-bench] [--n 1000] [--seconds 20] [--flv]
        [--listed] [--set flush-interval=200] [--record perf.data]

BUILD is a release build with bench/ezrload (bench/run.sh makes build-bench); the input is
encoded into BUILD/bench-inputs the first time, as bench/hls_cdn.py does.

--record takes a `perf record -g -e cpu-clock` profile of the reactor thread instead of counts.
Either starts with its events disabled and the load starts once perf has acknowledged enabling
them over its control fifo (start_perf), so the counts cover the whole load run.
Prints one JSON line. Needs perf and its tracepoints (root, or perf_event_paranoid at most 1).
"""

import argparse
import json
import os
import select
import signal
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "cdn"))
from hls_cdn import LOAD_RATE, PLAYLIST, playlist_ready  # noqa: E402
from hls_players import CONFIGS, make_input  # noqa: E402
from measure import ezrload_cmd, proc_cpu  # noqa: E402
from servers import ROOT, Ezrtmp, wait_for  # noqa: E402

SYSCALLS = ["read", "sendmsg", "writev", "write", "epoll_wait", "epoll_ctl", "setsockopt",
            "accept4", "close", "futex"]
OTHER = ["raw_syscalls:sys_enter", "net:net_dev_xmit", "task-clock"]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--build", default=os.path.join(ROOT, "build-bench"))
    ap.add_argument("--n", type=int, default=1000)
    ap.add_argument("--seconds", type=int, default=20)
    ap.add_argument("--flv", action="store_true", help="HTTP-FLV players instead of LL-HLS")
    ap.add_argument("--listed", action="store_true",
                    help="LL-HLS viewers that ask for a part once listed (ezrload -L, as hls.js)")
    ap.add_argument("--set", action="append", default=[], metavar="PROPERTY=VALUE")
    ap.add_argument("--record", default=None, help="a perf record profile here, no counts")
    args = ap.parse_args()
    cfg = next(c for c in CONFIGS if c["key"] == "720p-gop1")
    os.makedirs(os.path.join(args.build, "bench-inputs"), exist_ok=True)
    input_flv = os.path.join(args.build, "bench-inputs", "hls-%s-90s.flv" % cfg["key"])
    make_input(input_flv, cfg, 90)
    with tempfile.TemporaryDirectory() as tmp:
        s = Ezrtmp(args.build, input_flv, tmp,
                   ["http=true", "hls=true", "hls-part-target=200"] + args.set)
        try:
            wait_for(lambda: playlist_ready(s.port), 20, "the first playlist")
            out = measure(args, s, tmp)
        finally:
            s.close()
    print(json.dumps(out))


# How long perf may take to attach to the thread and acknowledge that its events are enabled.
PERF_ENABLE_SECONDS = 30


def start_perf(argv, tmp):
    """Runs `perf ARGV` (stat or record, attached to a thread) with its events disabled at first
    (--delay=-1) and a control fifo (--control), then enables them and returns the process once
    perf has acknowledged that ("ack" on the second fifo): the load starts after perf counts.
    Both fifos are opened read-write here, as perf opens them, so that neither open waits for
    the other side. Its stderr goes to tmp/perf.log, quoted if it fails to start."""
    ctl, ack = os.path.join(tmp, "perf-ctl.fifo"), os.path.join(tmp, "perf-ack.fifo")
    for fifo in (ctl, ack):
        os.mkfifo(fifo)
    log_path = os.path.join(tmp, "perf.log")
    ctl_fd = os.open(ctl, os.O_RDWR)
    ack_fd = os.open(ack, os.O_RDWR | os.O_NONBLOCK)
    try:
        with open(log_path, "w") as log:
            perf = subprocess.Popen(["perf", argv[0], "--delay=-1",
                                     "--control=fifo:%s,%s" % (ctl, ack)] + argv[1:],
                                    stdout=subprocess.DEVNULL, stderr=log)
        os.write(ctl_fd, b"enable\n")
        got, end = b"", time.monotonic() + PERF_ENABLE_SECONDS
        while b"ack\n" not in got:
            if perf.poll() is not None or time.monotonic() > end:
                if perf.poll() is None:
                    perf.kill()
                    perf.wait()
                with open(log_path) as f:
                    raise RuntimeError("perf %s did not acknowledge enable (exit %s): %s"
                                       % (argv[0], perf.returncode, f.read()[-1000:]))
            if select.select([ack_fd], [], [], 0.1)[0]:
                got += os.read(ack_fd, 64)
        return perf
    finally:
        os.close(ctl_fd)
        os.close(ack_fd)


def measure(args, s, tmp):
    tid = s.reactor
    url = "http://127.0.0.1:%d%s" % (s.port, "/live/stream.flv" if args.flv else PLAYLIST)
    counts_path = os.path.join(tmp, "perf.txt")
    if args.record:
        perf = start_perf(["record", "-g", "-e", "cpu-clock", "-t", str(tid), "-o", args.record],
                          tmp)
    else:
        events = ["syscalls:sys_enter_" + e for e in SYSCALLS] + OTHER
        perf = start_perf(["stat", "-x", ",", "-e", ",".join(events), "-t", str(tid), "-o",
                           counts_path], tmp)
    cpu0, rcpu0 = proc_cpu(s.pid), proc_cpu(s.pid, tid)
    load = subprocess.run(ezrload_cmd(args.build, url, args.n, rate=LOAD_RATE,
                                      seconds=args.seconds,
                                      flags=["-L"] if args.listed else []),
                          stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, check=True)
    cpu, rcpu = proc_cpu(s.pid) - cpu0, proc_cpu(s.pid, tid) - rcpu0
    perf.send_signal(signal.SIGINT)
    perf.wait()
    r = json.loads(load.stdout)
    requests, mb = r.get("requests", 0), r["bytes"] / 1e6
    with open("/proc/loadavg") as f:
        load1 = float(f.read().split()[0])
    out = {"mode": "http-flv" if args.flv else "ll-hls -L" if args.listed else "ll-hls",
           "n": args.n, "set": args.set,
           "playing": r.get("playing"), "requests": requests, "gb": round(mb / 1000, 3),
           "cpu_s": round(cpu, 2), "reactor_cpu_s": round(rcpu, 2),
           "cpu_per_gb": round(cpu * 1000 / mb, 2) if mb else None, "loadavg_1m": load1}
    for k in ("latency_ms", "blocked_part_last_ms", "blocked_reload_last_ms"):
        if k in r:
            out[k] = r[k]
    if args.record:
        return out
    counts = {}
    with open(counts_path) as f:
        for line in f:
            v = line.strip().split(",")
            if len(v) > 3 and v[0][:1].isdigit():
                name = v[2].split(":")[-1].replace("sys_enter_", "")
                counts["syscalls" if name == "sys_enter" else name] = float(v[0])
    out["counts"] = counts
    if requests:
        out["per_request"] = {k: round(c / requests, 3) for k, c in counts.items()}
    out["per_mb"] = {k: round(c / mb, 2) for k, c in counts.items()}
    return out


if __name__ == "__main__":
    sys.exit(main())
