"""The three-factor core shared by every rule.

For a plastic projection from presynaptic neuron i to postsynaptic neuron j

    dw_ij/dt = -eta * L_j(t) * phi_j(t) * eps_ij(t)

- ``L_j``, the learning signal: the error as neuron j sees it (a variable
  ``L`` of the postsynaptic group, written by the feedback pathway);
- ``phi_j``, the postsynaptic factor: an expression of the postsynaptic
  neuron's state (surrogate derivative, 1, activity trace, ...);
- ``eps_ij``, the presynaptic / eligibility factor: the presynaptic trace
  ``x``, or a per-synapse eligibility trace that low-pass filters
  ``phi_j x_i`` through a cascade of unit-area stages (SuperSpike, e-prop;
  then ``phi_j`` sits inside the filter and the product is
  ``L_j * F(phi_j x_i)``, see `cascade`).

A rule is a frozen description: it names its factors as Brian2 expressions
and knows nothing of groups, devices or data.  `synapse_model` turns it into
the text of a `Synapses` model; the network builder wires it.
"""

import dataclasses
import math
from dataclasses import dataclass, field

from . import cascade
from .optimizers import SGD, Optimizer
from .describe import describe as _describe
from .factors import (CLOCK_ELIGIBILITIES, ELIGIBILITIES, EVENT_ELIGIBILITIES, EXPRESSION_ELIGIBILITY,
                      EXPRESSION_POST, POST_FACTORS, TIMINGS)


def _positive(name, value):
    if not isinstance(value, (int, float)) or isinstance(value, bool):
        raise ValueError(f"{name} must be a number, got {value!r}")
    if not math.isfinite(value) or value <= 0:
        raise ValueError(f"{name} must be positive and finite, got {value!r}")


@dataclass(frozen=True)
class ThreeFactorRule(cascade.FilteredEligibility):
    """A learning rule as a product of three factors.

    ``lr`` is eta of the output projection and ``lr_hidden`` that of every
    hidden projection, both in 1/s (the update of ``w`` per second of
    simulated time at unit factors).  ``apply_every`` is the number of time
    steps over which updates accumulate before they are added to ``w``;
    ``None`` applies them at the end of each sample presentation, 1 applies
    them every step.

    ``post`` is the postsynaptic factor of projections onto hidden layers,
    ``post_output`` that of the projection onto the output layer.  They are
    separate because the variants under study differ in the hidden layers;
    at the output, the activity factor would never let a silent output
    neuron learn to fire.  ``post_expr``, when given, replaces ``post`` by a
    Brian2 expression of the postsynaptic neuron's variables (suffix
    ``_post``), e.g. ``"psi_post * x_post"``; it must be dimensionless.
    ``eligibility_expr``, when given, is the presynaptic factor as a Brian2
    expression of the synapse's pre- and postsynaptic variables (clock-driven
    updates), e.g. ``"x_pre * x_pre"``.

    ``eligibility_filter`` holds the time constants (ms) of the stages of a
    filtered eligibility, input first (`cascade`): ``phi_j x_i`` through
    them replaces ``phi_j x_i``.  It goes with the trace eligibility, and
    the rule's ``eligibility`` then names the cascade by its number of
    stages (``lowpass``, ``alpha``, ``cascade3``, ...).  The named ones may
    be asked for by name alone: ``eligibility="alpha"`` has the stages
    (5, 10) ms unless ``eligibility_filter`` gives two others.  The
    keywords ``tau_elig`` (the last stage's time constant) and
    ``tau_elig_rise`` (the first of two) replace single stages:
    ``dataclasses.replace(rule, tau_elig=7.0)``.
    """

    name: str
    post: str = "surrogate"
    post_output: str = "surrogate"
    post_expr: str | None = None
    eligibility: str = "trace"
    eligibility_expr: str | None = None
    feedback: str = "direct"
    timing: str = "clock"
    lr: float = 2.0
    lr_hidden: float = 0.2
    apply_every: int | None = None
    #: eta of a projection is divided by its number of presynaptic neurons (PES, as Nengo's builder does)
    per_presynaptic: bool = False
    #: time constants (ms) of the filtered eligibility's stages, input first; () for none
    eligibility_filter: tuple = ()
    #: how the accumulated update reaches w (`optimizers`); SGD adds it
    optimizer: Optimizer = SGD
    paper: str = ""
    parameters: dict = field(default_factory=dict)
    #: None: weights learn by the three-factor product in the generated program; "bptt": by
    #: backpropagation through time of the output loss (`rules.bptt`, trained by `engines.bptt`)
    gradient: str | None = None

    def __post_init__(self):
        expression = self.post_expr is not None and self.post == EXPRESSION_POST
        for value in ((self.post_output,) if expression else (self.post, self.post_output)):
            if value not in POST_FACTORS:
                raise ValueError(
                    f"unknown postsynaptic factor '{value}' (choose from {', '.join(POST_FACTORS)})"
                )
        if self.post_expr is not None and (not isinstance(self.post_expr, str) or not self.post_expr.strip()):
            raise ValueError(f"post_expr must be a non-empty Brian2 expression, got {self.post_expr!r}")
        if self.post_expr is not None:
            # the expression replaces the named factor: what the rule records is what it uses
            object.__setattr__(self, "post", EXPRESSION_POST)
        if self.eligibility_expr is not None:
            if not isinstance(self.eligibility_expr, str) or not self.eligibility_expr.strip():
                raise ValueError(f"eligibility_expr must be a non-empty Brian2 expression, got {self.eligibility_expr!r}")
            object.__setattr__(self, "eligibility", EXPRESSION_ELIGIBILITY)
        if self.eligibility_filter or cascade.stage_count(self.eligibility):
            self._check_filter()
        elif self.eligibility_expr is None and self.eligibility not in ELIGIBILITIES:
            raise ValueError(
                f"unknown eligibility '{self.eligibility}' (choose from {', '.join(ELIGIBILITIES)})"
            )
        if not isinstance(self.feedback, str) or not self.feedback.isidentifier():
            # which names exist is the builders' registry (build.pathways), checked where a network is built
            raise ValueError(f"feedback must name a pathway, got {self.feedback!r}")
        if self.timing not in TIMINGS:
            raise ValueError(f"unknown timing '{self.timing}' (choose from {', '.join(TIMINGS)})")
        allowed = EVENT_ELIGIBILITIES if self.timing == "event" else CLOCK_ELIGIBILITIES
        if self.eligibility not in allowed and not self.filtered:  # a filter checks its own timing
            raise ValueError(f"{self.timing}-driven updates go with the eligibility {' or '.join(allowed)}, "
                             f"not '{self.eligibility}'")
        if self.deferred and self.apply_every == 1:
            raise ValueError("the event-driven form of a trace rule adds its updates on presynaptic spikes and "
                             "when accumulated updates are applied; apply_every 1 would touch every synapse in "
                             "every step (use the clock-driven form)")
        if self.gradient not in (None, "bptt"):
            raise ValueError(f"unknown gradient '{self.gradient}' (None: the local product; bptt)")
        if not isinstance(self.optimizer, Optimizer):
            raise ValueError(f"optimizer must be an Optimizer, got {self.optimizer!r}")
        _positive("learning rate (lr)", self.lr)
        _positive("hidden learning rate (lr_hidden)", self.lr_hidden)
        if self.apply_every is not None:
            if not isinstance(self.apply_every, int) or isinstance(self.apply_every, bool) or self.apply_every < 1:
                raise ValueError(f"apply_every must be a positive number of steps, got {self.apply_every!r}")

    def event_driven(self):
        """The same rule with its synapses touched only on presynaptic spikes
        (and once per application of the accumulated updates).

        The clock-driven rule adds ``-eta dt x_i(t_n) Lphi_j(t_n)`` in every
        step n.  Between two spikes of i the trace only decays,
        ``x_i(t_n) = X_i exp(-(t_n - t0) / tau)`` with ``X_i`` constant, so
        the sum over those steps factorises into ``X_i`` times a sum that
        belongs to neuron j alone:

            Y_j(t_n) = sum over steps m <= n of dt exp(-(t_m - t0) / tau) Lphi_j(t_m)

        (``t0``: the start of the sample).  Neuron j accumulates ``Y_j`` in
        every step; neuron i keeps ``X_i`` as ``xs`` (each of its spikes adds
        ``exp((t_s + dt - t0) / tau)``, the scaled-back value of the 1 it adds
        to the trace).  Synapse ij keeps ``Ylast_ij``, the value of ``Y_j``
        when it was last brought up to date, and on a spike of i (before the
        spike enters ``xs``) and before each application of the accumulated
        updates adds ``-eta X_i (Y_j - Ylast_ij)``: one multiply-add per
        update.  This is the clock-driven sum regrouped: the weights agree up
        to floating-point rounding (a test).

        Rounding needs a re-base now and then.  ``X_i`` grows as
        ``exp((t - t0) / tau)`` while the terms added to ``Y_j`` shrink by the
        same factor, and ``Y_j - Ylast_ij`` keeps only the digits of ``Y_j``
        that its rounding leaves: the late terms of a long interval are lost
        (7% of the weight change with 400 ms samples and tau 10 ms in
        float64, 19% with 200 ms in float32, where the sample's start was the
        only re-base).  So every ``REBASE_TAUS[dtype] * tau`` (10 tau in
        float64, 3 tau in float32; `NetworkSpec.rebase_every`) all synapses
        catch up and set ``Ylast = 0``, then every neuron sets ``Y = 0``,
        ``t0 = t`` and scales ``xs`` by ``exp(-(t - t0_old) / tau)``: the
        products ``X_i (Y_j - Ylast_ij)`` are the same, so this is exact,
        and it costs one multiply-add per synapse like an application.  The
        traces are reset at each sample's start, which re-bases too; the
        pre- and postsynaptic groups share ``tau_trace``.  ``eta`` keeps its
        meaning and unit (1/s).
        """
        if self.timing == "event":
            return self
        if self.eligibility != "trace":
            raise ValueError(f"rule {self.name} has no event-driven form: it needs the presynaptic trace "
                             f"eligibility, not '{self.eligibility}'")
        return dataclasses.replace(self, timing="event")

    @property
    def deferred(self):
        """The event-driven form of a trace rule (see `event_driven`)."""
        return self.timing == "event" and self.eligibility == "trace"

    # -- factors as Brian2 expressions ---------------------------------
    learning_signal = "L_post"

    @property
    def post_label(self):
        """The hidden layers' postsynaptic factor as a run's header and
        figure name it: the expression when one replaces the named factor."""
        return f"post_expr {self.post_expr}" if self.post_expr is not None else self.post

    def post_factor(self, output=False):
        if output:
            return POST_FACTORS[self.post_output]
        return self.post_expr if self.post_expr is not None else POST_FACTORS[self.post]

    @property
    def eligibility_factor(self):
        if self.filtered:
            return cascade.OUTPUT
        return self.eligibility_expr if self.eligibility_expr is not None else ELIGIBILITIES[self.eligibility]

    def neuron_factor(self, output=False):
        """``L * phi`` as an expression of the postsynaptic group's own
        variables (the ``_post`` suffix dropped); ``L`` alone for a filtered
        eligibility, whose filter holds ``phi`` (`filtered_post_factor`)."""
        if self.filtered:
            return self.learning_signal.replace("_post", "")
        return f"{self.learning_signal} * ({self.post_factor(output)})".replace("_post", "")

    #: the postsynaptic group's variable that holds ``L * phi`` for
    #: clock-driven rules: computed once per neuron and step instead of once
    #: per synapse (Brian2 would inline a subexpression such as the surrogate
    #: into the synaptic loop)
    neuron_factor_variable = "Lphi"

    @property
    def neuron_factor_equations(self):
        """Extra equations of a postsynaptic group (``Y`` and ``t0`` for the
        event-driven form of a trace rule; none for eRBP).  ``t0`` is one
        value per group (every neuron re-bases at once), so that
        ``exp(-(t - t0) / tau_trace)`` is computed once per step and group,
        not per neuron."""
        if self.deferred:
            return f"\n{self.neuron_factor_variable} : 1\nY : second\nt0 : second (shared)\nxs : 1\n"
        if self.filtered:
            return f"\n{self.neuron_factor_variable} : 1\n{self.post_factor_variable} : 1\n"
        return f"\n{self.neuron_factor_variable} : 1\n" if self.timing == "clock" else ""

    def add_neuron_factor(self, group, output=False, signal=None, extra=""):
        """Compute ``Lphi`` in ``group`` every step, just before plastic
        synapses of order -5 integrate it: it reads the state they would have
        read; the event-driven form of a trace rule adds it to ``Y``.
        ``signal`` replaces the learning signal ``L`` (e.g. ``L + L_reg``
        with a rate regulariser); ``extra``: statements run with it (the
        diagnostics of `build.diagnostics`)."""
        code = f"{self.neuron_factor_variable} = {self.with_signal(self.neuron_factor(output), signal)}"
        if self.filtered:
            code += f"\n{self.post_factor_variable} = {self.filtered_post_factor(output)}"
        if self.deferred:
            code += f"\nY += dt * exp(-(t - t0) / tau_trace) * {self.neuron_factor_variable}"
        if extra:
            code += "\n" + extra
        if self.timing == "clock" or self.deferred:
            group.run_regularly(code, when="groups", order=-6, name=f"{group.name}_factor")

    def with_signal(self, expr, signal=None):
        """``expr`` (of a group's own variables) with ``L`` replaced by ``signal``."""
        if signal is None:
            return expr
        from brian2.utils.stringtools import word_substitute

        return word_substitute(expr, {self.learning_signal.replace("_post", ""): f"({signal})"})

    @property
    def neuron_sample_reset(self):
        """What a group does at the start of each sample (pre- and
        postsynaptic: the output group needs only ``Y`` and ``t0``);
        Brian2 writes a shared variable before any per-neuron one, so the
        builder puts this first."""
        return f"{self.SAMPLE_START}; Y = 0*second; xs = 0" if self.deferred else ""

    #: the event-driven form re-bases ``xs``, ``Y`` and ``t0`` at least every
    #: this many ``tau_trace``, by dtype (see `event_driven`)
    REBASE_TAUS = {"float64": 10.0, "float32": 3.0}
    #: a re-base in the neurons, after the synapses' part (`rebase_synapse_code`): the input
    #: layer keeps only `xs`, the other layers `Y` too
    REBASE_PRESYNAPTIC = "xs = xs * exp(-(t - t0) / tau_trace)"
    REBASE_NEURON = "Y = 0*second; " + REBASE_PRESYNAPTIC
    #: the new ``t0``, a shared variable: set by an operation of its own after the re-base,
    #: which reads the old one (Brian2 writes shared variables before per-neuron ones)
    SAMPLE_START = "t0 = t"

    #: equations and spike code of a presynaptic group (the input layer) in
    #: the event-driven form of a trace rule
    PRESYNAPTIC_EQUATIONS = "\nxs : 1\nt0 : second (shared)\n"
    PRESYNAPTIC_RESET = "xs += exp((t + dt - t0) / tau_trace)"
    PRESYNAPTIC_SAMPLE_RESET = SAMPLE_START + "; xs = 0"

    def update_expression(self, output=False):
        """The right-hand side of dw/dt (without the learning gate).  In
        clock-driven rules ``L_j phi_j`` is read from the per-neuron variable
        ``Lphi`` (see `neuron_factor`); in the event-driven form of a trace
        rule, the change since synapse ij was last brought up to date."""
        if self.timing == "clock":
            return f"-eta * {self.neuron_factor_variable}_post * ({self.eligibility_factor})"
        if self.deferred:
            return self.catch_up_expression
        return f"-eta * ({self.learning_signal}) * ({self.post_factor(output)}) * ({self.eligibility_factor})"

    #: ``-eta X_i (Y_j - Ylast_ij)``: the change of synapse ij since it was
    #: last brought up to date (event-driven form of a trace rule)
    catch_up_expression = "-eta * xs_pre * (Y_post - Ylast)"

    @property
    def catch_up_code(self):
        """Bring every synapse up to date (event-driven form of a trace rule);
        needed before ``Y`` restarts at a sample's start."""
        return self._catch_up(then_ylast="Y_post")

    @property
    def rebase_synapse_code(self):
        """A synapse's part of a re-base (see `event_driven`): catch up, and
        start again from ``Y = 0``."""
        return self._catch_up(then_ylast="0*second")

    def _catch_up(self, then_ylast):
        return f"w_acc += plastic * ({self.catch_up_expression})\nYlast = {then_ylast}"

    def apply_code_for(self, accumulate):
        """What the builder runs when accumulated updates are applied (the
        event-driven form of a trace rule first brings every synapse up to
        date, in the same pass)."""
        if self.deferred:
            return self.catch_up_code + "\n" + self.apply_code
        return self.apply_code

    def synapse_model(self, accumulate, output=False, w_unit="volt", batched=False):
        """The `Synapses` model text of a plastic projection.

        With ``accumulate`` the update goes into ``w_acc``, which the builder
        adds to ``w`` at a fixed interval; otherwise into ``w`` directly.
        ``plastic`` gates learning (0 during evaluation).  Clock-driven rules
        integrate ``dw/dt`` (``eta`` in 1/s); event-driven rules add
        ``-eta L phi`` on each presynaptic spike (``eta`` per spike).
        ``w_unit`` is the unit of the postsynaptic neuron's input variable
        (None when its input port is a statement that needs no ``w_unit``).
        ``batched``: the synapses of one copy of a batched network
        (`build.batch`): ``w`` is linked to the weight that every copy
        shares, ``plastic`` is the copy's own gate, and the optimizer's
        state lives with the shared weights.
        """
        target = "w_acc" if accumulate else "w"
        w_line = "w : 1 (linked)" if batched else "w : 1"
        if self.timing == "clock":
            lines = [f"d{target}/dt = plastic * ({self.update_expression(output)}) : 1 (clock-driven)",
                     *self.eligibility_equations, "eta : Hz (shared, constant)"]
            if accumulate:
                lines.insert(0, w_line)
        else:
            lines = [w_line, f"eta : {'Hz' if self.deferred else '1'} (shared, constant)"]
            if accumulate:
                lines.append("w_acc : 1")
            if self.deferred:
                lines.append("Ylast : second")
        if w_unit is not None:  # the unit of the postsynaptic neuron's input variable
            lines.append(f"w_unit : {w_unit} (shared, constant)")
        if batched:
            return "\n".join(lines + ["plastic : 1", "w_sum : 1 (linked)", "widx : integer (constant)",
                                       "copy : integer (constant)"])
        lines.append("plastic : 1 (shared)")
        if accumulate:
            lines += self.optimizer.synapse_lines()
        return "\n".join(lines)

    def on_pre_code(self, accumulate, output=False, deliver="I_syn_post += w * w_unit"):
        """What a presynaptic spike does, by pathway: ``pre`` delivers the
        weight (``deliver``: the postsynaptic neuron's input port as an
        on_pre statement); for event-driven rules ``learn`` updates it.  The builder runs
        ``learn`` before every delivery of the step, so the update reads the
        postsynaptic state as the step's neuron updates left it, whatever the
        order in which synapses are processed.  The event-driven form of a
        trace rule reads only ``xs_pre``, ``Y_post`` and ``Ylast``, which no
        delivery writes, so it updates in the ``pre`` pathway itself."""
        code = {"pre": deliver}
        if self.timing == "event":
            target = "w_acc" if accumulate else "w"
            learn = f"{target} += plastic * ({self.update_expression(output)})"
            if self.deferred:
                # reads X_i and Y_j, which no delivery changes: one pathway, one code object
                # and one spike queue fewer per projection and step
                return {"pre": f"{learn}\nYlast = Y_post\n{deliver}"}
            code["learn"] = learn
        return code

    def eta(self, onto_output, n_pre, scale=1.0):
        """eta of a projection, a plain number in `eta_unit`: ``lr`` onto the
        output layer, ``lr_hidden`` onto a hidden layer, times ``scale``
        (the epoch's decay), divided by ``n_pre`` for a rule that is
        ``per_presynaptic``.  The one place a learning rate is chosen."""
        eta = scale * (self.lr if onto_output else self.lr_hidden)
        return eta / n_pre if self.per_presynaptic else eta

    @property
    def eta_unit(self):
        from brian2 import Hz

        return Hz if self.timing == "clock" or self.deferred else 1

    @property
    def apply_code(self):
        """An application of the accumulated update (`optimizers.Optimizer.apply_code`)."""
        return self.optimizer.apply_code()

    def step(self, onto_output, n_pre, scale=1.0):
        """(eta, alpha) of a projection: eta in `eta_unit` and the
        optimizer's step (None for sgd).  A normalising optimizer takes
        the learning rate as its step and accumulates with eta = 1."""
        rate = self.eta(onto_output, n_pre, scale)
        return (1.0, rate) if self.optimizer.normalising else (rate, None)

    def describe(self):
        """Equations of the rule as text, for `brianrules rules --show` (`describe.describe`)."""
        return _describe(self)


# `dataclasses.replace(rule, tau_elig=7.0)` replaces the last stage (`cascade.taking_stage_times`)
ThreeFactorRule.__init__ = cascade.taking_stage_times(ThreeFactorRule.__init__)
