# Python's os.fork loop: fork, the child leaves with os._exit, the parent waits. Prints us per fork.
import os, sys, time
n = int(sys.argv[1])
start = time.perf_counter()
for _ in range(n):
    pid = os.fork()
    if pid == 0:
        os._exit(0)
    os.waitpid(pid, 0)
print((time.perf_counter() - start) / n * 1e6)
