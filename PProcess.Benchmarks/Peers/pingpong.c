/* The floor for a round trip: two processes bouncing a 16-byte message over a socketpair. */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>
#include <sys/socket.h>
#include <sys/wait.h>

static void full(int fd, char *buf, int n, int writing)
{
    int done = 0;
    while (done < n) {
        ssize_t r = writing ? write(fd, buf + done, n - done) : read(fd, buf + done, n - done);
        if (r <= 0) { perror("pingpong"); exit(1); }
        done += (int)r;
    }
}

int main(int argc, char **argv)
{
    int n = argc > 1 ? atoi(argv[1]) : 100000, sv[2];
    char buf[16] = {0};
    if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) != 0) { perror("socketpair"); return 1; }
    pid_t pid = fork();
    if (pid == 0) {
        close(sv[0]);
        for (int i = 0; i < n + 1000; i++) { full(sv[1], buf, 16, 0); full(sv[1], buf, 16, 1); }
        _exit(0);
    }
    close(sv[1]);
    for (int i = 0; i < 1000; i++) { full(sv[0], buf, 16, 1); full(sv[0], buf, 16, 0); }
    struct timespec a, b;
    clock_gettime(CLOCK_MONOTONIC, &a);
    for (int i = 0; i < n; i++) { full(sv[0], buf, 16, 1); full(sv[0], buf, 16, 0); }
    clock_gettime(CLOCK_MONOTONIC, &b);
    waitpid(pid, NULL, 0);
    printf("%.4f\n", ((b.tv_sec - a.tv_sec) * 1e9 + (b.tv_nsec - a.tv_nsec)) / 1e3 / n);
    return 0;
}
