"""The settings of a training: `TrainConfig`, the types its keys must have
in a model file (`TrainConfig.from_dict`), and how settings from two
sources combine (`override`, `ALTERNATIVES`, `NEURON_PREFIX`)."""

import dataclasses
import json
import math
from dataclasses import asdict, dataclass, field, fields

import numpy as np

from .. import data as datamod
from .. import rules as rulemod
from .. import surrogates as sgmod
from ..rules import cascade, optimizers
from ..rules.three_factor import PATHWAY_PARAMETERS, preset_factors
from ..devices import check_device
from ..floats import check_dtype
from . import deep


@dataclass
class TrainConfig:
    """All settings of one training, as plain JSON-friendly values.

    Times are in ms, rates in Hz, learning rates in 1/s.  The defaults are
    those with which dfa reaches 92-94% test accuracy on digits in 10 epochs
    (README, "Results"); they were chosen by hand on seeds 0-2.
    """

    rule: str = "dfa"
    post: str | None = None  # None: the rule's default
    post_output: str | None = None
    post_expr: str | None = None
    # a rule written out as its factors (rule "three_factor", `rules.three_factor`);
    # post_factor and post_factor_output also set a preset's postsynaptic factors
    learning_signal: str | None = None
    post_factor: str | None = None
    post_factor_output: str | None = None
    per_presynaptic: bool | None = None  # eta / n_pre of each projection (PES's)
    # the neuron: a declaration (`model.neuron.NeuronModel.to_dict`), None for the
    # built-in LIF; neuron_parameters replace its parameter values ("200*ms")
    neuron: dict | None = None
    neuron_parameters: dict = field(default_factory=dict)
    neuron_source: str | None = None  # where the declaration came from, for messages
    dataset: str = "digits"
    # every training sample moved by random whole pixels in -shift_px..shift_px along each axis, anew
    # every epoch (`data.augment`); 0: as they are
    shift_px: int = 0
    epochs: int = 10
    hidden: list = field(default_factory=lambda: [100])
    # the projections between populations (`model.architecture`); None: the feed-forward stack
    projections: list | None = None
    # neurons of single populations: {population: {"neuron": declaration, "neuron_source": path}}
    # (`training.populations`); the others have ``neuron``
    populations: dict | None = None
    device: str = "cpp_standalone"
    threads: int | str = "auto"  # OpenMP threads, or "auto": by the network's size (`devices.resolve_threads`)
    seed: int = 0
    lr: float | None = None  # None: the rule's default
    lr_hidden: float | None = None
    lr_decay: float = 0.7
    lr_scale: float = 1.0  # multiplies both learning rates (a sweep axis across rules)
    # how accumulated updates reach the weights (`rules.optimizers`): sgd, rmsmax,
    # rmsprop, adam; their constants (None: the default); |w| <= w_clip after each application
    optimizer: str | None = None  # None: the rule's own (sgd; adam for bptt)
    opt_rho: float | None = None
    opt_gamma: float | None = None
    opt_beta1: float | None = None
    opt_beta2: float | None = None
    opt_eps: float | None = None
    w_clip: float | None = None
    feedback_scale: str = "fan_in"  # random feedback matrices: fan_in N(0, 1/n_from), launay N(0, 1/(n_from n_to))
    fb_scale: float | None = None  # signsym: feedback fb_scale * sign(W^T); None: the std of the initial weights
    kp_decay: float | None = None  # kp: decay of W and B per application; None: the rule's own (0)
    # dtp: the output target's step down the loss gradient, the inverses' learning rate (1/s) and
    # their nonlinearity (a Brian2 expression of u); None: the rule's own
    target_step: float | None = None
    lr_feedback: float | None = None
    feedback_fn: str | None = None
    reconstruction: str | None = None  # dtp: how the inverses learn, dtp or drl (None: the rule's own, dtp)
    drl_noise: float | None = None  # dtp with drl: the twin's noise (None: the rule's own)
    # the hidden layers' firing-rate regulariser (e-prop's c_reg): strength, target rate, filter
    # None (these four): the value of the network's depth, `training.deep` (deep networks train with them)
    rate_reg: float | None = None
    rate_target_hz: float | None = None
    tau_rate_ms: float = 1000.0
    # noise injected into every hidden neuron (`build.noise`): std of each step's random input in weight
    # units (None: the rule's own, 0 but for the mirror rule) and its record's time constant
    noise: float | None = None
    tau_noise_ms: float = 20.0
    # the cosine of each hidden projection's update with the backprop-like one (`build.diagnostics`)
    alignment: bool = False
    zero_mean_error: bool | None = None  # the output error minus its mean over the outputs, in every step
    # how the forward weights start (`build.initial`): fan_in (w_init, w_init_mean) or fluctuation
    # (mean potential init_mu_u and fluctuations init_sigma_u, in threshold distances; hidden rate guess)
    init: str | None = None
    init_mu_u: float = 0.0
    init_sigma_u: float = 1.0
    init_rate_hz: float = 20.0
    lr_layer_scale: list | None = None  # a factor of each plastic projection's learning rate, input first
    # a NIR graph (`io.nir_graph`) whose weights the forward projections start from; None: drawn (init)
    weights_from: str | None = None
    batch_size: int | None = None  # bptt: samples per gradient step (None: 32); the local rules learn online
    # the local rules: samples presented at once, as copies of the network that share their weights, whose
    # updates are averaged and applied together (`build.batch`); 1: one sample after the other
    batch: int = 1
    apply_every: int | None = None
    # None: the exact event-driven form of a trace rule where the network takes it, else the rule's own
    # (`network.event_form_of`); "clock": the clock-driven form; "event": the event-driven form or an error
    timing: str | None = None
    eligibility: str | None = None  # None: the rule's own; e.g. "alpha" for a per-synapse trace
    # a filtered eligibility's cascade (`rules.cascade`): the time constant of every stage,
    # input first, ms; then tau_elig_ms sets the last stage's, tau_elig_rise_ms the first of two
    eligibility_filter_ms: list | None = None  # None: the rule's own (or none)
    tau_elig_ms: float | None = None  # None: the rule's own (filtered eligibilities)
    tau_elig_rise_ms: float | None = None
    surrogate: str = "fast_sigmoid"
    sg_width: float = 1.0
    sg_height: float = 1.0
    dt_ms: float = 0.5
    t_sample_ms: float = 100.0
    max_rate_hz: float = 200.0
    # the neuron's tau_m, tau_syn and tau_trace; None: the neuron's own
    tau_m_ms: float | None = None
    tau_syn_ms: float | None = None
    tau_trace_ms: float | None = None
    tau_err_ms: float = 20.0
    f_high_hz: float = 200.0
    f_low_hz: float = 0.0
    w_init: float = 1.0
    w_init_mean: float = 4.0
    w_bound: float = 100.0
    dtype: str = "float64"  # of the simulation's state variables, weights and parameters

    def validate(self):
        """Check every value; raise ValueError naming the first bad one."""
        check_device(self.device)
        check_dtype(self.dtype)
        if self.dataset not in datamod.names() and not self.dataset.startswith("idx:"):
            raise ValueError(f"unknown dataset '{self.dataset}' (choose from {', '.join(datamod.names())}, "
                             "or idx:FOLDER for the MNIST IDX files in FOLDER)")
        if rulemod.ALIASES.get(self.rule, self.rule) not in rulemod.RULES:
            raise ValueError(f"unknown rule '{self.rule}' (choose from {', '.join(rulemod.names())})")
        if self.surrogate not in sgmod.NAMES:
            raise ValueError(f"unknown surrogate '{self.surrogate}' (choose from {', '.join(sgmod.NAMES)})")
        for value in (self.post, self.post_output):
            if value is not None and value not in rulemod.POST_FACTORS:
                raise ValueError(f"unknown postsynaptic factor '{value}' (choose from {', '.join(rulemod.POST_FACTORS)})")
        for name in ("epochs", "threads", "batch"):
            v = getattr(self, name)
            if name == "threads" and v == "auto":
                continue
            if not _is_int(v) or v < 1:
                raise ValueError(f"{name} must be a positive integer{' or auto' if name == 'threads' else ''}, "
                                 f"got {v!r}")
        from ..build.batch import threads_refusal

        why = threads_refusal(self.batch, self.threads)
        if why:
            raise ValueError(why)
        if not _is_int(self.seed) or self.seed < 0:
            raise ValueError(f"seed must be a non-negative integer, got {self.seed!r}")
        if not _is_int(self.shift_px) or self.shift_px < 0:
            raise ValueError(f"shift_px must be a non-negative whole number of pixels, got {self.shift_px!r}")
        if not isinstance(self.hidden, (list, tuple)):
            raise ValueError(f"hidden must be a list of layer sizes, got {self.hidden!r}")
        for k, n in enumerate(self.hidden):
            if not _is_int(n) or n < 1:
                raise ValueError(f"hidden layer {k + 1} size must be a positive integer, got {n!r}")
        if self.projections is not None:
            from ..model.architecture import parse

            parse(self.projections, len(self.hidden), source="settings")
        from .populations import check_populations

        check_populations(self)
        for name in ("lr", "lr_hidden"):
            if getattr(self, name) is not None:
                _positive(name, getattr(self, name))
        for name in ("sg_width", "sg_height", "dt_ms", "t_sample_ms", "max_rate_hz",
                     "tau_err_ms", "f_high_hz", "w_init", "w_bound", "lr_scale", "tau_rate_ms",
                     "init_sigma_u", "init_rate_hz"):
            _positive(name, getattr(self, name))
        for name in self.NEURON_TIMES:
            if getattr(self, name) is not None:
                _positive(name, getattr(self, name))
        self.make_neuron()
        if not _finite(self.f_low_hz) or not 0 <= self.f_low_hz < self.f_high_hz:
            raise ValueError(f"f_low_hz must lie in [0, f_high_hz), got {self.f_low_hz!r}")
        for name in ("rate_reg", "rate_target_hz"):
            if getattr(self, name) is not None and (not _finite(getattr(self, name)) or getattr(self, name) < 0):
                raise ValueError(f"{name} must be a non-negative number, got {getattr(self, name)!r}")
        if not _finite(self.w_init_mean):
            raise ValueError(f"w_init_mean must be finite, got {self.w_init_mean!r}")
        if not _finite(self.lr_decay) or not 0 < self.lr_decay <= 1:
            raise ValueError(f"lr_decay must lie in (0, 1], got {self.lr_decay!r}")
        if self.apply_every is not None and (not _is_int(self.apply_every) or self.apply_every < 1):
            raise ValueError(f"apply_every must be a positive number of time steps, got {self.apply_every!r}")
        if (self.eligibility is not None and self.eligibility not in rulemod.ELIGIBILITIES
                and self.rule != "three_factor"):
            raise ValueError(f"unknown eligibility '{self.eligibility}' "
                             f"(choose from {', '.join(rulemod.ELIGIBILITIES)})")
        for name in ("tau_elig_ms", "tau_elig_rise_ms"):
            if getattr(self, name) is not None:
                _positive(name, getattr(self, name))
        if self.eligibility_filter_ms is not None:
            cascade.check(self.eligibility_filter_ms, "eligibility_filter_ms")
        if self.timing not in (None, "clock", "event"):
            raise ValueError(f"unknown timing '{self.timing}' (choose from clock, event)")
        rule = self.make_rule()  # a rule without the asked-for timing says so here
        from ..build import pathways

        pathways.check_scale(self.feedback_scale)
        from ..build.initial import check_init

        if self.init is not None:
            check_init(self.init)
        if self.zero_mean_error is not None and not isinstance(self.zero_mean_error, bool):
            raise ValueError(f"zero_mean_error must be true or false, got {self.zero_mean_error!r}")
        if self.batch_size is not None:
            if not _is_int(self.batch_size) or self.batch_size < 1:
                raise ValueError(f"batch_size must be a positive number of samples, got {self.batch_size!r}")
            if rule.gradient is None:
                raise ValueError(f"rule {self.rule} learns online, sample by sample: batch_size is for rule bptt")
        if self.weights_from is not None:
            import os

            if not os.path.isfile(self.weights_from):
                raise ValueError(f"weights_from: NIR file {self.weights_from} does not exist")
        if not _finite(self.init_mu_u):
            raise ValueError(f"init_mu_u must be finite, got {self.init_mu_u!r}")
        if rule.feedback not in pathways.PATHWAYS:
            what = "learning_signal" if self.rule == "three_factor" else f"rule {self.rule}'s pathway"
            raise ValueError(f"{what}: unknown feedback pathway '{rule.feedback}' "
                             f"(the pathways: {', '.join(pathways.names())})")
        steps = self.t_sample_ms / self.dt_ms
        if abs(steps - round(steps)) > 1e-9:
            raise ValueError(f"t_sample_ms ({self.t_sample_ms}) must be a whole number of time steps dt_ms ({self.dt_ms})")
        return self

    #: the settings that go to a rule's factory when given (`rules.parameters_of`)
    RULE_OPTIONS = ("post", "post_output", "post_expr", "eligibility", "lr", "lr_hidden", "apply_every",
                    "learning_signal", "post_factor", "post_factor_output", "per_presynaptic", *PATHWAY_PARAMETERS)
    #: the settings that set the neuron parameters tau_m, tau_syn, tau_trace
    NEURON_TIMES = ("tau_m_ms", "tau_syn_ms", "tau_trace_ms")

    def make_rule(self):
        """The learning rule these settings ask for (made once for the same settings)."""
        return self._once("rule", self._make_rule)

    def _once(self, what, make):
        """``make()``, remembered while the settings stay the same: a
        command validates, then builds, from one rule and one neuron."""
        key = json.dumps(asdict(self), sort_keys=True, default=str)
        cache = self.__dict__.setdefault("_made", {})
        if cache.get(what, (None,))[0] != key:
            cache[what] = (key, make())
        return cache[what][1]

    def _make_rule(self):
        given = {k: getattr(self, k) for k in self.RULE_OPTIONS if getattr(self, k) is not None}
        if "post" in given and "post_expr" in given:
            raise ValueError(f"--post ({self.post}) and --post-expr ({self.post_expr}) both set the hidden layers' "
                             "postsynaptic factor: give one")
        takes = rulemod.parameters_of(self.rule)
        if "post_factor" not in takes:  # a preset: its factors by expression are its named factors
            given = preset_factors(given, self.rule)
        for key in given:
            if key not in takes:
                flag = "--" + key.replace("_", "-")
                raise ValueError(f"rule {self.rule} does not take {flag}: its factors are those of its paper "
                                 f"(it takes {', '.join('--' + k.replace('_', '-') for k in self.RULE_OPTIONS if k in takes)})")
        rule = self._with_filter(rulemod.get(self.rule, **given), takes)
        rule = optimizers.configure(rule, self.optimizer or rule.optimizer.name, self.w_clip, self.lr is not None,
                                    self.lr_hidden is not None, **{k: getattr(self, k) for k in optimizers.SETTINGS})
        if self.timing == "event":
            return rule.event_driven()
        if self.timing == "clock" and rule.timing != "clock":
            raise ValueError(f"rule {self.rule} updates on presynaptic spikes only: it has no clock-driven form")
        return rule

    def _with_filter(self, rule, takes):
        """``rule`` with the eligibility filter of these settings:
        ``eligibility_filter_ms`` gives every stage, then ``tau_elig_ms``
        the last stage's and ``tau_elig_rise_ms`` the first of two.  A rule
        that takes no eligibility may change the time constants of its own
        filter, not the number of stages."""
        if self.eligibility_filter_ms is not None:
            taus = cascade.check(self.eligibility_filter_ms, "eligibility_filter_ms")
            own = len(rule.eligibility_filter)
            if "eligibility" not in takes and own != len(taus):
                raise ValueError(f"rule {self.rule} does not take --eligibility-filter"
                                 + (f" with {len(taus)} stage(s): its eligibility '{rule.eligibility}' is a filter "
                                    f"of {own}, whose time constants it takes" if own else
                                    f": its eligibility '{rule.eligibility}' is that of its paper"))
            rule = cascade.with_stages(rule, taus, "eligibility_filter_ms", event=self.timing == "event")
        times = {k: v for k, v in (("tau_elig", self.tau_elig_ms), ("tau_elig_rise", self.tau_elig_rise_ms))
                 if v is not None}
        used = cascade.shorthand_times(len(rule.eligibility_filter))
        for key in times:
            if key not in used:
                kinds = ", ".join(f"{name} with {' and '.join(tau for _, tau in stages)}"
                                  for name, stages in rulemod.FILTERED_ELIGIBILITIES.items())
                raise ValueError(f"{key}_ms sets a filter of the eligibility, and rule {self.rule} with eligibility "
                                 f"'{rule.eligibility}' has {'only ' + ' and '.join(used) if used else 'none'} "
                                 f"(filtered eligibilities: {kinds}; any number of stages: eligibility_filter_ms)")
        if times:
            rule = dataclasses.replace(rule, eligibility_filter=cascade.with_times(rule.eligibility_filter, **times))
        return rule

    def make_neuron(self):
        """The neuron these settings ask for: the declaration (or the
        built-in LIF) with ``tau_*_ms`` and ``neuron_parameters`` applied."""
        return self._once("neuron", self._make_neuron)

    def _make_neuron(self):
        from brian2 import ms

        from ..model.neuron import NeuronModel
        from ..neurons import LIF

        values = {}
        for key in self.NEURON_TIMES:
            if getattr(self, key) is not None:
                values[key[:-len("_ms")]] = getattr(self, key) * ms
        source = self.neuron_source or "neuron"
        if self.neuron is None:
            base = LIF()
        else:
            base = NeuronModel.from_dict(self.neuron, source=source)
        if not isinstance(self.neuron_parameters, dict):
            raise ValueError(f"neuron_parameters must be a table of name = \"value*unit\", got {self.neuron_parameters!r}")
        for key in values:
            if key not in base.parameters:
                raise ValueError(f"{key}_ms sets the neuron's parameter {key}, and neuron {base.name} has none "
                                 f"(its parameters: {', '.join(base.parameters)}; set others with "
                                 "--neuron-param NAME=VALUE)")
        from ..model.neuron import quantity

        values.update({k: quantity(v, f"{source}: neuron parameter {k}") for k, v in self.neuron_parameters.items()})
        if self.neuron is None:
            return LIF(**values)  # with the LIF's checks of its values
        return base.with_parameters(**values)

    def resolved(self):
        """The settings as they act: the neuron as one declaration with its
        final parameter values.  Two settings that train the same network
        resolve alike (a resume compares these)."""
        out = asdict(self)
        del out["threads"]  # the program's threads give the same numbers (a test): a resume may change them
        out["neuron"] = self.make_neuron().to_dict()
        out["optimizer"] = self.make_rule().optimizer.name
        out.update(self.settled())
        out.update({"neuron_parameters": {}, "neuron_source": None, **{k: None for k in self.NEURON_TIMES}})
        if self.populations:
            out["populations"] = {name: {"neuron": entry["neuron"]} for name, entry in self.populations.items()}
        return out

    def settled(self):
        """init, zero_mean_error, rate_reg and rate_target_hz as they act:
        one left unset (None) takes the value of the network's depth, where
        the network and the engine take it (`training.deep`)."""
        return self._settle()[0]

    def deep_settings_taken(self):
        """The deep-network settings this training took unasked, as a phrase ("" if none)."""
        return deep.describe(*self._settle())

    def _settle(self):
        return self._once("settled", lambda: deep.settle(self))

    def network_spec(self, n_in, n_out):
        from brian2 import Hz, ms

        from ..network import NetworkSpec, event_form_of
        from .populations import population_neurons

        neuron = self.make_neuron()
        rule = self.make_rule()
        settled = self.settled()
        spec = NetworkSpec(
            n_in=n_in, hidden=tuple(int(h) for h in self.hidden), n_out=n_out,
            neuron=neuron, surrogate=sgmod.get(self.surrogate, self.sg_width, self.sg_height),
            rule=rule, dt=self.dt_ms * ms, t_sample=self.t_sample_ms * ms,
            max_rate=self.max_rate_hz * Hz, tau_err=self.tau_err_ms * ms,
            f_high=self.f_high_hz * Hz, f_low=self.f_low_hz * Hz,
            w_init=self.w_init, w_init_mean=self.w_init_mean,
            dtype=self.dtype, projections=self.projections,
            neurons=population_neurons(self),
            feedback_scale=self.feedback_scale, rate_reg=settled["rate_reg"],
            rate_target=settled["rate_target_hz"] * Hz, tau_rate=self.tau_rate_ms * ms,
            alignment=bool(self.alignment), zero_mean_error=settled["zero_mean_error"],
            init=settled["init"], init_mu_u=self.init_mu_u, init_sigma_u=self.init_sigma_u, init_rate=self.init_rate_hz * Hz,
            lr_layer_scale=None if self.lr_layer_scale is None else tuple(self.lr_layer_scale),
            noise=self.noise,
            tau_noise=self.tau_noise_ms * ms,
            batch=self.batch,
        )
        if self.timing is None:  # the exact event-driven form where the network takes it
            spec = event_form_of(spec)[0] or spec
        return spec

    @classmethod
    def from_dict(cls, d, source="config"):
        """Settings from a mapping; an unknown key or a value of the wrong
        type is a ValueError that names the key."""
        known = {f.name: f for f in fields(cls)}
        for key, value in d.items():
            if key not in known:
                raise ValueError(f"{source}: unknown key '{key}' (known: {', '.join(sorted(known))})")
            expected = _FIELD_TYPES.get(key, "float")
            if not _has_type(value, expected):
                raise ValueError(f"{source}: key '{key}' must be {_TYPE_NAMES[expected]}, got {value!r}")
        values = dict(d)
        for key, value in values.items():
            if _FIELD_TYPES.get(key, "float") in ("float", "float?") and value is not None:
                values[key] = float(value)
            elif _FIELD_TYPES[key] == "ints":
                values[key] = list(value)
            elif _FIELD_TYPES[key] == "floats?" and value is not None:
                values[key] = [float(v) for v in value]
            elif _FIELD_TYPES[key] in ("table", "table?") and value is not None:
                values[key] = dict(value)
        return cls(**values)


#: the type each setting must have in a model file
_FIELD_TYPES = {
    "rule": "str", "post": "str?", "post_output": "str?", "post_expr": "str?", "dataset": "str",
    "epochs": "int", "hidden": "ints", "projections": "tables?", "populations": "table?", "device": "str", "threads": "threads", "seed": "int",
    "apply_every": "int?", "timing": "str?", "surrogate": "str", "lr": "float?", "lr_hidden": "float?", "dtype": "str",
    "eligibility": "str?", "eligibility_filter_ms": "floats?", "tau_elig_ms": "float?", "tau_elig_rise_ms": "float?",
    "learning_signal": "str?", "post_factor": "str?", "post_factor_output": "str?", "per_presynaptic": "bool?",
    "neuron": "table?", "neuron_parameters": "table", "neuron_source": "str?",
    "tau_m_ms": "float?", "tau_syn_ms": "float?", "tau_trace_ms": "float?",
    "optimizer": "str?", "opt_rho": "float?", "opt_gamma": "float?", "opt_beta1": "float?", "opt_beta2": "float?",
    "opt_eps": "float?", "w_clip": "float?", "feedback_scale": "str", "fb_scale": "float?", "kp_decay": "float?",
    "target_step": "float?", "lr_feedback": "float?", "feedback_fn": "str?", "reconstruction": "str?", "drl_noise": "float?",
    "alignment": "bool", "zero_mean_error": "bool?", "init": "str?", "lr_layer_scale": "floats?",
    "weights_from": "str?", "batch_size": "int?", "rate_reg": "float?", "rate_target_hz": "float?",
    "noise": "float?", "batch": "int", "shift_px": "int",
}
_TYPE_NAMES = {"threads": 'an integer or "auto"', "bool": "true or false", "floats?": "a list of numbers", "tables?": "a list of tables", "bool?": "true or false", "table": "a table", "table?": "a table", "float?": "a number", "str": "a string", "str?": "a string", "int": "an integer", "int?": "an integer",
               "ints": "a list of integers", "float": "a number"}


def _has_type(value, expected):
    if expected == "threads":
        return value == "auto" or _is_int(value)
    if expected in ("str?", "int?") and value is None:
        return True
    if expected in ("str", "str?"):
        return isinstance(value, str)
    if expected in ("int", "int?"):
        return _is_int(value)
    if expected == "float?" and value is None:
        return True
    if expected == "tables?":
        return value is None or (isinstance(value, (list, tuple)) and all(isinstance(v, dict) for v in value))
    if expected == "bool?":
        return value is None or isinstance(value, bool)
    if expected == "bool":
        return isinstance(value, bool)
    if expected in ("table", "table?"):
        return isinstance(value, dict) or (expected == "table?" and value is None)
    if expected == "ints":
        return isinstance(value, (list, tuple)) and all(_is_int(v) for v in value)
    if expected == "floats?":
        return value is None or (isinstance(value, (list, tuple)) and all(_finite_type(v) for v in value))
    return isinstance(value, (int, float)) and not isinstance(value, bool)


#: settings that say the same thing in two ways: one given later (an option
#: after a model file, a sweep axis over its base) replaces the other
ALTERNATIVES = (("post", "post_expr"),)
#: a setting given later replaces these (one way: a later ``tau_elig_ms`` sets
#: one stage of an earlier filter; a later eligibility brings its own filter)
REPLACES = {"eligibility_filter_ms": ("tau_elig_ms", "tau_elig_rise_ms"), "eligibility": ("eligibility_filter_ms",)}


def override(settings, given):
    """``settings`` updated by ``given``, where a setting of ``given``
    replaces its alternatives in ``settings`` (`ALTERNATIVES`): a
    ``--post-expr`` on the command line replaces the model file's ``post``.
    Both in one source are refused by `TrainConfig.make_rule`."""
    out = dict(settings)
    given = dict(given)
    for group in ALTERNATIVES:
        if any(key in given for key in group):
            for key in group:
                out.pop(key, None)
    for key, replaced in REPLACES.items():
        if key in given:
            for other in replaced:
                out.pop(other, None)
    if "eligibility_filter_ms" in given and out.get("eligibility") in rulemod.FILTERED_ELIGIBILITIES:
        out.pop("eligibility")  # a named cascade: the stages given replace it
    params = {key[len(NEURON_PREFIX):]: given.pop(key) for key in list(given) if key.startswith(NEURON_PREFIX)}
    if "neuron" in given and "neuron_parameters" not in given:  # another neuron: the old one's values go
        out.pop("neuron_parameters", None)
    out.update(given)
    if params:
        out["neuron_parameters"] = {**out.get("neuron_parameters", {}), **params}
    return out


#: ``neuron.NAME`` (a sweep axis, a `--neuron-param`) sets the neuron's parameter NAME
NEURON_PREFIX = "neuron."


def _is_int(v):
    return isinstance(v, (int, np.integer)) and not isinstance(v, bool)


def _finite_type(v):
    return isinstance(v, (int, float, np.integer, np.floating)) and not isinstance(v, bool)


def _finite(v):
    return isinstance(v, (int, float, np.floating)) and not isinstance(v, bool) and math.isfinite(v)


def _positive(name, v):
    if not _finite(v) or v <= 0:
        raise ValueError(f"{name} must be positive and finite, got {v!r}")
