"""The figure of the README's biophysics study, from the sweep's folder.

    brianrules sweep models/sweeps/biophysics.toml --out runs/biophysics --jobs 2
    python scripts/biophysics_figure.py runs/biophysics docs/biophysics.png

Left: final test accuracy of each variant (one parameter changed from the
model file's values), per rule, mean over seeds with each seed as a dot.
Right: the hidden layer's mean rate in the last epoch, the same way.
"""

import argparse
from collections import defaultdict

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from brianrules.study import load  # noqa: E402


def finals(folder, metric):
    """(rule, variant) -> final ``metric`` of each seed's finished point."""
    outcomes, _ = load(folder, metric)
    out = defaultdict(list)
    for o in outcomes:
        if o.curve:
            out[(o.axes["rule"], o.axes["variant"])].append(o.curve[-1][1])
    return out


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("folder")
    p.add_argument("out")
    a = p.parse_args(argv)
    acc, rate = finals(a.folder, "test_acc"), finals(a.folder, "hidden_rate_hz")
    rules = sorted({r for r, _ in acc})
    variants = list(dict.fromkeys(v for _, v in sorted(acc, key=lambda k: k[1] != "base")))
    fig, axes = plt.subplots(1, 2, figsize=(11, 0.42 * len(variants) + 1.5), sharey=True)
    y = np.arange(len(variants))
    for ax, data, label in ((axes[0], acc, "final test accuracy (%)"), (axes[1], rate, "hidden rate, last epoch (Hz)")):
        for k, rule in enumerate(rules):
            offset = (k - (len(rules) - 1) / 2) * 0.25
            scale = 100.0 if data is acc else 1.0
            means = [scale * np.mean(data[(rule, v)]) for v in variants]
            ax.barh(y + offset, means, height=0.25, label=rule, alpha=0.7)
            for i, v in enumerate(variants):
                ax.plot([scale * x for x in data[(rule, v)]], [y[i] + offset] * len(data[(rule, v)]), "k.", ms=3)
        ax.set_xlabel(label)
        ax.grid(axis="x", alpha=0.3)
    axes[0].set_xlim(85, 95)
    axes[0].set_yticks(y, variants)
    axes[0].invert_yaxis()
    axes[1].legend(loc="lower right")
    fig.suptitle("ALIF network on digits (models/alif_digits.toml), one parameter changed at a time, 6 epochs")
    fig.tight_layout()
    fig.savefig(a.out, dpi=110)
    print(f"wrote {a.out}")


if __name__ == "__main__":
    main()
