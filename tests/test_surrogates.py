"""Analytic checks of every surrogate derivative (sympy) and of its Brian2 form."""

import numpy as np
import pytest
import sympy

from brianrules import surrogates
from brianrules.surrogates import height, width, x

NAMES = surrogates.NAMES


@pytest.mark.parametrize("name", NAMES)
def test_peak_at_threshold_equals_height(name):
    expr = surrogates.get(name).expression
    assert sympy.simplify(expr.subs(x, 0) - height) == 0
    # no point is higher than the peak
    xs = np.linspace(-5, 5, 2001)
    f = sympy.lambdify(x, expr.subs({width: 0.7, height: 2.0}), "numpy")
    values = np.broadcast_to(f(xs), xs.shape)
    assert values.max() <= 2.0 + 1e-12


@pytest.mark.parametrize("name", NAMES)
def test_symmetric_and_falling_with_distance(name):
    expr = surrogates.get(name).expression.subs({width: 1.3, height: 1.0})
    f = sympy.lambdify(x, expr, "numpy")
    xs = np.linspace(0, 4, 401)
    left = np.broadcast_to(f(-xs), xs.shape)
    right = np.broadcast_to(f(xs), xs.shape)
    assert np.allclose(left, right)
    assert np.all(np.diff(right) <= 1e-15)  # non-increasing away from threshold
    assert right[-1] < right[0]


@pytest.mark.parametrize("name", NAMES)
def test_area_matches_closed_form(name):
    s = surrogates.get(name)
    w, h = sympy.Rational(3, 4), sympy.Rational(5, 2)
    numeric = s.expression.subs({width: w, height: h})
    area = sympy.integrate(numeric, (x, -sympy.oo, sympy.oo))
    expected = s.area.subs({width: w, height: h})
    assert sympy.simplify(area - expected) == 0


@pytest.mark.parametrize("name", NAMES)
def test_brian2_string_matches_sympy(name):
    """The generated Brian2 expression gives the sympy values, in Brian2 itself."""
    from brian2 import NeuronGroup, mV

    s = surrogates.Surrogate(name, width=0.8, height=1.7)
    # mV, threshold -50 mV, reset -60 mV; the offset keeps the grid off the
    # boxcar's edges, where float rounding decides a strict inequality
    vs = np.linspace(-70, -30, 81) + 0.0123
    G = NeuronGroup(
        len(vs),
        f"""v : volt
        psi = {s.brian2('(v - v_th) / (v_th - v_reset)')} : 1
        v_th : volt (shared, constant)
        v_reset : volt (shared, constant)
        sg_width : 1 (shared, constant)
        sg_height : 1 (shared, constant)""",
    )
    G.v = vs * mV
    G.v_th = -50 * mV
    G.v_reset = -60 * mV
    G.sg_width = 0.8
    G.sg_height = 1.7
    f = sympy.lambdify(x, s.numeric(), "numpy")
    expected = np.broadcast_to(f((vs + 50) / 10), vs.shape)
    assert np.allclose(G.psi[:], expected, rtol=1e-12, atol=1e-12)
    G._nonunused = True  # evaluated directly, never simulated


def test_bad_surrogate_names_the_problem():
    with pytest.raises(ValueError, match="unknown surrogate 'tanh'"):
        surrogates.get("tanh")
    with pytest.raises(ValueError, match="width must be a positive number"):
        surrogates.get("boxcar", width=0)
    with pytest.raises(ValueError, match="height must be a positive number"):
        surrogates.get("boxcar", height=float("nan"))
