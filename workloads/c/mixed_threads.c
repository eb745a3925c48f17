// mixed_threads [SECONDS]: four threads: one computes, one sleeps in 5 ms naps, two share a mutex (compute 1 ms holding it, sleep 1 ms outside). Expected: mixed.
#include <pthread.h>
#include <stdio.h>
#include "common.h"

static pthread_mutex_t m = PTHREAD_MUTEX_INITIALIZER;
static double end_at;

static void *cpu(void *a) { (void)a; spin_for(end_at - now_s()); return NULL; }
static void *napper(void *a) { (void)a; while (now_s() < end_at) sleep_for(0.005); return NULL; }
static void *locker(void *a) {
    (void)a;
    while (now_s() < end_at) {
        pthread_mutex_lock(&m);
        spin_for(0.001);
        pthread_mutex_unlock(&m);
        sleep_for(0.001);
    }
    return NULL;
}

int main(int argc, char **argv) {
    double seconds = argc > 1 ? atof(argv[1]) : 1.5;
    end_at = now_s() + seconds;
    void *(*fns[4])(void *) = {cpu, napper, locker, locker};
    pthread_t th[4];
    for (int i = 0; i < 4; i++) pthread_create(&th[i], NULL, fns[i], NULL);
    for (int i = 0; i < 4; i++) pthread_join(th[i], NULL);
    printf("threads=4 seconds=%.3f\n", seconds);
    return 0;
}
