"""Kolen-Pollack feedback: layer-wise feedback through matrices B that learn.

Akrout, Wilson, Humphreys, Lillicrap & Tweed (2019), "Deep learning without
weight transport", NeurIPS 32 (after Kolen & Pollack 1994).  As in
feedback alignment (`layerwise`), hidden layer l receives
``L_i = sum_j B_ji delta_j`` from layer l+1 through a matrix B_l
(n_(l+1) x n_l, drawn like FA's).  B_l learns with the same local product as
the forward projection from layer l to layer l+1, transposed:

    W_ij <- lambda W_ij + dW_ij,   dW_ij = -eta * integral of delta_j x_i dt
    B_ji <- lambda B_ji + dW_ij

with ``lambda = 1 - kp_decay`` (the rule's parameter, default 0: no decay, the
default of Akrout et al.'s code).  Then ``B - W^T`` is multiplied by lambda at
each application and shrinks to zero with any decay.  The factors of dB_ji
are the upper neuron's ``delta_j = L_j phi_j`` (the presynaptic neuron of the
feedback) and the lower neuron's trace ``x_i``: both are at the feedback
synapse, no weight is transported.

In the generated program forward synapse ij holds B_ji too (the feedback
synapse j -> i of the same pair, ``fb.KP_FEEDBACK_LINES``): it sums
``B * delta_post`` into its presynaptic neuron's ``L`` and, just before each
application of the accumulated update ``w_acc`` (same times, same learning
gate ``plastic``, same eta), adds ``w_acc`` to B (`fb.KP_APPLY`).  So B's
update is the forward one, transposed, to rounding.  B is added to as sgd
adds to w: the pathway refuses a normalising optimizer (whose step for w is
not ``w_acc``).  The matrices are read back after each run (`read`) and are
the next run's feedback.
"""

from ... import feedback as fb
from .layerwise import Layerwise
from .base import register


def kp_decay(spec):
    return float((spec.rule.parameters or {}).get("kp_decay", 0.0))


@register
class KolenPollack(Layerwise):
    name = "kp"
    deep_init = "fluctuation"  # B learns, unlike fa's: measured from this start (README, "Defaults by depth")

    def describe(self, rule):
        return ("learning signal of each hidden layer (the forward synapses hold B, summed into their source):\n"
                + fb.indented(fb.KP_FEEDBACK_LINES)
                + "\nbefore each application (B learns the forward update, both decay by kp_decay):\n"
                + fb.indented(fb.KP_APPLY) + self.passes_down(rule))

    def forward_line(self, from_input):
        return "" if from_input else fb.KP_FEEDBACK_LINES.strip()

    def check(self, spec):
        rule = spec.rule
        if rule.optimizer.normalising:
            raise ValueError(f"the kp pathway adds each accumulated update to the feedback matrices B as sgd adds it "
                             f"to the weights; with optimizer {rule.optimizer.name} the weights take a normalised "
                             "step that B would not follow (use optimizer sgd)")
        if not spec.accumulate:
            raise ValueError("the kp pathway gives B the forward weights' accumulated update; with apply_every 1 "
                             "and sgd nothing accumulates (use apply_every of 2 or more, or the default: once per "
                             "sample)")
        decay = kp_decay(spec)
        if not 0.0 <= decay < 1.0:
            raise ValueError(f"kp_decay must lie in [0, 1), got {decay!r}")
        self.check_carriers(spec)

    def check_carriers(self, spec):
        """Refuse a fixed forward projection from a hidden layer: its synapses hold B, which learns there."""
        for k, proj in enumerate(spec.projections[1:], start=2):
            if not proj.plastic:
                raise ValueError(f"the {self.name} pathway learns the feedback to {proj.pre} with projection {k} "
                                 f"({proj.pre} -> {proj.post}), which is fixed: make it plastic or use layerwise "
                                 "feedback")

    def _carriers(self, model):
        """The forward synapses that carry B_k, hidden layer k's feedback
        (those from hidden layer k), with their projection's index."""
        out = []
        for hid in model.layers[:-1]:
            k = next(n for n, S in enumerate(model.projections) if S.source is hid)
            out.append((k, model.projections[k]))
        return out

    def build(self, model):
        spec = model.spec
        self.check(spec)
        model.feedback = []  # no feedback synapses: the forward ones carry B
        rule = spec.rule
        code = fb.KP_APPLY.strip()
        if rule.deferred:  # bring w_acc up to date first (the application's own catch-up then adds 0)
            code = rule.catch_up_code + "\n" + code
        if rule.optimizer.clip is not None:  # bounded like w
            code += "\nB = clip(B, -opt_clip, opt_clip)"
        for k, S in self._carriers(model):
            # before the application (order -10) and after re-bases and catch-ups of the event-driven form
            S.run_regularly(code, dt=spec.apply_every * spec.dt, when="start", order=-12, name=f"{S.name}_kp")
        return []

    def values(self, model, feedback, noise_seed):
        pairs = []
        decay = kp_decay(model.spec)
        for k, S, B, (i, j) in self._carried(model, feedback):
            pairs += [(S.B, B[j, i]), (S.kp_decay, decay)]
        return pairs

    def _carried(self, model, feedback):
        """(k, S, B, (i, j)) of each carrier: its projection's index, its
        synapses, its feedback matrix checked for shape, its synapses' pairs."""
        carriers = self._carriers(model)
        if len(feedback) != len(carriers):
            raise ValueError(f"the {self.name} pathway needs {len(carriers)} feedback matrices, got {len(feedback)}")
        return [(k, S, self._matrix(B, (S.target.N, S.source.N), n), model.pairs[k])
                for n, ((k, S), B) in enumerate(zip(carriers, feedback))]

    @staticmethod
    def _matrix(B, shape, n):
        import numpy as np

        B = np.ascontiguousarray(B, dtype=float)
        if B.shape != shape:
            raise ValueError(f"feedback matrix {n + 1} has shape {B.shape}, expected {shape}")
        return B

    def read(self, model):
        import numpy as np

        out = []
        for k, S in self._carriers(model):
            i, j = model.pairs[k]
            B = np.zeros((S.target.N, S.source.N))
            B[j, i] = np.asarray(S.B[:], dtype=float)
            out.append(B)
        return out
