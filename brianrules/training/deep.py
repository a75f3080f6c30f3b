"""The settings a network of two or more hidden layers needs to train,
taken where a training leaves them unset.

With one learning rate for every layer and the fan-in start, deep networks
of LIF neurons fall silent or run away under every local rule (README,
"Deep networks that train"): the common "fire less" of a one-hot rate error
reaches every hidden neuron through any feedback matrix whose rows do not
sum to zero, and a layer-wise signal shrinks with each layer it crosses.
Three settings together let the layer-wise and direct rules train three and
five hidden layers: the zero-mean output error, the firing-rate regulariser
toward 50 Hz and the pathway's own start (`Pathway.deep_init`: the
fluctuation-driven one of `build.initial`, except fa's fan-in start).  A
training that leaves them unset (None in `TrainConfig`) gets `DEEP` for a
network of two or more hidden layers, each where the rule's pathway, the
neurons and the engine take it, and `SHALLOW` otherwise: the values with
which the README's one-layer figures were measured.  A value given is
always the one used.
"""

#: the settings of one hidden layer (and of whatever does not take a deep one)
SHALLOW = {"init": "fan_in", "zero_mean_error": False, "rate_reg": 0.0, "rate_target_hz": 10.0}
#: the settings of two or more hidden layers; the start is the pathway's own (`Pathway.deep_init`)
DEEP = {"init": "fluctuation", "zero_mean_error": True, "rate_reg": 0.3, "rate_target_hz": 50.0}
#: from this many hidden layers on, a network takes `DEEP`
DEEP_FROM = 2


def refusals(cfg):
    """{setting: why} of the `DEEP` settings that the network or the engine
    of ``cfg`` (a `TrainConfig`) does not take."""
    from ..build.initial import fluctuation_refusal
    from ..network import regulariser_refusal, zero_mean_refusal
    from .populations import population_neurons

    rule = cfg.make_rule()
    out = {}
    why = fluctuation_refusal([cfg.make_neuron(), *population_neurons(cfg).values()])
    if why:
        out["init"] = why
    engine = f"rule {cfg.rule} follows the gradient of the output loss" if rule.gradient is not None else None
    for name, check in (("zero_mean_error", zero_mean_refusal), ("rate_reg", regulariser_refusal)):
        why = engine or check(rule)
        if why:
            out[name] = why
    if "rate_reg" in out:
        out["rate_target_hz"] = out["rate_reg"]
    return out


def deep_init(cfg):
    """The start of a deep network of ``cfg``: its rule's pathway's (`Pathway.deep_init`)."""
    from ..build import pathways

    return pathways.get(cfg.make_rule().feedback).deep_init


def settle(cfg):
    """(values, taken): each of `SHALLOW`'s settings as it acts in ``cfg``,
    and the names of those that took their `DEEP` value (the rate target
    only where the regulariser acts)."""
    deep = len(cfg.hidden) >= DEEP_FROM
    refused = refusals(cfg) if deep else {}
    deep_values = {**DEEP, "init": deep_init(cfg)} if deep else {}
    values, taken = {}, []
    for name, shallow in SHALLOW.items():
        given = getattr(cfg, name)
        if given is not None:
            values[name] = given
        elif (deep and name not in refused and deep_values[name] != shallow
              and not (name == "rate_target_hz" and not values["rate_reg"])):
            values[name] = deep_values[name]
            taken.append(name)
        else:
            values[name] = shallow
    return values, taken


def describe(values, taken):
    """The deep settings a training took, as a phrase ("" if none)."""
    start = {"fluctuation": "fluctuation-driven", "fan_in": "fan-in"}.get(values["init"], values["init"])
    parts = {"init": f"the {start} start", "zero_mean_error": "the zero-mean error",
             "rate_reg": f"the rate regulariser {values['rate_reg']:g} toward {values['rate_target_hz']:g} Hz"}
    said = [text for name, text in parts.items() if name in taken]
    if "rate_target_hz" in taken and "rate_reg" not in taken and values["rate_reg"]:
        said.append(f"the rate target {values['rate_target_hz']:g} Hz")
    return f"deep-network settings: {', '.join(said)}" if said else ""
