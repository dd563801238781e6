"""The servers bench/run.py compares, each started fresh on loopback and stopped by close():

  Ezrtmp: bench/serve.py, a pipeline filesrc ! flvdemux ! flvmux ! ezrtmpserversink;
  Nginx:  Debian's nginx with libnginx-mod-rtmp (one process, config of our own);
  Srs:    SRS 6, built from the kit in ../shared/peers/srs beside the checkout (srs_install());
          nginx-rtmp and SRS are fed by filesrc ! flvdemux ! flvmux ! rtmp2sink in a separate
          gst-launch-1.0 (publish()), from the same file at the same real-time rate.

Each has .pid (the process whose CPU is the server's), .reactor (a thread id, or None) and
.urls: the player URL of each protocol it serves ("rtmp", "http-flv").
"""

import errno
import json
import os
import re
import resource
import select
import socket
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PY = "/usr/bin/python3"  # Debian's, with python3-gi


def log(msg):
    print(msg, file=sys.stderr, flush=True)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def port_open(port):
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) == 0


def listens(pid, port):
    """Whether process pid itself holds a socket listening on 127.0.0.1:port; port_open() would
    also be true of another process's."""
    # /proc/net/tcp: "sl local_address rem_address st ... inode", the address in hex as stored
    # (the IPv4 address's bytes in the machine's order), state 0A LISTEN.
    local = "%08X:%04X" % (int.from_bytes(socket.inet_aton("127.0.0.1"), sys.byteorder), port)
    with open("/proc/net/tcp") as f:
        inodes = {"socket:[%s]" % x[9] for x in (line.split() for line in f.readlines()[1:])
                  if x[1] == local and x[3] == "0A"}
    if not inodes:
        return False
    fds = "/proc/%d/fd" % pid
    try:
        names = os.listdir(fds)
    except FileNotFoundError:
        return False
    for fd in names:
        try:
            if os.readlink(os.path.join(fds, fd)) in inodes:
                return True
        except FileNotFoundError:
            pass
    return False


# How a server says a port it was given is taken: the C library's text (nginx: "bind() to
# 127.0.0.1:N failed (98: Address already in use)") or the number (SRS: "...(SocketBind)...
# [errno=98]").
ADDR_IN_USE = re.compile(r"%s|errno=%d\b" % (re.escape(os.strerror(errno.EADDRINUSE)),
                                              errno.EADDRINUSE))
# Starts of such a server on fresh ports before giving up: each lost race is one other process
# binding a port in the moment between its pick and the server's bind().
PORT_TRIES = 5


def start_on_free_ports(name, nports, launch, log_paths, seconds=10):
    """Starts a server that cannot be asked for port 0 and tell which port it got (nginx, SRS)
    on nports ports picked free: launch(ports) writes its configuration for them and returns
    its process. Waits until that process itself listens on every port. Another process can
    take a picked port before the server binds it (the e2e cases run two at a time): the server
    then logs EADDRINUSE (on its stderr, when piped, or in one of log_paths, which are removed
    before each start) and exits, or retries that port (nginx, for 2.5 s), so it is stopped and
    started again on fresh ports, up to PORT_TRIES times. Returns (process, ports); raises
    RuntimeError with what the server said when it does not listen for any other reason."""
    for _ in range(PORT_TRIES):
        for path in log_paths:
            if os.path.exists(path):
                os.remove(path)
        ports = [free_port() for _ in range(nports)]
        proc = launch(ports)
        end = time.monotonic() + seconds
        while not all(listens(proc.pid, p) for p in ports):
            said = read_logs(log_paths)
            if proc.poll() is not None or ADDR_IN_USE.search(said) or time.monotonic() > end:
                break
            time.sleep(0.05)
        else:
            return proc, ports
        stop(proc)
        said = read_logs(log_paths)
        if proc.stderr:  # (read once it has exited: SRS keeps its stderr open)
            said += proc.stderr.read().decode(errors="replace")
        if not ADDR_IN_USE.search(said):
            raise RuntimeError("%s did not listen on %s: %s" % (name, ports, said[-500:]))
        log("%s: a port of %s was taken before it bound; starting it on fresh ports"
            % (name, ports))
    raise RuntimeError("%s: its ports were taken %d times running" % (name, PORT_TRIES))


def read_logs(paths):
    out = ""
    for path in paths:
        if os.path.exists(path):
            with open(path, errors="replace") as f:
                out += f.read()
    return out


def wait_for(cond, seconds, what):
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        if cond():
            return
        time.sleep(0.05)
    raise RuntimeError("timed out waiting for " + what)


def thread_named(pid, name):
    for tid in os.listdir("/proc/%d/task" % pid):
        with open("/proc/%d/task/%s/comm" % (pid, tid)) as f:
            if f.read().strip() == name:
                return int(tid)
    return None


def read_line(proc, seconds):
    """One line of a child's stdout, or RuntimeError after seconds."""
    ready, _, _ = select.select([proc.stdout], [], [], seconds)
    if not ready:
        raise RuntimeError("no output from %s" % proc.args[0])
    line = proc.stdout.readline().decode().strip()
    if not line:
        raise RuntimeError("%s exited (%s)" % (proc.args[0], proc.poll()))
    return line


def stop(proc, seconds=15):
    """SIGTERM, and SIGKILL if proc has not ended within seconds."""
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(seconds)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


class Ezrtmp:
    name = "ezrtmp"

    def __init__(self, build, input_flv, tmp, props=(), tracks="av"):
        self.stats_path = os.path.join(tmp, "ezrtmp-stats.json")
        env = dict(os.environ, GST_PLUGIN_PATH=os.path.join(build, "gst"))
        self.proc = subprocess.Popen(
            [PY, os.path.join(ROOT, "bench", "serve.py"), input_flv, "--stats-out",
             self.stats_path, "--tracks", tracks] + ["--set=" + p for p in props],
            stdout=subprocess.PIPE, env=env)
        self.pid = self.proc.pid
        self.port = int(read_line(self.proc, 20).split()[1])
        if read_line(self.proc, 20) != "PLAYING":
            raise RuntimeError("serve.py did not start playing")
        self.reactor = thread_named(self.pid, "ezrtmp-reactor")
        self.url = "rtmp://127.0.0.1:%d/live/stream" % self.port
        self.urls = {"rtmp": self.url}
        if "http=true" in props:
            self.urls["http-flv"] = "http://127.0.0.1:%d/live/stream.flv" % self.port

    def close(self):
        stop(self.proc)
        with open(self.stats_path) as f:
            return json.load(f)


def publish(build, input_flv, url, tracks):
    """Pushes input_flv to url at real-time rate from a gst-launch-1.0 of its own, and returns
    that process once a player gets a keyframe from the server (audio, for a stream without
    video)."""
    links = ""
    if "v" in tracks:
        links += "d.video ! queue ! h264parse ! m.video "
    if "a" in tracks:
        links += "d.audio ! queue ! aacparse ! m.audio"
    pipeline = ("filesrc location=%s ! flvdemux name=d flvmux name=m streamable=true "
                "! rtmp2sink location=%s sync=true %s" % (input_flv, url, links))
    pusher = subprocess.Popen(["gst-launch-1.0", "-q"] + pipeline.split(),
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return wait_served(build, pusher, url, tracks)


def publish_ffmpeg(build, input_flv, url, tracks, play_url=None):
    """The same with ffmpeg -re -c copy, as users publish a file (bench/ingest.py); play_url:
    where players get the stream, when not where it is published."""
    pusher = subprocess.Popen(["ffmpeg", "-nostdin", "-hide_banner", "-loglevel", "error", "-re",
                               "-i", input_flv, "-c", "copy", "-f", "flv", url],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return wait_served(build, pusher, play_url or url, tracks)


def wait_served(build, pusher, url, tracks):
    """Returns pusher once a player of url gets a keyframe (audio, for a stream without video);
    stops it and raises after 20 s."""
    from measure import ezrload_cmd  # (here: measure imports inputs, which imports this module)
    end = time.monotonic() + 20
    while time.monotonic() < end:
        out = subprocess.run(ezrload_cmd(build, url, 1, seconds=1),
                             capture_output=True, timeout=30).stdout
        got = json.loads(out or b"{}")
        if got.get("got_keyframe") == 1 or ("v" not in tracks and got.get("audio_msgs")):
            return pusher
    stop(pusher)
    raise RuntimeError("the server at %s never served the pushed stream" % url)


NGINX_CONF = """
load_module /usr/lib/nginx/modules/ngx_rtmp_module.so;
daemon off;
master_process off;
worker_processes 1;
worker_rlimit_nofile 30000;
pid {tmp}/nginx.pid;
error_log {tmp}/error.log warn;
events {{ worker_connections 20000; }}
rtmp {{
    server {{
        listen 127.0.0.1:{port};
        chunk_size 4096;
        application live {{
            live on;
{wait}
        }}
    }}
}}
"""

# Start players on a keyframe, as ezrtmp does; nginx-rtmp has no GOP cache, so they wait for
# the next one. Not for a stream without video: its players would wait for ever.
NGINX_WAIT_KEY = """            wait_key on;
            wait_video on;"""


class Published:
    """A server process fed by publish(): self.proc, self.port (RTMP) and self.urls are set by
    start()."""
    reactor = None
    pusher = None

    # How the stream reaches the server when start() is given no push: publish() (rtmp2sink)
    # or publish_ffmpeg() (bench/ingest.py's subclasses).
    publisher = staticmethod(publish)

    def start(self, argv, build, input_flv, tracks, ports, log_path, push=None, **popen):
        """Runs argv, waits until it listens on every one of ports, then publishes to it (with
        push(url), which returns the publishing process, when given; else self.publisher)."""
        self.proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                     **popen)
        self.pid = self.proc.pid
        wait_for(lambda: all(port_open(p) for p in ports) or self.proc.poll() is not None, 10,
                 self.name)
        if self.proc.poll() is not None:
            raise RuntimeError("%s exited: see %s" % (self.name, log_path))
        self.url = "rtmp://127.0.0.1:%d/live/stream" % self.port
        self.urls = {"rtmp": self.url}
        try:
            self.pusher = (push(self.url) if push
                           else self.publisher(build, input_flv, self.url, tracks))
        except Exception:
            stop(self.proc)
            raise

    def close(self):
        if self.pusher:
            stop(self.pusher)
        stop(self.proc)
        return None


class Nginx(Published):
    """nginx-rtmp: RTMP only (its module has no HTTP-FLV)."""
    name = "nginx-rtmp"

    def __init__(self, build, input_flv, tmp, tracks="av"):
        self.port = free_port()
        conf = os.path.join(tmp, "nginx.conf")
        with open(conf, "w") as f:
            f.write(NGINX_CONF.format(tmp=tmp, port=self.port,
                                      wait=NGINX_WAIT_KEY if "v" in tracks else ""))
        self.start(["nginx", "-p", tmp, "-c", conf, "-e", tmp + "/error.log"], build,
                   input_flv, tracks, [self.port], tmp + "/error.log")


# SRS: RTMP on one port, HTTP-FLV (http_remux) on another; the GOP cache on (its default) so
# that a joiner starts on a keyframe at once, as with ezrtmp. time_jitter off: SRS's default
# (full) rewrites every player's timestamps to start near 0 from its own join, so that a frame
# would carry a different timestamp for each player and the delivery lag, measured against the
# timestamp, would not compare across players or servers; off keeps them as published.
SRS_CONF = """
listen 127.0.0.1:{port};
max_connections {max_connections};
daemon off;
srs_log_tank file;
srs_log_file {tmp}/srs.log;
pid {tmp}/srs.pid;
http_server {{
    enabled on;
    listen 127.0.0.1:{http_port};
    dir {tmp};
}}
vhost __defaultVhost__ {{
{vhost}    play {{
        gop_cache on;
        time_jitter off;
{play}    }}
    http_remux {{
        enabled on;
        mount [vhost]/[app]/[stream].flv;
    }}
}}
"""

# The two settings compared: (lines of the vhost, lines of its play section). defaults: SRS's
# merged writes, a player's messages gathered for up to mw_latency (350 ms) and written together;
# realtime: what SRS documents for low latency.
SRS_SETTINGS = {
    "defaults": ("", ""),
    "realtime": ("    min_latency on;\n    tcp_nodelay on;\n", "        mw_latency 0;\n"),
}
SRS_BUILD = "srs-O2"  # under the build directory: the kit's optimised build (-O2)


def srs_kit(explicit=None):
    """The SRS kit's directory, or None: explicit if given, else ../shared/peers/srs beside this
    checkout or, when this is a git worktree, beside the repository's main checkout."""
    if explicit:
        return explicit if os.path.isfile(os.path.join(explicit, "build.sh")) else None
    places = [ROOT]
    common = subprocess.run(["git", "-C", ROOT, "rev-parse", "--path-format=absolute",
                             "--git-common-dir"], capture_output=True, text=True).stdout.strip()
    if common:
        places.append(os.path.dirname(common))
    for place in places:
        kit = os.path.normpath(os.path.join(place, "..", "shared", "peers", "srs"))
        if os.path.isfile(os.path.join(kit, "build.sh")):
            return kit
    return None


def srs_install(build, kit_dir=None):
    """Builds SRS from the kit into build/srs-O2 (the kit's build.sh; a second run only checks)
    and returns (install directory, version), or (None, why not)."""
    kit = srs_kit(kit_dir)
    if not kit:
        return None, "no SRS kit at %s" % (kit_dir or "../shared/peers/srs beside the checkout")
    dest = os.path.abspath(os.path.join(build, SRS_BUILD))
    log("SRS: building from the kit into %s (-O2)" % dest)
    done = subprocess.run([os.path.join(kit, "build.sh"), dest],
                          env=dict(os.environ, SRS_EXTRA_FLAGS="-O2"),
                          stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    srs = os.path.join(dest, "objs", "srs")
    if done.returncode != 0 or not os.access(srs, os.X_OK):
        return None, "the SRS kit did not build: %s" % done.stderr.strip()[-300:]
    version = subprocess.run([srs, "-v"], capture_output=True, text=True)
    return dest, (version.stdout + version.stderr).strip()


def raise_nofile():
    """In the child: the open-files limit to its hard limit (SRS needs max_connections + 128
    below it)."""
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def srs_max_connections():
    """SRS refuses to start unless max_connections + 128 is below the open-files limit."""
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    return 19800 if hard == resource.RLIM_INFINITY else min(19800, hard - 129)


class Srs(Published):
    """SRS, one process (single-threaded), in one of SRS_SETTINGS."""

    def __init__(self, build, install, setting, input_flv, tmp, tracks="av"):
        self.name = "SRS " + setting
        self.port, self.http_port = free_port(), free_port()
        most = srs_max_connections()
        vhost, play = SRS_SETTINGS[setting]
        conf = os.path.join(tmp, "srs.conf")
        with open(conf, "w") as f:
            f.write(SRS_CONF.format(tmp=tmp, port=self.port, http_port=self.http_port,
                                    max_connections=most, vhost=vhost, play=play))
        self.start([os.path.join(install, "objs", "srs"), "-c", conf], build, input_flv, tracks,
                   [self.port, self.http_port], tmp + "/srs.log", cwd=install,
                   preexec_fn=raise_nofile)
        self.urls["http-flv"] = "http://127.0.0.1:%d/live/stream.flv" % self.http_port


# HLS from each server, for bench/hls_peers.py: the same stamped FLV fed at real-time rate by
# bench/hls_peers/feed.py, which tells the wall time of its running time 0 (base_ms), so that a
# frame's number tells when it entered the server's side. Each has .playlist (the URL a player
# opens), .pids (the processes whose CPU is the server's), .feeder (the feeding process),
# .base_ms and close().
HLS_PEERS_DIR = os.path.join(ROOT, "bench", "hls_peers")


def feed(build, input_flv, mode, args):
    """Starts bench/hls_peers/feed.py; returns (process, its port or None, base_ms)."""
    env = dict(os.environ, GST_PLUGIN_PATH=os.path.join(build, "gst"))
    proc = subprocess.Popen([PY, os.path.join(HLS_PEERS_DIR, "feed.py"), input_flv, mode]
                            + list(args), stdout=subprocess.PIPE, env=env)
    try:
        line, port = read_line(proc, 30), None
        if line.startswith("PORT "):
            port = int(line.split()[1])
            line = read_line(proc, 30)
        if not line.startswith("BASE "):
            raise RuntimeError("feed.py said %r" % line)
    except Exception:
        stop(proc)
        raise
    return proc, port, float(line.split()[1])


def hls_template(name, **fields):
    with open(os.path.join(HLS_PEERS_DIR, name)) as f:
        return f.read().format(**fields)


class HlsEzrtmp:
    """ezrtmpserversink hls=true http=true and props, in the feeding process itself."""

    def __init__(self, build, input_flv, tmp, props=()):
        self.name = "ezrtmp"
        self.feeder, port, self.base_ms = feed(build, input_flv, "ezrtmp",
                                               ["hls=true", "http=true"] + list(props))
        self.pids = [self.feeder.pid]
        self.playlist = "http://127.0.0.1:%d/live/stream/index.m3u8" % port
        self.port = port

    def close(self):
        stop(self.feeder)


class HlsEzrtmpBehindNginx:
    """The element's LL-HLS (HlsEzrtmp) behind Debian's nginx as a caching edge
    (bench/cdn/nginx-cdn.conf): the viewers play through nginx, which answers all but about two
    requests a part from its cache. pids[0] is nginx, pids[1] the element behind it."""

    def __init__(self, build, input_flv, tmp, props=()):
        sys.path.insert(0, os.path.join(ROOT, "bench", "cdn"))
        from edge import NginxEdge  # bench/cdn/edge.py imports this module: not at the top
        self.name = "nginx edge in front of ours"
        self.origin = HlsEzrtmp(build, input_flv, tmp, props)
        self.feeder, self.base_ms = self.origin.feeder, self.origin.base_ms
        try:
            self.edge = NginxEdge(self.origin.port, tmp)
        except Exception:
            self.origin.close()
            raise
        self.pids = [self.edge.pid, self.feeder.pid]
        self.playlist = "http://127.0.0.1:%d/live/stream/index.m3u8" % self.edge.port

    def close(self):
        self.edge.close()
        self.origin.close()


def start_hls_nginx(tmp, rtmp_port=None, hls=""):
    """The command line of Debian's nginx serving tmp/hls (bench/hls_peers/nginx-hls.conf),
    with nginx-rtmp's HLS writing there when rtmp_port, and its HTTP port."""
    http_port = free_port()
    os.makedirs(os.path.join(tmp, "hls"), exist_ok=True)
    rtmp = ""
    if rtmp_port:
        rtmp = hls_template("nginx-rtmp-hls.conf", tmp=tmp, port=rtmp_port, hls=hls)
    conf = os.path.join(tmp, "nginx-hls.conf")
    with open(conf, "w") as f:
        f.write(hls_template("nginx-hls.conf", tmp=tmp, http_port=http_port, rtmp=rtmp,
                             load_module="load_module /usr/lib/nginx/modules/ngx_rtmp_module.so;"
                             if rtmp else ""))
    return ["nginx", "-p", tmp, "-c", conf, "-e", tmp + "/error.log"], http_port


class HlsSink2Nginx:
    """hlssink2 (MPEG-TS, in the feeding process) writing into a directory that Debian's nginx
    serves as static files; both processes are the server's."""

    def __init__(self, build, input_flv, tmp, props=()):
        self.name = "hlssink2 + nginx"
        argv, http_port = start_hls_nginx(tmp)
        self.nginx = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.feeder = None
        try:
            wait_for(lambda: port_open(http_port) or self.nginx.poll() is not None, 10, "nginx")
            if self.nginx.poll() is not None:
                raise RuntimeError("nginx exited: see %s/error.log" % tmp)
            self.feeder, _, self.base_ms = feed(build, input_flv, "hlssink2",
                                                [os.path.join(tmp, "hls")] + list(props))
        except Exception:
            self.close()
            raise
        self.pids = [self.nginx.pid, self.feeder.pid]
        self.playlist = "http://127.0.0.1:%d/hls/stream.m3u8" % http_port

    def close(self):
        if self.feeder:
            stop(self.feeder)
        stop(self.nginx)


class HlsPublished(Published):
    """A server fed over RTMP by feed.py (its publisher, not counted as the server's)."""

    def push(self, build, input_flv):
        def push(url):
            self.feeder, _, self.base_ms = feed(build, input_flv, "rtmp", [url])
            return self.feeder
        return push


class HlsNginxRtmp(HlsPublished):
    """nginx-rtmp's `hls on` (hls directives of the setting in hls), its fragments served by
    the same nginx process."""

    def __init__(self, build, input_flv, tmp, hls=""):
        self.name = "nginx-rtmp hls"
        self.port = free_port()
        argv, http_port = start_hls_nginx(tmp, rtmp_port=self.port, hls=hls)
        self.start(argv, build, input_flv, "av", [self.port, http_port], tmp + "/error.log",
                   push=self.push(build, input_flv))
        self.pids = [self.pid]
        self.playlist = "http://127.0.0.1:%d/hls/stream.m3u8" % http_port


class HlsSrs(HlsPublished):
    """SRS 6's HLS (hls directives of the setting in hls), served by SRS's own HTTP server."""

    def __init__(self, build, install, input_flv, tmp, hls=""):
        self.name = "SRS hls"
        self.port, http_port = free_port(), free_port()
        most = srs_max_connections()
        os.makedirs(os.path.join(tmp, "html"), exist_ok=True)
        conf = os.path.join(tmp, "srs-hls.conf")
        with open(conf, "w") as f:
            f.write(hls_template("srs-hls.conf", tmp=tmp, port=self.port, http_port=http_port,
                                 max_connections=most, hls=hls))
        self.start([os.path.join(install, "objs", "srs"), "-c", conf], build, input_flv, "av",
                   [self.port, http_port], tmp + "/srs.log", push=self.push(build, input_flv),
                   cwd=install, preexec_fn=raise_nofile)
        self.pids = [self.pid]
        self.playlist = "http://127.0.0.1:%d/live/stream.m3u8" % http_port
