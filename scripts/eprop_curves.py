"""Loss curves of several `brianrules eprop` runs in one figure.

    python scripts/eprop_curves.py runs/eprop_sine runs/eprop_sine_sym runs/eprop_sine_bptt \
        --out docs/eprop_sine_curves.png

Each run is labelled by its gradient and feedback (config.json); with a
test error in metrics.csv (classification tasks) a second panel shows it.
"""

import argparse
import csv
import json
import os
import sys


def label(run):
    with open(os.path.join(run, "config.json")) as f:
        cfg = json.load(f)
    if cfg.get("gradient") == "bptt":
        return "BPTT (surrogate gradient)"
    return f"e-prop, {cfg.get('feedback', 'random')} feedback"


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("runs", nargs="+", help="folders of brianrules eprop runs")
    p.add_argument("--out", required=True, help="the figure's file")
    p.add_argument("--title", default=None)
    a = p.parse_args(argv)
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    data = []
    for run in a.runs:
        path = os.path.join(run, "metrics.csv")
        if not os.path.exists(path):
            print(f"error: {run} holds no metrics.csv", file=sys.stderr)
            return 2
        with open(path) as f:
            rows = list(csv.DictReader(f))
        data.append((label(run), rows))
    errors = any(r["test_error"] not in ("nan", "") for _, rows in data for r in rows)
    fig, axes = plt.subplots(1, 2 if errors else 1, figsize=(10 if errors else 5.5, 3.4), squeeze=False)
    for name, rows in data:
        axes[0, 0].semilogy([int(r["iteration"]) for r in rows], [float(r["loss"]) for r in rows], lw=1, label=name)
        if errors:
            ev = [r for r in rows if r["test_error"] not in ("nan", "")]
            axes[0, 1].plot([int(r["iteration"]) for r in ev], [float(r["test_error"]) for r in ev], ".-", label=name)
    axes[0, 0].set_xlabel("iteration")
    axes[0, 0].set_ylabel("training loss")
    axes[0, 0].legend(fontsize=8)
    if errors:
        axes[0, 1].set_xlabel("iteration")
        axes[0, 1].set_ylabel("test error")
        axes[0, 1].set_ylim(0, 0.6)
        axes[0, 1].axhline(0.07, color="grey", lw=0.8, ls=":")
        axes[0, 1].legend(fontsize=8)
    if a.title:
        fig.suptitle(a.title, fontsize=9)
    fig.tight_layout()
    fig.savefig(a.out, dpi=110)
    print(f"wrote {a.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
