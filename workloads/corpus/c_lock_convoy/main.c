/* c_lock_convoy: 4 pthreads each run 600 jobs; almost all of every job
 * (~0.7 ms of computation) is done while holding one global mutex, only ~0.02 ms outside it.
 * So the threads queue on the mutex and run one at a time: a lock convoy.
 * Labels: lock-bound (progress waits on a mutex held by the program's own threads), top wait
 * `lock`, finding lock-contention, first recommendation reduce-contention: fixed.c computes
 * outside the lock and only folds the result in under it, using both cores.
 * Prints: result=<checksum> jobs=2400 */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>

#define THREADS 4
#define JOBS_PER_THREAD 600
#define INNER 400000L /* ~0.7 ms of xorshift at -O2 on this machine */
#define OUTER 12000L

static pthread_mutex_t m = PTHREAD_MUTEX_INITIALIZER;
static uint64_t total;

static uint64_t work(uint64_t x, long n) {
    for (long i = 0; i < n; i++) { x ^= x << 13; x ^= x >> 7; x ^= x << 17; }
    return x;
}

static void *worker(void *arg) {
    uint64_t seed = (uintptr_t)arg;
    for (int j = 0; j < JOBS_PER_THREAD; j++) {
        uint64_t pre = work(seed + j, OUTER);       /* short part outside the lock */
        pthread_mutex_lock(&m);
        total += work(pre, INNER);                  /* the long part, inside: the convoy */
        pthread_mutex_unlock(&m);
    }
    return NULL;
}

int main(void) {
    pthread_t th[THREADS];
    for (long i = 0; i < THREADS; i++) pthread_create(&th[i], NULL, worker, (void *)(i * 7919 + 1));
    for (int i = 0; i < THREADS; i++) pthread_join(th[i], NULL);
    printf("result=%llu jobs=%d\n", (unsigned long long)total, THREADS * JOBS_PER_THREAD);
    return 0;
}
