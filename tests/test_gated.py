"""Huh & Sejnowski's gated neuron, its graded network, and the exact gradient.

- the gate delivers one unit of synaptic output per full passage through its
  active zone (a closed form), and the neuron fires at the theta neuron's
  rate sqrt(I) / (pi tau_v);
- the JAX engine's forward pass is Brian2's (runtime and C++), step for step;
- its gradient is the exact gradient: central finite differences agree;
- the tasks' generators, the training command and its refusals.
"""

import json
import os
import subprocess
import sys

import numpy as np
import pytest

pytest.importorskip("jax")

from brianrules.data.sequences import delayed_xor, encoding, xor_accuracy  # noqa: E402
from brianrules.model.graded import GradedNetwork  # noqa: E402
from brianrules.model.neuron import DeclarationError, NeuronModel, load  # noqa: E402
from brianrules.training.exact import GATED_NEURON  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.fixture(scope="module")
def gated():
    return load(GATED_NEURON)


@pytest.fixture(scope="module")
def small(gated):
    from brianrules.engines.graded import GradedJax

    net = GradedNetwork(gated, 12, 2, 2, 5e-4)
    params = net.initial_params(3)
    rng = np.random.default_rng(4)
    params["O"] = rng.normal(0, 0.3, params["O"].shape)
    params["bias_out"] = np.array([0.1, -0.2])
    x = np.zeros((1, 300, 2))
    x[0, 40:140, 0] = 1.5
    x[0, 100:250, 1] = -0.7
    return net, GradedJax(net), params, x


def test_the_declaration_reads_back_and_names_its_output(gated):
    assert gated.output == "s"
    again = NeuronModel.from_dict(gated.to_dict(), source="again")
    assert again.output == "s" and again.equations == gated.equations


def test_an_output_port_must_name_a_state_variable(gated):
    from brianrules.build.checks import check_neuron

    bad = NeuronModel.from_dict({**gated.to_dict(), "output": "nothing"}, source="bad")
    with pytest.raises(DeclarationError, match="output: 'nothing' names no state variable"):
        check_neuron(bad)


def test_a_spiking_neuron_is_refused_for_a_graded_network():
    from brianrules.model.neuron import from_builtin

    with pytest.raises(ValueError, match="sends spikes, not a graded output"):
        GradedNetwork(from_builtin(), 10, 2, 1, 1e-3)


def test_one_passage_through_the_gate_adds_one_unit_of_output(gated):
    """With tau_s much longer than the passage, s after one spike is 1 (the
    gate's integral) less the decay during the passage; the neuron fires
    periodically at sqrt(I) / (pi tau_v) for a constant I > 0."""
    from brianrules.engines.graded import GradedJax

    slow = gated.with_parameters(tau_s="10*second")
    net = GradedNetwork(slow, 1, 1, 1, 2e-5)
    params = net.check_params({"W": np.zeros((1, 1)), "U": np.ones((1, 1)), "O": np.zeros((1, 1)),
                               "bias": np.zeros(1), "bias_out": np.zeros(1)})
    I = 0.8
    steps = 6000  # 120 ms: three spikes at sqrt(0.8) / (pi 10 ms) = 28.5 Hz
    r = GradedJax(net).simulate(params, np.full((1, steps, 1), I))
    times = np.nonzero(r["spikes"][0, :, 0])[0] * net.dt
    rate = np.sqrt(I) / (np.pi * float(slow.tau_v))
    assert len(times) >= 3
    np.testing.assert_allclose(np.diff(times), 1 / rate, rtol=2e-3)
    s = r["recorded"]["s"][0, :, 0]
    tau_s = float(slow.tau_s)
    for k in range(3):  # 6 ms after spike k: past the zone; each unit decays from its spike on
        t = times[k] + 300 * net.dt
        want = sum(np.exp(-(t - tk) / tau_s) for tk in times[:k + 1])
        np.testing.assert_allclose(s[int(round(t / net.dt))], want, rtol=1e-3)


def test_the_jax_forward_pass_is_brian2s_step_for_step(small):
    from brianrules.build import graded as brian2_graded

    net, engine, params, x = small
    r = engine.simulate(params, x)
    b = brian2_graded.simulate(net, params, x[0])
    assert r["spikes"].sum() > 20
    np.testing.assert_array_equal(r["spikes"][0], b["spikes"])
    np.testing.assert_allclose(r["recorded"]["v"][0], b["recorded"]["v"], rtol=0, atol=1e-10)
    np.testing.assert_allclose(r["recorded"]["s"][0], b["recorded"]["s"], rtol=0, atol=1e-10)
    np.testing.assert_allclose(r["o"][0], b["o"], rtol=0, atol=1e-10)


@pytest.mark.slow
def test_the_jax_forward_pass_is_the_cpp_programs(small, tmp_path):
    from brianrules.build import graded as brian2_graded

    net, engine, params, x = small
    r = engine.simulate(params, x)
    c = brian2_graded.simulate(net, params, x[0], device="cpp_standalone", directory=str(tmp_path / "cpp"))
    np.testing.assert_array_equal(r["spikes"][0], c["spikes"])
    np.testing.assert_allclose(r["o"][0], c["o"], rtol=0, atol=1e-10)


def test_the_gradient_is_exact_by_central_differences(small):
    """The gated network is smooth in its weights: the gradient JAX takes
    through the scan agrees with central differences (step 1e-6) to 1e-5
    of the largest component, for entries of every parameter."""
    net, engine, params, x = small
    targets = np.sin(np.linspace(0, 3, x.shape[1]))[None, :, None] * np.array([1.0, -0.5])
    mask = np.zeros(x.shape[:2])
    mask[:, 100:] = 1.0
    _, grad = engine.value_and_grad(params, x, targets, mask)
    rng = np.random.default_rng(0)
    eps = 1e-6
    for name in ("W", "U", "O", "bias", "bias_out"):
        scale = np.abs(grad[name]).max()
        assert scale > 0, name
        for _ in range(3):
            idx = tuple(rng.integers(0, n) for n in grad[name].shape)
            if name == "W" and idx[0] == idx[1]:
                continue
            plus = {k: v.copy() for k, v in params.items()}
            minus = {k: v.copy() for k, v in params.items()}
            plus[name][idx] += eps
            minus[name][idx] -= eps
            fd = (engine.loss(plus, x, targets, mask) - engine.loss(minus, x, targets, mask)) / (2 * eps)
            assert abs(fd - grad[name][idx]) <= 1e-5 * scale, (name, idx, fd, grad[name][idx])
    assert np.all(np.diag(grad["W"]) == 0)  # no self-connections: no gradient there


def test_bad_parameters_and_inputs_are_named(small):
    net, engine, params, x = small
    with pytest.raises(ValueError, match="parameter W has shape"):
        engine.simulate({**params, "W": np.zeros((3, 3))}, x)
    with pytest.raises(ValueError, match="non-zero diagonal"):
        engine.simulate({**params, "W": np.eye(net.n)}, x)
    with pytest.raises(ValueError, match=r"inputs have shape \(1, 300, 5\)"):
        engine.simulate(params, np.zeros((1, 300, 5)))
    with pytest.raises(ValueError, match="not finite"):
        engine.simulate({**params, "O": np.full(params["O"].shape, np.nan)}, x)


def test_the_xor_task_targets_the_xor_of_the_pulses_signs():
    task = delayed_xor(40, seed=1, dt=1e-3)
    x = task.inputs
    first = x[:, 100:150, 0].mean(axis=1)
    second = x[:, 450:500, 0].mean(axis=1)
    assert set(np.unique(first)) == {-1.0, 1.0} and set(np.unique(second)) == {-1.0, 1.0}
    want = np.where(first != second, 1.0, -1.0)
    window = task.mask > 0
    assert window.sum(axis=1).min() == 150 and not window[:, :850].any()
    np.testing.assert_array_equal(task.targets[:, -1, 0], want)
    np.testing.assert_array_equal(task.labels, (first != second).astype(int))
    assert x[:, 800:850, 1].min() == 1.0 and x[:, :800, 1].max() == 0.0
    # a readout equal to the target scores 1, its negation 0
    assert xor_accuracy(task.targets, task) == 1.0 and xor_accuracy(-task.targets, task) == 0.0
    again = delayed_xor(40, seed=1, dt=1e-3)
    np.testing.assert_array_equal(again.inputs, task.inputs)


def test_the_memory_task_asks_for_the_pulses_sign_after_the_gap():
    from brianrules.data.sequences import memory

    task = memory(20, seed=3, dt=1e-3, gap=0.05)
    sign = task.inputs[:, 100:150, 0].mean(axis=1)
    assert set(np.unique(sign)) == {-1.0, 1.0} and np.abs(task.inputs[:, 150:, 0]).max() == 0
    assert not task.mask[:, :200].any() and task.mask[:, 200:].all() and task.steps == 250
    np.testing.assert_array_equal(task.targets[:, 200:, 0], np.repeat(sign[:, None], 50, axis=1))
    assert xor_accuracy(task.targets, task) == 1.0
    assert memory(2, seed=0, gap=0).mask[:, 150].all()  # no gap: from the pulse's end on


def test_the_encoding_task_asks_for_its_input():
    task = encoding(3, seed=2, channels=2, dt=1e-3, duration=0.2)
    np.testing.assert_array_equal(task.inputs, task.targets)
    assert task.inputs.shape == (3, 200, 2) and abs(task.inputs.std() - 1.0) < 1e-9
    with pytest.raises(ValueError, match="not a whole number of steps"):
        encoding(1, seed=0, dt=1e-3, duration=0.2005)


def test_training_lowers_the_encoding_loss_and_resumes(tmp_path):
    """A few Adam steps on the encoding task lower the test loss below the
    untrained network's (which outputs 0: loss = the signal's variance);
    a resumed run continues from the checkpoint to the same numbers."""
    from brianrules.training.exact import ExactConfig, train_exact

    opts = {"duration": 0.1, "settle": 0.02}
    cfg = ExactConfig(task="encoding", neurons=10, iterations=12, batch=4, lr=0.05, dt=1e-3, eval_every=6,
                      test_trials=4, task_options=opts)
    out = str(tmp_path / "run")
    rows = train_exact(cfg, out, log=lambda s: None)
    assert [r["iteration"] for r in rows] == [6, 12]
    assert rows[-1]["test_loss"] < 0.8
    for name in ("config.json", "metrics.csv", "params.npz", "trial.png", "loss.png"):
        assert os.path.exists(os.path.join(out, name)), name
    with open(os.path.join(out, "config.json")) as f:
        assert json.load(f)["task"] == "encoding"
    with pytest.raises(ValueError, match="already holds results"):
        train_exact(cfg, out, log=lambda s: None)
    # the first half, then resume: the same final numbers
    half = str(tmp_path / "half")
    train_exact(ExactConfig(**{**cfg.__dict__, "iterations": 6}), half, log=lambda s: None)
    with pytest.raises(ValueError, match="was run with lr = 0.05, not 0.1"):
        train_exact(ExactConfig(**{**cfg.__dict__, "lr": 0.1}), half, resume=True, log=lambda s: None)
    resumed = train_exact(cfg, half, resume=True, log=lambda s: None)
    assert resumed[-1]["iteration"] == 12
    np.testing.assert_allclose(resumed[-1]["test_loss"], rows[-1]["test_loss"], rtol=1e-9)


def test_the_command_refuses_bad_settings_before_building(tmp_path):
    def run(*args):
        return subprocess.run([sys.executable, "-m", "brianrules.cli", "exact", *args], capture_output=True,
                              text=True, cwd=ROOT, timeout=120)

    r = run("xor", "--out", str(tmp_path / "a"), "--iterations", "0")
    assert r.returncode == 2 and "iterations must be a positive integer" in r.stderr
    r = run("xor", "--out", str(tmp_path / "b"), "--task-option", "delay")
    assert r.returncode == 2 and "write NAME=VALUE" in r.stderr
    r = run("xor", "--out", str(tmp_path / "c"), "--task-option", "wobble=3", "--iterations", "1")
    assert r.returncode == 2 and "unexpected keyword argument 'wobble'" in r.stderr
    r = run("xor", "--out", str(tmp_path / "d"), "--neuron", str(tmp_path / "none.toml"))
    assert r.returncode == 2 and "does not exist" in r.stderr
    assert not any(os.listdir(tmp_path / p) for p in "abcd" if os.path.isdir(tmp_path / p))


def test_a_signal_stops_after_the_iteration_and_keeps_the_checkpoint(tmp_path, monkeypatch, capsys):
    """SIGINT during iteration 2 (of checkpoints every 2): the command ends
    with 130 after writing it and says which iteration it kept."""
    from brianrules.cli import main
    from brianrules.engines.graded import GradedJax
    from conftest import sigint_on_call

    sigint_on_call(monkeypatch, GradedJax, "value_and_grad", 2)
    out = str(tmp_path / "run")
    args = ["exact", "encoding", "--out", out, "--neurons", "6", "--iterations", "4", "--batch", "2",
            "--eval-every", "2", "--test-trials", "2", "--task-option", "duration=0.05", "--task-option",
            "settle=0.01"]
    assert main(args) == 130
    assert "interrupted (SIGINT) while iteration 2 was saved; kept iteration 2 (resume with --resume)" \
        in capsys.readouterr().err
    with np.load(os.path.join(out, "params.npz")) as z:
        assert int(z["iteration"]) == 2
