/* c_fsync_log, FIXED variant: the same 10000 records, written the same way, but made durable
 * once per group of 500 records (group commit, 20 fdatasync calls + 1 at the end instead of 10000):
 * the "batch" recommendation. Writes log-fixed.dat in the same scratch directory.
 * Run from the repository root. Prints: records=10000 bytes=1200000 checksum=<n> */
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define RECORDS 10000
#define RECLEN 120
#define GROUP 500 /* records per fdatasync */

int main(void) {
    mkdir("target", 0755);
    mkdir("target/corpus-scratch", 0755);
    mkdir("target/corpus-scratch/c_fsync_log", 0755);
    const char *path = GROUP == 1 ? "target/corpus-scratch/c_fsync_log/log.dat"
                                  : "target/corpus-scratch/c_fsync_log/log-fixed.dat";
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd < 0) { perror(path); return 1; }
    char rec[RECLEN];
    unsigned long checksum = 0;
    for (int i = 0; i < RECORDS; i++) {
        int n = snprintf(rec, sizeof rec, "%08d order=%d amount=%d ", i, i * 37 % 1000, i * 13 % 997);
        memset(rec + n, '.', RECLEN - 1 - n);
        rec[RECLEN - 1] = '\n';
        for (int k = 0; k < RECLEN; k++) checksum = checksum * 31 + (unsigned char)rec[k];
        if (write(fd, rec, RECLEN) != RECLEN) { perror("write"); return 1; }
        if ((i + 1) % GROUP == 0) fdatasync(fd);
    }
    fdatasync(fd);
    close(fd);
    printf("records=%d bytes=%d checksum=%lu\n", RECORDS, RECORDS * RECLEN, checksum);
    return 0;
}
