"""Equal time constants: the exact solution's removable singularities.

Brian2's exact solution of the LIF neuron divides by ``tau_m - tau_syn``; at
``tau_m = tau_syn = tau`` the response to a synaptic current ``I0`` is
``v - v_rest = I0 (t/tau) e^{-t/tau}``.  The generated code (runtime, and
the C++ program in float64 and float32), the NumPy reference and a short
training are checked at and near that value, and two other declared linear
neurons whose solutions have singularities of their own (a perfect
integrator, a chain of three equal time constants) against their closed
forms.
"""

import math

import mpmath
import numpy as np
import pytest
from brian2 import Equations, Network, NeuronGroup, StateMonitor, defaultclock, mV, ms, nS, pA, pF, second

from brianrules.neurons import LIF, make_group
from brianrules.stateupdate import exact
from brianrules.surrogates import get

DT = 0.1 * ms
TAU = 5 * ms
I0_MV = 20.0  # peak response I0/e = 7.4 mV, below the 10 mV from rest to threshold
DURATION = 50 * ms
#: relative offsets of tau_syn from tau_m checked near the singularity: at dt = 0.1 ms the
#: exponent difference |w| is 2e-11 ... 2e-5 (the Taylor branch, |w| < 1e-3) and 1.8e-3 (generic)
NEAR = (1e-9, 1e-6, 1e-3, 1e-1)


def _lif_traces(pairs, method=None):
    """Times (s), v - v_rest (mV) of one LIF neuron per (tau_m, tau_syn) from
    I_syn = I0, and the floating-point type of the recorded v."""
    defaultclock.dt = DT
    groups, monitors = [], []
    for k, (tm, ts) in enumerate(pairs):
        g = make_group(LIF(tau_m=tm, tau_syn=ts), get("fast_sigmoid"), 1, f"lif_{k}", method=method)
        g.I_syn = I0_MV * mV
        groups.append(g)
        monitors.append(StateMonitor(g, "v", record=0))
    Network(groups + monitors).run(DURATION)
    rest = float(LIF().v_rest / mV)
    return monitors[0].t[:] / second, [m.v[0] / mV - rest for m in monitors], monitors[0].v_[:].dtype


def degenerate_response(t, tau):
    """I0 (t/tau) e^{-t/tau}: the response at tau_m = tau_syn = tau (mV)."""
    return I0_MV * (t / tau) * np.exp(-t / tau)


def generic_response(t, tau_m, tau_syn):
    """I0 tau_syn / (tau_syn - tau_m) (e^{-t/tau_syn} - e^{-t/tau_m}), in 40 digits (mV)."""
    mpmath.mp.dps = 40
    tm, ts = mpmath.mpf(tau_m), mpmath.mpf(tau_syn)
    return np.array([float(I0_MV * ts / (ts - tm) * (mpmath.exp(-mpmath.mpf(x) / ts) - mpmath.exp(-mpmath.mpf(x) / tm)))
                     for x in t])


def test_equal_time_constants_follow_the_degenerate_closed_form():
    near = [(TAU, TAU * (1 + d)) for d in NEAR]
    t, traces, _ = _lif_traces([(TAU, TAU)] + near)
    tau = float(TAU / second)
    # at tau_m = tau_syn the step uses the limit itself: exact to rounding
    assert np.max(np.abs(traces[0] - degenerate_response(t, tau))) < 1e-12  # mV
    assert np.max(traces[0]) == pytest.approx(I0_MV / math.e, rel=1e-3)
    # near it, the generic closed form in 40 digits; measured: under 1e-13 mV,
    # where Brian2's own code is off by 4.6e-5, 2.5e-8 and 4.2e-11 mV at
    # 1e-9, 1e-6 and 1e-3
    for (tm, ts), v in zip(near, traces[1:], strict=True):
        expected = generic_response(t, float(tm / second), float(ts / second))
        assert np.max(np.abs(v - expected)) < 1e-12, (tm, ts)


def test_brian2s_own_exact_code_is_nan_at_equal_time_constants():
    """What the rewriting is for: Brian2's code evaluates 0/0."""
    _, traces, _ = _lif_traces([(TAU, TAU)], method="exact")
    assert np.all(np.isnan(traces[0][1:]))


@pytest.mark.slow
@pytest.mark.standalone
@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_equal_time_constants_in_the_cpp_program(tmp_path, dtype):
    """The C++ program against the same closed forms.  Its float32 constants
    are computed in float32, where Brian2's own code is NaN at 1e-9, off by
    7.4 mV (its own size) at 1e-6 and by 8.3e-5 mV at 1e-3; this code stays
    within float32's rounding of v over 500 steps (measured 1.6e-5 mV)."""
    from brianrules.devices import cpp_standalone
    from brianrules.floats import float_dtype

    pairs = [(TAU, TAU)] + [(TAU, TAU * (1 + d)) for d in NEAR]
    with float_dtype(dtype), cpp_standalone(str(tmp_path / "lif")):
        t, traces, recorded = _lif_traces(pairs)
    assert recorded == np.dtype(dtype)
    tol = {"float64": 1e-12, "float32": 4e-5}[dtype]  # mV
    tau = float(TAU / second)
    assert np.max(np.abs(traces[0] - degenerate_response(t, tau))) < tol
    for (tm, ts), v in zip(pairs[1:], traces[1:], strict=True):
        assert np.max(np.abs(v - generic_response(t, float(tm / second), float(ts / second)))) < tol, (tm, ts)


def test_reference_gives_the_degenerate_closed_form():
    from brianrules import reference as ref

    dt = float(DT / second)
    tau = float(TAU / second)
    n = int(round(float(DURATION / DT)))
    t = np.arange(n) * dt
    for tm, ts, expected in [(TAU, TAU, degenerate_response(t, tau))] + [
            (TAU, TAU * (1 + d), generic_response(t, tau, tau * (1 + d))) for d in NEAR]:
        c = ref.lif_constants(LIF(tau_m=tm, tau_syn=ts), dt)
        assert math.isfinite(c.c_syn)
        state = ref.lif_rest(1, c)._replace(i_syn=np.array([I0_MV * 1e-3]))
        v = []
        for step in range(n):
            v.append(state.v[0])
            state = ref.lif_integrate(state, c, step * dt)
        assert np.max(np.abs((np.array(v) - c.v_rest) * 1e3 - expected)) < 1e-12, (tm, ts)
    c = ref.lif_constants(LIF(tau_m=TAU, tau_syn=TAU), dt)
    assert c.c_syn == pytest.approx(dt / tau * math.exp(-dt / tau), rel=1e-15)


def test_reference_keeps_the_generic_form_away_from_equality():
    """Outside the band the reference's arithmetic is the generated code's, unchanged."""
    from brianrules import reference as ref

    dt = 5e-4
    tm, ts = 10e-3, 5e-3
    a = ts * math.exp(-dt / ts)
    b = -math.exp(dt / ts)
    generic = ((a * (b + math.exp(dt / tm))) * math.exp(-dt / tm)) / (-tm + ts)
    assert ref.lif_constants(LIF(tau_m=tm * second, tau_syn=ts * second), dt).c_syn == generic


# -- other declared linear neurons -------------------------------------------


def _run(eqs, values, initial, record, duration=20 * ms):
    defaultclock.dt = DT
    groups, monitors = [], []
    for k, vals in enumerate(values):
        g = NeuronGroup(1, Equations(eqs), method=exact(), name=f"user_{k}")
        for key, value in {**vals, **initial}.items():
            setattr(g, key, value)
        groups.append(g)
        monitors.append(StateMonitor(g, record, record=0))
    Network(groups + monitors).run(duration)
    return monitors[0].t[:] / second, monitors


def test_perfect_integrator_limit_of_a_leaky_neuron():
    """C dv/dt = g_L (E_L - v) + I divides by g_L; g_L = 0 is a perfect integrator."""
    eqs = """dv/dt = (g_L*(E_L - v) + I)/C : volt
             g_L : siemens (shared, constant)
             E_L : volt (shared, constant)
             I : amp (shared, constant)
             C : farad (shared, constant)"""
    C, I, E_L = 200 * pF, 100 * pA, -70 * mV
    g_values = [0 * nS, 1e-9 * nS, 10 * nS]
    t, mons = _run(eqs, [dict(g_L=g, C=C, I=I, E_L=E_L) for g in g_values], {"v": E_L}, "v")
    c, i, e = float(C), float(I), float(E_L)
    assert np.max(np.abs(mons[0].v[0] / mV - (e + i * t / c) * 1e3)) < 1e-12  # mV
    mpmath.mp.dps = 40
    for g, mon in zip(g_values[1:], mons[1:], strict=True):
        gl = mpmath.mpf(float(g))
        expected = [float((e + i / gl * (1 - mpmath.exp(-gl * mpmath.mpf(x) / c))) * 1e3) for x in t]
        assert np.max(np.abs(mon.v[0] / mV - expected)) < 1e-12, g


def test_three_equal_time_constants_in_a_chain():
    """tau_m dv/dt = I1 - v, tau_1 dI1/dt = I2 - I1, tau_2 dI2/dt = -I2: the
    solution divides by the three differences; with all three equal to tau
    and I2(0) = J, v(t) = J (t/tau)^2 / 2 e^{-t/tau}."""
    eqs = """dv/dt = (-v + I1)/tau_m : volt
             dI1/dt = (-I1 + I2)/tau_1 : volt
             dI2/dt = -I2/tau_2 : volt
             tau_m : second (shared, constant)
             tau_1 : second (shared, constant)
             tau_2 : second (shared, constant)"""
    tau, J = 5 * ms, 10 * mV
    cases = [dict(tau_m=tau, tau_1=tau, tau_2=tau),  # all equal
             dict(tau_m=tau, tau_1=tau, tau_2=2 * tau),  # two equal
             dict(tau_m=tau, tau_1=tau * (1 + 1e-7), tau_2=tau * (1 - 1e-7))]  # all nearly equal
    t, mons = _run(eqs, cases, {"I2": J}, "v")
    x = t / float(tau)
    j = float(J / mV)
    assert np.max(np.abs(mons[0].v[0] / mV - j * x**2 / 2 * np.exp(-x))) < 1e-12
    for case, mon in zip(cases[1:], mons[1:], strict=True):
        assert np.max(np.abs(mon.v[0] / mV - chain_response(t, j, **case))) < 1e-12, case


def chain_response(t, j, tau_m, tau_1, tau_2):
    """v(t) of the chain from I2(0) = j: the first entry of exp(A t) (0, 0, j), in 40 digits."""
    mpmath.mp.dps = 40
    tm, t1, t2 = (mpmath.mpf(float(x / second)) for x in (tau_m, tau_1, tau_2))
    A = mpmath.matrix([[-1 / tm, 1 / tm, 0], [0, -1 / t1, 1 / t1], [0, 0, -1 / t2]])
    return np.array([float((mpmath.expm(A * mpmath.mpf(x)) * mpmath.matrix([0, 0, j]))[0]) for x in t])


# -- training ----------------------------------------------------------------


@pytest.mark.slow
@pytest.mark.standalone
def test_training_with_equal_time_constants_learns_as_near_them(tmp_path):
    """--tau-m 5 with tau_syn 5 trains as 5.01 does (it reported "diverged"
    before): one program for both, as the values are run values."""
    from brianrules.training import TrainConfig, train

    base = dict(hidden=[30], epochs=1, t_sample_ms=50.0, seed=0, device="cpp_standalone")
    accuracy = {}
    for tau_syn in (5.0, 5.01):
        rows = train(TrainConfig(**base, tau_m_ms=5.0, tau_syn_ms=tau_syn), tmp_path / f"run_{tau_syn}",
                     progress=False, log=lambda *a: None)
        with np.load(tmp_path / f"run_{tau_syn}" / "weights.npz") as z:
            assert all(np.all(np.isfinite(z[k])) for k in ("w_1", "w_2"))
        accuracy[tau_syn] = float(rows[-1]["test_acc"])
    assert accuracy[5.0] >= 0.6  # chance is 0.1
    assert abs(accuracy[5.0] - accuracy[5.01]) <= 0.03
