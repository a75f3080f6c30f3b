"""The ``brianrules`` command line."""

import argparse
import os
import signal
import sys
import time

from . import __version__
from .interrupt import Interrupted, quiet_leftovers, stop_on_signals

EXIT_USAGE = 2


class _Parser(argparse.ArgumentParser):
    def error(self, message):  # one line, exit status 2
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message}\n")


def threads_value(text):
    """--threads: a number (checked with the other settings) or auto."""
    try:
        return int(text)
    except ValueError:
        return text


#: train options: flag -> (TrainConfig field, type, help)
TRAIN_OPTIONS = {
    "--rule": ("rule", str, "learning rule (see `brianrules rules`)"),
    "--post": ("post", str, "postsynaptic factor of hidden layers: surrogate, none or activity"),
    "--post-output": ("post_output", str, "postsynaptic factor of the output layer"),
    "--post-expr": ("post_expr", str, "postsynaptic factor of hidden layers as a Brian2 expression of "
                    "the postsynaptic neuron's variables with the suffix _post (replaces --post)"),
    # a rule written out as its factors (--rule three_factor; a preset takes the postsynaptic ones)
    "--learning-signal": ("learning_signal", str, "the pathway that writes the learning signal L_j of a rule "
                          "written as its factors (--rule three_factor): direct, layerwise, symmetric, signsym, kp, "
                          "encoders, erbp"),
    "--post-factor": ("post_factor", str, "postsynaptic factor phi_j of hidden layers as a Brian2 expression, "
                      "e.g. psi_post, 1, x_post"),
    "--post-factor-output": ("post_factor_output", str, "postsynaptic factor of the output layer as an "
                             "expression: psi_post, 1, x_post or boxcar_post"),
    "--per-presynaptic": ("per_presynaptic", bool, "divide each projection's learning rate by its number of "
                          "presynaptic neurons (PES)"),
    "--dataset": ("dataset", str, "dataset name"),
    "--shift": ("shift_px", int, "move every training sample by random whole pixels, -K to K along each axis, "
                "anew every epoch (zeros move in; the test samples stay as they are); image data sets"),
    "--epochs": ("epochs", int, "number of epochs"),
    "--hidden": ("hidden", int, "hidden layer sizes"),
    "--device": ("device", str, "runtime or cpp_standalone"),
    "--threads": ("threads", threads_value,
                  "OpenMP threads of the cpp_standalone program, or auto: 1, and 2 from 50,000 synapses "
                  "for clock-driven rules (event-driven updates: 1 at every size); on small networks a second "
                  "thread slows every step"),
    "--seed": ("seed", int, "seed of weights, feedback matrices, sample order and input spikes"),
    "--lr": ("lr", float, "learning rate of the output layer (1/s)"),
    "--lr-hidden": ("lr_hidden", float, "learning rate of hidden layers (1/s)"),
    "--lr-decay": ("lr_decay", float, "learning rates are multiplied by this factor after every epoch"),
    "--lr-scale": ("lr_scale", float, "multiplies both learning rates (the rule's defaults or --lr, --lr-hidden)"),
    "--optimizer": ("optimizer", str, "how accumulated updates reach the weights: sgd (added), rmsmax "
                    "(SuperSpike's per-synapse normaliser), rmsprop or adam; with the last three --lr and "
                    "--lr-hidden are the step sizes (default 1e-3); default: the rule's own, sgd (adam for bptt)"),
    "--batch-size": ("batch_size", int, "bptt: samples per gradient step (default 32)"),
    "--batch": ("batch", int, "the local rules: samples presented at once, as copies of the network that share "
                "their weights; their updates are averaged and applied together (minibatch; default 1, online)"),
    "--opt-beta1": ("opt_beta1", float, "adam's decay of the first moment (default 0.9)"),
    "--opt-beta2": ("opt_beta2", float, "adam's decay of the second moment (default 0.999)"),
    "--opt-rho": ("opt_rho", float, "rmsprop's decay of the mean square (default 0.9)"),
    "--opt-gamma": ("opt_gamma", float, "rmsmax's decay of the running maximum per application (default 0.99)"),
    "--opt-eps": ("opt_eps", float, "the normalising optimizers' epsilon (default 1e-8)"),
    "--w-clip": ("w_clip", float, "bound every weight to [-W, W] after each application (default: no bound)"),
    "--feedback-scale": ("feedback_scale", str, "scale of the random feedback matrices: fan_in, N(0, 1/n_from), "
                         "or launay, N(0, 1/(n_from n_to)) (Launay et al. 2019)"),
    "--fb-scale": ("fb_scale", float, "signsym: the feedback is fb_scale * sign(W^T); mirror: B's root mean "
                   "square at the start of each run (default: the std of the initial weights, w_init / sqrt(n_pre) "
                   "for the fan-in start)"),
    "--kp-decay": ("kp_decay", float, "kp: W and B shrink by this fraction at each application (default 0)"),
    "--target-step": ("target_step", float, "dtp: the output's target is h - target_step * dLoss/dh (default 0.1)"),
    "--lr-feedback": ("lr_feedback", float, "dtp: learning rate of the learned inverses (1/s, default 0.5; with drl 100, "
                      "divided by the noise's variance); "
                      "mirror: B's change per spike of the upper neuron per unit of noise record (default 0.003)"),
    "--noise": ("noise", float, "noise into every hidden neuron: each step a random input of this standard "
                "deviation in weight units (threshold distances), through its input port (default: 0; mirror 0.5)"),
    "--tau-noise": ("tau_noise_ms", float, "time constant of a neuron's record of its noise, ms (default 20)"),
    "--reconstruction": ("reconstruction", str, "dtp: how the inverses learn: dtp (Lee et al.'s reconstruction of "
                         "the layer below) or drl (Meulemans et al.'s difference reconstruction of a noisy twin of "
                         "the network; about twice the time a sample)"),
    "--drl-noise": ("drl_noise", float, "dtp with drl: the twin's noise, the std of each step's random input in "
                    "weight units, in one hidden layer at a time (default 1)"),
    "--feedback-fn": ("feedback_fn", str, "dtp: the inverses' nonlinearity, a Brian2 expression of u "
                      "(default log(1 + exp(u)), the softplus)"),
    "--rate-reg": ("rate_reg", float, "firing-rate regulariser of the hidden layers (e-prop's c_reg): their "
                   "learning signal gains rate_reg (r_j - target) / (f_high - f_low)"),
    "--lr-layer-scale": ("lr_layer_scale", float, "a factor of each plastic projection's learning rate (or "
                         "optimizer step), one per projection, input first"),
    "--zero-mean-error": ("zero_mean_error", bool, "subtract from what the output sends down (err, or delta for "
                          "layer-wise feedback) its mean over the outputs, in every step"),
    "--init": ("init", str, "how the forward weights start: fan_in (w_init, w_init_mean) or fluctuation "
               "(every layer fluctuation-driven, Rossbroich et al. 2022)"),
    "--init-mu-u": ("init_mu_u", float, "fluctuation init: mean free membrane potential, in threshold distances "
                    "from rest"),
    "--init-sigma-u": ("init_sigma_u", float, "fluctuation init: its standard deviation, in threshold distances"),
    "--init-rate": ("init_rate_hz", float, "fluctuation init: the rate assumed for hidden layers (Hz)"),
    "--alignment": ("alignment", bool, "record, per epoch, the cosine of each hidden projection's update with "
                    "the one backprop-like feedback would make from the same error, factors and traces (two "
                    "more integrations per synapse and step; clock-driven rules on the stack)"),
    "--rate-target": ("rate_target_hz", float, "the regulariser's target rate, Hz"),
    "--tau-rate": ("tau_rate_ms", float, "time constant of the regulariser's rate estimate, ms (default 1000)"),
    "--apply-every": ("apply_every", int, "apply accumulated updates every K time steps "
                      "(default: at the end of each sample)"),
    "--timing": ("timing", str, "clock (every synapse integrates its update every time step) or event "
                 "(a trace rule's exact regrouping: a synapse is touched on its presynaptic spikes and when "
                 "updates are applied; the same weights to rounding); default: event where the rule and the "
                 "network have that form, else the rule's own"),
    "--eligibility": ("eligibility", str, "the presynaptic factor: trace (x_i), or a per-synapse trace of "
                      "phi_j x_i through a low-pass filter: lowpass (e-prop) or alpha (two stages, SuperSpike); "
                      "with --rule three_factor a Brian2 expression such as x_pre; default: the rule's own"),
    "--eligibility-filter": ("eligibility_filter_ms", float, "a per-synapse trace of phi_j x_i through a cascade "
                             "of unit-area low-pass stages: the time constant of each stage, input first, ms "
                             "(e.g. 5 10, SuperSpike's alpha); default: the rule's own"),
    "--tau-elig": ("tau_elig_ms", float, "time constant of the eligibility filter (its last stage), ms; "
                   "default: the rule's own"),
    "--tau-elig-rise": ("tau_elig_rise_ms", float, "rise time constant of the alpha eligibility, ms; "
                        "default: the rule's own"),
    "--surrogate": ("surrogate", str, "surrogate derivative"),
    "--sg-width": ("sg_width", float, "surrogate width (scaled distance to threshold)"),
    "--sg-height": ("sg_height", float, "surrogate height"),
    "--dt": ("dt_ms", float, "time step (ms)"),
    "--t-sample": ("t_sample_ms", float, "presentation time per sample (ms)"),
    "--max-rate": ("max_rate_hz", float, "input rate at full intensity (Hz)"),
    "--tau-m": ("tau_m_ms", float, "membrane time constant (ms)"),
    "--tau-syn": ("tau_syn_ms", float, "synaptic time constant (ms)"),
    "--tau-trace": ("tau_trace_ms", float, "spike trace time constant (ms)"),
    "--tau-err": ("tau_err_ms", float, "output rate filter (ms)"),
    "--f-high": ("f_high_hz", float, "target rate of the labelled output (Hz)"),
    "--f-low": ("f_low_hz", float, "target rate of the other outputs (Hz)"),
    "--w-bound": ("w_bound", float, "stop when any |w| exceeds this (in units of v_th - v_reset)"),
    "--dtype": ("dtype", str, "floating-point type of the simulation's state variables, weights and "
                "parameters: float64 or float32 (a program of its own)"),
}


def _on(value):
    """A default for --help: a flag's as on/off, any other as it is."""
    return ("on" if value else "off") if isinstance(value, bool) else value


def _train_parser(sub):
    from .training import TrainConfig

    d = TrainConfig()
    p = sub.add_parser("train", help="train a network and write metrics, weights and a learning curve")
    p.add_argument("--model", metavar="FILE.toml",
                   help="a model spec (see models/), or a NIR graph (FILE.nir) of the network to train, "
                   "starting from its weights; options given on the command line override it")
    from .training.deep import DEEP, SHALLOW

    for flag, (name, typ, text) in TRAIN_OPTIONS.items():
        if name in SHALLOW:  # the depth's own (`training.deep`)
            p.add_argument(flag, dest=name, type=typ, default=argparse.SUPPRESS,
                           **({"action": argparse.BooleanOptionalAction} if typ is bool else {}),
                           help=f"{text} (default: {_on(SHALLOW[name])} with one hidden layer, {_on(DEEP[name])} "
                           "with two or more, where the rule and the engine take it)")
            continue
        if typ is bool:  # a flag
            p.add_argument(flag, dest=name, action=argparse.BooleanOptionalAction, default=argparse.SUPPRESS,
                           help=f"{text} (default: {'the rule' + chr(39) + 's own' if getattr(d, name) is None else 'off'})")
            continue
        extra = ({"nargs": "+"} if name == "hidden" else
                 {"nargs": "+", "metavar": "MS"} if name == "eligibility_filter_ms" else
                 {"nargs": "+", "metavar": "S"} if name == "lr_layer_scale" else {})
        p.add_argument(flag, dest=name, type=typ, default=argparse.SUPPRESS,
                       help=f"{text} (default: {getattr(d, name)})", **extra)
    p.add_argument("--neuron", metavar="FILE.toml", default=argparse.SUPPRESS,
                   help="the neuron, a neuron file (see models/neurons/; default: the built-in LIF)")
    p.add_argument("--neuron-param", metavar="NAME=VALUE", action="append", default=argparse.SUPPRESS,
                   help="a value of one of the neuron's parameters, with its unit, e.g. tau_a=200*ms (repeatable)")
    p.add_argument("--cuda-arch", default=None, metavar="CC",
                   help="cuda_standalone: GPU compute capability to compile for, e.g. 9.0 or sm_90 "
                   "(default: the GPU found by nvidia-smi, else 9.0)")
    p.add_argument("--out", default=None, help="output folder (default: runs/RULE-DATASET-TIME)")
    p.add_argument("--force", action="store_true", help="overwrite an output folder that holds results")
    p.add_argument("--resume", action="store_true", help="continue the training saved in --out")
    p.add_argument("--quiet", action="store_true", help="no progress bar: the epoch lines alone (for logs)")
    p.add_argument("--verbose", action="store_true", help="Brian2's own progress lines instead of the bar")
    return p


def _config_from_args(a):
    """Defaults, then the model file, then the options given."""
    from .training import NEURON_PREFIX, TrainConfig, load_model_file, neuron_settings, override

    settings = load_model_file(a.model) if a.model else {}
    given = {name: getattr(a, name) for name, _, _ in TRAIN_OPTIONS.values() if hasattr(a, name)}
    if hasattr(a, "neuron"):
        given.update(neuron_settings(a.neuron, "--neuron", here=os.getcwd()))
    for item in getattr(a, "neuron_param", []):
        name, sep, value = item.partition("=")
        if not sep or not name.strip() or not value.strip():
            raise ValueError(f"--neuron-param {item!r}: write NAME=VALUE with the value's unit, e.g. tau_a=200*ms")
        given[NEURON_PREFIX + name.strip()] = value.strip()
    settings = override(settings, given)
    return TrainConfig.from_dict(settings, source=a.model or "options")


@stop_on_signals()  # from the first import of Brian2 on: see `brianrules.interrupt`
def cmd_train(a):
    from .devices import check_runnable
    from .program import BuildError
    from .training import TrainingError, prepare_out_dir, train

    cfg = _config_from_args(a)
    cfg.validate()
    check_runnable(cfg.device, a.cuda_arch)  # before the output folder is touched
    out = a.out or os.path.join("runs", f"{cfg.rule}-{cfg.dataset}-{time.strftime('%Y%m%d-%H%M%S')}")
    prepare_out_dir(out, force=a.force, resume=a.resume)
    try:
        train(cfg, out, force=a.force, resume=a.resume, progress=False if a.quiet else "text" if a.verbose else True,
              log=lambda *x: print(*x, flush=True), cuda_arch=a.cuda_arch)
    except TrainingError as e:
        print(f"brianrules: training stopped: {e}", file=sys.stderr)
        return 1
    except BuildError as e:
        print(f"brianrules: error: {e}", file=sys.stderr)
        return 1
    return 0


def cmd_sweep(a):
    from .study import sweep

    try:
        rows = sweep(a.spec, a.out, jobs=a.jobs, executor=a.executor, scheduler=a.scheduler,
                     retry_failed=a.retry_failed, cuda_arch=a.cuda_arch, log=lambda *x: print(*x, flush=True),
                     bar=not a.quiet)
    except KeyboardInterrupt:
        return 130
    return 0 if rows else 1


def cmd_plot(a):
    if _is_run(a.dir):
        from .run_plots import plot_run

        paths = plot_run(a.dir, n_samples=a.samples, log=print)
    else:
        from .study import report

        paths = report(a.dir, metric=a.metric, heatmap=a.heatmap, curves=a.curves, stability=a.stability)
    for path in paths:
        print(f"wrote {path}")
    return 0


def _is_run(folder):
    """A training's folder (config.json and weights.npz), not a sweep's."""
    return all(os.path.isfile(os.path.join(folder, name)) for name in ("config.json", "weights.npz"))


def cmd_export(a):
    import warnings

    from .io.nir_graph import NIRExportWarning, require_nir, to_nir, write
    from .runs import load

    require_nir()  # before the run is read
    run = load(a.run)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", NIRExportWarning)
        graph = to_nir(run.network_spec(), run.weights, metadata={
            "rule": run.config.rule, "dataset": run.config.dataset, "epoch": int(run.epoch),
            "seed": int(run.config.seed), "test_acc": float(run.final_metrics["test_acc"]) if run.metrics else -1.0})
    write(a.nir, graph)
    for w in caught:
        if issubclass(w.category, NIRExportWarning):
            print(f"brianrules: warning: {w.message}", file=sys.stderr)
    kinds = sorted({type(v).__name__ for v in graph.nodes.values()} & {"CubaLIF", "LIF"})
    print(f"wrote {a.nir}: NIR graph of {len(graph.nodes)} nodes ({'-'.join(map(str, run.sizes))} "
          f"{'/'.join(kinds)} network, dt {graph.metadata['dt_s'] * 1e3:g} ms)")
    return 0


def _task_options(items, base, example, text):
    """``--task-option NAME=VALUE`` items over ``base``: numbers as int or
    float, other values as text where ``text`` is true, else an error."""
    options = dict(base)
    for item in items or []:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise ValueError(f"--task-option {item!r}: write NAME=VALUE, e.g. {example}")
        try:
            options[key] = int(value) if value.lstrip("-").isdigit() else float(value)
        except ValueError:
            if not text:
                raise ValueError(f"--task-option {item!r}: {value!r} is not a number") from None
            options[key] = value
    return options


@stop_on_signals()  # SIGINT and SIGTERM end an iteration; the saved iterations stay
def cmd_exact(a):
    from .engines.bptt import require_jax
    from .training.exact import ExactConfig, train_exact

    require_jax()
    options = _task_options(a.task_option, {}, "delay=0.2", text=False)
    cfg = ExactConfig(task=a.task, neurons=a.neurons, iterations=a.iterations, batch=a.batch, lr=a.lr,
                      dt=a.dt * 1e-3, seed=a.seed, gain=a.gain, self_connections=a.self_connections, clip=a.clip,
                      bias=tuple(a.bias), eval_every=a.eval_every, test_trials=a.test_trials, task_options=options, **({"neuron": a.neuron} if a.neuron else {}))
    rows = train_exact(cfg, a.out, force=a.force, resume=a.resume)
    last = rows[-1]
    print(f"wrote {a.out}: metrics.csv, params.npz, trial.png, loss.png (test loss {last['test_loss']:.4f}"
          + (f", test accuracy {last['test_acc']:.3f}" if last["test_acc"] == last["test_acc"] else "") + ")")
    return 0


def _exact_parser(sub):
    from .training.exact import ExactConfig

    d = ExactConfig()
    p = sub.add_parser("exact", help="train a gated (Huh & Sejnowski) recurrent network by the exact gradient "
                       "on a sequence task")
    p.add_argument("task", choices=("xor", "memory", "encoding"),
                   help="delayed-memory XOR, its memory alone, or the encoding task")
    p.add_argument("--out", required=True, help="the run's folder")
    p.add_argument("--neurons", type=int, default=d.neurons, help=f"recurrent neurons (default: {d.neurons})")
    p.add_argument("--iterations", type=int, default=d.iterations, help=f"batches (default: {d.iterations})")
    p.add_argument("--batch", type=int, default=d.batch, help=f"trials per batch (default: {d.batch})")
    p.add_argument("--lr", type=float, default=d.lr, help=f"Adam's step (default: {d.lr:g})")
    p.add_argument("--dt", type=float, default=d.dt * 1e3, help=f"time step in ms (default: {d.dt * 1e3:g})")
    p.add_argument("--seed", type=int, default=d.seed, help="initial weights and batches (default: 0)")
    p.add_argument("--gain", type=float, default=d.gain, help=f"recurrent weights' scale (default: {d.gain:g})")
    p.add_argument("--bias", type=float, nargs=2, default=list(d.bias), metavar=("LOW", "HIGH"),
                   help="the neurons' initial biases, uniform in [LOW, HIGH] (default: -0.2 0; below 0 a gated "
                   "neuron rests, above it fires)")
    p.add_argument("--clip", type=float, default=None, metavar="NORM",
                   help="scale each gradient down to this global norm where it is longer (default: no clipping)")
    p.add_argument("--self-connections", action="store_true", help="let W have a diagonal (a neuron onto itself)")
    p.add_argument("--eval-every", type=int, default=d.eval_every,
                   help=f"iterations between test evaluations and checkpoints (default: {d.eval_every})")
    p.add_argument("--test-trials", type=int, default=d.test_trials, help=f"(default: {d.test_trials})")
    p.add_argument("--neuron", default=None, metavar="FILE", help="a neuron file with an output port "
                   "(default: models/neurons/gated.toml)")
    p.add_argument("--task-option", action="append", metavar="NAME=VALUE",
                   help="a task generator's option in seconds or units, e.g. delay=0.2 (repeatable)")
    p.add_argument("--force", action="store_true", help="overwrite the folder's results")
    p.add_argument("--resume", action="store_true", help="continue from the folder's params.npz")


@stop_on_signals()  # SIGINT and SIGTERM end an iteration's run; the saved iterations stay
def cmd_eprop(a):
    import dataclasses

    from .training.temporal import EpropConfig, read_model, train_eprop

    cfg = read_model(a.model) if a.model else EpropConfig()
    changes = {key: getattr(a, key) for key in ("task", "iterations", "batch", "optimizer", "eta", "seed", "device",
                                                "gradient", "eta_decay", "eta_decay_every",
                                                "threads", "eval_every", "test_batches", "feedback", "n_lif",
                                                "n_alif")
               if getattr(a, key) is not None}
    if a.task_option:
        changes["task_options"] = _task_options(a.task_option, cfg.task_options, "path=shd_train.h5", text=True)
    cfg = dataclasses.replace(cfg, **changes)
    rows = train_eprop(cfg, a.out, force=a.force, resume=a.resume)
    last = rows[-1]
    print(f"wrote {a.out}: metrics.csv, params.npz, loss.png, trial.png (loss {last['loss']:.4f}"
          + (f", test error {last['test_error']:.3f}" if last["test_error"] == last["test_error"] else "") + ")")
    return 0


def _eprop_parser(sub):
    from .engines.eprop import DEVICES
    from .training.temporal import TASKS

    p = sub.add_parser("eprop", help="train a recurrent LIF/ALIF network with leaky readouts by e-prop on a "
                       "sequence task (Bellec et al. 2020, as NEST's e-prop models define it)")
    p.add_argument("model", nargs="?", default=None, metavar="MODEL.toml",
                   help="an e-prop model file ([eprop] settings, e.g. models/eprop_sine.toml); the options "
                   "below override it")
    p.add_argument("--out", required=True, help="the run's folder")
    p.add_argument("--task", choices=TASKS, default=None, help="the sequence task (default: sine)")
    p.add_argument("--iterations", type=int, default=None, help="batches, one update each")
    p.add_argument("--batch", type=int, default=None, help="sequences per update")
    p.add_argument("--optimizer", choices=("sgd", "adam"), default=None)
    p.add_argument("--eta", type=float, default=None, help="the optimizer's step")
    p.add_argument("--eta-decay", type=float, default=None, metavar="FACTOR",
                   help="multiply the step by FACTOR after every --eta-decay-every iterations")
    p.add_argument("--eta-decay-every", type=int, default=None, metavar="N", help="(0: never, the default)")
    p.add_argument("--feedback", choices=("random", "symmetric"), default=None,
                   help="the learning signal's weights: fixed random B, or the readout weights themselves")
    p.add_argument("--gradient", choices=("eprop", "bptt"), default=None,
                   help="e-prop (default), or the reference: the surrogate gradient by backpropagation through "
                   "time (JAX)")
    p.add_argument("--n-lif", type=int, default=None, help="LIF neurons in the recurrent population")
    p.add_argument("--n-alif", type=int, default=None, help="adaptive (ALIF) neurons in the recurrent population")
    p.add_argument("--seed", type=int, default=None, help="weights, input and batches")
    p.add_argument("--device", choices=DEVICES, default=None, help="cpp_standalone (default), runtime or the "
                   "NumPy reference")
    p.add_argument("--threads", type=int, default=None, help="OpenMP threads of the C++ program (default: 1)")
    p.add_argument("--eval-every", type=int, default=None, help="iterations between evaluations and checkpoints")
    p.add_argument("--test-batches", type=int, default=None, help="batches in the test set")
    p.add_argument("--task-option", action="append", metavar="NAME=VALUE",
                   help="a task's option, e.g. path=shd_train.h5 (repeatable)")
    p.add_argument("--force", action="store_true", help="overwrite the folder's results")
    p.add_argument("--resume", action="store_true", help="continue from the folder's params.npz")


@stop_on_signals()  # SIGINT and SIGTERM end a block's run; the saved blocks stay
def cmd_superspike(a):
    import dataclasses

    from .training.spiketrain import SuperSpikeConfig, read_model, train_superspike

    cfg = read_model(a.model) if a.model else SuperSpikeConfig()
    changes = {key: getattr(a, key) for key in ("text", "picture", "feedback", "n_hidden", "blocks", "block_s", "burn_in_s",
                                                "eta", "seed", "device", "threads", "dt")
               if getattr(a, key) is not None}
    if a.fixed_hidden:
        changes["learn_hidden"] = False
    cfg = dataclasses.replace(cfg, **changes)
    rows = train_superspike(cfg, a.out, force=a.force, resume=a.resume)
    last = rows[-1] if rows else None
    print(f"wrote {a.out}: metrics.csv, checkpoint.npz, rasters.npz, distance.png, raster.png"
          + (f" (van Rossum distance {last['distance']:.3f} after {last['trained_s']:g} s)" if last else ""))
    return 0


def _superspike_parser(sub):
    from .engines.spiketrain import DEVICES
    from .model.spiketrain import FEEDBACK

    p = sub.add_parser("superspike", help="teach output neurons a target spike raster drawn from a picture by "
                       "SuperSpike (Zenke & Ganguli 2018)")
    p.add_argument("model", nargs="?", default=None, metavar="MODEL.toml",
                   help="a SuperSpike model file ([superspike] settings, e.g. models/superspike_raster.toml); "
                   "the options below override it")
    p.add_argument("--out", required=True, help="the run's folder")
    p.add_argument("--text", default=None, help="the text whose picture the outputs learn (default: SPIKE)")
    p.add_argument("--picture", default=None, metavar="FILE",
                   help="an image (PNG) whose dark pixels the outputs learn instead of the text")
    p.add_argument("--feedback", choices=FEEDBACK, default=None,
                   help="the hidden layer's error: through the output weights or a fixed random matrix")
    p.add_argument("--hidden", dest="n_hidden", type=int, default=None, help="hidden neurons (0: none; default 256)")
    p.add_argument("--fixed-hidden", action="store_true", help="keep the hidden weights fixed (a control)")
    p.add_argument("--blocks", type=int, default=None, help="blocks of training (default: 50)")
    p.add_argument("--block-s", type=float, default=None, help="seconds of training per block (default: 20)")
    p.add_argument("--burn-in-s", type=float, default=None, help="seconds run before learning (default: 20)")
    p.add_argument("--eta", type=float, default=None, help="the step (default: 5e-4; divided by 10 after the "
                   "blocks of eta_drops)")
    p.add_argument("--dt", type=float, default=None, help="time step in ms (default: 1)")
    p.add_argument("--seed", type=int, default=None, help="weights, input and target jitter")
    p.add_argument("--device", choices=DEVICES, default=None, help="cpp_standalone (default), runtime or the "
                   "NumPy reference")
    p.add_argument("--threads", type=int, default=None, help="OpenMP threads of the C++ program (default: 1)")
    p.add_argument("--force", action="store_true", help="overwrite the folder's results")
    p.add_argument("--resume", action="store_true", help="continue from the folder's checkpoint.npz")


def cmd_align(a):
    import numpy as np

    from .engines.bptt import require_jax
    from .training.alignment import gradient_alignment
    from .randomness import mix_seed
    from .runs import load

    require_jax()
    run = load(a.run)
    spec = run.network_spec()
    if spec.rule.gradient:
        raise ValueError(f"{a.run} was trained by rule {spec.rule.name}, the gradient itself: nothing to align")
    if a.samples < 1:
        raise ValueError(f"--samples must be a positive number, got {a.samples}")
    ds = run.dataset()
    n = min(a.samples, len(ds.y_test))
    cosines = gradient_alignment(spec, run.weights, run.feedback, ds.x_test[:n], np.eye(spec.n_out)[ds.y_test[:n]],
                                 mix_seed(run.config.seed, run.epoch, 2))
    print(f"cosine of {run.config.rule}'s update with BPTT's descent direction, {n} test samples, "
          f"weights of epoch {run.epoch}:")
    for k, proj in enumerate(spec.projections):
        c = cosines[:, k][np.isfinite(cosines[:, k])]
        text = f"{np.mean(c):+.3f} ± {np.std(c):.3f} ({len(c)} samples)" if len(c) else "no sample changed it"
        print(f"  w_{k + 1} {proj.pre} -> {proj.post}: {text}")
    return 0


def cmd_rules(a):
    from . import rules

    if a.show:
        from .rules.three_factor import section, toml_text

        given = {}
        if a.reconstruction is not None:
            if rules.ALIASES.get(a.show, a.show) != "dtp":
                print(f"brianrules: error: --reconstruction is dtp's, not rule {a.show}'s", file=sys.stderr)
                return 2
            given["reconstruction"] = a.reconstruction
        rule = rules.get(a.show, **given)
        if rule.gradient:  # no three factors to write out: its section names it, its docstring says what it is
            print(f"# rule {a.show}: a gradient, not a three-factor product\n"
                  f"{toml_text({'rule': a.show, 'lr': rule.lr, 'lr_hidden': rule.lr_hidden, 'optimizer': rule.optimizer.name})}\n")
            with _commented():
                print((sys.modules[rules.RULES[a.show].__module__].__doc__ or "").strip())
            return 0
        # a valid model-file section first, then the equations as TOML comments
        print(f"# rule {a.show} written out as its factors: a [rule] section of a model file\n"
              f"{toml_text(section(rule))}\n")
        with _commented():
            _show_rule(rule)
        return 0
    for name in sorted(rules.RULES):
        aliases = [k for k, v in rules.ALIASES.items() if v == name]
        also = f" (alias: {', '.join(aliases)})" if aliases else ""
        print(f"{name}{also}: {_summary(name)}")
    return 0


def _commented():
    """Print everything inside as TOML comments ("# " before each line)."""
    import contextlib
    import io

    @contextlib.contextmanager
    def block():
        buffer = io.StringIO()
        with contextlib.redirect_stdout(buffer):
            yield
        for line in buffer.getvalue().splitlines():
            print(f"# {line}".rstrip())

    return block()


def _show_rule(rule):
    from . import feedback
    from .neurons import LIF
    from .surrogates import Surrogate

    from .build import pathways

    pathway = pathways.get(rule.feedback)
    print(rule.describe())
    if pathway.rate_error:
        print("\nlearning signal of the output layer (output error):")
        print(feedback.indented(feedback.OUTPUT_ERROR_EQUATIONS))
        print(f"at the start of each sample: {feedback.OUTPUT_TARGET_CODE}")
    print("\n" + pathway.describe(rule))
    print("\nneuron (LIF, fast-sigmoid surrogate):")
    print(feedback.indented(str(LIF().brian2_equations(Surrogate()))))


def cmd_show(a):
    from .show import text
    from .training import TrainConfig, load_model_file

    cfg = TrainConfig.from_dict(load_model_file(a.model), source=a.model).validate()
    print(text(cfg, a.model, latex=a.latex))
    return 0


def _summary(name):
    from . import rules

    mod = sys.modules[rules.RULES[name].__module__]
    return (mod.__doc__ or "").strip().splitlines()[0]


def cmd_info(a):
    from .devices import working_devices
    from .training import versions

    for k, v in versions().items():
        print(f"{k:>10}: {v}")
    print("devices:")
    for name, (ok, why) in working_devices().items():
        print(f"  {name:<15} {'works' if ok else 'unavailable'}: {why}")
    return 0


def main(argv=None):
    if hasattr(signal, "SIGPIPE") and argv is None:  # `brianrules rules --show dfa | head`
        signal.signal(signal.SIGPIPE, signal.SIG_DFL)
    parser = _Parser(prog="brianrules", description="Train LIF networks with local learning rules.")
    parser.add_argument("--version", action="version", version=f"brianrules {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    _train_parser(sub)
    pr = sub.add_parser("rules", help="list the learning rules, or show one's equations")
    pr.add_argument("--show", metavar="NAME", help="print the equations of rule NAME")
    pr.add_argument("--reconstruction", choices=("dtp", "drl"),
                    help="with --show dtp: the inverses learning by this loss (default dtp)")
    sub.add_parser("info", help="versions and which devices work here")
    pw = sub.add_parser("show", help="print a model file as the equations it declares")
    pw.add_argument("model", metavar="MODEL.toml")
    pw.add_argument("--latex", action="store_true", help="a LaTeX align* block of the equations")
    from .bench import add_bench_parser, cmd_bench

    add_bench_parser(sub)
    ps = sub.add_parser("sweep", help="run a parameter study from a spec (see models/sweeps/)")
    ps.add_argument("spec", metavar="SPEC.toml")
    ps.add_argument("--out", required=True, help="the study's folder (rerun the command to finish it)")
    ps.add_argument("--jobs", type=int, default=1, help="points run at once by the local executor (default: 1)")
    ps.add_argument("--executor", default="local", help="local (a pool of processes) or dask")
    ps.add_argument("--scheduler", default=None, metavar="ADDRESS", help="Dask scheduler, e.g. tcp://host:8786")
    ps.add_argument("--retry-failed", action="store_true", help="run failed points again (diverged ones stay)")
    ps.add_argument("--cuda-arch", default=None, metavar="CC", help="as for train")
    ps.add_argument("--quiet", action="store_true", help="no progress bar over the points: their lines alone")
    pe = sub.add_parser("export", help="write a trained network as a NIR graph")
    pe.add_argument("run", metavar="RUN", help="a training's folder (holding config.json and weights.npz)")
    pe.add_argument("--nir", required=True, metavar="FILE", help="the NIR file to write (HDF5, e.g. net.nir)")
    _exact_parser(sub)
    _eprop_parser(sub)
    _superspike_parser(sub)
    pa = sub.add_parser("align", help="how a trained network's local updates align with BPTT's gradient")
    pa.add_argument("run", metavar="RUN", help="a training's folder")
    pa.add_argument("--samples", type=int, default=20, metavar="N", help="test samples (default: 20)")
    pp = sub.add_parser("plot", help="figures of a training run (rasters, membrane traces, weights, confusion "
                        "matrix), or figures and a summary table of a sweep's results")
    pp.add_argument("dir", metavar="DIR", help="a training's folder (config.json, weights.npz) or a sweep's "
                    "(results.csv)")
    pp.add_argument("--samples", type=int, default=3, metavar="N",
                    help="a run: test samples in the raster and membrane traces (default: 3)")
    pp.add_argument("--metric", default="test_acc", help="the final metric shown (default: test_acc)")
    pp.add_argument("--heatmap", nargs=2, metavar=("X", "Y"), default=None,
                    help="two axes of the heatmap (default: the first two axes with several values)")
    pp.add_argument("--curves", metavar="AXIS", default=None,
                    help="group learning curves by this axis (default: the first axis)")
    pp.add_argument("--stability", metavar="AXIS", default=None,
                    help="report the largest value of this axis at which every seed stays stable "
                    "(default: lr_scale, lr_hidden or lr if swept)")
    a = parser.parse_args(argv)
    handlers = {"train": cmd_train, "rules": cmd_rules, "info": cmd_info, "bench": cmd_bench, "show": cmd_show,
                "sweep": cmd_sweep, "plot": cmd_plot, "export": cmd_export, "align": cmd_align,
                "exact": cmd_exact, "eprop": cmd_eprop,
                "superspike": cmd_superspike}
    try:
        return handlers[a.command](a)
    except ValueError as e:
        print(f"brianrules: error: {e}", file=sys.stderr)
        return EXIT_USAGE
    except Interrupted as e:  # SIGINT or SIGTERM: one line, 130 or 143, the last epoch kept
        quiet_leftovers()
        print(f"brianrules: {e}", file=sys.stderr)
        return e.exit_status


if __name__ == "__main__":
    sys.exit(main())
