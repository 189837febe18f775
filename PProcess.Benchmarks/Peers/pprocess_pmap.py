# pprocess's pmap (github.com/mortonne/pprocess, a Python 3 port of pprocess; a fork per element)
# over n elements, each a loop of multiply-adds calibrated here to take item_ms milliseconds (the
# loop of Work.cs), with `limit` processes at once. argv: the directory holding pprocess.py, n,
# item_ms, limit. Prints seconds.
import sys, time
from work import burn, calibrate

if __name__ == "__main__":
    sys.path.insert(0, sys.argv[1])
    import pprocess
    n, item_ms, limit = int(sys.argv[2]), float(sys.argv[3]), int(sys.argv[4])
    iterations = calibrate(item_ms / 1e3)
    def work(x):
        return burn(iterations, x)
    start = time.perf_counter()
    results = list(pprocess.pmap(work, range(n), limit=limit))
    elapsed = time.perf_counter() - start
    assert results == [burn(iterations, x) for x in range(3)] + results[3:]
    print(elapsed)
