/* c_lock_convoy, FIXED variant: the same 2400 jobs and the same result, but each job computes
 * outside the mutex and holds it only to add its result to the total (a few ns). The 4 threads
 * now compute in parallel on both cores: the "shorter critical section" fix (reduce-contention).
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
        uint64_t r = work(pre, INNER);              /* the long part, now outside */
        pthread_mutex_lock(&m);
        total += r;                                 /* the critical section is one add */
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
