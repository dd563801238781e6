"""What a result row of bench/run.py holds and how the other modules read it: its protocol,
its CPU per player-minute and join-burst share, the median of one figure over the runs, the
names of the servers in the order they ran."""

import statistics


def fmt(v, spec="%.1f"):
    return "-" if v is None else spec % v


PROTOCOLS = {"rtmp": "RTMP", "http-flv": "HTTP-FLV"}


def protocol(row):
    return row.get("protocol", "rtmp")


def cpu_ms_per_player_min(r):
    """Server CPU milliseconds per player-minute over the run's play window: its CPU over N
    times the load client's run (from its first connect to the end of play, the same window for
    every server at an N). CPU per GB counts every byte sent as work done, a join burst's too:
    a server that sends each joiner a GOP at once (ezrtmp, SRS) delivers more bytes in the same
    play time than one that waits for the next keyframe (nginx-rtmp), and looks cheaper per GB
    by that much; per player-minute the same players over the same time are compared."""
    d = r["load"].get("duration_s")
    return 1000 * r["cpu_s"] / (r["n"] * d / 60) if d else None


def burst_share(r):
    """The share of the media bytes the players received that were join bursts (frames no newer
    than what was live when the player asked to play: bench/ezrload.c); None for a row measured
    before ezrload counted them."""
    ld = r["load"]
    return ld["burst_bytes"] / ld["media_bytes"] if ld.get("media_bytes") else None


def median_of(rows, server, proto, n, key):
    """The median over the runs of (server, protocol, n) of one figure: "cpu" (s per GB),
    "cpu_pm" (ms per player-minute), "reactor" (its reactor thread's s per GB), "ttfk" (p99) or
    "lag" (video, p99); None when no run has it."""
    vs = []
    for r in rows:
        if (r["server"], protocol(r), r["n"]) != (server, proto, n):
            continue
        if key == "cpu":
            v = r["cpu_per_gb"]
        elif key == "cpu_pm":
            v = cpu_ms_per_player_min(r)
        elif key == "reactor":
            v = r["reactor_cpu_s"] / r["gb"] if r["reactor_cpu_s"] is not None and r["gb"] else None
        elif key == "ttfk":
            v = r["load"]["ttfk_ms"]["p99"]
        else:
            v = (r["load"].get("lag_ms") or {}).get("p99")
        if v is not None:
            vs.append(v)
    return statistics.median(vs) if vs else None


def names_in_order(rows):
    return list(dict.fromkeys(r["server"] for r in rows))


def flush_label(ms):
    return "ezrtmp flush-interval=%s" % ms


def lag99(r):
    return (r["load"].get("lag_ms") or {}).get("p99")
