"""The figures of a run folder and the files the training keeps for them
(`brianrules.run_plots`)."""

import os
import re
import shutil
from dataclasses import asdict

import numpy as np
import pytest

from brianrules import run_plots
from brianrules.training.records import N_BINS, record_epoch

PNG = b"\x89PNG\r\n\x1a\n"


def test_weight_history_holds_one_histogram_per_epoch_of_every_weight(tmp_path):
    rng = np.random.default_rng(0)
    weights = [rng.normal(0, 0.3, (64, 12)), rng.normal(0, 1.0, (12, 10))]
    recorded = []
    for epoch, scale in enumerate([1.0, 1.17, 3.61, 9.23]):  # the last two reach beyond the first range
        now = [scale * W for W in weights]
        recorded.append(now)
        record_epoch(tmp_path, epoch, now)
        history = run_plots.read_weight_history(tmp_path / "weight_history.npz")
        assert history["epochs"].tolist() == list(range(epoch + 1))
        for k, W in enumerate(now):
            counts = history["counts"][k]
            assert counts.shape == (epoch + 1, N_BINS)
            assert counts.sum(axis=1).tolist() == [W.size] * (epoch + 1)
    for k in range(2):  # the range doubled, and every stored epoch is exactly its histogram on the final bins
        edges = history["edges"][k]
        assert edges[-1] == pytest.approx(-edges[0])
        doublings = np.log2(edges[-1] / (1.5 * np.abs(weights[k]).max()))
        assert doublings >= 1 and doublings == pytest.approx(round(doublings))
        assert edges[-1] / 2 < np.abs(recorded[-1][k]).max() <= edges[-1]  # doubled as often as needed
        for epoch, now in enumerate(recorded):
            assert history["counts"][k][epoch].tolist() == np.histogram(now[k], bins=edges)[0].tolist()
    assert not (tmp_path / "test_counts.npz").exists()  # epoch 0: no test counts


def test_a_repeated_epoch_replaces_its_record_and_epoch_0_starts_afresh(tmp_path):
    rng = np.random.default_rng(1)
    W = [rng.normal(size=(8, 4))]
    for epoch in (0, 1, 2, 3):
        record_epoch(tmp_path, epoch, W)
    record_epoch(tmp_path, 2, [3 * W[0]])  # a resume after epoch 1 repeats epochs 2 and 3
    history = run_plots.read_weight_history(tmp_path / "weight_history.npz")
    assert history["epochs"].tolist() == [0, 1, 2]
    record_epoch(tmp_path, 0, [W[0] / 10])  # a new training in the same folder
    history = run_plots.read_weight_history(tmp_path / "weight_history.npz")
    assert history["epochs"].tolist() == [0]
    assert history["edges"][0][-1] == pytest.approx(1.5 * np.abs(W[0]).max() / 10)


def test_test_counts_round_trip(tmp_path):
    rng = np.random.default_rng(2)
    counts, labels = rng.integers(0, 9, (30, 10)), rng.integers(0, 10, 30)
    record_epoch(tmp_path, 4, [rng.normal(size=(3, 2))], counts, labels)
    got_counts, got_labels, epoch = run_plots.read_test_counts(tmp_path / "test_counts.npz")
    assert epoch == 4
    assert got_counts.dtype == np.int64 and np.array_equal(got_counts, counts)
    assert np.array_equal(got_labels, labels)
    assert not [f for f in os.listdir(tmp_path) if ".tmp-" in f]  # written whole, through a renamed file


def test_the_confusion_matrix_diagonal_over_its_total_is_the_accuracy():
    from brianrules.training import accuracy

    rng = np.random.default_rng(3)
    counts = rng.integers(0, 4, (200, 10)) * (rng.random((200, 1)) < 0.8)  # a fifth of the samples silent
    labels = rng.integers(0, 10, 200)
    C = run_plots.confusion_matrix(counts, labels, 10)
    assert C.shape == (10, 11) and C.sum() == 200
    assert C[:, 10].sum() == int((counts.max(axis=1) == 0).sum())  # 'no spike' predictions
    assert C.sum(axis=1).tolist() == np.bincount(labels, minlength=10).tolist()
    assert np.trace(C[:, :10]) / C.sum() == pytest.approx(accuracy(counts, labels))


# -- a run folder, made by hand: initial weights, no compiled program --------------
@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    """A 64-12-10 digits run of 20 ms samples after 'epoch 2', with a weight
    history, test counts (drawn, not simulated) and metrics that agree with them."""
    from brianrules import data
    from brianrules.files import write_json
    from brianrules.metrics import write_metrics
    from brianrules.network import initial_weights
    from brianrules.training import TrainConfig, accuracy, write_weights

    out = tmp_path_factory.mktemp("run")
    cfg = TrainConfig(dataset="digits", hidden=[12], t_sample_ms=20.0, epochs=2, device="runtime", seed=5)
    ds = data.load(cfg.dataset)
    spec = cfg.network_spec(ds.n_inputs, ds.n_classes)
    rng = np.random.default_rng(0)
    weights, feedback = initial_weights(spec, rng, input_rate=spec.max_rate * float(np.mean(ds.x_train)))
    write_json(out / "config.json", {"train": asdict(cfg), "network": spec.to_dict(),
                                     "n_train": len(ds.y_train), "n_test": len(ds.y_test)})
    record_epoch(out, 0, weights)
    rows = []
    for epoch in (1, 2):
        weights = [W * 1.3 + rng.normal(0, 0.05, W.shape) for W in weights]
        counts = rng.integers(0, 3, (len(ds.y_test), ds.n_classes))
        counts[np.arange(len(ds.y_test)), ds.y_test] += rng.integers(0, 4, len(ds.y_test))
        rows.append({"epoch": epoch, "train_acc": 0.5, "test_acc": accuracy(counts, ds.y_test)})
        record_epoch(out, epoch, weights, counts, ds.y_test)
    write_metrics(out / "metrics.csv", rows)
    write_weights(out / "weights.npz", weights, feedback, 2)
    return out


def _png_ok(path):
    import matplotlib.image

    with open(path, "rb") as f:
        head = f.read(8)
    image = matplotlib.image.imread(path)
    return head == PNG and os.path.getsize(path) > 5000 and image.ndim == 3 and min(image.shape[:2]) > 200


@pytest.mark.slow
def test_the_raster_spikes_are_reproducible_and_counted_as_the_runner_counts(run_dir):
    from brianrules import data
    from brianrules.devices import RuntimeRunner
    from brianrules.runs import load

    run = load(run_dir)
    spec = run.network_spec()
    first, second = run_plots.sample_activity(run, 3), run_plots.sample_activity(run, 3)
    assert set(first.spikes) == {"input", "hidden_1", "output"} and set(first.states) == {"hidden_1", "output"}
    assert len(first.spikes["input"].t) > 50 and len(first.spikes["hidden_1"].t) > 0
    for name, s in first.spikes.items():
        assert np.array_equal(s.i, second.spikes[name].i) and np.array_equal(s.t, second.spikes[name].t)
    # the monitors' output spikes, per sample, are the counts of a run without them
    x, y = run.dataset().x_test[:3], run.dataset().y_test[:3]
    plain = RuntimeRunner(spec, 3).run(run.weights, run.feedback, x, data.one_hot(y, 10), np.zeros(3), first.seed)
    assert np.array_equal(first.counts, plain.counts)
    assert np.array_equal(first.spikes["output"].counts(3, first.t_sample), plain.counts)
    assert first.labels.tolist() == y.tolist()
    # v is recorded before the reset: above v_th in the step of each spike
    v = first.states["hidden_1"]["v"]
    s = first.spikes["hidden_1"]
    steps = np.round(s.t / first.dt).astype(int)
    assert np.all(v.values[s.i, steps] > float(spec.neuron.parameters["v_th"]))  # volt


def test_plot_run_writes_the_five_figures(run_dir, tmp_path):
    lines = []
    paths = run_plots.plot_run(run_dir, log=lines.append)
    assert [os.path.basename(p) for p in paths] == list(run_plots.FIGURES)
    assert all(os.path.dirname(p) == os.path.join(str(run_dir), "plots") for p in paths)
    assert all(_png_ok(p) for p in paths)
    assert not lines  # nothing skipped, and test_counts.npz agrees with metrics.csv
    from brianrules.metrics import read_metrics

    counts, labels, epoch = run_plots.read_test_counts(run_dir / "test_counts.npz")
    assert epoch == 2
    acc = run_plots.confusion(counts, labels, 10, epoch, tmp_path / "confusion.png")
    assert acc == pytest.approx(read_metrics(run_dir / "metrics.csv")[-1]["test_acc"], abs=1e-12)


def test_a_run_without_history_or_test_counts_skips_what_it_lacks(run_dir, tmp_path):
    bare = tmp_path / "bare"
    bare.mkdir()
    for name in ("config.json", "weights.npz", "metrics.csv"):
        shutil.copy(run_dir / name, bare / name)
    lines = []
    paths = run_plots.plot_run(bare, out_dir=tmp_path / "figs", n_samples=1, n_traces=1, log=lines.append)
    assert [os.path.basename(p) for p in paths] == ["raster.png", "membrane.png", "weights_hist.png",
                                                     "receptive_fields.png"]
    assert all(_png_ok(p) for p in paths)
    assert len(lines) == 1 and "confusion.png skipped" in lines[0] and "test_counts.npz" in lines[0]


def test_the_traced_neurons_are_the_label_neurons_and_ones_that_fired(run_dir):
    from brianrules.runs import load

    ev = run_plots.sample_activity(load(run_dir), 3)
    out = run_plots.traced_neurons(ev, "output", 3)
    labels = list(dict.fromkeys(ev.labels.tolist()))
    assert out[:len(labels)] == labels[:3] and len(set(out)) == 3
    hidden = run_plots.traced_neurons(ev, "hidden_1", 3)
    counts = np.bincount(ev.spikes["hidden_1"].i, minlength=12)
    assert len(set(hidden)) == 3 and counts[hidden[0]] == counts.max()
    assert all(counts[hidden] > 0) or (counts > 0).sum() < 3  # silent ones only once every active one is in


@pytest.mark.parametrize("missing", ["weights.npz", "config.json"])
def test_a_folder_without_its_weights_or_settings_is_a_value_error(run_dir, tmp_path, missing):
    for name in ("config.json", "weights.npz"):
        if name != missing:
            shutil.copy(run_dir / name, tmp_path / name)
    with pytest.raises(ValueError, match=re.escape(str(tmp_path)) + ".*" + re.escape(missing)) as err:
        run_plots.plot_run(tmp_path)
    assert "\n" not in str(err.value)
    assert not (tmp_path / "plots").exists()


def test_receptive_fields_need_a_square_image_input_feeding_a_hidden_layer():
    from brianrules.training import TrainConfig

    assert run_plots._no_image_input(TrainConfig(hidden=[12]).network_spec(64, 10)) is None
    assert "no square image" in run_plots._no_image_input(TrainConfig(hidden=[12]).network_spec(60, 10))
    direct = TrainConfig(hidden=[12], projections=[{"pre": "input", "post": "output"},
                                                   {"pre": "input", "post": "hidden_1"},
                                                   {"pre": "hidden_1", "post": "output"}])
    assert "from input to output" in run_plots._no_image_input(direct.network_spec(64, 10))


def test_a_neuron_without_v_has_no_membrane_figure():
    from brianrules.neurons import LIF
    from brianrules.training import TrainConfig

    declared = {k: re.sub(r"\bv\b", "u", v).replace("dv/dt", "du/dt") if isinstance(v, str) else v
                for k, v in LIF().to_dict().items()}  # the potential called u
    declared["initial"] = {"u": "v_rest"}
    assert run_plots.membrane_layers(TrainConfig(hidden=[12]).network_spec(64, 10)) == ["hidden_1", "output"]
    assert run_plots.membrane_layers(TrainConfig(hidden=[12], neuron=declared).network_spec(64, 10)) == []
