"""Learning rules: presets of the three-factor core (see `core`)."""

from .bptt import bptt
from .core import ThreeFactorRule
from .dfa import dfa
from .dtp import dtp
from .eprop import eprop
from .erbp import erbp
from .factors import ELIGIBILITIES, FILTERED_ELIGIBILITIES, POST_FACTORS
from .fa import fa
from .kp import kp
from .mirror import mirror
from .pes import pes
from .signsym import signsym
from .superspike import superspike
from .symmetric import symmetric
from .three_factor import three_factor

#: rule name -> factory(**parameters) returning a ThreeFactorRule
RULES = {"dfa": dfa, "eprop": eprop, "erbp": erbp, "fa": fa, "pes": pes, "superspike": superspike,
         "symmetric": symmetric, "three_factor": three_factor,
         "signsym": signsym, "kp": kp, "mirror": mirror, "dtp": dtp, "bptt": bptt}
#: other names for the same rules
ALIASES = {"srbp": "dfa", "wm": "mirror"}


def names():
    return sorted(RULES) + sorted(ALIASES)


def parameters_of(name):
    """The keywords rule ``name`` takes (its factory's, or the list a
    factory that forwards its keywords declares as ``parameters``)."""
    import inspect

    factory = RULES[ALIASES.get(name, name)]
    return tuple(getattr(factory, "parameters", None) or inspect.signature(factory).parameters)


def get(name, **parameters):
    """The rule called ``name`` with the given parameters."""
    key = ALIASES.get(name, name)
    if key not in RULES:
        raise ValueError(f"unknown rule '{name}' (choose from {', '.join(names())})")
    return RULES[key](**parameters)


__all__ = ["ThreeFactorRule", "POST_FACTORS", "ELIGIBILITIES", "FILTERED_ELIGIBILITIES", "RULES", "get", "names", "parameters_of"]
