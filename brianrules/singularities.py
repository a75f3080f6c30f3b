"""Exact solutions that stay right where a denominator vanishes: equal time
constants, a leak of zero.

The exact solution is written for generic parameter values.  For the LIF
neuron (``tau_m dv/dt = v_rest - v + I_syn``, ``tau_syn dI_syn/dt = -I_syn``)
the weight of ``I_syn`` in ``v(t + dt)`` is

    c(tau_m, tau_syn) = tau_syn (e^{-dt/tau_syn} - e^{-dt/tau_m}) / (tau_syn - tau_m),

which is 0/0 at ``tau_m = tau_syn = tau`` although the solution is smooth
there: ``c -> (dt/tau) e^{-dt/tau}``, the step of the response ``I0 (t/tau)
e^{-t/tau}`` of the degenerate (Jordan-block) system.  In general
``exp(A dt)`` is an entire function of the entries of ``A``; its closed form
divides by differences of eigenvalues and, for the response to a constant
input, by the eigenvalues themselves, and these vanish for admissible
parameter values (equal time constants; a leak conductance of 0).  Every
parameter is a run value, so the program cannot be generated for one case
or the other: it must be right for every value, without branches.

`remove_singularities` rewrites each assignment of the abstract code:

1. The right-hand side is grouped by state variable, ``sum_j x_j c_j + c_0``
   (the solution is linear in the state); only the coefficients ``c_j`` with
   a *singular factor* in a denominator are rewritten, the other terms keep
   Brian2's text.  A singular factor is an irreducible polynomial factor of
   a denominator that involves a parameter and no state variable, that
   sympy cannot prove nonzero (``dt`` is positive), and that the equations
   themselves do not divide by (up to sign): ``tau_m`` cannot vanish,
   ``tau_m - tau_syn`` can, and so can ``g_L`` in ``C dv/dt = g_L (E_L - v)
   + I``.  Boolean flags are not parameters (Brian2's ``not_refractory``
   enters as ``int(not_refractory)``): each value of the flags is analysed
   on its own, and its switch below is multiplied by its indicator.
2. Where the factor vanishes, two exponents of the solution coincide
   (``a_i - a_j = dt/tau_syn - dt/tau_m`` for the LIF) or one vanishes
   (``-g_L dt / C``).  That dimensionless ``w`` is what the generic form
   cancels (its relative rounding error is about ``u/|w|``, ``u`` the unit
   roundoff), and the expansion variable: with one parameter of the factor
   solved from ``w``, the coefficient's Taylor polynomial ``T(w) =
   sum_{k<=K} c_k w^k`` (``K = TAYLOR_ORDER``) has coefficients that are
   finite where the factor vanishes (for the LIF ``c_0 = (dt/tau_syn)
   e^{-dt/tau_syn}``, the limit above).  The ``c_k`` are computed with
   truncated Laurent series over the rational functions of the parameters
   and of the exponentials (`_taylor`), and rewritten in turn for the
   factors that remain in them (three equal time constants).
3. The code selects without a branch, with ``s = int(abs(w) < eps)``:

       c = G * (1 - s) + s * T(w)

   (several conditions: the first that holds picks its branch).  ``G`` is
   Brian2's generic form with each singular denominator ``d`` replaced by
   ``d + s * (abs(d) + 1)``, which is at least 1 where ``s = 1``: the
   discarded ``G`` stays finite, ``0/0`` is never evaluated and no NaN
   enters the blend.  Where ``s = 0`` the code computes Brian2's arithmetic
   exactly (``d + 0``, ``x * 1``, ``0 + x``): outside the band ``|w| < eps``
   the results are bit for bit those of the generic code (checked on the
   weights of a training in C++, float64 and float32).

Error bound (relative, of the LIF weight ``c``, ``y = dt/tau``): outside the
band the generic form errs by about ``u/|w|``, at most ``u/eps`` at its
edge; inside it the series errs by the first omitted term, about
``|w|^{K+1} / ((K+1)! y)``, plus ``u``.  `SWITCH` picks ``eps`` per float
type.  float64 (``u = 1.1e-16``), ``eps = 1e-3``: at most 3e-15 inside the
band and 1.1e-13 just outside it for ``dt/tau <= 1`` (8e-13 at ``dt/tau =
10``), where Brian2's form errs by 2e-4 at ``|w| = 1e-12`` and is NaN at 0.
float32 (``u = 6e-8``), ``eps = 4e-3``: at most 6e-7 inside, 1.3e-5 just
outside for ``dt/tau <= 1`` (as the generic float32 form does at ordinary
values); the band stays clear of the defaults (``|w| = 0.05`` at dt =
0.5 ms, tau_m = 10 ms, tau_syn = 5 ms), whose programs are unchanged.
These numbers were measured against 40-digit arithmetic over dt/tau from
1e-4 to 10 and |tau_syn/tau_m - 1| from 1e-12 to 0.5.

The conditions are those that NESTML's ODE-toolbox looks for:
``SingularityDetection`` (``odetoolbox/singularity_detection.py``,
ODE-toolbox 2.5+) collects the bases of negative powers in the propagator
matrix, solves them for the parameter values that make them vanish, keeps
those under which the system matrix stays defined, and reports them as
conditions, for which a propagator of the degenerate system is generated
(Linssen et al., ODE-toolbox, doi:10.5281/zenodo.7193351; Rotter &
Diesmann 1999, Biol. Cybern. 81:381, for exact integration).  Here the
condition is a tolerance on the exponent difference instead of an equality,
the degenerate branch is a Taylor series (right near the condition as well
as on it) instead of a second solution, and the selection is arithmetic
instead of a branch, so that one program serves every value.
"""

import itertools
import logging

LOG = logging.getLogger(__name__)


#: highest power of the exponent difference ``w`` in the degenerate branch
TAYLOR_ORDER = 4


#: half-width ``eps`` of the band ``|w| < eps`` where the Taylor branch is used, per float type
SWITCH = {"float64": 1e-3, "float32": 4e-3}


#: boolean flags analysed case by case in one coefficient (2**flags cases); beyond, none is
_MAX_FLAGS = 2


def float_type(equations, variables):
    """"float32" when the state variables of ``equations`` are single precision, else "float64"."""
    import numpy as np

    for name in sorted(equations.diff_eq_names):
        var = (variables or {}).get(name)
        if var is not None and getattr(var, "dtype", None) is not None:
            return "float32" if np.dtype(var.dtype) == np.float32 else "float64"
    return "float64"


class _Context:
    """What the rewriting of one abstract code needs besides the expressions."""

    def __init__(self, equations, variables, eps, order):
        from brian2.parsing.sympytools import str_to_sympy

        self.variables = variables or {}
        self.eps = eps
        self.order = order
        self.state_names = set(equations.diff_eq_names) | {"t"}
        self.flags = {n for n, v in self.variables.items() if getattr(v, "is_boolean", False)}
        self.switches = {}  # w -> placeholder symbol
        self.switch_code = {}  # placeholder name -> int(abs(w) < eps)
        self.forbidden = set()  # factors (up to sign) that the equations themselves divide by
        try:
            rhs = [expr.code for _, expr in equations.get_substituted_expressions(self.variables)]
        except Exception:  # noqa: BLE001 - unresolved names: use the equations as written
            rhs = [eq.expr.code for eq in equations.ordered if eq.expr is not None]
        for code in rhs:
            expr = str_to_sympy(code, self.variables)
            for base in _negative_power_bases(expr):
                for flag_case in _flag_cases(base, self.flags):
                    for factor in _factors(base.xreplace(flag_case)):
                        self.forbidden.add(_canonical(factor))

    def switch(self, w):
        """A placeholder for ``int(abs(w) < eps)``, replaced by that text in the code."""
        import sympy
        from brian2.parsing.sympytools import sympy_to_str

        if w not in self.switches:
            name = f"_degenerate_{len(self.switches) + 1}"
            self.switches[w] = sympy.Symbol(name, real=True)
            self.switch_code[name] = f"int(abs({sympy_to_str(w)}) < {self.eps!r})"
        return self.switches[w]


def _negative_power_bases(expr):
    """Bases of the negative powers in ``expr`` (denominators), exponentials left out."""
    import sympy

    out = []
    for node in sympy.preorder_traversal(expr):
        if (isinstance(node, sympy.Pow) and node.exp.is_number and node.exp.is_negative
                and not isinstance(node.base, sympy.exp) and node.base not in out):
            out.append(node.base)
    return out


def _factors(poly):
    """Irreducible factors of a polynomial expression (none for a number)."""
    import sympy

    if poly.is_number:
        return []
    try:
        _, factors = sympy.factor_list(poly)
    except (sympy.PolynomialError, NotImplementedError):
        return [poly]
    return [f for f, _ in factors if not f.is_number]


def _canonical(factor):
    """The factor up to sign and numeric factor, for comparisons."""
    import sympy

    coeff, rest = factor.as_coeff_Mul()
    rest = sympy.expand(rest)
    if rest.could_extract_minus_sign():
        rest = sympy.expand(-rest)
    return rest


def _flag_atoms(expr, flags):
    import sympy

    return sorted({a for a in expr.atoms(sympy.Function)
                   if a.func.__name__ == "int_" and len(a.args) == 1 and str(a.args[0]) in flags}, key=str)


def _flag_cases(expr, flags):
    """Every assignment of 0 or 1 to the ``int(flag)`` atoms of ``expr`` (``[{}]`` without flags)."""
    atoms = _flag_atoms(expr, flags)
    if len(atoms) > _MAX_FLAGS:
        return [{}]
    return [dict(zip(atoms, values, strict=True)) for values in itertools.product((0, 1), repeat=len(atoms))]


def _indicator(case):
    """``prod int(flag)`` or ``(1 - int(flag))`` selecting one flag assignment."""
    import sympy

    out = sympy.Integer(1)
    for atom, value in case.items():
        out *= atom if value else 1 - atom
    return out


def _is_singular(factor, ctx):
    """Whether a denominator factor can vanish for admissible values: it
    involves a parameter and no state variable, is a polynomial, sympy
    cannot tell it is nonzero, and the equations do not divide by it."""
    import sympy

    names = {str(s) for s in factor.free_symbols}
    if not names or names & ctx.state_names:
        return False
    if any(isinstance(a, sympy.Function) for a in sympy.preorder_traversal(factor)):
        return False  # only polynomials in the parameters
    if factor.is_zero is False:
        return False  # dt, or what sympy can tell from the symbols' assumptions
    return _canonical(factor) not in ctx.forbidden


def _conditions(coef, ctx):
    """The singular conditions of ``coef``: a list of (flag case, factor),
    one per distinct factor, and for each denominator base the indices of
    the conditions whose factor divides it."""
    conditions, keys, bases = [], [], {}
    for base in _negative_power_bases(coef):
        for case in _flag_cases(base, ctx.flags):
            for factor in _factors(base.xreplace(case)):
                if not _is_singular(factor, ctx):
                    continue
                key = (tuple(sorted(case.items(), key=str)), _canonical(factor))
                if key not in keys:
                    conditions.append((case, factor))
                    keys.append(key)
                bases.setdefault(base, []).append(keys.index(key))
    return conditions, bases


def _solve_for(factor):
    """(symbol, root) with ``factor = 0`` at ``symbol = root``; the symbol
    chosen where the factor is linear with a numeric coefficient."""
    import sympy

    candidates = []
    for sym in sorted(factor.free_symbols, key=str):
        poly = sympy.Poly(factor, sym)
        if poly.degree() != 1:
            continue
        lead = poly.coeff_monomial(sym)
        candidates.append((0 if lead.is_number else 1, str(sym), sym, sympy.cancel(-poly.coeff_monomial(1) / lead)))
    if not candidates:
        return None, None
    _, _, sym, root = min(candidates, key=lambda c: c[:2])
    return sym, root


def _exponent_difference(coef, sym, root):
    """The dimensionless ``w``: a difference of two exponents of ``coef``
    that coincide at ``sym = root``, or an exponent that vanishes there."""
    import sympy

    args = sorted({a.args[0] for a in coef.atoms(sympy.exp)}, key=sympy.default_sort_key)
    candidates = [a for a in args if sym in a.free_symbols]
    candidates += [a - b for a, b in itertools.combinations(args, 2)]
    found = []
    for w in candidates:
        w = sympy.factor(sympy.together(w))
        if w == 0 or sym not in w.free_symbols:
            continue
        if sympy.simplify(w.subs(sym, root)) == 0:
            found.append(w)
    if not found:
        return None
    return min(found, key=lambda w: (sympy.count_ops(w), sympy.default_sort_key(w)))


def _taylor(coef, sym, root, w, order):
    """Coefficients ``c_0..c_order`` of ``coef`` expanded in ``w`` at 0
    (``sym`` solved from ``w``), or None where the expansion has negative
    powers (a pole, not a removable singularity) or cannot be found.

    The expansion is computed with truncated Laurent series, node by node
    of the expression, over the field of rational functions of the
    parameters and of the exponentials ``E_t = exp(t)`` of the terms ``t``
    of the exponents (sympy's ``series`` on a whole solution of three
    equations takes minutes): a product adds valuations, a sum cancels its
    leading terms exactly (the ``0/0`` of the generic form), a quotient
    divides by the leading term, and ``exp(a_0 + r(w)) = exp(a_0) exp(r(w))``."""
    import sympy

    W = sympy.Dummy("w")
    solutions = [x for x in sympy.solve(sympy.Eq(w, W), sym) if sympy.simplify(x.subs(W, 0) - root) == 0]
    if not solutions:
        return None
    # the numerator's leading terms cancel to the order of the pole of the generic form
    pole = 0
    for p in coef.atoms(sympy.Pow):
        if p.exp.is_Integer and p.exp < 0 and not isinstance(p.base, sympy.exp):
            for f, k in sympy.factor_list(p.base)[1]:
                if sym in f.free_symbols and sympy.simplify(f.subs(sym, root)) == 0:
                    pole += -int(p.exp) * k
    expr = coef.subs(sym, solutions[0])
    try:
        field = _ExpField(expr, W)
        for spare in (pole + 1, 2 * pole + 4):
            valuation, coeffs = _laurent(expr, W, order + 1 + spare, field)
            if valuation < 0:
                return None  # a pole, not a removable singularity
            if valuation + len(coeffs) >= order + 1:
                coeffs = [field.K.zero] * valuation + coeffs
                return [field.to_sympy(c) for c in coeffs[:order + 1]]
    except (ValueError, sympy.PolynomialError, sympy.polys.polyerrors.CoercionFailed) as err:
        LOG.debug("no expansion in %s: %s", w, err)
    return None


class _ExpField:
    """Rational functions of the parameters and of ``E_t = exp(t)``, ``t``
    the terms (up to integer factors) of the exponents at ``w = 0``."""

    def __init__(self, expr, W):
        import sympy
        from sympy import QQ

        self.W = W
        self.scales = {}  # exponent term -> symbol standing for its exponential
        for atom in expr.atoms(sympy.exp):
            self.power_product(sympy.cancel(atom.args[0].subs(W, 0)))
        params = sorted(expr.free_symbols - {W}, key=str)
        self.K = QQ.frac_field(*params, *self.scales.values())

    def power_product(self, a0):
        """``exp(a0)`` as a product of integer powers of the scale symbols."""
        import sympy

        out = sympy.Integer(1)
        for term in sympy.Add.make_args(sympy.expand(a0)):
            if term == 0:
                continue
            c, t = term.as_coeff_Mul()
            if not c.is_Integer:
                raise ValueError(f"exponent term {term} has a fractional factor")
            if t not in self.scales:
                if hasattr(self, "K"):
                    raise ValueError(f"unexpected exponent term {t}")
                self.scales[t] = sympy.Dummy("E", positive=True)
            out *= self.scales[t] ** int(c)
        return out

    def lift(self, e):
        """A W-free sympy expression as an element of the field."""
        import sympy

        e = e.xreplace({a: self.power_product(sympy.cancel(a.args[0])) for a in e.atoms(sympy.exp)})
        return self.K.from_sympy(e)

    def exp(self, a0):
        """``exp(a0)`` of a field element ``a0`` (a combination of the exponent terms)."""
        import sympy

        return self.K.from_sympy(self.power_product(sympy.cancel(self.K.to_sympy(a0))))

    def to_sympy(self, c):
        import sympy

        back = {s: sympy.exp(t) for t, s in self.scales.items()}
        num, den = sympy.fraction(self.K.to_sympy(c))
        return sympy.factor_terms(sympy.factor(num).xreplace(back) / sympy.factor(den).xreplace(back))


def _laurent(expr, W, terms, field):
    """``expr`` as ``W^v (c_0 + c_1 W + ...)``: (v, [c_0, ...]) with
    coefficients in ``field``, ``c_0 != 0``, as many as are known from
    ``terms`` per factor; ValueError where a node has no such expansion."""
    import sympy

    K = field.K
    zero, one = K.zero, K.one

    def normal(v, c):
        while c and c[0] == 0:
            c, v = c[1:], v + 1
        if not c:
            raise ValueError("all known terms cancel")
        return v, c

    def mul(a, b):
        (va, ca), (vb, cb) = a, b
        n = min(len(ca), len(cb))
        return va + vb, [sum((ca[i] * cb[k - i] for i in range(k + 1) if ca[i] and cb[k - i]), zero)
                         for k in range(n)]

    def inverse(a):
        v, c = a
        out = [one / c[0]]
        for k in range(1, len(c)):
            out.append(-sum((c[i] * out[k - i] for i in range(1, k + 1)), zero) / c[0])
        return -v, out

    def add(parts):
        v = min(p[0] for p in parts)
        known = min(p[0] + len(p[1]) for p in parts) - v
        total = [zero] * known
        for pv, pc in parts:
            for k, x in enumerate(pc):
                if pv - v + k < known:
                    total[pv - v + k] += x
        return normal(v, total)

    def series(e):
        if W not in e.free_symbols:
            return normal(0, [field.lift(e)] + [zero] * (terms - 1))
        if e == W:
            return 1, [one] + [zero] * (terms - 1)
        if e.is_Add:  # the terms without w as one
            fixed = [a for a in e.args if W not in a.free_symbols]
            parts = [series(a) for a in e.args if W in a.free_symbols]
            return add(parts + ([series(sympy.Add(*fixed))] if fixed else []))
        if e.is_Mul:  # the factors without w as one
            fixed = sympy.Mul(*[a for a in e.args if W not in a.free_symbols])
            scale = field.lift(fixed)
            if scale == 0:
                raise ValueError("a factor is 0")
            out = None
            for a in e.args:
                if W in a.free_symbols:
                    out = series(a) if out is None else mul(out, series(a))
            return out[0], [scale * x for x in out[1]]
        if e.is_Pow and e.exp.is_Integer:
            base = series(e.base)
            out = (0, [one] + [zero] * (len(base[1]) - 1))
            for _ in range(abs(int(e.exp))):
                out = mul(out, base)
            return inverse(out) if e.exp < 0 else out
        if isinstance(e, sympy.exp):
            try:
                v, c = series(e.args[0])
            except ValueError:  # the exponent is 0 to the known order
                v, c = 0, [zero] * terms
            if v < 0:
                raise ValueError("an exponent with a pole")
            c = ([zero] * v + c)[:len(c)]
            rest = [zero] + c[1:]
            out = [one] + [zero] * (len(c) - 1)
            term = list(out)
            for k in range(1, len(c)):
                _, term = mul((0, term), (0, rest))
                term = [x / k for x in term]
                out = [x + y for x, y in zip(out, term, strict=True)]
            scale = field.exp(c[0])
            return normal(0, [scale * x for x in out])
        raise ValueError(f"no expansion for {e}")

    return series(expr)


def _horner(coeffs, w):
    """``sum_k coeffs[k] w^k`` as ``c_0 + w (c_1 + w (c_2 + ...))``."""
    out = coeffs[-1]
    for c in reversed(coeffs[:-1]):
        out = c + w * out
    return out


def _regular_coefficient(coef, ctx, depth=0):
    """``coef`` (a function of the parameters) with its removable
    singularities replaced by the blend of the module docstring.

    With conditions 1..m (switches ``s_j``, Taylor branches ``T_j``) the
    result is ``G (1-s_1)...(1-s_m) + sum_j s_j (1-s_1)...(1-s_{j-1}) T_j``:
    the first condition that holds picks its branch.  ``T_j`` is rewritten
    in the same way for the conditions that remain in it."""
    import sympy

    conditions, bases = _conditions(coef, ctx)
    if not conditions or depth > 4:
        return coef
    switches, branches = [], []
    for case, factor in conditions:
        sym, root = _solve_for(factor)
        case_coef = coef.xreplace(case) if case else coef
        w = _exponent_difference(case_coef, sym, root) if sym is not None else None
        taylor = _taylor(case_coef, sym, root, w, ctx.order) if w is not None else None
        if taylor is None:
            LOG.warning("the exact solution divides by %s, which can vanish, and has no expansion there: "
                        "left as it is", factor)
            switches.append(None)
            branches.append(None)
            continue
        switches.append(_indicator(case) * ctx.switch(w))
        # each coefficient is analytic (a derivative of one): rewritten on its own
        branches.append(_horner([_regular_coefficient(c, ctx, depth + 1) for c in taylor], w))
    if all(s is None for s in switches):
        return coef
    powers = {}
    for base, which in bases.items():
        guard = sympy.Add(*[switches[j] for j in sorted(set(which)) if switches[j] is not None])
        if guard != 0:
            safe = base + guard * (sympy.Abs(base) + 1)
            powers.update({p: sympy.Pow(safe, p.exp) for p in coef.atoms(sympy.Pow)
                           if p.base == base and p.exp.is_negative})
    out, keep = [], sympy.Integer(1)
    for s, branch in zip(switches, branches, strict=True):
        if s is not None:
            out.append(s * keep * branch)
            keep = keep * (1 - s)
    return coef.xreplace(powers) * keep + sympy.Add(*out)


def _regular_expression(expr, ctx):
    """``expr`` with its singular coefficients rewritten, its other terms untouched."""
    import sympy

    groups = {}  # state-variable factors -> coefficient terms
    regular = []
    for term in sympy.Add.make_args(expr):
        if not _conditions(term, ctx)[0]:
            regular.append(term)
            continue
        factors = sympy.Mul.make_args(term)
        is_state = [isinstance(f, sympy.Symbol) and f.name in ctx.state_names for f in factors]
        key = tuple(sorted((f for f, st in zip(factors, is_state, strict=True) if st), key=str))
        rest = [f for f, st in zip(factors, is_state, strict=True) if not st]
        groups.setdefault(key, []).append(sympy.Mul(*rest))
    if not groups:
        return expr
    rewritten = [sympy.Mul(*key, _regular_coefficient(sympy.Add(*coefs), ctx)) for key, coefs in groups.items()]
    return sympy.Add(*regular, *rewritten)


def remove_singularities(code, equations, variables, eps, order=TAYLOR_ORDER):
    """Brian2 abstract code ``code`` (from the ``exact`` method for
    ``equations``) rewritten to be right and finite for every parameter
    value: see the module docstring.  Lines without a singular factor are
    returned as they are."""
    from brian2.parsing.sympytools import str_to_sympy, sympy_to_str
    from brian2.utils.stringtools import word_substitute

    ctx = None
    out = []
    for line in code.split("\n"):
        var, sep, expr = line.partition(" = ")
        if not sep or "/" not in expr:
            out.append(line)
            continue
        if ctx is None:
            ctx = _Context(equations, variables, eps, order)
        parsed = str_to_sympy(expr, variables)
        rewritten = _regular_expression(parsed, ctx)
        if rewritten is parsed:
            out.append(line)
            continue
        # the switches are symbols while sympy works (an int() of a
        # comparison would not commute, and would print x**(-1) for 1/x)
        text = word_substitute(sympy_to_str(rewritten), ctx.switch_code)
        out.append(f"{var} = {text}")
    return "\n".join(out)
