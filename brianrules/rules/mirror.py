"""Weight mirror: feedback matrices that learn W^T from injected noise.

Akrout, Wilson, Humphreys, Lillicrap & Tweed (2019), "Deep learning without
weight transport", NeurIPS 32.  The learning signal reaches layer l as in
feedback alignment (`fa`), through a matrix B standing for W_(l+1)^T:

    delta_k = L_k * phi_k                          (layer l+1; output: L_k = err_k)
    L_j = sum_k B_kj delta_k                       (layer l)
    dw_ij/dt = -eta * L_j * phi_j * x_i

and B learns from noise injected into the hidden neurons: on each spike of
neuron k of layer l+1, ``B_kj += lr_feedback * nt_j``, with ``nt_j`` neuron
j's low-pass filtered record of its own noise (`build.noise`; its strength
is the network's ``noise``, which this rule sets to ``noise`` unless the
network gives its own).  The `mirror` pathway has the details and how it
differs from the paper's separate mirror mode.  B starts as FA's random
matrices and is rescaled to the root mean square ``fb_scale`` at the start
of every run (None: the standard deviation of the initial forward weights).
The learning rates are those of `fa`.
"""

import math

from .core import ThreeFactorRule

#: the noise's standard deviation per step, in weight units (threshold distances of the shipped neurons)
DEFAULT_NOISE = 0.5
#: B's change per spike of the upper neuron, per unit of the lower neuron's noise record
DEFAULT_LR_FEEDBACK = 0.003


def _positive(name, v, zero=False):
    if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v) or v < 0 or (v == 0 and not zero):
        raise ValueError(f"{name} must be a {'non-negative' if zero else 'positive'} number, got {v!r}")
    return float(v)


def mirror(post="surrogate", post_output="surrogate", post_expr=None, eligibility="trace", lr=2.0, lr_hidden=0.5,
           apply_every=None, lr_feedback=DEFAULT_LR_FEEDBACK, fb_scale=None, noise=DEFAULT_NOISE):
    parameters = {"lr_feedback": _positive("lr_feedback", lr_feedback, zero=True),
                  "noise": _positive("noise", noise)}
    if fb_scale is not None:
        parameters["fb_scale"] = _positive("fb_scale", fb_scale)
    return ThreeFactorRule(
        name="mirror",
        post=post,
        post_output=post_output,
        post_expr=post_expr,
        eligibility=eligibility,
        feedback="mirror",
        lr=lr,
        lr_hidden=lr_hidden,
        apply_every=apply_every,
        paper="Akrout, Wilson, Humphreys, Lillicrap & Tweed (2019) NeurIPS 32",
        parameters=parameters,
    )
