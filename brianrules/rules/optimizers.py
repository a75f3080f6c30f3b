"""Optimizers: how a synapse's accumulated update reaches its weight.

Every plastic synapse accumulates ``u_ij`` over an application interval
(a sample, or ``apply_every`` steps; `ThreeFactorRule.apply_every`); at each
application the optimizer turns it into the weight change:

``sgd``
    ``w += u`` (``u = -eta * integral of L_j phi_j eps_ij dt``), today's rule.
``rmsmax``
    SuperSpike's per-synapse normaliser (Zenke & Ganguli 2018, Neural
    Comput. 30:1514; their code takes ``v = max(g^2, gamma v)`` and
    ``w += eta g / (sqrt(v) + eps)``): ``v = max(g^2, gamma v)``,
    ``w += alpha g / (sqrt(v) + eps)``.
``rmsprop``
    ``v = rho v + (1 - rho) g^2``, ``w += alpha g / (sqrt(v) + eps)``
    (Tieleman & Hinton 2012; Nokland's DFA code trains with it).
``adam``
    bias-corrected as in TensorFlow and NEST's e-prop optimizer:
    ``m = beta1 m + (1 - beta1) g``, ``v = beta2 v + (1 - beta2) g^2``,
    ``n += 1``, ``w += alpha sqrt(1 - beta2^n) / (1 - beta1^n) m / (sqrt(v) + eps)``
    (Kingma & Ba 2015).

For the normalising optimizers the synapse accumulates the raw product
``g = -integral of L_j phi_j eps_ij dt`` (eta = 1 in the rule's unit) and
``alpha``, the step, is the projection's learning rate as the rule gives it
(``lr`` onto the output, ``lr_hidden`` onto hidden layers, the epoch's decay,
``per_presynaptic``): a plain number, the weight change of a synapse whose
normalised update is 1.  The state (``m``, ``v``, ``n``) is per synapse,
changes only in applications during learning (``plastic``), and is carried
from run to run like the weights.  ``clip`` bounds every weight to
``[-clip, clip]`` after each application (any optimizer).

Which optimizer and whether it clips are part of the build; its constants
(``rho``, ``gamma``, ``beta1``, ``beta2``, ``eps``, ``clip``) are run values.
"""

import math
from dataclasses import dataclass

#: optimizer name -> its per-synapse state variables
STATE = {"sgd": (), "rmsmax": ("opt_v",), "rmsprop": ("opt_v",), "adam": ("opt_m", "opt_v", "opt_n")}
NAMES = tuple(STATE)
#: the default step (lr and lr_hidden) of a normalising optimizer when none is given
DEFAULT_STEP = 1e-3


@dataclass(frozen=True)
class Optimizer:
    name: str = "sgd"
    rho: float = 0.9  # rmsprop's decay of v
    gamma: float = 0.99  # rmsmax's decay of v per application
    beta1: float = 0.9
    beta2: float = 0.999
    eps: float = 1e-8
    clip: float | None = None  # |w| <= clip after each application; None: no bound

    def __post_init__(self):
        if self.name not in STATE:
            raise ValueError(f"unknown optimizer '{self.name}' (choose from {', '.join(NAMES)})")
        for key in ("rho", "gamma", "beta1", "beta2"):
            v = getattr(self, key)
            if isinstance(v, bool) or not isinstance(v, (int, float)) or not 0 <= v < 1:
                raise ValueError(f"optimizer {key} must lie in [0, 1), got {v!r}")
        if isinstance(self.eps, bool) or not isinstance(self.eps, (int, float)) or not 0 < self.eps < math.inf:
            raise ValueError(f"optimizer eps must be positive and finite, got {self.eps!r}")
        if self.clip is not None and (isinstance(self.clip, bool) or not isinstance(self.clip, (int, float))
                                      or not 0 < self.clip < math.inf):
            raise ValueError(f"optimizer clip must be a positive bound on |w|, got {self.clip!r}")

    @property
    def normalising(self):
        """Whether the update is divided by a running scale (``alpha`` is the step)."""
        return self.name != "sgd"

    @property
    def state(self):
        """The per-synapse state variables, carried from run to run."""
        return STATE[self.name]

    #: the shared constants of each optimizer (run values)
    CONSTANTS = {"sgd": (), "rmsmax": ("gamma", "eps"), "rmsprop": ("rho", "eps"),
                 "adam": ("beta1", "beta2", "eps")}

    def synapse_lines(self):
        """The lines the optimizer adds to a plastic synapse's model."""
        lines = [f"{v} : 1" for v in self.state]
        names = [f"opt_{c}" for c in self.CONSTANTS[self.name]]
        if self.normalising:
            names.append("alpha")
        if self.clip is not None:
            names.append("opt_clip")
        return lines + [f"{n} : 1 (shared, constant)" for n in names]

    def apply_code(self, acc="w_acc"):
        """What an application does to one synapse (``acc``: the accumulated
        update), ending with ``acc = 0``.  The state changes only where the
        synapse learned (``plastic``): an application during evaluation
        finds ``acc = 0`` and leaves everything as it was."""
        g = acc
        if self.name == "sgd":
            lines = [f"w += {acc}"]
        elif self.name == "rmsmax":
            # max(a, b) of two non-negative numbers, exactly: clip(a, b, a + b)
            lines = [f"opt_v = plastic * clip({g}**2, opt_gamma * opt_v, {g}**2 + opt_gamma * opt_v) "
                     "+ (1 - plastic) * opt_v",
                     f"w += plastic * alpha * {g} / (sqrt(opt_v) + opt_eps)"]
        elif self.name == "rmsprop":
            lines = [f"opt_v = plastic * (opt_rho * opt_v + (1 - opt_rho) * {g}**2) + (1 - plastic) * opt_v",
                     f"w += plastic * alpha * {g} / (sqrt(opt_v) + opt_eps)"]
        else:  # adam
            lines = [f"opt_m = plastic * (opt_beta1 * opt_m + (1 - opt_beta1) * {g}) + (1 - plastic) * opt_m",
                     f"opt_v = plastic * (opt_beta2 * opt_v + (1 - opt_beta2) * {g}**2) + (1 - plastic) * opt_v",
                     "opt_n += plastic",
                     "w += plastic * alpha * sqrt(1 - opt_beta2**opt_n) / (1 - opt_beta1**(opt_n + 1 - plastic)) "
                     "* opt_m / (sqrt(opt_v) + opt_eps)"]
        if self.clip is not None:
            lines.append("w = clip(w, -opt_clip, opt_clip)")
        return "\n".join(lines + [f"{acc} = 0"])

    def values(self, step):
        """{name: value} of the shared constants; ``step`` is alpha."""
        out = {f"opt_{c}": float(getattr(self, c)) for c in self.CONSTANTS[self.name]}
        if self.normalising:
            out["alpha"] = float(step)
        if self.clip is not None:
            out["opt_clip"] = float(self.clip)
        return out

    def to_dict(self):
        """The settings that differ from the defaults."""
        default = Optimizer(self.name)
        return {"name": self.name, **{k: getattr(self, k) for k in ("rho", "gamma", "beta1", "beta2", "eps", "clip")
                                       if getattr(self, k) != getattr(default, k)}}


SGD = Optimizer()


#: the settings (`TrainConfig`) of an optimizer's constants: key -> Optimizer field
SETTINGS = {"opt_rho": "rho", "opt_gamma": "gamma", "opt_beta1": "beta1", "opt_beta2": "beta2", "opt_eps": "eps"}


def configure(rule, name="sgd", clip=None, lr_given=False, lr_hidden_given=False, **constants):
    """``rule`` with the optimizer ``name`` and its constants (settings
    ``opt_*``, None for the default) and the bound ``clip`` on |w|.  A
    normalising optimizer takes the learning rates as its steps: where none
    was given, they are `DEFAULT_STEP`, unless the rule comes with a
    normalising optimizer and steps of its own (`bptt`, `dtp`).  Plain SGD
    over a rule that comes with a normalising optimizer takes, where no rate
    was given, the rates the rule declares for it (its parameters
    ``sgd_lr`` / ``sgd_lr_hidden``, `dtp`); a rule that declares none keeps
    its own."""
    import dataclasses

    if name not in STATE:
        raise ValueError(f"unknown optimizer '{name}' (choose from {', '.join(NAMES)})")
    given = {SETTINGS[k]: float(v) for k, v in constants.items() if v is not None}
    takes = Optimizer.CONSTANTS[name]
    for key in given:
        if key not in takes:
            raise ValueError(f"opt_{key} is a constant of "
                             f"{' and '.join(n for n, c in Optimizer.CONSTANTS.items() if key in c)}, and the optimizer "
                             f"is {name}" + (f" (it takes {', '.join('opt_' + c for c in takes)})" if takes else ""))
    optimizer = Optimizer(name, clip=None if clip is None else float(clip), **given)
    # the rates that replace the rule's own where none was given: steps for a normalising optimizer
    # over a rule that comes with SGD (a rule with its own steps keeps them), the rule's declared SGD
    # rates for SGD over a rule that comes with steps (these are no SGD rates)
    if optimizer.normalising and not rule.optimizer.normalising:
        instead = {"lr": DEFAULT_STEP, "lr_hidden": DEFAULT_STEP}
    elif rule.optimizer.normalising and not optimizer.normalising:
        own = rule.parameters or {}
        instead = {k: float(own["sgd_" + k]) for k in ("lr", "lr_hidden") if "sgd_" + k in own}
    else:
        instead = {}
    given = {"lr": lr_given, "lr_hidden": lr_hidden_given}
    return dataclasses.replace(rule, optimizer=optimizer, **{k: v for k, v in instead.items() if not given[k]})
