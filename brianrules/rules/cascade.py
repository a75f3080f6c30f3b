"""The filter of a per-synapse eligibility: a cascade of unit-area stages.

A filtered eligibility passes ``phi_j x_i`` through N >= 1 first-order
low-pass stages in a row, input first:

    tau_1 de_1/dt = phi_j x_i - e_1
    tau_k de_k/dt = e_(k-1) - e_k          k = 2 .. N
    eps_ij        = e_N

Each stage has unit area, so a constant ``phi_j x_i`` gives ``eps_ij =
phi_j x_i`` and eta keeps the meaning it has with the trace eligibility.
N equal stages have the gamma kernel ``t^(N-1) exp(-t/tau) / ((N-1)! tau^N)``
as impulse response.  One stage is e-prop's filter F_kappa of the
eligibility trace (Bellec et al. 2020, Nat. Commun. 11:3625); two, with
the rise time constant first and the decay one second, are SuperSpike's
double-exponential kernel alpha, whose shape is
``(exp(-t/tau_2) - exp(-t/tau_1)) / (tau_2 - tau_1)`` (Zenke & Ganguli 2018,
Neural Comput. 30:1514).  The stages are integrated by forward Euler
together with the weights, every stage from the values before the step.

The time constants are run values (one ``(shared, constant)`` parameter per
stage); the number of stages shapes the generated code, and the rule's
``eligibility`` names it (`name`): ``lowpass``, ``alpha``, ``cascade3``, ...
"""

import functools
import math

#: the cascades known by name: name -> default time constants (ms), input first
SHORTHANDS = {"lowpass": (10.0,), "alpha": (5.0, 10.0)}
#: the state variable of the last stage: the eligibility factor
OUTPUT = "elig"
#: the name of a cascade with more stages than any shorthand: this and the number
PREFIX = "cascade"


def name(n):
    """The ``eligibility`` of a rule whose filter has ``n`` stages."""
    for key, taus in SHORTHANDS.items():
        if len(taus) == n:
            return key
    return f"{PREFIX}{n}"


def stage_count(eligibility):
    """The number of stages of the filter that ``eligibility`` names; 0 when
    it names none (``trace``, ``rate``, ...)."""
    if eligibility in SHORTHANDS:
        return len(SHORTHANDS[eligibility])
    count = eligibility[len(PREFIX):] if isinstance(eligibility, str) and eligibility.startswith(PREFIX) else ""
    if count.isdigit() and name(int(count)) == eligibility:
        return int(count)
    return 0


def stages(n):
    """(state variable, time-constant parameter) of each of ``n`` stages,
    input first.  The last stage is ``elig`` with ``tau_elig``; a single
    stage before it is the rise stage ``elig_rise`` with ``tau_elig_rise``
    (SuperSpike's alpha), several are ``elig_rise1``, ``elig_rise2``, ..."""
    rise = [] if n == 1 else ["elig_rise"] if n == 2 else [f"elig_rise{k}" for k in range(1, n)]
    return tuple((v, f"tau_{v}") for v in (*rise, OUTPUT))


def check(values, key="eligibility_filter"):
    """``values`` as a tuple of floats (ms), or a ValueError naming ``key``
    unless they are a non-empty list of positive, finite numbers."""
    if isinstance(values, (str, bytes, dict)) or not hasattr(values, "__iter__"):
        raise ValueError(f"{key} must be a list of time constants (ms), one per stage, input first; got {values!r}")
    values = tuple(values)
    if not values:
        raise ValueError(f"{key} must list the time constant (ms) of at least one stage, got []")
    for k, v in enumerate(values):
        if (not isinstance(v, (int, float)) or isinstance(v, bool) or not math.isfinite(v) or v <= 0):
            raise ValueError(f"{key}: the time constant of stage {k + 1} must be a positive, finite number "
                             f"of ms, got {v!r}")
    return tuple(float(v) for v in values)


def shorthand_times(n):
    """The names of the time constants a cascade of ``n`` stages lets the
    shorthands set: ``tau_elig`` (the last stage) and, with two stages,
    ``tau_elig_rise`` (the first)."""
    return ("tau_elig_rise", "tau_elig") if n == 2 else ("tau_elig",) if n else ()


def with_times(taus, tau_elig=None, tau_elig_rise=None, what="the eligibility"):
    """``taus`` with the shorthands applied: ``tau_elig`` replaces the last
    stage's time constant, ``tau_elig_rise`` the first of two.  ``what``
    names the filter in the error a shorthand without its stage raises."""
    out = list(taus)
    for key, value in (("tau_elig", tau_elig), ("tau_elig_rise", tau_elig_rise)):
        if value is None:
            continue
        if key not in shorthand_times(len(out)):
            has = shorthand_times(len(out))
            raise ValueError(f"{key} sets a filter stage of the eligibility, and {what} has "
                             f"{'only ' + ' and '.join(has) if has else 'none'}")
        out[0 if key == "tau_elig_rise" else -1] = check([value], key)[0]
    return tuple(out)


def with_stages(rule, taus, key="eligibility_filter", event=False):
    """``rule`` (a `core.ThreeFactorRule`) with the stages ``taus``: a
    filter of the trace, or new time constants of its filter's stages.
    ``key`` names the setting in errors; ``event``: the event-driven form is
    asked for as well, which a filter has not."""
    import dataclasses

    taus, own = check(taus, key), len(rule.eligibility_filter)
    if event or rule.timing == "event":
        raise ValueError(f"{key}: a filtered eligibility is a per-synapse trace integrated in every time step; "
                         "it has no event-driven form (timing event)")
    if not own and rule.eligibility != "trace":
        raise ValueError(f"{key} filters phi_j x_pre, the postsynaptic factor times the presynaptic trace: it goes "
                         f"with the eligibility x_pre (trace), not '{rule.eligibility}'")
    if own and own != len(taus):
        raise ValueError(f"{key} gives {len(taus)} stage(s), and the eligibility '{rule.eligibility}' is a filter "
                         f"of {own} (the stages alone, with the eligibility x_pre, make a cascade of any length)")
    return dataclasses.replace(rule, eligibility_filter=taus)


class FilteredEligibility:
    """The filter's part of `core.ThreeFactorRule`: its stages, their lines
    in a `Synapses` model, their reset and their run values.  Reads the
    rule's fields ``eligibility``, ``eligibility_filter`` and ``timing``."""

    #: the postsynaptic group's variable that holds ``phi`` for a filtered
    #: eligibility, computed once per neuron and step like ``Lphi``
    post_factor_variable = "phi"

    def _check_filter(self):
        """The stages as a tuple of floats, and ``eligibility`` as the name
        of a cascade of that many stages (from ``__post_init__``)."""
        named = stage_count(self.eligibility)
        if self.eligibility_filter == () and named:
            if self.eligibility not in SHORTHANDS:
                raise ValueError(f"eligibility '{self.eligibility}' needs the time constants of its {named} stages "
                                 "(eligibility_filter)")
            taus = SHORTHANDS[self.eligibility]
        else:
            taus = check(self.eligibility_filter)
        if named and len(taus) != named:
            raise ValueError(f"eligibility '{self.eligibility}' is a filter of {named} stage(s), and "
                             f"eligibility_filter {list(taus)} has {len(taus)} (a cascade of another length "
                             "filters the trace: eligibility 'trace')")
        if not named and self.eligibility != "trace":
            raise ValueError(f"eligibility_filter filters phi_j x_i, the postsynaptic factor times the presynaptic "
                             f"trace: it goes with the eligibility 'trace', not '{self.eligibility}'")
        if self.timing == "event":
            raise ValueError("eligibility_filter: a filtered eligibility is a per-synapse trace integrated in every "
                             "time step; it has no event-driven form (timing 'event')")
        object.__setattr__(self, "eligibility_filter", taus)
        object.__setattr__(self, "eligibility", name(len(taus)))

    @property
    def filtered(self):
        """Whether the eligibility is a per-synapse trace through a cascade."""
        return bool(self.eligibility_filter)

    @property
    def eligibility_stages(self):
        """(state variable, time-constant parameter, time constant in ms) of
        each stage, input first; () without a filter."""
        return tuple((v, tau, value) for (v, tau), value in zip(stages(len(self.eligibility_filter)),
                                                                self.eligibility_filter))

    @property
    def tau_elig(self):
        """The time constant (ms) of the last stage; None without a filter."""
        return self.eligibility_filter[-1] if self.filtered else None

    @property
    def tau_elig_rise(self):
        """The time constant (ms) of the first of two stages (alpha), else None."""
        return self.eligibility_filter[0] if len(self.eligibility_filter) == 2 else None

    def filtered_post_factor(self, output=False):
        """``phi`` as an expression of the postsynaptic group's own variables."""
        return self.post_factor(output).replace("_post", "")

    @property
    def eligibility_equations(self):
        """The filter's lines of a `Synapses` model (forward Euler, with ``w``):
        one per stage, then one ``(shared, constant)`` time constant each."""
        taken = self.eligibility_stages
        inputs = [f"{self.post_factor_variable}_post * x_pre", *(v for v, _, _ in taken[:-1])]
        lines = [f"d{v}/dt = ({u} - {v}) / {tau} : 1 (clock-driven)" for (v, tau, _), u in zip(taken, inputs)]
        return lines + [f"{tau} : second (shared, constant)" for _, tau, _ in taken]

    @property
    def eligibility_sample_reset(self):
        """A synapse's part of the reset at each sample's start (the stages
        restart with the presynaptic traces they filter)."""
        return "; ".join(f"{v} = 0" for v, _, _ in self.eligibility_stages)

    def eligibility_values(self):
        """The stages' time constants as {parameter: Quantity}, run values, input first."""
        from brian2 import ms

        return {tau: value * ms for _, tau, value in self.eligibility_stages}


def taking_stage_times(init):
    """A rule's ``__init__`` that also takes the shorthands ``tau_elig`` and
    ``tau_elig_rise`` (ms, `with_times`).  They are keywords, not fields, so
    that `dataclasses.replace` carries only the stages themselves."""

    @functools.wraps(init)
    def __init__(self, *args, tau_elig=None, tau_elig_rise=None, **kwargs):
        init(self, *args, **kwargs)
        if tau_elig is not None or tau_elig_rise is not None:
            what = f"rule {self.name} with eligibility '{self.eligibility}'"
            object.__setattr__(self, "eligibility_filter",
                               with_times(self.eligibility_filter, tau_elig, tau_elig_rise, what))
            self.__post_init__()

    return __init__
