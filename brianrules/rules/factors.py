"""The factors a rule is made of, by name, and the kinds a rule can be:
postsynaptic factors, eligibilities (with their filters), feedback kinds
and timings (see `core` for the three-factor law they enter)."""

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
#: first-order low-pass filters, each of unit area (a constant ``phi_j x_i``
#: gives ``elig = phi_j x_i``, so eta keeps the meaning it has with the
#: trace eligibility), integrated by forward Euler with the weights:
#:
#:   lowpass:  tau_elig d elig/dt = phi_j x_i - elig
#:             (e-prop's filter F_kappa of the eligibility trace;
#:             Bellec et al. 2020, Nat. Commun. 11:3625)
#:   alpha:    tau_elig_rise d elig_rise/dt = phi_j x_i - elig_rise
#:             tau_elig      d elig/dt      = elig_rise - elig
#:             (SuperSpike's double-exponential kernel alpha, whose shape is
#:             (exp(-t/tau_elig) - exp(-t/tau_elig_rise)) / (tau_elig - tau_elig_rise);
#:             Zenke & Ganguli 2018, Neural Comput. 30:1514)
#:
#: name -> the filter's stages, input first: (state variable, time constant)
FILTERED_ELIGIBILITIES = {"lowpass": (("elig", "tau_elig"),),
                          "alpha": (("elig_rise", "tau_elig_rise"), ("elig", "tau_elig"))}

#: presynaptic / eligibility factors by name
ELIGIBILITIES = {
    "trace": "x_pre",  # presynaptic spike trace
    # the presynaptic spike itself: updates are event-driven (timing "event")
    "spike": "1",
    # presynaptic activity a_i = x_i / tau_trace: the spikes through a unit-area
    # lowpass, a rate whose number in Hz is the factor (PES)
    "rate": "x_pre / (tau_trace_pre * Hz)",
    # per-synapse eligibility traces: the filter's last stage
    **{name: stages[-1][0] for name, stages in FILTERED_ELIGIBILITIES.items()},
}
#: ``eligibility`` of a rule whose presynaptic factor is given as ``eligibility_expr``
EXPRESSION_ELIGIBILITY = "expr"
#: eligibilities with an event-driven form ("trace": see `event_driven`)
EVENT_ELIGIBILITIES = ("spike", "trace")
#: eligibilities with a clock-driven form
CLOCK_ELIGIBILITIES = ("trace", "rate", *FILTERED_ELIGIBILITIES, EXPRESSION_ELIGIBILITY)

#: when w changes: every time step (clock) or on each presynaptic spike (event)
TIMINGS = ("clock", "event")
