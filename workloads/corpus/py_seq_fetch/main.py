"""py_seq_fetch: fetch 10 pages one after another with urllib from a local HTTP service that
takes 200 ms to answer each (workloads/corpus/_shared/slow_server.py, started as a child process
and stopped at the end). Nearly all the wall time is the main thread blocked in recv() on a TCP
socket. Labels: io-bound, top wait `network`, first recommendation async or thread-pool: the 10
waits are independent. fixed.py makes the same 10 requests from a ThreadPoolExecutor.
Run from the repository root. Prints: pages=10 bytes=20000 digest=<hex>"""

import hashlib
import subprocess
import sys
import urllib.request

PAGES = 10
DELAY = 0.2


def start_server():
    srv = subprocess.Popen([sys.executable, "workloads/corpus/_shared/slow_server.py", "--delay", str(DELAY),
                            "--lifetime", "10", "--stdin-eof"], stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    return srv, int(srv.stdout.readline())


def fetch(port, i):
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/page/{i}", timeout=10) as r:
        return r.read()


def report(pages, srv):
    srv.stdin.close()
    srv.wait()
    h = hashlib.sha256(b"".join(pages)).hexdigest()[:16]
    print(f"pages={len(pages)} bytes={sum(map(len, pages))} digest={h}")


if __name__ == "__main__":
    srv, port = start_server()
    pages = [fetch(port, i) for i in range(PAGES)]  # one after another
    report(pages, srv)
