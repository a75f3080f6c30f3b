"""The check of a network's run values (its weights), shared by the
declarations that take them as a dict of matrices (`graded`, `recurrent`)."""

import numpy as np


def positive_int(value):
    """Whether ``value`` is an integer (not a bool) of at least 1."""
    return not isinstance(value, bool) and isinstance(value, (int, np.integer)) and value >= 1


def finite_number(value):
    """Whether ``value`` is a finite int or float (not a bool)."""
    return not isinstance(value, bool) and isinstance(value, (int, float, np.floating)) and np.isfinite(value)


def check_run_values(params, shapes, known, what, skip=(), no_diagonal=None):
    """``params`` as a dict of float64 arrays of ``shapes`` (name -> shape),
    those in ``skip`` left out; an error names the first that is unknown
    (not in ``known``), missing, misshapen or not finite.  ``what`` names
    the network in the errors ("a graded network").  ``no_diagonal``: the
    name of a square matrix that must have a zero diagonal (a network
    without self-connections)."""
    names = ", ".join(known)
    if not isinstance(params, dict):
        raise ValueError(f"the network's parameters must be a dict of {names}")
    unknown = sorted(set(params) - set(known))
    if unknown:
        raise ValueError(f"unknown parameter '{unknown[0]}' ({what} has {names})")
    out = {}
    for name, shape in shapes.items():
        if name in skip:
            continue
        if name not in params:
            raise ValueError(f"parameter {name} is missing ({what} has {names})")
        value = np.asarray(params[name], dtype=float)
        if value.shape != shape:
            raise ValueError(f"parameter {name} has shape {value.shape}, expected {shape}")
        if not np.all(np.isfinite(value)):
            raise ValueError(f"parameter {name} has values that are not finite")
        out[name] = value
    if no_diagonal is not None and np.any(np.diag(out[no_diagonal]) != 0):
        raise ValueError(f"{no_diagonal} has a non-zero diagonal, and the network has no self-connections "
                         "(self_connections=True allows them)")
    return out


__all__ = ["check_run_values", "finite_number", "positive_int"]
