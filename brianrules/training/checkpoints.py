"""Checkpoints and output folders: the weights file of a run, the check of
its folder before anything is built, and the versions and commit that
config.json records."""

import os
import subprocess
import sys

import numpy as np

from ..files import write_npz


def write_weights(path, weights, feedback, epoch, optimizer_state=None):
    """The weights file: forward weights ``w_K``, feedback matrices ``B_K``
    and the optimizer's state ``opt_NAME_K`` of plastic projection K."""
    arrays = {f"w_{k + 1}": W for k, W in enumerate(weights)}
    arrays.update({f"B_{k + 1}": B for k, B in enumerate(feedback)})
    for k, state in enumerate(optimizer_state or []):
        arrays.update({f"{name}_{k + 1}": M for name, M in state.items()})
    write_npz(path, epoch=epoch, **arrays)


def read_weights(path):
    with np.load(path) as z:
        weights = [z[f"w_{k + 1}"] for k in range(sum(1 for n in z.files if n.startswith("w_")))]
        feedback = [z[f"B_{k + 1}"] for k in range(sum(1 for n in z.files if n.startswith("B_")))]
        return weights, feedback, int(z["epoch"])


def read_optimizer_state(path, names, n_plastic):
    """The optimizer's state of a weights file (`write_weights`), or None
    where it holds none (a run of plain sgd, or a fresh start)."""
    if not names:
        return None
    with np.load(path) as z:
        if f"{names[0]}_1" not in z.files:
            return None
        return [{name: z[f"{name}_{k + 1}"] for name in names} for k in range(n_plastic)]


def prepare_out_dir(out, force=False, resume=False):
    """Check the output folder before anything is built."""
    if os.path.exists(out) and not os.path.isdir(out):
        raise ValueError(f"--out {out} is a file, not a folder")
    if os.path.isdir(out) and os.listdir(out) and not (force or resume):
        raise ValueError(f"--out {out} already holds results; use --resume to continue or --force to overwrite")
    if resume and not os.path.exists(os.path.join(out, "weights.npz")):
        raise ValueError(f"--resume: {out} holds no checkpoint (weights.npz)")
    ancestor = os.path.dirname(os.path.abspath(out))  # missing folders are created
    while not os.path.exists(ancestor):
        ancestor = os.path.dirname(ancestor)
    if not os.path.isdir(ancestor):
        raise ValueError(f"--out {out}: {ancestor} is a file, not a folder")


def versions():
    import brian2
    import sympy

    out = {"python": sys.version.split()[0], "brian2": brian2.__version__,
           "numpy": np.__version__, "sympy": sympy.__version__}
    from .. import __version__

    out["brianrules"] = __version__
    return out


def git_commit():
    here = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))  # the package brianrules
    try:
        r = subprocess.run(["git", "-C", here, "rev-parse", "HEAD"], capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return None
    return r.stdout.strip() if r.returncode == 0 else None
