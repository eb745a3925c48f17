// deep [SECONDS] [--unlink-self]: computes in a function four calls below main for SECONDS (default
// 1), then sleeps 0.2 s in nanosleep from nap_caller(). Built -O2 (no frame pointers on x86_64): the
// stacks tests check that wallprof still shows whole user stacks, on-CPU and off-CPU. With
// --unlink-self it deletes its own binary first (symbols then come from nothing: module+offset).
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include "common.h"

__attribute__((noinline)) uint64_t hot_loop(double seconds) {
    double end = now_s() + seconds;
    uint64_t x = 88172645463325252ull;
    while (now_s() < end) x = work(x, 1000);
    return x;
}
__attribute__((noinline)) uint64_t deep_three(double s) { return hot_loop(s) + 1; }
__attribute__((noinline)) uint64_t deep_two(double s) { return deep_three(s) + 1; }
__attribute__((noinline)) uint64_t deep_one(double s) { return deep_two(s) + 1; }

__attribute__((noinline)) void nap_caller(void) {
    struct timespec t = {0, 200 * 1000 * 1000};
    nanosleep(&t, NULL);
}

int main(int argc, char **argv) {
    double seconds = argc > 1 ? atof(argv[1]) : 1.0;
    if (argc > 2 && strcmp(argv[2], "--unlink-self") == 0) unlink(argv[0]);
    uint64_t r = deep_one(seconds);
    nap_caller();
    printf("deep=%llu\n", (unsigned long long)(r & 0xff));
    return 0;
}
