#!/usr/bin/env python3
"""Overhead of `wallprof run` against bare runs and other profilers (issue 6).

    python3 bench/overhead.py            # full run: 5 alternated pairs per workload
    python3 bench/overhead.py --quick    # 2 pairs, ~1 s workloads: a smoke test

For each workload it runs rounds of: bare, under wallprof (default settings),
then, when available, under `perf record -F 999 -g`, `perf record -F 999
--call-graph dwarf` and (CPython only) `py-spy record -r 1000`. Each profiled
run is paired with the bare run of its round; the table gives medians over the
rounds. A markdown table goes to stdout, the raw numbers to bench/results/.

How each number is measured (docs/performance.md has the discussion):
- wall: time.perf_counter() around fork/exec to wait4 of the top process.
- CPU: wait4's rusage of the top process, which includes its reaped children.
  Bare: that is the target's user+sys. Under wallprof: the target's CPU is
  profile.json's time.user_s + system_s; wallprof's own CPU is the rusage total
  minus that. Under perf/py-spy the target's CPU cannot be separated, so their
  own CPU is the total minus the median bare CPU (an estimate).
- peak RSS of the profiler: the last VmHWM read from /proc/PID/status of the
  profiler's own pid (polled every 20 ms; a lower bound that misses growth in
  the last 20 ms), and the rusage maxrss when it exceeds the target's.
- after exit: profile.json's run.report_s, measured by wallprof from the reap
  of the target to the profile written (with older builds: wallprof's wall
  minus profile.json's wall_s (launch to reap): an
  upper bound of the time from the target's exit to the report being written,
  since it also counts wallprof's start-up before launch).

Only the Python standard library is used. py-spy is installed into
bench/.venv with pip; if that fails the py-spy column is skipped with a note.
"""

import argparse
import datetime
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time

BENCH = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(BENCH)
WORKLOADS = os.path.join(REPO, "workloads")
BUILD = os.path.join(BENCH, ".build")
VENV = os.path.join(BENCH, ".venv")


def log(msg):
    print(msg, file=sys.stderr, flush=True)


# ------------------------------------------------------------------ building


def build_wallprof():
    log("building wallprof (cargo build --release)...")
    subprocess.run(["cargo", "build", "--release", "--quiet"], cwd=REPO, check=True)
    meta = subprocess.run(
        ["cargo", "metadata", "--format-version", "1", "--no-deps"],
        cwd=REPO, check=True, capture_output=True, text=True,
    )
    target_dir = json.loads(meta.stdout)["target_directory"]
    return os.path.join(target_dir, "release", "wallprof")


def build_c(name):
    os.makedirs(BUILD, exist_ok=True)
    src = os.path.join(WORKLOADS, "c", name + ".c")
    out = os.path.join(BUILD, name)
    subprocess.run(["gcc", "-O2", "-pthread", "-o", out, src], check=True)
    return out


def real_python():
    """The interpreter itself, not a shim that execs it (shims add noise)."""
    return os.path.realpath(sys.executable)


def install_py_spy():
    py_spy = os.path.join(VENV, "bin", "py-spy")
    if os.path.exists(py_spy):
        return py_spy, None
    try:
        log("installing py-spy into bench/.venv ...")
        subprocess.run([sys.executable, "-m", "venv", VENV], check=True, capture_output=True)
        subprocess.run(
            [os.path.join(VENV, "bin", "pip"), "install", "--quiet", "py-spy"],
            check=True, capture_output=True, timeout=600,
        )
        return py_spy, None
    except (subprocess.SubprocessError, OSError) as e:
        return None, f"py-spy could not be installed: {e}"


def perf_available():
    perf = shutil.which("perf")
    if not perf:
        return None, "perf is not installed"
    probe = subprocess.run(
        [perf, "record", "-q", "-F", "99", "-g", "-o", "/dev/null", "--", "true"],
        capture_output=True, text=True,
    )
    if probe.returncode != 0:
        return None, "perf record does not work here: " + probe.stderr.strip()[:200]
    return perf, None


# ------------------------------------------------------------------ running


class Hwm(threading.Thread):
    """Polls VmHWM (kB) of one pid until it disappears."""

    def __init__(self, pid):
        super().__init__(daemon=True)
        self.pid, self.kb, self.stop = pid, 0, False

    def run(self):
        path = f"/proc/{self.pid}/status"
        while not self.stop:
            try:
                with open(path) as f:
                    for line in f:
                        if line.startswith("VmHWM:"):
                            self.kb = max(self.kb, int(line.split()[1]))
            except (OSError, ValueError):
                return
            time.sleep(0.02)


def run_reaped(argv):
    """Run argv to completion, reaping it with wait4: wall, CPU of it and its reaped children."""
    t0 = time.perf_counter()
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        pid = os.posix_spawnp(argv[0], argv, os.environ, file_actions=[
            (os.POSIX_SPAWN_DUP2, out.fileno(), 1),
            (os.POSIX_SPAWN_DUP2, err.fileno(), 2),
        ])
        hwm = Hwm(pid)
        hwm.start()
        _, status, ru = os.wait4(pid, 0)
        wall = time.perf_counter() - t0
        hwm.stop = True
        out.seek(0)
        err.seek(0)
        return {
            "argv": argv,
            "wall_s": wall,
            "cpu_s": ru.ru_utime + ru.ru_stime,
            "maxrss_kb": ru.ru_maxrss,
            "hwm_kb": hwm.kb,
            "exit": os.waitstatus_to_exitcode(status),
            "stdout": out.read().decode(errors="replace")[-500:],
            "stderr": err.read().decode(errors="replace")[-2000:],
        }


def printed(stdout, key):
    for kv in stdout.split():
        if kv.startswith(key + "="):
            return float(kv.split("=", 1)[1])
    raise ValueError(f"no {key}= in {stdout!r}")


# ------------------------------------------------------------------ workloads


def pingpong_work_for(pingpong, blocks_per_s, name="pipe-pingpong-40k", prefix=()):
    """The work per round trip that makes the ping-pong block about
    `blocks_per_s` times a second (both sides counted), bare: the least work
    whose median rate over three 0.3 s runs is at or under it. The flat-out
    rate swings with CPU placement from run to run, so one run can land
    under the target with no work at all (then this row would repeat
    pipe-pingpong-max); the search starts at one unit. `prefix` runs the
    ping-pong under another command (taskset)."""
    w = 1
    for w in [2 ** k for k in range(0, 17)]:
        rates = sorted(printed(run_reaped(list(prefix) + [pingpong, "0.3", "-w", str(w)])["stdout"],
                               "blocks_per_s")
                       for _ in range(3))
        if rates[1] <= blocks_per_s:
            break
    log(f"{name}: {w} work units per round trip")
    return w


def taskset():
    """`taskset` when it exists and there are two CPUs or more."""
    t = shutil.which("taskset")
    return t if t and (os.cpu_count() or 1) >= 2 else None


def workloads(seconds, only):
    """(name, time-mode argv for calibration, fixed-work argv builder)."""
    busy, pingpong, threads = build_c("busy"), build_c("pingpong"), build_c("threads_cpu")
    py = real_python()
    cpu_loop = os.path.join(WORKLOADS, "python", "cpu_loop.py")
    w40k = pingpong_work_for(pingpong, 40_000) if not only or "pipe-pingpong-40k" in only else 0
    # Both sides of the ping-pong on one CPU: every block is a switch from
    # one to the other, with no idle CPU to wake, so nothing hides the cost
    # the profiler adds to each switch (the 40k row unpinned can spend a
    # third of its time in cross-CPU wakeups, and a profiler that keeps the
    # other CPU out of its idle state speeds those up). The profiler is not
    # pinned.
    pin = taskset()
    want_pinned = pin and (not only or "pipe-pingpong-1cpu" in only)
    pin_argv = [pin, "-c", "0"] if pin else []
    w1cpu = pingpong_work_for(pingpong, 40_000, "pipe-pingpong-1cpu", pin_argv) if want_pinned else 0
    ws = [
        ("c-cpu-1thread", [busy, "1"], lambda n: [busy, "-n", str(n)], 1),
        ("cpython-cpu-1thread", [py, cpu_loop, "1"], lambda n: [py, cpu_loop, "-n", str(n)], 1),
        ("pipe-pingpong-40k", [pingpong, "1", "-w", str(w40k)], lambda n: [pingpong, "-n", str(n), "-w", str(w40k)], 1),
        ("pipe-pingpong-max", [pingpong, "1"], lambda n: [pingpong, "-n", str(n)], 1),
        ("pipe-pingpong-1cpu", pin_argv + [pingpong, "1", "-w", str(w1cpu)],
         lambda n: pin_argv + [pingpong, "-n", str(n), "-w", str(w1cpu)], 1),
        ("c-cpu-2threads", [threads, "2", "1"], lambda n: [threads, "2", "-n", str(n)], 2),
    ]
    ws = [w for w in ws if (not only or w[0] in only) and (pin or w[0] != "pipe-pingpong-1cpu")]
    out = []
    for name, calib, fixed, nthreads in ws:
        r = run_reaped(calib)
        rate = printed(r["stdout"], "rate") if "rate=" in r["stdout"] else \
            printed(r["stdout"], "round_trips") / printed(r["stdout"], "elapsed_s")
        n = max(1, int(rate * seconds / nthreads))
        log(f"{name}: {rate:.0f} units/s -> {n} units per run (~{seconds:g} s bare)")
        out.append((name, fixed(n)))
    return out


# ------------------------------------------------------------------ tools


def tools(wallprof, with_others, per_task, tracepoints=False):
    notes = []
    ts = [("wallprof", lambda argv, d: [wallprof, "run", "--quiet", "-o", d, "--"] + argv)]
    if tracepoints:
        # The CPU-wide perf tracepoints instead of the BPF collector: what
        # root gets from a wallprof built without clang, and the default
        # before BPF.
        ts.append(("wallprof --no-bpf", lambda argv, d: [wallprof, "run", "--quiet", "--no-bpf",
                                                         "-o", d, "--"] + argv))
    if per_task:
        # Per-task events, what a user without CAP_PERFMON (and
        # perf_event_paranoid > 0) gets: the default falls back to them.
        ts.append(("wallprof per-task", lambda argv, d: [wallprof, "run", "--quiet", "--perf-scope",
                                                         "task", "-o", d, "--"] + argv))
    if with_others:
        perf, note = perf_available()
        if perf:
            ts.append(("perf -g", lambda argv, d: [perf, "record", "-q", "-F", "999", "-g",
                                                   "-o", os.path.join(d, "perf.data"), "--"] + argv))
            ts.append(("perf dwarf", lambda argv, d: [perf, "record", "-q", "-F", "999",
                                                      "--call-graph", "dwarf",
                                                      "-o", os.path.join(d, "perf.data"), "--"] + argv))
        else:
            notes.append(note)
        py_spy, note = install_py_spy()
        if py_spy:
            ts.append(("py-spy 1000Hz", lambda argv, d: [py_spy, "record", "-r", "1000", "-f", "raw",
                                                         "-o", os.path.join(d, "py-spy.txt"),
                                                         "--"] + argv))
        else:
            notes.append(note)
    return ts, notes


def applies(tool, workload):
    return not tool.startswith("py-spy") or workload.startswith("cpython")


def profiled(tool, make_argv, argv):
    with tempfile.TemporaryDirectory(prefix="wallprof-bench-") as d:
        out = os.path.join(d, "out")
        ours = tool.startswith("wallprof")
        r = run_reaped(make_argv(argv, out if ours else d))
        if ours:
            try:
                with open(os.path.join(out, "profile.json")) as f:
                    p = json.load(f)
                r["target_cpu_s"] = p["time"]["user_s"] + p["time"]["system_s"]
                r["target_wall_s"] = p["wall_s"]
                if p.get("run", {}).get("report_s") is not None:
                    r["report_s"] = p["run"]["report_s"]
                r["samples"] = p.get("samples")
            except (OSError, ValueError, KeyError) as e:
                r["profile_error"] = str(e)
        return r


# ------------------------------------------------------------------ report


def med(xs):
    xs = [x for x in xs if x is not None]
    return statistics.median(xs) if xs else None


def summarize(name, bare, runs):
    """Medians over the pairs (bare run of the round, profiled run)."""
    bare_cpu = med([b["cpu_s"] for b in bare])
    bare_rss = med([b["maxrss_kb"] for b in bare]) or 0
    rows = []
    for tool, rs in runs.items():
        pairs = list(zip(bare, rs))
        wall_ratio = med([p["wall_s"] / b["wall_s"] for b, p in pairs])
        if tool.startswith("wallprof"):
            cpu_ratio = med([p.get("target_cpu_s", 0) / b["cpu_s"] for b, p in pairs
                             if "target_cpu_s" in p and b["cpu_s"]])
            own_cpu = med([p["cpu_s"] - p["target_cpu_s"] for p in rs if "target_cpu_s" in p])
            # wallprof measures it itself (run.report_s: reap to profile
            # written); older builds: its wall minus the target's, an upper
            # bound that also counts start-up.
            exact = [p["report_s"] for p in rs if "report_s" in p]
            after = med(exact) if exact else med([p["wall_s"] - p["target_wall_s"] for p in rs if "target_wall_s" in p])
            cpu_note = "target"
        else:
            cpu_ratio = med([p["cpu_s"] / b["cpu_s"] for b, p in pairs if b["cpu_s"]])
            own_cpu = med([p["cpu_s"] - bare_cpu for p in rs])
            after, cpu_note = None, "tool+target"
        rss = med([max(p["hwm_kb"], p["maxrss_kb"] if p["maxrss_kb"] > 1.1 * bare_rss else 0)
                   for p in rs])
        failed = sum(1 for p in rs if p["exit"] != 0)
        rows.append({
            "workload": name, "tool": tool, "pairs": len(pairs),
            "bare_wall_s": med([b["wall_s"] for b in bare]),
            "wall_ratio": wall_ratio, "cpu_ratio": cpu_ratio, "cpu_ratio_of": cpu_note,
            "tool_cpu_s": own_cpu, "tool_peak_rss_mb": rss / 1024 if rss else None,
            "after_exit_s": after, "failed_runs": failed,
        })
    return rows


def fmt(x, spec):
    return "n/a" if x is None else format(x, spec)


def markdown(rows, notes):
    lines = [
        "| workload | tool | bare wall s | wall ratio | CPU ratio | tool CPU s | tool peak RSS MB | exit→report s | failed |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        lines.append(
            f"| {r['workload']} | {r['tool']} | {fmt(r['bare_wall_s'], '.3f')} | "
            f"{fmt(r['wall_ratio'], '.3f')} | {fmt(r['cpu_ratio'], '.3f')} ({r['cpu_ratio_of']}) | "
            f"{fmt(r['tool_cpu_s'], '.3f')} | {fmt(r['tool_peak_rss_mb'], '.1f')} | "
            f"{fmt(r['after_exit_s'], '.3f')} | {r['failed_runs']}/{r['pairs']} |"
        )
    for n in notes:
        lines.append(f"\nNote: {n}")
    return "\n".join(lines)


def machine():
    cpu = ""
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next((line.split(":", 1)[1].strip() for line in f if line.startswith("model name")), "")
    except OSError:
        pass

    def read(path):
        try:
            with open(path) as f:
                return f.read().strip()
        except OSError:
            return None

    return {
        "host": platform.node(), "kernel": platform.release(), "cpus": os.cpu_count(),
        "cpu_model": cpu, "perf_event_paranoid": read("/proc/sys/kernel/perf_event_paranoid"),
        "python": platform.python_version(),
    }


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--pairs", type=int, default=5, help="alternated bare/profiled pairs (default 5)")
    ap.add_argument("--seconds", type=float, default=4.0, help="bare duration of each workload (default 4)")
    ap.add_argument("--quick", action="store_true", help="2 pairs of ~1 s runs: a smoke test")
    ap.add_argument("--only", nargs="*", help="workload names to run")
    ap.add_argument("--no-others", action="store_true", help="skip perf and py-spy")
    ap.add_argument("--no-per-task", action="store_true",
                    help="skip the wallprof --perf-scope task row (the non-root fallback)")
    ap.add_argument("--with-tracepoints", action="store_true",
                    help="add a wallprof --no-bpf row (CPU-wide perf tracepoints instead of BPF)")
    ap.add_argument("--wallprof", help="use this wallprof binary instead of building one")
    ap.add_argument("--results", default=os.path.join(BENCH, "results"), help="raw JSON directory")
    args = ap.parse_args()
    if args.quick:
        args.pairs, args.seconds = min(args.pairs, 2), min(args.seconds, 1.0)

    wallprof = args.wallprof or build_wallprof()
    ws = workloads(args.seconds, args.only)
    ts, notes = tools(wallprof, not args.no_others, not args.no_per_task, args.with_tracepoints)
    raw, rows = [], []
    for name, argv in ws:
        bare, runs = [], {t: [] for t, _ in ts if applies(t, name)}
        for i in range(args.pairs):
            bare.append(run_reaped(argv))
            for tool, make in ts:
                if applies(tool, name):
                    runs[tool].append(profiled(tool, make, argv))
            log(f"{name}: round {i + 1}/{args.pairs}: bare {bare[-1]['wall_s']:.3f}s, "
                + ", ".join(f"{t} {rs[-1]['wall_s']:.3f}s" for t, rs in runs.items()))
        rows += summarize(name, bare, runs)
        raw.append({"workload": name, "argv": argv, "bare": bare, "profiled": runs})

    table = markdown(rows, notes)
    print(table)
    os.makedirs(args.results, exist_ok=True)
    stamp = datetime.datetime.now(datetime.timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    path = os.path.join(args.results, f"overhead-{stamp}.json")
    with open(path, "w") as f:
        json.dump({"machine": machine(), "settings": vars(args), "wallprof": wallprof,
                   "summary": rows, "notes": notes, "raw": raw}, f, indent=1)
    log(f"raw results: {path}")


if __name__ == "__main__":
    main()
