"""Throughput benchmark: engines side by side, measured in one run.

Networks
    small  64-100-10 on scikit-learn's digits;
    large  784-1000-10 on MNIST-shaped random input (intensities uniform in
           [0, 1], random labels).
Both use the training defaults (`training.TrainConfig`): dt 0.5 ms, 100 ms
per sample, updates applied at the end of each sample.

Rules
    dfa   clock-driven: every plastic synapse is integrated every time step;
    erbp  event-driven: a plastic synapse is updated on each spike of its
          presynaptic neuron.

Engines
    cpp_standalone with 1 and 2 OpenMP threads (programs from the build
    cache of `devices`, so a repeated benchmark compiles nothing), Brian2's
    runtime mode (small network only) and the NumPy reference
    (`reference.ReferenceRunner`, dfa only: it models the dfa family, so
    the erbp row says that there is none).  With ``--device
    cuda_standalone``: the brian2cuda program on the GPU, side by side with
    cpp_standalone on 1 thread and the NumPy reference.

Figures
    samples/s         samples of one run divided by the run's wall time (the
                      whole ``runner.run`` call: writing inputs, the program,
                      reading results);
    updates/s         dfa: one update per plastic synapse per time step,
                      whether or not it changes the weight; erbp: one update
                      per presynaptic spike per outgoing plastic synapse (the
                      updates the program executes; input spikes recomputed
                      from the counter-based hash, hidden spikes counted by
                      the run's monitors); divided by the engine's own
                      simulation time;
    overhead          run wall time minus the engine's own simulation time:
                      for C++ the network loop time the program reports
                      (``last_run_info.txt``), for runtime mode the
                      time of Brian2's network loop, for the reference the
                      time of its step loop;
    start-up          seconds from launching ``brianrules train`` (a new
                      Python process) to the compiled program's report of
                      its first simulated step, twice in a row: the second
                      launch finds the finished program in the cache;
    bandwidth bound   a timed copy of a large float64 array gives the memory
                      bandwidth B (bytes read + written per second); a
                      float64 weight update reads and writes 16 bytes, so no
                      engine that streams the weights can exceed B / 16
                      updates/s.

Modules
    host      the machine: CPU, memory, load average, memory bandwidth;
    networks  what is measured: the networks (workloads) and rules, and
              the updates an event-driven run executes;
    startup   the start-up of ``brianrules train``, timed to its first step;
    measure   running and timing each engine on each network
              (`run_benchmark`, `Row`);
    report    the Markdown table and the BENCHMARKS.md text;
    command   ``brianrules bench`` (and scripts/bench.py): its options and
              `cmd_bench`.
"""

from .command import add_bench_parser, cmd_bench, command_line, main, parse_list
from .host import BANDWIDTH_MB, cpu_model, load_average, machine, measure_bandwidth, memory_gib
from .measure import (BENCH_DEVICES, COMPILED, CPP_REPEATS, NO_REFERENCE, NOISE_SEED, SAMPLES, Row, bench_bptt, bench_program,
                      bench_reference, bench_runtime, check_bench_device, engines_for, finish, reference_supported,
                      run_benchmark, whole_benchmark)
from .networks import (ALL_WORKLOADS, BENCH_RULES, EXTRA_RULES, EXTRA_WORKLOADS, RULES, WORKLOADS, Workload,
                       catch_ups, event_driven_rules, event_updates, input_spike_count, presynaptic_spikes, workload, workloads)
from .report import (KEEP_MARKER, RULE_LABELS, default_output, render, selection_text, start_text, table,
                     with_kept_part)
from .startup import FIRST_STEP, START_ARGS, measure_start, time_to_first_step

__all__ = [
    "add_bench_parser", "cmd_bench", "command_line", "main", "parse_list",
    "BANDWIDTH_MB", "cpu_model", "load_average", "machine", "measure_bandwidth", "memory_gib",
    "BENCH_DEVICES", "COMPILED", "CPP_REPEATS", "NO_REFERENCE", "NOISE_SEED", "SAMPLES", "Row", "bench_bptt", "bench_program",
    "bench_reference", "bench_runtime", "check_bench_device", "engines_for", "finish", "reference_supported",
    "run_benchmark", "whole_benchmark",
    "ALL_WORKLOADS", "BENCH_RULES", "EXTRA_RULES", "EXTRA_WORKLOADS", "RULES", "WORKLOADS", "Workload", "catch_ups",
    "event_driven_rules", "event_updates", "input_spike_count", "presynaptic_spikes", "workload", "workloads",
    "KEEP_MARKER", "RULE_LABELS", "default_output", "render", "selection_text", "start_text", "table",
    "with_kept_part",
    "FIRST_STEP", "START_ARGS", "measure_start", "time_to_first_step",
]
