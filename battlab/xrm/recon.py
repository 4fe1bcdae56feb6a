"""Tomographic reconstruction for teaching and small data (scikit-image radon/iradon).

Raw projections are flat/dark corrected with Beer–Lambert, T = (I − I_dark)/(I_flat −
I_dark) and p = −ln T = ∫ μ dl; one detector row over all angles is a sinogram;
filtered back-projection (FBP) or SART turns it into a slice of μ. The rotation axis
is usually not on the detector centre (a misplaced axis smears points into arcs), and
detector pixels whose response changed since the flat field leave stripes in the
sinogram that become rings in the slice; both are corrected here.

Sinograms are ``(angle, x)`` DataArrays with ``angle_deg``; slices are ``(y, x)``
DataArrays with ``y_um``/``x_um`` and μ in 1/µm (or 1/pixel without a pixel size).
"""

from __future__ import annotations

import numpy as np

from battlab.errors import InvalidParameterError, MissingDataError

__all__ = ["normalize_projections", "sinogram", "reconstruct", "find_rotation_center", "remove_rings",
           "reconstruction_error"]


def _average(frames, shape, what):
    arr = np.asarray(frames, float)
    while arr.ndim > len(shape):
        arr = arr.mean(axis=0)  # a stack of flats/darks: average them
    if arr.shape != tuple(shape):
        raise InvalidParameterError(f"the {what} has shape {arr.shape}; each projection is {tuple(shape)}.")
    return arr


def normalize_projections(projections, *, flat, dark=None, angles_deg=None, min_transmission: float = 1e-4):
    """Beer–Lambert flat/dark correction: absorbance p = −ln((I − I_dark)/(I_flat − I_dark)).

    Parameters
    ----------
    projections : array (angle, x) or (angle, y, x)
        Raw detector counts.
    flat, dark : array
        Open-beam and dark-current frames (one frame or a stack to average).
    angles_deg : sequence, optional
        Rotation angle of every projection (default: evenly over 0–180°).
    min_transmission : float
        Transmissions below this (noise, dead pixels) are clipped before the logarithm.

    Returns
    -------
    DataArray
        Absorbance, dims ``(angle, x)`` or ``(angle, y, x)``, coordinate ``angle_deg``.
    """
    import xarray as xr

    raw = np.asarray(projections, float)
    if raw.ndim not in (2, 3):
        raise InvalidParameterError(f"projections must be (angle, x) or (angle, y, x), got shape {raw.shape}.")
    frame = raw.shape[1:]
    f = _average(flat, frame, "flat field")
    d = np.zeros(frame) if dark is None else _average(dark, frame, "dark frame")
    open_beam = f - d
    if np.any(open_beam <= 0):
        raise InvalidParameterError("the flat field is not brighter than the dark frame everywhere; check that "
                                    "flat and dark were not swapped.")
    trans = np.clip((raw - d) / open_beam, min_transmission, None)
    n = raw.shape[0]
    angles = np.linspace(0, 180, n, endpoint=False) if angles_deg is None else np.asarray(angles_deg, float)
    if angles.size != n:
        raise InvalidParameterError(f"{angles.size} angles for {n} projections.")
    dims = ("angle", "x") if raw.ndim == 2 else ("angle", "y", "x")
    out = xr.DataArray(-np.log(trans), dims=dims, coords={"angle_deg": ("angle", angles)}, name="absorbance",
                       attrs={"units": "-ln(I/I0)"})
    out["angle_deg"].attrs["units"] = "deg"
    return out


def sinogram(projections, *, row: int | None = None):
    """The ``(angle, x)`` sinogram of one detector row (the middle one by default)."""
    if "y" not in projections.dims:
        return projections
    row = projections.sizes["y"] // 2 if row is None else int(row)
    if not 0 <= row < projections.sizes["y"]:
        raise InvalidParameterError(f"row {row} is outside the detector (0–{projections.sizes['y'] - 1}).")
    return projections.isel(y=row)


def _shifted(sino, offset_px):
    from scipy import ndimage as ndi

    if offset_px == 0:
        return sino
    return ndi.shift(sino, (0, -float(offset_px)), order=1, mode="nearest")


def _angles(sino, angles_deg):
    if angles_deg is not None:
        return np.asarray(angles_deg, float)
    if hasattr(sino, "coords") and "angle_deg" in sino.coords:
        return sino["angle_deg"].to_numpy()
    raise InvalidParameterError("angles_deg is required (the sinogram does not carry angle_deg).")


def reconstruct(sino, *, angles_deg=None, method: str = "fbp", filter_name: str = "ramp",
                center_offset_px: float = 0.0, sart_iterations: int = 2, pixel_size_um: float | None = None,
                on_progress=None):
    """Reconstruct one slice from a sinogram.

    Parameters
    ----------
    sino : DataArray or array (angle, x)
        Absorbance sinogram (see :func:`normalize_projections`).
    method : {"fbp", "sart"}
        Filtered back-projection, or the simultaneous algebraic reconstruction
        technique (iterative; better with few angles or noisy data).
    filter_name : {"ramp", "shepp-logan", "cosine", "hamming", "hann"}
        FBP filter; windows other than the ramp trade resolution for noise.
    center_offset_px : float
        Rotation axis position relative to the detector centre, pixels (see
        :func:`find_rotation_center`).
    sart_iterations : int
        SART passes (each refines the previous one).
    pixel_size_um : float, optional
        Detector pixel size at the sample; μ is then in 1/µm and coordinates in µm.
    on_progress : callable(float), optional
        Called with the fraction done (0–1): after each SART pass, once for FBP.

    Returns
    -------
    DataArray (y, x)
    """
    import xarray as xr
    from skimage.transform import iradon, iradon_sart

    arr = np.asarray(getattr(sino, "values", sino), float)
    if arr.ndim != 2:
        raise InvalidParameterError(f"a sinogram is 2-D (angle, x), got shape {arr.shape}.")
    angles = _angles(sino, angles_deg)
    if angles.size != arr.shape[0]:
        raise InvalidParameterError(f"{angles.size} angles for {arr.shape[0]} sinogram rows.")
    if arr.shape[0] < 3:
        raise MissingDataError("a reconstruction needs at least three projection angles.")
    arr = _shifted(arr, center_offset_px).T  # scikit-image wants (detector, angle)
    if method == "fbp":
        img = iradon(arr, theta=angles, filter_name=None if filter_name == "none" else filter_name, circle=True)
    elif method == "sart":
        if int(sart_iterations) < 1:
            raise InvalidParameterError("sart_iterations must be at least 1.")
        img = None
        for it in range(int(sart_iterations)):
            img = iradon_sart(arr, theta=angles, image=img)
            if on_progress is not None:
                on_progress((it + 1) / int(sart_iterations))
    else:
        raise InvalidParameterError(f"unknown method {method!r}; use 'fbp' or 'sart'.")
    if on_progress is not None and method == "fbp":
        on_progress(1.0)
    px = 1.0 if pixel_size_um is None else float(pixel_size_um)
    if px <= 0:
        raise InvalidParameterError("pixel_size_um must be positive.")
    ny, nx = img.shape
    out = xr.DataArray(img / px, dims=("y", "x"), name="mu",
                       coords={"y_um": ("y", np.arange(ny) * px), "x_um": ("x", np.arange(nx) * px)},
                       attrs={"units": "1/µm" if pixel_size_um else "1/pixel", "pixel_size_um": px,
                              "method": method, "center_offset_px": float(center_offset_px)})
    return out


def _parabolic_peak(c, k):
    if 0 < k < c.size - 1:
        den = c[k - 1] - 2 * c[k] + c[k + 1]
        if den < 0:
            return k + 0.5 * (c[k - 1] - c[k + 1]) / den
    return float(k)


def find_rotation_center(sino, *, angles_deg=None, search_px: float = 20.0, method: str = "centroid") -> float:
    """Offset of the rotation axis from the detector centre, pixels.

    ``centroid``: the centre of mass of each projection is the projection of the
    object's centre of mass, so it follows a + b·cos θ + c·sin θ over the angles; the
    least-squares a is the axis (needs a background near zero absorbance, i.e. the
    object inside the field of view). ``sharpness``: reconstruct with trial offsets
    within ±``search_px`` and keep the one whose slice has the least total variation
    (a wrong axis smears edges into arcs), refined by a parabola.
    """
    arr = np.asarray(getattr(sino, "values", sino), float)
    angles = _angles(sino, angles_deg)
    n = arr.shape[1]
    if method == "centroid":
        mass = arr.sum(axis=1)
        good = mass > 1e-9 * max(float(np.abs(mass).max()), 1e-300)
        if good.sum() < 3:
            raise MissingDataError("the projections hold no absorbing object to locate the axis from.")
        com = (arr[good] * np.arange(n)).sum(axis=1) / mass[good]
        th = np.deg2rad(angles[good])
        design = np.column_stack([np.ones(th.size), np.cos(th), np.sin(th)])
        coef, *_ = np.linalg.lstsq(design, com, rcond=None)
        return float(coef[0] - n // 2)  # scikit-image puts the axis on pixel n // 2
    if method != "sharpness":
        raise InvalidParameterError(f"unknown method {method!r}; use 'centroid' or 'sharpness'.")
    trials = np.arange(-search_px, search_px + 0.5, 1.0)
    scores = []
    for off in trials:
        img = reconstruct(arr, angles_deg=angles, center_offset_px=off).values
        scores.append(np.abs(np.diff(img, axis=0)).sum() + np.abs(np.diff(img, axis=1)).sum())
    scores = -np.asarray(scores)
    k = int(np.argmax(scores))
    return float(trials[0] + _parabolic_peak(scores, k) * (trials[1] - trials[0]))


def remove_rings(sino, *, size_px: int = 9):
    """Remove ring artefacts by flattening stripes in the sinogram.

    A detector pixel with a wrong response adds the same offset at every angle: a
    vertical stripe. Each row is high-passed along x (minus its median over ``size_px``
    pixels); real edges move with the angle and average out of the median over angles,
    stripes do not, so that median is the stripe profile, subtracted from every row.
    """
    from scipy.ndimage import median_filter

    arr = np.asarray(getattr(sino, "values", sino), float)
    if int(size_px) < 3:
        raise InvalidParameterError("size_px must be at least 3.")
    high = arr - median_filter(arr, size=(1, int(size_px)), mode="nearest")
    stripes = np.median(high, axis=0)
    out = arr - stripes[None, :]
    return sino.copy(data=out) if hasattr(sino, "copy") and hasattr(sino, "dims") else out


def reconstruction_error(image, truth) -> float:
    """Root-mean-square error inside the reconstruction circle, relative to the truth's range."""
    img = np.asarray(getattr(image, "values", image), float)
    ref = np.asarray(truth, float)
    if img.shape != ref.shape:
        raise InvalidParameterError(f"shapes differ: {img.shape} vs {ref.shape}.")
    n = img.shape[0]
    yy, xx = np.indices(img.shape)
    inside = np.hypot(yy - n // 2, xx - n // 2) < n / 2 - 1
    span = float(ref.max() - ref.min()) or 1.0
    return float(np.sqrt(np.mean((img[inside] - ref[inside]) ** 2)) / span)
