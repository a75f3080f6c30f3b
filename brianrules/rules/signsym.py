"""Sign-symmetric feedback: backprop's pathway with the weights' signs only.

Liao, Leibo & Poggio (2016), "How important is weight symmetry in
backpropagation?", AAAI-16: layer l+1's learning signal reaches layer l
through ``sign(W^T)`` of the current forward weights, and learning works
nearly as well as with W^T itself.  Xiao, Chen, Liao & Poggio (2018,
arXiv:1811.03567) scale the signs by the standard deviation of the initial
weights ("uniform sign-concordant feedback", uSF) and train ImageNet with it:

    delta_k = L_k * phi_k                          (layer l+1; output: L_k = err_k)
    L_j = s * sum_k sign(w_jk) delta_k             (layer l)
    dw_ij/dt = -eta * L_j * phi_j * x_i

``s`` is ``fb_scale`` when given, else ``w_init / sqrt(n_pre)`` of the
projection above (the standard deviation of its initial weights; the
`signsym` pathway).  The hidden learning rate defaults to 0.5/s, as `fa`'s:
the feedback keeps the magnitude of the initial weights while symmetric
feedback grows with them (on digits with three hidden layers of 100, seed 0,
0.2/s reached 19% test accuracy after 3 epochs, 0.5/s 78%).
"""

import math

from .core import ThreeFactorRule


def signsym(post="surrogate", post_output="surrogate", post_expr=None, eligibility="trace", lr=2.0, lr_hidden=0.5,
            apply_every=None, fb_scale=None):
    if fb_scale is not None and (isinstance(fb_scale, bool) or not isinstance(fb_scale, (int, float))
                                 or not 0 < fb_scale < math.inf):
        raise ValueError(f"fb_scale must be a positive number, got {fb_scale!r}")
    return ThreeFactorRule(
        name="signsym",
        post=post,
        post_output=post_output,
        post_expr=post_expr,
        eligibility=eligibility,
        feedback="signsym",
        lr=lr,
        lr_hidden=lr_hidden,
        apply_every=apply_every,
        paper="Liao, Leibo & Poggio (2016) AAAI-16; Xiao, Chen, Liao & Poggio (2018) arXiv:1811.03567",
        parameters={} if fb_scale is None else {"fb_scale": float(fb_scale)},
    )
