"""py_stdin_consumer: sums the numbers of each line it reads on stdin.

Its stdin is a pipe from a producer outside the profiled tree (the corpus
harness starts `outside` before wallprof: `producer | wallprof run --
python3 main.py`), which writes a line every 0.1 s. The consumer spends its
life waiting on that pipe; it cannot go faster than the producer, and there
is one stream, nothing to overlap or batch.
"""
import sys

total = 0
lines = 0
for line in sys.stdin:
    total += sum(int(x) for x in line.split())
    lines += 1
print(f"lines={lines} total={total}")
