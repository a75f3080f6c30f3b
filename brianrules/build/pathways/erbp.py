"""eRBP's pathway: error neurons count output against label spikes, and
their spikes reach a dendritic compartment ``U`` (the learning signal) of
every hidden neuron through fixed random weights and of the outputs through
+-g_out (Neftci, Augustine, Paul & Detorakis 2017; `feedback`)."""

from ... import feedback as fb
from ...randomness import mix_seed
from .direct import Direct
from .base import register


@register
class ERBP(Direct):
    name = "erbp"

    def hidden_equations(self, rule):
        return fb.DENDRITE_EQUATIONS

    output_equations = hidden_equations
    rate_error = False

    def describe(self, rule):
        return "\n".join([
            "learning signal: dendritic compartment U of hidden and output neurons:", fb.indented(fb.DENDRITE_EQUATIONS),
            "error neurons err_pos / err_neg (one pair per output; +-1 kicks from output and label spikes):",
            fb.indented(fb.ERROR_NEURON_EQUATIONS),
            "feedback: err_pos -> U_post += B, err_neg -> U_post -= B (hidden); +-g_out (output)",
            "postsynaptic factor:", fb.indented(fb.BOXCAR_EQUATIONS)])
    output_reset = ""

    def sample_reset(self, output):
        return fb.DENDRITE_SAMPLE_RESET

    def build(self, model):
        spec = model.spec
        objects, model.label, model.error_groups, model.feedback, model.output_feedback = \
            fb.erbp_error_pathway(model.output, model.layers[:-1], model.namespace)
        if spec.reset_between_samples:
            for g in model.error_groups:
                g.run_regularly("v = 0", dt=spec.t_sample, when="start", name=f"{g.name}_sample_reset")
        return [S for group in model.feedback for S in group] + objects

    def error_values(self, model):
        return []  # the error neurons have no rate error

    def values(self, model, feedback, noise_seed):
        spec = model.spec
        # U ~ (rate of err_pos - rate of err_neg) / f_high at the output
        scale = 1.0 / float(spec.tau_dend * spec.f_high)
        pairs = [(g.tau_dend, spec.tau_dend) for g in model.layers]
        pairs += [(g.tau_errn, spec.tau_dend) for g in model.error_groups]
        pairs += [(S.g_out, scale) for S in model.output_feedback]
        pairs += [(model.label.f_label, spec.f_high), (model.label.label_seed, mix_seed(noise_seed, 7))]
        for group, B in zip(model.feedback, feedback):
            for S in group:
                pairs.append((S.B, scale * model.flat(S, B)))
        return pairs
