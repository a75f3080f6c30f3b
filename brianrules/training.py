"""Training: epochs, evaluation, checkpoints and metrics.

One epoch is one run of the compiled program: the training samples in a
fresh random order with learning on, then every test sample with learning
off (the learning gate is a TimedArray).  Training accuracy is measured
online, while the network learns; test accuracy with frozen weights on
held-out data.  After each epoch the weights are checked for divergence and
written, with the metrics so far, atomically.
"""

import dataclasses
import json
import math
import os
import subprocess
import sys
import time
from dataclasses import asdict, dataclass, field, fields

import numpy as np

from . import data as datamod
from . import health
from . import interrupt
from . import rules as rulemod
from . import surrogates as sgmod
from .devices import check_device, check_runnable, is_built, make_runner, preflight
from .files import atomic_write, write_json
from .floats import check_dtype
from .metrics import COLLAPSE_COLUMN, layer_columns, read_metrics, relative_change, write_metrics
from .randomness import mix_seed


class TrainingError(RuntimeError):
    """Training stopped (divergence); what was saved before stays."""


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
    epochs: int = 10
    hidden: list = field(default_factory=lambda: [100])
    device: str = "cpp_standalone"
    threads: int = 1
    seed: int = 0
    lr: float | None = None  # None: the rule's default
    lr_hidden: float | None = None
    lr_decay: float = 0.7
    lr_scale: float = 1.0  # multiplies both learning rates (a sweep axis across rules)
    apply_every: int | None = None
    timing: str | None = None  # None: the rule's own; "event": its event-driven form
    eligibility: str | None = None  # None: the rule's own; e.g. "alpha" for a per-synapse trace
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
        for name in ("epochs", "threads"):
            v = getattr(self, name)
            if not _is_int(v) or v < 1:
                raise ValueError(f"{name} must be a positive integer, got {v!r}")
        if not _is_int(self.seed) or self.seed < 0:
            raise ValueError(f"seed must be a non-negative integer, got {self.seed!r}")
        if not isinstance(self.hidden, (list, tuple)):
            raise ValueError(f"hidden must be a list of layer sizes, got {self.hidden!r}")
        for k, n in enumerate(self.hidden):
            if not _is_int(n) or n < 1:
                raise ValueError(f"hidden layer {k + 1} size must be a positive integer, got {n!r}")
        for name in ("lr", "lr_hidden"):
            if getattr(self, name) is not None:
                _positive(name, getattr(self, name))
        for name in ("sg_width", "sg_height", "dt_ms", "t_sample_ms", "max_rate_hz",
                     "tau_err_ms", "f_high_hz", "w_init", "w_bound", "lr_scale"):
            _positive(name, getattr(self, name))
        for name in self.NEURON_TIMES:
            if getattr(self, name) is not None:
                _positive(name, getattr(self, name))
        self.make_neuron()
        if not _finite(self.f_low_hz) or not 0 <= self.f_low_hz < self.f_high_hz:
            raise ValueError(f"f_low_hz must lie in [0, f_high_hz), got {self.f_low_hz!r}")
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
        if self.timing not in (None, "clock", "event"):
            raise ValueError(f"unknown timing '{self.timing}' (choose from clock, event)")
        self.make_rule()  # a rule without the asked-for timing says so here
        steps = self.t_sample_ms / self.dt_ms
        if abs(steps - round(steps)) > 1e-9:
            raise ValueError(f"t_sample_ms ({self.t_sample_ms}) must be a whole number of time steps dt_ms ({self.dt_ms})")
        return self

    #: the settings that go to a rule's factory when given (`rules.parameters_of`)
    RULE_OPTIONS = ("post", "post_output", "post_expr", "eligibility", "lr", "lr_hidden", "apply_every",
                    "learning_signal", "post_factor", "post_factor_output", "per_presynaptic")
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
            given = _preset_factors(given, self.rule)
        for key in given:
            if key not in takes:
                flag = "--" + key.replace("_", "-")
                raise ValueError(f"rule {self.rule} does not take {flag}: its factors are those of its paper "
                                 f"(it takes {', '.join('--' + k.replace('_', '-') for k in self.RULE_OPTIONS if k in takes)})")
        rule = rulemod.get(self.rule, **given)
        taus = {k: v for k, v in (("tau_elig", self.tau_elig_ms), ("tau_elig_rise", self.tau_elig_rise_ms))
                if v is not None}
        used = list(rule.eligibility_values())
        for key in taus:
            if key not in used:
                kinds = ", ".join(f"{name} with {' and '.join(tau for _, tau in stages)}"
                                  for name, stages in rulemod.FILTERED_ELIGIBILITIES.items())
                raise ValueError(f"{key}_ms sets a filter of the eligibility, and rule {self.rule} with eligibility "
                                 f"'{rule.eligibility}' has {'only ' + ' and '.join(used) if used else 'none'} "
                                 f"(filtered eligibilities: {kinds})")
        rule = dataclasses.replace(rule, **taus)
        if self.timing == "event":
            return rule.event_driven()
        if self.timing == "clock" and rule.timing != "clock":
            raise ValueError(f"rule {self.rule} updates on presynaptic spikes only: it has no clock-driven form")
        return rule

    def make_neuron(self):
        """The neuron these settings ask for: the declaration (or the
        built-in LIF) with ``tau_*_ms`` and ``neuron_parameters`` applied."""
        return self._once("neuron", self._make_neuron)

    def _make_neuron(self):
        from brian2 import ms

        from .model.neuron import NeuronModel
        from .neurons import LIF

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
        from .model.neuron import quantity

        values.update({k: quantity(v, f"{source}: neuron parameter {k}") for k, v in self.neuron_parameters.items()})
        if self.neuron is None:
            return LIF(**values)  # with the LIF's checks of its values
        return base.with_parameters(**values)

    def resolved(self):
        """The settings as they act: the neuron as one declaration with its
        final parameter values.  Two settings that train the same network
        resolve alike (a resume compares these)."""
        out = asdict(self)
        out["neuron"] = self.make_neuron().to_dict()
        out.update({"neuron_parameters": {}, "neuron_source": None, **{k: None for k in self.NEURON_TIMES}})
        return out

    def network_spec(self, n_in, n_out):
        from brian2 import Hz, ms

        from .network import NetworkSpec

        neuron = self.make_neuron()
        rule = self.make_rule()
        return NetworkSpec(
            n_in=n_in, hidden=tuple(int(h) for h in self.hidden), n_out=n_out,
            neuron=neuron, surrogate=sgmod.get(self.surrogate, self.sg_width, self.sg_height),
            rule=rule, dt=self.dt_ms * ms, t_sample=self.t_sample_ms * ms,
            max_rate=self.max_rate_hz * Hz, tau_err=self.tau_err_ms * ms,
            f_high=self.f_high_hz * Hz, f_low=self.f_low_hz * Hz,
            w_init=self.w_init, w_init_mean=self.w_init_mean,
            dtype=self.dtype,
        )

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
            elif _FIELD_TYPES[key] in ("table", "table?") and value is not None:
                values[key] = dict(value)
        return cls(**values)


#: the type each setting must have in a model file
_FIELD_TYPES = {
    "rule": "str", "post": "str?", "post_output": "str?", "post_expr": "str?", "dataset": "str",
    "epochs": "int", "hidden": "ints", "device": "str", "threads": "int", "seed": "int",
    "apply_every": "int?", "timing": "str?", "surrogate": "str", "lr": "float?", "lr_hidden": "float?", "dtype": "str",
    "eligibility": "str?", "tau_elig_ms": "float?", "tau_elig_rise_ms": "float?",
    "learning_signal": "str?", "post_factor": "str?", "post_factor_output": "str?", "per_presynaptic": "bool?",
    "neuron": "table?", "neuron_parameters": "table", "neuron_source": "str?",
    "tau_m_ms": "float?", "tau_syn_ms": "float?", "tau_trace_ms": "float?",
}
_TYPE_NAMES = {"bool?": "true or false", "table": "a table", "table?": "a table", "float?": "a number", "str": "a string", "str?": "a string", "int": "an integer", "int?": "an integer",
               "ints": "a list of integers", "float": "a number"}


def _has_type(value, expected):
    if expected in ("str?", "int?") and value is None:
        return True
    if expected in ("str", "str?"):
        return isinstance(value, str)
    if expected in ("int", "int?"):
        return _is_int(value)
    if expected == "float?" and value is None:
        return True
    if expected == "bool?":
        return value is None or isinstance(value, bool)
    if expected in ("table", "table?"):
        return isinstance(value, dict) or (expected == "table?" and value is None)
    if expected == "ints":
        return isinstance(value, (list, tuple)) and all(_is_int(v) for v in value)
    return isinstance(value, (int, float)) and not isinstance(value, bool)


#: settings that say the same thing in two ways: one given later (an option
#: after a model file, a sweep axis over its base) replaces the other
ALTERNATIVES = (("post", "post_expr"),)


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
    params = {key[len(NEURON_PREFIX):]: given.pop(key) for key in list(given) if key.startswith(NEURON_PREFIX)}
    if "neuron" in given and "neuron_parameters" not in given:  # another neuron: the old one's values go
        out.pop("neuron_parameters", None)
    out.update(given)
    if params:
        out["neuron_parameters"] = {**out.get("neuron_parameters", {}), **params}
    return out


#: ``neuron.NAME`` (a sweep axis, a `--neuron-param`) sets the neuron's parameter NAME
NEURON_PREFIX = "neuron."


def _preset_factors(given, rule):
    """``post_factor`` / ``post_factor_output`` of a preset as the named
    factors (``post``, ``post_output``) or the expression (``post_expr``)
    it takes."""
    from .rules.three_factor import post_name

    given = dict(given)
    if "post_factor" in given:
        if "post" in given or "post_expr" in given:
            raise ValueError(f"post_factor ({given['post_factor']}) and --post/--post-expr both set the hidden "
                             "layers' postsynaptic factor: give one")
        expr = given.pop("post_factor")
        name = post_name(expr)
        given["post" if name else "post_expr"] = name or expr
    if "post_factor_output" in given:
        expr = given.pop("post_factor_output")
        if "post_output" in given:
            raise ValueError("post_factor_output and --post-output both set the output's postsynaptic factor: give one")
        name = post_name(expr)
        if name is None:
            raise ValueError(f"post_factor_output {expr!r}: rule {rule}'s output factor is one of "
                             f"{', '.join(rulemod.POST_FACTORS.values())}")
        given["post_output"] = name
    return given


def read_toml(path, what):
    """A TOML file as a dict; a missing file or bad TOML is a ValueError
    that names the file (``what``: "model file", "sweep spec", ...)."""
    import tomllib

    if not os.path.isfile(path):
        raise ValueError(f"{what} {path} does not exist")
    try:
        with open(path, "rb") as f:
            return tomllib.load(f)
    except tomllib.TOMLDecodeError as e:
        raise ValueError(f"{path}: not valid TOML: {e}") from None


def load_model_file(path):
    """The settings of a TOML model file (see models/), checked for unknown
    keys and wrong types (naming the key) by `TrainConfig.from_dict`.

    Sections only group the keys of `TrainConfig` ([data], [network],
    [rule], [training]), except ``[neuron]``: a neuron declaration (see
    `model.neuron`), or ``file = "neurons/NAME.toml"`` (relative to the model
    file) with ``[neuron.parameters]`` replacing that file's values; a top-level
    ``neuron = "neurons/NAME.toml"`` says the same.  A ``[rule]`` with a
    ``learning_signal`` and no ``rule`` is a rule written out as its factors
    (`rules.three_factor`)."""
    spec = read_toml(path, "model file")
    flat = {}
    neuron = spec.pop("neuron", None)
    for key, value in spec.items():
        if isinstance(value, dict):  # sections only group keys: [network], [rule], ...
            flat.update(value)
        else:
            flat[key] = value
    section = spec.get("rule")
    if isinstance(section, dict) and "learning_signal" in section and "rule" not in section:
        flat["rule"] = "three_factor"
    if neuron is not None:
        flat.update(neuron_settings(neuron, path))
    TrainConfig.from_dict(flat, source=path)  # check keys and types now
    return flat


def neuron_settings(neuron, path, here=None):
    """The settings of a model file's neuron (``[neuron]`` or a file name),
    the declaration checked (`build.checks.check_neuron`) with messages that
    name the file it is in.  A neuron file's name is relative to ``here``
    (default: the folder of ``path``)."""
    from .build.checks import check_neuron
    from .model.neuron import DeclarationError, NeuronModel, load

    here = os.path.dirname(os.path.abspath(path)) if here is None else here
    if isinstance(neuron, str):
        neuron = {"file": neuron}
    if not isinstance(neuron, dict):
        raise DeclarationError(f"{path}: neuron must be a [neuron] section or the name of a neuron file")
    if "file" in neuron:
        extra = sorted(set(neuron) - {"file", "parameters"})
        if extra:
            raise DeclarationError(f"{path} [neuron]: with file = ..., the section takes only [neuron.parameters] "
                                   f"(got '{extra[0]}')")
        where = neuron["file"]
        if not isinstance(where, str):
            raise DeclarationError(f"{path} [neuron] file must be a path, got {where!r}")
        full = where if os.path.isabs(where) else os.path.join(here, where)
        if not os.path.isfile(full) and os.path.isfile(where):
            full = where
        if not os.path.isfile(full):
            raise DeclarationError(f"{path} [neuron] file: {where} does not exist (looked in {here})")
        model = load(full)
        params = neuron.get("parameters", {})
        if not isinstance(params, dict):
            raise DeclarationError(f"{path} [neuron.parameters] must be a table of name = \"value*unit\"")
        try:
            model = model.with_parameters(**{k: _parameter_text(v, f"{path} [neuron.parameters] {k}")
                                             for k, v in params.items()})
        except DeclarationError as e:
            raise DeclarationError(f"{path} [neuron.parameters]: {str(e).split(': ', 1)[-1]}") from None
        source = full
    else:
        model = NeuronModel.from_dict(neuron, source=path, name=os.path.splitext(os.path.basename(path))[0])
        source = path
    check_neuron(model)
    return {"neuron": model.to_dict(), "neuron_source": source}


def _parameter_text(value, where):
    from .model.neuron import quantity

    quantity(value, where)  # a bare number has no unit
    return value


def _is_int(v):
    return isinstance(v, (int, np.integer)) and not isinstance(v, bool)


def _finite(v):
    return isinstance(v, (int, float, np.floating)) and not isinstance(v, bool) and math.isfinite(v)


def _positive(name, v):
    if not _finite(v) or v <= 0:
        raise ValueError(f"{name} must be positive and finite, got {v!r}")


def write_weights(path, weights, feedback, epoch):
    def w(tmp):
        arrays = {f"w_{k + 1}": W for k, W in enumerate(weights)}
        arrays.update({f"B_{k + 1}": B for k, B in enumerate(feedback)})
        with open(tmp, "wb") as f:
            np.savez(f, epoch=epoch, **arrays)

    atomic_write(path, w)


def read_weights(path):
    with np.load(path) as z:
        weights = [z[f"w_{k + 1}"] for k in range(sum(1 for n in z.files if n.startswith("w_")))]
        feedback = [z[f"B_{k + 1}"] for k in range(sum(1 for n in z.files if n.startswith("B_")))]
        return weights, feedback, int(z["epoch"])


def prepare_out_dir(out, force=False, resume=False):
    """Check the output folder before anything is built."""
    if os.path.exists(out) and not os.path.isdir(out):
        raise ValueError(f"--out {out} is a file, not a folder")
    if os.path.isdir(out) and os.listdir(out) and not (force or resume):
        raise ValueError(f"--out {out} already holds results; use --resume to continue or --force to overwrite")
    if resume and not os.path.exists(os.path.join(out, "weights.npz")):
        raise ValueError(f"--resume: {out} holds no checkpoint (weights.npz)")
    ancestor = os.path.dirname(os.path.abspath(out))  # missing folders are created
    while not os.path.exists(ancestor):
        ancestor = os.path.dirname(ancestor)
    if not os.path.isdir(ancestor):
        raise ValueError(f"--out {out}: {ancestor} is a file, not a folder")


def versions():
    import brian2
    import sympy

    out = {"python": sys.version.split()[0], "brian2": brian2.__version__,
           "numpy": np.__version__, "sympy": sympy.__version__}
    from . import __version__

    out["brianrules"] = __version__
    return out


def git_commit():
    here = os.path.dirname(os.path.abspath(__file__))
    try:
        r = subprocess.run(["git", "-C", here, "rev-parse", "HEAD"], capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return None
    return r.stdout.strip() if r.returncode == 0 else None


# -- the loop ------------------------------------------------------------
def predictions(counts):
    """The most active output neuron of each sample (rows of ``counts``);
    -1 where none fired."""
    pred = np.argmax(counts, axis=1)
    pred[counts.max(axis=1) == 0] = -1
    return pred


def accuracy(counts, labels):
    """Fraction of samples whose most active output neuron is the label.
    A sample with no output spike counts as wrong."""
    return float(np.mean(predictions(counts) == labels))


def epoch_order(seed, epoch, n):
    return np.random.default_rng(mix_seed(seed, epoch, 1)).permutation(n)


@interrupt.stoppable
def train(cfg: TrainConfig, out, force=False, resume=False, log=print, progress=True, build_dir=None,
          cuda_arch=None):
    """Train as ``cfg`` says, writing results into ``out``; returns the metrics rows.

    A fresh training first saves epoch 0 (the initial weights, no metrics
    rows), so that it can be resumed however early it stops.  SIGINT and
    SIGTERM stop it with `interrupt.Interrupted` (see `brianrules.interrupt`):
    at once while it prepares or builds the program (nothing of that is
    kept unfinished); within an epoch, the program is stopped and the epoch
    discarded, since its run did not simulate every sample; while an
    epoch's results are written, they are written whole (metrics.csv, then
    weights.npz) and kept.  A resume then repeats exactly what the
    uninterrupted training would have done.
    """
    cfg.validate()
    check_runnable(cfg.device, cuda_arch)
    prepare_out_dir(out, force=force, resume=resume)
    dataset = datamod.load(cfg.dataset)
    n_out = dataset.n_classes  # one output neuron per class
    labels_max = int(max(dataset.y_train.max(), dataset.y_test.max()))
    if labels_max >= n_out:
        raise ValueError(f"dataset {cfg.dataset} has label {labels_max} but only {n_out} output neurons")
    spec = cfg.network_spec(dataset.n_inputs, n_out)
    n_samples = len(dataset.y_train) + len(dataset.y_test)
    # Brian2 checks every equation before anything is compiled or written,
    # unless the finished program of this very structure is in the cache
    if not (cfg.device == "cpp_standalone" and build_dir is None and is_built(spec, n_samples, cfg.threads)):
        preflight(spec)

    os.makedirs(out, exist_ok=True)
    rows, start = [], 0
    if resume:
        # settings added after the checkpoint was written take their defaults
        saved = {**asdict(TrainConfig()), **json.load(open(os.path.join(out, "config.json")))["train"]}
        old = TrainConfig.from_dict(saved, source="config.json").resolved()
        if old != cfg.resolved() | {"epochs": old["epochs"]}:
            raise ValueError("--resume: the settings differ from those in config.json (only --epochs may change)")
        weights, feedback, start = read_weights(os.path.join(out, "weights.npz"))
        rows = [r for r in read_metrics(os.path.join(out, "metrics.csv")) if r["epoch"] <= start]
        log(f"resuming {out} after epoch {start}")
    else:
        rng = np.random.default_rng(mix_seed(cfg.seed, 0, 0))
        from .network import initial_weights

        weights, feedback = initial_weights(spec, rng)

    n_train, n_test = len(dataset.y_train), len(dataset.y_test)
    meta = {"train": asdict(cfg), "network": spec.to_dict(), "versions": versions(),
            "git_commit": git_commit(), "n_train": n_train, "n_test": n_test}
    stops = interrupt.active()
    stops.at("while the output folder was prepared", defer=True)
    write_json(os.path.join(out, "config.json"), meta)
    if not resume:  # epoch 0: an interruption before epoch 1 is saved can be resumed
        write_metrics(os.path.join(out, "metrics.csv"), rows)
        write_weights(os.path.join(out, "weights.npz"), weights, feedback, 0)
    stops.saved(start, "while the output folder was prepared")
    stops.at("while the program was built", defer=False)

    log(f"{cfg.rule} ({spec.rule.post_label}) on {cfg.dataset}: {'-'.join(map(str, spec.sizes))} {spec.neuron.name} network, "
        f"{n_train} train / {n_test} test samples, device {cfg.device}"
        + (f", {cfg.dtype}" if cfg.dtype != "float64" else ""))
    t0 = time.perf_counter()
    runner = make_runner(cfg.device, spec, n_samples, threads=cfg.threads, log=log,
                         progress=progress, build_dir=build_dir, cuda_arch=cuda_arch)
    try:
        if cfg.device != "runtime":
            if runner.reused:
                log(f"build: started the finished program, nothing generated or compiled ({runner.build_dir})")
            else:
                how = "reused the cached program" if runner.cached else "compiled"
                log(f"build: {how} in {runner.compile_s:.1f} s ({runner.build_dir})")
        log(f"{'epoch':>5} {'train_acc':>9} {'test_acc':>8} {'run_s':>6} {'samples/s':>9} {'hidden_Hz':>9}")
        for epoch in range(start + 1, cfg.epochs + 1):
            stops.at(f"during epoch {epoch}", defer=True,
                     parts=(("its training part", n_train / n_samples), ("its test part", 1.0)))
            te = time.perf_counter()
            order = epoch_order(cfg.seed, epoch, n_train)
            stim, tgt, learn, labels = datamod.epoch_arrays(dataset, order, n_out)
            result = runner.run(weights, feedback, stim, tgt, learn, mix_seed(cfg.seed, epoch, 2),
                                lr_scale=cfg.lr_scale * cfg.lr_decay ** (epoch - 1))
            _check_weights(result.weights, epoch, cfg.w_bound)
            dw_rel = relative_change(weights, result.weights)
            weights = result.weights
            counts = result.counts
            row = {
                "epoch": epoch,
                "train_acc": accuracy(counts[:n_train], labels[:n_train]),
                "test_acc": accuracy(counts[n_train:], labels[n_train:]),
                "run_s": result.wall_s,
                "samples_per_s": n_samples / result.wall_s,
                "hidden_rate_hz": float(np.mean(result.hidden_rates)) if result.hidden_rates else 0.0,
                "output_rate_hz": float(counts.sum() / (n_samples * n_out * float(spec.t_sample))),
                "max_abs_w": float(max(np.abs(W).max() for W in weights)),
            }
            row.update(zip(layer_columns(len(spec.hidden)), [*result.hidden_rates, *dw_rel]))
            diagnosis = health.diagnose(counts[n_train:], row["test_acc"], result.hidden_rates, n_out,
                                        float(spec.neuron.t_ref), float(spec.dt))
            row["silent_frac"] = diagnosis.silent_frac
            row[COLLAPSE_COLUMN] = diagnosis.column
            row["wall_s"] = time.perf_counter() - te
            rows.append(row)
            # metrics first: a process killed between the two resumes from the epoch before
            write_metrics(os.path.join(out, "metrics.csv"), rows)
            write_weights(os.path.join(out, "weights.npz"), weights, feedback, epoch)
            stops.saved(epoch, f"while epoch {epoch} was saved")
            log(f"{epoch:>5} {row['train_acc']:>9.3f} {row['test_acc']:>8.3f} {row['run_s']:>6.1f} "
                f"{row['samples_per_s']:>9.0f} {'/'.join(f'{r:.1f}' for r in result.hidden_rates):>9}"
                + (f"  COLLAPSED: {diagnosis.text}" if diagnosis.labels else ""))
    finally:
        runner.close()
    stops.at("while the final results were written", defer=True)
    meta["total_s"] = time.perf_counter() - t0
    meta["compile_s"] = runner.compile_s
    write_json(os.path.join(out, "config.json"), meta)
    from .plots import learning_curve

    learning_curve(rows, os.path.join(out, "learning_curve.png"),
                   title=f"{cfg.rule} ({spec.rule.post_label}), {cfg.dataset}, hidden {cfg.hidden}, seed {cfg.seed}")
    if rows and rows[-1].get(COLLAPSE_COLUMN):
        log(f"warning: the network collapsed in the last epoch ({rows[-1][COLLAPSE_COLUMN]}): its test accuracy "
            f"{rows[-1]['test_acc']:.3f} is not a result of the rule")
    log(f"results in {out}: config.json metrics.csv weights.npz learning_curve.png")
    return rows


def _check_weights(weights, epoch, bound):
    for k, W in enumerate(weights):
        if not np.all(np.isfinite(W)):
            raise TrainingError(f"epoch {epoch}: weights of projection {k + 1} became NaN or infinite; "
                                f"kept the checkpoint of epoch {epoch - 1}")
        big = float(np.abs(W).max())
        if big > bound:
            raise TrainingError(f"epoch {epoch}: weights of projection {k + 1} diverged (max |w| = {big:.3g} "
                                f"> bound {bound}); kept the checkpoint of epoch {epoch - 1}")
