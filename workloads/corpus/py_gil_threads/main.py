"""py_gil_threads: 4 threads each run a pure-Python loop (a polynomial hash over 6M integers).
The GIL lets only one of them run bytecode at a time, so together they use about one CPU of two
and take turns on the interpreter lock every 5 ms (sys.getswitchinterval()).
Labels: cpu-bound (computation serialised by the GIL is cpu-bound, per the contract), no
significant wait, finding gil-contention, first recommendation process-pool: threads cannot
run Python in parallel; processes can. fixed.py runs the same 4 chunks on multiprocessing.Pool(2).
Prints: result=<n> chunks=4"""

import threading

CHUNKS = 4
N = 6_000_000


def chunk(k):
    h = k
    for i in range(N):
        h = (h * 31 + i) % 1_000_000_007
    return h


if __name__ == "__main__":
    results = [0] * CHUNKS

    def run(k):
        results[k] = chunk(k)

    threads = [threading.Thread(target=run, args=(k,)) for k in range(CHUNKS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    print(f"result={sum(results)} chunks={CHUNKS}")
