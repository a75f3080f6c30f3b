"""brianrules: train networks of LIF neurons with local alternatives to
backpropagation, declared as Brian2 equations and run as generated code."""

__version__ = "0.1.0"
