# multiprocessing.Pool(workers).map(f, range(n)) with its automatic chunksize, the pool's start and
# end included (as PMap's forks are). f is x + 1 when item_us is 0, otherwise a loop of
# multiply-adds calibrated here to take item_us microseconds (the loop of Work.cs).
# Prints: seconds, the chunksize map chose, the start method.
import multiprocessing, sys, time
from work import burn, calibrate

ITERATIONS = 0

def trivial(x):
    return x + 1

def work(x):
    return burn(ITERATIONS, x)

if __name__ == "__main__":
    n, item_us, workers = int(sys.argv[1]), float(sys.argv[2]), int(sys.argv[3])
    if item_us > 0:
        ITERATIONS = calibrate(item_us / 1e6)
    f = work if item_us > 0 else trivial
    start = time.perf_counter()
    with multiprocessing.Pool(workers) as pool:
        result = pool.map(f, range(n))
    elapsed = time.perf_counter() - start
    assert len(result) == n
    # Pool.map's automatic chunksize (multiprocessing/pool.py, _map_async).
    chunksize, extra = divmod(n, workers * 4)
    print(elapsed, chunksize + (1 if extra else 0), multiprocessing.get_start_method())
