"""Equivalent-circuit strings → vectorised impedance models with analytic derivatives.

A circuit string joins elements in series with ``-`` and in parallel with ``p(a, b, ...)``
(``p`` nests). Element names are a type prefix plus a free label: ``R0``, ``CPE1``,
``Wo2``. The string is parsed by a small recursive-descent parser, never by ``eval``.

Every element returns Z(ω) and ∂Z/∂p for its parameters as complex arrays that broadcast
over a leading batch axis, so one call evaluates a whole series of spectra. Series and
parallel nodes combine children with the chain rule (for a parallel node,
∂Z/∂p_i = (Z/Z_i)² ∂Z_i/∂p_i), which gives the fit an exact Jacobian.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import numpy as np

from battlab.errors import InvalidParameterError

__all__ = ["ELEMENTS", "Circuit", "parse_circuit"]

_HALF_PI_J = 0.5j * np.pi
_U_MAX = 300.0  # |sqrt(jωτ)| beyond which tanh(u) == 1 to double precision (avoids overflow)


def _tanh_safe(u):
    # tanh of a complex number with a large real part overflows cosh/sinh in numpy; it is 1.
    big = u.real > 20.0
    out = np.tanh(np.where(big, 0.0, u))
    return np.where(big, 1.0 + 0j, out)


def _r(w, p):
    (R,) = p
    z = R * np.ones_like(w, dtype=complex)
    return z, [np.ones_like(z)]


def _c(w, p):
    (C,) = p
    z = 1.0 / (1j * w * C)
    return z, [-z / C]


def _l(w, p):
    (L,) = p
    jw = 1j * w * np.ones_like(L)
    return jw * L, [jw]


def _cpe(w, p):
    Q, a = p
    ljw = np.log(w) + _HALF_PI_J
    z = np.exp(-a * ljw) / Q
    return z, [-z / Q, -z * ljw]


def _warburg(w, p):
    (s,) = p
    z = s * (1.0 - 1j) / np.sqrt(w)
    return z, [z / s]


def _ws(w, p):
    # finite-length, transmissive ("short") Warburg: R tanh(u)/u, u = sqrt(jωτ)
    R, tau = p
    u = np.sqrt(1j * w * tau)
    t = _tanh_safe(u)
    z = R * t / u
    dz_du = R * ((1.0 - t * t) * u - t) / (u * u)
    return z, [t / u * np.ones_like(R), dz_du * u / (2.0 * tau)]


def _wo(w, p):
    # finite-space, reflective ("open") Warburg: R coth(u)/u
    R, tau = p
    u = np.sqrt(1j * w * tau)
    ct = 1.0 / _tanh_safe(u)
    z = R * ct / u
    dz_du = R * (-(ct * ct - 1.0) * u - ct) / (u * u)
    return z, [ct / u * np.ones_like(R), dz_du * u / (2.0 * tau)]


def _gerischer(w, p):
    R, tau = p
    d = 1.0 + 1j * w * tau
    s = np.sqrt(d)
    z = R / s
    return z, [1.0 / s * np.ones_like(R), -0.5 * z / d * 1j * w]


@dataclass(frozen=True)
class ElementType:
    prefix: str
    description: str
    params: tuple  # (short name, unit, positive)
    func: object


#: Element prefix -> type. Units: Q of a CPE in S·s^α (Ω⁻¹ s^α); σ of W in Ω s^-1/2.
ELEMENTS = {
    "CPE": ElementType("CPE", "constant-phase element 1/(Q (jω)^α)",
                       (("Q", "S_s^a", True), ("alpha", "", False)), _cpe),
    "Ws": ElementType("Ws", "finite-length (short, transmissive) Warburg R·tanh√(jωτ)/√(jωτ)",
                      (("R", "ohm", True), ("tau", "s", True)), _ws),
    "Wo": ElementType("Wo", "finite-space (open, reflective) Warburg R·coth√(jωτ)/√(jωτ)",
                      (("R", "ohm", True), ("tau", "s", True)), _wo),
    "W": ElementType("W", "semi-infinite Warburg σ(1−j)/√ω",
                     (("sigma", "ohm_s^-0.5", True),), _warburg),
    "R": ElementType("R", "resistor", (("", "ohm", True),), _r),
    "C": ElementType("C", "capacitor 1/(jωC)", (("", "F", True),), _c),
    "L": ElementType("L", "inductor jωL", (("", "H", True),), _l),
    "G": ElementType("G", "Gerischer R/√(1+jωτ)", (("R", "ohm", True), ("tau", "s", True)),
                     _gerischer),
}
# Longest prefix first so that "CPE1" is not read as a capacitor "C" named "PE1".
_PREFIXES = sorted(ELEMENTS, key=len, reverse=True)
_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_]*")


@dataclass
class Element:
    name: str
    kind: ElementType
    index: int = 0  # position of its first parameter in the circuit's parameter vector

    @property
    def param_names(self):
        return [f"{self.name}_{p}" if p else self.name for p, _, _ in self.kind.params]


@dataclass
class Node:
    op: str  # "s" series or "p" parallel
    children: list = field(default_factory=list)


class _Parser:
    def __init__(self, text):
        self.text = text
        self.s = re.sub(r"\s+", "", text)
        self.i = 0

    def error(self, what):
        raise InvalidParameterError(
            f"circuit {self.text!r}: {what} at position {self.i + 1}. Write elements in series "
            "with '-' and in parallel with p(a,b), e.g. 'R0-p(R1,CPE1)-W1'; elements: "
            + ", ".join(_PREFIXES) + ".")

    def peek(self):
        return self.s[self.i] if self.i < len(self.s) else ""

    def series(self):
        items = [self.term()]
        while self.peek() == "-":
            self.i += 1
            items.append(self.term())
        return items[0] if len(items) == 1 else Node("s", items)

    def term(self):
        if self.s.startswith("p(", self.i):
            self.i += 2
            items = [self.series()]
            while self.peek() == ",":
                self.i += 1
                items.append(self.series())
            if self.peek() != ")":
                self.error("expected ',' or ')'")
            self.i += 1
            if len(items) < 2:
                self.error("p(...) needs at least two branches")
            return Node("p", items)
        m = _NAME.match(self.s, self.i)
        if not m:
            self.error("expected an element name or p(")
        name = m.group(0)
        for pre in _PREFIXES:
            if name.startswith(pre):
                label = name[len(pre):]
                if label and not re.fullmatch(r"[0-9_]*[A-Za-z0-9_]*", label):
                    continue
                self.i = m.end()
                return Element(name, ELEMENTS[pre])
        self.error(f"unknown element {name!r}")

    def parse(self):
        if not self.s:
            raise InvalidParameterError("the circuit string is empty; try 'R0-p(R1,CPE1)-W1'.")
        node = self.series()
        if self.i != len(self.s):
            self.error(f"unexpected {self.peek()!r}")
        return node


class Circuit:
    """A parsed circuit: parameter names/units and vectorised Z(ω, p) with ∂Z/∂p.

    Parameters are ordered as the elements appear in the string.
    """

    def __init__(self, text: str):
        if not isinstance(text, str):
            raise InvalidParameterError("the circuit must be a string such as 'R0-p(R1,CPE1)'.")
        self.text = text
        self.root = _Parser(text).parse()
        self.elements = []
        self._collect(self.root)
        names = [e.name for e in self.elements]
        dup = sorted({n for n in names if names.count(n) > 1})
        if dup:
            raise InvalidParameterError(
                f"circuit {text!r} uses the element name(s) {dup} more than once; give each "
                "element its own label (R0, R1, ...).")
        k = 0
        self.param_names, self.units, self.positive = [], [], []
        for e in self.elements:
            e.index = k
            for (p, unit, pos), full in zip(e.kind.params, e.param_names):
                self.param_names.append(full)
                self.units.append(unit)
                self.positive.append(pos)
                k += 1
        self.positive = np.array(self.positive)

    def _collect(self, node):
        if isinstance(node, Element):
            self.elements.append(node)
        else:
            for c in node.children:
                self._collect(c)

    @property
    def n_params(self):
        return len(self.param_names)

    @property
    def labelled_names(self):
        """Parameter names with their units, e.g. ``R0_ohm``, ``CPE1_alpha``."""
        return [f"{n}_{u}" if u else n for n, u in zip(self.param_names, self.units)]

    def __repr__(self):
        return f"Circuit({self.text!r})"

    def _eval(self, node, w, p, jac):
        if isinstance(node, Element):
            k = node.index
            vals = [p[..., k + i, None] for i in range(len(node.kind.params))]
            z, d = node.kind.func(w, vals)
            z = np.broadcast_to(z, np.broadcast_shapes(z.shape, w.shape, p.shape[:-1] + (1,)))
            return z, ({k + i: di for i, di in enumerate(d)} if jac else None)
        parts = [self._eval(c, w, p, jac) for c in node.children]
        if node.op == "s":
            z = sum(zc for zc, _ in parts)
            if not jac:
                return z, None
            return z, {k: v for _, dc in parts for k, v in dc.items()}
        inv = sum(1.0 / zc for zc, _ in parts)
        z = 1.0 / inv
        if not jac:
            return z, None
        d = {}
        for zc, dc in parts:
            f = (z / zc) ** 2
            for k, v in dc.items():
                d[k] = f * v
        return z, d

    def impedance(self, frequency_Hz, params, *, jacobian=False):
        """Z at each frequency; ``params`` may carry leading batch axes ``(..., n_params)``.

        Returns Z of shape ``(..., n_freq)`` and, with ``jacobian=True``, also ∂Z/∂p of
        shape ``(..., n_params, n_freq)``.
        """
        f = np.asarray(frequency_Hz, dtype=float)
        p = np.asarray(params, dtype=float)
        if p.shape[-1] != self.n_params:
            raise InvalidParameterError(
                f"circuit {self.text!r} has {self.n_params} parameters {self.param_names}, "
                f"got {p.shape[-1]} values.")
        w = 2.0 * np.pi * f
        with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
            z, d = self._eval(self.root, w, p, jacobian)
        z = np.broadcast_to(z, p.shape[:-1] + (w.shape[-1],)).copy()
        if not jacobian:
            return z
        J = np.empty(z.shape[:-1] + (self.n_params, z.shape[-1]), dtype=complex)
        for k in range(self.n_params):
            J[..., k, :] = d[k]
        return z, J


def parse_circuit(text: str) -> Circuit:
    """Parse a circuit string such as ``'R0-p(R1,CPE1)-W1'`` (raises InvalidParameterError)."""
    return Circuit(text)
