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
"""

import contextlib
import csv
import fcntl
import hashlib
import itertools
import json
import math
import os
import signal
import subprocess
import sys
import threading
import time
from dataclasses import asdict, dataclass, fields

import numpy as np

from .plots import (as_number, axis_values, mean_sd, sort_key, stable_finals, sweep_curves, sweep_final_vs_axis,
                    sweep_heatmap, sweep_metric_vs_axis)
from .files import atomic_write, write_json
from .metrics import COLLAPSE_COLUMN, METRIC_COLUMNS, columns_of, layer_columns_in
from .training import TrainConfig, load_model_file, override, read_toml

#: where a spec's ``model = "NAME"`` is looked for after the spec's own folder
MODELS_DIR = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "models")

ENDED = ("done", "diverged", "failed")
RANDOM_KINDS = ("uniform", "log_uniform", "int_uniform")


@dataclass
class Point:
    id: str
    settings: dict  # TrainConfig keys and values
    axes: dict  # axis name -> value as shown in tables (a label for table axes)


# -- the spec ------------------------------------------------------------
def load_spec(path):
    """Read and check a sweep spec; returns (spec dict, list of Points)."""
    spec = read_toml(path, "sweep spec")
    unknown = set(spec) - {"base", "grid", "random", "name", "description"}
    if unknown:
        raise ValueError(f"{path}: unknown section or key '{sorted(unknown)[0]}' "
                         "(known: name, description, [base], [grid], [random])")
    return spec, expand(spec, os.path.dirname(os.path.abspath(path)), source=path)


def _model_path(name, here):
    for folder in (here, MODELS_DIR):
        candidate = os.path.join(folder, name)
        if os.path.isfile(candidate):
            return candidate
    raise ValueError(f"base model '{name}' found neither next to the spec nor in {MODELS_DIR}")


def _label(value):
    if isinstance(value, list):
        return "-".join(str(v) for v in value)
    return value


def _grid_axis(name, values, source):
    """[(settings, shown value)] of one grid axis."""
    if not isinstance(values, list) or not values:
        raise ValueError(f"{source}: grid axis '{name}' must be a non-empty list of values")
    out = []
    for v in values:
        if isinstance(v, dict):
            v = dict(v)
            label = v.pop("label", None) or ",".join(f"{k}={_label(x)}" for k, x in sorted(v.items()))
            if not v:
                raise ValueError(f"{source}: a value of grid axis '{name}' sets no key")
            out.append((v, label))
        else:
            out.append(({name: v}, _label(v)))
    return out


def _random_axis(name, how, source):
    """A function rng -> value for one random axis."""
    if isinstance(how, list) and how:
        return lambda rng: how[int(rng.integers(len(how)))]
    if isinstance(how, dict) and len(how) == 1:
        kind, bounds = next(iter(how.items()))
        ok = (isinstance(bounds, list) and len(bounds) == 2
              and all(isinstance(b, (int, float)) and not isinstance(b, bool) for b in bounds)
              and bounds[0] < bounds[1])
        if kind in RANDOM_KINDS and ok:
            lo, hi = bounds
            if kind == "uniform":
                return lambda rng: float(rng.uniform(lo, hi))
            if kind == "int_uniform":
                return lambda rng: int(rng.integers(int(lo), int(hi) + 1))
            if lo > 0:
                return lambda rng: float(math.exp(rng.uniform(math.log(lo), math.log(hi))))
    raise ValueError(f"{source}: random axis '{name}' must be a list to choose from or one of "
                     f"{{ {' | '.join(k + ' = [lo, hi]' for k in RANDOM_KINDS)} }} with lo < hi "
                     f"(lo > 0 for log_uniform), got {how!r}")


def expand(spec, here=".", source="sweep spec"):
    """The points of a spec, each checked as a `TrainConfig`."""
    base = dict(spec.get("base", {}))
    if not isinstance(base, dict):
        raise ValueError(f"{source}: [base] must be a table of settings")
    if "model" in base:
        model = base.pop("model")
        base = override(load_model_file(_model_path(model, here)), base)
    grid = spec.get("grid", {})
    axes = [(name, _grid_axis(name, values, source)) for name, values in grid.items()]
    random = dict(spec.get("random", {}))
    samples = [({}, {})]
    if random:
        n, seed = random.pop("n", None), random.pop("seed", 0)
        if not isinstance(n, int) or isinstance(n, bool) or n < 1:
            raise ValueError(f"{source}: [random] needs n, a positive number of samples, got {n!r}")
        draws = {name: _random_axis(name, how, source) for name, how in random.items()}
        if not draws:
            raise ValueError(f"{source}: [random] names no axis")
        rng = np.random.default_rng(seed)
        samples = []
        for _ in range(n):
            values = {name: draw(rng) for name, draw in draws.items()}
            samples.append((values, {k: _label(v) for k, v in values.items()}))
    points, seen = [], set()
    for combo in itertools.product(*[values for _, values in axes]):
        for rand_settings, rand_shown in samples:
            settings = dict(base)
            shown = {}
            for (name, _), (values, label) in zip(axes, combo):
                settings = override(settings, values)
                shown[name] = label
            settings = override(settings, rand_settings)
            shown.update(rand_shown)
            where = f"{source}, point {shown}" if shown else source
            cfg = TrainConfig.from_dict(settings, source=where)
            try:
                cfg.validate()
            except ValueError as e:
                raise ValueError(f"{where}: {e}") from None
            full = asdict(cfg)
            pid = point_id(full)
            if pid in seen:
                continue  # two axis values gave the same settings
            seen.add(pid)
            points.append(Point(pid, full, shown))
    if not points:
        raise ValueError(f"{source}: the sweep has no points")
    return points


def point_id(settings):
    """A hash of the settings that differ from `TrainConfig`'s defaults, so
    that a setting added to the package later keeps every point's id."""
    defaults = asdict(TrainConfig())
    given = {k: v for k, v in settings.items() if k not in defaults or v != defaults[k]}
    text = json.dumps(given, sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:12]


def preflight_points(points, log=print):
    """Build every distinct model structure once in runtime mode (Brian2
    checks the equations) before anything is compiled or run."""
    from . import data as datamod
    from .devices import preflight
    from .network import structure_hash

    shapes, checked = {}, set()
    for p in points:
        cfg = TrainConfig(**p.settings)
        if cfg.dataset not in shapes:
            ds = datamod.load(cfg.dataset)
            shapes[cfg.dataset] = (ds.n_inputs, ds.n_classes)
        spec = cfg.network_spec(*shapes[cfg.dataset])
        key = structure_hash(spec, 1)
        if key in checked:
            continue
        try:
            preflight(spec)
        except ValueError as e:
            raise ValueError(f"point {p.id} {p.axes}: {e}") from None
        checked.add(key)
    log(f"{len(points)} points, {len(checked)} model structure(s)")
    return len(checked)


# -- one point -----------------------------------------------------------
def read_status(point_dir):
    try:
        with open(os.path.join(point_dir, "status.json")) as f:
            return json.load(f)
    except (OSError, ValueError):
        return None


def run_point(point_dir, cuda_arch=None):
    """Run one point in a child process and return its status.  This is the
    task a local worker or a Dask worker executes; the child writes
    ``status.json`` itself, and a child that dies without one (a crash, a
    kill) is recorded as failed with its exit code."""
    cmd = [sys.executable, "-m", "brianrules.study", point_dir]
    if cuda_arch:
        cmd += ["--cuda-arch", str(cuda_arch)]
    t0 = time.perf_counter()
    with open(os.path.join(point_dir, "log.txt"), "a") as log:
        proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        _CHILDREN.add(proc)
        try:
            code = proc.wait()
        finally:
            _CHILDREN.discard(proc)
    status = read_status(point_dir)
    if status is None:
        if code < 0:
            why = f"the point's process was killed by signal {-code}"
        else:
            why = f"the point's process exited with code {code} without a status"
        status = {"status": "failed", "error": why, "wall_s": time.perf_counter() - t0}
        if code in (-signal.SIGINT, -signal.SIGTERM):
            status["status"] = "interrupted"  # not written: a rerun runs it again
        else:
            write_json(os.path.join(point_dir, "status.json"), status)
    return status


#: child processes of this process's running points (stopped on interrupt)
_CHILDREN = set()


def _point_main(point_dir, cuda_arch=None):
    """In the child: train one point, resuming its checkpoint if any."""
    from .program import BuildError
    from .training import TrainingError, train

    with open(os.path.join(point_dir, "point.json")) as f:
        point = json.load(f)
    cfg = TrainConfig(**point["settings"])
    out = os.path.join(point_dir, "run")
    resume = os.path.exists(os.path.join(out, "weights.npz"))
    t0 = time.perf_counter()
    status = {"status": "done", "error": None}
    try:
        train(cfg, out, force=not resume, resume=resume, progress=False,
              log=lambda *x: print(*x, flush=True), cuda_arch=cuda_arch)
    except TrainingError as e:
        status = {"status": "diverged", "error": str(e)}
    except (BuildError, ValueError, RuntimeError, OSError) as e:
        status = {"status": "failed", "error": f"{type(e).__name__}: {' '.join(str(e).split())}"}
    status["wall_s"] = time.perf_counter() - t0
    write_json(os.path.join(point_dir, "status.json"), status)
    print(f"point {point['id']}: {status['status']}" + (f" ({status['error']})" if status["error"] else ""),
          flush=True)
    return 0 if status["status"] != "failed" else 1


# -- results -------------------------------------------------------------
CONFIG_COLUMNS = [f.name for f in fields(TrainConfig)]


def collect(out, points):
    """Rows of ``results.csv``: one per point and epoch (one row without
    metrics for a point that has none)."""
    axis_names = list(dict.fromkeys(k for p in points for k in p.axes))
    rows, metric_rows = [], []
    for p in points:
        folder = os.path.join(out, "points", p.id)
        status = read_status(folder) or {"status": "pending", "error": None}
        common = {"point": p.id, "status": status["status"], "error": status.get("error") or ""}
        common.update({f"axis_{k}": p.axes.get(k, "") for k in axis_names})
        common.update({k: json.dumps(v) if isinstance(v, (list, dict)) else ("" if v is None else v)
                       for k, v in p.settings.items()})
        metrics = []
        path = os.path.join(folder, "run", "metrics.csv")
        if os.path.exists(path):
            with open(path) as f:
                metrics = list(csv.DictReader(f))
        if not metrics:
            rows.append({**common, **{k: "" for k in METRIC_COLUMNS}})
        for m in metrics:
            rows.append({**common, **m})
        metric_rows.extend(metrics)
    # per-layer columns (metrics.layer_columns) are blank for points with fewer layers
    columns = ["point", "status", "error", *[f"axis_{k}" for k in axis_names], *CONFIG_COLUMNS,
               *columns_of(metric_rows)]
    return columns, rows


def write_results(out, points):
    columns, rows = collect(out, points)

    def w(tmp):
        with open(tmp, "w", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=columns, restval="")
            writer.writeheader()
            writer.writerows(rows)

    atomic_write(os.path.join(out, "results.csv"), w)
    return rows


# -- the sweep -----------------------------------------------------------
def prepare(spec_path, out):
    """Load the spec, check every point, and lay out ``out``; nothing is
    compiled yet.  A folder that holds another spec's sweep is refused."""
    spec, points = load_spec(spec_path)
    if os.path.exists(out) and not os.path.isdir(out):
        raise ValueError(f"--out {out} is a file, not a folder")
    record = os.path.join(out, "sweep.json")
    if os.path.exists(record):
        with open(record) as f:
            old = json.load(f)
        if old.get("spec") != spec:
            raise ValueError(f"--out {out} holds a sweep of another spec ({old.get('spec_path')}); "
                             "choose another folder")
    elif os.path.isdir(out) and os.listdir(out):
        raise ValueError(f"--out {out} is not empty and holds no sweep")
    return spec, points


def sweep(spec_path, out, jobs=1, executor="local", scheduler=None, retry_failed=False, cuda_arch=None,
          log=print):
    """Run every point of the spec that has not ended; returns the rows of
    ``results.csv``."""
    if not isinstance(jobs, int) or jobs < 1:
        raise ValueError(f"--jobs must be a positive integer, got {jobs!r}")
    if executor not in ("local", "dask"):
        raise ValueError(f"unknown executor '{executor}' (choose from local, dask)")
    if executor == "dask" and not scheduler:
        raise ValueError("--executor dask needs --scheduler ADDRESS (e.g. tcp://10.0.0.1:8786)")
    spec, points = prepare(spec_path, out)
    if executor == "local":  # a Dask cluster's workers may have what this machine lacks
        from .devices import check_runnable

        for device in sorted({TrainConfig(**p.settings).device for p in points}):
            check_runnable(device, cuda_arch)
    preflight_points(points, log=log)
    os.makedirs(os.path.join(out, "points"), exist_ok=True)
    with _only_sweep(out), _interrupts_raise():
        return _sweep(spec_path, spec, points, out, jobs, executor, scheduler, retry_failed, cuda_arch, log)


@contextlib.contextmanager
def _only_sweep(out):
    """One sweep process per folder: a second would run the same points."""
    lock = open(os.path.join(out, ".sweep.lock"), "a")
    try:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            raise ValueError(f"another `brianrules sweep` is running in {out}; wait for it or stop it") from None
        yield
    finally:
        lock.close()


@contextlib.contextmanager
def _interrupts_raise():
    """SIGINT and SIGTERM stop the sweep cleanly (its points' processes
    too).  Brian2 replaces Python's SIGINT handler when imported, and a
    process started in the background may ignore SIGINT altogether."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def stop(signum, frame):
        raise KeyboardInterrupt

    saved = {sig: signal.signal(sig, stop) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for sig, handler in saved.items():
            signal.signal(sig, handler)


def _sweep(spec_path, spec, points, out, jobs, executor, scheduler, retry_failed, cuda_arch, log):
    write_json(os.path.join(out, "sweep.json"), {"spec": spec, "spec_path": os.path.abspath(spec_path),
                                                 "points": [asdict(p) for p in points]})
    todo = []
    for p in points:
        folder = os.path.join(out, "points", p.id)
        os.makedirs(folder, exist_ok=True)
        if not os.path.exists(os.path.join(folder, "point.json")):
            write_json(os.path.join(folder, "point.json"), asdict(p))
        status = read_status(folder)
        if status is None or (retry_failed and status["status"] == "failed"):
            if status is not None:
                os.remove(os.path.join(folder, "status.json"))
            todo.append(p)
    ended = len(points) - len(todo)
    log(f"sweep {out}: {len(points)} points, {ended} ended before, {len(todo)} to run "
        f"({jobs if executor == 'local' else 'Dask'} at a time)")
    write_results(out, points)
    if todo:
        progress = _Progress(len(todo), jobs, log)
        runner = _run_local if executor == "local" else _run_dask
        try:
            runner(todo, out, jobs, scheduler, cuda_arch, progress,
                   lambda: write_results(out, points))
        except KeyboardInterrupt:
            _stop_children()
            write_results(out, points)
            log(f"interrupted: finished points are kept in {out}; run the same command to finish the rest")
            raise
    rows = write_results(out, points)
    counts = {}
    for p in points:
        s = (read_status(os.path.join(out, "points", p.id)) or {}).get("status", "pending")
        counts[s] = counts.get(s, 0) + 1
    log(f"results in {out}/results.csv: " + ", ".join(f"{v} {k}" for k, v in sorted(counts.items())))
    return rows


class _Progress:
    def __init__(self, total, jobs, log):
        self.total, self.jobs, self.log = total, jobs, log
        self.done = self.failed = self.running = 0
        self.t0 = time.perf_counter()
        self.lock = threading.Lock()

    def started(self):
        with self.lock:
            self.running += 1

    def ended(self, point, status):
        with self.lock:
            self.running -= 1
            self.done += 1
            self.failed += status["status"] != "done"
            left = self.total - self.done - self.running
            elapsed = time.perf_counter() - self.t0
            # points end at about done/elapsed per second once the pipeline is full
            eta = elapsed / self.done * (left + self.running / 2)
            extra = f" [{status['error']}]" if status.get("error") else ""
            self.log(f"[{self.done}/{self.total} ended ({self.failed} not done), {self.running} running, "
                     f"{left} left, ~{_duration(eta)} to go] {point.id} {point.axes}: {status['status']}{extra}")


def _duration(s):
    s = int(round(s))
    return f"{s // 3600}h{s % 3600 // 60:02d}m" if s >= 3600 else f"{s // 60}m{s % 60:02d}s"


def _run_local(todo, out, jobs, scheduler, cuda_arch, progress, update):
    from concurrent.futures import ThreadPoolExecutor, as_completed

    def task(p):
        progress.started()
        return run_point(os.path.join(out, "points", p.id), cuda_arch)

    with ThreadPoolExecutor(max_workers=jobs) as pool:
        futures = {}
        try:
            futures = {pool.submit(task, p): p for p in todo}
            for fut in as_completed(futures):
                status = fut.result()
                progress.ended(futures[fut], status)
                update()
        except KeyboardInterrupt:
            for fut in futures:
                fut.cancel()
            _stop_children()  # the pool waits for its threads, which wait for these
            raise


def _run_dask(todo, out, jobs, scheduler, cuda_arch, progress, update):
    """Points as tasks of a Dask distributed cluster.  Workers need this
    package and a file system shared with this machine at ``out``; each
    builds or reuses the compiled program of a structure in its own cache."""
    try:
        from distributed import Client, as_completed
    except ImportError:
        raise ValueError("--executor dask needs Dask distributed: pip install 'brianrules[dask]'") from None
    folder = os.path.abspath(os.path.join(out, "points"))
    with Client(scheduler, timeout="30s") as client:
        futures = {}
        for p in todo:
            fut = client.submit(run_point, os.path.join(folder, p.id), cuda_arch, pure=False,
                                key=f"brianrules-point-{p.id}-{time.time_ns()}")
            futures[fut] = p
            progress.started()
        try:
            for fut in as_completed(futures):
                p = futures[fut]
                try:
                    status = fut.result()
                except Exception as e:  # the worker itself failed
                    status = {"status": "failed", "error": f"Dask worker: {type(e).__name__}: {e}"}
                    write_json(os.path.join(folder, p.id, "status.json"), status)
                progress.ended(p, status)
                update()
        except KeyboardInterrupt:
            client.cancel(list(futures))
            raise


def _stop_children():
    for proc in list(_CHILDREN):
        try:
            os.killpg(proc.pid, signal.SIGTERM)
        except OSError:
            pass
    for proc in list(_CHILDREN):
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)

#: a finished point whose final test accuracy lies within this of chance has collapsed
COLLAPSE_MARGIN = 0.05
#: the study's own label of a point collapsed by `COLLAPSE_MARGIN` alone
NEAR_CHANCE = "near_chance"
#: axes along which stability is reported by default, in order of preference
LR_AXES = ("lr_scale", "lr_hidden", "lr")


# -- reports: tables and figures of results.csv (`brianrules plot DIR`) --
@dataclass
class Outcome:
    point: str
    axes: dict
    status: str  # stable, collapsed, diverged, failed, pending
    final: float  # final value of the metric (NaN if none)
    curve: list  # (epoch, metric) pairs
    #: why a collapsed point collapsed: the final epoch's ``collapse`` labels
    #: ("silent_output+saturated_hidden_1"), or `NEAR_CHANCE`; "" otherwise
    collapse: str = ""


def load(folder, metric="test_acc"):
    """Outcomes of every point of the sweep in ``folder``, and the axis names."""
    path = os.path.join(folder, "results.csv")
    if not os.path.isfile(path):
        raise ValueError(f"{folder} holds no results.csv (run `brianrules sweep SPEC --out {folder}` first)")
    with open(path) as f:
        rows = list(csv.DictReader(f))
    if not rows:
        raise ValueError(f"{path} holds no points")
    if metric not in rows[0]:
        raise ValueError(f"unknown metric '{metric}' (choose from train_acc, test_acc, hidden_rate_hz, "
                         "output_rate_hz, max_abs_w, samples_per_s, or a per-layer column: "
                         f"{', '.join(sum(layer_columns_in(rows[0]), [])) or 'none here'})")
    if metric == COLLAPSE_COLUMN:
        raise ValueError(f"'{COLLAPSE_COLUMN}' holds the labels of collapsed epochs, not a number; "
                         "summary.md counts and lists the collapsed runs")
    axes = [c[len("axis_"):] for c in rows[0] if c.startswith("axis_")]
    by_point = {}
    for r in rows:
        by_point.setdefault(r["point"], []).append(r)
    outcomes = []
    for pid, prs in by_point.items():
        curve = sorted((int(r["epoch"]), as_number(r[metric])) for r in prs if r["epoch"] not in ("", None))
        status = prs[0]["status"]
        final = curve[-1][1] if curve else math.nan
        why = ""
        if status == "done":
            status, why = _final_state(max(prs, key=lambda r: int(r["epoch"] or 0)), _n_classes(folder, pid))
        outcomes.append(Outcome(pid, {a: prs[0][f"axis_{a}"] for a in axes}, status, final, curve, why))
    return outcomes, axes


def _final_state(last, n_classes):
    """(status, collapse) of a finished point from its last epoch's row: the
    training's own diagnosis (any non-empty ``collapse`` text) first, then
    the study's: a final test accuracy within `COLLAPSE_MARGIN` of chance."""
    labels = (last.get(COLLAPSE_COLUMN) or "").strip()
    if labels:
        return "collapsed", labels
    if not as_number(last["test_acc"]) > 1.0 / n_classes + COLLAPSE_MARGIN:
        return "collapsed", NEAR_CHANCE
    return "stable", ""


def _chance(folder, outcomes):
    """1 / number of classes, if every point has the same number; else None."""
    classes = {_n_classes(folder, o.point) for o in outcomes}
    return 1.0 / classes.pop() if len(classes) == 1 else None


def _n_classes(folder, pid):
    try:
        with open(os.path.join(folder, "points", pid, "run", "config.json")) as f:
            return int(json.load(f)["network"]["n_out"])
    except (OSError, ValueError, KeyError):
        return 10


def _pct(x, metric):
    if not math.isfinite(x):
        return "–"
    return f"{100 * x:.1f}" if metric.endswith("_acc") else f"{x:.3g}"


def summary_table(outcomes, axes, metric="test_acc", seed_axis="seed"):
    """Markdown: one row per condition (all axes but the seed): the number
    of runs, the mean ± sd and range of the final metric over the stable
    runs, and the number of runs that diverged and that collapsed (those
    are counted, not averaged in)."""
    conds = [a for a in axes if a != seed_axis]
    groups = {}
    for o in outcomes:
        groups.setdefault(tuple(o.axes[a] for a in conds), []).append(o)
    unit = " (%)" if metric.endswith("_acc") else ""
    head = [*conds, "runs", f"final {metric}{unit} mean ± sd", "min – max", "diverged", "collapsed"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for key in sorted(groups, key=lambda k: [sort_key(v) for v in k]):
        g = groups[key]
        done = stable_finals(g)
        m, sd = mean_sd(done)
        finite = [x for x in done if math.isfinite(x)]
        rng = f"{_pct(min(finite), metric)} – {_pct(max(finite), metric)}" if finite else "–"
        ms = f"{_pct(m, metric)} ± {_pct(sd, metric)}" if math.isfinite(m) else "–"
        extra = sum(o.status in ("failed", "pending") for o in g)
        runs = f"{len(g)}" + (f" ({extra} failed/pending)" if extra else "")
        lines.append("| " + " | ".join([*key, runs, ms, rng, str(sum(o.status == "diverged" for o in g)),
                                         str(sum(o.status == "collapsed" for o in g))]) + " |")
    return "\n".join(lines)


def pivot_table(outcomes, axes, column, seed_axis="seed", metric="test_acc"):
    """Markdown: conditions as rows, the values of ``column`` as columns;
    each cell the mean ± sd over seeds of the runs that finished, with the
    number of unstable runs (diverged D, collapsed C) out of all."""
    conds = [a for a in axes if a not in (seed_axis, column)]
    cols = axis_values(outcomes, column)
    groups = {}
    for o in outcomes:
        groups.setdefault(tuple(o.axes[a] for a in conds), []).append(o)
    head = [*conds, *[f"{column} = {v}" for v in cols]]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for key in sorted(groups, key=lambda k: [sort_key(v) for v in k]):
        cells = []
        for v in cols:
            at = [o for o in groups[key] if o.axes[column] == v]
            m, sd = mean_sd(stable_finals(at))
            text = f"{_pct(m, metric)} ± {_pct(sd, metric)}" if math.isfinite(m) else "–"
            d = sum(o.status == "diverged" for o in at)
            c = sum(o.status == "collapsed" for o in at)
            marks = " ".join(x for x in (f"{d}D" if d else "", f"{c}C" if c else "") if x)
            cells.append(text + (f" ({marks} of {len(at)})" if marks else ""))
        lines.append("| " + " | ".join([*key, *cells]) + " |")
    return "\n".join(lines)


def stability_table(outcomes, axes, axis, seed_axis="seed", metric="test_acc"):
    """Markdown: per condition without ``axis``, the share of unstable runs
    (diverged or collapsed) and the number of each, the largest value of
    ``axis`` at which every run is stable, and the value with the best mean
    final metric of the stable runs."""
    conds = [a for a in axes if a not in (seed_axis, axis)]
    groups = {}
    for o in outcomes:
        groups.setdefault(tuple(o.axes[a] for a in conds), []).append(o)
    head = [*conds, "unstable runs", "diverged", "collapsed", f"largest stable {axis}",
            f"best {axis} (mean {metric})"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for key in sorted(groups, key=lambda k: [sort_key(v) for v in k]):
        g = groups[key]
        ended = [o for o in g if o.status in ("stable", "collapsed", "diverged")]
        unstable = sum(o.status in ("diverged", "collapsed") for o in ended)
        stable_values, best, best_mean = [], "–", -math.inf
        for v in axis_values(g, axis):
            at = [o for o in g if o.axes[axis] == v]
            if at and all(o.status == "stable" for o in at):
                stable_values.append(v)
            m, _ = mean_sd(stable_finals(at))
            if math.isfinite(m) and m > best_mean:
                best, best_mean = v, m
        largest = max(stable_values, key=sort_key) if stable_values else "none"
        share = f"{unstable}/{len(ended)} ({100 * unstable / len(ended):.0f}%)" if ended else "–"
        lines.append("| " + " | ".join([*key, share, str(sum(o.status == "diverged" for o in g)),
                                         str(sum(o.status == "collapsed" for o in g)), str(largest),
                                         f"{best} ({_pct(best_mean, metric)})" if best != "–" else "–"]) + " |")
    return "\n".join(lines)


def collapsed_table(outcomes, axes, metric="test_acc"):
    """Markdown: one row per collapsed point, with its axes, its final
    metric and what collapsed (the training's labels, or `NEAR_CHANCE`);
    None if no point collapsed."""
    rows = sorted((o for o in outcomes if o.status == "collapsed"),
                  key=lambda o: [sort_key(o.axes[a]) for a in axes])
    if not rows:
        return None
    head = [*axes, "point", f"final {metric}", "collapse"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for o in rows:
        lines.append("| " + " | ".join([*(str(o.axes[a]) for a in axes), o.point, _pct(o.final, metric),
                                         o.collapse.replace("+", ", ")]) + " |")
    return "\n".join(lines)


# -- figures -------------------------------------------------------------
def report(folder, metric="test_acc", heatmap=None, curves=None, stability=None):
    """Write ``summary.md`` and figures into ``folder/plots``; returns the paths.

    ``heatmap``: two axes (default: the first two varied ones but the seed);
    ``curves``: the axis that groups learning curves; ``stability``: the axis
    along which stability is reported (default: a learning-rate axis).  A
    sweep that varies one axis besides the seed also gets the final metric
    against that axis (`plots.sweep_final_vs_axis`)."""
    heatmap_axes = heatmap
    outcomes, axes = load(folder, metric)
    varied = [a for a in axes if len(axis_values(outcomes, a)) > 1]
    for name in [*(heatmap_axes or []), curves, stability]:
        if name is not None and name not in axes:
            raise ValueError(f"unknown axis '{name}' (the sweep's axes: {', '.join(axes) or 'none'})")
    if stability is None:
        stability = next((a for a in LR_AXES if a in varied), None)
    out = os.path.join(folder, "plots")
    os.makedirs(out, exist_ok=True)
    written = []
    conds = [a for a in varied if a != "seed"]
    if heatmap_axes is None and len(conds) >= 2:
        heatmap_axes = conds[:2]
    if heatmap_axes:
        x, y = heatmap_axes
        path = os.path.join(out, f"heatmap_{metric}_{x}_{y}.png")
        sweep_heatmap(outcomes, x, y, path, metric)
        written.append(path)
    curves = curves or (conds[0] if conds else (axes[0] if axes else None))
    if curves:
        path = os.path.join(out, f"curves_{metric}_by_{curves}.png")
        sweep_curves(outcomes, curves, path, metric)
        written.append(path)
    if len(conds) == 1:  # one axis: the final metric against it
        path = os.path.join(out, f"{metric}_vs_{conds[0]}.png")
        sweep_final_vs_axis(outcomes, conds[0], path, metric, chance=_chance(folder, outcomes))
        written.append(path)
    if stability and curves and stability != curves:
        path = os.path.join(out, f"{metric}_vs_{stability}.png")
        if path not in written:
            sweep_metric_vs_axis(outcomes, axes, stability, curves, path, metric)
            written.append(path)
    counts = {s: sum(o.status == s for o in outcomes) for s in ("stable", "collapsed", "diverged", "failed", "pending")}
    text = [f"# Sweep summary: {os.path.basename(os.path.abspath(folder))}", "",
            f"{len(outcomes)} points: " + ", ".join(f"{v} {k}" for k, v in counts.items() if v) + ".",
            f"Final = last epoch. Collapsed: the training diagnosed its last epoch as collapsed (metrics.csv, "
            f"column `{COLLAPSE_COLUMN}`), or its final test accuracy lies within {100 * COLLAPSE_MARGIN:.0f} "
            "points of chance. Mean ± sd over seeds of the stable runs; collapsed and diverged runs are counted, "
            "not averaged in.", "",
            summary_table(outcomes, axes, metric)]
    if stability:
        text += ["", f"## Final {metric} against {stability}", "",
                 "Mean ± sd over seeds of the stable runs; (kD kC of n): runs that diverged or "
                 "collapsed.", "", pivot_table(outcomes, axes, stability, metric=metric)]
        text += ["", f"## Stability along {stability}", "",
                 f"Unstable: diverged or collapsed. Largest stable {stability}: the largest value at which "
                 "every run (every seed) finished stable (neither diverged nor collapsed).", "",
                 stability_table(outcomes, axes, stability, metric=metric)]
    collapsed = collapsed_table(outcomes, axes, metric)
    if collapsed:
        text += ["", "## Collapsed runs", "",
                 f"What collapsed in each run's last epoch ({NEAR_CHANCE}: no condition named by the training, "
                 f"final test accuracy within {100 * COLLAPSE_MARGIN:.0f} points of chance).", "", collapsed]
    text += ["", "Figures: " + ", ".join(os.path.relpath(p, folder) for p in written), ""]
    path = os.path.join(folder, "summary.md")
    with open(path + ".tmp", "w") as f:
        f.write("\n".join(text))
    os.replace(path + ".tmp", path)
    return [path, *written]


def main(argv=None):
    import argparse

    p = argparse.ArgumentParser(prog="python -m brianrules.study",
                                description="run one point of a sweep (used by `brianrules sweep`)")
    p.add_argument("point_dir")
    p.add_argument("--cuda-arch", default=None)
    a = p.parse_args(argv)
    return _point_main(a.point_dir, a.cuda_arch)


if __name__ == "__main__":
    sys.exit(main())
