"""The Brian2 objects of a network (`Model`) built from its `NetworkSpec`,
for a fixed number of samples per run.

What varies between runs of one compiled program (weights, stimulus,
targets, the learning gate, seeds and every numeric parameter) is gathered
by `Model.values`, which gives either attribute assignments (runtime) or
``run_args`` (standalone).  The initial weights (`initial_weights`) and the
run's arrays (`run_arrays`) are checked against the spec here.
"""

import numpy as np
from brian2 import Network, NeuronGroup, SpikeMonitor, Synapses, TimedArray, linked_var
from brian2.utils.stringtools import word_substitute

from .. import feedback as fb
from ..model.architecture import population_names
from ..model.neuron import unit_text
from ..neurons import make_group
from ..randomness import make_function
from ..stateupdate import exact
from ..topology import all_to_all, connect_pairs, mark_copies, sums_into_source
from . import batch, diagnostics, initial, noise, pathways


def run_arrays(spec, n_samples, stim, tgt, learn):
    """A run's stimulus, targets and learning gate as float arrays, checked
    against the network's sizes and the run's number of samples."""
    stim = np.asarray(stim, dtype=float)
    tgt = np.asarray(tgt, dtype=float)
    learn = np.asarray(learn, dtype=float)
    if stim.shape != (n_samples, spec.n_in):
        raise ValueError(f"stimulus has shape {stim.shape}, expected {(n_samples, spec.n_in)}")
    if tgt.shape != (n_samples, spec.n_out):
        raise ValueError(f"targets have shape {tgt.shape}, expected {(n_samples, spec.n_out)}")
    if learn.shape != (n_samples,):
        raise ValueError(f"learning gate has shape {learn.shape}, expected {(n_samples,)}")
    return stim, tgt, learn


def initial_weights(spec, rng, input_rate=None):
    """Forward weights (one matrix n_pre x n_post per projection) and feedback
    matrices (n_out x n_hidden per hidden layer) drawn from ``rng``, with the
    mean and spread `initial.weight_parameters` gives (``input_rate``: the
    input layer's mean rate, for the fluctuation-driven initialisation)."""
    weights = []
    for proj, (n_pre, n_post), (mean, std) in zip(spec.projections, spec.projection_shapes,
                                                  initial.weight_parameters(spec, input_rate)):
        W = rng.normal(mean, std, size=(n_pre, n_post))
        if proj.recurrent and not proj.self_connections:
            np.fill_diagonal(W, 0.0)  # no synapse there
        weights.append(W)
    return weights, pathways.get(spec.rule.feedback).matrices(spec, rng)


class Model:
    """The Brian2 objects of a `NetworkSpec` for runs of ``n_samples`` samples."""

    def __init__(self, spec, n_samples: int, stim=None, tgt=None, learn=None):
        from brian2 import defaultclock

        self.spec = spec
        self.n_samples = int(n_samples)
        defaultclock.dt = spec.dt
        T = spec.t_sample
        rule = spec.rule
        # a batched network (`build.batch`): B copies, one slot of t_sample shows B samples
        B = self.copies = spec.batch
        self.n_slots = batch.slots(self.n_samples, B)
        # TimedArrays start from the given arrays (runtime) or zeros that
        # run_args replace (standalone); ``learn`` is the slot's gate (any copy learns), ``learn_copy``
        # each copy's
        n = self.n_slots
        given = None if stim is None else self._arrays(stim, tgt, learn)
        self.stim = TimedArray(np.zeros((n, B * spec.n_in)) if given is None else given[0], dt=T, name="stim")
        self.tgt = TimedArray(np.zeros((n, B * spec.n_out)) if given is None else given[1], dt=T, name="tgt")
        self.learn = TimedArray(np.zeros(n) if given is None else given[3], dt=T, name="learn")
        # one namespace for every object: subexpressions that synapses read
        # through _pre/_post (the output error reads ``tgt``) resolve there
        ns = {"stim": self.stim, "tgt": self.tgt, "learn": self.learn,
              "hash_uniform": make_function()}
        if B > 1:
            self.learn_copy = TimedArray(np.zeros((n, B)) if given is None else given[2], dt=T, name="learn_copy")
            ns["learn_copy"] = self.learn_copy
        self.namespace = ns

        self.input = NeuronGroup(
            B * spec.n_in,
            """
            rate = max_rate * stim(t, i) : Hz
            dx/dt = -x / tau_trace : 1
            max_rate : Hz (shared, constant)
            tau_trace : second (shared, constant)
            noise_seed : integer (shared, constant)
            """ + (rule.PRESYNAPTIC_EQUATIONS if rule.deferred else ""),
            threshold="hash_uniform(noise_seed, t_in_timesteps, i) < rate * dt" if B == 1 else batch.input_threshold(spec),
            reset="x += 1" + (f"; {rule.PRESYNAPTIC_RESET}" if rule.deferred else ""),
            method=exact(),
            namespace=ns,
            name="input",
        )
        mark_copies(self.input, B)
        self.pathway = pathway = pathways.get(rule.feedback)
        hidden_eqs = pathway.hidden_equations(rule)
        output_eqs = pathway.output_equations(rule)
        output_reset = pathway.output_reset
        hidden_eqs += rule.neuron_factor_equations + diagnostics.hidden_equations(spec)
        output_eqs += rule.neuron_factor_equations + diagnostics.output_equations(spec)
        if spec.zero_mean_error:
            output_eqs = fb.zero_mean_error(output_eqs)
        # projections with a postsynaptic factor of their own: L * phi of
        # their own, a variable of the postsynaptic group
        own = {}  # population -> [(variable, L * phi)]
        for k, proj in enumerate(spec.projections):
            var = spec.own_factor_variable(k)
            if var is not None:
                own.setdefault(proj.post, []).append(
                    (var, spec.projection_rule(k).neuron_factor(proj.post == "output")))

        def own_equations(population):
            return "".join(f"\n{var} : 1\n" for var, _ in own.get(population, []))

        regulariser = (fb.RATE_REGULARISER_EQUATIONS, fb.RATE_REGULARISER_RESET) if spec.regularised else ("", "")
        self.layers = []
        for k, n in enumerate(spec.hidden):
            name = f"hidden_{k + 1}"
            resets = [rule.PRESYNAPTIC_RESET if rule.deferred else "", regulariser[1], pathway.hidden_reset]
            noisy = noise.equations(spec.neuron_of(name)) if spec.noisy else ""
            self.layers.append(
                make_group(spec.neuron_of(name), spec.surrogate, B * n, name,
                           extra_equations=hidden_eqs + self._boxcar(name) + own_equations(name) + regulariser[0]
                           + noisy, namespace=ns, set_values=False, extra_reset="; ".join(r for r in resets if r))
            )
            mark_copies(self.layers[-1], B)
            if spec.noisy:  # the step's kick before the groups integrate it
                self.layers[-1].run_regularly(noise.code(spec.neuron_of(name)), when="before_groups", order=-10,
                                              name=f"{name}_noise")
        self.output = make_group(
            spec.neuron_of("output"), spec.surrogate, B * spec.n_out, "output",
            extra_equations=output_eqs + self._boxcar("output") + own_equations("output"), extra_reset=output_reset,
            namespace=ns, set_values=False,
        )
        mark_copies(self.output, B)
        self.layers.append(self.output)

        if "target" in self.output.variables and not self.output.variables["target"].constant:
            # the sample's target, before anything of its first step reads it
            self.output.run_regularly(fb.OUTPUT_TARGET_CODE, dt=T, when="start", order=-30, name="output_target")
        for g in self.layers:  # L * phi once per neuron and step
            signal = fb.REGULARISED_SIGNAL if spec.regularised and g is not self.output else None
            rule.add_neuron_factor(g, output=g is self.output, signal=signal,
                                   extra="" if g is self.output else diagnostics.hidden_factor_code(spec))
            for var, factor in own.get(g.name, []):  # computed where the model's is, read by one projection
                g.run_regularly(f"{var} = {rule.with_signal(factor, signal)}", when="groups", order=-6,
                                name=f"{g.name}_factor_{var}")

        if spec.reset_between_samples:
            self.input.run_regularly((f"{rule.PRESYNAPTIC_SAMPLE_RESET}; " if rule.deferred else "") + "x = 0",
                                     dt=T, when="start", name="input_sample_reset")
            for g in self.layers:
                parts = [rule.neuron_sample_reset, spec.neuron_of(g.name).sample_reset,
                         pathway.sample_reset(g is self.output)]
                g.run_regularly("; ".join(p for p in parts if p), dt=T, when="start", name=f"{g.name}_sample_reset")

        # projections, plastic or fixed, in the order the architecture declares them
        self.groups = dict(zip(population_names(len(spec.hidden)), [self.input, *self.layers]))
        self.projections, self.plastic_projections, self.pairs = [], [], []
        self.shared = {}  # plastic projection (batched) -> the group of its shared weights
        # the weights in groups of their own also where a pathway's objects link to them (dtp's DRL twin)
        shared_weights = B > 1 or pathway.links_weights(spec)
        for k, (proj, (n_pre, n_post)) in enumerate(zip(spec.projections, spec.projection_shapes)):
            pre, post = self.groups[proj.pre], self.groups[proj.post]
            unit = spec.w_unit_of(proj.post)
            w_unit = None if unit is None else unit_text(unit)
            deliver = spec.neuron_of(proj.post).delivery()
            if proj.plastic:
                prule = spec.projection_rule(k)
                model = prule.synapse_model(spec.accumulate, output=post is self.output, w_unit=w_unit,
                                           batched=shared_weights)
                model += diagnostics.synapse_lines(spec, pre in self.layers, post is not self.output)
                var = spec.own_factor_variable(k)
                if var is not None:
                    model = word_substitute(model, {f"{rule.neuron_factor_variable}_post": f"{var}_post"})
                if pathway.forward_line(pre is self.input):
                    model += "\n" + pathway.forward_line(pre is self.input)
                on_pre = prule.on_pre_code(spec.accumulate, output=post is self.output, deliver=deliver)
                on_post = pathway.on_post(pre is self.input)
            else:
                model = "w : 1 (constant)" + (f"\nw_unit : {w_unit} (shared, constant)" if w_unit else "")
                on_pre, on_post = {"pre": deliver}, None
            S = Synapses(pre, post, model=model, on_pre=on_pre, on_post=on_post or None, method="euler", namespace=ns,
                         order=-5, name=f"w_{k + 1}")
            self.pairs.append(batch.connect_copies(S, n_pre, n_post, without_self=proj.recurrent and not
                                                   proj.self_connections, post_major=sums_into_source(model)))
            self.projections.append(S)
            if not proj.plastic:
                continue
            self.plastic_projections.append(S)
            if rule.timing == "event" and not rule.deferred:
                S.learn.order = -20  # before any spike delivery of the step
            if shared_weights:
                self._share(S, k, prule, *self.pairs[-1], n_post)
                continue
            S.run_regularly("plastic = learn(t)", dt=T, when="start", name=f"w_{k + 1}_gate")
            if rule.filtered and spec.reset_between_samples:
                S.run_regularly(rule.eligibility_sample_reset, dt=T, when="start",
                                name=f"w_{k + 1}_eligibility_reset")
            if spec.accumulate:
                # at the start of the step at t = n * apply_every * dt, so that the
                # accumulated change covers exactly the steps before it
                S.run_regularly(rule.apply_code_for(spec.accumulate), dt=spec.apply_every * spec.dt, when="start",
                                order=-10, name=f"w_{k + 1}_apply")
            if rule.deferred and spec.steps_per_sample % spec.apply_every:
                # samples that end between applications: catch up before Y restarts
                S.run_regularly(rule.catch_up_code, dt=T, when="start", order=-11, name=f"w_{k + 1}_catch_up")
        if spec.rebase_every is not None:  # at the start of the step, before any catch-up or application
            every = spec.rebase_every * spec.dt
            for S in self.plastic_projections:
                S.run_regularly(rule.rebase_synapse_code, dt=every, when="start", order=-14, name=f"{S.name}_rebase")
            self.input.run_regularly(rule.REBASE_PRESYNAPTIC, dt=every, when="start", order=-13,
                                     name="input_rebase")
            for g in self.layers:
                g.run_regularly(rule.REBASE_NEURON, dt=every, when="start", order=-13, name=f"{g.name}_rebase")
            for g in (self.input, *self.layers):  # then the new t0, once the re-base has read the old one
                g.run_regularly(rule.SAMPLE_START, dt=every, when="start", order=-12, name=f"{g.name}_rebase_t0")

        extra = []
        if spec.zero_mean_error:
            # the outputs' mean error, summed before the step's factors read it (order -6) from the
            # state they read, so that the error has zero mean in every step
            mean = Synapses(self.output, self.output, model=fb.ZERO_MEAN_SYNAPSES, namespace=ns, name="error_mean")
            connect_pairs(mean, *all_to_all(spec.n_out, spec.n_out, False))
            mean.summed_updaters["err_mean_post"].order = -7
            extra.append(mean)

        # feedback pathway: self.feedback[k] lists the synapses that share
        # hidden layer k's feedback matrix
        feedback_objects = pathway.build(self)

        self.output_spikes = SpikeMonitor(self.output, name="output_spikes")
        self.hidden_counts = [SpikeMonitor(g, record=False, name=f"{g.name}_count") for g in self.layers[:-1]]
        self.network = Network(  # named: a program beside an earlier one's live objects is the same program
            self.input, *self.layers, *self.projections, *self.shared.values(), *feedback_objects, *extra,
            self.output_spikes,
            *self.hidden_counts, name="network",
        )

    def _share(self, S, k, prule, i, j, n_post):
        """The shared weights of plastic projection ``S`` (the copies'
        synapses (i, j) onto n_post neurons per copy; one copy where a
        pathway links to the weights): the group that
        holds them (`build.batch`), each copy's link to it, the copies' gate,
        and the end of a slot: the copies' updates added into the shared sum,
        then applied there by the optimizer."""
        T, name = self.spec.t_sample, f"w_{k + 1}"
        hub = NeuronGroup(len(i), batch.hub_model(prule), namespace=self.namespace, name=f"{name}_shared")
        S.widx = batch.weight_index(i, j, n_post, self.copies)
        S.copy = np.repeat(np.arange(self.copies), len(i))
        S.w = linked_var(hub, "w", index="widx")
        S.w_sum = linked_var(hub, "w_acc", index="widx")
        S.run_regularly("plastic = learn_copy(t, copy)" if self.copies > 1 else "plastic = learn(t)", dt=T,
                        when="start", name=f"{name}_gate")
        S.run_regularly(batch.reduce_code(prule), dt=T, when="start", order=-10, name=f"{name}_apply")
        hub.run_regularly(prule.apply_code, dt=T, when="start", order=-9, name=f"{name}_shared_apply")
        hub.run_regularly("plastic = learn(t)", dt=T, when="start", name=f"{name}_shared_gate")
        self.shared[S] = hub

    def _arrays(self, stim, tgt, learn):
        """A run's (stimulus, targets, each copy's gate, the slot's gate) as
        the program's TimedArrays hold them (`batch.layout`)."""
        stim, tgt, learn = run_arrays(self.spec, self.n_samples, stim, tgt, learn)
        if self.copies == 1:
            return stim, tgt, None, learn
        return batch.layout(self.spec, self.n_samples, stim, tgt, learn)

    def _boxcar(self, population):
        """eRBP's boxcar equations for the neuron of ``population``."""
        spec = self.spec
        return fb.boxcar_equations(spec, population if spec.neurons else None)

    @property
    def duration(self):
        return self.n_slots * self.spec.t_sample

    # -- values that change between runs of one program ----------------
    def values(self, weights, feedback, stim, tgt, learn, noise_seed, lr_scale=1.0, optimizer_state=None):
        """A list of (target, value) pairs: target is a VariableView or
        TimedArray.  ``optimizer_state``: per plastic projection {variable:
        matrix n_pre x n_post} of the optimizer's state (None: zeros, a
        fresh start)."""
        spec = self.spec
        stim, tgt, learn_copy, learn = self._arrays(stim, tgt, learn)
        self.learn_time = float(np.sum(learn)) * float(spec.t_sample)  # the diagnostics' averages are over it
        pairs = [
            (self.stim, stim),
            (self.tgt, tgt),
            (self.learn, learn),
            *([(self.learn_copy, learn_copy)] if self.copies > 1 else []),
            (self.input.noise_seed, int(noise_seed)),
            (self.input.max_rate, spec.max_rate),
            (self.input.tau_trace, spec.neuron.parameters["tau_trace"]),
        ]
        pairs += self.pathway.error_values(self)
        if spec.noisy:
            for k, g in enumerate(self.layers[:-1]):
                pairs += noise.values(spec, g, k, noise_seed)
        for g in self.layers:
            neuron = spec.neuron_of(g.name)
            for key, value in neuron.values(spec.surrogate).items():
                pairs.append((getattr(g, key), value))
            for key, value in neuron.initial_state().items():
                pairs.append((getattr(g, key), np.ones(g.N) * value))
            if spec.boxcar_of(g.name):
                pairs += [(g.I_lo, spec.boxcar_lo), (g.I_hi, spec.boxcar_hi)]
            if spec.regularised and g is not self.output:  # the rate estimate starts at the target
                pairs += [(g.c_reg, float(spec.rate_reg)), (g.f_target, spec.rate_target), (g.tau_reg, spec.tau_rate),
                          (g.f_reg_scale, spec.f_high - spec.f_low), (g.r_reg, np.ones(g.N) * spec.rate_target)]
        for k, (S, W, shape) in enumerate(zip(self.projections, weights, spec.projection_shapes)):
            if W.shape != tuple(shape):
                raise ValueError(f"weights of projection {k + 1} have shape {W.shape}, expected {tuple(shape)}")
            i, j = self.pairs[k]
            hub = self.shared.get(S)
            if hub is not None:  # the copies' shared weights, row-major (`batch.weight_index`)
                pairs.append((hub.w, np.ascontiguousarray(W, dtype=float).reshape(-1)))
            else:
                pairs.append((S.w, np.tile(np.ascontiguousarray(W, dtype=float)[i, j], self.copies)))
            unit = spec.w_unit_of(spec.projections[k].post)
            if unit is not None:
                pairs.append((S.w_unit, unit))
            if S in self.plastic_projections:
                prule = spec.projection_rule(k)
                eta, alpha = prule.step(S.target is self.output, S.source.N, lr_scale * spec.lr_scale_of(k))
                pairs.append((S.eta, eta * prule.eta_unit))
                pairs += [(getattr(S, name), value) for name, value in prule.eligibility_values().items()]
                if spec.accumulate:
                    held = S if hub is None else hub  # where the optimizer's state and constants live
                    pairs += [(getattr(held, name), value) for name, value in prule.optimizer.values(alpha).items()]
                    state = (optimizer_state or [{}] * len(self.plastic_projections))[
                        self.plastic_projections.index(S)]
                    for name in prule.optimizer.state:
                        M = state.get(name)
                        if hub is not None:
                            pairs.append((getattr(hub, name), np.zeros(hub.N) if M is None else
                                          np.ascontiguousarray(M, dtype=float).reshape(-1)))
                        else:
                            pairs.append((getattr(S, name), np.zeros(len(i)) if M is None else
                                          np.ascontiguousarray(M, dtype=float)[i, j]))
        pairs += self.pathway.values(self, feedback, noise_seed)
        return pairs

    @staticmethod
    def flat(S, M):
        """Matrix (n_pre x n_post) -> synapse order of `connect_all` (every
        copy of a batched network holds the same)."""
        from ..topology import copies_of

        return np.tile(np.ascontiguousarray(M, dtype=float).reshape(-1), copies_of(S.source))

    def read_weights(self):
        """The current forward weights as matrices n_pre x n_post."""
        out = []
        for S, (i, j), shape in zip(self.projections, self.pairs, self.spec.projection_shapes):
            hub = self.shared.get(S)
            if hub is not None:
                out.append(np.asarray(hub.w[:], dtype=float).reshape(shape))
                continue
            W = np.zeros(shape)
            W[i, j] = np.asarray(S.w[:], dtype=float)[:len(i)]  # copy 0's: every copy holds the same
            out.append(W)
        return out

    def read_feedback(self):
        """The feedback matrices after the last run when the pathway learns
        them (kp), else None: the run's fixed matrices stand."""
        return self.pathway.read(self)

    def read_optimizer_state(self):
        """Per plastic projection, {variable: matrix n_pre x n_post} of the
        optimizer's state (empty for sgd)."""
        out = []
        for S in self.plastic_projections:
            k = self.projections.index(S)
            (i, j), shape, hub = self.pairs[k], self.spec.projection_shapes[k], self.shared.get(S)
            state = {}
            for name in self.spec.rule.optimizer.state if self.spec.accumulate else ():
                if hub is not None:
                    state[name] = np.asarray(getattr(hub, name)[:], dtype=float).reshape(shape)
                    continue
                M = np.zeros(shape)
                M[i, j] = np.asarray(getattr(S, name)[:], dtype=float)
                state[name] = M
            out.append(state)
        return out

    def output_counts(self):
        """Spike counts per sample and output neuron (n_samples x n_out)."""
        i = np.asarray(self.output_spikes.i[:], dtype=int)
        t = np.asarray(self.output_spikes.t[:] / self.spec.dt).round().astype(np.int64)
        return batch.counts(self.spec, self.n_samples, i, t)  # one copy: sample = step // steps per sample

    def read_diagnostics(self):
        """{metrics.csv column: value} of the last run (`diagnostics.read`)."""
        return diagnostics.read(self)

    def hidden_rates(self):
        """Mean firing rate of each hidden layer over the last run, in Hz."""
        if self.copies > 1:  # over the samples shown, not the padding of a last slot
            return [float(np.sum(m.count[:]) / (m.source.N // self.copies) / (self.n_samples * float(self.spec.t_sample)))
                    for m in self.hidden_counts]
        return [float(np.mean(m.count[:]) / float(self.duration)) for m in self.hidden_counts]
