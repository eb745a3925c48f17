"""py_mp_pool: already parallel on all cores. A multiprocessing.Pool of 2 worker processes (this
machine has 2 CPUs) runs 8 independent pure-Python tasks; the parent only hands out tasks and
collects results through the pool's pipes. The parent's own helper threads (task handler,
result handler, worker handler) and the parent's main thread idle on pipes and locks the
whole time, and the workers do not share a GIL (one interpreter each).
Labels: cpu-bound, no significant wait; both CPUs are saturated, so the only thing in reach is
cheaper computation: first recommendation optimize-cpu. Must NOT report gil-contention (no two
threads of one interpreter compete) nor lock-contention (the parent's waits are idle).
Prints: result=<n> tasks=8"""

import multiprocessing

TASKS = 8
N = 5_000_000


def task(k):
    h = k
    for i in range(N):
        h = (h * 31 + i) % 1_000_000_007
    return h


if __name__ == "__main__":
    with multiprocessing.Pool(2) as pool:
        results = pool.map(task, range(TASKS), chunksize=1)
    print(f"result={sum(results)} tasks={TASKS}")
