"""The ``brianrules`` command line."""

import argparse
import os
import sys
import time

from . import __version__

EXIT_USAGE = 2


class _Parser(argparse.ArgumentParser):
    def error(self, message):  # one line, exit status 2
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message}\n")


def _train_parser(sub):
    from .training import TrainConfig

    d = TrainConfig()
    p = sub.add_parser("train", help="train a network and write metrics, weights and a learning curve")
    p.add_argument("--rule", default=d.rule, help="learning rule (see `brianrules rules`)")
    p.add_argument("--post", default=d.post,
                   help="postsynaptic factor of hidden layers: surrogate, none or activity")
    p.add_argument("--post-output", default=d.post_output, help="postsynaptic factor of the output layer")
    p.add_argument("--dataset", default=d.dataset, help="dataset: digits")
    p.add_argument("--epochs", type=int, default=d.epochs)
    p.add_argument("--hidden", type=int, nargs="+", default=d.hidden, help="hidden layer sizes")
    p.add_argument("--device", default=d.device, help="runtime or cpp_standalone")
    p.add_argument("--threads", type=int, default=d.threads, help="OpenMP threads (cpp_standalone)")
    p.add_argument("--seed", type=int, default=d.seed)
    p.add_argument("--lr", type=float, default=d.lr, help="learning rate of the output layer (1/s)")
    p.add_argument("--lr-hidden", type=float, default=d.lr_hidden, help="learning rate of hidden layers (1/s)")
    p.add_argument("--lr-decay", type=float, default=d.lr_decay,
                   help="learning rates are multiplied by this factor after every epoch")
    p.add_argument("--apply-every", type=int, default=None,
                   help="apply accumulated updates every K time steps (default: at the end of each sample)")
    p.add_argument("--surrogate", default=d.surrogate)
    p.add_argument("--sg-width", type=float, default=d.sg_width, help="surrogate width (scaled distance)")
    p.add_argument("--sg-height", type=float, default=d.sg_height, help="surrogate height")
    p.add_argument("--dt", type=float, default=d.dt_ms, help="time step (ms)")
    p.add_argument("--t-sample", type=float, default=d.t_sample_ms, help="presentation time per sample (ms)")
    p.add_argument("--max-rate", type=float, default=d.max_rate_hz, help="input rate at full intensity (Hz)")
    p.add_argument("--tau-m", type=float, default=d.tau_m_ms, help="membrane time constant (ms)")
    p.add_argument("--tau-syn", type=float, default=d.tau_syn_ms, help="synaptic time constant (ms)")
    p.add_argument("--tau-trace", type=float, default=d.tau_trace_ms, help="spike trace time constant (ms)")
    p.add_argument("--tau-err", type=float, default=d.tau_err_ms, help="output rate filter (ms)")
    p.add_argument("--f-high", type=float, default=d.f_high_hz, help="target rate of the labelled output (Hz)")
    p.add_argument("--f-low", type=float, default=d.f_low_hz, help="target rate of the other outputs (Hz)")
    p.add_argument("--w-bound", type=float, default=d.w_bound,
                   help="stop when any |w| exceeds this (weights in units of v_th - v_reset)")
    p.add_argument("--out", default=None, help="output folder (default: runs/RULE-DATASET-TIME)")
    p.add_argument("--force", action="store_true", help="overwrite an output folder that holds results")
    p.add_argument("--resume", action="store_true", help="continue the training saved in --out")
    p.add_argument("--quiet", action="store_true", help="no progress lines from the simulation")
    return p


def _config_from_args(a):
    from .training import TrainConfig

    return TrainConfig(
        rule=a.rule, post=a.post, post_output=a.post_output, dataset=a.dataset, epochs=a.epochs, hidden=list(a.hidden),
        device=a.device, threads=a.threads, seed=a.seed, lr=a.lr, lr_hidden=a.lr_hidden, lr_decay=a.lr_decay,
        apply_every=a.apply_every, surrogate=a.surrogate, sg_width=a.sg_width, sg_height=a.sg_height,
        dt_ms=a.dt, t_sample_ms=a.t_sample, max_rate_hz=a.max_rate, tau_m_ms=a.tau_m,
        tau_syn_ms=a.tau_syn, tau_trace_ms=a.tau_trace, tau_err_ms=a.tau_err,
        f_high_hz=a.f_high, f_low_hz=a.f_low, w_bound=a.w_bound,
    )


def cmd_train(a):
    from .training import TrainingError, prepare_out_dir, train

    cfg = _config_from_args(a)
    cfg.validate()
    out = a.out or os.path.join("runs", f"{cfg.rule}-{cfg.dataset}-{time.strftime('%Y%m%d-%H%M%S')}")
    prepare_out_dir(out, force=a.force, resume=a.resume)
    try:
        train(cfg, out, force=a.force, resume=a.resume, progress=not a.quiet,
              log=lambda *x: print(*x, flush=True))
    except TrainingError as e:
        print(f"brianrules: training stopped: {e}", file=sys.stderr)
        return 1
    return 0


def cmd_rules(a):
    from . import rules

    if a.show:
        from . import feedback
        from .neurons import LIF
        from .surrogates import Surrogate

        rule = rules.get(a.show)
        print(rule.describe())
        print("\nlearning signal of the output layer (output error):")
        print(_dedent(feedback.OUTPUT_ERROR_EQUATIONS))
        if rule.feedback == "direct":
            print("\nlearning signal of each hidden layer (feedback synapses, output -> hidden):")
            print(_dedent(feedback.DIRECT_FEEDBACK_MODEL))
        print("\nneuron (LIF, fast-sigmoid surrogate):")
        print(_dedent(str(LIF().equations(Surrogate()))))
        return 0
    for name in sorted(rules.RULES):
        aliases = [k for k, v in rules.ALIASES.items() if v == name]
        also = f" (alias: {', '.join(aliases)})" if aliases else ""
        print(f"{name}{also}: {_summary(name)}")
    return 0


def _dedent(text):
    return "\n".join("  " + line.strip() for line in text.strip().splitlines() if line.strip())


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
    parser = _Parser(prog="brianrules", description="Train LIF networks with local learning rules.")
    parser.add_argument("--version", action="version", version=f"brianrules {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    _train_parser(sub)
    pr = sub.add_parser("rules", help="list the learning rules, or show one's equations")
    pr.add_argument("--show", metavar="NAME", help="print the equations of rule NAME")
    sub.add_parser("info", help="versions and which devices work here")
    a = parser.parse_args(argv)
    handlers = {"train": cmd_train, "rules": cmd_rules, "info": cmd_info}
    try:
        return handlers[a.command](a)
    except ValueError as e:
        print(f"brianrules: error: {e}", file=sys.stderr)
        return EXIT_USAGE


if __name__ == "__main__":
    sys.exit(main())
