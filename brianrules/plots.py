"""Figures written as PNG files."""

import math

import matplotlib
import matplotlib.ticker
import numpy as np

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


def learning_curve(rows, path, title=""):
    """Training (online) and test (frozen) accuracy per epoch; beside them,
    where the rows have the per-layer columns (`metrics.layer_columns`),
    each hidden layer's rate and each projection's relative weight change."""
    from .build.diagnostics import COSINE_PREFIX, PHI_PREFIX
    from .metrics import layer_columns_in, numbered_columns

    epochs = [r["epoch"] for r in rows]
    rates, changes = layer_columns_in(rows[0])
    layers = bool(rates or changes)
    cosines, phis = numbered_columns(rows[0], COSINE_PREFIX), numbered_columns(rows[0], PHI_PREFIX)
    panels = 1 + 2 * layers + bool(layers and (cosines or phis))
    fig, axes = plt.subplots(1, panels, figsize=(4.3 * panels if panels > 1 else 5, 3.5), constrained_layout=True)
    ax = axes[0] if layers else axes
    ax.plot(epochs, [100 * r["train_acc"] for r in rows], "o-", label="train (online, learning on)")
    ax.plot(epochs, [100 * r["test_acc"] for r in rows], "s-", label="test (frozen weights)")
    ax.set_xlabel("epoch")
    ax.set_ylabel("accuracy (%)")
    ax.set_ylim(0, 100)
    ax.grid(alpha=0.3)
    ax.legend(loc="lower right")
    if title:
        ax.set_title(title, fontsize=9)
    if layers:
        ax = axes[1]
        for k, c in enumerate(rates, 1):
            ax.plot(epochs, [r[c] for r in rows], "o-", ms=3, label=f"hidden {k}")
        ax.plot(epochs, [r["output_rate_hz"] for r in rows], "k--", label="output")
        ax.set_xlabel("epoch")
        ax.set_ylabel("mean rate (Hz)")
        ax.set_ylim(bottom=0)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
        ax = axes[2]
        for k, c in enumerate(changes, 1):
            ax.plot(epochs, [r[c] for r in rows], "o-", ms=3, label=f"W{k}")
        ax.set_xlabel("epoch")
        ax.set_ylabel("|dW| / |W| in the epoch")
        if any(r[c] > 0 for r in rows for c in changes):
            ax.set_yscale("log")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8, title="projection (1: input)", title_fontsize=8)
    if panels == 4:  # the diagnostics of `build.diagnostics`
        ax = axes[3]
        for k, c in enumerate(cosines, 1):
            ax.plot(epochs, [r[c] for r in rows], "o-", ms=3, color=f"C{k - 1}", label=f"cos W{k}, backprop-like")
        for k, c in enumerate(phis, 1):
            ax.plot(epochs, [r[c] for r in rows], "--", color=f"C{k - 1}", label=f"mean phi, hidden {k}")
        ax.axhline(0, color="k", lw=0.5)
        ax.set_xlabel("epoch")
        ax.set_ylabel("cosine / mean postsynaptic factor")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    for ax in np.atleast_1d(axes):
        ax.xaxis.set_major_locator(matplotlib.ticker.MaxNLocator(integer=True))
    fig.savefig(path, dpi=120)
    plt.close(fig)


# -- sweeps: the outcome of each point (study.Outcome: axes, status, final, curve) --
def as_number(text):
    try:
        return float(text)
    except (TypeError, ValueError):
        return math.nan


def axis_values(outcomes, axis):
    """The values of ``axis`` among ``outcomes``: numbers in increasing
    order; labels (an axis with any value that is not a number) in the
    order they first appear, which for a sweep is the order its spec gives
    them (``results.csv`` lists the points as the spec expands them)."""
    seen = list(dict.fromkeys(o.axes[axis] for o in outcomes))
    if all(math.isfinite(as_number(v)) for v in seen):
        return sorted(seen, key=as_number)
    return seen


def axes_order(outcomes, axes):
    """A sort key for tuples of values of ``axes``: each in the order of
    `axis_values`."""
    ranks = [{v: i for i, v in enumerate(axis_values(outcomes, a))} for a in axes]
    return lambda values: [rank[v] for rank, v in zip(ranks, values)]


def stable_finals(outcomes):
    """The final values of the stable runs (finished, neither collapsed nor
    diverged): what means and spreads are taken over; collapsed, diverged
    and failed runs are counted and marked, never averaged in."""
    return [o.final for o in outcomes if o.status == "stable"]


def tick_labels(values):
    """Axis values as tick labels: a stack of equal layers, labelled
    ``"100-100-100"`` as a list of sizes is, reads ``3 x 100``, and beside
    such stacks a single size ``100`` reads ``1 x 100``."""
    def stack(v):
        parts = str(v).split("-")
        return parts if all(p.isdigit() for p in parts) and len(set(parts)) == 1 else None

    stacks = [stack(v) for v in values]
    if not any(p and len(p) > 1 for p in stacks):
        return [str(v) for v in values]
    return [f"{len(p)} x {p[0]}" if p else str(v) for v, p in zip(values, stacks)]


def line_styles(n):
    """``n`` distinct (colour, marker) pairs: the default colour cycle up to
    ten lines, twenty colours beyond, markers alternating."""
    tab20 = plt.get_cmap("tab20")
    colours = [f"C{k}" for k in range(10)] if n <= 10 else [tab20(k) for k in (*range(0, 20, 2), *range(1, 20, 2))]
    markers = "osD^v<>ph*"
    return [(colours[k % len(colours)], markers[k % len(markers)]) for k in range(n)]


def log_axis_wanted(values):
    """Whether numeric axis ``values`` span a decade or more (then a log axis shows them)."""
    nums = [as_number(v) for v in values]
    return (bool(nums) and all(math.isfinite(v) for v in nums) and min(nums) > 0
            and max(nums) / min(nums) >= 10)


def mean_sd(xs):
    xs = [x for x in xs if math.isfinite(x)]
    if not xs:
        return math.nan, math.nan
    return float(np.mean(xs)), float(np.std(xs, ddof=1)) if len(xs) > 1 else 0.0


def sweep_heatmap(outcomes, x, y, path, metric="test_acc"):
    xs, ys = axis_values(outcomes, x), axis_values(outcomes, y)
    grid = np.full((len(ys), len(xs)), np.nan)
    unstable = np.zeros_like(grid, dtype=bool)
    for i, vy in enumerate(ys):
        for j, vx in enumerate(xs):
            at = [o for o in outcomes if o.axes[x] == vx and o.axes[y] == vy]
            grid[i, j], _ = mean_sd(stable_finals(at))
            unstable[i, j] = any(o.status in ("diverged", "collapsed") for o in at)
    scale = 100 if metric.endswith("_acc") else 1
    fig, ax = plt.subplots(figsize=(1.2 + 0.9 * len(xs), 1.0 + 0.6 * len(ys)), constrained_layout=True)
    im = ax.imshow(scale * grid, cmap="viridis", aspect="auto", origin="lower",
                   vmin=0 if scale == 100 else None, vmax=100 if scale == 100 else None)
    for i in range(len(ys)):
        for j in range(len(xs)):
            text = "–" if not math.isfinite(grid[i, j]) else f"{scale * grid[i, j]:.0f}"
            if unstable[i, j]:
                text += "*"
            ax.text(j, i, text, ha="center", va="center", fontsize=8,
                    color="white" if math.isfinite(grid[i, j]) and scale * grid[i, j] < 60 else "black")
    ax.set_xticks(range(len(xs)), tick_labels(xs), rotation=45 if len(xs) > 4 else 0)
    ax.set_yticks(range(len(ys)), tick_labels(ys))
    ax.set_xlabel(x)
    ax.set_ylabel(y)
    fig.colorbar(im, ax=ax, label=f"final {metric}" + (" (%)" if scale == 100 else ""))
    ax.set_title("mean of stable runs over other axes; * some runs diverged or collapsed", fontsize=8)
    fig.savefig(path, dpi=120)
    plt.close(fig)


def sweep_curves(outcomes, axis, path, metric="test_acc", panel_axis=None):
    """Learning curves of ``metric``: one line per value of ``axis`` (the
    mean over the runs that share it, with their range as a band), one panel
    per value of ``panel_axis`` (e.g. the depth) or one panel over all runs.
    Returns what was drawn: panel value (None for one panel) -> line value ->
    (epochs, means)."""
    scale = 100 if metric.endswith("_acc") else 1
    panels = axis_values(outcomes, panel_axis) if panel_axis else [None]
    line_values = axis_values(outcomes, axis)
    many = len(line_values) > 6  # the legend goes beside the panels
    fig, axs = plt.subplots(1, len(panels), figsize=(4.2 * len(panels) + (2.6 if many else 1.3), 3.8 + 0.8 * many),
                            sharey=True, constrained_layout=True, squeeze=False)
    styles = dict(zip(line_values, line_styles(len(line_values))))
    drawn, handles = {}, {}
    for ax, pv, title in zip(axs[0], panels, tick_labels(panels)):
        drawn[pv] = {}
        for v in line_values:
            curves = [dict(o.curve) for o in outcomes if o.axes[axis] == v and o.curve
                      and (panel_axis is None or o.axes[panel_axis] == pv)]
            if not curves:
                continue
            epochs = sorted({e for c in curves for e in c})
            data = np.array([[c.get(e, np.nan) for e in epochs] for c in curves], dtype=float) * scale
            if not np.isfinite(data).any():  # e.g. a layer's column in a panel of shallower networks
                continue
            with np.errstate(all="ignore"):
                mean = np.nanmean(data, axis=0)
                low, high = np.nanmin(data, axis=0), np.nanmax(data, axis=0)
            colour, marker = styles[v]
            line, = ax.plot(epochs, mean, "-", marker=marker, ms=3, color=colour,
                            label=f"{axis} = {v} ({len(curves)} runs)" if panel_axis is None else str(v))
            ax.fill_between(epochs, low, high, color=colour, alpha=0.12, lw=0)
            handles.setdefault(v, line)
            drawn[pv][v] = (epochs, [float(m) for m in mean])
        ax.set_xlabel("epoch")
        ax.grid(alpha=0.3)
        ax.xaxis.set_major_locator(matplotlib.ticker.MaxNLocator(integer=True))
        if panel_axis is not None:
            ax.set_title(f"{panel_axis} = {title}", fontsize=9)
    axs[0][0].set_ylabel(metric + (" (%)" if scale == 100 else ""))
    if scale == 100:
        axs[0][0].set_ylim(0, 100)
    if handles:
        if many or panel_axis is not None:
            shown = [v for v in line_values if v in handles]
            fig.legend([handles[v] for v in shown], [str(v) for v in shown], fontsize=7, loc="outside right upper",
                       title=axis, title_fontsize=8)
        else:
            axs[0][0].legend(fontsize=7, loc="lower right")
    fig.suptitle("mean (line) and range (band) over the " + ("seeds and other axes" if panel_axis else "other axes"),
                 fontsize=8)
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return drawn


def sweep_metric_vs_axis(outcomes, axes, x, lines_axis, path, metric="test_acc", seed_axis="seed"):
    """Final metric against ``x`` (e.g. the learning rate or the depth), one
    line per value of ``lines_axis``, one panel per value of a remaining
    axis.  On an axis of labels (not numbers) the lines are drawn a little
    apart so that their error bars do not cover each other.  Returns what the
    first panel drew: line value -> (x positions, means)."""
    rest = [a for a in axes if a not in (x, lines_axis, seed_axis)]
    panel_axis = rest[0] if rest else None
    panels = axis_values(outcomes, panel_axis) if panel_axis else [None]
    scale = 100 if metric.endswith("_acc") else 1
    line_values = axis_values(outcomes, lines_axis)
    many = len(line_values) > 6  # the legend goes beside the panels
    fig, axs = plt.subplots(1, len(panels), figsize=(4.2 * len(panels) + (2.6 if many else 0), 3.6 + 0.8 * many),
                            sharey=True, constrained_layout=True, squeeze=False)
    xs = axis_values(outcomes, x)
    xnum = [as_number(v) for v in xs]
    numeric = all(math.isfinite(v) for v in xnum)
    logx = log_axis_wanted(xs)
    styles = dict(zip(line_values, line_styles(len(line_values))))
    spread = 0.0 if numeric else 0.4 / max(len(line_values), 1)  # all lines within 0.4 of a tick
    drawn, handles = {}, {}
    for ax, pv in zip(axs[0], panels):
        sub = [o for o in outcomes if panel_axis is None or o.axes[panel_axis] == pv]
        for n, lv in enumerate(line_values):
            means, sds, pos, div = [], [], [], []
            for k, v in enumerate(xs):
                at = [o for o in sub if o.axes[lines_axis] == lv and o.axes[x] == v]
                if not at:
                    continue
                m, sd = mean_sd(stable_finals(at))
                means.append(scale * m)
                sds.append(scale * sd)
                pos.append(xnum[k] if numeric else k + spread * (n - (len(line_values) - 1) / 2))
                div.append((any(o.status == "diverged" for o in at), any(o.status == "collapsed" for o in at)))
            if not pos:
                continue
            if pv == panels[0]:
                drawn[lv] = (pos, means)
            color, marker = styles[lv]
            handle = ax.errorbar(pos, means, yerr=sds, marker=marker, ms=4, capsize=2, color=color, label=str(lv))
            handles.setdefault(lv, handle)  # a line drawn in any panel has its entry
            for p, m, (d, c) in zip(pos, means, div):
                if d:
                    ax.plot([p], [m if math.isfinite(m) else 0], "x", color=color, ms=9, mew=2)
                if c:  # beside a diverged mark, below the mean
                    ax.plot([p], [m - 4 if math.isfinite(m) else 0], "v", color=color, ms=6, mfc="none")
        if logx:
            ax.set_xscale("log")
        if not numeric:
            ax.set_xticks(range(len(xs)), tick_labels(xs), rotation=30 if len(xs) > 3 else 0)
        ax.set_xlabel(x)
        ax.grid(alpha=0.3)
        if panel_axis:
            ax.set_title(f"{panel_axis} = {pv}", fontsize=9)
    axs[0][0].set_ylabel(f"final {metric}" + (" (%)" if scale == 100 else ""))
    if scale == 100:
        axs[0][0].set_ylim(0, 100)
    legend = ([handles[lv] for lv in line_values if lv in handles], [str(lv) for lv in line_values if lv in handles])
    if many:
        fig.legend(*legend, title=lines_axis, fontsize=7, title_fontsize=8, loc="outside right upper")
    else:
        axs[0][-1].legend(*legend, title=lines_axis, fontsize=7, title_fontsize=8, loc="best")
    fig.suptitle("mean ± sd over seeds of the stable runs\nx: some runs diverged; v: some collapsed", fontsize=8)
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return drawn


#: how `sweep_final_vs_axis` marks the runs that give no final value: (marker, colour)
UNSTABLE_MARKS = {
    "collapsed": ("v", "tab:orange"),
    "diverged": ("X", "tab:red"),
    "failed": ("s", "tab:gray"),
    "pending": ("o", "darkgray"),
}


def sweep_final_vs_axis(outcomes, x, path, metric="test_acc", chance=None):
    """The final metric of a one-axis sweep against that axis.  Above: each
    stable run as a dot, the mean ± sd over seeds of the stable runs as a
    line with error bars.  Below, in a strip of its own: the runs that give
    no result, one row per kind (collapsed, diverged, failed, pending), a
    mark with the number of runs at each value; they are never drawn as
    values.  A numeric axis spanning a decade or more is drawn on a log
    scale, a non-numeric one as categories.  ``chance``: the chance level
    of an accuracy, drawn as a dotted line.

    Returns what it drew: ``x`` (the axis positions with a mean: values, or
    category numbers), ``mean`` and ``sd`` (in the plotted unit, % for
    accuracies), ``marks`` ({kind: [(position, number of runs)]}) and
    ``log_x``."""
    scale = 100 if metric.endswith("_acc") else 1
    xs = axis_values(outcomes, x)
    xnum = [as_number(v) for v in xs]
    numeric = all(math.isfinite(v) for v in xnum)
    logx = log_axis_wanted(xs)
    pos = xnum if numeric else list(range(len(xs)))
    at = {v: [o for o in outcomes if o.axes[x] == v] for v in xs}
    kinds = [k for k in UNSTABLE_MARKS if any(o.status == k for o in outcomes)]
    strip = 0.35 + 0.28 * len(kinds) if kinds else 0
    fig = plt.figure(figsize=(max(4.8, 1.2 + 0.7 * len(xs)), 3.6 + strip), constrained_layout=True)
    if kinds:
        ax, low = fig.subplots(2, 1, sharex=True, gridspec_kw={"height_ratios": [3.6, strip]})
    else:
        ax, low = fig.subplots(1, 1), None
    means, sds, where = [], [], []
    dots = False
    for p, v in zip(pos, xs):
        stable = [scale * f for f in stable_finals(at[v]) if math.isfinite(f)]
        if stable:
            ax.plot([p] * len(stable), stable, "o", color="tab:blue", ms=3.5, alpha=0.45, zorder=2,
                    label=None if dots else "a stable run")
            dots = True
        m, sd = mean_sd(stable)
        if math.isfinite(m):
            means.append(m)
            sds.append(sd)
            where.append(p)
    if where:
        ax.errorbar(where, means, yerr=sds, marker="o", ms=6, capsize=3, color="tab:blue", zorder=3,
                    ls="-" if numeric else "none", label="mean ± sd of the stable runs")
    if chance is not None and scale == 100:
        ax.axhline(100 * chance, color="k", ls=":", lw=1, label="chance")
    ax.set_ylabel(f"final {metric}" + (" (%)" if scale == 100 else ""))
    if scale == 100:
        ax.set_ylim(0, 100)
    ax.grid(alpha=0.3)
    if dots or chance is not None:
        ax.legend(fontsize=7, loc="best")
    n_runs = [len(at[v]) for v in xs]
    runs = f"{n_runs[0]} runs per value" if len(set(n_runs)) == 1 else f"{min(n_runs)}-{max(n_runs)} runs per value"
    ax.set_title(f"final {metric} against {x}, {runs}", fontsize=8)
    marks = {}
    if low is not None:
        for row, kind in enumerate(kinds):
            marker, color = UNSTABLE_MARKS[kind]
            for p, v in zip(pos, xs):
                count = sum(o.status == kind for o in at[v])
                if count:
                    marks.setdefault(kind, []).append((p, count))
                    low.plot([p], [row], marker, color=color, ms=7)
                    low.annotate(str(count), (p, row), xytext=(6, 0), textcoords="offset points", va="center",
                                 fontsize=7, color=color)
        low.set_yticks(range(len(kinds)), [f"{k} runs" for k in kinds], fontsize=7)
        low.set_ylim(len(kinds) - 0.4, -0.6)
        low.grid(alpha=0.3, axis="x")
        low.tick_params(axis="y", length=0)
    bottom = low if low is not None else ax
    if logx:
        bottom.set_xscale("log")
        bottom.set_xticks(pos, [str(v) for v in xs])
        bottom.xaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())
    elif not numeric:
        bottom.set_xticks(pos, xs, rotation=30 if len(xs) > 4 else 0)
    if len(pos) == 1 or not numeric:  # room for the marks' numbers beside the outermost values
        lo, hi = min(pos), max(pos)
        bottom.set_xlim(lo - 0.5, hi + 0.5)
    bottom.set_xlabel(x)
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return {"x": where, "mean": means, "sd": sds, "marks": marks, "log_x": logx}
