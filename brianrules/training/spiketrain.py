"""Learning a target spike raster by SuperSpike: `brianrules superspike`.

Zenke & Ganguli (2018)'s task, as their simulations run it
(``fzenke/pub2018superspike``, ``sim/run_symfb.sh``, ``sim/run_rfb.sh``):
200 frozen Poisson inputs at about 5 Hz drive a hidden layer of 256 LIF
neurons and 200 output neurons; the outputs learn a raster drawn from a
picture (one neuron per row, one column per 10 ms, a uniform jitter of up
to 10 ms): the text ``text`` rendered, or the image file ``picture``;
input and target loop.  The network (`model.spiketrain`) first
runs ``burn_in_s`` without learning, then ``blocks`` blocks of ``block_s``
seconds each with learning, the step ``eta`` divided by 10 after each block
of ``eta_drops`` (the paper's scripts: 20 s burn-in, 50 blocks of 20 s,
eta 5e-4, divided by 10 after blocks 20 and 40).  Each block is one run of the
compiled program (`engines.spiketrain`); the state carries over, so the
blocks are one continuous simulation.  The feedback to the hidden layer is
``symmetric`` (the output weights) or ``random`` (fixed ``B``, with the
hidden weights' regulariser ``rho = 1``, as in ``sim_rfb.cpp``);
``learn_hidden = false`` keeps the hidden weights fixed (Auryn's
``--fixedhidden``).

The output folder holds ``config.json``, ``metrics.csv`` (a row per block:
the van Rossum distance per output neuron and second in unmatched spikes,
mean rates, the step), ``checkpoint.npz`` (weights, normaliser and network
state after the last block, written atomically; ``resume`` continues from
it), ``rasters.npz`` (the target and the output's last presentation after
the burn-in and after every block), ``distance.png`` and ``raster.png``.
"""

import os
import time
from dataclasses import asdict, dataclass, field, fields

import numpy as np

from ..files import write_json, write_npz
from .checkpoints import git_commit, prepare_out_dir, versions
from .iterations import check_positive_integers, check_same_settings, read_metrics, write_metrics

COLUMNS = ("iteration", "trained_s", "distance", "rate_hidden_hz", "rate_out_hz", "eta", "seconds")
#: settings a resumed run may change
RESUMABLE = ("blocks", "device", "threads")


@dataclass
class SuperSpikeConfig:
    # the task: the picture of ``text``, or the image file ``picture`` where one is given
    text: str = "SPIKE"
    picture: str = ""
    columns: int = 120
    column_ms: float = 10.0
    jitter_ms: float = 10.0
    input_rate: float = 5.0
    n_in: int = 200
    n_out: int = 200
    # the network (`model.spiketrain.SuperSpikeNetwork`; times in ms)
    n_hidden: int = 256
    feedback: str = "symmetric"
    rho: float = -1.0  # -1: the paper's, 1 with random feedback and 0 with symmetric
    dt: float = 1.0
    w0: float = 0.05
    learn_hidden: bool = True
    # the schedule
    eta: float = 5e-4
    eta_drops: list = field(default_factory=lambda: [20, 40])
    burn_in_s: float = 20.0
    block_s: float = 20.0
    blocks: int = 50
    seed: int = 0
    device: str = "cpp_standalone"
    threads: int = 1


def network_of(cfg):
    from ..model.spiketrain import SuperSpikeNetwork

    rho = cfg.rho if cfg.rho >= 0 else (1.0 if cfg.feedback == "random" else 0.0)
    return SuperSpikeNetwork(n_in=cfg.n_in, n_hidden=cfg.n_hidden, n_out=cfg.n_out, dt=cfg.dt * 1e-3,
                             feedback=cfg.feedback, rho=rho)


def check_config(cfg):
    """Raise ValueError, naming the setting, before anything is built."""
    from ..engines.spiketrain import DEVICES

    check_positive_integers(cfg, ("columns", "n_in", "n_out", "blocks", "threads"))
    if isinstance(cfg.seed, bool) or not isinstance(cfg.seed, int) or cfg.seed < 0:
        raise ValueError(f"seed must be an integer >= 0, got {cfg.seed!r}")
    for key in ("eta", "block_s", "column_ms", "input_rate", "w0", "dt"):
        value = getattr(cfg, key)
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not np.isfinite(value) or value <= 0:
            raise ValueError(f"{key} must be a positive number, got {value!r}")
    for key in ("burn_in_s", "jitter_ms"):
        value = getattr(cfg, key)
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not np.isfinite(value) or value < 0:
            raise ValueError(f"{key} must be a number >= 0, got {value!r}")
    if cfg.jitter_ms > cfg.column_ms:
        raise ValueError(f"jitter_ms ({cfg.jitter_ms:g}) must not exceed column_ms ({cfg.column_ms:g})")
    if not isinstance(cfg.eta_drops, (list, tuple)) or any(
            isinstance(b, bool) or not isinstance(b, int) or b < 1 for b in cfg.eta_drops):
        raise ValueError(f"eta_drops must be a list of block numbers >= 1, got {cfg.eta_drops!r}")
    if not isinstance(cfg.text, str) or not cfg.text.strip():
        raise ValueError("text must be a non-empty string (the picture the outputs learn)")
    if not isinstance(cfg.picture, str) or (cfg.picture and not os.path.isfile(cfg.picture)):
        raise ValueError(f"picture {cfg.picture!r} is not a file (an image matplotlib reads, e.g. a PNG)")
    if cfg.device not in DEVICES:
        raise ValueError(f"unknown device {cfg.device!r} (choose from {', '.join(DEVICES)})")
    if not isinstance(cfg.learn_hidden, bool):
        raise ValueError(f"learn_hidden must be true or false, got {cfg.learn_hidden!r}")
    net = network_of(cfg)  # the network's own checks, naming the setting
    for key in ("block_s", "burn_in_s"):
        steps = getattr(cfg, key) / net.dt
        if abs(steps - round(steps)) > 1e-6 or round(steps) % net.update_every:
            raise ValueError(f"{key} ({getattr(cfg, key):g} s) must be a whole number of update intervals "
                             f"({net.update_interval:g} s)")
    steps = cfg.column_ms / cfg.dt
    if abs(steps - round(steps)) > 1e-6:
        raise ValueError(f"column_ms ({cfg.column_ms:g}) must be a whole number of steps of dt ({cfg.dt:g} ms)")
    return net


class Rasters:
    """The task's frozen input and target on the simulation's grid."""

    def __init__(self, cfg, net):
        from ..data.rasters import picture_from_file, picture_raster, poisson_raster, text_picture, to_grid

        if cfg.picture:
            self.picture = picture_from_file(cfg.picture, rows=cfg.n_out, columns=cfg.columns)
            name = os.path.basename(cfg.picture)
        else:
            self.picture = text_picture(cfg.text, rows=cfg.n_out, columns=cfg.columns)
            name = f"'{cfg.text}'"
        idx, times, self.duration = picture_raster(self.picture, cfg.column_ms * 1e-3, cfg.jitter_ms * 1e-3,
                                                   seed=cfg.seed)
        self.target, _ = to_grid(idx, times, cfg.n_out, self.duration, net.dt)
        i_in, t_in = poisson_raster(cfg.n_in, cfg.input_rate, self.duration, seed=cfg.seed + 1)
        self.stim, _ = to_grid(i_in, t_in, cfg.n_in, self.duration, net.dt)
        self.steps = self.stim.shape[0]
        self.description = (f"{name} as {cfg.n_out} x {cfg.columns} pixels, {self.duration:g} s looping, "
                            f"{int(self.target.sum())} target spikes ({self.target.sum() / cfg.n_out / self.duration:.1f} Hz)"
                            f"; {cfg.n_in} frozen Poisson inputs at {cfg.input_rate:g} Hz")

    def silent_distance(self, net):
        """The van Rossum distance of a silent output (the target's own
        error, the loop's steady state): the scale of `distance`."""
        from ..reference.spiketrain import distance

        c = net.constants
        a = np.zeros(net.n_out)
        e = np.zeros(net.n_out)
        D = np.zeros(net.n_out)
        for loop in range(2):
            for row in self.target:
                a += c["c_r"] * (row - a)
                e += c["c_d"] * (a - e)
                if loop:
                    D += e * e * net.dt
        return distance(net, D, self.duration)


def eta_of(cfg, block):
    """The step in ``block`` (from 1): ``eta`` divided by 10 after each
    block of ``eta_drops`` (Auryn's ``blk % 20 == 0`` with ``blk`` from 0:
    ``[20, 40]`` drops it after 400 s and 800 s of 20 s blocks)."""
    return cfg.eta * 0.1 ** sum(1 for b in cfg.eta_drops if block > b)


def last_presentation(record, n_end, steps):
    """The output's spikes of the last whole loop of the raster (``steps``
    steps from a multiple of ``steps``) before global step ``n_end``:
    (step in the loop, neuron) pairs."""
    start = (n_end // steps - 1) * steps
    s = record["spike_steps"]
    keep = (s >= start) & (s < start + steps)
    return np.stack([s[keep] - start, record["spike_idx"][keep]], axis=1)


def train_superspike(cfg, out, force=False, resume=False, log=print):
    """Train and write the output folder; returns the rows of metrics.csv."""
    from ..engines.spiketrain import make_runner
    from ..reference.spiketrain import distance, zero_state

    net = check_config(cfg)
    if resume:
        if not os.path.exists(os.path.join(out, "checkpoint.npz")):
            raise ValueError(f"--resume: {out} holds no checkpoint (checkpoint.npz)")
        check_same_settings(out, asdict(cfg), RESUMABLE)
    else:
        prepare_out_dir(out, force=force)
    task = Rasters(cfg, net)
    silent = task.silent_distance(net)
    block_steps = int(round(cfg.block_s / net.dt))
    burn_steps = int(round(cfg.burn_in_s / net.dt))
    if resume:
        params, state, start, n0, rows, rasters = _read_checkpoint(out, net)
        log(f"resuming after block {start} from {out}/checkpoint.npz")
    else:
        params, state, start, n0, rows = net.initial_params(cfg.seed, w0=cfg.w0), zero_state(net), 0, 0, []
        rasters = {"target": task.target, "picture": task.picture}
        os.makedirs(out, exist_ok=True)
        write_json(os.path.join(out, "config.json"), {**asdict(cfg), "versions": versions(), "commit": git_commit(),
                                                      "task_description": task.description,
                                                      "silent_distance": silent})
    log(f"SuperSpike, {net.feedback} feedback: {net.n_in}-{net.n_hidden}-{net.n_out} LIF, dt {net.dt * 1e3:g} ms; "
        f"task {task.description}; silent-output distance {silent:.2f}")
    from .. import interrupt

    # a signal ends a block's run; the blocks saved before it stay
    stops = interrupt.active().counting("block", start if resume else None)
    runners = {}

    def run(n_steps, eta, learn):
        if n_steps not in runners:
            runners[n_steps] = make_runner(cfg.device, net, task.steps, n_steps, threads=cfg.threads)
        return runners[n_steps].run(params, state, task.stim, task.target, n0, eta, learn)

    t0 = time.time()
    try:
        if start == 0 and burn_steps and n0 == 0:
            stops.at("during the burn-in", defer=True)
            params, state, rec = run(burn_steps, 0.0, False)
            n0 += burn_steps
            rasters["burn_in"] = last_presentation(rec, n0, task.steps)
            d = distance(net, rec["D"], cfg.burn_in_s)
            log(f"burn-in {cfg.burn_in_s:g} s: distance {d:.2f} ({d / silent:.2f} of silent), "
                f"output {rec['count_o'].mean() / cfg.burn_in_s:.1f} Hz")
        for block in range(start + 1, cfg.blocks + 1):
            stops.at(f"during block {block}", defer=True)
            eta = eta_of(cfg, block)
            params, state, rec = run(block_steps, eta, True if cfg.learn_hidden else ("W2",))
            n0 += block_steps
            d = distance(net, rec["D"], cfg.block_s)
            if not np.isfinite(d):
                raise FloatingPointError(f"block {block}: the distance is {d}; the last checkpoint is "
                                         f"{out}/checkpoint.npz")
            row = {"iteration": block, "trained_s": block * cfg.block_s, "distance": d,
                   "rate_hidden_hz": float(rec["count_h"].mean() / cfg.block_s) if net.n_hidden else float("nan"),
                   "rate_out_hz": float(rec["count_o"].mean() / cfg.block_s), "eta": eta,
                   "seconds": time.time() - t0}
            rows.append(row)
            rasters[f"block_{block}"] = last_presentation(rec, n0, task.steps)
            write_metrics(out, rows, COLUMNS, digits=8)
            _write_checkpoint(out, params, state, block, n0, rasters)
            stops.saved(block, f"while block {block} was saved")
            log(f"block {block}: {block * cfg.block_s:g} s trained, distance {d:.3f} ({d / silent:.3f} of silent), "
                + (f"hidden {row['rate_hidden_hz']:.1f} Hz, " if net.n_hidden else "")
                + f"output {row['rate_out_hz']:.1f} Hz, eta {eta:g}, {row['seconds']:.0f} s")
        stops.at("while the figures were drawn", defer=True)
        _figures(out, cfg, task, rows, rasters, silent)
    finally:
        for r in runners.values():
            r.close()
    return rows


def _write_checkpoint(out, params, state, block, n0, rasters):
    arrays = dict(params)
    for group, values in state.items():
        for k, v in values.items():
            arrays[f"state__{group}__{k}"] = v
    write_npz(os.path.join(out, "checkpoint.npz"), block=block, n0=n0, **arrays)
    write_npz(os.path.join(out, "rasters.npz"), **rasters)


def _read_checkpoint(out, net):
    from ..reference.spiketrain import zero_state

    with np.load(os.path.join(out, "checkpoint.npz")) as z:
        params = net.check_params({k: z[k] for k in net.shapes if k in z.files})
        state = zero_state(net)
        for group, values in state.items():
            for k in values:
                values[k] = np.array(z[f"state__{group}__{k}"])
        block, n0 = int(z["block"]), int(z["n0"])
    with np.load(os.path.join(out, "rasters.npz")) as z:
        rasters = {k: np.array(z[k]) for k in z.files}
    return params, state, block, n0, read_metrics(out, block, COLUMNS), rasters


def _figures(out, cfg, task, rows, rasters, silent):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5.5, 3.4))
    ax.plot([r["trained_s"] for r in rows], [r["distance"] / silent for r in rows], "C0.-", lw=1)
    ax.set_xlabel("training time (s)")
    ax.set_ylabel("van Rossum distance / silent output's")
    ax.set_ylim(bottom=0)
    ax.set_title(f"SuperSpike, {cfg.feedback} feedback, {cfg.n_hidden} hidden", fontsize=9)
    fig.tight_layout()
    fig.savefig(os.path.join(out, "distance.png"), dpi=110)
    plt.close(fig)

    panels = [("target", None)]
    if "burn_in" in rasters:
        panels.append(("before learning", rasters["burn_in"]))
    if rows:
        panels.append((f"after {rows[-1]['trained_s']:g} s", rasters[f"block_{rows[-1]['iteration']}"]))
    fig, axes = plt.subplots(1, len(panels), figsize=(3.2 * len(panels), 3.6), sharey=True)
    steps, idx = np.nonzero(task.target)
    for ax, (title, spikes) in zip(np.atleast_1d(axes), panels):
        s, i = (steps, idx) if spikes is None else (spikes[:, 0], spikes[:, 1])
        ax.plot(s * cfg.dt * 1e-3, i, "k.", ms=0.8)
        ax.set_title(title, fontsize=9)
        ax.set_xlabel("time (s)")
        ax.set_xlim(0, task.duration)
        ax.set_ylim(cfg.n_out, -1)
    np.atleast_1d(axes)[0].set_ylabel("output neuron")
    fig.tight_layout()
    fig.savefig(os.path.join(out, "raster.png"), dpi=110)
    plt.close(fig)


def read_model(path):
    """A `SuperSpikeConfig` from a TOML model file's ``[superspike]``
    section (times in ms, durations in s); an unknown key is an error that
    names it."""
    import tomllib

    with open(path, "rb") as f:
        data = tomllib.load(f)
    unknown = sorted(set(data) - {"superspike"})
    if unknown:
        raise ValueError(f"{path}: unknown section [{unknown[0]}] (a SuperSpike model file has [superspike])")
    section = data.get("superspike", {})
    names = {f.name for f in fields(SuperSpikeConfig)}
    for key in section:
        if key not in names:
            raise ValueError(f"{path}: unknown setting '{key}' in [superspike] (settings: {', '.join(sorted(names))})")
    return SuperSpikeConfig(**section)


__all__ = ["COLUMNS", "SuperSpikeConfig", "check_config", "read_model", "train_superspike"]
