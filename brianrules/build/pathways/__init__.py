"""Feedback pathways: how the learning signal ``L`` reaches each population.

A pathway is a builder registered by name (as Nengo registers a builder
per learning rule): `register` adds a `Pathway` subclass, and every module of
this folder is imported when the package is, so a new pathway is one new
file here and no dispatch code changes.  A rule names its pathway
(``learning_signal`` / ``feedback``); the network builder asks the pathway
for the groups' extra equations, the feedback synapses, their initial
matrices and their run values.

The shipped pathways: `direct` (DFA/SRBP), `encoders` (PES), `layerwise`
(FA), `symmetric` (backprop-like), `signsym` (sign-symmetric), `kp`
(Kolen-Pollack, learned feedback), `mirror` (weight mirror,
feedback learned from noise), `dtp` (learned inverses), `erbp` (error neurons).  Random feedback
matrices are scaled as `FEEDBACK_SCALES` says (`random_matrices`).
"""

import importlib
import pkgutil

from .base import FEEDBACK_SCALES, PATHWAYS, Pathway, check_scale, get, names, random_matrices, register

for _info in pkgutil.iter_modules(__path__):
    if _info.name != "base":
        importlib.import_module(f"{__name__}.{_info.name}")

__all__ = ["FEEDBACK_SCALES", "PATHWAYS", "Pathway", "check_scale", "get", "names", "random_matrices", "register"]
