"""cpu_loop.py [SECONDS | -n ITERS]: pure-Python computation in one thread; prints iterations. Expected: cpu-bound."""

import sys
import time


def unit(x):
    for _ in range(1000):
        x = (x * 1103515245 + 12345) & 0x7FFFFFFF
    return x


def main(argv):
    fixed = len(argv) > 2 and argv[1] == "-n"
    iters = int(argv[2]) if fixed else 0
    seconds = float(argv[1]) if len(argv) > 1 and not fixed else 4.0
    t0 = time.monotonic()
    done, x = 0, 1
    while (done < iters) if fixed else (time.monotonic() - t0 < seconds):
        x = unit(x)
        done += 1
    elapsed = time.monotonic() - t0
    print(f"iterations={done} elapsed_s={elapsed:.6f} rate={done / elapsed:.1f}")


if __name__ == "__main__":
    main(sys.argv)
