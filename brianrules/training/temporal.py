"""Training a recurrent network by e-prop on a sequence task: `brianrules eprop`.

The network is a `model.recurrent.EpropNetwork`; each iteration runs one
batch of sequences (`engines.eprop`: the C++ program, Brian2's runtime or
the NumPy reference; with ``gradient = "bptt"`` the reference gradient of
`engines.eprop_bptt`, backpropagation through time in JAX), averages the batch's e-prop gradients (divided by the
steps the loss counts, with ``average_gradient``, as NEST's option) and
takes one optimizer step (``sgd``: ``w -= eta g``; ``adam``: TensorFlow's
and NEST's form; ``eta`` times ``eta_decay`` after every ``eta_decay_every``
iterations), every weight clipped to ``[-clip, clip]``.

Tasks:

- ``sine``: NEST's sine-wave example (Bellec et al.'s pattern generation):
  one frozen sequence of 1000 steps, its input spikes and target drawn with
  the network's weights (`model.recurrent.nest_sine_example`), every
  iteration the same sequence; the loss is NEST's, ``0.5 sum_k (y - y*)^2``;
- ``evidence``: evidence accumulation (`data.cue_tasks.evidence_accumulation`),
  a fresh batch every iteration (seeded by the iteration), cross-entropy in
  the recall window, a fixed test set (its own seed); the initial weights
  as NEST's example draws them (Glorot-uniform readout, standard normal
  ``B``);
- ``store_recall``: the store-recall task (`data.cue_tasks.store_recall`),
  as the evidence task; each recall is an answer;
- ``shd``: the Spiking Heidelberg Digits from ``task_options.path``
  (`data.events.load_shd`), binned to ``dt``.

The output folder holds ``config.json``, ``metrics.csv`` (iteration, batch
loss, test loss, test error, mean rate, seconds), ``params.npz`` (weights,
optimizer state and iteration: a checkpoint that ``resume`` continues from,
written atomically after every evaluation), ``loss.png`` and ``trial.png``.
"""

import os
import time
from dataclasses import asdict, dataclass, field, fields

import numpy as np

from ..files import write_json, write_npz
from .checkpoints import git_commit, prepare_out_dir, versions
from .iterations import check_positive_integers, check_same_settings, read_metrics, write_metrics

TASKS = ("sine", "evidence", "store_recall", "shd")
#: how the weights' gradient is computed: e-prop (on ``device``), or the BPTT reference (JAX)
GRADIENTS = ("eprop", "bptt")
COLUMNS = ("iteration", "loss", "test_loss", "test_error", "rate_hz", "seconds")
#: settings a resumed run may change
RESUMABLE = ("iterations", "eval_every", "device", "threads")


@dataclass
class EpropConfig:
    task: str = "sine"
    iterations: int = 200
    batch: int = 1
    optimizer: str = "sgd"
    eta: float = 1e-4
    eta_decay: float = 1.0
    eta_decay_every: int = 0
    average_gradient: bool = False
    clip: float = 100.0
    seed: int = 1
    device: str = "cpp_standalone"
    gradient: str = "eprop"
    threads: int = 1
    eval_every: int = 10
    test_batches: int = 4
    # the network (`model.recurrent.EpropNetwork`; times in ms here)
    n_lif: int = 100
    n_alif: int = 0
    dt: float = 1.0
    tau_m: float = 30.0
    tau_a: float = 2000.0
    beta: float = 0.0
    v_th: float = 0.03
    gamma: float = 0.3
    n_ref: int = 0
    tau_out: float = 30.0
    regular_spike_arrival: bool = False
    feedback: str = "random"
    c_reg: float = 300.0
    f_target: float = 10.0
    task_options: dict = field(default_factory=dict)


#: the config's fields that are the network's (ms -> s where the network takes seconds)
_MS = ("dt", "tau_m", "tau_a", "tau_out")
_NETWORK = ("n_lif", "n_alif", "beta", "v_th", "gamma", "n_ref", "regular_spike_arrival", "feedback", "c_reg",
            "f_target") + _MS


def check_config(cfg):
    """Raise ValueError, naming the setting, before anything is built."""
    from ..rules.optimizers import Optimizer

    if cfg.task not in TASKS:
        raise ValueError(f"unknown task {cfg.task!r} (tasks: {', '.join(TASKS)})")
    check_positive_integers(cfg, ("iterations", "batch", "eval_every", "test_batches", "threads"))
    if cfg.gradient not in GRADIENTS:
        raise ValueError(f"gradient must be one of {', '.join(GRADIENTS)}, got {cfg.gradient!r}")
    if cfg.optimizer not in ("sgd", "adam"):
        raise ValueError(f"optimizer must be sgd or adam, got {cfg.optimizer!r}")
    Optimizer(cfg.optimizer, clip=cfg.clip)  # its own checks
    if not (isinstance(cfg.eta, (int, float)) and not isinstance(cfg.eta, bool) and np.isfinite(cfg.eta)
            and cfg.eta > 0):
        raise ValueError(f"eta must be a positive number, got {cfg.eta!r}")
    if not (isinstance(cfg.eta_decay, (int, float)) and not isinstance(cfg.eta_decay, bool)
            and 0 < cfg.eta_decay <= 1):
        raise ValueError(f"eta_decay must lie in (0, 1], got {cfg.eta_decay!r}")
    if isinstance(cfg.eta_decay_every, bool) or not isinstance(cfg.eta_decay_every, int) or cfg.eta_decay_every < 0:
        raise ValueError(f"eta_decay_every must be 0 (never) or a positive number of iterations, "
                         f"got {cfg.eta_decay_every!r}")
    if cfg.task == "sine" and cfg.batch != 1:
        raise ValueError("the sine task is one frozen sequence: batch must be 1")
    if cfg.task == "shd" and "path" not in cfg.task_options:
        raise ValueError("the shd task needs the file's path: task_options = { path = \"shd_train.h5\" }")
    network_of(cfg, 1, 1, "mse")  # the network's settings, checked by its declaration (naming the setting)
    from ..engines.eprop import DEVICES

    if cfg.device not in DEVICES:
        raise ValueError(f"unknown device {cfg.device!r} (choose from {', '.join(DEVICES)})")


def network_of(cfg, n_in, n_out, loss):
    from ..model.recurrent import EpropNetwork

    values = {k: getattr(cfg, k) for k in _NETWORK}
    for k in _MS:
        values[k] = values[k] * 1e-3
    return EpropNetwork(n_in=n_in, n_out=n_out, loss=loss, **values)


class Task:
    """Batches of a sequence task: ``batch(iteration)`` and ``test()``."""

    def __init__(self, cfg):
        self.cfg = cfg
        dt = cfg.dt * 1e-3
        opts = dict(cfg.task_options)
        if cfg.task == "sine":
            from ..model.recurrent import nest_sine_example

            params, x, s = nest_sine_example(seed=cfg.seed, n_rec=cfg.n_lif + cfg.n_alif, **opts)
            self.initial = params
            self.frozen = (x[None], s[None, :, None], np.ones((1, len(s))))
            self.n_in, self.n_out, self.loss = x.shape[1], 1, "mse"
            self.description = f"sine waves (NEST's example): {len(s)} steps, {x.shape[1]} frozen inputs"
            return
        self.initial = None
        if cfg.task == "shd":
            from ..data.events import load_shd

            path = opts.pop("path")
            test_path = opts.pop("test_path", None)
            t_max = opts.pop("t_max", None)
            window = opts.pop("window", None)
            max_samples = opts.pop("max_samples", None)
            if opts:
                raise ValueError(f"unknown option(s) of the shd task: {', '.join(sorted(opts))} "
                                 "(options: path, test_path, t_max, window, max_samples)")
            for name, value in (("path", path), ("test_path", test_path)):
                if value is not None and not os.path.isfile(str(value)):
                    raise ValueError(f"the shd task's {name} {value} is not a file")
            train = load_shd(path, dt=dt, max_samples=max_samples)
            test = load_shd(test_path, dt=dt, max_samples=max_samples) if test_path else None
            if t_max is None:  # one grid for every batch: up to the training set's latest event
                t_max = (int(np.floor(train.last_time() / dt + 1e-9)) + 1) * dt
            self._events = (train, test, {"dt": dt, "t_max": float(t_max), "window": window})
            first = train.subset([0]).to_task(**self._events[2])
            self.description = (f"SHD ({os.path.basename(path)}): {len(train)} training samples, {first.steps} "
                                f"steps of {dt * 1e3:g} ms, {train.n_classes} classes"
                                + (f", loss over the last {window * 1e3:g} ms" if window else ""))
        else:
            from ..data.cue_tasks import TASKS as CUE_TASKS

            self._make = lambda n, seed: CUE_TASKS[cfg.task](n, seed, dt=dt, **opts)
            try:
                first = self._make(1, 0)
            except TypeError as e:  # an option the generator does not take
                raise ValueError(f"task {cfg.task}: {e}") from None
            self.description = first.description
        self.n_in, self.n_out = first.inputs.shape[2], first.targets.shape[2]
        self.loss = "cross_entropy"

    @property
    def classifies(self):
        """Whether the task has answers (`answers`) and a test error."""
        return self.loss == "cross_entropy"

    def _arrays(self, task):
        return task.inputs, task.targets, task.mask

    def batch(self, iteration):
        cfg = self.cfg
        if cfg.task == "sine":
            return self.frozen
        if cfg.task == "shd":
            train, _, grid = self._events
            rng = np.random.default_rng([cfg.seed, iteration])
            idx = rng.choice(len(train), cfg.batch, replace=False)
            return self._arrays(train.subset(idx).to_task(**grid))
        return self._arrays(self._make(cfg.batch, cfg.seed * 10 ** 7 + iteration))

    def test(self):
        """The test batches (each ``batch`` sequences), fixed for a run."""
        cfg = self.cfg
        if cfg.task == "sine":
            return [self.batch(0)]
        if cfg.task == "shd":
            train, test, grid = self._events
            data = test or train
            n = min(len(data) // cfg.batch, cfg.test_batches)
            if n < 1:
                raise ValueError(f"the shd test set has {len(data)} samples, fewer than a batch ({cfg.batch})")
            return [self._arrays(data.subset(np.arange(k * cfg.batch, (k + 1) * cfg.batch)).to_task(**grid))
                    for k in range(n)]
        return [self._arrays(self._make(cfg.batch, 10 ** 6 + cfg.seed * 1000 + k)) for k in range(cfg.test_batches)]


def initial_params(cfg, net, task):
    """The task's own draw where it has one (NEST's sine example), else NEST's
    evidence example's distributions drawn from ``seed``."""
    if task.initial is not None:
        return task.initial
    from ..model.recurrent import nest_evidence_example

    params, _, _ = nest_evidence_example(1, 0, seed=cfg.seed, n_in=net.n_in, n_lif=net.n_lif, n_alif=net.n_alif,
                                         n_out=net.n_out)
    return params


def evaluate(net, runner, params, batches):
    """(mean loss, error rate or nan, mean rate in Hz) over ``batches``;
    the error rate is over the answers (`answers`) of a classification task."""
    from ..reference.recurrent import readout_loss

    losses, wrong, n, rates = [], 0, 0, []
    for x, y, m in batches:
        out = runner.run(params, x, y, m)
        loss = readout_loss(net, out["y"], y, m)
        losses.append(loss.mean())
        rates.append(out["rate_hz"])
        if net.loss == "cross_entropy":
            predicted, wanted = answers(out["y"], y, m)
            wrong += int(np.sum(predicted != wanted))
            n += len(wanted)
    return float(np.mean(losses)), (wrong / n if n else float("nan")), float(np.mean(rates))


def answers(y, targets, mask):
    """(predicted, wanted) classes of every answer: each run of consecutive
    steps where the mask counts (a recall window; a trial may hold several)
    is one answer, the readout with the largest softmax averaged over it
    (NEST's and Bellec et al.'s), against the target's class there."""
    pi = np.exp(y - y.max(axis=-1, keepdims=True))
    pi /= pi.sum(axis=-1, keepdims=True)
    predicted, wanted = [], []
    for trial in range(mask.shape[0]):
        on = np.r_[0, (mask[trial] > 0).astype(int), 0]
        starts, ends = np.flatnonzero(np.diff(on) == 1), np.flatnonzero(np.diff(on) == -1)
        for a, b in zip(starts, ends):
            w = mask[trial, a:b, None]
            predicted.append(int(np.argmax((pi[trial, a:b] * w).sum(axis=0))))
            wanted.append(int(np.argmax((targets[trial, a:b] * w).sum(axis=0))))
    return np.array(predicted, dtype=int), np.array(wanted, dtype=int)


def step_size(cfg, iteration):
    """The optimizer's step in ``iteration`` (from 0): ``eta``, times
    ``eta_decay`` after every ``eta_decay_every`` iterations."""
    if not cfg.eta_decay_every:
        return cfg.eta
    return cfg.eta * cfg.eta_decay ** (iteration // cfg.eta_decay_every)


def train_eprop(cfg, out, force=False, resume=False, log=print):
    """Train and write the output folder; returns the rows of metrics.csv."""
    from ..engines.eprop import make_runner
    from ..reference.recurrent import apply_gradients, readout_loss
    from ..rules.optimizers import Optimizer

    check_config(cfg)
    task = Task(cfg)  # the data, read or drawn before the folder is touched
    if resume:
        if not os.path.exists(os.path.join(out, "params.npz")):
            raise ValueError(f"--resume: {out} holds no checkpoint (params.npz)")
        check_same_settings(out, asdict(cfg), RESUMABLE)
    else:
        prepare_out_dir(out, force=force)
    net = network_of(cfg, task.n_in, task.n_out, task.loss)
    test = task.test()
    x0 = test[0][0]
    steps = x0.shape[1]
    optimizer = Optimizer(cfg.optimizer, clip=cfg.clip)
    rows, start, state = [], 0, None
    if resume:
        params, state, start, rows = _read_checkpoint(out, net, optimizer)
        log(f"resuming at iteration {start} from {out}/params.npz")
    else:
        params = net.check_params(initial_params(cfg, net, task))
        os.makedirs(out, exist_ok=True)
        write_json(os.path.join(out, "config.json"), {**asdict(cfg), "versions": versions(), "commit": git_commit(),
                                                      "task_description": task.description})
    if cfg.gradient == "bptt":
        from ..engines.bptt import require_jax
        from ..engines.eprop_bptt import EpropBptt

        require_jax()
        runner = EpropBptt(net, steps, cfg.batch)
    else:
        runner = make_runner(cfg.device, net, steps, cfg.batch, threads=cfg.threads)
    how = ("BPTT (surrogate gradient, JAX; the reference)" if cfg.gradient == "bptt"
           else f"e-prop, {net.feedback} feedback")
    engine = "jax" if cfg.gradient == "bptt" else cfg.device
    compiled = f" (compiled in {runner.compile_s:.1f} s)" if getattr(runner, "compile_s", 0) else ""
    log(f"{how}: {net.n_lif} LIF + {net.n_alif} ALIF recurrent neurons, {net.n_out} readouts ({net.loss}); "
        f"task {task.description}; batch {cfg.batch}, {cfg.optimizer} {cfg.eta:g}; {engine}{compiled}")
    from .. import interrupt

    # a signal ends an iteration's run; the iterations saved before it stay
    stops = interrupt.active().counting("iteration", start if resume else None)
    t0 = time.time()
    try:
        for it in range(start, cfg.iterations):
            stops.at(f"during iteration {it + 1}", defer=True)
            x, y, m = task.batch(it)
            res = runner.run(params, x, y, m)
            loss = readout_loss(net, res["y"], y, m)
            loss = float(loss.mean())
            if not np.isfinite(loss):
                raise FloatingPointError(f"iteration {it + 1}: the loss is {loss}; the last checkpoint is "
                                         f"{out}/params.npz")
            grads = res["grads"]
            if cfg.average_gradient:
                counted = float(np.mean(np.sum(m > 0, axis=1)))
                grads = {k: g / counted for k, g in grads.items()}
            params, state = apply_gradients(params, grads, optimizer, step_size(cfg, it), state)
            row = {"iteration": it + 1, "loss": loss, "test_loss": float("nan"), "test_error": float("nan"),
                   "rate_hz": res["rate_hz"], "seconds": time.time() - t0}
            if (it + 1) % cfg.eval_every == 0 or it + 1 == cfg.iterations:
                if task.classifies:
                    row["test_loss"], row["test_error"], row["rate_hz"] = evaluate(net, runner, params, test)
                rows.append(row)
                write_metrics(out, rows, COLUMNS, digits=10)
                _write_checkpoint(out, params, state, it + 1)
                stops.saved(it + 1, f"while iteration {it + 1} was saved")
                log(f"iteration {it + 1}: loss {loss:.4f}"
                    + (f", test loss {row['test_loss']:.4f}, test error {row['test_error']:.3f}"
                       if task.classifies else "") + f", {row['rate_hz']:.1f} Hz, {time.time() - t0:.0f} s")
            else:
                rows.append(row)
        stops.at("while the figures were drawn", defer=True)
        _figures(out, net, params, task, test, rows)
    finally:
        runner.close()
    return rows


def _write_checkpoint(out, params, state, iteration):
    arrays = {k: v for k, v in params.items()}
    for key, opt in (state or {}).items():
        for name, value in opt.items():
            arrays[f"{name}__{key}"] = value
    write_npz(os.path.join(out, "params.npz"), iteration=iteration, **arrays)


def _read_checkpoint(out, net, optimizer):
    with np.load(os.path.join(out, "params.npz")) as z:
        params = net.check_params({k: z[k] for k in net.shapes if k in z.files})
        state = {}
        for key in ("W_in", "W_rec", "W_out"):
            opt = {name: z[f"{name}__{key}"] for name in optimizer.state if f"{name}__{key}" in z.files}
            if opt:
                state[key] = opt
        start = int(z["iteration"])
    return params, state or None, start, read_metrics(out, start, COLUMNS)


def _figures(out, net, params, task, test, rows):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    it = [r["iteration"] for r in rows]
    fig, ax = plt.subplots(figsize=(5.5, 3.4))
    ax.semilogy(it, [r["loss"] for r in rows], lw=1, label="training loss")
    if task.classifies:
        ev = [r for r in rows if np.isfinite(r["test_error"])]
        ax2 = ax.twinx()
        ax2.plot([r["iteration"] for r in ev], [r["test_error"] for r in ev], "C1.-", label="test error")
        ax2.set_ylabel("test error")
        ax2.set_ylim(0, 1)
        ax2.legend(loc="upper right", fontsize=8)
    ax.set_xlabel("iteration")
    ax.set_ylabel("loss" + (" (0.5 sum (y - y*)^2)" if net.loss == "mse" else " (cross-entropy)"))
    ax.set_title(f"e-prop, {task.description}", fontsize=8)
    ax.legend(loc="upper left", fontsize=8)
    fig.tight_layout()
    fig.savefig(os.path.join(out, "loss.png"), dpi=110)
    plt.close(fig)

    # one test sequence on the NumPy reference, which records the recurrent spikes (the same network:
    # the engines agree to 1e-12)
    from ..reference.recurrent import simulate

    x, y, m = test[0]
    res = simulate(net, params, x[:1], y[:1], m[:1], gradients=False)
    t = np.arange(x.shape[1]) * net.dt * 1e3
    fig, axes = plt.subplots(3, 1, figsize=(7, 6.5), sharex=True, gridspec_kw={"height_ratios": [1.3, 1, 1]})
    for k in range(net.n_out):
        axes[0].plot(t, res["y"][0, :, k], lw=1, color=f"C{k}", label=f"readout {k + 1}")
        target = np.where(m[0] > 0, y[0, :, k], np.nan)
        axes[0].plot(t, target, "--", lw=1.5, color=f"C{k}", label=f"target {k + 1}")
    axes[0].set_ylabel("readout y")
    axes[0].legend(loc="upper left", fontsize=7, ncol=2)
    steps, idx = np.nonzero(x[0])
    axes[1].plot(t[steps], idx, "|", ms=2, color="k")
    axes[1].set_ylabel("input channel")
    steps, idx = np.nonzero(res["z"][0])
    adaptive = idx >= net.n_lif
    axes[2].plot(t[steps[~adaptive]], idx[~adaptive], "|", ms=2, color="k", label="LIF")
    if net.n_alif:
        axes[2].plot(t[steps[adaptive]], idx[adaptive], "|", ms=2, color="C3", label="ALIF")
        axes[2].legend(loc="upper right", fontsize=7)
    axes[2].set_ylabel("recurrent neuron")
    axes[2].set_xlabel("time (ms)")
    axes[0].set_title(f"a test sequence after {rows[-1]['iteration'] if rows else 0} iterations", fontsize=8)
    fig.tight_layout()
    fig.savefig(os.path.join(out, "trial.png"), dpi=110)
    plt.close(fig)


def read_model(path):
    """An `EpropConfig` from a TOML model file: every key of ``[eprop]`` is a
    field of the config (times in ms); an unknown key is an error that names
    it."""
    import tomllib

    with open(path, "rb") as f:
        data = tomllib.load(f)
    unknown = sorted(set(data) - {"eprop"})
    if unknown:
        raise ValueError(f"{path}: unknown section [{unknown[0]}] (an e-prop model file has [eprop])")
    section = data.get("eprop", {})
    names = {f.name: f for f in fields(EpropConfig)}
    for key in section:
        if key not in names:
            raise ValueError(f"{path}: unknown setting '{key}' in [eprop] (settings: {', '.join(names)})")
    return EpropConfig(**section)


__all__ = ["COLUMNS", "EpropConfig", "TASKS", "check_config", "network_of", "read_model", "train_eprop"]
