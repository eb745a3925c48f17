#!/usr/bin/env python3
"""corpus.py: build, run, time and lint the labelled workload corpus (workloads/corpus/).

Run from the repository root:
  python3 workloads/corpus/corpus.py list               names, languages, whether a fixed variant exists
  python3 workloads/corpus/corpus.py build [NAME...]    compile C/Java workloads into target/corpus-build/NAME/
  python3 workloads/corpus/corpus.py argv NAME [--fixed]   print the argv (JSON) after building
  python3 workloads/corpus/corpus.py run NAME [--fixed]    build, then run bare (no wallprof)
  python3 workloads/corpus/corpus.py time [NAME...] [-n 3]  median bare wall time of run and
                                                        run_fixed, their ratio, same-output check
  python3 workloads/corpus/corpus.py lint               check labels.json against the folders and
                                                        the contract's vocabulary

Conventions (see docs/corpus.md): each workload is a folder workloads/corpus/NAME/ with
  run        one line: the argv, whitespace-separated, relative to the repository root;
             the token $BUILD stands for target/corpus-build/NAME (compiled workloads)
  run_fixed  the same for the fixed variant, when there is one
  build      for C/Java: shell commands, one per line, run from the repository root with $BUILD
             set (gcc -O2 -pthread ... / javac -d $BUILD ...)
  outside    optional, one line run with `sh -c` (from the repository root, $BUILD set) before the
             workload, so outside the profiled tree: its stdout is the workload's stdin, it creates
             $BUILD/outside.ready when ready, and it is stopped after the run
Folders starting with "_" (shared helpers) are not workloads.
"""

import json
import os
import shlex
import statistics
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
CORPUS = os.path.join(ROOT, "workloads", "corpus")
LABELS = os.path.join(ROOT, "workloads", "labels.json")

CLASSES = {"cpu-bound", "io-bound", "mixed", "lock-bound"}  # `unknown` is never a label
WAIT_KINDS = {"disk", "network", "sleep", "lock", "ipc", "child", "terminal", "cpu-contention", "other"}
STRATEGIES = {"async", "thread-pool", "process-pool", "batch", "reduce-contention", "optimize-cpu", "none"}
FINDINGS = {"gil-contention", "blocking-call-in-event-loop", "lock-contention", "fsync-per-write",
            "cpu-oversubscribed"}


def names():
    return sorted(d for d in os.listdir(CORPUS)
                  if not d.startswith(("_", ".")) and os.path.isfile(os.path.join(CORPUS, d, "run")))


def build_dir(name):
    return os.path.join("target", "corpus-build", name)


def read_line(name, fname):
    path = os.path.join(CORPUS, name, fname)
    if not os.path.exists(path):
        return None
    lines = [l.strip() for l in open(path) if l.strip() and not l.startswith("#")]
    return lines[0] if lines else None


def argv(name, fixed=False):
    line = read_line(name, "run_fixed" if fixed else "run")
    if line is None:
        return None
    return [a.replace("$BUILD", build_dir(name)) for a in shlex.split(line)]


def build(name):
    path = os.path.join(CORPUS, name, "build")
    if not os.path.exists(path):
        return
    env = dict(os.environ, BUILD=build_dir(name))
    os.makedirs(os.path.join(ROOT, build_dir(name)), exist_ok=True)
    for line in open(path):
        line = line.strip()
        if line and not line.startswith("#"):
            subprocess.run(["sh", "-c", line], cwd=ROOT, env=env, check=True)


class Outside:
    """A workload's `outside` command, running (see the module's docstring)."""

    def __init__(self, name):
        line = read_line(name, "outside")
        self.proc = None
        if line is None:
            return
        bdir = os.path.join(ROOT, build_dir(name))
        os.makedirs(bdir, exist_ok=True)
        ready = os.path.join(bdir, "outside.ready")
        if os.path.exists(ready):
            os.remove(ready)
        self.proc = subprocess.Popen(["sh", "-c", line], cwd=ROOT, env=dict(os.environ, BUILD=bdir),
                                     stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                     start_new_session=True)
        deadline = time.monotonic() + 10
        while not os.path.exists(ready):
            if time.monotonic() > deadline:
                raise SystemExit(f"{name}: `{line}` did not create $BUILD/outside.ready in 10 s")
            time.sleep(0.005)

    def stdin(self):
        return self.proc.stdout if self.proc else subprocess.DEVNULL

    def stop(self):
        if self.proc:
            try:
                os.killpg(self.proc.pid, 15)
            except ProcessLookupError:
                pass
            self.proc.wait()


def language(name):
    return {"c": "C", "py": "Python", "sh": "shell", "node": "Node.js", "java": "Java", "go": "Go"}.get(name.split("_")[0], "?")


def timed(av):
    t = time.monotonic()
    p = subprocess.run(av, cwd=ROOT, stdout=subprocess.PIPE, stdin=subprocess.DEVNULL, check=True)
    return time.monotonic() - t, p.stdout.decode().strip().splitlines()[-1]


def cmd_time(args):
    n = 3
    if "-n" in args:
        i = args.index("-n")
        n = int(args[i + 1])
        del args[i:i + 2]
    for name in args or names():
        build(name)
        runs = [timed(argv(name)) for _ in range(n)]
        med = statistics.median(t for t, _ in runs)
        line = f"{name:28s} run {med:6.3f}s"
        if argv(name, fixed=True):
            fruns = [timed(argv(name, fixed=True)) for _ in range(n)]
            fmed = statistics.median(t for t, _ in fruns)
            same = {o for _, o in runs} == {o for _, o in fruns} and len({o for _, o in runs}) == 1
            line += f"  fixed {fmed:6.3f}s  speedup {med / fmed:6.2f}x  same-output={same}"
        line += f"  [{', '.join(f'{t:.2f}' for t, _ in runs)}]"
        print(line, flush=True)


def cmd_lint():
    labels = json.load(open(LABELS))
    errors = []
    for name in names():
        if name not in labels:
            errors.append(f"{name}: no label")
    for name, lab in labels.items():
        where = f"labels[{name}]"
        if name not in names():
            errors.append(f"{where}: no folder workloads/corpus/{name} with a run file")
            continue
        if lab.get("run") != read_line(name, "run"):
            errors.append(f"{where}.run differs from the run file")
        if lab.get("outside") != read_line(name, "outside"):
            errors.append(f"{where}.outside differs from the outside file")
        if not lab.get("classes") or not set(lab["classes"]) <= CLASSES:
            errors.append(f"{where}.classes: {lab.get('classes')}")
        if lab.get("top_wait") is not None and lab["top_wait"] not in WAIT_KINDS:
            errors.append(f"{where}.top_wait: {lab['top_wait']}")
        if not lab.get("first_recommendations") or not set(lab["first_recommendations"]) <= STRATEGIES:
            errors.append(f"{where}.first_recommendations: {lab.get('first_recommendations')}")
        for key in ("findings", "forbidden_findings"):
            if not set(lab.get(key, [])) <= FINDINGS:
                errors.append(f"{where}.{key}: {lab.get(key)}")
        if set(lab.get("findings", [])) & set(lab.get("forbidden_findings", [])):
            errors.append(f"{where}: a finding is both required and forbidden")
        if not lab.get("note"):
            errors.append(f"{where}.note is empty")
        fixed_file = read_line(name, "run_fixed")
        if ("fixed" in lab) != (fixed_file is not None):
            errors.append(f"{where}.fixed and the run_fixed file disagree")
        elif fixed_file is not None and lab["fixed"].get("run") != fixed_file:
            errors.append(f"{where}.fixed.run differs from the run_fixed file")
    for e in errors:
        print(e)
    print(f"{len(labels)} labels, {len(names())} workloads, {len(errors)} problems")
    return 1 if errors else 0


def main():
    args = sys.argv[1:]
    if not args:
        print(__doc__)
        return 2
    cmd, rest = args[0], args[1:]
    fixed = "--fixed" in rest
    rest = [a for a in rest if a != "--fixed"]
    if cmd == "list":
        for name in names():
            print(f"{name:28s} {language(name):8s} {'fixed' if argv(name, True) else ''}")
    elif cmd == "build":
        for name in rest or names():
            build(name)
    elif cmd == "argv":
        build(rest[0])
        print(json.dumps(argv(rest[0], fixed)))
    elif cmd == "run":
        build(rest[0])
        outside = Outside(rest[0])
        try:
            return subprocess.run(argv(rest[0], fixed), cwd=ROOT, stdin=outside.stdin()).returncode
        finally:
            outside.stop()
    elif cmd == "time":
        cmd_time(rest)
    elif cmd == "lint":
        return cmd_lint()
    else:
        print(__doc__)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
