"""The training loop: epochs, evaluation and metrics.

One epoch is one run of the compiled program: the training samples in a
fresh random order with learning on, then every test sample with learning
off (the learning gate is a TimedArray).  Training accuracy is measured
online, while the network learns; test accuracy with frozen weights on
held-out data.  After each epoch the weights are checked for divergence and
written, with the metrics so far, atomically.
"""

import json
import os
import time
from dataclasses import asdict

import numpy as np

from .. import data as datamod
from ..data import augment
from .. import health
from .. import interrupt
from ..devices import check_runnable, is_built, make_runner, preflight, resolve_threads
from ..files import write_json
from ..build import pathways
from ..metrics import (ANGLE_PREFIX, COLLAPSE_COLUMN, feedback_angles, layer_columns, read_metrics, relative_change,
                       write_metrics)
from ..progress import Bar
from ..randomness import mix_seed
from .checkpoints import git_commit, prepare_out_dir, read_optimizer_state, read_weights, versions, write_weights
from .config import TrainConfig
from .records import record_epoch


class TrainingError(RuntimeError):
    """Training stopped (divergence); what was saved before stays."""


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


def shift_seed(seed, epoch):
    """The seed of an epoch's random shifts of the training samples (`data.augment`)."""
    return mix_seed(seed, epoch, 3)


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

    ``progress``: True, a bar per epoch on standard output (from the
    program's reports; `brianrules.progress`); "text", Brian2's own
    progress lines; False, neither.
    """
    cfg.validate()
    check_runnable(cfg.device, cuda_arch)
    prepare_out_dir(out, force=force, resume=resume)
    dataset = datamod.load(cfg.dataset)
    augment.check_shift(cfg.shift_px, dataset)
    n_out = dataset.n_classes  # one output neuron per class
    labels_max = int(max(dataset.y_train.max(), dataset.y_test.max()))
    if labels_max >= n_out:
        raise ValueError(f"dataset {cfg.dataset} has label {labels_max} but only {n_out} output neurons")
    spec = cfg.network_spec(dataset.n_inputs, n_out)
    n_samples = len(dataset.y_train) + len(dataset.y_test)
    threads = resolve_threads(cfg.threads, spec, cfg.device)
    # before anything is compiled or written: a rule trained by its gradient runs no Brian2 program, and
    # its engine checks the network; else Brian2 checks every equation, unless the finished program of
    # this very structure is in the cache
    if spec.rule.gradient:
        from ..engines.bptt import check_trainable, require_jax

        require_jax()
        check_trainable(spec)
    elif not (cfg.device == "cpp_standalone" and build_dir is None and is_built(spec, n_samples, threads)):
        preflight(spec)
    start_weights = None if cfg.weights_from is None or resume else _weights_from(cfg, spec)

    os.makedirs(out, exist_ok=True)
    rows, start = [], 0
    if resume:
        # settings added after the checkpoint was written take their defaults
        saved = {**asdict(TrainConfig()), **json.load(open(os.path.join(out, "config.json")))["train"]}
        old = TrainConfig.from_dict(saved, source="config.json").resolved()
        if old != cfg.resolved() | {"epochs": old["epochs"]}:
            raise ValueError("--resume: the settings differ from those in config.json (only --epochs may change)")
        weights, feedback, start = read_weights(os.path.join(out, "weights.npz"))
        optimizer_state = read_optimizer_state(os.path.join(out, "weights.npz"), spec.rule.optimizer.state,
                                               sum(p.plastic for p in spec.projections))
        rows = [r for r in read_metrics(os.path.join(out, "metrics.csv")) if r["epoch"] <= start]
        log(f"resuming {out} after epoch {start}")
    else:
        rng = np.random.default_rng(mix_seed(cfg.seed, 0, 0))
        from ..network import initial_weights

        # the input layer's mean rate (the fluctuation-driven initialisation)
        weights, feedback = initial_weights(spec, rng, input_rate=spec.max_rate * float(np.mean(dataset.x_train)))
        if start_weights is not None:  # the feedback matrices are drawn as always, the weights are the graph's
            weights = start_weights
        optimizer_state = None  # zeros: a fresh start

    n_train, n_test = len(dataset.y_train), len(dataset.y_test)
    meta = {"train": asdict(cfg), "network": spec.to_dict(), "versions": versions(),
            "git_commit": git_commit(), "n_train": n_train, "n_test": n_test}
    stops = interrupt.active()
    stops.at("while the output folder was prepared", defer=True)
    write_json(os.path.join(out, "config.json"), meta)
    if not resume:  # epoch 0: an interruption before epoch 1 is saved can be resumed
        write_metrics(os.path.join(out, "metrics.csv"), rows)
        write_weights(os.path.join(out, "weights.npz"), weights, feedback, 0)
        record_epoch(out, 0, weights)
    stops.saved(start, "while the output folder was prepared")
    stops.at("while the program was built", defer=False)

    taken = cfg.deep_settings_taken()
    log(f"{cfg.rule} ({spec.rule.post_label}) on {cfg.dataset}: {'-'.join(map(str, spec.sizes))} {_neuron_names(spec)} network, "
        f"{n_train} train / {n_test} test samples"
        + (f" ({augment.describe(cfg.shift_px)})" if cfg.shift_px else "")
        + f", device {'jax' if spec.rule.gradient else cfg.device}"
        + (f" ({threads} threads)" if threads > 1 and not spec.rule.gradient else "")
        + ("" if spec.rule.gradient else f", {spec.rule.timing}-driven updates")
        + (f", {cfg.dtype}" if cfg.dtype != "float64" else "")
        + (f", noise {spec.noise:g} into the hidden neurons" if spec.noisy else "")
        + (f", batches of {spec.batch} (the mean update of each batch applied at its end)" if spec.batch > 1 else "")
        + (f"; {taken}" if taken else ""))
    t0 = time.perf_counter()
    runner = make_runner(cfg.device, spec, n_samples, threads=threads, log=log,
                         progress=progress, build_dir=build_dir, cuda_arch=cuda_arch, batch_size=cfg.batch_size)
    try:
        if runner.device not in ("runtime", "jax"):
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
            stim, tgt, learn, labels = datamod.epoch_arrays(dataset, order, n_out, cfg.shift_px,
                                                            shift_seed(cfg.seed, epoch))
            bar = Bar(n_samples, "samples", f"epoch {epoch}") if progress is True else None
            try:
                result = runner.run(weights, feedback, stim, tgt, learn, mix_seed(cfg.seed, epoch, 2),
                                    lr_scale=cfg.lr_scale * cfg.lr_decay ** (epoch - 1),
                                    **({"on_progress": lambda f: bar.update(f * n_samples)} if bar else {}),
                                    **({"optimizer_state": optimizer_state} if optimizer_state else {}))
            finally:
                if bar is not None:
                    bar.close()
            _check_weights(result.weights, epoch, cfg.w_bound)
            dw_rel = relative_change(weights, result.weights)
            weights = result.weights
            if result.feedback is not None:  # learned feedback matrices (kp): the next epoch starts from them
                feedback = result.feedback
            if spec.rule.optimizer.state:
                optimizer_state = result.optimizer_state
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
            row.update(result.diagnostics or {})
            pathway = pathways.get(spec.rule.feedback)
            if pathway.stands_for_forward:  # angle(B_k, W_(k+1)^T) per hidden layer
                row.update({f"{ANGLE_PREFIX}{k + 1}": a for k, a in
                            enumerate(feedback_angles(weights, pathway.feedback_weights(feedback)))})
            diagnosis = health.diagnose(counts[n_train:], row["test_acc"], result.hidden_rates, n_out,
                                        [float(spec.neuron_of(f"hidden_{k + 1}").t_ref)
                                         for k in range(len(spec.hidden))], float(spec.dt))
            row["silent_frac"] = diagnosis.silent_frac
            row[COLLAPSE_COLUMN] = diagnosis.column
            row["wall_s"] = time.perf_counter() - te
            rows.append(row)
            # metrics first: a process killed between the two resumes from the epoch before
            write_metrics(os.path.join(out, "metrics.csv"), rows)
            write_weights(os.path.join(out, "weights.npz"), weights, feedback, epoch, optimizer_state)
            record_epoch(out, epoch, weights, counts[n_train:], labels[n_train:])
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
    from ..plots import learning_curve

    learning_curve(rows, os.path.join(out, "learning_curve.png"),
                   title=f"{cfg.rule} ({spec.rule.post_label}), {cfg.dataset}, hidden {cfg.hidden}, seed {cfg.seed}")
    if rows and rows[-1].get(COLLAPSE_COLUMN):
        log(f"warning: the network collapsed in the last epoch ({rows[-1][COLLAPSE_COLUMN]}): its test accuracy "
            f"{rows[-1]['test_acc']:.3f} is not a result of the rule")
    log(f"results in {out}: config.json metrics.csv weights.npz learning_curve.png "
        f"(figures of the network: brianrules plot {out})")
    return rows


def _weights_from(cfg, spec):
    """The forward weights of the NIR graph ``cfg.weights_from``, checked
    against the network (sizes of the data set and of every projection)."""
    from ..io.nir_graph import read

    graph = read(cfg.weights_from, dt_s=cfg.dt_ms * 1e-3)
    where = f"weights_from {cfg.weights_from}"
    if (graph.n_in, graph.n_out) != (spec.n_in, spec.n_out):
        raise ValueError(f"{where}: the graph has {graph.n_in} inputs and {graph.n_out} outputs; data set "
                         f"{cfg.dataset} has {spec.n_in} inputs and {spec.n_out} classes")
    shapes = [W.shape for W in graph.weights]
    if shapes != list(spec.projection_shapes):
        raise ValueError(f"{where}: its projections have shapes {shapes}, the network's {list(spec.projection_shapes)}")
    return graph.weights


def _check_weights(weights, epoch, bound):
    for k, W in enumerate(weights):
        if not np.all(np.isfinite(W)):
            raise TrainingError(f"epoch {epoch}: weights of projection {k + 1} became NaN or infinite; "
                                f"kept the checkpoint of epoch {epoch - 1}")
        big = float(np.abs(W).max())
        if big > bound:
            raise TrainingError(f"epoch {epoch}: weights of projection {k + 1} diverged (max |w| = {big:.3g} "
                                f"> bound {bound}); kept the checkpoint of epoch {epoch - 1}")


def _neuron_names(spec):
    """The neuron of the run's header: the model's, and those of single populations."""
    own = ", ".join(f"{name} {n.name}" for name, n in spec.neurons.items())
    return spec.neuron.name + (f" ({own})" if own else "")
