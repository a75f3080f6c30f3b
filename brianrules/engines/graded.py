"""A `model.graded.GradedNetwork` as a JAX function, and its exact gradient.

The neuron's discretised update is generated from its declaration
(`jax_code.neuron_code`: the abstract code of Brian2's state updater for the
declared integration method, printed for ``jax.numpy``), so the forward pass
is the Brian2 program's (`build.graded`) step for step.  One step ``n``
(``t = n dt``), in Brian2's order for the objects `build.graded` creates:

1. the summed variables: ``I_syn = W^T s`` from the state before the step,
   ``I_ext = U^T i(t)``;
2. the neurons' state update;
3. the readout ``o = O^T s + b_out`` from the updated ``s``;
4. the threshold and the reset where a neuron spiked.

For the gated neuron (``models/neurons/gated.toml``) every part is smooth in
the weights: its reset ``v -= 1`` only counts the cycle of a periodic
dynamics, and the gate opens continuously.  The gradient that
``jax.grad`` takes through ``jax.lax.scan`` is then the exact gradient of
the discretised network (Huh & Sejnowski derive the continuous-time one by
the adjoint method; the two agree as ``dt`` goes to 0), not a surrogate: a
test checks it against central finite differences.  A neuron whose reset
changes its dynamics (a LIF) gets the gradient of the spike-free flow
between spikes only; `GradedJax` takes any neuron with an ``output`` port,
and says nothing of how meaningful that is.

Everything runs in float64 (`jax_step.float64`).
"""

import numpy as np

from ..model.graded import BIAS, EXTERNAL
from ..surrogates import Surrogate
from .jax_code import neuron_code
from .jax_step import float64

#: variables of the state that the step writes from the weights, not from the state
_DRIVEN = (EXTERNAL, BIAS)


class GradedJax:
    """``simulate(params, inputs)`` and ``loss``/``grad`` of a `GradedNetwork`."""

    def __init__(self, net):
        import jax

        self.net = net
        self.code = neuron_code(net.neuron, Surrogate())
        if self.code.refractory:
            raise ValueError(f"the graded engine has no refractoriness: neuron {net.neuron.name} declares one")
        self.input = net.neuron.input_variable
        self.output = net.neuron.output
        self._sim = jax.jit(self._simulate, static_argnums=(2,))
        self._loss_only = jax.jit(self._loss)
        self._value_and_grad = jax.jit(jax.value_and_grad(self._loss))

    # -- one step ---------------------------------------------------------------
    def _env(self, s, n):
        return {**self.code.parameters, **s, "t": n * self.net.dt, "dt": self.net.dt, "t_in_timesteps": n}

    def initial_state(self, batch):
        import jax.numpy as jnp

        return {k: jnp.full((batch, self.net.n), self.code.initial.get(k, 0.0), dtype=dtype)
                for k, dtype in self.code.state.items()}

    def step(self, state, params, i_t, n):
        import jax.numpy as jnp

        s = dict(state)
        s[self.input] = s[self.output] @ params["W"]
        s[EXTERNAL] = i_t @ params["U"]
        if BIAS in s:
            s[BIAS] = jnp.broadcast_to(params["bias"], s[BIAS].shape)
        env = self._env(s, n)
        for st in self.code.update:
            env[st.var] = st.value(env)
        s = {k: jnp.broadcast_to(env[k], state[k].shape).astype(dtype) for k, dtype in self.code.state.items()}
        o = s[self.output] @ params["O"] + params["bias_out"]
        env = self._env(s, n)
        spiked = jnp.broadcast_to(self.code.threshold(env), state[self.output].shape)
        for st in self.code.reset:
            s[st.var] = jnp.where(spiked, st.value(self._env(s, n)), s[st.var])
        return s, o, spiked

    # -- a run --------------------------------------------------------------------
    def _simulate(self, params, inputs, record):
        import jax
        import jax.numpy as jnp

        x = jnp.swapaxes(inputs, 0, 1)  # steps first

        def body(state, xs):
            i_t, n = xs
            state, o, spiked = self.step(state, params, i_t, n)
            rec = {k: state[k] for k in record}
            return state, (o, spiked, rec)

        steps = jnp.arange(x.shape[0], dtype=jnp.int64)
        _, (o, spiked, rec) = jax.lax.scan(body, self.initial_state(inputs.shape[0]), (x, steps))
        return {"o": jnp.swapaxes(o, 0, 1), "spikes": jnp.swapaxes(spiked, 0, 1),
                "recorded": {k: jnp.swapaxes(v, 0, 1) for k, v in rec.items()}}

    def simulate(self, params, inputs, record=("v", "s")):
        """Run every trial of ``inputs`` (trials x steps x n_in) from the
        initial state with ``params`` (`GradedNetwork.check_params`).
        Returns NumPy arrays: ``o`` (trials x steps x n_out), ``spikes``
        (trials x steps x n, bool) and ``recorded[var]`` (trials x steps x n),
        each the value at the end of the step."""
        import jax

        params = self.net.check_params(params)
        inputs = self.net.check_inputs(inputs)
        record = tuple(record)
        for var in record:
            if var not in self.code.state:
                raise ValueError(f"the neuron has no state variable '{var}' to record "
                                 f"(it has {', '.join(self.code.state)})")
        with float64():
            out = self._sim(params, inputs, record)
        return jax.tree_util.tree_map(np.asarray, out)

    # -- the loss and its gradient --------------------------------------------------
    def _loss(self, params, inputs, targets, mask):
        import jax.numpy as jnp

        o = self._simulate(params, inputs, ())["o"]
        err = (o - targets) ** 2 * mask[..., None]
        return jnp.sum(err) / (jnp.maximum(jnp.sum(mask), 1.0) * targets.shape[-1])

    def loss(self, params, inputs, targets, mask):
        """The mean squared error of the readouts against ``targets``
        (trials x steps x n_out) over the steps where ``mask`` (trials x
        steps) is non-zero, weighted by it."""
        args = self._checked(params, inputs, targets, mask)
        with float64():
            return float(self._loss_only(*args))

    def _checked(self, params, inputs, targets, mask):
        params = self.net.check_params(params)
        inputs = self.net.check_inputs(inputs)
        targets = np.asarray(targets, dtype=float)
        mask = np.asarray(mask, dtype=float)
        if targets.shape != inputs.shape[:2] + (self.net.n_out,):
            raise ValueError(f"targets have shape {targets.shape}, expected {inputs.shape[:2] + (self.net.n_out,)}")
        if mask.shape != inputs.shape[:2]:
            raise ValueError(f"mask has shape {mask.shape}, expected {inputs.shape[:2]}")
        return params, inputs, targets, mask

    def value_and_grad(self, params, inputs, targets, mask):
        """(loss, gradient with respect to every parameter), as float and
        dict of NumPy arrays."""
        import jax

        args = self._checked(params, inputs, targets, mask)
        with float64():
            value, grad = self._value_and_grad(*args)
        grad = jax.tree_util.tree_map(np.array, grad)
        if not self.net.self_connections:
            np.fill_diagonal(grad["W"], 0.0)
        if not self.net.has_bias:
            grad["bias"] = np.zeros_like(grad["bias"])
        return float(value), grad


class Adam:
    """Adam (Kingma & Ba 2015) with bias correction, on a dict of arrays:
    ``step(params, grad)`` returns the new values."""

    def __init__(self, lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-8):
        if not lr > 0:
            raise ValueError(f"the learning rate must be positive, got {lr!r}")
        self.lr, self.beta1, self.beta2, self.eps = float(lr), float(beta1), float(beta2), float(eps)
        self.m, self.v, self.t = {}, {}, 0

    def step(self, params, grad):
        self.t += 1
        out = {}
        for k, p in params.items():
            g = grad[k]
            self.m[k] = self.beta1 * self.m.get(k, 0.0) + (1 - self.beta1) * g
            self.v[k] = self.beta2 * self.v.get(k, 0.0) + (1 - self.beta2) * g * g
            m_hat = self.m[k] / (1 - self.beta1 ** self.t)
            v_hat = self.v[k] / (1 - self.beta2 ** self.t)
            out[k] = p - self.lr * m_hat / (np.sqrt(v_hat) + self.eps)
        return out

    def state(self):
        return {"t": self.t, **{f"m_{k}": v for k, v in self.m.items()}, **{f"v_{k}": v for k, v in self.v.items()}}


__all__ = ["Adam", "GradedJax"]
