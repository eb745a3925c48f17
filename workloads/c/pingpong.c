// pingpong [SECONDS | -n ROUND_TRIPS] [-w WORK]: parent and child bounce one byte over two pipes; each side blocks about once per round trip (not always: a side preempted right after its write can find the answer already there when it reads). With -w the parent computes WORK units between round trips (to block a chosen number of times per second). Prints the voluntary context switches the kernel counted for both sides from the start of main to the child's exit (getrusage, wait4), for tests to compare with what a profiler saw. Expected: ipc, looked through to mostly on-CPU.
#include <stdio.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>
#include "common.h"

int main(int argc, char **argv) {
    long trips = 0;
    double seconds = 1.0;
    int fixed = fixed_work(argc, argv, 1, &trips, &seconds);
    long per_trip = 0;
    for (int i = 1; i + 1 < argc; i++)
        if (strcmp(argv[i], "-w") == 0) per_trip = atol(argv[i + 1]);
    uint64_t x = 88172645463325252ull;
    struct rusage self0, self1, child;
    getrusage(RUSAGE_SELF, &self0);
    int ping[2], pong[2];
    if (pipe(ping) || pipe(pong)) return perror("pipe"), 1;
    pid_t pid = fork();
    if (pid < 0) return perror("fork"), 1;
    char b = 'x';
    if (pid == 0) {
        close(ping[1]);
        close(pong[0]);
        while (read(ping[0], &b, 1) == 1)
            if (write(pong[1], &b, 1) != 1) break;
        _exit(0);
    }
    close(ping[0]);
    close(pong[1]);
    double t0 = now_s(), end = t0 + seconds;
    long done = 0;
    for (;;) {
        if (fixed ? done >= trips : ((done & 255) == 0 && now_s() >= end)) break;
        if (write(ping[1], &b, 1) != 1 || read(pong[0], &b, 1) != 1) return perror("pipe io"), 1;
        if (per_trip) x = work(x, per_trip);
        done++;
    }
    double el = now_s() - t0;
    getrusage(RUSAGE_SELF, &self1);
    close(ping[1]);
    int status;
    if (wait4(pid, &status, 0, &child) != pid) return perror("wait4"), 1;
    long voluntary = (self1.ru_nvcsw - self0.ru_nvcsw) + child.ru_nvcsw;
    /* A round trip blocks the parent once and the child once, nearly always. */
    printf("round_trips=%ld elapsed_s=%.6f blocks_per_s=%.1f voluntary_switches=%ld\n", done, el,
           2.0 * done / el, voluntary);
    return 0;
}
