// c_flock_outside LOCKFILE: takes an exclusive flock(2) on LOCKFILE, appends a line and lets it go.
// Another process, outside the profiled tree, holds the lock for 1.5 s first (the corpus harness's
// `outside` command). Real programs wait like this: a cron job serialised by a lock file, a package
// manager waiting for another one to finish. The wait is on another program, not on the program's
// own threads.
#include <fcntl.h>
#include <stdio.h>
#include <sys/file.h>
#include <unistd.h>

int main(int argc, char **argv) {
    if (argc < 2) return fprintf(stderr, "usage: %s LOCKFILE\n", argv[0]), 2;
    int fd = open(argv[1], O_RDWR | O_CREAT | O_APPEND, 0644);
    if (fd < 0) return perror("open"), 1;
    if (flock(fd, LOCK_EX) != 0) return perror("flock"), 1;
    dprintf(fd, "done by %d\n", (int)getpid());
    flock(fd, LOCK_UN);
    close(fd);
    puts("locked and released");
    return 0;
}
