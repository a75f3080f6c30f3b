"""Weight mirror: layer-wise feedback through matrices B that learn W^T from noise.

Akrout, Wilson, Humphreys, Lillicrap & Tweed (2019), "Deep learning without
weight transport", NeurIPS 32.  In their "mirror mode" each layer is driven
by zero-mean noise x, the layer above answers with y = f(W x + b), and the
feedback learns ``B += eta x y^T`` (their code: fcnn/FCNN_WM.py), whose mean
is proportional to W^T because x is independent of everything but its own
effect.  Here the noise is injected into every hidden neuron in every step
of training (`build.noise`: a random input through the neuron's input port,
recorded by the neuron as ``nt``, its low-pass filtered kicks), and forward
synapse ij (hidden neuron i -> neuron j of the layer above) holds B_ji and
learns it on each spike of j:

    on a spike of j, while learning:   B_ji += eta_mirror * nt_i

The mean of ``nt_i`` at j's spikes is the effect of i's recent noise on j's
firing, of the sign of W_ij and growing with it (through j's gain, as
Akrout's y passes f): B drifts toward W^T (rows scaled by each upper
neuron's gain) while everything else i's spikes share with j averages out,
because the noise is drawn independently of them.  The feedback is the
layer-wise one of FA and Kolen-Pollack, ``L_i = sum_j B_ji delta_j``.

Akrout et al. rescale B after mirroring so that the feedback's output keeps a
fixed spread.  Here each upper neuron j sends its row of B at the root mean
square ``fb_scale`` (the rule's parameter; by default the standard deviation
of the projection's initial weights, as sign-symmetric feedback's scale): j
keeps the row's mean square ``bsq`` (updated on its spikes with each change
of B) and multiplies what it sends by ``bscale = fb_scale / sqrt(bsq)``,
computed once per step.  The direction is learned, the magnitude is fixed;
without it B's size grew within an epoch and the forward weights diverged.
B is read back unscaled after each run, saved with the weights, and
rescaled to that root mean square at the start of the next run.

Where it differs from the paper: the noise runs during training (one mode,
online) instead of in separate mirror phases, so it also perturbs the
forward activity, and B learns from spikes and a filtered noise record
rather than from rates.
"""

import numpy as np

from ... import feedback as fb
from ...rules.mirror import DEFAULT_LR_FEEDBACK, DEFAULT_NOISE
from .base import register
from .kp import KolenPollack
from .signsym import fb_scale


def eta_mirror(spec):
    """B's change per upper spike and unit of noise record: the rule's
    ``lr_feedback``, else the mirror rule's default (a rule written out as
    its factors with ``learning_signal = "mirror"`` has no parameters)."""
    return float((spec.rule.parameters or {}).get("lr_feedback", DEFAULT_LR_FEEDBACK))


@register
class WeightMirror(KolenPollack):
    name = "mirror"
    deep_init = "fluctuation"
    default_noise = DEFAULT_NOISE

    def describe(self, rule):
        return ("learning signal of each hidden layer (the forward synapses hold B, summed into their source):\n"
                + fb.indented(fb.MIRROR_FEEDBACK_LINES)
                + "\non each spike of the upper neuron (B learns W^T from the lower neuron's noise record nt):\n"
                + fb.indented(fb.MIRROR_ON_POST)
                + "\nthe upper neuron's scale of its row of B, in every step (bsq: the row's mean square):\n"
                + fb.indented(fb.MIRROR_NEURON_EQUATIONS + fb.MIRROR_SCALE)
                + "\nthe hidden neurons' noise, in every step (build.noise):\n"
                + fb.indented("\n".join(["kick = noise * sqrt(12) * (hash_uniform(seed, step, i) - 0.5)",
                                         "<input variable> += kick * noise_unit", "nt += kick",
                                         "dnt/dt = -nt / tau_noise"]))
                + "\nat the start of each run: B *= fb_scale / rms(B)" + self.passes_down(rule))

    def hidden_equations(self, rule):
        return super().hidden_equations(rule) + fb.MIRROR_NEURON_EQUATIONS

    def output_equations(self, rule):
        return super().output_equations(rule) + fb.MIRROR_NEURON_EQUATIONS

    def forward_line(self, from_input):
        return "" if from_input else fb.MIRROR_FEEDBACK_LINES.strip()

    def on_post(self, from_input):
        return "" if from_input else fb.MIRROR_ON_POST.strip()

    def check(self, spec):
        if not spec.noisy:
            raise ValueError("the mirror pathway learns B from the hidden neurons' noise: give it noise "
                             "(--noise, a standard deviation in weight units, greater than 0)")
        self.check_carriers(spec)

    def build(self, model):
        model.feedback = []  # no feedback synapses: the forward ones carry B
        for _, S in self._carriers(model):  # each upper neuron's scale, once per step before the feedback sums
            S.target.run_regularly(fb.MIRROR_SCALE, when="before_groups", order=-9, name=f"{S.target.name}_fb_scale")
        return []

    def values(self, model, feedback, noise_seed):
        spec = model.spec
        pairs = []
        for k, S, B, (i, j) in self._carried(model, feedback):
            scale = fb_scale(spec, k)
            B = rescaled(B, scale)
            pairs += [(S.B, B[j, i]), (S.eta_mirror, eta_mirror(spec)), (S.target.fb_rms, scale),
                      (S.target.bsq, np.mean(np.square(B), axis=1))]
        return pairs


def rescaled(B, scale):
    """``B`` with root mean square ``scale`` (a zero matrix stays zero)."""
    rms = float(np.sqrt(np.mean(np.square(B))))
    return B if rms == 0.0 else B * (scale / rms)
