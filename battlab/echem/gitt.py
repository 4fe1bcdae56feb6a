"""Galvanostatic and potentiostatic intermittent titration (GITT, PITT).

GITT
----
A titration unit is a constant-current pulse followed by an open-circuit rest. From
the canonical table (``test_time_s``, ``voltage_V``, ``current_A``) battlab finds the
units itself: rows with |I| at or below a rest threshold are rest; runs of one current
sign whose current stays within ``current_tolerance`` of its median are constant-current
pulses; a pulse that is directly followed by a rest is a titration unit. Impedance rows
(a finite ``frequency_Hz``) are left out first. A leading open-circuit rest gives the
starting equilibrium. Each row's current is the mean over the interval ending at that
row (as cyclers log it), so a pulse switches on at the time of the row before it.

Per pulse (all voltages in V, times in s):

- τ, the pulse duration;
- E(0+): the voltage just after switching on, from a straight-line fit of V against
  √(t − t_on) over the first ``ir_points`` samples, extrapolated to t_on (with
  ``ir_points=1`` it is the first sample);
- IR drop at the start, E(0+) minus the voltage at the end of what came just before
  (the rest, in a regular GITT), and at the end, E_relax(0+) − E(τ) (same extrapolation
  over the first rest samples); resistances are IR/ΔI;
- ΔEt = E(τ) − E(0+): the change during the current flux without the IR drop;
- the OCV point E_relax_end, the voltage at the end of the rest (line fit over its last
  ``end_points`` samples), and ΔEs = E_relax_end − E_before, where E_before is the end
  of the most recent rest before the pulse (the previous relaxation end in a regular
  GITT, the leading OCV rest for the first pulse);
- charge passed q = Σ I·Δt (C), composition x in LixM (x rises on lithiation, i.e.
  negative current: Δx = −q/(z·F·n_B), n_B = m_B/M_B) and a state of charge of the
  titration (0–1 over the range of cumulative charge).

Diffusion coefficients (cm²/s)
------------------------------
Weppner–Huggins, for τ ≪ L²/D and a small composition change per pulse:

    D = 4/(π·τ) · (m_B·V_M/(M_B·S))² · (ΔEs/ΔEt)²

with m_B in g, V_M in cm³/mol, M_B in g/mol, S in cm², τ in s. For a dense electrode
m_B·V_M/(M_B·S) is its thickness L (cm), giving the L² form D = 4·L²/(π·τ)·(ΔEs/ΔEt)².

√t-fit variant: a line V = a + (dE/d√t)·√(t − t_on) is fitted over a user-chosen window
of the pulse (``fit_window``, fractions of τ), and

    D = 4/π · (V_M/(S·F·z))² · (I·(dE/dx)/(dE/d√t))²

with I in A, F = 96485.33 C/mol, dE/dx (V per unit x) the slope of the coulometric
titration curve over the pulse, ΔEs/Δx, and dE/d√t in V/s^½.

Validity
--------
D is reported for every pulse; ``flags`` lists why a value should not be trusted
(``valid`` is False when any flag is set):

- ``sqrt_t_nonlinear``: the slopes of V against √t in the two halves of the fit window
  differ by more than ``linearity_tolerance`` (semi-infinite diffusion, τ ≪ L²/D, or a
  constant OCV slope across the pulse does not hold);
- ``ocv_curvature``: the OCV slope is not constant over the compositions the surface
  sweeps during the pulse (ΔEt/ΔEs pulse widths): the relative change of ΔEs between
  the neighbouring pulses, scaled to that sweep, exceeds ``curvature_tolerance``;
- ``pulse_too_long``: τ·D/L² = 4/π·(ΔEs/ΔEt)² exceeds ``tau_ratio_limit``;
- ``small_delta_Et`` / ``small_delta_Es``: |ΔE| below ``max(min_delta_E_V, 10·noise)``,
  as on two-phase plateaus, where the ratio is noise;
- ``sign_mismatch``: ΔEs and ΔEt of opposite sign;
- ``noisy``: the voltage noise (estimated from the rests) alone makes D uncertain by more
  than ``max_noise_uncertainty`` (relative);
- ``relaxation_incomplete``: the drift at the end of the rest, extended over the rest's
  duration, exceeds 10 % of |ΔEs|;
- ``other_current_before``: current flowed between the previous rest and the pulse;
  ``no_rest_before``: no rest precedes the pulse (ΔEs is then undefined);
- ``data_gap_start`` / ``data_gap_end``: samples are missing across a switch, so that
  IR drop is not instantaneous and is left undefined.

PITT
----
Potential steps are found from jumps of the voltage (≥ ``min_step_V``) between runs of
constant potential carrying current. In the long-time regime of a planar electrode of
thickness L blocked on the back, I(t) ∝ exp(−π²·D·t/(4·L²)); a line is fitted to
ln|I| against time over ``fit_window`` (fractions of the step) and D = −4·L²·slope/π².

References: W. Weppner and R. A. Huggins, J. Electrochem. Soc. 124 (1977) 1569;
C. J. Wen, B. A. Boukamp, R. A. Huggins, W. Weppner, J. Electrochem. Soc. 126 (1979) 2258.
"""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd

from battlab.echem.cycling import clean_timeseries
from battlab.errors import InvalidParameterError, MissingDataError
from battlab.io import schema as S

__all__ = [
    "FARADAY",
    "analyze_gitt",
    "analyze_pitt",
    "find_potential_steps",
    "find_pulses",
    "fit_sqrt_time",
    "ocv_curve",
    "pitt_trace",
    "pulse_trace",
    "sqrt_time_diffusion",
    "weppner_huggins",
    "weppner_huggins_thickness",
]

FARADAY = 96485.33212  # C/mol

_SEGMENT_COLUMNS = ["start", "stop", "kind", "current_A"]


# --------------------------------------------------------------------------- helpers


def _prepare(df):
    """Clean the series and drop impedance rows; return arrays and the frame used."""
    missing = [c for c in S.REQUIRED_COLUMNS if c not in getattr(df, "columns", [])]
    if missing:
        raise MissingDataError(
            f"the table lacks {', '.join(missing)}; GITT/PITT need {', '.join(S.REQUIRED_COLUMNS)}. "
            "Load files with battlab.load so vendor columns are mapped.")
    data = clean_timeseries(df)
    dropped = 0
    if S.FREQUENCY in data:
        f = data[S.FREQUENCY].to_numpy(dtype=float)
        eis = np.isfinite(f) & (f > 0)
        if eis.any():
            dropped = int(eis.sum())
            data = data.loc[~eis].reset_index(drop=True)
    if len(data) < 5:
        raise MissingDataError("the table has fewer than 5 usable rows of time, voltage and current.")
    t = data[S.TEST_TIME].to_numpy(dtype=float)
    v = data[S.VOLTAGE].to_numpy(dtype=float)
    i = data[S.CURRENT].to_numpy(dtype=float)
    return data, t, v, i, dropped


def _rest_threshold(i, rest_current_A):
    if rest_current_A is not None:
        if not rest_current_A >= 0:
            raise InvalidParameterError("rest_current_A must be >= 0.")
        return float(rest_current_A)
    top = np.percentile(np.abs(i), 99) if len(i) else 0.0
    return max(1e-12, 1e-3 * top)


def _segments(i, thr, tol):
    """Runs of rest (0), constant current (±1) or other current (2), as index ranges."""
    state = np.where(i > thr, 1, np.where(i < -thr, -1, 0)).astype(np.int8)
    bounds = np.r_[0, np.flatnonzero(np.diff(state)) + 1, len(state)]
    starts, stops = bounds[:-1], bounds[1:]
    kind = state[starts].astype(np.int8)
    level = np.zeros(len(starts))
    for k in np.flatnonzero(kind != 0):
        a, b = starts[k], stops[k]
        seg = i[a:b]
        core = seg[1:-1] if b - a > 3 else seg  # the switching rows may carry a partial mean
        med = float(np.median(core))
        level[k] = med
        if np.mean(np.abs(core - med) <= tol * abs(med)) < 0.9:
            kind[k] = 2
    return starts, stops, kind, level


def _line(x, y):
    """Least-squares line; returns (intercept, slope). One point: (y, 0). Closed form:
    it runs a few times per pulse, where ``lstsq`` overhead would dominate."""
    n = len(x)
    if n == 1:
        return float(y[0]), 0.0
    xm = x.sum() / n
    ym = y.sum() / n
    dx = x - xm
    sxx = float(np.dot(dx, dx))
    slope = float(np.dot(dx, y - ym)) / sxx if sxx > 0 else 0.0
    return float(ym - slope * xm), slope


def _end_value(t, v, n):
    """Voltage at the last sample, from a line through the last ``n`` samples."""
    n = max(1, min(n, len(t)))
    return _line(t[-n:] - t[-1], v[-n:])[0]


def _start_value(t, v, t0, n, max_fraction=0.1):
    """Voltage extrapolated to ``t0`` along √(t − t0) over the first samples."""
    span = t[-1] - t0
    m = max(1, min(n, int(np.sum(t - t0 <= max_fraction * span))))
    a, _ = _line(np.sqrt(np.maximum(t[:m] - t0, 0.0)), v[:m])
    return a


def _noise(v, segs):
    """Voltage noise (V) from second differences in the last half of rests."""
    starts, stops, kind, _ = segs
    pieces = []
    for a, b in zip(starts[kind == 0], stops[kind == 0]):
        tail = v[(a + b) // 2:b]
        if len(tail) >= 4:
            pieces.append(np.diff(tail, 2))
    if not pieces:
        return 0.0
    d2 = np.concatenate(pieces)
    return float(1.4826 * np.median(np.abs(d2 - np.median(d2))) / np.sqrt(6.0))


def _local_slope(y):
    """d y / d index from a line through 5 neighbours (3 or 2 at the ends)."""
    y = np.asarray(y, dtype=float)
    n = len(y)
    if n < 2:
        return np.zeros(n)
    out = np.gradient(y)
    if n >= 5:
        out[2:-2] = (-2 * y[:-4] - y[1:-3] + y[3:-1] + 2 * y[4:]) / 10.0
    return out


def _check_positive(**values):
    for name, value in values.items():
        if value is None:
            continue
        if not (np.isfinite(value) and value > 0):
            raise InvalidParameterError(f"{name} must be a positive number, not {value!r}.")


def _check_window(fit_window):
    try:
        lo, hi = (float(f) for f in fit_window)
    except (TypeError, ValueError):
        raise InvalidParameterError("fit_window must be two fractions (start, end) of the pulse, e.g. (0.1, 0.9).")
    if not 0.0 <= lo < hi <= 1.0:
        raise InvalidParameterError(f"fit_window must satisfy 0 <= start < end <= 1, not {fit_window!r}.")
    return lo, hi


# --------------------------------------------------------------------------- GITT


def find_pulses(df: pd.DataFrame, *, rest_current_A: float | None = None, current_tolerance: float = 0.05,
                min_pulse_points: int = 3, min_rest_points: int = 3, gap_factor: float = 20.0) -> pd.DataFrame:
    """Find the constant-current pulses that are followed by an open-circuit rest.

    Parameters
    ----------
    df : DataFrame
        Canonical table (``test_time_s``, ``voltage_V``, ``current_A``).
    rest_current_A : float, optional
        |I| at or below this is rest. Default: 0.1 % of the 99th percentile of |I|.
    current_tolerance : float
        A pulse's samples (switching rows aside) stay within this relative distance of
        its median current (90 % of them must).
    min_pulse_points, min_rest_points : int
        Fewest samples a pulse and its rest need.
    gap_factor : float
        A switch with a time step above this many typical sampling intervals is a data
        gap (the IR drop there is not instantaneous).

    Returns
    -------
    DataFrame
        One row per pulse: pulse (1, 2, …), direction ("charge"/"discharge"),
        current_A, tau_s, rest_s, t_on_s (switch-on time), row indices into the cleaned
        table (pulse_first_row, pulse_last_row, rest_first_row, rest_last_row,
        before_rest_last_row or −1, previous_first_row), previous_current_A (level of the
        segment just before: 0 after a rest), other_current_before, gap_start, gap_end.
        ``attrs["battlab"]["gitt_segments"]`` counts pulses without a rest etc.

    Raises
    ------
    MissingDataError
        No current at all, no constant-current pulse, or no pulse followed by a rest;
        the message names what is missing.
    """
    data, t, v, i, dropped = _prepare(df)
    out = _find_pulses(data, t, v, i, dropped, rest_current_A, current_tolerance, min_pulse_points,
                       min_rest_points, gap_factor)
    out.attrs.pop("_segments")
    return out


def _find_pulses(data, t, v, i, dropped, rest_current_A, current_tolerance, min_pulse_points, min_rest_points,
                 gap_factor):
    if not 0 < current_tolerance < 1:
        raise InvalidParameterError("current_tolerance must be between 0 and 1.")
    thr = _rest_threshold(i, rest_current_A)
    starts, stops, kind, level = _segments(i, thr, current_tolerance)
    n = stops - starts
    is_rest = (kind == 0) & (n >= min_rest_points)
    is_pulse = (np.abs(kind) == 1) & (n >= min_pulse_points)
    counts = {"rests": int(is_rest.sum()), "constant_current": int(is_pulse.sum()),
              "other_current": int(np.sum(kind == 2)), "impedance_rows_dropped": dropped}
    if not np.any(kind != 0):
        raise MissingDataError("no current flows in this file (only rest), so there are no GITT pulses; "
                               "is it an open-circuit (OCV) recording?")
    if not is_pulse.any():
        raise MissingDataError(
            "no constant-current pulse found: the current is never constant for "
            f"{min_pulse_points}+ samples (within {current_tolerance:.0%}). GITT needs constant-current "
            "pulses each followed by an open-circuit rest; for potential steps use the PITT analysis.")
    nxt_rest = np.r_[is_rest[1:], False]
    units = np.flatnonzero(is_pulse & nxt_rest)
    counts["pulses_without_rest"] = int(np.sum(is_pulse & ~nxt_rest))
    if len(units) == 0:
        raise MissingDataError(
            f"no open-circuit rest (zero current, {min_rest_points}+ samples) follows any of the "
            f"{counts['constant_current']} constant-current pulses, so there are no relaxations to read "
            "ΔEs and the OCV from. GITT needs each pulse followed by a rest; this looks like continuous "
            "cycling. Use the cycling analysis, or record rests between pulses.")
    def sampling(a, b):  # mean sampling interval of rows a..b-1
        return float((t[b - 1] - t[a]) / (b - a - 1)) if b - a > 1 else 0.0

    rows = []
    rest_idx = np.flatnonzero(is_rest)
    for num, k in enumerate(units, start=1):
        a, b = starts[k], stops[k]  # pulse rows a..b-1
        ra, rb = starts[k + 1], stops[k + 1]
        prev_rests = rest_idx[rest_idx < k]
        before = int(stops[prev_rests[-1]] - 1) if len(prev_rests) else -1
        other = bool(len(prev_rests) and prev_rests[-1] != k - 1)
        t_on = t[a - 1] if a > 0 else t[a]
        # A switch is a data gap when its time step is far above the usual sampling on
        # both sides of it (e.g. another technique ran in between).
        local_p = sampling(a, b)
        prev_a = starts[k - 1] if k > 0 else a
        gap_start = bool(a > 0 and (t[a] - t[a - 1]) > gap_factor * max(local_p, sampling(prev_a, a), 1e-9))
        gap_end = bool((t[ra] - t[b - 1]) > gap_factor * max(local_p, sampling(ra, rb), 1e-9))
        rows.append({"pulse": num, "direction": "charge" if kind[k] > 0 else "discharge",
                     "current_A": level[k], "tau_s": t[b - 1] - t_on, "rest_s": t[rb - 1] - t[b - 1],
                     "t_on_s": t_on, "previous_current_A": level[k - 1] if k > 0 else 0.0,
                     "pulse_first_row": int(a), "pulse_last_row": int(b - 1),
                     "rest_first_row": int(ra), "rest_last_row": int(rb - 1), "before_rest_last_row": before,
                     "previous_first_row": int(prev_a),
                     "other_current_before": other, "gap_start": gap_start, "gap_end": gap_end})
    out = pd.DataFrame(rows)
    out.attrs["battlab"] = {"gitt_segments": counts, "rest_current_A": thr, "current_tolerance": current_tolerance}
    out.attrs["_segments"] = (starts, stops, kind, level)  # reused by analyze_gitt, dropped there
    return out


def weppner_huggins(tau_s, delta_Es_V, delta_Et_V, *, mass_mg, molar_mass_g_mol, molar_volume_cm3_mol,
                    area_cm2):
    """Weppner–Huggins D (cm²/s) = 4/(π·τ)·(m_B·V_M/(M_B·S))²·(ΔEs/ΔEt)².

    ``mass_mg`` (converted to g), ``molar_mass_g_mol``, ``molar_volume_cm3_mol``, ``area_cm2``.

    Examples
    --------
    >>> d = weppner_huggins(600.0, 0.005, 0.02, mass_mg=1.0, molar_mass_g_mol=100.0,
    ...                     molar_volume_cm3_mol=20.0, area_cm2=1.0)
    >>> bool(abs(d - 4 / (3.141592653589793 * 600) * (1e-3 * 20 / 100) ** 2 / 16) < 1e-20)
    True
    """
    _check_positive(mass_mg=mass_mg, molar_mass_g_mol=molar_mass_g_mol, molar_volume_cm3_mol=molar_volume_cm3_mol,
                    area_cm2=area_cm2)
    length_cm = mass_mg * 1e-3 * molar_volume_cm3_mol / (molar_mass_g_mol * area_cm2)
    return weppner_huggins_thickness(tau_s, delta_Es_V, delta_Et_V, thickness_um=length_cm * 1e4)


def weppner_huggins_thickness(tau_s, delta_Es_V, delta_Et_V, *, thickness_um):
    """Weppner–Huggins in the L² form: D (cm²/s) = 4·L²/(π·τ)·(ΔEs/ΔEt)², L in cm."""
    _check_positive(thickness_um=thickness_um)
    L = thickness_um * 1e-4
    tau = np.asarray(tau_s, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        return 4.0 * L ** 2 / (np.pi * tau) * (np.asarray(delta_Es_V, float) / np.asarray(delta_Et_V, float)) ** 2


def sqrt_time_diffusion(current_A, dE_dx_V, dE_dsqrt_t_V_s05, *, molar_volume_cm3_mol, area_cm2, z: int = 1):
    """√t-fit D (cm²/s) = 4/π·(V_M/(S·F·z))²·(I·(dE/dx)/(dE/d√t))².

    I in A, dE/dx in V per unit x, dE/d√t in V/s^½, V_M in cm³/mol, S in cm².
    """
    _check_positive(molar_volume_cm3_mol=molar_volume_cm3_mol, area_cm2=area_cm2, z=z)
    k = molar_volume_cm3_mol / (area_cm2 * FARADAY * z)
    with np.errstate(divide="ignore", invalid="ignore"):
        return 4.0 / np.pi * k ** 2 * (np.asarray(current_A, float) * np.asarray(dE_dx_V, float)
                                       / np.asarray(dE_dsqrt_t_V_s05, float)) ** 2


def fit_sqrt_time(t_from_on_s, voltage_V, tau_s, *, fit_window=(0.1, 0.9)):
    """Line V = a + b·√t over ``fit_window`` (fractions of τ) of one pulse.

    Returns a dict: intercept_V, slope_V_s05 (dE/d√t), r2, n_points and
    slope_ratio (slope of the window's second half / first half; 1 for ideal √t).
    """
    lo, hi = _check_window(fit_window)
    t = np.asarray(t_from_on_s, float)
    v = np.asarray(voltage_V, float)
    sel = (t >= lo * tau_s) & (t <= hi * tau_s * (1 + 1e-9))
    out = {"intercept_V": np.nan, "slope_V_s05": np.nan, "r2": np.nan, "n_points": int(sel.sum()),
           "slope_ratio": np.nan}
    if sel.sum() < 3:
        return out
    x, y = np.sqrt(t[sel]), v[sel]
    a, b = _line(x, y)
    resid = y - (a + b * x)
    ss = float(np.sum((y - y.mean()) ** 2))
    out.update(intercept_V=a, slope_V_s05=b, r2=1.0 - float(np.sum(resid ** 2)) / ss if ss > 0 else np.nan)
    mid = np.sqrt(lo * hi) * tau_s if lo > 0 else 0.5 * hi * tau_s
    first, second = sel & (t <= mid), sel & (t > mid)
    if first.sum() >= 3 and second.sum() >= 3:
        b1 = _line(np.sqrt(t[first]), v[first])[1]
        b2 = _line(np.sqrt(t[second]), v[second])[1]
        out["slope_ratio"] = b2 / b1 if b1 != 0 else np.nan
    return out


def analyze_gitt(df: pd.DataFrame, *, mass_mg: float | None = None, molar_mass_g_mol: float | None = None,
                 molar_volume_cm3_mol: float | None = None, area_cm2: float | None = None,
                 thickness_um: float | None = None, z: int = 1, x_initial: float = 0.0,
                 fit_window=(0.1, 0.9), ir_points: int = 5, end_points: int = 5,
                 rest_current_A: float | None = None, current_tolerance: float = 0.05,
                 linearity_tolerance: float = 0.1, curvature_tolerance: float = 0.06,
                 tau_ratio_limit: float = 0.4, max_noise_uncertainty: float = 0.03,
                 min_delta_E_V: float = 2e-4, gap_factor: float = 20.0) -> pd.DataFrame:
    """Per-pulse GITT quantities and diffusion coefficients (see the module notes).

    Parameters
    ----------
    df : DataFrame
        Canonical table.
    mass_mg, molar_mass_g_mol, molar_volume_cm3_mol, area_cm2 : float, optional
        Active mass m_B (mg), molar mass M_B (g/mol), molar volume V_M (cm³/mol) and
        the electrode/electrolyte contact area S (cm²). The Weppner–Huggins mass form
        and the √t-fit D need all four; x in LixM needs mass and molar mass. Never
        defaulted: without them those columns are NaN.
    thickness_um : float, optional
        Electrode (film) thickness L; adds the L² form.
    z : int
        Charge number of the inserted ion (1 for Li⁺, Na⁺, K⁺).
    x_initial : float
        x in LixM before the first pulse.
    fit_window : (float, float)
        Part of each pulse (fractions of τ) used for the √t fit and the linearity check.
    ir_points, end_points : int
        Samples used to extrapolate E(0+) after a switch and to read end values.
    linearity_tolerance, curvature_tolerance, tau_ratio_limit, min_delta_E_V, max_noise_uncertainty : float
        Validity limits (see the module notes).

    Returns
    -------
    DataFrame
        One row per pulse: pulse, direction, current_A, tau_s, rest_s, t_on_s,
        voltage_before_V, voltage_start_V (E(0+)), voltage_end_V (E(τ)), ocv_V,
        delta_Es_V, delta_Et_V, ir_drop_start_V, ir_drop_end_V, resistance_start_ohm,
        resistance_end_ohm, charge_mAh, cumulative_charge_mAh, soc_start/soc_end,
        x_start/x_end/x_mid, dE_dx_V, dE_dsqrt_t_V_s05, sqrt_t_r2, sqrt_t_slope_ratio,
        ocv_slope_change, diffusion_noise_rel_uncertainty, tau_D_over_L2,
        diffusion_coefficient_cm2_s (Weppner–Huggins, mass form),
        diffusion_coefficient_L_cm2_s (L² form), diffusion_coefficient_sqrt_t_cm2_s,
        flags, valid.

    Examples
    --------
    >>> from battlab.datasets import make_gitt
    >>> demo = make_gitt(n_pulses=5)
    >>> g = demo.truth
    >>> res = analyze_gitt(demo.data, mass_mg=g["active_mass_mg"], molar_mass_g_mol=g["molar_mass_g_mol"],
    ...                    molar_volume_cm3_mol=g["molar_volume_cm3_mol"], area_cm2=g["area_cm2"],
    ...                    x_initial=g["x_initial"])
    >>> len(res)
    5
    """
    _check_positive(mass_mg=mass_mg, molar_mass_g_mol=molar_mass_g_mol, molar_volume_cm3_mol=molar_volume_cm3_mol,
                    area_cm2=area_cm2, thickness_um=thickness_um, z=z)
    lo, hi = _check_window(fit_window)
    if ir_points < 1 or end_points < 1:
        raise InvalidParameterError("ir_points and end_points must be at least 1.")
    data, t, v, i, dropped = _prepare(df)
    pulses = _find_pulses(data, t, v, i, dropped, rest_current_A, current_tolerance, 3, 3, gap_factor)
    noise = _noise(v, pulses.attrs.pop("_segments"))
    dq = i * np.r_[0.0, np.diff(t)]  # C per row (mean current over the interval ending there)

    rec = {k: [] for k in ("voltage_before_V", "voltage_start_V", "voltage_end_V", "ocv_V", "ir_drop_start_V",
                           "ir_drop_end_V", "charge_C", "charge_before_C", "dE_dsqrt_t_V_s05", "sqrt_t_r2",
                           "sqrt_t_slope_ratio", "fit_points", "drift_V")}
    for p in pulses.itertuples(index=False):
        a, b = p.pulse_first_row, p.pulse_last_row + 1
        ra, rb = p.rest_first_row, p.rest_last_row + 1
        tp, vp = t[a:b], v[a:b]
        e_before = _end_value(t[:p.before_rest_last_row + 1], v[:p.before_rest_last_row + 1], end_points) \
            if p.before_rest_last_row >= 0 else np.nan
        # The IR drop at switch-on is measured from the end of whatever came just before
        # (the rest in a regular GITT, or another current step).
        e_prev = _end_value(t[p.previous_first_row:a], v[p.previous_first_row:a], end_points) if a > 0 else np.nan
        e0 = _start_value(tp, vp, p.t_on_s, ir_points) if not p.gap_start else float(vp[0])
        tsq = np.sqrt(np.maximum(tp - p.t_on_s, 0.0))
        n_end = max(1, min(end_points, len(tp) // 5 or 1))
        e_tau = _line(tsq[-n_end:] - tsq[-1], vp[-n_end:])[0]
        e_relax0 = _start_value(t[ra:rb], v[ra:rb], t[b - 1], ir_points) if not p.gap_end else np.nan
        ocv = _end_value(t[ra:rb], v[ra:rb], end_points)
        # Drift over the last fifth of the rest, extrapolated over the rest's length.
        tail = slice(ra + (rb - ra) * 4 // 5, rb)
        slope = _line(t[tail] - t[tail][-1], v[tail])[1] if rb - ra >= 10 else np.nan
        fit = fit_sqrt_time(tp - p.t_on_s, vp, p.tau_s, fit_window=(lo, hi))
        rec["voltage_before_V"].append(e_before)
        rec["voltage_start_V"].append(e0)
        rec["voltage_end_V"].append(e_tau)
        rec["ocv_V"].append(ocv)
        rec["ir_drop_start_V"].append(e0 - e_prev if not p.gap_start else np.nan)
        rec["ir_drop_end_V"].append(e_relax0 - e_tau)
        rec["charge_C"].append(float(dq[a:b].sum()))
        rec["charge_before_C"].append(float(dq[:a].sum()))
        rec["dE_dsqrt_t_V_s05"].append(fit["slope_V_s05"])
        rec["sqrt_t_r2"].append(fit["r2"])
        rec["sqrt_t_slope_ratio"].append(fit["slope_ratio"])
        rec["fit_points"].append(fit["n_points"])
        rec["drift_V"].append(abs(slope) * p.rest_s if np.isfinite(slope) else np.nan)

    r = pulses[["pulse", "direction", "current_A", "tau_s", "rest_s", "t_on_s"]].copy()
    for key in ("voltage_before_V", "voltage_start_V", "voltage_end_V", "ocv_V"):
        r[key] = np.array(rec[key], dtype=float)
    r["delta_Es_V"] = r["ocv_V"] - r["voltage_before_V"]
    r["delta_Et_V"] = r["voltage_end_V"] - r["voltage_start_V"]
    r["ir_drop_start_V"] = np.array(rec["ir_drop_start_V"], dtype=float)
    r["ir_drop_end_V"] = np.array(rec["ir_drop_end_V"], dtype=float)
    cur = r["current_A"].to_numpy()
    with np.errstate(divide="ignore", invalid="ignore"):
        r["resistance_start_ohm"] = r["ir_drop_start_V"] / (cur - pulses["previous_current_A"].to_numpy())
    r["resistance_end_ohm"] = -r["ir_drop_end_V"] / cur
    charge = np.array(rec["charge_C"])
    before = np.array(rec["charge_before_C"])
    r["charge_mAh"] = charge / 3.6
    r["cumulative_charge_mAh"] = (before + charge) / 3.6
    all_cum = np.r_[0.0, before, before + charge]
    span = all_cum.max() - all_cum.min()
    if span > 0:
        r["soc_start"] = (before - all_cum.min()) / span
        r["soc_end"] = (before + charge - all_cum.min()) / span
    else:
        r["soc_start"] = r["soc_end"] = np.nan
    if mass_mg is not None and molar_mass_g_mol is not None:
        n_b = mass_mg * 1e-3 / molar_mass_g_mol
        r["x_start"] = x_initial - before / (z * FARADAY * n_b)
        r["x_end"] = x_initial - (before + charge) / (z * FARADAY * n_b)
        r["x_mid"] = 0.5 * (r["x_start"] + r["x_end"])
        dx = np.abs(charge) / (z * FARADAY * n_b)
        with np.errstate(divide="ignore", invalid="ignore"):
            r["dE_dx_V"] = np.abs(r["delta_Es_V"]) / dx
    else:
        for col in ("x_start", "x_end", "x_mid", "dE_dx_V"):
            r[col] = np.nan
    r["dE_dsqrt_t_V_s05"] = np.array(rec["dE_dsqrt_t_V_s05"], dtype=float)
    r["sqrt_t_r2"] = np.array(rec["sqrt_t_r2"], dtype=float)
    r["sqrt_t_slope_ratio"] = np.array(rec["sqrt_t_slope_ratio"], dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        r["tau_D_over_L2"] = 4.0 / np.pi * (r["delta_Es_V"] / r["delta_Et_V"]) ** 2
    mass_form = None not in (mass_mg, molar_mass_g_mol, molar_volume_cm3_mol, area_cm2)
    r["diffusion_coefficient_cm2_s"] = (
        weppner_huggins(r["tau_s"].to_numpy(), r["delta_Es_V"].to_numpy(), r["delta_Et_V"].to_numpy(),
                        mass_mg=mass_mg, molar_mass_g_mol=molar_mass_g_mol,
                        molar_volume_cm3_mol=molar_volume_cm3_mol, area_cm2=area_cm2)
        if mass_form else np.nan)
    r["diffusion_coefficient_L_cm2_s"] = (
        weppner_huggins_thickness(r["tau_s"].to_numpy(), r["delta_Es_V"].to_numpy(), r["delta_Et_V"].to_numpy(),
                                  thickness_um=thickness_um) if thickness_um is not None else np.nan)
    r["diffusion_coefficient_sqrt_t_cm2_s"] = (
        sqrt_time_diffusion(cur, r["dE_dx_V"].to_numpy(), r["dE_dsqrt_t_V_s05"].to_numpy(),
                            molar_volume_cm3_mol=molar_volume_cm3_mol, area_cm2=area_cm2, z=z)
        if mass_form else np.nan)

    small = max(min_delta_E_V, 10.0 * noise)
    es_all = r["delta_Es_V"].to_numpy()
    et_all = r["delta_Et_V"].to_numpy()
    # Relative change of the OCV slope per pulse (slope of ΔEs over 5 neighbouring pulses,
    # fewer at the ends), times the number of pulse widths the surface composition sweeps.
    with np.errstate(divide="ignore", invalid="ignore"):
        grad = _local_slope(es_all)
        curvature = np.abs(grad / es_all) * np.abs(et_all / es_all)
    r["ocv_slope_change"] = curvature
    # Noise-only relative uncertainty of D: each end value comes from a line through
    # ``end_points`` (or ``ir_points``) samples; ΔE is a difference of two of them.
    sigma = noise * np.sqrt(2.0) * np.sqrt(4.0 / min(end_points, ir_points))
    with np.errstate(divide="ignore", invalid="ignore"):
        unc = 2.0 * np.hypot(sigma / es_all, sigma / et_all)
    r["diffusion_noise_rel_uncertainty"] = unc
    drift = np.array(rec["drift_V"], dtype=float)
    flags = []
    ratios = r["sqrt_t_slope_ratio"].to_numpy()
    tau_ratio = r["tau_D_over_L2"].to_numpy()
    for k, p in enumerate(pulses.itertuples(index=False)):
        f = []
        es, et, ratio = es_all[k], et_all[k], ratios[k]
        if p.before_rest_last_row < 0:
            f.append("no_rest_before")
        if p.other_current_before:
            f.append("other_current_before")
        if p.gap_start:
            f.append("data_gap_start")
        if p.gap_end:
            f.append("data_gap_end")
        if abs(et) < small:
            f.append("small_delta_Et")
        if np.isfinite(es) and abs(es) < small:
            f.append("small_delta_Es")
        if np.isfinite(es) and es * et <= 0:
            f.append("sign_mismatch")
        if not np.isfinite(ratio) or abs(ratio - 1.0) > linearity_tolerance:
            f.append("sqrt_t_nonlinear")
        if not np.isfinite(curvature[k]) or curvature[k] > curvature_tolerance:
            f.append("ocv_curvature")
        if np.isfinite(tau_ratio[k]) and tau_ratio[k] > tau_ratio_limit:
            f.append("pulse_too_long")
        if np.isfinite(unc[k]) and unc[k] > max_noise_uncertainty:
            f.append("noisy")
        if np.isfinite(drift[k]) and np.isfinite(es) and drift[k] > 0.1 * abs(es) and drift[k] > 3 * noise:
            f.append("relaxation_incomplete")
        flags.append(";".join(f))
    r["flags"] = flags
    r["valid"] = r["flags"] == ""
    r.attrs["battlab"] = {
        **pulses.attrs["battlab"], "noise_V": noise, "small_delta_E_V": small, "fit_window": (lo, hi),
        "ir_points": ir_points, "end_points": end_points, "linearity_tolerance": linearity_tolerance,
        "curvature_tolerance": curvature_tolerance, "max_noise_uncertainty": max_noise_uncertainty,
        "tau_ratio_limit": tau_ratio_limit, "z": z, "x_initial": x_initial, "thickness_um": thickness_um,
        "mass_mg": mass_mg, "molar_mass_g_mol": molar_mass_g_mol, "molar_volume_cm3_mol": molar_volume_cm3_mol,
        "area_cm2": area_cm2,
        "initial_ocv_V": r["voltage_before_V"].iat[0] if len(r) else np.nan,
    }
    return r


def pulse_trace(df: pd.DataFrame, results: pd.DataFrame, pulse: int, *, rest_current_A: float | None = None,
                current_tolerance: float = 0.05) -> pd.DataFrame:
    """Samples of one pulse and its rest, with time from switch-on (s) and √t.

    Returns time_s (from switch-on), sqrt_time_s05, voltage_V, current_A and phase
    ("pulse"/"rest").
    """
    if pulse not in set(results["pulse"]):
        raise InvalidParameterError(f"pulse {pulse} does not exist; choose 1–{int(results['pulse'].max())}.")
    data, t, v, i, dropped = _prepare(df)
    thr = results.attrs.get("battlab", {}).get("rest_current_A", rest_current_A)
    pulses = _find_pulses(data, t, v, i, dropped, thr, current_tolerance, 3, 3, 20.0)
    p = pulses.loc[pulses["pulse"] == pulse].iloc[0]
    a, rb = int(p["pulse_first_row"]), int(p["rest_last_row"]) + 1
    ts = t[a:rb] - p["t_on_s"]
    phase = np.where(np.arange(a, rb) <= p["pulse_last_row"], "pulse", "rest")
    return pd.DataFrame({"time_s": ts, "sqrt_time_s05": np.sqrt(np.maximum(ts, 0)), "voltage_V": v[a:rb],
                         "current_A": i[a:rb], "phase": phase})


def ocv_curve(results: pd.DataFrame) -> pd.DataFrame:
    """Quasi-equilibrium OCV from relaxation end points, starting with the initial rest.

    Returns x (NaN without mass/molar mass), soc and ocv_V, one row per equilibrium.
    """
    if results.empty:
        return pd.DataFrame(columns=["x", "soc", "ocv_V"])
    first = {"x": results["x_start"].iat[0], "soc": results["soc_start"].iat[0],
             "ocv_V": results["voltage_before_V"].iat[0]}
    rest = pd.DataFrame({"x": results["x_end"], "soc": results["soc_end"], "ocv_V": results["ocv_V"]})
    out = pd.concat([pd.DataFrame([first]), rest], ignore_index=True)
    return out.dropna(subset=["ocv_V"]).reset_index(drop=True)


# --------------------------------------------------------------------------- PITT


def find_potential_steps(df: pd.DataFrame, *, min_step_V: float = 0.002, hold_tolerance_V: float | None = None,
                         min_points: int = 10, rest_current_A: float | None = None) -> pd.DataFrame:
    """Find potentiostatic steps: runs of constant voltage that carry a current.

    A new step starts where the voltage jumps by at least ``min_step_V`` between samples;
    a run counts when it has ``min_points`` samples, its voltage stays within
    ``hold_tolerance_V`` (default min_step_V/4) of its median and current flows.

    Returns step, potential_V, step_V (change from the previous level), duration_s,
    t_on_s, first_row, last_row and charge_mAh.
    """
    _check_positive(min_step_V=min_step_V)
    _, t, v, i, dropped = _prepare(df)
    tol = hold_tolerance_V if hold_tolerance_V is not None else min_step_V / 4
    thr = _rest_threshold(i, rest_current_A)
    jumps = np.flatnonzero(np.abs(np.diff(v)) >= min_step_V) + 1
    bounds = np.r_[0, jumps, len(v)]
    dq = i * np.r_[0.0, np.diff(t)]
    rows = []
    prev_level = None
    for a, b in itertools.pairwise(bounds):
        level = float(np.median(v[a:b]))
        held = b - a >= min_points and np.mean(np.abs(v[a:b] - level) <= tol) >= 0.95
        flowing = np.abs(i[a:b]).max() > thr
        if held and flowing:
            t_on = t[a - 1] if a > 0 else t[a]
            rows.append({"potential_V": level, "step_V": level - prev_level if prev_level is not None else np.nan,
                         "duration_s": t[b - 1] - t_on, "t_on_s": t_on, "first_row": int(a), "last_row": int(b - 1),
                         "charge_mAh": float(dq[a:b].sum()) / 3.6})
        if held:
            prev_level = level
    if not rows:
        raise MissingDataError(
            f"no potential step found: PITT needs the voltage held constant (within {tol * 1e3:.2g} mV for "
            f"{min_points}+ samples) at levels {min_step_V * 1e3:g} mV or more apart, with current flowing. "
            "For current pulses use the GITT analysis.")
    out = pd.DataFrame(rows)
    out.insert(0, "step", np.arange(1, len(out) + 1))
    out.attrs["battlab"] = {"min_step_V": min_step_V, "hold_tolerance_V": tol, "rest_current_A": thr,
                            "impedance_rows_dropped": dropped}
    return out


def analyze_pitt(df: pd.DataFrame, *, thickness_um: float | None = None, mass_mg: float | None = None,
                 molar_mass_g_mol: float | None = None, molar_volume_cm3_mol: float | None = None,
                 area_cm2: float | None = None, fit_window=(0.4, 0.9), min_step_V: float = 0.002,
                 min_points: int = 10) -> pd.DataFrame:
    """D from the long-time current decay of each potential step.

    The diffusion length L is ``thickness_um`` or, without it, m_B·V_M/(M_B·S) from the
    mass form. A line is fitted to ln|I| against time over ``fit_window`` (fractions of
    the step duration): slope = −π²·D/(4·L²), so D = −4·L²·slope/π² (cm²/s).

    Returns the :func:`find_potential_steps` table plus decay_rate_1_s, fit_r2,
    diffusion_coefficient_cm2_s and flags ("not_decaying", "few_points").
    """
    lo, hi = _check_window(fit_window)
    _check_positive(thickness_um=thickness_um, mass_mg=mass_mg, molar_mass_g_mol=molar_mass_g_mol,
                    molar_volume_cm3_mol=molar_volume_cm3_mol, area_cm2=area_cm2)
    if thickness_um is not None:
        L = thickness_um * 1e-4
    elif None not in (mass_mg, molar_mass_g_mol, molar_volume_cm3_mol, area_cm2):
        L = mass_mg * 1e-3 * molar_volume_cm3_mol / (molar_mass_g_mol * area_cm2)
    else:
        L = None
    steps = find_potential_steps(df, min_step_V=min_step_V, min_points=min_points)
    _, t, _, i, _ = _prepare(df)
    rates, r2s, flags = [], [], []
    for s in steps.itertuples(index=False):
        ts = t[s.first_row:s.last_row + 1] - s.t_on_s
        cur = np.abs(i[s.first_row:s.last_row + 1])
        sel = (ts >= lo * s.duration_s) & (ts <= hi * s.duration_s) & (cur > 0)
        if sel.sum() < 3:
            rates.append(np.nan)
            r2s.append(np.nan)
            flags.append("few_points")
            continue
        y = np.log(cur[sel])
        a, b = _line(ts[sel], y)
        ss = float(np.sum((y - y.mean()) ** 2))
        r2s.append(1.0 - float(np.sum((y - a - b * ts[sel]) ** 2)) / ss if ss > 0 else np.nan)
        rates.append(-b)
        flags.append("" if b < 0 else "not_decaying")
    out = steps.copy()
    out["decay_rate_1_s"] = rates
    out["fit_r2"] = r2s
    out["diffusion_coefficient_cm2_s"] = (4.0 * L ** 2 / np.pi ** 2 * out["decay_rate_1_s"]) if L else np.nan
    out.loc[out["decay_rate_1_s"] <= 0, "diffusion_coefficient_cm2_s"] = np.nan
    out["flags"] = flags
    out["valid"] = out["flags"] == ""
    out.attrs["battlab"] = {**steps.attrs["battlab"], "fit_window": (lo, hi),
                            "diffusion_length_cm": L, "thickness_um": thickness_um}
    return out


def pitt_trace(df: pd.DataFrame, steps: pd.DataFrame, step: int) -> pd.DataFrame:
    """Samples of one potential step: time_s from the step, current_A, abs_current_A, voltage_V."""
    if step not in set(steps["step"]):
        raise InvalidParameterError(f"step {step} does not exist; choose 1–{int(steps['step'].max())}.")
    _, t, v, i, _ = _prepare(df)
    s = steps.loc[steps["step"] == step].iloc[0]
    a, b = int(s["first_row"]), int(s["last_row"]) + 1
    return pd.DataFrame({"time_s": t[a:b] - s["t_on_s"], "current_A": i[a:b], "abs_current_A": np.abs(i[a:b]),
                         "voltage_V": v[a:b]})
