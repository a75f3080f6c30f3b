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


def diagnose(test_counts, test_acc, hidden_rates, n_classes, t_ref_s, dt_s):
    """The collapse conditions (see the module's docstring) that hold for an
    epoch, as a list of labels; empty for a working network."""
    labels = []
    if silent_fraction(test_counts) >= SILENT_OUTPUT_FRACTION:
        labels.append("silent_output")
    top = max_rate_hz(t_ref_s, dt_s)
    for k, rate in enumerate(hidden_rates):
        if rate > SATURATED_FRACTION * top:
            labels.append(f"saturated_hidden_{k + 1}")
        elif rate < SILENT_HIDDEN_HZ:
            labels.append(f"silent_hidden_{k + 1}")
    if not labels and test_acc < 1.0 / n_classes:
        labels.append("below_chance")
    return labels


def describe(labels, test_counts, hidden_rates, t_ref_s, dt_s):
    """One clause per condition, for the epoch line of the log."""
    top = max_rate_hz(t_ref_s, dt_s)
    out = []
    for label in labels:
        if label == "silent_output":
            out.append(f"outputs silent on {100 * silent_fraction(test_counts):.0f}% of test samples")
        elif label.startswith(("saturated_hidden_", "silent_hidden_")):
            k = int(label.rsplit("_", 1)[1])
            state = "saturated" if label.startswith("saturated") else "silent"
            out.append(f"hidden layer {k} {state} ({hidden_rates[k - 1]:.1f} Hz, max {top:.0f} Hz)")
        elif label == "below_chance":
            out.append("test accuracy below chance")
    return "; ".join(out)
