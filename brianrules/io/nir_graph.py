"""A network of LIF neurons as a NIR graph (Neuromorphic Intermediate
Representation; Pedersen et al. 2024, Nat. Commun. 15:8122; package ``nir``).

Export (`to_nir`).  Each population becomes a ``CubaLIF`` node, each
projection a ``Linear`` node, the Poisson input an ``Input`` node, and the
output population feeds an ``Output`` node.  NIR's CubaLIF is

    tau_syn dI/dt = -I + w_in S          tau_mem dv/dt = (v_leak - v) + r I
    spike when v > v_threshold, then v = v_reset

and the package's LIF (`model.neuron.LIF_DECLARATION`) is, in the units of
its threshold distance D = v_th - v_rest (u = (v - v_rest) / D, J = I_syn / D),

    tau_syn dJ/dt = -J,   J += w w_unit / D at each presynaptic spike
    tau_m   du/dt = -u + J

So ``v_leak = 0``, ``v_threshold = 1``, ``v_reset = (v_reset - v_rest) / D``.
The importers that step a graph in time steps of dt with spikes of 0 or 1
(snnTorch, Norse) add ``w_in * dt / tau_syn * (W s)`` to I for the spikes s
of a step: a spike must raise r I by w w_unit / D.  The graph keeps that
invariant, ``r * w_in * W_nir * dt / tau_syn = w w_unit / D``, with
snnTorch's own choice of the free factors (its exporter's and importer's):
``r = tau_mem / dt``, ``w_in = tau_syn / dt``, hence
``W_nir = (w w_unit / D)^T * dt / tau_mem``, in NIR's (out, in) order.
Time constants are in seconds, as every importer reads them.

A population of the delta-synapse LIF (`model.neuron.DELTA_LIF_DECLARATION`,
``models/neurons/lif_delta.toml``: a spike raises v by w w_unit at once)
becomes NIR's ``LIF`` node, ``tau dv/dt = (v_leak - v) + r I`` with I the
projection's output: an importer's step adds ``r dt / tau * (W s)`` to v, so
``r = tau / dt`` and ``W_nir = (w w_unit / D)^T``.

What NIR has no field for goes into metadata: the graph's ``dt_s`` (the
step the spike convention assumes), ``t_sample_s`` and ``max_rate_hz`` (how
inputs are encoded); each node's ``refractory_period_s`` (NIR has no
refractory period: importers ignore it, and `to_nir` warns when it is not
zero), ``v_rest_V`` and ``threshold_distance_V`` (to read voltages back in
volts) and ``population``.

Import (`from_nir`) reads the same kind of graph, from this package or
another tool: one Input, Linear or bias-free Affine projections, CubaLIF or
LIF populations, one Output.  It gives the settings of a training
(`TrainConfig` keys: the hidden sizes, the projections where they are not
the feed-forward stack, the neuron's time constants and reset, the time
step when the graph records one) and the forward weights in the package's
(pre, post) order, in units of the neuron's ``v_th - v_reset``.

`simulate` steps a graph in the order of the package's Brian2 programs
(integrate, threshold, deliver the step's spikes, reset), with the exact
solution of the linear equations over each step: the graph of a run gives
the spikes of the run's Brian2 program for the same input spikes.  The
importers differ in two ways (`scripts/check_nir_importers.py`): they
integrate by forward Euler, and they pass a spike on within its step, so
each layer fires one step earlier than here.
"""

import math
import re
import warnings
from dataclasses import dataclass

import numpy as np

from ..model.neuron import DELTA_LIF_DECLARATION, LIF_DECLARATION

#: the graph's Input and Output nodes
INPUT, OUTPUT = "input", "output"
#: the node of the output population (NIR's Output node is "output")
OUTPUT_POPULATION_NODE = "output_lif"
#: what the graph's metadata says of its origin
SOURCE = "brianrules"


class NIRError(ValueError):
    """A graph or network that has no NIR form here; the message says which node or population."""


def write(path, graph):
    """Write ``graph`` as a NIR file (HDF5), whole or not at all: a file
    already at ``path`` stays until the new one is complete."""
    from ..files import atomic_write

    nir = require_nir()
    atomic_write(path, lambda tmp: nir.write(tmp, graph))


def require_nir():
    """The ``nir`` package, or a ValueError that says how to install it."""
    try:
        import nir
    except ImportError:
        raise ValueError("NIR graphs need the package nir: pip install 'brianrules[nir]' (or pip install nir)") \
            from None
    return nir


# -- export ------------------------------------------------------------------

def node_name(population):
    return OUTPUT_POPULATION_NODE if population == "output" else population


def to_nir(spec, weights, metadata=None, warn=True):
    """The network of ``spec`` with forward ``weights`` (n_pre x n_post
    each, in ``spec.projections``' order) as a ``nir.NIRGraph``.  Every
    population must have the package's LIF neuron or its delta-synapse form.  ``warn``: a
    `warnings.warn` for what importers will not honour (a refractory period,
    a reset that is not the rest)."""
    nir = require_nir()
    dt = float(spec.dt)
    if len(weights) != len(spec.projections):
        raise NIRError(f"{len(weights)} weight matrices for {len(spec.projections)} projections")
    nodes = {INPUT: nir.Input(input_type=np.array([spec.n_in]))}
    sizes = spec.population_sizes
    notes = []
    delta = {}  # population -> whether its neuron is the delta-synapse LIF (a LIF node)
    for population in [p for p in sizes if p != "input"]:
        neuron = spec.neuron_of(population)
        delta[population] = neuron.declares(DELTA_LIF_DECLARATION)
        if not (neuron.is_builtin_lif or delta[population]):
            raise NIRError(f"population {population} has neuron '{neuron.name}': NIR's CubaLIF and LIF stand for "
                           "the package's LIF (models/neurons/lif.toml) and its delta-synapse form "
                           "(models/neurons/lif_delta.toml) only")
        p = {k: float(v) for k, v in neuron.parameters.items()}
        D = p["v_th"] - p["v_rest"]
        ones = np.ones(sizes[population])
        reset = (p["v_reset"] - p["v_rest"]) / D
        meta = {"population": population, "refractory_period_s": p["t_ref"], "v_rest_V": p["v_rest"],
                "threshold_distance_V": D, "neuron": neuron.name}
        if delta[population]:
            node = nir.LIF(tau=p["tau_m"] * ones, r=p["tau_m"] / dt * ones, v_leak=0 * ones,
                           v_threshold=ones.copy(), v_reset=reset * ones, metadata=meta)
        else:
            node = nir.CubaLIF(tau_syn=p["tau_syn"] * ones, tau_mem=p["tau_m"] * ones, r=p["tau_m"] / dt * ones,
                               v_leak=0 * ones, v_threshold=ones.copy(), v_reset=reset * ones,
                               w_in=p["tau_syn"] / dt * ones, metadata=meta)
        nodes[node_name(population)] = node
        if p["t_ref"] > 0:
            notes.append(f"population {population} has a refractory period of {p['t_ref'] * 1e3:g} ms, which NIR "
                         "cannot express: it is in the node's metadata (refractory_period_s), and importers "
                         "ignore it")
        if reset != 0:
            notes.append(f"population {population} resets to {reset:g} threshold distances from rest; snnTorch "
                         "and Norse reset to 0")
    edges = []
    for k, (proj, W) in enumerate(zip(spec.projections, weights)):
        W = np.asarray(W, dtype=float)
        if W.shape != (sizes[proj.pre], sizes[proj.post]):
            raise NIRError(f"weights of projection {k + 1} ({proj.pre} -> {proj.post}) have shape {W.shape}, "
                           f"expected {(sizes[proj.pre], sizes[proj.post])}")
        post = spec.neuron_of(proj.post)
        scale = float(spec.w_unit_of(proj.post)) / (float(post.v_th) - float(post.v_rest))
        if not delta[proj.post]:  # through the current: r w_in dt / tau_syn = tau_mem / dt
            scale *= dt / float(post.tau_m)
        name = f"w_{k + 1}"
        nodes[name] = nir.Linear(weight=(W * scale).T, metadata={"plastic": bool(proj.plastic)})
        edges += [(node_name(proj.pre), name), (name, node_name(proj.post))]
    nodes[OUTPUT] = nir.Output(output_type=np.array([spec.n_out]))
    edges.append((OUTPUT_POPULATION_NODE, OUTPUT))
    from .. import __version__

    meta = {"source": f"{SOURCE} {__version__}", "dt_s": dt, "t_sample_s": float(spec.t_sample),
            "max_rate_hz": float(spec.max_rate),
            "spikes": "0 or 1 per time step of dt_s; input: Poisson, rate max_rate_hz times the intensity"}
    meta.update(metadata or {})
    if warn:
        for note in notes:
            warnings.warn(note, NIRExportWarning, stacklevel=2)
    return nir.NIRGraph(nodes=nodes, edges=edges, metadata=meta)


class NIRExportWarning(UserWarning):
    """Something of the network that importers of the graph will not honour."""


# -- import ------------------------------------------------------------------

@dataclass
class Imported:
    """A NIR graph read as a network of the package."""

    settings: dict  # TrainConfig keys
    weights: list  # n_pre x n_post per projection, in units of v_th - v_reset
    populations: dict  # population -> NIR node name
    projections: list  # (pre, post) populations, in the order of ``weights``
    n_in: int  # the Input's size
    n_out: int  # the output population's size


def _uniform(node_name_, node, field):
    values = np.asarray(getattr(node, field), dtype=float).ravel()
    if values.size == 0 or not np.all(np.isfinite(values)):
        raise NIRError(f"node {node_name_}: {field} must be finite numbers")
    if np.ptp(values) > 1e-9 * max(1.0, float(np.abs(values).max())):
        raise NIRError(f"node {node_name_}: {field} varies from {values.min():g} to {values.max():g} between "
                       "neurons; a population here has one value per parameter")
    return float(values[0])


def _cell(name, node):
    """A CubaLIF or LIF node's values, one per field: its declaration here,
    its size, its time constants, its reset in threshold distances from
    v_leak, and ``jump(dt)``, the threshold distances by which a spike
    through a weight of 1 moves v (0/1 spikes per step of dt)."""
    import nir

    cuba = isinstance(node, nir.CubaLIF)
    fields = ("tau_syn", "tau_mem", "r", "v_leak", "v_threshold", "v_reset", "w_in") if cuba else \
        ("tau", "r", "v_leak", "v_threshold", "v_reset")
    p = {f: _uniform(name, node, f) for f in fields}
    tau_mem = p["tau_mem"] if cuba else p["tau"]
    span = p["v_threshold"] - p["v_leak"]
    if span <= 0 or tau_mem <= 0 or (cuba and p["tau_syn"] <= 0):
        raise NIRError(f"node {name}: needs positive time constants and v_threshold above v_leak")
    reset = (p["v_reset"] - p["v_leak"]) / span
    if reset >= 1:
        raise NIRError(f"node {name}: v_reset lies at or above v_threshold")
    if cuba:  # through the current I: r w_in W dt / tau_syn
        jump = lambda dt: p["r"] * p["w_in"] * dt / p["tau_syn"] / span  # noqa: E731
    else:  # straight onto v: r W dt / tau
        jump = lambda dt: p["r"] * dt / tau_mem / span  # noqa: E731
    return {"declaration": LIF_DECLARATION if cuba else DELTA_LIF_DECLARATION, "n": int(np.asarray(node.v_threshold).size),
            "tau_mem": tau_mem, "tau_syn": p["tau_syn"] if cuba else None, "reset": reset, "jump": jump}


def from_nir(graph, dt_s=None):
    """The settings and initial weights of the network a graph describes
    (see the module's docstring).  ``dt_s``: the time step of the spike
    convention where the graph's metadata records none (the training's dt)."""
    nir = require_nir()
    nodes, edges = graph.nodes, list(graph.edges)
    inputs = [n for n, v in nodes.items() if isinstance(v, nir.Input)]
    outputs = [n for n, v in nodes.items() if isinstance(v, nir.Output)]
    if len(inputs) != 1 or len(outputs) != 1:
        raise NIRError(f"the graph needs one Input and one Output node, it has {len(inputs)} and {len(outputs)}")
    for name, node in nodes.items():
        if isinstance(node, nir.NIRGraph):
            raise NIRError(f"node {name} is a subgraph: flatten the graph first")
        if not isinstance(node, (nir.Input, nir.Output, nir.CubaLIF, nir.LIF, nir.Linear, nir.Affine)):
            raise NIRError(f"node {name} is a {type(node).__name__}: a network here has Input, Linear or Affine, "
                           "CubaLIF or LIF, and Output nodes")
        if isinstance(node, nir.Affine) and np.any(np.asarray(node.bias) != 0):
            raise NIRError(f"node {name}: an Affine projection with a bias; projections here have none")
    meta = dict(graph.metadata or {})
    dt = float(meta.get("dt_s", dt_s if dt_s is not None else float("nan")))
    if not math.isfinite(dt) or dt <= 0:
        raise NIRError("the graph records no time step (metadata dt_s): give the training's dt")
    into = {n: [a for a, b in edges if b == n] for n in nodes}
    out_of = {n: [b for a, b in edges if a == n] for n in nodes}
    neurons = [n for n, v in nodes.items() if isinstance(v, (nir.CubaLIF, nir.LIF))]
    if not neurons:
        raise NIRError("the graph has no CubaLIF or LIF node")
    cells = {n: _cell(n, nodes[n]) for n in neurons}
    last = into[outputs[0]]
    if len(last) != 1 or last[0] not in neurons:
        raise NIRError(f"the Output node must be fed by one CubaLIF or LIF node, it is fed by {last or 'nothing'}")
    # projections: Linear/Affine nodes between two populations
    links = []
    for name, node in nodes.items():
        if not isinstance(node, (nir.Linear, nir.Affine)):
            continue
        if len(into[name]) != 1 or len(out_of[name]) != 1:
            raise NIRError(f"node {name} must have one edge in and one out, it has {len(into[name])} and "
                           f"{len(out_of[name])}")
        pre, post = into[name][0], out_of[name][0]
        if pre not in neurons + inputs or post not in neurons:
            raise NIRError(f"node {name} must lead from the Input or a neuron node to a neuron node, "
                           f"it leads from {pre} to {post}")
        links.append((name, pre, post))
    for a, b in edges:
        if (a in neurons + inputs) and b in neurons:
            raise NIRError(f"edge {a} -> {b} has no weights: put a Linear node between populations")
    # the populations in order of their distance from the input (hidden_1, hidden_2, ...)
    depth, frontier = {inputs[0]: 0}, [inputs[0]]
    while frontier:
        nxt = []
        for n in frontier:
            for _, pre, post in links:
                if pre == n and post not in depth:
                    depth[post] = depth[n] + 1
                    nxt.append(post)
        frontier = sorted(nxt)
    unreached = [n for n in neurons if n not in depth]
    if unreached:
        raise NIRError(f"node {unreached[0]} cannot be reached from the Input")
    hidden_nodes = sorted((n for n in neurons if n != last[0]), key=lambda n: (depth[n], n))
    population = {inputs[0]: "input", last[0]: "output",
                  **{n: f"hidden_{k + 1}" for k, n in enumerate(hidden_nodes)}}
    # one neuron per population, from the node's fields
    params, populations = {}, {}
    for n in neurons:
        c = cells[n]
        node_meta = dict(getattr(nodes[n], "metadata", None) or {})
        t_ref = float(node_meta.get("refractory_period_s", 0.0))
        v_rest = float(node_meta.get("v_rest_V", -0.060))
        D = float(node_meta.get("threshold_distance_V", 0.010))
        values = {"tau_m": f"{c['tau_mem'] * 1e3!r}*ms", "v_rest": f"{v_rest * 1e3!r}*mV",
                  "v_th": f"{(v_rest + D) * 1e3!r}*mV", "v_reset": f"{(v_rest + c['reset'] * D) * 1e3!r}*mV",
                  "t_ref": f"{t_ref * 1e3!r}*ms"}
        if c["tau_syn"] is not None:
            values["tau_syn"] = f"{c['tau_syn'] * 1e3!r}*ms"
        params[population[n]] = (c["declaration"], values)
        populations[population[n]] = n
    weights, projections = [], []
    for name, pre, post in links:
        c = cells[post]
        W = np.asarray(nodes[name].weight, dtype=float)
        n_pre = int(np.prod(nodes[pre].output_type["output"])) if pre in inputs else cells[pre]["n"]
        if W.ndim != 2 or W.shape != (c["n"], n_pre):
            raise NIRError(f"node {name}: weight of shape {W.shape} does not join {pre} ({n_pre} neurons) to "
                           f"{post} ({c['n']} neurons)")
        # a spike moves v by jump * W in threshold distances; w_unit is (1 - reset) of them
        weights.append(W.T * (c["jump"](dt) / (1 - c["reset"])))
        projections.append((population[pre], population[post]))
    # the order of the projections: the exporter's (w_1, w_2, ...), else the feed-forward stack's first
    from ..model.architecture import chain

    stack = [(p.pre, p.post) for p in chain(len(hidden_nodes))]
    names = [name for name, _, _ in links]
    if all(re.fullmatch(r"w_\d+", name) for name in names):
        order = sorted(range(len(names)), key=lambda k: int(names[k][2:]))
    else:
        order = sorted(range(len(projections)), key=lambda k: (stack.index(projections[k])
                                                               if projections[k] in stack else len(stack) + k))
    weights = [weights[k] for k in order]
    projections = [projections[k] for k in order]
    settings = {"hidden": [cells[n]["n"] for n in hidden_nodes]}
    if projections != stack:
        settings["projections"] = [{"pre": a, "post": b} for a, b in projections]
    if "dt_s" in meta:
        settings["dt_ms"] = float(meta["dt_s"]) * 1e3
    if "t_sample_s" in meta:
        settings["t_sample_ms"] = float(meta["t_sample_s"]) * 1e3
    if "max_rate_hz" in meta:
        settings["max_rate_hz"] = float(meta["max_rate_hz"])
    first = next(iter(params.values()))
    if all(v == first for v in params.values()):
        if first[0] is not LIF_DECLARATION:
            settings["neuron"] = dict(first[0])
        settings["neuron_parameters"] = dict(first[1])
    else:
        settings["populations"] = {
            pop: {"neuron": {**declaration, "parameters": {**declaration["parameters"], **values}},
                  "neuron_source": f"NIR node {populations[pop]}"} for pop, (declaration, values) in params.items()}
    n_in = int(np.prod(nodes[inputs[0]].output_type["output"]))
    n_out = cells[last[0]]["n"]
    return Imported(settings=settings, weights=weights, populations=populations, projections=projections,
                    n_in=n_in, n_out=n_out)


def read(path, dt_s=None):
    """`from_nir` of a NIR file; a file that is missing or no NIR graph is a ValueError that names it."""
    import os

    nir = require_nir()
    if not os.path.isfile(path):
        raise ValueError(f"NIR file {path} does not exist")
    try:
        graph = nir.read(path)
    except Exception as e:  # noqa: BLE001 - h5py and nir raise many kinds
        raise ValueError(f"{path}: not a NIR graph ({type(e).__name__}: {e})") from None
    try:
        return from_nir(graph, dt_s=dt_s)
    except NIRError as e:
        raise NIRError(f"{path}: {e}") from None


# -- stepping ------------------------------------------------------------------

def simulate(graph, input_spikes, dt=None, refractory=True, reset_every=None):
    """Step a graph of Input, Linear/Affine, CubaLIF or LIF, and Output
    nodes on given input spikes (steps x inputs, 0 or 1) and return {node:
    steps x neurons of bool} of every neuron node's spikes.

    One step, in the order of the package's Brian2 programs: every neuron
    node integrates its equations exactly over dt (I decays, v follows it;
    v stays put while the neuron is refractory); then each fires where
    v > v_threshold (and is not refractory); then each spike of the step
    adds ``w_in * dt / tau_syn * (W s)`` to the I of the CubaLIF nodes its
    Linear node leads to, or ``r * dt / tau * (W s)`` to the v of LIF nodes
    (lost while a neuron is refractory, as in Brian2, whose ``(unless
    refractory)`` holds for synaptic writes too);
    then firing neurons reset to v_reset.  ``refractory``: honour the nodes'
    ``refractory_period_s`` metadata (counted in whole steps, as Brian2
    does), else none.  ``reset_every``: every that many steps, v returns to
    v_leak (but where refractory) and I to 0, as at the start of each of
    the package's samples."""
    nir = require_nir()
    dt = float(graph.metadata.get("dt_s")) if dt is None else float(dt)
    s_in = np.asarray(input_spikes, dtype=float)
    nodes = graph.nodes
    inputs = [n for n, v in nodes.items() if isinstance(v, nir.Input)]
    cells = [n for n, v in nodes.items() if isinstance(v, (nir.CubaLIF, nir.LIF))]
    links = [(n, [a for a, b in graph.edges if b == n][0], [b for a, b in graph.edges if a == n][0])
             for n, v in nodes.items() if isinstance(v, (nir.Linear, nir.Affine))]
    c = {}
    for n in cells:
        node = nodes[n]
        cuba = isinstance(node, nir.CubaLIF)
        f = {k: np.asarray(getattr(node, k), dtype=float).ravel()
             for k in ("r", "v_leak", "v_threshold", "v_reset", *(("tau_syn", "tau_mem", "w_in") if cuba else ("tau",)))}
        tau_mem = f["tau_mem"] if cuba else f["tau"]
        a = np.exp(-dt / tau_mem)
        if cuba:
            b = np.exp(-dt / f["tau_syn"])
            same = np.isclose(f["tau_syn"], tau_mem)
            ratio = np.where(same, 1.0, f["tau_syn"] / np.where(same, 1.0, f["tau_syn"] - tau_mem))
            gain = np.where(same, dt / tau_mem * a, ratio * (b - a))  # v per unit of r I over one step
            into = f["w_in"] * dt / f["tau_syn"]  # what a spike through W adds to I
        else:
            b, gain, into = 0.0, 0.0, f["r"] * dt / tau_mem  # what a spike through W adds to v
        t_ref = float((getattr(node, "metadata", None) or {}).get("refractory_period_s", 0.0)) if refractory else 0.0
        c[n] = dict(f, cuba=cuba, a=a, b=b, gain=gain, into=into, ref_steps=int(round(t_ref / dt)))
    v = {n: c[n]["v_leak"].copy() for n in cells}
    current = {n: np.zeros_like(v[n]) for n in cells}
    last = {n: np.full(v[n].shape, -10 ** 9) for n in cells}
    out = {n: np.zeros((len(s_in), v[n].size), dtype=bool) for n in cells}
    for step in range(len(s_in)):
        if reset_every and step % reset_every == 0:
            for n in cells:  # neurons refractory in the step before keep v
                free = ((step - 1 - last[n]) >= c[n]["ref_steps"]) & (last[n] != step - 1)
                v[n] = np.where(free, c[n]["v_leak"], v[n])
                current[n] = np.zeros_like(current[n])
        fired = {inputs[0]: s_in[step]}
        free = {}
        for n in cells:
            k = c[n]
            free[n] = (step - last[n]) >= k["ref_steps"]
            u = v[n] - k["v_leak"]
            moved = k["v_leak"] + k["a"] * u + k["gain"] * k["r"] * current[n]
            v[n] = np.where(free[n], moved, v[n])
            current[n] = k["b"] * current[n]
        for n in cells:
            z = (v[n] > c[n]["v_threshold"]) & free[n]
            out[n][step] = z
            fired[n] = z.astype(float)
        for name, pre, post in links:
            k = c[post]
            arriving = k["into"] * (np.asarray(nodes[name].weight) @ fired[pre])
            if k["cuba"]:
                current[post] = current[post] + arriving
            else:  # delta synapses: onto v, not while refractory (Brian2 gates the write as the equation)
                v[post] = v[post] + np.where(free[post], arriving, 0.0)
        for n in cells:
            z = out[n][step]
            v[n] = np.where(z, c[n]["v_reset"], v[n])
            last[n] = np.where(z, step, last[n])
    return out
