"""The LIF neuron against its closed forms, in runtime mode and as a C++ program."""

import numpy as np
import pytest
from brian2 import SpikeMonitor, StateMonitor, mV, ms, run, second

from brianrules.devices import cpp_standalone
from brianrules.neurons import LIF, make_group
from brianrules.surrogates import get

NEURON = LIF()
DT = 0.1 * ms
CURRENTS_MV = np.array([5.0, 10.5, 12.0, 15.0, 20.0, 40.0, 80.0])


def _simulate(duration=1 * second):
    """Decay from two starting voltages (one with synaptic current) and an f-I curve."""
    from brian2 import defaultclock

    defaultclock.dt = DT
    decay = make_group(NEURON, get("fast_sigmoid"), 2, "decay")
    decay.v = [-52, -58] * mV
    decay.I_syn = [0, 6] * mV
    fi = make_group(NEURON, get("fast_sigmoid"), len(CURRENTS_MV), "fi")
    fi.I_ext = CURRENTS_MV * mV
    trace = StateMonitor(decay, "v", record=True)
    spikes = SpikeMonitor(fi)
    run(duration)
    return trace.t[:] / second, trace.v[:] / mV, spikes.count[:] / float(duration / second)


def expected_decay(t):
    """v(t) for I_ext = 0: v_rest + (v0 - v_rest) e^{-t/tau_m} plus the
    response to a synaptic current I0 e^{-t/tau_syn}."""
    tm, ts = float(NEURON.tau_m / second), float(NEURON.tau_syn / second)
    rest = float(NEURON.v_rest / mV)
    v0 = np.array([-52.0, -58.0])[:, None]
    I0 = np.array([0.0, 6.0])[:, None]
    return rest + (v0 - rest) * np.exp(-t / tm) + I0 * ts / (ts - tm) * (np.exp(-t / ts) - np.exp(-t / tm))


def expected_rate(I_mV):
    """f-I curve of the LIF with constant input I (in mV): 1 / (t_ref + T)
    with T = tau_m ln((v_rest + I - v_reset) / (v_rest + I - v_th)), and the
    same on the simulation's time grid: integration resumes in the step that
    starts t_ref after the spike, the crossing is found after ceil(T / dt)
    steps, and the spike is stamped with the start time of that step, so the
    interval is t_ref + (ceil(T / dt) - 1) dt."""
    tm = float(NEURON.tau_m / second)
    dt = float(DT / second)
    t_ref = float(NEURON.t_ref / second)
    rest, reset, th = (float(q / mV) for q in (NEURON.v_rest, NEURON.v_reset, NEURON.v_th))
    above = rest + I_mV > th
    T = np.full(I_mV.shape, np.inf)
    T[above] = tm * np.log((rest + I_mV[above] - reset) / (rest + I_mV[above] - th))
    exact = np.where(above, 1.0 / (t_ref + T), 0.0)
    steps = np.where(above, 1.0 / (t_ref + (np.ceil(T / dt - 1e-9) - 1) * dt), 0.0)
    return exact, steps


def _check(t, v, rates):
    assert np.allclose(v, expected_decay(t), atol=1e-9)  # mV: exact integration
    exact, stepped = expected_rate(CURRENTS_MV)
    assert rates[0] == 0 and exact[0] == 0  # 5 mV stays below threshold
    assert np.all(rates[1:] > 0)
    # within one spike of the time-discretised closed form over 1 s ...
    assert np.all(np.abs(rates - stepped) <= 1.0 + 1e-9)
    # ... and within the discretisation error of the continuous one
    assert np.all(np.abs(rates - exact) <= exact**2 * float(DT / second) + 1.0)


def test_lif_closed_forms_runtime():
    _check(*_simulate())


@pytest.mark.slow
@pytest.mark.standalone
def test_lif_closed_forms_cpp_standalone(tmp_path):
    with cpp_standalone(str(tmp_path / "lif")):
        t, v, rates = _simulate()
    _check(t, v, rates)


def test_bad_neuron_parameters_name_the_problem():
    with pytest.raises(ValueError, match="tau_m must be positive"):
        LIF(tau_m=-1 * ms)
    with pytest.raises(ValueError, match="tau_syn must be in units of"):
        LIF(tau_syn=5 * mV)
    with pytest.raises(ValueError, match="v_th .* must lie above v_reset"):
        LIF(v_th=-70 * mV)


def test_exact_integration_is_brian2s_and_remembered_on_disk(tmp_path, monkeypatch):
    """The disk-cached state updater returns Brian2's exact solution, and a
    later call (a later process) reads it from the cache instead of sympy."""
    import glob

    from brian2 import NeuronGroup
    from brian2.stateupdaters.base import StateUpdateMethod

    from brianrules.neurons import LIF
    from brianrules.singularities import SWITCH, remove_singularities
    from brianrules.stateupdate import exact
    from brianrules.surrogates import Surrogate

    monkeypatch.setenv("BRIANRULES_CACHE", str(tmp_path))
    eqs = LIF().brian2_equations(Surrogate())
    group = NeuronGroup(3, eqs, method="euler")
    variables = group.variables
    code = exact()(eqs, variables)
    # Brian2's own solution, made safe where tau_m = tau_syn (tests/test_degenerate.py)
    assert code == remove_singularities(StateUpdateMethod.stateupdaters["exact"](eqs, variables), eqs, variables,
                                        SWITCH["float64"])
    assert "exp(" in code and "_v =" in code
    files = glob.glob(str(tmp_path / "stateupdaters" / "exact-*.txt"))
    assert len(files) == 1
    with open(files[0], "w") as f:
        f.write("_v = v  # from the cache")
    assert exact()(eqs, variables) == "_v = v  # from the cache"
    # other equations: another entry
    other = LIF().brian2_equations(get("arctan"))
    exact()(other, NeuronGroup(3, other, method="euler").variables)
    assert len(glob.glob(str(tmp_path / "stateupdaters" / "exact-*.txt"))) == 2
