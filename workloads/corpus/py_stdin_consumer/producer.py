"""The producer outside the profiled tree for py_stdin_consumer: says it is
ready ($BUILD/outside.ready), then writes 20 lines of numbers, one every
0.1 s, to stdout."""
import os
import time

open(os.path.join(os.environ["BUILD"], "outside.ready"), "w").close()
for i in range(20):
    time.sleep(0.1)
    print(" ".join(str(i * j) for j in range(10)), flush=True)
