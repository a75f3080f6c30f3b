"""``brianrules bench`` (and scripts/bench.py): its options, and the command
that checks them, measures, prints the table and writes the report."""

import argparse
import os
import shlex
import sys

from .measure import BENCH_DEVICES, check_bench_device, run_benchmark, whole_benchmark
from .networks import ALL_WORKLOADS, BENCH_RULES, RULES, WORKLOADS
from .report import default_output, render, table, with_kept_part


def parse_list(text, allowed, what):
    """``"a,b"`` -> ``["a", "b"]``, each one of ``allowed`` (ValueError names
    the one that is not)."""
    items = [t.strip() for t in str(text).split(",") if t.strip()]
    if not items:
        raise ValueError(f"bench: no {what} given (choose from {', '.join(allowed)})")
    for t in items:
        if t not in allowed:
            raise ValueError(f"bench: unknown {what[:-1] if what.endswith('s') else what} '{t}' "
                             f"(choose from {', '.join(allowed)})")
    return list(dict.fromkeys(items))


def command_line(argv=None):
    argv = list(sys.argv if argv is None else argv)
    prog = os.path.basename(argv[0]) if argv else "brianrules"
    if prog == "brianrules" or prog.startswith("__main__"):
        return shlex.join(["brianrules", *argv[1:]])
    return shlex.join(["python", os.path.relpath(argv[0]) if os.path.isabs(argv[0]) else argv[0], *argv[1:]])


def add_bench_parser(subparsers):
    """Add the ``bench`` subcommand to an argparse subparsers object."""
    p = subparsers.add_parser(
        "bench", help="measure throughput of the engines side by side and write BENCHMARKS.md",
        description="Measure samples/s, synaptic updates/s, compile time, per-epoch overhead and the "
                    "memory-bandwidth bound for cpp_standalone (1 and 2 threads), runtime mode and the "
                    "NumPy reference, on a small and a large network, for the clock-driven dfa rule and "
                    "the event-driven erbp rule.")
    p.add_argument("--quick", action="store_true",
                   help="few samples per run (a few minutes on 2 cores once the 8 programs are in the "
                   "build cache; compiling them first takes several minutes more)")
    p.add_argument("--device", default="cpp_standalone", choices=BENCH_DEVICES,
                   help="cuda_standalone: time the brian2cuda program on this machine's GPU beside "
                   "cpp_standalone (1 thread) and the NumPy reference (default: cpp_standalone with 1 and "
                   "2 threads, runtime mode and the NumPy reference)")
    p.add_argument("--networks", default=",".join(WORKLOADS), metavar="LIST",
                   help=f"comma-separated part of {','.join(ALL_WORKLOADS)} (default: {','.join(WORKLOADS)}; "
                   "mnist: the large network on mnist5k's images)")
    p.add_argument("--rules", default=",".join(RULES), metavar="LIST",
                   help=f"comma-separated part of {','.join(BENCH_RULES)} (default: {','.join(RULES)})")
    p.add_argument("--cuda-arch", default=None, metavar="CC",
                   help="cuda_standalone: compute capability to compile for (default: the GPU's)")
    p.add_argument("--out", default=None,
                   help="where to write the report (default: BENCHMARKS.md at the repository root for "
                   "the whole default benchmark; a part of it, or --device cuda_standalone, is written "
                   "only where --out says)")
    p.add_argument("--no-write", action="store_true", help="print the table, write no file")
    p.add_argument("--eprop-nest", type=int, default=None, metavar="ITERATIONS",
                   help="instead of the above: e-prop's sine-wave task for ITERATIONS iterations on the C++ "
                   "program, the NumPy reference and NEST (pip install nest-simulator), side by side "
                   "(printed; written only where --out says)")
    p.add_argument("--superspike", type=float, default=None, metavar="SECONDS",
                   help="instead of the above: SuperSpike's spike-raster task (models/superspike_raster.toml) "
                   "learning for SECONDS of simulated time on the C++ program and the NumPy reference, side by "
                   "side (printed; written only where --out says)")
    return p


def _print_and_write(args, text):
    command = getattr(args, "command_line", None) or command_line()
    print()
    print(text)
    out = getattr(args, "out", None)
    if out and not getattr(args, "no_write", False):
        with open(out, "w") as f:
            f.write(f"Measured by `{command}`.\n\n{text}\n")
        print(f"\nwrote {out}")
    return 0


def cmd_superspike(args):
    from .superspike import run, table as superspike_table

    seconds = args.superspike
    if not seconds > 0:
        print(f"error: --superspike takes a positive number of seconds, got {seconds:g}", file=sys.stderr)
        return 2
    try:
        rows = run(seconds, log=lambda *x: print(*x, flush=True))
    except ValueError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    return _print_and_write(args, superspike_table(rows))


def cmd_eprop_nest(args):
    from .eprop_nest import compare, table as eprop_table

    n = args.eprop_nest
    if n < 1:
        print(f"error: --eprop-nest takes a positive number of iterations, got {n}", file=sys.stderr)
        return 2
    rows, missing = compare(n, log=lambda *x: print(*x, flush=True))
    return _print_and_write(args, eprop_table(rows, n, missing))


def cmd_bench(args):
    if getattr(args, "eprop_nest", None) is not None:
        return cmd_eprop_nest(args)
    if getattr(args, "superspike", None) is not None:
        return cmd_superspike(args)
    quick = bool(getattr(args, "quick", False))
    device = getattr(args, "device", None) or "cpp_standalone"
    cuda_arch = getattr(args, "cuda_arch", None)
    try:  # bad input: one line, before anything is measured or compiled
        networks = parse_list(getattr(args, "networks", None) or ",".join(WORKLOADS), ALL_WORKLOADS, "networks")
        rules = parse_list(getattr(args, "rules", None) or ",".join(RULES), BENCH_RULES, "rules")
        check_bench_device(device, cuda_arch)
    except ValueError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    out = getattr(args, "out", None) or (default_output() if whole_benchmark(device, networks, rules) else None)
    log = lambda *x: print(*x, flush=True)  # noqa: E731
    command = getattr(args, "command_line", None) or command_line()
    result = run_benchmark(quick=quick, log=log, device=device, networks=networks, rules=rules,
                           cuda_arch=cuda_arch)
    text = render(result, command)
    print()
    print(table(result["rows"]))
    if getattr(args, "no_write", False):
        return 0
    if out is None:
        print(f"\n(part of the benchmark: no file written; give --out to write the report, "
              f"{os.path.basename(default_output())} keeps the whole benchmark's)")
        return 0
    text = with_kept_part(text, out)
    tmp = out + ".tmp"
    with open(tmp, "w") as f:
        f.write(text)
    os.replace(tmp, out)
    print(f"\nwrote {out}")
    return 0


def main(argv=None):
    parser = argparse.ArgumentParser(prog="bench")
    sub = parser.add_subparsers(dest="command", required=True)
    add_bench_parser(sub)
    args = parser.parse_args(["bench", *(sys.argv[1:] if argv is None else argv)])
    return cmd_bench(args)
