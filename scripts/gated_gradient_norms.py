"""How the exact gradient of a gated (Huh & Sejnowski) network grows with the
trial's length: the norm of dL/dU, dL/dW and dL/dO for a loss in the last
10 ms of trials of 50 to 400 ms (an input pulse in the first 50 ms), for
recurrent weights of several scales (`GradedNetwork.initial_params`' gain).

    python scripts/gated_gradient_norms.py [--gains 0 0.1 0.3 1]
"""

import argparse

import numpy as np

from brianrules.engines.graded import GradedJax
from brianrules.model.graded import GradedNetwork
from brianrules.model.neuron import load
from brianrules.training.exact import GATED_NEURON


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--gains", type=float, nargs="+", default=[0.0, 0.1, 0.3, 1.0])
    p.add_argument("--lengths", type=int, nargs="+", default=[50, 100, 200, 400], help="trial lengths in ms")
    p.add_argument("--neurons", type=int, default=80)
    a = p.parse_args()
    net = GradedNetwork(load(GATED_NEURON), a.neurons, 2, 1, 1e-3)
    engine = GradedJax(net)
    print("gain  trial ms   |dL/dU|      |dL/dW|      |dL/dO|")
    for gain in a.gains:
        params = net.initial_params(0, gain=gain)
        params["O"] = np.random.default_rng(1).normal(0, 0.1, params["O"].shape)
        rng = np.random.default_rng(2)
        for T in a.lengths:
            x = np.zeros((8, T, 2))
            x[:, :50, 0] = rng.choice([-1.0, 1.0], (8, 1))
            mask = np.zeros((8, T))
            mask[:, -10:] = 1.0
            _, g = engine.value_and_grad(params, x, np.zeros((8, T, 1)), mask)
            print(f"{gain:4g}  {T:8d}   " + "  ".join(f"{np.linalg.norm(g[k]):11.4g}" for k in ("U", "W", "O")))


if __name__ == "__main__":
    main()
