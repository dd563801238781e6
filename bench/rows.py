"""What a result row of bench/run.py holds and how the other modules read it: its protocol,
the median of one figure over the runs, the names of the servers in the order they ran."""

import statistics


def fmt(v, spec="%.1f"):
    return "-" if v is None else spec % v


PROTOCOLS = {"rtmp": "RTMP", "http-flv": "HTTP-FLV"}


def protocol(row):
    return row.get("protocol", "rtmp")


def median_of(rows, server, proto, n, key):
    """The median over the runs of (server, protocol, n) of one figure: "cpu" (s per GB),
    "reactor" (its reactor thread's s per GB), "ttfk" (p99) or "lag" (video, p99); None when no
    run has it."""
    vs = []
    for r in rows:
        if (r["server"], protocol(r), r["n"]) != (server, proto, n):
            continue
        if key == "cpu":
            v = r["cpu_per_gb"]
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
