"""What a network is outside the package: `nir_graph`, the Neuromorphic
Intermediate Representation (NIR) of a trained network, written and read
(the ``nir`` extra)."""
