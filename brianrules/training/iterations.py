"""The output folder of a training by iterations (`brianrules exact`, `brianrules eprop`).

Both write ``config.json`` (the settings), ``metrics.csv`` (a row per
evaluated iteration, atomically rewritten) and a checkpoint of their own;
``--resume`` continues from the checkpoint with the settings recorded,
except those a resumed run may change.
"""

import csv
import json
import os

from ..files import atomic_write


def check_positive_integers(cfg, keys):
    """Raise ValueError naming the first of ``keys`` whose setting in
    ``cfg`` is not a positive integer."""
    for key in keys:
        value = getattr(cfg, key)
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"{key} must be a positive integer, got {value!r}")


def check_same_settings(out, settings, resumable):
    """A resumed run continues the run in ``out``: every setting (a dict, as
    JSON would write it) but those in ``resumable`` must be the one its
    config.json recorded."""
    with open(os.path.join(out, "config.json")) as f:
        saved = json.load(f)
    mine = json.loads(json.dumps(settings))  # tuples as lists, as the file has them
    for key, value in mine.items():
        if key not in resumable and key in saved and saved[key] != value:
            raise ValueError(f"--resume: {out} was run with {key} = {saved[key]!r}, not {value!r}")


def write_metrics(out, rows, columns, digits=6):
    """``metrics.csv`` in ``out``: ``rows`` (dicts) under ``columns``, floats
    with ``digits`` significant digits."""
    def w(tmp):
        with open(tmp, "w", newline="") as f:
            writer = csv.DictWriter(f, columns)
            writer.writeheader()
            for r in rows:
                writer.writerow({k: (f"{v:.{digits}g}" if isinstance(v, float) else v) for k, v in r.items()})

    atomic_write(os.path.join(out, "metrics.csv"), w)


def read_metrics(out, last, columns):
    """The rows of ``out``'s metrics.csv up to iteration ``last`` (those a
    checkpoint of iteration ``last`` has seen)."""
    rows = []
    with open(os.path.join(out, "metrics.csv")) as f:
        for r in csv.DictReader(f):
            if int(r["iteration"]) <= last:
                rows.append({"iteration": int(r["iteration"]),
                             **{k: float(r[k]) for k in columns if k != "iteration"}})
    return rows


__all__ = ["check_positive_integers", "check_same_settings", "read_metrics", "write_metrics"]
