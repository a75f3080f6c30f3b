"""The floating-point type of a model: its state variables, weights and
parameters are float64 or float32, fixed when Brian2 creates them.

At the bottom of the package (the model, the builders and the engines use it)."""

import contextlib
import warnings

import numpy as np

#: floating-point types of a model's state variables, weights and parameters
FLOAT_DTYPES = ("float64", "float32")


def check_dtype(name):
    if not isinstance(name, str) or name not in FLOAT_DTYPES:
        raise ValueError(f"unknown dtype {name!r} (choose from {', '.join(FLOAT_DTYPES)})")


@contextlib.contextmanager
def float_dtype(name):
    """Brian2's ``core.default_float_dtype`` set to ``name`` ("float64" or
    "float32") while the enclosed code builds a `Model` and generates its
    program, the previous setting afterwards: the type of every state
    variable, weight and parameter is fixed when Brian2 creates it, and that
    of the generated code's constants and temporaries when it writes the
    code, so other programs of the process keep theirs."""
    from brian2 import prefs

    check_dtype(name)
    saved = prefs.core.default_float_dtype
    prefs.core.default_float_dtype = getattr(np, name)
    try:
        yield
    finally:
        prefs.core.default_float_dtype = saved


@contextlib.contextmanager
def state_check_quiet(dtype):
    """After a run Brian2 looks for invalid states with ``abs(v) > 1e50``,
    which NumPy 2 evaluates in float32 for float32 variables: 1e50 becomes
    inf, with an overflow warning after every run.  Silenced for float32
    programs (the check's NaN test is unaffected)."""
    with warnings.catch_warnings():
        if dtype == "float32":
            warnings.filterwarnings("ignore", message="overflow encountered in cast", category=RuntimeWarning)
        yield
