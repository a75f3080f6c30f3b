"""The benchmark's bookkeeping: how event-driven updates are counted, and
the table's rows (the benchmark itself is run by `brianrules bench`)."""

import numpy as np
import pytest

from brianrules import bench, rules
from conftest import small_inputs, small_spec


def _erbp_spec():
    return small_spec(rule=rules.get("erbp"))


def test_counted_spikes_match_the_monitors_of_a_run():
    """The input spikes recomputed from the hash, and the hidden spikes from
    the run's rates, are those that monitors in the network count."""
    from brian2 import SpikeMonitor

    from brianrules.devices import RuntimeRunner

    spec = _erbp_spec()
    n = 2
    W, B, stim, tgt, learn = small_inputs(spec, n)
    runner = RuntimeRunner(spec, n)
    res = runner.run(W, B, stim, tgt, learn, noise_seed=7,
                     monitors=lambda m: [SpikeMonitor(m.input, record=False, name="input_count"),
                                         SpikeMonitor(m.layers[0], record=False, name="hidden_check")])
    counted_input, counted_hidden = (int(np.sum(m.count[:])) for m in runner.last_monitors)
    assert counted_input > 0 and counted_hidden > 0
    pre = bench.presynaptic_spikes(spec, stim, 7, res.hidden_rates, n)
    assert pre == [counted_input, counted_hidden]
    assert bench.event_updates(spec, pre) == counted_input * 12 + counted_hidden * 3


def _row(rule, engine="cpp_standalone", **kw):
    return bench.Row("small", "8-12-3", rule, engine, "1", 10, 1, wall_s=2.0, sim_s=1.0, **kw)


def test_updates_per_second_by_rule():
    bw = {"bytes_per_s": 16e9}  # bound: 1e9 updates/s
    dfa = bench.Workload("small", small_spec(), "test", np.zeros((1, 8)), np.zeros(1, int))
    row = bench.finish(_row("dfa"), dfa, bw)
    assert row.updates_per_s == pytest.approx(dfa.plastic_synapses * 10 * dfa.spec.steps_per_sample)
    assert row.samples_per_s == pytest.approx(5.0)
    erbp = bench.Workload("small", _erbp_spec(), "test", np.zeros((1, 8)), np.zeros(1, int))
    row = bench.finish(_row("erbp", updates=12345, pre_spikes=[1000, 115]), erbp, bw)
    assert row.updates_per_s == pytest.approx(12345.0)
    assert row.bound_fraction == pytest.approx(12345.0 / 1e9)


def test_table_says_there_is_no_reference_for_erbp():
    erbp = bench.Workload("small", _erbp_spec(), "test", np.zeros((1, 8)), np.zeros(1, int))
    assert not bench.reference_supported(erbp)
    missing = bench.finish(bench.bench_reference(erbp, 5, log=None), erbp, {"bytes_per_s": 1e9})
    assert missing.note and np.isnan(missing.updates_per_s)
    measured = _row("erbp", updates=100, pre_spikes=[60, 20], samples_per_s=5.0, updates_per_s=100.0)
    text = bench.table([measured, missing])
    lines = text.splitlines()
    assert len(lines) == 4
    assert "erbp (event-driven)" in lines[2] and "100" in lines[2]
    assert "reference (NumPy): none" in lines[3] and "dfa family" in lines[3]
    assert lines[3].count("–") == 10  # no figure invented
    assert lines[2].rstrip(" |").endswith("–")  # no reference to compare erbp with


def _info(**kw):
    import datetime

    spec = small_spec()
    wl = {"sizes": spec.sizes, "source": "test", "plastic_synapses": 8 * 12 + 12 * 3,
          "steps_per_sample": spec.steps_per_sample}
    info = {"machine": bench.machine(), "versions": {"brian2": "x"}, "quick": True,
            "load_before": (0.5, 0.5, 0.5), "load_after": (0.5, 0.5, 0.5),
            "date": datetime.datetime.now().astimezone(), "elapsed_s": 10.0,
            "bandwidth": {"bytes_per_s": 1e10, "array_mb": 512, "best_copy_s": 0.1},
            "workloads": {"small": wl, "large": wl}, "event_rules": ["erbp"]}
    info.update(kw)
    return info


def test_report_says_how_updates_are_counted():
    info = _info()
    rows = [_row("dfa", cached=True), _row("erbp", cached=False, updates=1000, pre_spikes=[80, 20])]
    for r in rows:
        r.extra["first_build_s"] = 1.0
    text = bench.render({"info": info, "rows": rows}, "brianrules bench --quick")
    assert "compiling 1 of the 2 compiled programs; their first builds took 2 s in all" in text
    assert "one per presynaptic spike per outgoing plastic synapse" in text
    assert "8 input spikes × 12 + 2 hidden spikes × 3 = 100 updates per sample" in text
    assert "no NumPy reference for erbp" in text


def test_rewritten_report_keeps_the_part_written_by_hand(tmp_path):
    path = tmp_path / "BENCHMARKS.md"
    assert bench.with_kept_part("# new\n", str(path)) == "# new\n"  # no file yet
    path.write_text("# old\n\ntable\n")
    assert bench.with_kept_part("# new\n", str(path)) == "# new\n"  # nothing marked
    kept = f"{bench.KEEP_MARKER}\n\n## Accuracy\n\n| a | b |\n"
    path.write_text("# old\n\ntable\n\n" + kept)
    assert bench.with_kept_part("# new\n\nother table\n", str(path)) == "# new\n\nother table\n\n" + kept


@pytest.mark.slow
@pytest.mark.standalone
def test_start_up_is_timed_to_the_first_step_and_the_second_start_builds_nothing():
    args = ("train", "--rule", "dfa", "--dataset", "digits", "--hidden", "30", "--t-sample", "50",
            "--epochs", "1", "--seed", "3")
    start = bench.measure_start(log=lambda *a: None, args=args)
    assert start["second"]["build"].startswith("build: started the finished program")
    assert start["first"]["build"].startswith("build:")
    assert 0 < start["second"]["seconds"] and 0 < start["first"]["seconds"]
    text = "\n".join(bench.start_text(start))
    assert "second launch: " in text and start["command"] in text


def test_start_up_of_a_failing_command_says_why():
    with pytest.raises(RuntimeError, match="never reported its first step(.|\n)*unknown dataset"):
        bench.time_to_first_step(("train", "--dataset", "no_such_data", "--epochs", "1"))


def test_event_form_counts_a_catch_up_per_synapse_and_application():
    import dataclasses

    spec = small_spec()
    event = dataclasses.replace(spec, rule=spec.rule.event_driven())
    synapses = 8 * 12 + 12 * 3
    assert bench.catch_ups(spec, 3) == 0
    assert bench.catch_ups(event, 3) == synapses * 3  # applied at the end of each sample
    every7 = dataclasses.replace(spec, rule=rules.get("dfa", apply_every=7).event_driven())
    assert bench.catch_ups(every7, 3) == synapses * -(-3 * spec.steps_per_sample // 7)
    assert bench.event_updates(event, [10, 4], 3) == 10 * 12 + 4 * 3 + synapses * 3
    # samples of 800 steps, re-based every 200 steps (10 tau_trace): 4 re-bases per sample besides the application
    long = dataclasses.replace(event, t_sample=event.t_sample * 20)
    assert long.rebase_every == 200 and long.steps_per_sample == 800
    assert bench.catch_ups(long, 3) == synapses * (3 + 3 * 4)


def test_table_compares_each_row_with_the_reference_of_its_rule():
    rows = [_row("dfa", samples_per_s=60.0), _row("dfa-event", samples_per_s=300.0),
            bench.Row("small", "8-12-3", "dfa", "reference (NumPy)", "1", 10, 1, compile_s=0.0, wall_s=1.0,
                      sim_s=1.0, samples_per_s=6.0, updates_per_s=1.0, bound_fraction=0.1)]
    lines = bench.table(rows).splitlines()
    assert "× NumPy ref." in lines[0]
    assert lines[2].rstrip(" |").endswith("10.0") and lines[3].rstrip(" |").endswith("50.0")
    assert lines[4].rstrip(" |").endswith("1.0")


def test_gpu_rows_have_no_cpu_bound_and_the_report_names_the_gpu():
    bw = {"bytes_per_s": 16e9}
    dfa = bench.Workload("small", small_spec(), "test", np.zeros((1, 8)), np.zeros(1, int))
    gpu = bench.finish(bench.Row("small", "8-12-3", "dfa", "cuda_standalone", "GPU", 10, 1, wall_s=0.5,
                                 sim_s=0.25, cached=False, compile_s=90.0), dfa, bw)
    gpu.extra.update(first_build_s=90.0, arch=9.0)
    cpu = bench.finish(_row("dfa", cached=True), dfa, bw)
    cpu.extra["first_build_s"] = 10.0
    assert gpu.samples_per_s == pytest.approx(20.0)
    assert gpu.updates_per_s == pytest.approx(dfa.plastic_synapses * 10 * dfa.spec.steps_per_sample / 0.25)
    assert np.isnan(gpu.bound_fraction) and np.isfinite(cpu.bound_fraction)  # a CPU bound says nothing of a GPU
    lines = bench.table([gpu, cpu]).splitlines()
    cells = [c.strip() for c in lines[2].strip("|").split("|")]
    assert cells[2:4] == ["cuda_standalone", "GPU"] and cells[11] == "–" and cells[5] == "90.0"
    info = _info(device="cuda_standalone", networks=["small"], rules=["dfa"], whole=False,
                 gpus=[("NVIDIA H200", 9.0)], nvcc="/usr/local/cuda/bin/nvcc")
    text = bench.render({"info": info, "rows": [gpu, cpu]}, "brianrules bench --device cuda_standalone")
    assert "- GPU: NVIDIA H200 (compute capability 9.0); CUDA compiler /usr/local/cuda/bin/nvcc; " \
           "programs compiled for sm_90" in text
    assert "Part of the benchmark: networks: small; rules: dfa; device cuda_standalone" in text
    assert "compiling 1 of the 2 compiled programs" in text
    assert "## Start-up" not in text


def test_engines_side_by_side_by_device():
    assert bench.engines_for("large", "cuda_standalone") == [("cuda_standalone", 1), ("cpp_standalone", 1),
                                                            ("reference", 1)]
    assert bench.engines_for("small", "cpp_standalone") == [("cpp_standalone", 1), ("cpp_standalone", 2),
                                                           ("runtime", 1), ("reference", 1)]
    assert bench.engines_for("large", "cpp_standalone")[-1] == ("reference", 1)
    # only the default selection times the start-up and rewrites BENCHMARKS.md
    assert bench.whole_benchmark("cpp_standalone", bench.WORKLOADS, bench.RULES)
    assert not bench.whole_benchmark("cpp_standalone", bench.WORKLOADS, bench.BENCH_RULES)
    assert not bench.whole_benchmark("cpp_standalone", ["small"], bench.RULES)
    # the rules with per-synapse eligibility traces have a reference to be compared with
    assert bench.reference_supported(bench.workload("small", "superspike"))
    assert bench.reference_supported(bench.workload("small", "eprop"))


def test_bptt_rows_time_batches_of_1_and_32_with_the_gradient_applied():
    """The bptt rows run the JAX engine's training with mini-batches of 1
    and 32, report samples/s and the first batch's
    tracing, and have no synaptic-update figures (a gradient is not that)."""
    pytest.importorskip("jax")
    assert bench.engines_for("small", "cpp_standalone", "bptt") == [("jax", 1), ("jax", 32)]
    work = bench.workload("small", "bptt")
    rows = [bench.finish(bench.bench_bptt(work, 8, b, log=lambda s: None), work, {"bytes_per_s": 1e10})
            for b in (1, 4)]
    assert [r.engine for r in rows] == ["jax, batch 1", "jax, batch 4"]
    for r in rows:
        assert r.samples == 8 and r.samples_per_s > 0 and r.compile_s > 0
        assert not np.isfinite(r.updates_per_s) and not np.isfinite(r.bound_fraction)
    line = bench.table(rows).splitlines()[2]
    assert "bptt (surrogate-gradient BPTT, Adam)" in line and "(first batch)" in line


def test_the_mnist_workload_presents_mnist5k_images_with_a_quarter_of_the_large_ones_input_spikes():
    from brianrules.data import load

    d = load("mnist5k")
    mnist, large = bench.workload("mnist", "dfa-event"), bench.workload("large", "dfa-event")
    assert mnist.spec.sizes == large.spec.sizes == [784, 1000, 10] and mnist.event_driven
    assert np.array_equal(mnist.x, d.x_train) and np.array_equal(mnist.labels, d.y_train)
    n = 20
    spikes = {w.name: bench.input_spike_count(w.spec, w.inputs(n)[2], noise_seed=1) for w in (mnist, large)}
    # Poisson inputs: expected spikes = sum of intensities x max rate x duration (within 3 %)
    for w in (mnist, large):
        expected = w.x[:n].sum() * float(w.spec.max_rate) * float(w.spec.t_sample)
        assert spikes[w.name] == pytest.approx(expected, rel=0.03)
    assert 0.2 < spikes["mnist"] / spikes["large"] < 0.35


@pytest.mark.parametrize("argv, message", [
    (["--networks", "small,huge"], "unknown network 'huge' (choose from small, large, mnist)"),
    (["--rules", "dfa,bp"], "unknown rule 'bp' (choose from dfa, dfa-event, erbp, superspike, eprop, bptt)"),
    (["--networks", ","], "no networks given"),
    (["--device", "cuda_standalone"], "this machine has no NVIDIA GPU"),
    (["--device", "cuda_standalone", "--cuda-arch", "sm_9"], "cuda_arch must be a compute capability"),
    (["--superspike", "0.2"], "--superspike needs at least 0.5 s"),
    (["--superspike", "-1"], "--superspike takes a positive number of seconds"),
])
def test_bench_refuses_bad_input_before_measuring(monkeypatch, capsys, tmp_path, argv, message):
    from brianrules import cli, cuda
    from brianrules.bench import command

    monkeypatch.setattr(cuda, "check_tools", lambda: None)  # as where nvcc and brian2cuda are installed
    monkeypatch.setattr(cuda, "gpus", lambda: [])  # and no GPU

    def measured(**kw):
        raise AssertionError("measured despite bad input")

    monkeypatch.setattr(command, "run_benchmark", measured)  # where `cmd_bench` looks it up
    out = tmp_path / "B.md"
    out.write_text("kept\n")
    assert cli.main(["bench", "--out", str(out), *argv]) == 2
    assert message in capsys.readouterr().err
    assert out.read_text() == "kept\n"
