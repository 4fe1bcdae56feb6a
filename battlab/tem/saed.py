"""Selected-area electron diffraction and HRTEM FFT: centre, rings, d-spacings, phase ID.

Pipeline for a ring pattern: :func:`find_center` (point symmetry of the pattern, found
by phase correlation of the pattern with its 180° rotation) → :func:`azimuthal_profile`
(``np.bincount`` over radius, beam stop masked) → :func:`find_rings` (background
subtracted, Gaussian peak fits, sub-pixel radii) → d = K/R with the camera constant K
(:func:`battlab.tem.physics.d_from_radius_A`, or :func:`calibrate_camera` on an Au/Si
standard) → :func:`match_phases` against :mod:`battlab.tem.phases`, which returns every
candidate within tolerance, never only the best one.

For HRTEM lattice images :func:`fft_spots` measures spot spacings |g| in the Fourier
transform (d = 1/|g|, sub-pixel by a log-parabola through the spot) and the angles
between spots; :func:`lattice_spacing_series` follows one spot through a movie.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from battlab.errors import InvalidParameterError, MissingDataError
from battlab.tem.phases import TEM_PHASES, reflections
from battlab.tem.physics import d_from_radius_A

__all__ = [
    "azimuthal_profile",
    "azimuthal_profiles",
    "calibrate_camera",
    "d_candidates",
    "fft_spots",
    "find_center",
    "find_rings",
    "gpa_strain",
    "lattice_spacing_series",
    "match_phases",
    "phase_fraction_from_rings",
    "ring_intensities",
]

STANDARDS = ("Au", "Si", "Cu", "Ni")


def _image(pattern, what="pattern"):
    arr = np.asarray(getattr(pattern, "values", pattern), dtype=float)
    if arr.ndim != 2 or min(arr.shape) < 16:
        raise InvalidParameterError(f"the {what} must be a 2-D image of at least 16×16 px, got shape {arr.shape}.")
    if not np.all(np.isfinite(arr)):
        arr = np.where(np.isfinite(arr), arr, np.nanmedian(arr))
    return arr


def find_center(pattern, *, mask=None, upsample_factor: int = 20) -> tuple[float, float]:
    """Centre of a diffraction pattern (y, x in px) from its point symmetry.

    A kinematic pattern is centrosymmetric about the direct beam, so the pattern and its
    180°-rotated copy are shifted by twice the centre's offset from the array centre; the
    shift comes from sub-pixel phase correlation (:func:`battlab.imaging.phase_shift`) on
    the log intensity. ``mask`` (True = ignore, e.g. the beam stop) is filled with the
    median first.
    """
    from battlab.imaging.drift import phase_shift

    img = _image(pattern)
    if mask is not None:
        mask = np.asarray(mask, bool)
        if mask.shape != img.shape:
            raise InvalidParameterError(f"mask shape {mask.shape} differs from the pattern {img.shape}.")
        img = np.where(mask, np.median(img[~mask]) if (~mask).any() else 0.0, img)
    logged = np.log1p(np.clip(img - img.min(), 0, None))
    rotated = logged[::-1, ::-1]
    dy, dx, _conf = phase_shift(logged, rotated, upsample_factor=upsample_factor)
    ny, nx = img.shape
    return (ny - 1 - dy) / 2.0, (nx - 1 - dx) / 2.0


def _radius_map(shape, center):
    y, x = np.indices(shape, dtype=float)
    return np.hypot(y - center[0], x - center[1])


def azimuthal_profile(pattern, *, center=None, mask=None, bin_px: float = 0.5, r_max_px: float | None = None,
                      camera_constant: float | None = None):
    """Azimuthal average I(R) of a diffraction pattern.

    Parameters
    ----------
    pattern : 2-D array or DataArray
    center : (y, x), optional
        Beam centre in px; default :func:`find_center`.
    mask : 2-D bool array, optional
        True where pixels are ignored (beam stop, dead pixels).
    bin_px : float
        Radial bin width in px.
    r_max_px : float, optional
        Largest radius kept; default the largest full circle inside the image.
    camera_constant : float, optional
        K = λL/p in px·Å; adds the ``d_A`` and ``q_per_A`` (= 1/d) coordinates.

    Returns
    -------
    xarray.DataArray
        dims ``("radius",)``, coordinate ``radius_px`` (bin centres), attrs ``center_px``.
    """
    import xarray as xr

    img = _image(pattern)
    if center is None:
        center = find_center(img, mask=mask)
    if not bin_px > 0:
        raise InvalidParameterError(f"bin_px must be positive, got {bin_px}.")
    r = _radius_map(img.shape, center)
    if r_max_px is None:
        ny, nx = img.shape
        r_max_px = min(center[0], center[1], ny - 1 - center[0], nx - 1 - center[1])
    if r_max_px <= 4 * bin_px:
        raise InvalidParameterError("the centre is too close to the edge for an azimuthal profile.")
    keep = r <= r_max_px
    if mask is not None:
        keep &= ~np.asarray(mask, bool)
    idx = (r[keep] / bin_px).astype(int)
    n = int(r_max_px / bin_px) + 1
    counts = np.bincount(idx, minlength=n)[:n]
    sums = np.bincount(idx, weights=img[keep], minlength=n)[:n]
    with np.errstate(invalid="ignore", divide="ignore"):
        prof = sums / counts
    radius = (np.arange(n) + 0.5) * bin_px
    good = counts > 0
    out = xr.DataArray(prof[good], dims=("radius",), coords={"radius_px": ("radius", radius[good])},
                       name="intensity", attrs={"units": "counts", "center_px": tuple(map(float, center)),
                                                "bin_px": bin_px})
    out["radius_px"].attrs["units"] = "px"
    if camera_constant is not None:
        with np.errstate(divide="ignore"):
            d = camera_constant / out["radius_px"].to_numpy()
        out = out.assign_coords(d_A=("radius", d), q_per_A=("radius", 1 / d))
        out.attrs["camera_constant_px_A"] = float(camera_constant)
    return out


def azimuthal_profiles(patterns, *, center=None, mask=None, bin_px: float = 0.5, r_max_px: float | None = None,
                       camera_constant: float | None = None, times_s=None):
    """Azimuthal profiles of a pattern series ``(time, ky, kx)`` with one centre, as ``(time, radius)``.

    The radial bin of every pixel is computed once; each frame is one ``np.bincount``.
    """
    import xarray as xr

    stack = patterns.data if hasattr(patterns, "dims") else np.asarray(patterns)
    if stack.ndim != 3:
        raise InvalidParameterError("patterns must be a (time, y, x) stack.")
    n_t = stack.shape[0]
    first = np.asarray(stack[0], float)
    if center is None:
        center = find_center(first, mask=mask)
    ref = azimuthal_profile(first, center=center, mask=mask, bin_px=bin_px, r_max_px=r_max_px,
                            camera_constant=camera_constant)
    r = _radius_map(first.shape, center)
    keep = r <= ref["radius_px"].to_numpy()[-1] + bin_px / 2
    if mask is not None:
        keep &= ~np.asarray(mask, bool)
    idx = (r[keep] / bin_px).astype(int)
    n = int(idx.max()) + 1
    counts = np.bincount(idx, minlength=n)
    good = counts > 0
    rows = np.empty((n_t, int(good.sum())))
    for i in range(n_t):
        frame = np.asarray(stack[i], float)
        rows[i] = (np.bincount(idx, weights=frame[keep], minlength=n) / np.maximum(counts, 1))[good]
    if times_s is None:
        times_s = patterns["time_s"].to_numpy() if hasattr(patterns, "coords") and "time_s" in patterns.coords \
            else np.arange(n_t, dtype=float)
    out = xr.DataArray(rows[:, :ref.sizes["radius"]], dims=("time", "radius"),
                       coords={"time_s": ("time", np.asarray(times_s, float)), **{k: v for k, v in ref.coords.items()}},
                       name="intensity", attrs=dict(ref.attrs))
    return out


def _background(y, half_width):
    from battlab.peaks import background_snip

    return background_snip(y, half_width=max(2, int(half_width)), lls=True, decreasing=True)


def find_rings(profile, *, camera_constant: float | None = None, prominence: float | None = None,
               max_rings: int = 12, min_radius_px: float = 5.0, background_half_width_px: float = 8.0) -> pd.DataFrame:
    """Ring radii of an azimuthal profile, fitted to sub-pixel precision.

    The background (SNIP, clipping half-width ``background_half_width_px``) is removed,
    peaks are found, and each is fitted with a Gaussian plus a straight line in a window
    of ± 1.5 FWHM.

    Returns
    -------
    DataFrame
        ``radius_px``, ``fwhm_px``, ``height``, ``area``, and ``d_A`` when a camera
        constant is given (or stored on the profile), sorted by radius.
    """
    from battlab.peaks import find_peaks, fit_peaks

    r = profile["radius_px"].to_numpy()
    y = np.asarray(profile.values, float)
    if camera_constant is None:
        camera_constant = profile.attrs.get("camera_constant_px_A")
    sel = r >= min_radius_px
    r, y = r[sel], y[sel]
    if r.size < 10:
        raise MissingDataError("the profile is too short to look for rings.")
    step = float(np.median(np.diff(r)))
    signal = y - _background(y, background_half_width_px / step)
    if prominence is None:
        # noise is larger near the centre (fewer pixels per bin); a floor relative to the
        # strongest ring keeps noise spikes there out
        noise = 1.4826 * np.median(np.abs(np.diff(signal))) / np.sqrt(2)
        prominence = max(5 * noise, 0.03 * float(np.max(signal)))
    found = find_peaks(r, signal, prominence=prominence, min_separation=2 * step, max_peaks=max_rings)
    found["fwhm"] = np.maximum(found["fwhm"], 2 * step)
    rows = []
    for _, pk in found.iterrows():
        half = max(1.5 * pk["fwhm"], 3 * step)
        win = (r > pk["center"] - half) & (r < pk["center"] + half)
        if win.sum() < 5:
            continue
        try:
            fit = fit_peaks(r[win], signal[win], [pk["center"]], model="gaussian", fwhm=max(pk["fwhm"], 2 * step),
                            background_order=1, center_tolerance=half / 2)
        except Exception:  # a failed local fit keeps the raw maximum
            rows.append({"radius_px": pk["center"], "fwhm_px": pk["fwhm"], "height": pk["height"], "area": np.nan})
            continue
        p = fit.peaks.iloc[0]
        rows.append({"radius_px": p["center"], "fwhm_px": p["fwhm"], "height": p["height"], "area": p["area"]})
    table = pd.DataFrame(rows, columns=["radius_px", "fwhm_px", "height", "area"])
    if camera_constant is not None and len(table):
        table["d_A"] = d_from_radius_A(table["radius_px"].to_numpy(), camera_constant)
    return table.sort_values("radius_px").reset_index(drop=True)


def calibrate_camera(ring_radii_px, *, standard: str = "Au", tolerance_pct: float = 2.0, n_reference: int = 20) -> dict:
    """Camera constant K (px·Å) from the rings of a known standard.

    Every pairing of one of the three innermost rings with one of the standard's first
    reflections proposes a K; the proposal that explains the most rings (then the
    smallest error) wins, and K is refined by least squares over all assigned rings:
    K = Σ(dᵢ/Rᵢ) / Σ(1/Rᵢ²).

    Returns
    -------
    dict
        ``camera_constant_px_A``, ``rms_error_pct``, ``n_assigned`` and ``rings`` (table
        of radius, hkl, d_ref_A, d_fit_A, error_pct).
    """
    if standard not in TEM_PHASES:
        raise InvalidParameterError(f"unknown standard {standard!r}; use one of {', '.join(STANDARDS)} "
                                    "or another bundled phase.")
    radii = np.sort(np.asarray(ring_radii_px, float))
    if radii.size < 2 or np.any(radii <= 0):
        raise MissingDataError("calibration needs at least two positive ring radii.")
    ref = reflections(standard, d_min_A=0.5).head(n_reference)
    d_ref = ref["d_A"].to_numpy()
    tol = tolerance_pct / 100
    best = None
    for i in range(min(3, radii.size)):
        for j in range(min(5, d_ref.size)):
            k = radii[i] * d_ref[j]
            d_obs = k / radii
            rel = np.abs(d_obs[:, None] / d_ref[None, :] - 1)
            nearest = rel.argmin(axis=1)
            ok = rel[np.arange(radii.size), nearest] <= tol
            # each reference reflection explains at most one ring
            if len(set(nearest[ok])) < ok.sum():
                continue
            score = (int(ok.sum()), -float(np.mean(rel[np.arange(radii.size), nearest][ok])))
            if best is None or score > best[0]:
                best = (score, ok, nearest)
    if best is None or best[0][0] < 2:
        raise MissingDataError(f"no consistent assignment of the rings to {standard}; check the standard or "
                               "the ring list (at least two rings must match).")
    _, ok, nearest = best
    r_ok, d_ok = radii[ok], d_ref[nearest[ok]]
    k = float(np.sum(d_ok / r_ok) / np.sum(1 / r_ok ** 2))
    d_fit = k / r_ok
    err = (d_fit / d_ok - 1) * 100
    rings = pd.DataFrame({"radius_px": r_ok, "hkl": ref["hkl"].to_numpy()[nearest[ok]], "d_ref_A": d_ok,
                          "d_fit_A": d_fit, "error_pct": err})
    return {"camera_constant_px_A": k, "rms_error_pct": float(np.sqrt(np.mean(err ** 2))),
            "n_assigned": int(ok.sum()), "standard": standard, "rings": rings}


def _library(phases, d_min, d_max):
    names = list(TEM_PHASES) if phases is None else list(phases)
    for name in names:
        if name not in TEM_PHASES:
            raise InvalidParameterError(f"unknown phase {name!r}; bundled: {', '.join(TEM_PHASES)}.")
    return pd.concat([reflections(n, d_min_A=d_min, d_max_A=d_max) for n in names], ignore_index=True)


def d_candidates(d_observed_A, *, phases=None, tolerance_pct: float = 1.5) -> pd.DataFrame:
    """Every reference reflection within ``tolerance_pct`` of each observed d.

    Returns
    -------
    DataFrame
        ``peak`` (index of the observed d), ``d_obs_A``, ``phase``, ``hkl``, ``d_ref_A``,
        ``delta_pct`` ((d_obs − d_ref)/d_ref), sorted by peak then |delta|. A d that two
        phases explain (LiF(111) and Li2O(200) near 2.32 Å) appears once per phase.
    """
    d_obs = np.atleast_1d(np.asarray(d_observed_A, float))
    if d_obs.size == 0 or np.any(~np.isfinite(d_obs)) or np.any(d_obs <= 0):
        raise InvalidParameterError("observed d-spacings must be positive numbers.")
    if not tolerance_pct > 0:
        raise InvalidParameterError("tolerance_pct must be positive.")
    lib = _library(phases, d_obs.min() * (1 - 2 * tolerance_pct / 100), d_obs.max() * (1 + 2 * tolerance_pct / 100))
    rows = []
    for i, d in enumerate(d_obs):
        delta = (d / lib["d_A"].to_numpy() - 1) * 100
        hit = np.abs(delta) <= tolerance_pct
        for (_, ref), dp in zip(lib[hit].iterrows(), delta[hit], strict=True):
            rows.append({"peak": i, "d_obs_A": d, "phase": ref["phase"], "hkl": ref["hkl"], "d_ref_A": ref["d_A"],
                         "delta_pct": dp})
    out = pd.DataFrame(rows, columns=["peak", "d_obs_A", "phase", "hkl", "d_ref_A", "delta_pct"])
    if len(out):
        out = out.assign(_a=out["delta_pct"].abs()).sort_values(["peak", "_a"]).drop(columns="_a")
    return out.reset_index(drop=True)


def match_phases(d_observed_A, *, phases=None, tolerance_pct: float = 1.5, n_expected: int = 4,
                 d_range_A=None) -> pd.DataFrame:
    """Rank phases by how well they explain a list of observed d-spacings.

    Parameters
    ----------
    d_observed_A : array_like
        Measured ring/spot spacings.
    phases : list of str, optional
        Library subset; default every bundled phase.
    tolerance_pct : float
        A reflection explains an observed d within this relative difference.
    n_expected : int
        How many of the phase's largest d-spacings inside the observed range it should
        show; ``coverage`` is the fraction of those seen (absent strong rings lower the score).
    d_range_A : (float, float), optional
        The d range the measurement could see (e.g. K/R_max … K/R_min of the profile);
        default the observed range. Reflections expected inside it count for coverage.

    Returns
    -------
    DataFrame
        One row per phase with at least one match: ``phase``, ``n_matched``,
        ``matched_fraction`` (of the observed peaks), ``coverage``, ``mean_abs_delta_pct``,
        ``score`` (= matched_fraction × coverage), ``matched`` (hkl@d list), ranked by score.
        Every phase within tolerance is listed — ambiguity is reported, not resolved.
    """
    d_obs = np.atleast_1d(np.asarray(d_observed_A, float))
    cand = d_candidates(d_obs, phases=phases, tolerance_pct=tolerance_pct)
    rows = []
    lo, hi = d_obs.min() * (1 - tolerance_pct / 100), d_obs.max() * (1 + tolerance_pct / 100)
    if d_range_A is not None:
        lo, hi = sorted(map(float, d_range_A))
    for phase, group in cand.groupby("phase", sort=False):
        best = group.loc[group["delta_pct"].abs().groupby(group["peak"]).idxmin()]
        expected = reflections(phase, d_min_A=lo, d_max_A=hi).head(n_expected)
        seen = expected["hkl"].isin(group["hkl"]).sum()
        coverage = seen / len(expected) if len(expected) else 0.0
        frac = best["peak"].nunique() / d_obs.size
        rows.append({"phase": phase, "n_matched": int(best["peak"].nunique()), "matched_fraction": frac,
                     "coverage": coverage, "mean_abs_delta_pct": float(best["delta_pct"].abs().mean()),
                     "score": frac * coverage,
                     "matched": ", ".join(f"{h}@{d:.3f}" for h, d in zip(best["hkl"], best["d_obs_A"], strict=True))})
    out = pd.DataFrame(rows, columns=["phase", "n_matched", "matched_fraction", "coverage", "mean_abs_delta_pct",
                                      "score", "matched"])
    return out.sort_values(["score", "n_matched", "mean_abs_delta_pct"], ascending=[False, False, True]) \
        .reset_index(drop=True)


def ring_intensities(profiles, windows: dict, *, camera_constant: float | None = None,
                     background: bool = True) -> pd.DataFrame:
    """Integrated ring intensity per frame inside radius windows.

    Parameters
    ----------
    profiles : DataArray
        From :func:`azimuthal_profiles`, dims ``(time, radius)``.
    windows : dict
        ``name -> (low, high)`` in px of radius, or in Å of d when ``camera_constant``
        (or the profile's own) is known and the values are given as ``("d", low, high)``.
    background : bool
        Subtract the straight line through the window's end points (local background).

    Returns
    -------
    DataFrame
        ``time_s`` plus one column of integrated intensity per window.
    """
    r = profiles["radius_px"].to_numpy()
    k = camera_constant or profiles.attrs.get("camera_constant_px_A")
    data = np.asarray(profiles.values, float)
    if data.ndim == 1:
        data = data[None]
    out = {"time_s": profiles["time_s"].to_numpy() if "time_s" in profiles.coords else np.arange(len(data))}
    for name, win in windows.items():
        if len(win) == 3 and win[0] == "d":
            if not k:
                raise MissingDataError(f"window {name!r} is in d; give camera_constant= (px·Å).")
            lo, hi = sorted((k / win[2], k / win[1]))
        else:
            lo, hi = sorted(map(float, win))
        sel = (r >= lo) & (r <= hi)
        if sel.sum() < 3:
            raise InvalidParameterError(f"window {name!r} ({lo:.1f}–{hi:.1f} px) holds fewer than 3 profile points.")
        seg = data[:, sel]
        if background:
            x = r[sel]
            line = seg[:, :1] + (seg[:, -1:] - seg[:, :1]) * (x - x[0]) / (x[-1] - x[0])
            seg = seg - line
        out[name] = np.trapezoid(seg, r[sel], axis=1)
    return pd.DataFrame(out)


def phase_fraction_from_rings(intensities: pd.DataFrame, *, reactant: str, product: str) -> pd.DataFrame:
    """Product fraction from the rings of a reactant and a product.

    Each ring intensity is scaled by its largest value in the series (the pure end
    member), and f = Ĩ_product / (Ĩ_product + Ĩ_reactant). This assumes both end members
    occur in the series; otherwise f is relative.
    """
    for col in (reactant, product):
        if col not in intensities:
            raise MissingDataError(f"no ring intensity column {col!r}; have {list(intensities.columns)}.")
    a = np.clip(intensities[reactant].to_numpy(float), 0, None)
    b = np.clip(intensities[product].to_numpy(float), 0, None)
    if a.max() <= 0 or b.max() <= 0:
        raise MissingDataError("one of the rings is never above background.")
    a, b = a / a.max(), b / b.max()
    with np.errstate(invalid="ignore"):
        f = b / (a + b)
    return pd.DataFrame({"time_s": intensities["time_s"].to_numpy(), "product_fraction": f})


# --------------------------------------------------------------------------- HRTEM FFT


def _hann2(shape):
    return np.outer(np.hanning(shape[0]), np.hanning(shape[1]))


def _refine(logmag, iy, ix):
    """Sub-pixel peak by a parabola through log|F| along each axis (Gaussian peak model)."""
    ny, nx = logmag.shape
    c = logmag[iy, ix]
    ym, yp = logmag[(iy - 1) % ny, ix], logmag[(iy + 1) % ny, ix]
    xm, xp = logmag[iy, (ix - 1) % nx], logmag[iy, (ix + 1) % nx]
    den_y, den_x = ym - 2 * c + yp, xm - 2 * c + xp
    dy = 0.5 * (ym - yp) / den_y if den_y < 0 else 0.0
    dx = 0.5 * (xm - xp) / den_x if den_x < 0 else 0.0
    return iy + dy, ix + dx


def fft_spots(image, *, pixel_size_nm: float | None = None, n_spots: int = 6, min_d_nm: float | None = None,
              max_d_nm: float | None = None) -> pd.DataFrame:
    """Lattice spots of an HRTEM image's Fourier transform.

    The image is mean-subtracted and Hann-windowed; the strongest local maxima of |F|
    (one of each Friedel pair ±g) between ``1/max_d_nm`` and ``1/min_d_nm`` are refined
    to sub-pixel precision.

    Returns
    -------
    DataFrame
        ``gy_per_nm``, ``gx_per_nm``, ``g_per_nm``, ``d_nm``, ``d_A``, ``angle_deg``
        (direction of g, 0° = +x, counter-clockwise with y up), ``amplitude``, strongest
        first, plus ``angle_to_first_deg``.
    """
    img = _image(image, "image")
    if pixel_size_nm is None:
        pixel_size_nm = getattr(image, "attrs", {}).get("pixel_size_nm")
    if not pixel_size_nm or pixel_size_nm <= 0:
        raise MissingDataError("fft_spots needs pixel_size_nm= (square pixels).")
    ny, nx = img.shape
    f = np.fft.fftshift(np.fft.fft2((img - img.mean()) * _hann2(img.shape)))
    mag = np.abs(f)
    logmag = np.log(mag + 1e-12 * mag.max() + 1e-30)
    cy, cx = ny // 2, nx // 2
    ky = (np.arange(ny) - cy) / (ny * pixel_size_nm)
    kx = (np.arange(nx) - cx) / (nx * pixel_size_nm)
    g = np.hypot(ky[:, None], kx[None, :])
    lo = 1 / max_d_nm if max_d_nm else 3.0 / (min(ny, nx) * pixel_size_nm)
    hi = 1 / min_d_nm if min_d_nm else np.inf
    from scipy.ndimage import maximum_filter

    peaks = (mag == maximum_filter(mag, size=5)) & (g >= lo) & (g <= hi)
    # one of each Friedel pair: keep the upper half plane (and +x on the axis)
    half = (np.arange(ny)[:, None] < cy) | ((np.arange(ny)[:, None] == cy) & (np.arange(nx)[None, :] > cx))
    iy, ix = np.nonzero(peaks & half)
    if iy.size == 0:
        raise MissingDataError("no lattice spots in the chosen d range.")
    order = np.argsort(mag[iy, ix])[::-1][:n_spots]
    rows = []
    for k in order:
        fy, fx = _refine(logmag, iy[k], ix[k])
        gy, gx = (fy - cy) / (ny * pixel_size_nm), (fx - cx) / (nx * pixel_size_nm)
        gm = float(np.hypot(gy, gx))
        rows.append({"gy_per_nm": gy, "gx_per_nm": gx, "g_per_nm": gm, "d_nm": 1 / gm, "d_A": 10 / gm,
                     # image rows run downwards, so -gy points up
                     "angle_deg": float(np.degrees(np.arctan2(-gy, gx))) % 180, "amplitude": float(mag[iy[k], ix[k]])})
    out = pd.DataFrame(rows)
    diff = (out["angle_deg"] - out["angle_deg"].iloc[0]) % 180
    out["angle_to_first_deg"] = np.minimum(diff, 180 - diff)
    return out


def lattice_spacing_series(movie, *, pixel_size_nm: float | None = None, d_range_nm=None,
                           reference_frame: int = 0) -> pd.DataFrame:
    """d of the strongest FFT spot in every frame and the strain relative to a reference frame.

    Returns
    -------
    DataFrame
        ``frame``, ``time_s``, ``d_A``, ``angle_deg``, ``strain`` (= d/d_ref − 1).
    """
    if pixel_size_nm is None:
        pixel_size_nm = movie.attrs.get("pixel_size_nm")
    lo, hi = d_range_nm if d_range_nm is not None else (None, None)
    n = movie.sizes["time"]
    rows = []
    for i in range(n):
        spot = fft_spots(np.asarray(movie.isel(time=i).values), pixel_size_nm=pixel_size_nm, n_spots=1,
                         min_d_nm=lo, max_d_nm=hi).iloc[0]
        rows.append({"frame": i, "time_s": float(movie["time_s"][i]) if "time_s" in movie.coords else float(i),
                     "d_A": spot["d_A"], "angle_deg": spot["angle_deg"]})
    out = pd.DataFrame(rows)
    if not 0 <= reference_frame < n:
        raise InvalidParameterError(f"reference_frame {reference_frame} is outside the movie (0–{n - 1}).")
    out["strain"] = out["d_A"] / out["d_A"].iloc[reference_frame] - 1
    return out


def gpa_strain(image, *, pixel_size_nm: float | None = None, spot=None, mask_sigma_per_nm: float | None = None):
    """Simple geometric phase analysis: strain along one lattice vector g, pixel by pixel.

    The Fourier transform is masked with a Gaussian around ``g`` (the strongest FFT spot
    by default), transformed back and demodulated by the reference g: the local phase
    φ(r) = 2π Δg·r, so Δg = ∇φ/2π and the strain along ĝ is ε = −(Δg·ĝ)/|g| (d grows
    where g shrinks). The spatial resolution is about 1/(2π·σ) of the mask.

    Parameters
    ----------
    spot : (gy, gx) in 1/nm, optional
        Reference vector (a row of :func:`fft_spots`); default the strongest spot.
    mask_sigma_per_nm : float, optional
        Gaussian mask width; default |g|/8.

    Returns
    -------
    xarray.DataArray
        dims ``(y, x)``: strain ε relative to the reference spacing 1/|g|, attrs
        ``g_per_nm``, ``d_ref_A``.
    """
    import xarray as xr

    img, pixel_size_nm = _image_px(image, pixel_size_nm, "gpa_strain")
    if spot is None:
        row = fft_spots(img, pixel_size_nm=pixel_size_nm, n_spots=1).iloc[0]
        spot = (row["gy_per_nm"], row["gx_per_nm"])
    gy, gx = (float(v) for v in spot)
    gmag = float(np.hypot(gy, gx))
    if gmag <= 0:
        raise InvalidParameterError("the reference spot must not be the origin.")
    sigma = mask_sigma_per_nm or gmag / 8
    ny, nx = img.shape
    dgy, dgx = _gpa_delta_g(img, pixel_size_nm, gy, gx, sigma)
    strain = -(dgy * gy + dgx * gx) / gmag ** 2
    out = xr.DataArray(strain, dims=("y", "x"), name="strain",
                       coords={"y_nm": ("y", np.arange(ny) * pixel_size_nm), "x_nm": ("x", np.arange(nx) * pixel_size_nm)},
                       attrs={"units": "1", "g_per_nm": (gy, gx), "d_ref_A": 10 / gmag,
                              "mask_sigma_per_nm": sigma})
    return out


def _image_px(image, pixel_size_nm, what):
    """The image as an array and its pixel size (given, or from its attrs)."""
    img = _image(image, "image")
    if pixel_size_nm is None:
        pixel_size_nm = getattr(image, "attrs", {}).get("pixel_size_nm")
    if not pixel_size_nm:
        raise MissingDataError(f"{what} needs pixel_size_nm=.")
    return img, pixel_size_nm


def _gpa_delta_g(img, pixel_size_nm, gy, gx, sigma):
    """Local Δg = ∇φ/2π of the lattice fringes selected by a Gaussian mask around g (1/nm)."""
    ny, nx = img.shape
    ky = np.fft.fftfreq(ny, d=pixel_size_nm)[:, None]
    kx = np.fft.fftfreq(nx, d=pixel_size_nm)[None, :]
    mask = np.exp(-((ky - gy) ** 2 + (kx - gx) ** 2) / (2 * sigma ** 2))
    h = np.fft.ifft2(np.fft.fft2(img - img.mean()) * mask)
    y, x = np.indices(img.shape) * pixel_size_nm
    h = h * np.exp(-2j * np.pi * (gy * y + gx * x))
    # phase gradient without unwrapping: Im(h* ∇h)/|h|²
    dhy, dhx = np.gradient(h, pixel_size_nm)
    amp2 = np.abs(h) ** 2 + 1e-30
    return (np.imag(np.conj(h) * dhy) / amp2 / (2 * np.pi), np.imag(np.conj(h) * dhx) / amp2 / (2 * np.pi))


#: Components of :func:`gpa_strain_tensor` (image axes: x to the right, y down the rows).
GPA_COMPONENTS = ("exx", "eyy", "exy", "rotation")


def gpa_strain_tensor(image, *, pixel_size_nm: float | None = None, spots=None,
                      mask_sigma_per_nm: float | None = None):
    """Two-vector geometric phase analysis: the full 2-D strain tensor and the rotation.

    Each of two non-collinear reference vectors g₁, g₂ gives a local Δgᵢ = ∇φᵢ/2π (as in
    :func:`gpa_strain`). A displacement field u changes every g by Δg = −Jᵀg with
    J = ∂u/∂r, so stacking the two gives J = −G⁻¹·ΔG (G has rows g₁, g₂). Then
    ε_xx = J_xx, ε_yy = J_yy, ε_xy = (J_xy + J_yx)/2 and the rotation
    ω = (J_yx − J_xy)/2 (radians; positive turns +x towards +y, i.e. clockwise on screen
    since rows run downwards).

    Parameters
    ----------
    spots : ((gy1, gx1), (gy2, gx2)) in 1/nm, optional
        Reference vectors; default the two strongest :func:`fft_spots` at least 20° apart.
    mask_sigma_per_nm : float, optional
        Gaussian mask width; default min(|g₁|, |g₂|)/8.

    Returns
    -------
    xarray.DataArray
        dims ``(component, y, x)`` with ``component`` = :data:`GPA_COMPONENTS`; attrs
        ``g1_per_nm``, ``g2_per_nm``, ``mask_sigma_per_nm``.
    """
    import xarray as xr

    img, pixel_size_nm = _image_px(image, pixel_size_nm, "gpa_strain_tensor")
    if spots is None:
        table = fft_spots(img, pixel_size_nm=pixel_size_nm, n_spots=8)
        # a second lattice, not window leakage: at least 20° away and a tenth of the strongest amplitude
        second = table[(table["angle_to_first_deg"] >= 20) & (table["amplitude"] >= 0.1 * table["amplitude"].iloc[0])]
        if second.empty:
            raise MissingDataError("the image shows only one set of fringes: the strain tensor needs two "
                                   "non-collinear lattice vectors (use gpa_strain for the strain along g).")
        spots = [(table["gy_per_nm"].iloc[0], table["gx_per_nm"].iloc[0]),
                 (second["gy_per_nm"].iloc[0], second["gx_per_nm"].iloc[0])]
    G = np.array([[float(v) for v in g] for g in spots])
    if G.shape != (2, 2):
        raise InvalidParameterError("spots must be two (gy, gx) vectors in 1/nm.")
    if abs(np.linalg.det(G)) < 1e-6 * np.sum(G ** 2):
        raise InvalidParameterError("the two reference vectors are collinear: pick spots at different angles.")
    sigma = mask_sigma_per_nm or float(np.min(np.hypot(G[:, 0], G[:, 1]))) / 8
    # ΔG[i] = (Δg_y, Δg_x) of vector i, pixel by pixel
    dG = np.stack([np.stack(_gpa_delta_g(img, pixel_size_nm, gy, gx, sigma)) for gy, gx in G])  # (2, 2, ny, nx)
    J = -np.einsum("ij,jkyx->ikyx", np.linalg.inv(G), dG)  # J[a, b] = ∂u_a/∂r_b, a, b in (y, x)
    comps = np.stack([J[1, 1], J[0, 0], (J[0, 1] + J[1, 0]) / 2, (J[0, 1] - J[1, 0]) / 2])
    ny, nx = img.shape
    return xr.DataArray(comps, dims=("component", "y", "x"), name="strain",
                        coords={"component": list(GPA_COMPONENTS), "y_nm": ("y", np.arange(ny) * pixel_size_nm),
                                "x_nm": ("x", np.arange(nx) * pixel_size_nm)},
                        attrs={"units": "1 (rotation in rad)", "g1_per_nm": tuple(G[0]), "g2_per_nm": tuple(G[1]),
                               "mask_sigma_per_nm": sigma})
