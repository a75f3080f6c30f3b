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
  presynaptic neurons.
"""

#: extra equations of the output group (``tgt`` is a 2-D TimedArray of targets)
OUTPUT_ERROR_EQUATIONS = """
target = tgt(t, i) : 1
target_rate = f_low + (f_high - f_low) * target : Hz
dr/dt = -r / tau_err : Hz
err = (r - target_rate) / (f_high - f_low) : 1
L = err : 1
tau_err : second (shared, constant)
f_high : Hz (shared, constant)
f_low : Hz (shared, constant)
"""
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
