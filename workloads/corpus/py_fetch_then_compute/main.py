"""py_fetch_then_compute: the tutorial's pipeline. Fetch 8 pages one after another with urllib
from a local service that takes 150 ms per answer (~1.2 s of network waits), then process them
in pure Python (~1 s of CPU on one core). Neither side dominates.
Labels: mixed, top wait `network`. First recommendation async or thread-pool: overlapping the
8 fetches would save ~1 s (wall ~2.3 s -> ~1.3 s), more than spreading the CPU part over 2
processes (~0.5 s). fixed.py fetches with a ThreadPoolExecutor and processes the same way.
Run from the repository root. Prints: pages=8 digest=<hex>"""

import hashlib
import os
import subprocess
import sys
import urllib.request

PAGES = 8
DELAY = 0.15
ROUNDS = 4500


def start_server():
    srv = subprocess.Popen([sys.executable, "workloads/corpus/_shared/slow_server.py", "--delay", str(DELAY),
                            "--lifetime", "10", "--stdin-eof"], stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    return srv, int(srv.stdout.readline())


def fetch(port, i):
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/doc/{i}", timeout=10) as r:
        return r.read()


def process(pages):
    """Pure-Python work: a rolling checksum over every page, ROUNDS times."""
    acc = 0
    for r in range(ROUNDS):
        for p in pages:
            for b in p[r % 7::7]:
                acc = (acc * 131 + b + r) & 0xFFFFFFFF
    return acc


def finish(srv, pages):
    acc = process(pages)
    srv.stdin.close()
    srv.wait()
    h = hashlib.sha256(str(acc).encode() + b"".join(pages)).hexdigest()[:16]
    print(f"pages={len(pages)} digest={h}")


if __name__ == "__main__":
    srv, port = start_server()
    pages = [fetch(port, i) for i in range(PAGES)]
    finish(srv, pages)
