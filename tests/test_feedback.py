"""The error pathways: what each hidden layer's learning signal L is made of."""

import dataclasses

import numpy as np
import pytest
from brian2 import StateMonitor

from brianrules import rules
from brianrules.devices import RuntimeRunner
from conftest import small_inputs, small_spec

N_SAMPLES = 3


def _run(rule_name, post="surrogate"):
    spec = small_spec(hidden=(12, 10))
    spec = dataclasses.replace(spec, rule=rules.get(rule_name, post=post, lr=5.0, lr_hidden=2.0))
    W, B, stim, tgt, learn = small_inputs(spec, N_SAMPLES)

    def monitors(model):
        return [StateMonitor(g, ["L", "delta", "err" if g is model.output else "psi"], record=True,
                             when="before_groups") for g in model.layers]

    runner = RuntimeRunner(spec, N_SAMPLES)
    res = runner.run(W, B, stim, tgt, learn, noise_seed=4, monitors=monitors)
    return spec, W, B, runner.last_monitors, res


def _lagged_check(L_low, source, M):
    """L_low[:, n] = M @ source[:, n-1]: the summed variable written in step
    n-1 from the layer above, as it stood before that step's updates."""
    expected = M @ source[:, :-1]
    assert np.abs(expected).max() > 1e-3  # the signal is not trivially zero
    np.testing.assert_allclose(L_low[:, 1:], expected, rtol=1e-9, atol=1e-12)


def test_dfa_sends_the_output_error_to_every_hidden_layer():
    spec, W, B, (h1, h2, out), _ = _run("dfa")
    err = out.err[:]
    _lagged_check(h1.L[:], err, B[0].T)
    _lagged_check(h2.L[:], err, B[1].T)
    np.testing.assert_allclose(out.L[:], err)


@pytest.mark.parametrize("post", ["surrogate", "none"])
def test_fa_sends_delta_of_the_layer_above_through_random_matrices(post):
    spec, W, B, (h1, h2, out), _ = _run("fa", post)
    assert [b.shape for b in B] == [(10, 12), (3, 10)]
    phi_h2 = h2.psi[:] if post == "surrogate" else np.ones_like(h2.L[:])
    np.testing.assert_allclose(h2.delta[:], h2.L[:] * phi_h2)
    _lagged_check(h1.L[:], h2.delta[:], B[0].T)
    _lagged_check(h2.L[:], out.delta[:], B[1].T)


def test_symmetric_sends_delta_back_through_the_forward_weights():
    spec, W, B, (h1, h2, out), res = _run("symmetric")
    assert B == []
    # the forward weights change only at sample ends; check the first sample
    steps = spec.steps_per_sample
    L1, L2 = h1.L[:, :steps], h2.L[:, :steps]
    _lagged_check(L1, h2.delta[:, :steps], W[1])
    _lagged_check(L2, out.delta[:, :steps], W[2])
