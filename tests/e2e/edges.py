"""Edges that pull the stream from the element (the origin) and serve their own players: the way
users scale out with an existing engine. Each is a context manager that yields the edge's port(s)
and stops what it started.

  nginx_edge: Debian's nginx with the RTMP module, `pull` from the origin;
  srs_edge:   SRS 6 in `cluster { mode remote; }`, built from the SRS kit (../shared/peers/srs
              beside the checkout) by the benchmark's own recipe (bench/servers.py) into the build
              directory (or EZRTMP_PEERS) on first use; its test is skipped where the kit is
              absent.
"""

import contextlib
import fcntl
import os
import subprocess
import sys
import tempfile

from ezrtest import PLAYER_ENV, check, fail, skip, wait_for

SOURCE_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(SOURCE_ROOT, "bench"))
import servers  # noqa: E402  (the SRS kit's discovery and build, shared with the benchmark)

NGINX_EDGE_CONF = """
load_module /usr/lib/nginx/modules/ngx_rtmp_module.so;
daemon off;
master_process off;
worker_processes 1;
pid {tmp}/nginx.pid;
error_log {tmp}/error.log info;
events {{ worker_connections 64; }}
rtmp {{
    server {{
        listen 127.0.0.1:{edge_port};
        application live {{
            live on;
            # The origin: this pipeline's ezrtmpserversink.
            pull rtmp://127.0.0.1:{origin_port}/live;
        }}
    }}
}}
"""

# An SRS edge: the benchmark's SRS config (servers.SRS_CONF: RTMP, and HTTP-FLV on a second port
# as an operator would serve browsers from the edge) with the vhost in cluster mode remote. The
# first player of a stream makes the edge play that stream from the origin, and every later
# player of the stream is served from that one connection.
SRS_EDGE_VHOST = """    cluster {{
        mode remote;
        origin 127.0.0.1:{origin_port};
    }}
"""

free_port = servers.free_port
port_open = servers.port_open


def stop(proc):
    proc.terminate()
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


@contextlib.contextmanager
def nginx_edge(origin_port):
    """An nginx-rtmp edge that pulls live/ from the origin when its first player comes; yields
    the edge's port and stops nginx after."""
    with tempfile.TemporaryDirectory() as tmp:
        edge_port = free_port()
        conf = os.path.join(tmp, "nginx.conf")
        with open(conf, "w") as f:
            f.write(NGINX_EDGE_CONF.format(tmp=tmp, edge_port=edge_port, origin_port=origin_port))
        nginx = subprocess.Popen(["nginx", "-p", tmp, "-c", conf, "-e", tmp + "/error.log"],
                                 stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=PLAYER_ENV)
        try:
            wait_for(lambda: port_open(edge_port) or nginx.poll() is not None, 10,
                     "nginx to listen")
            if nginx.poll() is not None:
                fail("nginx exited: %s" % nginx.stderr.read().decode())
            yield edge_port
        finally:
            stop(nginx)


def srs_install():
    """SRS's install directory, built from the kit on first use (a lock keeps two tests from
    building it at once; the kit's build.sh only checks a build already there). Skips the test
    when there is no kit."""
    if not servers.srs_kit():
        skip("no SRS kit (../shared/peers/srs beside the checkout): the SRS edge is not tested")
    # EZRTMP_PEERS lets several builds share one (scripts/test.sh), as EZRTMP_FIXTURES does.
    build = (os.environ.get("EZRTMP_PEERS") or os.environ.get("EZRTMP_BUILD_ROOT")
             or tempfile.gettempdir())
    os.makedirs(build, exist_ok=True)
    with open(os.path.join(build, "srs-build.lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        install, why = servers.srs_install(build)
    check(install is not None, "SRS: %s" % why)
    return install


@contextlib.contextmanager
def srs_edge(origin_port):
    """An SRS edge (mode remote) of the origin; yields (RTMP port, HTTP-FLV port) and stops SRS
    after."""
    install = srs_install()
    with tempfile.TemporaryDirectory() as tmp:
        edge_port, http_port = free_port(), free_port()
        conf = os.path.join(tmp, "srs.conf")
        with open(conf, "w") as f:
            f.write(servers.SRS_CONF.format(
                tmp=tmp, port=edge_port, http_port=http_port, max_connections=64,
                vhost=SRS_EDGE_VHOST.format(origin_port=origin_port), play=""))
        srs = subprocess.Popen([os.path.join(install, "objs", "srs"), "-c", conf], cwd=install,
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=PLAYER_ENV)
        try:
            wait_for(lambda: (port_open(edge_port) and port_open(http_port))
                     or srs.poll() is not None, 10, "SRS to listen")
            if srs.poll() is not None:  # (its stderr is read only then: SRS keeps it open)
                fail("SRS exited: %s" % srs.stderr.read().decode())
            yield edge_port, http_port
        finally:
            stop(srs)
