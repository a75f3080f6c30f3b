"""Behaviour: `brianrules train` learns digits, compiles once, resumes, and
reproduces itself with the same seed."""

import csv
import json
import os
import shutil
import signal
import subprocess
import sys
import time

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
    shutil.copy(out / "weights.npz", out.parent / "weights_epoch3.npz")
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
    if os.path.isdir(os.path.join(os.path.dirname(__file__), "..", ".git")):
        commit = cfg["git_commit"]
        assert isinstance(commit, str) and len(commit) == 40 and int(commit, 16) >= 0
    with np.load(out / "weights.npz") as z:
        assert z["w_1"].shape == (64, 100) and z["w_2"].shape == (100, 10) and z["B_1"].shape == (10, 100)
        assert int(z["epoch"]) == 3
    png = (out / "learning_curve.png").read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 5000
    # one build for the whole command (compiled, or reused from the session's cache where another
    # test built this structure first), and the time of every epoch
    builds = [line for line in log.splitlines() if line.startswith("build: ")]
    assert len(builds) == 1 and builds[0].startswith(("build: compiled in", "build: reused the cached program",
                                                      "build: started the finished program")), builds
    assert sum(1 for line in log.splitlines() if line.split()[:1] in (["1"], ["2"], ["3"])) == 3


def test_resume_continues_and_reuses_the_build(trained, capsys):
    out, _ = trained
    code = main(ARGS + ["--epochs", "4", "--out", str(out), "--resume"])
    log = capsys.readouterr().out
    assert code == 0
    assert "resuming" in log and "started the finished program" in log
    rows = _metrics(out)
    assert [int(r["epoch"]) for r in rows] == [1, 2, 3, 4]
    # the per-layer columns: one hidden layer's rate is the network-wide mean, and
    # dw_rel_k is the epoch's weight change relative to the checkpoint before it
    assert float(rows[3]["rate_hz_h1"]) == float(rows[3]["hidden_rate_hz"]) > 0
    with np.load(out.parent / "weights_epoch3.npz") as a, np.load(out / "weights.npz") as b:
        for k in (1, 2):
            before, after = a[f"w_{k}"], b[f"w_{k}"]
            expect = np.linalg.norm(after - before) / np.linalg.norm(before)
            assert expect > 0
            assert float(rows[3][f"dw_rel_{k}"]) == pytest.approx(expect, rel=1e-9)


def test_metrics_of_an_older_run_resume_with_blank_per_layer_columns(tmp_path):
    """A metrics.csv written before the per-layer columns existed is read and
    extended: the old rows get blanks, read back as NaN, the new rows values."""
    from brianrules.metrics import METRIC_COLUMNS, layer_columns, read_metrics, write_metrics

    old = {k: 0.5 for k in METRIC_COLUMNS} | {"epoch": 1}
    write_metrics(tmp_path / "metrics.csv", [old])
    assert _metrics(tmp_path)[0].keys() == set(METRIC_COLUMNS)
    rows = read_metrics(tmp_path / "metrics.csv")
    assert layer_columns(2) == ["rate_hz_h1", "rate_hz_h2", "dw_rel_1", "dw_rel_2", "dw_rel_3"]
    new = {k: 0.25 for k in METRIC_COLUMNS + layer_columns(2)} | {"epoch": 2}
    write_metrics(tmp_path / "metrics.csv", rows + [new])
    back = read_metrics(tmp_path / "metrics.csv")
    assert list(back[0]) == METRIC_COLUMNS + layer_columns(2)
    assert np.isnan(back[0]["dw_rel_3"]) and back[0]["test_acc"] == 0.5
    assert back[1]["dw_rel_3"] == 0.25 and back[1]["epoch"] == 2


def test_learning_curve_shows_the_layers_where_the_metrics_have_them(tmp_path):
    """Three panels (accuracy, per-layer rates, per-projection weight
    changes) where the rows have per-layer columns, one panel where not."""
    import struct

    from brianrules.plots import learning_curve
    from brianrules.metrics import METRIC_COLUMNS, layer_columns

    rows = [{k: 0.1 * e for k in METRIC_COLUMNS + layer_columns(3)} | {"epoch": e} for e in (1, 2, 3)]

    def width(path):  # from the PNG's IHDR chunk
        return struct.unpack(">I", path.read_bytes()[16:20])[0]

    learning_curve(rows, tmp_path / "layers.png")
    learning_curve([{k: r[k] for k in METRIC_COLUMNS} for r in rows], tmp_path / "plain.png")
    assert width(tmp_path / "layers.png") > 2 * width(tmp_path / "plain.png")


def test_second_start_generates_and_compiles_nothing(trained, tmp_path, capfd, monkeypatch):
    """The finished program's stamp lets a second start skip the equation
    check, code generation and make; a stamp that does not match (another
    Brian2, other compiler flags) builds again and writes a new one."""
    from brian2.devices.cpp_standalone.device import CPPStandaloneDevice

    import brianrules.training.loop as training
    from brianrules import paths, program

    cache = paths.cache_dir()
    stamps = [os.path.join(cache, d, program.BUILD_STAMP) for d in os.listdir(cache)
              if os.path.isfile(os.path.join(cache, d, program.BUILD_STAMP))]
    assert stamps
    with monkeypatch.context() as m:
        m.setattr(training, "preflight", lambda spec: pytest.fail("preflight ran for a finished program"))
        m.setattr(CPPStandaloneDevice, "build", lambda *a, **k: pytest.fail("the finished program was built again"))
        assert main(ARGS + ["--epochs", "1", "--out", str(tmp_path / "second")]) == 0
    assert "build: started the finished program" in capfd.readouterr().out
    first, second = _metrics(trained[0])[0], _metrics(tmp_path / "second")[0]
    assert first["test_acc"] == second["test_acc"] and first["train_acc"] == second["train_acc"]
    # a stamp from another Brian2 version: generate and make again
    for path in stamps:
        stamp = json.load(open(path))
        stamp["brian2"] = "0.0"
        json.dump(stamp, open(path, "w"))
    assert main(ARGS + ["--epochs", "1", "--out", str(tmp_path / "third")]) == 0
    assert "build: reused the cached program" in capfd.readouterr().out
    assert any(json.load(open(p))["brian2"] == "2.10.1" for p in stamps)
    # progress reports are code of their own: the quiet program is not reused for Brian2's text lines
    loud = [a for a in ARGS if a != "--quiet"]
    assert main(loud + ["--epochs", "1", "--out", str(tmp_path / "loud"), "--verbose"]) == 0
    out = capfd.readouterr().out
    assert "build: reused the cached program" in out and "Starting simulation at t=0 s" in out


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


def test_divergence_stops_and_keeps_the_last_good_epoch(trained, tmp_path, capsys):
    """Runs are reproducible, so a bound between the largest weight after
    epoch 1 and after epoch 2 must stop the same run in epoch 2."""
    out, _ = trained
    rows = _metrics(out)
    m1, m2 = float(rows[0]["max_abs_w"]), float(rows[1]["max_abs_w"])
    assert m2 > m1
    run = tmp_path / "diverging"
    code = main(ARGS + ["--epochs", "3", "--out", str(run), "--w-bound", str((m1 + m2) / 2)])
    err = capsys.readouterr().err
    assert code == 1
    assert "epoch 2: weights of projection" in err and "kept the checkpoint of epoch 1" in err
    assert [int(r["epoch"]) for r in _metrics(run)] == [1]
    with np.load(run / "weights.npz") as z:
        assert int(z["epoch"]) == 1
        assert np.all(np.isfinite(z["w_1"])) and np.abs(z["w_2"]).max() <= (m1 + m2) / 2


def test_killed_training_resumes_to_the_same_result(trained, tmp_path):
    """SIGKILL in the middle of epoch 2, then --resume: the same metrics and
    weights as the uninterrupted run with the same seed."""
    out, _ = trained
    run = tmp_path / "killed"
    cmd = [sys.executable, "-m", "brianrules.cli"] + ARGS + ["--epochs", "3", "--out", str(run)]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)
    deadline = time.time() + 300
    while time.time() < deadline and proc.poll() is None:
        if (run / "metrics.csv").exists() and len(_metrics(run)) >= 1:
            break
        time.sleep(0.05)
    time.sleep(0.3)  # into epoch 2 (an epoch takes a few seconds)
    assert proc.poll() is None, "the training ended before it could be killed"
    os.killpg(proc.pid, signal.SIGKILL)  # the Python process and the C++ program
    proc.wait()
    done = [int(r["epoch"]) for r in _metrics(run)]
    assert done in ([1], [1, 2])  # killed before the end
    with np.load(run / "weights.npz") as z:  # every file in place is whole
        assert int(z["epoch"]) == done[-1]
    resumed = subprocess.run(cmd + ["--resume"], capture_output=True, text=True, timeout=600)
    assert resumed.returncode == 0, resumed.stderr
    ref = _metrics(out)[:3]
    got = _metrics(run)
    for a, b in zip(ref, got):
        for col in ("epoch", "train_acc", "test_acc", "max_abs_w", "hidden_rate_hz"):
            assert a[col] == b[col], col
    with np.load(out.parent / "weights_epoch3.npz") as a, np.load(run / "weights.npz") as b:
        for key in ("w_1", "w_2", "B_1"):
            assert np.array_equal(a[key], b[key]), key


def test_two_trainings_at_once_share_one_program(trained, tmp_path):
    """Two commands of the same model run side by side on one compiled
    program, each with its own results; afterwards the build folder holds
    neither their results nor their run values."""
    outs = [tmp_path / "a", tmp_path / "b"]
    procs = [subprocess.Popen([sys.executable, "-m", "brianrules.cli"] + ARGS
                              + ["--epochs", "1", "--out", str(o), "--seed", str(k)],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for k, o in enumerate(outs)]
    logs = [p.communicate(timeout=600) for p in procs]
    for p, (out, err) in zip(procs, logs):
        assert p.returncode == 0, err
    build_dirs = [next(line for line in out.splitlines() if line.startswith("build:")).split("(")[-1]
                  for out, _ in logs]
    assert build_dirs[0] == build_dirs[1]
    assert sum("build: compiled" in out for out, _ in logs) <= 1
    build = build_dirs[0].rstrip(")")
    assert os.path.exists(os.path.join(build, "main"))
    assert not [n for n in os.listdir(build) if n.startswith("results-")]
    assert not [n for n in os.listdir(os.path.join(build, "static_arrays")) if n.startswith("init_")]
    for o in outs:
        assert [int(r["epoch"]) for r in _metrics(o)] == [1]
        assert (o / "weights.npz").exists() and (o / "learning_curve.png").exists()


@pytest.mark.parametrize("rule", ["fa", "symmetric", "erbp", "superspike", "eprop"])
def test_other_rules_learn_digits(rule, tmp_path, capsys):
    """Three epochs (50 ms per sample) of each rule's defaults: far above the
    10% of chance, on held-out data with frozen weights."""
    args = list(ARGS)
    args[args.index("--rule") + 1] = rule
    assert main(args + ["--epochs", "3", "--out", str(tmp_path / rule)]) == 0
    rows = _metrics(tmp_path / rule)
    assert float(rows[-1]["test_acc"]) >= 0.75, rows
    assert float(rows[-1]["train_acc"]) >= 0.7, rows
