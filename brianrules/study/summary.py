"""A sweep's report (``brianrules plot DIR``): ``summary.md`` and the figures,
from ``results.csv``."""

import os

from ..metrics import COLLAPSE_COLUMN
from ..plots import axis_values, sweep_curves, sweep_final_vs_axis, sweep_heatmap, sweep_metric_vs_axis
from .results import COLLAPSE_MARGIN, NEAR_CHANCE, _chance, load, point_seconds
from .tables import KEEP_MARGIN, pct, collapsed_table, pivot_table, seeds_table, stability_table, summary_table


#: axes along which stability is reported by default, in order of preference
LR_AXES = ("lr_scale", "lr_hidden", "lr")


def training_time(folder, outcomes, seed_axis="seed"):
    """One sentence: the points' training time added up (`point_seconds`),
    and per seed where the sweep varies one."""
    times = point_seconds(folder)
    if not times:
        return "Training time: no point has ended an epoch yet."
    text = (f"Training time: {_hours(sum(times.values()))} over the epochs of {len(times)} points (each "
            "epoch's wall time from metrics.csv, added up: stretched by whatever ran beside it, builds not "
            "counted)")
    seeds = axis_values(outcomes, seed_axis) if outcomes and seed_axis in outcomes[0].axes else []
    if len(seeds) > 1:
        per = []
        for s in seeds:
            ts = [times[o.point] for o in outcomes if o.axes[seed_axis] == s and o.point in times]
            per.append(f"{seed_axis} {s}: {_hours(sum(ts))} ({len(ts)} points)")
        text += "; " + ", ".join(per)
    return text + "."


def _hours(seconds):
    return f"{seconds / 3600:.1f} h" if seconds >= 3600 else f"{seconds / 60:.0f} min"


# -- figures -------------------------------------------------------------
def report(folder, metric="test_acc", heatmap=None, curves=None, stability=None):
    """Write ``summary.md`` and figures into ``folder/plots``; returns the paths.

    ``heatmap``: two axes (default: the first two varied ones but the seed);
    ``curves``: the axis that groups learning curves; ``stability``: the axis
    along which stability is reported (default: a learning-rate axis).  A
    sweep that varies one axis besides the seed also gets the final metric
    against that axis (`plots.sweep_final_vs_axis`)."""
    heatmap_axes = heatmap
    outcomes, axes = load(folder, metric)
    varied = [a for a in axes if len(axis_values(outcomes, a)) > 1]
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
        sweep_heatmap(outcomes, x, y, path, metric)
        written.append(path)
    curves = curves or (conds[0] if conds else (axes[0] if axes else None))
    if curves:
        path = os.path.join(out, f"curves_{metric}_by_{curves}.png")
        panels = next((a for a in conds if a != curves), None)  # e.g. the depth, beside lines of rules
        sweep_curves(outcomes, curves, path, metric, panel_axis=panels)
        written.append(path)
    if len(conds) == 1:  # one axis: the final metric against it
        path = os.path.join(out, f"{metric}_vs_{conds[0]}.png")
        sweep_final_vs_axis(outcomes, conds[0], path, metric, chance=_chance(folder, outcomes))
        written.append(path)
    if stability and curves and stability != curves:
        path = os.path.join(out, f"{metric}_vs_{stability}.png")
        if path not in written:
            sweep_metric_vs_axis(outcomes, axes, stability, curves, path, metric)
            written.append(path)
    counts = {s: sum(o.status == s for o in outcomes) for s in ("stable", "collapsed", "diverged", "failed", "pending")}
    text = [f"# Sweep summary: {os.path.basename(os.path.abspath(folder))}", "",
            f"{len(outcomes)} points: " + ", ".join(f"{v} {k}" for k, v in counts.items() if v) + ".",
            f"Final = last epoch. Collapsed: the training diagnosed its last epoch as collapsed (metrics.csv, "
            f"column `{COLLAPSE_COLUMN}`), or its final test accuracy lies within {100 * COLLAPSE_MARGIN:.0f} "
            "points of chance. Mean ± sd over seeds of the stable runs; collapsed and diverged runs are counted, "
            "not averaged in.", "",
            summary_table(outcomes, axes, metric), "", training_time(folder, outcomes)]
    if stability:
        text += ["", f"## Final {metric} against {stability}", "",
                 "Mean ± sd over seeds of the stable runs; (kD kC of n): runs that diverged or "
                 "collapsed.", "", pivot_table(outcomes, axes, stability, metric=metric)]
        if "seed" in varied and stability != "seed":
            text += ["", f"## Final {metric} against {stability}, each seed", "",
                     "The mean over the stable runs, then each seed's final value; C: collapsed, D: diverged "
                     "(neither is in the mean).", "", seeds_table(outcomes, axes, stability, metric=metric)]
        text += ["", f"## Stability along {stability}", "",
                 f"Unstable: diverged or collapsed. Largest stable {stability}: the largest value at which "
                 "every run (every seed) finished stable (neither diverged nor collapsed); within "
                 f"{pct(KEEP_MARGIN, metric)} of the best: the largest of those whose mean final {metric} lies "
                 "at most that far below the best value's.", "",
                 stability_table(outcomes, axes, stability, metric=metric)]
    collapsed = collapsed_table(outcomes, axes, metric)
    if collapsed:
        text += ["", "## Collapsed runs", "",
                 f"What collapsed in each run's last epoch ({NEAR_CHANCE}: no condition named by the training, "
                 f"final test accuracy within {100 * COLLAPSE_MARGIN:.0f} points of chance).", "", collapsed]
    text += ["", "Figures: " + ", ".join(os.path.relpath(p, folder) for p in written), ""]
    path = os.path.join(folder, "summary.md")
    with open(path + ".tmp", "w") as f:
        f.write("\n".join(text))
    os.replace(path + ".tmp", path)
    return [path, *written]
