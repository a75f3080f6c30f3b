"""Engines that run a model's discretised network outside Brian2's devices.

- `jax_step`: the step of a feed-forward network generated from the neurons'
  declarations as a JAX function (forward pass, surrogate gradients);
- `jax_code`: the translation of Brian2's abstract code into JAX that it uses;
- `bptt`: training by the JAX step's surrogate gradient (`--rule bptt`);
- `graded`: a graded (Huh & Sejnowski) network's step and its exact gradient.

Nothing here is imported by ``import brianrules``: JAX is an optional
dependency (``pip install -e '.[jax]'``).
"""
