"""The shipped neuron files (models/neurons/): the files themselves, the ALIF
and conductance-based neurons against their closed forms, runtime against
cpp_standalone for each, and bad declarations answered in one line."""

import math
import os
import sys

import numpy as np
import pytest
from brian2 import Network, SpikeGeneratorGroup, SpikeMonitor, StateMonitor, Synapses, mV, ms, second, start_scope

from brianrules.build.checks import check_neuron
from brianrules.model.neuron import from_builtin, load
from brianrules.neurons import make_group
from brianrules.surrogates import get
from conftest import assert_cpp_matches_runtime, small_spec

NEURONS_DIR = os.path.join(os.path.dirname(__file__), "..", "models", "neurons")
MODELS_DIR = os.path.join(os.path.dirname(__file__), "..", "models")
NEURON_FILES = ("lif", "alif", "coba_lif")
DT = 0.1 * ms


def _neuron(name, **parameters):
    neuron = load(os.path.join(NEURONS_DIR, f"{name}.toml"))
    return neuron.with_parameters(**parameters) if parameters else neuron


def _run(duration, *objects):
    Network(*objects).run(duration, namespace={})


def _f(q, unit=second):
    """A quantity as a float in ``unit``."""
    return float(q / unit)


# -- the files ----------------------------------------------------------------

def test_lif_file_is_the_builtin_lif():
    assert _neuron("lif").to_dict() == from_builtin().to_dict()


@pytest.mark.parametrize("name", NEURON_FILES)
def test_shipped_neuron_files_pass_the_checks(name):
    neuron = _neuron(name)
    check_neuron(neuron)  # raises DeclarationError on a problem
    assert neuron.name == name


# -- ALIF: threshold adaptation -------------------------------------------------

# A constant drive (I_syn(0) = 20 mV with tau_syn = 10^4 s) takes v to -40 mV,
# 10 mV past the bare threshold, so the neuron fires every ~10 ms at first.
# A short adaptation time constant and a large jump (tau_a = 50 ms, beta_a =
# 2 mV, against the file's 100 ms and 0.5 mV) make the threshold climb by a
# few mV and the intervals grow from 106 to ~160 steps within 200 ms.
ALIF_PARAMETERS = dict(tau_syn=1e4 * second, tau_a=50 * ms, beta_a=2 * mV)
ALIF_I0 = 20 * mV
ALIF_STEPS = 2000


@pytest.fixture(scope="module")
def alif_run():
    start_scope()
    neuron = _neuron("alif", **ALIF_PARAMETERS)
    group = make_group(neuron, get("fast_sigmoid"), 1, "alif", set_values=True, dt=DT)
    group.I_syn = ALIF_I0
    states = StateMonitor(group, ["v", "a"], record=True, dt=DT)
    spikes = SpikeMonitor(group)
    _run(ALIF_STEPS * DT, group, states, spikes)
    steps = np.round(spikes.t[:] / DT).astype(int)
    assert np.array_equal(np.round(states.t[:] / DT), np.arange(ALIF_STEPS))
    return neuron, states.v[0] / mV, states.a[0] / mV, steps


def _alif_a(neuron, spike_steps, n_samples):
    """a at the recorded samples (sample n: the state at t_n = n dt, before the
    step of t_n).  The step stamped t_k integrates to t_{k+1}, crosses the
    threshold there and resets, so the spike of step k adds beta_a at t_{k+1}:
    samples n > k hold beta_a exp(-(n - k - 1) dt / tau_a) of it."""
    n = np.arange(n_samples)[:, None]
    k = np.asarray(spike_steps)[None, :]
    decay = np.exp(-np.maximum(n - k - 1, 0) * _f(DT) / _f(neuron.tau_a))
    return _f(neuron.beta_a, mV) * np.where(n > k, decay, 0.0).sum(axis=1)


def _alif_predicted_spikes(neuron, I0, n_steps):
    """The spike steps from closed forms alone.  v follows the linear response
    to I_syn(t) = I0 exp(-t/tau_syn) from where integration (re)starts; after a
    spike at step k, v = v_reset at t_{k+1} and is held until t_{k+t_ref/dt},
    where integration resumes; the next spike is stamped one step before the
    first sample where v exceeds v_th + a."""
    dt, tm, ts = _f(DT), _f(neuron.tau_m), _f(neuron.tau_syn)
    rest, reset, th = (_f(neuron.parameters[k], mV) for k in ("v_rest", "v_reset", "v_th"))
    ref = round(_f(neuron.t_ref) / dt)
    spikes, start, v_start = [], 0, rest
    while True:
        m = np.arange(start + 1, n_steps + 1)  # samples after 1, 2, ... integration steps
        tau = (m - start) * dt
        I_start = _f(I0, mV) * math.exp(-start * dt / ts)
        v = rest + (v_start - rest) * np.exp(-tau / tm) + I_start * ts / (ts - tm) * (np.exp(-tau / ts)
                                                                                       - np.exp(-tau / tm))
        a = _alif_a(neuron, spikes, n_steps + 1)[m]
        above = np.flatnonzero(v > th + a)
        if not above.size:
            return np.array(spikes)
        k = m[above[0]] - 1
        spikes.append(k)
        start, v_start = k + ref, reset


def test_alif_adaptation_is_its_closed_form(alif_run):
    neuron, v, a, steps = alif_run
    assert len(steps) >= 10
    # a(t) = beta_a * sum over earlier spikes of exp(-(t - t_s) / tau_a), with
    # t_s one step after the spike's stamp; exact integration, so only
    # rounding separates them (~n eps after n steps of a *= exp(-dt/tau_a))
    expected = _alif_a(neuron, steps, ALIF_STEPS)
    assert np.all(a[: steps[0] + 1] == 0)
    np.testing.assert_allclose(a[steps[0] + 1:], expected[steps[0] + 1:], rtol=1e-12, atol=0)
    # a spike raises a by exactly beta_a at the next sample
    jump = a[steps + 1] - a[steps] * math.exp(-_f(DT) / _f(neuron.tau_a))
    np.testing.assert_allclose(jump, _f(neuron.beta_a, mV), rtol=1e-9)


def test_alif_fires_where_v_first_exceeds_the_adapted_threshold(alif_run):
    neuron, v, a, steps = alif_run
    th, reset = _f(neuron.v_th, mV), _f(neuron.v_reset, mV)
    # v before the reset of a spiking step is not observable; every recorded
    # sample, the one before each spike included, is at or below v_th + a ...
    assert np.all(v <= th + a)
    assert np.all(v[steps + 1] == reset)
    # ... and the spikes are those of the closed forms, to the step
    predicted = _alif_predicted_spikes(neuron, ALIF_I0, ALIF_STEPS)
    assert np.array_equal(steps, predicted), (steps, predicted)
    # the first spike is the LIF's (a = 0): ceil(T/dt) - 1 steps with
    # T = tau_m ln(I0 / (v_rest + I0 - v_th)) for a constant drive (tau_syn
    # = 10^4 s shifts T by ~1e-9 of a step)
    T = _f(neuron.tau_m) * math.log(_f(ALIF_I0, mV) / (_f(neuron.v_rest, mV) + _f(ALIF_I0, mV) - th))
    assert steps[0] == math.ceil(T / _f(DT)) - 1
    # adaptation: the threshold at each spike and the intervals grow while a
    # accumulates; the last is half as long again as the first
    isi = np.diff(steps)
    assert np.all(np.diff(a[steps[:8]]) > 0)
    assert np.all(np.diff(isi[:7]) > 0)
    assert isi[-1] > 1.4 * isi[0]


# -- COBA: conductance response -------------------------------------------------

COBA_V0 = -55 * mV


def _coba_group(neuron, name, g_e, g_i, v0, dt=DT):
    group = make_group(neuron, get("fast_sigmoid"), 1, name, set_values=True, dt=dt)
    group.g_e, group.g_i, group.v = g_e, g_i, v0
    return group


def test_coba_constant_conductance_is_exact():
    """g_e held constant: v relaxes exponentially to the conductance-weighted
    mean of v_rest and E_e with the faster rate (1 + g0) / tau_m.  Exponential
    Euler integrates v exactly while the conductances are constant over a
    step, so only rounding separates it from the closed form (~1e-15 measured;
    1e-12 relative asserted).  tau_e = 10^20 s makes exp(-dt/tau_e) exactly 1:
    with 10^4 s, g_e would drift by 1e-5 in 100 ms and v by ~1e-4 mV."""
    start_scope()
    neuron = _neuron("coba_lif", tau_e=1e20 * second, v_th=100 * mV)
    g0 = 0.7
    group = _coba_group(neuron, "coba_constant", g0, 0.0, COBA_V0)
    states = StateMonitor(group, ["v", "g_e", "g_i"], record=True, dt=DT)
    _run(100 * ms, group, states)
    t = states.t[:] / second
    rest, E_e, v0 = (_f(q, mV) for q in (neuron.v_rest, neuron.E_e, COBA_V0))
    v_inf = (rest + g0 * E_e) / (1 + g0)
    expected = v_inf + (v0 - v_inf) * np.exp(-(1 + g0) * t / _f(neuron.tau_m))
    assert np.all(states.g_e[0] == g0) and np.all(states.g_i[0] == 0)
    np.testing.assert_allclose(states.v[0] / mV, expected, rtol=1e-12, atol=0)
    assert abs(states.v[0][-1] / mV - v_inf) < 1e-6  # relaxed: the test covers the whole approach


def _coba_rk4(neuron, g_e0, g_i0, v0, n_steps, dt, sub=200, E_i=None, g_scale=1.0):
    """v at the samples 0..n_steps-1 by classical RK4 at dt/sub; the
    conductances are their exact exponentials.  ``E_i`` and ``g_scale``
    replace E_i and scale both conductances (the wrong models the test must
    tell apart)."""
    tm, te, ti = _f(neuron.tau_m), _f(neuron.tau_e), _f(neuron.tau_i)
    rest, E_e = _f(neuron.v_rest, mV), _f(neuron.E_e, mV)
    E_i = _f(neuron.E_i, mV) if E_i is None else _f(E_i, mV)
    h = dt / sub
    tt = np.arange(2 * n_steps * sub + 1) * h / 2  # every half step
    ge = (g_scale * g_e0 * np.exp(-tt / te)).tolist()
    gi = (g_scale * g_i0 * np.exp(-tt / ti)).tolist()

    def f(j, v):
        return (rest - v + ge[j] * (E_e - v) + gi[j] * (E_i - v)) / tm

    out, v = [v0], v0
    for step in range(n_steps - 1):
        for s in range(sub):
            j = 2 * (step * sub + s)
            k1 = f(j, v)
            k2 = f(j + 1, v + h / 2 * k1)
            k3 = f(j + 1, v + h / 2 * k2)
            k4 = f(j + 2, v + h * k3)
            v += h / 6 * (k1 + 2 * k2 + 2 * k3 + k4)
        out.append(v)
    return np.array(out)


def test_coba_decaying_conductances_against_rk4():
    """Both conductances open and decaying (tau_e = 5 ms, tau_i = 10 ms):
    exponential Euler holds them at their start-of-step values, an O(dt)
    error of about dt / (2 tau) in the conductances.  Measured against RK4 at
    dt/200 (itself accurate to ~1e-12 mV): 0.064 mV at dt = 0.1 ms and 0.0063
    mV at 0.01 ms.  Asserted: 0.1 mV and 0.01 mV, and first-order convergence.
    A sign error in E_i moves v by ~60 mV, conductances off by a factor 5
    by ~2.5 mV and g_e off by 5% by ~0.5 mV: all far outside."""
    g_e0, g_i0 = 1.5, 2.0
    neuron = _neuron("coba_lif", v_th=100 * mV)
    n = 1000  # samples every 0.1 ms over 100 ms
    reference = _coba_rk4(neuron, g_e0, g_i0, _f(COBA_V0, mV), n, _f(DT))
    errors = []
    for dt, tol in ((DT, 0.1), (DT / 10, 0.01)):
        start_scope()
        group = _coba_group(neuron, "coba_decay", g_e0, g_i0, COBA_V0, dt=dt)
        states = StateMonitor(group, ["v", "g_e", "g_i"], record=True, dt=DT)
        _run(n * DT, group, states)
        t = states.t[:] / second
        np.testing.assert_allclose(states.g_e[0], g_e0 * np.exp(-t / _f(neuron.tau_e)), rtol=1e-12)
        np.testing.assert_allclose(states.g_i[0], g_i0 * np.exp(-t / _f(neuron.tau_i)), rtol=1e-12)
        v = states.v[0] / mV
        errors.append(np.abs(v - reference).max())
        assert errors[-1] < tol, (dt, errors[-1])
    assert 7 < errors[0] / errors[1] < 13  # O(dt): the error is the method's, not the model's
    # excitation wins early, the slower inhibition later: v rises past its
    # start, then dips below rest on its way back
    v0, rest = _f(COBA_V0, mV), _f(neuron.v_rest, mV)
    assert reference.max() > v0 + 1 and reference.min() < rest - 1 and np.argmax(reference) < np.argmin(reference)
    # the wrong models are far outside the tolerance (RK4 at dt/20 is plenty for that)
    wrong = {"E_i = +80 mV": (g_e0, g_i0, dict(E_i=80 * mV)), "conductances x 0.2": (g_e0, g_i0, dict(g_scale=0.2)),
             "g_e x 1.05": (1.05 * g_e0, g_i0, {})}
    for what, (ge, gi, kw) in wrong.items():
        other = _coba_rk4(neuron, ge, gi, v0, n, _f(DT), sub=20, **kw)
        assert np.abs(other - reference).max() > 0.3, what


def test_coba_weight_sign_picks_the_conductance():
    """A spike of weight -1 opens g_i by g_unit and leaves g_e at 0; one of
    weight +0.5 opens g_e by 0.5 g_unit and leaves g_i at 0.  The synapse's
    statement is the neuron's input port (`NeuronModel.delivery`)."""
    start_scope()
    neuron = _neuron("coba_lif")
    group = make_group(neuron, get("fast_sigmoid"), 2, "coba_input", set_values=True, dt=DT)
    source = SpikeGeneratorGroup(2, [0, 1], [1, 3] * ms, dt=DT)
    syn = Synapses(source, group, model="w : 1", on_pre=neuron.delivery(), dt=DT)
    syn.connect(i=[0, 1], j=[0, 1])
    syn.w = [-1.0, 0.5]
    states = StateMonitor(group, ["v", "g_e", "g_i"], record=True, dt=DT)
    _run(20 * ms, group, source, syn, states)
    g_unit = neuron.g_unit
    t = states.t[:] / second
    # inhibitory, delivered in step 10 (t = 1 ms): seen from sample 11 on
    inh = np.where(t > 1.05e-3, g_unit * np.exp(-(t - 1.1e-3) / _f(neuron.tau_i)), 0.0)
    assert np.all(states.g_e[0] == 0)
    assert states.g_i[0][11] == pytest.approx(g_unit, rel=1e-15)
    np.testing.assert_allclose(states.g_i[0], inh, rtol=1e-12, atol=0)
    # excitatory, delivered in step 30
    exc = np.where(t > 3.05e-3, 0.5 * g_unit * np.exp(-(t - 3.1e-3) / _f(neuron.tau_e)), 0.0)
    assert np.all(states.g_i[1] == 0)
    np.testing.assert_allclose(states.g_e[1], exc, rtol=1e-12, atol=0)
    # v moves towards the reversal potential of the conductance that opened
    rest = _f(neuron.v_rest, mV)
    assert states.v[0].min() / mV < rest - 0.5 and states.v[0].max() / mV <= rest
    assert states.v[1].max() / mV > rest + 0.5 and states.v[1].min() / mV >= rest


# -- runtime and cpp_standalone agree, for each neuron --------------------------

N_SAMPLES = 6


@pytest.fixture(scope="module", params=NEURON_FILES)
def neuron_program(request, build_root):
    """A small network of each neuron and its C++ program, built once per
    test session; module-scoped, so that the programs are closed when the
    module ends (a live program's code objects would give a later program of
    the same structure suffixed names, another code hash, and a rebuild)."""
    from brianrules.devices import StandaloneRunner

    spec = small_spec(neuron=_neuron(request.param))
    runner = StandaloneRunner(spec, N_SAMPLES, build_dir=str(build_root / f"neuron-{request.param}"),
                              progress=False)
    yield spec, runner
    runner.close()


@pytest.mark.slow
@pytest.mark.standalone
def test_runtime_and_cpp_standalone_agree_for_each_neuron(neuron_program):
    spec, cpp_runner = neuron_program
    assert_cpp_matches_runtime(spec, cpp_runner, N_SAMPLES)


# -- bad declarations: one line, exit status 2, nothing built ---------------------

ALIF_MODEL = os.path.join(MODELS_DIR, "alif_digits.toml")
RESET = 'reset = "v = v_reset; a += beta_a; x += 1"'

# (text replaced in models/alif_digits.toml, its replacement, what the one
# line must contain besides the file's path)
BAD_DECLARATIONS = [
    pytest.param("dv/dt = (v_rest - v + I_syn) / tau_m : volt", "dv/dt = (v_rest - v + I_syn) : volt",
                 ["[neuron] equations", "Inconsistent units", "'v'"], id="equation-units"),
    pytest.param('threshold = "v > v_th + a"', 'threshold = "v > 1"', ["[neuron] threshold", "different units"],
                 id="threshold-units"),
    pytest.param(RESET, RESET.replace("v = v_reset", "v = 0"), ["[neuron] reset", "does not have the expected unit"],
                 id="reset-units"),
    pytest.param('threshold = "v > v_th + a"', 'threshold = "v > v_th + b"',
                 ["[neuron] threshold", "unknown identifier 'b'"], id="threshold-unknown-identifier"),
    pytest.param('input = "I_syn"', 'input = "I_in"', ["[neuron] input", "'I_in' names no state variable"],
                 id="input-names-no-variable"),
    pytest.param('trace = "x"', 'trace = "y"', ["[neuron] trace", "'y' names no state variable"],
                 id="trace-names-no-variable"),
    pytest.param('threshold = "v > v_th + a"\n', "", ["[neuron]", "no 'threshold'"], id="missing-threshold"),
    pytest.param('tau_a = "100*ms"', "tau_a = 100", ["[neuron.parameters] tau_a", "has no unit"],
                 id="parameter-without-unit"),
    pytest.param(RESET, RESET[:-1] + '; b += 1"', ["[neuron] reset", "writes 'b', not a state variable"],
                 id="reset-writes-undeclared"),
    pytest.param(RESET, RESET[:-1] + '; beta_a += 1*mV"', ["[neuron] reset", "writes 'beta_a', a parameter"],
                 id="reset-writes-parameter"),
    pytest.param('trace = "x"', 'trace = "x"\nthreshhold = "v > v_th"', ["[neuron]", "unknown key 'threshhold'"],
                 id="unknown-key"),
    pytest.param('surrogate_of = "(v - v_th - a) / (v_th - v_reset)"', 'surrogate_of = "v - v_th"',
                 ["[neuron] surrogate_of", "dimensionless"], id="surrogate-with-units"),
]


def _builds():
    """The build folders of the session's cache (other tests may have built some)."""
    builds = os.path.join(os.environ["BRIANRULES_CACHE"], "build")
    return set(os.listdir(builds)) if os.path.exists(builds) else set()


def _train(capfd, monkeypatch, model, tmp_path):
    """`brianrules train --model MODEL`: its exit status and stderr's lines.
    Brian2's console log is sent to the captured stderr, as it goes to the
    terminal of a user (its handler keeps the stream of the import)."""
    from brian2.utils.logger import BrianLogger

    from brianrules.cli import main

    capfd.readouterr()
    monkeypatch.setattr(BrianLogger.console_handler, "stream", sys.stderr)
    before = _builds()
    code = main(["train", "--model", str(model), "--out", str(tmp_path / "out"), "--epochs", "1"])
    out, err = capfd.readouterr()
    assert not (tmp_path / "out").exists()  # nothing written
    assert _builds() == before  # nothing built
    return code, err.strip().splitlines()


@pytest.mark.parametrize("old,new,words", BAD_DECLARATIONS)
def test_bad_declaration_is_one_line_and_exit_2(capfd, monkeypatch, tmp_path, old, new, words):
    with open(ALIF_MODEL) as f:
        text = f.read()
    assert text.count(old) == 1
    model = tmp_path / "model.toml"
    model.write_text(text.replace(old, new))
    code, lines = _train(capfd, monkeypatch, model, tmp_path)
    assert code == 2
    assert len(lines) == 1, lines
    assert lines[0].startswith("brianrules: error: ") and str(model) in lines[0], lines[0]
    for w in words:
        assert w in lines[0], (w, lines[0])


def test_missing_neuron_file_is_one_line_and_exit_2(capfd, monkeypatch, tmp_path):
    with open(ALIF_MODEL) as f:
        text = f.read()
    model = tmp_path / "model.toml"
    model.write_text('[neuron]\nfile = "missing.toml"\n\n' + text[text.index("[rule]"):])
    code, lines = _train(capfd, monkeypatch, model, tmp_path)
    assert code == 2
    assert len(lines) == 1, lines
    assert str(model) in lines[0] and "[neuron] file" in lines[0] and "missing.toml does not exist" in lines[0]


def test_python_api_takes_brian2_equations_and_quantities():
    """The declarations in Python: equations as a Brian2 `Equations`, the
    parameters as quantities; the same neuron as the file's."""
    from brian2 import Equations, mV, ms

    from brianrules.model.neuron import NeuronModel

    text = load(os.path.join(NEURONS_DIR, "alif.toml")).to_dict()
    declared = NeuronModel.from_dict({
        **{k: v for k, v in text.items() if k not in ("parameters", "equations")},
        "equations": Equations(text["equations"]),
        "parameters": {"tau_m": 10 * ms, "tau_syn": 5 * ms, "tau_a": 100 * ms, "beta_a": 0.5 * mV,
                       "tau_trace": 10 * ms, "v_rest": -60 * mV, "v_reset": -60 * mV, "v_th": -50 * mV,
                       "t_ref": 2 * ms}}, source="python")
    check_neuron(declared)
    shipped = load(os.path.join(NEURONS_DIR, "alif.toml"))
    assert str(declared.brian2_equations(get("fast_sigmoid"))) == str(shipped.brian2_equations(get("fast_sigmoid")))
    assert declared.to_dict()["parameters"] == text["parameters"]
