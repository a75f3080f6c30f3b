"""Results of a sweep: each point's status, ``results.csv`` (one row per point
and epoch), and the outcome of each point read back from it."""

import csv
import json
import math
import os
from dataclasses import dataclass, fields

from ..files import atomic_write
from ..metrics import COLLAPSE_COLUMN, METRIC_COLUMNS, columns_of, layer_columns_in
from ..plots import as_number
from ..training import TrainConfig


ENDED = ("done", "diverged", "failed")


def read_status(point_dir):
    try:
        with open(os.path.join(point_dir, "status.json")) as f:
            return json.load(f)
    except (OSError, ValueError):
        return None


# -- results -------------------------------------------------------------
CONFIG_COLUMNS = [f.name for f in fields(TrainConfig)]


def collect(out, points):
    """Rows of ``results.csv``: one per point and epoch (one row without
    metrics for a point that has none)."""
    axis_names = list(dict.fromkeys(k for p in points for k in p.axes))
    rows, metric_rows = [], []
    for p in points:
        folder = os.path.join(out, "points", p.id)
        status = read_status(folder) or {"status": "pending", "error": None}
        common = {"point": p.id, "status": status["status"], "error": status.get("error") or ""}
        common.update({f"axis_{k}": p.axes.get(k, "") for k in axis_names})
        common.update({k: json.dumps(v) if isinstance(v, (list, dict)) else ("" if v is None else v)
                       for k, v in p.settings.items()})
        metrics = []
        path = os.path.join(folder, "run", "metrics.csv")
        if os.path.exists(path):
            with open(path) as f:
                metrics = list(csv.DictReader(f))
        if not metrics:
            rows.append({**common, **{k: "" for k in METRIC_COLUMNS}})
        for m in metrics:
            rows.append({**common, **m})
        metric_rows.extend(metrics)
    # per-layer columns (metrics.layer_columns) are blank for points with fewer layers
    columns = ["point", "status", "error", *[f"axis_{k}" for k in axis_names], *CONFIG_COLUMNS,
               *columns_of(metric_rows)]
    return columns, rows


def write_results(out, points):
    columns, rows = collect(out, points)

    def w(tmp):
        with open(tmp, "w", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=columns, restval="")
            writer.writeheader()
            writer.writerows(rows)

    atomic_write(os.path.join(out, "results.csv"), w)
    return rows


#: a finished point whose final test accuracy lies within this of chance has collapsed
COLLAPSE_MARGIN = 0.05
#: the study's own label of a point collapsed by `COLLAPSE_MARGIN` alone
NEAR_CHANCE = "near_chance"


# -- reports: tables and figures of results.csv (`brianrules plot DIR`) --
@dataclass
class Outcome:
    point: str
    axes: dict
    status: str  # stable, collapsed, diverged, failed, pending
    final: float  # final value of the metric (NaN if none)
    curve: list  # (epoch, metric) pairs
    #: why a collapsed point collapsed: the final epoch's ``collapse`` labels
    #: ("silent_output+saturated_hidden_1"), or `NEAR_CHANCE`; "" otherwise
    collapse: str = ""


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
                         "output_rate_hz, max_abs_w, samples_per_s, or a per-layer column: "
                         f"{', '.join(sum(layer_columns_in(rows[0]), [])) or 'none here'})")
    if metric == COLLAPSE_COLUMN:
        raise ValueError(f"'{COLLAPSE_COLUMN}' holds the labels of collapsed epochs, not a number; "
                         "summary.md counts and lists the collapsed runs")
    axes = [c[len("axis_"):] for c in rows[0] if c.startswith("axis_")]
    by_point = {}
    for r in rows:
        by_point.setdefault(r["point"], []).append(r)
    outcomes = []
    for pid, prs in by_point.items():
        curve = sorted((int(r["epoch"]), as_number(r[metric])) for r in prs if r["epoch"] not in ("", None))
        status = prs[0]["status"]
        final = curve[-1][1] if curve else math.nan
        why = ""
        if status == "done":
            status, why = _final_state(max(prs, key=lambda r: int(r["epoch"] or 0)), _n_classes(folder, pid))
        outcomes.append(Outcome(pid, {a: prs[0][f"axis_{a}"] for a in axes}, status, final, curve, why))
    return outcomes, axes


def point_seconds(folder):
    """Each point's training time in seconds, by point id: the sum of its
    epochs' ``wall_s`` in ``results.csv`` (each from the point's
    ``metrics.csv``: what the epoch took from start to end, stretched by
    whatever ran beside it; a point resumed from its checkpoint counts every
    epoch once, and its build is not counted).  Points without epochs are
    left out."""
    times = {}
    with open(os.path.join(folder, "results.csv")) as f:
        for r in csv.DictReader(f):
            wall = as_number(r.get("wall_s"))
            if math.isfinite(wall):
                times[r["point"]] = times.get(r["point"], 0.0) + wall
    return times


def _final_state(last, n_classes):
    """(status, collapse) of a finished point from its last epoch's row: the
    training's own diagnosis (any non-empty ``collapse`` text) first, then
    the study's: a final test accuracy within `COLLAPSE_MARGIN` of chance."""
    labels = (last.get(COLLAPSE_COLUMN) or "").strip()
    if labels:
        return "collapsed", labels
    if not as_number(last["test_acc"]) > 1.0 / n_classes + COLLAPSE_MARGIN:
        return "collapsed", NEAR_CHANCE
    return "stable", ""


def _chance(folder, outcomes):
    """1 / number of classes, if every point has the same number; else None."""
    classes = {_n_classes(folder, o.point) for o in outcomes}
    return 1.0 / classes.pop() if len(classes) == 1 else None


def _n_classes(folder, pid):
    try:
        with open(os.path.join(folder, "points", pid, "run", "config.json")) as f:
            return int(json.load(f)["network"]["n_out"])
    except (OSError, ValueError, KeyError):
        return 10
