"""Kolen-Pollack learning of the feedback matrices.

Akrout, Wilson, Humphreys, Lillicrap & Tweed (2019), "Deep learning without
weight transport", NeurIPS 32, after Kolen & Pollack (1994): feedback
alignment's matrices B (`fa`) learn with the forward weights' own local
product, transposed, plus an optional decay of both:

    delta_k = L_k * phi_k                          (layer l+1; output: L_k = err_k)
    L_j = sum_k B_kj delta_k                       (layer l)
    dw_jk = -eta * integral of delta_k x_j dt      (projection l -> l+1, per application)
    w_jk <- (1 - kp_decay) w_jk + dw_jk,   B_kj <- (1 - kp_decay) B_kj + dw_jk

so that B - W^T shrinks by (1 - kp_decay) at every application of the
accumulated updates and B comes to equal W^T (with ``kp_decay`` 0, the
default of Akrout et al.'s code, their difference stays as it began while
both grow).  B starts as FA's random matrices and is carried from epoch to
epoch (the `kp` pathway).  The learning rates are those of `fa`.
"""

import math

from .core import ThreeFactorRule


def kp(post="surrogate", post_output="surrogate", post_expr=None, eligibility="trace", lr=2.0, lr_hidden=0.5,
       apply_every=None, kp_decay=0.0):
    if isinstance(kp_decay, bool) or not isinstance(kp_decay, (int, float)) or not (
            math.isfinite(kp_decay) and 0 <= kp_decay < 1):
        raise ValueError(f"kp_decay must lie in [0, 1) (the decay of W and B per application), got {kp_decay!r}")
    return ThreeFactorRule(
        name="kp",
        post=post,
        post_output=post_output,
        post_expr=post_expr,
        eligibility=eligibility,
        feedback="kp",
        lr=lr,
        lr_hidden=lr_hidden,
        apply_every=apply_every,
        paper="Akrout, Wilson, Humphreys, Lillicrap & Tweed (2019) NeurIPS 32; Kolen & Pollack (1994) ICNN",
        parameters={"kp_decay": float(kp_decay)},
    )
