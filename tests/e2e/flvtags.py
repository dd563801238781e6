"""FLV tags read from a file or a byte stream, and the check that a player received the media a
publisher sent: tag by tag, in order, by type, timestamp and a CRC of the body.

What a publisher sends is known by encoding its input once into an FLV file the way it will send
it (ffmpeg -c copy -f flv to a file, the same flvmux pipeline to a filesink, or the tags a
scripted publisher builds); what a player received is its recording (rtmpdump -o) or the body
of an HTTP-FLV response. The tags compared are the media ones (audio 8, video 9): script data
is the server's to rewrite (it sends onMetaData of its own making to a joiner) and is checked
apart.

Run as: flvtags.py SENT.flv RECEIVED.flv (prints the comparison, exit 1 when they differ)."""

import struct
import sys
import zlib

AUDIO, VIDEO, SCRIPT = 8, 9, 18


class Tag:
    __slots__ = ("type", "ts", "body", "crc")

    def __init__(self, mtype, ts, body):
        self.type, self.ts, self.body = mtype, ts, bytes(body)
        self.crc = zlib.crc32(self.body)

    def key(self):
        """What identifies the tag's content: type, timestamp, body length and CRC."""
        return (self.type, self.ts, len(self.body), self.crc)

    def __repr__(self):
        kind = {AUDIO: "audio", VIDEO: "video", SCRIPT: "script"}.get(self.type, self.type)
        return "%s@%d len=%d crc=%08x" % (kind, self.ts, len(self.body), self.crc)

    def is_media(self):
        return self.type in (AUDIO, VIDEO)

    def is_video_key(self):
        """A video keyframe, legacy (frame type 1 in the top nibble) or enhanced (IsExHeader
        set, FrameType 1 in bits 4-6)."""
        if self.type != VIDEO or not self.body:
            return False
        b = self.body[0]
        return ((b >> 4) & 7) == 1 if b & 0x80 else (b >> 4) == 1

    def flv(self):
        """The tag as FLV bytes: header, body, PreviousTagSize."""
        head = bytes([self.type]) + len(self.body).to_bytes(3, "big")
        head += (self.ts & 0xFFFFFF).to_bytes(3, "big") + bytes([(self.ts >> 24) & 0xFF, 0, 0, 0])
        return head + self.body + struct.pack(">I", 11 + len(self.body))


def flv_header(audio=True, video=True):
    return b"FLV\x01" + bytes([(4 if audio else 0) | (1 if video else 0)]) + \
        struct.pack(">I", 9) + b"\x00\x00\x00\x00"


class Reader:
    """An incremental FLV reader: feed() bytes in any slices, tags come out of it whole. The
    file header is optional (an RTMP recording and an HTTP-FLV body both have one)."""

    def __init__(self):
        self.buf = bytearray()
        self.started = False
        self.header = None

    def feed(self, data):
        """Returns the tags completed by data."""
        self.buf += data
        out = []
        if not self.started:
            if len(self.buf) < 13:
                return out
            if self.buf[:3] == b"FLV":
                hlen = struct.unpack(">I", self.buf[5:9])[0]
                if len(self.buf) < hlen + 4:
                    return out
                self.header = bytes(self.buf[:hlen])
                del self.buf[:hlen + 4]
            self.started = True
        while len(self.buf) >= 11:
            size = int.from_bytes(self.buf[1:4], "big")
            if len(self.buf) < 11 + size + 4:
                break
            ts = int.from_bytes(self.buf[4:7], "big") | (self.buf[7] << 24)
            prev = struct.unpack(">I", self.buf[11 + size:15 + size])[0]
            if prev != 11 + size:
                raise ValueError("PreviousTagSize %d after a tag of %d bytes" % (prev, size))
            out.append(Tag(self.buf[0] & 0x1F, ts, self.buf[11:11 + size]))
            del self.buf[:15 + size]
        return out


def read_tags(data):
    """Every whole tag of FLV bytes (a file's contents); a partial last tag (a recording cut
    short) is left out."""
    return Reader().feed(data)


def trim_partial_tail(path):
    """Cuts a file's partial last tag off (a recording stopped inside it); returns the bytes
    dropped. What Reader leaves unconsumed after the whole file is that partial tag."""
    with open(path, "rb") as f:
        data = f.read()
    r = Reader()
    r.feed(data)
    dropped = len(r.buf) if r.started else 0
    if dropped:
        with open(path, "r+b") as f:
            f.truncate(len(data) - dropped)
    return dropped


def read_file(path):
    with open(path, "rb") as f:
        return read_tags(f.read())


def media(tags):
    return [t for t in tags if t.is_media()]


class Mismatch(Exception):
    pass


def compare(sent, received, whole=True, offset=None, skip_before=False):
    """Checks that the media tags of received are those of sent, in order: the same type, body
    (length and CRC) and timestamp, every timestamp moved by the same offset (a server may
    rebase a stream's time; offset None takes it from the first tag, else it must be that).
    whole: received must hold every sent tag; otherwise a prefix of sent (a recording stopped
    early) is enough. skip_before: received tags before the first sent one are left out (what a
    server sent a player of an earlier publisher's stream). Returns (number of tags matched,
    offset); raises Mismatch naming the first difference."""
    s, r = media(sent), media(received)
    if skip_before and s:
        first = (s[0].type, len(s[0].body), s[0].crc)
        at = next((i for i, t in enumerate(r) if (t.type, len(t.body), t.crc) == first), None)
        if at is None:
            raise Mismatch("the first tag sent, %r, was never received" % s[0])
        r = r[at:]
    if not r:
        raise Mismatch("no media tag received (%d sent)" % len(s))
    if len(r) > len(s):
        raise Mismatch("%d media tags received, only %d sent" % (len(r), len(s)))
    if offset is None:
        offset = r[0].ts - s[0].ts
    for i, (a, b) in enumerate(zip(s, r)):
        if (a.type, len(a.body), a.crc) != (b.type, len(b.body), b.crc) or \
                (b.ts - a.ts) & 0xFFFFFFFF != offset & 0xFFFFFFFF:
            raise Mismatch("media tag %d differs: sent %r, received %r (timestamp offset %d); "
                           "tags before it matched" % (i, a, b, offset))
    if whole and len(r) < len(s):
        raise Mismatch("%d of %d media tags received; the first missing: %r"
                       % (len(r), len(s), s[len(r)]))
    return len(r), offset


def summary(tags):
    m = media(tags)
    v = [t for t in m if t.type == VIDEO]
    a = [t for t in m if t.type == AUDIO]
    return "%d video (%d keyframes), %d audio, %d script tags, %d bytes of media" % (
        len(v), sum(t.is_video_key() for t in v), len(a), len(tags) - len(m),
        sum(len(t.body) for t in m))


def main():
    sent, received = read_file(sys.argv[1]), read_file(sys.argv[2])
    print("sent: " + summary(sent))
    print("received: " + summary(received))
    try:
        n, offset = compare(sent, received)
    except Mismatch as e:
        print("DIFFERENT: %s" % e)
        return 1
    print("the same: %d media tags in order, timestamps moved by %d ms" % (n, offset))
    return 0


if __name__ == "__main__":
    sys.exit(main())
