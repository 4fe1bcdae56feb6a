"""Spatial correlation: put maps of different techniques on one physical grid.

Every image carries a pixel → physical affine (from its ``x_um``/``y_um`` pixel-centre
coordinates). Registration finds an :class:`Affine` that maps the *moving* image's
physical coordinates onto the *reference* image's, ``p_reference = T(p_moving)``, by

* phase correlation for a pure translation between images of equal pixel size
  (:func:`register_translation`, built on :func:`battlab.imaging.phase_shift`),
* a rotation search by normalised cross-correlation plus a continuous refinement for a
  similarity between images of different pixel size, e.g. an AFM map lying inside a
  coarser X-ray slice (:func:`register_similarity`),
* least squares on corresponding points (:func:`fit_landmarks`),
* optional mutual-information refinement through SimpleITK when it is installed
  (:func:`refine_mutual_information`).

:func:`resample_to` then brings one image onto the other's grid with a Gaussian
anti-aliasing prefilter when it downsamples, so that joined data live on the coarser grid;
overlays (:func:`blend`, :func:`checkerboard`), field-of-view and resolution indicators
(:func:`field_of_view`, :func:`fov_overlap`, :func:`resolution_table`) and region
statistics (:func:`pixel_table`, :func:`region_table`) work on the registered result.

Conventions
-----------
Points are ``(x_um, y_um)`` pairs (arrays of shape ``(n, 2)``); pixel positions are
``(column, row)`` pairs in the same order. ``y_um`` grows with the row index, so a positive
``rotation_deg`` turns +x towards +y: clockwise on an image displayed with row 0 on top.
These are standard image-registration methods, not procedures taken from the seed review
(which asks for "the same portion" of the sample at known area, spatial and temporal
resolution without prescribing how).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import xarray as xr

from battlab.errors import InvalidParameterError, MissingDataError

__all__ = [
    "Affine",
    "Registration",
    "as_image",
    "pixel_affine",
    "register_translation",
    "register_similarity",
    "fit_landmarks",
    "refine_mutual_information",
    "resample_to",
    "to_common_grid",
    "blend",
    "checkerboard",
    "field_of_view",
    "fov_polygon",
    "fov_overlap",
    "resolution_table",
    "pixel_table",
    "region_table",
]

_REL_TOL = 1e-6


# --------------------------------------------------------------------------- Affine


@dataclass(frozen=True, eq=False)
class Affine:
    """A 2-D affine map of physical coordinates, ``[x', y', 1] = matrix @ [x, y, 1]``.

    Parameters
    ----------
    matrix : array_like, shape (2, 3) or (3, 3)
        Linear part in the first two columns, translation (µm) in the last. A 3×3
        matrix must have ``[0, 0, 1]`` as its last row.

    Examples
    --------
    >>> t = Affine.similarity(scale=2.0, rotation_deg=90.0, translation_um=(1.0, 0.0))
    >>> t.apply([[1.0, 0.0]])
    array([[1., 2.]])
    >>> round(t.inverse().compose(t).rotation_deg, 9) + 0.0
    0.0
    """

    matrix: np.ndarray

    def __post_init__(self):
        try:
            m = np.array(self.matrix, dtype=float)
        except (TypeError, ValueError):
            raise InvalidParameterError("an Affine needs a numeric 2×3 or 3×3 matrix.") from None
        if m.shape == (2, 3):
            m = np.vstack([m, [0.0, 0.0, 1.0]])
        if m.shape != (3, 3):
            raise InvalidParameterError(f"an Affine needs a 2×3 or 3×3 matrix, got shape {m.shape}.")
        if not np.all(np.isfinite(m)):
            raise InvalidParameterError("the Affine matrix holds non-finite values.")
        if not np.allclose(m[2], [0.0, 0.0, 1.0]):
            raise InvalidParameterError("the last row of a 3×3 Affine matrix must be [0, 0, 1].")
        if abs(np.linalg.det(m[:2, :2])) < 1e-12 * max(1.0, np.abs(m[:2, :2]).max() ** 2):
            raise InvalidParameterError("the Affine matrix is singular (it collapses the plane onto a line "
                                        "or a point); check the scale and landmarks.")
        m.setflags(write=False)
        object.__setattr__(self, "matrix", m)

    # constructors
    @classmethod
    def identity(cls) -> Affine:
        """The identity map."""
        return cls(np.eye(3))

    @classmethod
    def similarity(cls, *, scale: float = 1.0, rotation_deg: float = 0.0, translation_um=(0.0, 0.0)) -> Affine:
        """``p' = scale · R(rotation_deg) · p + translation_um`` (rotation about the origin)."""
        if not np.isfinite(scale) or scale <= 0:
            raise InvalidParameterError(f"scale must be a positive number, got {scale!r}.")
        t = _pair(translation_um, "translation_um")
        c, s = math.cos(math.radians(rotation_deg)), math.sin(math.radians(rotation_deg))
        return cls([[scale * c, -scale * s, t[0]], [scale * s, scale * c, t[1]]])

    @classmethod
    def from_dict(cls, data) -> Affine:
        """Rebuild from :meth:`to_dict` output (or any mapping with a ``"matrix"`` entry)."""
        if "matrix" not in data:
            raise MissingDataError("the transform record has no 'matrix' entry.")
        return cls(data["matrix"])

    # algebra
    def compose(self, other: Affine) -> Affine:
        """``self ∘ other``: apply ``other`` first, then ``self``."""
        if not isinstance(other, Affine):
            raise InvalidParameterError("compose needs another Affine.")
        return Affine(self.matrix @ other.matrix)

    def __matmul__(self, other: Affine) -> Affine:
        return self.compose(other)

    def inverse(self) -> Affine:
        """The inverse map."""
        return Affine(np.linalg.inv(self.matrix))

    def apply(self, points) -> np.ndarray:
        """Map ``(x_um, y_um)`` points, shape ``(2,)`` or ``(..., 2)``; returns the same shape."""
        p = np.asarray(points, dtype=float)
        if p.shape[-1:] != (2,):
            raise InvalidParameterError(f"points must have (x, y) in their last axis, got shape {p.shape}.")
        return p @ self.matrix[:2, :2].T + self.matrix[:2, 2]

    def allclose(self, other: Affine, *, atol: float = 1e-9) -> bool:
        """True when both matrices agree within ``atol``."""
        return bool(np.allclose(self.matrix, other.matrix, rtol=0.0, atol=atol))

    # descriptors
    @property
    def linear(self) -> np.ndarray:
        """The 2×2 linear part."""
        return self.matrix[:2, :2]

    @property
    def translation_um(self) -> tuple[float, float]:
        """Where the origin goes, ``(tx_um, ty_um)``."""
        return float(self.matrix[0, 2]), float(self.matrix[1, 2])

    @property
    def rotation_deg(self) -> float:
        """Rotation angle of the nearest similarity (exact for a similarity), degrees in (-180, 180]."""
        a = self.linear
        return float(np.degrees(np.arctan2(a[1, 0] - a[0, 1], a[0, 0] + a[1, 1])))

    @property
    def scale(self) -> float:
        """Isotropic scale, ``sqrt(|det|)`` (the area ratio's square root)."""
        return float(np.sqrt(abs(np.linalg.det(self.linear))))

    @property
    def scale_xy(self) -> tuple[float, float]:
        """How much a unit step along x and along y is stretched (column norms)."""
        n = np.linalg.norm(self.linear, axis=0)
        return float(n[0]), float(n[1])

    @property
    def is_similarity(self) -> bool:
        """True for rotation + isotropic scale + translation (no shear, no mirror)."""
        a = self.linear
        return bool(np.isclose(a[0, 0], a[1, 1], atol=1e-9 * self.scale)
                    and np.isclose(a[0, 1], -a[1, 0], atol=1e-9 * self.scale))

    def to_dict(self) -> dict:
        """JSON-ready record: matrix and its readable parameters."""
        return {"matrix": self.matrix.tolist(), "rotation_deg": self.rotation_deg, "scale": self.scale,
                "translation_um": list(self.translation_um), "is_similarity": self.is_similarity}

    def __repr__(self) -> str:
        tx, ty = self.translation_um
        return (f"Affine(rotation_deg={self.rotation_deg:.4g}, scale={self.scale:.6g}, "
                f"translation_um=({tx:.6g}, {ty:.6g}), similarity={self.is_similarity})")


def _pair(value, name):
    try:
        v = np.asarray(value, dtype=float).reshape(-1)
    except (TypeError, ValueError):
        raise InvalidParameterError(f"{name} must be two numbers (x, y).") from None
    if v.shape != (2,) or not np.all(np.isfinite(v)):
        raise InvalidParameterError(f"{name} must be two finite numbers (x, y), got {value!r}.")
    return v


# ------------------------------------------------------------------ images and grids


def as_image(image, *, pixel_size_um: float | None = None, name: str | None = None) -> xr.DataArray:
    """A calibrated 2-D map: DataArray with dims ``("y", "x")`` and ``y_um``/``x_um`` coords.

    Parameters
    ----------
    image : xarray.DataArray or array_like
        A DataArray with dims ``("y", "x")`` and pixel-centre coords ``y_um``, ``x_um``
        (or a ``pixel_size_um`` attr, then the coords start at 0), or a plain 2-D array.
    pixel_size_um : float, optional
        Required for plain arrays (pixel centres at ``0, p, 2p, …``). For a DataArray it
        must agree with its coordinates when given.
    name : str, optional
        ``source_name`` for a plain array (defaults to "image").

    Returns
    -------
    xarray.DataArray
        Float map with attrs ``pixel_size_um``, ``units`` and ``source_name``.
    """
    if isinstance(image, xr.DataArray):
        da = image
        if da.ndim == 3 and "channel" in da.dims and da.sizes["channel"] in (1, 3, 4):
            da = da.mean("channel", keep_attrs=True)
        if set(da.dims) != {"y", "x"}:
            raise InvalidParameterError(f"a map needs dims ('y', 'x'), got {tuple(da.dims)}; select one frame "
                                        "or slice first (e.g. movie.isel(time=0)).")
        da = da.transpose("y", "x")
        attr_px = da.attrs.get("pixel_size_um")
        have = "x_um" in da.coords and "y_um" in da.coords
        if not have:
            px = pixel_size_um if pixel_size_um is not None else attr_px
            if px is None:
                raise MissingDataError("the map has no x_um/y_um coordinates and no pixel_size_um; "
                                       "pass pixel_size_um=… (micrometres per pixel).")
            px = _check_px(px)
            da = da.assign_coords(y_um=("y", np.arange(da.sizes["y"]) * px),
                                  x_um=("x", np.arange(da.sizes["x"]) * px))
        out = da.astype(float)
        out.attrs = dict(da.attrs)
        sx, sy = (_spacing(out["x_um"].to_numpy(), "x_um", attr_px or pixel_size_um),
                  _spacing(out["y_um"].to_numpy(), "y_um", attr_px or pixel_size_um))
        px_geo = float(np.sqrt(abs(sx * sy)))
        if pixel_size_um is not None and not math.isclose(_check_px(pixel_size_um), px_geo, rel_tol=1e-4):
            raise InvalidParameterError(f"pixel_size_um={pixel_size_um} disagrees with the map's coordinates "
                                        f"({px_geo:.6g} µm per pixel); leave it out or fix the coords.")
        out.attrs.setdefault("pixel_size_um", px_geo)
        out.attrs.setdefault("units", "")
        out.attrs.setdefault("source_name", name or str(da.name or "image"))
        return out
    try:
        arr = np.asarray(image, dtype=float)
    except (TypeError, ValueError):
        raise InvalidParameterError("a map must be a 2-D numeric array or a DataArray with dims ('y', 'x').") from None
    if arr.ndim != 2:
        raise InvalidParameterError(f"a map must be 2-D (y, x), got an array of shape {arr.shape}.")
    if pixel_size_um is None:
        raise MissingDataError("a plain array carries no calibration: pass pixel_size_um=… (micrometres per "
                               "pixel, from the instrument's metadata or scale bar).")
    px = _check_px(pixel_size_um)
    ny, nx = arr.shape
    return xr.DataArray(arr, dims=("y", "x"),
                        coords={"y_um": ("y", np.arange(ny) * px), "x_um": ("x", np.arange(nx) * px)},
                        attrs={"pixel_size_um": px, "units": "", "source_name": name or "image"})


def _check_px(px):
    from battlab.imaging.movie import _check_pixel_size

    return _check_pixel_size(px)


def _spacing(coord, name, fallback):
    coord = np.asarray(coord, dtype=float)
    if coord.size < 2:
        if fallback is None:
            raise MissingDataError(f"a map one pixel wide needs a pixel_size_um to know its {name} spacing.")
        return _check_px(fallback)
    d = np.diff(coord)
    step = (coord[-1] - coord[0]) / (coord.size - 1)
    if step == 0 or not np.all(np.isfinite(d)) or np.max(np.abs(d - step)) > 1e-4 * abs(step):
        raise InvalidParameterError(f"the {name} coordinates are not evenly spaced; registration needs a "
                                    "regular pixel grid.")
    return float(step)


def pixel_affine(image, *, pixel_size_um: float | None = None) -> Affine:
    """Pixel → physical map of an image: ``(column, row)`` index → ``(x_um, y_um)`` of the pixel centre."""
    da = as_image(image, pixel_size_um=pixel_size_um)
    return _pixel_affine(da)


def _pixel_affine(da):
    x, y = da["x_um"].to_numpy(), da["y_um"].to_numpy()
    px = da.attrs.get("pixel_size_um")
    sx, sy = _spacing(x, "x_um", px), _spacing(y, "y_um", px)
    return Affine([[sx, 0.0, x[0]], [0.0, sy, y[0]]])


def _pixel_size(da):
    a = _pixel_affine(da)
    return float(np.sqrt(abs(a.matrix[0, 0] * a.matrix[1, 1])))


def _grid_like(da, values, *, note=None, attrs_from=None):
    src = attrs_from if attrs_from is not None else da
    out = xr.DataArray(values, dims=("y", "x"),
                       coords={"y_um": ("y", da["y_um"].to_numpy()), "x_um": ("x", da["x_um"].to_numpy())},
                       name=src.name, attrs=dict(src.attrs))
    out.attrs["pixel_size_um"] = _pixel_size(da)
    if note:
        out.attrs["notes"] = list(src.attrs.get("notes", [])) + [note]
    return out


# ----------------------------------------------------------------- warping (one routine)


def _warp(values, src_pix, dst_pix, dst_shape, transform, *, order=1, antialias=True, fill_value=np.nan):
    """Sample ``values`` (on ``src_pix``) at the pixels of a ``dst_pix`` grid through ``transform``.

    ``transform`` maps source physical → destination physical. Before sampling, the
    source is smoothed by a Gaussian whose width follows how many source pixels one
    destination pixel spans along each source axis (σ = (f − 1)/2, the scikit-image
    rule), so a finer map is averaged rather than aliased. NaN pixels and the space
    outside the source are excluded by normalised filtering; with either, the
    interpolation is at most linear.
    """
    from scipy import ndimage

    m = src_pix.inverse().matrix @ transform.inverse().matrix @ dst_pix.matrix  # dst (c, r) → src (c, r)
    jac = m[:2, :2]
    vals = np.asarray(values, dtype=float)
    valid = np.isfinite(vals)
    normalise = not valid.all()
    work = np.where(valid, vals, 0.0) if normalise else vals
    weight = valid.astype(float)
    if antialias:
        f_x, f_y = np.hypot(jac[0, 0], jac[0, 1]), np.hypot(jac[1, 0], jac[1, 1])
        sigma = (max(0.0, (f_y - 1) / 2), max(0.0, (f_x - 1) / 2))
        if max(sigma) > 0:
            # normalised filtering: the average of the pixels that exist, so the field's
            # border and NaN holes do not pull values towards a padding value
            work = ndimage.gaussian_filter(work, sigma, mode="constant", cval=0.0)
            weight = ndimage.gaussian_filter(weight, sigma, mode="constant", cval=0.0)
            normalise = True
    # scipy wants (row, col) order: input = matrix @ output + offset
    mat = np.array([[m[1, 1], m[1, 0]], [m[0, 1], m[0, 0]]])
    off = np.array([m[1, 2], m[0, 2]])
    order = int(order) if not normalise else min(int(order), 1)
    out = ndimage.affine_transform(work, mat, offset=off, output_shape=tuple(dst_shape), order=order,
                                   mode="nearest")
    if normalise:
        w = ndimage.affine_transform(weight, mat, offset=off, output_shape=tuple(dst_shape), order=order,
                                     mode="nearest")
        out = np.where(w > 0.25, out / np.where(w > 0, w, 1.0), np.nan)
    rows, cols = np.indices(tuple(dst_shape), dtype=float)
    src_r = mat[0, 0] * rows + mat[0, 1] * cols + off[0]
    src_c = mat[1, 0] * rows + mat[1, 1] * cols + off[1]
    ny, nx = vals.shape
    inside = (src_r >= -0.5) & (src_r <= ny - 0.5) & (src_c >= -0.5) & (src_c <= nx - 0.5)
    return np.where(inside, out, fill_value)


def resample_to(moving, reference, transform: Affine | None = None, *, order: int = 1,
                antialias: bool = True, fill_value: float = np.nan, moving_pixel_size_um: float | None = None,
                reference_pixel_size_um: float | None = None) -> xr.DataArray:
    """Resample ``moving`` onto ``reference``'s pixel grid.

    Parameters
    ----------
    moving, reference : xarray.DataArray
        Calibrated maps (see :func:`as_image`).
    transform : Affine, optional
        Moving physical → reference physical (the ``transform`` of a :class:`Registration`);
        identity when omitted (both already in one physical frame).
    order : int
        Spline order of the interpolation (0 nearest, 1 bilinear, 3 cubic).
    antialias : bool
        Gaussian prefilter when the moving map is finer than the target grid (default).
        Turn off only to inspect raw interpolation.
    fill_value : float
        Value of reference pixels that fall outside the moving map.
    moving_pixel_size_um, reference_pixel_size_um : float, optional
        Pixel sizes of plain-array inputs (pixel centres from 0).

    Returns
    -------
    xarray.DataArray
        On the reference's ``y_um``/``x_um`` grid, with the moving map's name, units and
        source_name; a note records the resampling.
    """
    mov = _need_image(moving, "moving", moving_pixel_size_um)
    ref = _need_image(reference, "reference", reference_pixel_size_um)
    t = Affine.identity() if transform is None else _need_affine(transform)
    if order not in (0, 1, 2, 3, 4, 5):
        raise InvalidParameterError(f"order must be an interpolation order 0–5, got {order!r}.")
    vals = _warp(mov.to_numpy(), _pixel_affine(mov), _pixel_affine(ref), ref.shape, t, order=order,
                 antialias=antialias, fill_value=fill_value)
    note = (f"resampled onto the grid of {ref.attrs.get('source_name', 'reference')} "
            f"({_pixel_size(ref):.4g} µm/px; order {order}, anti-aliasing {'on' if antialias else 'off'})")
    return _grid_like(ref, vals, note=note, attrs_from=mov)


def to_common_grid(reference, moving, transform: Affine | None = None, *, order: int = 1,
                   reference_pixel_size_um: float | None = None, moving_pixel_size_um: float | None = None):
    """Both maps on the coarser of the two grids (finer one anti-aliased), NaN outside its field.

    Parameters
    ----------
    reference, moving : xarray.DataArray
        Calibrated maps; ``transform`` maps moving physical → reference physical.
    transform : Affine, optional
        Identity when omitted.
    order : int
        Interpolation order.
    reference_pixel_size_um, moving_pixel_size_um : float, optional
        Pixel sizes of plain-array inputs.

    Returns
    -------
    (reference_on_grid, moving_on_grid) : tuple of DataArray
        On the reference grid when the reference's pixels are at least as large as the
        moving's (in physical size), otherwise on the moving grid. In the second case the
        returned coordinates are the moving's own.
    """
    ref = _need_image(reference, "reference", reference_pixel_size_um)
    mov = _need_image(moving, "moving", moving_pixel_size_um)
    t = Affine.identity() if transform is None else _need_affine(transform)
    if _pixel_size(ref) >= _pixel_size(mov) * t.scale * (1 - _REL_TOL):
        return ref, resample_to(mov, ref, t, order=order)
    return resample_to(ref, mov, t.inverse(), order=order), mov


def _need_image(image, what, pixel_size_um=None):
    if isinstance(image, xr.DataArray):
        return as_image(image, pixel_size_um=pixel_size_um)
    if pixel_size_um is None:
        keyword = f"{what}_pixel_size_um" if what in ("reference", "moving") else "pixel_size_um"
        raise InvalidParameterError(f"the {what} map is a plain array without calibration: give its pixel size "
                                    f"({keyword}=…, micrometres) or pass a DataArray with x_um/y_um coords.")
    return as_image(image, pixel_size_um=pixel_size_um, name=what)


def _need_affine(t):
    if not isinstance(t, Affine):
        raise InvalidParameterError("transform must be a battlab Affine (e.g. registration.transform).")
    return t


# ----------------------------------------------------------------------- registration


@dataclass(frozen=True, eq=False)
class Registration:
    """Result of a registration: the moving → reference transform and how good it is.

    Attributes
    ----------
    transform : Affine
        Moving physical (µm) → reference physical (µm).
    method : str
        "phase correlation", "rotation search + NCC", "landmarks (similarity)",
        "landmarks (affine)" or "mutual information".
    confidence : float
        Normalised cross-correlation (−1…1, ~1 for a perfect match) of the overlapping
        pixels after registration for the intensity methods, NaN for landmarks.
    rms_um : float
        Root-mean-square landmark residual (µm), NaN for intensity methods.
    residuals : pandas.DataFrame or None
        Per-landmark table (see :func:`fit_landmarks`).
    details : dict
        Method-specific figures (shift in pixels, runner-up candidate, iterations …).
    """

    transform: Affine
    method: str
    confidence: float = float("nan")
    rms_um: float = float("nan")
    residuals: pd.DataFrame | None = None
    details: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        """JSON-ready summary (transform, method, figures; residuals as records)."""
        out = {"method": self.method, "transform": self.transform.to_dict(),
               "confidence": _num(self.confidence), "rms_um": _num(self.rms_um),
               "details": _jsonable(dict(self.details))}
        if self.residuals is not None:
            out["residuals"] = _jsonable(self.residuals.to_dict(orient="records"))
        return out


def _num(v):
    return None if v is None or not np.isfinite(v) else float(v)


def _jsonable(v):
    # strict JSON: arrays to lists, NaN/inf to None
    if isinstance(v, np.ndarray):
        return _jsonable(v.tolist())
    if isinstance(v, (np.floating, np.integer)):
        v = v.item()
    if isinstance(v, float):
        return v if np.isfinite(v) else None
    if isinstance(v, (list, tuple)):
        return [_jsonable(x) for x in v]
    if isinstance(v, dict):
        return {k: _jsonable(x) for k, x in v.items()}
    return v


def _ncc(a, b):
    a, b = np.asarray(a, dtype=float).ravel(), np.asarray(b, dtype=float).ravel()
    ok = np.isfinite(a) & np.isfinite(b)
    if ok.sum() < 3:
        return float("nan")
    a, b = a[ok] - a[ok].mean(), b[ok] - b[ok].mean()
    den = np.sqrt(np.sum(a * a) * np.sum(b * b))
    return float(np.sum(a * b) / den) if den > 0 else float("nan")


def _overlap(ref, mov, n):
    """Crops of ``ref`` and ``mov`` that overlap when ``mov[r, c] ≈ ref[r - n_y, c - n_x]``."""
    (hr, wr), (hm, wm) = ref.shape, mov.shape
    r0, r1 = max(0, n[0]), min(hm, hr + n[0])
    c0, c1 = max(0, n[1]), min(wm, wr + n[1])
    if r1 <= r0 or c1 <= c0:
        return None, None
    return ref[r0 - n[0]:r1 - n[0], c0 - n[1]:c1 - n[1]], mov[r0:r1, c0:c1]


def _fill_nan(a):
    a = np.asarray(a, dtype=float)
    ok = np.isfinite(a)
    if ok.all():
        return a
    if not ok.any():
        raise MissingDataError("the map holds no finite values.")
    return np.where(ok, a, a[ok].mean())


def register_translation(reference, moving, *, upsample_factor: int = 50, min_overlap: float = 0.1,
                         pixel_size_um: float | None = None) -> Registration:
    """Translation between two maps of equal pixel size by phase correlation.

    The circular cross-correlation cannot tell a shift ``s`` from ``s ± N`` (N the frame
    size). Each such candidate is scored by the normalised cross-correlation (NCC) of the
    pixels it makes overlap; the best one is refined to sub-pixel on the overlapping crops
    with :func:`battlab.imaging.phase_shift`.

    Parameters
    ----------
    reference, moving : xarray.DataArray
        Calibrated maps with the same pixel size (shapes may differ).
    upsample_factor : int
        Sub-pixel resolution 1/upsample_factor px.
    min_overlap : float
        Smallest overlap, as a fraction of the smaller map's pixels, for a candidate shift.
    pixel_size_um : float, optional
        Common pixel size of plain-array inputs.

    Returns
    -------
    Registration
        ``transform`` (moving → reference physical); ``confidence`` = NCC of the
        overlapping pixels after the shift; ``details``: ``shift_px`` (dy, dx: moving
        content relative to the reference pixel grid), ``peak_height`` (phase-correlation
        confidence), ``runner_up_ncc`` (NCC of the best rejected wrap candidate; close to
        ``confidence`` means ambiguous), ``overlap_fraction`` and ``wrapped`` (True when
        the shift exceeds half the frame, where the periodic correlation alone would
        report it wrapped).
    """
    from scipy import ndimage

    from battlab.imaging.drift import phase_shift

    ref = _need_image(reference, "reference", pixel_size_um)
    mov = _need_image(moving, "moving", pixel_size_um)
    pr, pm = _pixel_affine(ref), _pixel_affine(mov)
    if not (np.allclose(np.abs(np.diag(pr.linear)), np.abs(np.diag(pm.linear)), rtol=1e-4)
            and np.all(np.sign(np.diag(pr.linear)) == np.sign(np.diag(pm.linear)))):
        raise InvalidParameterError(
            f"phase correlation needs equal pixel sizes, got {_pixel_size(ref):.6g} and {_pixel_size(mov):.6g} "
            "µm/px; use register_similarity, or resample_to one grid first.")
    if not 0 < min_overlap <= 1:
        raise InvalidParameterError(f"min_overlap must be in (0, 1], got {min_overlap!r}.")
    a, b = _fill_nan(ref.to_numpy()), _fill_nan(mov.to_numpy())
    if min(a.shape + b.shape) < 8:
        raise InvalidParameterError("maps smaller than 8×8 px cannot be registered by phase correlation.")
    shape = (max(a.shape[0], b.shape[0]), max(a.shape[1], b.shape[1]))
    pa = np.full(shape, a.mean())
    pa[:a.shape[0], :a.shape[1]] = a
    pb = np.full(shape, b.mean())
    pb[:b.shape[0], :b.shape[1]] = b
    # The tapered correlation is best for small shifts; the whole-frame one still sees a
    # shift whose shared content sits near opposite borders. Both peaks, each with its
    # wrapped twins, are candidates.
    dy, dx, peak = phase_shift(pa, pb, upsample_factor=upsample_factor)
    wy, wx, _ = phase_shift(pa, pb, upsample_factor=1, window=False)
    base = tuple(int(v) for v in np.rint([dy, dx]))
    need = min_overlap * min(a.size, b.size)
    scored, seen = [], set()
    for by, bx in (base, (int(round(wy)), int(round(wx)))):
        for ky in (-1, 0, 1):
            for kx in (-1, 0, 1):
                n = (by + ky * shape[0], bx + kx * shape[1])
                if n in seen:
                    continue
                seen.add(n)
                ca, cb = _overlap(a, b, n)
                if ca is None or ca.size < max(need, 16):
                    continue
                scored.append((_ncc(ca, cb), n, ca, cb))
    scored = [s for s in scored if np.isfinite(s[0])]
    if not scored:
        raise MissingDataError("no shift gives the two maps enough overlap (or the maps are flat); check that "
                               "they show the same region, or lower min_overlap.")
    scored.sort(key=lambda s: -s[0])
    _, n, ca, cb = scored[0]
    resid = np.zeros(2)
    if min(ca.shape) >= 8:
        ey, ex, _ = phase_shift(ca, cb, upsample_factor=upsample_factor)
        if abs(ey) < 1.5 and abs(ex) < 1.5:  # a larger answer on the crop means no texture to refine on
            resid = np.array([ey, ex])
    shift = np.asarray(n, dtype=float) + resid
    # NCC after the full sub-pixel shift, away from the interpolated border
    back = ndimage.shift(cb, -resid, order=1, mode="nearest")
    conf = _ncc(ca[2:-2, 2:-2], back[2:-2, 2:-2]) if min(ca.shape) > 8 else _ncc(ca, back)
    # moving pixel (c, r) shows reference pixel (c - dx, r - dy)
    shift_px = Affine([[1.0, 0.0, -shift[1]], [0.0, 1.0, -shift[0]]])
    transform = pr @ shift_px @ pm.inverse()
    details = {"shift_px": [float(shift[0]), float(shift[1])], "peak_height": float(peak),
               "runner_up_ncc": float(scored[1][0]) if len(scored) > 1 else float("nan"),
               "overlap_fraction": float(ca.size / min(a.size, b.size)),
               # beyond half the frame: a shift the circular correlation alone reports wrapped
               "wrapped": bool(abs(n[0]) > shape[0] / 2 or abs(n[1]) > shape[1] / 2)}
    return Registration(transform, "phase correlation", confidence=float(conf), details=details)


def _features(values, kind):
    from scipy import ndimage

    v = _fill_nan(values)
    if kind == "intensity":
        return v
    if kind == "gradient":
        return np.hypot(ndimage.sobel(v, axis=0), ndimage.sobel(v, axis=1))
    raise InvalidParameterError(f"feature must be 'intensity' or 'gradient', got {kind!r}.")


def _square_grid(n, spacing, centre=(0.0, 0.0)):
    h = (n - 1) / 2
    return Affine([[spacing, 0.0, centre[0] - h * spacing], [0.0, spacing, centre[1] - h * spacing]])


def register_similarity(reference, moving, *, angle_range_deg=(-180.0, 180.0), angle_step_deg: float | None = None,
                        fit_scale: bool = False, feature: str = "intensity", initial: Affine | None = None,
                        reference_pixel_size_um: float | None = None,
                        moving_pixel_size_um: float | None = None) -> Registration:
    """Rotation (+ optional scale) + translation of a map relative to a map of another pixel size.

    Made for a small, fine map lying inside a larger, coarser one (an AFM scan inside an
    X-ray slice, an SEM/TEM field in an optical frame). Both are compared at the coarser
    pixel size (the finer one anti-aliased). A square template from the moving map's
    centre is rotated through ``angle_range_deg`` and located in the reference by
    normalised cross-correlation (NCC); the best angle and position are then refined
    continuously (rotation, translation and, with ``fit_scale``, scale) by maximising
    the NCC of the whole moving field. The physical scale comes from the two pixel sizes;
    ``fit_scale`` corrects a calibration error of a few per cent.

    Fourier–Mellin registration (log-polar FFT magnitudes) was not used: it assumes both
    images show the same field, which a map covering a few per cent of the other breaks.

    Parameters
    ----------
    reference, moving : xarray.DataArray
        Calibrated maps; the centre of the moving map must lie inside the reference,
        away from its edges by half the moving map's size.
    angle_range_deg : (float, float)
        Angles searched (moving → reference rotation), degrees.
    angle_step_deg : float, optional
        Coarse search step. By default the step turns the template's corners by about
        one working pixel (between 1° and 6°); the refinement then resolves a small
        fraction of it.
    fit_scale : bool
        Also refine the physical scale (default: trust the pixel sizes).
    feature : {"intensity", "gradient"}
        Compare raw values, or gradient magnitudes (better across modalities whose
        contrasts differ, e.g. AFM height vs X-ray attenuation).
    initial : Affine, optional
        Skip the search and only refine from this moving → reference transform.
    reference_pixel_size_um, moving_pixel_size_um : float, optional
        Pixel sizes of plain-array inputs.

    Returns
    -------
    Registration
        ``confidence`` is the NCC after refinement; ``details`` hold the coarse angle, the
        coarse NCC, the runner-up angle's NCC and the working pixel size.
    """
    from scipy import ndimage, optimize
    from skimage.feature import match_template

    ref = _need_image(reference, "reference", reference_pixel_size_um)
    mov = _need_image(moving, "moving", moving_pixel_size_um)
    lo, hi = (float(v) for v in _pair(angle_range_deg, "angle_range_deg"))
    if hi < lo:
        raise InvalidParameterError("angle_range_deg must be (low, high) with low ≤ high.")
    if angle_step_deg is not None and (not np.isfinite(angle_step_deg) or angle_step_deg <= 0):
        raise InvalidParameterError(f"angle_step_deg must be positive, got {angle_step_deg!r}.")
    pr, pm = _pixel_affine(ref), _pixel_affine(mov)
    px_r, px_m = _pixel_size(ref), _pixel_size(mov)
    pw = max(px_r, px_m)  # working pixel size: the coarser one
    # reference on an axis-aligned working grid
    if px_r < pw * (1 - _REL_TOL) or not pr.is_similarity or pr.linear[0, 0] < 0 or pr.linear[1, 1] < 0:
        x0, y0 = pr.apply([0.0, 0.0])
        x1, y1 = pr.apply([ref.shape[1] - 1, ref.shape[0] - 1])
        xmin, ymin = min(x0, x1), min(y0, y1)
        wshape = (int(abs(y1 - y0) // pw) + 1, int(abs(x1 - x0) // pw) + 1)
        gw = Affine([[pw, 0, xmin], [0, pw, ymin]])
        ref_w = _warp(ref.to_numpy(), pr, gw, wshape, Affine.identity())
    else:
        gw, ref_w = pr, ref.to_numpy()
    ref_f = _features(ref_w, feature)
    # moving on its own axes at the working pixel size
    mx0, my0 = pm.apply([0.0, 0.0])
    mx1, my1 = pm.apply([mov.shape[1] - 1, mov.shape[0] - 1])
    centre_m = np.array([(mx0 + mx1) / 2, (my0 + my1) / 2])
    w_m, h_m = abs(mx1 - mx0) + abs(pm.linear[0, 0]), abs(my1 - my0) + abs(pm.linear[1, 1])
    n_mx, n_my = max(int(w_m / pw), 1), max(int(h_m / pw), 1)
    if min(n_mx, n_my) < 8:
        raise InvalidParameterError(f"the moving map spans only {n_mx}×{n_my} reference pixels; at least 8×8 "
                                    "are needed to register it.")
    grid_m = Affine([[pw, 0, centre_m[0] - (n_mx - 1) / 2 * pw], [0, pw, centre_m[1] - (n_my - 1) / 2 * pw]])
    mov_w = _warp(mov.to_numpy(), pm, grid_m, (n_my, n_mx), Affine.identity())
    mov_f = _features(mov_w, feature)  # sampled at the grid_m pixel centres
    n_t = int((min(n_mx, n_my) - 1) / math.sqrt(2))
    if n_t > min(ref_f.shape):
        raise InvalidParameterError("the moving map is larger than the reference at the working pixel size; "
                                    "swap reference and moving.")

    if angle_step_deg is None:
        angle_step_deg = float(np.clip(np.degrees(1.0 / (n_t / math.sqrt(2))), 1.0, 6.0))

    def transform_of(theta_deg, t_um, scale=1.0):
        rot = Affine.similarity(scale=scale, rotation_deg=theta_deg, translation_um=t_um)
        return rot @ Affine.similarity(translation_um=-centre_m)

    details = {"working_pixel_size_um": pw, "angle_step_deg": angle_step_deg}
    if initial is None:
        # coarse search: the template is the moving field seen in reference orientation
        angles = np.arange(lo, hi + 1e-9, angle_step_deg)
        if hi - lo >= 360 - 1e-9:
            angles = angles[angles < lo + 360 - 1e-9]
        tgrid = _square_grid(n_t, pw)
        best = []
        for theta in angles:
            tmpl = _warp(mov_f, grid_m, tgrid, (n_t, n_t), transform_of(theta, (0.0, 0.0)), antialias=False)
            tmpl = _fill_nan(tmpl) if np.isfinite(tmpl).any() else tmpl
            if not np.all(np.isfinite(tmpl)) or np.std(tmpl) == 0:
                continue
            score = match_template(ref_f, tmpl)
            i, j = np.unravel_index(np.argmax(score), score.shape)
            centre_pix = (j + (n_t - 1) / 2, i + (n_t - 1) / 2)
            best.append((float(score[i, j]), float(theta), gw.apply(centre_pix)))
        if not best:
            raise MissingDataError("the moving map has no contrast to register on.")
        best.sort(key=lambda b: -b[0])
        coarse_ncc, theta0, t0 = best[0]
        far = [b[0] for b in best if abs((b[1] - theta0 + 180) % 360 - 180) > 2 * angle_step_deg]
        details.update(coarse_angle_deg=theta0, coarse_ncc=coarse_ncc,
                       runner_up_ncc=float(max(far)) if far else float("nan"))
        x0 = np.array([theta0, 0.0, 0.0, 0.0])
        base_t = np.asarray(t0, dtype=float)
        base_scale = 1.0
    else:
        init = _need_affine(initial)
        base_t = init.apply(centre_m)
        x0 = np.array([init.rotation_deg, 0.0, 0.0, 0.0])
        base_scale = init.scale

    # continuous refinement of NCC over the whole moving field
    ref_spline = ndimage.spline_filter(ref_f, order=3)
    gw_inv = gw.inverse()
    rr, cc = np.indices(mov_f.shape, dtype=float)
    pts = grid_m.apply(np.stack([cc.ravel(), rr.ravel()], axis=1))
    vals = mov_f.ravel()

    def params_to_affine(x):
        return transform_of(x[0], base_t + x[1:3] * pw, base_scale * math.exp(x[3] / 100.0))

    def cost(x):
        q = gw_inv.apply(params_to_affine(x).apply(pts))
        inside = ((q[:, 0] >= 0) & (q[:, 0] <= ref_f.shape[1] - 1) & (q[:, 1] >= 0)
                  & (q[:, 1] <= ref_f.shape[0] - 1))
        if inside.sum() < 0.5 * len(q):
            return 1.0
        sampled = ndimage.map_coordinates(ref_spline, [q[inside, 1], q[inside, 0]], order=3, prefilter=False)
        r = _ncc(vals[inside], sampled)
        return -r if np.isfinite(r) else 1.0

    steps = np.array([angle_step_deg / 2, 1.0, 1.0, 2.0 if fit_scale else 0.0])
    free = np.flatnonzero(steps)
    simplex = np.tile(x0[free], (len(free) + 1, 1))
    for k in range(len(free)):
        simplex[k + 1, k] += steps[free][k]

    def reduced(xf):
        x = x0.copy()
        x[free] = xf
        return cost(x)

    res = optimize.minimize(reduced, x0[free], method="Nelder-Mead",
                            options={"initial_simplex": simplex, "xatol": 1e-3, "fatol": 1e-7, "maxiter": 2000})
    x = x0.copy()
    x[free] = res.x
    transform = params_to_affine(x)
    details.update(iterations=int(res.nit), feature=feature, fit_scale=fit_scale)
    return Registration(transform, "rotation search + NCC", confidence=float(-res.fun), details=details)


# --------------------------------------------------------------------------- landmarks


def fit_landmarks(moving_points_um, reference_points_um, *, kind: str = "similarity",
                  names=None) -> Registration:
    """Least-squares transform from corresponding points (entered or clicked).

    Parameters
    ----------
    moving_points_um, reference_points_um : array_like, shape (n, 2)
        The same features, ``(x_um, y_um)``, in the moving and in the reference map.
    kind : {"similarity", "affine"}
        Rotation + isotropic scale + translation (≥ 2 distinct points; closed-form
        Umeyama solution, no mirror) or a general affine (≥ 3 points not on one line).
    names : sequence of str, optional
        Labels of the points for the residual table.

    Returns
    -------
    Registration
        ``rms_um`` = sqrt(mean |residual|²) and ``residuals``: one row per point with
        ``point``, ``x_moving_um``, ``y_moving_um``, ``x_reference_um``, ``y_reference_um``,
        ``x_fit_um``, ``y_fit_um``, ``dx_um``, ``dy_um``, ``residual_um``. With exactly
        the minimum number of points the fit is exact and the residuals say nothing
        about its accuracy (``details["redundant_points"] == 0``). ``details`` also give
        ``point_scatter_um``, the per-coordinate scatter of the points estimated from the
        residuals with the fitted parameters accounted for (NaN without redundant points).
    """
    src = _points(moving_points_um, "moving_points_um")
    dst = _points(reference_points_um, "reference_points_um")
    if src.shape != dst.shape:
        raise InvalidParameterError(f"{len(src)} moving points but {len(dst)} reference points; give the same "
                                    "features in both maps, in the same order.")
    n = len(src)
    if kind == "similarity":
        need, dof = 2, 4
    elif kind == "affine":
        need, dof = 3, 6
    else:
        raise InvalidParameterError(f"kind must be 'similarity' or 'affine', got {kind!r}.")
    if n < need:
        raise InvalidParameterError(f"a {kind} fit needs at least {need} point pairs, got {n}.")
    mu_s, mu_d = src.mean(0), dst.mean(0)
    cs, cd = src - mu_s, dst - mu_d
    spread = np.sqrt(np.mean(np.sum(cs ** 2, axis=1)))
    tiny = 1e-9 * max(1.0, np.abs(src).max())
    if spread <= tiny or np.sqrt(np.mean(np.sum(cd ** 2, axis=1))) <= tiny:
        raise InvalidParameterError("the landmarks all sit on one spot; pick points spread over the field.")
    if kind == "similarity":
        cov = cd.T @ cs / n
        u, sv, vt = np.linalg.svd(cov)
        d = np.eye(2)
        if np.linalg.det(u) * np.linalg.det(vt) < 0:
            if sv[1] > 0.1 * sv[0]:
                # a clearly two-dimensional set that only a reflection maps: wrong order or a flipped map
                raise InvalidParameterError("the landmarks imply a mirrored map; check that the pairs are in the "
                                            "same order, or flip one image first (e.g. image[:, ::-1]).")
            d[1, 1] = -1.0
        rot = u @ d @ vt
        scale = float(np.trace(np.diag(sv) @ d) / np.mean(np.sum(cs ** 2, axis=1)))
        if scale <= 0:
            raise InvalidParameterError("the landmarks imply a mirrored or collapsed map; check that the pairs "
                                        "are in the same order.")
        lin = scale * rot
    else:
        sv = np.linalg.svd(cs, compute_uv=False)
        if sv[1] <= 1e-6 * sv[0]:
            raise InvalidParameterError("the landmarks lie on one line: an affine fit is undetermined. Add a point "
                                        "off that line, or use kind='similarity'.")
        lin = np.linalg.lstsq(cs, cd, rcond=None)[0].T
    t = mu_d - lin @ mu_s
    transform = Affine(np.c_[lin, t])
    fit = transform.apply(src)
    r = dst - fit
    dist = np.hypot(r[:, 0], r[:, 1])
    labels = list(names) if names is not None else [f"P{i + 1}" for i in range(n)]
    if len(labels) != n:
        raise InvalidParameterError(f"{len(labels)} names for {n} points.")
    table = pd.DataFrame({"point": labels, "x_moving_um": src[:, 0], "y_moving_um": src[:, 1],
                          "x_reference_um": dst[:, 0], "y_reference_um": dst[:, 1],
                          "x_fit_um": fit[:, 0], "y_fit_um": fit[:, 1], "dx_um": r[:, 0], "dy_um": r[:, 1],
                          "residual_um": dist})
    rms = float(np.sqrt(np.mean(dist ** 2)))
    # per-coordinate scatter of the points, corrected for the parameters fitted
    noise = float(np.sqrt(np.sum(dist ** 2) / (2 * n - dof))) if 2 * n > dof else float("nan")
    details = {"n_points": n, "redundant_points": int(2 * n - dof) // 2, "max_residual_um": float(dist.max()),
               "point_scatter_um": noise}
    return Registration(transform, f"landmarks ({kind})", rms_um=rms, residuals=table, details=details)


def _points(p, name):
    try:
        a = np.asarray(p, dtype=float)
    except (TypeError, ValueError):
        raise InvalidParameterError(f"{name} must be numbers, shape (n, 2) as (x_um, y_um).") from None
    if a.ndim != 2 or a.shape[1] != 2:
        raise InvalidParameterError(f"{name} must have shape (n, 2) as (x_um, y_um), got {a.shape}.")
    if not np.all(np.isfinite(a)):
        raise InvalidParameterError(f"{name} holds missing or non-finite coordinates.")
    return a


# --------------------------------------------------------------- mutual information


def refine_mutual_information(reference, moving, initial: Affine | None = None, *, kind: str = "similarity",
                              bins: int = 32, iterations: int = 200, sampling_fraction: float | None = None,
                              seed: int = 0, reference_pixel_size_um: float | None = None,
                              moving_pixel_size_um: float | None = None) -> Registration:
    """Refine a transform by maximising Mattes mutual information (needs SimpleITK).

    Mutual information only assumes that one map's values predict the other's, not that
    they are proportional, so it suits pairs with different contrast (AFM modulus vs X-ray
    attenuation, inverted or non-linear). It refines; start it from a landmark or
    :func:`register_similarity` result within a few pixels and degrees.

    Parameters
    ----------
    reference, moving : xarray.DataArray
        Calibrated maps.
    initial : Affine, optional
        Moving → reference starting transform (identity when omitted).
    kind : {"rigid", "similarity", "affine"}
        Degrees of freedom refined.
    bins : int
        Joint-histogram bins.
    iterations : int
        Optimiser iterations at most.
    sampling_fraction : float, optional
        Random fraction of reference pixels used by the metric (all when omitted).
    seed : int
        Seed of that random sampling.
    reference_pixel_size_um, moving_pixel_size_um : float, optional
        Pixel sizes of plain-array inputs.

    Returns
    -------
    Registration
        ``confidence`` is the NCC after refinement (a familiar 0–1 scale);
        ``details["mutual_information"]`` the final metric value (nats, higher is better)
        and the optimiser's stop condition.

    Raises
    ------
    MissingDataError
        When SimpleITK is not installed (``pip install SimpleITK``).
    """
    try:
        import SimpleITK as sitk
    except ImportError:
        raise MissingDataError("mutual-information refinement needs SimpleITK: pip install SimpleITK "
                               "(or use register_similarity / fit_landmarks, which need nothing extra).") from None
    ref = _need_image(reference, "reference", reference_pixel_size_um)
    mov = _need_image(moving, "moving", moving_pixel_size_um)
    init = Affine.identity() if initial is None else _need_affine(initial)
    if kind not in ("rigid", "similarity", "affine"):
        raise InvalidParameterError(f"kind must be 'rigid', 'similarity' or 'affine', got {kind!r}.")
    if int(bins) < 4 or int(iterations) < 1:
        raise InvalidParameterError("bins must be ≥ 4 and iterations ≥ 1.")
    if sampling_fraction is not None and not 0 < sampling_fraction <= 1:
        raise InvalidParameterError(f"sampling_fraction must be in (0, 1], got {sampling_fraction!r}.")

    def to_sitk(da):
        pa = _pixel_affine(da)
        if pa.linear[0, 0] <= 0 or pa.linear[1, 1] <= 0:
            raise InvalidParameterError("mutual-information refinement needs coordinates that increase with "
                                        "the pixel index.")
        img = sitk.GetImageFromArray(_fill_nan(da.to_numpy()).astype(np.float32))
        img.SetSpacing((float(pa.linear[0, 0]), float(pa.linear[1, 1])))
        img.SetOrigin((float(pa.matrix[0, 2]), float(pa.matrix[1, 2])))
        return img

    # Like-for-like resolution: smooth the finer map to the coarser one's pixel size.
    ratio = _pixel_size(ref) / (_pixel_size(mov) * init.scale)
    smooth_ref, smooth_mov = ref, mov
    if abs(math.log(ratio)) > 1e-6:
        from scipy import ndimage

        if ratio > 1:
            smooth_mov = mov.copy(data=ndimage.gaussian_filter(_fill_nan(mov.to_numpy()), (ratio - 1) / 2,
                                                               mode="nearest"))
        else:
            smooth_ref = ref.copy(data=ndimage.gaussian_filter(_fill_nan(ref.to_numpy()), (1 / ratio - 1) / 2,
                                                               mode="nearest"))
    # The metric is sampled at the fixed image's pixels and SimpleITK transforms map fixed
    # points to moving points. The map with the smaller field is made the fixed one, so
    # that all its pixels take part (an AFM scan inside an X-ray slice gives thousands of
    # samples instead of the few X-ray pixels it covers).
    swap = field_of_view(mov)["area_um2"] * init.scale ** 2 < field_of_view(ref)["area_um2"]
    if swap:
        fixed_da, moving_da, start = smooth_mov, smooth_ref, init
    else:
        fixed_da, moving_da, start = smooth_ref, smooth_mov, init.inverse()
    fixed, moving_img = to_sitk(fixed_da), to_sitk(moving_da)
    pf = _pixel_affine(fixed_da)
    centre = pf.apply([(fixed_da.shape[1] - 1) / 2, (fixed_da.shape[0] - 1) / 2])
    if kind == "affine":
        tx = sitk.AffineTransform(2)
    elif kind == "similarity":
        tx = sitk.Similarity2DTransform()
    else:
        tx = sitk.Euler2DTransform()
    tx.SetCenter(tuple(float(c) for c in centre))
    lin = start.linear
    if kind == "affine":
        tx.SetMatrix(tuple(float(v) for v in lin.ravel()))
    else:
        if kind == "similarity":
            tx.SetScale(start.scale)
        tx.SetAngle(math.radians(start.rotation_deg))
    # p' = A (p - c) + c + t equals start(p) at the centre
    tx.SetTranslation(tuple(float(v) for v in start.apply(centre) - centre))

    method = sitk.ImageRegistrationMethod()
    method.SetMetricAsMattesMutualInformation(numberOfHistogramBins=int(bins))
    if sampling_fraction is None:
        method.SetMetricSamplingStrategy(method.NONE)
    else:
        method.SetMetricSamplingStrategy(method.RANDOM)
        method.SetMetricSamplingPercentage(float(sampling_fraction), int(seed))
    method.SetInterpolator(sitk.sitkLinear)
    method.SetOptimizerAsRegularStepGradientDescent(learningRate=1.0, minStep=1e-4,
                                                    numberOfIterations=int(iterations),
                                                    gradientMagnitudeTolerance=1e-8)
    method.SetOptimizerScalesFromPhysicalShift()
    method.SetInitialTransform(tx, inPlace=True)
    method.SetNumberOfThreads(1)
    try:
        method.Execute(fixed, moving_img)
    except RuntimeError as exc:
        raise InvalidParameterError(f"mutual-information registration failed ({str(exc).splitlines()[-1]}); "
                                    "start closer (landmarks) or check that the maps overlap.") from None
    m = np.array(tx.GetMatrix()).reshape(2, 2)
    c = np.array(tx.GetCenter())
    tr = np.array(tx.GetTranslation())
    fitted = Affine(np.c_[m, c + tr - m @ c])
    transform = fitted if swap else fitted.inverse()
    on_ref = resample_to(mov, ref, transform)
    conf = _ncc(ref.to_numpy(), on_ref.to_numpy())
    details = {"mutual_information": float(-method.GetMetricValue()),
               "iterations": int(method.GetOptimizerIteration()),
               "stop_condition": method.GetOptimizerStopConditionDescription(), "kind": kind}
    return Registration(transform, "mutual information", confidence=conf, details=details)


# ------------------------------------------------------------------------- overlays


def _same_grid(a, b, what="maps", pixel_size_um=None):
    a, b = _need_image(a, "first", pixel_size_um), _need_image(b, "second", pixel_size_um)
    if a.shape != b.shape or not (np.allclose(a["x_um"], b["x_um"], rtol=0, atol=1e-6 * _pixel_size(a))
                                  and np.allclose(a["y_um"], b["y_um"], rtol=0, atol=1e-6 * _pixel_size(a))):
        raise InvalidParameterError(f"the {what} are not on the same pixel grid ({a.shape} vs {b.shape}); "
                                    "bring them together with resample_to or to_common_grid first.")
    return a, b


def _normalise(v, percentiles=(1.0, 99.0)):
    ok = np.isfinite(v)
    if not ok.any():
        return np.full(v.shape, np.nan)
    lo, hi = np.percentile(v[ok], percentiles)
    if hi <= lo:
        return np.where(ok, 0.5, np.nan)
    return np.clip((v - lo) / (hi - lo), 0.0, 1.0)


def blend(a, b, *, alpha: float = 0.5, normalize: bool = True, pixel_size_um: float | None = None) -> xr.DataArray:
    """Opacity blend ``(1 − alpha)·a + alpha·b`` of two maps on one grid.

    Each map is first scaled to 0–1 between its 1st and 99th percentiles (``normalize``)
    so different units mix; where one map is NaN the other shows alone. ``pixel_size_um``
    calibrates plain-array inputs.
    """
    a, b = _same_grid(a, b, pixel_size_um=pixel_size_um)
    if not 0 <= alpha <= 1:
        raise InvalidParameterError(f"alpha must be between 0 and 1, got {alpha!r}.")
    va, vb = a.to_numpy(), b.to_numpy()
    if normalize:
        va, vb = _normalise(va), _normalise(vb)
    out = (1 - alpha) * va + alpha * vb
    out = np.where(np.isnan(va), vb, np.where(np.isnan(vb), va, out))
    res = _grid_like(a, out, note=f"blend of {a.attrs.get('source_name')} and {b.attrs.get('source_name')} "
                                  f"(alpha {alpha})")
    res.attrs["units"] = "normalised" if normalize else a.attrs.get("units", "")
    return res


def checkerboard(a, b, *, tile_px: int | None = None, tile_um: float | None = None,
                 normalize: bool = True, pixel_size_um: float | None = None) -> xr.DataArray:
    """Checkerboard of two maps on one grid: tiles alternate between ``a`` and ``b``.

    Give the tile size in pixels or micrometres (default: 8 tiles across the shorter side).
    Edges that continue across tile borders show a good registration. ``pixel_size_um``
    calibrates plain-array inputs.
    """
    a, b = _same_grid(a, b, pixel_size_um=pixel_size_um)
    if tile_px is not None and tile_um is not None:
        raise InvalidParameterError("give tile_px or tile_um, not both.")
    if tile_um is not None:
        if not np.isfinite(tile_um) or tile_um <= 0:
            raise InvalidParameterError(f"tile_um must be positive, got {tile_um!r}.")
        tile_px = max(1, int(round(tile_um / _pixel_size(a))))
    if tile_px is None:
        tile_px = max(1, min(a.shape) // 8)
    if int(tile_px) != tile_px or tile_px < 1:
        raise InvalidParameterError(f"tile_px must be a positive integer, got {tile_px!r}.")
    va, vb = a.to_numpy(), b.to_numpy()
    if normalize:
        va, vb = _normalise(va), _normalise(vb)
    rows, cols = np.indices(a.shape)
    use_b = ((rows // int(tile_px)) + (cols // int(tile_px))) % 2 == 1
    res = _grid_like(a, np.where(use_b, vb, va), note=f"checkerboard ({int(tile_px)} px tiles)")
    res.attrs["units"] = "normalised" if normalize else a.attrs.get("units", "")
    return res


# ------------------------------------------------------------ field of view, resolution


def fov_polygon(image, transform: Affine | None = None, *, pixel_size_um: float | None = None) -> np.ndarray:
    """Outline of a map's field of view (pixel edges), closed, shape (5, 2) as (x_um, y_um).

    With ``transform`` (moving → reference) the outline is given in reference coordinates,
    ready to draw on the reference map. ``pixel_size_um`` calibrates a plain array.
    """
    da = _need_image(image, "image", pixel_size_um)
    pa = _pixel_affine(da)
    ny, nx = da.shape
    corners = np.array([[-0.5, -0.5], [nx - 0.5, -0.5], [nx - 0.5, ny - 0.5], [-0.5, ny - 0.5], [-0.5, -0.5]])
    pts = pa.apply(corners)
    return pts if transform is None else _need_affine(transform).apply(pts)


def _area(poly):
    x, y = poly[:, 0], poly[:, 1]
    return 0.5 * abs(np.dot(x[:-1], y[1:]) - np.dot(x[1:], y[:-1]))


def _clip(subject, clipper):
    """Sutherland–Hodgman clip of one convex polygon by another (both closed, any winding)."""
    def orient(p):
        return np.sign(np.dot(p[:-1, 0], p[1:, 1]) - np.dot(p[1:, 0], p[:-1, 1]))

    sign = orient(clipper)
    out = list(subject[:-1])
    for a, b in zip(clipper[:-1], clipper[1:], strict=True):
        if not out:
            break
        def side(p, a=a, b=b):
            return sign * ((b[0] - a[0]) * (p[1] - a[1]) - (b[1] - a[1]) * (p[0] - a[0]))
        inp, out = out, []
        for i, cur in enumerate(inp):
            prev = inp[i - 1]
            sc, sp = side(cur), side(prev)
            if sc >= 0:
                if sp < 0:
                    out.append(prev + (cur - prev) * (sp / (sp - sc)))
                out.append(cur)
            elif sp >= 0:
                out.append(prev + (cur - prev) * (sp / (sp - sc)))
    if len(out) < 3:
        return np.zeros((0, 2))
    return np.vstack(out + [out[0]])


def field_of_view(image, *, pixel_size_um: float | None = None) -> dict:
    """Area covered and sampling of one map.

    Parameters
    ----------
    image : xarray.DataArray or array_like
        Calibrated map, or a plain array with ``pixel_size_um``.
    pixel_size_um : float, optional
        Pixel size of a plain array.

    Returns
    -------
    dict
        ``source_name``, ``shape`` (ny, nx), ``pixel_size_um`` (geometric mean),
        ``pixel_size_x_um``, ``pixel_size_y_um``, ``width_um``, ``height_um``, ``area_um2``,
        ``extent_um`` (x_min, x_max, y_min, y_max of the pixel edges).
    """
    da = _need_image(image, "image", pixel_size_um)
    pa = _pixel_affine(da)
    poly = fov_polygon(da)
    sx, sy = abs(pa.linear[0, 0]), abs(pa.linear[1, 1])
    ny, nx = da.shape
    return {"source_name": da.attrs.get("source_name"), "shape": (ny, nx), "pixel_size_um": _pixel_size(da),
            "pixel_size_x_um": sx, "pixel_size_y_um": sy, "width_um": nx * sx, "height_um": ny * sy,
            "area_um2": float(_area(poly)),
            "extent_um": (float(poly[:, 0].min()), float(poly[:, 0].max()),
                          float(poly[:, 1].min()), float(poly[:, 1].max()))}


def fov_overlap(reference, moving, transform: Affine | None = None, *,
                reference_pixel_size_um: float | None = None, moving_pixel_size_um: float | None = None) -> dict:
    """How two registered fields of view relate (the seed's area and resolution issues).

    Returns
    -------
    dict
        ``reference_area_um2``, ``moving_area_um2`` (in reference units, i.e. after the
        transform's scale), ``overlap_area_um2``, ``overlap_fraction_of_moving``,
        ``overlap_fraction_of_reference``, ``area_ratio`` (reference / moving),
        ``pixel_size_ratio`` (reference pixel / moving pixel in the reference frame:
        the downsampling factor of :func:`to_common_grid`) and ``moving_outline_um``
        (the moving outline in reference coordinates).
    """
    ref = _need_image(reference, "reference", reference_pixel_size_um)
    mov = _need_image(moving, "moving", moving_pixel_size_um)
    t = Affine.identity() if transform is None else _need_affine(transform)
    pr, pm = fov_polygon(ref), fov_polygon(mov, t)
    a_r, a_m = _area(pr), _area(pm)
    inter = _clip(pm, pr)
    a_i = _area(inter) if len(inter) else 0.0
    return {"reference_area_um2": float(a_r), "moving_area_um2": float(a_m), "overlap_area_um2": float(a_i),
            "overlap_fraction_of_moving": float(a_i / a_m), "overlap_fraction_of_reference": float(a_i / a_r),
            "area_ratio": float(a_r / a_m),
            "pixel_size_ratio": float(_pixel_size(ref) / (_pixel_size(mov) * t.scale)),
            "moving_outline_um": pm}


def resolution_table(*images) -> pd.DataFrame:
    """One row per map: source_name, units, ny, nx, pixel sizes, width/height (µm), area (µm²).

    The table the correlation notebook shows for the seed's "area covered" and "spatial
    resolution" questions; the coarsest pixel size sets the grid of a joint analysis.
    """
    if not images:
        raise InvalidParameterError("give at least one map.")
    rows = []
    for im in images:
        f = field_of_view(im)
        da = _need_image(im, "image")
        rows.append({"source_name": f["source_name"], "units": da.attrs.get("units", ""),
                     "ny": f["shape"][0], "nx": f["shape"][1], "pixel_size_um": f["pixel_size_um"],
                     "pixel_size_x_um": f["pixel_size_x_um"], "pixel_size_y_um": f["pixel_size_y_um"],
                     "width_um": f["width_um"], "height_um": f["height_um"], "area_um2": f["area_um2"]})
    return pd.DataFrame(rows)


# ----------------------------------------------------------------- region statistics


def pixel_table(a, b, *, names=("a", "b"), dropna: bool = True, pixel_size_um: float | None = None) -> pd.DataFrame:
    """Per-pixel join of two maps on one grid: ``x_um``, ``y_um``, ``value_<a>``, ``value_<b>``.

    Parameters
    ----------
    a, b : xarray.DataArray
        Registered maps on the same grid (see :func:`to_common_grid`).
    names : (str, str)
        Suffixes of the value columns (default ``value_a``, ``value_b``).
    dropna : bool
        Drop pixels where either map has no value (outside a field of view).
    pixel_size_um : float, optional
        Pixel size of plain-array inputs.
    """
    a, b = _same_grid(a, b, pixel_size_um=pixel_size_um)
    na, nb = _names(names)
    xx, yy = np.meshgrid(a["x_um"].to_numpy(), a["y_um"].to_numpy())
    table = pd.DataFrame({"x_um": xx.ravel(), "y_um": yy.ravel(),
                          f"value_{na}": a.to_numpy().ravel(), f"value_{nb}": b.to_numpy().ravel()})
    if dropna:
        table = table.dropna(subset=[f"value_{na}", f"value_{nb}"]).reset_index(drop=True)
    return table


def _names(names):
    if isinstance(names, str) or len(names) != 2 or len(set(names)) != 2:
        raise InvalidParameterError(f"names must be two different labels, got {names!r}.")
    return str(names[0]), str(names[1])


def region_table(labels, a, b=None, *, names=("a", "b"), background: int | None = 0,
                 ddof: int = 1, pixel_size_um: float | None = None) -> pd.DataFrame:
    """Per-region statistics of one or two registered maps (e.g. per particle).

    Parameters
    ----------
    labels : xarray.DataArray or array of int
        Label image on the maps' grid (0 = background by default), e.g. particles
        segmented in the X-ray slice.
    a, b : xarray.DataArray
        Maps on the labels' grid; ``b`` optional.
    names : (str, str)
        Column suffixes.
    background : int or None
        Label left out of the table (None keeps every label).
    ddof : int
        Delta degrees of freedom of the standard deviation (1: sample std).
    pixel_size_um : float, optional
        Pixel size of plain-array maps.

    Returns
    -------
    DataFrame
        One row per label: ``label``, ``count`` (pixels), ``area_um2``, ``x_um``, ``y_um``
        (centroid), and per map ``mean_<name>``, ``std_<name>``, ``count_<name>``
        (pixels with a finite value).
    """
    na, nb = _names(names)
    if b is not None:
        maps = list(_same_grid(a, b, pixel_size_um=pixel_size_um))
    else:
        maps = [_need_image(a, "map", pixel_size_um)]
    grid = maps[0]
    lab = labels.to_numpy() if isinstance(labels, xr.DataArray) else np.asarray(labels)
    if isinstance(labels, xr.DataArray) and "x_um" in labels.coords:
        _same_grid(as_image(labels.astype(float)), grid, "labels and maps")
    if lab.shape != grid.shape:
        raise InvalidParameterError(f"the label image is {lab.shape}, the maps are {grid.shape}; segment on the "
                                    "common grid or resample the labels with order=0.")
    if not np.issubdtype(lab.dtype, np.integer):
        if not np.all(np.isfinite(lab)) or not np.all(lab == np.round(lab)):
            raise InvalidParameterError("labels must be whole numbers (an integer label image).")
        lab = lab.astype(np.int64)
    if lab.size and lab.min() < 0:
        raise InvalidParameterError("labels must be ≥ 0.")
    # dense indices 0…k-1 for the labels present, so sparse label values cost nothing
    uniq, flat = np.unique(lab.ravel().astype(np.int64), return_inverse=True)
    n_lab = len(uniq)
    count = np.bincount(flat, minlength=n_lab)
    keep_idx = np.arange(n_lab) if background is None else np.flatnonzero(uniq != background)
    xx, yy = np.meshgrid(grid["x_um"].to_numpy(), grid["y_um"].to_numpy())
    pa = _pixel_affine(grid)
    out = {"label": uniq[keep_idx], "count": count[keep_idx],
           "area_um2": count[keep_idx] * abs(pa.linear[0, 0] * pa.linear[1, 1]),
           "x_um": np.bincount(flat, xx.ravel(), n_lab)[keep_idx] / count[keep_idx],
           "y_um": np.bincount(flat, yy.ravel(), n_lab)[keep_idx] / count[keep_idx]}
    for name, m in zip((na, nb), maps, strict=False):
        v = m.to_numpy().ravel()
        ok = np.isfinite(v)
        n = np.bincount(flat[ok], minlength=n_lab).astype(float)
        s1 = np.bincount(flat[ok], v[ok], n_lab)
        mean = np.divide(s1, n, out=np.full(n_lab, np.nan), where=n > 0)
        # two-pass variance (deviations from the region mean) to avoid cancellation
        dev = np.where(ok, v - mean[flat], 0.0)
        s2 = np.bincount(flat, dev ** 2, n_lab)
        denom = n - ddof
        var = np.divide(s2, denom, out=np.full(n_lab, np.nan), where=denom > 0)
        out[f"mean_{name}"] = mean[keep_idx]
        out[f"std_{name}"] = np.sqrt(var[keep_idx])
        out[f"count_{name}"] = n[keep_idx].astype(int)
    return pd.DataFrame(out)
