"Helpers shared by the benchmark scripts in this folder."
import statistics, time

def timeit(fn, repeats):
    "Median and best wall time of `repeats` calls of `fn`, in seconds."
    ts = []
    for _ in range(repeats):
        t = time.perf_counter(); fn(); ts.append(time.perf_counter() - t)
    return statistics.median(ts), min(ts)
