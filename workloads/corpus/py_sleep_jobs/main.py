"""py_sleep_jobs: a plain synchronous script that runs 12 independent jobs one after another;
each job waits 150 ms on a timer (time.sleep: a fixed cool-down, standing in for waiting on
something that takes time), then does a little arithmetic. The waits do not depend on each
other, so they could all run at once.
Labels: io-bound, top wait `sleep`, first recommendation async or thread-pool (overlap the
independent waits). Contrast with c_ticker, whose sleeps ARE its schedule. fixed.py runs the
same 12 jobs on a ThreadPoolExecutor of 12 threads. Prints: jobs=12 total=<n>"""

import time

JOBS = 12
WAIT = 0.15


def job(i):
    time.sleep(WAIT)
    return sum(j * j for j in range(i * 1000, i * 1000 + 1000))


if __name__ == "__main__":
    results = [job(i) for i in range(JOBS)]
    print(f"jobs={len(results)} total={sum(results)}")
