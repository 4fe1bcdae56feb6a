"""Lithium plating seen from the side: interface height profile, roughness, dendrites, Faraday thickness.

The metal electrode is bright and the electrolyte dark (or the reverse); along every
lateral line the interface is where the intensity crosses halfway between the two
levels, interpolated to a fraction of a pixel. The deposit height is how far the
interface has moved towards the separator since the reference frame. Roughness is the
standard deviation of the height along the interface, protrusion the highest point above
the median; dendrite onset is the first frame whose roughness exceeds a threshold.

Faraday's law gives the thickness a dense lithium layer would have for the charge
passed: h_F = Q·M_Li / (F·ρ_Li) = 4.85 µm per mAh/cm²; a measured deposit thicker than
h_F is porous (apparent density ρ_Li·h_F/h, porosity 1 − h_F/h).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from battlab._cancel import checkpoint
from battlab.errors import InvalidParameterError, MissingDataError
from battlab.optical.sideview import _pixel_size, _roi_slices, orient

__all__ = [
    "FARADAY_C_MOL",
    "LI_DENSITY_G_CM3",
    "LI_MOLAR_MASS_G_MOL",
    "faraday_thickness_um",
    "interface_profile",
    "plating_metrics",
    "plating_summary",
]

LI_MOLAR_MASS_G_MOL = 6.941
LI_DENSITY_G_CM3 = 0.534
FARADAY_C_MOL = 96485.33212


def faraday_thickness_um(charge_mAh_cm2, *, molar_mass_g_mol: float = LI_MOLAR_MASS_G_MOL,
                         density_g_cm3: float = LI_DENSITY_G_CM3, electrons: int = 1):
    """Thickness (µm) of a dense metal layer holding ``charge_mAh_cm2`` (Faraday's law)."""
    q = np.asarray(charge_mAh_cm2, dtype=float) * 3.6  # C/cm²
    return q / (electrons * FARADAY_C_MOL) * molar_mass_g_mol / density_g_cm3 * 1e4


def interface_profile(frame, *, separator: str = "left", roi=None) -> np.ndarray:
    """Sub-pixel interface position (px along depth, from the ROI's separator-side edge) on every lateral line.

    The levels are the medians of the first and last 5 % of each line (electrolyte near
    the separator, metal far from it); the interface is the first halfway crossing from
    the separator side. NaN where a line has no contrast.
    """
    f = np.asarray(frame, dtype=float)
    if f.ndim == 3:
        f = f.mean(axis=-1)
    if f.ndim != 2:
        raise InvalidParameterError("interface_profile needs one (y, x) or (y, x, channel) frame.")
    ys, xs = _roi_slices(roi, f.shape)
    g = orient(f[ys, xs], separator)
    n = g.shape[1]
    k = max(2, n // 20)
    near, far = np.median(g[:, :k], axis=1), np.median(g[:, -k:], axis=1)
    half = (near + far) / 2
    sign = np.sign(far - near)[:, None]
    above = (g - half[:, None]) * sign > 0  # True on the metal side of the halfway level
    first = np.argmax(above, axis=1)
    out = np.full(g.shape[0], np.nan)
    ok = (np.abs(far - near) > 1e-6) & (first > 0) & above.any(axis=1)
    # sub-pixel: each column's fraction of metal (c − near)/(far − near) around the crossing adds up to
    # the edge position (exact for an edge blurred by the pixel area)
    for r in np.flatnonzero(ok):
        j = first[r]
        lo, hi = max(j - 2, 0), min(j + 2, n - 1)
        cov = np.clip((g[r, lo:hi + 1] - near[r]) / (far[r] - near[r]), 0.0, 1.0)
        out[r] = lo - 0.5 + float(np.sum(1.0 - cov))
    return out


def plating_metrics(movie, *, pixel_size_um: float | None = None, separator: str = "left", roi=None,
                    reference_frame: int = 0, onset_threshold_um: float = 0.5, dendrite_prominence_um: float = 2.0,
                    echem: pd.DataFrame | None = None, area_cm2: float | None = None,
                    clock_offset_s: float = 0.0, return_heights: bool = False):
    """Per-frame deposit height, roughness, protrusion, dendrite count and Faraday comparison.

    Parameters
    ----------
    movie : xarray.DataArray
        (time, y, x, channel) movie of a metal electrode beside the electrolyte.
    pixel_size_um, separator, roi
        As :func:`battlab.optical.analyze_movie`.
    reference_frame : int
        Frame giving the initial interface (height 0).
    onset_threshold_um : float
        Dendrite onset = first frame with roughness σ_h above this (µm).
    dendrite_prominence_um : float
        A dendrite is a local maximum of h(x) at least this prominent (µm).
    echem, area_cm2, clock_offset_s
        Cycling table and electrode area: add ``charge_mAh_cm2`` (plated charge since the
        first frame), ``faraday_thickness_um``, ``apparent_density_g_cm3`` and ``porosity``.
    return_heights : bool
        Also return the height map h(x, t).

    Returns
    -------
    DataFrame
        ``frame``, ``time_s``, ``deposit_thickness_um`` (mean height), ``roughness_um``
        (σ_h), ``protrusion_um`` (max − median), ``dendrite_count``, ``dendrite_onset``
        (True from the onset frame on); ``attrs["battlab"]["onset_time_s"]``. With
        ``return_heights``, a tuple ``(table, heights)``: ``heights`` is an
        xarray.DataArray (time, position) of the deposit height in µm along the interface.
    """
    from scipy.signal import find_peaks

    px = _pixel_size(movie, pixel_size_um)
    n = movie.sizes["time"]
    times = movie["time_s"].to_numpy() if "time_s" in movie.coords else np.arange(n, dtype=float)
    ref = interface_profile(np.asarray(movie.isel(time=reference_frame).values), separator=separator, roi=roi)
    if np.all(np.isnan(ref)):
        raise MissingDataError("no electrode/electrolyte interface found in the reference frame; check the "
                               "separator side and ROI.")
    rows, heights = [], []
    for i in range(n):
        checkpoint()  # an app stops here when its user has already moved on
        prof = interface_profile(np.asarray(movie.isel(time=i).values), separator=separator, roi=roi)
        h = (ref - prof) * px  # growth towards the separator is positive
        heights.append(h)
        ok = np.isfinite(h)
        hv = h[ok]
        med = float(np.median(hv)) if hv.size else np.nan
        peaks, _ = find_peaks(np.nan_to_num(h, nan=med), prominence=dendrite_prominence_um) if hv.size else ([], None)
        rows.append({"frame": i, "time_s": float(times[i]), "deposit_thickness_um": float(hv.mean()) if hv.size
                     else np.nan, "roughness_um": float(hv.std()) if hv.size else np.nan,
                     "protrusion_um": float(hv.max() - med) if hv.size else np.nan, "dendrite_count": len(peaks)})
    df = pd.DataFrame(rows)
    on = df["roughness_um"].to_numpy() > onset_threshold_um
    df["dendrite_onset"] = np.cumsum(on) > 0
    onset = float(df.loc[df["dendrite_onset"], "time_s"].iloc[0]) if df["dendrite_onset"].any() else None
    if echem is not None:
        from battlab.imaging import per_frame_echem

        if not area_cm2 or area_cm2 <= 0:
            raise MissingDataError("area_cm2 (electrode area, cm²) is needed to turn charge into a Faraday thickness.")
        ec = per_frame_echem(movie, echem, clock_offset_s=clock_offset_s)
        # plating on the observed electrode: charge passed counted positive whatever the sign convention
        q = np.abs(ec["capacity_mAh"].to_numpy(float)) / float(area_cm2)
        df["voltage_V"] = ec["voltage_V"].to_numpy()
        df["current_A"] = ec["current_A"].to_numpy()
        df["charge_mAh_cm2"] = q
        df["faraday_thickness_um"] = faraday_thickness_um(q)
        with np.errstate(divide="ignore", invalid="ignore"):
            ratio = df["faraday_thickness_um"] / df["deposit_thickness_um"]
            df["apparent_density_g_cm3"] = np.where(df["deposit_thickness_um"] > 0, LI_DENSITY_G_CM3 * ratio, np.nan)
            df["porosity"] = np.where(df["deposit_thickness_um"] > 0, 1 - ratio, np.nan)
    df.attrs["battlab"] = {"analysis": "battlab.optical.plating_metrics", "onset_time_s": onset,
                           "pixel_size_um": px, "onset_threshold_um": onset_threshold_um}
    if return_heights:
        import xarray as xr

        hmap = xr.DataArray(np.asarray(heights, dtype=np.float32), dims=("time", "position"),
                            coords={"time_s": ("time", df["time_s"].to_numpy()),
                                    "position_um": ("position", np.arange(len(ref)) * px)},
                            name="deposit_height", attrs={"units": "um", "separator": separator})
        return df, hmap
    return df


def plating_summary(metrics: pd.DataFrame) -> dict:
    """One-line summary of :func:`plating_metrics`: onset, peak deposit, Faraday comparison, dead lithium.

    The peak is the frame with the thickest mean deposit. When the cycling join shows
    the current reversed after the peak (stripping), the deposit left at the last
    stripping frame is the residual ("dead") lithium, and ``dead_li_fraction`` its share
    of the peak deposit; without stripping both are NaN.

    Returns
    -------
    dict
        ``onset_time_s`` (None without dendrites), ``max_dendrite_count``,
        ``peak_frame``, ``peak_deposit_um``, ``peak_roughness_um``, and with a cycling
        join ``faraday_thickness_at_peak_um``, ``apparent_density_g_cm3``, ``porosity``
        (at the peak), ``stripping_frames``, ``residual_um``, ``dead_li_fraction``.
    """
    if metrics is None or "deposit_thickness_um" not in metrics or metrics["deposit_thickness_um"].isna().all():
        raise MissingDataError("no deposit measured: run plating_metrics on a movie with a visible interface.")
    d = metrics["deposit_thickness_um"].to_numpy(float)
    k = int(np.nanargmax(d))
    out = {"onset_time_s": metrics.attrs.get("battlab", {}).get("onset_time_s"),
           "max_dendrite_count": int(metrics["dendrite_count"].max()), "peak_frame": int(metrics["frame"].iloc[k]),
           "peak_time_s": float(metrics["time_s"].iloc[k]), "peak_deposit_um": float(d[k]),
           "peak_roughness_um": float(metrics["roughness_um"].iloc[k])}
    nan = float("nan")
    out.update(faraday_thickness_at_peak_um=nan, apparent_density_g_cm3=nan, porosity=nan, stripping_frames=0,
               residual_um=nan, dead_li_fraction=nan)
    if "faraday_thickness_um" in metrics:
        out.update(faraday_thickness_at_peak_um=float(metrics["faraday_thickness_um"].iloc[k]),
                   apparent_density_g_cm3=float(metrics["apparent_density_g_cm3"].iloc[k]),
                   porosity=float(metrics["porosity"].iloc[k]))
    if "current_A" in metrics:
        cur = metrics["current_A"].to_numpy(float)
        plating_sign = np.sign(np.nanmedian(cur[:k + 1]))
        after = np.flatnonzero((np.arange(len(cur)) > k) & (np.sign(cur) == -plating_sign))
        if after.size and plating_sign != 0:
            last = int(after[-1])
            out.update(stripping_frames=int(after.size), residual_um=float(d[last]),
                       dead_li_fraction=float(d[last] / d[k]) if d[k] > 0 else nan)
    return out
