"""The deep-network defaults (`training.deep`): a training that leaves the
start, the zero-mean error and the rate regulariser unset gets the plain
values with one hidden layer and the deep ones from two hidden layers on,
where the rule, the neurons and the engine take them; a value given wins."""

import os
from dataclasses import asdict

import pytest
from brian2 import Hz

from brianrules.training import TrainConfig
from brianrules.training.deep import DEEP, SHALLOW, settle
from brianrules.training.modelfile import neuron_settings

COBA = os.path.join("models", "neurons", "coba_lif.toml")


def _spec(**kw):
    cfg = TrainConfig(**kw).validate()
    return cfg, cfg.network_spec(64, 10)


def test_one_hidden_layer_keeps_the_plain_settings():
    cfg, spec = _spec()
    assert cfg.settled() == SHALLOW
    assert (spec.init, spec.zero_mean_error, spec.rate_reg, spec.rate_target) == ("fan_in", False, 0.0, 10 * Hz)
    assert cfg.deep_settings_taken() == ""


@pytest.mark.parametrize("rule", ["dfa", "symmetric", "signsym", "kp", "dtp"])
def test_two_hidden_layers_take_the_deep_settings(rule):
    cfg, spec = _spec(rule=rule, hidden=[20, 20])
    assert cfg.settled() == DEEP
    assert (spec.init, spec.zero_mean_error, spec.rate_reg, spec.rate_target) == ("fluctuation", True, 0.3, 50 * Hz)
    assert cfg.deep_settings_taken() == ("deep-network settings: the fluctuation-driven start, the zero-mean error, "
                                         "the rate regulariser 0.3 toward 50 Hz")


def test_fa_keeps_the_fan_in_start_of_its_pathway():
    """Fixed random B trained three layers better from the small fan-in weights."""
    cfg, spec = _spec(rule="fa", hidden=[20, 20, 20])
    assert cfg.settled() == {**DEEP, "init": "fan_in"} and spec.init == "fan_in"
    assert cfg.deep_settings_taken() == ("deep-network settings: the zero-mean error, the rate regulariser 0.3 "
                                         "toward 50 Hz")


def test_the_defaults_equal_the_same_settings_given():
    """A training with the deep settings written out (models/deep_digits.toml)
    resolves as one that leaves them to the depth: a resume compares these."""
    given = TrainConfig(rule="kp", hidden=[30, 30, 30], **DEEP).validate()
    left = TrainConfig(rule="kp", hidden=[30, 30, 30]).validate()
    assert given.resolved() == left.resolved()
    assert given.network_spec(64, 10) == left.network_spec(64, 10)
    assert given.deep_settings_taken() == ""


def test_a_value_given_wins_and_the_rest_follow_the_depth():
    cfg = TrainConfig(hidden=[20, 20], init="fan_in", zero_mean_error=False, rate_reg=0.1).validate()
    values, taken = settle(cfg)
    assert values == {"init": "fan_in", "zero_mean_error": False, "rate_reg": 0.1, "rate_target_hz": 50.0}
    assert taken == ["rate_target_hz"]
    assert cfg.deep_settings_taken() == "deep-network settings: the rate target 50 Hz"
    cfg = TrainConfig(hidden=[20], init="fluctuation", rate_reg=0.2).validate()
    assert cfg.settled() == {"init": "fluctuation", "zero_mean_error": False, "rate_reg": 0.2, "rate_target_hz": 10.0}


def test_what_a_rule_or_neuron_does_not_take_stays_plain():
    # eRBP: error neurons (no output rate error to centre) and a signal read on presynaptic spikes
    cfg, spec = _spec(rule="erbp", hidden=[20, 20])
    assert settle(cfg) == ({**SHALLOW, "init": "fluctuation"}, ["init"])
    assert not spec.zero_mean_error and spec.rate_reg == 0.0
    # BPTT follows the gradient of the loss: the start only
    cfg = TrainConfig(rule="bptt", hidden=[20, 20]).validate()
    assert settle(cfg) == ({**SHALLOW, "init": "fluctuation"}, ["init"])
    # a conductance-based neuron has no closed-form fluctuation start
    cfg = TrainConfig(hidden=[20, 20], **neuron_settings(COBA, COBA)).validate()
    assert settle(cfg) == ({**DEEP, "init": "fan_in"}, ["zero_mean_error", "rate_reg", "rate_target_hz"])
    assert cfg.network_spec(64, 10).init == "fan_in"


def test_model_files_and_options_still_take_the_settings(tmp_path):
    cfg = TrainConfig.from_dict({"hidden": [20, 20], "zero_mean_error": False, "init": "fan_in", "rate_reg": 0.0})
    assert settle(cfg.validate()) == (SHALLOW, [])
    with pytest.raises(ValueError, match="key 'zero_mean_error' must be true or false"):
        TrainConfig.from_dict({"zero_mean_error": 1})
    with pytest.raises(ValueError, match="unknown initialisation 'lsuv'"):
        TrainConfig(init="lsuv").validate()
    with pytest.raises(ValueError, match="rate_reg must be a non-negative number"):
        TrainConfig(hidden=[20, 20], rate_reg=-1.0).validate()


def test_show_says_which_deep_settings_a_model_takes(tmp_path):
    from brianrules import show

    text = show.text(TrainConfig(rule="kp", hidden=[20, 20]).validate(), "m.toml")
    lines = text.splitlines()
    # the architecture block's last line, before the learning signal's pathway
    at = lines.index("learning signal: the kp pathway")
    assert "deep-network settings: the fluctuation-driven start" in lines[at - 2] and lines[at - 1] == ""
    assert "deep-network settings" not in show.text(TrainConfig().validate(), "m.toml")


@pytest.mark.parametrize("name", ["rule_comparison", "rule_comparison_quick", "three_layers_long",
                                  "three_layers_slow_decay", "mnist5k_rules"])
def test_the_plain_studies_keep_their_plain_settings(name):
    """The studies whose README tables were measured with plain SGD pin the
    plain settings, so that their deep points reproduce those tables, and
    every point learns with SGD (dtp's own default is Adam)."""
    from brianrules.study.spec import load_spec

    _, points = load_spec(os.path.join("models", "sweeps", f"{name}.toml"))
    for p in points:
        assert TrainConfig.from_dict(p.settings).validate().make_rule().optimizer.name == "sgd", p.axes
    deep_points = [p for p in points if len(p.settings.get("hidden", [100])) >= 2]
    assert deep_points
    for p in deep_points:
        values, taken = settle(TrainConfig.from_dict(p.settings).validate())
        assert {k: values[k] for k in ("init", "zero_mean_error", "rate_reg")} == \
            {"init": "fan_in", "zero_mean_error": False, "rate_reg": 0.0}


def test_the_adam_model_file_is_the_best_optimizer_studys_srbp():
    """models/srbp_adam_digits.toml is the srbp point of the best-optimizer
    depth study (seed 0, one and three hidden layers) whose figures the README
    gives for it: the same settings, so the same point id."""
    from brianrules.study.spec import load_spec, point_id
    from brianrules.training import load_model_file

    root = os.path.join(os.path.dirname(__file__), "..")
    path = os.path.join(root, "models", "srbp_adam_digits.toml")
    _, points = load_spec(os.path.join(root, "models", "sweeps", "depth_best_optimizer.toml"))
    srbp = {p.axes["hidden"]: p.id for p in points
            if p.axes["variant"].startswith("srbp") and p.axes["seed"] == 0}
    for hidden, label in (([100], "100"), ([100, 100, 100], "100-100-100")):
        settings = {**load_model_file(path), "hidden": hidden}
        cfg = TrainConfig.from_dict(settings, source=path).validate()
        assert point_id(asdict(cfg)) == srbp[label]
