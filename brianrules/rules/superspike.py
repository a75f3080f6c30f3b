"""SuperSpike (Zenke & Ganguli 2018, Neural Comput. 30:1514-1541).

SuperSpike descends an error through a surrogate of the spike's voltage
derivative and keeps, per synapse, the product of the postsynaptic
surrogate and the presynaptic trace filtered by a double-exponential
kernel alpha:

    elig_ij = alpha * (sigma'(U_j) (eps * S_i))           (* : convolution)
    dw_ij/dt = -eta * L_j * elig_ij

Hidden neurons receive the output error through fixed random weights
(the paper's "random feedback"; it also tests symmetric and uniform
feedback).  Here

- sigma' is the fast-sigmoid surrogate (`--surrogate fast_sigmoid`, the
  default), the paper's 1 / (1 + |beta (U - theta)|)^2;
- eps * S_i is this package's presynaptic trace x_i (one exponential,
  ``tau_trace``), where the paper uses a double-exponential PSP kernel;
- alpha is the cascade of two unit-area low-pass stages (`cascade`) with
  ``tau_elig_rise`` = 5 ms and ``tau_elig`` = 10 ms, the rise and decay
  times of the paper's kernel (as in the published GeNN port of its
  simulation); unit area keeps eta comparable with dfa's;
- L_j is this package's output error (filtered output rate against the
  target rate, `feedback`), not the paper's alpha-filtered difference of
  target and output spike trains, and eta is fixed, not the paper's
  per-synapse RMSprop-like learning rate.
"""

import dataclasses

from .dfa import dfa, parameters_without_eligibility


def superspike(**parameters):
    """dfa (the same parameters and defaults: ``post``, ``lr``, ...) with
    this rule's eligibility trace, which it does not let another replace."""
    if "eligibility" in parameters:
        raise TypeError("superspike() got an unexpected keyword argument 'eligibility'")
    return dataclasses.replace(
        dfa(**parameters), name="superspike",
        eligibility="alpha", eligibility_filter=(5.0, 10.0),  # rise, then decay (ms)
        paper="Zenke & Ganguli (2018) Neural Comput. 30:1514-1541",
    )


#: the keywords superspike() takes: dfa's, but its eligibility is its own
superspike.parameters = parameters_without_eligibility()
