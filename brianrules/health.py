"""Is an epoch's network still doing anything?  Collapse conditions.

An accuracy says how often the most active output neuron was the label.
It does not say whether the network still works: when every output falls
silent, each sample counts as wrong and the accuracy drops below chance;
when hidden layers fire near their maximum rate, or not at all, they carry
no information about the input and the accuracy is that of a guess.  Such an
epoch is reported as collapsed, with the conditions that hold, so that no
below-chance number passes for a result (and a study counts the run as
collapsed instead of averaging its accuracy).

The conditions, each a label of `diagnose`:

- ``silent_output``: at least `SILENT_OUTPUT_FRACTION` of the test samples
  drew no output spike at all;
- ``saturated_hidden_K``: hidden layer K fired, on average over the epoch,
  above `SATURATED_FRACTION` of the largest rate its neurons can reach,
  ``1 / (t_ref + dt)`` (a spike, the refractory period, then at least one
  step to cross threshold again);
- ``silent_hidden_K``: hidden layer K fired below `SILENT_HIDDEN_HZ` on
  average: it passes (almost) nothing up;
- ``below_chance``: the test accuracy lies below 1 / (number of classes)
  while no condition above explains it.
"""

from dataclasses import dataclass

import numpy as np

#: a run's outputs are silent when at least this share of test samples has no output spike
SILENT_OUTPUT_FRACTION = 0.5
#: a hidden layer is saturated above this share of its neurons' largest rate
#: (300 Hz at t_ref 2 ms and dt 0.5 ms: dfa's two hidden layers that ran
#: away to 267 Hz at the default hidden learning rate still reached 84% on
#: digits, so a high rate alone is not a collapse)
SATURATED_FRACTION = 0.75
#: a hidden layer is silent below this mean rate (Hz)
SILENT_HIDDEN_HZ = 1.0

#: the labels `diagnose` gives (K: a hidden layer's number from 1)
COLLAPSE_LABELS = ("silent_output", "saturated_hidden_K", "silent_hidden_K", "below_chance")


def max_rate_hz(t_ref_s, dt_s):
    """The largest rate a neuron with refractory period ``t_ref_s`` can fire
    at on a grid of ``dt_s`` (both in seconds)."""
    return 1.0 / (t_ref_s + dt_s)


def silent_fraction(counts):
    """Share of samples (rows of ``counts``, samples x outputs) without any output spike."""
    counts = np.asarray(counts)
    return float(np.mean(counts.sum(axis=1) == 0)) if len(counts) else 0.0


@dataclass(frozen=True)
class Diagnosis:
    """The collapse conditions that hold for an epoch (`diagnose`):
    ``labels`` (see the module's docstring), the same in words
    (``clauses``), and ``silent_frac``, the share of test samples without
    an output spike."""

    labels: tuple
    clauses: tuple
    silent_frac: float

    @property
    def column(self):
        """The labels as metrics.csv holds them: joined by "+", empty for a working network."""
        return "+".join(self.labels)

    @property
    def text(self):
        """The clauses as the epoch line of the log gives them."""
        return "; ".join(self.clauses)


def diagnose(test_counts, test_acc, hidden_rates, n_classes, t_ref_s, dt_s):
    """The collapse conditions (see the module's docstring) that hold for an
    epoch with output spike counts ``test_counts`` (test samples x
    outputs), test accuracy ``test_acc`` and mean ``hidden_rates`` (Hz);
    no label for a working network."""
    labels, clauses = [], []
    silent = silent_fraction(test_counts)
    if silent >= SILENT_OUTPUT_FRACTION:
        labels.append("silent_output")
        clauses.append(f"outputs silent on {100 * silent:.0f}% of test samples")
    t_refs = t_ref_s if isinstance(t_ref_s, (list, tuple)) else [t_ref_s] * len(hidden_rates)
    for k, (rate, t_ref) in enumerate(zip(hidden_rates, t_refs), 1):
        top = max_rate_hz(t_ref, dt_s)
        state = "saturated" if rate > SATURATED_FRACTION * top else "silent" if rate < SILENT_HIDDEN_HZ else None
        if state:
            labels.append(f"{state}_hidden_{k}")
            clauses.append(f"hidden layer {k} {state} ({rate:.1f} Hz, max {top:.0f} Hz)")
    if not labels and test_acc < 1.0 / n_classes:
        labels.append("below_chance")
        clauses.append("test accuracy below chance")
    return Diagnosis(tuple(labels), tuple(clauses), silent)
