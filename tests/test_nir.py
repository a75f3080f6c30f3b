"""NIR: a network written as a NIR graph and read back keeps every weight
and parameter; the graph stepped with NIR's equations gives the Brian2
program's spikes on the same input spikes; a trained run exports from the
command line, and a NIR graph is a network to train; what has no NIR form
is refused in one line."""

import dataclasses
import json

import numpy as np
import pytest

nir = pytest.importorskip("nir")

from brian2 import SpikeMonitor, mV, ms  # noqa: E402

from brianrules.cli import main  # noqa: E402
from brianrules.devices import RuntimeRunner  # noqa: E402
from brianrules.io import nir_graph  # noqa: E402
from conftest import small_inputs, small_spec  # noqa: E402

# the same network as tests/test_runs.py: one compiled program serves both
RUN = dict(rule="dfa", dataset="digits", epochs=1, hidden=[30], t_sample_ms=40.0, device="cpp_standalone", seed=1)


def _with_neuron(spec, **values):
    """``spec`` with other values of its LIF, the weight unit with them."""
    from brianrules.neurons import LIF

    neuron = LIF(**{**spec.neuron.parameters, **values})
    return dataclasses.replace(spec, neuron=neuron, w_unit=neuron.weight_unit_value())


def _spikes_of_brian2(spec, weights, feedback, stim, noise_seed=5):
    """Each population's spikes (steps x neurons) in Brian2's runtime
    device, learning off."""
    n = len(stim)
    monitors = {}

    def make(model):
        for name, group in model.groups.items():
            monitors[name] = SpikeMonitor(group, name=f"spikes_{name}")
        return list(monitors.values())

    tgt = np.zeros((n, spec.n_out))
    RuntimeRunner(spec, n).run(weights, feedback, stim, tgt, np.zeros(n), noise_seed, monitors=make)
    steps = spec.steps_per_sample * n
    out = {}
    for name, m in monitors.items():
        x = np.zeros((steps, len(m.source)), dtype=bool)
        x[np.round(np.asarray(m.t / spec.dt)).astype(int), np.asarray(m.i)] = True
        out[name] = x
    return out


def _check_same_spikes(spec, weights, feedback, stim, refractory):
    brian2 = _spikes_of_brian2(spec, weights, feedback, stim)
    graph = nir_graph.to_nir(spec, weights, warn=False)
    stepped = nir_graph.simulate(graph, brian2["input"], reset_every=spec.steps_per_sample, refractory=refractory)
    for population in spec.population_sizes:
        if population == "input":
            continue
        ours = stepped[nir_graph.node_name(population)]
        assert ours.sum() > 20, f"{population} is nearly silent: the comparison would mean little"
        assert np.array_equal(ours, brian2[population]), population
    return graph, brian2


def test_round_trip_keeps_every_weight_and_parameter(tmp_path):
    spec = _with_neuron(small_spec(hidden=(12, 7)), tau_m=15 * ms, tau_syn=3 * ms, v_reset=-65 * mV, t_ref=1 * ms)
    weights, _, _, _, _ = small_inputs(spec, 1)
    path = str(tmp_path / "net.nir")
    with pytest.warns(nir_graph.NIRExportWarning, match="refractory period of 1 ms"):
        nir.write(path, nir_graph.to_nir(spec, weights))
    graph = nir.read(path)
    lif = graph.nodes["hidden_1"]
    assert np.allclose(lif.v_threshold, 1) and np.allclose(lif.v_leak, 0)
    assert np.allclose(lif.v_reset, -0.5)  # 5 mV below rest, in 10 mV threshold distances
    assert np.allclose(lif.tau_mem, 15e-3) and np.allclose(lif.r, 15e-3 / 0.5e-3)
    assert graph.nodes["w_1"].weight.shape == (12, 8)  # NIR's (out, in)
    back = nir_graph.read(path)
    assert back.settings["hidden"] == [12, 7] and "projections" not in back.settings
    assert back.settings["dt_ms"] == pytest.approx(0.5)
    assert (back.n_in, back.n_out) == (8, 3)
    for W, V in zip(weights, back.weights):
        np.testing.assert_allclose(V, W, rtol=1e-12, atol=0)
    p = back.settings["neuron_parameters"]
    from brianrules.model.neuron import quantity

    for key in ("tau_m", "tau_syn", "v_rest", "v_th", "v_reset", "t_ref"):
        assert float(quantity(p[key], key)) == pytest.approx(float(spec.neuron.parameters[key]), rel=1e-12), key


def test_round_trip_of_a_recurrent_network_keeps_its_projections():
    spec = small_spec(projections=({"pre": "input", "post": "hidden_1"},
                                   {"pre": "hidden_1", "post": "hidden_1", "plastic": False},
                                   {"pre": "hidden_1", "post": "output"}))
    weights, _, _, _, _ = small_inputs(spec, 1)
    back = nir_graph.from_nir(nir_graph.to_nir(spec, weights, warn=False))
    assert back.settings["projections"] == [{"pre": "input", "post": "hidden_1"},
                                            {"pre": "hidden_1", "post": "hidden_1"},
                                            {"pre": "hidden_1", "post": "output"}]
    for W, V in zip(weights, back.weights):
        np.testing.assert_allclose(V, W, rtol=1e-12, atol=0)


@pytest.mark.parametrize("t_ref_ms", [0.0, 2.0])
def test_the_graph_stepped_gives_the_brian2_programs_spikes(t_ref_ms):
    """Two hidden layers, four samples (the per-sample reset included): the
    same spikes in every step; with a refractory period the node's metadata
    carries it, and without it the spikes differ."""
    spec = _with_neuron(small_spec(hidden=(12, 9)), t_ref=t_ref_ms * ms)
    weights, feedback, stim, _, _ = small_inputs(spec, 4)
    graph, brian2 = _check_same_spikes(spec, weights, feedback, stim, refractory=True)
    if t_ref_ms:
        free = nir_graph.simulate(graph, brian2["input"], reset_every=spec.steps_per_sample, refractory=False)
        assert free["output_lif"].sum() > brian2["output"].sum()


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    from brianrules.training import TrainConfig, train

    out = tmp_path_factory.mktemp("nir") / "run"
    train(TrainConfig(**RUN), str(out), log=lambda *a: None, progress=False)
    return out


@pytest.mark.slow
@pytest.mark.standalone
def test_a_trained_run_exports_and_its_graph_gives_the_programs_spikes(trained, tmp_path, capsys):
    import brianrules

    path = str(tmp_path / "trained.nir")
    assert main(["export", str(trained), "--nir", path]) == 0
    out, err = capsys.readouterr()
    assert "64-30-10 CubaLIF network" in out and "refractory period of 2 ms" in err
    graph = nir.read(path)
    assert graph.metadata["rule"] == "dfa" and graph.metadata["epoch"] == 1
    run = brianrules.load(trained)
    for k, W in enumerate(run.weights):
        np.testing.assert_allclose(nir_graph.read(path).weights[k], W, rtol=1e-12, atol=0)
    # the trained weights on three test samples, with the refractory period at zero
    spec = _with_neuron(run.network_spec(), t_ref=0 * ms)
    _check_same_spikes(spec, run.weights, run.feedback, run.dataset().x_test[:3], refractory=False)


@pytest.mark.slow
@pytest.mark.standalone
def test_a_nir_graph_is_a_network_to_train(trained, tmp_path):
    """`train --model net.nir`: the graph's sizes, neuron and time step, its
    weights as the start (with a vanishing learning rate they stay)."""
    path = str(tmp_path / "net.nir")
    assert main(["export", str(trained), "--nir", path]) == 0
    out = tmp_path / "again"
    assert main(["train", "--model", path, "--rule", "dfa", "--epochs", "1", "--lr-scale", "1e-12", "--seed", "1",
                 "--out", str(out), "--quiet"]) == 0
    config = json.load(open(out / "config.json"))["train"]
    assert config["hidden"] == [30] and config["t_sample_ms"] == 40.0 and config["weights_from"] == path
    with np.load(trained / "weights.npz") as a, np.load(out / "weights.npz") as b:
        for key in ("w_1", "w_2"):
            np.testing.assert_allclose(b[key], a[key], rtol=1e-6, atol=1e-9)


def test_what_has_no_nir_form_is_refused_in_one_line(tmp_path):
    from brianrules.model.neuron import load

    alif = small_spec(neuron=load("models/neurons/alif.toml"))
    with pytest.raises(nir_graph.NIRError, match="population hidden_1 has neuron 'alif'"):
        nir_graph.to_nir(alif, small_inputs(alif, 1)[0], warn=False)
    spec = small_spec()
    graph = nir_graph.to_nir(spec, small_inputs(spec, 1)[0], warn=False)
    node = graph.nodes["w_1"]
    graph.nodes["w_1"] = nir.Affine(weight=node.weight, bias=np.ones(node.weight.shape[0]))
    with pytest.raises(nir_graph.NIRError, match="node w_1: an Affine projection with a bias"):
        nir_graph.from_nir(graph)
    graph = nir_graph.to_nir(spec, small_inputs(spec, 1)[0], warn=False)
    graph.nodes["hidden_1"].tau_mem[0] *= 2
    with pytest.raises(nir_graph.NIRError, match="node hidden_1: tau_mem varies"):
        nir_graph.from_nir(graph)
    bad = tmp_path / "bad.nir"
    bad.write_text("not hdf5")
    code = main(["train", "--model", str(bad), "--out", str(tmp_path / "r")])
    assert code == 2 and not (tmp_path / "r").exists()
    assert main(["export", str(tmp_path / "nothing"), "--nir", str(tmp_path / "x.nir")]) == 2


def _delta(**values):
    from brianrules.model.neuron import DELTA_LIF_DECLARATION, NeuronModel

    return NeuronModel.from_dict(DELTA_LIF_DECLARATION).with_parameters(**values)


@pytest.mark.parametrize("t_ref_ms", [0.0, 2.0])
def test_delta_synapse_neurons_are_lif_nodes_with_the_programs_spikes(t_ref_ms):
    """NIR's LIF node: a hidden layer of the delta-synapse LIF beside a
    CubaLIF output; the same spikes in every step, the weights read back."""
    spec = small_spec(hidden=(12,), w_init_mean=3.0,
                      neurons={"hidden_1": _delta(t_ref=t_ref_ms * ms, tau_m=15 * ms)},
                      neuron=_with_neuron(small_spec(), t_ref=t_ref_ms * ms).neuron)
    weights, feedback, stim, _, _ = small_inputs(spec, 4)
    graph, _ = _check_same_spikes(spec, weights, feedback, stim, refractory=True)
    assert isinstance(graph.nodes["hidden_1"], nir.LIF) and isinstance(graph.nodes["output_lif"], nir.CubaLIF)
    back = nir_graph.from_nir(graph)
    for W, V in zip(weights, back.weights):
        np.testing.assert_allclose(V, W, rtol=1e-12, atol=0)
    hidden = back.settings["populations"]["hidden_1"]["neuron"]
    assert hidden["name"] == "lif_delta" and hidden["parameters"]["tau_m"] == "15.0*ms"
    assert "tau_syn" in back.settings["populations"]["output"]["neuron"]["parameters"]


def test_a_graph_of_lif_nodes_trains_as_delta_synapse_neurons(tmp_path):
    """A graph as another tool writes it (LIF nodes, no metadata): every
    population the delta-synapse LIF, dt the training's, no refractory period."""
    from brianrules.training import TrainConfig

    rng = np.random.default_rng(0)
    ones = lambda n: np.ones(n)  # noqa: E731
    lif = lambda n: nir.LIF(tau=0.02 * ones(n), r=ones(n), v_leak=0 * ones(n), v_threshold=ones(n),  # noqa: E731
                            v_reset=0 * ones(n))
    graph = nir.NIRGraph(nodes={"input": nir.Input(input_type=np.array([64])), "fc1": nir.Linear(weight=rng.normal(
        size=(20, 64))), "lif1": lif(20), "fc2": nir.Affine(weight=rng.normal(size=(10, 20)), bias=np.zeros(10)),
        "lif2": lif(10), "output": nir.Output(output_type=np.array([10]))},
        edges=[("input", "fc1"), ("fc1", "lif1"), ("lif1", "fc2"), ("fc2", "lif2"), ("lif2", "output")])
    path = str(tmp_path / "other.nir")
    nir.write(path, graph)
    back = nir_graph.read(path, dt_s=5e-4)
    assert back.settings["neuron"]["name"] == "lif_delta" and back.settings["hidden"] == [20]
    assert back.settings["neuron_parameters"]["t_ref"] == "0.0*ms"
    # r W dt / tau threshold distances per spike, in units of v_th - v_reset (the same here)
    np.testing.assert_allclose(back.weights[0], graph.nodes["fc1"].weight.T * 5e-4 / 0.02, rtol=1e-12)
    cfg = TrainConfig.from_dict({**back.settings, "weights_from": path}).validate()
    spec = cfg.network_spec(64, 10)
    assert spec.neuron.name == "lif_delta" and float(spec.neuron.tau_m) == pytest.approx(0.02)


def test_the_shipped_delta_synapse_neuron_file_is_the_declaration():
    from brianrules.model.neuron import DELTA_LIF_DECLARATION, NeuronModel, load

    shipped, declared = load("models/neurons/lif_delta.toml"), NeuronModel.from_dict(DELTA_LIF_DECLARATION)
    assert shipped.declares(DELTA_LIF_DECLARATION) and shipped.parameters == declared.parameters
    assert not shipped.is_builtin_lif and declared.weight_unit_value() == shipped.weight_unit_value()
