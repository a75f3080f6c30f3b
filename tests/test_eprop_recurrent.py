"""The recurrent e-prop network: the Brian2 program against the NumPy reference,
the reference's gradient against automatic differentiation, and the training
command.  (The reference against NEST's recorded losses: test_eprop_nest.py.)"""

import json
import os

import numpy as np
import pytest

from brianrules.engines.eprop import eprop_key, make_runner
from brianrules.model.recurrent import EpropNetwork
from brianrules.reference.recurrent import simulate


def _sequences(net, n_seq, steps, seed, p=0.05, window=None):
    rng = np.random.default_rng(seed)
    x = (rng.random((n_seq, steps, net.n_in)) < p).astype(float)
    x[:, 3, 0] = 2.0  # two coinciding input spikes (binned events)
    if net.loss == "mse":
        y = rng.normal(size=(n_seq, steps, net.n_out)).cumsum(axis=1) * 0.05
    else:
        y = np.zeros((n_seq, steps, net.n_out))
        y[np.arange(n_seq), :, rng.integers(0, net.n_out, n_seq)] = 1.0
    m = np.ones((n_seq, steps))
    if window:
        m[:, :-window] = 0.0
    return x, y, m


LIF = dict(n_in=20, n_lif=30, n_out=2, tau_m=30e-3, tau_out=30e-3, v_th=0.03, loss="mse")
ALIF = dict(n_in=12, n_lif=10, n_alif=14, n_out=3, tau_m=20e-3, tau_a=0.2, beta=0.05, v_th=0.6, n_ref=3,
            tau_out=20e-3, regular_spike_arrival=True, loss="cross_entropy")


def _params(net, seed, scale=1.0):
    p = net.initial_params(seed)
    p["W_in"] = p["W_in"] * scale
    return p


@pytest.mark.parametrize("kind,feedback", [("lif", "random"), ("alif", "random"), ("alif", "symmetric")])
def test_brian2_runtime_equals_reference(kind, feedback):
    net = EpropNetwork(**(LIF if kind == "lif" else ALIF), feedback=feedback)
    scale = 1.0 if kind == "lif" else 6.0  # the ALIF net's threshold is 20 times higher
    params = _params(net, 3, scale)
    x, y, m = _sequences(net, 2, 150, 4, p=0.1, window=None if kind == "lif" else 40)
    ref = simulate(net, params, x, y, m)
    assert ref["z"].sum() > 50
    assert net.n_alif == 0 or ref["z"][:, :, net.n_lif:].sum() > 10  # the ALIF neurons spike too
    out = make_runner("runtime", net, 150, 2).run(params, x, y, m)
    np.testing.assert_allclose(out["y"], ref["y"], rtol=0, atol=1e-12)
    for k in ("W_in", "W_rec", "W_out"):
        scale_g = np.abs(ref["grads"][k]).max()
        assert scale_g > 0
        np.testing.assert_allclose(out["grads"][k], ref["grads"][k], rtol=0, atol=1e-11 * scale_g)
    assert out["rate_hz"] == pytest.approx(ref["rate_hz"].mean(), rel=1e-12)


def test_cpp_standalone_equals_reference(tmp_path):
    net = EpropNetwork(**ALIF)
    params = _params(net, 5, 6.0)
    x, y, m = _sequences(net, 3, 120, 6, p=0.1, window=30)
    runner = make_runner("cpp_standalone", net, 120, 3, build_dir=str(tmp_path / "build"))
    try:
        for seed in (6, 7):  # the same program, new sequences and weights: nothing compiled again
            x, y, m = _sequences(net, 3, 120, seed, p=0.1, window=30)
            params = _params(net, seed, 6.0)
            out = runner.run(params, x, y, m)
            ref = simulate(net, params, x, y, m)
            np.testing.assert_allclose(out["y"], ref["y"], rtol=0, atol=1e-12)
            for k in ("W_in", "W_rec", "W_out"):
                np.testing.assert_allclose(out["grads"][k], ref["grads"][k], rtol=0,
                                           atol=1e-11 * np.abs(ref["grads"][k]).max())
    finally:
        runner.close()


def test_build_key_holds_the_structure_not_the_values():
    a = EpropNetwork(**ALIF)
    assert eprop_key(a, 100, 2) == eprop_key(EpropNetwork(**{**ALIF, "beta": 0.3, "v_th": 1.0, "c_reg": 1.0}), 100, 2)
    assert eprop_key(a, 100, 2) != eprop_key(a, 101, 2) != eprop_key(a, 100, 3)
    assert eprop_key(a, 100, 2) != eprop_key(EpropNetwork(**{**ALIF, "loss": "mse"}), 100, 2)
    assert eprop_key(a, 100, 2) != eprop_key(EpropNetwork(**{**ALIF, "n_alif": 13}), 100, 2)


def test_eprop_command_sine(tmp_path):
    """`brianrules eprop` end to end on the reference engine for 3 iterations:
    NEST's first losses, and a resumed run continues where the first stopped."""
    from brianrules.cli import main

    out = str(tmp_path / "sine")
    model = os.path.join(os.path.dirname(os.path.dirname(__file__)), "models", "eprop_sine.toml")
    assert main(["eprop", model, "--out", out, "--iterations", "2", "--eval-every", "1",
                 "--device", "reference"]) == 0
    assert main(["eprop", model, "--out", out, "--iterations", "3", "--eval-every", "1", "--device", "reference",
                 "--resume"]) == 0
    import csv

    with open(os.path.join(out, "metrics.csv")) as f:
        losses = [float(r["loss"]) for r in csv.DictReader(f)]
    np.testing.assert_allclose(losses, [101.964356999041, 103.466731126205, 103.340607074771], rtol=1e-9)
    with open(os.path.join(out, "config.json")) as f:
        assert json.load(f)["task"] == "sine"
    for name in ("loss.png", "trial.png", "params.npz"):
        assert os.path.exists(os.path.join(out, name))


@pytest.mark.parametrize("args,message", [
    (["--task", "nope"], "invalid choice"),
    (["--batch", "2"], "batch must be 1"),
    (["--iterations", "0"], "iterations must be a positive integer"),
    (["--task", "shd"], "needs the file's path"),
    (["--n-lif", "-3"], "n_lif must be 0 or a positive integer"),
    (["--n-lif", "0"], "the recurrent population is empty"),
    (["--task", "shd", "--task-option", "path=/nonexistent/shd_train.h5"], "is not a file"),
    (["--task", "evidence", "--batch", "2", "--task-option", "bogus=3"], "unexpected keyword argument 'bogus'"),
])
def test_eprop_command_refuses_bad_settings(tmp_path, capsys, args, message):
    from brianrules.cli import main

    model = os.path.join(os.path.dirname(os.path.dirname(__file__)), "models", "eprop_sine.toml")
    try:
        code = main(["eprop", model, "--out", str(tmp_path / "x"), "--device", "reference", *args])
    except SystemExit as e:  # argparse's own refusal
        code = e.code
    assert code != 0
    assert message in capsys.readouterr().err
    assert not os.path.exists(tmp_path / "x" / "params.npz")


def test_model_file_refuses_unknown_settings(tmp_path):
    from brianrules.training.temporal import read_model

    path = tmp_path / "m.toml"
    path.write_text("[eprop]\ntask = \"sine\"\nlearning_rate = 1.0\n")
    with pytest.raises(ValueError, match="unknown setting 'learning_rate'"):
        read_model(str(path))


def test_eprop_command_trains_on_an_shd_file(tmp_path):
    """The README's SHD command on a small file in SHD's format (two
    classes that differ in which half of the 700 channels fires): it loads,
    bins, trains and classifies."""
    h5py = pytest.importorskip("h5py")
    from brianrules.cli import main

    rng = np.random.default_rng(0)
    path = str(tmp_path / "shd_small.h5")
    n = 64
    labels = rng.integers(0, 2, n)
    with h5py.File(path, "w") as f:
        times = f.create_dataset("spikes/times", (n,), dtype=h5py.vlen_dtype(np.float32))
        units = f.create_dataset("spikes/units", (n,), dtype=h5py.vlen_dtype(np.uint16))
        for i in range(n):
            times[i] = np.sort(rng.uniform(0, 0.1, 600)).astype(np.float32)
            units[i] = (rng.integers(0, 350, 600) + 350 * labels[i]).astype(np.uint16)
        f.create_dataset("labels", data=labels.astype(np.uint16))
    model = os.path.join(os.path.dirname(os.path.dirname(__file__)), "models", "eprop_shd.toml")
    out = str(tmp_path / "run")
    assert main(["eprop", model, "--task-option", f"path={path}", "--out", out, "--iterations", "20",
                 "--batch", "8", "--eval-every", "5", "--test-batches", "2", "--n-lif", "10", "--n-alif", "10",
                 "--device", "reference"]) == 0
    import csv

    with open(os.path.join(out, "metrics.csv")) as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 20
    errors = [float(r["test_error"]) for r in rows if r["test_error"] != "nan"]
    assert errors[0] >= 0.5 and errors[-1] <= 0.2  # from chance to the two halves told apart


@pytest.mark.parametrize("kind", ["lif", "alif"])
def test_bptt_reference_with_cut_paths_is_symmetric_eprop(kind):
    """`engines.eprop_bptt` differentiates the loss and the regulariser
    (``c_reg / 2 sum_j (f_j - f_target dt)^2``) through the network's steps
    by JAX, with the spikes' derivative the pseudo-derivative.  With the
    paths e-prop leaves out cut (a spike's effect on the next step's
    membranes: recurrent input and reset) that is symmetric e-prop's
    gradient exactly, as Bellec et al. check their code (their
    ``numerical_verification`` scripts): the reference gives it, for LIF and
    ALIF networks.  The full BPTT gradient differs in the input and
    recurrent weights only (nothing of the readout's goes through time)."""
    pytest.importorskip("jax")
    from brianrules.engines.eprop_bptt import EpropBptt

    net = EpropNetwork(**(LIF if kind == "lif" else ALIF), feedback="symmetric", c_reg=30.0)
    params = _params(net, 11, 1.0 if kind == "lif" else 6.0)
    x, y, m = _sequences(net, 2, 80, 12, p=0.1, window=None if kind == "lif" else 25)
    ref = simulate(net, params, x, y, m)
    cut = EpropBptt(net, 80, 2, cut=True).run(params, x, y, m)
    full = EpropBptt(net, 80, 2).run(params, x, y, m)
    np.testing.assert_allclose(cut["y"], ref["y"], rtol=0, atol=1e-12)
    for k in ("W_in", "W_rec", "W_out"):
        scale = np.abs(ref["grads"][k]).max()
        np.testing.assert_allclose(cut["grads"][k], ref["grads"][k], rtol=0, atol=1e-9 * scale)
    np.testing.assert_allclose(full["grads"]["W_out"], ref["grads"]["W_out"], rtol=0,
                               atol=1e-9 * np.abs(ref["grads"]["W_out"]).max())
    for k in ("W_in", "W_rec"):
        assert np.abs(full["grads"][k] - ref["grads"][k]).max() > 1e-3 * np.abs(ref["grads"][k]).max()


def test_answers_are_the_runs_of_counted_steps():
    """Each run of steps the mask counts is one answer: the readout whose
    softmax, averaged there, is largest, against the target's class."""
    from brianrules.training.temporal import answers

    y = np.zeros((2, 10, 2))
    targets = np.zeros((2, 10, 2))
    mask = np.zeros((2, 10))
    mask[0, 2:4] = mask[0, 7:10] = 1.0  # two recalls in trial 0
    targets[0, 2:4, 1] = 1.0
    targets[0, 7:10, 0] = 1.0
    y[0, 2:4, 1] = 3.0  # right
    y[0, 7:10, 1] = 1.0  # wrong: readout 1 where 0 is wanted
    y[0, 5, 0] = 50.0  # outside the mask: not counted
    mask[1, 6:] = 1.0  # one window in trial 1
    targets[1, 6:, 0] = 1.0
    y[1, 6:, 0] = [2.0, -1.0, 2.0, 2.0]
    predicted, wanted = answers(y, targets, mask)
    np.testing.assert_array_equal(wanted, [1, 0, 0])
    np.testing.assert_array_equal(predicted, [1, 1, 0])


def test_step_size_decays_every_so_many_iterations():
    from brianrules.training.temporal import EpropConfig, check_config, step_size

    cfg = EpropConfig(eta=0.01, eta_decay=0.3, eta_decay_every=100)
    assert [step_size(cfg, k) for k in (0, 99, 100, 250)] == pytest.approx([0.01, 0.01, 0.003, 0.0009])
    assert step_size(EpropConfig(eta=0.01), 10 ** 6) == 0.01
    with pytest.raises(ValueError, match="eta_decay must lie in"):
        check_config(EpropConfig(eta_decay=1.5))


def test_store_recall_trains_and_counts_every_recall(tmp_path):
    """The store-recall task through the command (reference engine, 2
    iterations): its test error is over every recall of the test trials."""
    from brianrules.cli import main

    out = str(tmp_path / "sr")
    model = os.path.join(os.path.dirname(os.path.dirname(__file__)), "models", "eprop_evidence.toml")
    assert main(["eprop", model, "--task", "store_recall", "--out", out, "--iterations", "2", "--batch", "2",
                 "--eval-every", "2", "--test-batches", "1", "--n-lif", "5", "--n-alif", "5",
                 "--task-option", "n_symbols=12", "--task-option", "symbol=0.02", "--device", "reference"]) == 0
    import csv

    with open(os.path.join(out, "metrics.csv")) as f:
        row = list(csv.DictReader(f))[-1]
    error = float(row["test_error"])
    from brianrules.training.temporal import EpropConfig, Task, answers

    cfg = EpropConfig(task="store_recall", batch=2, test_batches=1, task_options={"n_symbols": 12, "symbol": 0.02})
    x, y, m = Task(cfg).test()[0]
    n_answers = len(answers(np.zeros(y.shape), y, m)[1])
    assert n_answers >= 2  # one answer per recall (each trial has at least one)
    assert 0.0 <= error <= 1.0 and abs(error * n_answers - round(error * n_answers)) < 1e-9


def test_a_signal_stops_after_the_iteration_and_keeps_the_checkpoint(tmp_path, monkeypatch, capsys):
    """SIGINT during iteration 3: it finishes, its checkpoint is written, the
    command ends with 130 and names the iteration kept; --resume goes on to
    the losses of an uninterrupted run."""
    import csv

    from brianrules.cli import main
    from brianrules.engines import eprop as engines
    from conftest import sigint_on_call

    real = sigint_on_call(monkeypatch, engines.EpropReference, "run", 3)
    model = os.path.join(os.path.dirname(os.path.dirname(__file__)), "models", "eprop_sine.toml")
    out = str(tmp_path / "sine")
    args = ["eprop", model, "--out", out, "--iterations", "4", "--eval-every", "1", "--device", "reference"]
    assert main(args) == 130
    assert "interrupted (SIGINT) while iteration 3 was saved; kept iteration 3 (resume with --resume)" \
        in capsys.readouterr().err
    monkeypatch.setattr(engines.EpropReference, "run", real)
    assert main(args + ["--resume"]) == 0
    with open(os.path.join(out, "metrics.csv")) as f:
        losses = [float(r["loss"]) for r in csv.DictReader(f)]
    np.testing.assert_allclose(losses[:3], [101.964356999041, 103.466731126205, 103.340607074771], rtol=1e-9)
    assert len(losses) == 4
