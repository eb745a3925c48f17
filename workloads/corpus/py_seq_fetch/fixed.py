"""py_seq_fetch, FIXED variant: the same 10 requests to the same slow local service, made from a
ThreadPoolExecutor of 10 threads so the 200 ms waits overlap (the thread-pool recommendation; an
async client would do the same). Same output as main.py. Run from the repository root."""

import os
import sys
from concurrent.futures import ThreadPoolExecutor

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from main import PAGES, fetch, report, start_server  # noqa: E402

if __name__ == "__main__":
    srv, port = start_server()
    with ThreadPoolExecutor(max_workers=PAGES) as ex:
        pages = list(ex.map(lambda i: fetch(port, i), range(PAGES)))
    report(pages, srv)
