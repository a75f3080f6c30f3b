"""Layer-wise feedback (FA): ``L_j = sum_k B_jk delta_k`` from the layer
above through fixed random matrices, ``delta = L * phi`` (Lillicrap et al.
2016)."""

from ... import feedback as fb
from .base import Pathway, register


@register
class Layerwise(Pathway):
    name = "layerwise"
    needs_chain = True
    #: B_k stands for W_(k+1)^T: the angle between them is recorded per epoch (`metrics.feedback_angles`)
    stands_for_forward = True
    #: fixed random B: with the deep settings and three hidden layers of 100 on digits (20 epochs, seed 0)
    #: fa reached 0.900 from the fan-in start and 0.861 from the fluctuation start, whose forward
    #: weights are several times larger than B's scale (README, "Defaults by depth")
    deep_init = "fan_in"

    def shapes(self, spec):  # n_(l+1) x n_l, from each layer to the one below
        sizes = spec.sizes
        return [(n_up, n_hid) for n_hid, n_up in zip(sizes[1:-1], sizes[2:])]

    def describe(self, rule):
        return ("learning signal of each hidden layer (feedback synapses, layer above -> layer):\n"
                + fb.indented(fb.LAYERWISE_FEEDBACK_MODEL) + self.passes_down(rule))

    def build(self, model):
        model.feedback = [[fb.random_feedback(model.layers[k + 1], hid, "delta", f"B_{k + 1}", model.namespace)]
                          for k, hid in enumerate(model.layers[:-1])]
        return [S for group in model.feedback for S in group]
