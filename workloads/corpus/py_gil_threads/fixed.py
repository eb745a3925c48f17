"""py_gil_threads, FIXED variant: the same 4 chunks of pure-Python work on a
multiprocessing.Pool of 2 processes (one per CPU), so they really run in parallel
(the process-pool recommendation). Same output as main.py."""

import multiprocessing
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from main import CHUNKS, chunk  # noqa: E402

if __name__ == "__main__":
    with multiprocessing.Pool(2) as pool:
        results = pool.map(chunk, range(CHUNKS))
    print(f"result={sum(results)} chunks={CHUNKS}")
