/* c_parallel_cpu: already parallel on all cores. The main thread splits a fixed amount of
 * computation (a prime count up to 15,000,000 by trial division) into 2 halves (blocks dealt round robin), one
 * per core (this machine has 2), and joins them. Both cores stay busy for the whole run.
 * Labels: cpu-bound, no significant wait; the only thing in reach is cheaper computation
 * (optimize-cpu: a sieve would be far faster); more threads would not help. No lock contention,
 * no oversubscription (2 runnable threads on 2 CPUs).
 * Prints: primes=<n> */
#include <pthread.h>
#include <stdio.h>

#define LIMIT 15000000L
#define NTHREADS 2

static long counts[NTHREADS];

static int is_prime(long n) {
    if (n < 2) return 0;
    if (n % 2 == 0) return n == 2;
    for (long d = 3; d * d <= n; d += 2)
        if (n % d == 0) return 0;
    return 1;
}

static void *worker(void *arg) {
    long id = (long)arg, c = 0;
    for (long b = id * 1000; b < LIMIT; b += NTHREADS * 1000)    /* blocks of 1000, round robin: */
        for (long n = b; n < b + 1000 && n < LIMIT; n++) c += is_prime(n); /* balanced halves */
    counts[id] = c;
    return NULL;
}

int main(void) {
    pthread_t th[NTHREADS];
    for (long i = 0; i < NTHREADS; i++) pthread_create(&th[i], NULL, worker, (void *)i);
    long total = 0;
    for (int i = 0; i < NTHREADS; i++) { pthread_join(th[i], NULL); total += counts[i]; }
    printf("primes=%ld\n", total);
    return 0;
}
