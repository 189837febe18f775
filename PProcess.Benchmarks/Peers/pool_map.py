# multiprocessing.Pool(workers).map(f, range(n), chunksize=1) of a trivial function, pool started
# beforehand. Prints us per job and the start method.
import multiprocessing, sys, time

def f(x):
    return x + 1

if __name__ == "__main__":
    n, workers = int(sys.argv[1]), int(sys.argv[2])
    with multiprocessing.Pool(workers) as pool:
        pool.map(f, range(100), chunksize=1)
        start = time.perf_counter()
        result = pool.map(f, range(n), chunksize=1)
        elapsed = time.perf_counter() - start
    assert result[-1] == n
    print(elapsed / n * 1e6, multiprocessing.get_start_method())
