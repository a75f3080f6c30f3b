"""A recurrent network of LIF and adaptive LIF neurons with leaky readouts, as e-prop defines it.

Bellec et al. (2020, Nat. Commun. 11:3625) train recurrent spiking networks
in discrete time (their Methods and the TensorFlow code of their tutorials;
NEST's ``eprop_iaf_bsshslm_2020``, ``eprop_iaf_adapt_bsshslm_2020`` and
``eprop_readout_bsshslm_2020`` reproduce it, ``../shared`` notes aside).
With ``alpha = exp(-dt/tau_m)``, ``rho = exp(-dt/tau_a)``, ``kappa =
exp(-dt/tau_out)`` and the input factor ``p = 1 - alpha`` (or 1, NEST's
``regular_spike_arrival``), one step ``k`` of a sequence is

    v_k = alpha v_(k-1) + p (x_k W_in + z_(k-1) W_rec) - v_th z_(k-1)
    a_k = rho a_(k-1) + z_(k-1)                 (adaptive neurons; A_k = v_th + beta a_k)
    psi_k = (gamma / v_th) max(0, 1 - |v_k - A_k| / v_th)   (0 while refractory)
    z_k = [v_k >= A_k] (not during the n_ref steps after a spike)
    y_k = kappa y_(k-1) + (1 - kappa) z_k W_out (the readouts; no spikes)

from a zero state at the start of every sequence.  A readout's error is
``y - y*`` (mean squared error) or ``softmax(y) - pi*`` (cross-entropy),
where the task's mask says it counts.  `EpropNetwork` declares such a
network; its weights are run values (`check_params`), never part of the
declaration.  Builders: `reference.recurrent` (NumPy, the oracle) and
`build.recurrent` (the Brian2 program).
"""

from dataclasses import dataclass

import numpy as np

from .run_values import check_run_values, finite_number as _number, positive_int as _positive_int

#: the run values of a network, each (pre, post)
PARAMS = ("W_in", "W_rec", "W_out", "B")
LOSSES = ("mse", "cross_entropy")
FEEDBACK = ("random", "symmetric")


@dataclass(frozen=True)
class EpropNetwork:
    """``n_in`` input channels (spikes, 0 or 1 per step), ``n_lif`` LIF and
    ``n_alif`` adaptive neurons in one recurrent population (LIF first),
    ``n_out`` readouts.  Inputs are spike counts per step.  Times in seconds; ``v_th`` in the units of the
    weights.  ``gamma``: the pseudo-derivative's height times ``v_th``
    (0.3, the paper's dampening factor); ``n_ref``: refractory steps;
    ``c_reg``/``f_target`` (Hz): the firing-rate regulariser;
    ``regular_spike_arrival``: the input factor ``p`` is 1 instead of
    ``1 - alpha`` (NEST's name; the readouts always take ``1 - kappa``)."""

    n_in: int
    n_lif: int
    n_alif: int = 0
    n_out: int = 1
    dt: float = 1e-3
    tau_m: float = 30e-3
    tau_a: float = 2.0
    beta: float = 0.0
    v_th: float = 0.03
    gamma: float = 0.3
    n_ref: int = 0
    tau_out: float = 30e-3
    regular_spike_arrival: bool = False
    loss: str = "mse"
    feedback: str = "random"
    c_reg: float = 300.0
    f_target: float = 10.0
    self_connections: bool = False

    def __post_init__(self):
        for key in ("n_in", "n_out"):
            if not _positive_int(getattr(self, key)):
                raise ValueError(f"e-prop network: {key} must be a positive integer, got {getattr(self, key)!r}")
        for key in ("n_lif", "n_alif"):
            value = getattr(self, key)
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 0:
                raise ValueError(f"e-prop network: {key} must be 0 or a positive integer, got {value!r}")
        if self.n_rec < 1:
            raise ValueError("e-prop network: the recurrent population is empty (n_lif + n_alif = 0)")
        if not (_number(self.dt) and 0 < self.dt < 1):
            raise ValueError(f"e-prop network: dt must be a time step in seconds (0 < dt < 1), got {self.dt!r}")
        for key in ("tau_m", "tau_a", "tau_out", "v_th", "gamma"):
            value = getattr(self, key)
            if not (_number(value) and value > 0):
                raise ValueError(f"e-prop network: {key} must be a positive number, got {value!r}")
        for key in ("beta", "c_reg", "f_target"):
            value = getattr(self, key)
            if not (_number(value) and value >= 0):
                raise ValueError(f"e-prop network: {key} must be 0 or a positive number, got {value!r}")
        if isinstance(self.n_ref, bool) or not isinstance(self.n_ref, (int, np.integer)) or self.n_ref < 0:
            raise ValueError(f"e-prop network: n_ref must be a number of steps (0 or more), got {self.n_ref!r}")
        if self.loss not in LOSSES:
            raise ValueError(f"e-prop network: unknown loss {self.loss!r} (losses: {', '.join(LOSSES)})")
        if self.feedback not in FEEDBACK:
            raise ValueError(f"e-prop network: unknown feedback {self.feedback!r} (feedback: {', '.join(FEEDBACK)})")
        if self.loss == "cross_entropy" and self.n_out < 2:
            raise ValueError("e-prop network: a cross-entropy readout needs at least 2 readouts")

    @property
    def n_rec(self):
        return self.n_lif + self.n_alif

    @property
    def alpha(self):
        return float(np.exp(-self.dt / self.tau_m))

    @property
    def rho(self):
        return float(np.exp(-self.dt / self.tau_a))

    @property
    def kappa(self):
        return float(np.exp(-self.dt / self.tau_out))

    @property
    def p_in(self):
        """The factor of the weighted input spikes in ``v``."""
        return 1.0 if self.regular_spike_arrival else 1.0 - self.alpha

    @property
    def betas(self):
        """Each recurrent neuron's adaptation strength (0 for the LIF ones)."""
        return np.r_[np.zeros(self.n_lif), np.full(self.n_alif, float(self.beta))]

    @property
    def shapes(self):
        return {"W_in": (self.n_in, self.n_rec), "W_rec": (self.n_rec, self.n_rec),
                "W_out": (self.n_rec, self.n_out), "B": (self.n_rec, self.n_out)}

    def check_params(self, params):
        """The run values as a dict of float64 arrays of the right shapes;
        an error names the first that is missing, misshapen or not finite.
        ``B`` may be left out with symmetric feedback (it is ``W_out``)."""
        return check_run_values(params, self.shapes, PARAMS, "an e-prop network",
                                skip=("B",) if self.feedback == "symmetric" else (),
                                no_diagonal=None if self.self_connections else "W_rec")

    def check_sequences(self, inputs, targets, mask):
        """Inputs (trials, steps, n_in), targets (trials, steps, n_out) and
        mask (trials, steps) as float64 arrays; inputs are spike counts per
        step (0 or 1, or more where binned events coincide)."""
        x = np.asarray(inputs, dtype=float)
        y = np.asarray(targets, dtype=float)
        m = np.asarray(mask, dtype=float)
        if x.ndim != 3 or x.shape[2] != self.n_in or x.shape[1] < 1 or x.shape[0] < 1:
            raise ValueError(f"inputs have shape {np.shape(inputs)}, expected (trials, steps, {self.n_in})")
        if not np.all((x >= 0) & (x == np.round(x))):
            raise ValueError("inputs must be spike counts: whole numbers of at least 0 in every step and channel")
        if y.shape != x.shape[:2] + (self.n_out,):
            raise ValueError(f"targets have shape {y.shape}, expected {x.shape[:2] + (self.n_out,)}")
        if m.shape != x.shape[:2]:
            raise ValueError(f"mask has shape {m.shape}, expected {x.shape[:2]}")
        for name, a in (("targets", y), ("mask", m)):
            if not np.all(np.isfinite(a)):
                raise ValueError(f"{name} have values that are not finite")
        return x, y, m

    def initial_params(self, seed):
        """Random run values as the e-prop examples draw them (NEST's, Bellec
        et al.'s code): every matrix normal with standard deviation 1 /
        sqrt(fan-in) (``B``: 1 / sqrt(n_rec)), no self-connections."""
        rng = np.random.default_rng(seed)
        W_rec = rng.normal(size=(self.n_rec, self.n_rec)) / np.sqrt(self.n_rec)
        if not self.self_connections:
            np.fill_diagonal(W_rec, 0.0)
        return {"W_in": rng.normal(size=(self.n_in, self.n_rec)) / np.sqrt(self.n_in), "W_rec": W_rec,
                "W_out": rng.normal(size=(self.n_rec, self.n_out)) / np.sqrt(self.n_rec),
                "B": rng.normal(size=(self.n_rec, self.n_out)) / np.sqrt(self.n_rec)}


def _nest_input_and_recurrent(rs, n_in, n_rec):
    """``W_in`` and ``W_rec`` (pre x post) as NEST's e-prop examples draw
    them from the legacy generator ``rs``: normal / sqrt(fan-in), drawn as
    (pre, post) and transposed, rounded to float32, no self-connections."""
    W_in = np.array(rs.randn(n_in, n_rec).T / np.sqrt(n_in), dtype=np.float32).T.astype(float)
    W_rec = np.array(rs.randn(n_rec, n_rec).T / np.sqrt(n_rec), dtype=np.float32)
    np.fill_diagonal(W_rec, 0.0)
    return W_in, W_rec.T.astype(float)


def nest_sine_example(seed=1, n_in=100, n_rec=100, steps=1000, p_spike=0.05, periods=(1000, 500, 333, 200)):
    """The arrays of NEST's example ``eprop_supervised_regression_sine-waves_bsshslm_2020.py``
    (after Bellec et al.'s ``tutorial_pattern_generation.py``), drawn in its
    order from NumPy's legacy generator seeded with ``seed``: the weights
    (float32, then used in double precision), the frozen input spikes (none
    in a sequence's first step) and the target, a sum of sines.  Returns
    (params, inputs (steps x n_in), target (steps,))."""
    rs = np.random.RandomState(seed)
    f32 = np.float32
    W_in, W_rec = _nest_input_and_recurrent(rs, n_in, n_rec)
    W_out = np.array(rs.randn(n_rec, 1).T / np.sqrt(n_rec), dtype=f32).T.astype(float)
    B = np.array(rs.randn(n_rec, 1) / np.sqrt(n_rec), dtype=f32).astype(float)
    x = (rs.rand(steps, n_in) < p_spike).astype(float)
    x[0] = 0.0
    amplitudes = rs.uniform(0.5, 2.0, len(periods))
    phases = rs.uniform(0.0, 2.0 * np.pi, len(periods))
    s = sum(A * np.sin(np.linspace(phi, phi + 2.0 * np.pi * (steps // T), steps))
            for A, phi, T in zip(amplitudes, phases, periods))
    s = s - s[0]
    s = s / max(np.abs(s).max(), 1e-6)
    return {"W_in": W_in, "W_rec": W_rec, "W_out": W_out, "B": B}, x, s


def nest_evidence_example(batch_size, n_iter, seed=1, n_in=40, n_lif=50, n_alif=50, n_out=2):
    """The arrays of NEST's evidence-accumulation example
    (``eprop_supervised_classification_evidence-accumulation_bsshslm_2020.py``
    and its test ``test_eprop_classification``, after Bellec et al.'s
    ``tutorial_evidence_accumulation_with_alif.py``), drawn in their order
    from NumPy's legacy generator seeded with ``seed``: the weights (``W_in``
    and ``W_rec`` normal / sqrt(fan-in), ``W_out`` Glorot-uniform, ``B``
    standard normal; float32, then used in double precision), then
    ``n_iter`` batches of ``batch_size`` sequences of 2250 steps: 7 cues of
    100 steps, each after 50 silent ones, from the left or right group of 10
    inputs (firing with probability 0.04 per step) with the majority side's
    cues drawn with probability 0.7; the recall group (0.04) in the last 150
    steps; the noise group (0.01) throughout; no spike in a sequence's first
    step.  Returns (params, inputs (n_iter, batch, steps, n_in), labels
    (n_iter, batch): 1 where the right-hand cues are the majority)."""
    rs = np.random.RandomState(seed)
    f32 = np.float32
    n_rec = n_lif + n_alif
    W_in, W_rec = _nest_input_and_recurrent(rs, n_in, n_rec)
    limit = np.sqrt(3.0 / max(1.0, (n_rec + n_out) / 2.0))
    W_out = np.array(rs.uniform(-limit, limit, (n_rec, n_out)).T, dtype=f32).T.astype(float)
    B = np.array(rs.randn(n_rec, n_out), dtype=f32).astype(float)
    n_group, n_cues, cue, spacing, recall, p = n_in // 4, 7, 100, 50, 150, 0.04
    steps = n_cues * (cue + spacing) + 1050 + recall
    inputs = np.zeros((n_iter, batch_size, steps, n_in))
    labels = np.zeros((n_iter, batch_size), dtype=int)
    for it in range(n_iter):
        choices = np.array([0.3, 0.7], dtype=f32)
        idx = rs.choice([0, 1], batch_size)
        probs = np.zeros((batch_size, 2), dtype=f32)
        probs[:, 0] = choices[idx]
        probs[:, 1] = choices[1 - idx]
        cues = np.zeros((batch_size, n_cues), dtype=int)
        for b in range(batch_size):
            cues[b] = rs.choice([0, 1], n_cues, p=probs[b])
        rate = np.zeros((batch_size, steps, n_in))
        for b in range(batch_size):
            for c in range(n_cues):
                start = c * (cue + spacing) + spacing
                rate[b, start:start + cue, cues[b, c] * n_group:(cues[b, c] + 1) * n_group] = p
        rate[:, -recall:, 2 * n_group:3 * n_group] = p
        rate[:, :, 3 * n_group:] = p / 4.0
        spikes = rate > rs.rand(rate.size).reshape(rate.shape)
        spikes[:, 0, :] = False
        inputs[it] = spikes
        labels[it] = np.sum(cues, axis=1) > n_cues // 2
    return {"W_in": W_in, "W_rec": W_rec, "W_out": W_out, "B": B}, inputs, labels


__all__ = ["EpropNetwork", "FEEDBACK", "LOSSES", "PARAMS", "nest_evidence_example", "nest_sine_example"]
