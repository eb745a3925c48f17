// mutex [SECONDS]: two threads take turns on one pthread mutex, each computing ~2 ms while holding it; prints the time spent waiting in pthread_mutex_lock. Expected: a `lock` wait of about half the wall time (the workload's own lock_wait_s / 2 threads), a lock-contention finding and reduce-contention first; the class is `mixed` (about 45% lock, 55% CPU on the path: the contract's lock-bound needs mostly lock).
#include <pthread.h>
#include <stdio.h>
#include "common.h"

static pthread_mutex_t m = PTHREAD_MUTEX_INITIALIZER;
static double end_at;

struct stats { double lock_wait_s; long acquisitions; };

static void *worker(void *arg) {
    struct stats *st = arg;
    while (now_s() < end_at) {
        double t = now_s();
        pthread_mutex_lock(&m);
        st->lock_wait_s += now_s() - t;
        st->acquisitions++;
        spin_for(0.002);
        pthread_mutex_unlock(&m);
        spin_for(0.0002);
    }
    return NULL;
}

int main(int argc, char **argv) {
    double seconds = argc > 1 ? atof(argv[1]) : 1.5;
    double t0 = now_s();
    end_at = t0 + seconds;
    pthread_t th[2];
    struct stats st[2] = {{0, 0}, {0, 0}};
    for (int i = 0; i < 2; i++) pthread_create(&th[i], NULL, worker, &st[i]);
    for (int i = 0; i < 2; i++) pthread_join(th[i], NULL);
    printf("lock_wait_s=%.6f acquisitions=%ld elapsed_s=%.6f\n", st[0].lock_wait_s + st[1].lock_wait_s,
           st[0].acquisitions + st[1].acquisitions, now_s() - t0);
    return 0;
}
