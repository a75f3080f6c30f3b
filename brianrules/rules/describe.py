"""A rule as text: its law, its factors and the Brian2 code it makes
(`brianrules rules --show`)."""


def law(rule):
    """The three-factor law of ``rule`` as a sympy equation: ``dw/dt = -eta
    L phi eps``, or ``-eta L eps`` when a filtered eligibility holds ``phi``
    (`brianrules rules --show`, `brianrules show`)."""
    import sympy

    eta, L, phi, eps, w, t = sympy.symbols("eta L_j phi_j epsilon_ij w_ij t")
    return sympy.Eq(sympy.Derivative(w, t), -eta * L * eps if rule.filtered else -eta * L * phi * eps)


def cascade_text(rule):
    """The stages of a filtered eligibility in words, input first:
    ``tau_elig_rise = 5.0 ms then tau_elig = 10.0 ms``."""
    return " then ".join(f"{tau} = {value} ms" for _, tau, value in rule.eligibility_stages)


def _stages(n):
    return f"{n} unit-area low-pass stage{'s' if n > 1 else ''}"


def describe(rule):
    """Equations of ``rule`` (a `ThreeFactorRule`) as text, for `brianrules rules --show`."""
    import sympy

    per = "/s" if rule.timing == "clock" or rule.deferred else "per spike"
    lines = [
        f"rule: {rule.name}",
        "",
        sympy.pretty(law(rule), use_unicode=False),
        "",
        f"  L_j   (learning signal)     = {rule.learning_signal}   [{rule.feedback} feedback]",
        f"  phi_j (postsynaptic factor) = {rule.post_factor()} in hidden layers   "
        + (f"[--post-expr {rule.post_expr!r}]" if rule.post_expr else f"[--post {rule.post}]"),
        f"                                {rule.post_factor(True)} in the output layer   [--post-output {rule.post_output}]",
        f"  eps_ij (eligibility)        = {rule.eligibility_factor}"
        + (" * sum over presynaptic spikes s of delta(t - t_s)" if rule.timing == "event" and not rule.deferred
           else "")
        + f"   [{rule.eligibility}]",
        *([f"  {rule.neuron_factor_variable}_j = L_j phi_j, computed once per neuron and time step"]
          if rule.timing == "clock" and not rule.filtered else []),
        *([f"  elig_ij = phi_j x_i through {cascade_text(rule)} ({_stages(len(rule.eligibility_filter))}, "
           "per synapse): eps_ij = F(phi_j x_i)",
           f"  neuron variables {rule.neuron_factor_variable} = L_j, {rule.post_factor_variable} = phi_j, each "
           "computed once per neuron and time step"] if rule.filtered else []),
        f"  eta = {rule.lr} {per} (output), {rule.lr_hidden} {per} (hidden)",
        "  updates " + ("integrated every time step" if rule.timing == "clock" else
                        "added on presynaptic spikes and at each application, regrouped from the "
                        "clock-driven sum (event-driven form)" if rule.deferred else
                        "on presynaptic spikes only (event-driven)"),
        "  updates applied "
        + ("at the end of each sample" if rule.apply_every is None else f"every {rule.apply_every} step(s)"),
        "",
        "Brian2 synapse model (hidden layers):",
        rule.synapse_model(accumulate=rule.apply_every != 1),
        "on_pre: " + "; ".join(f"[{k}] {v}" for k, v in rule.on_pre_code(accumulate=rule.apply_every != 1).items()),
    ]
    if rule.paper:
        lines += ["", f"reference: {rule.paper}"]
    return "\n".join(lines)
