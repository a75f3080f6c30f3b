"""Output errors and the synapses that carry them back.

The output error is a rate error: each output neuron filters its own spikes
into a rate estimate ``r`` (time constant ``tau_err``) and compares it with a
target rate, ``f_high`` for the labelled class and ``f_low`` for the others:

    tau_err dr/dt = -r,   r += 1/tau_err at each spike
    err_k = (r_k - target_rate_k) / (f_high - f_low)

``err`` is the output layer's learning signal ``L``.  Hidden layers receive
theirs through feedback synapses: fixed weights ``B`` and a ``(summed)``
variable that writes ``L_j = sum_k B_jk err_k`` into the hidden neuron every
time step, so the whole error pathway runs inside the generated program.
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

DIRECT_FEEDBACK_MODEL = """
B : 1 (constant)
L_post = B * err_pre : 1 (summed)
"""


def direct_feedback(output, hidden, name, namespace=None):
    """Synapses that deliver ``L = B e`` from the output to one hidden layer."""
    from brian2 import Synapses

    from .topology import connect_all

    fb = Synapses(output, hidden, model=DIRECT_FEEDBACK_MODEL, name=name, namespace=namespace)
    connect_all(fb)
    return fb
