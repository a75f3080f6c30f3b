"""bptt, surrogate-gradient backpropagation through time: its gradient of a
smooth network against finite differences, one optimizer step against
Adam's formula, its forward pass against the Brian2 program's spikes, a
training on digits from the command line, and what it refuses."""

import json
import tomllib

import numpy as np
import pytest

pytest.importorskip("jax")

from brian2 import ms  # noqa: E402

from brianrules import rules  # noqa: E402
from brianrules.cli import main  # noqa: E402
from brianrules.devices import RuntimeRunner  # noqa: E402
from brianrules.engines.bptt import BpttRunner  # noqa: E402
from brianrules.neurons import LIF  # noqa: E402
from conftest import small_inputs, small_spec  # noqa: E402


def _spec(**kw):
    neuron = kw.pop("neuron", LIF(t_ref=0 * ms))
    return small_spec(rule=rules.get("bptt"), neuron=neuron, **kw)


def test_gradient_of_a_smooth_network_matches_finite_differences():
    """With smooth spikes and the reset in the gradient, the loss is a
    smooth function of the weights: its gradient is exact."""
    spec = _spec(hidden=(6,))
    runner = BpttRunner(spec, 4, batch_size=4, smooth=0.3, reset_gradient=True)
    weights, _, stim, tgt, _ = small_inputs(spec, 4)
    loss, grads = runner.gradient(weights, stim, tgt, 7, [0, 1, 2, 3])
    assert loss > 0
    rng = np.random.default_rng(0)
    h = 1e-5
    for k, G in enumerate(grads):
        assert np.abs(G).max() > 0
        for _ in range(3):
            i, j = rng.integers(G.shape[0]), rng.integers(G.shape[1])
            up = [W.copy() for W in weights]
            down = [W.copy() for W in weights]
            up[k][i, j] += h
            down[k][i, j] -= h
            fd = (runner.gradient(up, stim, tgt, 7, [0, 1, 2, 3])[0]
                  - runner.gradient(down, stim, tgt, 7, [0, 1, 2, 3])[0]) / (2 * h)
            assert G[i, j] == pytest.approx(fd, rel=1e-5, abs=1e-9)


def test_one_batch_is_one_adam_step_against_its_formula():
    spec = _spec()
    n = 5
    runner = BpttRunner(spec, n, batch_size=n)
    weights, feedback, stim, tgt, _ = small_inputs(spec, n)
    _, grads = runner.gradient(weights, stim, tgt, 3, range(n))
    result = runner.run(weights, feedback, stim, tgt, np.ones(n), 3, lr_scale=0.5)
    b1, b2, eps = 0.9, 0.999, 1e-8
    for W0, G, W1, state in zip(weights, grads, result.weights, result.optimizer_state):
        g = -G
        m, v = (1 - b1) * g, (1 - b2) * g ** 2
        alpha = 0.5 * rules.get("bptt").lr  # lr and lr_hidden are the same step
        expected = W0 + alpha * np.sqrt(1 - b2) / (1 - b1) * m / (np.sqrt(v) + eps)
        np.testing.assert_allclose(W1, expected, rtol=1e-12, atol=1e-15)
        np.testing.assert_allclose(state["opt_m"], m, rtol=1e-12)
        assert np.all(state["opt_n"] == 1)
    assert not np.allclose(result.weights[0], weights[0])


def test_its_forward_pass_gives_the_brian2_programs_spike_counts():
    """Learning off, no refractory period (which the programs carry across
    a sample's start): the counts of every sample and the hidden rates are
    those of Brian2's runtime device on the same input spikes."""
    spec = _spec(hidden=(12, 9))
    n = 6
    weights, feedback, stim, tgt, _ = small_inputs(spec, n)
    ours = BpttRunner(spec, n, batch_size=4).run(weights, feedback, stim, tgt, np.zeros(n), 11)
    brian2 = RuntimeRunner(spec, n).run(weights, feedback, stim, tgt, np.zeros(n), 11)
    assert brian2.counts.sum() > 20
    assert np.array_equal(ours.counts, brian2.counts)
    np.testing.assert_allclose(ours.hidden_rates, brian2.hidden_rates, rtol=1e-12)
    assert all(np.array_equal(a, b) for a, b in zip(ours.weights, weights))  # learning off


@pytest.mark.slow
def test_bptt_trains_digits_from_the_command_line(tmp_path, capsys):
    out = tmp_path / "bptt"
    assert main(["train", "--rule", "bptt", "--dataset", "digits", "--epochs", "2", "--hidden", "100",
                 "--seed", "0", "--out", str(out), "--quiet"]) == 0
    printed = capsys.readouterr().out
    assert "device jax" in printed
    for name in ("config.json", "metrics.csv", "weights.npz", "learning_curve.png", "weight_history.npz",
                 "test_counts.npz"):
        assert (out / name).exists(), name
    import csv

    rows = list(csv.DictReader(open(out / "metrics.csv")))
    assert float(rows[-1]["test_acc"]) >= 0.88  # 0.903 and 0.925 after epochs 1 and 2 (seed 0)
    assert json.load(open(out / "config.json"))["network"]["rule"]["optimizer"]["name"] == "adam"
    with np.load(out / "weights.npz") as z:
        assert {"opt_m_1", "opt_v_2", "opt_n_1"} <= set(z.files)


def test_rules_show_prints_a_section_that_names_it(capsys):
    from brianrules.training import TrainConfig

    assert main(["rules", "--show", "bptt"]) == 0
    section = tomllib.loads(capsys.readouterr().out)["rule"]
    cfg = TrainConfig.from_dict(section, source="rules --show bptt").validate()
    assert cfg.make_rule().gradient == "bptt" and cfg.make_rule().optimizer.name == "adam"


@pytest.mark.parametrize("options, message", [
    (["--alignment"], "alignment has no meaning for it"),
    (["--zero-mean-error"], "zero_mean_error has no meaning for it"),
    (["--rate-reg", "0.3"], "rate_reg has no meaning for it"),
    (["--dtype", "float32"], "float64 only"),
])
def test_what_bptt_has_no_use_for_is_refused_before_anything_is_written(tmp_path, capsys, options, message):
    out = tmp_path / "r"
    assert main(["train", "--rule", "bptt", "--out", str(out), *options]) == 2
    assert message in capsys.readouterr().err
    assert not out.exists()


def test_a_batch_size_is_for_bptt_only(tmp_path, capsys):
    assert main(["train", "--rule", "dfa", "--batch-size", "8", "--out", str(tmp_path / "r")]) == 2
    assert "batch_size is for rule bptt" in capsys.readouterr().err


def test_a_recurrent_network_is_refused():
    recurrent = small_spec(rule=rules.get("bptt"), projections=(
        {"pre": "input", "post": "hidden_1"}, {"pre": "hidden_1", "post": "hidden_1", "plastic": False},
        {"pre": "hidden_1", "post": "output"}))
    with pytest.raises(ValueError, match="feed-forward stack"):
        BpttRunner(recurrent, 2)


@pytest.mark.slow
def test_alignment_with_the_gradient_tells_symmetric_from_random_feedback():
    """At the same initial weights and samples: the output layer's update
    is the same product for both rules and points along BPTT's descent
    (0.97 on six samples); the hidden update points along it through W^T
    (0.82) and not through a random B before any learning (-0.10)."""
    from brianrules import data as datamod
    from brianrules.training.alignment import gradient_alignment
    from brianrules.network import initial_weights
    from brianrules.training import TrainConfig

    ds = datamod.load("digits")
    cosines = {}
    for rule in ("symmetric", "dfa"):
        spec = TrainConfig(rule=rule, hidden=[30], t_sample_ms=50.0).network_spec(64, 10)
        weights, feedback = initial_weights(spec, np.random.default_rng(1),
                                            input_rate=float(spec.max_rate) * float(np.mean(ds.x_train)))
        cosines[rule] = gradient_alignment(spec, weights, feedback, ds.x_train[:4], np.eye(10)[ds.y_train[:4]], 5)
    assert np.all(np.isfinite(cosines["dfa"])) and np.all(np.abs(cosines["dfa"]) <= 1 + 1e-12)
    np.testing.assert_allclose(cosines["dfa"][:, 1], cosines["symmetric"][:, 1], rtol=1e-9)
    assert cosines["symmetric"][:, 1].mean() > 0.85
    assert cosines["symmetric"][:, 0].mean() > 0.6 > 0.3 > cosines["dfa"][:, 0].mean()


def test_align_refuses_a_bptt_run(tmp_path, capsys):
    from brianrules.files import write_json
    from brianrules.training import TrainConfig, write_weights
    from dataclasses import asdict

    spec = TrainConfig(rule="bptt", hidden=[5]).network_spec(64, 10)
    write_json(tmp_path / "config.json", {"train": asdict(TrainConfig(rule="bptt", hidden=[5])),
                                          "network": spec.to_dict()})
    write_weights(str(tmp_path / "weights.npz"), [np.zeros((64, 5)), np.zeros((5, 10))], [np.zeros((10, 5))], 1)
    (tmp_path / "metrics.csv").write_text("epoch,train_acc,test_acc\n")
    assert main(["align", str(tmp_path)]) == 2
    assert "the gradient itself" in capsys.readouterr().err
