"""Declarations: what a user chooses, as frozen data that knows nothing of
groups, devices or data.

- `neuron`: a neuron as Brian2 equations, parameters with units and ports
  (`NeuronModel`, the built-in `LIF_DECLARATION`, neuron files);
- `graded`: a recurrent network coupled through a neuron's graded output
  (Huh & Sejnowski's architecture);
- `modelfile`: the model file (TOML) read into a neuron declaration and the
  settings of a training.
"""
