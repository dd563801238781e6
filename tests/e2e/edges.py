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

from ezrtest import PLAYER_ENV, check, fail, skip

SOURCE_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(SOURCE_ROOT, "bench"))
import servers  # noqa: E402  (the SRS kit's discovery and build, shared with the benchmark)

# An nginx-rtmp edge: the benchmark's nginx config (servers.NGINX_CONF) with, in the slot of its
# application's extra lines, a pull from the origin, this pipeline's ezrtmpserversink.
NGINX_EDGE_PULL = "            pull rtmp://127.0.0.1:{origin_port}/live;"

# An SRS edge: the benchmark's SRS config (servers.SRS_CONF: RTMP, and HTTP-FLV on a second port
# as an operator would serve browsers from the edge) with the vhost in cluster mode remote. The
# first player of a stream makes the edge play that stream from the origin, and every later
# player of the stream is served from that one connection.
SRS_EDGE_VHOST = """    cluster {{
        mode remote;
        origin 127.0.0.1:{origin_port};
    }}
"""


@contextlib.contextmanager
def edge(name, conf, argv, nports, log_name, cwd=None):
    """Writes conf(tmp, ports) to edge.conf in a temporary directory tmp, runs argv(tmp, that
    path), waits until it listens on every one of its nports ports, yields them and stops it
    after. The ports are picked free, as neither nginx nor SRS can be asked for port 0 and say
    which port it got; a port taken by another test before the edge binds it (tmp/log_name
    says EADDRINUSE) starts the edge again on fresh ones (servers.start_on_free_ports)."""
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "edge.conf")

        def launch(ports):
            with open(path, "w") as f:
                f.write(conf(tmp, ports))
            return subprocess.Popen(argv(tmp, path), cwd=cwd, stdout=subprocess.DEVNULL,
                                    stderr=subprocess.PIPE, env=PLAYER_ENV)
        try:
            proc, ports = servers.start_on_free_ports(name, nports, launch,
                                                      [os.path.join(tmp, log_name)])
        except RuntimeError as e:
            fail(str(e))
        try:
            yield ports
        finally:
            servers.stop(proc)


@contextlib.contextmanager
def nginx_edge(origin_port):
    """An nginx-rtmp edge that pulls live/ from the origin when its first player comes; yields
    the edge's port."""
    with edge("nginx",
              lambda tmp, ports: servers.NGINX_CONF.format(
                  tmp=tmp, port=ports[0], wait=NGINX_EDGE_PULL.format(origin_port=origin_port)),
              lambda tmp, conf: ["nginx", "-p", tmp, "-c", conf, "-e", tmp + "/error.log"],
              1, "error.log") as (edge_port,):
        yield edge_port


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
    """An SRS edge (mode remote) of the origin; yields (RTMP port, HTTP-FLV port)."""
    install = srs_install()
    with edge("SRS",
              lambda tmp, ports: servers.SRS_CONF.format(
                  tmp=tmp, port=ports[0], http_port=ports[1], max_connections=64,
                  vhost=SRS_EDGE_VHOST.format(origin_port=origin_port), play=""),
              lambda tmp, conf: [os.path.join(install, "objs", "srs"), "-c", conf],
              2, "srs.log", cwd=install) as (edge_port, http_port):
        yield edge_port, http_port
