"""Samples/s of dfa's C++ program on 1 and 2 OpenMP threads, by network size
and timing: where a second thread starts to pay (`devices.AUTO_THREADS_SYNAPSES`).

    .venv/bin/python scripts/thread_crossover.py [--build-root DIR] [--samples N]
                                                 [--networks 64-100-10,784-30-10,...]

Each program is built once (in DIR, default the build cache) and run three
times on the same inputs; the best of the program's own simulation times
(Brian2's ``last_run_info.txt``, without start-up and file transfer) gives
samples/s.  The networks are the benchmark's workloads
(`bench.networks.workload`): digits for 64-100-10, else the MNIST-shaped
input with intensities uniform in [0, 1], with the hidden layer's size.
"""

import argparse
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

NETWORKS = ("64-100-10", "784-30-10", "784-100-10", "784-400-10", "784-1000-10")
TIMINGS = ("clock", "event")


def samples_per_s(sizes, timing, threads, n, build_root):
    from brianrules.bench.measure import _cpp_sim_seconds
    from brianrules.bench.networks import workload
    from brianrules.devices import StandaloneRunner

    rule = "dfa" if timing == "clock" else "dfa-event"
    n_in, *hidden, n_out = sizes
    if sizes == [64, 100, 10]:
        work = workload("small", rule)
    elif n_in == 784 and n_out == 10 and len(hidden) == 1:
        work = workload("large", rule, hidden=hidden[0])
    else:
        raise ValueError(f"{'-'.join(map(str, sizes))}: the networks measured are 64-100-10 and 784-H-10")
    build_dir = None if build_root is None else os.path.join(
        build_root, f"{'-'.join(map(str, sizes))}-{timing}-t{threads}")
    runner = StandaloneRunner(work.spec, n, threads=threads, build_dir=build_dir, progress=False,
                              log=lambda *a: None)
    try:
        inputs = work.inputs(n)
        best = float("inf")
        for _ in range(3):
            runner.run(*inputs, noise_seed=1)
            best = min(best, _cpp_sim_seconds(runner))
        return n / best
    finally:
        runner.close()


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--build-root", default=None, help="folder for the programs (default: the build cache)")
    p.add_argument("--samples", type=int, default=None,
                   help="samples per run (default: 1000 for 64-100-10, 100 for 784-30-10, else 20-40)")
    p.add_argument("--networks", default=",".join(NETWORKS), help="comma-separated sizes")
    a = p.parse_args(argv)
    print(f"{'network':<12} {'synapses':>9} {'timing':<6} {'1 thread':>9} {'2 threads':>9} {'2/1':>5}")
    for net in a.networks.split(","):
        sizes = [int(x) for x in net.split("-")]
        synapses = sum(x * y for x, y in zip(sizes[:-1], sizes[1:]))
        n = a.samples or (1000 if synapses < 10_000 else 100 if synapses < 50_000 else 40 if synapses < 100_000
                          else 20)
        for timing in TIMINGS:
            one, two = (samples_per_s(sizes, timing, t, n, a.build_root) for t in (1, 2))
            print(f"{net:<12} {synapses:>9,} {timing:<6} {one:>9.1f} {two:>9.1f} {two / one:>5.2f}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
