"""Learning rules: presets of the three-factor core (see `core`)."""

from .core import ELIGIBILITIES, POST_FACTORS, ThreeFactorRule
from .dfa import dfa
from .erbp import erbp
from .fa import fa
from .pes import pes
from .symmetric import symmetric

#: rule name -> factory(**parameters) returning a ThreeFactorRule
RULES = {"dfa": dfa, "erbp": erbp, "fa": fa, "pes": pes, "symmetric": symmetric}
#: other names for the same rules
ALIASES = {"srbp": "dfa"}


def names():
    return sorted(RULES) + sorted(ALIASES)


def get(name, **parameters):
    """The rule called ``name`` with the given parameters."""
    key = ALIASES.get(name, name)
    if key not in RULES:
        raise ValueError(f"unknown rule '{name}' (choose from {', '.join(names())})")
    return RULES[key](**parameters)


__all__ = ["ThreeFactorRule", "POST_FACTORS", "ELIGIBILITIES", "RULES", "get", "names"]
