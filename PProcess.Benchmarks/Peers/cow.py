"""Copy-on-write in Python's process pools, for the benchmark's sharing rows (Sharing.cs).

The parent builds issue 27's dictionary (str -> list of 3 ints); 2 workers each run jobs that look
up 200,000 random keys and add 150,000 bytearrays of 256 bytes to a cache of their own, halved at
600,000 (the benchmark's C# jobs, with Python objects). Each job reports its worker's Private_Dirty
(/proc/self/smaps_rollup) and the most its cache took; un-shared = the first minus the second. It
also reports the fraction of the pages holding a sample of the parent's objects (every 64th key and
list, by id(), CPython's address) that /proc/self/pagemap says the worker maps alone (bit 56).

    python3 cow.py fork|fork_freeze|mpire ENTRIES JOBS

fork: multiprocessing.get_context("fork").Pool(2); fork_freeze: the same after gc.freeze()
(cpython#75739: the collector then leaves the parent's objects alone; reference counts still write
to every object a worker reads); mpire: mpire.WorkerPool(2, shared_objects=data, start_method="fork").
Prints: parent_heap_bytes seconds worst_unshared_bytes most_data_copied workers note...
"""
import gc
import multiprocessing
import os
import random
import sys
import time

LOOKUPS, ARRAYS, CAP = 200_000, 150_000, 600_000

data = {}
keys = []
cache = None
cache_pid = None
own_peak = 0
data_pages = []


def private_dirty():
    with open("/proc/self/smaps_rollup") as f:
        for line in f:
            if line.startswith("Private_Dirty:"):
                return int(line.split()[1]) * 1024
    raise RuntimeError("no Private_Dirty in smaps_rollup")


def build(n):
    for i in range(n):
        key = "key" + str(i)
        keys.append(key)
        data[key] = [i, i + 1, i + 2]


def sample_pages():
    pages = set()
    for i in range(0, len(keys), 64):
        pages.add(id(keys[i]) >> 12)
        pages.add(id(data[keys[i]]) >> 12)
    return sorted(pages)


def copied_fraction():
    exclusive = 0
    with open("/proc/self/pagemap", "rb") as f:
        for page in data_pages:
            f.seek(page * 8)
            entry = int.from_bytes(f.read(8), "little")
            if entry >> 63 & 1 and entry >> 56 & 1:
                exclusive += 1
    return exclusive / len(data_pages)


def job(seed, shared=None):
    global cache, cache_pid, own_peak, data_pages
    table = data if shared is None else shared
    if cache_pid != os.getpid():
        cache, cache_pid, own_peak = [], os.getpid(), 0
        data_pages = sample_pages()
    rnd = random.Random(seed)
    total = 0
    n = len(keys)
    for _ in range(LOOKUPS):
        total += table[keys[rnd.randrange(n)]][0]
    for _ in range(ARRAYS):
        cache.append(bytearray(256))
    if len(cache) >= CAP:
        del cache[: len(cache) // 2]
    own_peak = max(own_peak, len(cache) * (sys.getsizeof(bytearray(256)) + 8))
    return os.getpid(), private_dirty(), own_peak, copied_fraction(), total


def mpire_job(shared, seed):
    return job(seed, shared)


def main():
    mode, entries, jobs = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    before = private_dirty()
    build(entries)
    heap = private_dirty() - before
    seeds = list(range(jobs))
    note = ""
    start = time.perf_counter()
    if mode in ("fork", "fork_freeze"):
        if mode == "fork_freeze":
            gc.freeze()
            note = "multiprocessing fork pool after gc.freeze()"
        else:
            note = "multiprocessing fork pool"
        with multiprocessing.get_context("fork").Pool(2) as pool:
            readings = pool.map(job, seeds, chunksize=1)
    elif mode == "mpire":
        from mpire import WorkerPool

        with WorkerPool(n_jobs=2, shared_objects=data, start_method="fork") as pool:
            readings = pool.map(mpire_job, seeds, chunk_size=1)
        note = "mpire WorkerPool(shared_objects), fork"
    else:
        raise SystemExit("mode: fork, fork_freeze or mpire")
    seconds = time.perf_counter() - start
    worst = max(max(0, pd - own) for _, pd, own, _, _ in readings)
    copied = max(c for _, _, _, c, _ in readings)
    workers = len({pid for pid, _, _, _, _ in readings})
    print(heap, f"{seconds:.3f}", worst, f"{copied:.4f}", workers, note)


if __name__ == "__main__":
    main()
