"""The factors a rule is made of, by name, and the kinds a rule can be:
postsynaptic factors, eligibilities (with their filters), feedback kinds
and timings (see `core` for the three-factor law they enter)."""

from . import cascade

#: postsynaptic factors by name: Brian2 expressions of the postsynaptic group
POST_FACTORS = {
    "surrogate": "psi_post",  # surrogate derivative of the membrane potential
    "none": "1",  # no postsynaptic gating ("SRBP without the derivative")
    "activity": "x_post",  # postsynaptic spike trace (Hebbian variant)
    "current_boxcar": "boxcar_post",  # 1 while I_lo < I_syn < I_hi (eRBP)
}

#: ``post`` of a rule whose hidden layers' factor is given as ``post_expr``
EXPRESSION_POST = "expr"

#: per-synapse eligibility traces: ``phi_j x_i`` through a cascade of
#: unit-area first-order low-pass stages (`cascade`).  The named ones:
#: ``lowpass``, one stage ``tau_elig`` (e-prop's filter), and ``alpha``, two
#: stages ``tau_elig_rise`` then ``tau_elig`` (SuperSpike's kernel); a rule
#: may declare any number of stages (``eligibility_filter``).
#:
#: name -> the filter's stages, input first: (state variable, time constant)
FILTERED_ELIGIBILITIES = {key: cascade.stages(len(taus)) for key, taus in cascade.SHORTHANDS.items()}

#: presynaptic / eligibility factors by name
ELIGIBILITIES = {
    "trace": "x_pre",  # presynaptic spike trace
    # the presynaptic spike itself: updates are event-driven (timing "event")
    "spike": "1",
    # presynaptic activity a_i = x_i / tau_trace: the spikes through a unit-area
    # lowpass, a rate whose number in Hz is the factor (PES)
    "rate": "x_pre / (tau_trace_pre * Hz)",
    # per-synapse eligibility traces: the filter's last stage
    **{key: cascade.OUTPUT for key in FILTERED_ELIGIBILITIES},
}
#: ``eligibility`` of a rule whose presynaptic factor is given as ``eligibility_expr``
EXPRESSION_ELIGIBILITY = "expr"
#: eligibilities with an event-driven form ("trace": see `event_driven`)
EVENT_ELIGIBILITIES = ("spike", "trace")
#: eligibilities with a clock-driven form (and any cascade, `cascade.stage_count`)
CLOCK_ELIGIBILITIES = ("trace", "rate", *FILTERED_ELIGIBILITIES, EXPRESSION_ELIGIBILITY)

#: when w changes: every time step (clock) or on each presynaptic spike (event)
TIMINGS = ("clock", "event")
