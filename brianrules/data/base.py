"""What every data set is: train and test arrays with integer labels, and
the fixed stratified split that the built-in sets use."""

from dataclasses import dataclass

import numpy as np

#: the split is fixed: it does not change with the training seed
SPLIT_SEED = 0


@dataclass(frozen=True)
class Dataset:
    name: str
    x_train: np.ndarray  # samples x inputs, intensities in [0, 1]
    y_train: np.ndarray  # integer labels
    x_test: np.ndarray
    y_test: np.ndarray
    n_classes: int
    image_shape: tuple | None = None  # (rows, cols) of image samples, row by row; None: not images

    def __post_init__(self):
        for part in ("train", "test"):
            x = getattr(self, f"x_{part}")
            y = getattr(self, f"y_{part}")
            if x.ndim != 2:
                raise ValueError(f"{self.name}: x_{part} must be 2-D (samples x inputs), got shape {x.shape}")
            if y.shape != (x.shape[0],):
                raise ValueError(f"{self.name}: y_{part} has shape {y.shape}, expected ({x.shape[0]},)")
            if not np.all(np.isfinite(x)):
                raise ValueError(f"{self.name}: x_{part} contains NaN or infinite values")
            if x.size and (x.min() < 0 or x.max() > 1):
                raise ValueError(f"{self.name}: x_{part} intensities must lie in [0, 1]")
            if y.size and (y.min() < 0 or y.max() >= self.n_classes):
                raise ValueError(f"{self.name}: y_{part} labels must lie in 0..{self.n_classes - 1}")
        if self.x_train.shape[1] != self.x_test.shape[1]:
            raise ValueError(f"{self.name}: train and test samples differ in size")
        if self.image_shape is not None and int(np.prod(self.image_shape)) != self.x_train.shape[1]:
            raise ValueError(f"{self.name}: image shape {tuple(self.image_shape)} does not hold its "
                             f"{self.x_train.shape[1]} inputs")

    @property
    def n_inputs(self):
        return self.x_train.shape[1]


def stratified_split(x, y, test_fraction, seed=SPLIT_SEED):
    from sklearn.model_selection import train_test_split

    return train_test_split(x, y, test_size=test_fraction, stratify=y, random_state=seed)
