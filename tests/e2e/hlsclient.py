"""A small LL-HLS client for the tests, written from draft-pantos-hls-rfc8216bis: it parses the
element's media playlist (segments, parts, preload hint, program date times) and plays it as an
LL-HLS player does, with blocking playlist reloads for the hinted part and a GET of every new
part, recording when each part first showed up in a playlist. No GStreamer here."""

import datetime
import http.client
import re
import threading
import time

PART_NAME = re.compile(r"part-([A-Za-z0-9]+)-(\d+)\.(\d+)\.m4s$")


def attrs(line):
    """The attribute list of a tag line (#EXT-X-PART:DURATION=0.2,URI="...") as a dict."""
    out = {}
    for m in re.finditer(r'([A-Z0-9-]+)=("[^"]*"|[^,]*)', line.split(":", 1)[1]):
        out[m.group(1)] = m.group(2).strip('"')
    return out


def parse_pdt(text):
    """EXT-X-PROGRAM-DATE-TIME (ISO 8601 with a zone) as Unix seconds."""
    text = text.strip().replace("Z", "+00:00")
    m = re.match(r"(.*[+-]\d\d)(\d\d)$", text)  # +0000 -> +00:00
    if m and ":" not in text[-6:]:
        text = m.group(1) + ":" + m.group(2)
    return datetime.datetime.fromisoformat(text).timestamp()


class Playlist:
    """A media playlist: media sequence, segments [(msn, uri, duration, pdt)], parts
    [(msn, index, uri, duration, independent, pdt)] with the pdt of each part's first sample
    (its segment's plus the parts before it), the preload hint (msn, index, uri) or None, the
    init URI, the target durations, and whether it ended."""

    def __init__(self, text):
        self.text = text
        lines = [l.strip() for l in text.splitlines() if l.strip()]
        if not lines or lines[0] != "#EXTM3U":
            raise ValueError("not a playlist: %r" % text[:80])
        self.media_sequence = 0
        self.segments, self.parts = [], []
        self.hint, self.init_uri, self.ended = None, None, False
        self.target_duration = self.part_target = None
        self.skipped = 0
        pdt, offset, extinf = None, 0.0, None
        msn = None
        for l in lines[1:]:
            if l.startswith("#EXT-X-MEDIA-SEQUENCE:"):
                self.media_sequence = int(l.split(":", 1)[1])
                msn = self.media_sequence
            elif l.startswith("#EXT-X-TARGETDURATION:"):
                self.target_duration = int(l.split(":", 1)[1])
            elif l.startswith("#EXT-X-PART-INF:"):
                self.part_target = float(attrs(l)["PART-TARGET"])
            elif l.startswith("#EXT-X-SKIP:"):
                self.skipped = int(attrs(l)["SKIPPED-SEGMENTS"])
                msn = self.media_sequence + self.skipped
            elif l.startswith("#EXT-X-MAP:"):
                self.init_uri = attrs(l)["URI"]
            elif l.startswith("#EXT-X-PROGRAM-DATE-TIME:"):
                pdt, offset = parse_pdt(l.split(":", 1)[1]), 0.0
            elif l.startswith("#EXT-X-PART:"):
                a = attrs(l)
                d = float(a["DURATION"])
                self.parts.append((msn, self.part_index(a["URI"], msn), a["URI"], d,
                                   a.get("INDEPENDENT") == "YES",
                                   None if pdt is None else pdt + offset))
                offset += d
            elif l.startswith("#EXT-X-PRELOAD-HINT:"):
                a = attrs(l)
                if a.get("TYPE") == "PART":
                    m = PART_NAME.search(a["URI"])
                    self.hint = (int(m.group(2)), int(m.group(3)), a["URI"]) if m else \
                        (None, None, a["URI"])
            elif l.startswith("#EXTINF:"):
                extinf = float(l.split(":", 1)[1].split(",")[0])
            elif l == "#EXT-X-ENDLIST":
                self.ended = True
            elif not l.startswith("#"):
                self.segments.append((msn, l, extinf, pdt))
                msn += 1
                pdt = None if pdt is None else pdt + extinf
                offset, extinf = 0.0, None

    @staticmethod
    def part_index(uri, msn):
        m = PART_NAME.search(uri)
        if not m or int(m.group(2)) != msn:
            raise ValueError("part %s listed under segment %s" % (uri, msn))
        return int(m.group(3))

    def last_msn(self):
        """The media sequence number of the last segment listed, complete or in progress."""
        last = self.segments[-1][0] if self.segments else self.media_sequence - 1
        if self.parts:
            last = max(last, self.parts[-1][0])
        return last


class Response:
    def __init__(self, status, headers, body):
        self.status, self.headers, self.body = status, headers, body


def get(conn, path, headers=None):
    """One request on an http.client connection (kept alive); returns a Response."""
    conn.request("GET", path, headers=headers or {})
    r = conn.getresponse()
    return Response(r.status, dict((k.lower(), v) for k, v in r.getheaders()), r.read())


def fetch(port, path, timeout=10):
    """One request on a connection of its own."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        return get(conn, path)
    finally:
        conn.close()


class HlsViewer(threading.Thread):
    """Plays /APP/KEY/index.m3u8 as an LL-HLS player: the init segment once, then blocking
    reloads for the hinted part and a GET of every part listed after the ones it has. Records
    the parts it got, the largest wall-clock gap between two of them, and the Unix time each
    part URI first showed up in a playlist (appeared). Call start(); close() stops it; an error
    is kept for the main thread."""

    def __init__(self, port, path="/live/stream/index.m3u8", fetch_parts=True):
        super().__init__(daemon=True)
        self.port, self.path, self.fetch_parts = port, path, fetch_parts
        self.base = path.rsplit("/", 1)[0] + "/"
        self.parts = 0
        self.part_bytes = 0
        self.max_gap = 0.0
        self.appeared = {}  # part URI -> Unix time first listed
        self.initial = set()  # the part URIs of the first playlist: listed before it came
        self.pdts = {}      # part URI -> (pdt of its first sample, duration, index)
        self.segment_pdts = {}  # msn -> (its EXT-X-PROGRAM-DATE-TIME, EXTINF) once complete
        self.last = None
        self.error = None
        self.stopping = False
        self.conn = None

    def run(self):
        try:
            self.play()
        except Exception as e:  # reported by the main thread
            if not self.stopping:
                self.error = e

    def get(self, path):
        r = get(self.conn, path)
        if r.status != 200:
            raise RuntimeError("GET %s: %d %r" % (path, r.status, r.body[:200]))
        return r

    def play(self):
        self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        pl = Playlist(self.get(self.path).body.decode())
        self.initial = {p[2] for p in pl.parts}
        if pl.init_uri:
            self.get(self.base + pl.init_uri)
        have = None  # (msn, index) of the newest part fetched
        if pl.parts:
            have = pl.parts[-2][:2] if len(pl.parts) > 1 else None
        while not self.stopping:
            now = time.time()
            for msn, _, d, pdt in pl.segments:
                self.segment_pdts.setdefault(msn, (pdt, d))
            for msn, index, uri, d, _, pdt in pl.parts:
                self.appeared.setdefault(uri, now)
                if pdt is not None:
                    self.pdts.setdefault(uri, (pdt, d, index))
            for msn, index, uri, d, _, pdt in pl.parts:
                if have is not None and (msn, index) <= have:
                    continue
                if self.fetch_parts:
                    body = self.get(self.base + uri).body
                    if len(body) < 8 or body[4:8] not in (b"moof", b"styp"):
                        raise RuntimeError("part %s is not a CMAF fragment: %r" % (uri, body[:16]))
                    self.part_bytes += len(body)
                t = time.monotonic()
                if self.last is not None:
                    self.max_gap = max(self.max_gap, t - self.last)
                self.last = t
                self.parts += 1
                have = (msn, index)
            if pl.ended:
                return
            if pl.hint is None or pl.hint[0] is None:
                raise RuntimeError("no EXT-X-PRELOAD-HINT of a part: %s" % pl.text[-300:])
            pl = Playlist(self.get("%s?_HLS_msn=%d&_HLS_part=%d" % (
                self.path, pl.hint[0], pl.hint[1])).body.decode())

    def pdt_drift(self):
        """For each two consecutive complete segments n and n + 1 seen: PDT(n + 1) - PDT(n) -
        EXTINF(n), which is 0 where the dates follow the media's own time."""
        out = []
        for msn, (pdt, d) in sorted(self.segment_pdts.items()):
            nxt = self.segment_pdts.get(msn + 1)
            if nxt and pdt is not None and nxt[0] is not None:
                out.append((msn, nxt[0] - pdt - d))
        return out

    def close(self):
        self.stopping = True
        if self.conn is not None and self.conn.sock is not None:
            try:
                import socket
                self.conn.sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        self.join(10)
