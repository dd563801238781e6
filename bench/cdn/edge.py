"""Debian's nginx as a caching edge in front of the element's LL-HLS (nginx-cdn.conf beside this
file, filled in), for bench/hls_cdn.py and e2e/hls_cdn_*: started on a free loopback port,
stopped by close(); origin_requests() reads what it sent to the origin from its log."""

import os
import re
import socket
import subprocess
import time

HERE = os.path.dirname(os.path.abspath(__file__))
PART = re.compile(r"/part-[0-9a-f]+-(\d+)\.(\d+)\.m4s$")
RELOAD = re.compile(r"[?&]_HLS_msn=(\d+)&_HLS_part=(\d+)")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class NginxEdge:
    def __init__(self, origin_port, workdir):
        self.dir = os.path.join(workdir, "nginx-cdn")
        os.makedirs(self.dir, exist_ok=True)
        self.port = free_port()
        with open(os.path.join(HERE, "nginx-cdn.conf")) as f:
            conf = f.read()
        for k, v in (("@PORT@", self.port), ("@ORIGIN@", "127.0.0.1:%d" % origin_port),
                     ("@DIR@", self.dir)):
            conf = conf.replace(k, str(v))
        self.conf = os.path.join(self.dir, "nginx.conf")
        with open(self.conf, "w") as f:
            f.write(conf)
        self.proc = subprocess.Popen(
            ["nginx", "-p", self.dir, "-c", self.conf, "-e", os.path.join(self.dir, "error.log")],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        end = time.monotonic() + 10
        while time.monotonic() < end:
            if self.proc.poll() is not None:
                raise RuntimeError("nginx exited: %s" % self.proc.stderr.read().decode()[-500:])
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", self.port)) == 0:
                    return
            time.sleep(0.05)
        self.close()
        raise RuntimeError("nginx did not listen on %d" % self.port)

    @property
    def pid(self):
        """The one nginx process (master_process off): its CPU is the edge's."""
        return self.proc.pid

    def close(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def origin_requests(self, since=0.0, until=None):
        """What went to the origin between two Unix times: {"parts": {(msn, index): n},
        "reloads": {(msn, index): n}, "playlists": n (plain, uncacheable), "other": n (init
        segments, segments), "statuses": {status: n}}."""
        out = {"parts": {}, "reloads": {}, "playlists": 0, "other": 0, "statuses": {}}
        path = os.path.join(self.dir, "origin.log")
        if not os.path.exists(path):
            return out
        with open(path) as f:
            for line in f:
                t, _cache, status, uri = line.split(" ", 3)
                t, uri = float(t), uri.strip()
                if t < since or (until is not None and t > until):
                    continue
                out["statuses"][status] = out["statuses"].get(status, 0) + 1
                m, r = PART.search(uri.split("?")[0]), RELOAD.search(uri)
                if m:
                    k = (int(m.group(1)), int(m.group(2)))
                    out["parts"][k] = out["parts"].get(k, 0) + 1
                elif r:
                    k = (int(r.group(1)), int(r.group(2)))
                    out["reloads"][k] = out["reloads"].get(k, 0) + 1
                elif uri.split("?")[0].endswith(".m3u8"):
                    out["playlists"] += 1
                else:
                    out["other"] += 1
        return out


def per_part(reqs):
    """Origin requests of each part that was asked for (its blocking reload and the part itself),
    as a sorted list of (msn, index, reloads, parts)."""
    keys = sorted(set(reqs["parts"]) | set(reqs["reloads"]))
    return [(m, i, reqs["reloads"].get((m, i), 0), reqs["parts"].get((m, i), 0))
            for m, i in keys]
