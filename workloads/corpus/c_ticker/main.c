/* c_ticker: a periodic task. Every 100 ms, on an absolute schedule (clock_nanosleep with
 * TIMER_ABSTIME, so it does not drift), it samples a counter and does a few microseconds of work;
 * 18 ticks. Its wall time IS its schedule: each tick is due at a fixed time after the previous.
 * Labels: io-bound, top wait `sleep`. First recommendation none: the sleeps are not independent
 * waits that could overlap, they are the rate the program is meant to run at; overlapping them
 * (async) would change what the program does, and there is no CPU work worth optimizing.
 * The evidence a profiler has: one thread, one timer wait after another, each with
 * TIMER_ABSTIME (2nd argument of clock_nanosleep = 1), nothing else.
 * Prints: ticks=18 sum=<n> */
#include <stdio.h>
#include <time.h>

#define TICKS 18
#define PERIOD_NS 100000000L

int main(void) {
    struct timespec next;
    clock_gettime(CLOCK_MONOTONIC, &next);
    unsigned long sum = 0;
    for (int t = 0; t < TICKS; t++) {
        next.tv_nsec += PERIOD_NS;
        if (next.tv_nsec >= 1000000000L) { next.tv_nsec -= 1000000000L; next.tv_sec++; }
        while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &next, NULL) != 0) {}
        for (int i = 0; i < 1000; i++) sum += (unsigned long)(t * 1000 + i) % 7; /* the tick's work */
    }
    printf("ticks=%d sum=%lu\n", TICKS, sum);
    return 0;
}
