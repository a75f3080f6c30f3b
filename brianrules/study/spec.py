"""Sweep specs: reading and checking one, expanding it into points (`Point`), and
the id of a point."""

import hashlib
import itertools
import json
import math
import os
from dataclasses import asdict, dataclass

import numpy as np

from ..training import TrainConfig, load_model_file, override, read_toml


#: where a spec's ``model = "NAME"`` is looked for after the spec's own folder
MODELS_DIR = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))), "models")

RANDOM_KINDS = ("uniform", "log_uniform", "int_uniform")


@dataclass
class Point:
    id: str
    settings: dict  # TrainConfig keys and values
    axes: dict  # axis name -> value as shown in tables (a label for table axes)


# -- the spec ------------------------------------------------------------
def load_spec(path):
    """Read and check a sweep spec; returns (spec dict, list of Points)."""
    spec = read_toml(path, "sweep spec")
    unknown = set(spec) - {"base", "grid", "random", "name", "description"}
    if unknown:
        raise ValueError(f"{path}: unknown section or key '{sorted(unknown)[0]}' "
                         "(known: name, description, [base], [grid], [random])")
    return spec, expand(spec, os.path.dirname(os.path.abspath(path)), source=path)


def _model_path(name, here):
    for folder in (here, MODELS_DIR):
        candidate = os.path.join(folder, name)
        if os.path.isfile(candidate):
            return candidate
    raise ValueError(f"base model '{name}' found neither next to the spec nor in {MODELS_DIR}")


def _label(value):
    if isinstance(value, list):
        return "-".join(str(v) for v in value)
    return value


def _grid_axis(name, values, source):
    """[(settings, shown value)] of one grid axis."""
    if not isinstance(values, list) or not values:
        raise ValueError(f"{source}: grid axis '{name}' must be a non-empty list of values")
    out = []
    for v in values:
        if isinstance(v, dict):
            v = dict(v)
            label = v.pop("label", None) or ",".join(f"{k}={_label(x)}" for k, x in sorted(v.items()))
            if not v:
                raise ValueError(f"{source}: a value of grid axis '{name}' sets no key")
            out.append((v, label))
        else:
            out.append(({name: v}, _label(v)))
    return out


def _random_axis(name, how, source):
    """A function rng -> value for one random axis."""
    if isinstance(how, list) and how:
        return lambda rng: how[int(rng.integers(len(how)))]
    if isinstance(how, dict) and len(how) == 1:
        kind, bounds = next(iter(how.items()))
        ok = (isinstance(bounds, list) and len(bounds) == 2
              and all(isinstance(b, (int, float)) and not isinstance(b, bool) for b in bounds)
              and bounds[0] < bounds[1])
        if kind in RANDOM_KINDS and ok:
            lo, hi = bounds
            if kind == "uniform":
                return lambda rng: float(rng.uniform(lo, hi))
            if kind == "int_uniform":
                return lambda rng: int(rng.integers(int(lo), int(hi) + 1))
            if lo > 0:
                return lambda rng: float(math.exp(rng.uniform(math.log(lo), math.log(hi))))
    raise ValueError(f"{source}: random axis '{name}' must be a list to choose from or one of "
                     f"{{ {' | '.join(k + ' = [lo, hi]' for k in RANDOM_KINDS)} }} with lo < hi "
                     f"(lo > 0 for log_uniform), got {how!r}")


def _dotted(table):
    """TOML's dotted keys back as names: ``neuron.tau_a = [...]`` is read as
    a table ``neuron`` holding ``tau_a``; it is the axis ``neuron.tau_a`` (a
    neuron parameter, see `training.override`).  A random axis's
    ``{ log_uniform = [lo, hi] }`` stays a value."""
    from ..training import NEURON_PREFIX

    out = {}
    for name, value in table.items():
        if name + "." == NEURON_PREFIX and isinstance(value, dict):
            out.update({f"{name}.{k}": v for k, v in value.items()})
        else:
            out[name] = value
    return out


def expand(spec, here=".", source="sweep spec"):
    """The points of a spec, each checked as a `TrainConfig`."""
    base = dict(spec.get("base", {}))
    if not isinstance(base, dict):
        raise ValueError(f"{source}: [base] must be a table of settings")
    if "model" in base:
        model = base.pop("model")
        base = override(load_model_file(_model_path(model, here)), base)
    grid = _dotted(spec.get("grid", {}))
    axes = [(name, _grid_axis(name, values, source)) for name, values in grid.items()]
    random = _dotted(dict(spec.get("random", {})))
    samples = [({}, {})]
    if random:
        n, seed = random.pop("n", None), random.pop("seed", 0)
        if not isinstance(n, int) or isinstance(n, bool) or n < 1:
            raise ValueError(f"{source}: [random] needs n, a positive number of samples, got {n!r}")
        draws = {name: _random_axis(name, how, source) for name, how in random.items()}
        if not draws:
            raise ValueError(f"{source}: [random] names no axis")
        rng = np.random.default_rng(seed)
        samples = []
        for _ in range(n):
            values = {name: draw(rng) for name, draw in draws.items()}
            samples.append((values, {k: _label(v) for k, v in values.items()}))
    points, seen = [], set()
    for combo in itertools.product(*[values for _, values in axes]):
        for rand_settings, rand_shown in samples:
            settings = dict(base)
            shown = {}
            for (name, _), (values, label) in zip(axes, combo):
                settings = override(settings, values)
                shown[name] = label
            settings = override(settings, rand_settings)
            shown.update(rand_shown)
            where = f"{source}, point {shown}" if shown else source
            cfg = TrainConfig.from_dict(settings, source=where)
            try:
                cfg.validate()
            except ValueError as e:
                raise ValueError(f"{where}: {e}") from None
            full = asdict(cfg)
            pid = point_id(full)
            if pid in seen:
                continue  # two axis values gave the same settings
            seen.add(pid)
            points.append(Point(pid, full, shown))
    if not points:
        raise ValueError(f"{source}: the sweep has no points")
    return points


def point_id(settings):
    """A hash of the settings that differ from `TrainConfig`'s defaults, so
    that a setting added to the package later keeps every point's id."""
    defaults = asdict(TrainConfig())
    # where a neuron's declaration was read (a path) is no setting: its content is
    given = {k: v for k, v in settings.items() if (k not in defaults or v != defaults[k]) and k != "neuron_source"}
    text = json.dumps(given, sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:12]
