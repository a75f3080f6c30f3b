"""A trainable network: `NetworkSpec`, the declaration that brings an
architecture, a neuron, a surrogate and a rule together with the task's
timing, and the check of a rule's expression against the neuron
(`check_post_expr`).

The Brian2 objects built from a spec are `build.model.Model` (re-exported
here with `initial_weights` and `run_arrays`).
"""

import math
from dataclasses import asdict, dataclass, field, replace

import numpy as np
from brian2 import Hz, Quantity, get_dimensions, mV, ms, second

from . import feedback as fb
from .build import batch, diagnostics, initial, noise, pathways
from .floats import check_dtype
from .model.neuron import NeuronModel, unit_text
from .neurons import LIF
from .model.architecture import chain, is_chain, parse as parse_projections, population_names
from .rules import ThreeFactorRule
from .rules.optimizers import SGD
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
    ``n_from`` the size of the layer the feedback comes from (``feedback_scale``
    "launay": ``1 / sqrt(n_from n_to)``).  ``dtype``
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
    #: how the random feedback matrices are scaled (`build.pathways.FEEDBACK_SCALES`): "fan_in",
    #: N(0, 1/n_from), or "launay", N(0, 1/(n_from n_to)) (Launay, Poli & Krzakala 2019)
    feedback_scale: str = "fan_in"
    #: firing-rate regulariser of the hidden layers (e-prop's c_reg, Bellec et al. 2020): with
    #: rate_reg > 0 each hidden neuron's learning signal is L + rate_reg (r_j - rate_target) / (f_high - f_low),
    #: r_j its rate low-pass filtered with tau_rate
    rate_reg: float = 0.0
    rate_target: Quantity = _default(10 * Hz)
    tau_rate: Quantity = _default(1 * second)
    dtype: str = "float64"
    #: the projections (`model.architecture`); None: the feed-forward stack
    projections: tuple | None = None
    #: {population: NeuronModel} of populations whose neuron is not ``neuron``
    neurons: dict = _default({})
    #: the alignment shadow (`build.diagnostics`): the cosine of each hidden projection's update with
    #: the backprop-like one, computed in the program (two more integrations per synapse and step)
    alignment: bool = False
    #: what the output sends down is its error minus the mean over the outputs, in every step, so that
    #: no common "fire less" (or more) reaches the hidden layers (`feedback.ZERO_MEAN_ERROR_EQUATIONS`)
    zero_mean_error: bool = False
    #: how the forward weights start (`build.initial`): "fan_in" (w_init, w_init_mean) or "fluctuation",
    #: with the target mean potential and fluctuations (threshold distances) and the hidden layers' rate
    init: str = "fan_in"
    init_mu_u: float = 0.0
    init_sigma_u: float = 1.0
    init_rate: Quantity = _default(20 * Hz)
    #: a factor of each plastic projection's learning rate (or optimizer step), in the order of the
    #: projections, input first (None: 1 for all); a run value
    lr_layer_scale: tuple | None = None
    #: noise injected into every hidden neuron (`build.noise`): in each step a random input of this
    #: standard deviation in the population's weight unit; its record ``nt`` decays with tau_noise.
    #: None: the rule's own (its parameter ``noise``, else its pathway's `default_noise`: 0 but for the mirror)
    noise: float | None = None
    tau_noise: Quantity = _default(20 * ms)
    #: samples presented at once (`build.batch`): B copies of the network that share their weights,
    #: whose updates are averaged and applied together at the end of each slot of t_sample
    batch: int = 1

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
        for k in range(len(projections)):
            self.projection_rule(k)  # a projection's own factors are checked here
        if not is_chain(projections, n_hidden) and pathways.get(self.rule.feedback).needs_chain:
            raise ValueError(f"the {self.rule.feedback} pathway sends each layer's signal to the layer below: it "
                             "needs the feed-forward stack, not the declared projections (use direct feedback)")
        pathways.check_scale(self.feedback_scale)
        initial.check_init(self.init)
        self._check_layer_scale()
        for name in ("init_mu_u", "init_sigma_u"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
                raise ValueError(f"{name} must be a finite number, got {v!r}")
        if not self.init_sigma_u > 0:
            raise ValueError(f"init_sigma_u must be positive, got {self.init_sigma_u!r}")
        q = Quantity(self.init_rate)
        if not q.has_same_dimensions(Hz) or not (0 < float(q) < math.inf):
            raise ValueError(f"init_rate must be a positive rate, got {self.init_rate!r}")
        if self.zero_mean_error:
            why = zero_mean_refusal(self.rule)
            if why:
                raise ValueError(why)
        if self.alignment:
            why = diagnostics.alignment_refusal(self)
            if why:
                raise ValueError(f"the alignment diagnostics {why}")
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
        self._check_rate_regulariser()
        self._check_populations()
        self._check_noise()
        if self.w_unit is None and self.neuron.input_variable is not None:
            object.__setattr__(self, "w_unit", self.neuron.weight_unit_value())
        for neuron in self.all_neurons():
            self._check_neuron_ports(neuron)
        pathways.get(self.rule.feedback).check(self)  # what the pathway cannot follow, when the spec is made
        if self.rule.deferred and not self.reset_between_samples:
            raise ValueError("the event-driven form of a trace rule needs the traces reset between samples")
        self._check_batch()

    def _check_batch(self):
        v = self.batch
        if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 1:
            raise ValueError(f"batch must be a positive number of samples, got {v!r}")
        object.__setattr__(self, "batch", int(v))
        why = batch.refusal(self) if v > 1 else None
        if why:
            raise ValueError(f"batch {v}: {why}")

    def _check_layer_scale(self):
        scale = self.lr_layer_scale
        if scale is None:
            return
        n = sum(p.plastic for p in self.projections)
        if (not isinstance(scale, (tuple, list)) or len(scale) != n
                or not all(isinstance(v, (int, float)) and not isinstance(v, bool) and 0 < v < math.inf for v in scale)):
            raise ValueError(f"lr_layer_scale must be {n} positive numbers, one per plastic projection (input first), "
                             f"got {scale!r}")
        object.__setattr__(self, "lr_layer_scale", tuple(float(v) for v in scale))

    def lr_scale_of(self, k):
        """The factor of projection k's learning rate (`lr_layer_scale`; 1 for a fixed projection)."""
        if self.lr_layer_scale is None or not self.projections[k].plastic:
            return 1.0
        return self.lr_layer_scale[sum(p.plastic for p in self.projections[:k])]

    def _check_rate_regulariser(self):
        v = self.rate_reg
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not (0 <= v < math.inf):
            raise ValueError(f"rate_reg must be a non-negative number, got {v!r}")
        q = Quantity(self.rate_target)
        if not q.has_same_dimensions(Hz) or not (0 <= float(q) < math.inf):
            raise ValueError(f"rate_target must be a non-negative rate, got {self.rate_target!r}")
        q = Quantity(self.tau_rate)
        if not q.has_same_dimensions(second) or not (0 < float(q) < math.inf):
            raise ValueError(f"tau_rate must be a positive time, got {self.tau_rate!r}")
        why = regulariser_refusal(self.rule) if self.rate_reg else None
        if why:
            raise ValueError(why)

    def _check_noise(self):
        if self.noise is None:
            object.__setattr__(self, "noise", rule_noise(self.rule))
        v = self.noise
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not (0 <= v < math.inf):
            raise ValueError(f"noise must be a non-negative number (a standard deviation in weight units), got {v!r}")
        q = Quantity(self.tau_noise)
        if not q.has_same_dimensions(second) or not (0 < float(q) < math.inf):
            raise ValueError(f"tau_noise must be a positive time, got {self.tau_noise!r}")
        if self.noisy:
            for k in range(len(self.hidden)):
                name = f"hidden_{k + 1}"
                why = noise.refusal(self.neuron_of(name), name)
                if why:
                    raise ValueError(why)

    @property
    def noisy(self):
        """Whether the hidden neurons receive noise (`build.noise`)."""
        return self.noise > 0

    @property
    def regularised(self):
        """Whether the hidden layers have the firing-rate regulariser."""
        return self.rate_reg > 0

    def projection_rule(self, k):
        """The rule of plastic projection ``k``: the model's rule with the
        factors the projection replaces (`model.architecture.RULE_KEYS`)."""
        proj = self.projections[k]
        if not proj.rule:
            return self.rule
        return with_factors(self.rule, proj.overrides, onto_output=proj.post == "output",
                            where=f"projection {k + 1} ({proj.pre} -> {proj.post})")

    def own_factor_variable(self, k):
        """The postsynaptic group's variable that holds ``L * phi`` of
        projection ``k`` when its postsynaptic factor is its own, else None."""
        proj = self.projections[k]
        if not proj.plastic or "post_factor" not in proj.overrides:
            return None
        onto_output = proj.post == "output"
        if self.projection_rule(k).neuron_factor(onto_output) == self.rule.neuron_factor(onto_output):
            return None
        return f"{self.rule.neuron_factor_variable}_w{k + 1}"

    def _check_populations(self):
        """The populations with a neuron of their own: hidden or output
        populations, declarations; the event-driven form of a trace rule
        needs one ``tau_trace`` (the pre- and postsynaptic traces decay alike)."""
        names = population_names(len(self.hidden))
        neurons = dict(self.neurons or {})
        for name, neuron in neurons.items():
            if name == "input" or name not in names:
                raise ValueError(f"neurons: {name!r} is no population with neurons (the populations: "
                                 f"{', '.join(names[1:])})")
            if not isinstance(neuron, NeuronModel):
                raise ValueError(f"neurons: the neuron of {name} must be a NeuronModel, got {type(neuron).__name__}")
        object.__setattr__(self, "neurons", neurons)
        if self.rule.deferred:
            taus = {str(n.parameters.get("tau_trace")) for n in self.all_neurons()}
            if len(taus) > 1:
                raise ValueError("the event-driven form of a trace rule needs one tau_trace in every population "
                                 f"(the populations' neurons have {', '.join(sorted(taus))}; use --timing clock)")

    def neuron_of(self, population):
        """The neuron of a hidden or output population."""
        return self.neurons.get(population, self.neuron)

    def all_neurons(self):
        """The model's neuron and those of single populations."""
        return [self.neuron, *self.neurons.values()]

    def w_unit_of(self, population):
        """What one unit of weight adds to the input of ``population``: the
        model's ``w_unit``, or the weight unit of the population's own neuron."""
        if population in self.neurons:
            neuron = self.neurons[population]
            return neuron.weight_unit_value() if neuron.input_variable is not None else None
        return self.w_unit

    def boxcar_of(self, population):
        """Whether ``population`` gets eRBP's boxcar factor (a voltage input variable)."""
        unit = self.w_unit_of(population)
        return unit is not None and get_dimensions(unit) == mV.dim

    def _check_neuron_ports(self, neuron):
        """What the rule asks of a neuron: the trace's time constant for
        the event-driven form and the rate eligibility, a voltage input for
        eRBP's boxcar factor."""
        rule = self.rule
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
        voltage = neuron.input_variable is not None and \
            get_dimensions(neuron.weight_unit_value() if neuron is not self.neuron else self.w_unit) == mV.dim
        if uses_boxcar and not voltage:
            raise ValueError(f"{where}: the boxcar factor (eRBP) reads the input variable as a voltage, and this "
                             f"neuron's input is {neuron.input!r}")

    @property
    def boxcar(self):
        """Whether the model's neuron gets eRBP's boxcar factor (a voltage input variable)."""
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
        """Whether updates accumulate in ``w_acc`` until an application
        (always with an optimizer other than plain sgd)."""
        return self.rule.apply_every != 1 or self.rule.optimizer != SGD

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
            "projections": [p.structure() for p in self.projections],
            # the neuron's declaration without its parameter values (run values)
            "neuron": _declaration(self.neuron),
            **({"neurons": {name: _declaration(n) for name, n in sorted(self.neurons.items())}}
               if self.neurons else {}),
            "surrogate": self.surrogate.name,
            "rule": self.rule.name,
            "post": self.rule.post,
            "post_output": self.rule.post_output,
            "post_expr": self.rule.post_expr,
            "eligibility": self.rule.eligibility,
            "eligibility_expr": self.rule.eligibility_expr,
            "eligibility_stages": len(self.rule.eligibility_filter),
            "timing": self.rule.timing,
            "feedback": self.rule.feedback,
            **({"optimizer": self.rule.optimizer.name, "clip": self.rule.optimizer.clip is not None}
               if self.rule.optimizer != SGD else {}),
            "apply_every": self.apply_every,
            "dt_us": round(float(self.dt / ms) * 1000, 6),
            "t_sample_us": round(float(self.t_sample / ms) * 1000, 6),
            "reset_between_samples": self.reset_between_samples,
            "dtype": self.dtype,
            **({"rate_regularised": True} if self.regularised else {}),
            **({"noise": True} if self.noisy else {}),
            **({"batch": self.batch} if self.batch > 1 else {}),
            **({"alignment": True} if self.alignment else {}),
            **({"zero_mean_error": True} if self.zero_mean_error else {}),
            # the rule's parameters that the pathway writes into the code (dtp's feedback_fn)
            **({"pathway": code} if (code := pathways.get(self.rule.feedback).structure(self.rule)) else {}),
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
            elif k == "neurons":
                d[k] = {name: n.to_dict() for name, n in v.items()}
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


def rule_noise(rule):
    """The hidden neurons' noise of a network that leaves it to ``rule``: the
    rule's parameter ``noise``, else its pathway's `default_noise`."""
    return float((rule.parameters or {}).get("noise", pathways.get(rule.feedback).default_noise))


def zero_mean_refusal(rule):
    """Why ``rule``'s pathway cannot send the zero-mean output error down
    (`NetworkSpec.zero_mean_error`), or None where it can."""
    try:  # the rewrite the builder makes (`feedback.zero_mean_error`)
        fb.zero_mean_error(pathways.get(rule.feedback).output_equations(rule))
    except ValueError:
        return (f"the zero-mean error takes the mean of the output's rate error; the {rule.feedback} pathway "
                "sends no such error down")
    return None


def regulariser_refusal(rule):
    """Why the hidden layers of ``rule`` cannot have the firing-rate
    regulariser (`NetworkSpec.rate_reg`), or None where they can."""
    if rule.timing == "event" and not rule.deferred:
        return (f"the rate regulariser adds to the learning signal that each neuron computes once per step, and "
                f"rule {rule.name} reads its signal on presynaptic spikes only")
    return None


def event_form_of(spec):
    """(``spec`` with the event-driven form of its rule, None), or (None,
    why not) where the form is not the one to run by default.

    The event-driven form of a trace rule (`ThreeFactorRule.event_driven`)
    regroups the clock-driven sum of ``dt x_i L_j phi_j``, so it gives the
    clock-driven weights to rounding (tests in test_rules and
    test_event_default); it is the default timing of a training
    (`training.TrainConfig`'s ``timing`` None).  The network's checks
    decide where it cannot run (populations with different ``tau_trace``,
    a trace that does not decay as ``x / tau_trace``, a projection's own
    factors, the alignment shadow, ``apply_every`` 1, no reset between
    samples): those train clock-driven, and ``why`` is the check's line."""
    rule = spec.rule
    if rule.timing != "clock":
        return None, f"rule {rule.name} is {rule.timing}-driven"
    if rule.gradient is not None:
        return None, f"rule {rule.name} follows a gradient"
    if rule.eligibility != "trace":
        return None, f"the eligibility '{rule.eligibility}' is computed every time step"
    try:
        return replace(spec, rule=rule.event_driven()), None
    except ValueError as e:  # the clock-driven spec passed every check: this is the event form's
        return None, str(e)


def with_factors(rule, overrides, onto_output, where="projection"):
    """``rule`` with some factors replaced (a projection's ``rule`` table):
    ``lr`` (1/s, whichever layer the projection reaches), ``post_factor``,
    ``eligibility`` (Brian2 expressions) and ``per_presynaptic``.  Replacing
    a factor keeps the clock-driven product ``L_j phi_j eps_ij``; the rule
    must be clock-driven without a filtered eligibility for that."""
    import dataclasses

    from .rules import POST_FACTORS
    from .rules.three_factor import eligibility_name, post_name

    changes = {}
    if "lr" in overrides:
        changes.update(lr=float(overrides["lr"]), lr_hidden=float(overrides["lr"]))
    if "per_presynaptic" in overrides:
        changes["per_presynaptic"] = bool(overrides["per_presynaptic"])
    factors = [key for key in ("post_factor", "eligibility") if key in overrides]
    if factors and (rule.timing != "clock" or rule.filtered):
        raise ValueError(f"{where}: its own {' and '.join(factors)} need a clock-driven rule without a filtered "
                         f"eligibility, and rule {rule.name} is {rule.timing}-driven"
                         + (f" with eligibility {rule.eligibility}" if rule.filtered else ""))
    if "post_factor" in overrides:
        expr = overrides["post_factor"]
        name = post_name(expr)
        if onto_output:
            if name is None:
                raise ValueError(f"{where}: post_factor {expr!r}: the output layer's factor is one of "
                                 f"{', '.join(POST_FACTORS.values())}")
            changes["post_output"] = name
        elif name is not None:
            changes.update(post=name, post_expr=None)
        else:
            changes.update(post="surrogate", post_expr=expr)
    if "eligibility" in overrides:
        expr = " ".join(overrides["eligibility"].split())
        kind = eligibility_name(expr)
        if kind == "spike":
            raise ValueError(f"{where}: eligibility '1' (the presynaptic spike) makes updates event-driven, and the "
                             "timing is the model's")
        if kind:
            changes.update(eligibility=kind, eligibility_expr=None)
        else:
            changes.update(eligibility_expr=expr)
    try:
        return dataclasses.replace(rule, **changes)
    except ValueError as e:
        raise ValueError(f"{where}: {e}") from None


def _declaration(neuron):
    """A neuron's declaration without its parameter values (run values)."""
    return {**neuron.to_dict(), "parameters": {k: unit_text(v) for k, v in neuron.parameters.items()}}


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
    postsynaptic neuron's variables with the suffix ``_post``; each
    hidden population's neuron is checked."""
    checks = []  # (expression, population) to check
    if spec.rule.post_expr is not None:
        checks += [(spec.rule.post_expr, population) for population in population_names(len(spec.hidden))[1:-1]]
    for k, proj in enumerate(spec.projections):
        if proj.plastic and proj.post != "output" and spec.projection_rule(k).post_expr is not None:
            checks.append((spec.projection_rule(k).post_expr, proj.post))
    seen = []
    for expr, population in checks:
        neuron = spec.neuron_of(population)
        if any(neuron is n and expr == e for e, n in seen):
            continue
        seen.append((expr, neuron))
        _check_post_expr(spec, expr, neuron, population,
                         fb.boxcar_equations(spec, population if spec.neurons else None))


def _check_post_expr(spec, expr, neuron, population, boxcar_equations):
    from brian2 import Equations, NeuronGroup, get_dimensions
    from brian2.parsing.expressions import parse_expression_dimensions
    from brian2.utils.stringtools import get_identifiers, word_substitute

    eqs = neuron.brian2_equations(spec.surrogate) + Equations(fb.HIDDEN_SIGNAL_EQUATIONS + boxcar_equations)
    group = NeuronGroup(1, eqs, method="euler", name="post_expr_check")
    group._network = "post_expr_check"  # a group for its variables only: no "never run" warning at deletion
    own = {name: var for name, var in group.variables.items() if not name.startswith("_")
           and name not in ("N", "i", "t", "dt", "t_in_timesteps", "lastspike", "not_refractory")}
    # the state and its subexpressions (the parameters are left out of the list, not of the check)
    listing = ", ".join(f"{name}_post ({unit_name(get_dimensions(var))})" for name, var in sorted(own.items())
                        if not getattr(var, "constant", False))
    where = f"post_expr {expr!r}" + (f" (neuron {neuron.name} of {population})" if spec.neurons else "")
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


from .build.model import Model, initial_weights, run_arrays  # noqa: E402  (the builder of a spec)

__all__ = ["NetworkSpec", "Model", "check_post_expr", "initial_weights", "run_arrays", "unit_name"]
