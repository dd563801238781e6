"""1,000 connections that never read a byte flood the server with PingRequests and
getStreamLength calls, each of which asks for a reply, while a valid player plays. What the
server holds for them must stay bounded (the process hosting the pipeline grows by under 64 MB)
and the player must see no gap over 500 ms.

The flooders run in a child process (this file with --flooder) so that their buffers are not in
the RSS measured: this process hosts the pipeline. The valid player is bench/ezrload (the C load
client) in a process of its own, which measures its gaps undisturbed by this one's polling.

Run as: test_flood.py flood_non_reading_clients (its one case; --list names it)."""

import os
import resource
import select
import socket
import struct
import subprocess
import sys
import time

from ezrtest import (PLAYER_ENV, LoadPlayer, Server, alone, check, fail, run_named_test,
                     skip_if_sanitized, wait_for)
from rtmpclient import amf0_encode
from test_hostile import command

FLOODERS = 1000
FLOOD_SECONDS = 8
MAX_GROWTH_MB = 64
# What the flooders must at least push for the test to prove anything: 64 KiB per connection on
# average, eight times the replies the server lets wait for one (8 KiB), so that a server that
# read and answered it all would hold 64 MB. Measured on a loaded 2-core machine: about 390 KiB
# per connection (most of it waiting in the kernel's buffers once the server stops reading).
MIN_FLOOD_BYTES = FLOODERS * 65536
# Past this the flood is stopped at once: the test has failed, and the machine is shared.
ABORT_GROWTH_MB = 1024
# Small receive buffers on the flooders: what the server sends them backs up in its own process
# at once instead of in the kernel. Their send buffers stay big enough to push hard.
FLOODER_RCVBUF = 4096
FLOODER_SNDBUF = 131072
FLOOD_BLOCK = 65536

PING_PAYLOAD = struct.pack(">HI", 6, 0)  # User Control: PingRequest, timestamp 0
GSL_BODY = amf0_encode("getStreamLength") + amf0_encode(7) + amf0_encode(None) + \
    amf0_encode("stream")


def vmrss_mb(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    fail("no VmRSS for %d" % pid)


class Settled:
    """True once the connects' replies are written (what is left queued is the valid player's
    few held frames, under 64 KiB, against 1,000 flooders' replies) and RSS has held still
    (within 0.25 MB) over five samples, each taken when called: with wait_for, a baseline taken
    once the connections have settled instead of after a guessed delay."""

    def __init__(self, rss, queued):
        self.rss, self.queued = rss, queued
        self.last, self.steady = None, 0

    def __call__(self):
        now = self.rss()
        still = self.last is not None and abs(now - self.last) < 0.25 and self.queued() < 65536
        self.steady = self.steady + 1 if still else 0
        self.last = now
        return self.steady >= 5


def flood_prefix():
    """One whole PingRequest (chunk stream 2) and one getStreamLength (chunk stream 3), each with
    a full type-0 header: the type-3 chunks of the flood then repeat them with a one-byte
    header."""
    ping = bytes([2]) + bytes(3) + len(PING_PAYLOAD).to_bytes(3, "big") + b"\x04" + bytes(4)
    gsl = bytes([3]) + bytes(3) + len(GSL_BODY).to_bytes(3, "big") + b"\x14" + bytes(4)
    return ping + PING_PAYLOAD + gsl + GSL_BODY


def flood_block():
    """Whole messages only, so that the block can be sent again and again from any offset."""
    unit = (b"\xC2" + PING_PAYLOAD) * 4 + b"\xC3" + GSL_BODY
    return unit * (FLOOD_BLOCK // len(unit))


def flooder(port, n, seconds):
    """Opens n connections (handshake, connect, createStream), prints READY, waits for a line on
    stdin, floods for seconds without reading, prints what it sent and how many connections the
    server closed, then holds the rest open until stdin closes."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, min(hard, n + 100)), hard))
    socks = []
    for _ in range(n):
        s = socket.socket()
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, FLOODER_RCVBUF)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, FLOODER_SNDBUF)
        s.settimeout(20)
        s.connect(("127.0.0.1", port))
        s.sendall(b"\x03" + bytes(1536))
        socks.append(s)
    for s in socks:
        got = b""
        while len(got) < 3073:
            d = s.recv(3073 - len(got))
            if not d:
                print("ERROR closed during the handshake", flush=True)
                return 1
            got += d
        s.sendall(got[1:1537] + command("connect", 1, {"app": "live"}) +
                  command("createStream", 2, None) + flood_prefix())
    print("READY %d" % n, flush=True)
    sys.stdin.readline()
    block = memoryview(flood_block())
    ep = select.epoll()
    offset = {}
    by_fd = {}
    for s in socks:
        s.setblocking(False)
        ep.register(s.fileno(), select.EPOLLOUT)
        offset[s.fileno()] = 0
        by_fd[s.fileno()] = s
    sent = 0
    closed = set()
    t0 = time.monotonic()
    end = t0 + seconds
    while time.monotonic() < end:
        for fd, ev in ep.poll(0.1):
            if ev & (select.EPOLLERR | select.EPOLLHUP):
                ep.unregister(fd)
                closed.add(fd)
                continue
            try:
                k = by_fd[fd].send(block[offset[fd]:])
            except BlockingIOError:
                continue
            except OSError:
                ep.unregister(fd)
                closed.add(fd)
                continue
            sent += k
            offset[fd] = (offset[fd] + k) % len(block)
    took = time.monotonic() - t0
    # Closed by the server: a hangup or an end of stream shows without reading the data.
    for s in socks:
        if s.fileno() in closed:
            continue
        p = select.poll()
        p.register(s.fileno(), select.POLLRDHUP | select.POLLHUP | select.POLLERR)
        if p.poll(0):
            closed.add(s.fileno())
    print("DONE %d %.2f %d" % (sent, took, len(closed)), flush=True)
    sys.stdin.readline()
    for s in socks:
        s.close()
    return 0


def read_line(proc, timeout, what):
    ready, _, _ = select.select([proc.stdout], [], [], timeout)
    if not ready:
        fail("the flooder did not report %s within %d s" % (what, timeout))
    line = proc.stdout.readline().strip()
    check(line and not line.startswith("ERROR"), "the flooder: %r" % line)
    return line


@alone("no gap over 500 ms for the player through the flood")
def test_flood_non_reading_clients():
    skip_if_sanitized("the pipeline's memory growth under a flood")
    # No handshake or client timeout: only the bound on what is queued for a connection may
    # keep the server's memory in check, not a timer that happens to close the flooders first.
    # A 64 KiB send buffer keeps the kernel's share of their backlog small.
    props = "handshake-timeout=0 client-timeout=0 send-buffer-size=65536"
    with Server(props=props) as s:
        s.wait_video_frames(1)
        # The valid player: the C load client in its own process, so that this process's
        # polling and the flooder's pushing weigh nothing on what it measures.
        with LoadPlayer(s.url()) as player:
            wait_for(lambda: s.stat("clients") == 1, 10, "the player to play")
            flood(s)
            # Through the flood and until every flooder is gone: no gap over 500 ms, every
            # frame, from a keyframe (its gap counts up to this stop).
            player.check_served(s, "before, during and after the flood")
        s.check_no_error()


def flood(s):
    """1,000 flooders connect, flood for FLOOD_SECONDS and are closed; the pipeline process's
    memory is checked throughout."""
    me = os.getpid()
    connections = lambda: s.sink.get_property("stats").get_uint("connections")[1]  # noqa
    queued = lambda: s.sink.get_property("stats").get_uint64(  # noqa
        "connections-bytes-queued")[1]
    rss_start = vmrss_mb(me)
    child = subprocess.Popen([sys.executable, os.path.abspath(__file__), "--flooder",
                              str(s.port), str(FLOODERS), str(FLOOD_SECONDS)],
                             stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
                             env=PLAYER_ENV)
    try:
        read_line(child, 60, "its connections")
        wait_for(lambda: connections() == FLOODERS + 1, 20,
                 "the server to hold %d connections" % (FLOODERS + 1))
        # Sampled every 20 ms: five still samples take about 0.1 s once nothing moves.
        wait_for(Settled(lambda: vmrss_mb(me), queued), 20,
                 "the connects' replies to settle (RSS and queued bytes still)")
        rss0 = vmrss_mb(me)
        print("%d flooders connected: RSS %.1f -> %.1f MB" % (FLOODERS, rss_start, rss0),
              flush=True)
        child.stdin.write("GO\n")
        child.stdin.flush()
        peak, t0, aborted = rss0, time.monotonic(), None
        while True:
            ready, _, _ = select.select([child.stdout], [], [], 0.05)
            peak = max(peak, vmrss_mb(me))
            if ready:
                break
            if peak - rss0 > ABORT_GROWTH_MB and aborted is None:
                aborted = time.monotonic() - t0
                child.kill()
                break
        if aborted is not None:
            fail("the pipeline process grew by %.0f MB in %.1f s of flood (stopped there; "
                 "limit %d MB)" % (peak - rss0, aborted, MAX_GROWTH_MB))
        done = read_line(child, 5, "the end of the flood").split()
        sent, took, closed = int(done[1]), float(done[2]), int(done[3])
        rss1 = vmrss_mb(me)
        print("flood: %d connections pushed %.1f MB in %.1f s (%.1f MB/s); the server "
              "closed %d of them; pipeline process RSS %.1f MB before they connected, "
              "%.1f before the flood, peak %.1f, after %.1f (growth %.1f MB peak, %.1f MB "
              "at the end, %.1f MB from before they connected)" % (
                  FLOODERS, sent / 1e6, took, sent / 1e6 / took, closed, rss_start, rss0,
                  peak, rss1, peak - rss0, rss1 - rss0, peak - rss_start), flush=True)
        check(peak - rss0 < MAX_GROWTH_MB, "the pipeline process grew by %.1f MB during "
              "the flood (limit %d MB)" % (peak - rss0, MAX_GROWTH_MB))
        # The connections and their replies count too: the whole cost of 1,000 flooders.
        check(peak - rss_start < MAX_GROWTH_MB, "the pipeline process grew by %.1f MB from "
              "before the flooders connected (limit %d MB)" % (peak - rss_start,
                                                               MAX_GROWTH_MB))
        check(sent >= MIN_FLOOD_BYTES, "the flooders pushed only %.1f MB (at least %.1f MB "
              "needed to prove a flood)" % (sent / 1e6, MIN_FLOOD_BYTES / 1e6))
    finally:
        if child.poll() is None:
            child.stdin.close()
            try:
                child.wait(30)
            except subprocess.TimeoutExpired:
                child.kill()
                child.wait()
    wait_for(lambda: connections() == 1, 30, "every flooding connection to be closed")


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--flooder":
        sys.exit(flooder(int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4])))
    run_named_test(globals())
