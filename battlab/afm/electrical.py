"""Electrical AFM modes: conductive-AFM current maps and I–V loops, KPFM work functions."""

from __future__ import annotations

import numpy as np
import xarray as xr

from battlab.errors import InvalidParameterError, MissingDataError

__all__ = ["current_statistics", "iv_analysis", "work_function_map"]


def current_statistics(current, *, threshold_nA: float | None = None) -> dict:
    """Statistics of a C-AFM current map (currents are log-distributed, so the geometric mean
    and the conductive area fraction describe it better than the arithmetic mean).

    Parameters
    ----------
    current : DataArray
        Current map (attrs units "nA").
    threshold_nA : float, optional
        Pixels with |I| above this count as conductive; default: the geometric midpoint
        between the 5th and 95th percentiles of |I|.
    """
    if not isinstance(current, xr.DataArray):
        raise InvalidParameterError("expected a current map (DataArray) from battlab.afm.read_afm.")
    i = np.abs(np.asarray(current.values, float))
    i = i[np.isfinite(i)]
    if i.size == 0:
        raise MissingDataError("the current map has no finite value.")
    pos = i[i > 0]
    lo, hi = np.percentile(pos, [5, 95]) if pos.size else (0.0, 0.0)
    thr = float(threshold_nA) if threshold_nA is not None else float(np.sqrt(lo * hi)) if lo > 0 else 0.0
    return {"mean_nA": float(i.mean()), "median_nA": float(np.median(i)),
            "geometric_mean_nA": float(np.exp(np.mean(np.log(pos)))) if pos.size else np.nan,
            "p95_nA": float(hi), "max_nA": float(i.max()), "threshold_nA": thr,
            "conductive_fraction": float((i > thr).mean()), "units": current.attrs.get("units", "")}


def iv_analysis(table, *, fit_window_V: float = 0.5) -> dict:
    """Resistance near 0 V and the hysteresis loop area of a C-AFM I–V sweep.

    Parameters
    ----------
    table : DataFrame
        ``voltage_V``, ``current_nA`` in sweep order (forward then reverse).
    fit_window_V : float
        |V| below this is fitted by a straight line (ohmic resistance).

    Returns
    -------
    dict
        resistance_MOhm (from the mean of both branches), hysteresis_area_nA_V (area
        enclosed between forward and reverse sweeps), rectification_ratio (|I(+Vmax)/I(−Vmax)|).
    """
    for col in ("voltage_V", "current_nA"):
        if col not in table:
            raise MissingDataError(f"the I–V table needs a {col!r} column.")
    v = table["voltage_V"].to_numpy(float)
    i = table["current_nA"].to_numpy(float)
    if v.size < 6:
        raise MissingDataError("an I–V sweep needs at least 6 points.")
    turn = int(np.argmax(v)) if v[1] > v[0] else int(np.argmin(v))
    fwd_v, fwd_i = v[: turn + 1], i[: turn + 1]
    rev_v, rev_i = v[turn:], i[turn:]
    near = np.abs(v) <= fit_window_V
    if near.sum() < 3:
        raise InvalidParameterError(f"fewer than 3 points within ±{fit_window_V} V to fit a resistance.")
    slope = np.polyfit(v[near], i[near], 1)[0]  # nA/V
    grid = np.linspace(max(fwd_v.min(), rev_v.min()), min(fwd_v.max(), rev_v.max()), 400)
    o_f, o_r = np.argsort(fwd_v), np.argsort(rev_v)
    gap = np.interp(grid, fwd_v[o_f], fwd_i[o_f]) - np.interp(grid, rev_v[o_r], rev_i[o_r])
    i_max = np.interp(v.max(), fwd_v[o_f], fwd_i[o_f])
    i_min = np.interp(v.min(), fwd_v[o_f], fwd_i[o_f])
    return {"resistance_MOhm": float(1e3 / slope) if slope != 0 else np.inf,
            "hysteresis_area_nA_V": float(np.trapezoid(np.abs(gap), grid)),
            "rectification_ratio": float(abs(i_max / i_min)) if i_min != 0 else np.inf}


def work_function_map(potential, *, reference_mask=None, reference_cpd_V: float | None = None,
                      reference_work_function_eV: float | None = None, bias_on: str = "sample") -> xr.DataArray:
    """Work-function map from a KPFM contact-potential map, calibrated on a reference.

    Sign convention: with the bias on the sample, V_CPD = (φ_tip − φ_sample)/e, so
    φ_sample − φ_ref = e·(V_ref − V_CPD): a pixel whose CPD is *lower* than the
    reference's has a *higher* work function. With the bias on the tip the sign flips.

    Parameters
    ----------
    reference_mask : bool array, optional
        The reference region of the same map (a drawn rectangle or a height-threshold
        mask, see :func:`battlab.afm.region_mask`); its mean CPD is V_ref.
    reference_cpd_V : float, optional
        A separately measured V_ref (used when no mask is given).
    reference_work_function_eV : float, optional
        φ_ref (e.g. HOPG 4.6 eV, Au 5.1 eV). Without it the map holds the difference
        φ − φ_ref in eV (``attrs["relative_to_reference"]`` is True).
    bias_on : {"sample", "tip"}
        Where the instrument applies the DC bias (see its manual).
    """
    if not isinstance(potential, xr.DataArray):
        raise InvalidParameterError("expected a KPFM potential map (DataArray, units V).")
    if bias_on not in ("sample", "tip"):
        raise InvalidParameterError("bias_on must be 'sample' or 'tip' (see the instrument manual).")
    v = np.asarray(potential.values, float)
    n_ref = None
    if reference_mask is not None:
        m = np.asarray(reference_mask, bool)
        if m.shape != v.shape or not (m & np.isfinite(v)).any():
            raise InvalidParameterError("reference_mask must select valid pixels of the map (same shape).")
        reference_cpd_V = float(np.nanmean(v[m]))
        n_ref = int((m & np.isfinite(v)).sum())
    elif reference_cpd_V is None:
        raise MissingDataError("give reference_mask (a reference region in the map) or reference_cpd_V.")
    sign = 1.0 if bias_on == "sample" else -1.0
    relative = reference_work_function_eV is None
    base = 0.0 if relative else float(reference_work_function_eV)
    phi = base + sign * (float(reference_cpd_V) - v)
    out = potential.copy(data=phi)
    out.attrs = {**potential.attrs, "units": "eV", "channel": "work function difference" if relative else
                 "work function", "reference_cpd_V": float(reference_cpd_V),
                 "reference_work_function_eV": None if relative else base, "relative_to_reference": relative,
                 "reference_pixels": n_ref, "bias_on": bias_on,
                 "sign_convention": ("phi - phi_ref = e(V_ref - V_CPD)" if bias_on == "sample"
                                     else "phi - phi_ref = e(V_CPD - V_ref)")}
    out.name = "work_function_difference" if relative else "work_function"
    return out
