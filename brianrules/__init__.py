"""brianrules: train networks of LIF neurons with local alternatives to
backpropagation, declared as Brian2 equations and run as generated code.

``brianrules.load(RUN_FOLDER)`` reads a finished training (`brianrules.runs`)."""

__version__ = "0.1.0"


def __getattr__(name):
    # `load` imports Brian2 on first use: `import brianrules` (and the command line) stays fast
    if name == "load":
        from .runs import load

        return load
    raise AttributeError(f"module 'brianrules' has no attribute {name!r}")
