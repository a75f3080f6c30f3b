"""Surrogate derivatives of the spike function.

A spiking neuron's output is a step function of its membrane potential, whose
derivative is zero almost everywhere.  Surrogate-gradient and feedback rules
replace it by a smooth pseudo-derivative ``psi(x)`` of the *scaled distance to
threshold*

    x = (v - v_th) / (v_th - v_reset)

Each surrogate here is a sympy expression in ``x`` with two parameters:
``height`` (the value at threshold, ``psi(0) = height``) and ``width`` (the
scale of ``x`` over which it falls off).  The same expression is rendered into
a Brian2 expression string, so that the surrogate is a subexpression of the
neuron's equations and runs on every device (runtime, C++, CUDA).

References for the shapes:
- boxcar: Neftci, Augustine, Paul & Detorakis (2017), Front. Neurosci. 11:324 (eRBP).
- fast sigmoid: Zenke & Ganguli (2018), Neural Computation 30(6) (SuperSpike).
- piecewise linear: Bellec et al. (2020), Nat. Commun. 11:3625 (e-prop).
- exponential: Shrestha & Orchard (2018), NeurIPS (SLAYER).
- arctan: Fang et al. (2021), ICCV (SpikingJelly's ATan).
"""

from dataclasses import dataclass

import sympy
from sympy.printing.str import StrPrinter

x = sympy.Symbol("x", real=True)
width = sympy.Symbol("width", positive=True)
height = sympy.Symbol("height", positive=True)

#: name -> (sympy expression of x, width, height; area under the curve)
_SHAPES = {
    "boxcar": (
        height * sympy.Piecewise((1, sympy.Abs(x) < width / 2), (0, True)),
        height * width,
    ),
    "fast_sigmoid": (height / (1 + sympy.Abs(x) / width) ** 2, 2 * height * width),
    "piecewise_linear": (
        height * sympy.Max(0, 1 - sympy.Abs(x) / width),
        height * width,
    ),
    "exponential": (height * sympy.exp(-sympy.Abs(x) / width), 2 * height * width),
    "arctan": (height / (1 + (sympy.pi * x / width) ** 2), height * width),
}

NAMES = tuple(_SHAPES)


class _Brian2Printer(StrPrinter):
    """Print the few sympy constructs used above in Brian2's expression syntax."""

    def _print_Abs(self, expr):
        return f"abs({self._print(expr.args[0])})"

    def _print_Max(self, expr):
        if len(expr.args) != 2 or sympy.S.Zero not in expr.args:
            raise ValueError(f"cannot render {expr} for Brian2")
        other = [a for a in expr.args if a != 0][0]
        return f"clip({self._print(other)}, 0, inf)"

    def _print_Piecewise(self, expr):
        (value, cond), (other, default) = expr.args
        if other != 0 or default is not sympy.true:
            raise ValueError(f"cannot render {expr} for Brian2")
        return f"(({self._print(value)}) * int({self._print(cond)}))"

    def _print_Pi(self, expr):
        return "pi"

    def _print_Exp1(self, expr):
        return "exp(1)"

    def _print_Function(self, expr):
        if expr.func is sympy.exp:
            return f"exp({self._print(expr.args[0])})"
        return super()._print_Function(expr)

    def _print_Pow(self, expr, rational=False):
        base, exp_ = expr.args
        return f"({self._print(base)})**({self._print(exp_)})"


@dataclass(frozen=True)
class Surrogate:
    """A surrogate derivative: a named shape with its width and height."""

    name: str = "fast_sigmoid"
    width: float = 1.0
    height: float = 1.0

    def __post_init__(self):
        if self.name not in _SHAPES:
            raise ValueError(
                f"unknown surrogate '{self.name}' (choose from {', '.join(NAMES)})"
            )
        for field in ("width", "height"):
            value = getattr(self, field)
            if not (isinstance(value, (int, float)) and value > 0 and value < float("inf")):
                raise ValueError(f"surrogate {field} must be a positive number, got {value!r}")

    @property
    def expression(self):
        """The shape as a sympy expression of ``x``, ``width`` and ``height``."""
        return _SHAPES[self.name][0]

    @property
    def area(self):
        """The closed-form area under the shape (a sympy expression)."""
        return _SHAPES[self.name][1]

    def numeric(self):
        """The shape with this surrogate's width and height substituted."""
        return self.expression.subs({width: self.width, height: self.height})

    def brian2(self, distance="x", width_name="sg_width", height_name="sg_height"):
        """Render as a Brian2 expression string.

        ``distance`` is the expression substituted for the scaled distance to
        threshold; ``width_name`` and ``height_name`` the names of the
        variables that hold the width and height in the generated code.
        """
        d, w, h = sympy.symbols("_d _w _h", real=True)
        expr = self.expression.subs({x: d, width: w, height: h}, simultaneous=True)
        text = _Brian2Printer().doprint(expr)
        for sym, name in ((d, f"({distance})"), (w, width_name), (h, height_name)):
            text = text.replace(str(sym), name)
        return text


def get(name, width=1.0, height=1.0):
    """The surrogate called ``name``."""
    return Surrogate(name, float(width), float(height))
