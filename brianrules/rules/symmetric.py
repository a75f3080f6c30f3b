"""Symmetric feedback: the backprop-like reference.

Layer l+1's learning signal reaches layer l through the transposed forward
weights, as in backpropagation (Rumelhart, Hinton & Williams 1986, Nature
323:533), here applied online with the surrogate derivative as the
postsynaptic factor (as in surrogate-gradient learning; Neftci, Mostafa &
Zenke 2019, IEEE Signal Process. Mag. 36:51):

    delta_k = L_k * psi_k                      (layer l+1; output: L_k = err_k)
    L_j = sum_k w_jk delta_k                   (layer l: the live forward weights)
    dw_ij/dt = -eta * L_j * psi_j * x_i

The forward synapses themselves sum ``w * delta_post`` into their
presynaptic neurons' ``L`` (a summed variable onto ``_pre``).  It is not
backpropagation through time: the signal is instantaneous, not propagated
back through the neurons' dynamics.
"""

from .core import ThreeFactorRule


def symmetric(post="surrogate", post_output="surrogate", post_expr=None, eligibility="trace", lr=2.0, lr_hidden=0.2,
              apply_every=None):
    return ThreeFactorRule(
        name="symmetric",
        post=post,
        post_output=post_output,
        post_expr=post_expr,
        eligibility=eligibility,
        feedback="symmetric",
        lr=lr,
        lr_hidden=lr_hidden,
        apply_every=apply_every,
        paper="Rumelhart, Hinton & Williams (1986) Nature 323:533; "
        "Neftci, Mostafa & Zenke (2019) IEEE Signal Process. Mag. 36(6):51",
    )
