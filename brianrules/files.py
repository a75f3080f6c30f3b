"""Files written whole or not at all: a reader (or a process that resumes
after a crash) sees the old file or the new one, never half of one.

At the bottom of the package: every layer may use it."""

import json
import os


def atomic_write(path, write):
    """Write through ``write(tmp_path)`` then rename: never a half-written file."""
    tmp = f"{path}.tmp-{os.getpid()}"
    write(tmp)
    os.replace(tmp, path)


def write_npz(path, **arrays):
    """NumPy arrays in one ``.npz`` file, written whole or not at all."""
    import numpy as np

    def w(tmp):
        with open(tmp, "wb") as f:
            np.savez(f, **arrays)

    atomic_write(path, w)


def write_json(path, obj):
    def w(tmp):
        with open(tmp, "w") as f:
            json.dump(obj, f, indent=2, sort_keys=True)
            f.write("\n")

    atomic_write(path, w)
