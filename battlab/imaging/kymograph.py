"""Kymographs: the intensity along a line in every frame of a movie, as a (time, s) image.

Works on any movie with dims ``(time, y, x)`` (TEM) or ``(time, y, x, channel)``
(optical, channels averaged); frames are sampled one at a time, so a dask-backed movie
is streamed, never loaded whole.
"""

from __future__ import annotations

import numpy as np

from battlab.errors import InvalidParameterError

__all__ = ["kymograph", "line_profile"]


def _line_points(start, end, *, step_px, width_px):
    (y0, x0), (y1, x1) = np.asarray(start, float), np.asarray(end, float)
    length = float(np.hypot(y1 - y0, x1 - x0))
    if length < 2:
        raise InvalidParameterError("the line must be at least 2 px long.")
    if not step_px > 0:
        raise InvalidParameterError(f"step_px must be positive, got {step_px}.")
    if width_px < 1:
        raise InvalidParameterError(f"width_px must be at least 1, got {width_px}.")
    s = np.arange(0.0, length + 1e-9, step_px)
    uy, ux = (y1 - y0) / length, (x1 - x0) / length
    # perpendicular offsets averaged for a line of width > 1 px
    offsets = np.arange(int(round(width_px))) - (int(round(width_px)) - 1) / 2
    yy = y0 + s[None, :] * uy + offsets[:, None] * ux
    xx = x0 + s[None, :] * ux - offsets[:, None] * uy
    return s, yy, xx


def line_profile(image, start, end, *, width_px: int = 1, step_px: float = 1.0, order: int = 1):
    """Intensity along a straight line (bilinear by default), averaged over ``width_px`` lines.

    Returns
    -------
    (s_px, profile) : ndarray, ndarray
    """
    from scipy.ndimage import map_coordinates

    img = np.asarray(image, float)
    if img.ndim == 3:
        img = img.mean(axis=-1)
    s, yy, xx = _line_points(start, end, step_px=step_px, width_px=width_px)
    vals = map_coordinates(img, [yy.ravel(), xx.ravel()], order=order, mode="nearest").reshape(yy.shape)
    return s, vals.mean(axis=0)


def kymograph(movie, start, end, *, width_px: int = 1, step_px: float = 1.0, pixel_size=None, drift=None):
    """Intensity along the line ``start`` → ``end`` (``(y, x)`` in px) in every frame.

    Parameters
    ----------
    movie : xarray.DataArray
        dims ``(time, y, x)`` or ``(time, y, x, channel)``.
    start, end : (float, float)
        Line end points in pixel coordinates (row, column).
    width_px : int
        Lines averaged perpendicular to the main one (noise reduction).
    step_px : float
        Sampling step along the line.
    pixel_size : float, optional
        Length per px; default the movie's ``pixel_size_nm`` (or ``pixel_size_um``).
    drift : DataFrame, optional
        Per-frame specimen displacement (``dy_px``, ``dx_px``, e.g. from
        :func:`battlab.imaging.estimate_drift`): the line follows the specimen, so the
        raw frames are sampled once instead of being shifted whole first.

    Returns
    -------
    xarray.DataArray
        dims ``("time", "s")``; coordinates ``time_s``, ``s_px`` and ``s_nm`` or ``s_um``;
        attrs ``start_px``, ``end_px``, ``width_px``.
    """
    import xarray as xr

    if "time" not in getattr(movie, "dims", ()):
        raise InvalidParameterError("kymograph needs a movie with a 'time' dimension.")
    unit = "nm" if movie.attrs.get("pixel_size_nm") else ("um" if movie.attrs.get("pixel_size_um") else None)
    if pixel_size is None and unit:
        pixel_size = movie.attrs.get(f"pixel_size_{unit}")
    n = movie.sizes["time"]
    if drift is not None:
        if len(drift) != n or not {"dy_px", "dx_px"} <= set(drift.columns):
            raise InvalidParameterError("drift must have one row per frame with dy_px and dx_px columns.")
        shifts = drift[["dy_px", "dx_px"]].to_numpy(float)
    else:
        shifts = np.zeros((n, 2))
    start, end = np.asarray(start, float), np.asarray(end, float)
    rows = []
    s = None
    for i in range(n):
        s, prof = line_profile(np.asarray(movie.isel(time=i).values), start + shifts[i], end + shifts[i],
                               width_px=width_px, step_px=step_px)
        rows.append(prof)
    times = movie["time_s"].to_numpy() if "time_s" in movie.coords else np.arange(n, dtype=float)
    coords = {"time_s": ("time", times), "s_px": ("s", s)}
    if pixel_size:
        coords[f"s_{unit or 'nm'}"] = ("s", s * float(pixel_size))
    out = xr.DataArray(np.array(rows), dims=("time", "s"), coords=coords, name="intensity",
                       attrs={"units": movie.attrs.get("units", "counts"), "start_px": tuple(map(float, start)),
                              "drift_followed": drift is not None,
                              "end_px": tuple(map(float, end)), "width_px": int(width_px),
                              "pixel_size": float(pixel_size) if pixel_size else None,
                              "length_unit": (unit or "nm") if pixel_size else "px"})
    out["time_s"].attrs["units"] = "s"
    return out
