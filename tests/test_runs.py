"""`brianrules.load`: a finished run read back from its folder and evaluated
again with plasticity off: the test accuracy of its metrics, the training's
input spikes, recordings that agree with the counts and the threshold."""

import json
import os
import re
from dataclasses import asdict

import numpy as np
import pytest

import brianrules
from brianrules.randomness import hash_uniform_numpy, mix_seed
from brianrules.training import TrainConfig, train

# a small network and short samples: compiled once (about 35 s on two cores), then 1 s per epoch
CONFIG = dict(rule="dfa", dataset="digits", epochs=2, hidden=[30], t_sample_ms=40.0, device="cpp_standalone",
              seed=1)


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("runs") / "run"
    train(TrainConfig(**CONFIG), str(out), log=lambda *a: None, progress=False)
    return out


@pytest.fixture(scope="module")
def run(run_dir):
    return brianrules.load(run_dir)


@pytest.fixture(scope="module")
def evaluated(run):
    return run.evaluate()


def _spike_matrix(spikes, n_steps, dt):
    """neurons x steps: True where the neuron spiked in the step."""
    out = np.zeros((spikes.n, n_steps), dtype=bool)
    out[spikes.i, np.round(spikes.t / dt).astype(int)] = True
    return out


@pytest.mark.slow
@pytest.mark.standalone
def test_load_reads_settings_metrics_and_weights(run, run_dir):
    with open(run_dir / "config.json") as f:
        assert asdict(run.config) == json.load(f)["train"]
    assert run.config == TrainConfig(**CONFIG)
    assert run.epoch == 2 and [r["epoch"] for r in run.metrics] == [1, 2]
    assert run.final_metrics is run.metrics[-1]
    assert [W.shape for W in run.weights] == [(64, 30), (30, 10)]
    assert [B.shape for B in run.feedback] == [(10, 30)]
    with np.load(run_dir / "weights.npz") as z:
        assert np.array_equal(run.weights[1], z["w_2"])
    assert "epoch 2" in repr(run) and "64-30-10" in repr(run)


@pytest.mark.slow
@pytest.mark.standalone
def test_evaluation_gives_the_test_accuracy_of_the_last_epoch(run, evaluated):
    """The test samples follow the training samples, as in the epoch that
    wrote the weights: the same input spikes, the same accuracy."""
    ev = evaluated
    last = run.final_metrics
    assert ev.in_epoch and ev.device == "cpp_standalone"
    assert ev.seed == mix_seed(CONFIG["seed"], 2, 2)
    assert ev.counts.shape == (360, 10) and ev.counts.sum() > 0
    assert ev.accuracy == last["test_acc"]
    assert ev.accuracy > 0.5  # two epochs learn well above chance (10%)
    if "silent_frac" in last:  # the training's share of test samples without an output spike
        assert float(np.mean(ev.counts.sum(axis=1) == 0)) == pytest.approx(last["silent_frac"])
    assert np.mean(ev.predictions == ev.labels) == ev.accuracy
    # the equality is not a coincidence: another draw of the input spikes gives other counts
    other = run.evaluate(seed=ev.seed + 1)
    assert not np.array_equal(other.counts, ev.counts)


@pytest.mark.slow
@pytest.mark.standalone
def test_recorded_evaluation_replays_the_training_input_spikes(run, evaluated):
    """Recording changes nothing; the test part's input spikes are those of
    the steps after the training samples; recorded spikes give the counts,
    and v exceeds the threshold exactly in the steps with a spike."""
    ev = run.evaluate(record_spikes=True, record=("v",), layers=("input", "hidden_1", "output"))
    assert np.array_equal(ev.counts, evaluated.counts) and ev.accuracy == evaluated.accuracy
    ds, spec = run.dataset(), run.network_spec()
    steps, n_train, n_test = spec.steps_per_sample, len(ds.y_train), len(ds.y_test)
    n_steps = n_test * steps
    assert np.array_equal(ev.spikes["output"].counts(n_test, ev.t_sample), ev.counts)
    # input neuron i spikes in step n when hash(seed, n, i) < rate * dt, n counted from the epoch's start
    step = np.arange(n_steps)
    u = hash_uniform_numpy(ev.seed, (n_train * steps + step)[None, :], np.arange(spec.n_in)[:, None])
    rate = float(spec.max_rate) * ds.x_test[step // steps].T
    expected = u < rate * ev.dt
    assert expected.sum() > 1000
    assert np.array_equal(_spike_matrix(ev.spikes["input"], n_steps, ev.dt), expected)
    assert "input" not in ev.states  # it has no v
    v_th = float(spec.neuron.v_th)
    for name, n in (("hidden_1", 30), ("output", 10)):
        v = ev.states[name]["v"]
        assert v.unit == "V" and v.values.shape == (n, n_steps)
        assert v.t[0] == 0 and v.t[1] == pytest.approx(ev.dt)
        spiked = _spike_matrix(ev.spikes[name], n_steps, ev.dt)
        assert spiked.sum() > 100
        assert np.array_equal(v.values > v_th, spiked)


@pytest.mark.slow
@pytest.mark.standalone
def test_a_subset_or_given_samples_run_from_step_zero(run):
    """n_samples and samples give one evaluation; without labels no accuracy;
    the input spikes are drawn from the run's own first step."""
    ds, spec = run.dataset(), run.network_spec()
    ev = run.evaluate(n_samples=5, device="runtime", record_spikes=True, record=("v", "I_syn"),
                      layers=("input", "output"))
    assert not ev.in_epoch and ev.counts.shape == (5, 10)
    assert ev.accuracy == np.mean(ev.predictions == ds.y_test[:5])
    assert np.array_equal(ev.spikes["output"].counts(5, ev.t_sample), ev.counts)
    assert ev.states["output"]["I_syn"].unit == "V" and set(ev.states) == {"output"}
    n_steps = 5 * spec.steps_per_sample
    step = np.arange(n_steps)
    u = hash_uniform_numpy(ev.seed, step[None, :], np.arange(spec.n_in)[:, None])
    expected = u < float(spec.max_rate) * ds.x_test[step // spec.steps_per_sample].T * ev.dt
    assert np.array_equal(_spike_matrix(ev.spikes["input"], n_steps, ev.dt), expected)
    given = run.evaluate(samples=ds.x_test[:5], labels=ds.y_test[:5], device="runtime")
    assert np.array_equal(given.counts, ev.counts) and given.accuracy == ev.accuracy
    unlabelled = run.evaluate(samples=ds.x_test[:5], device="runtime")
    assert unlabelled.accuracy is None and np.array_equal(unlabelled.predictions, ev.predictions)


# -- refusals: fast, nothing is built -------------------------------------
def _fake_run(folder, **settings):
    """A run folder as train writes it, with initial weights and no training."""
    from brianrules import data as datamod
    from brianrules.network import initial_weights
    from brianrules.files import write_json
    from brianrules.metrics import write_metrics
    from brianrules.training import write_weights

    cfg = TrainConfig(**{**CONFIG, **settings})
    ds = datamod.load(cfg.dataset)
    spec = cfg.network_spec(ds.n_inputs, ds.n_classes)
    folder.mkdir(parents=True, exist_ok=True)
    write_json(folder / "config.json", {"train": asdict(cfg), "network": spec.to_dict(),
                                        "n_train": len(ds.y_train), "n_test": len(ds.y_test)})
    W, B = initial_weights(spec, np.random.default_rng(0))
    write_weights(folder / "weights.npz", W, B, 1)
    write_metrics(folder / "metrics.csv", [{"epoch": 1, "train_acc": 0.1, "test_acc": 0.1}])
    return folder


def test_bad_run_folders_are_refused_naming_the_path(tmp_path):
    missing = tmp_path / "nowhere"
    with pytest.raises(ValueError, match=f"{re.escape(str(missing))} does not exist"):
        brianrules.load(missing)
    (tmp_path / "a_file").write_text("x")
    with pytest.raises(ValueError, match=f"{re.escape(str(tmp_path / 'a_file'))} is a file"):
        brianrules.load(tmp_path / "a_file")
    run = _fake_run(tmp_path / "run")
    assert brianrules.load(run).epoch == 1
    (run / "weights.npz").unlink()
    with pytest.raises(ValueError, match=f"{re.escape(str(run))} is no finished run: it has no weights.npz"):
        brianrules.load(run)
    run = _fake_run(tmp_path / "run2")
    (run / "config.json").unlink()
    with pytest.raises(ValueError, match=f"{re.escape(str(run))} is no finished run: it has no config.json"):
        brianrules.load(run)
    run = _fake_run(tmp_path / "run3")
    (run / "config.json").write_text("{not json")
    with pytest.raises(ValueError, match=f"{re.escape(str(run / 'config.json'))}: not a run's config.json"):
        brianrules.load(run)
    run = _fake_run(tmp_path / "run4")
    settings = json.loads((run / "config.json").read_text())
    settings["train"]["hidden"] = [31]
    (run / "config.json").write_text(json.dumps(settings))
    shapes = f"{re.escape(str(run / 'weights.npz'))}: weights of shapes .* do not fit the 64-31-10 network"
    with pytest.raises(ValueError, match=shapes):
        brianrules.load(run)


def test_bad_evaluation_requests_are_refused_before_running(tmp_path):
    run = brianrules.load(_fake_run(tmp_path / "run"))
    with pytest.raises(ValueError, match="unknown layer 'hidden_2'.*input, hidden_1, output"):
        run.evaluate(record_spikes=True, layers=("hidden_2",))
    with pytest.raises(ValueError, match=r"no layer of input has a state variable 'v'.*input: rate, .*x"):
        run.evaluate(n_samples=2, record=("v",), layers=("input",))
    with pytest.raises(ValueError, match="n_samples is 400, but there are only 360 samples"):
        run.evaluate(n_samples=400, device="runtime")
    with pytest.raises(ValueError, match="samples must be a 2-D array of samples x 64 inputs"):
        run.evaluate(samples=np.zeros((3, 10)), device="runtime")
    with pytest.raises(ValueError, match="labels must lie in 0..9"):
        run.evaluate(samples=np.zeros((2, 64)), labels=np.array([0, 12]), device="runtime")
    with pytest.raises(ValueError, match="labels go with samples"):
        run.evaluate(labels=np.array([0, 1]))
    with pytest.raises(ValueError, match="unknown device 'gpu'"):
        run.evaluate(device="gpu")


def test_import_of_the_package_stays_light():
    """`brianrules.load` imports Brian2 only when first used (the command
    line imports the package for its version)."""
    import subprocess
    import sys

    code = "import sys, brianrules; assert 'brian2' not in sys.modules; brianrules.load; print('ok')"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         env={**os.environ, "PYTHONPATH": os.path.dirname(os.path.dirname(__file__))})
    assert out.returncode == 0, out.stderr
