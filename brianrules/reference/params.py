"""The reference simulator's parameters: plain floats and flags derived
once from a `NetworkSpec`, and the check of what the reference models."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np

from ..rules.optimizers import SGD
from ..singularities import SWITCH

#: Brian2 stores the last spike time of a neuron that never fired as this (s)
NEVER_SPIKED = -10000.0


# ---------------------------------------------------------------------------
# parameters: plain floats derived once from a NetworkSpec
# ---------------------------------------------------------------------------


class LIFConstants(NamedTuple):
    """The loop-invariant constants of the exact LIF update (SI units)."""

    dt: float
    v_rest: float
    v_reset: float
    v_th: float
    ref_steps: int  # t_ref in whole time steps
    c_syn: float  # weight of I_syn(t) in v(t + dt)
    decay_m: float  # exp(-dt / tau_m)
    minus_v_rest: float  # 0 - v_rest
    decay_syn: float  # exp(-dt / tau_syn)
    decay_trace: float  # exp(-dt / tau_trace)


def _timestep(t, dt):
    """Brian2's conversion of a time to whole steps (truncating, with a
    tolerance of a thousandth of a step)."""
    return int((t + 1e-3 * dt) / dt)


def lif_constants(neuron, dt) -> LIFConstants:
    """Constants of one step of the LIF equations of `neurons.LIF`.

    Solution over one step of
        tau_m dv/dt = v_rest - v + I_syn,   tau_syn dI_syn/dt = -I_syn
    written as v(t+dt) = v_rest + c_syn I_syn + e_m (v - v_rest) with
    e_m = exp(-dt/tau_m) and
    c_syn = tau_syn e^{-dt/tau_syn} (e^{dt/tau_m} - e^{dt/tau_syn}) e^{-dt/tau_m} / (tau_syn - tau_m).

    That form is 0/0 at tau_m = tau_syn.  With y_m = dt/tau_m and the
    exponent difference w = dt/tau_syn - dt/tau_m it is also
        c_syn = y_m e^{-dt/tau_syn} (e^w - 1) / w,
    which is well conditioned everywhere (``expm1``) and gives the limit
    c_syn = (dt/tau) e^{-dt/tau} at w = 0 (the response I0 (t/tau) e^{-t/tau}
    of the degenerate system).  As in the generated code
    (`singularities.remove_singularities`), the generic form is kept, for
    agreement with the program to rounding, outside the band
    |w| < ``singularities.SWITCH["float64"]``, and the well-conditioned form
    is used inside it, where the generic one loses digits (its relative
    rounding error is about 1e-16/|w|).
    """
    tau_m = float(neuron.tau_m)
    tau_syn = float(neuron.tau_syn)
    tau_trace = float(neuron.tau_trace)
    v_rest = float(neuron.v_rest)
    w = dt * (tau_m - tau_syn) / (tau_m * tau_syn)
    if abs(w) < SWITCH["float64"]:
        c_syn = (dt / tau_m) * math.exp(-dt / tau_syn) * (math.expm1(w) / w if w != 0 else 1.0)
    else:
        a = tau_syn * math.exp(-dt / tau_syn)
        b = -math.exp(dt / tau_syn)
        c_syn = ((a * (b + math.exp(dt / tau_m))) * math.exp(-dt / tau_m)) / (-tau_m + tau_syn)
    return LIFConstants(
        dt=dt,
        v_rest=v_rest,
        v_reset=float(neuron.v_reset),
        v_th=float(neuron.v_th),
        ref_steps=_timestep(float(neuron.t_ref), dt),
        c_syn=c_syn,
        decay_m=math.exp(-dt / tau_m),
        minus_v_rest=0.0 - v_rest,
        decay_syn=math.exp(-dt / tau_syn),
        decay_trace=math.exp(-dt / tau_trace),
    )


def surrogate_function(surrogate):
    """``psi(d)`` of a `surrogates.Surrogate` as a NumPy function of the
    scaled distance to threshold ``d``, lambdified from its sympy form.

    The width enters as its reciprocal, as in the generated code."""
    import sympy

    from .. import surrogates as sg

    inv_width = sympy.Symbol("inv_width", positive=True)
    expr = surrogate.expression.subs(sg.width, 1 / inv_width)
    f = sympy.lambdify((sg.x, inv_width, sg.height), expr, modules="numpy")
    iw = 1.0 / float(surrogate.width)
    h = float(surrogate.height)

    def psi(d):
        out = f(d, iw, h)
        return np.broadcast_to(np.asarray(out, dtype=float), np.shape(d))

    return psi


@dataclass(frozen=True)
class Params:
    """Everything a step needs besides the state, as plain numbers."""

    sizes: tuple
    dt: float
    steps_per_sample: int
    t_sample: float
    timed_k: int  # up-sampling factor of Brian2's TimedArray look-up
    accumulate: bool
    apply_every: int
    reset_between_samples: bool
    lif: LIFConstants
    input_decay: float  # exp(-dt / tau_trace) of the input traces
    max_rate: float
    f_low: float
    f_high: float
    decay_err: float  # exp(-dt / tau_err)
    inv_tau_err: float
    w_unit: float
    post: tuple  # postsynaptic factor name of each projection
    psi: object  # surrogate function of the scaled distance to threshold
    inv_th_span: float  # 1 / (v_th - v_reset)
    elig_taus: tuple = ()  # time constant (s) of each stage of a filtered eligibility's cascade, input first
    optimizer: object = SGD  # how accumulated updates are applied (`rules.optimizers.Optimizer`)

    @property
    def filtered(self):
        return bool(self.elig_taus)

    @property
    def n_hidden_layers(self):
        return len(self.sizes) - 2


def check_supported(spec):
    """Raise ValueError when the reference does not model ``spec``."""
    rule = spec.rule
    if rule.gradient:
        raise ValueError(f"the reference simulator models the local rules' product, not rule {rule.name} "
                         f"(a gradient, trained by the JAX engine)")
    if getattr(spec, "dtype", "float64") != "float64":
        raise ValueError(f"the reference simulator computes in float64 only, not {spec.dtype}")
    from ..model.architecture import is_chain

    if not is_chain(spec.projections, len(spec.hidden)):
        raise ValueError("the reference simulator models the feed-forward stack only, not the declared "
                         "projections (recurrent or skipping layers)")
    if not spec.neuron.is_builtin_lif:
        raise ValueError(f"the reference simulator models the built-in LIF only, not neuron {spec.neuron.name} "
                         f"({spec.neuron.source})")
    if getattr(spec, "rate_reg", 0):
        raise ValueError("the reference simulator does not model the firing-rate regulariser (rate_reg)")
    if spec.zero_mean_error:
        raise ValueError("the reference simulator does not model the zero-mean output error")
    if getattr(spec, "noisy", False):
        raise ValueError("the reference simulator does not model the hidden neurons' noise (noise)")
    if getattr(spec, "batch", 1) > 1:
        raise ValueError("the reference simulator presents one sample after the other, not batches (batch)")
    if spec.neurons:
        raise ValueError("the reference simulator models one neuron in every population, not a neuron of its own for "
                         + ", ".join(spec.neurons))
    if any(p.rule for p in spec.projections):
        raise ValueError("the reference simulator models the model's rule on every projection, not a projection's "
                         "own factors")
    if rule.feedback != "direct":
        raise ValueError(f"the reference simulator models direct feedback (dfa) only, not '{rule.feedback}'")
    if rule.post_expr is not None:
        raise ValueError("the reference simulator does not evaluate post_expr; use post=surrogate, none or activity")
    if getattr(rule, "timing", "clock") != "clock":
        raise ValueError("the reference simulator models clock-driven updates only")
    if rule.eligibility != "trace" and not rule.filtered:
        raise ValueError(f"the reference simulator models the presynaptic trace and its filtered "
                         f"eligibilities (a cascade of any number of stages), not '{rule.eligibility}'")
    for kind in (rule.post, rule.post_output):
        if kind not in ("surrogate", "none", "activity"):
            raise ValueError(f"the reference simulator does not model the postsynaptic factor '{kind}'")


def make_params(spec) -> Params:
    check_supported(spec)
    dt = float(spec.dt)
    t_sample = float(spec.t_sample)
    n_proj = len(spec.sizes) - 1
    post = tuple([spec.rule.post] * (n_proj - 1) + [spec.rule.post_output])
    nrn = spec.neuron
    return Params(
        sizes=tuple(int(s) for s in spec.sizes),
        dt=dt,
        steps_per_sample=spec.steps_per_sample,
        t_sample=t_sample,
        timed_k=max(int(2 ** np.ceil(np.log2(8 / dt * t_sample))), 1),
        accumulate=spec.accumulate,
        apply_every=int(spec.apply_every),
        reset_between_samples=bool(spec.reset_between_samples),
        lif=lif_constants(nrn, dt),
        input_decay=math.exp(-dt / float(nrn.tau_trace)),
        max_rate=float(spec.max_rate),
        f_low=float(spec.f_low),
        f_high=float(spec.f_high),
        decay_err=math.exp(-dt / float(spec.tau_err)),
        inv_tau_err=1.0 / float(spec.tau_err),
        w_unit=float(spec.w_unit),
        post=post,
        psi=surrogate_function(spec.surrogate),
        inv_th_span=1.0 / (float(nrn.v_th) - float(nrn.v_reset)),
        elig_taus=tuple(float(tau) for tau in spec.rule.eligibility_values().values()),
        optimizer=spec.rule.optimizer,
    )


# ---------------------------------------------------------------------------
def learning_rates(spec, lr_scale=1.0):
    """eta of each projection (`ThreeFactorRule.step`)."""
    n_proj = len(spec.sizes) - 1
    return [spec.rule.step(k == n_proj - 1, spec.sizes[k], lr_scale * spec.lr_scale_of(k))[0] for k in range(n_proj)]


def optimizer_steps(spec, lr_scale=1.0):
    """alpha of each projection for a normalising optimizer, else None."""
    if not spec.rule.optimizer.normalising:
        return None
    n_proj = len(spec.sizes) - 1
    return [spec.rule.step(k == n_proj - 1, spec.sizes[k], lr_scale * spec.lr_scale_of(k))[1] for k in range(n_proj)]


