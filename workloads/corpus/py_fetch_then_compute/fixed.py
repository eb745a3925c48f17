"""py_fetch_then_compute, FIXED variant: the same 8 fetches made from a ThreadPoolExecutor of 8
threads (overlapping the waits), then the same processing. Same output as main.py."""

import os
import sys
from concurrent.futures import ThreadPoolExecutor

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from main import PAGES, fetch, finish, start_server  # noqa: E402

if __name__ == "__main__":
    srv, port = start_server()
    with ThreadPoolExecutor(PAGES) as ex:
        pages = list(ex.map(lambda i: fetch(port, i), range(PAGES)))
    finish(srv, pages)
