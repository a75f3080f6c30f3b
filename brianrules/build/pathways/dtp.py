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

With ``reconstruction = "drl"`` the inverses learn by the difference
reconstruction loss (`rules.dtp`) instead.  The pathway builds a twin of
every hidden layer and of the output (``<name>_twin``): the same neurons,
fed by the same input group through the same forward weights (linked to
the groups that hold them, `Model._share`), with noise (`build.noise`, of
strength ``drl_noise``) in hidden layer m = slot mod (hidden layers) alone,
and each population reads its twin's rate (``r_twin``, linked).  In every
step each hidden layer computes ``rr`` (the twin's activity above, sent
down the difference path; ``b_fb = Q rr`` of the layer above, summed as
``a_fb``) and the residual's slopes ``rs1``, ``rs0``; the inverse into
layer m learns in that slot, and none other.  Without noise the twin
repeats its population to the last bit (a test): the difference it makes
is the noise's alone.

Feedback matrix k is Q_k with d_k as an extra last row ((n_(l+1) + 1) x
n_l): the bias is the weight of a unit that is always 1.  The matrices are
read back after each run and are the next run's (saved with the forward
weights, `training.checkpoints`).
"""

import numpy as np

from ... import feedback as fb
from ...rules.dtp import feedback_function, parameters_of, reconstruction_of
from ...topology import connect_all, connect_pairs
from .. import noise
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
            rule.post_factor(False)) + (fb.DTP_DRL_EQUATIONS if drl(rule) else "")

    def output_equations(self, rule):
        return super().output_equations(rule) + "\n" + fb.DTP_OUTPUT_ACTIVITY + "\n" + (
            fb.DTP_DRL_OUTPUT_EQUATIONS if drl(rule) else "")

    def links_weights(self, spec):
        return drl(spec.rule)

    def check(self, spec):
        super().check(spec)
        if not drl(spec.rule):
            return
        why = None
        if spec.alignment:
            why = "the alignment diagnostics are built for the network without its twin"
        elif any(not p.plastic or p.recurrent for p in spec.projections):
            why = "the twin reads every forward projection's weights from the group that holds them: every " \
                  "projection must be plastic and feed-forward"
        elif not spec.accumulate or spec.apply_every != spec.steps_per_sample:
            why = ("the twin's weights are those the network applies at the end of each sample: the rule must "
                   f"apply its accumulated updates then (it applies every {spec.apply_every} steps)")
        else:
            why = next((w for k in range(len(spec.hidden))
                        if (w := noise.refusal(spec.neuron_of(f"hidden_{k + 1}"), f"hidden_{k + 1}"))), None)
        if why:
            raise ValueError(f"dtp with reconstruction drl: {why}")

    # every layer's rate estimate is the output's: the same spike reset and sample reset
    hidden_reset = fb.OUTPUT_ERROR_RESET

    def sample_reset(self, output):
        return fb.OUTPUT_ERROR_SAMPLE_RESET

    def structure(self, rule):  # G is written into the code, and DRL's twin is built
        return {"feedback_fn": parameters_of(rule)[2], **({"reconstruction": "drl"} if drl(rule) else {})}

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
        ] + (self._describe_drl(rule, G, GP) if drl(rule) else [
            f"\nin every step, before the groups' updates (eta_fb = {lr_fb} /s while learning):",
            fb.indented("\n".join([fb.dtp_code(fb.DTP_REC_CODE, G, GP), fb.DTP_FEEDBACK_UPDATE, fb.DTP_BIAS_UPDATE,
                                    fb.dtp_code(fb.DTP_TARGET_CODE, G, GP)])),
        ]))

    @staticmethod
    def _describe_drl(rule, G, GP):
        lr_fb, noise_std = parameters_of(rule)[1], reconstruction_of(rule)[1]
        return [
            "\nthe inverses learn by the difference reconstruction loss (DRL) of a noisy twin of the network: the "
            "same neurons, input spikes and forward weights, with noise of std "
            f"{noise_std:g} (weight units per step) in hidden layer m = slot mod (hidden layers) alone",
            "each population reads its twin's rate; a hidden layer adds:", fb.indented(fb.DTP_DRL_EQUATIONS),
            "the output adds:", fb.indented(fb.DTP_DRL_OUTPUT_EQUATIONS),
            f"and in every step: {fb.DTP_DRL_OUTPUT_CODE}",
            "the feedback synapses also sum:", fb.indented(fb.DTP_DRL_FEEDBACK_SUM),
            f"\nin every step, before the groups' updates (eta_fb = {lr_fb:g} / {noise_std:g}^2 /s in the slots of "
            "layer m's noise, into layer m only):",
            fb.indented("\n".join([fb.dtp_code(fb.DTP_DRL_CODE, G, GP), fb.DTP_DRL_FEEDBACK_UPDATE,
                                    fb.DTP_DRL_BIAS_UPDATE, fb.dtp_code(fb.DTP_TARGET_CODE, G, GP)])),
        ]

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
        twin = drl(model.spec.rule)
        for k, hid in enumerate(model.layers[:-1]):
            up = model.layers[k + 1]
            signal = "err" if up is model.output else "L"
            S = Synapses(up, hid, model=fb.DTP_FEEDBACK_MODEL.replace("SOURCE", signal) + (
                fb.DTP_DRL_FEEDBACK_SUM + "\n" if twin else ""),
                         namespace=model.namespace, name=f"B_{k + 1}")
            connect_all(S)
            model.feedback.append([S])
            hid.run_regularly(drl_gate(model.spec, k) if twin else fb.DTP_GATE, dt=T, when="start",
                              name=f"{hid.name}_fb_gate")
            # each step, before the groups' updates: the inverse learns, then the target error is computed
            hid.run_regularly(fb.dtp_code(fb.DTP_DRL_CODE if twin else fb.DTP_REC_CODE, G, GP),
                              when="before_groups", order=-3, name=f"{hid.name}_fb_rec")
            S.run_regularly(fb.DTP_DRL_FEEDBACK_UPDATE if twin else fb.DTP_FEEDBACK_UPDATE, when="before_groups",
                            order=-2, name=f"B_{k + 1}_learn")
            hid.run_regularly(fb.DTP_DRL_BIAS_UPDATE if twin else fb.DTP_BIAS_UPDATE, when="before_groups",
                              order=-1, name=f"{hid.name}_fb_bias")
            hid.run_regularly(fb.dtp_code(fb.DTP_TARGET_CODE, G, GP), when="before_groups", order=0,
                              name=f"{hid.name}_fb_target")
        if twin:  # before any layer's code reads it
            model.output.run_regularly(fb.DTP_DRL_OUTPUT_CODE, when="before_groups", order=-4, name="output_rr")
        objects = [S for group in model.feedback for S in group]
        return objects + (self._twin(model) if twin else [])

    @staticmethod
    def _twin(model):
        """DRL's noisy twin of every population but the input (see the
        module's text): its groups and forward synapses."""
        from brian2 import Synapses, linked_var

        from ...model.neuron import unit_text
        from ...neurons import make_group
        from .. import batch

        spec, ns, T = model.spec, model.namespace, model.spec.t_sample
        twins, objects = {"input": model.input}, []
        model.twins = []
        for k, g in enumerate(model.layers):
            neuron, hidden = spec.neuron_of(g.name), g is not model.output
            tw = make_group(neuron, spec.surrogate, g.N, f"{g.name}_twin", namespace=ns, set_values=False,
                            extra_equations=fb.DTP_TWIN_EQUATIONS + (noise.equations(neuron) if hidden else ""),
                            extra_reset=fb.OUTPUT_ERROR_RESET)
            if hidden:  # noise in this layer's slots alone
                tw.run_regularly(drl_gate(spec, k, "drl_on"), dt=T, when="start", name=f"{tw.name}_gate")
                tw.run_regularly(noise.code(neuron, gate="drl_on"), when="before_groups", order=-10,
                                 name=f"{tw.name}_noise")
            if spec.reset_between_samples:
                tw.run_regularly("; ".join(c for c in (neuron.sample_reset, fb.OUTPUT_ERROR_SAMPLE_RESET) if c),
                                 dt=T, when="start", name=f"{tw.name}_sample_reset")
            g.r_twin = linked_var(tw, "r")
            twins[g.name] = tw
            model.twins.append(tw)
            objects.append(tw)
        model.twin_synapses = []
        for k, (proj, S, (i, j)) in enumerate(zip(spec.projections, model.projections, model.pairs)):
            unit = spec.w_unit_of(proj.post)
            lines = ["w : 1 (linked)", "widx : integer (constant)"] + (
                [f"w_unit : {unit_text(unit)} (shared, constant)"] if unit is not None else [])
            St = Synapses(twins[proj.pre], twins[proj.post], model="\n".join(lines),
                          on_pre={"pre": spec.neuron_of(proj.post).delivery()}, method="euler", namespace=ns,
                          order=-5, name=f"w_{k + 1}_twin")
            connect_pairs(St, i, j)
            St.widx = batch.weight_index(i, j, spec.projection_shapes[k][1], 1)
            St.w = linked_var(model.shared[S], "w", index="widx")
            model.twin_synapses.append(St)
            objects.append(St)
        return objects

    def values(self, model, feedback, noise_seed):
        from brian2 import second

        spec = model.spec
        step, lr_fb, _ = parameters_of(spec.rule)
        shapes = self.shapes(spec)
        if len(feedback) != len(shapes):
            raise ValueError(f"the dtp pathway needs {len(shapes)} feedback matrices, got {len(feedback)}")
        pairs = []
        if drl(spec.rule):
            pairs += self._twin_values(model, noise_seed)
            lr_fb = lr_fb / reconstruction_of(spec.rule)[1] ** 2  # the loss over the noise's variance
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

    @staticmethod
    def _twin_values(model, noise_seed):
        spec = model.spec
        strength = reconstruction_of(spec.rule)[1]
        pairs = []
        for k, (g, tw) in enumerate(zip(model.layers, model.twins)):
            neuron = spec.neuron_of(g.name)
            pairs += [(getattr(tw, key), value) for key, value in neuron.values(spec.surrogate).items()]
            pairs += [(getattr(tw, key), np.ones(tw.N) * value) for key, value in neuron.initial_state().items()]
            pairs += [(tw.tau_err, spec.tau_err), (tw.rate_unit, spec.f_high - spec.f_low)]
            if g is not model.output:  # a stream of its own, apart from the network's noise
                pairs += noise.values(spec, tw, k, noise_seed, strength=strength, population=g.name, stream=1013)
        for proj, St in zip(spec.projections, model.twin_synapses):
            unit = spec.w_unit_of(proj.post)
            if unit is not None:
                pairs.append((St.w_unit, unit))
        return pairs

    def read(self, model):
        out = []
        for (S,) in model.feedback:
            Q = np.asarray(S.Q[:], dtype=float).reshape(S.source.N, S.target.N)
            out.append(np.vstack([Q, np.asarray(S.target.d_fb[:], dtype=float)[None, :]]))
        return out


def drl(rule):
    """Whether the inverses of ``rule`` (dtp's pathway) learn by DRL."""
    return reconstruction_of(rule)[0] == "drl"


def drl_gate(spec, k, variable="plastic_fb"):
    """Code that opens ``variable`` in the learning slots whose noise is in
    hidden layer ``k`` (from 0): slot mod (hidden layers) = k."""
    return (f"{variable} = learn(t) * int(((t_in_timesteps // {spec.steps_per_sample}) % {len(spec.hidden)}) "
            f"== {k})")
