"""Encoders (PES): direct feedback whose matrix holds each hidden neuron's
encoder, a random unit vector in error space (Nengo's PES; MacNeil &
Eliasmith 2011)."""

import numpy as np

from .direct import Direct
from .base import register


@register
class Encoders(Direct):
    name = "encoders"
    holds = "the hidden neurons' encoders"

    def shapes(self, spec):
        return []

    def matrices(self, spec, rng, scale=None):
        if (scale or getattr(spec, "feedback_scale", "fan_in")) != "fan_in":
            raise ValueError("the encoders pathway's matrices are unit encoders: they take no feedback scale")
        out = []
        for n_hid in spec.hidden:
            E = rng.normal(size=(spec.n_out, n_hid))
            out.append(E / np.linalg.norm(E, axis=0, keepdims=True))
        return out
