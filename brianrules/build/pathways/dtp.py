"""Difference target propagation: targets down through learned inverses.

Lee, Zhang, Fischer & Bengio (2015) (`rules.dtp` has the equations).  Every
population keeps an activity ``h`` (its rate filtered with ``tau_err``, in
units of ``f_high - f_low``).  Hidden layer l receives from the layer above,
through synapses that hold the inverse's weights ``Q`` (n_(l+1) x n_l):

    a_j = sum_k Q_kj h_k,   c_j = sum_k Q_kj e_k     (e: err at the output, L in a hidden layer)
    L_j = (G(a_j + d_j) - G(a_j - eta_hat c_j + d_j)) / eta_hat

which is the difference target's error ``h_j - target_j`` divided by the
target step.  The inverse learns by the reconstruction loss
``|G(a + d) - h|^2`` (``rec``), Q in the feedback synapses, d in the neurons,
in every step of a training sample (``plastic_fb``).  Each step, before the
groups' updates, the reconstruction's error is read, Q and d learn, and
``L`` is computed; ``a`` and ``c`` are summed later in the step (so ``L``
reads those of the step before).

Feedback matrix k is Q_k with d_k as an extra last row ((n_(l+1) + 1) x
n_l): the bias is the weight of a unit that is always 1.  The matrices are
read back after each run and are the next run's (saved with the forward
weights, `training.checkpoints`).
"""

import numpy as np

from ... import feedback as fb
from ...rules.dtp import feedback_function, parameters_of
from ...topology import connect_all
from .base import register
from .layerwise import Layerwise


@register
class DifferenceTarget(Layerwise):
    """Layer-wise (its shapes, its chain) with learned inverses in place of
    fixed matrices; Q_k maps layer k + 1 back to hidden layer k, as
    W_(k+1)^T would, so the angle between them is recorded per epoch."""

    name = "dtp"
    deep_init = "fluctuation"  # B learns, unlike fa's: measured from this start (README, "Defaults by depth")

    def hidden_equations(self, rule):
        G, GP = feedback_function(parameters_of(rule)[2])
        return fb.DTP_RATE_EQUATIONS + fb.dtp_code(fb.DTP_TARGET_EQUATIONS, G, GP) + fb.delta_equation(
            rule.post_factor(False))

    def output_equations(self, rule):
        return super().output_equations(rule) + "\n" + fb.DTP_OUTPUT_ACTIVITY + "\n"

    # every layer's rate estimate is the output's: the same spike reset and sample reset
    hidden_reset = fb.OUTPUT_ERROR_RESET

    def sample_reset(self, output):
        return fb.OUTPUT_ERROR_SAMPLE_RESET

    def structure(self, rule):
        return {"feedback_fn": parameters_of(rule)[2]}  # G is written into the code

    def describe(self, rule):
        step, lr_fb, fn = parameters_of(rule)
        G, GP = feedback_function(fn)

        return "\n".join([
            f"activity of every layer (the output's: {fb.DTP_OUTPUT_ACTIVITY}):", fb.indented(fb.DTP_RATE_EQUATIONS),
            f"on each spike: {fb.OUTPUT_ERROR_RESET}",
            f"\nlearning signal of each hidden layer: its target error per target step (eta_hat = {step}), "
            f"through the learned inverse G(Q h + d), G(u) = {fn}:",
            fb.indented(fb.dtp_code(fb.DTP_TARGET_EQUATIONS, G, GP)),
            "feedback synapses, layer above -> layer (SOURCE: err from the output, L from a hidden layer):",
            fb.indented(fb.DTP_FEEDBACK_MODEL),
            f"\nin every step, before the groups' updates (eta_fb = {lr_fb} /s while learning):",
            fb.indented("\n".join([fb.dtp_code(fb.DTP_REC_CODE, G, GP), fb.DTP_FEEDBACK_UPDATE, fb.DTP_BIAS_UPDATE,
                             fb.dtp_code(fb.DTP_TARGET_CODE, G, GP)])),
        ])

    def matrices(self, spec, rng, scale=None):
        """Random Q (drawn as layer-wise feedback is) and a zero bias row."""
        return [np.vstack([Q, np.zeros((1, Q.shape[1]))]) for Q in super().matrices(spec, rng, scale)]

    def feedback_weights(self, feedback):
        return [np.asarray(M)[:-1] for M in feedback]

    def build(self, model):
        from brian2 import Synapses

        T = model.spec.t_sample
        G, GP = feedback_function(parameters_of(model.spec.rule)[2])
        model.feedback = []
        for k, hid in enumerate(model.layers[:-1]):
            up = model.layers[k + 1]
            signal = "err" if up is model.output else "L"
            S = Synapses(up, hid, model=fb.DTP_FEEDBACK_MODEL.replace("SOURCE", signal),
                         namespace=model.namespace, name=f"B_{k + 1}")
            connect_all(S)
            model.feedback.append([S])
            hid.run_regularly(fb.DTP_GATE, dt=T, when="start", name=f"{hid.name}_fb_gate")
            # each step, before the groups' updates: the inverse learns, then the target error is computed
            hid.run_regularly(fb.dtp_code(fb.DTP_REC_CODE, G, GP), when="before_groups", order=-3,
                              name=f"{hid.name}_fb_rec")
            S.run_regularly(fb.DTP_FEEDBACK_UPDATE, when="before_groups", order=-2, name=f"B_{k + 1}_learn")
            hid.run_regularly(fb.DTP_BIAS_UPDATE, when="before_groups", order=-1, name=f"{hid.name}_fb_bias")
            hid.run_regularly(fb.dtp_code(fb.DTP_TARGET_CODE, G, GP), when="before_groups", order=0,
                              name=f"{hid.name}_fb_target")
        return [S for group in model.feedback for S in group]

    def values(self, model, feedback, noise_seed):
        from brian2 import second

        spec = model.spec
        step, lr_fb, _ = parameters_of(spec.rule)
        shapes = self.shapes(spec)
        if len(feedback) != len(shapes):
            raise ValueError(f"the dtp pathway needs {len(shapes)} feedback matrices, got {len(feedback)}")
        pairs = []
        for n, ((S,), M, (n_up, n_hid)) in enumerate(zip(model.feedback, feedback, shapes)):
            M = np.ascontiguousarray(M, dtype=float)
            if M.shape != (n_up + 1, n_hid):
                raise ValueError(f"feedback matrix {n + 1} has shape {M.shape}, expected {(n_up + 1, n_hid)} "
                                 "(the inverse's weights Q and its bias as the last row)")
            hid = S.target
            pairs += [(S.Q, model.flat(S, M[:-1])), (hid.d_fb, M[-1]), (hid.eta_hat, step),
                      (hid.eta_fb, lr_fb / second),
                      (hid.tau_err, spec.tau_err), (hid.rate_unit, spec.f_high - spec.f_low)]
        return pairs

    def read(self, model):
        out = []
        for (S,) in model.feedback:
            Q = np.asarray(S.Q[:], dtype=float).reshape(S.source.N, S.target.N)
            out.append(np.vstack([Q, np.asarray(S.target.d_fb[:], dtype=float)[None, :]]))
        return out
