"""The interface of a feedback pathway, and the registry."""

import math

from ... import feedback as fb

#: name -> Pathway subclass
PATHWAYS = {}


def register(cls):
    """Class decorator: make ``cls`` the builder of the pathway ``cls.name``."""
    if not cls.name or cls.name in PATHWAYS:
        raise ValueError(f"pathway {cls.name!r} has no name or is registered twice")
    PATHWAYS[cls.name] = cls
    return cls


def names():
    return sorted(PATHWAYS)


def get(name):
    """The builder of pathway ``name``."""
    if name not in PATHWAYS:
        raise ValueError(f"unknown feedback pathway '{name}' (choose from {', '.join(names())})")
    return PATHWAYS[name]()


class Pathway:
    """A pathway whose output error is the rate error of `feedback`
    (``err``, written into the output's ``L``); subclasses say how ``L``
    reaches the hidden layers.

    - `hidden_equations` / `output_equations`: what the groups add;
    - `forward_line`: a line added to the plastic forward synapses;
    - `matrices`: the initial feedback matrices, drawn from ``rng`` after
      the forward weights (their order is part of a seed's meaning);
    - `build`: the feedback objects of a `Model` (``model.feedback[k]``:
      the synapses that share matrix k);
    - `values`: run values of the pathway's objects.
    """

    name = None
    #: whether hidden layer k's signal comes from layer k + 1 (a feed-forward chain)
    needs_chain = False

    def hidden_equations(self, rule):
        return fb.HIDDEN_SIGNAL_EQUATIONS + fb.delta_equation(rule.post_factor(False))

    def output_equations(self, rule):
        return fb.OUTPUT_ERROR_EQUATIONS + fb.delta_equation(rule.post_factor(True))

    output_reset = fb.OUTPUT_ERROR_RESET

    def sample_reset(self, output):
        """A group's part of the reset at each sample's start."""
        return fb.OUTPUT_ERROR_SAMPLE_RESET if output else ""

    def forward_line(self, from_input):
        return ""

    def shapes(self, spec):
        """(n_from, n_to) of each feedback matrix."""
        return []

    def matrices(self, spec, rng):
        return [rng.normal(0.0, 1.0 / math.sqrt(n_up), size=(n_up, n_low)) for n_up, n_low in self.shapes(spec)]

    def build(self, model):
        """Feedback objects of ``model``; sets ``model.feedback``."""
        model.feedback = []
        return []

    def error_values(self, model):
        spec = model.spec
        return [(model.output.tau_err, spec.tau_err), (model.output.f_high, spec.f_high),
                (model.output.f_low, spec.f_low)]

    def values(self, model, feedback, noise_seed):
        """Run values of the pathway's objects (``noise_seed``: the run's seed)."""
        pairs = []
        for group, B in zip(model.feedback, feedback):
            for S in group:
                pairs.append((S.B, model.flat(S, B)))
        return pairs
