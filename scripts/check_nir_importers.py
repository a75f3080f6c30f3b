"""How snnTorch and Norse run a network exported as a NIR graph, against the
package's own stepper (`brianrules.io.nir_graph.simulate`).

Two stages, in two environments.

Stage 1, in the package's environment: draw Poisson input spikes for test
samples, step the graph with `simulate` (no refractory period, state reset
at each sample), and with two forward-Euler variants of it, and save all
spikes in an npz file:

    brianrules train --rule dfa --dataset digits --epochs 1 --hidden 100 --dt 0.1 \\
        --t-sample 50 --neuron-param t_ref=0*ms --out runs/nir01
    brianrules export runs/nir01 --nir runs/nir01.nir
    python scripts/check_nir_importers.py simulate runs/nir01.nir runs/nir01_spikes.npz

Stage 2, in an environment with PyTorch and the importers (Python 3.11;
checked with torch 2.13.0 CPU, nir 1.0.8, nirtorch 2.6, snntorch 1.0.0,
norse 1.1.0; Norse's declared torchvision is not needed for its importer):

    python3.11 -m venv ~/nir-importers
    ~/nir-importers/bin/pip install torch==2.13.0 numpy h5py
    ~/nir-importers/bin/pip install --no-deps nir==1.0.8 nirtorch==2.6 snntorch==1.0.0 norse==1.1.0
    ~/nir-importers/bin/python scripts/check_nir_importers.py compare runs/nir01.nir runs/nir01_spikes.npz

Stage 2 imports the graph with each importer (printing what the import
printed, warned or logged), runs the same input spikes through it (one
sample per batch row, so each sample starts from rest, as with
``reset_every``), and prints per population the spike totals, the
correlation of spike counts per sample and neuron, the fraction of spikes
at the same step (Dice: 2 |A and B| / (|A| + |B|)) and within one step,
and, for the output, how often the predicted class (most active neuron)
agrees.

Two differences are expected.  The importers integrate by forward Euler
(I <- (1 - dt/tau_syn) I + W s, v <- (1 - dt/tau_mem) v + I, per snnTorch's
and Norse's CubaLIF), `simulate` exactly.  And the importers pass a spike
on within its step, where `simulate` (like the Brian2 program) integrates
before it delivers the step's spikes: each layer's spikes come one step
later than in the importers (``lag``).  The variant "euler" is `simulate`
with Euler coefficients; "euler, importer order" also passes spikes on in
the step, and should reproduce the importers up to float32 rounding.

snnTorch's importer assumes dt = 0.1 ms (it asserts r == tau_mem / 1e-4):
the graph of a run with another dt fails there; Norse takes ``dt``.
Neither honours a refractory period or a reset other than 0.
"""

import argparse
import contextlib
import io
import logging
import sys
import warnings

import numpy as np

VARIANTS = ("exact", "euler", "euler_importer_order")


# -- the graph, as NumPy arrays -----------------------------------------------------

def layers(graph):
    """The graph's input node, its CubaLIF nodes in feed-forward order, and
    for each of those the parameters and the (pre node, weight) pairs that
    lead into it."""
    import nir

    nodes = graph.nodes
    inp = next(n for n, v in nodes.items() if isinstance(v, nir.Input))
    links = {}
    for name, node in nodes.items():
        if isinstance(node, (nir.Linear, nir.Affine)):
            pre = next(a for a, b in graph.edges if b == name)
            post = next(b for a, b in graph.edges if a == name)
            links.setdefault(post, []).append((pre, np.asarray(node.weight, dtype=float)))
    order, done = [], {inp}
    cells = [n for n, v in nodes.items() if isinstance(v, nir.CubaLIF)]
    while len(order) < len(cells):
        ready = [n for n in cells if n not in done and all(pre in done for pre, _ in links.get(n, []))]
        if not ready:
            raise ValueError("the graph is not feed-forward")
        order += ready
        done.update(ready)
    params = {n: {k: np.asarray(getattr(nodes[n], k), dtype=float).ravel()
                  for k in ("tau_syn", "tau_mem", "r", "v_leak", "v_threshold", "v_reset", "w_in")}
              for n in cells}
    return inp, order, params, links


def step(graph, spikes, dt, scheme="exact", order="brian2"):
    """Spikes {node: samples x steps x neurons} of each CubaLIF node for
    input ``spikes`` (samples x steps x inputs), each sample from rest, no
    refractory period.  ``scheme``: "exact" (as `simulate`) or "euler".
    ``order``: "brian2" (integrate, fire, deliver the step's spikes, reset:
    `simulate`'s order) or "importer" (layer by layer, each takes the
    step's spikes of the layer before, then integrates and fires)."""
    inp, cells, p, links = layers(graph)
    n_samples, n_steps, _ = spikes.shape
    c = {}
    for n in cells:
        f = p[n]
        if scheme == "exact":
            a, b = np.exp(-dt / f["tau_mem"]), np.exp(-dt / f["tau_syn"])
            same = np.isclose(f["tau_syn"], f["tau_mem"])
            ratio = np.where(same, 1.0, f["tau_syn"] / np.where(same, 1.0, f["tau_syn"] - f["tau_mem"]))
            gain = np.where(same, dt / f["tau_mem"] * a, ratio * (b - a))
        else:
            a, b, gain = 1 - dt / f["tau_mem"], 1 - dt / f["tau_syn"], dt / f["tau_mem"]
        c[n] = dict(f, a=a, b=b, gain=gain, jump=f["w_in"] * dt / f["tau_syn"])
    v = {n: np.broadcast_to(p[n]["v_leak"], (n_samples, p[n]["v_leak"].size)).copy() for n in cells}
    current = {n: np.zeros_like(v[n]) for n in cells}
    out = {n: np.zeros((n_samples, n_steps, v[n].shape[1]), dtype=bool) for n in cells}

    def drive(n, fired):
        return sum(fired[pre] @ W.T for pre, W in links[n])

    for t in range(n_steps):
        fired = {inp: spikes[:, t].astype(float)}
        if order == "brian2":
            for n in cells:
                k = c[n]
                v[n] = k["v_leak"] + k["a"] * (v[n] - k["v_leak"]) + k["gain"] * k["r"] * current[n]
                current[n] = k["b"] * current[n]
            for n in cells:
                out[n][:, t] = v[n] > c[n]["v_threshold"]
                fired[n] = out[n][:, t].astype(float)
            for n in cells:
                current[n] = current[n] + c[n]["jump"] * drive(n, fired)
                v[n] = np.where(out[n][:, t], c[n]["v_reset"], v[n])
        else:
            for n in cells:
                k = c[n]
                current[n] = k["b"] * current[n] + k["jump"] * drive(n, fired)
                v[n] = k["v_leak"] + k["a"] * (v[n] - k["v_leak"]) + k["gain"] * k["r"] * current[n]
                out[n][:, t] = v[n] > k["v_threshold"]
                fired[n] = out[n][:, t].astype(float)
                v[n] = np.where(out[n][:, t], k["v_reset"], v[n])
    return out


# -- stage 1: the package's stepper ------------------------------------------------

def stage_simulate(args):
    import nir

    from brianrules.data import load
    from brianrules.io.nir_graph import simulate

    graph = nir.read(args.graph)
    meta = graph.metadata
    dt = float(meta["dt_s"])
    steps = round(float(meta["t_sample_s"]) / dt)
    rate = float(meta["max_rate_hz"]) if args.max_rate is None else args.max_rate
    data = load(args.dataset)
    x, y = data.x_test[:args.samples], data.y_test[:args.samples]
    rng = np.random.default_rng(args.seed)
    spikes = rng.random((len(x), steps, x.shape[1])) < (rate * dt) * x[:, None, :]
    flat = spikes.reshape(-1, x.shape[1])
    saved = {"input": spikes, "labels": y, "dt_s": dt, "steps": steps}
    runs = {"exact": step(graph, spikes, dt, "exact"),
            "euler": step(graph, spikes, dt, "euler"),
            "euler_importer_order": step(graph, spikes, dt, "euler", order="importer")}
    for n, z in simulate(graph, flat, refractory=False, reset_every=steps).items():
        if not np.array_equal(z.reshape(len(x), steps, -1), runs["exact"][n]):
            raise SystemExit(f"node {n}: the exact variant here differs from simulate()")
    for n, z in simulate(graph, flat, refractory=True, reset_every=steps).items():
        saved[f"simulate_refractory/{n}"] = z.reshape(len(x), steps, -1)  # the Brian2 program's spikes
    for variant, run in runs.items():
        for n, z in run.items():
            saved[f"{variant}/{n}"] = z
    np.savez_compressed(args.out, **saved)
    print(f"{args.out}: {len(x)} samples of {steps} steps of {dt * 1e3:g} ms, input {spikes.sum()} spikes")
    for n in runs["exact"]:
        print(f"  {n}: " + ", ".join(f"{v} {runs[v][n].sum()}" for v in VARIANTS)
              + f", with refractory period {saved[f'simulate_refractory/{n}'].sum()}")


# -- stage 2: the importers ----------------------------------------------------------

@contextlib.contextmanager
def captured():
    """What a block prints, warns and logs, as a list of lines."""
    lines, text = [], io.StringIO()
    handler = logging.Handler()
    handler.emit = lambda record: lines.append(f"log {record.levelname}: {record.getMessage()}")
    root = logging.getLogger()
    root.addHandler(handler)
    try:
        with warnings.catch_warnings(record=True) as caught, contextlib.redirect_stdout(text):
            warnings.simplefilter("always")
            yield lines
    finally:
        root.removeHandler(handler)
    lines += [f"printed: {s}" for s in text.getvalue().splitlines()]
    lines += [f"{w.category.__name__}: {w.message}" for w in caught]


def run_snntorch(path, spikes, cells, dtype):
    import nir
    import snntorch as snn
    import torch
    from snntorch.import_nir import import_from_nir

    with captured() as notes:
        net = import_from_nir(nir.read(path))
    net = net.to(dtype)
    modules = dict(net.named_modules())
    for n in cells:
        notes.append(f"{n}: {modules[n]!r} alpha {float(modules[n].alpha):.6g} beta {float(modules[n].beta):.6g} "
                     f"threshold {float(modules[n].threshold):g}")
    record = {n: [] for n in cells}

    def hook(n):
        def keep(module, inputs, spikes):
            record[n].append(spikes.detach().numpy() > 0)
            return spikes.to(dtype)  # snnTorch's spikes are float32 whatever the module's dtype
        return keep

    for n in cells:
        modules[n].register_forward_hook(hook(n))
    for m in modules.values():
        if isinstance(m, snn.SpikingNeuron):
            m.reset_mem()
    x = torch.as_tensor(spikes, dtype=dtype)
    with torch.no_grad(), captured() as run_notes:
        for t in range(x.shape[1]):
            out = net(x[:, t])
            out = out[0] if isinstance(out, tuple) else out
    notes += run_notes
    z = {n: np.stack(record[n], axis=1) for n in cells}
    assert np.array_equal(z[cells[-1]][:, -1], out.numpy() > 0)
    return z, notes


def run_norse(path, spikes, cells, dtype, dt):
    import nir
    import norse.torch
    import torch

    with captured() as notes:
        net = norse.torch.from_nir(nir.read(path), dt=dt)
    net = net.to(dtype)
    record = {n: [] for n in cells}
    x = torch.as_tensor(spikes, dtype=dtype)
    state = None
    with torch.no_grad(), captured() as run_notes:
        for t in range(x.shape[1]):
            out, state = net(x[:, t], state)
            for n in cells:
                record[n].append(state.cache[n].numpy() > 0)
    notes += run_notes
    z = {n: np.stack(record[n], axis=1) for n in cells}
    assert np.array_equal(z[cells[-1]][:, -1], out.numpy() > 0)
    return z, notes


def near(z):
    """z, widened by one step either side (per sample)."""
    w = z.copy()
    w[:, 1:] |= z[:, :-1]
    w[:, :-1] |= z[:, 1:]
    return w


def compare(a, b, lag=0):
    """Totals, count correlation (per sample and neuron), the Dice
    coefficient of same-step spikes, 2 |a and b| / (|a| + |b|), and the
    fraction of spikes of either with one of the other within one step, of a
    (reference) and b, b's spikes taken ``lag`` steps later."""
    if lag:
        a, b = a[:, lag:], b[:, :-lag]
    ca, cb = a.sum(1).ravel().astype(float), b.sum(1).ravel().astype(float)
    corr = np.corrcoef(ca, cb)[0, 1] if ca.std() > 0 and cb.std() > 0 else float("nan")
    total = max(1, a.sum() + b.sum())
    dice = 2 * np.logical_and(a, b).sum() / total
    within = (np.logical_and(a, near(b)).sum() + np.logical_and(b, near(a)).sum()) / total
    return a.sum(), b.sum(), corr, dice, within


def predicted(z):
    counts = z.sum(1)
    return np.where(counts.max(1) > 0, counts.argmax(1), -1)


def stage_compare(args):
    import nir
    import torch

    saved = np.load(args.spikes)
    dt, spikes, labels = float(saved["dt_s"]), saved["input"], saved["labels"]
    _, cells, _, _ = layers(nir.read(args.graph))
    lag = {n: k + 1 for k, n in enumerate(cells)}  # a stack: each layer one step later in the stepper
    ref = {v: {n: saved[f"{v}/{n}"] for n in cells} for v in VARIANTS}
    ref["simulate_refractory"] = {n: saved[f"simulate_refractory/{n}"] for n in cells}
    dtype = torch.float64 if args.float64 else torch.float32
    print(f"{args.graph}: dt {dt * 1e3:g} ms, {len(spikes)} samples of {spikes.shape[1]} steps, torch {dtype}")
    runs = {}
    for name, fn in (("snntorch", lambda: run_snntorch(args.graph, spikes, cells, dtype)),
                     ("norse", lambda: run_norse(args.graph, spikes, cells, dtype, dt))):
        try:
            runs[name], notes = fn()
        except Exception as e:  # noqa: BLE001 - report and go on with the other importer
            print(f"\n{name}: import or run failed: {type(e).__name__}: {e}")
            continue
        print(f"\n{name}: {len(notes)} messages while importing and running")
        for line in notes:
            print(f"  {line}")
    rows = [("euler", "exact", 0), ("euler_importer_order", "euler", "lag")]
    if any(not np.array_equal(ref["simulate_refractory"][n], ref["exact"][n]) for n in cells):
        rows.append(("exact", "simulate_refractory", 0))
    for name in runs:
        rows += [(name, "exact", 0), (name, "exact", "lag"), (name, "euler", "lag"),
                 (name, "euler_importer_order", 0)]
        if "simulate_refractory" in [r[1] for r in rows]:
            rows.append((name, "simulate_refractory", "lag"))
    if len(runs) == 2:
        rows.append(("norse", "snntorch", 0))
    spikes_of = {**ref, **runs}
    print("\nlag: steps by which the second's spikes come before the first's; class: agreement of the predicted"
          " class, over whole samples")
    print(f"\n{'compared':<24} {'with':<22} {'node':<11} {'lag':>3} {'n ref':>7} {'n':>7} {'corr':>7} "
          f"{'same step':>9} {'±1 step':>8} {'class':>6}")
    for b, a, how in rows:
        for n in cells:
            k = lag[n] if how == "lag" else 0
            na, nb, corr, dice, within = compare(spikes_of[a][n], spikes_of[b][n], k)
            agree = ""
            if n == cells[-1]:
                agree = f"{np.mean(predicted(spikes_of[a][n]) == predicted(spikes_of[b][n])):.3f}"
            print(f"{b:<24} {a:<22} {n:<11} {k:>3} {na:>7} {nb:>7} {corr:>7.4f} {dice:>9.4f} {within:>8.4f} {agree:>6}")
    print("\naccuracy (most active output neuron; no spike counts as wrong):")
    for name, z in spikes_of.items():
        print(f"  {name:<24} {np.mean(predicted(z[cells[-1]]) == labels):.3f}")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="stage", required=True)
    s = sub.add_parser("simulate", help="stage 1, in the package's environment")
    s.add_argument("graph")
    s.add_argument("out", help="npz file of the input and the stepper's spikes")
    s.add_argument("--dataset", default="digits")
    s.add_argument("--samples", type=int, default=100, help="the first so many test samples")
    s.add_argument("--seed", type=int, default=0)
    s.add_argument("--max-rate", type=float, default=None, help="Hz; default: the graph's max_rate_hz")
    c = sub.add_parser("compare", help="stage 2, with torch, snntorch, norse and nirtorch")
    c.add_argument("graph")
    c.add_argument("spikes", help="the npz file of stage 1")
    c.add_argument("--float64", action="store_true", help="run the imported modules in float64")
    args = parser.parse_args(argv)
    (stage_simulate if args.stage == "simulate" else stage_compare)(args)


if __name__ == "__main__":
    sys.exit(main())
