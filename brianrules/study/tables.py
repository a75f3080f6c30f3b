"""The Markdown tables of a sweep's outcomes: per condition (summary),
conditions against an axis (pivot), stability along an axis, and the
collapsed runs."""

import math

from ..plots import axes_order, axis_values, mean_sd, stable_finals, tick_labels


def pct(x, metric):
    """A table's cell: an accuracy in percent to one decimal, another metric to 3 digits, "–" for no value."""
    if not math.isfinite(x):
        return "–"
    return f"{100 * x:.1f}" if metric.endswith("_acc") else f"{x:.3g}"


def _groups(outcomes, conds):
    """[(values of ``conds``, the outcomes that have them)], in the order of
    `plots.axes_order`."""
    groups = {}
    for o in outcomes:
        groups.setdefault(tuple(o.axes[a] for a in conds), []).append(o)
    order = axes_order(outcomes, conds)
    return sorted(groups.items(), key=lambda item: order(item[0]))


def summary_table(outcomes, axes, metric="test_acc", seed_axis="seed"):
    """Markdown: one row per condition (all axes but the seed): the number
    of runs, the mean ± sd and range of the final metric over the stable
    runs, and the number of runs that diverged and that collapsed (those
    are counted, not averaged in)."""
    conds = [a for a in axes if a != seed_axis]
    groups = _groups(outcomes, conds)
    unit = " (%)" if metric.endswith("_acc") else ""
    head = [*conds, "runs", f"final {metric}{unit} mean ± sd", "min – max", "diverged", "collapsed"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for key, g in groups:
        done = stable_finals(g)
        m, sd = mean_sd(done)
        finite = [x for x in done if math.isfinite(x)]
        rng = f"{pct(min(finite), metric)} – {pct(max(finite), metric)}" if finite else "–"
        ms = f"{pct(m, metric)} ± {pct(sd, metric)}" if math.isfinite(m) else "–"
        extra = sum(o.status in ("failed", "pending") for o in g)
        runs = f"{len(g)}" + (f" ({extra} failed/pending)" if extra else "")
        lines.append("| " + " | ".join([*key, runs, ms, rng, str(sum(o.status == "diverged" for o in g)),
                                         str(sum(o.status == "collapsed" for o in g))]) + " |")
    return "\n".join(lines)


def _pivot(outcomes, axes, column, seed_axis, cell):
    """The Markdown lines of a table with the conditions (every axis but
    ``seed_axis`` and ``column``) as rows and the values of ``column`` as
    columns; ``cell(runs)`` writes a cell from the runs that have its row's
    condition and its column's value."""
    conds = [a for a in axes if a not in (seed_axis, column)]
    cols = axis_values(outcomes, column)
    head = [*conds, *[f"{column} = {v}" for v in tick_labels(cols)]]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for key, g in _groups(outcomes, conds):
        lines.append("| " + " | ".join([*key, *(cell([o for o in g if o.axes[column] == v]) for v in cols)]) + " |")
    return lines


def pivot_table(outcomes, axes, column, seed_axis="seed", metric="test_acc"):
    """Markdown: conditions as rows, the values of ``column`` as columns;
    each cell the mean ± sd over seeds of the runs that finished, with the
    number of unstable runs (diverged D, collapsed C) out of all."""
    def cell(at):
        m, sd = mean_sd(stable_finals(at))
        text = f"{pct(m, metric)} ± {pct(sd, metric)}" if math.isfinite(m) else "–"
        d = sum(o.status == "diverged" for o in at)
        c = sum(o.status == "collapsed" for o in at)
        marks = " ".join(x for x in (f"{d}D" if d else "", f"{c}C" if c else "") if x)
        return text + (f" ({marks} of {len(at)})" if marks else "")

    return "\n".join(_pivot(outcomes, axes, column, seed_axis, cell))


#: how a run without a stable result is written in `seeds_table`: its final value and this mark
UNSTABLE_MARKS = {"collapsed": "C", "diverged": "D", "failed": "failed", "pending": "pending"}


def seeds_table(outcomes, axes, column, seed_axis="seed", metric="test_acc"):
    """Markdown: as `pivot_table`, each cell the mean over the stable runs
    followed by every seed's own final value in the order of the seeds
    (``92.2 (92.5 / 91.9 / 92.2)``); a run that collapsed or diverged shows
    its final value marked ``C`` or ``D`` and is not in the mean, a failed or
    pending run says so, and a seed without a point is ``·``."""
    seeds = axis_values(outcomes, seed_axis)

    def one(o):
        if o is None:
            return "·"
        if o.status == "stable":
            return pct(o.final, metric)
        if o.status in ("collapsed", "diverged"):
            return f"{pct(o.final, metric)} {UNSTABLE_MARKS[o.status]}"
        return UNSTABLE_MARKS.get(o.status, o.status)

    def cell(at):
        by_seed = {o.axes[seed_axis]: o for o in at}
        m, _ = mean_sd(stable_finals(at))
        mean = pct(m, metric) if math.isfinite(m) else "no stable run"
        return f"{mean} ({' / '.join(one(by_seed.get(s)) for s in seeds)})"

    return "\n".join([f"Seeds in each cell's brackets: {' / '.join(map(str, seeds))}.", "",
                      *_pivot(outcomes, axes, column, seed_axis, cell)])


#: how far below the best value's mean final metric a value may lie and still keep it (`stability_table`)
KEEP_MARGIN = 0.03


def stability_table(outcomes, axes, axis, seed_axis="seed", metric="test_acc"):
    """Markdown: per condition without ``axis``, the share of unstable runs
    (diverged or collapsed) and the number of each, the largest value of
    ``axis`` at which every run is stable, the largest at which every run is
    stable and the mean final metric lies within `KEEP_MARGIN` of the best
    value's, and the value with the best mean final metric of the stable
    runs."""
    conds = [a for a in axes if a not in (seed_axis, axis)]
    groups = _groups(outcomes, conds)
    head = [*conds, "unstable runs", "diverged", "collapsed", f"largest stable {axis}",
            f"largest {axis} within {pct(KEEP_MARGIN, metric)} of the best", f"best {axis} (mean {metric})"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for key, g in groups:
        ended = [o for o in g if o.status in ("stable", "collapsed", "diverged")]
        unstable = sum(o.status in ("diverged", "collapsed") for o in ended)
        stable_values, means, best, best_mean = [], {}, "–", -math.inf
        for v in axis_values(g, axis):
            at = [o for o in g if o.axes[axis] == v]
            m, _ = mean_sd(stable_finals(at))
            if at and all(o.status == "stable" for o in at):
                stable_values.append(v)
                means[v] = m
            if math.isfinite(m) and m > best_mean:
                best, best_mean = v, m
        largest = stable_values[-1] if stable_values else "none"  # in the order of `axis_values`
        kept = [v for v in stable_values if means[v] >= best_mean - KEEP_MARGIN]
        keeps = kept[-1] if kept else "none"
        share = f"{unstable}/{len(ended)} ({100 * unstable / len(ended):.0f}%)" if ended else "–"
        lines.append("| " + " | ".join([*key, share, str(sum(o.status == "diverged" for o in g)),
                                         str(sum(o.status == "collapsed" for o in g)), str(largest), str(keeps),
                                         f"{best} ({pct(best_mean, metric)})" if best != "–" else "–"]) + " |")
    return "\n".join(lines)


def collapsed_table(outcomes, axes, metric="test_acc"):
    """Markdown: one row per collapsed point, with its axes, its final
    metric and what collapsed (the training's labels, or `NEAR_CHANCE`);
    None if no point collapsed."""
    order = axes_order(outcomes, axes)
    rows = sorted((o for o in outcomes if o.status == "collapsed"), key=lambda o: order([o.axes[a] for a in axes]))
    if not rows:
        return None
    head = [*axes, "point", f"final {metric}", "collapse"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for o in rows:
        lines.append("| " + " | ".join([*(str(o.axes[a]) for a in axes), o.point, pct(o.final, metric),
                                         o.collapse.replace("+", ", ")]) + " |")
    return "\n".join(lines)
