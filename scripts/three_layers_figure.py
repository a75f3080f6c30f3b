"""The figure of the README's three-layer follow-up, from the folders of two sweeps.

    brianrules sweep models/sweeps/three_layers_long.toml --out runs/three_layers_long --jobs 2
    brianrules sweep models/sweeps/three_layers_slow_decay.toml --out runs/three_layers_slow_decay --jobs 2
    python scripts/three_layers_figure.py runs/three_layers_long runs/three_layers_slow_decay docs/three_layers.png

Left: test accuracy per epoch at lr_scale 1, mean over seeds, for the default decay (solid) and the
slower one (dashed).  Middle: each hidden layer's rate at the end of the long runs (scale 1).
Right: each projection's relative weight change per epoch (scale 1, default decay, log scale).
"""

import argparse
from collections import defaultdict

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from brianrules.study import load  # noqa: E402


def curves(folder, metric, scale=1.0):
    """variant -> per-seed curves of ``metric`` (one value per epoch) of the
    finished points at ``lr_scale`` ``scale``, read through `study.load`."""
    outcomes, _ = load(folder, metric)
    out = defaultdict(list)
    for o in outcomes:
        if float(o.axes.get("lr_scale", 1.0)) == scale and o.curve:
            out[o.axes["variant"]].append([value for _, value in o.curve])
    if not out:
        raise SystemExit(f"{folder}: no finished points at lr_scale {scale}")
    return out


def mean_curve(seeds):
    n = min(len(c) for c in seeds)
    return np.arange(1, n + 1), np.mean([c[:n] for c in seeds], axis=0)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("long_dir")
    p.add_argument("slow_decay_dir")
    p.add_argument("out")
    a = p.parse_args(argv)
    long_acc, slow_acc = curves(a.long_dir, "test_acc"), curves(a.slow_decay_dir, "test_acc")
    variants = sorted(long_acc)
    colors = {v: f"C{k}" for k, v in enumerate(variants)}
    fig, axes = plt.subplots(1, 3, figsize=(14, 4), constrained_layout=True)
    ax = axes[0]
    for v in variants:
        e, acc = mean_curve(long_acc[v])
        ax.plot(e, 100 * acc, "-", color=colors[v], label=f"{v}, decay 0.7")
        if v in slow_acc:
            e, acc = mean_curve(slow_acc[v])
            ax.plot(e, 100 * acc, "--", color=colors[v], label=f"{v}, decay 0.9")
    ax.set(xlabel="epoch", ylabel="test accuracy (%), mean of 3 seeds", ylim=(0, 100),
           title="3 hidden layers of 100, lr_scale 1")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
    ax = axes[1]
    width = 0.8 / len(variants)
    final = {layer: curves(a.long_dir, f"rate_hz_h{layer}") for layer in (1, 2, 3)}
    for k, v in enumerate(variants):
        rates = [np.mean([c[-1] for c in final[layer][v]]) for layer in (1, 2, 3)]
        ax.bar(np.arange(3) + k * width, rates, width, color=colors[v], label=v)
    ax.set_xticks(np.arange(3) + width * (len(variants) - 1) / 2, ["hidden 1", "hidden 2", "hidden 3"])
    ax.set(ylabel="mean rate (Hz) at epoch 24", title="no layer falls quiet (decay 0.7)")
    ax.grid(alpha=0.3, axis="y")
    ax.legend(fontsize=7)
    ax = axes[2]
    styles = {1: "-", 2: "--", 3: "-.", 4: ":"}
    changes = {proj: curves(a.long_dir, f"dw_rel_{proj}") for proj in (1, 4)}
    for v in variants:
        for proj in (1, 4):
            e, dw = mean_curve(changes[proj][v])
            ax.plot(e, dw, styles[proj], color=colors[v], label=f"{v}, W{proj}")
    ax.set(xlabel="epoch", ylabel="|dW| / |W| in the epoch", yscale="log",
           title="W1 (input to hidden 1) and W4 (to the output)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
    fig.savefig(a.out, dpi=110)
    print(f"wrote {a.out}")


if __name__ == "__main__":
    main()
