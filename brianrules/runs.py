"""A finished training, loaded from its folder and evaluated again.

`load` reads what `training.train` wrote into a run folder: the settings
(``config.json``, section ``train``, as a `TrainConfig`), the metrics rows
(``metrics.csv``), and the weights and feedback matrices of the last
completed epoch (``weights.npz``).  `Run.evaluate` runs that network with
plasticity off on the run's test samples, or on samples given, and returns
the accuracy, the output spike counts and, on request, the spikes and state
variables of chosen layers as NumPy arrays in stated units::

    import brianrules
    run = brianrules.load("runs/demo")
    ev = run.evaluate()                    # the run's test samples
    assert ev.accuracy == run.final_metrics["test_acc"]
    ev = run.evaluate(n_samples=5, record_spikes=True, record=("v",))
    ev.spikes["output"].t                  # spike times (s)
    ev.states["hidden_1"]["v"].values      # membrane potential (V), neurons x steps

Which input spikes a sample draws.  Input neuron i spikes in step n of a
run when ``hash(seed, n, i) < rate * dt`` (`brianrules.randomness`), with n
counted from the start of the run, and one epoch of training is one run:
its training samples, then its test samples.  Test sample m therefore draws
its spikes at steps ``(n_train + m) * steps_per_sample + s``: they depend on
how many training samples came before.  So the default evaluation presents
the epoch exactly as training did (the epoch's sample order, then the test
samples, the epoch's seed ``mix_seed(seed, epoch, 2)``), with learning off
throughout and the final weights, in the same compiled program as the
training, and reads the counts of the test part; its test samples draw the
training's input spikes.  Every state is reset at each sample's start
except refractoriness, so the test part starts from the training samples'
last milliseconds: a neuron that fired in the last ``t_ref`` of the last
training sample starts the first test sample refractory.  In training that
last sample ran with the weights before its own update, here with the
final ones; where that moves a spike within its last ``t_ref``, the first
test sample (and, rarely, the next ones) can give other counts.  Apart from
that the evaluation is the training's test part, and its accuracy is the
last row's ``test_acc`` (with the package's code that trained it:
``config.json`` records its git commit, and changed model code builds
another program).  An evaluation of a subset (``n_samples``) or of given
``samples`` runs a program of its own length from step 0: the same seed
then draws other spikes (another draw of the Poisson noise).
"""

import hashlib
import json
import math
import os
from dataclasses import dataclass, field, replace

import numpy as np

#: the layers a `Run.evaluate` can record, besides ``hidden_K``
INPUT, OUTPUT = "input", "output"


def load(path):
    """The run in folder ``path`` (written by `training.train` or a sweep's
    point: ``points/<id>/run``).  A missing folder, or one without
    ``config.json`` or ``weights.npz``, is a ValueError that names the path."""
    from .metrics import read_metrics
    from .training import TrainConfig, read_weights

    path = os.fspath(path)
    if not os.path.isdir(path):
        raise ValueError(f"run folder {path} does not exist" if not os.path.exists(path)
                         else f"{path} is a file, not a run folder")
    config_path, weights_path = os.path.join(path, "config.json"), os.path.join(path, "weights.npz")
    for needed, what in ((config_path, "settings"), (weights_path, "weights")):
        if not os.path.isfile(needed):
            raise ValueError(f"{path} is no finished run: it has no {os.path.basename(needed)} "
                             f"(the training's {what}; `brianrules train --out {path}` writes it)")
    try:
        with open(config_path) as f:
            info = json.load(f)
        train_settings = info["train"]
    except (OSError, ValueError, KeyError, TypeError) as e:
        raise ValueError(f"{config_path}: not a run's config.json ({type(e).__name__}: {e})") from None
    config = TrainConfig.from_dict(train_settings, source=config_path)
    try:
        weights, feedback, epoch = read_weights(weights_path)
    except (OSError, ValueError, KeyError) as e:
        raise ValueError(f"{weights_path}: not a run's weights ({type(e).__name__}: {e})") from None
    metrics_path = os.path.join(path, "metrics.csv")
    metrics = read_metrics(metrics_path) if os.path.isfile(metrics_path) else []
    run = Run(path=path, config=config, info=info, metrics=metrics, weights=weights, feedback=feedback,
              epoch=epoch)
    run._check_shapes(weights_path)
    return run


@dataclass(frozen=True)
class Spikes:
    """The spikes of one layer: neuron ``i`` fired at time ``t`` (seconds,
    from the start of the first evaluated sample), both sorted by time.
    ``n`` is the layer's number of neurons."""

    i: np.ndarray
    t: np.ndarray
    n: int
    unit: str = "s"  # of t

    def counts(self, n_samples, t_sample):
        """Spike counts per sample and neuron (n_samples x n), ``t_sample`` in seconds."""
        sample = np.floor(self.t / t_sample + 1e-9).astype(np.int64)
        out = np.zeros((n_samples, self.n), dtype=np.int64)
        ok = (sample >= 0) & (sample < n_samples)
        np.add.at(out, (sample[ok], self.i[ok]), 1)
        return out


@dataclass(frozen=True)
class StateTrace:
    """A state variable of a layer, recorded every time step: ``values``
    (neurons x steps) in ``unit`` (SI: "V", "Hz", ..., "1" when
    dimensionless) at times ``t`` (seconds, from the start of the first
    evaluated sample).  Recorded after the step's integration and before
    threshold and reset: in the step in which a neuron spikes, its ``v`` is
    above ``v_th``."""

    name: str
    unit: str
    t: np.ndarray
    values: np.ndarray


@dataclass
class Evaluation:
    """The outcome of `Run.evaluate`."""

    #: fraction of samples whose most active output neuron is the label
    #: (`training.accuracy`: a sample without output spikes is wrong); None without labels
    accuracy: float | None
    counts: np.ndarray  # output spike counts, samples x outputs
    labels: np.ndarray | None
    seed: int  # of the input spikes
    device: str
    #: True when the samples were the run's test samples presented after its
    #: training samples, as in training (they drew the training's input spikes)
    in_epoch: bool
    dt: float  # s
    t_sample: float  # s
    spikes: dict = field(default_factory=dict)  # layer name -> Spikes
    states: dict = field(default_factory=dict)  # layer name -> {variable -> StateTrace}

    @property
    def predictions(self):
        """The most active output neuron of each sample; -1 where none fired."""
        from .training import predictions

        return predictions(self.counts)


@dataclass(repr=False, eq=False)
class Run:
    """A finished (or stopped) training, as `load` reads it from ``path``.

    ``config``: the `TrainConfig`; ``info``: all of ``config.json`` (the
    network, the versions, ``n_train``, ``n_test``, ...); ``metrics``: the
    rows of ``metrics.csv``; ``weights`` (n_pre x n_post per projection) and
    ``feedback`` (the feedback matrices), as they were after epoch ``epoch``.
    """

    path: str
    config: object
    info: dict
    metrics: list
    weights: list
    feedback: list
    epoch: int
    _dataset: object = field(default=None, compare=False)

    def __repr__(self):
        acc = (self.final_metrics or {}).get("test_acc")
        sizes = "-".join(str(n) for n in self.sizes)
        return (f"Run({self.path!r}: {self.config.rule} on {self.config.dataset}, {sizes}, epoch {self.epoch}"
                + (f", test_acc {acc:.3f}" if isinstance(acc, float) and math.isfinite(acc) else "") + ")")

    @property
    def sizes(self):
        net = self.info.get("network", {})
        return [net.get("n_in"), *self.config.hidden, net.get("n_out")]

    @property
    def final_metrics(self):
        """The metrics row of the weights' epoch, or None if metrics.csv lacks it."""
        return next((r for r in self.metrics if r.get("epoch") == self.epoch), None)

    def _check_shapes(self, where):
        sizes = self.sizes
        if None in sizes:
            return  # an older config.json without the network's sizes: the model checks them when it runs
        from .model.architecture import chain, parse, population_names

        n_hidden = len(sizes) - 2
        projections = chain(n_hidden) if self.config.projections is None else parse(self.config.projections, n_hidden)
        size_of = dict(zip(population_names(n_hidden), sizes))
        expected = [(size_of[p.pre], size_of[p.post]) for p in projections]
        got = [tuple(W.shape) for W in self.weights]
        if got != expected:
            raise ValueError(f"{where}: weights of shapes {got} do not fit the {'-'.join(map(str, sizes))} "
                             f"network of config.json (expected {expected})")

    def dataset(self):
        """The run's data set (`data.load` of its ``dataset``), checked against
        the split sizes in config.json."""
        if self._dataset is None:
            from . import data as datamod

            ds = datamod.load(self.config.dataset)
            sizes = (len(ds.y_train), len(ds.y_test))
            if "n_train" in self.info and sizes != (self.info["n_train"], self.info["n_test"]):
                raise ValueError(f"{self.path}: the run had {self.info['n_train']} training and "
                                 f"{self.info['n_test']} test samples, data set {self.config.dataset} now has "
                                 f"{sizes[0]} and {sizes[1]} (another version of its package?)")
            self._dataset = ds
        return self._dataset

    def network_spec(self):
        """The `network.NetworkSpec` the run trained, as `training.train` built it."""
        ds = self.dataset()
        return self.config.network_spec(ds.n_inputs, ds.n_classes)

    def evaluate(self, samples=None, labels=None, n_samples=None, record_spikes=False, record=(), layers=None,
                 device=None, seed=None, threads=None, cuda_arch=None, build_dir=None, log=None):
        """Run the trained network with plasticity off and return an `Evaluation`.

        Without ``samples`` and ``n_samples``: the run's test samples, presented
        after its training samples as in training (see the module's docstring;
        reuses the training's compiled program).  ``n_samples``: only the first
        so many test samples (or of ``samples``).  ``samples``: intensities in
        [0, 1], samples x inputs, with optional integer ``labels`` (without
        them ``accuracy`` is None).  A subset or given samples run in a program
        of their own length from step 0.

        ``record_spikes``: the spikes of ``layers`` (`Spikes`, in ``spikes``);
        ``record``: names of state variables (``"v"``, ``"I_syn"``, ``"L"``,
        ...) recorded every step in each of ``layers`` that has them
        (`StateTrace`, in ``states``; a name that none has is a ValueError).
        ``layers``: names among ``input``, ``hidden_1``, ..., ``output``
        (default: the hidden layers and the output).  Recordings
        cover the evaluated samples only; recorded state variables take memory
        for every step of the run (also of the training part of a default
        evaluation), so record a few samples (``n_samples=5``).  A standalone
        program with recordings is built in a cache folder of its own.  A run
        trained in batches (`--batch`) is recorded one sample after the other:
        each sample draws the input spikes it drew in its batch, and the
        state of a neuron carries over from the sample before it, not from
        its copy's.

        ``device``: the run's own unless given; ``seed``: of the input spikes
        (default: the epoch's, ``mix_seed(seed, epoch, 2)``); ``threads``: the
        run's.  ``build_dir``: where a standalone program is built (default:
        the build cache).  ``log``: a function for the build's messages
        (default: none)."""
        from . import data as datamod
        from .devices import check_device, check_runnable
        from .randomness import mix_seed
        from .training import accuracy, epoch_order, shift_seed

        cfg = self.config
        device = cfg.device if device is None else device
        check_device(device)
        record = (record,) if isinstance(record, str) else tuple(record)
        recording = bool(record_spikes or record)
        ds = self.dataset()
        spec = self.network_spec()
        if recording and spec.batch > 1:  # recorded one sample after the other (each draws its batch's spikes)
            spec = replace(spec, batch=1)
        layer_names = [INPUT, *[f"hidden_{k + 1}" for k in range(len(spec.hidden))], OUTPUT]
        if layers is None:
            layers = layer_names[1:]
        layers = (layers,) if isinstance(layers, str) else tuple(dict.fromkeys(layers))
        for name in layers:
            if name not in layer_names:
                raise ValueError(f"unknown layer '{name}' (the network's layers: {', '.join(layer_names)})")
        if recording and not layers:
            raise ValueError("layers is empty: name the layers to record")
        if labels is not None and samples is None:
            raise ValueError("labels go with samples: without samples the run's test samples and labels are used")
        if n_samples is not None and (not isinstance(n_samples, (int, np.integer)) or isinstance(n_samples, bool)
                                      or n_samples < 1):
            raise ValueError(f"n_samples must be a positive integer, got {n_samples!r}")
        units = _check_recordable(spec, layers, record) if record else {name: {} for name in layers}
        check_runnable(device, cuda_arch)

        n_out = ds.n_classes
        in_epoch = samples is None and n_samples is None
        if in_epoch:
            n_train = len(ds.y_train)
            order = epoch_order(cfg.seed, self.epoch, n_train)
            stim, tgt, learn, _ = datamod.epoch_arrays(ds, order, n_out, cfg.shift_px, shift_seed(cfg.seed, self.epoch))
            learn = np.zeros_like(learn)
            first, labels = n_train, ds.y_test
        else:
            if samples is None:
                x, y = ds.x_test, ds.y_test
            else:
                x = _check_samples(samples, spec.n_in)
                y = None if labels is None else _check_labels(labels, len(x), n_out)
            if n_samples is not None:
                if n_samples > len(x):
                    raise ValueError(f"n_samples is {n_samples}, but there are only {len(x)} samples")
                x, y = x[:n_samples], (None if y is None else y[:n_samples])
            stim = x
            tgt = datamod.one_hot(y, n_out) if y is not None else np.zeros((len(x), n_out))
            learn = np.zeros(len(x))
            first, labels = 0, y
        noise_seed = mix_seed(cfg.seed, self.epoch, 2) if seed is None else int(seed)
        lr_scale = cfg.lr_scale * cfg.lr_decay ** (self.epoch - 1)  # as in training; learning is off
        n_run = len(stim)
        monitors = _monitors(layers, record_spikes, units) if recording else None
        from .devices import resolve_threads

        threads = resolve_threads(cfg.threads if threads is None else threads, spec, device)
        say = log or (lambda *a, **k: None)

        recorded = {}
        if device == "runtime":
            from .devices import RuntimeRunner

            runner = RuntimeRunner(spec, n_run)
            result = runner.run(self.weights, self.feedback, stim, tgt, learn, noise_seed, lr_scale=lr_scale,
                                monitors=monitors)
            recorded = _read_monitors(runner.last_monitors, float(spec.dt))
        else:
            runner = _standalone_runner(device, spec, n_run, threads, build_dir, say, cuda_arch,
                                        monitors, layers, record_spikes, units)
            try:
                result = runner.run(self.weights, self.feedback, stim, tgt, learn, noise_seed, lr_scale=lr_scale)
                if recording:
                    recorded = _read_monitors(runner.extra, float(spec.dt))
            finally:
                runner.close()

        counts = result.counts[first:]
        dt = float(spec.dt)
        skip = first * spec.steps_per_sample  # the steps of the training part of a default evaluation
        ev = Evaluation(accuracy=None if labels is None else accuracy(counts, labels),
                        counts=counts, labels=None if labels is None else np.asarray(labels),
                        seed=noise_seed, device=device, in_epoch=in_epoch, dt=dt,
                        t_sample=float(spec.t_sample))
        sizes = dict(zip(layer_names, spec.sizes))
        for name in layers:
            if record_spikes:
                i, step = recorded[f"rec_spikes_{name}"]
                keep = step >= skip
                ev.spikes[name] = Spikes(i=i[keep], t=(step[keep] - skip) * dt, n=sizes[name])
            if units[name]:
                traces = recorded[f"rec_state_{name}"]
                ev.states[name] = {
                    var: StateTrace(var, unit, np.arange(traces[var].shape[1] - skip) * dt, traces[var][:, skip:])
                    for var, unit in units[name].items()}
        return ev


def _check_samples(samples, n_in):
    x = np.asarray(samples, dtype=float)
    if x.ndim != 2 or x.shape[1] != n_in or len(x) == 0:
        raise ValueError(f"samples must be a 2-D array of samples x {n_in} inputs, got shape {x.shape}")
    if not np.all(np.isfinite(x)) or x.min() < 0 or x.max() > 1:
        raise ValueError("samples must be intensities in [0, 1] (the input rate is max_rate times the intensity)")
    return x


def _check_labels(labels, n, n_out):
    y = np.asarray(labels)
    if y.shape != (n,) or not np.issubdtype(y.dtype, np.integer):
        raise ValueError(f"labels must be {n} integers, one per sample, got {y.dtype} of shape {y.shape}")
    if n and (y.min() < 0 or y.max() >= n_out):
        raise ValueError(f"labels must lie in 0..{n_out - 1}")
    return y


def _check_recordable(spec, layers, variables):
    """{layer: {variable: unit}} of the variables each layer records: those
    of ``variables`` it has.  A variable that none of ``layers`` has is a
    ValueError that lists theirs.  Builds the model's groups once in runtime
    mode (nothing runs) and drops them."""
    import gc

    from brian2 import prefs, set_device, start_scope

    from .floats import float_dtype
    from .network import Model, unit_name

    set_device("runtime")
    prefs.codegen.target = "numpy"
    start_scope()
    warn = prefs.logging.warn_for_unused_objects
    prefs.logging.warn_for_unused_objects = False  # these objects are looked at, never run
    try:
        with float_dtype(spec.dtype):
            model = Model(spec, 1)
        found = {}
        for group in (model.input, *model.layers):
            found[group.name] = {k: unit_name(v.dim) for k, v in group.variables.items()
                                 if not k.startswith("_") and k not in ("N", "i", "t", "dt", "t_in_timesteps")
                                 and getattr(v, "dim", None) is not None and not getattr(v, "scalar", False)}
        del model, group
        gc.collect()
    finally:
        prefs.logging.warn_for_unused_objects = warn
    start_scope()
    for var in variables:
        if not any(var in found[name] for name in layers):
            listing = "; ".join(f"{name}: {', '.join(sorted(found[name]))}" for name in layers)
            raise ValueError(f"no layer of {', '.join(layers)} has a state variable '{var}' to record "
                             f"({listing})")
    return {name: {var: found[name][var] for var in variables if var in found[name]} for name in layers}


def _monitors(layers, record_spikes, variables):
    """``monitors(model)`` for the runners: a SpikeMonitor per layer, and a
    StateMonitor of ``variables[layer]`` (names) where there are any, which
    samples the state just before the threshold is checked."""
    def make(model):
        from brian2 import SpikeMonitor, StateMonitor

        groups = {g.name: g for g in (model.input, *model.layers)}
        out = []
        for name in layers:
            if record_spikes:
                out.append(SpikeMonitor(groups[name], name=f"rec_spikes_{name}"))
            if variables[name]:
                out.append(StateMonitor(groups[name], sorted(variables[name]), record=True, when="thresholds",
                                        order=-1, name=f"rec_state_{name}"))
        return out

    return make


def _read_monitors(monitors, dt):
    """Monitor name -> (neuron index, step) of a SpikeMonitor (``dt`` in
    seconds), or {variable: values (neurons x steps) in SI units} of a
    StateMonitor."""
    from brian2 import SpikeMonitor

    out = {}
    for m in monitors:
        if isinstance(m, SpikeMonitor):
            step = np.round(np.asarray(m.t_[:]) / dt).astype(np.int64)
            out[m.name] = (np.asarray(m.i[:], dtype=np.int64), step)
        else:
            out[m.name] = {var: np.array(getattr(m, var + "_"), dtype=float) for var in m.record_variables}
    return out


def _standalone_runner(device, spec, n, threads, build_dir, log, cuda_arch, monitors, layers, record_spikes,
                       variables):
    """The compiled program for ``n`` samples: the cached one of the model
    (that of the training for a default evaluation) without recordings; with
    them a program in a build folder of its own, keyed by what it records,
    so that the model's own program stays as it is."""
    from .devices import StandaloneRunner, make_runner, program_key
    from .paths import cache_dir
    from .build.key import structure_hash

    if monitors is None:
        return make_runner(device, spec, n, threads=threads, build_dir=build_dir, log=log, progress=False,
                           cuda_arch=cuda_arch)
    what = json.dumps({"layers": list(layers), "spikes": bool(record_spikes),
                       "state": {name: sorted(v) for name, v in variables.items()},
                       "cuda_arch": cuda_arch if device == "cuda_standalone" else None}, sort_keys=True)
    tag = hashlib.sha256(what.encode()).hexdigest()[:8]
    if device == "cuda_standalone":
        from .cuda import CudaStandaloneRunner

        build_dir = build_dir or os.path.join(cache_dir(), f"{structure_hash(spec, n)}-cuda-rec-{tag}")
        return CudaStandaloneRunner(spec, n, threads=threads, build_dir=build_dir, log=log, progress=False,
                                    cuda_arch=cuda_arch, monitors=monitors)
    build_dir = build_dir or os.path.join(cache_dir(), f"{program_key(spec, n, threads)}-rec-{tag}")
    return StandaloneRunner(spec, n, threads=threads, build_dir=build_dir, log=log, progress=False,
                            monitors=monitors)
