"""Random shifts of the training images (`--shift K`, `brianrules.data.augment`):
each moved sample against a pixel-by-pixel reference, the epoch's arrays
(test samples untouched, the draw fixed by seed and epoch), the refusals,
and what a training hands its program."""

import numpy as np
import pytest

from brianrules import data
from brianrules.data.augment import check_shift, random_shifts, shifted
from brianrules.data.base import Dataset
from brianrules.training import TrainConfig, shift_seed, train
from brianrules.training import loop


def _moved(img, dy, dx):
    """``img`` moved by dy rows and dx columns, one pixel at a time."""
    rows, cols = img.shape
    out = np.zeros_like(img)
    for r in range(rows):
        for c in range(cols):
            if 0 <= r - dy < rows and 0 <= c - dx < cols:
                out[r, c] = img[r - dy, c - dx]
    return out


@pytest.mark.parametrize("shape", [(8, 8), (5, 7)])
def test_every_sample_moves_by_its_own_offsets(shape):
    rng = np.random.default_rng(4)
    x = rng.random((40, shape[0] * shape[1]))
    dy, dx = random_shifts(40, 3, rng)
    assert set(dy) | set(dx) <= set(range(-3, 4)) and len(set(dy)) > 3 and len(set(dx)) > 3
    out = shifted(x, shape, dy, dx)
    assert out.shape == x.shape
    for n in range(40):
        assert np.array_equal(out[n].reshape(shape), _moved(x[n].reshape(shape), dy[n], dx[n])), n


def test_a_shift_inside_the_frame_keeps_every_pixel():
    """An image with a blank border of two pixels loses nothing to a shift of
    up to two: the sum and the sorted pixels stay; offsets zero change nothing."""
    rng = np.random.default_rng(1)
    img = np.zeros((10, 8, 8))
    img[:, 2:6, 2:6] = rng.random((10, 4, 4))
    x = img.reshape(10, 64)
    dy, dx = random_shifts(10, 2, rng)
    out = shifted(x, (8, 8), dy, dx)
    assert np.allclose(out.sum(axis=1), x.sum(axis=1))
    assert np.array_equal(np.sort(out, axis=1), np.sort(x, axis=1))
    assert np.array_equal(shifted(x, (8, 8), np.zeros(10, int), np.zeros(10, int)), x)


def _digits_like(n_train=30, n_test=12, image_shape=(8, 8)):
    rng = np.random.default_rng(0)
    n_in = 64 if image_shape is None else image_shape[0] * image_shape[1]
    return Dataset("toy", rng.random((n_train, n_in)), rng.integers(0, 10, n_train),
                   rng.random((n_test, n_in)), rng.integers(0, 10, n_test), 10, image_shape=image_shape)


def test_the_epoch_moves_its_training_samples_alone():
    ds = _digits_like()
    order = np.random.default_rng(2).permutation(30)
    plain = data.epoch_arrays(ds, order, 10)
    stim, tgt, learn, labels = data.epoch_arrays(ds, order, 10, 2, seed=17)
    dy, dx = random_shifts(30, 2, np.random.default_rng(17))
    assert np.array_equal(stim[:30], shifted(ds.x_train[order], (8, 8), dy, dx))
    assert not np.array_equal(stim[:30], plain[0][:30])
    assert np.array_equal(stim[30:], ds.x_test)  # the test samples are never moved
    for a, b in zip((tgt, learn, labels), plain[1:]):
        assert np.array_equal(a, b)
    # the same seed draws the same shifts; another epoch's seed others
    assert np.array_equal(data.epoch_arrays(ds, order, 10, 2, seed=17)[0], stim)
    assert not np.array_equal(data.epoch_arrays(ds, order, 10, 2, seed=18)[0], stim)
    assert shift_seed(0, 1) != shift_seed(0, 2) and shift_seed(0, 1) != shift_seed(1, 1)
    assert np.array_equal(data.epoch_arrays(ds, order, 10, 0, seed=17)[0], plain[0])


def test_the_built_in_and_idx_sets_know_their_image_shape(tmp_path):
    assert data.load("digits").image_shape == (8, 8)
    from test_data_mnist import _make_idx_folder

    _make_idx_folder(tmp_path / "m", shape=(6, 9))
    ds = data.load(f"idx:{tmp_path / 'm'}")
    assert ds.image_shape == (6, 9) and ds.n_inputs == 54


def test_what_cannot_be_shifted_is_refused_by_name():
    with pytest.raises(ValueError, match="no image shape"):
        check_shift(1, _digits_like(image_shape=None))
    with pytest.raises(ValueError, match=r"8x8 images of toy out of view; give at most 7"):
        check_shift(8, _digits_like())
    check_shift(0, _digits_like(image_shape=None))  # no shift: any data set
    with pytest.raises(ValueError, match=r"image shape \(7, 7\) does not hold its 64 inputs"):
        Dataset("bad", np.zeros((2, 64)), np.zeros(2, int), np.zeros((1, 64)), np.zeros(1, int), 10,
                image_shape=(7, 7))
    for bad in (-1, 1.5, True):
        with pytest.raises(ValueError, match="shift_px must be a non-negative whole number"):
            TrainConfig(shift_px=bad).validate()
    with pytest.raises(ValueError, match="key 'shift_px' must be an integer"):
        TrainConfig.from_dict({"shift_px": 1.5})


@pytest.mark.slow
@pytest.mark.standalone
def test_the_training_hands_its_program_the_moved_samples(tmp_path, monkeypatch):
    """What the program of each epoch receives: the epoch's order moved by
    the epoch's shifts, then the test samples as they are."""
    seen = []
    real = loop.make_runner

    def recording(*args, **kwargs):
        runner = real(*args, **kwargs)
        run = runner.run

        def run_and_keep(weights, feedback, stim, *rest, **kw):
            seen.append(np.array(stim))
            return run(weights, feedback, stim, *rest, **kw)

        runner.run = run_and_keep
        return runner

    monkeypatch.setattr(loop, "make_runner", recording)
    cfg = TrainConfig(rule="dfa", dataset="digits", epochs=2, hidden=[30], t_sample_ms=40.0,
                      device="cpp_standalone", seed=1, shift_px=1)
    train(cfg, str(tmp_path / "run"), log=lambda *a: None, progress=False)
    ds = data.load("digits")
    n_train = len(ds.y_train)
    assert len(seen) == 2
    for epoch, stim in enumerate(seen, start=1):
        order = loop.epoch_order(1, epoch, n_train)
        dy, dx = random_shifts(n_train, 1, np.random.default_rng(shift_seed(1, epoch)))
        assert np.array_equal(stim[:n_train], shifted(ds.x_train[order], (8, 8), dy, dx))
        assert np.array_equal(stim[n_train:], ds.x_test)


def test_the_mnist5k_model_file_is_the_readme_command():
    """models/mnist5k_symmetric.toml writes out the command of the README's
    mnist5k rows with --shift 1."""
    import os

    from brianrules.training import load_model_file

    path = os.path.join(os.path.dirname(__file__), "..", "models", "mnist5k_symmetric.toml")
    cfg = TrainConfig.from_dict(load_model_file(path), source=path).validate()
    assert cfg == TrainConfig(rule="symmetric", dataset="mnist5k", hidden=[300], t_sample_ms=50.0, max_rate_hz=800.0,
                              init="fluctuation", zero_mean_error=True, rate_reg=0.3, rate_target_hz=50.0,
                              lr_decay=0.85, epochs=20, shift_px=1)
