"""Build Brian2 groups and synapses from an architecture, a neuron and a rule.

`NetworkSpec` is the description; `Model` holds the Brian2 objects built
from it for a fixed number of samples per run.  What varies between runs of
one compiled program (weights, stimulus, targets, the learning gate, seeds and
every numeric parameter) is gathered by `Model.values`, which gives either
attribute assignments (runtime) or ``run_args`` (standalone).
"""

import math
from dataclasses import asdict, dataclass, field

import numpy as np
from brian2 import (
    Hz,
    Network,
    NeuronGroup,
    Quantity,
    SpikeMonitor,
    Synapses,
    TimedArray,
    mV,
    ms,
    second,
)

from . import feedback as fb
from .build import pathways
from .floats import check_dtype
from .model.neuron import NeuronModel, unit_text
from .neurons import LIF, make_group
from .model.architecture import chain, is_chain, parse as parse_projections, population_names
from .topology import all_to_all, connect_pairs
from .randomness import make_function
from .stateupdate import exact
from .rules import ThreeFactorRule
from .surrogates import Surrogate


def _default(value):
    return field(default_factory=lambda: value)


@dataclass(frozen=True)
class NetworkSpec:
    """Everything that defines a trainable network.

    Sizes: ``n_in`` inputs, ``hidden`` layer sizes, ``n_out`` outputs.  Each
    sample is shown for ``t_sample`` as Poisson spikes of rate
    ``max_rate * intensity``; with ``reset_between_samples`` the neurons' state
    returns to rest at the start of each sample.  Initial forward weights are
    Gaussian with standard deviation ``w_init / sqrt(n_pre)`` and mean
    ``w_init_mean / n_pre`` (in units of ``w_unit``); the random feedback
    matrices are Gaussian with standard deviation ``1 / sqrt(n_from)``, with
    ``n_from`` the size of the layer the feedback comes from.  ``dtype``
    ("float64" or "float32") is the floating-point type of every state
    variable, weight and parameter of the generated code (Brian2's
    ``core.default_float_dtype`` while the model is built, see
    `floats.float_dtype`); the clock's time stays float64.
    """

    n_in: int
    hidden: tuple
    n_out: int
    neuron: NeuronModel = _default(LIF())
    surrogate: Surrogate = _default(Surrogate())
    rule: ThreeFactorRule = None
    dt: Quantity = _default(0.5 * ms)
    t_sample: Quantity = _default(100 * ms)
    max_rate: Quantity = _default(200 * Hz)
    tau_err: Quantity = _default(20 * ms)
    f_high: Quantity = _default(200 * Hz)
    f_low: Quantity = _default(0 * Hz)
    w_unit: Quantity | None = None  # None: the neuron's weight unit (`NeuronModel.weight_unit_value`)
    w_init: float = 1.0
    w_init_mean: float = 0.0
    reset_between_samples: bool = True
    boxcar_lo: Quantity = _default(-10 * mV)
    boxcar_hi: Quantity = _default(30 * mV)
    tau_dend: Quantity = _default(20 * ms)
    dtype: str = "float64"
    #: the projections (`model.architecture`); None: the feed-forward stack
    projections: tuple | None = None

    def __post_init__(self):
        for name in ("n_in", "n_out"):
            v = getattr(self, name)
            if not isinstance(v, (int, np.integer)) or isinstance(v, bool) or v < 1:
                raise ValueError(f"{name} must be a positive integer, got {v!r}")
        for k, v in enumerate(self.hidden):
            if not isinstance(v, (int, np.integer)) or isinstance(v, bool) or v < 1:
                raise ValueError(f"hidden layer {k + 1} size must be a positive integer, got {v!r}")
        if self.rule is None:
            raise ValueError("a network needs a learning rule")
        n_hidden = len(self.hidden)
        projections = chain(n_hidden) if self.projections is None else parse_projections(self.projections, n_hidden)
        object.__setattr__(self, "projections", projections)
        if not is_chain(projections, n_hidden) and pathways.get(self.rule.feedback).needs_chain:
            raise ValueError(f"the {self.rule.feedback} pathway sends each layer's signal to the layer below: it "
                             "needs the feed-forward stack, not the declared projections (use direct feedback)")
        for name in ("dt", "t_sample", "tau_err"):
            q = Quantity(getattr(self, name))
            if not q.has_same_dimensions(second) or not (0 < float(q) < math.inf):
                raise ValueError(f"{name} must be a positive time, got {getattr(self, name)!r}")
        steps = float(self.t_sample / self.dt)
        if abs(steps - round(steps)) > 1e-9:
            raise ValueError(f"t_sample ({self.t_sample}) must be a whole number of time steps dt ({self.dt})")
        for name in ("max_rate", "f_high"):
            q = Quantity(getattr(self, name))
            if not q.has_same_dimensions(Hz) or not (0 < float(q) < math.inf):
                raise ValueError(f"{name} must be a positive rate, got {getattr(self, name)!r}")
        if not (0 * Hz <= self.f_low < self.f_high):
            raise ValueError(f"f_low ({self.f_low}) must lie in [0, f_high)")
        for name in ("w_init",):
            v = getattr(self, name)
            if not (isinstance(v, (int, float)) and 0 < v < math.inf):
                raise ValueError(f"{name} must be positive and finite, got {v!r}")
        for name in ("boxcar_lo", "boxcar_hi"):
            q = Quantity(getattr(self, name))
            if not q.has_same_dimensions(mV) or not math.isfinite(float(q)):
                raise ValueError(f"{name} must be a finite voltage, got {getattr(self, name)!r}")
        if not self.boxcar_lo < self.boxcar_hi:
            raise ValueError(f"boxcar_lo ({self.boxcar_lo}) must lie below boxcar_hi ({self.boxcar_hi})")
        q = Quantity(self.tau_dend)
        if not q.has_same_dimensions(second) or not (0 < float(q) < math.inf):
            raise ValueError(f"tau_dend must be a positive time, got {self.tau_dend!r}")
        if not (isinstance(self.w_init_mean, (int, float)) and math.isfinite(self.w_init_mean)):
            raise ValueError(f"w_init_mean must be finite, got {self.w_init_mean!r}")
        check_dtype(self.dtype)
        if self.w_unit is None and self.neuron.input_variable is not None:
            object.__setattr__(self, "w_unit", self.neuron.weight_unit_value())
        self._check_neuron_ports()
        if self.rule.deferred and not self.reset_between_samples:
            raise ValueError("the event-driven form of a trace rule needs the traces reset between samples")

    def _check_neuron_ports(self):
        """What the rule asks of the neuron: the trace's time constant for
        the event-driven form and the rate eligibility, a voltage input for
        eRBP's boxcar factor."""
        neuron, rule = self.neuron, self.rule
        where = f"{neuron.source}: neuron {neuron.name}"
        if "tau_trace" not in neuron.parameters:
            raise ValueError(f"{where} has no parameter tau_trace: the input layer's trace and the rules' presynaptic "
                             "factors use the trace time constant of the neuron (declare tau_trace)")
        if rule.deferred:
            from brian2 import Equations

            eq = Equations(neuron.equations).get(neuron.trace)
            decays = eq is not None and eq.type == "differential equation" and \
                str(eq.expr.code).replace(" ", "") == f"-{neuron.trace}/tau_trace"
            if not decays or f"{neuron.trace} += 1" not in neuron.reset:
                raise ValueError(f"{where}: the event-driven form of a trace rule needs the trace "
                                 f"d{neuron.trace}/dt = -{neuron.trace} / tau_trace with {neuron.trace} += 1 in the "
                                 "reset (use --timing clock)")
        uses_boxcar = "boxcar_post" in (rule.post_factor(False), rule.post_factor(True))
        if uses_boxcar and not self.boxcar:
            raise ValueError(f"{where}: the boxcar factor (eRBP) reads the input variable as a voltage, and this "
                             f"neuron's input is {neuron.input!r}")

    @property
    def boxcar(self):
        """Whether the groups get eRBP's boxcar factor (a voltage input variable)."""
        from brian2 import get_dimensions

        return self.w_unit is not None and get_dimensions(self.w_unit) == mV.dim

    @property
    def sizes(self):
        return [self.n_in, *self.hidden, self.n_out]

    @property
    def population_sizes(self):
        return dict(zip(population_names(len(self.hidden)), self.sizes))

    @property
    def projection_shapes(self):
        """(n_pre, n_post) of each projection, in their order."""
        sizes = self.population_sizes
        return [(sizes[p.pre], sizes[p.post]) for p in self.projections]

    @property
    def steps_per_sample(self):
        return int(round(float(self.t_sample / self.dt)))

    @property
    def accumulate(self):
        return self.rule.apply_every != 1

    @property
    def apply_every(self):
        return self.steps_per_sample if self.rule.apply_every is None else self.rule.apply_every

    @property
    def rebase_every(self):
        """Steps between the re-bases of a trace rule's event-driven form
        (`ThreeFactorRule.event_driven`), or None: not event-driven, or the
        re-base at each sample's start comes often enough."""
        if not self.rule.deferred:
            return None
        steps = max(1, int(math.floor(self.rule.REBASE_TAUS[self.dtype] * float(self.neuron.tau_trace / self.dt)
                                      + 1e-9)))
        return None if steps >= self.steps_per_sample else steps

    def structure(self):
        """What changes the generated code (everything else is a run value)."""
        return {
            "sizes": self.sizes,
            "projections": [p.to_dict() for p in self.projections],
            # the neuron's declaration without its parameter values (run values)
            "neuron": {**self.neuron.to_dict(), "parameters": {k: unit_text(v) for k, v in
                                                                 self.neuron.parameters.items()}},
            "surrogate": self.surrogate.name,
            "rule": self.rule.name,
            "post": self.rule.post,
            "post_output": self.rule.post_output,
            "post_expr": self.rule.post_expr,
            "eligibility": self.rule.eligibility,
            "timing": self.rule.timing,
            "feedback": self.rule.feedback,
            "apply_every": self.apply_every,
            "dt_us": round(float(self.dt / ms) * 1000, 6),
            "t_sample_us": round(float(self.t_sample / ms) * 1000, 6),
            "reset_between_samples": self.reset_between_samples,
            "dtype": self.dtype,
            # derived from tau_trace, a run value: the schedule of the re-bases
            **({"rebase_every": self.rebase_every} if self.rule.deferred else {}),
        }

    def to_dict(self):
        def plain(v):
            if isinstance(v, Quantity):
                return str(v)
            return v

        d = {}
        for k, v in self.__dict__.items():
            if k == "neuron":
                d[k] = self.neuron.to_dict()
            elif k in ("surrogate",):
                d[k] = asdict(v)
            elif k == "rule":
                d[k] = {kk: vv for kk, vv in asdict(v).items() if kk != "paper"}
            elif k == "hidden":
                d[k] = list(v)
            elif k == "projections":
                d[k] = [p.to_dict() for p in v]
            else:
                d[k] = plain(v)
        return d


def unit_name(dims):
    """A Brian2 dimension as a unit's name ("V", "Hz"), "1" when dimensionless."""
    from brian2 import get_unit

    return "1" if dims.is_dimensionless else str(get_unit(dims))


def check_post_expr(spec):
    """Refuse a ``post_expr`` that names no variable of the postsynaptic
    neuron or is not dimensionless, with a message in the model's terms.

    The expression is phi_j of ``dw_ij/dt = -eta L_j phi_j x_i``: ``eta`` is
    in 1/s and ``L_j``, ``x_i`` and ``w`` (in units of ``w_unit``) are
    dimensionless, so phi_j must be dimensionless too.  It reads the
    postsynaptic neuron's variables with the suffix ``_post``."""
    from brian2 import Equations, NeuronGroup, get_dimensions
    from brian2.parsing.expressions import parse_expression_dimensions
    from brian2.utils.stringtools import get_identifiers, word_substitute

    expr = spec.rule.post_expr
    if expr is None:
        return
    eqs = spec.neuron.brian2_equations(spec.surrogate) + Equations(fb.HIDDEN_SIGNAL_EQUATIONS
                                                                   + fb.boxcar_equations(spec))
    group = NeuronGroup(1, eqs, method="euler", name="post_expr_check")
    group._network = "post_expr_check"  # a group for its variables only: no "never run" warning at deletion
    own = {name: var for name, var in group.variables.items() if not name.startswith("_")
           and name not in ("N", "i", "t", "dt", "t_in_timesteps", "lastspike", "not_refractory")}
    # the state and its subexpressions (the parameters are left out of the list, not of the check)
    listing = ", ".join(f"{name}_post ({unit_name(get_dimensions(var))})" for name, var in sorted(own.items())
                        if not getattr(var, "constant", False))
    where = f"post_expr {expr!r}"
    identifiers = get_identifiers(expr)
    bad = sorted(name for name in identifiers if name.endswith(("_pre", "_post"))
                 and not (name.endswith("_post") and name[:-len("_post")] in own))
    if bad:
        raise ValueError(f"{where}: {', '.join(bad)} is no variable of the postsynaptic neuron "
                         f"(phi_j reads only its variables: {listing})")
    local = word_substitute(expr, {name: name[:-len("_post")] for name in identifiers if name.endswith("_post")})
    try:
        variables = group.resolve_all(get_identifiers(local), run_namespace={})
        dims = parse_expression_dimensions(local, variables)
    except Exception as e:  # noqa: BLE001 - an unknown name, bad syntax: Brian2's words, shortened
        raise ValueError(f"{where}: {' '.join(str(e).split())} (phi_j reads the postsynaptic neuron's "
                         f"variables: {listing})") from None
    if not dims.is_dimensionless:
        raise ValueError(f"{where} has unit {unit_name(dims)}, and the postsynaptic factor phi_j must be dimensionless "
                         "(dw/dt = -eta L_j phi_j x_i with eta in 1/s and L_j, x_i, w dimensionless): divide "
                         f"by a unit or use a dimensionless variable; the neuron's variables: {listing}")


def run_arrays(spec, n_samples, stim, tgt, learn):
    """A run's stimulus, targets and learning gate as float arrays, checked
    against the network's sizes and the run's number of samples."""
    stim = np.asarray(stim, dtype=float)
    tgt = np.asarray(tgt, dtype=float)
    learn = np.asarray(learn, dtype=float)
    if stim.shape != (n_samples, spec.n_in):
        raise ValueError(f"stimulus has shape {stim.shape}, expected {(n_samples, spec.n_in)}")
    if tgt.shape != (n_samples, spec.n_out):
        raise ValueError(f"targets have shape {tgt.shape}, expected {(n_samples, spec.n_out)}")
    if learn.shape != (n_samples,):
        raise ValueError(f"learning gate has shape {learn.shape}, expected {(n_samples,)}")
    return stim, tgt, learn


def initial_weights(spec, rng):
    """Forward weights (one matrix n_pre x n_post per projection) and feedback
    matrices (n_out x n_hidden per hidden layer) drawn from ``rng``."""
    weights = []
    for proj, (n_pre, n_post) in zip(spec.projections, spec.projection_shapes):
        W = rng.normal(spec.w_init_mean / n_pre, spec.w_init / math.sqrt(n_pre), size=(n_pre, n_post))
        if proj.recurrent and not proj.self_connections:
            np.fill_diagonal(W, 0.0)  # no synapse there
        weights.append(W)
    return weights, pathways.get(spec.rule.feedback).matrices(spec, rng)


class Model:
    """The Brian2 objects of a `NetworkSpec` for runs of ``n_samples`` samples."""

    def __init__(self, spec: NetworkSpec, n_samples: int, stim=None, tgt=None, learn=None):
        from brian2 import defaultclock

        self.spec = spec
        self.n_samples = int(n_samples)
        defaultclock.dt = spec.dt
        T = spec.t_sample
        rule = spec.rule
        # TimedArrays start from the given arrays (runtime) or zeros that
        # run_args replace (standalone)
        n = self.n_samples
        self.stim = TimedArray(np.zeros((n, spec.n_in)) if stim is None else np.asarray(stim, float), dt=T, name="stim")
        self.tgt = TimedArray(np.zeros((n, spec.n_out)) if tgt is None else np.asarray(tgt, float), dt=T, name="tgt")
        self.learn = TimedArray(np.zeros(n) if learn is None else np.asarray(learn, float), dt=T, name="learn")
        # one namespace for every object: subexpressions that synapses read
        # through _pre/_post (the output error reads ``tgt``) resolve there
        ns = {"stim": self.stim, "tgt": self.tgt, "learn": self.learn,
              "hash_uniform": make_function()}
        self.namespace = ns

        self.input = NeuronGroup(
            spec.n_in,
            """
            rate = max_rate * stim(t, i) : Hz
            dx/dt = -x / tau_trace : 1
            max_rate : Hz (shared, constant)
            tau_trace : second (shared, constant)
            noise_seed : integer (shared, constant)
            """ + (rule.PRESYNAPTIC_EQUATIONS if rule.deferred else ""),
            threshold="hash_uniform(noise_seed, t_in_timesteps, i) < rate * dt",
            reset="x += 1" + (f"; {rule.PRESYNAPTIC_RESET}" if rule.deferred else ""),
            method=exact(),
            namespace=ns,
            name="input",
        )
        self.pathway = pathway = pathways.get(rule.feedback)
        hidden_eqs = pathway.hidden_equations(rule)
        output_eqs = pathway.output_equations(rule)
        output_reset = pathway.output_reset
        hidden_eqs += rule.neuron_factor_equations
        output_eqs += rule.neuron_factor_equations
        self.layers = []
        for k, n in enumerate(spec.hidden):
            self.layers.append(
                make_group(spec.neuron, spec.surrogate, n, f"hidden_{k + 1}",
                           extra_equations=hidden_eqs + fb.boxcar_equations(spec), namespace=ns, set_values=False,
                           extra_reset=rule.PRESYNAPTIC_RESET if rule.deferred else "")
            )
        self.output = make_group(
            spec.neuron, spec.surrogate, spec.n_out, "output",
            extra_equations=output_eqs + fb.boxcar_equations(spec), extra_reset=output_reset, namespace=ns,
            set_values=False,
        )
        self.layers.append(self.output)

        for g in self.layers:  # L * phi once per neuron and step
            rule.add_neuron_factor(g, output=g is self.output)

        if spec.reset_between_samples:
            self.input.run_regularly("x = 0" + (f"; {rule.PRESYNAPTIC_SAMPLE_RESET}" if rule.deferred else ""),
                                     dt=T, when="start", name="input_sample_reset")
            for g in self.layers:
                parts = [spec.neuron.sample_reset, rule.neuron_sample_reset, pathway.sample_reset(g is self.output)]
                g.run_regularly("; ".join(p for p in parts if p), dt=T, when="start", name=f"{g.name}_sample_reset")

        # projections, plastic or fixed, in the order the architecture declares them
        self.groups = dict(zip(population_names(len(spec.hidden)), [self.input, *self.layers]))
        self.projections, self.plastic_projections, self.pairs = [], [], []
        w_unit = None if spec.w_unit is None else unit_text(spec.w_unit)
        for k, proj in enumerate(spec.projections):
            pre, post = self.groups[proj.pre], self.groups[proj.post]
            if proj.plastic:
                model = rule.synapse_model(spec.accumulate, output=post is self.output, w_unit=w_unit)
                if pathway.forward_line(pre is self.input):
                    model += "\n" + pathway.forward_line(pre is self.input)
                on_pre = rule.on_pre_code(spec.accumulate, output=post is self.output, deliver=spec.neuron.delivery())
            else:
                model = "w : 1 (constant)" + (f"\nw_unit : {w_unit} (shared, constant)" if w_unit else "")
                on_pre = {"pre": spec.neuron.delivery()}
            S = Synapses(pre, post, model=model, on_pre=on_pre, method="euler", namespace=ns, order=-5,
                         name=f"w_{k + 1}")
            self.pairs.append(connect_pairs(S, *all_to_all(pre.N, post.N, proj.recurrent and not proj.self_connections)))
            self.projections.append(S)
            if not proj.plastic:
                continue
            self.plastic_projections.append(S)
            if rule.timing == "event":
                S.learn.order = -20  # before any spike delivery of the step
            S.run_regularly("plastic = learn(t)", dt=T, when="start", name=f"w_{k + 1}_gate")
            if rule.filtered and spec.reset_between_samples:
                S.run_regularly(rule.eligibility_sample_reset, dt=T, when="start",
                                name=f"w_{k + 1}_eligibility_reset")
            if spec.accumulate:
                # at the start of the step at t = n * apply_every * dt, so that the
                # accumulated change covers exactly the steps before it
                S.run_regularly(rule.apply_code_for(spec.accumulate), dt=spec.apply_every * spec.dt, when="start",
                                order=-10, name=f"w_{k + 1}_apply")
            if rule.deferred and spec.steps_per_sample % spec.apply_every:
                # samples that end between applications: catch up before Y restarts
                S.run_regularly(rule.catch_up_code, dt=T, when="start", order=-11, name=f"w_{k + 1}_catch_up")
        if spec.rebase_every is not None:  # at the start of the step, before any catch-up or application
            every = spec.rebase_every * spec.dt
            for S in self.plastic_projections:
                S.run_regularly(rule.rebase_synapse_code, dt=every, when="start", order=-14, name=f"{S.name}_rebase")
            self.input.run_regularly(rule.REBASE_PRESYNAPTIC, dt=every, when="start", order=-13,
                                     name="input_rebase")
            for g in self.layers:
                g.run_regularly(rule.REBASE_NEURON, dt=every, when="start", order=-13, name=f"{g.name}_rebase")

        # feedback pathway: self.feedback[k] lists the synapses that share
        # hidden layer k's feedback matrix
        feedback_objects = pathway.build(self)

        self.output_spikes = SpikeMonitor(self.output, name="output_spikes")
        self.hidden_counts = [SpikeMonitor(g, record=False, name=f"{g.name}_count") for g in self.layers[:-1]]
        self.network = Network(
            self.input, *self.layers, *self.projections, *feedback_objects, self.output_spikes, *self.hidden_counts,
        )

    @property
    def duration(self):
        return self.n_samples * self.spec.t_sample

    # -- values that change between runs of one program ----------------
    def values(self, weights, feedback, stim, tgt, learn, noise_seed, lr_scale=1.0):
        """A list of (target, value) pairs: target is a VariableView or TimedArray."""
        spec = self.spec
        stim, tgt, learn = run_arrays(spec, self.n_samples, stim, tgt, learn)
        rule = spec.rule
        pairs = [
            (self.stim, stim),
            (self.tgt, tgt),
            (self.learn, learn),
            (self.input.noise_seed, int(noise_seed)),
            (self.input.max_rate, spec.max_rate),
            (self.input.tau_trace, spec.neuron.parameters["tau_trace"]),
        ]
        pairs += self.pathway.error_values(self)
        for g in self.layers:
            for key, value in spec.neuron.values(spec.surrogate).items():
                pairs.append((getattr(g, key), value))
            for key, value in spec.neuron.initial_state().items():
                pairs.append((getattr(g, key), np.ones(g.N) * value))
            if spec.boxcar:
                pairs += [(g.I_lo, spec.boxcar_lo), (g.I_hi, spec.boxcar_hi)]
        rule = spec.rule
        for k, (S, W) in enumerate(zip(self.projections, weights)):
            if W.shape != (S.source.N, S.target.N):
                raise ValueError(f"weights of projection {k + 1} have shape {W.shape}, expected {(S.source.N, S.target.N)}")
            i, j = self.pairs[k]
            pairs.append((S.w, np.ascontiguousarray(W, dtype=float)[i, j]))
            if spec.w_unit is not None:
                pairs.append((S.w_unit, spec.w_unit))
            if S in self.plastic_projections:
                pairs.append((S.eta, rule.eta(S.target is self.output, S.source.N, lr_scale) * rule.eta_unit))
                pairs += [(getattr(S, name), value) for name, value in rule.eligibility_values().items()]
        pairs += self.pathway.values(self, feedback, noise_seed)
        return pairs

    @staticmethod
    def flat(S, M):
        """Matrix (n_pre x n_post) -> synapse order of `connect_all`."""
        return np.ascontiguousarray(M, dtype=float).reshape(-1)

    def read_weights(self):
        """The current forward weights as matrices n_pre x n_post."""
        out = []
        for S, (i, j) in zip(self.projections, self.pairs):
            W = np.zeros((S.source.N, S.target.N))
            W[i, j] = np.asarray(S.w[:], dtype=float)
            out.append(W)
        return out

    def output_counts(self):
        """Spike counts per sample and output neuron (n_samples x n_out)."""
        i = np.asarray(self.output_spikes.i[:], dtype=int)
        t = np.asarray(self.output_spikes.t[:] / self.spec.dt).round().astype(np.int64)
        sample = t // self.spec.steps_per_sample
        counts = np.zeros((self.n_samples, self.spec.n_out), dtype=np.int64)
        ok = sample < self.n_samples
        np.add.at(counts, (sample[ok], i[ok]), 1)
        return counts

    def hidden_rates(self):
        """Mean firing rate of each hidden layer over the last run, in Hz."""
        return [float(np.mean(m.count[:]) / float(self.duration)) for m in self.hidden_counts]
