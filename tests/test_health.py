"""A collapsed network is reported as collapsed, not as an accuracy; a run
records the factors it used."""

import csv
import io
import json
import os
from contextlib import redirect_stdout

import numpy as np
import pytest

from brianrules import health
from brianrules.cli import main
from brianrules.metrics import read_metrics, write_metrics
from brianrules.training import TrainConfig


def _counts(n_silent, n_total, n_out=10):
    counts = np.zeros((n_total, n_out), dtype=int)
    counts[n_silent:, 0] = 3
    return counts


def test_largest_rate_is_one_spike_per_refractory_period_and_step():
    assert health.max_rate_hz(2e-3, 0.5e-3) == pytest.approx(400.0)


def test_silent_outputs_are_a_collapse():
    found = health.diagnose(_counts(300, 360), 0.0, [50.0], 10, 2e-3, 0.5e-3)
    assert found.labels == ("silent_output",) and found.column == "silent_output"
    assert found.silent_frac == pytest.approx(300 / 360)
    assert health.silent_fraction(_counts(300, 360)) == pytest.approx(300 / 360)
    # fewer than half of the samples silent, above chance: a working network
    assert health.diagnose(_counts(100, 360), 0.5, [50.0], 10, 2e-3, 0.5e-3).labels == ()


def test_saturated_and_silent_hidden_layers_are_named_by_layer():
    # 400 Hz is the largest rate at t_ref 2 ms and dt 0.5 ms; above 3/4 of it is saturated
    found = health.diagnose(_counts(0, 360), 0.5, [60.0, 301.0, 0.5], 10, 2e-3, 0.5e-3)
    assert found.labels == ("saturated_hidden_2", "silent_hidden_3")
    assert found.column == "saturated_hidden_2+silent_hidden_3"
    assert health.diagnose(_counts(0, 360), 0.5, [299.0, 1.0], 10, 2e-3, 0.5e-3).labels == ()
    text = found.text
    assert "hidden layer 2 saturated (301.0 Hz, max 400 Hz)" in text and "hidden layer 3 silent (0.5 Hz" in text


def test_below_chance_without_another_cause_is_flagged():
    assert health.diagnose(_counts(0, 360), 0.05, [50.0], 10, 2e-3, 0.5e-3).labels == ("below_chance",)
    assert health.diagnose(_counts(0, 360), 0.10, [50.0], 10, 2e-3, 0.5e-3).labels == ()


def test_collapse_column_reads_back_as_text(tmp_path):
    rows = [{"epoch": 1, "test_acc": 0.0, "silent_frac": 1.0, "collapse": "silent_output+saturated_hidden_2"},
            {"epoch": 2, "test_acc": 0.9, "silent_frac": 0.0, "collapse": ""}]
    write_metrics(tmp_path / "metrics.csv", rows)
    back = read_metrics(tmp_path / "metrics.csv")
    assert back[0]["collapse"] == "silent_output+saturated_hidden_2" and back[1]["collapse"] == ""
    assert back[0]["silent_frac"] == 1.0


@pytest.mark.slow
@pytest.mark.standalone
def test_the_collapse_of_dfa_without_derivative_in_two_layers_is_reported(tmp_path):
    """dfa --post none with two hidden layers and the plain settings (the
    fan-in start, the raw error, no regulariser: the defaults before the
    deep-network ones) drives the hidden layers to 140-170 Hz and silences
    the outputs (test accuracy 0.000, below chance): the epoch line and
    metrics.csv say so."""
    out = tmp_path / "run"
    buf = io.StringIO()
    with redirect_stdout(buf):
        code = main(["train", "--rule", "dfa", "--post", "none", "--hidden", "100", "100", "--epochs", "1",
                     "--init", "fan_in", "--no-zero-mean-error", "--rate-reg", "0",
                     "--seed", "0", "--quiet", "--out", str(out)])
    assert code == 0
    with open(out / "metrics.csv") as f:
        row = next(csv.DictReader(f))
    assert float(row["test_acc"]) < 0.1  # below chance ...
    assert "silent_output" in row["collapse"].split("+")  # ... and flagged, with its cause
    assert float(row["silent_frac"]) >= 0.5
    epoch_line = next(line for line in buf.getvalue().splitlines() if line.split()[:1] == ["1"])
    assert "COLLAPSED: outputs silent on" in epoch_line
    assert "warning: the network collapsed in the last epoch" in buf.getvalue()


def test_a_run_with_an_expression_records_the_expression(tmp_path):
    rule = TrainConfig(post_expr="psi_post * x_post").make_rule()
    assert rule.post == "expr" and rule.post_label == "post_expr psi_post * x_post"
    assert rule.post_factor() == "psi_post * x_post"
    spec = TrainConfig(post_expr="psi_post * x_post").network_spec(64, 10)
    recorded = json.loads(json.dumps(spec.to_dict()))["rule"]
    assert recorded["post"] == "expr" and recorded["post_expr"] == "psi_post * x_post"
    # the named factor when no expression replaces it
    assert TrainConfig(post="activity").make_rule().post_label == "activity"


def test_an_expression_given_later_replaces_the_model_files_post():
    """An option after a model file (or a sweep axis over its base) replaces
    the file's factor; both in one source are refused."""
    from brianrules.training import load_model_file, override

    model = os.path.join(os.path.dirname(__file__), "..", "models", "dfa_digits.toml")
    settings = override(load_model_file(model), {"post_expr": "psi_post * x_post"})
    assert "post" not in settings and settings["lr"] == 2.0
    assert TrainConfig.from_dict(settings).make_rule().post_label == "post_expr psi_post * x_post"
    assert override({"post_expr": "x_post"}, {"post": "none"}) == {"post": "none"}
    with pytest.raises(ValueError, match="both set the hidden layers' postsynaptic factor"):
        TrainConfig(post="none", post_expr="x_post").make_rule()


def test_feedback_angles_against_their_definition():
    from brianrules.metrics import feedback_angles, matrix_angle_deg

    rng = np.random.default_rng(0)
    W = [rng.normal(size=(8, 6)), rng.normal(size=(6, 4)), rng.normal(size=(4, 3))]
    assert matrix_angle_deg(W[1], W[1]) == pytest.approx(0.0, abs=1e-6)
    assert matrix_angle_deg(W[1], -W[1]) == pytest.approx(180.0)
    B = [W[1].T.copy(), rng.normal(size=(3, 4))]
    angles = feedback_angles(W, B)
    assert angles[0] == pytest.approx(0.0, abs=1e-6)
    a, b = B[1].ravel(), W[2].T.ravel()
    assert angles[1] == pytest.approx(np.degrees(np.arccos(a @ b / np.linalg.norm(a) / np.linalg.norm(b))))
    assert 30 < angles[1] < 150  # independent random matrices are far from aligned
