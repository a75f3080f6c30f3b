"""The figures of one training run (``brianrules plot RUN``), from its
folder: the weights, the metrics and what `training.records` keeps.

`plot_run` draws, from a run folder, into its ``plots`` folder:

- ``raster.png``: the spikes of every layer during a few test samples;
- ``membrane.png``: membrane potentials of a few neurons of each hidden
  layer and of the output over the same samples;
- ``weights_hist.png``: each projection's weight distribution over epochs;
- ``receptive_fields.png``: the input weights of hidden neurons as images;
- ``confusion.png``: the test set's confusion matrix of the latest epoch.
"""

import os

import numpy as np

from .training.records import TEST_COUNTS, WEIGHT_HISTORY, bin_edges, read_test_counts, read_weight_history

#: figures of `plot_run`, in the order they are drawn
FIGURES = ("raster.png", "membrane.png", "weights_hist.png", "receptive_fields.png", "confusion.png")


def confusion_matrix(counts, labels, n_classes):
    """Test samples by true label (rows) and prediction (columns: the most
    active output neuron, then a last column for samples without an output
    spike)."""
    from .training.loop import predictions

    pred = predictions(np.asarray(counts))
    pred = np.where(pred < 0, n_classes, pred)
    out = np.zeros((n_classes, n_classes + 1), dtype=np.int64)
    np.add.at(out, (np.asarray(labels, dtype=np.int64), pred), 1)
    return out


# -- the activity of a few test samples ---------------------------------------
def membrane_layers(spec):
    """The hidden layers and output whose neuron has a potential ``v`` and a
    voltage parameter ``v_th``: those `membrane.png` shows."""
    from brian2 import Quantity, volt

    from .model.architecture import population_names

    out = []
    for name in population_names(len(spec.hidden))[1:]:
        neuron = spec.neuron_of(name)
        v_th = neuron.parameters.get("v_th")
        if "v" in neuron.variable_names() and v_th is not None and Quantity(v_th).has_same_dimensions(volt):
            out.append(name)
    return out


def sample_activity(run, n_samples=3):
    """The first ``n_samples`` test samples presented one after another
    with the run's final weights and learning off, on the runtime device
    (`runs.Run.evaluate`, input spikes of the epoch's seed drawn from step
    0): an `runs.Evaluation` with the spikes of every layer and ``v`` of
    every neuron of `membrane_layers`."""
    from .model.architecture import population_names

    spec = run.network_spec()
    n = min(int(n_samples), len(run.dataset().y_test))
    return run.evaluate(n_samples=n, record_spikes=True, record=("v",) if membrane_layers(spec) else (),
                        layers=population_names(len(spec.hidden)), device="runtime")


# -- the figures ----------------------------------------------------------------
def plot_run(run_dir, out_dir=None, n_samples=3, n_traces=3, log=print):
    """Draw the figures of the run in ``run_dir`` (see the module's
    docstring) into ``out_dir`` (default ``run_dir/plots``); a figure whose
    data the run lacks is skipped with a line to ``log``.  Returns the
    paths written.  A folder without ``config.json`` or ``weights.npz`` is
    a ValueError."""
    from .runs import load

    run_dir = os.fspath(run_dir)
    run = load(run_dir)
    spec = run.network_spec()
    out_dir = os.path.join(run_dir, "plots") if out_dir is None else os.fspath(out_dir)
    os.makedirs(out_dir, exist_ok=True)
    path = {name: os.path.join(out_dir, name) for name in FIGURES}
    written = []

    ev = sample_activity(run, n_samples)
    title = _run_title(run)
    raster(ev, spec, path["raster.png"], title)
    written.append(path["raster.png"])
    if ev.states:
        membrane(ev, spec, path["membrane.png"], n_traces, title)
        written.append(path["membrane.png"])
    else:
        log("membrane.png skipped: no layer's neuron has a potential v and a threshold v_th (a voltage)")

    history = os.path.join(run_dir, WEIGHT_HISTORY)
    weight_histograms(run, spec, path["weights_hist.png"],
                      read_weight_history(history) if os.path.isfile(history) else None)
    written.append(path["weights_hist.png"])

    why = _no_image_input(spec)
    if why:
        log(f"receptive_fields.png skipped: {why}")
    else:
        receptive_fields(run.weights[0], spec, path["receptive_fields.png"])
        written.append(path["receptive_fields.png"])

    counts_path = os.path.join(run_dir, TEST_COUNTS)
    if not os.path.isfile(counts_path):
        log(f"confusion.png skipped: {run_dir} has no {TEST_COUNTS} (the training writes it after each epoch)")
    else:
        counts, labels, epoch = read_test_counts(counts_path)
        acc = confusion(counts, labels, spec.n_out, epoch, path["confusion.png"])
        written.append(path["confusion.png"])
        row = next((r for r in run.metrics if r.get("epoch") == epoch), None)
        if row is not None and abs(row["test_acc"] - acc) > 1e-9:
            log(f"warning: {TEST_COUNTS} gives test accuracy {acc:.4f}, metrics.csv {row['test_acc']:.4f} "
                f"for epoch {epoch}")
    return written


def _pyplot():
    from .plots import plt  # the Agg backend

    return plt


def _run_title(run):
    cfg = run.config
    return f"{cfg.rule} on {cfg.dataset}, {'-'.join(map(str, run.sizes))}, epoch {run.epoch}"


def _layer_title(name):
    return name.replace("_", " ")


def _spikes(n):
    return f"{n} spike{'' if n == 1 else 's'}"


def _weight_unit(spec, population):
    return f"weight (units of {spec.neuron_of(population).weight_unit or 'v_th - v_reset'})"


def _mark_samples(axes, ev):
    """Dashed lines between samples; above the top panel each sample's
    label and prediction (green where right, red where wrong)."""
    from matplotlib.transforms import blended_transform_factory

    T = 1e3 * ev.t_sample
    n = len(ev.counts)
    for ax in axes:
        for k in range(1, n):
            ax.axvline(k * T, color="0.4", ls="--", lw=0.8)
        ax.set_xlim(0, n * T)
    top = axes[0]
    where = blended_transform_factory(top.transData, top.transAxes)
    for k, (label, pred) in enumerate(zip(ev.labels, ev.predictions)):
        top.text((k + 0.5) * T, 1.03, f"label {label}, predicted {'none' if pred < 0 else pred}", transform=where,
                 ha="center", va="bottom", fontsize=8, color="tab:green" if pred == label else "tab:red")
    axes[-1].set_xlabel("time (ms)")


def raster(ev, spec, path, title=""):
    """Spike raster: one panel per layer (input at the top, output at the
    bottom), neuron index against time in ms, for the test samples of
    ``ev`` one after another; each sample's label neuron is shaded in the
    output panel."""
    plt = _pyplot()
    from .model.architecture import population_names

    names = population_names(len(spec.hidden))
    sizes = spec.sizes
    ratios = [float(np.clip(np.sqrt(n), 2, 8)) for n in sizes]
    fig, axes = plt.subplots(len(names), 1, sharex=True, figsize=(8, 1.0 + 0.45 * sum(ratios)),
                             gridspec_kw={"height_ratios": ratios}, constrained_layout=True)
    T = 1e3 * ev.t_sample
    for ax, name, n in zip(axes, names, sizes):
        s = ev.spikes[name]
        ax.plot(1e3 * s.t, s.i, "|", color="k", ms=float(np.clip(150 / n, 1.5, 6)), mew=0.8)
        ax.set_ylim(-0.5, n - 0.5)
        ax.set_ylabel(f"{_layer_title(name)}\nneuron")
        ax.text(1.005, 0.5, _spikes(len(s.t)), transform=ax.transAxes, rotation=90, va="center", fontsize=7)
    out = axes[-1]
    for k, label in enumerate(ev.labels):
        out.axhspan(label - 0.5, label + 0.5, xmin=k / len(ev.labels), xmax=(k + 1) / len(ev.labels),
                    color="tab:green", alpha=0.2, lw=0)
    if spec.n_out <= 20:
        out.set_yticks(range(spec.n_out))
        out.tick_params(axis="y", labelsize=7)
    _mark_samples(axes, ev)
    fig.suptitle(f"{title}\nspikes during {len(ev.labels)} test samples of {T:g} ms, learning off "
                 f"(output: label neuron shaded)".strip(), fontsize=9)
    fig.savefig(path, dpi=120)
    plt.close(fig)


def traced_neurons(ev, name, n_traces):
    """The neurons of layer ``name`` whose potential `membrane` draws: in
    the output the label neurons of the samples, then the most active
    others; in a hidden layer neurons spread over the ranks of activity of
    those that fired (most active first), then silent ones."""
    s = ev.spikes[name]
    counts = np.bincount(s.i, minlength=s.n)
    by_activity = [int(j) for j in np.argsort(-counts, kind="stable")]
    if name == "output":
        first = list(dict.fromkeys(int(y) for y in ev.labels))
    else:
        active = by_activity[:int((counts > 0).sum())]
        ranks = np.unique(np.linspace(0, len(active) - 1, min(n_traces, len(active))).round().astype(int))
        first = [active[r] for r in ranks] if active else []
    chosen = list(dict.fromkeys(first + by_activity))
    return chosen[:n_traces]


def membrane(ev, spec, path, n_traces=3, title=""):
    """Membrane potential ``v`` (mV) of ``n_traces`` neurons of each hidden
    layer and of the output (`traced_neurons`), one panel per neuron, with
    the neuron's threshold ``v_th`` dashed and its spikes as ticks above it
    (``v`` is recorded before the reset, so in a spike's step it lies above
    ``v_th``)."""
    plt = _pyplot()
    from brian2 import mV

    rows = [(name, j) for name in membrane_layers(spec) if name in ev.states
            for j in traced_neurons(ev, name, n_traces)]
    fig, axes = plt.subplots(len(rows), 1, sharex=True, figsize=(8, 0.8 + 1.25 * len(rows)),
                             constrained_layout=True, squeeze=False)
    axes = axes[:, 0]
    for ax, (name, j) in zip(axes, rows):
        trace = ev.states[name]["v"]
        v = 1e3 * trace.values[j]
        v_th = float(spec.neuron_of(name).parameters["v_th"] / mV)
        s = ev.spikes[name]
        spikes = 1e3 * s.t[s.i == j]
        ax.plot(1e3 * trace.t, v, color="tab:blue", lw=0.8)
        ax.axhline(v_th, color="tab:red", ls="--", lw=0.8, label="v_th")
        low = min(float(v.min()), v_th - 1.0)
        height = 0.3 * (v_th - low)
        ax.vlines(spikes, v_th, v_th + height, color="k", lw=0.8, label="spike")
        ax.set_ylim(low - 0.05 * (v_th - low), v_th + 1.1 * height)
        ax.set_ylabel("v (mV)")
        ax.text(0.005, 0.96, f"{_layer_title(name)}, neuron {j}: {_spikes(len(spikes))}", transform=ax.transAxes,
                va="top", fontsize=7, bbox=dict(fc="white", ec="none", alpha=0.7, pad=1))
    axes[0].legend(loc="upper right", fontsize=7, ncol=2)
    _mark_samples(axes, ev)
    fig.suptitle(f"{title}\nmembrane potential during the test samples of the raster, learning off".strip(),
                 fontsize=9)
    fig.savefig(path, dpi=120)
    plt.close(fig)


def weight_histograms(run, spec, path, history=None):
    """One panel per projection: the distribution of its weights after each
    recorded epoch, coloured by epoch (``history``: `read_weight_history`);
    without a history, of the final weights only."""
    plt = _pyplot()
    import matplotlib

    n = len(run.weights)
    cols = min(n, 3)
    rows = -(-n // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(4.2 * cols + (1 if history else 0), 3.2 * rows),
                             constrained_layout=True, squeeze=False)
    if history is not None:
        epochs = history["epochs"]
        norm = matplotlib.colors.Normalize(vmin=epochs.min(), vmax=max(epochs.max(), epochs.min() + 1))
        cmap = matplotlib.colormaps["viridis"]
    for k, (ax, proj, W) in enumerate(zip(axes.flat, spec.projections, run.weights)):
        if history is not None:
            edges, counts = history["edges"][k], history["counts"][k]
            for e, c in zip(epochs, counts):
                ax.stairs(c, edges, color=cmap(norm(e)), lw=1.0)
            what = f"epochs {epochs.min()}-{epochs.max()}" if len(epochs) > 1 else f"epoch {epochs[0]}"
        else:
            big = float(np.abs(W).max()) or 1.0
            counts, edges = np.histogram(W, bins=bin_edges(1.05 * big))
            counts = counts[None]
            ax.stairs(counts[0], edges, color="tab:blue", lw=1.0)
            what = f"final weights only (epoch {run.epoch}; no {WEIGHT_HISTORY})"
        used = np.flatnonzero(counts.sum(axis=0))
        if used.size:
            ax.set_xlim(edges[max(used[0] - 1, 0)], edges[min(used[-1] + 2, len(edges) - 1)])
        ax.axvline(0, color="0.5", lw=0.5)
        ax.set_title(f"W{k + 1}: {_layer_title(proj.pre)} → {_layer_title(proj.post)} "
                     f"({W.shape[0]}x{W.shape[1]})\n{what}", fontsize=8)
        ax.set_xlabel(_weight_unit(spec, proj.post), fontsize=8)
        ax.tick_params(labelsize=7)
        ax.set_ylabel(f"weights per bin (width {edges[1] - edges[0]:.3g})", fontsize=8)
        ax.grid(alpha=0.3)
    for ax in list(axes.flat)[n:]:
        ax.set_visible(False)
    if history is not None:
        bar = fig.colorbar(matplotlib.cm.ScalarMappable(norm=norm, cmap=cmap), ax=axes, label="epoch")
        bar.ax.yaxis.set_major_locator(matplotlib.ticker.MaxNLocator(integer=True))
    fig.savefig(path, dpi=120)
    plt.close(fig)


def _no_image_input(spec):
    """Why `receptive_fields` cannot draw this network, or None."""
    side = int(round(np.sqrt(spec.n_in)))
    if side * side != spec.n_in:
        return f"the {spec.n_in} inputs are no square image"
    first = spec.projections[0]
    if first.pre != "input" or not first.post.startswith("hidden"):
        return f"the first projection goes from {first.pre} to {first.post}, not from the input to a hidden layer"
    return None


def receptive_fields(W, spec, path, n_fields=16):
    """The input weights of the ``n_fields`` neurons of the first hidden
    projection with the largest weight norm, each as an image of the input
    (side x side pixels), on a colour scale symmetric around 0."""
    plt = _pyplot()
    side = int(round(np.sqrt(spec.n_in)))
    post = spec.projections[0].post
    chosen = np.argsort(-np.linalg.norm(W, axis=0), kind="stable")[:n_fields]
    cols = int(np.ceil(np.sqrt(len(chosen))))
    rows = -(-len(chosen) // cols)
    a = float(np.abs(W[:, chosen]).max()) or 1.0
    fig, axes = plt.subplots(rows, cols, figsize=(1.6 * cols + 1.2, 1.7 * rows + 0.6), constrained_layout=True,
                             squeeze=False)
    for ax, j in zip(axes.flat, chosen):
        im = ax.imshow(W[:, j].reshape(side, side), cmap="RdBu_r", vmin=-a, vmax=a, interpolation="nearest")
        ax.set_title(f"neuron {j}", fontsize=7)
        ax.set_xticks([])
        ax.set_yticks([])
    for ax in list(axes.flat)[len(chosen):]:
        ax.set_visible(False)
    fig.colorbar(im, ax=axes, label=_weight_unit(spec, post), shrink=0.8)
    fig.suptitle(f"input weights of the {len(chosen)} {_layer_title(post)} neurons with the largest weight norm "
                 f"({side}x{side} pixels)", fontsize=8)
    fig.savefig(path, dpi=120)
    plt.close(fig)


def confusion(counts, labels, n_classes, epoch, path):
    """The confusion matrix of the test set (`confusion_matrix`), numbers in
    the cells, its accuracy in the title; returns that accuracy."""
    plt = _pyplot()
    C = confusion_matrix(counts, labels, n_classes)
    acc = float(np.trace(C[:, :n_classes]) / max(C.sum(), 1))
    fig, ax = plt.subplots(figsize=(1.5 + 0.45 * (n_classes + 1), 1.2 + 0.45 * n_classes), constrained_layout=True)
    im = ax.imshow(C, cmap="Blues")
    if n_classes <= 20:
        for (i, j), c in np.ndenumerate(C):
            if c:
                ax.text(j, i, str(c), ha="center", va="center", fontsize=7,
                        color="white" if c > 0.6 * C.max() else "black")
    ax.set_xticks(range(n_classes + 1), [*map(str, range(n_classes)), "none"], fontsize=7)
    ax.set_yticks(range(n_classes), range(n_classes), fontsize=7)
    ax.set_xlabel("predicted label (none: no output spike)")
    ax.set_ylabel("true label")
    fig.colorbar(im, ax=ax, label="test samples")
    ax.set_title(f"test set, epoch {epoch}: accuracy {acc:.3f} ({int(np.trace(C[:, :n_classes]))}/{C.sum()})",
                 fontsize=9)
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return acc
