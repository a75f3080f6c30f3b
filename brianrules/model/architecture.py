"""Architecture as data: populations and the projections between them.

The populations are ``input`` (Poisson spike sources), ``hidden_1`` ...
``hidden_L`` (the sizes of ``hidden``) and ``output`` (one neuron per
class).  A projection connects two of them all to all: ``pre`` -> ``post``,
``plastic`` (trained by the rule) or fixed, ``recurrent`` when ``pre`` and
``post`` are one population (without self-connections unless
``self_connections``).  ``hidden = [100, 100]`` without projections is the
feed-forward stack input -> hidden_1 -> hidden_2 -> output.

A plastic projection learns by the model's rule, or by that rule with some
of its factors replaced (``rule``, a table of `RULE_KEYS`): its own learning
rate ``lr`` (1/s), postsynaptic factor ``post_factor``, eligibility
``eligibility`` (Brian2 expressions, as in a ``[rule]`` section) or
``per_presynaptic``.  The learning signal, the timing and the pathway are the
model's: they belong to the populations, not to one projection.
"""

import math
from dataclasses import dataclass, replace

#: the keys of one projection in a model file's ``[network] projections``
KEYS = ("pre", "post", "plastic", "self_connections", "rule")
#: what a projection's ``rule`` table may replace of the model's rule
RULE_KEYS = ("lr", "post_factor", "eligibility", "per_presynaptic")


@dataclass(frozen=True)
class Projection:
    pre: str
    post: str
    plastic: bool = True
    self_connections: bool = False
    #: the factors this projection replaces, as sorted (key, value) pairs
    rule: tuple = ()

    @property
    def recurrent(self):
        return self.pre == self.post

    @property
    def overrides(self):
        """The replaced factors as a dict."""
        return dict(self.rule)

    def to_dict(self):
        out = {"pre": self.pre, "post": self.post}
        if not self.plastic:
            out["plastic"] = False
        if self.self_connections:
            out["self_connections"] = True
        if self.rule:
            out["rule"] = dict(self.rule)
        return out

    def structure(self):
        """`to_dict` without the learning rate's value (a run value)."""
        out = self.to_dict()
        if "lr" in out.get("rule", {}):
            out["rule"] = {**out["rule"], "lr": "own"}
        return out


def population_names(n_hidden):
    return ["input", *(f"hidden_{k + 1}" for k in range(n_hidden)), "output"]


def chain(n_hidden):
    """The feed-forward stack: each population onto the next."""
    names = population_names(n_hidden)
    return tuple(Projection(a, b) for a, b in zip(names[:-1], names[1:]))


def is_chain(projections, n_hidden):
    """Whether the projections are the feed-forward stack (whatever factors
    of the rule a projection replaces)."""
    return tuple(replace(p, rule=()) for p in projections) == chain(n_hidden)


def parse(items, n_hidden, source="network"):
    """Projections from a model file's list of tables, checked: known
    populations, nothing onto the input, no projection given twice, every
    hidden population reached and reaching on."""
    where = f"{source} [network] projections"
    if not isinstance(items, (list, tuple)) or not items:
        raise ValueError(f"{where} must be a non-empty list of {{ pre = \"...\", post = \"...\" }}")
    names = population_names(n_hidden)
    out = []
    for k, item in enumerate(items):
        if isinstance(item, Projection):
            item = item.to_dict()
        if not isinstance(item, dict):
            raise ValueError(f"{where}, entry {k + 1}: a table {{ pre = \"...\", post = \"...\" }}, got {item!r}")
        unknown = sorted(set(item) - set(KEYS))
        if unknown:
            raise ValueError(f"{where}, entry {k + 1}: unknown key '{unknown[0]}' (a projection has {', '.join(KEYS)})")
        for key in ("pre", "post"):
            if item.get(key) not in names:
                raise ValueError(f"{where}, entry {k + 1}: {key} = {item.get(key)!r} is no population "
                                 f"(the populations: {', '.join(names)})")
        for key in ("plastic", "self_connections"):
            if key in item and not isinstance(item[key], bool):
                raise ValueError(f"{where}, entry {k + 1}: {key} must be true or false, got {item[key]!r}")
        rule = _rule_table(item.get("rule", {}), f"{where}, entry {k + 1} ({item['pre']} -> {item['post']}): rule")
        if rule and not item.get("plastic", True):
            raise ValueError(f"{where}, entry {k + 1}: a fixed projection (plastic = false) has no rule")
        p = Projection(item["pre"], item["post"], item.get("plastic", True), item.get("self_connections", False),
                       rule)
        if p.post == "input":
            raise ValueError(f"{where}, entry {k + 1}: the input population receives no projection")
        if p.self_connections and not p.recurrent:
            raise ValueError(f"{where}, entry {k + 1}: self_connections only mean something for pre = post")
        if any((q.pre, q.post) == (p.pre, p.post) for q in out):
            raise ValueError(f"{where}: {p.pre} -> {p.post} is given twice")
        out.append(p)
    for name in names[1:]:
        if not any(p.post == name and not p.recurrent for p in out):
            raise ValueError(f"{where}: nothing projects onto {name} from another population")
    for name in names[:-1]:
        if not any(p.pre == name and not p.recurrent for p in out):
            raise ValueError(f"{where}: {name} projects onto no other population")
    return tuple(out)


def _rule_table(table, where):
    """A projection's ``rule`` table, checked, as sorted (key, value) pairs."""
    if isinstance(table, tuple):
        table = dict(table)
    if not isinstance(table, dict):
        raise ValueError(f"{where} must be a table of {', '.join(RULE_KEYS)}, got {table!r}")
    for key, value in table.items():
        if key not in RULE_KEYS:
            raise ValueError(f"{where}: unknown key '{key}' (a projection may set {', '.join(RULE_KEYS)}; the "
                             "learning signal and the timing are the model's)")
        if key == "lr" and (isinstance(value, bool) or not isinstance(value, (int, float))
                            or not math.isfinite(value) or value <= 0):
            raise ValueError(f"{where}: lr must be a positive number (1/s), got {value!r}")
        if key in ("post_factor", "eligibility") and (not isinstance(value, str) or not value.strip()):
            raise ValueError(f"{where}: {key} must be a Brian2 expression, got {value!r}")
        if key == "per_presynaptic" and not isinstance(value, bool):
            raise ValueError(f"{where}: per_presynaptic must be true or false, got {value!r}")
    return tuple(sorted((k, float(v) if k == "lr" else v) for k, v in table.items()))
