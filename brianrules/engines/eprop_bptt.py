"""The surrogate gradient of a recurrent e-prop network by backpropagation through time (JAX).

The reference against which e-prop is held: the same network
(`model.recurrent.EpropNetwork`, the step of its docstring), the same loss
(``0.5 sum_k mask (y - y*)^2`` summed over readouts, or the cross-entropy
``-sum_k mask sum pi* log softmax(y)``, plus the firing-rate regulariser
``c_reg / 2 sum_j (f_j - f_target dt)^2`` with ``f_j`` a neuron's spikes
per step; a batch's mean over its sequences), differentiated by JAX through
every step of ``jax.lax.scan``.  A spike's derivative with respect to its
membrane is the pseudo-derivative ``psi``, as in e-prop; nothing else is
cut: the gradient flows through the recurrent weights, the resets and the
adaptation to every earlier step.  With ``cut=True`` a spike's effect on the
next step's membranes (recurrent input and reset) is cut, and the gradient
is symmetric e-prop's, exactly (Bellec et al. 2020; a test checks the
reference's e-prop against it).

`EpropBptt` is a runner like those of `engines.eprop`: ``run(params,
inputs, targets, mask)`` returns the readouts and the batch's mean gradient.
"""

import time

import numpy as np

from .jax_step import float64


class EpropBptt:
    device = "jax"
    compile_s = 0.0

    def __init__(self, net, steps, n_seq, cut=False):
        import jax

        self.net, self.steps, self.n_seq, self.cut = net, int(steps), int(n_seq), bool(cut)
        with float64():
            self._value_and_grad = jax.jit(jax.value_and_grad(self._loss, has_aux=True))

    def _loss(self, p, x, y, m):
        import jax
        import jax.numpy as jnp

        net = self.net
        height = net.gamma / net.v_th
        beta = jnp.asarray(net.betas)
        stop = jax.lax.stop_gradient if self.cut else (lambda a: a)

        @jax.custom_jvp
        def spike(u, psi):
            return (u >= 0).astype(u.dtype)

        @spike.defjvp
        def spike_jvp(primals, tangents):
            u, psi = primals
            du, _ = tangents
            return spike(u, psi), psi * du

        n_tr = x.shape[0]

        def step(state, inp):
            v, a, z, r, yo, count = state
            xk = inp
            zs = stop(z)
            v = net.alpha * v + net.p_in * (xk @ p["W_in"] + zs @ p["W_rec"]) - net.v_th * zs
            a = net.rho * a + z
            A = net.v_th + beta * a
            r = jnp.maximum(r - 1, 0)
            free = (r == 0).astype(v.dtype)
            psi = jax.lax.stop_gradient(free * height * jnp.maximum(0.0, 1 - jnp.abs(v - A) / net.v_th))
            z = spike(v - A, psi) * free
            r = jnp.where(jax.lax.stop_gradient(z) > 0, net.n_ref, r)
            yo = net.kappa * yo + (1 - net.kappa) * (z @ p["W_out"])
            return (v, a, z, r, yo, count + z), (yo, z)

        zeros = jnp.zeros((n_tr, net.n_rec))
        init = (zeros, zeros, zeros, jnp.zeros((n_tr, net.n_rec), dtype=jnp.int32),
                jnp.zeros((n_tr, net.n_out)), zeros)
        (_, _, _, _, _, count), (Y, Z) = jax.lax.scan(step, init, jnp.swapaxes(x, 0, 1))
        Y = jnp.swapaxes(Y, 0, 1)
        if net.loss == "mse":
            E = 0.5 * jnp.sum(m[..., None] * (Y - y) ** 2, axis=(1, 2))
        else:
            E = -jnp.sum(m[..., None] * y * jax.nn.log_softmax(Y, axis=-1), axis=(1, 2))
        f = count / x.shape[1]
        E_reg = 0.5 * net.c_reg * jnp.sum((f - net.f_target * net.dt) ** 2, axis=1)
        return jnp.mean(E + E_reg), (Y, jnp.mean(Z))

    def run(self, params, inputs, targets, mask):
        import jax.numpy as jnp

        t0 = time.perf_counter()
        net = self.net
        p = net.check_params(params)
        x, y, m = net.check_sequences(inputs, targets, mask)
        with float64():
            (_, (Y, rate)), g = self._value_and_grad({k: jnp.asarray(p[k]) for k in ("W_in", "W_rec", "W_out")},
                                                     jnp.asarray(x), jnp.asarray(y), jnp.asarray(m))
        grads = {k: np.array(v) for k, v in g.items()}
        if not net.self_connections:
            np.fill_diagonal(grads["W_rec"], 0.0)
        return {"y": np.asarray(Y), "grads": grads, "rate_hz": float(rate) / net.dt,
                "wall_s": time.perf_counter() - t0}

    def close(self):
        pass


__all__ = ["EpropBptt"]
