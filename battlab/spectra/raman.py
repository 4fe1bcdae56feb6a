"""Raman: D/G analysis of carbons and graphite G-band tracking over state of charge.

Wavenumbers (Raman shift) are in cm⁻¹. The graphite G band (E2g, ≈ 1580 cm⁻¹) stiffens
and splits on Li intercalation (≈ 1600 cm⁻¹ for the charged-layer mode of dilute
stages); the D band (≈ 1350 cm⁻¹) is disorder-activated, so I_D/I_G measures disorder.
"""

from __future__ import annotations

import pandas as pd

from battlab.errors import InvalidParameterError
from battlab.spectra.analysis import track_bands

__all__ = ["d_to_g_ratio"]


def d_to_g_ratio(spectrum, *, d_window=(1250.0, 1450.0), g_window=(1500.0, 1700.0), measure: str = "height",
                 model: str = "lorentzian", baseline: str = "none", baseline_options: dict | None = None,
                 min_snr: float = 3.0) -> pd.DataFrame:
    """Fit the D and G bands and report I_D/I_G for a spectrum or every spectrum of a series.

    Parameters
    ----------
    spectrum : DataArray over ``wavenumber_cm1`` (one spectrum or a (time, axis) series)
    d_window, g_window : (float, float)
        Ranges (cm⁻¹) holding the D and the G band; one band plus a local linear
        background is fitted in each.
    measure : {"height", "area"}
        Ratio of fitted peak heights (the usual I_D/I_G) or of integrated areas.
    model : {"lorentzian", "pseudo_voigt", "gaussian"}
        Band shape (Raman phonon bands are close to Lorentzian).
    baseline, baseline_options
        Whole-spectrum baseline subtracted first (see :func:`~battlab.spectra.analysis.baseline`).

    Returns
    -------
    DataFrame
        One row per spectrum: ``time``, ``elapsed_s``, ``spectrum``, ``d_center_cm1``,
        ``d_fwhm_cm1``, ``g_center_cm1``, ``g_fwhm_cm1``, ``d_height``, ``g_height``,
        ``d_area``, ``g_area``, ``id_ig`` (NaN when the G band is absent; 0 when only
        the D band is).
    """
    if measure not in ("height", "area"):  # before the fits, not after them
        raise InvalidParameterError(f"measure must be 'height' or 'area', got {measure!r}.")
    if "wavenumber_cm1" not in getattr(spectrum, "dims", ()):
        raise InvalidParameterError("d_to_g_ratio needs a spectrum over wavenumber_cm1 (technique='raman').")
    tracked = track_bands(spectrum, {"D": d_window, "G": g_window}, model=model, baseline=baseline,
                          baseline_options=baseline_options, min_snr=min_snr)
    return ratio_from_bands(tracked, measure=measure, single="time" not in spectrum.dims, d_window=d_window,
                            g_window=g_window, model=model)


def ratio_from_bands(tracked: pd.DataFrame, *, measure: str = "height", single: bool = False, d_window=None,
                     g_window=None, model=None) -> pd.DataFrame:
    """The I_D/I_G table of :func:`d_to_g_ratio` from D and G rows already fitted by ``track_bands``.

    Lets a workflow that tracks the D and G windows among its bands reuse those fits
    instead of fitting both bands again. ``single``: the series was one spectrum (no time
    columns); ``d_window``, ``g_window`` and ``model`` (how the fits were made) are recorded
    in the table's attrs.
    """
    if measure not in ("height", "area"):
        raise InvalidParameterError(f"measure must be 'height' or 'area', got {measure!r}.")
    d = tracked[tracked["band"] == "D"].set_index("spectrum")
    g = tracked[tracked["band"] == "G"].set_index("spectrum")
    out = pd.DataFrame({"time": g["time"], "elapsed_s": g["elapsed_s"]})
    out["d_center_cm1"] = d["center"]
    out["d_fwhm_cm1"] = d["fwhm"]
    out["g_center_cm1"] = g["center"]
    out["g_fwhm_cm1"] = g["fwhm"]
    for band, tab in (("d", d), ("g", g)):
        # An absent band contributes nothing rather than a fit to the noise.
        out[f"{band}_height"] = tab["height"].where(tab["present"], 0.0)
        out[f"{band}_area"] = tab["area"].where(tab["present"], 0.0)
    num, den = out[f"d_{measure}"], out[f"g_{measure}"]
    out["id_ig"] = (num / den.where(den > 0)).astype(float)
    out = out.reset_index()
    if single:
        out = out.drop(columns=["time", "elapsed_s"])
    out.attrs["battlab"] = {"analysis": "battlab.spectra.d_to_g_ratio", "measure": measure,
                            "d_window_cm1": None if d_window is None else tuple(d_window),
                            "g_window_cm1": None if g_window is None else tuple(g_window), "model": model}
    return out
