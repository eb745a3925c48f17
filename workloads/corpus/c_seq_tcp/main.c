/* c_seq_tcp: a client that makes 12 requests one after another to a local TCP service that
 * takes 150 ms to answer each. The service is a child process this program forks first (a
 * thread per connection, sleeping 150 ms before replying 2000 bytes); it exits on its own after
 * 12 answers or 10 s. The client's main thread spends nearly all the run blocked in connect/recv
 * on a TCP socket to 127.0.0.1 (sockets are never looked through, even to a child).
 * Labels: io-bound, top wait `network`, first recommendation thread-pool or async: the 12 waits
 * are independent and could overlap. fixed.c (same source, -DFIXED via #include) runs the 12
 * requests on 12 threads at once.
 * Prints: responses=12 bytes=24000 checksum=<n> */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define REQUESTS 12
#define DELAY_NS 150000000L

static int port;

/* ---- the service (child process) ---- */
static void *serve_one(void *arg) {
    int c = (int)(long)arg;
    char req[64];
    ssize_t n = read(c, req, sizeof req - 1);
    int id = n > 0 ? atoi(req) : 0;
    struct timespec d = {0, DELAY_NS};
    nanosleep(&d, NULL); /* the service is slow */
    char body[2000];
    for (int i = 0; i < 2000; i++) body[i] = (char)('a' + (id * 31 + i) % 26);
    write(c, body, sizeof body);
    close(c);
    return NULL;
}

static void server(int ls) {
    alarm(10); /* bounded lifetime, whatever happens */
    pthread_t th[REQUESTS];
    for (int i = 0; i < REQUESTS; i++) {
        int c = accept(ls, NULL, NULL);
        if (c < 0) _exit(1);
        pthread_create(&th[i], NULL, serve_one, (void *)(long)c);
    }
    for (int i = 0; i < REQUESTS; i++) pthread_join(th[i], NULL);
    _exit(0);
}

/* ---- the client ---- */
static unsigned long results[REQUESTS];
static long sizes[REQUESTS];

static void *fetch(void *arg) {
    int id = (int)(long)arg;
    int s = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port), .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    if (connect(s, (struct sockaddr *)&a, sizeof a) < 0) { perror("connect"); exit(1); }
    char req[32];
    int len = snprintf(req, sizeof req, "%d\n", id);
    write(s, req, len);
    char buf[4096];
    ssize_t n;
    unsigned long h = 5381;
    while ((n = read(s, buf, sizeof buf)) > 0) {
        for (ssize_t i = 0; i < n; i++) h = h * 33 + (unsigned char)buf[i];
        sizes[id] += n;
    }
    close(s);
    results[id] = h;
    return NULL;
}

int main(void) {
    int ls = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = 0, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t al = sizeof a;
    bind(ls, (struct sockaddr *)&a, sizeof a);
    listen(ls, 64);
    getsockname(ls, (struct sockaddr *)&a, &al);
    port = ntohs(a.sin_port);
    pid_t srv = fork();
    if (srv == 0) server(ls);
    close(ls);
#ifdef FIXED
    pthread_t th[REQUESTS];
    for (long i = 0; i < REQUESTS; i++) pthread_create(&th[i], NULL, fetch, (void *)i);
    for (int i = 0; i < REQUESTS; i++) pthread_join(th[i], NULL);
#else
    for (long i = 0; i < REQUESTS; i++) fetch((void *)i);
#endif
    unsigned long sum = 0;
    long bytes = 0;
    for (int i = 0; i < REQUESTS; i++) { sum += results[i]; bytes += sizes[i]; }
    waitpid(srv, NULL, 0);
    printf("responses=%d bytes=%ld checksum=%lu\n", REQUESTS, bytes, sum);
    return 0;
}
