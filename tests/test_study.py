"""`brianrules sweep` and `brianrules plot`: spec expansion, parallel points
sharing compiled programs, fault isolation, resumption, Dask, and reports."""

import csv
import json
import os
import signal
import subprocess
import sys
import time

import pytest

from brianrules import study as sw
from brianrules.cli import main

# a small network and short samples: a point trains in a few seconds
BASE = """
[base]
model = "dfa_digits.toml"
epochs = 2
t_sample_ms = 20.0
hidden = [12]
"""


def _spec(tmp_path, text, name="spec.toml"):
    path = tmp_path / name
    path.write_text(BASE + text)
    return str(path)


def _rows(folder):
    with open(os.path.join(folder, "results.csv")) as f:
        return list(csv.DictReader(f))


def _status(folder):
    out = {}
    for pid in os.listdir(os.path.join(folder, "points")):
        s = sw.read_status(os.path.join(folder, "points", pid))
        out[pid] = s and s["status"]
    return out


# -- the spec: fast, nothing compiled ------------------------------------
def test_grid_tables_and_random_axes_expand_to_checked_points(tmp_path):
    spec = _spec(tmp_path, """
[grid]
lr_scale = [0.5, 1.0, 2.0]
variant = [{label = "srbp", rule = "dfa", post = "surrogate"}, {rule = "fa"}]
hidden = [[12], [12, 12]]
[random]
n = 2
seed = 4
tau_m_ms = { uniform = [5.0, 20.0] }
lr_hidden = { log_uniform = [0.01, 1.0] }
surrogate = ["fast_sigmoid", "arctan"]
""")
    _, points = sw.load_spec(spec)
    assert len(points) == 3 * 2 * 2 * 2
    assert len({p.id for p in points}) == len(points)
    labels = {p.axes["variant"] for p in points}
    assert labels == {"srbp", "rule=fa"}
    assert {p.axes["hidden"] for p in points} == {"12", "12-12"}
    fa = [p for p in points if p.axes["variant"] == "rule=fa"]
    assert all(p.settings["rule"] == "fa" and p.settings["post"] == "surrogate" for p in fa)  # base model's post
    taus = sorted({p.settings["tau_m_ms"] for p in points})
    assert len(taus) == 2 and all(5.0 <= t <= 20.0 for t in taus)
    assert all(0.01 <= p.settings["lr_hidden"] <= 1.0 for p in points)
    # the base model's values and the spec's base override
    assert all(p.settings["epochs"] == 2 and p.settings["t_sample_ms"] == 20.0 for p in points)
    # the same spec gives the same points (ids are hashes of the settings)
    assert [p.id for p in sw.load_spec(spec)[1]] == [p.id for p in points]
    # a setting at its default does not enter the id: adding one keeps the ids
    p = points[0]
    assert sw.point_id({**p.settings, "a_new_setting": None}) != p.id
    assert sw.point_id({k: v for k, v in p.settings.items() if k != "dtype"}) == p.id


@pytest.mark.parametrize("text,match", [
    ("[grid]\nlr_scal = [1.0]\n", "unknown key 'lr_scal'"),
    ("[grid]\nlr_scale = [1.0, -1.0]\n", "lr_scale must be positive"),
    ("[grid]\nrule = [\"dfa\", \"bp\"]\n", "unknown rule 'bp'"),
    ("[grid]\nlr_scale = []\n", "grid axis 'lr_scale' must be a non-empty list"),
    ("[random]\nn = 3\ntau_m_ms = { normal = [1.0, 2.0] }\n", "random axis 'tau_m_ms'"),
    ("[random]\nn = 0\nseed = 1\ntau_m_ms = [5.0]\n", "positive number of samples"),
    ("[grids]\nseed = [1]\n", "unknown section or key 'grids'"),
])
def test_bad_spec_is_named_before_anything_runs(tmp_path, text, match):
    spec = _spec(tmp_path, text)
    with pytest.raises(ValueError, match=match):
        sw.sweep(spec, str(tmp_path / "out"), log=lambda *a: None)
    assert not (tmp_path / "out").exists()


def test_bad_equation_in_a_point_is_refused_before_compiling(tmp_path, capsys):
    spec = _spec(tmp_path, '[grid]\npost_expr = ["psi_post", "psi_post * v_post"]\n')
    assert main(["sweep", spec, "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert "post_expr 'psi_post * v_post'" in err and "dimension" in err.lower()
    assert not (tmp_path / "out" / "points").exists()


def test_a_folder_of_another_sweep_is_refused(tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (out / "sweep.json").write_text(json.dumps({"spec": {"base": {}}, "spec_path": "other.toml"}))
    with pytest.raises(ValueError, match="holds a sweep of another spec"):
        sw.prepare(_spec(tmp_path, "[grid]\nseed = [0]\n"), str(out))
    (out / "sweep.json").unlink()
    (out / "notes.txt").write_text("mine")
    with pytest.raises(ValueError, match="not empty and holds no sweep"):
        sw.prepare(_spec(tmp_path, "[grid]\nseed = [0]\n"), str(out))
    assert (out / "notes.txt").read_text() == "mine"


def test_a_spec_that_adds_points_goes_on_in_the_folder(tmp_path):
    """A study given another seed (or a variant) keeps the folder and its
    points; a spec that leaves out one of the folder's points is refused."""
    from dataclasses import asdict

    from brianrules.study.spec import load_spec

    out = tmp_path / "out"
    out.mkdir()
    first = _spec(tmp_path, "[grid]\nseed = [0]\n", name="first.toml")
    spec, points = load_spec(first)
    (out / "sweep.json").write_text(json.dumps({"spec": spec, "spec_path": first,
                                                "points": [asdict(p) for p in points]}))
    more, more_points = sw.prepare(_spec(tmp_path, "[grid]\nseed = [0, 1]\n", name="more.toml"), str(out))
    assert more != spec and {p.id for p in points} < {p.id for p in more_points}
    with pytest.raises(ValueError, match="holds a sweep of another spec"):
        sw.prepare(_spec(tmp_path, "[grid]\nseed = [1, 2]\n", name="other.toml"), str(out))


@pytest.mark.parametrize("path", sorted(
    os.path.join("models", "sweeps", f) for f in os.listdir(os.path.join("models", "sweeps")) if f.endswith(".toml")))
def test_every_shipped_sweep_expands_to_settings_that_build_a_network(path):
    """Each point of a shipped study is a valid training: its settings pass
    the checks and give a network (nothing is built)."""
    from brianrules.study.spec import load_spec
    from brianrules.training import TrainConfig

    _, points = load_spec(path)
    assert points
    for p in points:
        cfg = TrainConfig.from_dict(p.settings, source=path)
        cfg.validate()
        spec = cfg.network_spec(784 if cfg.dataset == "mnist5k" else 64, 10)
        if spec.rule.gradient:  # what train() checks before anything is written
            from brianrules.engines.bptt import check_trainable

            check_trainable(spec)


# -- running sweeps ------------------------------------------------------
@pytest.fixture(scope="module")
def finished(tmp_path_factory):
    """Four points on two processes; one of them diverges (a tiny weight bound)."""
    tmp = tmp_path_factory.mktemp("sweep")
    spec = _spec(tmp, "[grid]\nlr_scale = [0.5, 1.0]\nw_bound = [100.0, 0.01]\n")
    out = str(tmp / "out")
    lines = []
    rows = sw.sweep(spec, out, jobs=2, log=lines.append)
    return spec, out, rows, lines


@pytest.mark.slow
@pytest.mark.standalone
def test_sweep_runs_points_in_parallel_and_isolates_failures(finished):
    spec, out, rows, lines = finished
    status = _status(out)
    assert sorted(status.values()) == ["diverged", "diverged", "done", "done"]
    # progress: points ended, running and left, and the time left
    progress = [line for line in lines if line.startswith("[")]
    assert len(progress) == 4
    assert "4/4 ended" in progress[-1] and "0 left" in progress[-1] and "to go" in progress[0]
    # every point of one structure used one compiled program: at most one compile
    logs = [open(os.path.join(out, "points", pid, "log.txt")).read() for pid in status]
    assert sum("build: compiled" in text for text in logs) <= 1
    builds = {line.split("(")[-1] for text in logs for line in text.splitlines() if line.startswith("build:")}
    assert len(builds) == 1
    # tidy results: one row per point and epoch, every parameter and metric
    table = _rows(out)
    done = [r for r in table if r["status"] == "done"]
    assert len(done) == 4 and {r["epoch"] for r in done} == {"1", "2"}
    for r in done:
        assert float(r["w_bound"]) == 100.0 and r["axis_lr_scale"] in ("0.5", "1.0")
        assert 0.0 <= float(r["test_acc"]) <= 1.0 and r["tau_m_ms"] == "10.0" and r["hidden"] == "[12]"
    diverged = [r for r in table if r["status"] == "diverged"]
    assert diverged and all("diverged" in r["error"] for r in diverged)
    # each point's folder: its settings, results and weights
    for pid in status:
        folder = os.path.join(out, "points", pid)
        assert json.load(open(os.path.join(folder, "point.json")))["id"] == pid
        assert os.path.exists(os.path.join(folder, "run", "config.json"))
    assert all(os.path.exists(os.path.join(out, "points", r["point"], "run", "weights.npz")) for r in done)


@pytest.mark.slow
@pytest.mark.standalone
def test_rerun_skips_ended_points(finished):
    spec, out, _, _ = finished
    before = {pid: os.path.getmtime(os.path.join(out, "points", pid, "status.json")) for pid in _status(out)}
    lines = []
    sw.sweep(spec, out, jobs=2, log=lines.append)
    assert any("4 ended before, 0 to run" in line for line in lines)
    after = {pid: os.path.getmtime(os.path.join(out, "points", pid, "status.json")) for pid in before}
    assert after == before


@pytest.mark.slow
@pytest.mark.standalone
def test_a_kept_record_goes_on_where_the_study_stopped(finished, tmp_path):
    """scripts/study_records.py: the ended points' settings and metrics,
    copied into a new folder, are results there and are not run again."""
    import importlib.util

    spec, out, _, _ = finished
    path = os.path.join(os.path.dirname(__file__), "..", "scripts", "study_records.py")
    module = importlib.util.spec_from_file_location("study_records", path)
    records = importlib.util.module_from_spec(module)
    module.loader.exec_module(records)
    record, again = str(tmp_path / "record"), str(tmp_path / "again")
    records.keep(out, record)
    kept = {os.path.relpath(os.path.join(d, f), record) for d, _, fs in os.walk(record) for f in fs}
    assert not [f for f in kept if f.endswith((".npz", ".png"))] and len(kept) == 1 + 4 * 4
    records.resume(record, again)
    lines = []
    rows = sw.sweep(spec, again, jobs=1, log=lines.append)
    assert any("4 ended before, 0 to run" in line for line in lines)
    assert _status(again) == _status(out)
    assert sorted((r["point"], r["epoch"], r["test_acc"]) for r in _rows(again)) == \
        sorted((r["point"], r["epoch"], r["test_acc"]) for r in _rows(out)) and rows


@pytest.mark.slow
@pytest.mark.standalone
def test_plot_writes_figures_and_summary(finished):
    _, out, _, _ = finished
    assert main(["plot", out, "--heatmap", "lr_scale", "w_bound", "--curves", "w_bound"]) == 0
    for name in ("heatmap_test_acc_lr_scale_w_bound.png", "curves_test_acc_by_w_bound.png",
                 "test_acc_vs_lr_scale.png"):
        assert os.path.getsize(os.path.join(out, "plots", name)) > 5000
    text = open(os.path.join(out, "summary.md")).read()
    assert "| lr_scale | w_bound | runs |" in text
    # diverged points are counted per condition, not averaged in
    line = next(line for line in text.splitlines() if line.startswith("| 0.5 | 0.01 |"))
    assert line.split("|")[4].strip() == "–" and line.split("|")[6].strip() == "1"
    assert "largest stable lr_scale" in text
    pivot = text.split("## Final test_acc against lr_scale")[1]
    assert "| 0.01 | – (1D of 1) | – (1D of 1) |" in pivot
    with pytest.raises(ValueError, match="unknown axis 'tau'"):
        from brianrules.study import report

        report(out, curves="tau")


def test_an_interrupt_while_the_points_are_checked_stops_the_sweep(tmp_path, monkeypatch):
    """SIGINT while the points are checked (a large study takes a while)
    stops the sweep before anything is written, also in a process that
    started with SIGINT ignored (in the background), whose handler it keeps."""
    from brianrules.study import run as sweep_run

    def checking(points, log=print):
        os.kill(os.getpid(), signal.SIGINT)
        time.sleep(5)  # the handler raises here
        raise AssertionError("the interrupt did not stop the checks")

    monkeypatch.setattr(sweep_run, "preflight_points", checking)
    before = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        lines = []
        with pytest.raises(KeyboardInterrupt):
            sw.sweep(_spec(tmp_path, "[grid]\nseed = [0]\n"), str(tmp_path / "out"), log=lines.append)
        assert signal.getsignal(signal.SIGINT) is signal.SIG_IGN
    finally:
        signal.signal(signal.SIGINT, before)
    assert any("interrupted while checking the points" in line for line in lines)
    assert not (tmp_path / "out" / "points").exists()


@pytest.mark.slow
@pytest.mark.standalone
def test_interrupted_sweep_finishes_only_missing_points(tmp_path):
    spec = _spec(tmp_path, "[grid]\nseed = [0, 1, 2]\n")
    out = tmp_path / "out"
    proc = subprocess.Popen([sys.executable, "-m", "brianrules.cli", "sweep", spec, "--out", str(out),
                             "--jobs", "1"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    deadline = time.time() + 300
    while time.time() < deadline:  # wait for the first point to end
        if out.exists() and (out / "points").exists() and any(v for v in _status(out).values()):
            break
        time.sleep(0.5)
    proc.send_signal(signal.SIGINT)
    text, _ = proc.communicate(timeout=120)
    assert proc.returncode == 130, text
    assert "interrupted" in text
    ended = {pid: s for pid, s in _status(out).items() if s}
    assert 1 <= len(ended) < 3 and set(ended.values()) == {"done"}
    stamps = {pid: os.path.getmtime(out / "points" / pid / "status.json") for pid in ended}
    lines = []
    sw.sweep(spec, str(out), jobs=1, log=lines.append)
    assert any(f"{len(ended)} ended before, {3 - len(ended)} to run" in line for line in lines)
    assert set(_status(out).values()) == {"done"}
    assert {pid: os.path.getmtime(out / "points" / pid / "status.json") for pid in ended} == stamps
    assert len(_rows(out)) == 3 * 2


@pytest.mark.slow
@pytest.mark.standalone
def test_a_crashing_point_is_recorded_and_the_others_go_on(tmp_path):
    spec = _spec(tmp_path, "[grid]\nseed = [0, 1]\n")
    out = tmp_path / "out"
    spec_dict, points = sw.prepare(spec, str(out))
    # the point's process dies: its settings cannot even be read
    folder = out / "points" / points[0].id
    folder.mkdir(parents=True)
    (out / "sweep.json").write_text(json.dumps({"spec": spec_dict}))
    (folder / "point.json").write_text(json.dumps({"id": points[0].id, "settings": {"tau": 1}, "axes": {}}))
    sw.sweep(spec, str(out), jobs=2, log=lambda *a: None)
    status = {pid: sw.read_status(str(out / "points" / pid)) for pid in (p.id for p in points)}
    assert status[points[0].id]["status"] == "failed"
    assert "exited with code 1" in status[points[0].id]["error"]
    assert status[points[1].id]["status"] == "done"


@pytest.mark.slow
@pytest.mark.standalone
def test_dask_executor_runs_points_on_a_cluster(tmp_path):
    from distributed import LocalCluster

    spec = _spec(tmp_path, "[grid]\nlr_scale = [0.5, 1.0]\n")
    out = tmp_path / "out"
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=False, dashboard_address=None) as cluster:
        assert main(["sweep", spec, "--out", str(out), "--executor", "dask",
                     "--scheduler", cluster.scheduler_address]) == 0
    assert set(_status(out).values()) == {"done"}
    assert len(_rows(out)) == 2 * 2


def test_dask_executor_needs_a_scheduler(tmp_path):
    with pytest.raises(ValueError, match="needs --scheduler"):
        sw.sweep(_spec(tmp_path, "[grid]\nseed = [0]\n"), str(tmp_path / "o"), executor="dask")


def test_a_second_sweep_in_the_same_folder_is_refused(tmp_path):
    import fcntl

    spec = _spec(tmp_path, "[grid]\nseed = [0]\n")
    out = tmp_path / "out"
    out.mkdir()
    (out / "sweep.json").write_text(json.dumps({"spec": sw.load_spec(spec)[0]}))  # the first sweep's
    with open(out / ".sweep.lock", "a") as held:
        fcntl.flock(held, fcntl.LOCK_EX | fcntl.LOCK_NB)  # as a running sweep holds it
        with pytest.raises(ValueError, match="another `brianrules sweep` is running"):
            sw.sweep(spec, str(out), log=lambda *a: None)
    assert not list((out / "points").iterdir())  # no point was started
