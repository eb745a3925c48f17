// busy [SECONDS | -n ITERS]: one thread computing with no syscalls; prints iterations. Expected: cpu-bound.
#include <stdio.h>
#include "common.h"

int main(int argc, char **argv) {
    long iters = 0;
    double seconds = 1.5;
    int fixed = fixed_work(argc, argv, 1, &iters, &seconds);
    double t0 = now_s(), end = t0 + seconds;
    uint64_t x = 88172645463325252ull;
    long done = 0;
    while (fixed ? done < iters : now_s() < end) {
        x = work(x, 10000);
        done++;
    }
    double el = now_s() - t0;
    printf("iterations=%ld elapsed_s=%.6f rate=%.1f cpu_s=%.6f\n", done, el, done / el, cpu_s());
    return 0;
}
