/* c_idle_server_cpu: a service process whose real work is on its main thread: it counts primes
 * up to 9,000,000 by trial division (~1.5 s of one CPU). Meanwhile, like many servers, it has an
 * admin listener thread blocked in accept() on 127.0.0.1 that nobody connects to, and a pool of
 * 3 worker threads parked on a condition variable that is never signalled until shutdown.
 * Those 4 threads idle for the whole run: they are not what bounds the program.
 * Labels: cpu-bound, no significant wait. One of the 2 CPUs is unused and the prime count splits
 * into independent ranges, so thread-pool (~2x by Amdahl) and optimize-cpu (a sieve) are both
 * honest first recommendations. Must NOT report lock-contention or a lock/io verdict from the
 * idle threads. Prints: primes=<n> */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <sys/socket.h>
#include <unistd.h>

#define LIMIT 9000000L
#define POOL 3

static pthread_mutex_t m = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
static int stopping;
static int ls;

static void *pool_worker(void *arg) {
    (void)arg;
    pthread_mutex_lock(&m);
    while (!stopping) pthread_cond_wait(&cv, &m); /* no job ever arrives */
    pthread_mutex_unlock(&m);
    return NULL;
}

static void *admin_listener(void *arg) {
    (void)arg;
    for (;;) {
        int c = accept(ls, NULL, NULL); /* blocks for the whole run */
        if (c >= 0) close(c);
        pthread_mutex_lock(&m);
        int s = stopping;
        pthread_mutex_unlock(&m);
        if (s || c < 0) return NULL;
    }
}

static int is_prime(long n) {
    if (n < 2) return 0;
    if (n % 2 == 0) return n == 2;
    for (long d = 3; d * d <= n; d += 2)
        if (n % d == 0) return 0;
    return 1;
}

int main(void) {
    ls = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = 0, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t al = sizeof a;
    bind(ls, (struct sockaddr *)&a, sizeof a);
    listen(ls, 8);
    getsockname(ls, (struct sockaddr *)&a, &al);
    pthread_t admin, pool[POOL];
    pthread_create(&admin, NULL, admin_listener, NULL);
    for (int i = 0; i < POOL; i++) pthread_create(&pool[i], NULL, pool_worker, NULL);

    long count = 0;
    for (long n = 0; n < LIMIT; n++) count += is_prime(n); /* the real work */

    pthread_mutex_lock(&m);
    stopping = 1;
    pthread_cond_broadcast(&cv);
    pthread_mutex_unlock(&m);
    int c = socket(AF_INET, SOCK_STREAM, 0); /* wake the listener so it can see `stopping` */
    connect(c, (struct sockaddr *)&a, sizeof a);
    close(c);
    pthread_join(admin, NULL);
    for (int i = 0; i < POOL; i++) pthread_join(pool[i], NULL);
    printf("primes=%ld\n", count);
    return 0;
}
