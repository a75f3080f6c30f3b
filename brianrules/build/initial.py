"""How the forward weights start: the mean and standard deviation of each
projection's Gaussian, in units of the postsynaptic neuron's weight unit.

- ``fan_in`` (the default): N(w_init_mean / n_pre, (w_init / sqrt(n_pre))^2),
  the same two numbers for every layer.
- ``fluctuation``: each layer starts in the fluctuation-driven regime
  (Rossbroich, Gygax & Zenke 2022, "Fluctuation-driven initialization for
  spiking neural network training", Neuromorph. Comput. Eng. 2:044016).  With
  n presynaptic neurons firing Poisson spikes at rate nu, the free membrane
  potential (without threshold and reset, in units of the threshold's
  distance from reset, measured from rest) has mean and variance

      mu_U = n nu mu_w eps_bar,     sigma_U^2 = n nu (mu_w^2 + sigma_w^2) eps_hat

  where eps_bar and eps_hat are the integrals of the potential's response to
  one unit weight and of its square (Campbell's theorem).  Asking for a mean
  potential ``mu_u`` with the threshold theta ``1 / sigma_u`` standard
  deviations above it (sigma_U = sigma_u (theta - mu_u); the paper's
  xi = 1 / sigma_u) gives

      mu_w = mu_u / (n nu eps_bar),
      sigma_w^2 = sigma_u^2 (theta - mu_u)^2 / (n nu eps_hat) - mu_w^2.

  A population with m afferent projections gets from each a share 1/m of
  the mean and of the variance.  For the
  current-based LIF (``tau_m dv/dt = -v + I``, a spike adding ``w`` to
  ``I``, which decays with ``tau_syn``) the response is
  ``tau_syn / (tau_syn - tau_m) (exp(-t/tau_syn) - exp(-t/tau_m))``, so
  ``eps_bar = tau_syn`` and ``eps_hat = tau_syn^2 / (2 (tau_syn + tau_m))``.
  The input layer's rate is ``max_rate`` times the training set's mean
  intensity; each hidden layer's is ``init_rate``, a guess of what it will
  fire (adaptation, refractoriness and reset are left out, as in the paper).
"""

import math

from brian2 import Hz, second

#: name -> what it does, for messages and `--help`
INITS = {
    "fan_in": "N(w_init_mean / n_pre, (w_init / sqrt(n_pre))^2) in every layer",
    "fluctuation": "each layer in the fluctuation-driven regime (Rossbroich, Gygax & Zenke 2022)",
}


def check_init(name):
    if name not in INITS:
        raise ValueError(f"unknown initialisation {name!r} (choose from {', '.join(INITS)})")
    return name


def fluctuation_refusal(neurons):
    """Why the fluctuation-driven start cannot set the weights onto
    ``neurons`` (the hidden and output populations' NeuronModels), or None."""
    for neuron in neurons:
        try:
            psp_integrals(neuron)
            threshold_distance(neuron)
        except ValueError as e:
            return str(e)
    return None


def psp_integrals(neuron):
    """(eps_bar, eps_hat) in seconds of a neuron with the LIF's current
    input: a spike adds to ``I_syn``, which decays with ``tau_syn`` and
    drives ``v`` with ``tau_m``.  Another neuron is a ValueError."""
    p = neuron.parameters
    if neuron.input_variable != "I_syn" or "tau_m" not in p or "tau_syn" not in p:
        raise ValueError(f"the fluctuation-driven initialisation needs a neuron whose spikes add to a current "
                         f"I_syn (tau_syn) that drives v (tau_m), as the LIF's and ALIF's; the neuron "
                         f"{neuron.name!r} has input {neuron.input!r}")
    tm, ts = float(p["tau_m"] / second), float(p["tau_syn"] / second)
    return ts, ts * ts / (2 * (ts + tm))


def threshold_distance(neuron):
    """(v_th - v_rest) / (v_th - v_reset): the threshold, measured from rest
    in the weight unit's threshold distances (1 where rest and reset agree)."""
    p = neuron.parameters
    if not all(k in p for k in ("v_th", "v_rest", "v_reset")):
        raise ValueError(f"the fluctuation-driven initialisation needs v_th, v_rest and v_reset; the neuron "
                         f"{neuron.name!r} has {', '.join(p)}")
    return float((p["v_th"] - p["v_rest"]) / (p["v_th"] - p["v_reset"]))


def fluctuation_parameters(neuron, n_pre, rate, mu_u=0.0, sigma_u=1.0, share=1.0):
    """(mu_w, sigma_w) of a projection of ``n_pre`` neurons firing at ``rate``
    onto ``neuron`` that brings ``share`` of the mean and of the variance
    (see the module's docstring)."""
    ebar, ehat = psp_integrals(neuron)
    theta = threshold_distance(neuron)
    nu = float(rate / Hz)
    if not nu > 0:
        raise ValueError(f"the fluctuation-driven initialisation needs a positive presynaptic rate, got {rate}")
    mu_w = share * mu_u / (n_pre * nu * ebar)
    var = share * sigma_u ** 2 * (theta - mu_u) ** 2 / (n_pre * nu * ehat) - mu_w ** 2
    if not var > 0:
        raise ValueError(f"the fluctuation-driven initialisation has no weights with mean potential {mu_u} and "
                         f"fluctuations {sigma_u} (the mean alone makes them larger): lower init_mu_u")
    return mu_w, math.sqrt(var)


def weight_parameters(spec, input_rate=None):
    """(mean, std) of each projection's initial weights, in its weight unit.
    ``input_rate``: the input layer's mean rate (None: ``max_rate / 2``)."""
    afferents = {}
    for proj in spec.projections:
        afferents[proj.post] = afferents.get(proj.post, 0) + 1
    out = []
    for proj, (n_pre, _) in zip(spec.projections, spec.projection_shapes):
        if spec.init == "fan_in":
            out.append((spec.w_init_mean / n_pre, spec.w_init / math.sqrt(n_pre)))
            continue
        rate = (spec.max_rate / 2 if input_rate is None else input_rate) if proj.pre == "input" else spec.init_rate
        out.append(fluctuation_parameters(spec.neuron_of(proj.post), n_pre, rate, spec.init_mu_u, spec.init_sigma_u,
                                          share=1.0 / afferents[proj.post]))
    return out
