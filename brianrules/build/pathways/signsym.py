"""Sign-symmetric feedback: ``L_j = s * sum_k sign(w_jk) delta_k``.

Layer l+1's ``delta`` reaches layer l through the signs of the current
forward weights of the projection between them, not their magnitudes
(Liao, Leibo & Poggio 2016, "How important is weight symmetry in
backpropagation?", AAAI-16: the signs carry what backpropagation needs).
The scale ``s`` (``fb_scale``, a run value) is by default the standard
deviation of the projection's initial weights, ``w_init / sqrt(n_pre)``, so
the feedback has the magnitude of W's initialisation (Xiao, Chen, Liao &
Poggio 2018, "Biologically-plausible learning algorithms can scale to large
datasets", arXiv:1811.03567: "uniform sign-concordant feedback", uSF).  A
rule's parameter ``fb_scale`` replaces it.

As in the symmetric pathway the forward synapses themselves sum the signal
into their presynaptic neurons, so the feedback follows every change of a
weight's sign at once; there is no feedback matrix.
"""

import math

from ... import feedback as fb
from .base import Pathway, register


def fb_scale(spec, n_pre):
    """``s`` of a projection with ``n_pre`` presynaptic neurons: the rule's
    ``fb_scale``, else the standard deviation of its initial weights."""
    given = (spec.rule.parameters or {}).get("fb_scale")
    return float(given) if given is not None else spec.w_init / math.sqrt(n_pre)


@register
class SignSymmetric(Pathway):
    name = "signsym"
    needs_chain = True

    def describe(self, rule):
        return ("learning signal of each hidden layer (summed by the forward synapses into their source):\n"
                + fb.indented(fb.SIGNSYM_FEEDBACK_LINES) + self.passes_down(rule))

    def forward_line(self, from_input):
        return "" if from_input else fb.SIGNSYM_FEEDBACK_LINES.strip()

    def values(self, model, feedback, noise_seed):
        return [(S.fb_scale, fb_scale(model.spec, S.source.N))
                for S in model.plastic_projections if S.source is not model.input]
