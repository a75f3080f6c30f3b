"""Sequence tasks as arrays: input currents, targets and the steps that count.

A `SequenceTask` is what a trial of a recurrent network needs, generated
offline from a seed (nothing is downloaded): ``inputs`` (trials x steps x
channels), ``targets`` (trials x steps x outputs), ``mask`` (trials x
steps: where the loss counts, and with what weight) and ``labels`` (one per
trial, or None).  Generators:

- `delayed_xor`: Huh & Sejnowski's (2018) delayed-memory XOR;
- `memory`: the XOR task's memory alone (hold one pulse's sign over a gap);
- `encoding`: their spike-based encoding ("predictive coding") task, the
  network's readout reproducing its input signals.
"""

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class SequenceTask:
    name: str
    inputs: np.ndarray
    targets: np.ndarray
    mask: np.ndarray
    labels: np.ndarray | None
    dt: float
    description: str

    @property
    def steps(self):
        return self.inputs.shape[1]


def _check_trials(n_trials):
    if not isinstance(n_trials, (int, np.integer)) or n_trials < 1:
        raise ValueError(f"n_trials must be a positive integer, got {n_trials!r}")


def _steps(t, dt, what):
    n = int(round(t / dt))
    if n < 1 or abs(n * dt - t) > 1e-9:
        raise ValueError(f"{what} = {t} s is not a whole number of steps of {dt} s")
    return n


def delayed_xor(n_trials, seed, dt=1e-3, pulse=0.05, first=0.1, delay=0.3, go_delay=0.3, response=0.15,
                amplitude=1.0):
    """The delayed-memory XOR task of Huh & Sejnowski (2018, NeurIPS 31,
    Fig. 3): two input pulses, each positive or negative, separated by a
    delay, and later a go cue; after the cue the readout must give +1 when
    the two pulses had different signs and -1 when they had the same.  The
    pulses' signs are drawn at random (``seed``); the loss counts the
    ``response`` window after the go cue only.

    Two input channels: the pulses (``+-amplitude`` for ``pulse`` seconds,
    at ``first`` and ``first + pulse + delay``) and the go cue
    (``amplitude``, ``pulse`` seconds, ``go_delay`` after the second pulse's
    end).  The paper describes the task and its time scale (about a second),
    not these numbers: they are ours.  ``labels``: 1 where the signs differ
    (the XOR of the two bits), else 0."""
    _check_trials(n_trials)
    for name, value in (("dt", dt), ("pulse", pulse), ("first", first), ("delay", delay),
                        ("go_delay", go_delay), ("response", response)):
        if not value > 0:
            raise ValueError(f"{name} must be positive, got {value!r}")
    n_pulse = _steps(pulse, dt, "pulse")
    t1 = _steps(first, dt, "first")
    t2 = t1 + n_pulse + _steps(delay, dt, "delay")
    t_go = t2 + n_pulse + _steps(go_delay, dt, "go_delay")
    t_resp = t_go + n_pulse
    steps = t_resp + _steps(response, dt, "response")
    rng = np.random.default_rng(seed)
    signs = rng.choice([-1.0, 1.0], size=(n_trials, 2))
    inputs = np.zeros((n_trials, steps, 2))
    inputs[:, t1:t1 + n_pulse, 0] = amplitude * signs[:, :1]
    inputs[:, t2:t2 + n_pulse, 0] = amplitude * signs[:, 1:]
    inputs[:, t_go:t_go + n_pulse, 1] = amplitude
    labels = (signs[:, 0] != signs[:, 1]).astype(int)
    targets = np.zeros((n_trials, steps, 1))
    targets[:, t_resp:, 0] = np.where(labels == 1, 1.0, -1.0)[:, None]
    mask = np.zeros((n_trials, steps))
    mask[:, t_resp:] = 1.0
    return SequenceTask("xor", inputs, targets, mask, labels, dt,
                        f"delayed-memory XOR: pulses of {pulse * 1e3:g} ms at {t1 * dt * 1e3:g} and "
                        f"{t2 * dt * 1e3:g} ms, go cue at {t_go * dt * 1e3:g} ms, response "
                        f"{t_resp * dt * 1e3:g}-{steps * dt * 1e3:g} ms")


def memory(n_trials, seed, dt=1e-3, pulse=0.05, first=0.1, gap=0.05, response=0.05, amplitude=1.0):
    """A control for the XOR task's memory alone: one input pulse, positive
    or negative (``pulse`` seconds at ``first``); ``gap`` seconds after its
    end the readout must hold its sign (+1 or -1) for ``response``
    seconds.  With ``gap`` 0 the sign is still in the synaptic output; a
    longer gap needs the network to keep it.  ``labels``: 1 for a positive
    pulse."""
    _check_trials(n_trials)
    for name, value in (("dt", dt), ("pulse", pulse), ("first", first), ("response", response)):
        if not value > 0:
            raise ValueError(f"{name} must be positive, got {value!r}")
    if not gap >= 0:
        raise ValueError(f"gap must be 0 or positive, got {gap!r}")
    n_pulse = _steps(pulse, dt, "pulse")
    t1 = _steps(first, dt, "first")
    t_resp = t1 + n_pulse + (_steps(gap, dt, "gap") if gap > 0 else 0)
    steps = t_resp + _steps(response, dt, "response")
    rng = np.random.default_rng(seed)
    signs = rng.choice([-1.0, 1.0], size=n_trials)
    inputs = np.zeros((n_trials, steps, 1))
    inputs[:, t1:t1 + n_pulse, 0] = amplitude * signs[:, None]
    targets = np.zeros((n_trials, steps, 1))
    targets[:, t_resp:, 0] = signs[:, None]
    mask = np.zeros((n_trials, steps))
    mask[:, t_resp:] = 1.0
    return SequenceTask("memory", inputs, targets, mask, (signs > 0).astype(int), dt,
                        f"memory: a pulse of {pulse * 1e3:g} ms at {t1 * dt * 1e3:g} ms, its sign held from "
                        f"{t_resp * dt * 1e3:g} to {steps * dt * 1e3:g} ms")


def xor_accuracy(o, task):
    """(For the xor and memory tasks.)  The fraction of trials whose mean
    readout over the response window has the sign of the target."""
    o = np.asarray(o)[..., 0]
    mean = (o * task.mask).sum(axis=1) / task.mask.sum(axis=1)
    return float(np.mean((mean > 0).astype(int) == task.labels))


def encoding(n_trials, seed, channels=2, dt=1e-3, duration=0.5, tau=0.05, amplitude=1.0, settle=0.05):
    """Huh & Sejnowski's encoding task (2018, the "predictive coding" task of
    their Fig. 2): the readouts must reproduce the network's input signals,
    ``o(t) = i(t)``, which a small network can do only through precisely
    timed spikes.  The signals are white noise low-pass filtered with time
    constant ``tau`` and scaled to standard deviation ``amplitude`` (ours);
    the loss counts from ``settle`` on."""
    _check_trials(n_trials)
    if not (isinstance(channels, (int, np.integer)) and channels >= 1):
        raise ValueError(f"channels must be a positive integer, got {channels!r}")
    steps = _steps(duration, dt, "duration")
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n_trials, steps + int(5 * tau / dt), channels))
    a = np.exp(-dt / tau)
    y = np.zeros_like(x)
    for k in range(1, x.shape[1]):
        y[:, k] = a * y[:, k - 1] + x[:, k]
    y = y[:, -steps:]
    y *= amplitude / y.std()
    mask = np.zeros((n_trials, steps))
    mask[:, _steps(settle, dt, "settle"):] = 1.0
    return SequenceTask("encoding", y, y.copy(), mask, None, dt,
                        f"encoding: {channels} signals (low-pass noise, tau {tau * 1e3:g} ms), "
                        f"{duration * 1e3:g} ms trials")


TASKS = {"xor": delayed_xor, "memory": memory, "encoding": encoding}

__all__ = ["SequenceTask", "TASKS", "delayed_xor", "encoding", "memory", "xor_accuracy"]
