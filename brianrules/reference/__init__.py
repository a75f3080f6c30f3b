"""A NumPy reference simulator of the discretised model (dfa family).

The Brian2 model of `network.Model` is turned into C++ by Brian2's code
generation; this module writes the same discrete-time system by hand, as
pure functions of explicit state arrays, so that the generated program can
be checked against an independent implementation number for number, and so
that the model can be read without Brian2.

One time step ``n`` (``t = n * dt``) runs, in the order of Brian2's schedule
for the objects that `network.Model` creates:

``start`` slot
    1. every ``apply_every`` steps (accumulating rules): ``w += w_acc``,
       ``w_acc = 0`` (order -10);
    2. every ``t_sample`` steps: the per-sample reset of each group
       (``v = v_rest`` only where the neuron is not refractory,
       ``I_syn = x = 0``, output ``r = 0``; input ``x = 0``; a filtered
       eligibility's stages ``= 0``), then the learning gate
       ``plastic = learn[sample]``;
``groups`` slot
    3. plastic synapses (order -5): ``w_acc += dt * eta * plastic *
       (-L_j * phi_j * x_i)`` (forward Euler).  Hidden layers read the
       learning signal ``L`` stored by the feedback synapses one step
       earlier; the output layer computes its error from ``r`` now.  With
       a filtered eligibility (a cascade of N unit-area stages, e.g.
       ``lowpass`` N = 1, ``alpha`` N = 2; `rules.cascade`) the product is
       ``-L_j * e_N`` and, in the same Euler step (from the values before
       it), each stage moves towards its input:
       ``e_s += dt * (u_s - e_s) / tau_s`` with ``u_1 = phi_j x_i`` and
       ``u_s = e_(s-1)``, whether or not the gate is open;
    4. direct feedback (order -1): ``L_j = sum_k B_kj err_k``, for every
       hidden layer (it is used by step 3 of the *next* time step);
    5. neuron state updates (order 0), exact integration of the linear
       equations: refractoriness is ``(t - lastspike) >= t_ref`` counted in
       whole steps; ``v`` advances only when not refractory; ``I_syn``,
       ``x`` and ``r`` decay;
``thresholds``
    6. input: ``hash_uniform(seed, n, i) < dt * max_rate * stim[sample, i]``;
       LIF: ``v > v_th`` and not refractory, which records ``lastspike = t``;
``synapses``
    7. ``I_syn_j += w_unit * w_ij`` for each presynaptic spike, in order of
       the presynaptic index;
``resets``
    8. ``v = v_reset`` and ``x += 1`` (output: ``r += 1 / tau_err``); input
       ``x += 1``.

Arithmetic follows the generated code expression for expression (the same
loop-invariant constants, the same operand order); the C++ program is built
with ``-ffast-math``, so the results agree to rounding, not bit for bit.

The accumulated change of the last ``apply_every`` steps of a run is not
added to ``w`` within the run (the next apply would fall at the end time),
as in the generated program.
"""


from __future__ import annotations

import time

import numpy as np

from .params import (NEVER_SPIKED, LIFConstants, Params, check_supported, learning_rates, lif_constants,
                     make_params, optimizer_steps, surrogate_function)
from .step import (LIFState, NetState, StepOutput, SynapseState, add_change, apply_accumulated, feedback_signal,
                   filtered_update, initial_state, input_spikes, lif_integrate, lif_reset, lif_rest,
                   lif_sample_reset, lif_threshold, output_error, plastic_update, post_factor, propagate,
                   simulate, step, timed_index)

__all__ = ["NEVER_SPIKED", "LIFConstants", "Params", "check_supported", "learning_rates", "lif_constants",
           "make_params", "optimizer_steps", "surrogate_function", "LIFState", "NetState", "StepOutput", "SynapseState", "add_change",
           "apply_accumulated", "feedback_signal", "filtered_update", "initial_state", "input_spikes",
           "lif_integrate", "lif_reset", "lif_rest", "lif_sample_reset", "lif_threshold", "output_error",
           "plastic_update", "post_factor", "propagate", "simulate", "step", "timed_index", "ReferenceRunner"]


class ReferenceRunner:
    """The NumPy reference with the interface of the Brian2 runners."""

    device = "reference"
    compile_s = 0.0
    cached = False

    def __init__(self, spec, n_samples):
        self.spec = spec
        self.n_samples = int(n_samples)
        self.params = make_params(spec)

    def run(self, weights, feedback, stim, tgt, learn, noise_seed, lr_scale=1.0, optimizer_state=None):
        from ..program import RunResult

        from ..network import run_arrays

        spec = self.spec
        stim, tgt, learn = run_arrays(spec, self.n_samples, stim, tgt, learn)
        t0 = time.perf_counter()
        # the generated program stores the seed as a 32-bit integer
        seed = int(np.int64(int(noise_seed)).astype(np.int32))
        t_sim = time.perf_counter()
        state, counts, hidden_counts = simulate(
            self.params, weights, feedback, stim, tgt, learn, seed,
            learning_rates(spec, lr_scale), optimizer_steps(spec, lr_scale), optimizer_state)
        #: seconds spent in the time-step loop of the last run
        self.last_sim_s = time.perf_counter() - t_sim
        duration = self.n_samples * float(spec.t_sample)
        rates = [float(c / n / duration) for c, n in zip(hidden_counts, spec.hidden)]
        return RunResult([a.w.copy() for a in state.synapses], counts, rates, time.perf_counter() - t0,
                         [dict(a.opt or {}) for a in state.synapses])

    def close(self):
        pass
