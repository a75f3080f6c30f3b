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
    (`rules.three_factor`)."""
    spec = read_toml(path, "model file")
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
    TrainConfig.from_dict(flat, source=path)  # check keys and types now
    return flat


def neuron_settings(neuron, path, here=None):
    """The settings of a model file's neuron (``[neuron]`` or a file name),
    the declaration checked (`build.checks.check_neuron`) with messages that
    name the file it is in.  A neuron file's name is relative to ``here``
    (default: the folder of ``path``)."""
    from ..build.checks import check_neuron
    from ..model.neuron import DeclarationError, NeuronModel, load

    here = os.path.dirname(os.path.abspath(path)) if here is None else here
    if isinstance(neuron, str):
        neuron = {"file": neuron}
    if not isinstance(neuron, dict):
        raise DeclarationError(f"{path}: neuron must be a [neuron] section or the name of a neuron file")
    if "file" in neuron:
        extra = sorted(set(neuron) - {"file", "parameters"})
        if extra:
            raise DeclarationError(f"{path} [neuron]: with file = ..., the section takes only [neuron.parameters] "
                                   f"(got '{extra[0]}')")
        where = neuron["file"]
        if not isinstance(where, str):
            raise DeclarationError(f"{path} [neuron] file must be a path, got {where!r}")
        full = where if os.path.isabs(where) else os.path.join(here, where)
        if not os.path.isfile(full) and os.path.isfile(where):
            full = where
        if not os.path.isfile(full):
            raise DeclarationError(f"{path} [neuron] file: {where} does not exist (looked in {here})")
        model = load(full)
        params = neuron.get("parameters", {})
        if not isinstance(params, dict):
            raise DeclarationError(f"{path} [neuron.parameters] must be a table of name = \"value*unit\"")
        try:
            model = model.with_parameters(**{k: _parameter_text(v, f"{path} [neuron.parameters] {k}")
                                             for k, v in params.items()})
        except DeclarationError as e:
            raise DeclarationError(f"{path} [neuron.parameters]: {str(e).split(': ', 1)[-1]}") from None
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
