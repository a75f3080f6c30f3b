"""Direct feedback (DFA/SRBP): ``L_j = sum_k B_jk err_k``, the output error
through a fixed random matrix into every hidden layer (Nokland 2016; Baldi,
Sadowski & Lu 2018)."""

from ... import feedback as fb
from .base import Pathway, register


@register
class Direct(Pathway):
    name = "direct"

    def shapes(self, spec):  # n_out x n_hidden, from the output to every hidden layer
        return [(spec.n_out, n_hid) for n_hid in spec.hidden]

    #: what B holds, in the description
    holds = "fixed random matrix"

    def describe(self, rule):
        return (f"learning signal of each hidden layer (feedback synapses, output -> hidden; B = {self.holds}):\n"
                + fb.indented(fb.DIRECT_FEEDBACK_MODEL))

    def build(self, model):
        model.feedback = [[fb.random_feedback(model.output, hid, "err", f"B_{k + 1}", model.namespace)]
                          for k, hid in enumerate(model.layers[:-1])]
        return [S for group in model.feedback for S in group]
