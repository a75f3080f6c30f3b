"""Noise injected into the hidden populations (`NetworkSpec.noise`).

In every time step each hidden neuron receives a random input of standard
deviation ``noise`` in its projections' weight unit (the threshold distance
``v_th - v_reset`` of the shipped neurons), delivered through the neuron's
input port as a spike through a weight of that size would be:

    kick_i = noise * sqrt(12) * (hash_uniform(noise_seed_hidden, step, i) - 1/2)
    I_syn_i += kick_i * noise_unit

The draw is the counter-based hash of `brianrules.randomness` (uniform, unit
variance after the scaling), so runtime, C++ and CUDA programs inject the
same numbers, and each hidden layer has its own stream (``noise_seed_hidden``
mixed from the run's seed and the layer's number).  A neuron also keeps the
noise it was given, low-pass filtered with ``tau_noise``:

    d nt / dt = -nt / tau_noise,   nt += kick_i  in every step

``nt`` has zero mean and is independent of everything the network does
except what the noise itself causes, so its correlation with any activity
downstream measures the effect of this neuron's noise on that activity:
the weight mirror (`build.pathways.mirror`) learns from it.
"""

from ..randomness import mix_seed

#: a hidden neuron's noise: its strength, unit, stream and filtered record
NOISE_EQUATIONS = """
dnt/dt = -nt / tau_noise : 1
noise : 1 (shared, constant)
tau_noise : second (shared, constant)
noise_seed_hidden : integer (shared, constant)
"""
#: the kick of one step (a temporary) and its record
KICK = "kick = noise * sqrt(12.0) * (hash_uniform(noise_seed_hidden, t_in_timesteps, i) - 0.5)"
RECORD = "nt += kick"


def refusal(neuron, population):
    """Why ``population`` (of ``neuron``) cannot take the noise, or None."""
    if neuron.input_variable is None:
        return (f"the noise is delivered through a neuron's input variable, and the neuron of {population} "
                f"({neuron.name}) declares its input as statements ({neuron.input!r})")
    return None


def equations(neuron):
    """The equations a noisy hidden group adds (its input's unit for the kick's)."""
    from ..model.neuron import unit_text

    return NOISE_EQUATIONS + f"noise_unit : {unit_text(neuron.weight_unit_value())} (shared, constant)\n"


def code(neuron, gate=None):
    """The code of one step: draw the kick (times ``gate``, a variable of
    the group, when given), deliver it, record it."""
    kick = KICK if gate is None else KICK.replace("kick = ", f"kick = {gate} * ", 1)
    return "\n".join([kick, f"{neuron.input_variable} += kick * noise_unit", RECORD])


def values(spec, group, k, noise_seed, strength=None, population=None, stream=1009):
    """Run values of hidden layer ``k``'s noise (``k`` from 0): ``strength``
    (None: the network's noise) into ``group``, a group of the neurons of
    ``population`` (None: the group's name), from the run's seed mixed with
    ``stream`` and the layer."""
    return [(group.noise, float(spec.noise if strength is None else strength)), (group.tau_noise, spec.tau_noise),
            (group.noise_unit, spec.w_unit_of(population or group.name)),
            (group.noise_seed_hidden, mix_seed(noise_seed, stream, k + 1))]
