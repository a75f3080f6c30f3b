"""The benchmark's report: the Markdown table of the rows, the text of
BENCHMARKS.md, and the hand-written part of it that a rewrite keeps."""

import os
import subprocess

import numpy as np

from .measure import COMPILED, CPP_REPEATS
from .networks import RULES


# -- report ------------------------------------------------------------------
def _fmt(v, spec):
    if v is None or (isinstance(v, float) and not np.isfinite(v)):
        return "–"
    return format(v, spec)


RULE_LABELS = {"dfa": "dfa (clock-driven)", "dfa-event": "dfa, event-driven form", "erbp": "erbp (event-driven)",
               "superspike": "superspike (2-stage eligibility per synapse)",
               "eprop": "eprop (1-stage eligibility per synapse)",
               "bptt": "bptt (surrogate-gradient BPTT, Adam)"}


def table(rows):
    """The results as a Markdown table."""
    head = ["network", "rule", "engine", "threads", "samples", "compile s", "run wall s", "sim s",
            "overhead s", "samples/s", "syn. updates/s", "of bound", "× NumPy ref."]
    lines = ["| " + " | ".join(head) + " |", "|" + "|".join(["---"] * 3 + ["--:"] * (len(head) - 3)) + "|"]
    # the reference of a rule's row: the NumPy reference of the same network and rule (the
    # event-driven form of dfa computes the clock-driven dfa's weights, so it shares dfa's)
    def reference_key(r):
        return r.network, r.rule.split("-")[0]

    reference = {reference_key(r): r.samples_per_s for r in rows if r.engine.startswith("reference") and not r.note}
    for r in rows:
        rule = RULE_LABELS.get(r.rule, r.rule)
        if r.note:
            lines.append("| " + " | ".join([f"{r.network} {r.sizes}", rule, f"{r.engine}: {r.note}"]
                                           + ["–"] * (len(head) - 3)) + " |")
            continue
        if r.engine.startswith("jax"):  # tracing and compiling, with the first batch
            comp = _fmt(r.compile_s, ".1f") + " (first batch)"
        elif r.engine not in COMPILED:
            comp = "–"
        elif r.cached:
            first = r.extra.get("first_build_s")
            comp = _fmt(r.compile_s, ".1f") + " (cached" + (
                f"; first build {first:.1f})" if first is not None else ")")
        else:
            comp = _fmt(r.compile_s, ".1f")
        runs = f" (best of {r.runs})" if r.runs > 1 else ""
        lines.append("| " + " | ".join([
            f"{r.network} {r.sizes}", rule, r.engine, r.threads, f"{r.samples}{runs}", comp,
            _fmt(r.wall_s, ".3f"), _fmt(r.sim_s, ".3f"), _fmt(r.overhead_s, ".3f"),
            _fmt(r.samples_per_s, ".2f"), _fmt(r.updates_per_s, ".3g"),
            (_fmt(100 * r.bound_fraction, ".1f") + " %") if np.isfinite(r.bound_fraction) else "–",
            _fmt(r.samples_per_s / reference[reference_key(r)], ".1f") if reference_key(r) in reference else "–",
        ]) + " |")
    return "\n".join(lines)


def _git_state():
    """The checkout's commit, and whether the working tree differs from it."""
    from ..training import git_commit

    commit = git_commit()
    if not commit:
        return None
    here = os.path.dirname(os.path.abspath(__file__))
    try:
        r = subprocess.run(["git", "-C", here, "status", "--porcelain", "--untracked-files=no"],
                           capture_output=True, text=True, timeout=10)
        dirty = bool(r.stdout.strip())
    except (OSError, subprocess.SubprocessError):
        dirty = False
    return f"commit {commit[:12]}" + (" with uncommitted changes" if dirty else "")


def _event_counts_text(rows):
    """What the event-driven runs counted, per network and rule (from the
    first measured row of each)."""
    parts = []
    for net, rule in dict.fromkeys((r.network, r.rule) for r in rows):
        r = next((r for r in rows if (r.network, r.rule) == (net, rule) and r.updates is not None), None)
        if r is None:
            continue
        per = [k / r.samples for k in r.pre_spikes]
        sizes = [int(v) for v in r.sizes.split("-")]
        terms = " + ".join(f"{k:.0f} {'input' if i == 0 else 'hidden'} spikes × {n}"
                           for i, (k, n) in enumerate(zip(per, sizes[1:])))
        if r.extra.get("catch_ups"):
            terms += f" + {r.extra['catch_ups'] / r.samples:,.0f} catch-ups"
        parts.append(f"{net}, {RULE_LABELS.get(rule, rule)} ({r.engine}, {r.threads} thread(s), {r.samples} "
                     f"samples): {terms} = {r.updates / r.samples:,.0f} updates per sample")
    return (" Per sample on average, " + "; ".join(parts) + ".") if parts else ""


def _mb(n_synapses):
    b = 16 * n_synapses
    return f"{b / 1e6:.1f} MB" if b >= 1e6 else f"{b / 1e3:.0f} kB"


def render(result, command):
    info = result["info"]
    rows = result["rows"]
    m = info["machine"]
    bw = info["bandwidth"]
    v = info["versions"]
    ver = ", ".join(f"{k} {val}" for k, val in v.items())
    try:
        cxx = subprocess.run([os.environ.get("CXX", "g++"), "--version"], capture_output=True, text=True,
                             timeout=10).stdout.splitlines()[0]
    except (OSError, IndexError, subprocess.SubprocessError):
        cxx = "unknown"
    commit = _git_state()
    wl = info["workloads"]
    bound = bw["bytes_per_s"] / 16.0
    la, lb = info["load_before"], info["load_after"]
    programs = [r for r in rows if r.engine in COMPILED]
    compiled = sum(1 for r in programs if not r.cached)
    known = [r.extra.get("first_build_s") for r in programs]
    first_builds = sum(known) if programs and None not in known else None
    out = [
        "# Benchmarks",
        "",
        f"Measured {info['date'].strftime('%Y-%m-%d %H:%M %Z')} with",
        "",
        "```",
        command,
        "```",
        "",
        "(" + ("`--quick`: few samples per run, figures are rough" if info["quick"] else "full run")
        + f"; the whole benchmark took {info['elapsed_s']:.0f} s, "
        + (f"compiling {compiled} of the {len(programs)} compiled programs" if compiled else
           f"with all {len(programs)} compiled programs from the build cache")
        + (f"; their first builds took {first_builds:.0f} s in all, which a run with an empty "
           "cache adds)" if first_builds else ")"),
        "",
        *selection_text(info),
        "## Machine",
        "",
        f"- CPU: {m['cpu']}, {m['logical_cpus']} logical CPUs ({m['usable_cpus']} usable by this process)",
        f"- memory: {m['memory_gib']:.1f} GiB",
        f"- memory bandwidth: {bw['bytes_per_s'] / 1e9:.2f} GB/s, from the best of 5 timed copies of a "
        f"{bw['array_mb']} MB float64 array (NumPy, one thread; bytes read + written); bound for float64 "
        f"weight updates (16 bytes each): {bound:.3g} updates/s",
        f"- load average (1, 5, 15 min) before: {la[0]:.2f} {la[1]:.2f} {la[2]:.2f}, after: "
        f"{lb[0]:.2f} {lb[1]:.2f} {lb[2]:.2f} (the machine may be shared: other jobs slow the figures)",
        f"- OS: {m['os']}",
    ]
    if info.get("device") == "cuda_standalone":
        gpus = ", ".join(n if cap is None else f"{n} (compute capability {cap})" for n, cap in info.get("gpus", []))
        archs = sorted({r.extra["arch"] for r in rows if "arch" in r.extra})
        out.append(f"- GPU: {gpus or 'none found'}; CUDA compiler {info.get('nvcc')}"
                   + (f"; programs compiled for {', '.join(f'sm_{int(round(a * 10))}' for a in archs)}" if archs else ""))
    if max(la[0], lb[0]) > m["usable_cpus"]:
        out.append(
            f"- the load average exceeded the {m['usable_cpus']} usable CPUs during the run: other jobs "
            "shared the cores, which lowers every figure and the 2-thread OpenMP figures most (each time "
            "step has several barriers, where a thread waits for a descheduled partner)")
    out += [
        f"- versions: {ver}; compiler: {cxx}" + (f"; source: {commit}" if commit else ""),
    ]
    out += [
        "",
        "## Results",
        "",
        table(rows),
        "",
        *start_text(info.get("start")),
        "## What is measured",
        "",
        f"- small: {'-'.join(map(str, wl['small']['sizes']))} on {wl['small']['source']}; large: "
        f"{'-'.join(map(str, wl['large']['sizes']))} on {wl['large']['source']}. Both with the training "
        f"defaults of each rule: dfa (surrogate factor, direct feedback) clock-driven (`--timing clock`), dfa's "
        f"event-driven form (a training's default timing: the same sums regrouped, so that a synapse is touched "
        f"on presynaptic spikes and once per application of the accumulated updates; same weights to rounding) "
        f"and erbp (current "
        f"boxcar factor, error neurons and a dendritic compartment, event-driven); dt 0.5 ms, "
        f"{wl['small']['steps_per_sample']} steps per sample, updates applied at the end of each sample, "
        "learning on for every sample.",
        *([f"- mnist (measured where `--networks` names it): the large network, "
           f"{'-'.join(map(str, wl['mnist']['sizes']))}, on {wl['mnist']['source']}: what a training on "
           "mnist5k presents, with about a quarter of the large workload's input spikes."] if "mnist" in wl else []),
        f"- plastic synapses: {wl['small']['plastic_synapses']} (small), {wl['large']['plastic_synapses']} "
        f"(large); their weights and accumulators take {_mb(wl['small']['plastic_synapses'])} and "
        f"{_mb(wl['large']['plastic_synapses'])}: the small network's fit in the CPU caches, where the "
        "memory-bandwidth bound does not limit. **of bound** is the synaptic updates/s over the "
        "bandwidth bound above.",
        "- **syn. updates/s**, dfa (clock-driven): one update per plastic synapse per time step (each "
        "one is integrated every step, whether or not the weight changes), divided by the engine's own "
        "simulation time (`sim s`).",
        "- **syn. updates/s**, erbp and dfa's event-driven form: the updates the program executes, one per "
        "presynaptic spike per outgoing plastic synapse (erbp: `w_acc += plastic * (-eta * U_post * "
        "boxcar_post)`, dfa: `w_acc += plastic * (-eta * xs_pre * (Y_post - Ylast))`; "
        "each runs whether or not its factors are zero), divided by `sim s`. For dfa's event-driven form the "
        "catch-up of every synapse before each application (one per plastic synapse per sample) and at each "
        "re-base of its traces (none at these defaults: the sample's start re-bases) is counted too. "
        "Counted from the spikes of the reported run: input spikes × hidden size + hidden spikes × "
        "output size. The input spikes are recomputed exactly from the counter-based hash that draws "
        "them (`hash_uniform(seed, step, i) < rate * dt`, the same in every engine); the hidden spikes "
        "are the counts of the run's hidden-layer monitors. Not counted: the addition of the "
        "accumulated change to every weight at the end of each sample (one per plastic synapse per "
        "sample, done in every run of either rule), the delivery of spikes to the postsynaptic "
        "currents and the error pathway."
        + _event_counts_text(rows),
        "- **reference (NumPy)**: `reference.py` models the dfa family (clock-driven updates, direct "
        "feedback) only; there is no NumPy reference for erbp or for dfa's event-driven form, so their rows "
        "give no figure.",
        "- **samples/s** is samples per run over the run's wall time (`run wall s`: the whole "
        "`runner.run` call of one epoch).",
        "- **× NumPy ref.** is a row's samples/s over the NumPy reference's samples/s on the same network "
        "for the same rule, both measured in this run. dfa's event-driven form computes the clock-driven "
        "dfa's weights (to rounding), so it is compared with dfa's reference, which integrates every "
        "synapse every step.",
        "- **overhead s** = run wall time − the engine's own simulation time: for cpp_standalone the "
        "network loop time the program reports (`last_run_info.txt` in the run's results folder), so the overhead is writing "
        "the run's inputs, starting the program, loading and saving its arrays and reading the results; "
        "for runtime mode the time of Brian2's network loop, so the overhead includes building the "
        "network and its NumPy code; for the reference the time of its step loop.",
        "- **compile s** is the build call of the C++ program (code generation and compiler); "
        "`(cached)` means the program came from the build cache (keyed by the model's structure): when "
        "its build stamp matches, nothing is generated or compiled and the figure is the time from the "
        "program's objects to the start (else the code is written again and make finds what to "
        "recompile); the first build's time is noted in the cached build folder.",
        f"- each cpp_standalone program is run {CPP_REPEATS[1 if info['quick'] else 0]} time(s) per "
        "benchmark (each run from the same initial weights, with another input-noise seed); with more "
        "than one, the fastest is reported. Runtime mode and the reference run once.",
        *(["- **cuda_standalone**: the brian2cuda program of the same model on the GPU (threads: `GPU`), "
           "built and cached like the C++ programs; `sim s` is the network loop time it reports. **of bound** "
           "is left empty for it: the bound above is the CPU's memory bandwidth."]
          if any(r.engine == "cuda_standalone" for r in rows) else []),
        "- OpenMP threads: the 2-thread programs run on the same cores as everything else on this "
        "machine; the bandwidth figure is for one thread.",
        *([f"- event-driven rules not benchmarked: {', '.join(r for r in info['event_rules'] if r not in RULES)}."]
          if any(r not in RULES for r in info["event_rules"]) else []),
        "",
    ]
    return "\n".join(out)


def selection_text(info):
    """What part of the benchmark ran, when not all of it."""
    if info.get("whole", True):
        return []
    parts = [f"networks: {', '.join(info['networks'])}", f"rules: {', '.join(info['rules'])}"]
    if info.get("device") == "cuda_standalone":
        parts.append("device cuda_standalone: the GPU program beside cpp_standalone (1 thread) and the "
                     "NumPy reference")
    return ["Part of the benchmark: " + "; ".join(parts) + ". The start-up is not timed.", ""]


def start_text(start):
    """The start-up section of the report."""
    if not start:
        return []
    first, second = start["first"], start["second"]
    return [
        "## Start-up",
        "",
        f"`{start['command']}` launched twice in a row, each time as a new process, timed from the launch "
        "to the compiled program's report of its first simulated step (the command is stopped there):",
        "",
        f"- first launch: {first['seconds']:.2f} s ({first['build']})",
        f"- second launch: {second['seconds']:.2f} s ({second['build']})",
        "",
        "A start includes Python's start, importing Brian2, loading the data set (cached as arrays after "
        "the first load), creating the model's objects on the device and its code objects "
        "(`CompiledProgram._populate`), and the program's loading of its inputs. A program whose build "
        "stamp matches (the key, Brian2's version, compiler and flags, and a hash of the generated code) "
        "skips the equation check, the writing of the code and make.",
        "",
    ]


def default_output():
    """BENCHMARKS.md at the repository root when the package sits in a
    checkout, else in the current folder."""
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    if os.path.exists(os.path.join(root, "setup.py")):
        return os.path.join(root, "BENCHMARKS.md")
    return os.path.abspath("BENCHMARKS.md")


#: a line of the report: what follows it was written by hand (measurements
#: that the benchmark does not make) and stays when the benchmark rewrites the file
KEEP_MARKER = "<!-- sections below this line are kept when `brianrules bench` rewrites this file -->"


def with_kept_part(text, path):
    """``text`` followed by the part of the existing file ``path`` from
    `KEEP_MARKER` on (``text`` alone when there is none)."""
    try:
        with open(path) as f:
            old = f.read()
    except OSError:
        return text
    k = old.find(KEEP_MARKER)
    if k < 0:
        return text
    return text.rstrip("\n") + "\n\n" + old[k:]
