"""Parameter studies: many trainings from one spec, run in parallel.

A sweep spec is a TOML file:

    [base]                       # settings of every point (keys of `brianrules train`)
    model = "dfa_digits.toml"    # optional: a model file to start from
    epochs = 5

    [grid]                       # axes combined as a full grid
    lr_scale = [0.1, 1.0, 10.0]
    hidden = [[100], [100, 100]]
    seed = [0, 1, 2]
    variant = [                  # an axis of tables sets several keys at once
      { label = "srbp", rule = "dfa", post = "surrogate" },
      { label = "fa", rule = "fa" },
    ]

    [random]                     # optional: n random samples, crossed with the grid
    n = 8
    seed = 0
    tau_m_ms = { uniform = [5.0, 20.0] }
    lr_hidden = { log_uniform = [0.01, 1.0] }
    surrogate = ["fast_sigmoid", "arctan"]     # a list: one chosen at random

Every point is a `TrainConfig`.  Its folder ``points/<id>`` (the id is a
hash of its settings) holds ``point.json``, the training's results in
``run/`` (config, metrics, weights, learning curve), ``log.txt`` and, once
it ended, ``status.json``.  A rerun skips ended points, so an interrupted
sweep finishes only what is missing.  Each point runs in a process of its
own: a point that fails or crashes is recorded and the others go on.
Points whose models share a structure share one compiled program (the build
cache of `brianrules.devices`); parameter values reach it as ``run_args``.

`report` turns ``results.csv`` into ``summary.md`` and figures.  Each
point's outcome is its last epoch, and a point is ``diverged`` (training
stopped: weights NaN or beyond the bound), ``collapsed`` (it finished, and
its last epoch's ``collapse`` column of ``metrics.csv`` names a condition
such as ``silent_output`` or ``saturated_hidden_2`` -- any non-empty text
counts -- or its final test accuracy lies within 5 points of chance,
1 / number of classes), ``stable`` (finished otherwise), or ``failed`` /
``pending``.  Seeds are replicates: tables give the mean and standard
deviation over the ``seed`` axis of the stable runs, and count the others;
every other axis is a condition.

Modules
    spec     reading and expanding a sweep spec into points (`Point`), their ids;
    results  a point's status, ``results.csv`` (`collect`,
             `write_results`) and the outcomes read back from it (`load`);
    point    one point in a process of its own (`run_point`; its child is
             ``python -m brianrules.study POINT_DIR``, `main`);
    run      a whole sweep (`sweep`): checks, the folder's lock, interrupts,
             progress, local processes or Dask;
    tables   the Markdown tables of the outcomes (summary, pivot, stability,
             collapsed runs);
    summary  ``summary.md`` and the figures of a sweep (`report`,
             ``brianrules plot DIR``).
"""

from .point import main, run_point
from .results import (COLLAPSE_MARGIN, CONFIG_COLUMNS, ENDED, NEAR_CHANCE, Outcome, collect, load, point_seconds,
                      read_status, write_results)
from .run import preflight_points, prepare, sweep
from .spec import MODELS_DIR, RANDOM_KINDS, Point, expand, load_spec, point_id
from .summary import LR_AXES, report, training_time
from .tables import collapsed_table, pivot_table, seeds_table, stability_table, summary_table

__all__ = [
    "main", "run_point",
    "COLLAPSE_MARGIN", "CONFIG_COLUMNS", "ENDED", "NEAR_CHANCE", "Outcome", "collect", "load", "point_seconds",
    "read_status", "write_results",
    "preflight_points", "prepare", "sweep",
    "MODELS_DIR", "RANDOM_KINDS", "Point", "expand", "load_spec", "point_id",
    "LR_AXES", "report", "training_time",
    "collapsed_table", "pivot_table", "seeds_table", "stability_table", "summary_table",
]
