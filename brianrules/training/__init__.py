"""Training: epochs, evaluation, checkpoints and metrics.

- `config`: the settings of a training (`TrainConfig`), their types in a
  model file, and how two sources of settings combine (`override`);
- `deep`: the values that settings left unset take by the network's depth
  (the deep-network defaults);
- `modelfile`: reading TOML model files and their neuron declarations;
- `checkpoints`: the weights file, the output folder's check, the versions
  and commit a run records;
- `loop`: `train`, one compiled program run per epoch, and its metrics.

Imports point downwards: loop -> checkpoints, config; modelfile -> config.
"""

from .checkpoints import git_commit, prepare_out_dir, read_weights, versions, write_weights
from .config import ALTERNATIVES, NEURON_PREFIX, TrainConfig, override
from .loop import TrainingError, accuracy, epoch_order, predictions, shift_seed, train
from .modelfile import load_model_file, neuron_settings, read_toml

__all__ = ["ALTERNATIVES", "NEURON_PREFIX", "TrainConfig", "TrainingError", "accuracy", "epoch_order",
           "git_commit", "load_model_file", "neuron_settings", "override", "predictions", "prepare_out_dir",
           "read_toml", "read_weights", "shift_seed", "train", "versions", "write_weights"]
