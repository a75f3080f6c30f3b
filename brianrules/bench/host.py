"""The machine the benchmark runs on: CPU, memory, load average, and the
memory bandwidth from a timed copy."""

import os
import platform
import time

import numpy as np


BANDWIDTH_MB = 512


# -- machine -----------------------------------------------------------------
def cpu_model():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.lower().startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def memory_gib():
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemTotal:"):
                    return int(line.split()[1]) / 2**20
    except OSError:
        pass
    return float("nan")


def machine():
    from ..program import usable_cores

    return {"cpu": cpu_model(), "logical_cpus": os.cpu_count(), "usable_cpus": usable_cores(),
            "memory_gib": memory_gib(), "os": platform.platform()}


def load_average():
    try:
        return os.getloadavg()
    except OSError:  # pragma: no cover
        return (float("nan"),) * 3


def measure_bandwidth(megabytes=BANDWIDTH_MB, repeats=5):
    """Memory bandwidth from a timed copy of a float64 array of ``megabytes``
    MB into another (one thread, NumPy): bytes read + written per second,
    best of ``repeats``."""
    n = megabytes * 10**6 // 8
    src = np.ones(n)
    dst = np.zeros(n)  # both touched: no page faults in the timed copies
    best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        np.copyto(dst, src)
        best = min(best, time.perf_counter() - t0)
    moved = 2 * src.nbytes
    del src, dst
    return {"array_mb": megabytes, "best_copy_s": best, "bytes_per_s": moved / best}
