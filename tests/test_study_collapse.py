"""Sweep reports of collapsed runs, and the figure of a one-axis sweep, on
small study folders written by hand (nothing is trained)."""

import csv
import os

import pytest

from brianrules import plots
from brianrules import study as sw
from brianrules.cli import main
from brianrules.files import write_json
from brianrules.metrics import write_metrics

#: (lr_scale, seed) -> what the point's training left: its status and, per
#: epoch, (test_acc, collapse); a point without epochs failed before any
POINTS = {
    (0.1, 0): ("done", [(0.40, ""), (0.60, "")]),
    (0.1, 1): ("done", [(0.30, ""), (0.05, "silent_output")]),
    (0.1, 2): ("done", [(0.11, ""), (0.12, "")]),  # no condition named, but near chance
    (1.0, 0): ("done", [(0.70, ""), (0.80, "")]),
    (1.0, 1): ("done", [(0.75, ""), (0.90, "")]),
    (1.0, 2): ("done", [(0.80, ""), (0.85, "")]),
    (10.0, 0): ("diverged", [(0.50, "")]),
    (10.0, 1): ("done", [(0.60, ""), (0.50, "saturated_hidden_1+saturated_hidden_2")]),
    (10.0, 2): ("failed", []),
}
#: every epoch's wall time in the hand-written metrics
EPOCH_S = 120.0


def _study(folder, points=POINTS, axes=("lr_scale", "seed")):
    """A sweep's folder as `brianrules sweep` leaves it: points/<id>/ with
    point.json, status.json and run/ (config.json, metrics.csv), and
    results.csv written by `study.write_results`.  ``points``: axis values
    (in the order of ``axes``) -> (status, [(test_acc, collapse) per epoch])."""
    made = []
    for values, (status, epochs) in points.items():
        settings = {"epochs": 2, "hidden": [12], **dict(zip(axes, values))}
        point = sw.Point(sw.point_id(settings), settings, {a: str(v) for a, v in zip(axes, values)})
        where = folder / "points" / point.id
        (where / "run").mkdir(parents=True)
        write_json(where / "point.json", {"id": point.id, "settings": settings, "axes": point.axes})
        write_json(where / "status.json", {"status": status, "error": "boom" if status != "done" else None})
        write_json(where / "run" / "config.json", {"train": settings, "network": {"n_out": 10}})
        if epochs:
            write_metrics(where / "run" / "metrics.csv",
                          [{"epoch": e, "train_acc": acc, "test_acc": acc, "collapse": label, "wall_s": EPOCH_S}
                           for e, (acc, label) in enumerate(epochs, 1)])
        made.append(point)
    sw.write_results(str(folder), made)
    return {key: p.id for key, p in zip(points, made)}


def _line(text, start):
    return next(line for line in text.splitlines() if line.startswith(start))


def _cells(line):
    return [c.strip() for c in line.strip().strip("|").split("|")]


def test_results_carry_the_collapse_column_of_each_epoch(tmp_path):
    ids = _study(tmp_path)
    with open(tmp_path / "results.csv") as f:
        rows = list(csv.DictReader(f))
    by = {(r["point"], r["epoch"]): r for r in rows}
    assert by[(ids[0.1, 1], "2")]["collapse"] == "silent_output"
    assert by[(ids[0.1, 1], "1")]["collapse"] == ""
    assert by[(ids[10.0, 1], "2")]["collapse"] == "saturated_hidden_1+saturated_hidden_2"
    assert by[(ids[10.0, 2], "")]["collapse"] == ""  # the failed point: one row without metrics


def test_collapsed_points_are_counted_not_averaged(tmp_path):
    ids = _study(tmp_path)
    outcomes, axes = sw.load(str(tmp_path))
    got = {o.point: (o.status, o.collapse) for o in outcomes}
    assert got[ids[0.1, 1]] == ("collapsed", "silent_output")
    assert got[ids[0.1, 2]] == ("collapsed", sw.NEAR_CHANCE)
    # a named condition counts even where the accuracy looks like a result
    assert got[ids[10.0, 1]] == ("collapsed", "saturated_hidden_1+saturated_hidden_2")
    assert got[ids[1.0, 0]] == ("stable", "") and got[ids[10.0, 0]][0] == "diverged"

    summary = sw.summary_table(outcomes, axes)
    # lr_scale | runs | mean ± sd | min – max | diverged | collapsed
    assert _cells(_line(summary, "| 0.1 |")) == ["0.1", "3", "60.0 ± 0.0", "60.0 – 60.0", "0", "2"]
    assert _cells(_line(summary, "| 1.0 |")) == ["1.0", "3", "85.0 ± 5.0", "80.0 – 90.0", "0", "0"]
    assert _cells(_line(summary, "| 10.0 |")) == ["10.0", "3 (1 failed/pending)", "–", "–", "1", "1"]

    stability = sw.stability_table(outcomes, axes, "lr_scale")
    head, _, row = stability.splitlines()
    assert _cells(head)[:3] == ["unstable runs", "diverged", "collapsed"]
    # 8 runs ended (the failed one did not); 1 diverged and 3 collapsed
    assert _cells(row) == ["4/8 (50%)", "1", "3", "1.0", "1.0", "1.0 (85.0)"]

    pivot = sw.pivot_table(outcomes, axes, "lr_scale")
    assert _cells(pivot.splitlines()[2]) == ["60.0 ± 0.0 (2C of 3)", "85.0 ± 5.0", "– (1D 1C of 3)"]


def test_each_seed_is_shown_beside_the_mean_of_the_stable_runs(tmp_path):
    _study(tmp_path)
    outcomes, axes = sw.load(str(tmp_path))
    lines = sw.seeds_table(outcomes, axes, "lr_scale").splitlines()
    assert lines[0] == "Seeds in each cell's brackets: 0 / 1 / 2."
    assert _cells(lines[2]) == ["lr_scale = 0.1", "lr_scale = 1.0", "lr_scale = 10.0"]
    # the collapsed runs (seed 1 named, seed 2 near chance) show their value and are not in the mean
    assert _cells(lines[4]) == ["60.0 (60.0 / 5.0 C / 12.0 C)", "85.0 (80.0 / 90.0 / 85.0)",
                                "no stable run (50.0 D / 50.0 C / failed)"]


def test_labels_keep_the_order_of_the_spec_and_numbers_their_value(tmp_path):
    # the points in the order a spec would list them: labels not alphabetical, numbers not sorted
    points = {(label, lr, 0): ("done", [(acc, "")]) for label, lr, acc in
              [("symmetric", 1.0, 0.9), ("fa", 1.0, 0.8), ("bptt", 1.0, 0.95),
               ("symmetric", 0.5, 0.7), ("fa", 0.5, 0.6), ("bptt", 0.5, 0.75)]}
    _study(tmp_path, points, axes=("rule", "lr_scale", "seed"))
    outcomes, axes = sw.load(str(tmp_path))
    assert plots.axis_values(outcomes, "rule") == ["symmetric", "fa", "bptt"]
    assert plots.axis_values(outcomes, "lr_scale") == ["0.5", "1.0"]
    rows = sw.pivot_table(outcomes, axes, "lr_scale").splitlines()[2:]
    assert [_cells(r)[0] for r in rows] == ["symmetric", "fa", "bptt"]
    assert _cells(rows[1])[1:] == ["60.0 ± 0.0", "80.0 ± 0.0"]


def test_learning_curves_get_a_panel_per_value_of_a_second_axis(tmp_path):
    points = {(rule, lr, seed): ("done", [(acc + 0.1 * seed, ""), (acc + 0.1 + 0.1 * seed, "")])
              for rule, lr, acc in [("symmetric", 1.0, 0.5), ("fa", 1.0, 0.3), ("fa", 0.5, 0.2)] for seed in (0, 1)}
    _study(tmp_path, points, axes=("rule", "lr_scale", "seed"))
    outcomes, _ = sw.load(str(tmp_path))
    drawn = plots.sweep_curves(outcomes, "rule", tmp_path / "c.png", panel_axis="lr_scale")
    assert list(drawn) == ["0.5", "1.0"] and list(drawn["1.0"]) == ["symmetric", "fa"]
    assert list(drawn["0.5"]) == ["fa"]  # no symmetric run at 0.5
    epochs, means = drawn["1.0"]["fa"]  # the mean of seeds 0 and 1, in %
    assert epochs == [1, 2] and means == pytest.approx([35.0, 45.0])
    assert (tmp_path / "c.png").stat().st_size > 5000
    one = plots.sweep_curves(outcomes, "rule", tmp_path / "d.png")  # one panel: over every lr_scale
    assert one[None]["fa"][1] == pytest.approx([30.0, 40.0])


def test_training_time_adds_up_the_epochs_of_every_point_and_seed(tmp_path):
    ids = _study(tmp_path)
    outcomes, _ = sw.load(str(tmp_path))
    # every point that ended an epoch counts each of them once; the failed point ended none
    assert sw.point_seconds(str(tmp_path)) == {
        ids[key]: EPOCH_S * len(epochs) for key, (_, epochs) in POINTS.items() if epochs}
    text = sw.training_time(str(tmp_path), outcomes)
    # 15 epochs of 2 min; seed 0: 2 + 2 + 1 epochs, seed 1: 2 + 2 + 2, seed 2: 2 + 2 (its third failed)
    assert text.startswith("Training time: 30 min over the epochs of 8 points")
    assert text.endswith("seed 0: 10 min (3 points), seed 1: 12 min (3 points), seed 2: 8 min (2 points).")


def test_plot_of_a_one_axis_sweep_draws_the_final_metric_against_the_axis(tmp_path, capsys):
    _study(tmp_path)
    assert main(["plot", str(tmp_path)]) == 0
    figure = tmp_path / "plots" / "test_acc_vs_lr_scale.png"
    assert f"wrote {figure}" in capsys.readouterr().out
    png = figure.read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 5000
    assert (tmp_path / "plots" / "curves_test_acc_by_lr_scale.png").exists()
    text = (tmp_path / "summary.md").read_text()
    assert "Figures: plots/curves_test_acc_by_lr_scale.png, plots/test_acc_vs_lr_scale.png" in text
    collapsed = text.split("## Collapsed runs")[1]
    assert "silent_output" in collapsed and "saturated_hidden_1, saturated_hidden_2" in collapsed
    assert sw.NEAR_CHANCE in collapsed and collapsed.count("| 0.1 |") == 2


def test_one_axis_figure_marks_runs_without_a_result_instead_of_averaging_them(tmp_path):
    _study(tmp_path)
    outcomes, _ = sw.load(str(tmp_path))
    drawn = plots.sweep_final_vs_axis(outcomes, "lr_scale", tmp_path / "f.png", chance=0.1)
    assert drawn["log_x"]  # 0.1 to 10: two decades
    assert drawn["x"] == [0.1, 1.0]  # no stable run at 10
    assert drawn["mean"] == pytest.approx([60.0, 85.0]) and drawn["sd"] == pytest.approx([0.0, 5.0])
    assert drawn["marks"] == {"collapsed": [(0.1, 2), (10.0, 1)], "diverged": [(10.0, 1)],
                              "failed": [(10.0, 1)]}
    # a numeric axis within a decade is linear; labels are categories
    assert not plots.log_axis_wanted(["1.0", "9.5"]) and plots.log_axis_wanted(["1.0", "10.0"])
    assert not plots.log_axis_wanted(["dfa", "fa"])


def test_one_axis_figure_of_a_categorical_axis(tmp_path):
    points = {("dfa", 0): ("done", [(0.8, "")]), ("dfa", 1): ("done", [(0.7, "")]),
              ("fa", 0): ("done", [(0.1, "silent_output")])}
    _study(tmp_path, points, axes=("rule", "seed"))
    outcomes, _ = sw.load(str(tmp_path))
    drawn = plots.sweep_final_vs_axis(outcomes, "rule", tmp_path / "f.png")
    assert drawn["x"] == [0] and not drawn["log_x"] and drawn["marks"] == {"collapsed": [(1, 1)]}
    assert drawn["mean"] == pytest.approx([75.0])
    paths = sw.report(str(tmp_path))
    assert os.path.join(str(tmp_path), "plots", "test_acc_vs_rule.png") in paths


def test_a_two_axis_sweep_keeps_its_figures(tmp_path):
    """Two axes besides the seed: a heatmap and the metric against the
    learning rate, one line per value of the other axis; no one-axis figure."""
    points = {(lr, w, s): ("done", [(0.5 + 0.1 * s, "")]) for lr in (0.5, 1.0) for w in (10.0, 100.0)
              for s in (0, 1)}
    points[1.0, 10.0, 1] = ("done", [(0.3, "silent_output")])
    _study(tmp_path, points, axes=("lr_scale", "w_bound", "seed"))
    paths = [os.path.basename(p) for p in sw.report(str(tmp_path))]
    assert paths == ["summary.md", "heatmap_test_acc_lr_scale_w_bound.png", "curves_test_acc_by_lr_scale.png"]
    paths = [os.path.basename(p) for p in sw.report(str(tmp_path), curves="w_bound")]
    assert paths[-1] == "test_acc_vs_lr_scale.png"


def test_depth_axis_reads_as_layers_and_its_lines_are_drawn_apart(tmp_path):
    """A sweep over depth (``hidden`` as lists of sizes) against rules: the
    ticks read "1 x 100" ... and each rule's line sits at its own offset
    within 0.2 of the tick, so that the error bars stay apart."""
    assert plots.tick_labels(["100", "100-100", "100-100-100"]) == ["1 x 100", "2 x 100", "3 x 100"]
    assert plots.tick_labels(["300", "100-200"]) == ["300", "100-200"]  # no stack of equal layers
    assert plots.tick_labels(["0.1", "1.0"]) == ["0.1", "1.0"]
    styles = plots.line_styles(11)
    assert len(set(styles)) == 11 and len({c for c, _ in styles}) == 11
    points = {(h, rule, s): ("done", [(0.9 - 0.05 * h.count("-") - (rule == "fa") * 0.1 + 0.01 * s, "")])
              for h in ("100", "100-100", "100-100-100") for rule in ("dfa", "fa", "kp") for s in (0, 1)}
    _study(tmp_path, points, axes=("hidden", "rule", "seed"))
    outcomes, axes = sw.load(str(tmp_path))
    drawn = plots.sweep_metric_vs_axis(outcomes, axes, "hidden", "rule", tmp_path / "f.png")
    assert (tmp_path / "f.png").exists()
    for k in range(3):
        at = [drawn[rule][0][k] for rule in ("dfa", "fa", "kp")]
        assert len(set(at)) == 3 and all(abs(x - k) <= 0.2 for x in at)
    assert drawn["fa"][1] == pytest.approx([80.5, 75.5, 70.5])
    paths = [os.path.basename(p) for p in sw.report(str(tmp_path), curves="rule", stability="hidden")]
    assert "test_acc_vs_hidden.png" in paths


def test_the_legend_of_a_figure_with_panels_names_every_line(tmp_path, monkeypatch):
    """Lines against one axis, one panel per value of another: a rule drawn
    in the first panel only still has its legend entry (the legend was the
    last panel's)."""
    from matplotlib.figure import Figure

    points = {(lr, w, rule, s): ("done", [(0.5 + 0.1 * s, "")]) for lr in (0.5, 1.0) for w in (10.0, 100.0)
              for rule in ("dfa", "fa") for s in (0, 1)}
    points.update({(lr, 10.0, "kp", s): ("done", [(0.7, "")]) for lr in (0.5, 1.0) for s in (0, 1)})
    _study(tmp_path, points, axes=("lr_scale", "w_bound", "rule", "seed"))
    outcomes, axes = sw.load(str(tmp_path))
    seen = []
    monkeypatch.setattr(Figure, "savefig", lambda fig, *a, **k: seen.append(fig))
    plots.sweep_metric_vs_axis(outcomes, axes, "lr_scale", "rule", tmp_path / "f.png")
    (fig,) = seen
    legends = fig.legends + [ax.get_legend() for ax in fig.axes if ax.get_legend() is not None]
    assert [t.get_text() for t in legends[0].get_texts()] == ["dfa", "fa", "kp"]
    assert len(fig.axes) == 2  # a panel per w_bound; kp is in the first alone


def test_the_largest_value_that_keeps_the_accuracy_lies_within_the_margin_of_the_best():
    """Stable at every scale, but at 4 the accuracy falls 4 points below the
    best (2): the largest stable scale is 8, the largest that keeps it 2."""
    finals = {1.0: 0.90, 2.0: 0.92, 4.0: 0.88, 8.0: 0.60}
    outcomes = [sw.Outcome(f"p{k}", {"lr_scale": str(v)}, "stable", a, [(5, a)]) for k, (v, a) in enumerate(finals.items())]
    head, _, row = sw.stability_table(outcomes, ["lr_scale"], "lr_scale").splitlines()
    assert _cells(head)[3:5] == ["largest stable lr_scale", "largest lr_scale within 3.0 of the best"]
    assert _cells(row) == ["0/4 (0%)", "0", "0", "8.0", "2.0", "2.0 (92.0)"]
