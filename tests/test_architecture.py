"""Architecture as data: projections between populations, recurrent, skipping
layers, fixed or plastic."""

import numpy as np
import pytest

from brianrules import rules
from brianrules.devices import RuntimeRunner, StandaloneRunner
from brianrules.model.architecture import chain, parse
from conftest import small_inputs, small_spec

N_SAMPLES = 4
#: a recurrent hidden layer, a fixed skip from the input to the output, and the stack
RECURRENT = [
    {"pre": "input", "post": "hidden_1"},
    {"pre": "hidden_1", "post": "hidden_1"},
    {"pre": "hidden_1", "post": "output"},
    {"pre": "input", "post": "output", "plastic": False},
]


def test_the_stack_is_the_default_and_bad_projections_name_the_problem():
    assert small_spec().projections == chain(1)
    assert small_spec(projections=[p.to_dict() for p in chain(1)]).projections == chain(1)
    cases = [
        ([{"pre": "input", "post": "hidden_2"}], "post = 'hidden_2' is no population"),
        ([{"pre": "input", "post": "hidden_1"}, {"pre": "hidden_1", "post": "input"}],
         "the input population receives no projection"),
        ([{"pre": "input", "post": "hidden_1"}, {"pre": "input", "post": "hidden_1"}], "given twice"),
        ([{"pre": "input", "post": "hidden_1"}], "nothing projects onto output"),
        ([{"pre": "input", "post": "hidden_1"}, {"pre": "input", "post": "output"}],
         "hidden_1 projects onto no other population"),
        ([{"pre": "input", "post": "hidden_1", "delay": 1}], "unknown key 'delay'"),
        ([{"pre": "input", "post": "hidden_1", "plastic": "yes"}], "plastic must be true or false"),
    ]
    for items, message in cases:
        with pytest.raises(ValueError, match=message):
            parse(items, 1, source="model.toml")
    with pytest.raises(ValueError, match="needs the feed-forward stack"):
        small_spec(rule=rules.get("symmetric"), projections=RECURRENT)


def test_recurrent_and_skip_projections_learn_as_declared():
    spec = small_spec(projections=RECURRENT)
    W0, B, stim, tgt, learn = small_inputs(spec, N_SAMPLES)
    assert [W.shape for W in W0] == [(8, 12), (12, 12), (12, 3), (8, 3)]
    assert np.all(np.diag(W0[1]) == 0)  # no self-connections, no weight there
    result = RuntimeRunner(spec, N_SAMPLES).run(W0, B, stim, tgt, learn, noise_seed=3)
    W = result.weights
    assert np.all(np.diag(W[1]) == 0)
    off = ~np.eye(12, dtype=bool)
    assert np.abs(W[1] - W0[1])[off].max() > 1e-4  # the recurrent weights learned
    assert np.array_equal(W[3], W0[3])  # the fixed skip projection did not
    assert np.abs(W[2] - W0[2]).max() > 1e-4


@pytest.mark.standalone
@pytest.mark.slow
def test_recurrent_network_runtime_and_cpp_standalone_agree(build_root):
    spec = small_spec(projections=RECURRENT)
    inputs = small_inputs(spec, N_SAMPLES)
    runner = StandaloneRunner(spec, N_SAMPLES, build_dir=str(build_root / "recurrent"), progress=False)
    try:
        cpp = runner.run(*inputs, noise_seed=3)
    finally:
        runner.close()
    rt = RuntimeRunner(spec, N_SAMPLES).run(*inputs, noise_seed=3)
    assert cpp.counts.sum() > 10 and np.array_equal(cpp.counts, rt.counts)
    for Wc, Wr in zip(cpp.weights, rt.weights):
        np.testing.assert_allclose(Wc, Wr, rtol=1e-9, atol=1e-12)
