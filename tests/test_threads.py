"""``--threads auto``: one thread for small networks, every core (up to
`devices.AUTO_THREADS_MAX`) from `devices.AUTO_THREADS_SYNAPSES` synapses;
a sweep's points share the cores; a resume may change the threads."""

import dataclasses

import pytest

from brianrules import devices
from brianrules.cli import main
from brianrules.training import TrainConfig
from conftest import small_spec


def _spec(n_in, hidden, n_out):
    return small_spec(n_in=n_in, hidden=tuple(hidden), n_out=n_out)


def test_auto_is_one_thread_below_the_crossover_and_two_above(monkeypatch):
    monkeypatch.setenv(devices.CORES_VARIABLE, "8")
    clock = devices.AUTO_THREADS_SYNAPSES["clock"]
    small = _spec(64, [100], 10)  # 7400 synapses
    assert devices.resolve_threads("auto", small) == 1
    large = _spec(784, [1000], 10)  # 794,000 synapses
    assert devices.resolve_threads("auto", large) == devices.AUTO_THREADS_MAX == 2
    # the event-driven form ran no measured network faster on 2 threads: 1 at every size
    assert devices.AUTO_THREADS_SYNAPSES["event"] is None
    assert devices.resolve_threads("auto", dataclasses.replace(large, rule=large.rule.event_driven())) == 1
    # exactly at the clock-driven crossover: 2 threads; one input fewer (100 synapses): 1
    n_in = clock // 100 - 10
    at, below = _spec(n_in, [100], 10), _spec(n_in - 1, [100], 10)
    assert sum(a * b for a, b in at.projection_shapes) == clock
    assert devices.resolve_threads("auto", at) == 2
    assert devices.resolve_threads("auto", below) == 1
    # one core, another device, or a number: as given
    monkeypatch.setenv(devices.CORES_VARIABLE, "1")
    assert devices.resolve_threads("auto", large) == 1
    monkeypatch.setenv(devices.CORES_VARIABLE, "8")
    assert devices.resolve_threads("auto", large, "runtime") == 1
    assert devices.resolve_threads("auto", large, "cuda_standalone") == 1
    assert devices.resolve_threads(3, small) == 3


def test_cores_variable_must_be_a_number(monkeypatch):
    monkeypatch.setenv(devices.CORES_VARIABLE, "many")
    with pytest.raises(ValueError, match="BRIANRULES_CORES must be a number of cores, got 'many'"):
        devices.available_cores()
    monkeypatch.delenv(devices.CORES_VARIABLE)
    assert devices.available_cores() >= 1


def test_auto_leaves_the_cores_that_other_processes_keep_busy(monkeypatch, tmp_path):
    loadavg = tmp_path / "loadavg"
    loadavg.write_text("2.10 1.90 1.50 3/412 12345\n")  # this reader and two others runnable
    assert devices.busy_cores(str(loadavg), reads=2, pause_s=0) == 2
    loadavg.write_text("0.10 0.20 0.30 1/412 12345\n")  # the reader alone
    assert devices.busy_cores(str(loadavg), reads=2, pause_s=0) == 0
    assert devices.busy_cores(str(tmp_path / "none"), reads=2, pause_s=0) == 0  # unknown: none busy
    monkeypatch.delenv(devices.CORES_VARIABLE, raising=False)
    monkeypatch.setattr(devices, "usable_cores", lambda: 2)
    large = _spec(784, [1000], 10)  # above the clock-driven crossover
    monkeypatch.setattr(devices, "busy_cores", lambda: 0)
    assert devices.available_cores() == 2 and devices.resolve_threads("auto", large) == 2
    monkeypatch.setattr(devices, "busy_cores", lambda: 1)
    assert devices.available_cores() == 1 and devices.resolve_threads("auto", large) == 1
    monkeypatch.setattr(devices, "busy_cores", lambda: 5)
    assert devices.available_cores() == 1
    assert devices.resolve_threads(2, large) == 2  # a number asked for is what runs
    monkeypatch.setenv(devices.CORES_VARIABLE, "2")  # a sweep's share is not second-guessed
    assert devices.available_cores() == 2


def test_threads_setting_takes_auto_or_a_positive_integer():
    assert TrainConfig().threads == "auto"
    TrainConfig(threads=2).validate()
    for bad in (0, -1, "two", 1.5):
        with pytest.raises(ValueError, match="threads must be a positive integer or auto"):
            TrainConfig(threads=bad).validate()


def test_the_threads_do_not_stop_a_resume():
    """Threads change no number (test_equivalence): the settings a resume
    compares leave them out."""
    assert TrainConfig(threads=1).resolved() == TrainConfig(threads="auto").resolved()
    assert TrainConfig(seed=1).resolved() != TrainConfig(seed=2).resolved()


@pytest.mark.parametrize("value", ["0", "two"])
def test_cli_refuses_bad_threads_in_one_line(capsys, tmp_path, value):
    assert main(["train", "--threads", value, "--out", str(tmp_path / "never")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    expected = ("threads must be a positive integer or auto, got 0" if value == "0" else
                """'threads' must be an integer or "auto", got 'two'""")
    assert len(err) == 1 and expected in err[0]
    assert not (tmp_path / "never").exists()


def test_model_file_takes_threads_auto(tmp_path):
    cfg = TrainConfig.from_dict({"threads": "auto", "epochs": 2}, source="m.toml")
    assert cfg.threads == "auto"
    with pytest.raises(ValueError, match='threads.*an integer or "auto"'):
        TrainConfig.from_dict({"threads": "two"}, source="m.toml")
