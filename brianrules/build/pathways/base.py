"""The interface of a feedback pathway, and the registry."""

import math

from ... import feedback as fb

#: name -> Pathway subclass
PATHWAYS = {}

# -- the scale of random feedback matrices --------------------------------
#: name -> the standard deviation of each entry of an n_from x n_to random
#: feedback matrix (n_from: the size of the layer the signal comes from,
#: n_to: the size of the layer it reaches).
#: - ``fan_in``: 1 / sqrt(n_from), so that each neuron's summed feedback has
#:   the variance of one source entry (the default);
#: - ``launay``: 1 / sqrt(n_from * n_to), the normalisation of Launay, Poli &
#:   Krzakala (2019, "Principled training of neural networks with direct
#:   feedback alignment", arXiv:1906.04554): B_l ~ N(0, 1 / (n_l C)) with C the
#:   size of the signal (the output's for direct feedback, the layer above's
#:   for layer-wise feedback), scaled by the width n_l of the layer it reaches.
FEEDBACK_SCALES = {
    "fan_in": lambda n_from, n_to: 1.0 / math.sqrt(n_from),
    "launay": lambda n_from, n_to: 1.0 / math.sqrt(n_from * n_to),
}
DEFAULT_SCALE = "fan_in"


def check_scale(scale):
    """``scale`` if it names a scale of `FEEDBACK_SCALES`, else ValueError."""
    if scale not in FEEDBACK_SCALES:
        raise ValueError(f"unknown feedback scale {scale!r} (choose from {', '.join(FEEDBACK_SCALES)})")
    return scale


def random_matrices(shapes, rng, scale=DEFAULT_SCALE):
    """Gaussian feedback matrices of the given (n_from, n_to) shapes, drawn
    from ``rng`` one after the other, with zero mean and the standard
    deviation of ``scale`` (`FEEDBACK_SCALES`).  Every scale makes the same
    calls of ``rng``: the scale changes the numbers, not what follows."""
    std = FEEDBACK_SCALES[check_scale(scale)]
    return [rng.normal(0.0, std(n_from, n_to), size=(n_from, n_to)) for n_from, n_to in shapes]


def spec_scale(spec, scale=None):
    """The scale asked for: ``scale``, else the spec's ``feedback_scale``
    (a `NetworkSpec` field once it has one), else `DEFAULT_SCALE`."""
    return check_scale(scale if scale is not None else getattr(spec, "feedback_scale", None) or DEFAULT_SCALE)


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
    - `on_post`: what a postsynaptic spike does there;
    - `matrices`: the initial feedback matrices, drawn from ``rng`` after
      the forward weights (their order is part of a seed's meaning);
    - `check`: refuse a spec the pathway cannot build;
    - `build`: the feedback objects of a `Model` (``model.feedback[k]``:
      the synapses that share matrix k);
    - `values`: run values of the pathway's objects;
    - `read`: the feedback matrices after a run, for a pathway whose
      matrices learn (None: they are fixed, the run's own stay);
    - `feedback_weights`: the part of each matrix compared with W^T;
    - `structure`: the rule's parameters that the generated code holds.
    """

    name = None
    #: whether hidden layer k's signal comes from layer k + 1 (a feed-forward chain)
    needs_chain = False
    #: whether feedback matrix k stands for the forward weights W_(k+1)^T (layer-wise pathways)
    stands_for_forward = False
    #: the start (`build.initial`) of a network of two or more hidden layers whose settings leave it
    #: unset (`training.deep`): the one with which the pathway trained three hidden layers best
    deep_init = "fluctuation"
    #: the hidden neurons' noise (`NetworkSpec.noise`) of a network whose settings leave it unset
    default_noise = 0.0

    def hidden_equations(self, rule):
        return fb.HIDDEN_SIGNAL_EQUATIONS + fb.delta_equation(rule.post_factor(False))

    def output_equations(self, rule):
        return fb.OUTPUT_ERROR_EQUATIONS + fb.delta_equation(rule.post_factor(True))

    output_reset = fb.OUTPUT_ERROR_RESET
    #: whether the output's learning signal is the rate error of `feedback` (eRBP's is not)
    rate_error = True
    #: what a hidden neuron's spike adds to the pathway's variables
    hidden_reset = ""

    def sample_reset(self, output):
        """A group's part of the reset at each sample's start."""
        return fb.OUTPUT_ERROR_SAMPLE_RESET if output else ""

    def forward_line(self, from_input):
        return ""

    def on_post(self, from_input):
        """What a postsynaptic spike does at the plastic forward synapses
        (code, or "" for nothing)."""
        return ""

    def shapes(self, spec):
        """(n_from, n_to) of each feedback matrix."""
        return []

    def matrices(self, spec, rng, scale=None):
        """Random matrices of `shapes` (``scale``: a name of `FEEDBACK_SCALES`;
        None: the spec's)."""
        return random_matrices(self.shapes(spec), rng, spec_scale(spec, scale))

    def check(self, spec):
        """Raise ValueError if this pathway cannot build ``spec``."""

    def links_weights(self, spec):
        """Whether the pathway's objects read the forward weights through
        linked variables, so that they must live in groups of their own
        (`build.batch`'s shared weights, one copy)."""
        return False

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

    def read(self, model):
        """The feedback matrices after a run (None: fixed matrices)."""
        return None

    def structure(self, rule):
        """What of ``rule``'s parameters this pathway writes into the
        generated code (part of the build key); {}: none, they are run values."""
        return {}

    def describe(self, rule):
        """How ``rule``'s learning signal reaches the hidden layers, as the
        equations and code of the generated program (`brianrules rules --show`)."""
        raise NotImplementedError(f"pathway {self.name} does not describe itself")

    @staticmethod
    def passes_down(rule):
        """What each layer of a layer-wise pathway sends to the one below, as text."""
        return "\n\nwhat each layer passes down:\n" + fb.indented(fb.delta_equation(rule.post_factor(False)))

    def feedback_weights(self, feedback):
        """The part of each feedback matrix that stands for W_(k+1)^T
        (`stands_for_forward`): all of it, unless a pathway keeps more."""
        return feedback
