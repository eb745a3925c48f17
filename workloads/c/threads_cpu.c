// threads_cpu NTHREADS [SECONDS | -n ITERS]: NTHREADS threads computing independently (ITERS each); prints total iterations. Expected: cpu-bound, using several cores.
#include <pthread.h>
#include <stdio.h>
#include "common.h"

static long iters_each;
static double end_at;
static int fixed;

static void *run(void *arg) {
    long *done = arg;
    uint64_t x = 88172645463325252ull + (uint64_t)(uintptr_t)arg;
    while (fixed ? *done < iters_each : now_s() < end_at) {
        x = work(x, 10000);
        (*done)++;
    }
    return NULL;
}

int main(int argc, char **argv) {
    int n = argc > 1 ? atoi(argv[1]) : 2;
    double seconds = 1.5;
    fixed = fixed_work(argc, argv, 2, &iters_each, &seconds);
    if (n < 1 || n > 64) return fprintf(stderr, "1..64 threads\n"), 2;
    double t0 = now_s();
    end_at = t0 + seconds;
    pthread_t th[64];
    long done[64] = {0};
    for (int i = 0; i < n; i++) pthread_create(&th[i], NULL, run, &done[i]);
    long total = 0;
    for (int i = 0; i < n; i++) pthread_join(th[i], NULL), total += done[i];
    double el = now_s() - t0;
    printf("iterations=%ld elapsed_s=%.6f rate=%.1f\n", total, el, total / el);
    return 0;
}
