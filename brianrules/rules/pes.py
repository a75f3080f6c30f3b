"""Prescribed Error Sensitivity (PES), the error-driven rule of Nengo.

MacNeil & Eliasmith (2011), "Fine-tuning and the stability of recurrent
neural networks", PLoS ONE 6(9):e22885; as Nengo applies it to a connection
onto neurons (Bekolay et al. 2014, Front. Neuroinform. 7:48):

    delta w_ji = -kappa * dt / n_pre * (E_j . e) * a_i

with e = actual - target the error of the represented value, E_j the
postsynaptic neuron's encoder scaled by its gain (and 1/radius), a_i the
presynaptic spikes (impulses of area 1) through a 5 ms lowpass, in Hz, and
kappa the learning rate (Nengo's default 1e-4).  As a three-factor product:

    L_j = E_j . e         (feedback through the encoders)
    phi_j = 1             (no postsynaptic gating)
    eps_i = a_i = x_i / tau_pre, with tau_pre = 5 ms
    eta = kappa / n_pre   (``per_presynaptic``: every builder divides kappa by n_pre)

so PES is direct feedback with the encoders as the feedback matrix, without
the postsynaptic derivative, applied every time step.  With eps_i = x_i
instead of a_i, the same update is dfa(post="none") with learning rate
kappa / tau_pre.

The default kappa here is 0.1, not Nengo's 1e-4.  In the classification
networks of this package (errors in units of f_high - f_low, rates in Hz)
Nengo's kappa moves the weights by under 1% of their
norm in an epoch of digits and the accuracy stays at chance with one hidden
layer or three; 0.1 trains both.  Nengo's kappa is `NENGO_KAPPA`; the
communication channel (`brianrules.channel`) passes its own.
"""

from .core import ThreeFactorRule

#: Nengo's default PES learning rate (``nengo.PES(learning_rate=1e-4)``)
NENGO_KAPPA = 1e-4
#: this package's default: the kappa that trains the layered networks
KAPPA = 0.1


def pes(learning_rate=KAPPA, lr=None, lr_hidden=None, apply_every=1):
    """PES with learning rate ``kappa`` (dimensionless; default 0.1, see
    the module's note on Nengo's 1e-4).

    ``lr`` / ``lr_hidden`` (the names every rule takes) override kappa for
    the output and hidden projections of a layered network.  The factors are
    PES's own and take no options: another postsynaptic factor or
    eligibility would make it another rule (dfa with ``post="none"`` is
    that family).
    """
    return ThreeFactorRule(
        name="pes",
        post="none",
        post_output="none",
        eligibility="rate",
        feedback="encoders",
        lr=learning_rate if lr is None else lr,
        lr_hidden=learning_rate if lr_hidden is None else lr_hidden,
        apply_every=apply_every,
        paper="MacNeil & Eliasmith (2011) PLoS ONE 6:e22885; Bekolay et al. (2014) Front. Neuroinform. 7:48",
        parameters={"kappa": learning_rate},
        per_presynaptic=True,
    )
