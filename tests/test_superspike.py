"""SuperSpike on spike-train targets (`model.spiketrain`, `reference.spiketrain`,
`build.spiketrain`, `engines.spiketrain`, `training.spiketrain`, `data.rasters`)."""

import json
import os

import numpy as np
import pytest

from brianrules.data.rasters import picture_from_file, picture_raster, poisson_raster, text_picture, to_grid
from brianrules.model.spiketrain import SuperSpikeNetwork
from brianrules.reference.spiketrain import distance, simulate, zero_state

P = 60  # steps of the looping rasters


def small(feedback="symmetric", n_hidden=15, **kw):
    return SuperSpikeNetwork(n_in=20, n_hidden=n_hidden, n_out=10, feedback=feedback, rho=kw.pop("rho", 1.0),
                             update_interval=0.02, **kw)


def rasters(seed=0):
    rng = np.random.default_rng(seed)
    return (rng.random((P, 20)) < 0.08).astype(float), (rng.random((P, 10)) < 0.05).astype(float)


def two_runs(run, net, eta=1e-2, learn=True):
    """Two runs of 100 steps from rest with weights strong enough to fire."""
    stim, tgt = rasters()
    p, s = net.initial_params(0, w0=1.0), zero_state(net)
    out = []
    n0 = 0
    for _ in range(2):
        p, s, rec = run(p, s, stim, tgt, n0, eta, learn)
        out.append(rec)
        n0 += 100
    return p, s, out


def reference_run(net):
    def run(p, s, stim, tgt, n0, eta, learn):
        return simulate(net, p, s, stim, tgt, n0, 100, eta, learn=learn, record_from=0)
    return run


def assert_same(a, b, rtol=1e-9):
    (pa, sa, ra), (pb, sb, rb) = a, b
    for k in pa:
        scale = max(1.0, float(np.max(np.abs(pa[k]))))
        assert np.max(np.abs(pa[k] - pb[k])) <= rtol * scale, k
    for g in sa:
        for k in sa[g]:
            scale = max(1.0, float(np.max(np.abs(sa[g][k]))))
            assert np.max(np.abs(sa[g][k] - sb[g][k])) <= rtol * scale, (g, k)
    for x, y in zip(ra, rb):
        np.testing.assert_array_equal(x["spike_steps"], y["spike_steps"])
        np.testing.assert_array_equal(x["spike_idx"], y["spike_idx"])
        np.testing.assert_array_equal(x["count_o"], y["count_o"])
        np.testing.assert_array_equal(x["count_h"], y["count_h"])
        np.testing.assert_allclose(x["D"], y["D"], rtol=rtol, atol=1e-15)


@pytest.mark.parametrize("feedback,n_hidden,learn", [("symmetric", 15, True), ("random", 15, True),
                                                     ("symmetric", 0, True), ("symmetric", 15, ("W2",))])
def test_runtime_equals_reference(feedback, n_hidden, learn):
    from brianrules.engines.spiketrain import make_runner

    net = small(feedback, n_hidden)
    runner = make_runner("runtime", net, P, 100)
    got = two_runs(runner.run, net, learn=learn)
    want = two_runs(reference_run(net), net, learn=learn)
    if learn is not True:  # the hidden weights fixed, the output's learning
        np.testing.assert_array_equal(want[0]["W1"], net.initial_params(0, w0=1.0)["W1"])
    assert sum(r["count_o"].sum() for r in want[2]) > 20  # the outputs fire ...
    if n_hidden:
        assert sum(r["count_h"].sum() for r in want[2]) > 20  # ... and so does the hidden layer
    assert np.max(np.abs(want[0]["W2"] - net.initial_params(0, w0=1.0)["W2"])) > 1e-3  # and the weights learn
    assert_same(want, got)


@pytest.mark.standalone
def test_program_equals_reference(tmp_path):
    from brianrules.engines.spiketrain import make_runner

    net = small("random")
    runner = make_runner("cpp_standalone", net, P, 100, build_dir=str(tmp_path / "ss"))
    try:
        got = two_runs(runner.run, net)
    finally:
        runner.close()
    assert_same(two_runs(reference_run(net), net), got)


def test_runs_carry_the_state():
    """Two runs of 100 steps are one run of 200 (the state, ``g`` and the normaliser carry over)."""
    net = small("random")
    stim, tgt = rasters(1)
    p0, s0 = net.initial_params(3, w0=1.0), zero_state(net)
    p1, s1, r1 = simulate(net, p0, s0, stim, tgt, 0, 100, 1e-2, record_from=0)
    p2, s2, r2 = simulate(net, p1, s1, stim, tgt, 100, 100, 1e-2, record_from=0)
    pw, sw, rw = simulate(net, p0, s0, stim, tgt, 0, 200, 1e-2, record_from=0)
    for k in pw:
        np.testing.assert_allclose(p2[k], pw[k], rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(r1["D"] + r2["D"], rw["D"], rtol=1e-12)
    np.testing.assert_array_equal(np.r_[r1["spike_steps"], r2["spike_steps"]], rw["spike_steps"])
    with pytest.raises(ValueError, match="must start on an update step"):
        simulate(net, p0, s0, stim, tgt, 5, 10, 1e-2)


def test_normaliser_applies_rmsmax():
    """At an update step: g_m = g / K, v = max(g_m^2, gamma v), w += eta g_m / (sqrt(v) + eps), clipped."""
    net = small("symmetric")
    K = net.update_every
    stim, tgt = rasters(2)
    p, s, _ = simulate(net, net.initial_params(1, w0=1.0), zero_state(net), stim, tgt, 0, 3 * K, 5e-2)
    g = {k: s[k]["g"] for k in net.layers}
    assert all(np.max(np.abs(v)) > 0 for v in g.values())
    eta = 5e-2
    p2, s2, _ = simulate(net, p, s, stim, tgt, 3 * K, 1, eta)
    for key in net.layers:
        gm = g[key] / K
        v = np.maximum(gm ** 2, net.gamma * p["v" + key[1]])
        want = np.clip(p[key] + eta * gm / (np.sqrt(v) + net.eps), -net.w_max, net.w_max)
        np.testing.assert_allclose(p2["v" + key[1]], v, rtol=1e-13)
        np.testing.assert_allclose(p2[key], want, rtol=1e-13, atol=1e-16)
    # learn = False: the normaliser's state moves, the weights stay
    p3, _, _ = simulate(net, p, s, stim, tgt, 3 * K, 1, eta, learn=False)
    np.testing.assert_array_equal(p3["W1"], p["W1"])
    np.testing.assert_allclose(p3["v1"], np.maximum((g["W1"] / K) ** 2, net.gamma * p["v1"]), rtol=1e-13)


def test_error_kernel_energy_is_the_alpha_kernels():
    """One unmatched spike leaves e(t) = dt (exp(-t/td) - exp(-t/tr)) / (td - tr) (a unit-area alpha
    kernel times dt); the sum of e^2 dt tends to its integral as dt shrinks."""
    tr, td = 5e-3, 10e-3
    for dt in (1e-5, 2e-5):
        net = SuperSpikeNetwork(n_in=1, n_hidden=0, n_out=1, dt=dt, update_interval=0.5)
        closed = dt ** 2 / (td - tr) ** 2 * (td / 2 + tr / 2 - 2 * td * tr / (td + tr))
        assert net.kernel_energy() == pytest.approx(closed, rel=20 * dt / tr)


def test_membrane_and_surrogate_follow_the_declaration():
    """One input spike into one output neuron (no hidden layer), step by step: the current jumps by w
    and decays with tau_syn, v += c_m (I - v), and the eligibility grows by sigma' psp with
    sigma' = beta / (1 + beta |v - v_th|)^2."""
    net = SuperSpikeNetwork(n_in=1, n_hidden=0, n_out=1, update_interval=0.05)
    stim, tgt = np.zeros((50, 1)), np.zeros((50, 1))
    stim[0, 0] = 1
    w = 0.03
    c = net.constants
    p, state = net.check_params({"W2": np.array([[w]])}), zero_state(net)
    v = I = 0.0
    for n in range(20):  # one step per call, the rasters rolled so that row 0 is step n
        el = state["W2"]["el"][0, 0]
        p, state, _ = simulate(net, p, state, np.roll(stim, -n, axis=0), np.roll(tgt, -n, axis=0), 0, 1, 0.0,
                               learn=False)
        v = v + c["c_m"] * (I - v)
        I = c["d_syn"] * I + (w if n == 0 else 0.0)
        assert state["o"]["v"][0] == pytest.approx(v, rel=1e-12, abs=1e-18)
        assert state["o"]["I"][0] == pytest.approx(I, rel=1e-12, abs=1e-18)
        psp = state["in"]["psp"][0]
        if psp > 0:
            sp = net.beta / (1 + net.beta * abs(v - net.v_th)) ** 2
            assert state["W2"]["el"][0, 0] == pytest.approx(c["d_rise"] * el + sp * psp, rel=1e-12)
    assert 0.1 * net.v_th < v < net.v_th  # a sub-threshold response


def test_learning_lowers_the_distance():
    """A small network learns a looping raster: the van Rossum distance of the last second is below
    half of the first's (reference engine)."""
    net = SuperSpikeNetwork(n_in=50, n_hidden=30, n_out=20, feedback="symmetric", update_interval=0.1)
    rng = np.random.default_rng(4)
    steps = 200
    stim = (rng.random((steps, 50)) < 0.02).astype(float)
    tgt = np.zeros((steps, 20))
    for k in range(20):  # each output fires twice per loop, at its own times
        tgt[[5 + 9 * k, 100 + 4 * k], k] = 1
    p, s = net.initial_params(0, w0=0.5), zero_state(net)
    d = []
    n0 = 0
    for _ in range(12):
        p, s, rec = simulate(net, p, s, stim, tgt, n0, 1000, 5e-3)
        n0 += 1000
        d.append(distance(net, rec["D"], 1.0))
    assert d[-1] < 0.5 * d[0], d


# -- rasters -------------------------------------------------------------------------

def test_picture_and_rasters():
    pic = text_picture("AB", rows=40, columns=30)
    assert pic.shape == (40, 30) and 0.1 < pic.mean() < 0.7
    assert not pic[0].any() and not pic[:, 0].any()  # a one-pixel margin
    idx, times, duration = picture_raster(pic, column_s=0.01, jitter_s=0.01, seed=1)
    assert duration == pytest.approx(0.3) and len(idx) == pic.sum()
    cols = np.floor(times / 0.01 + 1e-12).astype(int)
    assert np.all(pic[idx, cols])  # every spike in its own pixel's column
    grid, dropped = to_grid(idx, times, 40, duration, 1e-3)
    assert grid.shape == (300, 40) and dropped == 0 and grid.sum() == len(idx)
    i, t = poisson_raster(100, 5.0, 10.0, seed=2)
    assert abs(len(i) / 1000.0 - 5.0) < 0.5 and np.all((t >= 0) & (t < 10))
    g, dropped = to_grid(np.array([0, 0]), np.array([0.0101, 0.0104]), 1, 0.02, 1e-3)
    assert dropped == 1 and g.sum() == 1
    with pytest.raises(ValueError, match="whole number of steps"):
        to_grid(i, t, 100, 10.0005, 1e-3)
    with pytest.raises(ValueError, match="non-empty"):
        text_picture("  ")


def test_picture_from_an_image_file(tmp_path):
    """A PNG's dark pixels, cropped to their bounding box and put on the grid: a picture written as an
    image comes back as itself (white background, 8-bit greys and transparency alike)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    pic = text_picture("Z", rows=30, columns=20)
    path = tmp_path / "z.png"
    plt.imsave(path, np.where(pic, 0.0, 1.0), cmap="gray", vmin=0, vmax=1)
    np.testing.assert_array_equal(picture_from_file(str(path), rows=30, columns=20), pic)
    rgba = np.zeros(pic.shape + (4,))
    rgba[..., 3] = pic  # black ink on a transparent background
    plt.imsave(tmp_path / "t.png", rgba)
    np.testing.assert_array_equal(picture_from_file(str(tmp_path / "t.png"), rows=30, columns=20), pic)
    plt.imsave(tmp_path / "white.png", np.ones((10, 10)), cmap="gray", vmin=0, vmax=1)
    with pytest.raises(ValueError, match="no dark pixels"):
        picture_from_file(str(tmp_path / "white.png"))
    (tmp_path / "bad.png").write_text("not an image")
    with pytest.raises(ValueError, match="cannot read the picture"):
        picture_from_file(str(tmp_path / "bad.png"))


# -- the command -----------------------------------------------------------------------

def _model_file(tmp_path, name="ss.toml", **extra):
    settings = {"text": "\"AB\"", "columns": 20, "n_in": 30, "n_out": 12, "n_hidden": 10, "input_rate": 20.0,
                "w0": 0.5, "eta": 5e-3, "eta_drops": "[1]", "burn_in_s": 0.5, "block_s": 1.0, "blocks": 2,
                "device": "\"reference\""}
    settings.update(extra)
    path = tmp_path / name
    path.write_text("[superspike]\n" + "\n".join(f"{k} = {v}" for k, v in settings.items()) + "\n")
    return str(path)


def test_command_trains_writes_and_resumes(tmp_path):
    from brianrules.cli import main

    out = tmp_path / "run"
    model = _model_file(tmp_path)
    assert main(["superspike", model, "--out", str(out), "--feedback", "random"]) == 0
    for name in ("config.json", "metrics.csv", "checkpoint.npz", "rasters.npz", "distance.png", "raster.png"):
        assert (out / name).exists(), name
    cfg = json.loads((out / "config.json").read_text())
    assert cfg["feedback"] == "random" and cfg["silent_distance"] > 0
    lines = (out / "metrics.csv").read_text().splitlines()
    assert len(lines) == 3 and lines[0].startswith("iteration,trained_s,distance")
    assert float(lines[1].split(",")[5]) == pytest.approx(5e-3)
    assert float(lines[2].split(",")[5]) == pytest.approx(5e-4)  # eta divided by 10 after block 1
    with np.load(out / "rasters.npz") as z:
        assert {"target", "picture", "burn_in", "block_1", "block_2"} <= set(z.files)
    # resuming for one more block continues the same simulation: the result of three blocks at once
    assert main(["superspike", model, "--out", str(out), "--feedback", "random", "--blocks", "3", "--resume"]) == 0
    once = tmp_path / "once"
    assert main(["superspike", model, "--out", str(once), "--feedback", "random", "--blocks", "3"]) == 0
    with np.load(out / "checkpoint.npz") as a, np.load(once / "checkpoint.npz") as b:
        for k in ("W1", "W2", "v1", "v2"):
            np.testing.assert_allclose(a[k], b[k], rtol=1e-12, atol=1e-15)
    rows = [[line.split(",")[:-1] for line in (d / "metrics.csv").read_text().splitlines()[1:]] for d in (out, once)]
    assert rows[0] == rows[1] and len(rows[0]) == 3  # all but the wall time


def test_command_refuses_bad_input_before_touching_the_folder(tmp_path, capsys):
    from brianrules.cli import main

    out = tmp_path / "kept"
    out.mkdir()
    (out / "metrics.csv").write_text("precious")
    model = _model_file(tmp_path)
    cases = [(["--eta", "-1"], "eta must be a positive number"),
             (["--block-s", "0.25"], "block_s (0.25 s) must be a whole number of update intervals"),
             (["--hidden", "-3"], "n_hidden must be 0"),
             (["--text", " "], "text must be a non-empty string"),
             (["--dt", "20"], "shorter than the step"),
             (["--picture", str(tmp_path / "missing.png")], "is not a file")]
    for args, message in cases:
        assert main(["superspike", model, "--out", str(out), "--force"] + args) == 2
        assert message in capsys.readouterr().err
        assert (out / "metrics.csv").read_text() == "precious"
    bad = _model_file(tmp_path, "bad.toml", tau_mem=5.0)
    assert main(["superspike", bad, "--out", str(tmp_path / "x")]) == 2
    assert "unknown setting 'tau_mem'" in capsys.readouterr().err
    assert main(["superspike", model, "--out", str(out)]) == 2
    assert "already holds results" in capsys.readouterr().err
    assert not os.path.exists(tmp_path / "x")


def test_check_params_names_the_problem():
    net = small("symmetric")
    p = net.initial_params(0)
    with pytest.raises(ValueError, match="parameter B is not one of this network's"):
        net.check_params({**p, "B": np.zeros((10, 15))})
    with pytest.raises(ValueError, match="W2 has weights beyond w_max"):
        net.check_params({**p, "W2": np.full((15, 10), 0.2)})
    with pytest.raises(ValueError, match="parameter W1 has shape"):
        net.check_params({**p, "W1": np.zeros((3, 3))})
    with pytest.raises(ValueError, match="feedback must be one of"):
        SuperSpikeNetwork(feedback="mirror")
    with pytest.raises(ValueError, match="no plastic projection W3"):
        net.learning(("W3",))


def test_fixed_hidden_keeps_the_hidden_weights(tmp_path):
    from brianrules.cli import main
    from brianrules.training.spiketrain import network_of, read_model

    model = _model_file(tmp_path)
    out = tmp_path / "fixed"
    assert main(["superspike", model, "--out", str(out), "--fixed-hidden", "--blocks", "1"]) == 0
    cfg = read_model(model)
    start = network_of(cfg).initial_params(cfg.seed, w0=cfg.w0)
    with np.load(out / "checkpoint.npz") as z:
        np.testing.assert_array_equal(z["W1"], start["W1"])
        assert np.max(np.abs(z["W2"] - start["W2"])) > 1e-3


def test_a_signal_stops_after_the_block_and_keeps_it(tmp_path, monkeypatch, capsys):
    """SIGINT during block 2 (the run's third, after the burn-in): the block finishes and is saved, the
    command ends with 130 and says which block it kept; --resume continues to the end."""
    from brianrules.cli import main
    from brianrules.engines import spiketrain as engines
    from conftest import sigint_on_call

    real = sigint_on_call(monkeypatch, engines.SuperSpikeReference, "run", 3)
    model = _model_file(tmp_path, blocks=3)
    out = tmp_path / "run"
    assert main(["superspike", model, "--out", str(out)]) == 130
    err = capsys.readouterr().err
    assert "interrupted (SIGINT) while block 2 was saved; kept block 2 (resume with --resume)" in err
    assert len((out / "metrics.csv").read_text().splitlines()) == 3
    monkeypatch.setattr(engines.SuperSpikeReference, "run", real)
    assert main(["superspike", model, "--out", str(out), "--resume"]) == 0
    assert len((out / "metrics.csv").read_text().splitlines()) == 4
