"""Per-layer diagnostics computed inside the generated program.

Two kinds, both read after each run and recorded per epoch in metrics.csv:

- always, for rules with a per-neuron factor (`ThreeFactorRule.add_neuron_factor`):
  the mean postsynaptic factor of each hidden layer over the learning part
  of the run, ``phi_sum_j = sum over steps of dt learn(t) phi_j``, divided by
  the learning time (a surrogate derivative that shrinks toward 0 is how a
  deep stack stops passing anything down); and, from the spike counters,
  the fraction of each hidden layer's neurons that never fired in the run.
- on request (``NetworkSpec.alignment``), the alignment of each hidden
  projection's update with the backprop-like one.  A shadow pathway that
  changes nothing carries the output's own ``delta`` down through the live
  forward weights, as the symmetric pathway would:

      delta_bp_k = delta_k                         (the output: its own err * phi)
      L_bp_j = sum_k w_jk delta_bp_k,  delta_bp_j = L_bp_j phi_j   (hidden layers)

  and every plastic projection onto a hidden layer integrates, beside its
  own update, the product with the shadow signal, with the same
  postsynaptic factor and eligibility:

      dg_rule_ij/dt = plastic Lphi_j eps_ij,    dg_bp_ij/dt = plastic L_bp_j phi_j eps_ij

  summed over the whole run.  ``cos(g_rule, g_bp)`` is the cosine between
  the rule's accumulated update and the one backprop-like feedback would
  have made from the same error, factors and traces (before the optimizer);
  it is 1 for the symmetric rule itself.  This costs two integrations per
  synapse and step, so it is off unless asked for, and it needs the
  clock-driven product and the feed-forward stack.
"""

import numpy as np

from ..model.architecture import is_chain

#: metrics.csv column prefixes, followed by the hidden layer's (or projection's) number from 1
PHI_PREFIX, SILENT_PREFIX, COSINE_PREFIX = "phi_mean_h", "silent_neurons_h", "cos_bp_"


def has_factor(rule):
    """Whether the rule computes a per-neuron factor each step, where the
    mean postsynaptic factor is summed (not eRBP's event-driven boxcar)."""
    return rule.timing == "clock" or rule.deferred


def alignment_refusal(spec):
    """Why the alignment shadow cannot be built for ``spec`` (None: it can)."""
    rule = spec.rule
    if not spec.hidden:
        return "needs a hidden layer"
    if rule.timing != "clock":
        return f"needs the clock-driven product (--timing clock), not the {rule.timing}-driven form of {rule.name}"
    if not is_chain(spec.projections, len(spec.hidden)):
        return "sends the shadow signal down the feed-forward stack: it needs the stack, not the declared projections"
    return None


def _phi(rule):
    """The hidden layers' postsynaptic factor as a group's own expression."""
    return rule.post_factor(False).replace("_post", "")


def hidden_equations(spec):
    eqs = "\nphi_sum : second\n" if has_factor(spec.rule) else ""
    if spec.alignment:
        eqs += f"\nL_bp : 1\nLphi_bp : 1\ndelta_bp = L_bp * ({_phi(spec.rule)}) : 1\n"
    return eqs


def output_equations(spec):
    return "\ndelta_bp = delta : 1\n" if spec.alignment else ""


def hidden_factor_code(spec):
    """Statements a hidden group runs with its per-neuron factor, every step."""
    rule = spec.rule
    lines = []
    if has_factor(rule):
        lines.append(f"phi_sum += dt * learn(t) * ({_phi(rule)})")
    if spec.alignment:
        lines.append(f"Lphi_bp = {rule.with_signal(rule.neuron_factor(False), 'L_bp')}")
    return "\n".join(lines)


def synapse_lines(spec, from_hidden, onto_hidden):
    """Lines of a plastic forward projection's model: it carries the shadow
    signal down from its postsynaptic layer (``from_hidden``) and integrates
    both products (``onto_hidden``)."""
    if not spec.alignment:
        return ""
    rule = spec.rule
    lines = []
    if from_hidden:
        lines.append("L_bp_pre = w * delta_bp_post : 1 (summed)")
    if onto_hidden:
        eps = rule.eligibility_factor
        # in units of seconds, as plain numbers: -eta g_rule is the rule's change of w (eta in 1/s)
        lines += [f"dg_rule/dt = plastic * {rule.neuron_factor_variable}_post * ({eps}) / second : 1 (clock-driven)",
                  f"dg_bp/dt = plastic * Lphi_bp_post * ({eps}) / second : 1 (clock-driven)"]
    return "\n" + "\n".join(lines)


def cosine(a, b):
    """<a, b> / (|a| |b|), NaN where either is zero."""
    a, b = np.ravel(a), np.ravel(b)
    na, nb = float(np.linalg.norm(a)), float(np.linalg.norm(b))
    return float(a @ b / (na * nb)) if na > 0 and nb > 0 else float("nan")


def read(model):
    """{metrics column: value} of the last run of ``model``."""
    spec = model.spec
    out = {}
    hidden = model.layers[:-1]
    copies = getattr(model, "copies", 1)  # a batched network's: a neuron is silent in every copy
    for k, m in enumerate(model.hidden_counts):
        out[f"{SILENT_PREFIX}{k + 1}"] = float(np.mean(np.asarray(m.count[:]).reshape(copies, -1).sum(axis=0) == 0))
    learn_time = getattr(model, "learn_time", 0.0)
    if has_factor(spec.rule) and learn_time > 0:
        for k, g in enumerate(hidden):
            out[f"{PHI_PREFIX}{k + 1}"] = float(np.mean(np.asarray(g.phi_sum[:], dtype=float))) / learn_time
    if spec.alignment:
        for S in model.plastic_projections:
            if S.target is not model.output:
                k = hidden.index(S.target)
                out[f"{COSINE_PREFIX}{k + 1}"] = cosine(np.asarray(S.g_rule[:], dtype=float),
                                                        np.asarray(S.g_bp[:], dtype=float))
    return out
