"""The discretised network of a `NetworkSpec` as a JAX step function.

The step is generated from the neurons' declarations (`jax_code.neuron_code`:
Brian2's abstract code for each population's neuron, printed for
``jax.numpy``).  One step ``n`` (``t = n * dt``) follows Brian2's schedule for
the objects `build.model.Model` creates:

``start``       every ``t_sample``, with ``reset_between_samples``: each
                population's per-sample reset;
``groups``      each population's state update (``not_refractory`` from
                ``lastspike``, then the integration);
``thresholds``  spikes ``z`` where the threshold condition holds (and the
                neuron is not refractory): ``lastspike = t``,
                ``not_refractory = False``; the input spikes are given;
``synapses``    each projection delivers its presynaptic spikes through the
                input port of the postsynaptic neuron;
``resets``      the reset statements, where a neuron spiked;
``end``         the recorded values.

Weights are fixed (learning off): the rule, the pathway and the traces of
the input population play no part in the forward pass.

Gradients.  The spike is the Heaviside step of the threshold condition in
the forward pass; its derivative (a `jax.custom_jvp`) is the declared
surrogate ``psi(surrogate_of)`` where the neuron is not refractory.  Resets
and synaptic input are written so that the gradient flows through ``z``
(``v = v_reset`` contributes ``(v_reset - v) dz``).  With ``smooth = beta``
the spike is ``sigmoid(surrogate_of / beta)`` in both passes instead: a
smooth network (refractoriness still follows the threshold condition) whose
gradient finite differences can check.

Everything runs in float64: JAX's ``jax_enable_x64`` is switched on only
inside this engine's calls (`float64`, a context manager); wrap your own
``jax.grad``/``jax.jit`` of them in ``with float64():``.
"""

import numpy as np

from ..model.architecture import population_names
from ..reference import NEVER_SPIKED
from .jax_code import neuron_code, printer


def float64():
    """A context in which JAX computes in float64 (``jax.enable_x64``)."""
    import jax

    return jax.enable_x64(True)


def check_supported(spec):
    """Raise ValueError, naming what is missing, for a spec this engine does not run."""
    if getattr(spec, "dtype", "float64") != "float64":
        raise ValueError(f"the JAX engine computes in float64 only, not {spec.dtype}")
    names = population_names(len(spec.hidden))
    stack = list(zip(names[:-1], names[1:]))
    declared = [(p.pre, p.post) for p in spec.projections]
    if declared != stack:
        other = [f"{a} -> {b}" + (" (recurrent)" if a == b else "") for a, b in declared if (a, b) not in stack]
        missing = [f"{a} -> {b}" for a, b in stack if (a, b) not in declared]
        what = "; ".join(part for part in (
            f"not supported: {', '.join(other)}" if other else "",
            f"missing: {', '.join(missing)}" if missing else "",
            "" if other or missing else "the projections are out of order") if part)
        raise ValueError("the JAX engine runs the feed-forward stack of all-to-all projections only "
                         f"({' -> '.join(names)}); {what}")


def input_spikes(spec, stim, noise_seed, samples=None):
    """The input spikes (steps x n_in, bool) of a run of ``len(stim)``
    samples: those Brian2's input group draws, ``hash_uniform(noise_seed,
    n, i) < max_rate * stim(t, i) * dt``, with the stimulus row looked up as
    Brian2's TimedArray does and the seed stored as a 32-bit integer.
    ``samples``: only the steps of these samples of the run (their steps
    one after another), with n counted from the run's start as always."""
    from brian2.input.timedarray import _find_K

    from ..randomness import hash_uniform_numpy

    stim = np.asarray(stim, dtype=float)
    if stim.ndim != 2 or stim.shape[1] != spec.n_in:
        raise ValueError(f"stimulus has shape {stim.shape}, expected (n_samples, {spec.n_in})")
    dt, t_sample = float(spec.dt), float(spec.t_sample)
    K = _find_K(dt, t_sample)
    seed = int(np.int64(int(noise_seed)).astype(np.int32))
    S = spec.steps_per_sample
    samples = np.arange(len(stim)) if samples is None else np.asarray(samples, dtype=np.int64)
    n = (samples[:, None] * S + np.arange(S)[None, :]).ravel()
    # the row `timed_index` finds, for every step at once (the same float arithmetic)
    rows = np.clip(((n * dt) / (t_sample / K) + 0.5) / K, 0, None).astype(np.int64)
    rows = np.minimum(rows, len(stim) - 1)
    rate = float(spec.max_rate) * stim[rows]
    u = hash_uniform_numpy(seed, n[:, None], np.arange(spec.n_in)[None, :])
    return u < dt * rate


def surrogate_derivative(surrogate):
    """``psi(d)`` of a `surrogates.Surrogate` as a jax.numpy function of the
    scaled distance to threshold ``d`` (lambdified from its sympy form)."""
    import sympy

    from .. import surrogates as sg

    f = sympy.lambdify([sg.x], surrogate.numeric(), modules="jax", printer=printer())
    import jax.numpy as jnp

    return lambda d: jnp.broadcast_to(f(d), jnp.shape(d)).astype(jnp.result_type(d, float))


def spike_function(surrogate):
    """``spike(d, cond, gate)``: ``cond`` (0 or 1) in the forward pass,
    derivative ``psi(d) * gate`` with respect to the distance ``d``."""
    import jax

    psi = surrogate_derivative(surrogate)

    @jax.custom_jvp
    def spike(distance, cond, gate):
        return cond

    @spike.defjvp
    def _jvp(primals, tangents):
        distance, cond, gate = primals
        return cond, psi(distance) * gate * tangents[0]

    return spike


class JaxNetwork:
    """The step of a `NetworkSpec`'s network: ``init_state`` (population ->
    variable -> array) and ``step(state, weights, z_in, n)``, which returns
    the state after step ``n`` and ``{"spikes": {population: z}, "state": ...}``.
    ``reset_gradient=False`` detaches the reset from the gradient (the
    spikes are the same): Zenke & Vogels (2021, Neural Comput. 33:899)
    found surrogate-gradient learning better without it."""

    def __init__(self, spec, smooth=None, reset_gradient=True):
        check_supported(spec)
        self.reset_gradient = bool(reset_gradient)
        if smooth is not None and not (float(smooth) > 0):
            raise ValueError(f"smooth must be a positive width, got {smooth!r}")
        self.spec, self.smooth = spec, None if smooth is None else float(smooth)
        names = population_names(len(spec.hidden))
        self.sizes = dict(zip(names, (int(s) for s in spec.sizes)))
        self.layers = names[1:]
        compiled = {}  # one compilation per neuron declaration
        self.codes = {}
        for pop in self.layers:
            neuron = spec.neuron_of(pop)
            key = id(neuron)
            if key not in compiled:
                compiled[key] = neuron_code(neuron, spec.surrogate)
            self.codes[pop] = compiled[key]
        self.w_units = {}
        for proj in spec.projections:
            unit = spec.w_unit_of(proj.post)
            uses = any("w_unit" in s.expr.names for s in self.codes[proj.post].delivery)
            if uses and unit is None:
                raise ValueError(f"the input port of {proj.post} uses w_unit, and the network gives it none")
            self.w_units[proj.post] = None if unit is None else float(unit)
        self.spike = spike_function(spec.surrogate)
        import jax

        self._scan = jax.jit(lambda state, weights, z_in, record: _scan(self, state, weights, z_in, record),
                             static_argnums=3)
        with float64():
            self.init_state = {pop: self._initial(self.codes[pop], self.sizes[pop]) for pop in self.layers}

    @staticmethod
    def _initial(code, n):
        import jax.numpy as jnp

        state = {}
        for name, dtype in code.state.items():
            value = {"not_refractory": True, "lastspike": NEVER_SPIKED}.get(name, code.initial.get(name, 0))
            state[name] = jnp.full(n, value, dtype=dtype)
        return state

    # -- one population's code --------------------------------------------
    def _env(self, code, s, common, n):
        import jax.numpy as jnp

        return {**code.parameters, **common, "i": jnp.arange(n), "N": n, **s}

    def _run(self, code, s, block, common, n, mask=None):
        """Run statements in order with Brian2's conditional writes.  A
        gated variable takes the value computed with its gate open where the
        gate is open, so that no value of the closed branch (exponential
        Euler's 0/0 while refractory) reaches a gradient."""
        import jax.numpy as jnp

        env = self._env(code, s, common, n)
        gates = {code.conditional[st.var] for st in block if st.var in code.conditional}
        free = {**env, **{g: jnp.ones(n, dtype=bool) for g in gates}} if gates else None
        for st in block:
            new = st.value(env)
            new_free = new if free is None else st.value(free)
            if st.var in code.conditional:
                new = new_free = jnp.where(env[code.conditional[st.var]], new_free, env[st.var])
            if mask is not None and st.var in code.state:  # the per-sample reset, at a sample's start
                new = jnp.where(mask, new, env[st.var])
                new_free = new if free is None else jnp.where(mask, new_free, free[st.var])
            env[st.var] = new
            if free is not None and st.var not in gates:
                free[st.var] = new_free
        return {k: jnp.broadcast_to(jnp.asarray(env[k]).astype(dtype), (n,)) for k, dtype in code.state.items()}

    def _select(self, spiked, z, new, old, dtype):
        """``new`` where a neuron spiked, else ``old``, with the gradient of
        ``z * new + (1 - z) * old``."""
        import jax
        import jax.numpy as jnp

        if not jnp.issubdtype(dtype, jnp.floating):
            return jnp.where(spiked, new, old).astype(dtype)
        if not self.reset_gradient:  # the reset detached: no gradient through z
            return jnp.where(spiked, new, old)
        if self.smooth is not None:
            return old + z * (new - old)
        return jnp.where(spiked, new, old) + (z - jax.lax.stop_gradient(z)) * (new - old)

    # -- the step -------------------------------------------------------------
    def step(self, state, weights, z_in, n):
        import jax
        import jax.numpy as jnp

        spec = self.spec
        t = n * float(spec.dt)
        common = {"t": t, "dt": float(spec.dt), "t_in_timesteps": n}
        start = (n % spec.steps_per_sample) == 0
        state = dict(state)
        spikes, fired = {"input": jnp.asarray(z_in, dtype=jnp.float64)}, {}
        for pop in self.layers:  # start, groups, thresholds
            code, size, s = self.codes[pop], self.sizes[pop], state[pop]
            if spec.reset_between_samples and code.sample_reset:
                s = self._run(code, s, code.sample_reset, common, size, mask=start)
            s = self._run(code, s, code.update, common, size)
            env = self._env(code, s, common, size)
            cond = jnp.broadcast_to(code.threshold(env), (size,))
            distance = jnp.broadcast_to(code.surrogate_of(env), (size,))
            gate = s["not_refractory"].astype(jnp.float64) if code.refractory else jnp.ones(size)
            if self.smooth is None:
                z = self.spike(distance, cond.astype(jnp.float64), gate)
            else:
                z = jax.nn.sigmoid(distance / self.smooth)
            if code.refractory:
                s = {**s, "not_refractory": s["not_refractory"] & ~cond,
                     "lastspike": jnp.where(cond, t, s["lastspike"])}
            state[pop], spikes[pop], fired[pop] = s, z, cond
        for k, proj in enumerate(spec.projections):  # synapses
            state[proj.post] = self._deliver(proj.post, state[proj.post], weights[k], spikes[proj.pre])
        for pop in self.layers:  # resets
            code, s = self.codes[pop], dict(state[pop])
            for st in code.reset:
                new = st.value(self._env(code, s, common, self.sizes[pop]))
                s[st.var] = self._select(fired[pop], spikes[pop], new, s[st.var], code.state[st.var])
            state[pop] = s
        return state, {"spikes": spikes, "state": state}

    def _deliver(self, pop, s, W, z_pre):
        """``X_post op= sum_i z_i f(w_ij, ...)`` for each delivery statement."""
        import jax.numpy as jnp

        code = self.codes[pop]
        env = {f"{k}_post": v for k, v in {**code.parameters, **s}.items()}
        env.update(w=W, w_unit=self.w_units[pop])
        out = dict(s)
        for st in code.delivery:
            var = st.var[:-len("_post")]
            total = z_pre @ jnp.broadcast_to(st.expr(env), W.shape)
            new = s[var] + total if st.op == "+=" else s[var] - total
            if var in code.conditional:
                new = jnp.where(s[code.conditional[var]], new, s[var])
            out[var] = new
        return out

    # -- a run ------------------------------------------------------------------
    def simulate(self, weights, spikes_in, n_steps=None, record=("v",), state=None):
        """Run ``n_steps`` steps (all rows of ``spikes_in`` by default) from
        ``state`` (the initial state by default) with ``jax.lax.scan``.

        Returns ``{"spikes": {population: (steps, n)}, "recorded":
        {population: {variable: (steps, n)}}, "state": final state}``; the
        recorded values are those at the end of each step."""
        import jax
        import jax.numpy as jnp

        with float64():
            weights = tuple(_float64(W, f"weights of projection {k + 1}") for k, W in enumerate(weights))
            for k, ((n_pre, n_post), W) in enumerate(zip(self.spec.projection_shapes, weights)):
                if W.shape != (n_pre, n_post):
                    raise ValueError(f"weights of projection {k + 1} have shape {W.shape}, expected {(n_pre, n_post)}")
            if len(weights) != len(self.spec.projections):
                raise ValueError(f"expected {len(self.spec.projections)} weight matrices, got {len(weights)}")
            z_in = jnp.asarray(spikes_in, dtype=jnp.float64)
            n_steps = len(z_in) if n_steps is None else int(n_steps)
            if z_in.shape[1:] != (self.spec.n_in,) or not 0 < n_steps <= len(z_in):
                raise ValueError(f"input spikes have shape {z_in.shape}: expected (at least {n_steps}, "
                                 f"{self.spec.n_in})")
            record = tuple(record)
            for var in record:
                if not any(var in code.state for code in self.codes.values()):
                    raise ValueError(f"no population has a variable '{var}' to record")
            final, out = self._scan(self.init_state if state is None else state, weights, z_in[:n_steps], record)
        result = {"spikes": {"input": z_in[:n_steps], **out["spikes"]}, "recorded": out["recorded"], "state": final}
        if any(isinstance(leaf, jax.core.Tracer) for leaf in jax.tree_util.tree_leaves(result)):
            return result  # inside a transformation (jax.grad, jax.jit)
        return jax.tree_util.tree_map(np.asarray, result)  # float64 NumPy arrays, whatever JAX's mode outside


def _float64(x, what):
    import jax.numpy as jnp

    dtype = getattr(x, "dtype", None)
    if dtype is not None and jnp.issubdtype(dtype, jnp.floating) and jnp.dtype(dtype).itemsize < 8:
        raise ValueError(f"{what} are {dtype}: the JAX engine computes in float64 (trace your jax.grad or "
                         "jax.jit inside brianrules.engines.jax_step.float64())")
    return jnp.asarray(x, dtype=jnp.float64)


def _scan(net, state, weights, z_in, record):
    import jax
    import jax.numpy as jnp

    def body(s, xs):
        z, n = xs
        s, out = net.step(s, weights, z, n)
        spikes = {pop: out["spikes"][pop] for pop in net.layers}
        recorded = {pop: {v: s[pop][v] for v in record if v in s[pop]} for pop in net.layers}
        return s, {"spikes": spikes, "recorded": recorded}

    steps = jnp.arange(len(z_in), dtype=jnp.int64)
    return jax.lax.scan(body, state, (z_in, steps))


def network_step(spec, smooth=None):
    """``(init_state, step)`` of the network of ``spec`` (see `JaxNetwork`);
    ``step(state, weights, z_in, n)`` is a pure function, jit-compatible."""
    net = JaxNetwork(spec, smooth)

    def step(state, weights, z_in, n):
        with float64():
            return net.step(state, weights, z_in, n)

    return net.init_state, step


def simulate(spec, weights, spikes_in, n_steps=None, record=("v",), smooth=None):
    """One run of the network of ``spec`` with fixed ``weights`` (n_pre x
    n_post per projection) on the input spikes ``spikes_in`` (steps x n_in,
    e.g. `input_spikes`): see `JaxNetwork.simulate`.  To run often (a
    gradient, finite differences), build the `JaxNetwork` once."""
    return JaxNetwork(spec, smooth).simulate(weights, spikes_in, n_steps, record)


__all__ = ["JaxNetwork", "check_supported", "float64", "input_spikes", "network_step", "simulate",
           "spike_function", "surrogate_derivative"]
