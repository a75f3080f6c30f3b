"""How far a local rule's update is from the gradient: the cosine, per
sample and projection, between the update the rule makes and the descent
direction of BPTT's gradient (`engines.bptt`) for the same sample, loss,
weights and input spikes (``brianrules align RUN``)."""

import numpy as np


def gradient_alignment(spec, weights, feedback, stim, tgt, noise_seed):
    """Per sample and projection, the cosine between the update a local
    rule makes from one sample and the descent direction of BPTT's
    gradient of the same sample at the same weights (`rules.bptt`'s loss,
    the same input spikes).

    ``spec``: the local rule's network; each sample runs from step 0 (then
    once more with learning off, when its change is applied) in Brian2's
    runtime device with learning on and the rule's product
    added by plain sgd (a normalising optimizer's scaling would change the
    direction, not the product's), and its weight change is compared with
    ``-gradient``.  Returns an array samples x projections (NaN where
    either is zero, e.g. a silent layer)."""
    import dataclasses

    from .. import rules
    from ..devices import RuntimeRunner
    from ..engines.bptt import BpttRunner
    from ..rules.optimizers import SGD

    local = dataclasses.replace(spec, rule=dataclasses.replace(spec.rule, optimizer=SGD))
    reference = BpttRunner(dataclasses.replace(spec, rule=rules.get("bptt")), 1, batch_size=1)
    stim, tgt = np.asarray(stim, dtype=float), np.asarray(tgt, dtype=float)
    out = np.full((len(stim), len(weights)), np.nan)
    for m in range(len(stim)):
        # the sample's change is applied at the next sample's start: a second sample, learning off
        pair_stim, pair_tgt = stim[[m, m]], tgt[[m, m]]
        result = RuntimeRunner(local, 2).run(weights, feedback, pair_stim, pair_tgt, np.array([1.0, 0.0]), noise_seed)
        _, grads = reference.gradient(weights, pair_stim, pair_tgt, noise_seed, [0])
        for k, (W0, W1, G) in enumerate(zip(weights, result.weights, grads)):
            change, descent = (np.asarray(W1) - W0).ravel(), -G.ravel()
            norm = np.linalg.norm(change) * np.linalg.norm(descent)
            if norm > 0:
                out[m, k] = float(change @ descent / norm)
    return out
