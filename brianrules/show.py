"""`brianrules show MODEL.toml`: a model file as the equations it declares.

The neuron's equations, threshold, reset and ports, the rule's three-factor
law and factors, and the architecture, printed with sympy's pretty printer
(``latex=True``: one LaTeX ``align*`` block of the equations instead).
"""

import sympy


def _sym(expr):
    from brian2.parsing.sympytools import str_to_sympy

    return str_to_sympy(str(expr))


def neuron_equations(neuron, surrogate):
    """(lhs, rhs, flags) of each equation of the neuron, psi included, as sympy."""
    from brian2 import Equations

    t = sympy.Symbol("t")
    out = []
    for eq in Equations(neuron.equations).ordered:
        if eq.type == "differential equation":
            lhs = sympy.Derivative(sympy.Symbol(eq.varname), t)
        elif eq.type == "subexpression":
            lhs = sympy.Symbol(eq.varname)
        else:
            continue  # a parameter of the equations (an external input)
        flags = f"({', '.join(eq.flags)})" if eq.flags else ""
        out.append((lhs, _sym(eq.expr.code), flags))
    out.append((sympy.Symbol("psi"), _sym(surrogate.brian2(neuron.surrogate_of)), ""))
    return out


def text(cfg, source, latex=False):
    """The whole model of settings ``cfg`` (a `TrainConfig`) as text."""
    from . import surrogates as sgmod

    neuron = cfg.make_neuron()
    rule = cfg.make_rule()
    surrogate = sgmod.get(cfg.surrogate, cfg.sg_width, cfg.sg_height)
    eqs = neuron_equations(neuron, surrogate)
    eta, L, phi, eps, w = sympy.symbols("eta L_j phi_j epsilon_ij w_ij")
    law = sympy.Eq(sympy.Derivative(w, sympy.Symbol("t")), -eta * L * eps if rule.filtered else -eta * L * phi * eps)
    if latex:
        lines = [r"\begin{align*}"]
        lines += [f"{sympy.latex(lhs)} &= {sympy.latex(rhs)}" + (rf" && \text{{{flags}}}" if flags else "") + r" \\"
                  for lhs, rhs, flags in eqs]
        lines.append(f"{sympy.latex(law.lhs)} &= {sympy.latex(law.rhs)}")
        lines.append(r"\end{align*}")
        return "\n".join(lines)
    out = [f"model {source}", "", f"neuron {neuron.name} ({neuron.source})", ""]
    for lhs, rhs, flags in eqs:
        out.append(_indent(sympy.pretty(sympy.Eq(lhs, rhs), use_unicode=False)) + (f"    {flags}" if flags else ""))
        out.append("")
    ports = [f"  threshold:        {neuron.threshold}", f"  reset:            {neuron.reset or '(none)'}",
             f"  refractory:       {neuron.refractory or '(none)'}",
             f"  per-sample reset: {neuron.sample_reset or '(none)'}",
             f"  input:            {neuron.input}" + (
                 f"   (a spike adds w * w_unit, w_unit = {neuron.weight_unit or 'v_th - v_reset'} "
                 f"= {neuron.weight_unit_value()})" if neuron.input_variable else "   (statements using the weight w)"),
             f"  trace:            {neuron.trace}   (the presynaptic factor x_pre)",
             f"  surrogate:        psi = {surrogate.name}({neuron.surrogate_of}), width {surrogate.width}, "
             f"height {surrogate.height}",
             f"  integration:      {neuron.method or 'exact if linear, else euler'}", "", "  parameters:"]
    out += ports + [f"    {k:<10} = {v}" for k, v in neuron.parameters.items()]
    per = "/s" if rule.timing == "clock" or rule.deferred else "per spike"
    out += ["", f"rule {cfg.rule}" + (f" ({rule.paper})" if rule.paper else ""), "",
            _indent(sympy.pretty(law, use_unicode=False)), "",
            f"  L_j    learning signal     {rule.feedback} pathway",
            f"  phi_j  postsynaptic factor {rule.post_factor(False)} (hidden), {rule.post_factor(True)} (output)",
            f"  eps_ij eligibility         {rule.eligibility if rule.filtered else rule.eligibility_factor}",
            f"  eta    {rule.lr} {per} (output), {rule.lr_hidden} {per} (hidden), times {cfg.lr_decay} per epoch",
            f"  timing {'event-driven' if rule.timing == 'event' else 'clock-driven'}; updates applied "
            + ("at the end of each sample" if rule.apply_every is None else f"every {rule.apply_every} step(s)"),
            "", "architecture",
            f"  {cfg.dataset}: inputs -> {' -> '.join(str(h) for h in cfg.hidden)} -> one output per class, "
            "all-to-all feed-forward projections",
            f"  input: Poisson spikes at up to {cfg.max_rate_hz} Hz for {cfg.t_sample_ms} ms per sample, "
            f"dt {cfg.dt_ms} ms",
            f"  output error: rate filtered with tau_err {cfg.tau_err_ms} ms against {cfg.f_high_hz} Hz (label) "
            f"and {cfg.f_low_hz} Hz (others)"]
    return "\n".join(out)


def _indent(block, by="  "):
    return "\n".join(by + line for line in block.splitlines())
