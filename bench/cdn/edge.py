"""Debian's nginx as a caching edge in front of the element's LL-HLS (nginx-cdn.conf beside this
file, filled in), for bench/hls_cdn.py and e2e/hls_cdn_*: started on a free loopback port,
stopped by close(); origin_requests() reads what it sent to the origin from its log."""

import os
import re
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))
import servers  # noqa: E402  (starting a server on ports picked free, shared with bench/)

PART = re.compile(r"/part-[0-9a-f]+-(\d+)\.(\d+)\.m4s$")
RELOAD = re.compile(r"[?&]_HLS_msn=(\d+)&_HLS_part=(\d+)")


class NginxEdge:
    def __init__(self, origin_port, workdir):
        self.dir = os.path.join(workdir, "nginx-cdn")
        os.makedirs(self.dir, exist_ok=True)
        self.conf = os.path.join(self.dir, "nginx.conf")
        error_log = os.path.join(self.dir, "error.log")
        with open(os.path.join(HERE, "nginx-cdn.conf")) as f:
            template = f.read()

        def launch(ports):
            conf = template
            for k, v in (("@PORT@", ports[0]), ("@ORIGIN@", "127.0.0.1:%d" % origin_port),
                         ("@DIR@", self.dir)):
                conf = conf.replace(k, str(v))
            with open(self.conf, "w") as f:
                f.write(conf)
            return subprocess.Popen(["nginx", "-p", self.dir, "-c", self.conf, "-e", error_log],
                                    stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        # nginx cannot be asked for port 0 and say which port it got: the port is picked free,
        # and picked again when another process takes it first (servers.start_on_free_ports).
        self.proc, (self.port,) = servers.start_on_free_ports("nginx", 1, launch, [error_log])

    @property
    def pid(self):
        """The one nginx process (master_process off): its CPU is the edge's."""
        return self.proc.pid

    def close(self):
        servers.stop(self.proc)

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
