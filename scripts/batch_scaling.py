"""Samples/s of dfa's C++ program (1 thread) by batch size (`--batch`,
`build.batch`), clock-driven and in its event-driven form, side by side.

    .venv/bin/python scripts/batch_scaling.py [--batches 1,8,32] [--samples N]
                                              [--networks small,large] [--build-root DIR]

The workloads are the benchmark's (`bench.networks.workload`): digits on
64-100-10 (1792 samples per run, a multiple of every batch size measured)
and the MNIST-shaped random input on 784-1000-10 (64 samples).  Every
program of one network and timing is built first; then each runs once per
round, in turn, for three rounds, so that the machine's other load falls on
all of them alike; samples/s is from the best of each program's own
simulation times (Brian2's ``last_run_info.txt``, without start-up and file
transfer).
"""

import argparse
import dataclasses
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

SAMPLES = {"small": 1792, "large": 64}


def main(argv=None):
    from brianrules.bench.measure import _cpp_sim_seconds
    from brianrules.bench.networks import workload
    from brianrules.devices import StandaloneRunner

    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--batches", default="1,8,32", help="comma-separated batch sizes")
    p.add_argument("--networks", default="small", help="comma-separated: small, large")
    p.add_argument("--samples", type=int, default=None, help="samples per run (default: 1792 small, 64 large)")
    p.add_argument("--build-root", default=None, help="folder for the programs (default: the build cache)")
    a = p.parse_args(argv)
    batches = [int(b) for b in a.batches.split(",")]
    print(f"{'network':<8} {'timing':<6} " + " ".join(f"{'B=' + str(b):>9}" for b in batches))
    for net in a.networks.split(","):
        n = a.samples or SAMPLES[net]
        for timing in ("clock", "event"):
            work = workload(net, "dfa" if timing == "clock" else "dfa-event")
            inputs = work.inputs(n)
            runners = []
            for b in batches:
                build_dir = None if a.build_root is None else os.path.join(a.build_root, f"{net}-{timing}-b{b}")
                runners.append(StandaloneRunner(dataclasses.replace(work.spec, batch=b), n, threads=1,
                                                build_dir=build_dir, progress=False, log=lambda *x: None))
            best = [float("inf")] * len(runners)
            try:
                for round_ in range(3):
                    for k, r in enumerate(runners):
                        r.run(*inputs, noise_seed=1 + round_)
                        best[k] = min(best[k], _cpp_sim_seconds(r))
            finally:
                for r in runners:
                    r.close()
            print(f"{net:<8} {timing:<6} " + " ".join(f"{n / s:>9.1f}" for s in best), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
