// tcp_client PORT REQUESTS: sends "ping\n" to 127.0.0.1:PORT and reads each reply line, one request at a time. Expected: io-bound, network.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <sys/socket.h>
#include <unistd.h>
#include "common.h"

int main(int argc, char **argv) {
    if (argc < 3) return fprintf(stderr, "usage: tcp_client PORT REQUESTS\n"), 2;
    int port = atoi(argv[1]);
    long requests = atol(argv[2]);
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(port)};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(fd, (struct sockaddr *)&sa, sizeof sa)) return perror("connect"), 1;
    double t0 = now_s();
    long ok = 0;
    for (long i = 0; i < requests; i++) {
        if (write(fd, "ping\n", 5) != 5) break;
        char c = 0;
        while (read(fd, &c, 1) == 1 && c != '\n') {}
        if (c != '\n') break;
        ok++;
    }
    close(fd);
    printf("requests=%ld elapsed_s=%.6f\n", ok, now_s() - t0);
    return ok == requests ? 0 : 1;
}
