"""PES learns a communication channel: 100 LIF neurons pass on sin(2 pi t).

    python models/pes_channel.py --out DIR [--device cpp_standalone|runtime]
                                 [--rule pes|dfa] [--kappa K] [--duration S] [--seed N]
                                 [--target filtered|input]

Writes DIR/channel.csv (t, input, target, decoded, abs_error) and
DIR/channel.png, and prints the mean absolute error of the decoded output
against its target (the input through the readout's lowpass; ``--target
input``: the input itself) over the first and the last 2 seconds.  The
C++ program comes from the build cache that training uses: the first run
of a structure builds it, later runs (other seeds, rates, durations of the
same length) only run it.  ``--rule dfa`` runs "SRBP without the derivative" (dfa with
post="none") with the post population's encoders as its feedback matrix and
the learning rate kappa / tau_pre, which makes it the same update as PES.
See `brianrules.channel` for the model.
"""

import argparse
import sys

from brian2 import second

from brianrules import rules
from brianrules.channel import DEVICES, KAPPA, ChannelSpec, run_channel


def make_rule(name, kappa, spec):
    if name == "pes":
        return rules.get("pes", learning_rate=kappa)
    # the trace x_i instead of the rate a_i = x_i / tau_pre: divide kappa by tau_pre,
    # and by n_pre as PES does
    tau_pre = float(spec.pre_neuron.tau_trace / second)
    return rules.get("dfa", post="none", lr_hidden=kappa / tau_pre / spec.n_pre, apply_every=1)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", required=True, help="folder for channel.csv and channel.png")
    p.add_argument("--device", choices=DEVICES, default="cpp_standalone",
                   help="cpp_standalone (default) or runtime (NumPy; minutes for 10 s)")
    p.add_argument("--rule", choices=("pes", "dfa"), default="pes")
    p.add_argument("--kappa", type=float, default=KAPPA, help=f"PES learning rate (default {KAPPA:g})")
    p.add_argument("--duration", type=float, default=10.0, help="simulated time in s (default 10)")
    p.add_argument("--seed", type=int, default=0, help="seed of the tuning curves")
    p.add_argument("--target", choices=("filtered", "input"), default="filtered",
                   help="what the decoded output is compared with: the input through the readout's lowpass "
                        "(default) or the input itself (the readout's delay then counts as error)")
    a = p.parse_args(argv)
    if a.duration < 4:
        p.error("--duration must be at least 4 s (first and last 2 s are compared)")
    spec = ChannelSpec(filtered_target=a.target == "filtered")
    rule = make_rule(a.rule, a.kappa, spec)
    result = run_channel(rule, duration=a.duration * second, seed=a.seed, device=a.device,
                         out_dir=a.out, spec=spec)
    first = result.mean_abs_error(0.0, 2.0)
    last = result.mean_abs_error(a.duration - 2.0, a.duration)
    print(f"mean absolute error, first 2 s: {first:.4f}")
    print(f"mean absolute error, last 2 s:  {last:.4f}  ({last / first:.3f} of the first)")
    how = "the cached C++ program" if result.reused else ("a C++ program built now" if a.device == "cpp_standalone"
                                                          else "runtime mode")
    print(f"wrote {result.csv} and {result.png} ({result.wall_s:.1f} s, {how})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
