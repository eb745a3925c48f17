// forkwait [CPU_S SLEEP_S]: the parent forks a child that computes CPU_S (wall) then sleeps SLEEP_S, and waits for it; both print their CPU time. Expected: the parent's child wait is looked through (cpu, then sleep).
#include <stdio.h>
#include <sys/wait.h>
#include <unistd.h>
#include "common.h"

int main(int argc, char **argv) {
    double cpu = argc > 1 ? atof(argv[1]) : 0.5, nap = argc > 2 ? atof(argv[2]) : 0.3;
    pid_t pid = fork();
    if (pid < 0) return perror("fork"), 1;
    if (pid == 0) {
        spin_for(cpu);
        sleep_for(nap);
        printf("child_cpu_s=%.6f\n", cpu_s());
        fflush(stdout);
        _exit(7);
    }
    int status = 0;
    waitpid(pid, &status, 0);
    printf("parent=%d child=%d child_exit=%d parent_cpu_s=%.6f\n", (int)getpid(), (int)pid,
           WEXITSTATUS(status), cpu_s());
    return 0;
}
