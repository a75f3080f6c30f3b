"""e-prop's sine-wave task on this package's engines and on NEST, side by side.

`brianrules bench --eprop-nest` runs the task of NEST's example
``eprop_supervised_regression_sine-waves_bsshslm_2020.py`` (100 frozen
inputs, 100 recurrent LIF, one readout, 1000-step sequences, gradient
descent) for the same number of iterations on the C++ program, the NumPy
reference and NEST's ``eprop_iaf_bsshslm_2020`` model (``pip install
nest-simulator``; without it the NEST row says so), from the same arrays
(`model.recurrent.nest_sine_example`), and reports the seconds per
iteration, how many iterations give NEST's losses to 1e-12 and the largest
difference of a loss from NEST's after that.  The NEST
network is set up as that example sets it up: spike generators into parrot
neurons, every connection a delay of one step, the target through a
delayed rate connection, and one spike at the end that makes every synapse
apply its last update.  Compiling and NEST's network construction are
reported apart from the iterations.

The two agree to the last digit until a spike flips: NEST's synapse
computes a sequence's gradient when its presynaptic neuron next spikes,
and for an input that spikes in the second step of the next sequence (the
first carries no spikes) the learning signal of the sequence's last step,
which travels back through three one-step delays, has not arrived yet; that
step's term ``L ebar`` is missing from those synapses' gradient.  The
package computes e-prop's sum over every step (`reference.recurrent`, checked
against automatic differentiation).  On NEST's sine example three inputs
spike in that step, and the first flipped spike comes in iteration 9;
``tests/test_eprop_nest.py`` reproduces NEST's losses over 20 iterations to
1e-12 by leaving out that one term.
"""

import time

import numpy as np

#: the sine task's sizes and steps
N_IN, N_REC, STEPS = 100, 100, 1000


def sine_network():
    from ..model.recurrent import EpropNetwork

    return EpropNetwork(n_in=N_IN, n_lif=N_REC, n_out=1, tau_m=30e-3, tau_out=30e-3, v_th=0.03, gamma=0.3,
                        c_reg=300.0, f_target=10.0, loss="mse")


def run_ours(device, iterations):
    """(losses, seconds of the iterations, seconds of the build) on ``device``
    (``"bptt"``: the BPTT reference's gradient in JAX, not e-prop's)."""
    from ..engines.eprop import make_runner
    from ..engines.eprop_bptt import EpropBptt
    from ..model.recurrent import nest_sine_example
    from ..reference.recurrent import apply_gradients, readout_loss
    from ..rules.optimizers import Optimizer

    net = sine_network()
    params, x, s = nest_sine_example(seed=1)
    X, Y, M = x[None], s[None, :, None], np.ones((1, STEPS))
    t0 = time.perf_counter()
    runner = EpropBptt(net, STEPS, 1) if device == "bptt" else make_runner(device, net, STEPS, 1)
    build_s = time.perf_counter() - t0
    optimizer, losses = Optimizer("sgd", clip=100.0), []
    try:
        t0 = time.perf_counter()
        for _ in range(iterations):
            res = runner.run(params, X, Y, M)
            losses.append(float(readout_loss(net, res["y"], Y, M)[0]))
            params, _ = apply_gradients(params, res["grads"], optimizer, 1e-4)
        return losses, time.perf_counter() - t0, build_s
    finally:
        runner.close()


def nest_available():
    try:
        import nest  # noqa: F401
    except Exception as e:  # noqa: BLE001 - not installed, or its library does not load
        return f"NEST is not importable here ({type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}); " \
               "pip install nest-simulator"
    return None


def run_nest(iterations, threads=1):
    """(losses, seconds of ``nest.Simulate``, seconds of the set-up) of
    NEST's model on the task."""
    import nest

    nest.verbosity = nest.VerbosityLevel.ERROR
    from ..model.recurrent import nest_sine_example

    params, x, target = nest_sine_example(seed=1)
    t_setup = time.perf_counter()
    nest.ResetKernel()
    offset_gen, delays = 1, 3  # steps: generators start at step 1; input, readout and its signals one step each
    task = iterations * STEPS
    nest.set(eprop_learning_window=float(STEPS), eprop_reset_neurons_on_update=True,
             eprop_update_interval=float(STEPS), print_time=False, resolution=1.0,
             total_num_virtual_procs=int(threads))
    rec_params = {"C_m": 1.0, "c_reg": 300.0, "E_L": 0.0, "f_target": 10.0, "I_e": 0.0,
                  "regular_spike_arrival": False, "surrogate_gradient_function": "piecewise_linear",
                  "surrogate_gradient_height": 0.3 / 0.03, "surrogate_gradient_width": 0.03, "t_ref": 0.0,
                  "tau_m": 30.0, "V_m": 0.0, "V_th": 0.03, "flush_event_send_interval": float(STEPS)}
    out_params = {"C_m": 1.0, "E_L": 0.0, "I_e": 0.0, "loss": "mean_squared_error",
                  "regular_spike_arrival": False, "tau_m": 30.0, "V_m": 0.0}
    gen = nest.Create("spike_generator", N_IN)
    parrots = nest.Create("parrot_neuron", N_IN)
    rec = nest.Create("eprop_iaf_bsshslm_2020", N_REC, rec_params)
    out = nest.Create("eprop_readout_bsshslm_2020", 1, out_params)
    rate = nest.Create("step_rate_generator", 1)
    mm = nest.Create("multimeter", {"interval": 1.0, "record_from": ["readout_signal", "target_signal"],
                                    "start": float(offset_gen + delays), "stop": float(offset_gen + delays + task)})
    nest.SetDefaults("eprop_synapse_bsshslm_2020", {
        "optimizer": {"type": "gradient_descent", "batch_size": 1, "eta": 1e-4, "Wmin": -100.0, "Wmax": 100.0},
        "average_gradient": False})
    syn = {"synapse_model": "eprop_synapse_bsshslm_2020", "delay": 1.0, "tau_m_readout": 30.0}
    all_to_all = {"rule": "all_to_all", "allow_autapses": False}
    # NEST takes a weight matrix as (targets, sources); the package's matrices are (pre, post)
    nest.Connect(gen, parrots, {"rule": "one_to_one"}, {"synapse_model": "static_synapse", "delay": 1.0})
    nest.Connect(parrots, rec, all_to_all, {**syn, "weight": params["W_in"].T.astype(np.float32)})
    nest.Connect(rec, rec, all_to_all, {**syn, "weight": params["W_rec"].T.astype(np.float32)})
    nest.Connect(rec, out, all_to_all, {**syn, "weight": params["W_out"].T.astype(np.float32)})
    nest.Connect(out, rec, all_to_all, {"synapse_model": "eprop_learning_signal_connection_bsshslm_2020",
                                        "delay": 1.0, "weight": params["B"].astype(np.float32)})
    nest.Connect(rate, out, {"rule": "one_to_one"},
                 {"synapse_model": "rate_connection_delayed", "delay": 1.0, "receptor_type": 2})
    nest.Connect(mm, out, all_to_all, {"synapse_model": "static_synapse", "delay": 1.0})
    starts = np.arange(0.0, task, STEPS) + offset_gen
    step_times = np.arange(0.0, STEPS, 1.0)
    gen.set([{"spike_times": np.hstack([step_times[x[:, i] > 0] + s for s in starts]).astype(np.float32)}
             for i in range(N_IN)])
    rate.set({"amplitude_times": np.arange(0.0, task, 1.0) + offset_gen + delays,
              "amplitude_values": np.tile(target, iterations)})
    final = nest.Create("spike_generator", 1, {"spike_times": [float(task + delays)]})
    nest.Connect(final, parrots + rec, "all_to_all", {"weight": 1000.0})
    setup_s = time.perf_counter() - t_setup
    t0 = time.perf_counter()
    nest.Simulate(float(task + offset_gen + delays + 1))
    sim_s = time.perf_counter() - t0
    ev = mm.get("events")
    y = np.asarray(ev["readout_signal"]).reshape(iterations, STEPS)
    ystar = np.asarray(ev["target_signal"]).reshape(iterations, STEPS)
    losses = list(0.5 * np.sum((y - ystar) ** 2, axis=1))
    return losses, sim_s, setup_s


def compare(iterations=50, log=print):
    """Rows of the comparison: engine, set-up seconds, seconds per iteration,
    the ratio to NEST's and the largest relative difference of a loss from
    NEST's."""
    rows, nest_losses, nest_per_it = [], None, None
    missing = nest_available()
    if missing is None:
        log(f"NEST: {iterations} iterations of the sine task ...")
        nest_losses, sim_s, setup_s = run_nest(iterations)
        nest_per_it = sim_s / iterations
        rows.append({"engine": "NEST eprop_iaf_bsshslm_2020 (1 thread)", "setup_s": setup_s, "per_it_s": nest_per_it,
                     "ratio": 1.0, "loss_diff": 0.0})
    if rows:
        rows[0]["same"] = iterations
    for device, name in (("cpp_standalone", "brianrules cpp_standalone (1 thread)"),
                         ("reference", "brianrules NumPy reference")):
        log(f"{name}: {iterations} iterations ...")
        losses, wall, build = run_ours(device, iterations)
        row = {"engine": name, "setup_s": build, "per_it_s": wall / iterations, "ratio": float("nan"),
               "loss_diff": float("nan"), "same": None}
        if nest_losses is not None:
            rel = np.abs(np.array(losses) / np.array(nest_losses) - 1)
            row["ratio"] = row["per_it_s"] / nest_per_it
            row["loss_diff"] = float(rel.max())
            row["same"] = int(np.argmax(rel > 1e-12)) if np.any(rel > 1e-12) else iterations
        rows.append(row)
    try:
        import jax  # noqa: F401
    except ImportError:
        return rows, missing
    name = "brianrules BPTT reference, JAX (another gradient: its losses are not NEST's)"
    log(f"{name}: {iterations} iterations ...")
    _, wall, build = run_ours("bptt", iterations)
    rows.append({"engine": name, "setup_s": build, "per_it_s": wall / iterations,
                 "ratio": wall / iterations / nest_per_it if nest_per_it else float("nan"),
                 "loss_diff": float("nan"), "same": None})
    return rows, missing


def table(rows, iterations, missing=None):
    lines = [f"e-prop sine-wave task (100 inputs, 100 LIF, 1 readout, 1000 steps of 1 ms), {iterations} iterations",
             "",
             "| engine | set-up / build (s) | s per iteration | time vs NEST | iterations with NEST's losses "
             "(to 1e-12) | largest relative loss difference from NEST |",
             "|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['engine']} | {r['setup_s']:.2f} | {r['per_it_s']:.4f} | "
                     + ("-" if r["ratio"] != r["ratio"] else f"{r['ratio']:.2f}x") + " | "
                     + ("-" if r.get("same") is None else f"{r['same']}") + " | "
                     + ("-" if r["loss_diff"] != r["loss_diff"] else f"{r['loss_diff']:.1e}") + " |")
    if missing:
        lines += ["", missing]
    return "\n".join(lines)


__all__ = ["compare", "nest_available", "run_nest", "run_ours", "table"]
