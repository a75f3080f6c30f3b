"""A rule written out as its three factors: the declaration every preset is.

    dw_ij/dt = -eta * L_j * phi_j * eps_ij

``learning_signal`` names the pathway that writes ``L_j`` (direct,
layerwise, symmetric, encoders, erbp); ``post_factor`` and
``post_factor_output`` are ``phi_j`` of the hidden and the output layers,
``eligibility`` is ``eps_ij``, all Brian2 expressions over the neurons'
ports: ``psi_post`` (the surrogate derivative), ``x_pre`` / ``x_post`` (the
traces), ``boxcar_post`` (eRBP's window on the input variable) and, in a
user's own rule, any variable of the declared neuron (``a_post``).  The
presynaptic spike itself is the eligibility ``"1"``, which makes the
updates event-driven.  ``eligibility_filter`` makes the eligibility a
per-synapse trace: ``phi_j x_pre`` through a cascade of unit-area low-pass
stages, one time constant (ms) per stage, input first (`cascade`), with
``eligibility = "x_pre"``; the names ``lowpass`` (one stage) and ``alpha``
(two) stand for the cascades of e-prop and SuperSpike.  ``per_presynaptic``
divides each projection's learning rate by its number of presynaptic
neurons (PES).

`section` writes any rule as such a declaration (the ``[rule]`` section of a
model file, `brianrules rules --show`), with the parameters of its pathway
where it has its own (kp's decay, dtp's inverses); reading it back with
`three_factor` gives a rule with the same factors and parameters, hence the
same generated code and weights (a test).
"""

import dataclasses
import inspect

from . import cascade
from .core import ThreeFactorRule
from .factors import ELIGIBILITIES, EXPRESSION_ELIGIBILITY, FILTERED_ELIGIBILITIES, POST_FACTORS

#: expression -> name of the named postsynaptic factors
_POST_NAMES = {expr: name for name, expr in POST_FACTORS.items()}
#: expression -> name of the eligibilities that are expressions (the filtered ones are named)
_ELIGIBILITY_NAMES = {expr: name for name, expr in ELIGIBILITIES.items() if name not in FILTERED_ELIGIBILITIES}


def _normal(expr):
    return " ".join(str(expr).split())


def post_name(expr):
    """The named factor an expression is, or None."""
    return _POST_NAMES.get(_normal(expr))


def eligibility_name(expr):
    """The named (unfiltered) eligibility an expression is, or None."""
    return _ELIGIBILITY_NAMES.get(_normal(expr))


def _pathway_presets():
    """learning_signal -> the preset whose pathway it is, for the pathways
    with parameters of their own (`PATHWAY_PARAMETERS`)."""
    from .dtp import dtp
    from .kp import kp
    from .mirror import mirror
    from .signsym import signsym

    return {"kp": kp, "signsym": signsym, "mirror": mirror, "dtp": dtp}


#: the parameters of the pathways that have their own (the keywords their presets take beside the factors)
PATHWAY_PARAMETERS = ("fb_scale", "kp_decay", "target_step", "lr_feedback", "feedback_fn", "reconstruction",
                      "drl_noise")


def pathway_parameters(learning_signal, given):
    """The ``parameters`` of a rule on pathway ``learning_signal`` with the
    pathway parameters ``given``: its preset's, which checks them.
    ValueError for a pathway without parameters, or one it does not take."""
    if not given:
        return {}
    preset = _pathway_presets().get(learning_signal)
    if preset is None:
        raise ValueError(f"learning_signal {learning_signal} takes no parameters of its own, got "
                         f"{', '.join(sorted(given))}")
    takes = inspect.signature(preset).parameters
    wrong = sorted(k for k in given if k not in takes)
    if wrong:
        raise ValueError(f"learning_signal {learning_signal} does not take {', '.join(wrong)} (it takes "
                         f"{', '.join(k for k in PATHWAY_PARAMETERS if k in takes)})")
    return dict(preset(**given).parameters)


def three_factor(learning_signal="direct", post_factor="psi_post", post_factor_output="psi_post",
                 eligibility="x_pre", lr=2.0, lr_hidden=0.2, apply_every=None, per_presynaptic=False,
                 eligibility_filter=None, name="three_factor", **pathway):
    """A rule from its factors (see the module's docstring);
    ``eligibility_filter`` None: no filter (or a named one's own stages);
    ``pathway``: the parameters of a pathway that has its own
    (`PATHWAY_PARAMETERS`: kp's decay, signsym's and the mirror's scale,
    dtp's target step, inverses and reconstruction)."""
    if not isinstance(learning_signal, str) or not learning_signal.isidentifier():
        raise ValueError(f"learning_signal must name a pathway, got {learning_signal!r}")
    for key, value in (("post_factor", post_factor), ("post_factor_output", post_factor_output),
                       ("eligibility", eligibility)):
        if not isinstance(value, str) or not value.strip():
            raise ValueError(f"{key} must be a Brian2 expression, got {value!r}")
    for key, value in (("post_factor", post_factor), ("post_factor_output", post_factor_output)):
        if value.strip() in POST_FACTORS and post_name(value) is None:
            raise ValueError(f"{key} {value!r} is the name of a factor; a rule written out as its factors "
                             f"takes its expression, {POST_FACTORS[value.strip()]!r}")
    if eligibility.strip() in ELIGIBILITIES and eligibility.strip() not in FILTERED_ELIGIBILITIES \
            and eligibility_name(eligibility) is None:
        raise ValueError(f"eligibility {eligibility!r} is the name of a factor; a rule written out as its factors "
                         f"takes its expression, {ELIGIBILITIES[eligibility.strip()]!r}")
    post = post_name(post_factor)
    output = post_name(post_factor_output)
    if output is None:
        raise ValueError(f"post_factor_output {post_factor_output!r}: the output layer's factor is one of "
                         f"{', '.join(POST_FACTORS.values())}")
    if eligibility in FILTERED_ELIGIBILITIES:
        kind, expr = eligibility, None
    else:
        kind = eligibility_name(eligibility)
        expr = None if kind is not None else eligibility
    if eligibility_filter is not None:
        eligibility_filter = cascade.check(eligibility_filter, "eligibility_filter")
    return ThreeFactorRule(
        name=name, post=post or "surrogate", post_output=output,
        post_expr=None if post is not None else post_factor,
        eligibility=kind or EXPRESSION_ELIGIBILITY, eligibility_expr=expr,
        feedback=learning_signal, timing="event" if kind == "spike" else "clock",
        lr=lr, lr_hidden=lr_hidden, apply_every=apply_every, per_presynaptic=bool(per_presynaptic),
        eligibility_filter=eligibility_filter or (), parameters=pathway_parameters(learning_signal, pathway))


#: the keywords `three_factor` takes (its own and the pathways')
three_factor.parameters = (*(k for k in inspect.signature(three_factor).parameters if k != "pathway"),
                           *PATHWAY_PARAMETERS)


def section(rule):
    """``rule`` as the keys of a model file's ``[rule]`` section (plain values)."""
    out = {"rule": "three_factor", "learning_signal": rule.feedback, "post_factor": rule.post_factor(False),
           "post_factor_output": rule.post_factor(True),
           # a filter's input: phi_j times the trace (`cascade`)
           "eligibility": ELIGIBILITIES["trace"] if rule.filtered else rule.eligibility_factor}
    if rule.deferred:
        out["timing"] = "event"
    out["lr"] = rule.lr
    out["lr_hidden"] = rule.lr_hidden
    if rule.optimizer.name != "sgd":  # the rates above are its steps
        out["optimizer"] = rule.optimizer.name
    if rule.apply_every is not None:
        out["apply_every"] = rule.apply_every
    if rule.per_presynaptic:
        out["per_presynaptic"] = True
    if rule.filtered:
        out[FILTER_KEY] = list(rule.eligibility_filter)
    out.update({k: v for k, v in (rule.parameters or {}).items() if k in PATHWAY_PARAMETERS})
    return out


#: the key of a filter's time constants in a ``[rule]`` section (and in `TrainConfig`)
FILTER_KEY = "eligibility_filter_ms"


def toml_text(values, header="rule"):
    """A flat mapping of strings, numbers, booleans and lists of numbers as a TOML section."""
    import json

    def value(v):
        if isinstance(v, bool):
            return "true" if v else "false"
        if isinstance(v, str):
            return json.dumps(v)  # a TOML basic string
        if isinstance(v, (list, tuple)):
            return "[" + ", ".join(value(x) for x in v) + "]"
        return repr(v)

    return "\n".join([f"[{header}]", *(f"{k} = {value(v)}" for k, v in values.items())])


def same_factors(a, b):
    """Whether two rules differ only in their name, reference and recorded
    parameters (so that they generate the same code)."""
    strip = {"name": "", "paper": "", "parameters": {}}
    return dataclasses.replace(a, **strip) == dataclasses.replace(b, **strip)


def preset_factors(given, rule):
    """The settings ``post_factor`` / ``post_factor_output`` of preset
    ``rule`` (a name) as the named factors (``post``, ``post_output``) or
    the expression (``post_expr``) its factory takes."""
    given = dict(given)
    if "post_factor" in given:
        if "post" in given or "post_expr" in given:
            raise ValueError(f"post_factor ({given['post_factor']}) and --post/--post-expr both set the hidden "
                             "layers' postsynaptic factor: give one")
        expr = given.pop("post_factor")
        name = post_name(expr)
        given["post" if name else "post_expr"] = name or expr
    if "post_factor_output" in given:
        expr = given.pop("post_factor_output")
        if "post_output" in given:
            raise ValueError("post_factor_output and --post-output both set the output's postsynaptic factor: give one")
        name = post_name(expr)
        if name is None:
            raise ValueError(f"post_factor_output {expr!r}: rule {rule}'s output factor is one of "
                             f"{', '.join(POST_FACTORS.values())}")
        given["post_output"] = name
    return given
