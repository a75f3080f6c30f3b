"""Keep a long study's ended points as a small record, and go on from one.

    .venv/bin/python scripts/study_records.py keep runs/depth models/sweeps/records/depth
    .venv/bin/python scripts/study_records.py resume models/sweeps/records/depth runs/depth

``keep`` copies the sweep's ``sweep.json`` (its spec) and, for every point
that has ended (a ``status.json``), what its results and figures are made
from: ``point.json``, ``status.json``, ``run/config.json`` and
``run/metrics.csv`` (not the weights or the figures), replacing what the
record held of that point.  ``resume`` copies a record into a sweep folder
(``sweep.json`` where the folder has none), where `brianrules sweep` with
the same spec then skips the ended points and runs the rest; a point the
folder already has is left as it is.
"""

import argparse
import os
import shutil
import sys

#: the files of an ended point that `brianrules.study` reads back (`results.collect`)
KEPT = ("point.json", "status.json", os.path.join("run", "config.json"), os.path.join("run", "metrics.csv"))


def ended_points(folder):
    points = os.path.join(folder, "points")
    if not os.path.isdir(points):
        raise SystemExit(f"{folder} holds no points/ folder (not a sweep's folder or record)")
    return sorted(p for p in os.listdir(points) if os.path.exists(os.path.join(points, p, "status.json")))


def keep(sweep, record):
    os.makedirs(record, exist_ok=True)
    shutil.copy2(os.path.join(sweep, "sweep.json"), os.path.join(record, "sweep.json"))
    n = 0
    for pid in ended_points(sweep):
        src = os.path.join(sweep, "points", pid)
        dst = os.path.join(record, "points", pid)
        for name in KEPT:
            if os.path.exists(os.path.join(src, name)):
                os.makedirs(os.path.dirname(os.path.join(dst, name)), exist_ok=True)
                shutil.copy2(os.path.join(src, name), os.path.join(dst, name))
        n += 1
    print(f"kept {n} ended point(s) of {sweep} in {record}")


def resume(record, sweep):
    os.makedirs(os.path.join(sweep, "points"), exist_ok=True)
    if not os.path.exists(os.path.join(sweep, "sweep.json")):
        shutil.copy2(os.path.join(record, "sweep.json"), os.path.join(sweep, "sweep.json"))
    n = 0
    for pid in ended_points(record):
        dst = os.path.join(sweep, "points", pid)
        if os.path.exists(dst):
            continue
        shutil.copytree(os.path.join(record, "points", pid), dst)
        n += 1
    print(f"copied {n} ended point(s) of {record} into {sweep}")


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("action", choices=("keep", "resume"))
    p.add_argument("source", help="keep: the sweep's folder; resume: the record")
    p.add_argument("dest", help="keep: the record; resume: the sweep's folder")
    a = p.parse_args(argv)
    (keep if a.action == "keep" else resume)(a.source, a.dest)
    return 0


if __name__ == "__main__":
    sys.exit(main())
