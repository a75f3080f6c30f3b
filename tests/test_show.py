"""`brianrules show MODEL.toml`: the whole model as text, with the learning
signal's pathway as `brianrules rules --show` writes it."""

import pytest

from brianrules import rules, show
from brianrules.build import pathways
from brianrules.feedback import OUTPUT_ERROR_EQUATIONS
from brianrules.training import TrainConfig

LOCAL = sorted(name for name in rules.RULES if not rules.get(name).gradient and name != "three_factor")


@pytest.mark.parametrize("name", LOCAL)
def test_the_model_text_holds_its_pathways_equations(name):
    cfg = TrainConfig(rule=name, hidden=[10, 10]).validate()
    rule = cfg.make_rule()
    text = show.text(cfg, "m.toml")
    pathway = pathways.get(rule.feedback)
    assert f"learning signal: the {rule.feedback} pathway" in text
    lines = [line.strip() for line in text.splitlines()]
    wanted = [line.strip() for line in pathway.describe(rule).splitlines() if line.strip()]
    assert wanted and all(line in lines for line in wanted), name
    assert ("err = (r - target_rate) / (f_high - f_low) : 1" in lines) == pathway.rate_error
    if pathway.rate_error:
        assert all(line.strip() in lines for line in OUTPUT_ERROR_EQUATIONS.splitlines() if line.strip())


def test_dtp_with_drl_shows_the_twins_loss_and_a_gradient_no_pathway():
    plain = show.text(TrainConfig(rule="dtp", hidden=[10, 10]).validate(), "m")
    drl = show.text(TrainConfig(rule="dtp", hidden=[10, 10], reconstruction="drl").validate(), "m")
    assert plain != drl
    described = pathways.get("dtp").describe(rules.get("dtp", reconstruction="drl"))
    assert all(line.strip() in drl for line in described.splitlines())
    assert "learning signal:" not in show.text(TrainConfig(rule="bptt").validate(), "m")


def test_the_shift_of_the_training_images_is_named():
    assert "shifted by up to 2 pixels" in show.text(TrainConfig(dataset="mnist5k", shift_px=2).validate(), "m")
    assert "shifted" not in show.text(TrainConfig().validate(), "m")
