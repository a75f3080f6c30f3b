"""SuperSpike's spike-raster task on the C++ program and the NumPy reference, side by side.

`brianrules bench --superspike SECONDS` runs the network of
``models/superspike_raster.toml`` (200 inputs, 256 hidden, 200 outputs, two
all-to-all plastic projections of about 51,000 synapses each, dt 1 ms)
learning for ``SECONDS`` of simulated time, with symmetric and with random
feedback, on the C++ program (one thread) and on the NumPy reference, from
the same weights and rasters, alternating the engines so that both see the
same load.  It reports the wall seconds per simulated second, the synaptic
updates per second (three per synapse and step: eligibility, its filter
and the accumulated update) and whether both engines gave the same output
spikes.  Compiling is reported apart.
"""

import dataclasses
import time

import numpy as np


def run(seconds, log=print):
    from ..engines.spiketrain import make_runner
    from ..reference.spiketrain import zero_state
    from ..training.spiketrain import Rasters, SuperSpikeConfig, network_of

    rows = []
    for feedback in ("symmetric", "random"):
        c = dataclasses.replace(SuperSpikeConfig(), feedback=feedback)  # the model file's settings
        net = network_of(c)
        task = Rasters(c, net)
        n_steps = int(round(seconds / net.dt))
        n_steps -= n_steps % net.update_every
        if n_steps < net.update_every:
            raise ValueError(f"--superspike needs at least {net.update_interval:g} s")
        params, state = net.initial_params(c.seed, w0=c.w0), zero_state(net)
        t0 = time.perf_counter()
        program = make_runner("cpp_standalone", net, task.steps, n_steps)
        build_s = time.perf_counter() - t0
        synapses = sum(a * b for a, b in net.layers.values())
        results = {}
        try:
            for engine, runner in (("C++ program, 1 thread", program),
                                   ("NumPy reference", make_runner("reference", net, task.steps, n_steps))):
                t0 = time.perf_counter()
                _, _, rec = runner.run(params, state, task.stim, task.target, 0, c.eta, True)
                wall = time.perf_counter() - t0
                results[engine] = (wall, rec)
                log(f"{feedback}, {engine}: {n_steps * net.dt:g} s simulated in {wall:.1f} s")
        finally:
            program.close()
        (_, a), (_, b) = results.values()
        same = all(np.array_equal(a[k], b[k]) for k in ("spike_steps", "spike_idx"))
        base = results["C++ program, 1 thread"][0]
        for engine, (wall, rec) in results.items():
            rows.append({"feedback": feedback, "engine": engine, "simulated_s": n_steps * net.dt,
                         "wall_per_s": wall / (n_steps * net.dt), "ratio": wall / base,
                         "updates_per_s": 3 * synapses * n_steps / wall,
                         "build_s": build_s if engine.startswith("C++") else float("nan"), "same": same})
    return rows


def table(rows):
    lines = ["SuperSpike spike-raster task (200-256-200 LIF, about 102,000 plastic synapses, dt 1 ms)", "",
             "| feedback | engine | simulated (s) | wall s per simulated s | time vs C++ | synaptic updates/s | "
             "compile or cache (s) | same output spikes |",
             "|---|---|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['feedback']} | {r['engine']} | {r['simulated_s']:g} | {r['wall_per_s']:.3f} | "
                     f"{r['ratio']:.2f}x | {r['updates_per_s']:.2e} | "
                     + ("-" if r["build_s"] != r["build_s"] else f"{r['build_s']:.1f}")
                     + f" | {'yes' if r['same'] else 'no'} |")
    return "\n".join(lines)


__all__ = ["run", "table"]
