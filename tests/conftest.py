"""Shared fixtures.

Every compiled program is built once per test session (session-scoped
fixtures): compiling dominates the suite's time.
"""

import os

import numpy as np
import pytest



@pytest.fixture(autouse=True)
def _runtime_device():
    """Every test starts on Brian2's runtime device with the NumPy target."""
    from brian2 import prefs, set_device

    set_device("runtime")
    prefs.codegen.target = "numpy"
    yield


@pytest.fixture(scope="session")
def build_root(tmp_path_factory):
    return tmp_path_factory.mktemp("builds")


@pytest.fixture(scope="session", autouse=True)
def _private_cache(tmp_path_factory):
    """Keep the suite's compiled programs out of the user's build cache."""
    old = os.environ.get("BRIANRULES_CACHE")
    os.environ["BRIANRULES_CACHE"] = str(tmp_path_factory.mktemp("cache"))
    yield
    if old is None:
        os.environ.pop("BRIANRULES_CACHE", None)
    else:
        os.environ["BRIANRULES_CACHE"] = old


def small_spec(**kw):
    """A small network (8-12-3) for equivalence and update checks."""
    from brian2 import Hz, ms

    from brianrules import rules
    from brianrules.network import NetworkSpec

    rule_kw = {k: kw.pop(k) for k in ("post", "post_output", "lr", "lr_hidden", "apply_every") if k in kw}
    rule_kw.setdefault("lr", 5.0)
    rule_kw.setdefault("lr_hidden", 2.0)
    defaults = dict(n_in=8, hidden=(12,), n_out=3, rule=rules.get("dfa", **rule_kw),
                    t_sample=20 * ms, max_rate=300 * Hz, w_init_mean=8.0)
    defaults.update(kw)
    return NetworkSpec(**defaults)


def small_inputs(spec, n_samples, seed=1):
    from brianrules.network import initial_weights

    rng = np.random.default_rng(seed)
    W, B = initial_weights(spec, rng)
    stim = rng.uniform(0, 1, size=(n_samples, spec.n_in))
    labels = rng.integers(0, spec.n_out, size=n_samples)
    tgt = np.eye(spec.n_out)[labels]
    learn = np.ones(n_samples)
    return W, B, stim, tgt, learn


def assert_cpp_matches_runtime(spec, cpp_runner, n_samples, noise_seed=11):
    """The compiled program and runtime mode give the same spikes and weights
    for the same inputs, and the comparison means something: the outputs are
    active and every projection learned."""
    from brianrules.devices import RuntimeRunner

    inputs = small_inputs(spec, n_samples)
    cpp = cpp_runner.run(*inputs, noise_seed=noise_seed)
    rt = RuntimeRunner(spec, n_samples).run(*inputs, noise_seed=noise_seed)
    assert cpp.counts.sum() > 10  # the outputs are active
    assert np.array_equal(cpp.counts, rt.counts)
    for W0, Wc, Wr in zip(inputs[0], cpp.weights, rt.weights):
        assert np.abs(Wc - W0).max() > 1e-4  # learning happened
        np.testing.assert_allclose(Wc, Wr, rtol=1e-9, atol=1e-12)


def assert_learned_feedback_matches_runtime(spec, build_dir, n_samples=6, noise_seed=11):
    """`assert_cpp_matches_runtime` for a pathway whose feedback matrices
    learn (dtp's inverses): also the matrices a run returns, which moved."""
    from brianrules.devices import RuntimeRunner, StandaloneRunner

    runner = StandaloneRunner(spec, n_samples, build_dir=str(build_dir), progress=False)
    try:
        assert_cpp_matches_runtime(spec, runner, n_samples, noise_seed)
        inputs = small_inputs(spec, n_samples)
        cpp = runner.run(*inputs, noise_seed=noise_seed)
        rt = RuntimeRunner(spec, n_samples).run(*inputs, noise_seed=noise_seed)
        for B0, Bc, Br in zip(inputs[1], cpp.feedback, rt.feedback):
            assert np.abs(Bc - B0).max() > 1e-4
            np.testing.assert_allclose(Bc, Br, rtol=1e-9, atol=1e-12)
    finally:
        runner.close()


def sigint_on_call(monkeypatch, owner, name, n):
    """Patch ``owner.name`` so that its ``n``-th call first sends this
    process SIGINT (as a terminal's Ctrl-C would during that call); returns
    the original, to put back with ``monkeypatch.setattr``."""
    import signal

    real = getattr(owner, name)
    calls = []

    def patched(*args, **kwargs):
        calls.append(1)
        if len(calls) == n:
            os.kill(os.getpid(), signal.SIGINT)
        return real(*args, **kwargs)

    monkeypatch.setattr(owner, name, patched)
    return real
