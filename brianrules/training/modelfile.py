"""Model files: TOML files of settings (see models/), read into the keys
of `TrainConfig`, with a neuron declaration or neuron file checked."""

import os

from .config import TrainConfig


def read_toml(path, what):
    """A TOML file as a dict; a missing file or bad TOML is a ValueError
    that names the file (``what``: "model file", "sweep spec", ...)."""
    import tomllib

    if not os.path.isfile(path):
        raise ValueError(f"{what} {path} does not exist")
    try:
        with open(path, "rb") as f:
            return tomllib.load(f)
    except tomllib.TOMLDecodeError as e:
        raise ValueError(f"{path}: not valid TOML: {e}") from None


def load_model_file(path):
    """The settings of a TOML model file (see models/), checked for unknown
    keys and wrong types (naming the key) by `TrainConfig.from_dict`.

    Sections only group the keys of `TrainConfig` ([data], [network],
    [rule], [training]), except ``[neuron]``: a neuron declaration (see
    `model.neuron`), or ``file = "neurons/NAME.toml"`` (relative to the model
    file) with ``[neuron.parameters]`` replacing that file's values; a top-level
    ``neuron = "neurons/NAME.toml"`` says the same.  A ``[rule]`` with a
    ``learning_signal`` and no ``rule`` is a rule written out as its factors
    (`rules.three_factor`).

    A NIR file (``.nir``, `io.nir_graph`) gives the network it describes:
    its sizes, projections, neuron parameters and time step, and its
    weights as the forward projections' start (``weights_from``)."""
    if path.endswith(".nir"):
        from ..io.nir_graph import read

        flat = {**read(path).settings, "weights_from": path}
        TrainConfig.from_dict(flat, source=path)
        return flat
    spec = read_toml(path, "model file")
    if "eprop" in spec:
        raise ValueError(f"{path} is an e-prop model file (its settings are in [eprop]): train it with "
                         f"`brianrules eprop {path} --out DIR`")
    if "superspike" in spec:
        raise ValueError(f"{path} is a SuperSpike model file (its settings are in [superspike]): train it "
                         f"with `brianrules superspike {path} --out DIR`")
    flat = {}
    neuron = spec.pop("neuron", None)
    for key, value in spec.items():
        if isinstance(value, dict):  # sections only group keys: [network], [rule], ...
            flat.update(value)
        else:
            flat[key] = value
    section = spec.get("rule")
    if isinstance(section, dict) and "learning_signal" in section and "rule" not in section:
        flat["rule"] = "three_factor"
    if neuron is not None:
        flat.update(neuron_settings(neuron, path))
    if isinstance(flat.get("populations"), dict):
        hidden = flat.get("hidden", TrainConfig().hidden)
        flat["populations"] = population_settings(flat["populations"], path,
                                                  len(hidden) if isinstance(hidden, list) else None)
    TrainConfig.from_dict(flat, source=path)  # check keys and types now
    return flat


def population_settings(populations, path, n_hidden=None):
    """``[network.populations.NAME]`` tables as `TrainConfig.populations`:
    {name: {"neuron": declaration, "neuron_source": file}}; the names are
    checked against the ``n_hidden`` layers' populations when given."""
    from ..model.architecture import population_names
    from ..model.neuron import DeclarationError

    out = {}
    for name, entry in populations.items():
        section = f"network.populations.{name}"
        if name == "input":
            raise DeclarationError(f"{path} [{section}]: the input population is Poisson spike sources and has "
                                   "no neuron")
        names = population_names(n_hidden)[1:] if n_hidden is not None else None
        if names is not None and name not in names:
            raise DeclarationError(f"{path} [{section}]: populations.{name} is no population (the populations "
                                   f"with neurons: {', '.join(names)})")
        if not isinstance(entry, dict) or "neuron" not in entry:
            raise DeclarationError(f"{path} [{section}] must have a neuron (a file name or a declaration table)")
        extra = sorted(set(entry) - {"neuron", "parameters"})
        if extra:
            raise DeclarationError(f"{path} [{section}]: unknown key '{extra[0]}' (a population takes neuron and "
                                   "parameters)")
        neuron = entry["neuron"]
        if isinstance(neuron, str):
            neuron = {"file": neuron, **({"parameters": entry["parameters"]} if "parameters" in entry else {})}
        elif "parameters" in entry:
            raise DeclarationError(f"{path} [{section}]: a declaration table has its own parameters "
                                   f"([{section}.neuron.parameters])")
        try:
            out[name] = neuron_settings(neuron, path, section=f"{section}.neuron")
        except DeclarationError as e:  # an inline declaration's messages name its section
            raise DeclarationError(str(e).replace(f"{path} [neuron", f"{path} [{section}.neuron", 1)) from None
    return out


def neuron_settings(neuron, path, here=None, section="neuron"):
    """The settings of a model file's neuron (``[{section}]`` or a file name),
    the declaration checked (`build.checks.check_neuron`) with messages that
    name the file it is in and the ``section``.  A neuron file's name is
    relative to ``here`` (default: the folder of ``path``)."""
    from ..build.checks import check_neuron
    from ..model.neuron import DeclarationError, NeuronModel, load

    here = os.path.dirname(os.path.abspath(path)) if here is None else here
    if isinstance(neuron, str):
        neuron = {"file": neuron}
    if not isinstance(neuron, dict):
        raise DeclarationError(f"{path}: {section} must be a [{section}] section or the name of a neuron file")
    if "file" in neuron:
        extra = sorted(set(neuron) - {"file", "parameters"})
        if extra:
            raise DeclarationError(f"{path} [{section}]: with file = ..., the section takes only [{section}.parameters] "
                                   f"(got '{extra[0]}')")
        where = neuron["file"]
        if not isinstance(where, str):
            raise DeclarationError(f"{path} [{section}] file must be a path, got {where!r}")
        full = where if os.path.isabs(where) else os.path.join(here, where)
        if not os.path.isfile(full) and os.path.isfile(where):
            full = where
        if not os.path.isfile(full):
            raise DeclarationError(f"{path} [{section}] file: {where} does not exist (looked in {here})")
        model = load(full)
        params = neuron.get("parameters", {})
        if not isinstance(params, dict):
            raise DeclarationError(f"{path} [{section}.parameters] must be a table of name = \"value*unit\"")
        try:
            model = model.with_parameters(**{k: _parameter_text(v, f"{path} [{section}.parameters] {k}")
                                             for k, v in params.items()})
        except DeclarationError as e:
            raise DeclarationError(f"{path} [{section}.parameters]: {str(e).split(': ', 1)[-1]}") from None
        source = full
    else:
        model = NeuronModel.from_dict(neuron, source=path, name=os.path.splitext(os.path.basename(path))[0])
        source = path
    check_neuron(model)
    return {"neuron": model.to_dict(), "neuron_source": source}


def _parameter_text(value, where):
    from ..model.neuron import quantity

    quantity(value, where)  # a bare number has no unit
    return value
