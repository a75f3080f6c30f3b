"""Sign-symmetric feedback: ``L_j = s * sum_k sign(w_jk) delta_k``.

Layer l+1's ``delta`` reaches layer l through the signs of the current
forward weights of the projection between them, not their magnitudes
(Liao, Leibo & Poggio 2016, "How important is weight symmetry in
backpropagation?", AAAI-16: the signs carry what backpropagation needs).
The scale ``s`` (``fb_scale``, a run value) is by default the standard
deviation of the projection's initial weights (``w_init / sqrt(n_pre)`` for
the fan-in start, the fluctuation-driven start's own otherwise), so
the feedback has the magnitude of W's initialisation (Xiao, Chen, Liao &
Poggio 2018, "Biologically-plausible learning algorithms can scale to large
datasets", arXiv:1811.03567: "uniform sign-concordant feedback", uSF).  A
rule's parameter ``fb_scale`` replaces it.

As in the symmetric pathway the forward synapses themselves sum the signal
into their presynaptic neurons, so the feedback follows every change of a
weight's sign at once; there is no feedback matrix.
"""

from ... import feedback as fb
from .. import initial
from .base import Pathway, register


def fb_scale(spec, k):
    """``s`` of the spec's projection ``k`` (from a hidden layer): the rule's
    ``fb_scale``, else the standard deviation of its initial weights, from
    whichever start the spec has (`build.initial`)."""
    given = (spec.rule.parameters or {}).get("fb_scale")
    return float(given) if given is not None else initial.weight_parameters(spec)[k][1]


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
        return [(S.fb_scale, fb_scale(model.spec, model.projections.index(S)))
                for S in model.plastic_projections if S.source is not model.input]
