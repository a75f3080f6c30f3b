"""A `model.graded.GradedNetwork` as a Brian2 network.

The objects, in the order Brian2 runs them in a step:

- ``inputs``: a group of ``n_in`` channels whose value ``r = stim(t, i)`` is
  a 2-D `TimedArray` of the input currents (one row per time step);
- ``graded_input`` and ``graded_recurrent``: Synapses whose summed
  variables write ``I_ext = sum_k U_kj r_k`` and ``<input> = sum_i W_ij
  s_i`` (the neuron's input port) before the neurons' state update (Brian2
  runs a summed variable in the ``groups`` slot just before its target);
- ``neurons``: the declared neuron (`neurons.make_group`), its bias
  ``I_bias`` a per-neuron value;
- ``graded_readout``: Synapses summing ``O_ij s_i`` into the readouts' ``o``
  after the neurons' update (the readout group runs later in the slot);
- the neurons' threshold and reset.

`engines.graded` runs the same step in JAX; a test compares the two.
"""

import numpy as np

from ..topology import all_to_all, connect_pairs


def build(net, params, inputs, record=("v", "s")):
    """The Brian2 objects of one trial (``inputs``: steps x n_in) with the
    run values ``params``: (Network, {"neurons", "readout", "spikes",
    "state", "out"}) on the current device."""
    from brian2 import Network, NeuronGroup, SpikeMonitor, StateMonitor, Synapses, TimedArray, second

    from ..neurons import make_group
    from ..surrogates import Surrogate

    params = net.check_params(params)
    x = net.check_inputs(inputs)
    if x.shape[0] != 1:
        raise ValueError(f"a Brian2 run is one trial: inputs have {x.shape[0]}")
    dt = net.dt * second
    stim = TimedArray(x[0], dt=dt, name="graded_stim")
    inp = NeuronGroup(net.n_in, "r = graded_stim(t, i) : 1", name="inputs", dt=dt,
                      namespace={"graded_stim": stim})
    neurons = make_group(net.neuron, Surrogate(), net.n, "neurons", dt=dt, order=0)
    readout = NeuronGroup(net.n_out, "o = o_syn + b_out : 1\no_syn : 1\nb_out : 1 (constant)", name="readout",
                          dt=dt, order=2)
    readout.b_out = params["bias_out"]
    port, out = net.neuron.input_variable, net.neuron.output
    syn_in = Synapses(inp, neurons, f"w : 1\nI_ext_post = w * r_pre : 1 (summed)", name="graded_input", dt=dt,
                      namespace={"graded_stim": stim})
    _connect(syn_in, params["U"], True)
    rec = Synapses(neurons, neurons, f"w : 1\n{port}_post = w * {out}_pre : 1 (summed)", name="graded_recurrent",
                   dt=dt)
    _connect(rec, params["W"], net.self_connections)
    syn_out = Synapses(neurons, readout, f"w : 1\no_syn_post = w * {out}_pre : 1 (summed)", name="graded_readout",
                       dt=dt)
    _connect(syn_out, params["O"], True)
    if net.has_bias:
        neurons.I_bias = params["bias"]
    spikes = SpikeMonitor(neurons, name="graded_spikes")
    # recorded at the end of each step, after the reset
    state = StateMonitor(neurons, list(record), record=True, name="graded_state", dt=dt, when="end")
    outm = StateMonitor(readout, "o", record=True, name="graded_out", dt=dt, when="end")
    network = Network(inp, neurons, readout, syn_in, rec, syn_out, spikes, state, outm, name="network")
    return network, {"neurons": neurons, "readout": readout, "spikes": spikes, "state": state, "out": outm,
                     "record": tuple(record)}


def _connect(synapses, W, diagonal):
    """All-to-all synapses (without i == j unless ``diagonal``) in row-major
    order (`topology.all_to_all`), so that the weights are set without
    reading the indices back (a standalone device cannot before its run)."""
    i, j = connect_pairs(synapses, *all_to_all(W.shape[0], W.shape[1], without_self=not diagonal))
    synapses.w = W[i, j]


def simulate(net, params, inputs, record=("v", "s"), device="runtime", directory=None):
    """Run one trial in Brian2 (``device`` "runtime" or "cpp_standalone",
    the latter built in ``directory``).  Returns NumPy arrays as
    `engines.graded.GradedJax.simulate` does for one trial: ``o`` (steps x
    n_out), ``spikes`` (steps x n, bool), ``recorded[var]`` (steps x n),
    each the value at the end of the step."""
    from brian2 import start_scope

    from .. import devices

    if device not in ("runtime", "cpp_standalone"):
        raise ValueError(f"device must be runtime or cpp_standalone, not {device!r}")
    x = net.check_inputs(inputs)
    steps = x.shape[1]
    start_scope()
    if device == "cpp_standalone":
        if directory is None:
            raise ValueError("a cpp_standalone run needs a directory to build in")
        context = devices.cpp_standalone(directory)
    else:
        import contextlib

        context = contextlib.nullcontext()
    with context:
        from brian2 import second

        network, parts = build(net, params, x, record)
        network.run(steps * net.dt * second)
        o = np.asarray(parts["out"].o[:]).T
        recorded = {k: np.asarray(getattr(parts["state"], k)[:]).T for k in parts["record"]}
        spikes = np.zeros((steps, net.n), dtype=bool)
        idx = np.rint(np.asarray(parts["spikes"].t[:] / second) / net.dt).astype(int)
        spikes[idx, np.asarray(parts["spikes"].i[:])] = True
    return {"o": o, "spikes": spikes, "recorded": recorded}


__all__ = ["build", "simulate"]
