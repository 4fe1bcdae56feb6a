"""Electrochemical impedance: equivalent circuits, Kramers–Kronig checks, DRT, series.

Conventions
-----------
Impedance is complex ``Z = Z' + jZ''`` with Im(Z) in its true sign (negative for a
capacitive arc), as in :mod:`battlab.io.schema`; plots show −Z″ upward. Frequencies are
in Hz, ω = 2πf.

Circuit strings join elements in series with ``-`` and in parallel with ``p(a, b)``, e.g.
``'R0-p(R1,CPE1)-W1'`` (see :mod:`battlab.echem._circuits` for the element list). When a
circuit has several parallel blocks, battlab's convention is that they appear in order
of increasing time constant (the first block is the highest-frequency arc); automatic
initial guesses and series fits keep that order so that R_SEI and R_ct never swap.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from functools import lru_cache

import numpy as np
import pandas as pd
from scipy import optimize

from battlab.echem._circuits import ELEMENTS, Circuit, Element, Node, parse_circuit
from battlab.errors import BattlabWarning, InvalidParameterError, MissingDataError
from battlab.io import schema as S

#: Impedance analysers reach a few tens of MHz; a higher frequency was recorded in mHz.
PLAUSIBLE_MAX_FREQUENCY_HZ = 1e8

__all__ = [
    "ELEMENTS",
    "Circuit",
    "parse_circuit",
    "impedance_from_table",
    "impedance_table",
    "split_spectra",
    "circuit_impedance",
    "guess_parameters",
    "EquivalentCircuit",
    "fit_series",
    "align_series_to_cycling",
    "kramers_kronig",
    "KKResult",
    "drt",
    "DRTResult",
    "diffusion_coefficient_from_warburg",
    "diffusion_coefficient_from_tau",
    "WEIGHTINGS",
]

WEIGHTINGS = ("modulus", "proportional", "unit")
FARADAY_C_MOL = 96485.33212


# --------------------------------------------------------------------------- input


def impedance_from_table(df: pd.DataFrame):
    """Frequency and complex impedance from a table.

    Accepts battlab's canonical columns (``frequency_Hz``, ``z_real_ohm``, ``z_imag_ohm``
    = Im(Z) with its true sign) or EC-Lab's ``freq/Hz``, ``Re(Z)/Ohm``, ``-Im(Z)/Ohm``.
    Rows without a finite frequency (other techniques in the same file) are dropped,
    and the spectrum is returned sorted by decreasing frequency, as measured. A table
    with several sweeps gives all their points together: use :func:`split_spectra`.

    Returns
    -------
    frequency_Hz : (N,) ndarray
    Z : (N,) complex ndarray
    """
    if not isinstance(df, pd.DataFrame):
        raise MissingDataError("impedance_from_table needs a pandas DataFrame; load files with "
                               "battlab.load.")
    if all(c in df.columns for c in S.EIS_COLUMNS):
        f = df[S.FREQUENCY].to_numpy(float)
        z = df[S.Z_REAL].to_numpy(float) + 1j * df[S.Z_IMAG].to_numpy(float)
    elif all(c in df.columns for c in ("freq/Hz", "Re(Z)/Ohm", "-Im(Z)/Ohm")):
        f = df["freq/Hz"].to_numpy(float)
        z = df["Re(Z)/Ohm"].to_numpy(float) - 1j * df["-Im(Z)/Ohm"].to_numpy(float)
    else:
        raise MissingDataError(
            f"no impedance columns found (need {', '.join(S.EIS_COLUMNS)}); this file has "
            f"{list(df.columns)[:8]}... Load an EIS file (PEIS/GEIS, Gamry EIS, CSV) with "
            "battlab.load.")
    return _clean_spectrum(f, z)


def _clean_spectrum(f, z):
    f = np.asarray(f, dtype=float).ravel()
    z = np.asarray(z, dtype=complex).ravel()
    if f.shape != z.shape:
        raise InvalidParameterError(f"frequency ({f.size}) and impedance ({z.size}) differ in length.")
    # |Z| = 0 is not a measurement (and would get infinite weight in every fit)
    mag = np.abs(z)
    top = float(np.max(mag[np.isfinite(mag)], initial=0.0))
    ok = np.isfinite(f) & (f > 0) & np.isfinite(z) & (mag > 1e-12 * top) & (mag > 1e-200)
    if (~ok).any() and ok.any():
        warnings.warn(f"dropped {int((~ok).sum())} rows without a positive frequency or a finite, "
                      "non-zero impedance (|Z| below 1e-12 of the largest counts as zero).", BattlabWarning,
                      stacklevel=3)
    f, z = f[ok], z[ok]
    if f.size < 3:
        raise MissingDataError("the spectrum has fewer than 3 valid points; it cannot be analysed.")
    if f.max() > PLAUSIBLE_MAX_FREQUENCY_HZ:
        warnings.warn(f"frequencies reach {f.max():.3g} Hz, beyond any impedance analyser: the frequency column "
                      "looks like mHz. Divide it by 1000; time constants and capacitances are 1000 times off "
                      "until then.", BattlabWarning, stacklevel=3)
    order = np.argsort(-f, kind="stable")
    return f[order], z[order]


def split_spectra(df: pd.DataFrame, *, min_points: int = 5):
    """Split a table holding several impedance sweeps into spectra.

    Sweeps are told apart by a ``spectrum`` column when there is one, otherwise by the
    frequency jumping back up (a new sweep starts at high frequency again). Rows without
    a frequency (other techniques in the same file) are ignored.

    Returns
    -------
    spectra : list of (frequency_Hz, Z)
        Each sorted from high to low frequency.
    labels : pandas.DataFrame
        One row per spectrum: ``spectrum`` and, when the table has them, the ``soc`` and
        the first ``test_time_s`` of the spectrum.
    """
    if not isinstance(df, pd.DataFrame):
        raise MissingDataError("split_spectra needs a pandas DataFrame; load files with battlab.load.")
    f_all, _ = impedance_from_table(df)  # validates the columns
    del f_all
    if all(c in df.columns for c in S.EIS_COLUMNS):
        f = df[S.FREQUENCY].to_numpy(float)
    else:
        f = df["freq/Hz"].to_numpy(float)
    rows = np.flatnonzero(np.isfinite(f) & (f > 0))
    if "spectrum" in df.columns:
        key = df["spectrum"].to_numpy()[rows]
        starts = np.r_[0, np.flatnonzero(key[1:] != key[:-1]) + 1]
    else:
        fr = f[rows]
        starts = np.r_[0, np.flatnonzero(fr[1:] > 2.0 * fr[:-1]) + 1]
    bounds = np.r_[starts, rows.size]
    spectra, labels = [], []
    for k, (a, b) in enumerate(zip(bounds[:-1], bounds[1:])):
        if b - a < min_points:
            continue
        part = df.iloc[rows[a:b]]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", BattlabWarning)
            spectra.append(impedance_from_table(part))
        lab = {"spectrum": int(part["spectrum"].iloc[0]) if "spectrum" in part else len(labels)}
        for col in ("soc", S.TEST_TIME):
            if col in part.columns:
                lab[col] = float(part[col].iloc[0])
        labels.append(lab)
    if not spectra:
        raise MissingDataError(f"no impedance sweep with at least {min_points} points was found.")
    return spectra, pd.DataFrame(labels)


def impedance_table(frequency_Hz, Z) -> pd.DataFrame:
    """Canonical EIS table (``frequency_Hz``, ``z_real_ohm``, ``z_imag_ohm``) from arrays."""
    z = np.asarray(Z, dtype=complex)
    return pd.DataFrame({S.FREQUENCY: np.asarray(frequency_Hz, float), S.Z_REAL: z.real,
                         S.Z_IMAG: z.imag})


def circuit_impedance(circuit, frequency_Hz, params):
    """Evaluate a circuit: ``params`` is a dict by name or an array ``(..., n_params)``."""
    c = circuit if isinstance(circuit, Circuit) else parse_circuit(circuit)
    if isinstance(params, dict):
        params = _vector_from(c, params, "params", required=True)
    return c.impedance(frequency_Hz, params)


def _name_index(c: Circuit, key):
    for i, (n, ln) in enumerate(zip(c.param_names, c.labelled_names)):
        if key in (n, ln):
            return i
    raise InvalidParameterError(f"circuit {c.text!r} has no parameter {key!r}; its parameters are "
                                f"{c.param_names}.")


def _vector_from(c, values, what, required=False):
    if values is None:
        return None
    if isinstance(values, (dict, pd.Series)):
        out = np.full(c.n_params, np.nan)
        for k, v in dict(values).items():
            out[_name_index(c, k)] = float(v)
        if required and np.isnan(out).any():
            missing = [n for n, v in zip(c.param_names, out) if np.isnan(v)]
            raise InvalidParameterError(f"{what} lacks values for {missing}.")
        return out
    arr = np.asarray(values, dtype=float).ravel()
    if arr.size != c.n_params:
        raise InvalidParameterError(f"{what} needs {c.n_params} values {c.param_names}, got {arr.size}.")
    return arr


# --------------------------------------------------------------------------- guesses


def _hf_intercept(f, z):
    # f sorted descending. Where Im(Z) changes sign near high frequency (inductive cables),
    # the real-axis crossing is the intercept; otherwise the real part at f_max.
    im = z.imag
    cross = np.nonzero((im[:-1] > 0) & (im[1:] <= 0))[0]
    if cross.size and cross[0] < len(f) // 2:
        i = cross[0]
        t = im[i] / (im[i] - im[i + 1])
        return float(z.real[i] + t * (z.real[i + 1] - z.real[i]))
    k = max(1, len(f) // 20)
    return float(np.min(z.real[:k + 1]))


def _walk(node, arc=None, out=None):
    """(element, enclosing parallel node or None) pairs, plus parallel nodes in pre-order."""
    if out is None:
        out = ([], [])
    if isinstance(node, Element):
        out[0].append((node, arc))
        return out
    if node.op == "p":
        out[1].append(node)
        arc = node
    for ch in node.children:
        _walk(ch, arc, out)
    return out


def _arcs_from_data(f, z, n, r_hf):
    """(R, τ) of the n most important relaxations, sorted by τ ascending."""
    if n == 0:
        return []
    tau_lo, tau_hi = 1 / (2 * np.pi * f.max()), 1 / (2 * np.pi * f.min())
    arcs = []
    try:
        res = drt(f, z)
        pk = _main_peaks(res.peaks, f, z, max_arcs=n, min_fraction=0.0)
        arcs = [(float(r), float(t)) for r, t in zip(pk["resistance_ohm"], pk["tau_s"])]
    except Exception:  # noqa: BLE001 - a guess must never fail; fall back below
        arcs = []
    if len(arcs) < n:
        # Spread the missing relaxations over the measured range, sharing the real-part span.
        span = max(float(np.max(z.real) - r_hf), 1e-3 * float(np.max(np.abs(z))))
        taus = np.logspace(np.log10(tau_lo) + 1, np.log10(tau_hi) - 1, n)
        for t in taus:
            if len(arcs) >= n:
                break
            if all(abs(np.log10(t / a[1])) > 0.5 for a in arcs):
                arcs.append((span / n, float(t)))
        while len(arcs) < n:
            arcs.append((span / n, float(np.sqrt(tau_lo * tau_hi))))
    return sorted(arcs, key=lambda a: a[1])


def guess_parameters(circuit, frequency_Hz, Z) -> pd.Series:
    """Starting values read off the spectrum, so a first fit converges without user input.

    - series resistors: the high-frequency real-axis intercept (the first one), small
      otherwise;
    - each parallel block: one relaxation (R, τ) from the distribution of relaxation
      times (DRT peaks; blocks in order of increasing τ), giving R of its resistor and
      C = τ/R or Q = τ^α/R (α = 0.9) of its capacitor or CPE;
    - Warburg σ: −Z″·√ω on the low-frequency tail (exact for a 45° line);
    - series L from a positive Im(Z) at the highest frequency; series C or CPE from the
      lowest frequency.
    """
    c = circuit if isinstance(circuit, Circuit) else parse_circuit(circuit)
    f, z = _clean_spectrum(frequency_Hz, Z)
    w = 2 * np.pi * f
    r_hf = max(_hf_intercept(f, z), 1e-6 * float(np.max(np.abs(z))))
    scale = float(np.max(np.abs(z)))
    pairs, arcs = _walk(c.root)
    relax = dict(zip(map(id, arcs), _arcs_from_data(f, z, len(arcs), r_hf)))
    k = min(5, len(f))
    sigma = float(np.median(np.abs(z.imag[-k:]) * np.sqrt(w[-k:])))
    p = np.empty(c.n_params)
    used_rs = False
    used_r_in = set()
    for el, arc in pairs:
        i, kind = el.index, el.kind.prefix
        if arc is None:
            if kind == "R":
                p[i] = r_hf if not used_rs else 0.05 * r_hf
                used_rs = True
            elif kind == "L":
                p[i] = z.imag[0] / w[0] if z.imag[0] > 0 else 1e-3 * scale / w[0]
            elif kind == "C":
                p[i] = 1.0 / (w[-1] * max(abs(z.imag[-1]), 1e-12))
            elif kind == "CPE":
                p[i], p[i + 1] = 1.0 / (w[-1] ** 0.9 * max(abs(z.imag[-1]), 1e-12)), 0.9
            elif kind == "W":
                p[i] = sigma
            else:  # Ws, Wo, G in series: a low-frequency relaxation
                p[i] = max(float(z.real[-1] - r_hf), 0.1 * scale) / 2
                p[i + 1] = 1.0 / w[-1]
        else:
            R, tau = relax[id(arc)]
            if kind in ("R", "Ws", "Wo", "G"):
                first = id(arc) not in used_r_in
                used_r_in.add(id(arc))
                p[i] = R if first else 0.1 * R
                if kind != "R":
                    p[i + 1] = tau
            elif kind == "C":
                p[i] = tau / R
            elif kind == "CPE":
                p[i], p[i + 1] = tau ** 0.9 / R, 0.9
            elif kind == "W":
                p[i] = sigma
            elif kind == "L":
                p[i] = R * tau
    return pd.Series(p, index=c.param_names, name="initial_guess")


# --------------------------------------------------------------------------- fitting


def _weights(z, weighting):
    if weighting == "modulus":
        m = np.abs(z)
        return m, m
    if weighting == "unit":
        one = np.ones(z.shape)
        return one, one
    if weighting == "proportional":
        floor = 1e-3 * np.abs(z)  # Z'' crosses zero at the intercept: keep weights finite
        return np.maximum(np.abs(z.real), floor), np.maximum(np.abs(z.imag), floor)
    raise InvalidParameterError(f"weighting must be one of {WEIGHTINGS}, not {weighting!r}.")


class EquivalentCircuit:
    """Complex non-linear least-squares fit of an equivalent circuit (fit/predict).

    Parameters
    ----------
    circuit : str
        Circuit string, e.g. ``'R0-p(R1,CPE1)-W1'``.
    initial_guess, frozen, bounds, weighting
        Defaults for :meth:`fit` (see there).

    Attributes (after fit)
    ----------------------
    parameters_ : pandas.Series
        Fitted values, indexed by name with unit (``R0_ohm``, ``CPE1_Q_S_s^a``).
    standard_errors_ : pandas.Series
        1σ standard errors (0 for frozen parameters).
    correlation_ : pandas.DataFrame
        Correlation matrix of the free parameters.
    chi_squared_ : float
        Σ of squared weighted residuals (real and imaginary parts).
    reduced_chi_squared_ : float
        ``chi_squared_ / (2N − n_free)``.
    residuals_ : pandas.DataFrame
        Weighted residuals (Z_data − Z_fit)/w per frequency, real and imaginary.

    Examples
    --------
    >>> import numpy as np
    >>> from battlab.echem.eis import EquivalentCircuit, circuit_impedance
    >>> f = np.logspace(5, -2, 60)
    >>> z = circuit_impedance('R0-p(R1,C1)', f, {'R0': 5, 'R1': 40, 'C1': 2e-5})
    >>> fit = EquivalentCircuit('R0-p(R1,C1)').fit(f, z)
    >>> bool(abs(fit.parameters_['R1_ohm'] - 40) < 1e-3)
    True
    """

    def __init__(self, circuit: str, *, initial_guess=None, frozen=None, bounds=None,
                 weighting: str = "modulus"):
        self.circuit = circuit
        self.circuit_ = parse_circuit(circuit)
        self.initial_guess = initial_guess
        self.frozen = frozen
        self.bounds = bounds
        self.weighting = weighting

    def __repr__(self):
        return f"EquivalentCircuit({self.circuit!r})"

    # -- helpers
    def _frozen_vector(self, frozen, guess):
        c = self.circuit_
        mask = np.zeros(c.n_params, bool)
        vals = guess.copy()
        if frozen is None:
            return mask, vals
        if isinstance(frozen, (list, tuple, set)):
            frozen = {k: None for k in frozen}
        for k, v in dict(frozen).items():
            i = _name_index(c, k)
            mask[i] = True
            if v is not None:
                vals[i] = float(v)
        return mask, vals

    def _bounds(self, bounds):
        c = self.circuit_
        lo = np.where(c.positive, 0.0, -np.inf)
        hi = np.full(c.n_params, np.inf)
        for i, n in enumerate(c.param_names):
            if n.endswith("_alpha"):
                lo[i], hi[i] = 0.0, 1.0
        for k, (a, b) in dict(bounds or {}).items():
            i = _name_index(c, k)
            lo[i] = lo[i] if a is None else float(a)
            hi[i] = hi[i] if b is None else float(b)
        if (lo >= hi).any():
            bad = [n for n, a, b in zip(c.param_names, lo, hi) if a >= b]
            raise InvalidParameterError(f"bounds of {bad} have lower >= upper.")
        return lo, hi

    def _to_theta(self, p):
        c = self.circuit_
        return np.where(c.positive, np.log(np.where(c.positive, p, 1.0)), p)

    def _from_theta(self, th):
        c = self.circuit_
        return np.where(c.positive, np.exp(np.where(c.positive, th, 0.0)), th)

    def fit(self, frequency_Hz, Z, *, weighting: str | None = None, bounds=None, frozen=None,
            initial_guess=None, max_nfev: int | None = None):
        """Fit the circuit to one spectrum.

        Parameters
        ----------
        frequency_Hz : (N,) array_like
        Z : (N,) complex array_like
            Impedance with Im(Z) in its true sign.
        weighting : {'modulus', 'proportional', 'unit'}
            Residuals divided by |Z| (default; every decade counts), by |Z'| and |Z''|
            separately, or not at all.
        bounds : dict, optional
            ``{name: (low, high)}`` in physical units; positive parameters are always > 0
            and CPE α in [0, 1].
        frozen : dict or list, optional
            Parameters held fixed: ``{name: value}`` (value None = keep the guess).
        initial_guess : dict or array_like, optional
            Starting values; missing ones come from :func:`guess_parameters`.

        Notes
        -----
        Residuals are the weighted real and imaginary parts stacked; positive parameters
        are fitted as their logarithms (so they stay positive and scale-free) with the
        analytic Jacobian of the circuit. The optimiser is MINPACK's Levenberg–Marquardt,
        or scipy's bounded trust-region method when the optimum would leave the bounds.
        Standard errors: s²(JᵀJ)⁻¹ with s² = χ²/(2N − n_free), mapped back to physical
        units (delta method).
        """
        c = self.circuit_
        weighting = weighting or self.weighting
        bounds = self.bounds if bounds is None else bounds
        frozen = self.frozen if frozen is None else frozen
        initial_guess = self.initial_guess if initial_guess is None else initial_guess
        f, z = _clean_spectrum(frequency_Hz, Z)
        if f.size * 2 <= c.n_params:
            raise MissingDataError(f"{f.size} frequencies cannot determine {c.n_params} parameters.")
        wr, wi = _weights(z, weighting)
        user = _vector_from(c, initial_guess, "initial_guess")
        if user is None or np.isnan(user).any():  # the spectrum-based guess only when needed
            guess = guess_parameters(c, f, z).to_numpy()
            guess = guess if user is None else np.where(np.isnan(user), guess, user)
        else:
            guess = user
        fmask, guess = self._frozen_vector(frozen, guess)
        lo, hi = self._bounds(bounds)
        bad = c.positive & ~(guess > 0)
        if bad.any():
            raise InvalidParameterError(f"parameters {list(np.array(c.param_names)[bad])} must be > 0.")
        guess = np.clip(guess, np.where(np.isfinite(lo), lo, -np.inf), hi)
        free = ~fmask
        if not free.any():
            raise InvalidParameterError("every parameter is frozen; free at least one to fit.")
        th_all = self._to_theta(guess)
        with np.errstate(divide="ignore"):
            tlo = np.where(c.positive, np.log(np.maximum(lo, 0.0)), lo)
            thi = np.where(c.positive, np.log(hi), hi)
        # stay strictly inside the bounds (least_squares needs a feasible start)
        span = np.where(np.isfinite(thi - tlo), thi - tlo, 1.0)
        th_all = np.clip(th_all, tlo + 1e-9 * span, thi - 1e-9 * span)
        pos = c.positive

        def full(th_free):
            th = th_all.copy()
            th[free] = th_free
            return th

        def resid(th_free):
            p = self._from_theta(full(th_free))
            zm = c.impedance(f, p)
            d = zm - z
            return np.concatenate([d.real / wr, d.imag / wi])

        def jac(th_free):
            p = self._from_theta(full(th_free))
            _, J = c.impedance(f, p, jacobian=True)
            J = J[free] * np.where(pos, p, 1.0)[free, None]  # ∂/∂ln p = p ∂/∂p
            return np.concatenate([J.real / wr, J.imag / wi], axis=1).T

        x0 = th_all[free]
        if not np.isfinite(resid(x0)).all():
            raise InvalidParameterError("the starting values give a non-finite impedance; give an "
                                        "initial_guess with sensible magnitudes.")
        lo_f, hi_f = tlo[free], thi[free]
        budget = max_nfev or 100 * (x0.size + 1)
        with np.errstate(over="ignore", invalid="ignore"):
            # MINPACK's unbounded Levenberg–Marquardt is several times faster than the
            # bounded trust-region method; use it first and fall back to 'trf' only when
            # its optimum leaves the bounds (e.g. a CPE α above 1).
            try:
                res = optimize.least_squares(resid, x0, jac=jac, method="lm", max_nfev=budget, xtol=1e-12,
                                             ftol=1e-12, gtol=1e-12, x_scale="jac")
                inside = np.isfinite(res.x).all() and (res.x >= lo_f).all() and (res.x <= hi_f).all()
                start = x0 if not np.isfinite(res.x).all() else np.clip(res.x, lo_f, hi_f)
            except (ValueError, np.linalg.LinAlgError):  # non-finite model on the way
                res, inside, start = None, False, x0
            if res is None or not (inside and res.success):
                span_f = span[free]
                res = None
                for s0 in (start, x0):  # from where LM got to, else from the initial guess
                    s0 = np.clip(s0, lo_f + 1e-9 * span_f, hi_f - 1e-9 * span_f)
                    try:
                        res = optimize.least_squares(resid, s0, jac=jac, bounds=(lo_f, hi_f), method="trf",
                                                     x_scale="jac", max_nfev=budget, xtol=1e-12, ftol=1e-12,
                                                     gtol=1e-12)
                        break
                    except (ValueError, np.linalg.LinAlgError):
                        continue
                if res is None:
                    raise InvalidParameterError(
                        f"the fit of {c.text!r} failed numerically (the model became non-finite); try "
                        "other starting values, frozen parameters or a simpler circuit.")
        th = full(res.x)
        th = self._order_blocks(th, fmask)
        self._finish(f, z, th, free, wr, wi, res)
        return self

    def _fit_batch(self, f, Z, P0, *, max_iter: int = 200):
        """Levenberg–Marquardt vectorised over spectra sharing one frequency grid.

        Returns parameters, standard errors, χ² and convergence flags, each with one row
        per spectrum; the objective is that of :meth:`fit` (same weights, transforms,
        bounds and frozen parameters).
        """
        c = self.circuit_
        wr, wi = _weights(Z, self.weighting)
        fmask, _ = self._frozen_vector(self.frozen, P0[0])
        P0 = P0.copy()
        if self.frozen:
            fz = dict(self.frozen) if not isinstance(self.frozen, (list, tuple, set)) else {}
            for k, v in fz.items():
                if v is not None:
                    P0[:, _name_index(c, k)] = float(v)
        lo, hi = self._bounds(self.bounds)
        with np.errstate(divide="ignore"):
            tlo = np.where(c.positive, np.log(np.maximum(lo, 0.0)), lo)
            thi = np.where(c.positive, np.log(hi), hi)
        free = ~fmask
        pos = c.positive
        th = np.clip(self._to_theta(P0), tlo, thi)
        B = Z.shape[0]

        def evaluate(th_b, idx, jac):
            p = self._from_theta(th_b)
            if jac:
                zm, J = c.impedance(f, p, jacobian=True)
            else:
                zm, J = c.impedance(f, p), None
            d = zm - Z[idx]
            r = np.concatenate([d.real / wr[idx], d.imag / wi[idx]], axis=1)
            if not jac:
                return r, None
            J = J[:, free] * np.where(pos, p, 1.0)[:, free, None]
            A = np.concatenate([J.real / wr[idx, None], J.imag / wi[idx, None]], axis=2)
            return r, A  # A: (b, k_free, 2N)

        mu = np.full(B, 1e-3)
        active = np.ones(B, bool)
        cost = np.full(B, np.inf)
        nfev = 0
        eye = np.eye(int(free.sum()))
        with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
            for _ in range(max_iter):
                idx = np.flatnonzero(active)
                if idx.size == 0:
                    break
                r, A = evaluate(th[idx], idx, True)
                nfev += 1
                c0 = np.einsum("bi,bi->b", r, r)
                cost[idx] = c0
                H = np.einsum("bki,bli->bkl", A, A)
                g = np.einsum("bki,bi->bk", A, r)
                dH = np.einsum("bkk->bk", H)
                lhs = H + (mu[idx, None, None] * dH[:, :, None] + 1e-30) * eye
                try:
                    step = -np.linalg.solve(lhs, g[..., None])[..., 0]
                except np.linalg.LinAlgError:
                    step = -np.einsum("bkl,bl->bk", np.linalg.pinv(lhs), g)
                trial = th[idx].copy()
                trial[:, free] = np.clip(trial[:, free] + step, tlo[free], thi[free])
                r1, _ = evaluate(trial, idx, False)
                c1 = np.einsum("bi,bi->b", r1, r1)
                better = np.isfinite(c1) & (c1 < c0)
                th[idx[better]] = trial[better]
                cost[idx[better]] = c1[better]
                mu[idx] = np.where(better, np.maximum(mu[idx] / 3, 1e-12), mu[idx] * 4)
                small = np.max(np.abs(step), axis=1) < 1e-10
                tiny = better & ((c0 - c1) <= 1e-12 * c0)
                done = tiny | (~better & ((mu[idx] > 1e10) | small)) | (c0 < 1e-28)
                active[idx[done]] = False
        converged = ~active
        # statistics as in fit(): χ², covariance from the Jacobian at the optimum
        th = np.array([self._order_blocks(t, fmask) for t in th]) if self._has_groups() else th
        idx = np.arange(B)
        r, A = evaluate(th, idx, True)
        chi = np.einsum("bi,bi->b", r, r)
        dof = max(2 * f.size - int(free.sum()), 1)
        H = np.einsum("bki,bli->bkl", A, A)
        bad = ~np.isfinite(H).all(axis=(1, 2)) | ~np.isfinite(chi)
        H[bad] = np.eye(H.shape[1])
        cov = np.linalg.pinv(H) * (chi / dof)[:, None, None]
        cov[bad] = np.nan
        se_th = np.sqrt(np.clip(np.einsum("bkk->bk", cov), 0, None))
        P = self._from_theta(th)
        SE = np.zeros_like(P)
        SE[:, free] = np.where(pos[free], P[:, free] * se_th, se_th)
        self.n_evaluations_ = nfev
        return P, SE, chi, converged & np.isfinite(chi)

    def _has_groups(self):
        c = self.circuit_
        root = c.root
        if not (isinstance(root, Node) and root.op == "s"):
            return False
        sigs = [tuple(e.kind.prefix for e in ch.children) for ch in root.children
                if isinstance(ch, Node) and ch.op == "p" and all(isinstance(e, Element) for e in ch.children)]
        return len(sigs) != len(set(sigs))

    def _order_blocks(self, th, fmask):
        """Sort structurally identical top-level parallel blocks by τ (fastest first)."""
        c = self.circuit_
        root = c.root
        if not (isinstance(root, Node) and root.op == "s"):
            return th
        groups = {}
        for ch in root.children:
            if isinstance(ch, Node) and ch.op == "p" and all(isinstance(e, Element) for e in ch.children):
                sig = tuple(e.kind.prefix for e in ch.children)
                if set(sig) in ({"R", "C"}, {"R", "CPE"}) and len(sig) == 2:
                    groups.setdefault(sig, []).append(ch)
        p = self._from_theta(th)
        th = th.copy()
        for blocks in groups.values():
            if len(blocks) < 2:
                continue
            idx = [[e.index + j for e in b.children for j in range(len(e.kind.params))] for b in blocks]
            if any(fmask[i].any() for i in map(np.array, idx)):
                continue

            def tau(ix, _p=p):
                # R·C, or (R·Q)^(1/α) for a CPE (the ZARC's characteristic time)
                r = [i for i in ix if c.param_names[i].startswith("R")]
                rest = [i for i in ix if i not in r]
                if len(rest) == 1:
                    return _p[r[0]] * _p[rest[0]]
                return (_p[r[0]] * _p[rest[0]]) ** (1.0 / max(_p[rest[1]], 1e-3))

            order = np.argsort([tau(ix) for ix in idx], kind="stable")
            src = th.copy()
            for dst_ix, k in zip(idx, order):
                th[dst_ix] = src[idx[k]]
        return th

    def _finish(self, f, z, th, free, wr, wi, res):
        c = self.circuit_
        p = self._from_theta(th)
        zm, J = c.impedance(f, p, jacobian=True)
        d = zm - z
        r = np.concatenate([d.real / wr, d.imag / wi])
        chi2 = float(r @ r)
        n_free = int(free.sum())
        dof = max(2 * f.size - n_free, 1)
        Jf = J[free] * np.where(c.positive, p, 1.0)[free, None]
        A = np.concatenate([Jf.real / wr, Jf.imag / wi], axis=1).T
        if np.isfinite(A).all() and np.isfinite(chi2):
            cov = np.linalg.pinv(A.T @ A) * (chi2 / dof)
        else:  # the fit ran off to a degenerate corner: no meaningful errors
            cov = np.full((n_free, n_free), np.nan)
        se_th = np.sqrt(np.clip(np.diag(cov), 0, None))
        se = np.zeros(c.n_params)
        se[free] = np.where(c.positive[free], p[free] * se_th, se_th)
        names = c.labelled_names
        self.frequency_Hz_ = f
        self.Z_ = z
        self.parameters_ = pd.Series(p, index=names, name="value")
        self.standard_errors_ = pd.Series(se, index=names, name="standard_error")
        with np.errstate(invalid="ignore", divide="ignore"):
            corr = cov / np.outer(se_th, se_th)
        fn = [n for n, fr in zip(names, free) if fr]
        self.correlation_ = pd.DataFrame(corr, index=fn, columns=fn)
        self.frozen_ = pd.Series(~free, index=names, name="frozen")
        self.chi_squared_ = chi2
        self.reduced_chi_squared_ = chi2 / dof
        self.residuals_ = pd.DataFrame({S.FREQUENCY: f, "residual_real": -d.real / wr,
                                        "residual_imag": -d.imag / wi})
        self.success_ = bool(res.success) and bool(np.isfinite(p).all() and np.isfinite(chi2))
        self.message_ = str(res.message)
        self.n_evaluations_ = int(res.nfev)
        return self

    def _check(self):
        if not hasattr(self, "parameters_"):
            raise InvalidParameterError("call fit(...) before using the fitted circuit.")

    def predict(self, frequency_Hz) -> np.ndarray:
        """Complex impedance of the fitted circuit at ``frequency_Hz``."""
        self._check()
        f = np.atleast_1d(np.asarray(frequency_Hz, dtype=float))
        return self.circuit_.impedance(f, self.parameters_.to_numpy())

    def summary(self) -> pd.DataFrame:
        """One row per parameter: value, unit, standard error, relative error (%), frozen."""
        self._check()
        c = self.circuit_
        se = self.standard_errors_.to_numpy()
        v = self.parameters_.to_numpy()
        with np.errstate(divide="ignore", invalid="ignore"):
            rel = 100 * se / np.abs(v)
        return pd.DataFrame({"parameter": c.param_names, "unit": c.units, "value": v,
                             "standard_error": se, "relative_error_pct": rel,
                             "frozen": self.frozen_.to_numpy()})


# --------------------------------------------------------------------------- series


def fit_series(frequency_Hz, Z, circuit: str, *, labels=None, label_name: str = "spectrum",
               weighting: str = "modulus", bounds=None, frozen=None, initial_guess=None,
               method: str = "auto", progress=None) -> pd.DataFrame:
    """Fit one circuit to many spectra with warm starts; one row per spectrum.

    ``method='batch'`` (the default when all spectra share one frequency grid) runs a
    Levenberg–Marquardt that is vectorised over the whole series: every spectrum starts
    from the fit of the first one (or ``initial_guess``), and all are iterated together
    with the analytic Jacobian. ``'sequential'`` fits one spectrum after the other, each
    starting from the previous result. Either way, a spectrum whose fit is clearly worse
    than the series' typical χ² is refitted from its neighbour's result and from a fresh
    automatic guess, keeping the best. Identical parallel blocks are kept in order of
    increasing τ, so columns do not swap between arcs.

    Parameters
    ----------
    frequency_Hz : (N,) array_like, or a list of arrays (one per spectrum)
    Z : (M, N) complex array_like, or a list of complex arrays
    labels : (M,) array_like, optional
        SOC, time or cycle of each spectrum, stored in column ``label_name``.
    method : {'auto', 'batch', 'sequential'}
    progress : callable, optional
        Called as ``progress(i, M)`` as spectra are done.

    Returns
    -------
    pandas.DataFrame
        ``label_name``, each parameter (with unit), its ``*_se`` standard error,
        ``chi_squared`` and ``success``.
    """
    zs = [np.asarray(z, dtype=complex) for z in (Z if not isinstance(Z, np.ndarray) or Z.ndim == 2
                                                else [Z])]
    fs = frequency_Hz
    if not isinstance(fs, (list, tuple)):
        fs = [np.asarray(frequency_Hz, float)] * len(zs)
    if len(fs) != len(zs):
        raise InvalidParameterError("give one frequency array, or one per spectrum.")
    if labels is None:
        labels = np.arange(len(zs))
    labels = np.asarray(labels)
    if labels.size != len(zs):
        raise InvalidParameterError(f"{labels.size} labels for {len(zs)} spectra.")
    if method not in ("auto", "batch", "sequential"):
        raise InvalidParameterError("method must be 'auto', 'batch' or 'sequential'.")
    model = EquivalentCircuit(circuit, weighting=weighting, bounds=bounds, frozen=frozen)
    c = model.circuit_
    same_grid = all(np.shape(f) == np.shape(fs[0]) and np.array_equal(f, fs[0]) for f in fs) and \
        all(z.shape == np.shape(fs[0]) for z in zs) and \
        bool(np.all(np.asarray(fs[0]) > 0)) and all(np.isfinite(z).all() for z in zs)
    if method == "batch" and not same_grid:
        raise InvalidParameterError("method='batch' needs every spectrum on the same frequencies.")
    n = len(zs)
    P = np.full((n, c.n_params), np.nan)
    SE = np.full((n, c.n_params), np.nan)
    chi = np.full(n, np.nan)
    ok = np.zeros(n, bool)
    start = None if initial_guess is None else _vector_from(c, initial_guess, "initial_guess")

    def record(k, m):
        P[k], SE[k] = m.parameters_.to_numpy(), m.standard_errors_.to_numpy()
        chi[k], ok[k] = m.chi_squared_, m.success_

    def fit_one(k, guess):
        try:
            model.fit(fs[k], zs[k], initial_guess=guess)
        except InvalidParameterError:
            raise
        except Exception as exc:  # noqa: BLE001 - one bad spectrum must not stop a series
            warnings.warn(f"spectrum {k}: fit failed ({exc}).", BattlabWarning, stacklevel=3)
            return False
        if not np.isfinite(chi[k]) or model.chi_squared_ < chi[k]:
            record(k, model)
        return True

    if same_grid and method in ("auto", "batch") and n > 1:
        if start is None or np.isnan(start).any():
            fit_one(0, start)
            start = P[0] if np.isfinite(P[0]).all() else None
        if start is not None:
            f0, _ = _clean_spectrum(fs[0], zs[0])
            order = np.argsort(-np.asarray(fs[0], float), kind="stable")
            Zs = np.array(zs)[:, order]
            res = model._fit_batch(f0, Zs, np.tile(start, (n, 1)))
            P, SE, chi, ok = res
        if progress is not None:
            progress(n, n)
    else:
        prev = start
        for k in range(n):
            if fit_one(k, prev):
                prev = P[k]
            if progress is not None:
                progress(k + 1, n)
    # Repair: spectra far worse than the series' typical fit get two more starts.
    good = np.isfinite(chi)
    if good.any():
        typical = float(np.median(chi[good]))
        for k in np.flatnonzero(~good | (chi > 4 * max(typical, 1e-30))):
            near = [j for j in (k - 1, k + 1) if 0 <= j < n and np.isfinite(chi[j])]
            for guess in ([P[near[0]]] if near else []) + [None]:
                fit_one(k, guess)
    rows = pd.DataFrame({label_name: labels})
    names = c.labelled_names
    for i, nm in enumerate(names):
        rows[nm] = P[:, i]
    for i, nm in enumerate(names):
        rows[f"{nm}_se"] = SE[:, i]
    rows["chi_squared"] = chi
    rows["success"] = ok & np.isfinite(chi)
    return rows


def align_series_to_cycling(series: pd.DataFrame, cycling: pd.DataFrame, *, time_column: str = S.TEST_TIME,
                            clock_offset_s: float = 0.0, **kwargs) -> pd.DataFrame:
    """Put a series fit on the cycling timeline: cycle, half cycle, charge and SOC per spectrum.

    ``series`` is a :func:`fit_series` table with the start time of each spectrum in
    ``time_column`` (``split_spectra`` labels carry ``test_time_s``); ``cycling`` is the
    canonical cycling table of the same cell. The join is the one the operando sensors
    use (:func:`battlab.sensors.align_to_cycling`; cycler time = spectrum time +
    ``clock_offset_s``; further keywords go there).
    """
    from battlab.sensors import align_to_cycling

    if time_column not in series.columns:
        raise MissingDataError(f"the series table has no {time_column!r} column; fit spectra whose labels "
                               "carry their start time (split_spectra gives test_time_s).")
    table = series.rename(columns={time_column: "sensor_time_s"})
    return align_to_cycling(table, cycling, clock_offset_s=clock_offset_s, **kwargs)


def _snapshot(model):
    return {k: v for k, v in vars(model).items() if k.endswith("_") and not k.startswith("_")}


def _restore(model, snap):
    for k, v in snap.items():
        setattr(model, k, v)


# --------------------------------------------------------------------------- Kramers–Kronig


@dataclass
class KKResult:
    """Outcome of :func:`kramers_kronig` (Lin-KK)."""

    passed: bool
    threshold: float
    rms_residual: float
    max_residual: float
    n_elements: int
    mu: float
    residuals: pd.DataFrame
    Z_fit: np.ndarray
    flags: list = field(default_factory=list)

    @property
    def verdict(self) -> str:
        word = "passes" if self.passed else "FAILS"
        msg = (f"Lin-KK {word}: largest residual {100 * self.max_residual:.2f} % of |Z| "
               f"(threshold {100 * self.threshold:.2f} %), RMS {100 * self.rms_residual:.2f} %, "
               f"{self.n_elements} RC elements (μ = {self.mu:.2f}).")
        return msg + ("" if not self.flags else " Flags: " + "; ".join(self.flags) + ".")


def _lin_kk(w, z, m, wr):
    tau = np.logspace(np.log10(1 / w.max()), np.log10(1 / w.min()), m)
    K = 1.0 / (1.0 + 1j * w[:, None] * tau[None, :])
    # series R, RC elements, L and a series capacitance (1/C free): the capacitance takes
    # the low-frequency capacitive or diffusive tail, which RC elements inside the
    # measured τ range cannot (Schönleber et al., "add_cap")
    A = np.concatenate([np.ones((w.size, 1)), K, 1j * w[:, None], 1 / (1j * w[:, None])], axis=1)
    Aw = np.concatenate([A.real, A.imag]) / np.concatenate([wr, wr])[:, None]
    b = np.concatenate([z.real, z.imag]) / np.concatenate([wr, wr])
    x, *_ = np.linalg.lstsq(Aw, b, rcond=None)
    r = x[1:-2]
    pos = r[r >= 0].sum()
    mu = 1.0 - (np.abs(r[r < 0]).sum() / pos if pos > 0 else 1.0)
    return A @ x, mu


def kramers_kronig(frequency_Hz, Z, *, threshold: float = 0.01, mu_criterion: float = 0.85,
                   max_elements: int | None = None) -> KKResult:
    """Lin-KK validity test (Schönleber et al. 2014).

    The spectrum is fitted, with modulus weighting, by a series resistor, an inductor
    and M RC elements whose time constants are log-spaced from 1/ω_max to 1/ω_min; such
    a model always satisfies the Kramers–Kronig relations. M grows from 3 until
    μ = 1 − Σ|R_k<0| / ΣR_k≥0 drops below ``mu_criterion`` (over-fitting shows up as
    negative resistances). The relative residuals (Z − Z_fit)/|Z| then measure how far
    the data are from any causal, linear, stable system.

    Parameters
    ----------
    threshold : float
        Verdict: the spectrum passes when every real and imaginary relative residual is
        at most this (default 1 % of |Z|). Random noise counts too: a spectrum whose
        noise exceeds about a third of the threshold needs a larger one.

    Returns
    -------
    KKResult
        ``passed``, ``verdict`` text, residual table, number of elements, μ and flags
        (positive Im(Z) at high frequency, inductive loop, high-frequency artefacts,
        low-frequency drift).
    """
    f, z = _clean_spectrum(frequency_Hz, Z)
    if np.unique(f).size < 3:
        raise MissingDataError("the spectrum needs at least 3 distinct frequencies for the KK test.")
    if not threshold > 0:
        raise InvalidParameterError("threshold must be > 0 (a fraction, e.g. 0.01 = 1 %).")
    w = 2 * np.pi * f
    wr = np.abs(z)
    m_max = max_elements or max(3, min(f.size - 2, 2 * f.size // 3))
    m, zf, mu = 3, None, 1.0
    for m in range(3, m_max + 1):
        zf, mu = _lin_kk(w, z, m, wr)
        if mu <= mu_criterion:
            break
    dre, dim = (z.real - zf.real) / wr, (z.imag - zf.imag) / wr
    allr = np.concatenate([dre, dim])
    rms, mx = float(np.sqrt(np.mean(allr ** 2))), float(np.max(np.abs(allr)))
    flags = []
    # Im(Z) > 0 beyond the noise (the threshold, relative to |Z|) on at least two points
    pos = z.imag > threshold * wr
    two = pos & (np.r_[pos[1:], False] | np.r_[False, pos[:-1]])
    head = max(2, f.size // 10)
    if two[:head].any():
        flags.append("inductive high-frequency tail (Im Z > 0; cables or cell inductance)")
    neg = np.nonzero(z.imag < -threshold * wr)[0]
    inner = two.copy()
    inner[: neg[0] if neg.size else f.size] = False
    if inner.any():
        flags.append(f"inductive loop (Im Z > 0 between {f[inner].min():.3g} and "
                     f"{f[inner].max():.3g} Hz)")
    top = f >= f.max() / 10
    if top.sum() >= 2 and (~top).sum() >= 2:
        rt = np.sqrt(np.mean(dre[top] ** 2 + dim[top] ** 2) / 2)
        rb = np.sqrt(np.mean(dre[~top] ** 2 + dim[~top] ** 2) / 2)
        if rt > max(3 * rb, threshold):
            flags.append("high-frequency artefact (residuals in the top decade well above the rest)")
    # lowest decade against the upper half of the spectrum (log scale): drift builds up
    # over the slow points, so the decades just above the lowest are often affected too
    low = f <= f.min() * 10
    upper = f >= np.sqrt(f.min() * f.max())
    if low.sum() >= 2 and upper.sum() >= 2 and not (low & upper).any():
        rl = np.sqrt(np.mean(dre[low] ** 2 + dim[low] ** 2) / 2)
        rh = np.sqrt(np.mean(dre[upper] ** 2 + dim[upper] ** 2) / 2)
        if rl > max(3 * rh, threshold):
            flags.append("low-frequency residuals (the cell drifted during the slow points, or was not "
                         "at steady state)")
    resid = pd.DataFrame({S.FREQUENCY: f, "residual_real": dre, "residual_imag": dim})
    return KKResult(passed=mx <= threshold, threshold=threshold, rms_residual=rms,
                    max_residual=mx, n_elements=m, mu=float(mu), residuals=resid, Z_fit=zf,
                    flags=flags)


# --------------------------------------------------------------------------- DRT


@lru_cache(maxsize=8)
def _rbf_kernels(fwhm_ln: float):
    """Real and imaginary DRT kernels of one Gaussian, tabulated over v = ln(ωτ_m)."""
    h = 0.004
    eps = 2 * np.sqrt(np.log(2)) / fwhm_ln
    s = np.arange(-6 / eps, 6 / eps + h, h)
    phi = np.exp(-(eps * s) ** 2)
    v = np.arange(-40.0, 40.0 + h, h)
    ext = np.arange(v[0] + s[0], v[-1] + s[-1] + h / 2, h)
    kre = 1.0 / (1.0 + np.exp(2 * ext))
    kim = -0.5 / np.cosh(ext)
    gre = np.convolve(kre, phi[::-1], mode="valid")[: v.size] * h
    gim = np.convolve(kim, phi[::-1], mode="valid")[: v.size] * h
    return v, gre, gim, eps


@dataclass
class DRTResult:
    """Outcome of :func:`drt`."""

    tau_s: np.ndarray
    gamma_ohm: np.ndarray
    peaks: pd.DataFrame
    lambda_: float
    lambda_method: str
    R_inf_ohm: float
    L_H: float
    Z_fit: np.ndarray
    frequency_Hz: np.ndarray
    suggested_circuit: str
    gcv: pd.DataFrame | None = None

    def table(self) -> pd.DataFrame:
        """The distribution as a table (``tau_s``, ``gamma_ohm``)."""
        return pd.DataFrame({"tau_s": self.tau_s, "gamma_ohm": self.gamma_ohm})


def drt(frequency_Hz, Z, *, lambda_: float | None = None, points_per_decade: int = 10,
        inductance: bool = True, peak_prominence: float = 0.05) -> DRTResult:
    """Distribution of relaxation times by Tikhonov-regularised non-negative least squares.

    Z(ω) = R∞ + jωL + ∫ γ(ln τ)/(1 + jωτ) d ln τ, with γ a non-negative sum of Gaussians
    on a log-τ grid (``points_per_decade``, one decade beyond the measured range on each
    side) and the fit weighted by 1/|Z|. The penalty is λ‖Dx‖² on the first differences of the Gaussian weights
    (weights expressed relative to the median |Z|, so λ is dimensionless). Without ``lambda_``,
    λ minimises the generalised cross-validation score of the unconstrained problem over
    10⁻⁸…10⁰; the non-negative solution is then computed at that λ.

    Returns
    -------
    DRTResult
        γ on a fine τ grid (Ω per unit ln τ), peaks (τ, frequency, resistance = area under
        the peak between its neighbouring minima), λ, R∞, L, the DRT's reconstruction of
        Z and a suggested circuit (one ``p(R,CPE)`` per main peak in the measured range,
        at most three, plus a Warburg when the low-frequency end is a ~45° line).
    """
    f, z = _clean_spectrum(frequency_Hz, Z)
    if np.unique(f).size < 3:
        raise MissingDataError("the spectrum needs at least 3 distinct frequencies for a DRT.")
    if points_per_decade < 2:
        raise InvalidParameterError("points_per_decade must be >= 2.")
    w = 2 * np.pi * f
    lt_lo, lt_hi = np.log(1 / w.max()) - np.log(10), np.log(1 / w.min()) + np.log(10)
    m = int(np.ceil((lt_hi - lt_lo) / np.log(10) * points_per_decade)) + 1
    y = np.linspace(lt_lo, lt_hi, m)
    dy = y[1] - y[0]
    v, gre, gim, eps = _rbf_kernels(round(float(1.5 * dy), 6))
    arg = y[None, :] + np.log(w)[:, None]
    scale = float(np.median(np.abs(z)))
    wt = np.abs(z)
    A1 = np.concatenate([np.interp(arg, v, gre), np.interp(arg, v, gim)]) * scale
    cols0 = [np.concatenate([np.ones(f.size), np.zeros(f.size)])]
    if inductance:
        cols0.append(np.concatenate([np.zeros(f.size), w]))
    A0 = np.stack(cols0, axis=1)
    W = np.concatenate([wt, wt])
    A0w, A1w = A0 / W[:, None], A1 / W[:, None]
    b = np.concatenate([z.real, z.imag]) / W
    n = b.size
    # Penalty ‖D x‖² with D = first difference (plus the first weight itself, so D is
    # invertible and the problem has a standard form for GCV): smooth, not spiky, γ.
    D = np.eye(m) - np.eye(m, k=-1)
    Linv = np.tril(np.ones((m, m)))
    gcv_table = None
    if lambda_ is None:
        # Project out the unpenalised columns, then GCV via one SVD for all λ.
        q, _ = np.linalg.qr(A0w)
        P = lambda M: M - q @ (q.T @ M)  # noqa: E731
        B = P(A1w) @ Linv
        bb = P(b[:, None])[:, 0]
        U, s, _ = np.linalg.svd(B, full_matrices=False)
        beta = U.T @ bb
        perp = float(bb @ bb - beta @ beta)
        lams = np.logspace(-5, 1, 37)
        filt = lams[:, None] / (s[None, :] ** 2 + lams[:, None])
        rss = (filt ** 2 * beta[None, :] ** 2).sum(1) + max(perp, 0.0)
        dof = n - A0w.shape[1] - (s[None, :] ** 2 / (s[None, :] ** 2 + lams[:, None])).sum(1)
        gcv = n * rss / dof ** 2
        lam = float(lams[int(np.argmin(gcv))])
        method = "GCV"
        gcv_table = pd.DataFrame({"lambda": lams, "gcv": gcv})
    else:
        lam = float(lambda_)
        if not lam > 0:
            raise InvalidParameterError("lambda_ must be > 0 (try 1e-4).")
        method = "user"
    k0 = A0w.shape[1]
    big = np.zeros((n + m, k0 + m))
    big[:n, :k0], big[:n, k0:] = A0w, A1w
    big[n:, k0:] = np.sqrt(lam) * D
    rhs = np.concatenate([b, np.zeros(m)])
    x, _ = optimize.nnls(big, rhs, maxiter=50 * (k0 + m))
    r_inf = float(x[0])
    L = float(x[1]) if inductance else 0.0
    coef = x[k0:] * scale
    z_fit = (A0 @ x[:k0]) + (A1 @ x[k0:])
    z_fit = z_fit[: f.size] + 1j * z_fit[f.size:]
    yf = np.linspace(lt_lo, lt_hi, 20 * (m - 1) + 1)
    gamma = np.exp(-(eps * (yf[:, None] - y[None, :])) ** 2) @ coef
    tau = np.exp(yf)
    peaks = _drt_peaks(tau, yf, gamma, peak_prominence, 1 / w.max(), 1 / w.min())
    suggested = _suggest_circuit(peaks, f, z)
    return DRTResult(tau_s=tau, gamma_ohm=gamma, peaks=peaks, lambda_=lam, lambda_method=method,
                     R_inf_ohm=r_inf, L_H=L, Z_fit=z_fit, frequency_Hz=f,
                     suggested_circuit=suggested, gcv=gcv_table)


def _drt_peaks(tau, y, gamma, prominence, tau_min, tau_max):
    cols = ["tau_s", "frequency_Hz", "resistance_ohm", "gamma_ohm", "in_measured_range"]
    gmax = float(gamma.max()) if gamma.size else 0.0
    if gmax <= 0:
        return pd.DataFrame(columns=cols)
    inside = (tau >= tau_min) & (tau <= tau_max)
    ref = float(gamma[inside].max()) if inside.any() and gamma[inside].max() > 0 else gmax
    from scipy.signal import find_peaks  # heavy module, only needed here

    idx, _ = find_peaks(gamma, prominence=prominence * ref)
    if idx.size == 0:
        return pd.DataFrame(columns=cols)
    # the area of each peak runs between the minima separating it from its neighbours
    bounds = [0]
    for a, b in zip(idx[:-1], idx[1:]):
        bounds.append(a + int(np.argmin(gamma[a:b + 1])))
    bounds.append(gamma.size - 1)
    rows = []
    for k, i in enumerate(idx):
        sl = slice(bounds[k], bounds[k + 1] + 1)
        area = float(np.trapezoid(gamma[sl], y[sl]))
        rows.append({"tau_s": tau[i], "frequency_Hz": 1 / (2 * np.pi * tau[i]),
                     "resistance_ohm": area, "gamma_ohm": gamma[i],
                     "in_measured_range": bool(tau_min <= tau[i] <= tau_max)})
    return pd.DataFrame(rows, columns=cols)


def _has_diffusion_tail(f, z):
    k = min(4, f.size - 1)
    # a 45° low-frequency line (−ΔZ''/ΔZ' ≈ 1 with Z' still growing) means diffusion
    dre, dim = z.real[-1] - z.real[-1 - k], -(z.imag[-1] - z.imag[-1 - k])
    return bool(dre > 0 and 0.5 < dim / dre < 2.0)


def _main_peaks(peaks, f, z, max_arcs=3, min_fraction=0.10):
    """In-range peaks that matter: each ≥ 10 % of their total resistance, at most 3.

    With a diffusion tail, peaks in the lowest two measured decades belong to the
    tail's broad distribution (∝ τ^½), not to arcs, and are dropped.
    """
    if not len(peaks):
        return peaks
    pk = peaks[peaks["in_measured_range"]]
    if _has_diffusion_tail(f, z):
        pk = pk[pk["tau_s"] < 0.01 / (2 * np.pi * f.min())]
    total = float(pk["resistance_ohm"].sum())
    pk = pk[pk["resistance_ohm"] >= min_fraction * total]
    return pk.sort_values("resistance_ohm", ascending=False).head(max_arcs).sort_values("tau_s")


def _suggest_circuit(peaks, f, z):
    n = len(_main_peaks(peaks, f, z))
    parts = ["R0"] + [f"p(R{k},CPE{k})" for k in range(1, n + 1)]
    if _has_diffusion_tail(f, z):
        parts.append(f"W{n + 1}")
    return "-".join(parts)


# --------------------------------------------------------------------------- diffusion


def diffusion_coefficient_from_warburg(sigma_ohm_s05: float, *, molar_volume_cm3_mol: float,
                                       area_cm2: float, dE_dx_V: float,
                                       n_electrons: int = 1) -> float:
    """Chemical diffusion coefficient (cm² s⁻¹) from the Warburg coefficient σ.

    D = ½ · (V_m · dE/dx / (n F A σ))², the semi-infinite diffusion result for an
    insertion electrode (Ho, Raistrick & Huggins 1980), with V_m the molar volume of
    the host (cm³ mol⁻¹), A the electrochemically active area (cm², not the geometric
    footprint of a porous electrode, which overestimates D), and dE/dx the slope of the
    open-circuit voltage against the Li fraction x (V) at the measured state of charge.

    Examples
    --------
    >>> d = diffusion_coefficient_from_warburg(10.0, molar_volume_cm3_mol=20.0,
    ...                                        area_cm2=1.0, dE_dx_V=-1.0)
    >>> f"{d:.3e}"
    '2.148e-10'
    """
    for name, val in (("sigma_ohm_s05", sigma_ohm_s05), ("molar_volume_cm3_mol", molar_volume_cm3_mol),
                      ("area_cm2", area_cm2)):
        if not (np.isfinite(val) and val > 0):
            raise InvalidParameterError(f"{name} must be a positive number, got {val!r}.")
    if not (np.isfinite(dE_dx_V) and dE_dx_V != 0):
        raise InvalidParameterError("dE_dx_V must be a non-zero number (slope of OCV vs x, in V).")
    return 0.5 * (molar_volume_cm3_mol * abs(dE_dx_V)
                  / (n_electrons * FARADAY_C_MOL * area_cm2 * sigma_ohm_s05)) ** 2


def diffusion_coefficient_from_tau(tau_s: float, *, length_cm: float) -> float:
    """Diffusion coefficient (cm² s⁻¹) from the τ of a finite Warburg (Ws or Wo): D = L²/τ.

    ``length_cm`` is the diffusion length (film thickness or particle radius), which the
    fit cannot know; it changes D by its square, so it must be given.
    """
    for name, val in (("tau_s", tau_s), ("length_cm", length_cm)):
        if not (np.isfinite(val) and val > 0):
            raise InvalidParameterError(f"{name} must be a positive number, got {val!r}.")
    return length_cm ** 2 / tau_s
