"""What one load run measures: the server process's CPU and memory from /proc over a run of
bench/ezrload, the machine's busy share, the sink's own figures, and the slow-client run's
summary."""

import json
import os
import platform
import subprocess
import time

from inputs import FPS

# The slow-client run: stalled players' kernel buffers kept small, and the tiers at an eighth of
# the defaults (see run.py).
SLOW_SEND_BUFFER = 65536
SLOW_TIERS = ["queue-warning-bytes=131072", "queue-high-bytes=262144", "queue-max-bytes=524288"]


TICK = os.sysconf("SC_CLK_TCK")



def proc_cpu(pid, tid=None):
    """User + system CPU seconds of a process (all threads) or of one of its threads."""
    path = "/proc/%d/task/%d/stat" % (pid, tid) if tid else "/proc/%d/stat" % pid
    with open(path) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK



def machine_ticks():
    """(busy, total) clock ticks of all CPUs since boot, from /proc/stat (idle and iowait are
    not busy)."""
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:]]
    total = sum(v[:8])  # user nice system idle iowait irq softirq steal (guest is in user)
    return total - v[3] - v[4], total



def proc_rss_kb(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0



def ezrload_path(build):
    """The load client of the build directory build."""
    return os.path.join(build, "bench", "ezrload")


def ezrload_cmd(build, url, n, rate=None, seconds=None, fps=None, stalled=0, flags=()):
    """The command line of build's bench/ezrload (options: bench/ezrload.c) with its report in
    JSON on stdout (-j): n players (viewers) of url, opened at rate a second (-r; None: its
    default, 2,000), playing for seconds after the last one opened (-d; None: 10); fps, the
    stream's frame rate, makes it count missing frames (-f); the last stalled players stop
    reading after their first keyframe (-k); flags are further options as given (-t: RTMP in
    TLS, -P: HLS viewers of whole segments, ...)."""
    cmd = [ezrload_path(build), "-n", str(n)]
    for opt, value in (("-r", rate), ("-d", seconds), ("-f", fps)):
        if value is not None:
            cmd += [opt, str(value)]
    cmd += ["-j"] + list(flags)
    if stalled:
        cmd += ["-k", str(stalled)]
    return cmd + [url]


def load_run(build, server, n, seconds, stalled=0, log_path=None, rate=2000, extra=(), url=None):
    """Plays n players against server (at url, else its RTMP URL); measures its CPU and RSS over
    the run. extra: further ezrload options (ezrload_cmd's flags)."""
    args = ezrload_cmd(build, url or server.url, n, rate=rate, seconds=seconds, stalled=stalled,
                       flags=extra)
    rss0 = proc_rss_kb(server.pid)
    cpu0 = proc_cpu(server.pid)
    rcpu0 = proc_cpu(server.pid, server.reactor) if server.reactor else None
    busy0, total0 = machine_ticks()
    t0 = time.monotonic()
    with open(log_path or os.devnull, "w") as err:
        load = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=err)
        rss_max = rss0
        while load.poll() is None:
            rss_max = max(rss_max, proc_rss_kb(server.pid))
            time.sleep(0.25)
        out = load.stdout.read()
    wall = time.monotonic() - t0
    cpu = proc_cpu(server.pid) - cpu0
    rcpu = proc_cpu(server.pid, server.reactor) - rcpu0 if server.reactor else None
    busy1, total1 = machine_ticks()
    result = json.loads(out)
    gb = result["bytes"] / 1e9
    return {
        "machine_busy": round((busy1 - busy0) / (total1 - total0), 3) if total1 > total0 else None,
        "server": server.name, "n": n, "load": result, "wall_s": round(wall, 1),
        "cpu_s": round(cpu, 2), "reactor_cpu_s": None if rcpu is None else round(rcpu, 2),
        "gb": round(gb, 3), "cpu_per_gb": round(cpu / gb, 2) if gb else None,
        "rss0_mb": round(rss0 / 1024, 1), "rss_max_mb": round(rss_max / 1024, 1),
        "rss_per_player_kb": round((rss_max - rss0) / n, 2),
    }



def serve_and_load(args, server, n, tmp, url=None):
    """load_run() of n players against a started server, which it then stops; with the sink's
    own figures for ezrtmp. A pipeline error fails the benchmark."""
    try:
        r = load_run(args.build, server, n, args.seconds, log_path=os.path.join(tmp, "load.log"),
                     url=url)
    finally:
        stats = server.close()
    if stats and stats.get("error"):
        raise RuntimeError("ezrtmp pipeline: %s" % stats["error"])
    if stats:
        r["sink"] = sink_figures(stats["samples"], args.seconds)
    return r



def load_together(build, server, urls, n, seconds, log_dir):
    """One ezrload of n players per URL, all started together against one server; the server's
    CPU and RSS over the whole run (from the first start to the last exit)."""
    rss0 = proc_rss_kb(server.pid)
    cpu0 = proc_cpu(server.pid)
    rcpu0 = proc_cpu(server.pid, server.reactor)
    t0 = time.monotonic()
    loads = []
    for i, url in enumerate(urls):
        err = open(os.path.join(log_dir, "load-%d.log" % i), "w")
        loads.append((subprocess.Popen(ezrload_cmd(build, url, n, seconds=seconds, fps=FPS),
                                       stdout=subprocess.PIPE, stderr=err), err))
    rss_max = rss0
    while any(p.poll() is None for p, _ in loads):
        rss_max = max(rss_max, proc_rss_kb(server.pid))
        time.sleep(0.25)
    wall = time.monotonic() - t0
    cpu = proc_cpu(server.pid) - cpu0
    rcpu = proc_cpu(server.pid, server.reactor) - rcpu0
    results = []
    for p, err in loads:
        err.close()
        results.append(json.loads(p.stdout.read()))
    return {"loads": results, "wall_s": round(wall, 1), "cpu_s": round(cpu, 2),
            "reactor_cpu_s": round(rcpu, 2), "rss0_mb": round(rss0 / 1024, 1),
            "rss_max_mb": round(rss_max / 1024, 1),
            "rss_per_player_kb": round((rss_max - rss0) / (n * len(urls)), 2)}



def sink_figures(samples, seconds):
    """The sink's own reactor-busy and send-latency p99, averaged over the one-second samples of
    the play time after the last player joined (the last `seconds` before the server stopped)."""
    if not samples:
        return None
    end = samples[-1]["t"]
    play = [s for s in samples if s["t"] > end - seconds] or samples[-1:]
    return {"reactor_busy": sum(s["reactor_busy"] for s in play) / len(play),
            "send_latency_p50_ms": sum(s["send_latency_p50_us"] for s in play) / len(play) / 1000,
            "send_latency_p99_ms": sum(s["send_latency_p99_us"] for s in play) / len(play) / 1000}



def slow_summary(run, stats, stalled):
    ld = run["load"]
    final = stats["final"]
    samples = [s for s in stats["samples"] if s["renders"]]
    t_cut = next((s["t"] for s in samples if s["disconnects_slow"] >= stalled), None)
    before = [s["render_mean_us"] for s in samples if t_cut is None or s["t"] < t_cut]
    after = [s["render_mean_us"] for s in samples if t_cut is not None and s["t"] >= t_cut]
    mean = lambda xs: sum(xs) / len(xs) if xs else None  # noqa: E731
    return {
        "players": ld["players"], "stalled": stalled,
        "disconnects_slow": final["disconnects-slow"], "dropped_stalled": ld["dropped_stalled"],
        "dropped_healthy": ld["dropped_healthy"], "gaps_over_500ms": ld["gaps_over"],
        "max_gap_ms": ld["max_gap_ms"], "max_video_ts_step_ms": ld["max_video_ts_step_ms"],
        "ts_regressions": ld["ts_regressions"],
        "players_with_server_drops_max": max((s["clients_with_drops"] for s in samples), default=0),
        "players_with_server_drops_after_cut": max(
            (s["clients_with_drops"] for s in samples if t_cut is not None and s["t"] >= t_cut),
            default=None),
        "frames_dropped_warning": final["frames-dropped-warning"],
        "frames_dropped_high": final["frames-dropped-high"],
        "stalled_cut_at_s": t_cut,
        "render_mean_us_before_cut": mean(before), "render_mean_us_after_cut": mean(after),
        "render_max_us": final["render-time-max-ns"] / 1000.0,
        "render_series": [(s["t"], s["render_mean_us"], s["clients"]) for s in samples],
    }



def machine():
    model = "?"
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    with open("/proc/meminfo") as f:
        mem_gb = int(f.readline().split()[1]) / 1024 / 1024
    nginx = subprocess.run(["nginx", "-v"], capture_output=True).stderr.decode().strip()
    gst = subprocess.run(["gst-launch-1.0", "--version"], capture_output=True).stdout.decode()
    gst = gst.splitlines()[1] if len(gst.splitlines()) > 1 else gst.strip()
    return ("%s, %d logical CPUs, %.0f GiB RAM; Linux %s; %s; %s"
            % (model, os.cpu_count(), mem_gb, platform.release(), gst, nginx))
