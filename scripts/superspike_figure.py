"""The van Rossum distance of several `brianrules superspike` runs over training, and their learned rasters.

    python scripts/superspike_figure.py runs/superspike_sym runs/superspike_rfb runs/superspike_fixed \
        --out docs/superspike_distance.png --rasters docs/superspike_raster.png

Each run is labelled by its feedback (config.json); the distance is shown
as a fraction of the silent output's (the target's own error).  The
raster figure shows the target, then the output's last loop of the raster
at the end of every run.
"""

import argparse
import csv
import json
import os
import sys

import numpy as np


def label(cfg):
    if not cfg.get("learn_hidden", True):
        return f"{cfg['feedback']} feedback, hidden weights fixed"
    return f"{cfg['feedback']} feedback" if cfg.get("n_hidden", 1) else "no hidden layer"


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("runs", nargs="+", help="folders of brianrules superspike runs")
    p.add_argument("--out", required=True, help="the distance figure's file")
    p.add_argument("--rasters", default=None, help="the raster figure's file")
    a = p.parse_args(argv)
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    data = []
    for run in a.runs:
        if not os.path.exists(os.path.join(run, "metrics.csv")):
            print(f"error: {run} holds no metrics.csv", file=sys.stderr)
            return 2
        with open(os.path.join(run, "config.json")) as f:
            cfg = json.load(f)
        with open(os.path.join(run, "metrics.csv")) as f:
            rows = list(csv.DictReader(f))
        data.append((run, cfg, rows))
    fig, ax = plt.subplots(figsize=(5.5, 3.4))
    for run, cfg, rows in data:
        silent = cfg["silent_distance"]
        ax.plot([0] + [float(r["trained_s"]) for r in rows], [1.0] + [float(r["distance"]) / silent for r in rows],
                ".-", lw=1, ms=3, label=label(cfg))
    ax.set_xlabel("training time (s)")
    ax.set_ylabel("van Rossum distance / silent output's")
    ax.set_yscale("log")
    ax.legend(fontsize=8)
    ax.set_title("SuperSpike on a target raster (first point: before learning)", fontsize=9)
    fig.tight_layout()
    fig.savefig(a.out, dpi=110)
    plt.close(fig)
    print(f"wrote {a.out}")
    if a.rasters:
        fig, axes = plt.subplots(1, len(data) + 1, figsize=(3.0 * (len(data) + 1), 3.4), sharey=True)
        run, cfg, rows = data[0]
        dt = cfg["dt"] * 1e-3
        with np.load(os.path.join(run, "rasters.npz")) as z:
            steps, idx = np.nonzero(z["target"])
            duration = z["target"].shape[0] * dt
        axes[0].plot(steps * dt, idx, "k.", ms=0.6)
        axes[0].set_title("target", fontsize=9)
        for ax, (run, cfg, rows) in zip(axes[1:], data):
            with np.load(os.path.join(run, "rasters.npz")) as z:
                spikes = z[f"block_{rows[-1]['iteration']}"]
            ax.plot(spikes[:, 0] * dt, spikes[:, 1], "k.", ms=0.6)
            ax.set_title(f"{label(cfg)}\nafter {float(rows[-1]['trained_s']):g} s", fontsize=8)
        for ax in axes:
            ax.set_xlim(0, duration)
            ax.set_ylim(cfg["n_out"], -1)
            ax.set_xlabel("time (s)")
        axes[0].set_ylabel("output neuron")
        fig.tight_layout()
        fig.savefig(a.rasters, dpi=110)
        plt.close(fig)
        print(f"wrote {a.rasters}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
