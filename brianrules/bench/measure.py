"""Running and timing: each engine on each network, one `Row` each
(`run_benchmark`)."""

import datetime
import os
import sys
import time
from dataclasses import dataclass, field

import numpy as np

from .host import BANDWIDTH_MB, load_average, machine, measure_bandwidth
from .networks import (ALL_WORKLOADS, BENCH_RULES, RULES, WORKLOADS, catch_ups, event_driven_rules, event_updates,
                       presynaptic_spikes, workload, workloads)
from .startup import START_ARGS, measure_start


#: samples per run: (full, quick)
SAMPLES = {
    ("small", "cpp_standalone"): (1797, 100),  # full: one digits epoch (1437 train + 360 test)
    ("small", "runtime"): (10, 2),
    ("small", "reference"): (200, 20),
    ("large", "cpp_standalone"): (100, 4),
    ("large", "reference"): (10, 3),
    ("small", "cuda_standalone"): (1797, 100),
    ("large", "cuda_standalone"): (500, 20),
    ("small", "jax"): (256, 64),
    ("large", "jax"): (64, 8),
    # the large network on mnist5k's images: as "large"
    ("mnist", "cpp_standalone"): (100, 4),
    ("mnist", "reference"): (10, 3),
    ("mnist", "cuda_standalone"): (500, 20),
    ("mnist", "jax"): (64, 8),
}
#: mini-batch sizes of the bptt rows
BPTT_BATCHES = (1, 32)
#: engines that run a compiled program (build cache, compile time, repeats)
COMPILED = ("cpp_standalone", "cuda_standalone")
#: the devices `run_benchmark` can put side by side with the others
BENCH_DEVICES = ("cpp_standalone", "cuda_standalone")
#: timed runs of each compiled program (the best is reported): (full, quick)
CPP_REPEATS = (3, 1)
NOISE_SEED = 12345


# -- measurement -------------------------------------------------------------
@dataclass
class Row:
    network: str
    sizes: str
    rule: str
    engine: str
    threads: str
    samples: int
    runs: int
    compile_s: float = float("nan")
    cached: bool | None = None
    wall_s: float = float("nan")
    sim_s: float = float("nan")
    samples_per_s: float = float("nan")
    updates_per_s: float = float("nan")
    bound_fraction: float = float("nan")
    updates: int | None = None  # event-driven rules: updates executed in the reported run
    pre_spikes: list | None = None  # event-driven rules: presynaptic spikes per projection
    note: str = ""  # a row that was not measured says why
    extra: dict = field(default_factory=dict)

    @property
    def overhead_s(self):
        return self.wall_s - self.sim_s


def _cpp_sim_seconds(runner):
    """The network loop time the program itself wrote for its last run
    (``last_run_info.txt`` in the results folder of this process's runs)."""
    path = os.path.join(runner._device.results_dir, "last_run_info.txt")
    with open(path) as f:
        return float(f.read().split()[0])


#: a note in the build folder: how long the first build of the program took
_BUILD_NOTE = "bench_first_build_s.txt"


def _first_build_seconds(runner):
    """The compile time of the program's first build: this run's when it
    compiled, else the one noted in the cached build folder (None if unknown)."""
    path = os.path.join(runner.build_dir, _BUILD_NOTE)
    if not runner.cached:
        try:
            with open(path, "w") as f:
                f.write(f"{runner.compile_s:.3f}\n")
        except OSError:
            pass
        return runner.compile_s
    try:
        with open(path) as f:
            return float(f.read().strip())
    except (OSError, ValueError):
        return None


def bench_program(work, n, device, threads, repeats, log, cuda_arch=None):
    """Build (or take from the cache) and time one compiled program, in a
    fresh process: Brian2 names the generated code after the objects alive
    in the process, so a program built after others would differ from the
    same program built alone and would miss the build cache."""
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    sys.stdout.flush()
    with ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("spawn")) as pool:
        return pool.submit(_bench_program_here, work.name, work.rule, n, device, threads, repeats,
                           cuda_arch).result()


def _bench_program_here(name, rule, n, device, threads, repeats, cuda_arch=None, log=print):
    from ..devices import make_runner

    work = workload(name, rule)

    row = Row(work.name, work.sizes_text, work.rule, device, "GPU" if device == "cuda_standalone" else str(threads),
              n, repeats)
    runner = make_runner(device, work.spec, n, threads=threads, log=log, progress=False, cuda_arch=cuda_arch)
    try:
        row.compile_s = runner.compile_s
        row.cached = runner.cached
        row.extra["first_build_s"] = _first_build_seconds(runner)
        if device == "cuda_standalone":
            row.extra["arch"] = runner.arch
        W, B, stim, tgt, learn = work.inputs(n)
        best = None
        for k in range(repeats):  # each run starts again from the same weights
            res = runner.run(W, B, stim, tgt, learn, noise_seed=NOISE_SEED + k)
            sim = _cpp_sim_seconds(runner)
            if best is None or res.wall_s < best[0]:
                best = (res.wall_s, sim, res.hidden_rates, NOISE_SEED + k)
        row.wall_s, row.sim_s = best[:2]
        if work.event_driven:
            _count_updates(row, work, stim, best[3], best[2])
        row.extra["build_dir"] = runner.build_dir
    finally:
        runner.close()
    return row


def _count_updates(row, work, stim, noise_seed, hidden_rates):
    row.pre_spikes = presynaptic_spikes(work.spec, stim, noise_seed, hidden_rates, row.samples)
    row.updates = event_updates(work.spec, row.pre_spikes, row.samples)
    row.extra["catch_ups"] = catch_ups(work.spec, row.samples)


def bench_runtime(work, n, log):
    from brian2 import get_device

    from ..devices import RuntimeRunner

    row = Row(work.name, work.sizes_text, work.rule, "runtime", "1", n, 1, compile_s=0.0)
    W, B, stim, tgt, learn = work.inputs(n)
    res = RuntimeRunner(work.spec, n).run(W, B, stim, tgt, learn, noise_seed=NOISE_SEED)
    row.wall_s = res.wall_s
    row.sim_s = float(get_device()._last_run_time)
    if work.event_driven:
        _count_updates(row, work, stim, NOISE_SEED, res.hidden_rates)
    return row


#: why a row has no figures
NO_REFERENCE = "none: the NumPy reference models the clock-driven dfa family only"


def reference_supported(work):
    from ..reference import check_supported

    try:
        check_supported(work.spec)
        return True
    except ValueError:
        return False


def bench_reference(work, n, log):
    from ..reference import ReferenceRunner

    row = Row(work.name, work.sizes_text, work.rule, "reference (NumPy)", "1", n, 1, compile_s=0.0)
    if not reference_supported(work):
        row.threads, row.samples, row.runs, row.compile_s = "–", 0, 0, float("nan")
        row.note = NO_REFERENCE
        return row
    W, B, stim, tgt, learn = work.inputs(n)
    runner = ReferenceRunner(work.spec, n)
    res = runner.run(W, B, stim, tgt, learn, noise_seed=NOISE_SEED)
    row.wall_s = res.wall_s
    row.sim_s = runner.last_sim_s
    return row


def finish(row, work, bandwidth):
    if row.note:  # not measured
        return row
    steps = row.samples * work.spec.steps_per_sample
    row.samples_per_s = row.samples / row.wall_s
    if row.engine.startswith("jax"):  # a gradient, not synaptic updates: samples/s alone
        return row
    updates = row.updates if work.event_driven else work.plastic_synapses * steps
    row.updates_per_s = updates / row.sim_s
    if row.engine != "cuda_standalone":  # the bound is the CPU's memory bandwidth
        row.bound_fraction = row.updates_per_s / (bandwidth["bytes_per_s"] / 16.0)
    return row


def bench_bptt(work, n, batch, log):
    """bptt through the JAX engine (`engines.bptt.BpttRunner`) with
    mini-batches of ``batch``: one run of ``batch`` samples first (tracing
    and compiling, the "compile" column), then ``n`` samples timed, every
    batch a gradient and an Adam step.  XLA chooses its own threads."""
    from ..engines.bptt import BpttRunner

    row = Row(work.name, work.sizes_text, work.rule, f"jax, batch {batch}", "–", n, 1)
    W, B, stim, tgt, learn = work.inputs(n)
    warm = BpttRunner(work.spec, batch, batch_size=batch, log=log)
    t0 = time.perf_counter()
    warm.run(W, B, stim[:batch], tgt[:batch], learn[:batch], noise_seed=NOISE_SEED)
    row.compile_s = time.perf_counter() - t0
    runner = BpttRunner(work.spec, n, batch_size=batch, log=log)
    runner._grad, runner._forward = warm._grad, warm._forward  # the compiled functions: same shapes
    res = runner.run(W, B, stim, tgt, learn, noise_seed=NOISE_SEED)
    row.wall_s = row.sim_s = res.wall_s
    return row


def engines_for(work_name, device, rule=None):
    """The engines measured side by side on a network, for ``device``."""
    if rule == "bptt":
        return [("jax", b) for b in BPTT_BATCHES]
    if device == "cuda_standalone":
        return [("cuda_standalone", 1), ("cpp_standalone", 1), ("reference", 1)]
    engines = [("cpp_standalone", 1), ("cpp_standalone", 2)]
    if work_name == "small":
        engines.append(("runtime", 1))
    engines.append(("reference", 1))
    return engines


def check_bench_device(device, cuda_arch=None):
    """Refuse, before anything is generated or compiled, a device that
    cannot be timed here."""
    from ..devices import check_runnable

    if device not in BENCH_DEVICES:
        raise ValueError(f"bench: unknown device '{device}' (choose from {', '.join(BENCH_DEVICES)})")
    check_runnable(device, cuda_arch)


def whole_benchmark(device, networks, rules):
    """Whether a selection is the whole default benchmark (the one that
    times the start-up and rewrites BENCHMARKS.md)."""
    return device == "cpp_standalone" and list(networks) == list(WORKLOADS) and list(rules) == list(RULES)


def run_benchmark(quick=False, log=print, device="cpp_standalone", networks=WORKLOADS, rules=RULES,
                  cuda_arch=None):
    """Measure everything; returns a dict of results for `render`.

    ``networks`` and ``rules`` select part of the benchmark; ``device``
    cuda_standalone puts the GPU program beside cpp_standalone (1 thread)
    and the NumPy reference.  The start-up is timed for the whole default
    benchmark only."""
    from ..training import versions

    check_bench_device(device, cuda_arch)
    networks = [n for n in ALL_WORKLOADS if n in networks]
    rules = [r for r in BENCH_RULES if r in rules]
    t_start = time.perf_counter()
    q = 1 if quick else 0
    whole = whole_benchmark(device, networks, rules)
    info = {"machine": machine(), "versions": versions(), "quick": quick,
            "load_before": load_average(), "date": datetime.datetime.now().astimezone(),
            "device": device, "networks": networks, "rules": rules, "whole": whole}
    if device == "cuda_standalone":
        from .. import cuda

        info["gpus"] = cuda.gpus()
        info["versions"]["brian2cuda"] = cuda.brian2cuda_version()
        info["nvcc"] = cuda.find_nvcc()
    log(f"memory bandwidth: timed copy of a {BANDWIDTH_MB} MB float64 array ...")
    bw = measure_bandwidth()
    info["bandwidth"] = bw
    log(f"  {bw['bytes_per_s'] / 1e9:.2f} GB/s (read + write), best copy {bw['best_copy_s'] * 1e3:.1f} ms")
    rows = []
    works = [*workloads(), *(workload(n) for n in networks if n not in WORKLOADS)]
    info["workloads"] = {w.name: {"sizes": w.spec.sizes, "source": w.source,
                                  "plastic_synapses": w.plastic_synapses,
                                  "steps_per_sample": w.spec.steps_per_sample} for w in works}
    for name in networks:
        for rule in rules:
            work = workload(name, rule)
            for engine, threads in engines_for(work.name, device, rule):
                rows.append(_measure(work, engine, threads, q, bw, log, cuda_arch))
    if whole:
        log(f"start-up: `brianrules {' '.join(START_ARGS)}`, launched twice ...")
        info["start"] = measure_start(log)
    info["event_rules"] = event_driven_rules()
    others = [r for r in info["event_rules"] if r not in RULES]
    if others:
        log(f"event-driven rules not benchmarked: {', '.join(others)}")
    info["load_after"] = load_average()
    info["elapsed_s"] = time.perf_counter() - t_start
    return {"info": info, "rows": rows}


def _measure(work, engine, threads, q, bw, log, cuda_arch=None):
    n = SAMPLES[(work.name, engine)][q]
    label = f"{work.name} {work.sizes_text} {work.rule} {engine}" + (
        f" {threads} thread(s)" if engine == "cpp_standalone" else f" batch {threads}" if engine == "jax" else "")
    if engine == "reference" and not reference_supported(work):
        log(f"{label}: {NO_REFERENCE}")
        return finish(bench_reference(work, n, log), work, bw)
    log(f"{label}: {n} samples ...")
    t0 = time.perf_counter()
    if engine == "jax":
        row = bench_bptt(work, n, threads, log)
    elif engine in COMPILED:
        row = bench_program(work, n, engine, threads, CPP_REPEATS[q], log, cuda_arch)
    elif engine == "runtime":
        row = bench_runtime(work, n, log)
    else:
        row = bench_reference(work, n, log)
    finish(row, work, bw)
    comp = "" if engine not in COMPILED else (
        f", compile {row.compile_s:.1f} s{' (cached)' if row.cached else ''}")
    counted = "" if row.updates is None else f" ({row.updates} updates executed)"
    bound = (f" ({100 * row.bound_fraction:.1f}% of the bandwidth bound)"
             if np.isfinite(row.bound_fraction) else "")
    log(f"  {row.samples_per_s:.2f} samples/s, {row.updates_per_s:.3g} updates/s{counted}{bound}, "
        f"overhead {row.overhead_s:.3f} s{comp} [{time.perf_counter() - t0:.1f} s]")
    return row
