"""Training by surrogate-gradient backpropagation through time (`rules.bptt`).

`BpttRunner` has the interface of the compiled programs' runners
(`devices.StandaloneRunner`): ``run(weights, feedback, stim, tgt, learn,
noise_seed, ...)`` presents one epoch (the samples whose learning gate is
on, then the others) and returns a `program.RunResult`.  Here the network
is the JAX engine's step of the model's declarations (`jax_step`), which
gives the C++ program's spikes for the same input spikes, and the weights
learn by the gradient of the output loss (`rules.bptt`) instead of the
three-factor product:

- the input spikes are those every other rule's program draws for the same
  run (`jax_step.input_spikes`: the counter-based hash of the epoch's seed,
  step by step through the whole run);
- every sample starts from the neurons' initial state (the programs reset
  each sample too, but carry refractoriness across a sample's start);
- the reset is detached from the gradient (`jax_step.JaxNetwork`'s
  ``reset_gradient``): on digits, with it attached the hidden layer fell
  from 47 to 20 Hz within four epochs at an Adam step of 5e-3 and the test
  accuracy from 0.83 to 0.69; detached, 0.90 (seed 0);
- the learning samples go in mini-batches of ``batch_size`` consecutive
  samples; each batch's gradient (the mean of its samples' losses) is
  taken with the weights before it, and the optimizer (`rules.optimizers`:
  the same formulas as the programs' optimizer stage, `reference.step.
  apply_accumulated`) applies ``g = -gradient`` once per batch, with the
  rule's step of each projection (``lr``, ``lr_hidden``, the epoch's decay
  ``lr_scale`` and ``lr_layer_scale``);
- the output spike counts of each learning sample are those of its forward
  pass (the weights before its batch's update): the online training
  accuracy; the other samples run with the epoch's final weights.

Refused, in one line: what the JAX engine does not run (projections other
than the feed-forward stack, float32) and what has no meaning without the
three-factor product (a feedback pathway's options, an eligibility filter,
the alignment shadow, the zero-mean error, the rate regulariser).
"""

import time

import numpy as np

from ..program import RunResult
from .jax_step import JaxNetwork, check_supported, float64, input_spikes

#: samples per gradient step when none is given
DEFAULT_BATCH = 32


def check_trainable(spec):
    """Raise ValueError, naming the setting, for a network BPTT does not train here."""
    check_supported(spec)
    what = [name for name, on in (("alignment", spec.alignment), ("zero_mean_error", spec.zero_mean_error),
                                  ("rate_reg", spec.regularised), ("apply_every", spec.rule.apply_every is not None),
                                  ("an eligibility filter", spec.rule.filtered),
                                  ("timing event", spec.rule.timing != "clock"),
                                  ("no reset between samples", not spec.reset_between_samples)) if on]
    if what:
        raise ValueError(f"rule bptt follows the gradient of the output loss, not a three-factor product: "
                         f"{', '.join(what)} has no meaning for it")
    if spec.noisy:
        raise ValueError("rule bptt's JAX engine does not model the hidden neurons' noise (noise)")
    if not all(p.plastic for p in spec.projections):
        raise ValueError("rule bptt trains every projection; fixed projections are not supported")


def require_jax():
    try:
        import jax  # noqa: F401
    except ImportError:
        raise ValueError("rule bptt needs JAX: pip install 'brianrules[jax]' (or pip install \"jax[cpu]\")") \
            from None


class BpttRunner:
    """One epoch per `run`, in this process (see the module's docstring)."""

    device = "jax"
    cached = reused = False

    def __init__(self, spec, n_samples, batch_size=None, log=print, smooth=None, reset_gradient=False):
        require_jax()
        check_trainable(spec)
        import jax
        import jax.numpy as jnp

        self.spec, self.n_samples = spec, int(n_samples)
        self.batch_size = int(batch_size or DEFAULT_BATCH)
        if self.batch_size < 1:
            raise ValueError(f"batch_size must be a positive number of samples, got {batch_size!r}")
        t0 = time.perf_counter()
        # ``smooth`` and ``reset_gradient``: the JAX engine's options (a smooth network's gradient is
        # exact and finite differences check it); training keeps the surrogate and the reset detached
        self.net = net = JaxNetwork(spec, smooth=smooth, reset_gradient=reset_gradient)
        S = spec.steps_per_sample
        decay = float(np.exp(-float(spec.dt) / float(spec.tau_err)))
        inv_tau = 1.0 / float(spec.tau_err)
        f_low, span = float(spec.f_low), float(spec.f_high) - float(spec.f_low)
        hidden = net.layers[:-1]

        def sample(weights, z_in, target):
            """Loss and spike counts of one sample from the initial state."""
            def body(carry, xs):
                state, r, total = carry
                z, n = xs
                state, out = net.step(state, weights, z, n)
                z_out = out["spikes"]["output"]
                r = r * decay + z_out * inv_tau
                err = (r - (f_low + span * target)) / span
                counts = [out["spikes"][pop] for pop in hidden] + [z_out]
                return (state, r, total + 0.5 * jnp.sum(err ** 2)), counts

            zero = jnp.zeros(spec.n_out)
            (_, _, total), spikes = jax.lax.scan(body, (net.init_state, zero, 0.0),
                                                 (z_in, jnp.arange(S, dtype=jnp.int64)))
            return total / S, [jnp.sum(s, axis=0) for s in spikes]

        def batch_loss(weights, z_in, target, mask):
            losses, counts = jax.vmap(sample, in_axes=(None, 0, 0))(weights, z_in, target)
            return jnp.sum(losses * mask) / jnp.maximum(jnp.sum(mask), 1.0), (losses, counts)

        self._grad = jax.jit(jax.value_and_grad(batch_loss, has_aux=True))
        self._forward = jax.jit(lambda w, z, t, m: batch_loss(w, z, t, m)[1])
        self.compile_s = time.perf_counter() - t0  # tracing and compiling happen at the first batch

    def _batches(self, indices):
        for k in range(0, len(indices), self.batch_size):
            yield indices[k:k + self.batch_size]

    def _pad(self, stim, tgt, noise_seed, chosen):
        """The batch's input spikes (samples x steps x inputs) and targets,
        padded to ``batch_size`` samples (mask 0) so that one compiled
        function serves every batch."""
        B, n, S = self.batch_size, len(chosen), self.spec.steps_per_sample
        pad = np.concatenate([chosen, np.full(B - n, chosen[-1])])
        mask = np.concatenate([np.ones(n), np.zeros(B - n)])
        spikes = input_spikes(self.spec, stim, noise_seed, samples=pad).reshape(B, S, self.spec.n_in)
        return spikes.astype(np.float64), tgt[pad], mask

    def gradient(self, weights, stim, tgt, noise_seed, samples):
        """(loss, gradients) of the mean loss of ``samples`` of a run of
        ``stim`` (their input spikes as in that run), at ``weights``: the
        gradient one step of `run` follows, one array per projection."""
        samples = np.asarray(samples, dtype=np.int64)
        if not 0 < len(samples) <= self.batch_size:
            raise ValueError(f"between 1 and batch_size ({self.batch_size}) samples, got {len(samples)}")
        with float64():
            z, t, mask = self._pad(np.asarray(stim, float), np.asarray(tgt, float), noise_seed, samples)
            (loss, _), grads = self._grad(tuple(np.asarray(W, float) for W in weights), z, t, mask)
            return float(loss), [np.asarray(G) for G in grads]

    def run(self, weights, feedback, stim, tgt, learn, noise_seed, lr_scale=1.0, optimizer_state=None,
            on_progress=None):
        from ..reference.params import learning_rates, optimizer_steps
        from ..reference.step import SynapseState, apply_accumulated

        spec = self.spec
        t0 = time.perf_counter()
        stim, tgt, learn = (np.asarray(a, dtype=float) for a in (stim, tgt, learn))
        if len(stim) != self.n_samples:
            raise ValueError(f"stimulus has {len(stim)} samples, expected {self.n_samples}")
        optimizer = spec.rule.optimizer
        # eta is 1 for a normalising optimizer, whose step is alpha (`ThreeFactorRule.step`)
        etas, alphas = learning_rates(spec, lr_scale), optimizer_steps(spec, lr_scale)
        state = optimizer_state or [{name: np.zeros_like(W) for name in optimizer.state} for W in weights]
        weights = [np.array(W, dtype=float) for W in weights]
        counts = [np.zeros((len(stim), n), dtype=np.int64) for n in spec.sizes[1:]]
        order = np.arange(len(stim))
        batches = [(chosen, True) for chosen in self._batches(order[learn > 0])]
        batches += [(chosen, False) for chosen in self._batches(order[learn == 0])]
        done = 0
        with float64():
            for chosen, learning in batches:
                z, t, mask = self._pad(stim, tgt, noise_seed, chosen)
                if learning:
                    (_, (_, batch_counts)), grads = self._grad(tuple(weights), z, t, mask)
                    for k, G in enumerate(grads):
                        syn = SynapseState(weights[k], etas[k] * -np.asarray(G), (), state[k])
                        syn = apply_accumulated(syn, optimizer, None if alphas is None else alphas[k])
                        weights[k], state[k] = syn.w, syn.opt
                else:
                    _, batch_counts = self._forward(tuple(weights), z, t, mask)
                for k, c in enumerate(counts):
                    c[chosen] = np.asarray(batch_counts[k])[:len(chosen)]
                done += len(chosen)
                if on_progress is not None:
                    on_progress(done / len(stim))
        duration = len(stim) * float(spec.t_sample)
        rates = [float(c.sum()) / (c.shape[1] * duration) for c in counts[:-1]]
        return RunResult(weights, counts[-1], rates, time.perf_counter() - t0,
                         state if optimizer.state else None, None, {})

    def close(self):
        pass

