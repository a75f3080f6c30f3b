"""Neurons of single populations: a model's ``[network.populations.NAME]``
tables, read into `TrainConfig.populations` and turned into the
`NetworkSpec`'s ``neurons`` (population -> `NeuronModel`).

A population without a table of its own has the model's neuron."""


def check_populations(cfg):
    """Check the population names and their declarations."""
    population_neurons(cfg)


def population_neurons(cfg):
    """{population: NeuronModel} of the populations with a neuron of their own."""
    from ..model.architecture import population_names
    from ..model.neuron import NeuronModel

    if not cfg.populations:
        return {}
    if not isinstance(cfg.populations, dict):
        raise ValueError(f"populations must be a table of population = {{ neuron = ... }}, got {cfg.populations!r}")
    names = population_names(len(cfg.hidden))
    out = {}
    for name, entry in cfg.populations.items():
        if name == "input":
            raise ValueError("populations.input: the input population is Poisson spike sources and has no neuron")
        if name not in names:
            raise ValueError(f"populations.{name} is no population (the populations: {', '.join(names)})")
        if not isinstance(entry, dict) or "neuron" not in entry:
            raise ValueError(f"populations.{name} must be a table with a neuron, got {entry!r}")
        source = entry.get("neuron_source") or f"populations.{name}"
        out[name] = NeuronModel.from_dict(entry["neuron"], source=source)
    return out
