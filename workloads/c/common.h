/* Shared helpers for the C workloads: a monotonic clock and CPU spins. */
#ifndef WALLPROF_WORKLOAD_COMMON_H
#define WALLPROF_WORKLOAD_COMMON_H
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static inline double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts); /* vDSO: no syscall */
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* CPU time of the whole process so far (user + system), in seconds. */
static inline double cpu_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* One unit of pure computation; the volatile sink keeps it from being folded. */
static volatile uint64_t sink;
static inline uint64_t work(uint64_t x, long n) {
    for (long i = 0; i < n; i++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
    }
    sink = x;
    return x;
}

/* Compute (on CPU, no syscalls) for `seconds` of wall time. */
static inline void spin_for(double seconds) {
    double end = now_s() + seconds;
    uint64_t x = 88172645463325252ull;
    while (now_s() < end) x = work(x, 1000);
}

static inline void sleep_for(double seconds) {
    struct timespec ts = {(time_t)seconds, (long)((seconds - (time_t)seconds) * 1e9)};
    nanosleep(&ts, NULL);
}

/* "-n COUNT" means a fixed amount of work; otherwise the argument is seconds. */
static inline int fixed_work(int argc, char **argv, int i, long *count, double *seconds) {
    if (argc > i + 1 && strcmp(argv[i], "-n") == 0) {
        *count = atol(argv[i + 1]);
        return 1;
    }
    *seconds = argc > i ? atof(argv[i]) : *seconds;
    return 0;
}
#endif
