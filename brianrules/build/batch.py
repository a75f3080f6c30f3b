"""Batched presentation: B samples at once, as B copies of the network that
share their weights (`NetworkSpec.batch`).

Every population holds B copies of its neurons, copy b at indices
``b * n .. (b + 1) * n - 1``; every projection and feedback pathway
connects each copy to itself only (block-diagonal synapses, copy-major:
synapse ``b * n_pre * n_post + s`` is copy b's synapse s).  A program
"slot" of ``t_sample`` shows samples ``slot * B .. slot * B + B - 1``, sample
``slot * B + b`` to copy b.

Shared weights.  A plastic projection's weights live once, in a
NeuronGroup of n_pre * n_post elements (the *hub*, element ``i * n_post + j``
for the weight from i to j); each copy's synapse reads its weight through
a linked variable (``w : 1 (linked)``, index ``widx``).  Each copy's synapse
accumulates its own update in ``w_acc``, gated by the copy's ``plastic``:
``1 / m`` for each of the m copies that learn in the slot, 0 for the others
(test samples, the padding of a last, partial slot).  At the end of a slot
every synapse adds its ``w_acc`` into the hub's (``w_sum``, the same element
through the same index) and the hub applies the sum with the rule's
optimizer, as an unbatched program applies one sample's update: the update
is the mean of the copies' updates (minibatch semantics), and an
optimizer's state is per weight, not per copy.  The adds from the copies
into one element are not independent, so the program runs one thread
(`threads_refusal`).

Input spikes.  Sample ``s``'s input neuron f spikes in its step k when
``hash(seed, s * steps_per_sample + k, f) < rate * dt``: the same spikes as
the unbatched program's sample s, wherever the sample sits.  Every other
state starts each sample at rest, except that a neuron that fired in the
last ``t_ref`` of copy b's previous sample (sample ``s - B``, unbatched
``s - 1``) starts refractory.
"""

import numpy as np

from ..topology import all_to_all, block_pairs, connect_pairs, copies_of

#: the pathways whose objects this module's copies follow (fixed feedback
#: matrices, or the forward weights themselves), tested in test_batch
PATHWAYS = ("direct", "layerwise", "symmetric", "signsym")


def refusal(spec):
    """Why ``spec`` cannot be presented in batches (its `batch` > 1), or None."""
    rule = spec.rule
    if rule.gradient is not None:
        return f"rule {rule.name} follows a gradient: its engine takes --batch-size, not --batch"
    if rule.feedback not in PATHWAYS:
        return (f"the {rule.feedback} pathway of rule {rule.name} is not built for copies (batches are built for "
                f"the {', '.join(PATHWAYS)} pathways)")
    if not spec.accumulate or spec.apply_every != spec.steps_per_sample:
        return ("a batch's updates are applied once per batch: the rule must apply its accumulated updates at "
                f"the end of each sample (it applies every {spec.apply_every} steps)")
    if any(p.recurrent for p in spec.projections):
        return "batches are built for feed-forward projections; this network has recurrent ones"
    if spec.alignment:
        return "the alignment diagnostics are built for one copy of the network"
    if spec.zero_mean_error:
        return "the zero-mean error is built for one copy of the network"
    return None


def threads_refusal(batch, threads):
    """Why a program of ``batch`` copies cannot run ``threads`` threads, or
    None: the copies add their updates into one shared element one after
    the other."""
    if batch > 1 and threads not in ("auto", 1):
        return (f"batch {batch} runs one thread (the copies add their updates into the shared weights one after "
                f"the other), not {threads}")
    return None


def slots(n_samples, batch):
    """The program's slots of ``t_sample`` for ``n_samples`` samples."""
    return -(-int(n_samples) // int(batch))


def connect_copies(S, n_pre, n_post, **kwargs):
    """Connect ``S`` all to all within each copy (`topology.all_to_all`'s
    options); returns the index arrays (i, j) of one copy."""
    i, j = all_to_all(n_pre, n_post, **kwargs)
    connect_pairs(S, *block_pairs(i, j, n_pre, n_post, copies_of(S.source)))
    return i, j


def input_threshold(spec):
    """The input layer's spike condition: the sample's own steps (see the
    module's text), whichever copy shows it."""
    S, n_in, B = spec.steps_per_sample, spec.n_in, spec.batch
    step = f"(t_in_timesteps // {S}) * {B * S} + (i // {n_in}) * {S} + t_in_timesteps % {S}"
    return f"hash_uniform(noise_seed, {step}, i % {n_in}) < rate * dt"


def layout(spec, n_samples, stim, tgt, learn):
    """The run's arrays as the copies read them: stimulus (slots x B n_in),
    targets (slots x B n_out), each copy's gate (slots x B: ``1 / m`` for the
    m copies that learn in the slot, else 0) and the hub's (slots: 1 where
    any copy learns)."""
    B = spec.batch
    n = slots(n_samples, B)
    pad = n * B - n_samples

    def per_slot(a):
        a = np.concatenate([a, np.zeros((pad,) + a.shape[1:])]) if pad else a
        return a.reshape(n, -1)

    gate = per_slot(np.asarray(learn, float) > 0).astype(float)
    m = gate.sum(axis=1, keepdims=True)
    return per_slot(stim), per_slot(tgt), np.divide(gate, m, out=np.zeros_like(gate), where=m > 0), \
        (m[:, 0] > 0).astype(float)


def counts(spec, n_samples, i, step):
    """Output spike counts per sample (n_samples x n_out) from the output
    group's spikes (neuron index ``i``, time step ``step``), for any number
    of copies (one: sample ``step // steps_per_sample``, neuron ``i``)."""
    n_out, B = spec.n_out, spec.batch
    sample = (step // spec.steps_per_sample) * B + i // n_out
    out = np.zeros((n_samples, n_out), dtype=np.int64)
    ok = sample < n_samples
    np.add.at(out, (sample[ok], i[ok] % n_out), 1)
    return out


def hub_model(rule):
    """The model of the group that holds a plastic projection's shared
    weights, its summed update and its optimizer's state."""
    return "\n".join(["w : 1", "w_acc : 1", "plastic : 1 (shared)", *rule.optimizer.synapse_lines()])


def reduce_code(rule):
    """What each copy's synapse does at the end of a slot: (the event-driven
    form: catch up, then) add its update into the shared sum."""
    code = "w_sum += w_acc\nw_acc = 0"
    return (rule.catch_up_code + "\n" + code) if rule.deferred else code


def weight_index(i, j, n_post, copies):
    """The hub element of each synapse of ``copies`` copies of (i, j)."""
    return np.tile(np.asarray(i) * n_post + np.asarray(j), copies)
