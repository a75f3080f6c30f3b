"""The same model gives the same numbers in runtime mode and as a C++ program."""

import dataclasses

import numpy as np
import pytest

from brianrules.devices import StandaloneRunner
from conftest import assert_cpp_matches_runtime, small_inputs, small_spec

N_SAMPLES = 6

pytestmark = [pytest.mark.slow, pytest.mark.standalone]


@pytest.fixture(scope="module")
def spec():
    return small_spec(hidden=(12, 10))


@pytest.fixture(scope="module")
def cpp_runner(spec, build_root):
    runner = StandaloneRunner(spec, N_SAMPLES, build_dir=str(build_root / "equivalence"), progress=False)
    yield runner
    runner.close()


@pytest.mark.parametrize("rule", ["fa", "symmetric", "erbp", "pes", "dfa-event"])
def test_runtime_and_cpp_standalone_agree_for_other_rules(rule, build_root):
    from brianrules import rules

    lr = {"erbp": (0.5, 0.2), "pes": (0.05, 0.02)}.get(rule, (5.0, 2.0))
    made = rules.get(rule.split("-")[0], lr=lr[0], lr_hidden=lr[1])
    if rule.endswith("-event"):
        made = made.event_driven()
    spec = dataclasses.replace(small_spec(hidden=(12, 10)), rule=made)
    runner = StandaloneRunner(spec, N_SAMPLES, build_dir=str(build_root / f"equivalence-{rule}"),
                              progress=False)
    try:
        _compare(spec, runner)
    finally:
        runner.close()


def test_runtime_and_cpp_standalone_agree(spec, cpp_runner):
    _compare(spec, cpp_runner)


def _compare(spec, cpp_runner):
    assert_cpp_matches_runtime(spec, cpp_runner, N_SAMPLES)


def test_cpp_standalone_reruns_without_recompiling(spec, cpp_runner):
    """Values change through run_args: same inputs, same result; another
    noise seed, other spikes; other weights, other result."""
    inputs = small_inputs(spec, N_SAMPLES)
    a = cpp_runner.run(*inputs, noise_seed=11)
    b = cpp_runner.run(*inputs, noise_seed=11)
    c = cpp_runner.run(*inputs, noise_seed=12)
    assert np.array_equal(a.counts, b.counts)
    for Wa, Wb in zip(a.weights, b.weights):
        assert np.array_equal(Wa, Wb)
    assert not all(np.array_equal(Wa, Wc) for Wa, Wc in zip(a.weights, c.weights))
    W, B, stim, tgt, learn = inputs
    frozen = cpp_runner.run(W, B, stim, tgt, np.zeros_like(learn), noise_seed=11)
    for W0, Wf in zip(W, frozen.weights):
        assert np.array_equal(W0, Wf)  # the learning gate off: no change at all


def test_a_value_file_the_program_cannot_read_fails_the_run(spec, cpp_runner, monkeypatch, capfd):
    """A program that cannot open a value file says so on standard error and
    runs on without the values (brian2cuda 1.0b1 did this with every file
    named in capitals: it lowercases the name first).  Such a run is refused,
    and the program's line reaches the user."""
    import os

    device = cpp_runner._device
    prepare = type(device)._prepare_variableview_run_arg

    def lowercased(key, value):  # what the brian2cuda program opened: the name in lowercase
        name, string_value, value_name, value_ar = prepare(device, key, value)
        if value_name is not None and value_name != value_name.lower():
            string_value = os.path.join("static_arrays", value_name.lower())
        return name, string_value, value_name, value_ar

    inputs = small_inputs(spec, N_SAMPLES)
    monkeypatch.setattr(device, "_prepare_variableview_run_arg", lowercased)
    with pytest.raises(RuntimeError, match=r"did not read every value.*init_b_1_b_"):
        cpp_runner.run(*inputs, noise_seed=11)
    assert "Error reading 'static_arrays/init_b_1_b_" in capfd.readouterr().err
    monkeypatch.undo()
    assert cpp_runner.run(*inputs, noise_seed=11).counts.sum() > 0


def test_openmp_threads_give_the_same_result(spec, cpp_runner, build_root):
    inputs = small_inputs(spec, N_SAMPLES)
    one = cpp_runner.run(*inputs, noise_seed=5)
    runner2 = StandaloneRunner(spec, N_SAMPLES, threads=2, build_dir=str(build_root / "openmp"),
                               progress=False)
    try:
        two = runner2.run(*inputs, noise_seed=5)
    finally:
        runner2.close()
    assert np.array_equal(one.counts, two.counts)
    for W1, W2 in zip(one.weights, two.weights):
        np.testing.assert_allclose(W1, W2, rtol=1e-9, atol=1e-12)


def test_runs_past_64_seconds_keep_the_samples_in_step(build_root):
    """From 64 s of simulated time on, one rounding unit of t exceeds the
    absolute 1e-14 s within which Brian2's C++ network loop takes two
    clocks as ticking together: at sample starts such as 641 (dt 5 ms, 100 ms
    samples) the once-per-sample clock fell behind the step clock, and the
    sample reset, learning gate and application ran a step late (the counts
    of sample 641 differed from runtime mode's).  The program's loop
    (`program.same_time_device`) takes Brian2's own rule, so a 66 s run
    gives runtime mode's counts and weights."""
    from brian2 import ms

    from brianrules.devices import RuntimeRunner

    n = 660
    assert abs(641 * 20 * 0.005 - 641 * 0.1) > 1e-14  # the two clocks' times at sample 641 differ
    # learning rates small enough that 660 samples of updates stay within rounding of each other
    # (at the default 5 and 2 the two engines' last-bit differences grow into other spikes by sample 333)
    spec = small_spec(hidden=(4,), n_in=3, n_out=2, dt=5 * ms, t_sample=100 * ms, lr=0.2, lr_hidden=0.1)
    inputs = small_inputs(spec, n)
    rt = RuntimeRunner(spec, n).run(*inputs, noise_seed=2)
    runner = StandaloneRunner(spec, n, build_dir=str(build_root / "long_run"))
    try:
        cpp = runner.run(*inputs, noise_seed=2)
    finally:
        runner.close()
    assert cpp.counts[640:].sum() > 10  # the outputs are active late in the run
    assert np.array_equal(cpp.counts, rt.counts)
    for W0, Wc, Wr in zip(inputs[0], cpp.weights, rt.weights):
        assert np.abs(Wc - W0).max() > 1e-4  # learning happened
        np.testing.assert_allclose(Wc, Wr, rtol=1e-9, atol=1e-12)
