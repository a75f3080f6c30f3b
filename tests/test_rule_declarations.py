"""Rules as declarations: every named rule written out as its three factors
(`brianrules rules --show NAME`, a [rule] section of a model file) is the
same rule, and trains to the same weights."""

import dataclasses
import re
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


@pytest.mark.parametrize("name", sorted(rules.RULES.keys() - {"three_factor", "bptt"}))
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
                       "direct, dtp, encoders, erbp, kp, layerwise, mirror, signsym, symmetric\\)"):
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


#: a cascade of three stages over the trace, as dfa with a declared filter (`rules.cascade`)
CASCADE = dataclasses.replace(rules.get("dfa"), eligibility_filter=(2.0, 5.0, 10.0))


def test_printed_cascade_reads_back_as_the_same_rule():
    from brianrules.rules.three_factor import section, toml_text

    text = toml_text(section(CASCADE))
    assert 'eligibility = "x_pre"' in text and "eligibility_filter_ms = [2.0, 5.0, 10.0]" in text
    cfg = TrainConfig.from_dict(tomllib.loads(text)["rule"], source="section").validate()
    declared = cfg.make_rule()
    assert same_factors(declared, CASCADE) and declared.eligibility == "cascade3"
    assert declared.synapse_model(True) == CASCADE.synapse_model(True)
    assert "delig_rise1/dt = (phi_post * x_pre - elig_rise1) / tau_elig_rise1" in declared.describe()
    assert "through tau_elig_rise1 = 2.0 ms then tau_elig_rise2 = 5.0 ms then tau_elig = 10.0 ms" in declared.describe()


def test_declared_cascade_trains_to_the_same_weights():
    weights = []
    for rule in (CASCADE, _declared(CASCADE)):
        spec = small_spec(hidden=(6, 5), n_in=5, n_out=3, rule=dataclasses.replace(rule, lr=5.0, lr_hidden=2.0))
        inputs = small_inputs(spec, N_SAMPLES)
        weights.append(RuntimeRunner(spec, N_SAMPLES).run(*inputs, noise_seed=5).weights)
    for W0, a, b in zip(inputs[0], *weights):
        assert np.abs(a - W0).max() > 1e-6
        assert np.array_equal(a, b)


def _train_settings(monkeypatch, tmp_path, *args):
    """The settings `brianrules train ARGS` would train with (nothing is built)."""
    import brianrules.training

    seen = []
    monkeypatch.setattr(brianrules.training, "train", lambda cfg, out, **kw: seen.append(cfg))
    assert main(["train", "--out", str(tmp_path / "out"), "--device", "runtime", *args]) == 0
    return seen[0]


def test_factors_from_the_command_line(monkeypatch, tmp_path):
    cfg = _train_settings(monkeypatch, tmp_path, "--rule", "three_factor", "--learning-signal", "direct",
                          "--post-factor", "psi_post", "--eligibility", "x_pre", "--epochs", "1")
    assert (cfg.learning_signal, cfg.post_factor, cfg.eligibility) == ("direct", "psi_post", "x_pre")
    assert same_factors(cfg.make_rule(), rules.get("dfa"))
    cfg = _train_settings(monkeypatch, tmp_path, "--rule", "three_factor", "--learning-signal", "encoders",
                          "--post-factor", "1", "--post-factor-output", "1", "--per-presynaptic",
                          "--eligibility", "x_pre / (tau_trace_pre * Hz)", "--force")
    rule = cfg.make_rule()
    assert cfg.per_presynaptic is True and rule.per_presynaptic and (rule.post, rule.post_output) == ("none", "none")
    assert (rule.feedback, rule.eligibility) == ("encoders", "rate")
    cfg = _train_settings(monkeypatch, tmp_path, "--eligibility-filter", "2", "5", "10", "--force")
    assert cfg.eligibility_filter_ms == [2.0, 5.0, 10.0] and cfg.make_rule() == CASCADE
    cfg = _train_settings(monkeypatch, tmp_path, "--eligibility", "alpha", "--tau-elig", "10", "--tau-elig-rise", "5",
                          "--force")
    assert cfg.make_rule() == rules.get("dfa", eligibility="alpha")


@pytest.mark.parametrize("args,message", [
    (["--rule", "pes", "--learning-signal", "direct"], "rule pes does not take --learning-signal"),
    (["--rule", "dfa", "--per-presynaptic"], "rule dfa does not take --per-presynaptic"),
    (["--rule", "superspike", "--eligibility-filter", "5"], "rule superspike does not take --eligibility-filter"),
    (["--rule", "pes", "--post-factor", "psi_post"], "rule pes does not take --post"),
    (["--eligibility-filter", "5", "0"], "eligibility_filter_ms: the time constant of stage 2"),
])
def test_a_preset_refuses_a_factor_in_one_line(capsys, tmp_path, args, message):
    assert main(["train", "--out", str(tmp_path / "out"), *args]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and message in err[0], err


@pytest.mark.parametrize("kw, message", [
    ({"post_factor": "activity"}, "post_factor 'activity' is the name of a factor; a rule written out as its "
                                  "factors takes its expression, 'x_post'"),
    ({"post_factor_output": "surrogate"}, "its expression, 'psi_post'"),
    ({"eligibility": "trace"}, "eligibility 'trace' is the name of a factor; a rule written out as its factors "
                               "takes its expression, 'x_pre'"),
])
def test_a_factor_given_by_name_is_refused_with_its_expression(kw, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        three_factor(**kw)


@pytest.mark.parametrize("rule", [rules.get("kp", kp_decay=0.1), rules.get("signsym", fb_scale=0.2),
                                  rules.get("mirror", lr_feedback=0.01),
                                  rules.get("dtp", reconstruction="drl", drl_noise=0.5, target_step=0.2)],
                         ids=["kp", "signsym", "mirror", "dtp-drl"])
def test_a_written_rule_keeps_its_pathway_s_parameters(rule):
    """A rule written out as its factors carries its pathway's parameters
    (kp's decay, the scales, dtp's inverses): read back, it has them all."""
    declared = _declared(rule)
    assert declared.feedback == rule.feedback and declared.parameters == rule.parameters


def test_pathway_parameters_go_to_the_pathway_that_takes_them():
    with pytest.raises(ValueError, match="learning_signal layerwise takes no parameters of its own, got kp_decay"):
        three_factor(learning_signal="layerwise", kp_decay=0.1)
    with pytest.raises(ValueError, match="learning_signal kp does not take target_step \\(it takes kp_decay\\)"):
        three_factor(learning_signal="kp", target_step=0.2)
    with pytest.raises(ValueError, match="kp_decay must lie in"):
        three_factor(learning_signal="kp", kp_decay=2.0)
