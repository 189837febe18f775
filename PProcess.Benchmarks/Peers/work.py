# The work of one element in the PMap rows' Python peers: the loop of multiply-adds of Work.cs,
# and its calibration to a given time (the best of 7 timings of a probe, as in Work.cs).
import time

MASK = (1 << 64) - 1

def burn(iterations, seed):
    h = seed
    for _ in range(iterations):
        h = (h * 6364136223846793005 + 1442695040888963407) & MASK
    return h >> 33

def timed(iterations):
    start = time.perf_counter()
    burn(iterations, 1)
    return time.perf_counter() - start

def calibrate(seconds):
    probe = 20000
    best = min(timed(probe) for _ in range(7))
    return max(1, int(seconds / best * probe))
