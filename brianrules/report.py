"""Tables and figures of a sweep's ``results.csv`` (`brianrules plot DIR`).

Each point's outcome is its last epoch.  A point is

- ``diverged``: training stopped because weights became NaN or exceeded the
  bound (`training.TrainingError`);
- ``collapsed``: it finished, but its final test accuracy lies within 5
  points of chance (1 / number of classes);
- ``stable``: it finished above that;
- ``failed`` / ``pending``: it did not run to the end for another reason.

Seeds are replicates: tables give the mean and standard deviation over the
``seed`` axis; every other axis is a condition.
"""

import csv
import json
import math
import os
from dataclasses import dataclass

import numpy as np

from .plots import plt

COLLAPSE_MARGIN = 0.05
LR_AXES = ("lr_scale", "lr_hidden", "lr")


@dataclass
class Outcome:
    point: str
    axes: dict
    status: str  # stable, collapsed, diverged, failed, pending
    final: float  # final value of the metric (NaN if none)
    curve: list  # (epoch, metric) pairs


def _num(text):
    try:
        return float(text)
    except (TypeError, ValueError):
        return math.nan


def _sort_key(value):
    f = _num(value)
    return (0, f, "") if math.isfinite(f) else (1, 0.0, str(value))


def load(folder, metric="test_acc"):
    """Outcomes of every point of the sweep in ``folder``, and the axis names."""
    path = os.path.join(folder, "results.csv")
    if not os.path.isfile(path):
        raise ValueError(f"{folder} holds no results.csv (run `brianrules sweep SPEC --out {folder}` first)")
    with open(path) as f:
        rows = list(csv.DictReader(f))
    if not rows:
        raise ValueError(f"{path} holds no points")
    if metric not in rows[0]:
        raise ValueError(f"unknown metric '{metric}' (choose from train_acc, test_acc, hidden_rate_hz, "
                         "output_rate_hz, max_abs_w, samples_per_s)")
    axes = [c[len("axis_"):] for c in rows[0] if c.startswith("axis_")]
    by_point = {}
    for r in rows:
        by_point.setdefault(r["point"], []).append(r)
    outcomes = []
    for pid, prs in by_point.items():
        curve = sorted((int(r["epoch"]), _num(r[metric])) for r in prs if r["epoch"] not in ("", None))
        status = prs[0]["status"]
        final = curve[-1][1] if curve else math.nan
        if status == "done":
            last = max(prs, key=lambda r: int(r["epoch"] or 0))
            chance = 1.0 / _n_classes(folder, pid)
            status = "stable" if _num(last["test_acc"]) > chance + COLLAPSE_MARGIN else "collapsed"
        outcomes.append(Outcome(pid, {a: prs[0][f"axis_{a}"] for a in axes}, status, final, curve))
    return outcomes, axes


def _n_classes(folder, pid):
    try:
        with open(os.path.join(folder, "points", pid, "run", "config.json")) as f:
            return int(json.load(f)["network"]["n_out"])
    except (OSError, ValueError, KeyError):
        return 10


def _values(outcomes, axis):
    return sorted({o.axes[axis] for o in outcomes}, key=_sort_key)


def _mean_sd(xs):
    xs = [x for x in xs if math.isfinite(x)]
    if not xs:
        return math.nan, math.nan
    return float(np.mean(xs)), float(np.std(xs, ddof=1)) if len(xs) > 1 else 0.0


def _pct(x, metric):
    if not math.isfinite(x):
        return "–"
    return f"{100 * x:.1f}" if metric.endswith("_acc") else f"{x:.3g}"


def summary_table(outcomes, axes, metric="test_acc", seed_axis="seed"):
    """Markdown: one row per condition (all axes but the seed)."""
    conds = [a for a in axes if a != seed_axis]
    groups = {}
    for o in outcomes:
        groups.setdefault(tuple(o.axes[a] for a in conds), []).append(o)
    unit = " (%)" if metric.endswith("_acc") else ""
    head = [*conds, "runs", f"final {metric}{unit} mean ± sd", "min – max", "diverged", "collapsed"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for key in sorted(groups, key=lambda k: [_sort_key(v) for v in k]):
        g = groups[key]
        done = [o.final for o in g if o.status in ("stable", "collapsed")]
        m, sd = _mean_sd(done)
        finite = [x for x in done if math.isfinite(x)]
        rng = f"{_pct(min(finite), metric)} – {_pct(max(finite), metric)}" if finite else "–"
        ms = f"{_pct(m, metric)} ± {_pct(sd, metric)}" if math.isfinite(m) else "–"
        extra = sum(o.status in ("failed", "pending") for o in g)
        runs = f"{len(g)}" + (f" ({extra} failed/pending)" if extra else "")
        lines.append("| " + " | ".join([*key, runs, ms, rng, str(sum(o.status == "diverged" for o in g)),
                                         str(sum(o.status == "collapsed" for o in g))]) + " |")
    return "\n".join(lines)


def stability_table(outcomes, axes, axis, seed_axis="seed", metric="test_acc"):
    """Markdown: per condition without ``axis``, the share of unstable runs
    (diverged or collapsed), the largest value of ``axis`` at which every
    run is stable, and the value with the best mean final metric."""
    conds = [a for a in axes if a not in (seed_axis, axis)]
    groups = {}
    for o in outcomes:
        groups.setdefault(tuple(o.axes[a] for a in conds), []).append(o)
    head = [*conds, "unstable runs", f"largest stable {axis}", f"best {axis} (mean {metric})"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for key in sorted(groups, key=lambda k: [_sort_key(v) for v in k]):
        g = groups[key]
        ended = [o for o in g if o.status in ("stable", "collapsed", "diverged")]
        unstable = sum(o.status in ("diverged", "collapsed") for o in ended)
        stable_values, best, best_mean = [], "–", -math.inf
        for v in _values(g, axis):
            at = [o for o in g if o.axes[axis] == v]
            if at and all(o.status == "stable" for o in at):
                stable_values.append(v)
            m, _ = _mean_sd([o.final for o in at if o.status in ("stable", "collapsed")])
            if math.isfinite(m) and m > best_mean:
                best, best_mean = v, m
        largest = max(stable_values, key=_sort_key) if stable_values else "none"
        share = f"{unstable}/{len(ended)} ({100 * unstable / len(ended):.0f}%)" if ended else "–"
        lines.append("| " + " | ".join([*key, share, str(largest),
                                         f"{best} ({_pct(best_mean, metric)})" if best != "–" else "–"]) + " |")
    return "\n".join(lines)


# -- figures -------------------------------------------------------------
def plot_heatmap(outcomes, x, y, path, metric="test_acc"):
    xs, ys = _values(outcomes, x), _values(outcomes, y)
    grid = np.full((len(ys), len(xs)), np.nan)
    diverged = np.zeros_like(grid, dtype=bool)
    for i, vy in enumerate(ys):
        for j, vx in enumerate(xs):
            at = [o for o in outcomes if o.axes[x] == vx and o.axes[y] == vy]
            grid[i, j], _ = _mean_sd([o.final for o in at if o.status in ("stable", "collapsed")])
            diverged[i, j] = any(o.status == "diverged" for o in at)
    scale = 100 if metric.endswith("_acc") else 1
    fig, ax = plt.subplots(figsize=(1.2 + 0.9 * len(xs), 1.0 + 0.6 * len(ys)), constrained_layout=True)
    im = ax.imshow(scale * grid, cmap="viridis", aspect="auto", origin="lower",
                   vmin=0 if scale == 100 else None, vmax=100 if scale == 100 else None)
    for i in range(len(ys)):
        for j in range(len(xs)):
            text = "–" if not math.isfinite(grid[i, j]) else f"{scale * grid[i, j]:.0f}"
            if diverged[i, j]:
                text += "*"
            ax.text(j, i, text, ha="center", va="center", fontsize=8,
                    color="white" if not math.isfinite(grid[i, j]) or scale * grid[i, j] < 60 else "black")
    ax.set_xticks(range(len(xs)), xs, rotation=45 if len(xs) > 4 else 0)
    ax.set_yticks(range(len(ys)), ys)
    ax.set_xlabel(x)
    ax.set_ylabel(y)
    fig.colorbar(im, ax=ax, label=f"final {metric}" + (" (%)" if scale == 100 else ""))
    ax.set_title(f"mean over other axes; * some runs diverged", fontsize=8)
    fig.savefig(path, dpi=120)
    plt.close(fig)


def learning_curves(outcomes, axis, path, metric="test_acc"):
    scale = 100 if metric.endswith("_acc") else 1
    fig, ax = plt.subplots(figsize=(5.5, 3.8), constrained_layout=True)
    for v in _values(outcomes, axis):
        curves = [dict(o.curve) for o in outcomes if o.axes[axis] == v and o.curve]
        if not curves:
            continue
        epochs = sorted({e for c in curves for e in c})
        data = np.array([[c.get(e, np.nan) for e in epochs] for c in curves], dtype=float) * scale
        with np.errstate(all="ignore"):
            mean = np.nanmean(data, axis=0)
        line, = ax.plot(epochs, mean, "o-", ms=3, label=f"{axis} = {v} ({len(curves)} runs)")
        ax.fill_between(epochs, np.nanmin(data, axis=0), np.nanmax(data, axis=0), color=line.get_color(),
                        alpha=0.15, lw=0)
    ax.set_xlabel("epoch")
    ax.set_ylabel(metric + (" (%)" if scale == 100 else ""))
    if scale == 100:
        ax.set_ylim(0, 100)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, loc="lower right")
    ax.set_title(f"mean (line) and range (band) over the other axes", fontsize=8)
    fig.savefig(path, dpi=120)
    plt.close(fig)


def metric_vs_axis(outcomes, axes, x, lines_axis, path, metric="test_acc", seed_axis="seed"):
    """Final metric against ``x`` (e.g. the learning rate), one line per
    value of ``lines_axis``, one panel per value of a remaining axis."""
    rest = [a for a in axes if a not in (x, lines_axis, seed_axis)]
    panel_axis = rest[0] if rest else None
    panels = _values(outcomes, panel_axis) if panel_axis else [None]
    scale = 100 if metric.endswith("_acc") else 1
    fig, axs = plt.subplots(1, len(panels), figsize=(4.2 * len(panels), 3.6), sharey=True,
                            constrained_layout=True, squeeze=False)
    xs = _values(outcomes, x)
    xnum = [_num(v) for v in xs]
    numeric = all(math.isfinite(v) for v in xnum)
    logx = numeric and min(xnum) > 0 and max(xnum) / min(xnum) >= 10
    for ax, pv in zip(axs[0], panels):
        sub = [o for o in outcomes if panel_axis is None or o.axes[panel_axis] == pv]
        for lv in _values(sub, lines_axis):
            means, sds, pos, div = [], [], [], []
            for k, v in enumerate(xs):
                at = [o for o in sub if o.axes[lines_axis] == lv and o.axes[x] == v]
                if not at:
                    continue
                m, sd = _mean_sd([o.final for o in at if o.status in ("stable", "collapsed")])
                means.append(scale * m)
                sds.append(scale * sd)
                pos.append(xnum[k] if numeric else k)
                div.append(any(o.status == "diverged" for o in at))
            line = ax.errorbar(pos, means, yerr=sds, marker="o", ms=4, capsize=2, label=str(lv))
            color = line[0].get_color()
            for p, m, d in zip(pos, means, div):
                if d:
                    ax.plot([p], [m if math.isfinite(m) else 0], "x", color=color, ms=9, mew=2)
        if logx:
            ax.set_xscale("log")
        if not numeric:
            ax.set_xticks(range(len(xs)), xs)
        ax.set_xlabel(x)
        ax.grid(alpha=0.3)
        if panel_axis:
            ax.set_title(f"{panel_axis} = {pv}", fontsize=9)
    axs[0][0].set_ylabel(f"final {metric}" + (" (%)" if scale == 100 else ""))
    if scale == 100:
        axs[0][0].set_ylim(0, 100)
    axs[0][-1].legend(title=lines_axis, fontsize=7, title_fontsize=8, loc="lower left")
    fig.suptitle("mean ± sd over seeds; x: some runs diverged", fontsize=8)
    fig.savefig(path, dpi=120)
    plt.close(fig)


def report(folder, metric="test_acc", heatmap=None, curves=None, stability=None):
    """Write ``summary.md`` and figures into ``folder/plots``; returns the paths.

    ``heatmap``: two axes (default: the first two varied ones but the seed);
    ``curves``: the axis that groups learning curves; ``stability``: the axis
    along which stability is reported (default: a learning-rate axis)."""
    heatmap_axes = heatmap
    outcomes, axes = load(folder, metric)
    varied = [a for a in axes if len(_values(outcomes, a)) > 1]
    for name in [*(heatmap_axes or []), curves, stability]:
        if name is not None and name not in axes:
            raise ValueError(f"unknown axis '{name}' (the sweep's axes: {', '.join(axes) or 'none'})")
    if stability is None:
        stability = next((a for a in LR_AXES if a in varied), None)
    out = os.path.join(folder, "plots")
    os.makedirs(out, exist_ok=True)
    written = []
    conds = [a for a in varied if a != "seed"]
    if heatmap_axes is None and len(conds) >= 2:
        heatmap_axes = conds[:2]
    if heatmap_axes:
        x, y = heatmap_axes
        path = os.path.join(out, f"heatmap_{metric}_{x}_{y}.png")
        plot_heatmap(outcomes, x, y, path, metric)
        written.append(path)
    curves = curves or (conds[0] if conds else (axes[0] if axes else None))
    if curves:
        path = os.path.join(out, f"curves_{metric}_by_{curves}.png")
        learning_curves(outcomes, curves, path, metric)
        written.append(path)
    if stability and curves and stability != curves:
        path = os.path.join(out, f"{metric}_vs_{stability}.png")
        metric_vs_axis(outcomes, axes, stability, curves, path, metric)
        written.append(path)
    counts = {s: sum(o.status == s for o in outcomes) for s in ("stable", "collapsed", "diverged", "failed", "pending")}
    text = [f"# Sweep summary: {os.path.basename(os.path.abspath(folder))}", "",
            f"{len(outcomes)} points: " + ", ".join(f"{v} {k}" for k, v in counts.items() if v) + ".",
            f"Final = last epoch. Collapsed: final test accuracy within {100 * COLLAPSE_MARGIN:.0f} points "
            "of chance. Mean ± sd over seeds of the runs that finished.", "",
            summary_table(outcomes, axes, metric)]
    if stability:
        text += ["", f"## Stability along {stability}", "",
                 f"Unstable: diverged or collapsed. Largest stable {stability}: the largest value at which "
                 "every run (every seed) finished above chance.", "",
                 stability_table(outcomes, axes, stability, metric=metric)]
    text += ["", "Figures: " + ", ".join(os.path.relpath(p, folder) for p in written), ""]
    path = os.path.join(folder, "summary.md")
    with open(path + ".tmp", "w") as f:
        f.write("\n".join(text))
    os.replace(path + ".tmp", path)
    return [path, *written]
