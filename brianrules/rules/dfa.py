"""Direct feedback alignment / skipped random backpropagation (DFA / SRBP).

Every hidden neuron j receives the output error e through a fixed random
matrix B (Nokland 2016, NeurIPS; Baldi, Sadowski & Lu 2018, Artif. Intell.
260:1, who call it skipped random backpropagation):

    L_j = sum_k B_jk e_k        (output neurons: L_k = e_k)
    dw_ij/dt = -eta * L_j * phi_j * x_i

with the postsynaptic factor phi_j one of
- ``surrogate``: the surrogate derivative psi(v_j) (SRBP);
- ``none``: 1, "SRBP without the derivative", which with encoders as B is PES;
- ``activity``: the postsynaptic spike trace x_j (the Hebbian variant,
  presynaptic x postsynaptic activity x error).
The output layer's factor is chosen separately (``post_output``, default
the surrogate derivative).
"""

import inspect

from .core import ThreeFactorRule


def dfa(post="surrogate", post_output="surrogate", post_expr=None, eligibility="trace", lr=2.0, lr_hidden=0.2,
        apply_every=None):
    return ThreeFactorRule(
        name="dfa",
        post=post,
        post_output=post_output,
        post_expr=post_expr,
        eligibility=eligibility,
        feedback="direct",
        lr=lr,
        lr_hidden=lr_hidden,
        apply_every=apply_every,
        paper="Nokland (2016) NeurIPS 29; Baldi, Sadowski & Lu (2018) Artif. Intell. 260:1-35",
    )


def parameters_without_eligibility():
    """The keywords of `dfa` but ``eligibility``: those of the rules that
    are dfa with an eligibility trace of their own (superspike, eprop)."""
    return tuple(name for name in inspect.signature(dfa).parameters if name != "eligibility")
