"""Difference target propagation (DTP).

Lee, Zhang, Fischer & Bengio (2015), "Difference target propagation",
ECML PKDD, LNCS 9284: 498-515.  Each layer gets a target instead of an
error.  With ``h_l`` a layer's activity, the output's target is a small
step down the loss's gradient, and every target below travels down through
learned approximate inverses ``g_l`` of the forward layers, corrected by
the difference that the inverse makes of the activity itself:

    target_L     = h_L - eta_hat * dLoss/dh_L
    target_(l-1) = h_(l-1) + g_l(target_l) - g_l(h_l)
    g_l(h)       = G(Q_l h + d_l)

and every forward projection learns from its layer's target error with the
three-factor product, ``dw_ij/dt = -eta (h_j - target_j) / eta_hat phi_j x_i``.

In a spiking network ``h`` is a population's rate, filtered with
``tau_err`` and divided by ``f_high - f_low`` (the output's rate error
already has that unit); ``phi`` is the surrogate derivative as in the other
rules.  The target error is divided by ``eta_hat`` (``target_step``), as in
Meulemans et al.'s code, so that the learning rates keep their meaning: at
the output it is the rate error ``err``, and for a small step it tends to
``G'(a + d) * sum_k Q_kj L_k`` (feedback alignment through learned
matrices, with the inverse's slope in place of phi).

The feedback weights learn by DTP's own reconstruction loss (Lee et al.
2015, eq. 13): ``g_l`` should give back the activity below from the
activity above, ``|| g_l(h_l) - h_(l-1) ||^2``, so that

    dQ_kj/dt = -eta_fb rec_j G'(a_j + d_j) h_k,   rec_j = G(a_j + d_j) - h_j
    dd_j/dt  = -eta_fb rec_j G'(a_j + d_j)

with ``a_j = sum_k Q_kj h_k``, in every step of a training sample, in the
generated program beside the forward update (once per sample, from the
rates its end reached, the inverse learned far more slowly: one noisy
snapshot per sample against the whole sample's).  The activities that the reconstruction
sees are noisy (spike counts of Poisson input); Lee et al. add Gaussian
noise to ``h`` instead.

``reconstruction = "drl"`` trains the inverses by Meulemans, Carzaniga,
Suykens, Sacramento & Grewe's (2020) difference reconstruction loss
instead.  A noisy twin of the network (`build.pathways.dtp`) sees the same
input spikes through the same weights; in sample s only its hidden layer
m = s mod (number of hidden layers) receives noise (``drl_noise``, in
weight units per step, `build.noise`).  The twin's activity above m, ``h~``,
is sent down the difference path to layer m,

    rr_L = h~_L,   rr_(l-1) = h_(l-1) + G(Q_l rr_l + d_l) - G(Q_l h_l + d_l)

and Q_(m+1) and d_(m+1) descend ``|h~_m - rr_m|^2 / drl_noise^2`` in every
step of the sample (the other inverses rest):

    res_j = h~_j - rr_j
    dQ_kj/dt = eta_fb / drl_noise^2 * res_j (G'(b_j + d_j) rr_k - G'(a_j + d_j) h_k)
    dd_j/dt  = eta_fb / drl_noise^2 * res_j (G'(b_j + d_j) - G'(a_j + d_j))

with ``a = Q h`` and ``b = Q rr`` of the layer above.  Noise in one layer
at a time is DRL's own: the perturbation of layer m alone, carried up and
back down.  The twin costs a second network's neurons and forward
synapses per step.

``feedback_fn`` is ``G`` as a Brian2 expression of ``u``; its derivative is
taken by sympy.  The default is the softplus ``log(1 + exp(u))``: Lee et
al.'s networks were of tanh units and their inverses tanh, but a rate is
not bounded by 1 in our unit (a hidden layer at 220 Hz has h = 1.1 with
f_high 200 Hz), and a tanh inverse that cannot reach the activity it
reconstructs drives its bias without bound.
"""

import math

from .core import ThreeFactorRule
from .optimizers import Optimizer

#: the variable of ``feedback_fn``
FEEDBACK_ARGUMENT = "u"
#: the inverses' nonlinearity G unless a rule says otherwise: the softplus
DEFAULT_FEEDBACK_FN = "log(1 + exp(u))"
#: the output target's step and the inverses' learning rate (1/s) unless a rule says otherwise
DEFAULT_TARGET_STEP = 0.1
DEFAULT_LR_FEEDBACK = 0.5
#: how the inverses learn: "dtp" (Lee et al.'s reconstruction of the layer below) or "drl" (Meulemans
#: et al.'s difference reconstruction of a noisy twin's perturbation)
RECONSTRUCTIONS = ("dtp", "drl")
DEFAULT_RECONSTRUCTION = "dtp"
#: the twin's noise (std of each step's random input, weight units) and the inverses' learning rate (1/s,
#: divided by the noise's variance in the program) for "drl" unless a rule says otherwise: with three
#: hidden layers on digits (deep settings, seed 0) 0.939 after 5 epochs, against 0.822 with noise 0.3 and
#: rate 0.5 and 0.881 with rate 500 (README, "Difference target propagation")
DEFAULT_DRL_NOISE = 1.0
DEFAULT_LR_FEEDBACK_DRL = 100.0
#: the forward weights learn with Adam (Meulemans et al.'s MNIST configuration of DTP trains with
#: Adam as well), step 3e-3 for every projection: on digits it beat plain SGD with one hidden layer
#: (0.947 against 0.931 after 20 epochs) and with three (0.869 / 0.881 against 0.856 / 0.864 after
#: 10 epochs, seeds 0 / 1; models/sweeps/dtp_screen.toml, README "Difference target propagation")
DEFAULT_OPTIMIZER = "adam"
DEFAULT_STEP = 3e-3
#: the learning rates (1/s) that plain SGD takes unless given (`--optimizer sgd`): the rule's before Adam
SGD_LR, SGD_LR_HIDDEN = 2.0, 0.5


def parameters_of(rule):
    """(target_step, lr_feedback, feedback_fn) of a rule whose pathway is
    dtp: its own, or the defaults (a `three_factor` rule with
    ``learning_signal = "dtp"`` carries none)."""
    p = rule.parameters or {}
    return (float(p.get("target_step", DEFAULT_TARGET_STEP)), float(p.get("lr_feedback", DEFAULT_LR_FEEDBACK)),
            p.get("feedback_fn", DEFAULT_FEEDBACK_FN))


def reconstruction_of(rule):
    """(reconstruction, drl_noise) of a rule whose pathway is dtp."""
    p = rule.parameters or {}
    return p.get("reconstruction", DEFAULT_RECONSTRUCTION), float(p.get("drl_noise", DEFAULT_DRL_NOISE))


def feedback_function(expr):
    """(G, G') of the inverse's nonlinearity ``expr`` (a Brian2 expression
    of ``u``), each a function of an argument's text that returns Brian2
    code.  ValueError when ``expr`` does not parse, names anything other
    than ``u`` and mathematical functions, or has no derivative."""
    import sympy
    from brian2.parsing.sympytools import str_to_sympy, sympy_to_str
    from brian2.utils.stringtools import word_substitute

    if not isinstance(expr, str) or not expr.strip():
        raise ValueError(f"feedback_fn must be a Brian2 expression of {FEEDBACK_ARGUMENT}, got {expr!r}")
    try:
        e = str_to_sympy(expr)
    except Exception as exc:  # brian2 raises several kinds for bad text
        raise ValueError(f"feedback_fn {expr!r} is not an expression Brian2 reads: {exc}") from None
    u = sympy.Symbol(FEEDBACK_ARGUMENT, real=True)
    others = sorted(str(s) for s in e.free_symbols if str(s) != FEEDBACK_ARGUMENT)
    if others:
        raise ValueError(f"feedback_fn {expr!r} may name only {FEEDBACK_ARGUMENT}, not {', '.join(others)}")
    e = e.subs({s: u for s in e.free_symbols})
    de = sympy.diff(e, u)
    if de.has(sympy.Derivative, sympy.Subs) or de == 0:
        raise ValueError(f"feedback_fn {expr!r} needs a derivative in {FEEDBACK_ARGUMENT} that is not zero")
    g, dg = sympy_to_str(e), sympy_to_str(de)

    def of(text):
        return lambda arg: "(" + word_substitute(text, {FEEDBACK_ARGUMENT: f"({arg})"}) + ")"

    return of(g), of(dg)


def _number(name, value, zero=False):
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not (
            math.isfinite(value) and (value >= 0 if zero else value > 0)):
        raise ValueError(f"{name} must be a {'non-negative' if zero else 'positive'} number, got {value!r}")
    return float(value)


def dtp(post="surrogate", post_output="surrogate", post_expr=None, eligibility="trace", lr=DEFAULT_STEP,
        lr_hidden=DEFAULT_STEP, apply_every=None, target_step=DEFAULT_TARGET_STEP, lr_feedback=None,
        feedback_fn=DEFAULT_FEEDBACK_FN, reconstruction=DEFAULT_RECONSTRUCTION, drl_noise=None):
    """The rule with Adam's steps ``lr`` / ``lr_hidden`` (another optimizer:
    `optimizers.configure`; plain SGD then takes `SGD_LR` / `SGD_LR_HIDDEN`
    unless rates are given)."""
    feedback_function(feedback_fn)
    if reconstruction not in RECONSTRUCTIONS:
        raise ValueError(f"reconstruction must be one of {', '.join(RECONSTRUCTIONS)} (how the inverses learn), "
                         f"got {reconstruction!r}")
    if drl_noise is not None and reconstruction != "drl":
        raise ValueError(f"drl_noise ({drl_noise!r}) is the noise of DRL's twin: it takes reconstruction drl, "
                         f"not {reconstruction}")
    if lr_feedback is None:
        lr_feedback = DEFAULT_LR_FEEDBACK_DRL if reconstruction == "drl" else DEFAULT_LR_FEEDBACK
    extra = {} if reconstruction == "dtp" else {
        "reconstruction": reconstruction,
        "drl_noise": _number("drl_noise", DEFAULT_DRL_NOISE if drl_noise is None else drl_noise)}
    return ThreeFactorRule(
        name="dtp",
        post=post,
        post_output=post_output,
        post_expr=post_expr,
        eligibility=eligibility,
        feedback="dtp",
        lr=lr,
        lr_hidden=lr_hidden,
        apply_every=apply_every,
        optimizer=Optimizer(DEFAULT_OPTIMIZER),
        paper="Lee, Zhang, Fischer & Bengio (2015) ECML PKDD, LNCS 9284: 498-515" + (
            "; the inverses by DRL: Meulemans, Carzaniga, Suykens, Sacramento & Grewe (2020) NeurIPS 33"
            if reconstruction == "drl" else ""),
        parameters={"target_step": _number("target_step", target_step),
                    "lr_feedback": _number("lr_feedback", lr_feedback, zero=True), "feedback_fn": feedback_fn,
                    "sgd_lr": SGD_LR, "sgd_lr_hidden": SGD_LR_HIDDEN, **extra},
    )
