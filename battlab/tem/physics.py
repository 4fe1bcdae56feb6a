"""Electron-optics and dose arithmetic: relativistic wavelength, camera equation, dose.

Camera equation: a ring of radius R on a detector at camera length L comes from planes
of spacing d with R·d = λ·L (small angles). battlab keeps the product as the *camera
constant* K = λL/p in px·Å (p the detector pixel), so ``d_A = K / R_px``; K comes from
λ and L or, better, from a standard (Au, Si) with :func:`battlab.tem.saed.calibrate_camera`.

Dose: a TEM flood beam of current I over a disc of diameter D gives a dose rate
I/(e·πD²/4); a STEM probe of current I dwelling t per pixel of side p deposits I·t/(e·p²)
per frame. Both are reported in e⁻ Å⁻² (and e⁻ Å⁻² s⁻¹; 1 e⁻ Å⁻² s⁻¹ = 1.602 mA cm⁻²).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from battlab.errors import InvalidParameterError

__all__ = [
    "ELECTRON_CHARGE_C",
    "camera_constant_px_A",
    "camera_length_mm",
    "cumulative_dose",
    "d_from_radius_A",
    "dose_budget",
    "dose_rate_stem",
    "dose_rate_tem",
    "dose_rate_to_current_density_mA_cm2",
    "electron_wavelength_pm",
    "fit_dose_threshold",
    "interaction_constant_rad_per_V_nm",
    "radius_from_d_px",
]

# CODATA 2018 exact / recommended values
_H = 6.62607015e-34  # J s
_M0 = 9.1093837015e-31  # kg
ELECTRON_CHARGE_C = 1.602176634e-19
_C = 299792458.0  # m/s
_A2_PER_CM2 = 1e16


def _positive(value, name):
    arr = np.asarray(value, dtype=float)
    if not np.all(np.isfinite(arr)) or np.any(arr <= 0):
        raise InvalidParameterError(f"{name} must be a positive number, got {value!r}.")
    return arr if arr.ndim else float(arr)


def electron_wavelength_pm(voltage_kV):
    """Relativistic electron wavelength λ = h / √(2m₀eV(1 + eV/2m₀c²)) in pm.

    >>> round(electron_wavelength_pm(200), 4)
    2.5079
    """
    v = _positive(voltage_kV, "voltage_kV") * 1e3
    energy = ELECTRON_CHARGE_C * v
    lam = _H / np.sqrt(2 * _M0 * energy * (1 + energy / (2 * _M0 * _C ** 2)))
    return lam * 1e12


def interaction_constant_rad_per_V_nm(voltage_kV):
    """Holography interaction constant C_E = (2π/λ)(E + E₀)/(E(E + 2E₀)) in rad V⁻¹ nm⁻¹."""
    v = _positive(voltage_kV, "voltage_kV") * 1e3
    lam_nm = electron_wavelength_pm(voltage_kV) * 1e-3
    e0 = _M0 * _C ** 2 / ELECTRON_CHARGE_C  # rest energy in eV
    return 2 * np.pi / lam_nm * (v + e0) / (v * (v + 2 * e0))


def camera_constant_px_A(*, voltage_kV: float, camera_length_mm: float, detector_pixel_um: float) -> float:
    """Camera constant K = λL/p in px·Å from the nominal camera length and pixel pitch."""
    lam_A = electron_wavelength_pm(voltage_kV) / 100
    return float(lam_A * _positive(camera_length_mm, "camera_length_mm") * 1e3
                 / _positive(detector_pixel_um, "detector_pixel_um"))


def camera_length_mm(camera_constant: float, *, voltage_kV: float, detector_pixel_um: float) -> float:
    """The effective camera length a calibrated camera constant implies (L = K·p/λ)."""
    lam_A = electron_wavelength_pm(voltage_kV) / 100
    return float(_positive(camera_constant, "camera_constant") * _positive(detector_pixel_um, "detector_pixel_um")
                 / 1e3 / lam_A)


def d_from_radius_A(radius_px, camera_constant: float):
    """Camera equation d = λL / R with K = λL/p in px·Å and R in px."""
    return _positive(camera_constant, "camera_constant") / _positive(radius_px, "radius_px")


def radius_from_d_px(d_A, camera_constant: float):
    """Ring radius in px of planes with spacing ``d_A`` (inverse of :func:`d_from_radius_A`)."""
    return _positive(camera_constant, "camera_constant") / _positive(d_A, "d_A")


def dose_rate_tem(*, beam_current_A: float, illuminated_diameter_um: float) -> float:
    """Dose rate of a uniform flood beam over a disc, in e⁻ Å⁻² s⁻¹.

    >>> round(dose_rate_tem(beam_current_A=1e-9, illuminated_diameter_um=1.0), 2)
    79.47
    """
    current = _positive(beam_current_A, "beam_current_A")
    radius_A = _positive(illuminated_diameter_um, "illuminated_diameter_um") * 1e4 / 2
    return float(current / ELECTRON_CHARGE_C / (np.pi * radius_A ** 2))


def dose_rate_stem(*, beam_current_A: float, pixel_size_nm: float, dwell_time_s: float,
                   n_pixels: int | None = None, frame_time_s: float | None = None) -> dict:
    """Dose per STEM frame and the frame-averaged dose rate.

    Parameters
    ----------
    beam_current_A, pixel_size_nm, dwell_time_s : float
        Probe current, scan step and dwell per pixel.
    n_pixels : int, optional
        Pixels per frame; with ``frame_time_s`` (flyback included) or alone (frame time =
        n_pixels × dwell) it gives the average dose rate.

    Returns
    -------
    dict
        ``dose_per_frame_e_A2`` and ``dose_rate_e_A2_s`` (NaN without a frame time).
    """
    per_frame = (_positive(beam_current_A, "beam_current_A") * _positive(dwell_time_s, "dwell_time_s")
                 / ELECTRON_CHARGE_C / (_positive(pixel_size_nm, "pixel_size_nm") * 10) ** 2)
    if frame_time_s is None and n_pixels is not None:
        frame_time_s = int(n_pixels) * dwell_time_s
    rate = per_frame / _positive(frame_time_s, "frame_time_s") if frame_time_s is not None else np.nan
    return {"dose_per_frame_e_A2": float(per_frame), "dose_rate_e_A2_s": float(rate)}


def dose_rate_to_current_density_mA_cm2(dose_rate_e_A2_s):
    """1 e⁻ Å⁻² s⁻¹ = 1.602 mA cm⁻²."""
    return np.asarray(dose_rate_e_A2_s, float) * ELECTRON_CHARGE_C * _A2_PER_CM2 * 1e3


def cumulative_dose(frame_times_s, *, dose_rate_e_A2_s: float, exposure_s=None) -> pd.DataFrame:
    """Per-frame and cumulative dose of a movie.

    Parameters
    ----------
    frame_times_s : array_like
        Start time of every frame (s).
    dose_rate_e_A2_s : float
        Dose rate on the specimen while the beam is on.
    exposure_s : float or array_like, optional
        Beam-on time per frame. Default: the beam stays on, so each frame receives the
        dose of the interval to the next frame (the last frame repeats the previous one).

    Returns
    -------
    DataFrame
        ``frame``, ``time_s``, ``exposure_s``, ``dose_e_A2`` (this frame) and
        ``cumulative_dose_e_A2`` (up to the end of this frame).
    """
    t = np.asarray(frame_times_s, float)
    if t.ndim != 1 or t.size == 0 or not np.all(np.isfinite(t)):
        raise InvalidParameterError("frame_times_s must be a non-empty 1-D array of finite times.")
    if t.size > 1 and np.any(np.diff(t) <= 0):
        raise InvalidParameterError("frame times must increase.")
    rate = float(_positive(dose_rate_e_A2_s, "dose_rate_e_A2_s"))
    if exposure_s is None:
        if t.size == 1:
            raise InvalidParameterError("a single frame needs exposure_s=.")
        gaps = np.diff(t)
        exp = np.append(gaps, gaps[-1])
    else:
        exp = np.broadcast_to(_positive(exposure_s, "exposure_s"), t.shape).astype(float)
    dose = rate * exp
    return pd.DataFrame({"frame": np.arange(t.size), "time_s": t, "exposure_s": exp, "dose_e_A2": dose,
                         "cumulative_dose_e_A2": np.cumsum(dose)})


def dose_budget(*, budget_e_A2: float, dose_rate_e_A2_s: float, exposure_s: float,
                frame_interval_s: float | None = None, frames_wanted: int | None = None) -> dict:
    """How many frames (and how much time) a dose budget allows.

    Parameters
    ----------
    budget_e_A2 : float
        Total dose the specimen may receive (measure it first: battlab has no safe default).
    dose_rate_e_A2_s, exposure_s : float
        Dose rate and beam-on time per frame.
    frame_interval_s : float, optional
        Time between frames (≥ exposure; beam blanked in between). Default = exposure.
    frames_wanted : int, optional
        If given, also the largest dose rate that keeps that many frames within budget.

    Returns
    -------
    dict
        ``dose_per_frame_e_A2``, ``max_frames``, ``max_duration_s``, and with
        ``frames_wanted`` the ``max_dose_rate_e_A2_s`` and ``fits_budget``.
    """
    budget = float(_positive(budget_e_A2, "budget_e_A2"))
    rate = float(_positive(dose_rate_e_A2_s, "dose_rate_e_A2_s"))
    exp = float(_positive(exposure_s, "exposure_s"))
    interval = exp if frame_interval_s is None else float(_positive(frame_interval_s, "frame_interval_s"))
    if interval < exp:
        raise InvalidParameterError("frame_interval_s cannot be shorter than the exposure.")
    per_frame = rate * exp
    n = int(np.floor(budget / per_frame * (1 + 1e-12)))
    out = {"dose_per_frame_e_A2": per_frame, "max_frames": n, "max_duration_s": n * interval}
    if frames_wanted is not None:
        k = int(frames_wanted)
        if k < 1:
            raise InvalidParameterError("frames_wanted must be at least 1.")
        out["max_dose_rate_e_A2_s"] = budget / (k * exp)
        out["fits_budget"] = bool(k <= n)
    return out


def fit_dose_threshold(cumulative_dose_e_A2, metric, *, min_points: int = 3) -> dict:
    """Dose at which a metric starts to change: flat, then linear in dose (a hinge).

    metric = m₀ for D ≤ D_c and m₀ + s (D − D_c) beyond. For every candidate D_c between
    data points the model is linear in (m₀, s); the D_c with the smallest squared error
    wins. Use it on pooled (dose, metric) pairs from several runs to find the dose a
    specimen tolerates before the beam changes it.

    Returns
    -------
    dict
        ``threshold_e_A2``, ``baseline``, ``slope_per_e_A2``, ``sse``, ``sse_no_threshold``
        (one straight line) and ``n``.
    """
    d = np.asarray(cumulative_dose_e_A2, float)
    y = np.asarray(metric, float)
    ok = np.isfinite(d) & np.isfinite(y)
    d, y = d[ok], y[ok]
    order = np.argsort(d)
    d, y = d[order], y[order]
    if d.size < 2 * min_points + 1:
        raise InvalidParameterError(f"a dose-threshold fit needs at least {2 * min_points + 1} points.")
    # candidates: a fine grid between the min_points-th and the last-min_points-th dose
    grid = np.linspace(d[min_points - 1], d[-min_points], 400)
    best = None
    for dc in grid:
        a = np.column_stack([np.ones_like(d), np.clip(d - dc, 0, None)])
        coef, *_ = np.linalg.lstsq(a, y, rcond=None)
        sse = float(np.sum((a @ coef - y) ** 2))
        if best is None or sse < best[0]:
            best = (sse, dc, coef)
    sse, dc, coef = best
    line = np.polyfit(d, y, 1)
    return {"threshold_e_A2": float(dc), "baseline": float(coef[0]), "slope_per_e_A2": float(coef[1]), "sse": sse,
            "sse_no_threshold": float(np.sum((np.polyval(line, d) - y) ** 2)), "n": int(d.size)}
