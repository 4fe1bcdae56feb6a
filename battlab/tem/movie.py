"""TEM movie tools on the shared imaging code: drift correction, temporal denoising, polarity.

TEM movies are ``(time, y, x)``; the shared drift estimator
(:func:`battlab.imaging.estimate_drift`) works on ``(time, y, x, channel)``, so these
wrappers add and drop a one-element channel axis and keep the movie lazy.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from battlab.errors import InvalidParameterError

__all__ = ["correct_drift", "invert_polarity", "pca_denoise", "temporal_average"]


def _check(movie):
    if tuple(getattr(movie, "dims", ())) != ("time", "y", "x"):
        raise InvalidParameterError("expected a TEM movie with dims (time, y, x) (battlab.tem.open_tem).")
    return movie


def _with_channel(movie):
    out = movie.expand_dims(channel=[0], axis=-1)
    out.attrs = dict(movie.attrs)
    px_nm = movie.attrs.get("pixel_size_nm") or 1.0
    out.attrs["pixel_size_um"] = px_nm / 1e3
    return out


def correct_drift(movie, *, reference="first", upsample_factor: int = 20, roi=None,
                  method: str = "linear") -> tuple:
    """Measure stage drift by phase correlation and undo it (lazily).

    Returns
    -------
    (corrected, drift) : DataArray, DataFrame
        The shifted movie (same dims; pixels moved in from outside are NaN with
        ``method="linear"``) and the drift table with ``dy_nm``/``dx_nm`` added.
    """
    from battlab.imaging.drift import apply_drift, estimate_drift

    _check(movie)
    four = _with_channel(movie)
    drift = estimate_drift(four, reference=reference, upsample_factor=upsample_factor, roi=roi)
    px = movie.attrs.get("pixel_size_nm")
    drift["dy_nm"] = drift["dy_px"] * px if px else np.nan
    drift["dx_nm"] = drift["dx_px"] * px if px else np.nan
    fixed = apply_drift(four, drift, method=method).isel(channel=0, drop=True)
    fixed.attrs = dict(movie.attrs)
    fixed.attrs["notes"] = list(movie.attrs.get("notes", [])) + [f"drift-corrected ({method})."]
    return fixed, drift


def temporal_average(movie, *, window: int = 3):
    """Running mean over ``window`` frames (centred; edges use the frames available)."""
    _check(movie)
    if int(window) < 1:
        raise InvalidParameterError("window must be at least 1 frame.")
    out = movie.rolling(time=int(window), center=True, min_periods=1).mean()
    out.attrs = dict(movie.attrs)
    return out


def invert_polarity(movie):
    """Reverse the contrast (max + min − I): Li can look darker than the liquid in HAADF."""
    lo, hi = float(movie.min()), float(movie.max())
    out = (hi + lo) - movie
    out.attrs = dict(movie.attrs)
    out.attrs["notes"] = list(movie.attrs.get("notes", [])) + ["polarity inverted."]
    return out


def pca_denoise(movie, *, n_components: int = 5) -> tuple:
    """Keep the first principal components of the frames (pixels as variables).

    Returns
    -------
    (denoised, residual, explained) : DataArray, DataArray, DataFrame
        The reconstruction, what was removed, and the explained variance per component.
    """
    _check(movie)
    n, ny, nx = movie.shape
    k = int(n_components)
    if not 1 <= k <= n:
        raise InvalidParameterError(f"n_components must be between 1 and the number of frames ({n}).")
    data = np.asarray(movie.values, float).reshape(n, -1)
    mean = data.mean(axis=0)
    u, s, vt = np.linalg.svd(data - mean, full_matrices=False)
    rec = (u[:, :k] * s[:k]) @ vt[:k] + mean
    denoised = movie.copy(data=rec.reshape(n, ny, nx).astype(np.float32))
    residual = movie.copy(data=(data - rec).reshape(n, ny, nx).astype(np.float32))
    var = s ** 2
    explained = pd.DataFrame({"component": np.arange(1, var.size + 1), "explained_variance": var / var.sum()})
    return denoised, residual, explained
