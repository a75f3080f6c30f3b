"""Behaviour: `brianrules train` learns digits, compiles once, resumes, and
reproduces itself with the same seed."""

import csv
import json

import numpy as np
import pytest

from brianrules.cli import main

pytestmark = [pytest.mark.slow, pytest.mark.standalone]

ARGS = ["train", "--rule", "dfa", "--dataset", "digits", "--hidden", "100", "--t-sample", "50",
        "--device", "cpp_standalone", "--seed", "3", "--quiet"]


def _metrics(path):
    with open(path / "metrics.csv") as f:
        return list(csv.DictReader(f))


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    out = tmp_path_factory.mktemp("train") / "run"
    import io
    from contextlib import redirect_stdout

    buf = io.StringIO()
    with redirect_stdout(buf):
        code = main(ARGS + ["--epochs", "3", "--out", str(out)])
    assert code == 0
    return out, buf.getvalue()


def test_train_writes_results_and_learns(trained):
    out, log = trained
    rows = _metrics(out)
    assert [int(r["epoch"]) for r in rows] == [1, 2, 3]
    for col in ("epoch", "train_acc", "test_acc", "wall_s"):
        assert col in rows[0]
    # chance is 10%; three epochs of dfa reach well above it
    assert float(rows[-1]["test_acc"]) >= 0.75
    assert float(rows[-1]["train_acc"]) >= 0.75
    assert float(rows[-1]["train_acc"]) > float(rows[0]["train_acc"]) - 0.05
    cfg = json.load(open(out / "config.json"))
    assert cfg["train"]["seed"] == 3 and cfg["versions"]["brian2"] == "2.10.1"
    with np.load(out / "weights.npz") as z:
        assert z["w_1"].shape == (64, 100) and z["w_2"].shape == (100, 10) and z["B_1"].shape == (10, 100)
        assert int(z["epoch"]) == 3
    png = (out / "learning_curve.png").read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 5000
    # one compile for the whole command, and the time of every epoch
    assert log.count("build: compiled in") == 1
    assert sum(1 for line in log.splitlines() if line.split()[:1] in (["1"], ["2"], ["3"])) == 3


def test_resume_continues_and_reuses_the_build(trained, capsys):
    out, _ = trained
    code = main(ARGS + ["--epochs", "4", "--out", str(out), "--resume"])
    log = capsys.readouterr().out
    assert code == 0
    assert "resuming" in log and "reused the cached program" in log
    rows = _metrics(out)
    assert [int(r["epoch"]) for r in rows] == [1, 2, 3, 4]


def test_same_seed_same_numbers(trained, tmp_path, capsys):
    out, _ = trained
    other = tmp_path / "again"
    assert main(ARGS + ["--epochs", "1", "--out", str(other)]) == 0
    first, again = _metrics(out)[0], _metrics(other)[0]
    assert first["train_acc"] == again["train_acc"] and first["test_acc"] == again["test_acc"]
    third = tmp_path / "seed4"
    args = list(ARGS)
    args[args.index("--seed") + 1] = "4"
    assert main(args + ["--epochs", "1", "--out", str(third)]) == 0
    with np.load(other / "weights.npz") as a, np.load(third / "weights.npz") as b:
        assert not np.array_equal(a["w_1"], b["w_1"])
