"""Output errors and the synapses that carry them back.

The output error is a rate error: each output neuron filters its own spikes
into a rate estimate ``r`` (time constant ``tau_err``) and compares it with a
target rate, ``f_high`` for the labelled class and ``f_low`` for the others:

    tau_err dr/dt = -r,   r += 1/tau_err at each spike
    err_k = (r_k - target_rate_k) / (f_high - f_low)

``err`` is the output layer's learning signal ``L``.  Hidden layers receive
theirs through synapses with a ``(summed)`` variable that writes ``L`` into
the hidden neuron every time step, so the whole error pathway runs inside
the generated program:

- direct (DFA/SRBP): ``L_j = sum_k B_jk err_k`` from the output error;
- layer-wise (FA): ``L_j = sum_k B_jk delta_k`` from the layer above, where
  ``delta_k = L_k * phi_k`` is that layer's learning signal times its
  postsynaptic factor;
- symmetric (backprop-like): ``L_j = sum_k w_jk delta_k`` with the forward
  weights themselves, summed by the forward synapses into their
  presynaptic neurons;
- sign-symmetric: ``L_j = s sum_k sign(w_jk) delta_k``, summed the same way;
- Kolen-Pollack: ``L_j = sum_k B_kj delta_k`` where B learns with the
  forward weights' own update, transposed.
"""

#: the output's rate error
OUTPUT_ERROR_LINE = "err = (r - target_rate) / (f_high - f_low) : 1"
#: extra equations of the output group (``tgt`` is a 2-D TimedArray of targets, one row per
#: sample, read once per sample by `OUTPUT_TARGET_CODE`: as a subexpression every synapse that
#: reads ``err`` would look it up in every step)
OUTPUT_ERROR_EQUATIONS = f"""
target : 1
target_rate = f_low + (f_high - f_low) * target : Hz
dr/dt = -r / tau_err : Hz
{OUTPUT_ERROR_LINE}
L = err : 1
tau_err : second (shared, constant)
f_high : Hz (shared, constant)
f_low : Hz (shared, constant)
"""
#: the zero-mean error: what the output sends down (``err`` for direct
#: feedback, ``delta = err * phi`` for layer-wise feedback) is the rate error
#: minus its mean over the outputs, which synapses from the output onto
#: itself sum (`ZERO_MEAN_SYNAPSES`) before anything reads it in a step; the
#: output's own learning signal stays the rate error, which also sets how
#: much the outputs fire in all
ZERO_MEAN_ERROR_EQUATIONS = """
err_raw = (r - target_rate) / (f_high - f_low) : 1
err = err_raw - err_mean : 1
err_mean : 1
"""
ZERO_MEAN_SYNAPSES = "err_mean_post = err_raw_pre / N_pre : 1 (summed)"
#: the output's target of the sample, at its start
OUTPUT_TARGET_CODE = "target = tgt(t, i)"
OUTPUT_ERROR_RESET = "r += 1 / tau_err"
OUTPUT_ERROR_SAMPLE_RESET = "r = 0*Hz"

#: extra equations of a hidden group: the learning signal written by feedback
HIDDEN_SIGNAL_EQUATIONS = """
L : 1
"""

#: feedback through fixed random weights B; SOURCE is ``err`` (direct
#: feedback from the output error) or ``delta`` (layer-wise feedback)
RANDOM_FEEDBACK_MODEL = """
B : 1 (constant)
L_post = B * SOURCE_pre : 1 (summed)
"""
DIRECT_FEEDBACK_MODEL = RANDOM_FEEDBACK_MODEL.replace("SOURCE", "err")
LAYERWISE_FEEDBACK_MODEL = RANDOM_FEEDBACK_MODEL.replace("SOURCE", "delta")

#: symmetric feedback: an extra line of the forward synapses, which send
#: ``sum_k w_jk delta_k`` back to their presynaptic layer (transposed weights)
SYMMETRIC_FEEDBACK_LINE = "L_pre = w * delta_post : 1 (summed)"

#: sign-symmetric feedback (Liao, Leibo & Poggio 2016): the signs of the
#: forward weights, scaled by a shared ``fb_scale`` (Xiao et al. 2018's
#: uSF: the standard deviation of the initial weights)
SIGNSYM_FEEDBACK_LINES = """
fb_scale : 1 (shared, constant)
L_pre = fb_scale * sign(w) * delta_post : 1 (summed)
"""

#: Kolen-Pollack feedback (Akrout et al. 2019): forward synapse ij also
#: holds B_ji, the weight of the feedback from neuron j of the layer above
#: back to neuron i, which learns with the same accumulated product as w_ij
#: (`KP_APPLY`); ``kp_decay`` shrinks both at each application
KP_FEEDBACK_LINES = """
B : 1
kp_decay : 1 (shared, constant)
L_pre = B * delta_post : 1 (summed)
"""
#: weight mirror (Akrout et al. 2019): forward synapse ij holds B_ji, the
#: weight of the feedback from neuron j of the layer above back to neuron i,
#: which learns on j's spikes from i's record of its own noise (`MIRROR_ON_POST`).
#: Each upper neuron j sends its row of B at the root mean square ``fb_rms``:
#: it keeps the row's mean square ``bsq`` (updated with each change of B)
#: and scales what it sends by ``bscale = fb_rms / sqrt(bsq)`` (`MIRROR_SCALE`)
MIRROR_FEEDBACK_LINES = """
B : 1
eta_mirror : 1 (shared, constant)
L_pre = B * delta_post * bscale_post : 1 (summed)
"""
MIRROR_ON_POST = """
dB_mirror = eta_mirror * plastic * nt_pre
bsq_post += (2 * B + dB_mirror) * dB_mirror / N_incoming
B += dB_mirror
"""
MIRROR_NEURON_EQUATIONS = """
bsq : 1
bscale : 1
fb_rms : 1 (shared, constant)
"""
MIRROR_SCALE = "bscale = fb_rms / sqrt(bsq + 1e-30)"
#: before each application of the accumulated update ``w_acc`` to ``w``:
#: B_ji gets the same update, and both decay by ``kp_decay`` while learning
KP_APPLY = """
B = B * (1 - plastic * kp_decay) + w_acc
w = w * (1 - plastic * kp_decay)
"""


def indented(text):
    """Equations or code as printed by `brianrules rules --show`: each
    non-empty line stripped and indented by two spaces."""
    return "\n".join("  " + line.strip() for line in text.strip().splitlines() if line.strip())


def zero_mean_error(output_equations):
    """The output's equations (`OUTPUT_ERROR_EQUATIONS` and its ``delta``)
    with the zero-mean error sent down (`ZERO_MEAN_ERROR_EQUATIONS`)."""
    swaps = ((OUTPUT_ERROR_LINE, ZERO_MEAN_ERROR_EQUATIONS), ("L = err : 1", "L = err_raw : 1"),
             ("delta = L * (", "delta = err * ("))
    for old, new in swaps:
        if old not in output_equations:
            raise ValueError(f"the zero-mean error needs the output's rate error ({old!r} is missing)")
        output_equations = output_equations.replace(old, new)
    return output_equations


def delta_equation(post_factor):
    """``delta = L * phi``: what a layer passes down in layer-wise feedback.

    ``post_factor`` is the rule's postsynaptic factor as a synapse sees it
    (``psi_post``, ``x_post``, ...); in the neuron group it loses the suffix.
    """
    return f"\ndelta = L * ({post_factor.replace('_post', '')}) : 1\n"


def random_feedback(source, target, signal, name, namespace=None):
    """Synapses that deliver ``L = B signal`` from ``source`` to ``target``
    (``signal``: ``err`` for direct feedback, ``delta`` for layer-wise)."""
    from brian2 import Synapses

    from .topology import connect_all

    fb = Synapses(source, target, model=RANDOM_FEEDBACK_MODEL.replace("SOURCE", signal),
                  name=name, namespace=namespace)
    connect_all(fb)
    return fb


# -- eRBP: error neurons and dendritic compartments ----------------------
#
# Event-driven random backpropagation (Neftci, Augustine, Paul & Detorakis
# 2017, Front. Neurosci. 11:324).  For each output k two error neurons count
# the difference between the output's spikes and label spikes: ``err_pos``
# is excited by the output and inhibited by the label, ``err_neg`` the other
# way round.  Their spikes reach a second, dendritic compartment ``U`` of
# every hidden neuron through fixed random weights (+B from err_pos, -B from
# err_neg) and of output neuron k through +-g_out.  ``U`` is the learning
# signal; weights change on presynaptic spikes only.

#: dendritic compartment of hidden and output neurons in an eRBP network
DENDRITE_EQUATIONS = """
dU/dt = -U / tau_dend : 1
L = U : 1
tau_dend : second (shared, constant)
"""
DENDRITE_SAMPLE_RESET = "U = 0"

#: the boxcar postsynaptic factor of eRBP: 1 while I_lo < I_syn < I_hi
#: (``I_syn``: the neuron's input variable, a voltage)
BOXCAR_EQUATIONS = """
boxcar = int(I_syn > I_lo) * int(I_syn < I_hi) : 1
I_lo : volt (shared, constant)
I_hi : volt (shared, constant)
"""


def boxcar_equations(spec, population=None):
    """The boxcar factor's equations for the neuron of ``population`` (None:
    the model's neuron), or none when its input is not a voltage variable
    (`NetworkSpec.boxcar_of`)."""
    from brian2.utils.stringtools import word_substitute

    if not (spec.boxcar if population is None else spec.boxcar_of(population)):
        return ""
    neuron = spec.neuron if population is None else spec.neuron_of(population)
    return word_substitute(BOXCAR_EQUATIONS, {"I_syn": neuron.input_variable})

#: label spikes: Poisson at f_label for the labelled class (``tgt``)
LABEL_EQUATIONS = """
rate = f_label * tgt(t, i) : Hz
f_label : Hz (shared, constant)
label_seed : integer (shared, constant)
"""
LABEL_THRESHOLD = "hash_uniform(label_seed, t_in_timesteps, i) < rate * dt"

#: error neurons: leaky integrators of +-1 kicks, firing at threshold 1
ERROR_NEURON_EQUATIONS = """
dv/dt = -v / tau_errn : 1
tau_errn : second (shared, constant)
"""


def erbp_error_pathway(output, hidden_layers, namespace):
    """Label group, error neurons and every synapse of the eRBP pathway.

    Returns (objects, label_group, error_groups, feedback) where feedback is
    a list, one entry per hidden layer, of the (+B, -B) synapse pair that
    shares that layer's random matrix; the output's own pair comes last.
    """
    from brian2 import NeuronGroup, Synapses

    from .stateupdate import exact
    from .topology import connect_all

    n_out = output.N
    label = NeuronGroup(n_out, LABEL_EQUATIONS, threshold=LABEL_THRESHOLD, namespace=namespace,
                        name="label")
    err_pos = NeuronGroup(n_out, ERROR_NEURON_EQUATIONS, threshold="v > 1", reset="v -= 1",
                          method=exact(), namespace=namespace, name="err_pos")
    err_neg = NeuronGroup(n_out, ERROR_NEURON_EQUATIONS, threshold="v > 1", reset="v -= 1",
                          method=exact(), namespace=namespace, name="err_neg")
    objects = [label, err_pos, err_neg]
    for src, tgt_grp, sign, name in ((output, err_pos, "+", "out_to_pos"), (label, err_pos, "-", "label_to_pos"),
                                     (output, err_neg, "-", "out_to_neg"), (label, err_neg, "+", "label_to_neg")):
        S = Synapses(src, tgt_grp, on_pre=f"v_post {sign}= 1", namespace=namespace, name=name)
        S.connect(j="i")
        objects.append(S)
    feedback = []
    for k, hid in enumerate(hidden_layers):
        pair = []
        for src, sign in ((err_pos, "+"), (err_neg, "-")):
            S = Synapses(src, hid, model="B : 1 (constant)", on_pre=f"U_post {sign}= B",
                         namespace=namespace, name=f"B_{k + 1}_{'pos' if sign == '+' else 'neg'}")
            connect_all(S)
            pair.append(S)
        feedback.append(pair)
    pair = []
    for src, sign in ((err_pos, "+"), (err_neg, "-")):
        S = Synapses(src, output, model="g_out : 1 (shared, constant)", on_pre=f"U_post {sign}= g_out",
                     namespace=namespace, name=f"G_{'pos' if sign == '+' else 'neg'}")
        S.connect(j="i")
        pair.append(S)
    objects += [S for p in feedback for S in p] + pair
    return objects, label, (err_pos, err_neg), feedback, pair


#: the firing-rate regulariser of a hidden group (`NetworkSpec.rate_reg`):
#: r_reg, the neuron's rate low-pass filtered with tau_reg, against f_target
RATE_REGULARISER_EQUATIONS = """
dr_reg/dt = -r_reg / tau_reg : Hz
L_reg = c_reg * (r_reg - f_target) / f_reg_scale : 1
c_reg : 1 (shared, constant)
f_target : Hz (shared, constant)
tau_reg : second (shared, constant)
f_reg_scale : Hz (shared, constant)
"""
RATE_REGULARISER_RESET = "r_reg += 1 / tau_reg"
#: the learning signal of a regularised hidden neuron
REGULARISED_SIGNAL = "L + L_reg"


# -- difference target propagation (`rules.dtp`) -------------------------
#
# Every population has an activity ``h``: its rate filtered with tau_err,
# divided by ``rate_unit`` (f_high - f_low, the unit of the output's error).
# Feedback synapses from layer l+1 to layer l hold Q (plastic) and sum
# ``a = Q h`` and ``c = Q e`` (e: the layer above's target error per
# eta_hat, ``err`` at the output, ``L`` in a hidden layer) into layer l, whose
# target error per eta_hat is (G(a + d) - G(a - eta_hat c + d)) / eta_hat.

#: the rate estimate and activity of a hidden layer (the output has ``r``;
#: a hidden layer's spike reset and sample reset are the output's)
DTP_RATE_EQUATIONS = """
dr/dt = -r / tau_err : Hz
h = r / rate_unit : 1
tau_err : second (shared, constant)
rate_unit : Hz (shared, constant)
"""
DTP_OUTPUT_ACTIVITY = "h = r / (f_high - f_low) : 1"
#: a hidden layer that receives targets: ``L`` and ``rec_slope`` are stored
#: and computed once per neuron and step (`DTP_TARGET_CODE`, `DTP_REC_CODE`),
#: not inlined into every synapse that reads them
DTP_TARGET_EQUATIONS = """
a_fb : 1
c_fb : 1
d_fb : 1
L : 1
rec_slope : 1
rec = {G_UP} - h : 1
eta_hat : 1 (shared, constant)
eta_fb : 1/second (shared, constant)
plastic_fb : 1 (shared)
"""
#: the reconstruction's error times the inverse's slope, from the state the step starts with
DTP_REC_CODE = "rec_slope = rec * {GP_UP}"
#: the target error per target step, once the bias has learned
DTP_TARGET_CODE = "L = ({G_UP} - {G_TARGET}) / eta_hat"
#: the inverse learns in every step of a training sample, before the
#: groups' updates (``before_groups``), from the state the step starts with:
#: Q, then the bias d (``a_fb`` is summed later in the step)
DTP_FEEDBACK_UPDATE = "Q -= eta_fb_post * plastic_fb_post * rec_slope_post * h_pre * dt"
DTP_BIAS_UPDATE = "d_fb -= eta_fb * plastic_fb * rec_slope * dt"
DTP_GATE = "plastic_fb = learn(t)"
#: the feedback synapses (SOURCE: ``err`` from the output, ``L`` from a hidden layer)
DTP_FEEDBACK_MODEL = """
Q : 1
a_fb_post = Q * h_pre : 1 (summed)
c_fb_post = Q * SOURCE_pre : 1 (summed)
"""

#: DRL (``reconstruction = "drl"``): what a layer adds.  ``r_twin`` is linked to the noisy
#: twin's rate; ``rr`` is the twin's activity above sent down the difference path
#: (`DTP_DRL_CODE`; the output's is the twin's activity itself, `DTP_DRL_OUTPUT_CODE`), ``b_fb`` the sum of Q rr from
#: the layer above, ``rs1`` and ``rs0`` the loss's residual times the inverse's two slopes
DTP_DRL_EQUATIONS = """
r_twin : Hz (linked)
h_twin = r_twin / rate_unit : 1
b_fb : 1
rr : 1
rs0 : 1
rs1 : 1
"""
DTP_DRL_OUTPUT_EQUATIONS = """
r_twin : Hz (linked)
rr : 1
"""
#: the output's ``rr``, its twin's activity, stored once per step (synapses cannot read a linked
#: variable of their source through a subexpression)
DTP_DRL_OUTPUT_CODE = "rr = r_twin / (f_high - f_low)"
#: in every step, before the inverse's update (in place of `DTP_REC_CODE`)
DTP_DRL_CODE = """rr = h + {G_RR} - {G_UP}
rs1 = (h_twin - rr) * {GP_RR}
rs0 = (h_twin - rr) * {GP_UP}"""
DTP_DRL_FEEDBACK_UPDATE = "Q += eta_fb_post * plastic_fb_post * (rs1_post * rr_pre - rs0_post * h_pre) * dt"
DTP_DRL_BIAS_UPDATE = "d_fb += eta_fb * plastic_fb * (rs1 - rs0) * dt"
DTP_DRL_FEEDBACK_SUM = "b_fb_post = Q * rr_pre : 1 (summed)"
#: the twin of a population: its activity, as the population's own
DTP_TWIN_EQUATIONS = DTP_RATE_EQUATIONS + """
drl_on : 1 (shared)
"""


def dtp_code(text, G, GP):
    """``text`` (one of the DTP equations or code lines) with the inverse's
    nonlinearity ``G`` and its derivative ``GP`` written in (functions of an
    argument's text, `rules.dtp.feedback_function`)."""
    return text.format(G_UP=G("a_fb + d_fb"), G_TARGET=G("a_fb - eta_hat * c_fb + d_fb"), GP_UP=GP("a_fb + d_fb"),
                       G_RR=G("b_fb + d_fb"), GP_RR=GP("b_fb + d_fb"))
