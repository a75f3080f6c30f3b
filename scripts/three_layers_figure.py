"""The figure of the README's three-layer follow-up, from the folders of two sweeps.

    brianrules sweep models/sweeps/three_layers_long.toml --out runs/three_layers_long --jobs 2
    brianrules sweep models/sweeps/three_layers_slow_decay.toml --out runs/three_layers_slow_decay --jobs 2
    python scripts/three_layers_figure.py runs/three_layers_long runs/three_layers_slow_decay docs/three_layers.png

Left: test accuracy per epoch at lr_scale 1, mean over seeds, for the default decay (solid) and the
slower one (dashed).  Middle: each hidden layer's rate at the end of the long runs (scale 1).
Right: each projection's relative weight change per epoch (scale 1, default decay, log scale).
"""

import argparse
import csv
import json
import os
from collections import defaultdict

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402


def runs(folder, scale=1.0):
    """variant -> list of metrics rows (one list per seed) at ``lr_scale`` ``scale``."""
    out = defaultdict(list)
    for pid in sorted(os.listdir(os.path.join(folder, "points"))):
        point = os.path.join(folder, "points", pid)
        with open(os.path.join(point, "point.json")) as f:
            axes = json.load(f)["axes"]
        path = os.path.join(point, "run", "metrics.csv")
        if float(axes.get("lr_scale", 1.0)) != scale or not os.path.exists(path):
            continue
        with open(path) as f:
            out[axes["variant"]].append([{k: float(v) for k, v in r.items()} for r in csv.DictReader(f)])
    if not out:
        raise SystemExit(f"{folder}: no finished points at lr_scale {scale}")
    return out


def mean_curve(seeds, column):
    n = min(len(rows) for rows in seeds)
    return np.arange(1, n + 1), np.mean([[r[column] for r in rows[:n]] for rows in seeds], axis=0)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("long_dir")
    p.add_argument("slow_decay_dir")
    p.add_argument("out")
    a = p.parse_args(argv)
    long, slow = runs(a.long_dir), runs(a.slow_decay_dir)
    variants = sorted(long)
    colors = {v: f"C{k}" for k, v in enumerate(variants)}
    fig, axes = plt.subplots(1, 3, figsize=(14, 4), constrained_layout=True)
    ax = axes[0]
    for v in variants:
        e, acc = mean_curve(long[v], "test_acc")
        ax.plot(e, 100 * acc, "-", color=colors[v], label=f"{v}, decay 0.7")
        if v in slow:
            e, acc = mean_curve(slow[v], "test_acc")
            ax.plot(e, 100 * acc, "--", color=colors[v], label=f"{v}, decay 0.9")
    ax.set(xlabel="epoch", ylabel="test accuracy (%), mean of 3 seeds", ylim=(0, 100),
           title="3 hidden layers of 100, lr_scale 1")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
    ax = axes[1]
    width = 0.8 / len(variants)
    for k, v in enumerate(variants):
        last = [rows[-1] for rows in long[v]]
        rates = [np.mean([r[f"rate_hz_h{layer}"] for r in last]) for layer in (1, 2, 3)]
        ax.bar(np.arange(3) + k * width, rates, width, color=colors[v], label=v)
    ax.set_xticks(np.arange(3) + width * (len(variants) - 1) / 2, ["hidden 1", "hidden 2", "hidden 3"])
    ax.set(ylabel="mean rate (Hz) at epoch 24", title="no layer falls quiet (decay 0.7)")
    ax.grid(alpha=0.3, axis="y")
    ax.legend(fontsize=7)
    ax = axes[2]
    styles = {1: "-", 2: "--", 3: "-.", 4: ":"}
    for v in variants:
        for proj in (1, 4):
            e, dw = mean_curve(long[v], f"dw_rel_{proj}")
            ax.plot(e, dw, styles[proj], color=colors[v], label=f"{v}, W{proj}")
    ax.set(xlabel="epoch", ylabel="|dW| / |W| in the epoch", yscale="log",
           title="W1 (input to hidden 1) and W4 (to the output)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
    fig.savefig(a.out, dpi=110)
    print(f"wrote {a.out}")


if __name__ == "__main__":
    main()
