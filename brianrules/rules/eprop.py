"""e-prop for feed-forward LIF layers (Bellec et al. 2020, Nat. Commun. 11:3625).

e-prop factorises the gradient into a learning signal and an eligibility
trace per synapse.  For LIF neurons without recurrence the eligibility
trace is the pseudo-derivative times the filtered presynaptic spikes,
e_ij = psi_j z_i-bar, and the weight change sums the learning signal
against e_ij filtered with the readout's time constant (F_kappa):

    elig_ij = F(psi_j x_i)                 (one low-pass stage, tau_elig)
    dw_ij/dt = -eta * L_j * elig_ij,      L_j = sum_k B_jk err_k

with B fixed and random ("random e-prop"; symmetric e-prop would use the
transposed output weights).  Here

- psi_j is the surrogate of `--surrogate`; e-prop's pseudo-derivative is
  the piecewise-linear one (`--surrogate piecewise_linear`,
  `models/eprop_digits.toml`);
- x_i is the presynaptic trace (``tau_trace``); e-prop filters with the
  membrane time constant, which ``--tau-trace`` equal to ``--tau-m`` gives;
- ``tau_elig`` defaults to 20 ms, the time constant of this package's
  output rate filter (``tau_err``), the counterpart of e-prop's readout
  decay kappa; the filter has unit area, so eta is comparable with dfa's;
- err is this package's rate error, where the paper's classification
  tasks use a softmax readout's cross-entropy error.
"""

import dataclasses

from .dfa import dfa, parameters_without_eligibility


def eprop(**parameters):
    """dfa (the same parameters and defaults: ``post``, ``lr``, ...) with
    this rule's eligibility trace, which it does not let another replace."""
    if "eligibility" in parameters:
        raise TypeError("eprop() got an unexpected keyword argument 'eligibility'")
    return dataclasses.replace(
        dfa(**parameters), name="eprop",
        eligibility="lowpass", eligibility_filter=(20.0,),
        paper="Bellec, Scherr, Subramoney, Hajek, Salaj, Legenstein & Maass (2020) Nat. Commun. 11:3625",
    )


#: the keywords eprop() takes: dfa's, but its eligibility is its own
eprop.parameters = parameters_without_eligibility()
