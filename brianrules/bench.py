"""Throughput benchmark: engines side by side, measured in one run.

Networks
    small  64-100-10 on scikit-learn's digits;
    large  784-1000-10 on MNIST-shaped random input (intensities uniform in
           [0, 1], random labels).
Both use the training defaults (`training.TrainConfig`): dt 0.5 ms, 100 ms
per sample, updates applied at the end of each sample.

Rules
    dfa   clock-driven: every plastic synapse is integrated every time step;
    erbp  event-driven: a plastic synapse is updated on each spike of its
          presynaptic neuron.

Engines
    cpp_standalone with 1 and 2 OpenMP threads (programs from the build
    cache of `devices`, so a repeated benchmark compiles nothing), Brian2's
    runtime mode (small network only) and the NumPy reference
    (`reference.ReferenceRunner`, dfa only: it models the dfa family, so
    the erbp row says that there is none).  With ``--device
    cuda_standalone``: the brian2cuda program on the GPU, side by side with
    cpp_standalone on 1 thread and the NumPy reference.

Figures
    samples/s         samples of one run divided by the run's wall time (the
                      whole ``runner.run`` call: writing inputs, the program,
                      reading results);
    updates/s         dfa: one update per plastic synapse per time step,
                      whether or not it changes the weight; erbp: one update
                      per presynaptic spike per outgoing plastic synapse (the
                      updates the program executes; input spikes recomputed
                      from the counter-based hash, hidden spikes counted by
                      the run's monitors); divided by the engine's own
                      simulation time;
    overhead          run wall time minus the engine's own simulation time:
                      for C++ the network loop time the program reports
                      (``last_run_info.txt``), for runtime mode the
                      time of Brian2's network loop, for the reference the
                      time of its step loop;
    start-up          seconds from launching ``brianrules train`` (a new
                      Python process) to the compiled program's report of
                      its first simulated step, twice in a row: the second
                      launch finds the finished program in the cache;
    bandwidth bound   a timed copy of a large float64 array gives the memory
                      bandwidth B (bytes read + written per second); a
                      float64 weight update reads and writes 16 bytes, so no
                      engine that streams the weights can exceed B / 16
                      updates/s.
"""

import argparse
import datetime
import os
import platform
import shlex
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field

import numpy as np

#: the measured rules: the clock-driven default, its event-driven form
#: (``--timing event``) and the event-driven eRBP
RULES = ("dfa", "dfa-event", "erbp")
#: rules measured only when `--rules` names them: dfa's product with a
#: per-synapse eligibility trace of two stages (SuperSpike) and one (e-prop)
EXTRA_RULES = ("superspike", "eprop")
BENCH_RULES = RULES + EXTRA_RULES
#: samples per run: (full, quick)
SAMPLES = {
    ("small", "cpp_standalone"): (1797, 100),  # full: one digits epoch (1437 train + 360 test)
    ("small", "runtime"): (10, 2),
    ("small", "reference"): (200, 20),
    ("large", "cpp_standalone"): (100, 4),
    ("large", "reference"): (10, 3),
    ("small", "cuda_standalone"): (1797, 100),
    ("large", "cuda_standalone"): (500, 20),
}
#: engines that run a compiled program (build cache, compile time, repeats)
COMPILED = ("cpp_standalone", "cuda_standalone")
#: the devices `run_benchmark` can put side by side with the others
BENCH_DEVICES = ("cpp_standalone", "cuda_standalone")
#: timed runs of each compiled program (the best is reported): (full, quick)
CPP_REPEATS = (3, 1)
BANDWIDTH_MB = 512
NOISE_SEED = 12345


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
    try:
        usable = len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not on Linux
        usable = os.cpu_count()
    return {"cpu": cpu_model(), "logical_cpus": os.cpu_count(), "usable_cpus": usable,
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


# -- workloads ---------------------------------------------------------------
@dataclass
class Workload:
    name: str
    spec: object
    source: str  # what the input is
    x: np.ndarray  # a pool of samples (intensities) to draw from
    labels: np.ndarray
    rule_key: str | None = None  # an entry of RULES (default: the spec's rule)

    @property
    def rule(self):
        return self.rule_key or self.spec.rule.name

    @property
    def event_driven(self):
        return self.spec.rule.timing == "event"

    @property
    def sizes_text(self):
        return "-".join(map(str, self.spec.sizes))

    @property
    def plastic_synapses(self):
        s = self.spec.sizes
        return sum(a * b for a, b in zip(s[:-1], s[1:]))

    def inputs(self, n, seed=0):
        """Initial weights, feedback and the arrays of an n-sample run."""
        from .network import initial_weights

        rng = np.random.default_rng(seed)
        W, B = initial_weights(self.spec, rng)
        idx = np.arange(n) % len(self.x)
        stim = self.x[idx]
        tgt = np.eye(self.spec.n_out)[self.labels[idx]]
        return W, B, stim, tgt, np.ones(n)


WORKLOADS = ("small", "large")


def workload(name, rule="dfa"):
    from .training import TrainConfig

    base, _, timing = rule.partition("-")
    if name == "small":
        from .data import load

        d = load("digits")
        spec = TrainConfig(rule=base, timing=timing or None, hidden=[100]).network_spec(d.n_inputs, d.n_classes)
        x = np.concatenate([d.x_train, d.x_test])
        y = np.concatenate([d.y_train, d.y_test])
        return Workload("small", spec, "digits (8x8)", x, y, rule)
    if name == "large":
        rng = np.random.default_rng(0)
        n_pool = 1000
        spec = TrainConfig(rule=base, timing=timing or None, hidden=[1000]).network_spec(784, 10)
        return Workload("large", spec, "MNIST-shaped random input, intensities U[0, 1]",
                        rng.uniform(0.0, 1.0, size=(n_pool, 784)), rng.integers(0, 10, size=n_pool), rule)
    raise ValueError(f"unknown workload '{name}'")


def workloads(rule="dfa"):
    return [workload(name, rule) for name in WORKLOADS]


# -- counting event-driven updates -------------------------------------------
def input_spike_count(spec, stim, noise_seed):
    """Spikes of the input layer in a run of ``stim`` (samples x inputs).

    The input spikes of every engine come from the counter-based
    ``hash_uniform(noise_seed, step, i) < rate * dt`` (`randomness`), so they
    are recomputed here exactly, without a monitor in the program (which
    would change the cached program of the model)."""
    from .randomness import hash_uniform_numpy

    steps = spec.steps_per_sample
    dt = float(spec.dt)
    max_rate = float(spec.max_rate)
    index = np.arange(spec.n_in)[None, :]
    total = 0
    for s, row in enumerate(np.asarray(stim, dtype=float)):
        n = (s * steps + np.arange(steps))[:, None]
        u = hash_uniform_numpy(noise_seed, n, index)
        total += int(np.count_nonzero(u < (max_rate * row) * dt))
    return total


def presynaptic_spikes(spec, stim, noise_seed, hidden_rates, n_samples):
    """Spikes of the presynaptic group of each plastic projection in a run:
    the input layer's (recomputed), then each hidden layer's (from the mean
    rates its monitor counted)."""
    duration = n_samples * float(spec.t_sample)
    hidden = [int(round(rate * duration * n)) for rate, n in zip(hidden_rates, spec.hidden)]
    return [input_spike_count(spec, stim, noise_seed), *hidden]


def catch_ups(spec, n_samples):
    """Catch-ups of every plastic synapse in a run of the event-driven form
    of a trace rule (one per application of the accumulated updates and one
    per re-base, `NetworkSpec.rebase_every`); 0 for other rules."""
    if not spec.rule.deferred:
        return 0
    s = spec.sizes
    steps = n_samples * spec.steps_per_sample
    passes = -(-steps // spec.apply_every)
    if spec.rebase_every is not None:
        passes += -(-steps // spec.rebase_every)
    return int(sum(a * b for a, b in zip(s[:-1], s[1:])) * passes)


def event_updates(spec, pre_spikes, n_samples=0):
    """Weight updates an event-driven rule executes in a run: one per
    presynaptic spike per outgoing plastic synapse (all-to-all projections:
    the postsynaptic layer's size), and the catch-ups of `catch_ups`."""
    return int(sum(k * n_post for k, n_post in zip(pre_spikes, spec.sizes[1:]))) + catch_ups(spec, n_samples)


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
    from .devices import make_runner

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

    from .devices import RuntimeRunner

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
    from .reference import check_supported

    try:
        check_supported(work.spec)
        return True
    except ValueError:
        return False


def bench_reference(work, n, log):
    from .reference import ReferenceRunner

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
    updates = row.updates if work.event_driven else work.plastic_synapses * steps
    row.updates_per_s = updates / row.sim_s
    if row.engine != "cuda_standalone":  # the bound is the CPU's memory bandwidth
        row.bound_fraction = row.updates_per_s / (bandwidth["bytes_per_s"] / 16.0)
    return row


#: the command whose start-up is timed: the small network's training defaults
START_ARGS = ("train", "--rule", "dfa", "--dataset", "digits", "--hidden", "100", "--epochs", "1")
#: what the compiled program prints when its first step begins (Brian2's text report)
FIRST_STEP = "Starting simulation at t=0"


def time_to_first_step(args, timeout=900):
    """Launch ``python -m brianrules.cli ARGS`` and return the seconds until
    the compiled program reports its first simulated step, with the
    command's ``build:`` line.  The command is stopped there."""
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    t0 = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-m", "brianrules.cli", *args], stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, env=env, start_new_session=True)
    seconds, build, lines = None, None, []
    try:
        deadline = t0 + timeout
        for line in proc.stdout:
            lines.append(line.rstrip())
            if line.startswith("build:"):
                build = line.split(" (/")[0].strip()
            if FIRST_STEP in line:
                seconds = time.perf_counter() - t0
                break
            if time.perf_counter() > deadline:
                break
    finally:
        # the program is a child of the command: stop the whole group
        try:
            os.killpg(proc.pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
        proc.stdout.close()
        proc.wait(timeout=60)
    if seconds is None:
        tail = "\n".join(lines[-10:])
        raise RuntimeError(f"`brianrules {' '.join(args)}` never reported its first step:\n{tail}")
    return seconds, build


def measure_start(log=print, args=START_ARGS):
    """Two launches of the same training command, one after the other: the
    first may compile; the second starts the finished program."""
    out = {"command": "brianrules " + " ".join(args)}
    with tempfile.TemporaryDirectory(prefix="brianrules-start-") as tmp:
        full = [*args, "--out", os.path.join(tmp, "run"), "--force"]
        for which in ("first", "second"):
            seconds, build = time_to_first_step(full)
            out[which] = {"seconds": seconds, "build": build}
            log(f"  {which} launch: {seconds:.2f} s to the first simulated step ({build})")
    return out


def parse_list(text, allowed, what):
    """``"a,b"`` -> ``["a", "b"]``, each one of ``allowed`` (ValueError names
    the one that is not)."""
    items = [t.strip() for t in str(text).split(",") if t.strip()]
    if not items:
        raise ValueError(f"bench: no {what} given (choose from {', '.join(allowed)})")
    for t in items:
        if t not in allowed:
            raise ValueError(f"bench: unknown {what[:-1] if what.endswith('s') else what} '{t}' "
                             f"(choose from {', '.join(allowed)})")
    return list(dict.fromkeys(items))


def engines_for(work_name, device):
    """The engines measured side by side on a network, for ``device``."""
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
    from .devices import check_runnable

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
    from .training import versions

    check_bench_device(device, cuda_arch)
    networks = [n for n in WORKLOADS if n in networks]
    rules = [r for r in BENCH_RULES if r in rules]
    t_start = time.perf_counter()
    q = 1 if quick else 0
    whole = whole_benchmark(device, networks, rules)
    info = {"machine": machine(), "versions": versions(), "quick": quick,
            "load_before": load_average(), "date": datetime.datetime.now().astimezone(),
            "device": device, "networks": networks, "rules": rules, "whole": whole}
    if device == "cuda_standalone":
        from . import cuda

        info["gpus"] = cuda.gpus()
        info["versions"]["brian2cuda"] = cuda.brian2cuda_version()
        info["nvcc"] = cuda.find_nvcc()
    log(f"memory bandwidth: timed copy of a {BANDWIDTH_MB} MB float64 array ...")
    bw = measure_bandwidth()
    info["bandwidth"] = bw
    log(f"  {bw['bytes_per_s'] / 1e9:.2f} GB/s (read + write), best copy {bw['best_copy_s'] * 1e3:.1f} ms")
    rows = []
    works = workloads()
    info["workloads"] = {w.name: {"sizes": w.spec.sizes, "source": w.source,
                                  "plastic_synapses": w.plastic_synapses,
                                  "steps_per_sample": w.spec.steps_per_sample} for w in works}
    for name in networks:
        for rule in rules:
            work = workload(name, rule)
            for engine, threads in engines_for(work.name, device):
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
        f" {threads} thread(s)" if engine == "cpp_standalone" else "")
    if engine == "reference" and not reference_supported(work):
        log(f"{label}: {NO_REFERENCE}")
        return finish(bench_reference(work, n, log), work, bw)
    log(f"{label}: {n} samples ...")
    t0 = time.perf_counter()
    if engine in COMPILED:
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


# -- report ------------------------------------------------------------------
def _fmt(v, spec):
    if v is None or (isinstance(v, float) and not np.isfinite(v)):
        return "–"
    return format(v, spec)


def event_driven_rules():
    """Names of the registered rules whose updates are event-driven."""
    from . import rules

    names = []
    for name in sorted(rules.RULES):
        try:
            rule = rules.get(name)
        except Exception:  # a rule that needs parameters: not ours to guess
            continue
        if getattr(rule, "timing", "clock") == "event":
            names.append(name)
    return names


RULE_LABELS = {"dfa": "dfa (clock-driven)", "dfa-event": "dfa, event-driven form", "erbp": "erbp (event-driven)",
               "superspike": "superspike (2-stage eligibility per synapse)",
               "eprop": "eprop (1-stage eligibility per synapse)"}


def table(rows):
    """The results as a Markdown table."""
    head = ["network", "rule", "engine", "threads", "samples", "compile s", "run wall s", "sim s",
            "overhead s", "samples/s", "syn. updates/s", "of bound", "× NumPy ref."]
    lines = ["| " + " | ".join(head) + " |", "|" + "|".join(["---"] * 3 + ["--:"] * (len(head) - 3)) + "|"]
    # the reference of a rule's row: the NumPy reference of the same network and rule (the
    # event-driven form of dfa computes the clock-driven dfa's weights, so it shares dfa's)
    def reference_key(r):
        return r.network, r.rule.split("-")[0]

    reference = {reference_key(r): r.samples_per_s for r in rows if r.engine.startswith("reference") and not r.note}
    for r in rows:
        rule = RULE_LABELS.get(r.rule, r.rule)
        if r.note:
            lines.append("| " + " | ".join([f"{r.network} {r.sizes}", rule, f"{r.engine}: {r.note}"]
                                           + ["–"] * (len(head) - 3)) + " |")
            continue
        if r.engine not in COMPILED:
            comp = "–"
        elif r.cached:
            first = r.extra.get("first_build_s")
            comp = _fmt(r.compile_s, ".1f") + " (cached" + (
                f"; first build {first:.1f})" if first is not None else ")")
        else:
            comp = _fmt(r.compile_s, ".1f")
        runs = f" (best of {r.runs})" if r.runs > 1 else ""
        lines.append("| " + " | ".join([
            f"{r.network} {r.sizes}", rule, r.engine, r.threads, f"{r.samples}{runs}", comp,
            _fmt(r.wall_s, ".3f"), _fmt(r.sim_s, ".3f"), _fmt(r.overhead_s, ".3f"),
            _fmt(r.samples_per_s, ".2f"), _fmt(r.updates_per_s, ".3g"),
            (_fmt(100 * r.bound_fraction, ".1f") + " %") if np.isfinite(r.bound_fraction) else "–",
            _fmt(r.samples_per_s / reference[reference_key(r)], ".1f") if reference_key(r) in reference else "–",
        ]) + " |")
    return "\n".join(lines)


def _git_state():
    """The checkout's commit, and whether the working tree differs from it."""
    from .training import git_commit

    commit = git_commit()
    if not commit:
        return None
    here = os.path.dirname(os.path.abspath(__file__))
    try:
        r = subprocess.run(["git", "-C", here, "status", "--porcelain", "--untracked-files=no"],
                           capture_output=True, text=True, timeout=10)
        dirty = bool(r.stdout.strip())
    except (OSError, subprocess.SubprocessError):
        dirty = False
    return f"commit {commit[:12]}" + (" with uncommitted changes" if dirty else "")


def _event_counts_text(rows):
    """What the event-driven runs counted, per network and rule (from the
    first measured row of each)."""
    parts = []
    for net, rule in dict.fromkeys((r.network, r.rule) for r in rows):
        r = next((r for r in rows if (r.network, r.rule) == (net, rule) and r.updates is not None), None)
        if r is None:
            continue
        per = [k / r.samples for k in r.pre_spikes]
        sizes = [int(v) for v in r.sizes.split("-")]
        terms = " + ".join(f"{k:.0f} {'input' if i == 0 else 'hidden'} spikes × {n}"
                           for i, (k, n) in enumerate(zip(per, sizes[1:])))
        if r.extra.get("catch_ups"):
            terms += f" + {r.extra['catch_ups'] / r.samples:,.0f} catch-ups"
        parts.append(f"{net}, {RULE_LABELS.get(rule, rule)} ({r.engine}, {r.threads} thread(s), {r.samples} "
                     f"samples): {terms} = {r.updates / r.samples:,.0f} updates per sample")
    return (" Per sample on average, " + "; ".join(parts) + ".") if parts else ""


def _mb(n_synapses):
    b = 16 * n_synapses
    return f"{b / 1e6:.1f} MB" if b >= 1e6 else f"{b / 1e3:.0f} kB"


def render(result, command):
    info = result["info"]
    rows = result["rows"]
    m = info["machine"]
    bw = info["bandwidth"]
    v = info["versions"]
    ver = ", ".join(f"{k} {val}" for k, val in v.items())
    try:
        cxx = subprocess.run([os.environ.get("CXX", "g++"), "--version"], capture_output=True, text=True,
                             timeout=10).stdout.splitlines()[0]
    except (OSError, IndexError, subprocess.SubprocessError):
        cxx = "unknown"
    commit = _git_state()
    wl = info["workloads"]
    bound = bw["bytes_per_s"] / 16.0
    la, lb = info["load_before"], info["load_after"]
    programs = [r for r in rows if r.engine in COMPILED]
    compiled = sum(1 for r in programs if not r.cached)
    known = [r.extra.get("first_build_s") for r in programs]
    first_builds = sum(known) if programs and None not in known else None
    out = [
        "# Benchmarks",
        "",
        f"Measured {info['date'].strftime('%Y-%m-%d %H:%M %Z')} with",
        "",
        "```",
        command,
        "```",
        "",
        "(" + ("`--quick`: few samples per run, figures are rough" if info["quick"] else "full run")
        + f"; the whole benchmark took {info['elapsed_s']:.0f} s, "
        + (f"compiling {compiled} of the {len(programs)} compiled programs" if compiled else
           f"with all {len(programs)} compiled programs from the build cache")
        + (f"; their first builds took {first_builds:.0f} s in all, which a run with an empty "
           "cache adds)" if first_builds else ")"),
        "",
        *selection_text(info),
        "## Machine",
        "",
        f"- CPU: {m['cpu']}, {m['logical_cpus']} logical CPUs ({m['usable_cpus']} usable by this process)",
        f"- memory: {m['memory_gib']:.1f} GiB",
        f"- memory bandwidth: {bw['bytes_per_s'] / 1e9:.2f} GB/s, from the best of 5 timed copies of a "
        f"{bw['array_mb']} MB float64 array (NumPy, one thread; bytes read + written); bound for float64 "
        f"weight updates (16 bytes each): {bound:.3g} updates/s",
        f"- load average (1, 5, 15 min) before: {la[0]:.2f} {la[1]:.2f} {la[2]:.2f}, after: "
        f"{lb[0]:.2f} {lb[1]:.2f} {lb[2]:.2f} (the machine may be shared: other jobs slow the figures)",
        f"- OS: {m['os']}",
    ]
    if info.get("device") == "cuda_standalone":
        gpus = ", ".join(n if cap is None else f"{n} (compute capability {cap})" for n, cap in info.get("gpus", []))
        archs = sorted({r.extra["arch"] for r in rows if "arch" in r.extra})
        out.append(f"- GPU: {gpus or 'none found'}; CUDA compiler {info.get('nvcc')}"
                   + (f"; programs compiled for {', '.join(f'sm_{int(round(a * 10))}' for a in archs)}" if archs else ""))
    if max(la[0], lb[0]) > m["usable_cpus"]:
        out.append(
            f"- the load average exceeded the {m['usable_cpus']} usable CPUs during the run: other jobs "
            "shared the cores, which lowers every figure and the 2-thread OpenMP figures most (each time "
            "step has several barriers, where a thread waits for a descheduled partner)")
    out += [
        f"- versions: {ver}; compiler: {cxx}" + (f"; source: {commit}" if commit else ""),
    ]
    out += [
        "",
        "## Results",
        "",
        table(rows),
        "",
        *start_text(info.get("start")),
        "## What is measured",
        "",
        f"- small: {'-'.join(map(str, wl['small']['sizes']))} on {wl['small']['source']}; large: "
        f"{'-'.join(map(str, wl['large']['sizes']))} on {wl['large']['source']}. Both with the training "
        f"defaults of each rule: dfa (surrogate factor, direct feedback, clock-driven), dfa's event-driven "
        f"form (`--timing event`: the same sums regrouped, so that a synapse is touched on presynaptic "
        f"spikes and once per application of the accumulated updates; same weights to rounding) and erbp (current "
        f"boxcar factor, error neurons and a dendritic compartment, event-driven); dt 0.5 ms, "
        f"{wl['small']['steps_per_sample']} steps per sample, updates applied at the end of each sample, "
        "learning on for every sample.",
        f"- plastic synapses: {wl['small']['plastic_synapses']} (small), {wl['large']['plastic_synapses']} "
        f"(large); their weights and accumulators take {_mb(wl['small']['plastic_synapses'])} and "
        f"{_mb(wl['large']['plastic_synapses'])}: the small network's fit in the CPU caches, where the "
        "memory-bandwidth bound does not limit. **of bound** is the synaptic updates/s over the "
        "bandwidth bound above.",
        "- **syn. updates/s**, dfa (clock-driven): one update per plastic synapse per time step (each "
        "one is integrated every step, whether or not the weight changes), divided by the engine's own "
        "simulation time (`sim s`).",
        "- **syn. updates/s**, erbp and dfa's event-driven form: the updates the program executes, one per "
        "presynaptic spike per outgoing plastic synapse (erbp: `w_acc += plastic * (-eta * U_post * "
        "boxcar_post)`, dfa: `w_acc += plastic * (-eta * xs_pre * (Y_post - Ylast))`; "
        "each runs whether or not its factors are zero), divided by `sim s`. For dfa's event-driven form the "
        "catch-up of every synapse before each application (one per plastic synapse per sample) and at each "
        "re-base of its traces (none at these defaults: the sample's start re-bases) is counted too. "
        "Counted from the spikes of the reported run: input spikes × hidden size + hidden spikes × "
        "output size. The input spikes are recomputed exactly from the counter-based hash that draws "
        "them (`hash_uniform(seed, step, i) < rate * dt`, the same in every engine); the hidden spikes "
        "are the counts of the run's hidden-layer monitors. Not counted: the addition of the "
        "accumulated change to every weight at the end of each sample (one per plastic synapse per "
        "sample, done in every run of either rule), the delivery of spikes to the postsynaptic "
        "currents and the error pathway."
        + _event_counts_text(rows),
        "- **reference (NumPy)**: `reference.py` models the dfa family (clock-driven updates, direct "
        "feedback) only; there is no NumPy reference for erbp or for dfa's event-driven form, so their rows "
        "give no figure.",
        "- **samples/s** is samples per run over the run's wall time (`run wall s`: the whole "
        "`runner.run` call of one epoch).",
        "- **× NumPy ref.** is a row's samples/s over the NumPy reference's samples/s on the same network "
        "for the same rule, both measured in this run. dfa's event-driven form computes the clock-driven "
        "dfa's weights (to rounding), so it is compared with dfa's reference, which integrates every "
        "synapse every step.",
        "- **overhead s** = run wall time − the engine's own simulation time: for cpp_standalone the "
        "network loop time the program reports (`last_run_info.txt` in the run's results folder), so the overhead is writing "
        "the run's inputs, starting the program, loading and saving its arrays and reading the results; "
        "for runtime mode the time of Brian2's network loop, so the overhead includes building the "
        "network and its NumPy code; for the reference the time of its step loop.",
        "- **compile s** is the build call of the C++ program (code generation and compiler); "
        "`(cached)` means the program came from the build cache (keyed by the model's structure): when "
        "its build stamp matches, nothing is generated or compiled and the figure is the time from the "
        "program's objects to the start (else the code is written again and make finds what to "
        "recompile); the first build's time is noted in the cached build folder.",
        f"- each cpp_standalone program is run {CPP_REPEATS[1 if info['quick'] else 0]} time(s) per "
        "benchmark (each run from the same initial weights, with another input-noise seed); with more "
        "than one, the fastest is reported. Runtime mode and the reference run once.",
        *(["- **cuda_standalone**: the brian2cuda program of the same model on the GPU (threads: `GPU`), "
           "built and cached like the C++ programs; `sim s` is the network loop time it reports. **of bound** "
           "is left empty for it: the bound above is the CPU's memory bandwidth."]
          if any(r.engine == "cuda_standalone" for r in rows) else []),
        "- OpenMP threads: the 2-thread programs run on the same cores as everything else on this "
        "machine; the bandwidth figure is for one thread.",
        *([f"- event-driven rules not benchmarked: {', '.join(r for r in info['event_rules'] if r not in RULES)}."]
          if any(r not in RULES for r in info["event_rules"]) else []),
        "",
    ]
    return "\n".join(out)


def selection_text(info):
    """What part of the benchmark ran, when not all of it."""
    if info.get("whole", True):
        return []
    parts = [f"networks: {', '.join(info['networks'])}", f"rules: {', '.join(info['rules'])}"]
    if info.get("device") == "cuda_standalone":
        parts.append("device cuda_standalone: the GPU program beside cpp_standalone (1 thread) and the "
                     "NumPy reference")
    return ["Part of the benchmark: " + "; ".join(parts) + ". The start-up is not timed.", ""]


def start_text(start):
    """The start-up section of the report."""
    if not start:
        return []
    first, second = start["first"], start["second"]
    return [
        "## Start-up",
        "",
        f"`{start['command']}` launched twice in a row, each time as a new process, timed from the launch "
        "to the compiled program's report of its first simulated step (the command is stopped there):",
        "",
        f"- first launch: {first['seconds']:.2f} s ({first['build']})",
        f"- second launch: {second['seconds']:.2f} s ({second['build']})",
        "",
        "A start includes Python's start, importing Brian2, loading the data set (cached as arrays after "
        "the first load), creating the model's objects on the device and its code objects "
        "(`CompiledProgram._populate`), and the program's loading of its inputs. A program whose build "
        "stamp matches (the key, Brian2's version, compiler and flags, and a hash of the generated code) "
        "skips the equation check, the writing of the code and make.",
        "",
    ]


def default_output():
    """BENCHMARKS.md at the repository root when the package sits in a
    checkout, else in the current folder."""
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    if os.path.exists(os.path.join(root, "setup.py")):
        return os.path.join(root, "BENCHMARKS.md")
    return os.path.abspath("BENCHMARKS.md")


def command_line(argv=None):
    argv = list(sys.argv if argv is None else argv)
    prog = os.path.basename(argv[0]) if argv else "brianrules"
    if prog == "brianrules" or prog.startswith("__main__"):
        return shlex.join(["brianrules", *argv[1:]])
    return shlex.join(["python", os.path.relpath(argv[0]) if os.path.isabs(argv[0]) else argv[0], *argv[1:]])


def add_bench_parser(subparsers):
    """Add the ``bench`` subcommand to an argparse subparsers object."""
    p = subparsers.add_parser(
        "bench", help="measure throughput of the engines side by side and write BENCHMARKS.md",
        description="Measure samples/s, synaptic updates/s, compile time, per-epoch overhead and the "
                    "memory-bandwidth bound for cpp_standalone (1 and 2 threads), runtime mode and the "
                    "NumPy reference, on a small and a large network, for the clock-driven dfa rule and "
                    "the event-driven erbp rule.")
    p.add_argument("--quick", action="store_true",
                   help="few samples per run (a few minutes on 2 cores once the 8 programs are in the "
                   "build cache; compiling them first takes several minutes more)")
    p.add_argument("--device", default="cpp_standalone", choices=BENCH_DEVICES,
                   help="cuda_standalone: time the brian2cuda program on this machine's GPU beside "
                   "cpp_standalone (1 thread) and the NumPy reference (default: cpp_standalone with 1 and "
                   "2 threads, runtime mode and the NumPy reference)")
    p.add_argument("--networks", default=",".join(WORKLOADS), metavar="LIST",
                   help=f"comma-separated part of {','.join(WORKLOADS)} (default: both)")
    p.add_argument("--rules", default=",".join(RULES), metavar="LIST",
                   help=f"comma-separated part of {','.join(BENCH_RULES)} (default: {','.join(RULES)})")
    p.add_argument("--cuda-arch", default=None, metavar="CC",
                   help="cuda_standalone: compute capability to compile for (default: the GPU's)")
    p.add_argument("--out", default=None,
                   help="where to write the report (default: BENCHMARKS.md at the repository root for "
                   "the whole default benchmark; a part of it, or --device cuda_standalone, is written "
                   "only where --out says)")
    p.add_argument("--no-write", action="store_true", help="print the table, write no file")
    return p


#: a line of the report: what follows it was written by hand (measurements
#: that the benchmark does not make) and stays when the benchmark rewrites the file
KEEP_MARKER = "<!-- sections below this line are kept when `brianrules bench` rewrites this file -->"


def with_kept_part(text, path):
    """``text`` followed by the part of the existing file ``path`` from
    `KEEP_MARKER` on (``text`` alone when there is none)."""
    try:
        with open(path) as f:
            old = f.read()
    except OSError:
        return text
    k = old.find(KEEP_MARKER)
    if k < 0:
        return text
    return text.rstrip("\n") + "\n\n" + old[k:]


def cmd_bench(args):
    quick = bool(getattr(args, "quick", False))
    device = getattr(args, "device", None) or "cpp_standalone"
    cuda_arch = getattr(args, "cuda_arch", None)
    try:  # bad input: one line, before anything is measured or compiled
        networks = parse_list(getattr(args, "networks", None) or ",".join(WORKLOADS), WORKLOADS, "networks")
        rules = parse_list(getattr(args, "rules", None) or ",".join(RULES), BENCH_RULES, "rules")
        check_bench_device(device, cuda_arch)
    except ValueError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    out = getattr(args, "out", None) or (default_output() if whole_benchmark(device, networks, rules) else None)
    log = lambda *x: print(*x, flush=True)  # noqa: E731
    command = getattr(args, "command_line", None) or command_line()
    result = run_benchmark(quick=quick, log=log, device=device, networks=networks, rules=rules,
                           cuda_arch=cuda_arch)
    text = render(result, command)
    print()
    print(table(result["rows"]))
    if getattr(args, "no_write", False):
        return 0
    if out is None:
        print(f"\n(part of the benchmark: no file written; give --out to write the report, "
              f"{os.path.basename(default_output())} keeps the whole benchmark's)")
        return 0
    text = with_kept_part(text, out)
    tmp = out + ".tmp"
    with open(tmp, "w") as f:
        f.write(text)
    os.replace(tmp, out)
    print(f"\nwrote {out}")
    return 0


def main(argv=None):
    parser = argparse.ArgumentParser(prog="bench")
    sub = parser.add_subparsers(dest="command", required=True)
    add_bench_parser(sub)
    args = parser.parse_args(["bench", *(sys.argv[1:] if argv is None else argv)])
    return cmd_bench(args)
