"""e-prop in a recurrent network, in NumPy: the oracle of the Brian2 program.

The network is a `model.recurrent.EpropNetwork` (its docstring has the
neuron and readout steps).  Over one sequence the e-prop gradient of each
learned weight is accumulated step by step, as Bellec et al. (2020) define
it and NEST's ``eprop_synapse_bsshslm_2020`` computes it (in its
``compute_gradient``; ``p`` the input factor, ``j`` the postsynaptic
neuron, ``i`` the presynaptic one, whose spike entering ``v_j`` at step
``k`` is ``s_i``: ``x_k`` for inputs, ``z_(k-1)`` for recurrent neurons):

    zbar_i = alpha zbar_i + p s_i                      (presynaptic trace)
    e_ij = psi_j (zbar_i - beta_j eps_ij)             (eligibility trace)
    eps_ij = rho eps_ij + e_ij                         (adaptive neurons' trace)
    ebar_ij = kappa ebar_ij + (1 - kappa) e_ij         (filtered as the readout)
    g_ij += L_j ebar_ij,   L_j = sum_k B_jk err_k      (learning signal)

and once per sequence the firing-rate regulariser adds
``c_reg (f_j - f_target dt) / T * sum_k e_ij`` (``f_j``: spikes per step
over the sequence of ``T`` steps).  A readout weight's gradient is
``sum_k err_k zbar_j`` with ``zbar_j = kappa zbar_j + (1 - kappa) z_j``.
``err`` is 0 where the task's mask is 0 and ``mask * (y - y*)`` (or
``mask * (softmax(y) - pi*)``) elsewhere; the mask is a weight of each
step.  Symmetric feedback takes ``B = W_out``.

A batch's gradient is the mean of its sequences' gradients (NEST's
``batch_size``; `Optimizer` then takes one step).  `tests/test_eprop_nest.py`
checks the first iterations of NEST's sine-wave example against the losses
NEST's test suite records for it.
"""

import numpy as np

from .step import SynapseState, apply_accumulated

#: the weights that e-prop learns (``B`` is fixed, or ``W_out`` itself with symmetric feedback)
LEARNED = ("W_in", "W_rec", "W_out")


def _log_softmax(y):
    shifted = y - y.max(axis=-1, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=-1, keepdims=True))


def readout_error(net, y, target, mask):
    """The error per step and readout, ``mask * err``, for readouts ``y``
    (trials, steps, n_out): ``err = y - y*`` (mean squared error) or
    ``softmax(y) - pi*`` (cross-entropy)."""
    err = y - target if net.loss == "mse" else np.exp(_log_softmax(y)) - target
    return mask[..., None] * err


def readout_loss(net, y, target, mask):
    """The loss per sequence: ``0.5 sum_k mask (y - y*)^2`` averaged over
    readouts (NEST's example's loss), or the mean over the masked steps of
    ``-sum pi* log softmax(y)``."""
    if net.loss == "mse":
        return 0.5 * np.sum(mask[..., None] * (y - target) ** 2, axis=1).mean(axis=-1)
    ce = -(target * _log_softmax(y)).sum(axis=-1)
    return (mask * ce).sum(axis=1) / np.maximum(mask.sum(axis=1), 1e-300)


def simulate(net, params, inputs, targets, mask, gradients=True):
    """One batch of sequences from a zero state: returns ``y`` (trials,
    steps, n_out), ``z`` (trials, steps, n_rec, bool), ``v`` (trials,
    steps, n_rec), ``loss`` (per trial), ``rate_hz`` (per trial and
    neuron) and, with ``gradients``, ``grads`` (the batch's mean e-prop
    gradient of ``W_in``, ``W_rec``, ``W_out``)."""
    p = net.check_params(params)
    x, ystar, m = net.check_sequences(inputs, targets, mask)
    n_tr, steps, _ = x.shape
    n, alpha, rho, kappa, pin = net.n_rec, net.alpha, net.rho, net.kappa, net.p_in
    beta = net.betas
    W_in, W_rec, W_out = p["W_in"], p["W_rec"], p["W_out"]
    B = W_out if net.feedback == "symmetric" else p["B"]
    height = net.gamma / net.v_th
    v = np.zeros((n_tr, n))
    a = np.zeros((n_tr, n))
    z = np.zeros((n_tr, n))
    r = np.zeros((n_tr, n), dtype=int)
    y = np.zeros((n_tr, net.n_out))
    ys = np.zeros((n_tr, steps, net.n_out))
    zs = np.zeros((n_tr, steps, n), dtype=bool)
    vs = np.zeros((n_tr, steps, n))
    nsp = np.zeros((n_tr, n))
    if gradients:
        zb = {"W_in": np.zeros((n_tr, net.n_in)), "W_rec": np.zeros((n_tr, n))}
        eps = {k: np.zeros((n_tr,) + W.shape) for k, W in (("W_in", W_in), ("W_rec", W_rec))}
        ebar = {k: np.zeros_like(e) for k, e in eps.items()}
        g = {k: np.zeros_like(e) for k, e in eps.items()}
        sum_e = {k: np.zeros_like(e) for k, e in eps.items()}
        zb_out = np.zeros((n_tr, n))
        g_out = np.zeros((n_tr,) + W_out.shape)
    for k in range(steps):
        z_prev = z
        v = alpha * v + pin * (x[:, k] @ W_in + z_prev @ W_rec) - net.v_th * z_prev
        a = rho * a + z_prev
        A = net.v_th + beta * a
        r = np.maximum(r - 1, 0)
        psi = np.where(r > 0, 0.0, height * np.maximum(0.0, 1.0 - np.abs(v - A) / net.v_th))
        z = ((v >= A) & (r == 0)).astype(float)
        r = np.where(z > 0, net.n_ref, r)
        nsp += z
        y = kappa * y + (1.0 - kappa) * (z @ W_out)
        ys[:, k], zs[:, k], vs[:, k] = y, z > 0, v
        if not gradients:
            continue
        err = readout_error(net, y[:, None], ystar[:, k:k + 1], m[:, k:k + 1])[:, 0]
        L = err @ B.T
        for key, s in (("W_in", x[:, k]), ("W_rec", z_prev)):
            zb[key] = alpha * zb[key] + pin * s
            e = psi[:, None, :] * (zb[key][:, :, None] - beta * eps[key])
            eps[key] = rho * eps[key] + e
            ebar[key] = kappa * ebar[key] + (1.0 - kappa) * e
            g[key] += L[:, None, :] * ebar[key]
            sum_e[key] += e
        zb_out = kappa * zb_out + (1.0 - kappa) * z
        g_out += zb_out[:, :, None] * err[:, None, :]
    loss = readout_loss(net, ys, ystar, m)
    out = {"y": ys, "z": zs, "v": vs, "loss": loss, "rate_hz": nsp / (steps * net.dt)}
    if gradients:
        reg = net.c_reg * (nsp / steps - net.f_target * net.dt) / steps
        grads = {key: (g[key] + reg[:, None, :] * sum_e[key]).mean(axis=0) for key in g}
        if not net.self_connections:
            np.fill_diagonal(grads["W_rec"], 0.0)
        grads["W_out"] = g_out.mean(axis=0)
        out["grads"] = grads
    return out


def apply_gradients(params, grads, optimizer, eta, state=None):
    """One optimizer step on every learned weight: ``w -= eta g`` (sgd) or
    Adam (`rules.optimizers.Optimizer`, TensorFlow's and NEST's
    bias-corrected form, ``eta`` its step), then ``clip`` if the optimizer
    has one.  ``state``: the optimizer's per-synapse state from the step
    before (None at the start).  Returns (params, state)."""
    params, state = dict(params), dict(state or {})
    for key in LEARNED:
        g = -np.asarray(grads[key], dtype=float)
        opt = state.get(key) or {v: np.zeros_like(g) for v in optimizer.state}
        if optimizer.normalising:
            syn = apply_accumulated(SynapseState(params[key], g, (), opt), optimizer, alpha=eta)
        else:
            syn = apply_accumulated(SynapseState(params[key], eta * g, (), opt), optimizer)
        params[key], state[key] = syn.w, syn.opt
    return params, state


__all__ = ["LEARNED", "apply_gradients", "readout_error", "readout_loss", "simulate"]
