"""Event-driven random backpropagation (eRBP).

Neftci, Augustine, Paul & Detorakis (2017), "Event-driven random
back-propagation: enabling neuromorphic deep learning machines", Front.
Neurosci. 11:324.  Error neurons (err_pos, err_neg per output) turn the
difference between output spikes and label spikes into error spikes, which a
fixed random matrix B sends into a second, dendritic compartment U_j of every
hidden neuron (and +-1 into the output neurons').  The weight changes on each
presynaptic spike only:

    tau_dend dU_j/dt = -U_j  + sum_k B_jk (S_k^pos(t) - S_k^neg(t))
    w_ij += -eta * U_j * Theta(I_j)         at each spike of neuron i

with Theta the boxcar 1{I_lo < I_syn,j < I_hi} on the neuron's synaptic
current.  The error pathway is built by `feedback.erbp_error_pathway`.
"""

from .core import ThreeFactorRule


def erbp(lr=0.005, lr_hidden=0.001, apply_every=None, post="current_boxcar",
         post_output="current_boxcar", post_expr=None):
    return ThreeFactorRule(
        name="erbp",
        post=post,
        post_output=post_output,
        post_expr=post_expr,
        eligibility="spike",
        timing="event",
        feedback="erbp",
        lr=lr,
        lr_hidden=lr_hidden,
        apply_every=apply_every,
        paper="Neftci, Augustine, Paul & Detorakis (2017) Front. Neurosci. 11:324",
    )
