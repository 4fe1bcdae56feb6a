"""Cyclic voltammetry: sweeps, scan rates, peaks, Randles–Ševčík, b-values, Dunn split.

Sweeps are cut at the vertices of the potential, found as turning points that stand
out by more than a hysteresis (``scipy.signal.find_peaks`` prominence), so noise, the
flat steps of a digital staircase and rounded vertices do not split a sweep. The scan
rate of a sweep is the slope of a straight-line fit of potential against time over its
middle part (the rows near both vertices are left out), which averages over noise and
staircase steps.

Sign convention (:mod:`battlab.io.schema`): oxidation (anodic) current is positive.
An *anodic* sweep goes up in potential, a *cathodic* sweep down. A cycle opens with a
sweep in the direction of the file's first complete sweep.

Equations (planar semi-infinite diffusion, reversible couple):

- Randles–Ševčík: ``ip = 0.4463 n F A C sqrt(n F v D / (R T))``; at 25 °C
  ``ip = 2.69e5 n^{3/2} A C D^{1/2} v^{1/2}`` (A in cm², C in mol/cm³, D in cm²/s,
  v in V/s, ip in A).
- Power law ``|ip| = a v^b``: b ≈ 0.5 diffusion-limited, b ≈ 1 capacitive.
- Dunn decomposition: ``i(E) = k1(E) v + k2(E) v^{1/2}`` fitted at every potential over
  the scan rates (per sweep direction); the capacitive fraction of a cycle is the
  charge of ``k1 v`` over the charge of ``k1 v + k2 v^{1/2}``, each counted in the
  direction of its sweep.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from itertools import pairwise

import numpy as np
import pandas as pd

from battlab.errors import BattlabWarning, InvalidParameterError, MissingDataError
from battlab.io import schema as S

__all__ = [
    "FARADAY",
    "GAS_CONSTANT",
    "RANDLES_SEVCIK_25C",
    "DunnDecomposition",
    "check_cv",
    "dunn_decomposition",
    "find_peaks",
    "label_sweeps",
    "pair_peaks",
    "power_law",
    "randles_sevcik",
    "suggest_windows",
    "summarize_sweeps",
]

FARADAY = 96485.33212  # C/mol
GAS_CONSTANT = 8.314462618  # J/(mol K)
RANDLES_SEVCIK_25C = 2.69e5  # A s^½ / (V^½ mol cm)
DIRECTIONS = {1: "anodic", -1: "cathodic"}

SWEEP, EXPERIMENT, SWEEP_DIR, SCAN_RATE, RATE_GROUP = (
    "sweep", "experiment", "sweep_direction", "scan_rate_mV_s", "scan_rate_group_mV_s")


# --------------------------------------------------------------------------- sweeps


def _as_tables(data):
    if isinstance(data, pd.DataFrame):
        return [data]
    if isinstance(data, (list, tuple)) and data and all(isinstance(d, pd.DataFrame) for d in data):
        return list(data)
    raise InvalidParameterError("give a canonical table (battlab.load(path)) or a list of them, one per file.")


def _vertices(v, hysteresis_V):
    """Indices of the turning points of ``v`` that stand out by > hysteresis."""
    from scipy.signal import find_peaks as _fp

    hi, _ = _fp(v, prominence=hysteresis_V)
    lo, _ = _fp(-v, prominence=hysteresis_V)
    idx = np.r_[hi, lo]
    kind = np.r_[np.ones(len(hi)), -np.ones(len(lo))]
    order = np.argsort(idx, kind="stable")
    idx, kind = idx[order], kind[order]
    keep = []
    for k, s in enumerate(kind):
        # Two maxima in a row (a shoulder): keep the more extreme one.
        if keep and kind[keep[-1]] == s:
            if s * v[idx[k]] > s * v[idx[keep[-1]]]:
                keep[-1] = k
            continue
        keep.append(k)
    return idx[keep]


def _sweep_rate(t, v, edge_fraction, span):
    """Scan rate (V/s) and linearity R² of one sweep, ignoring holds at its ends.

    Rows within 1 % of the potential range of the sweep's first or last potential are
    left out, so a potentiostatic hold (or a rest) at a vertex does not pull the slope.
    """
    tol = max(0.01 * span, 1e-4)
    moving = (np.abs(v - v[0]) > tol) & (np.abs(v - v[-1]) > tol)
    if moving.sum() >= 3:
        return _fit_rate(t[moving], v[moving], edge_fraction)
    return _fit_rate(t, v, edge_fraction)


def _fit_rate(t, v, edge_fraction):
    n = len(t)
    a = int(np.floor(edge_fraction * n))
    b = n - a
    if b - a < 3:
        a, b = 0, n
    tt, vv = t[a:b], v[a:b]
    if len(tt) < 2 or tt[-1] == tt[0]:
        return np.nan, np.nan
    # Closed-form least squares: far cheaper than polyfit on 10^5-row sweeps.
    dt = tt - tt.mean()
    dv = vv - vv.mean()
    sxx = float(dt @ dt)
    sxy = float(dt @ dv)
    syy = float(dv @ dv)
    slope = sxy / sxx
    r2 = sxy * sxy / (sxx * syy) if syy > 0 else np.nan
    return slope, r2


def _group_rates(rates, tolerance):
    """Cluster scan rates that agree within ``tolerance`` (relative) -> group medians (4 digits)."""
    out = np.full(len(rates), np.nan)
    ok = np.flatnonzero(np.isfinite(rates) & (rates > 0))
    if not len(ok):
        return out
    order = ok[np.argsort(rates[ok])]
    log_r = np.log(rates[order])
    breaks = np.r_[0, np.flatnonzero(np.diff(log_r) > np.log1p(tolerance)) + 1, len(order)]
    for a, b in pairwise(breaks):
        members = order[a:b]
        out[members] = float(f"{np.median(rates[members]):.4g}")  # 4 digits: a readable label
    return out


def label_sweeps(data, *, hysteresis_V: float | None = None, edge_fraction: float = 0.1,
                 rate_tolerance: float = 0.05, min_points: int = 5) -> pd.DataFrame:
    """Cut a CV (or a list of CV files) into sweeps and measure each sweep's scan rate.

    Parameters
    ----------
    data : DataFrame or list of DataFrame
        Canonical tables (``battlab.load``); a list means one file per scan rate (or
        any split of one experiment), numbered by ``experiment`` in the order given.
    hysteresis_V : float, optional
        A vertex must stand out from the potential on both sides by more than this.
        Default: 5 % of the potential range of the file (at least 1 mV).
    edge_fraction : float
        Fraction of each sweep's rows left out at both ends when fitting the scan rate.
    rate_tolerance : float
        Sweeps whose rates agree within this relative tolerance share a scan-rate group.
    min_points : int
        Sweeps with fewer rows are dropped (a warning says how many).

    Returns
    -------
    DataFrame
        The rows with ``experiment``, ``sweep`` (1, 2, … over all files),
        ``sweep_direction`` (+1 anodic, −1 cathodic), ``cycle`` (per file: a cycle opens
        with a sweep in the direction of the first sweep), ``scan_rate_mV_s`` (of the
        sweep) and ``scan_rate_group_mV_s``. ``attrs["battlab"]["cv"]`` holds the
        options and ``attrs["battlab"]["sweeps"]`` the :func:`summarize_sweeps` table.

    Examples
    --------
    >>> from battlab.datasets import make_cv
    >>> lab = label_sweeps(make_cv(scan_rates_mV_s=(0.5, 1.0)).data)
    >>> sorted(lab["scan_rate_group_mV_s"].round(3).unique().tolist())
    [0.5, 1.0]
    """
    from battlab.echem.cycling import clean_timeseries

    if not 0 <= edge_fraction < 0.5:
        raise InvalidParameterError("edge_fraction must be in [0, 0.5).")
    if hysteresis_V is not None and not hysteresis_V > 0:
        raise InvalidParameterError("hysteresis_V must be positive.")
    pieces = []
    sweep_no = 0
    dropped = 0
    for k, df in enumerate(_as_tables(data)):
        df = clean_timeseries(df)
        if len(df) < 2 * min_points:
            raise MissingDataError(f"file {k + 1} has {len(df)} usable rows: too few for a voltammogram.")
        t = df[S.TEST_TIME].to_numpy(dtype=float)
        v = df[S.VOLTAGE].to_numpy(dtype=float)
        span = float(v.max() - v.min())
        if span <= 0:
            raise MissingDataError(f"file {k + 1}: the potential never changes, so there is nothing to sweep "
                                   "(is this a potentiostatic hold or an open-circuit file?).")
        hyst = hysteresis_V if hysteresis_V is not None else max(1e-3, 0.05 * span)
        vert = _vertices(v, hyst)
        bounds = np.r_[0, vert, len(v) - 1]
        sweep = np.zeros(len(v), dtype=np.int64)
        direction = np.zeros(len(v), dtype=np.int8)
        rate = np.full(len(v), np.nan)
        first_dir = None
        cycle = np.zeros(len(v), dtype=np.int64)
        n_cycle = 0
        for a, b in pairwise(bounds):
            # The vertex row ends one sweep; the next starts right after it.
            start = a if a == 0 else a + 1
            if b - start + 1 < min_points:
                dropped += 1
                continue
            seg = slice(start, b + 1)
            dv = v[b] - v[start]
            d = 1 if dv > 0 else -1
            slope, _ = _sweep_rate(t[seg], v[seg], edge_fraction, span)
            sweep_no += 1
            full = abs(dv) > 0.5 * span
            if first_dir is None and full:
                first_dir = d
                n_cycle = 1
            elif first_dir is not None and d == first_dir:
                n_cycle += 1
            sweep[seg] = sweep_no
            direction[seg] = d
            rate[seg] = abs(slope) * 1e3
            cycle[seg] = n_cycle
        out = df.copy()
        out.insert(0, EXPERIMENT, k)
        out[SWEEP] = sweep
        out[SWEEP_DIR] = direction
        out[S.CYCLE] = cycle
        out[SCAN_RATE] = rate
        pieces.append(out)
    lab = pd.concat(pieces, ignore_index=True) if len(pieces) > 1 else pieces[0].reset_index(drop=True)
    lab = lab.loc[lab[SWEEP] > 0].reset_index(drop=True)
    if lab.empty:
        raise MissingDataError("no potential sweep found: the potential does not go up or down steadily.")
    if dropped:
        warnings.warn(f"left out {dropped} sweep fragments shorter than {min_points} rows.", BattlabWarning,
                      stacklevel=2)
    first = _as_tables(data)[0]
    lab.attrs = {"battlab": dict(first.attrs.get("battlab", {}))}
    per_sweep = lab.groupby(SWEEP, sort=True)[SCAN_RATE].first()
    groups = pd.Series(_group_rates(per_sweep.to_numpy(), rate_tolerance), index=per_sweep.index)
    lab[RATE_GROUP] = groups.reindex(lab[SWEEP].to_numpy()).to_numpy()
    lab.attrs["battlab"]["cv"] = {"hysteresis_V": hysteresis_V, "edge_fraction": edge_fraction,
                                  "rate_tolerance": rate_tolerance, "min_points": min_points,
                                  "n_experiments": len(pieces)}
    lab.attrs["battlab"]["sweeps"] = summarize_sweeps(lab, _edge=edge_fraction)
    return lab


def _ensure_sweeps(data):
    if isinstance(data, pd.DataFrame) and {SWEEP, SWEEP_DIR, RATE_GROUP} <= set(data.columns):
        return data
    return label_sweeps(data)


def _sweep_bounds(lab):
    """Sweep number -> (first row, end row) of its contiguous block of rows."""
    sw = lab[SWEEP].to_numpy()
    starts = np.r_[0, np.flatnonzero(np.diff(sw)) + 1]
    ends = np.r_[starts[1:], len(sw)]
    return {int(sw[a]): (int(a), int(b)) for a, b in zip(starts, ends)}


def summarize_sweeps(labelled: pd.DataFrame, *, _edge: float | None = None) -> pd.DataFrame:
    """One row per sweep: experiment, sweep, cycle, direction, potentials, scan rate.

    Columns: experiment, sweep, cycle, direction ("anodic"/"cathodic"),
    start_potential_V, end_potential_V, scan_rate_mV_s, scan_rate_group_mV_s,
    linearity_r2 (of potential against time: 1 for a linear sweep), n_points,
    duration_s, charge_C (∫ I dt) and is_complete (spans > 90 % of the file's window).
    """
    lab = _ensure_sweeps(labelled) if _edge is None else labelled
    edge = _edge if _edge is not None else lab.attrs.get("battlab", {}).get("cv", {}).get("edge_fraction", 0.1)
    rows = []
    exp_all = lab[EXPERIMENT].to_numpy()
    t_all = lab[S.TEST_TIME].to_numpy(dtype=float)
    v_all = lab[S.VOLTAGE].to_numpy(dtype=float)
    i_all = lab[S.CURRENT].to_numpy(dtype=float)
    e_starts = np.r_[0, np.flatnonzero(np.diff(exp_all)) + 1]  # files are contiguous blocks
    spans = {int(exp_all[a]): float(np.ptp(v_all[a:b])) for a, b in zip(e_starts, np.r_[e_starts[1:], len(v_all)])}
    cyc_all = lab[S.CYCLE].to_numpy()
    dir_all = lab[SWEEP_DIR].to_numpy()
    rate_all = lab[SCAN_RATE].to_numpy(dtype=float)
    group_all = lab[RATE_GROUP].to_numpy(dtype=float) if RATE_GROUP in lab else np.full(len(lab), np.nan)
    for sw, (a0, b0) in _sweep_bounds(lab).items():
        t, v, i = t_all[a0:b0], v_all[a0:b0], i_all[a0:b0]
        exp = int(exp_all[a0])
        _, r2 = _sweep_rate(t, v, edge, spans[exp])
        rows.append({
            EXPERIMENT: exp, SWEEP: int(sw), "cycle": int(cyc_all[a0]), "direction": DIRECTIONS[int(dir_all[a0])],
            "start_potential_V": v[0], "end_potential_V": v[-1], SCAN_RATE: float(rate_all[a0]),
            RATE_GROUP: float(group_all[a0]), "linearity_r2": r2, "n_points": len(t), "duration_s": t[-1] - t[0],
            "charge_C": float(np.sum(i[1:] * np.diff(t))) if len(t) > 1 else 0.0,
            "is_complete": bool(abs(v[-1] - v[0]) > 0.9 * spans[exp]),
        })
    return pd.DataFrame(rows)


def check_cv(data, *, min_linearity_r2: float = 0.99) -> pd.DataFrame:
    """Label sweeps and refuse data that is not a potential sweep, saying why.

    A file whose reader names another technique (cycling, GITT, impedance, open
    circuit) or whose sweeps are not linear in time raises :class:`MissingDataError`.
    Returns the labelled table otherwise.
    """
    for k, df in enumerate(_as_tables(data)):
        tech = df.attrs.get("battlab", {}).get("technique")
        if tech not in (None, "cv"):
            name = str(df.attrs.get("battlab", {}).get("source_name") or f"file {k + 1}")
            name = name.replace("\\", "/").rsplit("/", 1)[-1]  # the file name, never a server path
            raise MissingDataError(f"{name} is a {tech!r} measurement, not a cyclic voltammogram; "
                                   "load a CV file (potential swept linearly between two vertices).")
    lab = label_sweeps(data)
    sweeps = lab.attrs["battlab"]["sweeps"]
    full = sweeps[sweeps["n_points"] >= 10]
    full = sweeps if full.empty else full  # a coarse CV may have only a few rows per sweep
    if full.empty or np.nanmedian(full["linearity_r2"]) < min_linearity_r2:
        raise MissingDataError("the potential does not change linearly in time, so this is not a cyclic "
                               "voltammogram (a galvanostatic or open-circuit file?). Load a CV file.")
    return lab


# --------------------------------------------------------------------------- peaks


def suggest_windows(data, *, width_fraction: float = 0.1, baseline_fraction: float = 0.05) -> dict:
    """Starting peak and baseline windows around the largest wave of each direction.

    The anodic (cathodic) peak window is centred on the largest (most negative)
    current of the up (down) sweeps, away from the vertices, ``width_fraction`` of the
    potential range to each side; the baseline window is the ``baseline_fraction``
    of the range just before it in the sweep direction. A guess to adjust, not a
    peak assignment.

    Returns
    -------
    dict
        ``anodic_window_V``, ``cathodic_window_V``, ``anodic_baseline_V``,
        ``cathodic_baseline_V`` as (low, high) tuples.
    """
    lab = _ensure_sweeps(data)
    e_lo, e_hi = float(lab[S.VOLTAGE].min()), float(lab[S.VOLTAGE].max())
    span = e_hi - e_lo
    out = {}
    for d, name in ((1, "anodic"), (-1, "cathodic")):
        sub = lab.loc[lab[SWEEP_DIR] == d]
        inner = sub.loc[(sub[S.VOLTAGE] > e_lo + 0.05 * span) & (sub[S.VOLTAGE] < e_hi - 0.05 * span)]
        if inner.empty:
            centre = e_lo + 0.5 * span
        else:
            centre = float(inner[S.VOLTAGE].iloc[int((d * inner[S.CURRENT]).to_numpy().argmax())])
        lo, hi = max(e_lo, centre - width_fraction * span), min(e_hi, centre + width_fraction * span)
        out[f"{name}_window_V"] = (lo, hi)
        if d == 1:
            out["anodic_baseline_V"] = (max(e_lo, lo - baseline_fraction * span), lo)
        else:
            out["cathodic_baseline_V"] = (hi, min(e_hi, hi + baseline_fraction * span))
    return out


def _baseline(v, i, d, *, mode, window_V, points_V):
    """Baseline current on the sweep's potentials (a straight line in E)."""
    if mode == "none":
        return np.zeros_like(i), "none"
    if mode == "points":
        if points_V is None or len(points_V) != 2 or points_V[0] == points_V[1]:
            raise InvalidParameterError("baseline='points' needs baseline_points_V=(E1, E2), two different "
                                        "potentials.")
        e = np.asarray(points_V, dtype=float)
        order = np.argsort(v)
        ie = np.interp(e, v[order], i[order])
        for k, ek in enumerate(e):
            near = np.abs(v - ek) <= 0.0025  # average the rows within ±2.5 mV: one row is noisy
            if near.sum() >= 2:
                ie[k] = i[near].mean()
        slope = (ie[1] - ie[0]) / (e[1] - e[0])
        return ie[0] + slope * (v - e[0]), f"through points {e[0]:.4g} V, {e[1]:.4g} V"
    lo, hi = sorted(window_V)
    m = (v >= lo) & (v <= hi)
    if m.sum() < 3:
        raise MissingDataError(f"the baseline window {lo:.3f}–{hi:.3f} V holds fewer than 3 points of a "
                               f"{DIRECTIONS[d]} sweep; widen it or move it onto the sweep.")
    p = np.polyfit(v[m], i[m], 1)
    return np.polyval(p, v), f"linear fit {lo:.4g}–{hi:.4g} V, extrapolated"


def _peak_in_window(v, y, peak_fit_V):
    """Potential and height of the largest ``y`` (smoothed, then a local parabola)."""
    from scipy.signal import savgol_filter

    order = np.argsort(v)
    v, y = v[order], y[order]
    n = len(v)
    step = np.median(np.abs(np.diff(v))) if n > 1 else 0.0
    win = int(peak_fit_V / step) if step > 0 else 0
    win = min(win | 1, n - (1 - n % 2))
    ys = savgol_filter(y, win, 2) if win >= 5 else y
    k = int(np.argmax(ys))
    k_raw = int(np.argmax(y))
    m = np.abs(v - v[k]) <= peak_fit_V
    if m.sum() >= 5 and 0 < k < n - 1:
        x0 = v[k]
        c2, c1, c0 = np.polyfit(v[m] - x0, y[m], 2)
        if c2 < 0:
            xv = -c1 / (2 * c2)
            height = c0 - c1 ** 2 / (4 * c2)
            # A one-row spike is not a peak shape: the smooth fit would hide it.
            if abs(xv) <= peak_fit_V and height >= 0.5 * y[k_raw]:
                return x0 + xv, height, k
    return v[k_raw], y[k_raw], k_raw


def find_peaks(data, *, window_V, direction: str = "anodic", baseline: str = "window",
               baseline_window_V=None, baseline_points_V=None, peak_fit_V: float = 0.01,
               label: str = "peak", sweeps=None) -> pd.DataFrame:
    """One peak per sweep of one direction: potential and baseline-corrected current.

    Parameters
    ----------
    data : DataFrame or list of DataFrame
        CV tables, labelled by :func:`label_sweeps` or not.
    window_V : (float, float)
        Potential window to search the peak in.
    direction : {"anodic", "cathodic"}
        Anodic peaks are maxima of the current on up-sweeps, cathodic peaks minima on
        down-sweeps.
    baseline : {"window", "points", "none"}
        "window": a straight line fitted to the sweep in ``baseline_window_V`` and
        extrapolated under the peak (default window: the 15 % of ``window_V`` the sweep
        crosses first). "points": the line through the current at two potentials
        ``baseline_points_V``. "none": raw current.
    peak_fit_V : float
        Half-width of the parabola fitted around the maximum (noise-robust height).
    label : str
        Name of the peak in the output (to combine several peaks).
    sweeps : sequence of int, optional
        Only these sweep numbers.

    Returns
    -------
    DataFrame
        experiment, sweep, cycle, direction, scan_rate_mV_s, scan_rate_group_mV_s, peak,
        peak_potential_V, peak_current_A (baseline-corrected, signed: + anodic),
        raw_current_A, baseline_current_A, baseline. Sweeps that do not cover the
        window give no row; sweeps with no peak above the baseline give NaN.
    """
    if direction not in ("anodic", "cathodic"):
        raise InvalidParameterError("direction must be 'anodic' or 'cathodic'.")
    if baseline not in ("window", "points", "none"):
        raise InvalidParameterError("baseline must be 'window', 'points' or 'none'.")
    lo, hi = sorted(map(float, window_V))
    if hi - lo <= 0:
        raise InvalidParameterError("window_V must span a non-zero potential range.")
    d = 1 if direction == "anodic" else -1
    if baseline == "window" and baseline_window_V is None:
        w = 0.15 * (hi - lo)
        baseline_window_V = (lo, lo + w) if d == 1 else (hi - w, hi)
    lab = _ensure_sweeps(data)
    rows = []
    for sw, g in lab.loc[lab[SWEEP_DIR] == d].groupby(SWEEP, sort=True):
        if sweeps is not None and sw not in set(sweeps):
            continue
        v = g[S.VOLTAGE].to_numpy(dtype=float)
        i = g[S.CURRENT].to_numpy(dtype=float)
        if v.min() > lo + 0.1 * (hi - lo) or v.max() < hi - 0.1 * (hi - lo):
            continue  # a partial sweep that does not reach across the window
        try:
            base, how = _baseline(v, i, d, mode=baseline, window_V=baseline_window_V, points_V=baseline_points_V)
        except MissingDataError:
            continue
        m = (v >= lo) & (v <= hi)
        if m.sum() < 3:
            continue
        y = d * (i[m] - base[m])
        ep, h, _ = _peak_in_window(v[m], y, peak_fit_V)
        order = np.argsort(v)
        raw = float(np.interp(ep, v[order], i[order]))
        b = float(np.interp(ep, v[order], base[order]))
        edge = min(ep - lo, hi - ep) < 0.02 * (hi - lo)
        rows.append({EXPERIMENT: int(g[EXPERIMENT].iloc[0]), SWEEP: int(sw), "cycle": int(g[S.CYCLE].iloc[0]),
                     "direction": direction, SCAN_RATE: float(g[SCAN_RATE].iloc[0]),
                     RATE_GROUP: float(g[RATE_GROUP].iloc[0]), "peak": label,
                     "peak_potential_V": np.nan if (h <= 0 or edge) else ep,
                     "peak_current_A": np.nan if (h <= 0 or edge) else d * h,
                     "raw_current_A": raw, "baseline_current_A": b, "baseline": how})
    cols = [EXPERIMENT, SWEEP, "cycle", "direction", SCAN_RATE, RATE_GROUP, "peak", "peak_potential_V",
            "peak_current_A", "raw_current_A", "baseline_current_A", "baseline"]
    return pd.DataFrame(rows, columns=cols)


def pair_peaks(anodic: pd.DataFrame, cathodic: pd.DataFrame) -> pd.DataFrame:
    """Pair the anodic and cathodic peak of each cycle: ΔEp, E½ and ipa/|ipc|.

    Returns experiment, cycle, scan_rate_mV_s (group), Epa_V, Epc_V, delta_Ep_V,
    E_half_V (mean of the two peak potentials), ipa_A, ipc_A and peak_current_ratio
    (ipa/|ipc|, both baseline-corrected).
    """
    keys = [EXPERIMENT, "cycle"]
    a = anodic[keys + [RATE_GROUP, "peak_potential_V", "peak_current_A"]].rename(
        columns={"peak_potential_V": "Epa_V", "peak_current_A": "ipa_A"})
    c = cathodic[keys + ["peak_potential_V", "peak_current_A"]].rename(
        columns={"peak_potential_V": "Epc_V", "peak_current_A": "ipc_A"})
    out = a.merge(c, on=keys, how="inner").rename(columns={RATE_GROUP: SCAN_RATE})
    out["delta_Ep_V"] = out["Epa_V"] - out["Epc_V"]
    out["E_half_V"] = 0.5 * (out["Epa_V"] + out["Epc_V"])
    with np.errstate(divide="ignore", invalid="ignore"):
        out["peak_current_ratio"] = out["ipa_A"] / out["ipc_A"].abs()
    return out[keys + [SCAN_RATE, "Epa_V", "Epc_V", "delta_Ep_V", "E_half_V", "ipa_A", "ipc_A",
                       "peak_current_ratio"]]


def _check_cycle(cycle):
    if cycle in ("first", "last"):
        return cycle
    try:
        return int(cycle)
    except (TypeError, ValueError):
        raise InvalidParameterError(f"cycle must be 'first', 'last' or a cycle number, not {cycle!r}.") from None


def _one_per_rate(peaks, cycle):
    cycle = _check_cycle(cycle)
    p = peaks.dropna(subset=["peak_current_A"])
    if p.empty:
        return p
    if cycle in ("first", "last"):
        p = p.sort_values([RATE_GROUP, EXPERIMENT, "cycle", SWEEP])
        return p.groupby(RATE_GROUP, sort=True).nth(0 if cycle == "first" else -1)
    return p.loc[p["cycle"] == int(cycle)].groupby(RATE_GROUP, sort=True).nth(0)


def _linfit(x, y):
    """Slope, intercept, R² and the slope's standard error of a straight-line fit."""
    p = np.polyfit(x, y, 1)
    resid = y - np.polyval(p, x)
    ss = float(np.sum((y - y.mean()) ** 2))
    r2 = 1.0 - float(np.sum(resid ** 2)) / ss if ss > 0 else np.nan
    sxx = float(np.sum((x - x.mean()) ** 2))
    se = float(np.sqrt(np.sum(resid ** 2) / (len(x) - 2) / sxx)) if len(x) > 2 and sxx > 0 else np.nan
    return float(p[0]), float(p[1]), r2, se


def randles_sevcik(peaks: pd.DataFrame, *, n_electrons: float, area_cm2: float, concentration_mol_cm3: float,
                   temperature_K: float = 298.15, form: str = "general", cycle="first") -> dict:
    """Diffusion coefficient from the slope of |ip| against √v.

    Parameters
    ----------
    peaks : DataFrame
        :func:`find_peaks` output for one peak (one direction); one peak per scan-rate
        group is used (``cycle``: "first", "last" or a cycle number).
    n_electrons, area_cm2, concentration_mol_cm3 : float
        Electrons per molecule, electrode area (cm²), bulk concentration (mol/cm³).
        Required: they change D by orders of magnitude.
    temperature_K : float
        Used by the general form.
    form : {"general", "25C"}
        "general": ``slope = 0.4463 n F A C sqrt(n F D / (R T))``;
        "25C": ``slope = 2.69e5 n^{3/2} A C D^{1/2}``.

    Returns
    -------
    dict
        slope_A_sqrt_s_V (slope of |ip| against √(v / V s⁻¹)), intercept_A, r_squared,
        diffusion_coefficient_cm2_s, its relative standard error (from the slope),
        and ``points`` (scan_rate_mV_s, sqrt_scan_rate_V_s, peak_current_A).
    """
    for name, value in (("n_electrons", n_electrons), ("area_cm2", area_cm2),
                        ("concentration_mol_cm3", concentration_mol_cm3), ("temperature_K", temperature_K)):
        if value is None or not (np.isfinite(value) and value > 0):
            raise InvalidParameterError(f"{name} must be a positive number, not {value!r}.")
    if form not in ("general", "25C"):
        raise InvalidParameterError("form must be 'general' or '25C'.")
    p = _one_per_rate(peaks, cycle)
    if len(p) < 2:
        raise MissingDataError("Randles–Ševčík needs peaks at two or more scan rates; this data has "
                               f"{len(p)}. Add CVs at other scan rates.")
    v = p[RATE_GROUP].to_numpy(dtype=float) * 1e-3
    ip = np.abs(p["peak_current_A"].to_numpy(dtype=float))
    x = np.sqrt(v)
    slope, intercept, r2, se = _linfit(x, ip)
    if form == "general":
        f = n_electrons * FARADAY / (GAS_CONSTANT * temperature_K)
        d = (slope / (0.4463 * n_electrons * FARADAY * area_cm2 * concentration_mol_cm3)) ** 2 / f
    else:
        d = (slope / (RANDLES_SEVCIK_25C * n_electrons ** 1.5 * area_cm2 * concentration_mol_cm3)) ** 2
    return {"slope_A_sqrt_s_V": slope, "intercept_A": intercept, "r_squared": r2,
            "diffusion_coefficient_cm2_s": float(d) if slope > 0 else np.nan,
            "diffusion_coefficient_rel_se": 2 * se / abs(slope) if slope else np.nan,
            "form": form, "temperature_K": temperature_K, "n_points": len(p),
            "points": pd.DataFrame({SCAN_RATE: p[RATE_GROUP].to_numpy(), "sqrt_scan_rate_V_s": x,
                                    "peak_current_A": ip})}


def power_law(peaks: pd.DataFrame, *, cycle="first") -> pd.DataFrame:
    """b-value of each peak from the log-log fit ``log|ip| = log a + b log v``.

    Returns one row per peak label: peak, direction, b_value, b_value_se, a_A (|ip|
    at 1 mV/s... expressed as a in ``|ip| = a (v / mV s⁻¹)^b``), r_squared, n_rates,
    and the points in ``attrs["battlab"]["points"]`` (peak, scan_rate_mV_s,
    peak_current_A).
    """
    rows, pts = [], []
    for (label, direction), g in peaks.groupby(["peak", "direction"], sort=False):
        p = _one_per_rate(g, cycle)
        ip = np.abs(p["peak_current_A"].to_numpy(dtype=float)) if len(p) else np.array([])
        v = p[RATE_GROUP].to_numpy(dtype=float) if len(p) else np.array([])
        ok = (ip > 0) & (v > 0)
        if ok.sum() < 2:
            raise MissingDataError(f"the b-value of peak {label!r} needs it at two or more scan rates; found "
                                   f"{int(ok.sum())}. Add CVs at other scan rates.")
        b, loga, r2, se = _linfit(np.log10(v[ok]), np.log10(ip[ok]))
        rows.append({"peak": label, "direction": direction, "b_value": b, "b_value_se": se, "a_A": 10 ** loga,
                     "r_squared": r2, "n_rates": int(ok.sum())})
        pts.append(pd.DataFrame({"peak": label, "direction": direction, SCAN_RATE: v[ok], "peak_current_A": ip[ok]}))
    out = pd.DataFrame(rows)
    out.attrs["battlab"] = {"points": pd.concat(pts, ignore_index=True) if pts else pd.DataFrame()}
    return out


# --------------------------------------------------------------------------- Dunn


def _resample(v, i, grid):
    """Mean current in each grid cell, then linear interpolation over empty cells.

    Averaging per cell (rather than interpolating single rows) keeps noise and the
    repeated potentials of a staircase from leaking into the fit.
    """
    step = grid[1] - grid[0]
    idx = np.rint((v - grid[0]) / step).astype(np.int64)
    ok = (idx >= 0) & (idx < len(grid))
    counts = np.bincount(idx[ok], minlength=len(grid))
    sums = np.bincount(idx[ok], weights=i[ok], minlength=len(grid))
    have = counts > 0
    if have.sum() < 2:
        return np.full(len(grid), np.nan)
    mean = sums[have] / counts[have]
    return np.interp(grid, grid[have], mean)


@dataclass
class DunnDecomposition:
    """Fit ``i(E) = k1(E)·v + k2(E)·v^½`` at every potential, per sweep direction.

    Parameters
    ----------
    n_grid : int
        Potentials on the common grid of each direction.
    cycle : {"last", "first"} or int
        Which cycle of each scan-rate group to use (one sweep per direction).
    vertex_margin_V : float, optional
        Left out next to both vertices, where the capacitive current switches sign.
        Default: 1 % of the common window.

    Attributes (after :meth:`fit`)
    ------------------------------
    coefficients_ : DataFrame
        direction, voltage_V, k1_A_s_V, k2_A_sqrt_s_V, r_squared.
    scan_rates_mV_s_ : ndarray
    fractions_ : DataFrame
        scan_rate_mV_s, capacitive_charge_C, diffusive_charge_C, total_charge_C
        (measured), capacitive_fraction_pct.
    """

    n_grid: int = 400
    cycle: object = "last"
    vertex_margin_V: float | None = None
    coefficients_: pd.DataFrame = field(default=None, init=False, repr=False)
    fractions_: pd.DataFrame = field(default=None, init=False, repr=False)
    scan_rates_mV_s_: np.ndarray = field(default=None, init=False, repr=False)
    measured_: dict = field(default=None, init=False, repr=False)

    def _pick(self, lab):
        self.cycle = _check_cycle(self.cycle)
        sweeps = lab.attrs["battlab"].get("sweeps")
        if sweeps is None:
            sweeps = summarize_sweeps(lab)
        present = sweeps[SWEEP].isin(lab[SWEEP].unique())  # the table may be a selection of sweeps
        full = sweeps.loc[present & sweeps["is_complete"] & sweeps[RATE_GROUP].notna()]
        chosen = {}
        for (rate, direction), g in full.groupby([RATE_GROUP, "direction"], sort=True):
            g = g.sort_values([EXPERIMENT, "cycle", SWEEP])
            if self.cycle == "first":
                row = g.iloc[0]
            elif self.cycle == "last":
                row = g.iloc[-1]
            else:
                sel = g.loc[g["cycle"] == int(self.cycle)]
                if sel.empty:
                    continue
                row = sel.iloc[0]
            chosen.setdefault(direction, {})[rate] = int(row[SWEEP])
        return chosen

    def fit(self, data) -> DunnDecomposition:
        """Fit on CV data with two or more scan rates (table, list of tables, or labelled)."""
        if self.n_grid < 10:
            raise InvalidParameterError("n_grid must be at least 10.")
        lab = _ensure_sweeps(data)
        chosen = self._pick(lab)
        rates = sorted(set().union(*[set(c) for c in chosen.values()])) if chosen else []
        if len(rates) < 2:
            raise MissingDataError(
                f"the Dunn decomposition needs complete sweeps at two or more scan rates; found {len(rates)}. "
                "Load CVs at several scan rates (one file with all of them, or one file per rate).")
        bounds = _sweep_bounds(lab)
        v_all = lab[S.VOLTAGE].to_numpy(dtype=float)
        i_all = lab[S.CURRENT].to_numpy(dtype=float)
        coef_parts, measured = [], {}
        self._grids = {}
        for direction, per_rate in chosen.items():
            r = np.array(sorted(per_rate))
            if len(r) < 2:
                continue
            segs = [slice(*bounds[per_rate[x]]) for x in r]
            lo = max(float(v_all[g].min()) for g in segs)
            hi = min(float(v_all[g].max()) for g in segs)
            margin = self.vertex_margin_V if self.vertex_margin_V is not None else 0.01 * (hi - lo)
            lo, hi = lo + margin, hi - margin
            if hi <= lo:
                continue
            grid = np.linspace(lo, hi, self.n_grid)
            currents = np.vstack([_resample(v_all[g], i_all[g], grid) for g in segs])
            v = r * 1e-3
            design = np.column_stack([v, np.sqrt(v)])
            # One least-squares solve with every potential as a right-hand side.
            k, *_ = np.linalg.lstsq(design, currents, rcond=None)
            pred = design @ k
            ss = np.sum((currents - currents.mean(axis=0)) ** 2, axis=0)
            with np.errstate(divide="ignore", invalid="ignore"):
                r2 = np.where(ss > 0, 1.0 - np.sum((currents - pred) ** 2, axis=0) / ss, np.nan)
            coef_parts.append(pd.DataFrame({"direction": direction, "voltage_V": grid, "k1_A_s_V": k[0],
                                            "k2_A_sqrt_s_V": k[1], "r_squared": r2}))
            measured[direction] = (r, grid, currents)
        if not coef_parts:
            raise MissingDataError("the sweeps at different scan rates share no potential range to decompose.")
        self.coefficients_ = pd.concat(coef_parts, ignore_index=True)
        self.measured_ = measured
        self.scan_rates_mV_s_ = np.array(rates, dtype=float)
        self.fractions_ = self._fractions()
        return self

    def predict(self, scan_rate_mV_s) -> pd.DataFrame:
        """Decomposed CV at the given scan rate(s).

        Returns scan_rate_mV_s, direction, voltage_V, capacitive_current_A,
        diffusive_current_A, current_A (their sum) and, where the rate was measured,
        measured_current_A on the same grid.
        """
        if self.coefficients_ is None:
            raise InvalidParameterError("call fit() first.")
        parts = []
        for rate in np.atleast_1d(scan_rate_mV_s).astype(float):
            v = rate * 1e-3
            c = self.coefficients_
            cap = c["k1_A_s_V"].to_numpy() * v
            dif = c["k2_A_sqrt_s_V"].to_numpy() * np.sqrt(v)
            out = pd.DataFrame({SCAN_RATE: rate, "direction": c["direction"].to_numpy(),
                                "voltage_V": c["voltage_V"].to_numpy(), "capacitive_current_A": cap,
                                "diffusive_current_A": dif, "current_A": cap + dif,
                                "measured_current_A": np.nan})
            for direction, (r, _grid, currents) in self.measured_.items():
                hit = np.flatnonzero(np.isclose(r, rate, rtol=1e-9))
                if len(hit):
                    out.loc[out["direction"] == direction, "measured_current_A"] = currents[hit[0]]
            parts.append(out)
        return pd.concat(parts, ignore_index=True)

    def _fractions(self):
        rows = []
        for rate in self.scan_rates_mV_s_:
            v = rate * 1e-3
            q_cap = q_dif = q_meas = 0.0
            for direction, (r, grid, currents) in self.measured_.items():
                c = self.coefficients_.loc[self.coefficients_["direction"] == direction]
                sign = 1.0 if direction == "anodic" else -1.0
                # Charge of a sweep = ∫ i dt = ∫ i dE / v, counted in the sweep's direction.
                q_cap += sign * np.trapezoid(c["k1_A_s_V"].to_numpy() * v, grid) / v
                q_dif += sign * np.trapezoid(c["k2_A_sqrt_s_V"].to_numpy() * np.sqrt(v), grid) / v
                hit = np.flatnonzero(np.isclose(r, rate, rtol=1e-9))
                if len(hit):
                    q_meas += sign * np.trapezoid(currents[hit[0]], grid) / v
            total = q_cap + q_dif
            rows.append({SCAN_RATE: rate, "capacitive_charge_C": q_cap, "diffusive_charge_C": q_dif,
                         "total_charge_C": q_meas,
                         "capacitive_fraction_pct": 100.0 * q_cap / total if total else np.nan})
        return pd.DataFrame(rows)


def dunn_decomposition(data, *, n_grid: int = 400, cycle="last", vertex_margin_V: float | None = None
                       ) -> DunnDecomposition:
    """Fit the Dunn decomposition (see :class:`DunnDecomposition`) and return the model.

    Examples
    --------
    >>> from battlab.datasets import make_cv
    >>> model = dunn_decomposition(make_cv().data)
    >>> bool(model.fractions_["capacitive_fraction_pct"].is_monotonic_increasing)
    True
    """
    return DunnDecomposition(n_grid=n_grid, cycle=cycle, vertex_margin_V=vertex_margin_V).fit(data)
