"""`brianrules show MODEL.toml`: a model file as the equations it declares.

The neuron's equations, threshold, reset and ports, the rule's three-factor
law and factors, and the architecture, printed with sympy's pretty printer
(``latex=True``: one LaTeX ``align*`` block of the equations instead).
"""

import sympy

from .data import augment
from .training import deep


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


def _timing(cfg, rule):
    if rule.timing == "event":
        return "event-driven"
    if cfg.timing is None and rule.eligibility == "trace" and rule.gradient is None:
        return ("clock-driven law, run in its event-driven form (the same weights to rounding) where the "
                "network takes it; --timing clock runs the clock-driven program")
    return "clock-driven"


def text(cfg, source, latex=False):
    """The whole model of settings ``cfg`` (a `TrainConfig`) as text."""
    from . import surrogates as sgmod
    from .rules.describe import cascade_text, law

    neuron = cfg.make_neuron()
    rule = cfg.make_rule()
    surrogate = sgmod.get(cfg.surrogate, cfg.sg_width, cfg.sg_height)
    eqs = neuron_equations(neuron, surrogate)
    equation = law(rule)
    if latex:
        lines = [r"\begin{align*}"]
        lines += [f"{sympy.latex(lhs)} &= {sympy.latex(rhs)}" + (rf" && \text{{{flags}}}" if flags else "") + r" \\"
                  for lhs, rhs, flags in eqs]
        lines.append(f"{sympy.latex(equation.lhs)} &= {sympy.latex(equation.rhs)}")
        lines.append(r"\end{align*}")
        return "\n".join(lines)
    out = [f"model {source}", ""]
    out += _neuron_block(neuron, surrogate, "neuron")
    for name, entry in (cfg.populations or {}).items():
        from .model.neuron import NeuronModel

        own = NeuronModel.from_dict(entry["neuron"], source=entry.get("neuron_source") or name)
        out += [""] + _neuron_block(own, surrogate, f"population {name}: neuron")
    per = "/s" if rule.timing == "clock" or rule.deferred else "per spike"
    out += ["", f"rule {cfg.rule}" + (f" ({rule.paper})" if rule.paper else ""), "",
            _indent(sympy.pretty(equation, use_unicode=False)), "",
            f"  L_j    learning signal     {rule.feedback} pathway",
            f"  phi_j  postsynaptic factor {rule.post_factor(False)} (hidden), {rule.post_factor(True)} (output)",
            "  eps_ij eligibility         "
            + (f"{rule.eligibility}: phi_j x_i through {cascade_text(rule)} (unit-area stages, per synapse)"
               if rule.filtered else rule.eligibility_factor),
            f"  eta    {rule.lr} {per} (output), {rule.lr_hidden} {per} (hidden), times {cfg.lr_decay} per epoch",
            f"  timing {_timing(cfg, rule)}; updates applied "
            + ("at the end of each sample" if rule.apply_every is None else f"every {rule.apply_every} step(s)"),
            "", "architecture",
            f"  {cfg.dataset}: inputs -> {' -> '.join(str(h) for h in cfg.hidden)} -> one output per class, "
            + ("all-to-all feed-forward projections" if cfg.projections is None else "all-to-all projections:"),
            *_projection_lines(cfg),
            f"  input: Poisson spikes at up to {cfg.max_rate_hz} Hz for {cfg.t_sample_ms} ms per sample, "
            f"dt {cfg.dt_ms} ms"
            + (f"; {augment.describe(cfg.shift_px)}" if cfg.shift_px else ""),
            f"  output error: rate filtered with tau_err {cfg.tau_err_ms} ms against {cfg.f_high_hz} Hz (label) "
            f"and {cfg.f_low_hz} Hz (others)"]
    from .network import rule_noise

    noise = cfg.noise if cfg.noise is not None else rule_noise(rule)
    if noise:
        out.append(f"  noise: every hidden neuron gets a random input of std {noise:g} (weight units) in every step, "
                   f"its record filtered with tau_noise {cfg.tau_noise_ms} ms")
    if cfg.batch > 1:
        out.append(f"  batches: {cfg.batch} samples at once, on copies of the network that share their weights; each "
                   "copy accumulates its sample's update and the batch's mean is applied at its end")
    taken = cfg.deep_settings_taken()
    if taken:
        out.append(f"  {taken} (defaults from {deep.DEEP_FROM} hidden layers on)")
    if not rule.gradient:
        out += ["", *_pathway_block(rule)]
    return "\n".join(out)


def _pathway_block(rule):
    """How the learning signal reaches each layer: the output error and the
    rule's feedback pathway, as `brianrules rules --show` prints them."""
    from . import feedback
    from .build import pathways

    pathway = pathways.get(rule.feedback)
    lines = [f"learning signal: the {rule.feedback} pathway"]
    if pathway.rate_error:
        lines += ["  of the output layer (output error):", _indent(feedback.indented(feedback.OUTPUT_ERROR_EQUATIONS)),
                  f"    at the start of each sample: {feedback.OUTPUT_TARGET_CODE}"]
    return lines + [_indent(pathway.describe(rule))]


def _neuron_block(neuron, surrogate, title):
    """A neuron's equations, ports and parameters as lines."""
    out = [f"{title} {neuron.name} ({neuron.source})", ""]
    for lhs, rhs, flags in neuron_equations(neuron, surrogate):
        out.append(_indent(sympy.pretty(sympy.Eq(lhs, rhs), use_unicode=False)) + (f"    {flags}" if flags else ""))
        out.append("")
    out += [f"  threshold:        {neuron.threshold}", f"  reset:            {neuron.reset or '(none)'}",
            f"  refractory:       {neuron.refractory or '(none)'}",
            f"  per-sample reset: {neuron.sample_reset or '(none)'}",
            f"  input:            {neuron.input}" + (
                f"   (a spike adds w * w_unit, w_unit = {neuron.weight_unit or 'v_th - v_reset'} "
                f"= {neuron.weight_unit_value()})" if neuron.input_variable else "   (statements using the weight w)"),
            f"  trace:            {neuron.trace}   (the presynaptic factor x_pre)",
            f"  surrogate:        psi = {surrogate.name}({neuron.surrogate_of}), width {surrogate.width}, "
            f"height {surrogate.height}",
            f"  integration:      {neuron.method or 'exact if linear, else euler'}", "", "  parameters:"]
    return out + [f"    {k:<10} = {v}" for k, v in neuron.parameters.items()]


def _projection_lines(cfg):
    """One line per declared projection (none for the feed-forward stack)."""
    if cfg.projections is None:
        return []
    from .model.architecture import parse

    lines = []
    for p in parse(cfg.projections, len(cfg.hidden)):
        kind = "plastic" if p.plastic else "fixed"
        if p.recurrent:
            kind += ", recurrent" + ("" if p.self_connections else " without self-connections")
        own = ", ".join(f"{k} {v!r}" for k, v in p.rule)
        lines.append(f"    {p.pre} -> {p.post} ({kind})" + (f", its own {own}" if own else ""))
    return lines


def _indent(block, by="  "):
    return "\n".join(by + line if line.strip() else "" for line in block.splitlines())
