"""Rules as declarations: every named rule written out as its three factors
(`brianrules rules --show NAME`, a [rule] section of a model file) is the
same rule, and trains to the same weights."""

import dataclasses
import tomllib

import numpy as np
import pytest

from brianrules import rules
from brianrules.cli import main
from brianrules.devices import RuntimeRunner
from brianrules.rules.three_factor import same_factors, three_factor
from brianrules.training import TrainConfig
from conftest import small_inputs, small_spec

N_SAMPLES = 3
#: named rule -> the settings its preset takes here (event: its event-driven form)
PRESETS = {"dfa": {}, "srbp-none": {"post": "none"}, "dfa-hebbian": {"post": "activity"},
           "dfa-event": {"timing": "event"}, "fa": {}, "symmetric": {}, "pes": {}, "erbp": {},
           "superspike": {}, "eprop": {}}


def _preset(key):
    settings = dict(PRESETS[key])
    timing = settings.pop("timing", None)
    rule = rules.get(key.split("-")[0], **settings)
    return rule.event_driven() if timing == "event" else rule


def _printed_section(name, capsys, options=()):
    assert main(["rules", "--show", name, *options]) == 0
    out = capsys.readouterr().out
    return tomllib.loads(out)  # the whole output is valid TOML: the section, then comments


@pytest.mark.parametrize("name", sorted(rules.RULES.keys() - {"three_factor"}))
def test_printed_declaration_is_the_named_rule(name, capsys):
    section = _printed_section(name, capsys)
    assert set(section) == {"rule"}
    cfg = TrainConfig.from_dict(section["rule"], source=f"rules --show {name}").validate()
    assert cfg.rule == "three_factor"
    declared, preset = cfg.make_rule(), rules.get(name)
    assert same_factors(declared, preset), (declared, preset)
    # the generated code is the same text
    assert declared.synapse_model(True) == preset.synapse_model(True)
    assert declared.neuron_factor() == preset.neuron_factor()


def test_a_rule_in_factor_expressions_maps_onto_the_named_factors():
    rule = three_factor(post_factor="x_post", eligibility="x_pre / (tau_trace_pre * Hz)")
    assert (rule.post, rule.eligibility, rule.timing) == ("activity", "rate", "clock")
    own = three_factor(post_factor="psi_post * x_post", eligibility="x_pre * x_pre")
    assert own.post_expr == "psi_post * x_post" and own.eligibility_expr == "x_pre * x_pre"
    assert "-eta * Lphi_post * (x_pre * x_pre)" in own.synapse_model(True)
    assert three_factor(eligibility="1", post_factor="boxcar_post").timing == "event"
    with pytest.raises(ValueError, match="learning_signal: unknown feedback pathway 'backprop' \\(the pathways: "
                       "direct, encoders, erbp, layerwise, symmetric\\)"):
        TrainConfig(rule="three_factor", learning_signal="backprop").validate()
    with pytest.raises(ValueError, match="output layer's factor is one of"):
        three_factor(post_factor_output="psi_post * 2")


def _declared(rule):
    """``rule`` through its printed section, as the settings of a model file read it."""
    from brianrules.rules.three_factor import section

    cfg = TrainConfig.from_dict(section(rule), source="section")
    return cfg.make_rule()


@pytest.mark.parametrize("key", sorted(PRESETS))
def test_declared_rule_trains_to_the_presets_weights(key):
    preset = _preset(key)
    declared = _declared(preset)
    lr = {"erbp": (0.5, 0.2), "pes": (0.05, 0.02)}.get(key, (5.0, 2.0))
    weights = []
    for rule in (preset, declared):
        rule = dataclasses.replace(rule, lr=lr[0], lr_hidden=lr[1])
        spec = small_spec(hidden=(6, 5), n_in=5, n_out=3, rule=rule)
        inputs = small_inputs(spec, N_SAMPLES)
        result = RuntimeRunner(spec, N_SAMPLES).run(*inputs, noise_seed=5)
        assert max(np.abs(W - W0).max() for W, W0 in zip(result.weights, inputs[0])) > 1e-6  # it learned
        weights.append(result.weights)
    for a, b in zip(*weights):
        np.testing.assert_allclose(a, b, rtol=0, atol=1e-12)
