"""4D-STEM: virtual detectors, mean/max diffraction and centre-of-mass shift maps.

A 4D-STEM cube has dims ``(y, x, ky, kx)``: one diffraction pattern per scan position.
Every function here reduces it over the detector plane or over scan positions with
dask, one block of scan positions at a time, so a cube opened lazily by
:func:`battlab.tem.open_tem` is never loaded whole (numpy-backed cubes work too).

* :func:`virtual_image` — bright field (disc), annular dark field or any annulus,
  radii in detector px (or mrad with ``mrad_per_px``);
* :func:`mean_pattern` / :func:`max_pattern` — the average / maximum diffraction pattern;
* :func:`center_of_mass` — the intensity-weighted centre of each pattern minus the
  pattern-wide mean: the DPC-style beam-shift maps (proportional to the projected
  in-plane field for a thin specimen).
"""

from __future__ import annotations

import numpy as np

from battlab.errors import InvalidParameterError, MissingDataError

__all__ = ["center_of_mass", "detector_mask", "max_pattern", "mean_pattern", "virtual_image"]

_DIMS = ("y", "x", "ky", "kx")


def _cube(cube, chunk_px: int = 16):
    """The cube as a dask array chunked over scan positions only (whole patterns per block)."""
    import dask.array as da

    if tuple(getattr(cube, "dims", ())) != _DIMS:
        raise InvalidParameterError(f"expected a 4D-STEM cube with dims {_DIMS}, got {getattr(cube, 'dims', None)}.")
    data = cube.data
    if not hasattr(data, "dask"):
        data = da.from_array(data, chunks=(chunk_px, chunk_px, -1, -1))
    elif data.chunks[2] != (data.shape[2],) or data.chunks[3] != (data.shape[3],):
        # keep the scan-block size but make each block hold whole patterns
        data = data.rechunk({2: -1, 3: -1})
    return data


def _scan_coords(cube):
    return {k: v for k, v in cube.coords.items() if set(v.dims) <= {"y", "x"}}


def detector_mask(shape, *, inner_px: float = 0.0, outer_px: float | None = None, center=None):
    """Boolean annulus inner ≤ r < outer on a detector of ``shape`` (centre default: the middle)."""
    ny, nx = shape
    cy, cx = center if center is not None else ((ny - 1) / 2, (nx - 1) / 2)
    outer = np.inf if outer_px is None else float(outer_px)
    if inner_px < 0 or outer <= inner_px:
        raise InvalidParameterError(f"the annulus needs 0 ≤ inner < outer (got {inner_px}, {outer_px}).")
    r = np.hypot(np.arange(ny)[:, None] - cy, np.arange(nx)[None, :] - cx)
    mask = (r >= inner_px) & (r < outer)
    if not mask.any():
        raise InvalidParameterError("the annulus holds no detector pixel: check the radii and the centre.")
    return mask


def virtual_image(cube, *, inner_px: float = 0.0, outer_px: float | None = None, center=None,
                  mrad_per_px: float | None = None, compute: bool = True):
    """Virtual detector image: the counts of every pattern inside an annulus.

    ``inner_px = 0`` with a small ``outer_px`` is a bright-field disc; an annulus outside
    the direct beam is annular dark field. With ``mrad_per_px`` the radii are in mrad.

    Returns
    -------
    xarray.DataArray
        dims ``(y, x)`` with the scan coordinates; attrs ``inner_px``, ``outer_px``,
        ``center_px``.
    """
    import xarray as xr

    data = _cube(cube)
    if mrad_per_px:
        inner_px = inner_px / mrad_per_px
        outer_px = None if outer_px is None else outer_px / mrad_per_px
    mask = detector_mask(data.shape[2:], inner_px=inner_px, outer_px=outer_px, center=center)
    img = (data * mask).sum(axis=(2, 3), dtype=float)  # block by block: each block multiplies its own patterns
    out = xr.DataArray(img, dims=("y", "x"), coords=_scan_coords(cube), name="virtual image",
                       attrs={"units": "counts", "inner_px": float(inner_px),
                              "outer_px": None if outer_px is None else float(outer_px),
                              "center_px": None if center is None else tuple(center),
                              "pixel_size_nm": cube.attrs.get("pixel_size_nm")})
    return out.compute() if compute else out


def _pattern(cube, how, compute):
    import xarray as xr

    data = _cube(cube)
    red = data.mean(axis=(0, 1), dtype=float) if how == "mean" else data.max(axis=(0, 1))
    coords = {k: v for k, v in cube.coords.items() if set(v.dims) <= {"ky", "kx"}}
    out = xr.DataArray(red, dims=("ky", "kx"), coords=coords, name=f"{how} pattern",
                       attrs={"units": "counts", "kind": "diffraction", "voltage_kV": cube.attrs.get("voltage_kV")})
    return out.compute() if compute else out


def mean_pattern(cube, *, compute: bool = True):
    """Average diffraction pattern over all scan positions (reduced block by block)."""
    return _pattern(cube, "mean", compute)


def max_pattern(cube, *, compute: bool = True):
    """Maximum over scan positions of each detector pixel (shows weak Bragg discs)."""
    return _pattern(cube, "max", compute)


def center_of_mass(cube, *, mask_px: float | None = None, center=None, compute: bool = True):
    """Centre-of-mass shift of every pattern (DPC-style), in detector px.

    Each pattern's intensity-weighted centre (inside a disc of ``mask_px`` around
    ``center`` when given, to keep scattering far out from dominating) minus the mean
    centre over the scan.

    Returns
    -------
    xarray.Dataset
        ``com_y_px``, ``com_x_px`` (shift maps), ``magnitude_px``; attrs ``reference_px``
        (the mean centre subtracted).
    """
    import xarray as xr

    data = _cube(cube)
    ny, nx = data.shape[2:]
    weight = np.ones((ny, nx)) if mask_px is None else detector_mask((ny, nx), outer_px=mask_px, center=center)
    ky = np.arange(ny, dtype=float)[:, None] * weight
    kx = np.arange(nx, dtype=float)[None, :] * weight
    total = (data * weight).sum(axis=(2, 3), dtype=float)
    cy = (data * ky).sum(axis=(2, 3), dtype=float) / total
    cx = (data * kx).sum(axis=(2, 3), dtype=float) / total
    import dask

    cy, cx = dask.compute(cy, cx) if compute else (cy, cx)
    if compute and not np.all(np.isfinite(cy)):
        raise MissingDataError("some patterns hold no counts inside the mask: the centre of mass is undefined there.")
    ref = (float(np.nanmean(cy)), float(np.nanmean(cx))) if compute else None
    dy, dx = (cy - ref[0], cx - ref[1]) if compute else (cy - cy.mean(), cx - cx.mean())
    coords = _scan_coords(cube)
    ds = xr.Dataset({"com_y_px": (("y", "x"), dy), "com_x_px": (("y", "x"), dx),
                     "magnitude_px": (("y", "x"), np.hypot(dy, dx))}, coords=coords)
    ds.attrs.update({"reference_px": ref, "mask_px": mask_px})
    return ds
