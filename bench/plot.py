"""The plots of a full run (gnuplot): the frontier, CPU per GB against video lag p99 of every
server and setting, and CPU, time to first keyframe and lag against players."""

import os
import subprocess

from rows import PROTOCOLS, median_of, names_in_order, protocol


def plot(rows, png, players_png, tmp):
    """png: the frontier, CPU per GB against video lag p99 of every server and setting, one panel
    per player count and protocol; players_png: CPU per GB, TTFK p99 and lag p99 against
    players, RTMP, a line per server and setting."""
    ns = sorted({r["n"] for r in rows})
    names = names_in_order(rows)
    panels = []
    for n in ns:
        kbps = next(r.get("kbps") for r in rows if r["n"] == n)
        for proto in PROTOCOLS:
            points = [(name, median_of(rows, name, proto, n, "lag"),
                       median_of(rows, name, proto, n, "cpu")) for name in names]
            points = [p for p in points if p[1] is not None and p[2] is not None]
            if not points:
                continue
            data = os.path.join(tmp, "frontier-%d-%s.dat" % (n, proto))
            with open(data, "w") as f:
                for name, lag, cpu in points:
                    label = name.replace("flush-interval=", "") + (
                        " ms" if "flush-interval=" in name else "")
                    family = 1 if name.startswith("ezrtmp") else 7 if name.startswith("SRS") else 4
                    f.write('"%s" %s %s %d\n' % (label, max(lag, 0.1), cpu, family))
            panels.append(
                "set title '%d %s players%s'\nplot '%s' using 2:3:4 with points pt 7 ps 2 lc variable "
                "notitle, "
                "'' using 2:3:1 with labels offset char 1,0.7 left font ',9' notitle" % (
                    n, PROTOCOLS[proto], "" if kbps is None else " of %s kbps" % kbps, data))
    if panels:
        script = """
set terminal pngcairo size %d,560 font ",11"
set output '%s'
set multiplot layout 1,%d title "The frontier: server CPU seconds per GB against video delivery lag p99\\n(same input, same players, this machine; median of the runs; lower left is better; ezrtmp purple, SRS red, nginx-rtmp orange)"
set logscale xy
set xlabel 'video delivery lag p99 (ms)'
set ylabel 'server CPU s per GB'
set grid
set offsets graph 0.05, graph 0.35, graph 0.1, graph 0.05
%s
unset multiplot
""" % (620 * len(panels), png, len(panels), "\n".join(panels))
        subprocess.run(["gnuplot"], input=script.encode(), check=True)

    rtmp = [name for name in names if any(r["server"] == name and protocol(r) == "rtmp"
                                          for r in rows)]
    data = os.path.join(tmp, "players.dat")
    with open(data, "w") as f:
        for n in ns:
            f.write("%d %s\n" % (n, " ".join(
                "NaN" if v is None else str(v) for key in ("cpu", "ttfk", "lag")
                for v in (median_of(rows, name, "rtmp", n, key) for name in rtmp))))

    def lines(first):
        return ", ".join("'%s' using 1:%d with linespoints lw 2 title '%s'"
                         % (data if i == 0 else "", first + i, name)
                         for i, name in enumerate(rtmp))

    script = """
set terminal pngcairo size 1800,480 font ",11"
set output '{png}'
set multiplot layout 1,3 title 'RTMP players: every server and setting (same input, same players, this machine; median of the runs)'
set logscale x
set xlabel 'players'
set grid
set key top left
set title 'server CPU seconds per GB delivered'
set yrange [0:*]
plot {cpu}
set title 'time to first keyframe, p99 (ms)'
set logscale y
set yrange [*:*]
plot {ttfk}
set title 'video delivery lag, p99 (ms)'
plot {lag}
unset multiplot
""".format(png=players_png, cpu=lines(2), ttfk=lines(2 + len(rtmp)),
           lag=lines(2 + 2 * len(rtmp)))
    subprocess.run(["gnuplot"], input=script.encode(), check=True)
