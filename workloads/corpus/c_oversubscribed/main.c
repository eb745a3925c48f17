/* c_oversubscribed: 8 worker threads, each computing the same fixed amount (xorshift rounds, no
 * syscalls), on a 2-CPU machine. At any instant ~6 of them are runnable but not running, so each
 * thread spends about 3/4 of its life in the run queue.
 * Labels: cpu-bound (the cpu side includes runqueue delay), top wait `cpu-contention`, finding
 * cpu-oversubscribed. Both CPUs are already saturated: more threads or processes cannot help, so
 * the first recommendation is optimize-cpu (fewer, cheaper instructions).
 * Prints: result=<checksum> threads=8 */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>

#define NTHREADS 8
#define ROUNDS 300000000L /* ~0.5 s of one CPU per thread at -O2 */

static uint64_t results[NTHREADS];

static void *worker(void *arg) {
    uint64_t x = 88172645463325252ull + (uintptr_t)arg;
    for (long i = 0; i < ROUNDS; i++) { x ^= x << 13; x ^= x >> 7; x ^= x << 17; }
    results[(uintptr_t)arg] = x;
    return NULL;
}

int main(void) {
    pthread_t th[NTHREADS];
    for (uintptr_t i = 0; i < NTHREADS; i++) pthread_create(&th[i], NULL, worker, (void *)i);
    uint64_t sum = 0;
    for (int i = 0; i < NTHREADS; i++) { pthread_join(th[i], NULL); sum += results[i]; }
    printf("result=%llu threads=%d\n", (unsigned long long)sum, NTHREADS);
    return 0;
}
