"""NMR (⁷Li): window integrals and the amount of metallic lithium over time.

Shifts are in ppm. Metallic Li resonates at ≈ 245–270 ppm (Knight shift; dendritic
≈ 270 ppm, mossy 262–274 ppm), far from diamagnetic Li in the SEI and electrolyte near
0 ppm, so plated and dead lithium are quantified by integrating that window. Bulk
metal is only seen within the radio-frequency skin depth (≈ 14 µm at 116 MHz): for
microstructures thinner than it the signal is proportional to the amount, which is the
regime the calibration assumes.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from battlab.errors import InvalidParameterError, MissingDataError
from battlab.peaks import check_window
from battlab.spectra.analysis import _rows, baseline_xy, spectrum_xy

__all__ = ["LI_WINDOWS_PPM", "integrate_windows", "lithium_metal_amount"]

#: Default ⁷Li integration windows, ppm.
LI_WINDOWS_PPM = {"Li metal": (200.0, 300.0), "diamagnetic": (-50.0, 50.0)}


def _integrate(x, y, lo, hi, name, baseline, end_points):
    sel = (x >= lo) & (x <= hi) & np.isfinite(y)
    if sel.sum() < 3:
        raise MissingDataError(f"window {name!r} ({lo:g}–{hi:g} ppm) holds {int(sel.sum())} points of data "
                               f"spanning {np.nanmin(x):g}–{np.nanmax(x):g} ppm; move or widen it.")
    xs, ys = x[sel], y[sel]
    if baseline == "linear":
        # Straight line between the window edges: removes a local offset and tilt
        # without assuming anything about the peak between them.
        k = end_points if end_points is not None else max(3, int(0.1 * xs.size))
        ys = ys - baseline_xy(xs, ys, method="linear", end_points=k)
    return float(np.trapezoid(ys, xs))


def integrate_windows(spectrum, windows=None, *, baseline: str = "linear", baseline_options: dict | None = None,
                      end_points: int | None = None) -> pd.DataFrame:
    """Integrate a spectrum (or each spectrum of a series) over named shift windows.

    Parameters
    ----------
    spectrum : DataArray over ``shift_ppm``
    windows : dict name -> (low, high), optional
        ppm; default :data:`LI_WINDOWS_PPM`.
    baseline : str
        ``"linear"``: a straight line through the window edges (mean of ``end_points``
        points each) is subtracted per window; ``"none"``; or any whole-spectrum
        :func:`~battlab.spectra.analysis.baseline` method (``"als"``, ``"polynomial"`` …).
    end_points : int, optional
        Points averaged at each window edge for the linear baseline; default 10 % of the
        window's points (at least 3), so the line's own noise stays small.

    Returns
    -------
    DataFrame
        One row per spectrum: ``time``, ``elapsed_s`` (series only), ``spectrum`` and one
        column per window with its integral (intensity × ppm).
    """
    if "shift_ppm" not in getattr(spectrum, "dims", ()):
        raise InvalidParameterError("integrate_windows needs a spectrum over shift_ppm (technique='nmr').")
    windows = dict(LI_WINDOWS_PPM if windows is None else windows)
    if not windows:
        raise MissingDataError("give at least one integration window (low, high) in ppm.")
    checked = {name: check_window(w, what=f"window {name!r}") for name, w in windows.items()}
    _, rows, is_series = _rows(spectrum)
    recs = []
    for i, r in enumerate(rows):
        _, x, y = spectrum_xy(r)
        order = np.argsort(x)
        x, y = x[order], y[order]
        local = baseline
        if baseline not in ("linear", "none"):
            y = y - baseline_xy(x, y, method=baseline, **(baseline_options or {}))
            local = "none"
        rec = {"spectrum": i}
        for name, (lo, hi) in checked.items():
            rec[name] = _integrate(x, y, lo, hi, name, local, end_points)
        recs.append(rec)
    out = pd.DataFrame(recs)
    if is_series:
        out.insert(0, "time", spectrum["time"].to_numpy())
        if "elapsed_s" in spectrum.coords:
            out.insert(1, "elapsed_s", spectrum["elapsed_s"].to_numpy().astype(float))
    out.attrs["battlab"] = {"analysis": "battlab.spectra.integrate_windows", "windows_ppm": checked,
                            "baseline": baseline}
    return out


def lithium_metal_amount(series, *, window=(200.0, 300.0), calibration_umol_per_area: float | None = None,
                         reference_window=None, baseline: str = "linear") -> pd.DataFrame:
    """Metallic lithium over time from the ⁷Li Knight-shifted resonance.

    Parameters
    ----------
    series : DataArray (time, shift_ppm) or one spectrum
    window : (float, float)
        Li-metal window, ppm.
    calibration_umol_per_area : float, optional
        µmol of Li per unit integral (from a reference of known amount measured with
        the same coil, gain and number of scans). Without it, amounts are relative.
    reference_window : (float, float), optional
        A window (ppm) whose integral should be constant, e.g. an external standard;
        the Li-metal integral is divided by it per spectrum to cancel gain and tuning
        drift. The calibration then applies to that ratio.
    baseline : str
        As in :func:`integrate_windows`.

    Returns
    -------
    DataFrame
        ``time``, ``elapsed_s``, ``spectrum``, ``li_metal_area`` (or the ratio to the
        reference), ``li_metal_change`` (vs the first spectrum), ``li_metal_relative``
        (vs the first; NaN when the first is ≤ 0) and, with a calibration,
        ``li_metal_umol`` and ``li_metal_change_umol``.
    """
    windows = {"Li metal": window}
    if reference_window is not None:
        windows["reference"] = reference_window
    table = integrate_windows(series, windows, baseline=baseline)
    signal = table["Li metal"].astype(float)
    if reference_window is not None:
        ref = table["reference"].astype(float)
        if (ref <= 0).any():
            raise MissingDataError("the reference window integral is ≤ 0 in some spectra; check reference_window.")
        signal = signal / ref
    keep = [c for c in ("time", "elapsed_s", "spectrum") if c in table]
    out = table[keep].copy()
    out["li_metal_area"] = signal
    out["li_metal_change"] = signal - signal.iloc[0]
    first = signal.iloc[0]
    out["li_metal_relative"] = signal / first if first > 0 else np.nan
    if calibration_umol_per_area is not None:
        cal = float(calibration_umol_per_area)
        if not (np.isfinite(cal) and cal > 0):
            raise InvalidParameterError(f"calibration_umol_per_area must be > 0, got {calibration_umol_per_area}.")
        out["li_metal_umol"] = signal * cal
        out["li_metal_change_umol"] = out["li_metal_change"] * cal
    out.attrs["battlab"] = {"analysis": "battlab.spectra.lithium_metal_amount", "window_ppm": tuple(window),
                            "reference_window_ppm": reference_window, "calibration_umol_per_area":
                                calibration_umol_per_area}
    return out
