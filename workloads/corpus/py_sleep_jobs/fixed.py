"""py_sleep_jobs, FIXED variant: the same 12 jobs on a ThreadPoolExecutor of 12 threads, so the
independent 150 ms waits overlap (thread-pool). Same output as main.py."""

import os
import sys
from concurrent.futures import ThreadPoolExecutor

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from main import JOBS, job  # noqa: E402

if __name__ == "__main__":
    with ThreadPoolExecutor(JOBS) as ex:
        results = list(ex.map(job, range(JOBS)))
    print(f"jobs={len(results)} total={sum(results)}")
