"""Topography: levelling, scar removal, roughness (ISO 25178 / ISO 4287), histogram, PSD,
grains and step heights.

All functions take a calibrated map from :func:`battlab.afm.read_afm` (or
:func:`battlab.afm.height_map`): dims ``("y", "x")``, ``pixel_size_um`` in attrs and the
values' unit in ``attrs["units"]``. Maps come back with the same coordinates and attrs,
plus a record of what was done in ``attrs["levelling"]``.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import xarray as xr

from battlab.errors import InvalidParameterError, MissingDataError

__all__ = ["level_plane", "level_polynomial", "level_lines", "feature_mask", "remove_scars", "roughness",
           "line_roughness", "height_histogram", "psd", "segment_grains", "grain_summary", "step_height", "level",
           "line_profile", "profile_roughness", "profile_step_height", "region_mask"]


def _check(image):
    if not isinstance(image, xr.DataArray) or image.dims != ("y", "x"):
        raise InvalidParameterError("expected an AFM map: a DataArray with dims ('y', 'x') from "
                                    "battlab.afm.read_afm or battlab.afm.height_map.")
    if "pixel_size_um" not in image.attrs:
        raise MissingDataError("the map has no pixel_size_um attribute; build it with battlab.afm.height_map.")
    return np.asarray(image.values, dtype=float)


def _like(image, values, step):
    out = image.copy(data=values)
    out.attrs = dict(image.attrs)
    out.attrs["levelling"] = list(image.attrs.get("levelling", [])) + [step]
    return out


def _mask_arg(mask, shape):
    if mask is None:
        return np.ones(shape, bool)
    m = np.asarray(mask, bool)
    if m.shape != shape:
        raise InvalidParameterError(f"mask shape {m.shape} differs from the map {shape}.")
    return m


def _terms(y, x, order):
    return [x ** i * y ** j for i in range(order + 1) for j in range(order + 1 - i)]


def _row_chunks(shape, order):
    ny, nx = shape
    # Coordinates scaled to [-1, 1] keep the polynomial least squares well conditioned;
    # rows are processed in chunks so a 4096² map never needs its full design matrix.
    ys, xs = np.linspace(-1, 1, ny), np.linspace(-1, 1, nx)
    step = max(1, 2_000_000 // max(nx, 1))
    for r0 in range(0, ny, step):
        yy, xx = np.meshgrid(ys[r0:r0 + step], xs, indexing="ij")
        yield slice(r0, r0 + step), _terms(yy, xx, order)


def level_polynomial(image, *, order: int = 2, mask=None) -> xr.DataArray:
    """Subtract a 2-D polynomial surface of total degree ``order`` fitted by least squares.

    Parameters
    ----------
    mask : bool array, optional
        True where pixels belong to the background used for the fit (features excluded,
        e.g. from :func:`feature_mask` inverted).
    """
    z = _check(image)
    if not 0 <= int(order) <= 6:
        raise InvalidParameterError(f"polynomial order must be 0–6, got {order!r}.")
    order = int(order)
    use = _mask_arg(mask, z.shape) & np.isfinite(z)
    n_terms = (order + 1) * (order + 2) // 2
    if use.sum() < n_terms:
        raise InvalidParameterError("too few background pixels to fit the levelling surface.")
    # Normal equations accumulated chunk by chunk (a small n_terms² system).
    ata = np.zeros((n_terms, n_terms))
    atz = np.zeros(n_terms)
    for rows, terms in _row_chunks(z.shape, order):
        w = use[rows]
        a = np.stack([t[w] for t in terms], axis=1)
        ata += a.T @ a
        atz += a.T @ z[rows][w]
    coef = np.linalg.lstsq(ata, atz, rcond=None)[0]
    out = z.copy()
    for rows, terms in _row_chunks(z.shape, order):
        out[rows] -= sum(c * t for c, t in zip(coef, terms, strict=True))
    return _like(image, out, {"method": "polynomial", "order": order, "masked": mask is not None})


def level_plane(image, *, mask=None) -> xr.DataArray:
    """Subtract the least-squares plane (optionally fitted to background pixels only)."""
    out = level_polynomial(image, order=1, mask=mask)
    out.attrs["levelling"][-1] = {"method": "plane", "masked": mask is not None}
    return out


def level_lines(image, *, method: str = "median", order: int = 1, mask=None) -> xr.DataArray:
    """Line-by-line levelling along the fast-scan axis (x).

    ``method="median"`` subtracts each line's median height (robust to features);
    ``"poly"`` subtracts a per-line polynomial of ``order``. Pixels where ``mask`` is False
    (features) are left out of each line's estimate.
    """
    z = _check(image)
    use = _mask_arg(mask, z.shape) & np.isfinite(z)
    out = z.copy()
    x = np.linspace(-1, 1, z.shape[1])
    for i in range(z.shape[0]):
        good = use[i]
        if good.sum() < max(2, order + 1):
            good = np.isfinite(z[i])
        if method == "median":
            out[i] -= np.median(z[i, good])
        elif method == "poly":
            coef = np.polyfit(x[good], z[i, good], int(order))
            out[i] -= np.polyval(coef, x)
        else:
            raise InvalidParameterError(f"line levelling method must be 'median' or 'poly', got {method!r}.")
    return _like(image, out, {"method": f"lines-{method}", "order": int(order), "masked": mask is not None})


def feature_mask(image, *, threshold_sigma: float = 2.0) -> np.ndarray:
    """True on features (pixels beyond ``threshold_sigma`` robust σ from a plane-levelled map).

    Pass ``~feature_mask(...)`` as the background ``mask`` of a levelling function so that
    particles and terraces do not tilt the fitted background.
    """
    z = np.asarray(level_plane(image).values)
    med = np.nanmedian(z)
    sigma = 1.4826 * np.nanmedian(np.abs(z - med))
    if sigma == 0:
        return np.zeros(z.shape, bool)
    return np.abs(z - med) > threshold_sigma * sigma


def level(image, *, method: str = "plane", order: int = 2, mask_features: bool = False,
          threshold_sigma: float = 2.0) -> xr.DataArray:
    """One entry point for the apps and CLI: ``method`` in none/plane/polynomial/lines-median/lines-poly."""
    mask = ~feature_mask(image, threshold_sigma=threshold_sigma) if mask_features else None
    if method == "none":
        return _like(image, _check(image), {"method": "none"})
    if method == "plane":
        return level_plane(image, mask=mask)
    if method == "polynomial":
        return level_polynomial(image, order=order, mask=mask)
    if method in ("lines-median", "lines-poly"):
        return level_lines(level_plane(image, mask=mask), method=method.split("-")[1], order=1, mask=mask)
    raise InvalidParameterError(f"unknown levelling {method!r}: none, plane, polynomial, lines-median, lines-poly.")


def remove_scars(image, *, threshold_sigma: float = 4.0) -> xr.DataArray:
    """Replace scan-line scars: pixels that jump the same way against both neighbouring lines.

    A scar is a short run of a scan line offset from the lines above and below. A pixel
    whose differences to both neighbours share a sign and exceed ``threshold_sigma`` times
    the robust σ of line-to-line differences is replaced by the neighbours' mean.
    """
    z = _check(image)
    up = z[1:-1] - z[:-2]
    down = z[1:-1] - z[2:]
    d = np.diff(z, axis=0)
    sigma = 1.4826 * np.nanmedian(np.abs(d - np.nanmedian(d)))
    if sigma == 0:
        # Noise-free flat areas: the robust spread is zero, fall back to the mean jump.
        sigma = float(np.nanmean(np.abs(d)))
    if sigma == 0:
        return _like(image, z.copy(), {"method": "scars", "pixels": 0})
    scar = (np.sign(up) == np.sign(down)) & (np.minimum(np.abs(up), np.abs(down)) > threshold_sigma * sigma)
    out = z.copy()
    inner = out[1:-1]
    inner[scar] = 0.5 * (z[:-2] + z[2:])[scar]
    return _like(image, out, {"method": "scars", "threshold_sigma": threshold_sigma, "pixels": int(scar.sum())})


def roughness(image, *, mask=None) -> dict:
    """Areal roughness parameters (ISO 25178) of a levelled map.

    Returns
    -------
    dict
        Sa, Sq, Ssk, Sku, Sp, Sv, Sz (in the map's unit), Sdr (%, developed interfacial
        area ratio, only when the values are lengths), plus the scan and pixel size and
        the levelling applied, which must be reported with any roughness value.
    """
    z = _check(image)
    use = _mask_arg(mask, z.shape) & np.isfinite(z)
    v = z[use] if not use.all() else z.ravel()
    if v.size < 4:
        raise MissingDataError("fewer than 4 valid pixels: no roughness.")
    dev = v - v.mean()
    dev2 = dev * dev  # products, not float powers: 10× faster on a 4096² map
    sq = float(np.sqrt(dev2.mean()))
    out = {"Sa": float(np.abs(dev).mean()), "Sq": sq,
           "Ssk": float((dev2 * dev).mean() / sq ** 3) if sq > 0 else np.nan,
           "Sku": float((dev2 * dev2).mean() / sq ** 4) if sq > 0 else np.nan,
           "Sp": float(dev.max()), "Sv": float(-dev.min()), "Sz": float(dev.max() - dev.min())}
    unit = image.attrs.get("units", "")
    scale_to_unit = {"nm": 1e3, "µm": 1.0, "um": 1.0}.get(unit)
    if scale_to_unit is not None:
        dx = image.attrs["pixel_size_um"] * scale_to_unit
        dy = image.attrs.get("pixel_size_y_um", image.attrs["pixel_size_um"]) * scale_to_unit
        # Forward differences on each pixel cell (the ISO 25178 definition of Sdr).
        gx = np.diff(z, axis=1)[:-1] / dx
        gy = np.diff(z, axis=0)[:, :-1] / dy
        gx *= gx
        gy *= gy
        gx += gy
        gx += 1.0
        np.sqrt(gx, out=gx)
        cell = use[:-1, :-1] & use[1:, :-1] & use[:-1, 1:]
        out["Sdr"] = float((gx[cell].mean() - 1) * 100)
    else:
        out["Sdr"] = np.nan
    out.update({"units": unit, "scan_size_um": list(image.attrs.get("scan_size_um", [])),
                "pixel_size_um": image.attrs["pixel_size_um"], "levelling": image.attrs.get("levelling", [])})
    return out


def line_roughness(image, *, axis: str = "x") -> dict:
    """Profile roughness Ra and Rq (ISO 4287) averaged over all lines along ``axis``.

    Each profile's least-squares mean line is removed first (the primary profile without
    a cut-off filter).
    """
    z = _check(image)
    prof = z if axis == "x" else z.T
    ra, rq = _ra_rq(prof)
    return {"Ra": float(ra.mean()), "Rq": float(rq.mean()), "Ra_std": float(ra.std()), "Rq_std": float(rq.std()),
            "profiles": int(prof.shape[0]), "axis": axis, "units": image.attrs.get("units", "")}


def _ra_rq(profiles):
    """Ra and Rq of each row of ``profiles`` after removing its least-squares mean line
    (ISO 4287 primary profile, no cut-off filter); samples are equally spaced."""
    t = np.arange(profiles.shape[1], dtype=float)
    a = np.vstack([t, np.ones_like(t)]).T
    coef, *_ = np.linalg.lstsq(a, profiles.T, rcond=None)
    dev = profiles - (a @ coef).T
    return np.mean(np.abs(dev), axis=1), np.sqrt(np.mean(dev ** 2, axis=1))


def line_profile(image, start_um, end_um, *, width_um: float = 0.0) -> pd.DataFrame:
    """Heights along a free line between two points of a map, averaged over a width.

    Parameters
    ----------
    image : DataArray
        A calibrated map (dims y, x; ``pixel_size_um``).
    start_um, end_um : (x, y) in µm
        End points in the map's coordinates (``x_um``/``y_um``: 0 at the map's first
        pixel edge).
    width_um : float
        Heights are averaged over parallel lines spanning this width (one pixel when 0),
        which lowers noise without blurring a step crossed at right angles.

    Returns
    -------
    DataFrame
        ``distance_um`` (0 at ``start_um``, exactly the line's length at the last
        sample), ``x_um``, ``y_um`` and ``height`` (bilinear samples about one pixel
        apart). ``attrs`` hold the end points, width, length and unit.
    """
    from scipy.ndimage import map_coordinates

    from battlab.imaging.kymograph import _line_points

    z = _check(image)
    dx = float(image.attrs["pixel_size_um"])
    dy = float(image.attrs.get("pixel_size_y_um", dx))
    ny, nx = z.shape
    try:
        (x0, y0), (x1, y1) = (tuple(float(v) for v in p) for p in (start_um, end_um))
    except (TypeError, ValueError):
        raise InvalidParameterError("start_um and end_um must be (x, y) pairs of numbers in µm.") from None
    for x, y in ((x0, y0), (x1, y1)):
        if not (np.isfinite(x) and np.isfinite(y) and 0 <= x <= nx * dx and 0 <= y <= ny * dy):
            raise InvalidParameterError(f"the point ({x:g}, {y:g}) µm lies outside the map "
                                        f"(0–{nx * dx:.4g} × 0–{ny * dy:.4g} µm).")
    if not np.isfinite(width_um) or width_um < 0:
        raise InvalidParameterError(f"width_um must be zero or positive, got {width_um!r}.")
    diagonal_um = float(np.hypot(nx * dx, ny * dy))
    if width_um > diagonal_um:
        # Wider lines would sample nothing but the map's edge pixels repeated.
        raise InvalidParameterError(f"a profile {width_um:g} µm wide is wider than the map's diagonal "
                                    f"({diagonal_um:.4g} µm); give a narrower width.")
    # Pixel centres sit at (i + 0.5)·pixel size; the sampler takes (row, column) indices.
    p0 = (y0 / dy - 0.5, x0 / dx - 0.5)
    p1 = (y1 / dy - 0.5, x1 / dx - 0.5)
    length_px = float(np.hypot(p1[0] - p0[0], p1[1] - p0[1]))
    length_um = float(np.hypot(x1 - x0, y1 - y0))
    if length_px < 2:
        raise InvalidParameterError(f"the line is {length_um:.3g} µm long, under 2 pixels: draw a longer one.")
    n = int(np.ceil(length_px)) + 1
    step_px = length_px / (n - 1)
    width_px = max(1, int(round(width_um / min(dx, dy))))
    # The kymograph's line geometry (parallel lines across the width); bilinear samples are
    # averaged ignoring NaN, so pixels missing from a registered frame or an aborted scan
    # do not blank the whole profile.
    s_px, yy, xx = _line_points(p0, p1, step_px=step_px * (1 - 1e-12), width_px=width_px)
    s_px, yy, xx = s_px[:n], yy[:, :n], xx[:, :n]
    samples = map_coordinates(z, [yy.ravel(), xx.ravel()], order=1, mode="nearest").reshape(yy.shape)
    with np.errstate(invalid="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # an all-NaN column stays NaN
        heights = np.nanmean(samples, axis=0)
    # The sampled points are equally spaced: the k-th is exactly k/(n-1) of the way along.
    frac = np.arange(s_px.size) / (n - 1)
    out = pd.DataFrame({"distance_um": frac * length_um, "x_um": x0 + frac * (x1 - x0),
                        "y_um": y0 + frac * (y1 - y0), "height": heights})
    out.attrs.update({"start_um": (x0, y0), "end_um": (x1, y1), "length_um": length_um,
                      "width_um": width_px * min(dx, dy), "units": image.attrs.get("units", ""),
                      "channel": image.attrs.get("channel", image.name or "")})
    return out


def _profile_values(profile):
    if not isinstance(profile, pd.DataFrame) or not {"distance_um", "height"} <= set(profile):
        raise InvalidParameterError("expected a profile table from battlab.afm.line_profile "
                                    "(columns distance_um, height).")
    s = profile["distance_um"].to_numpy(float)
    h = profile["height"].to_numpy(float)
    ok = np.isfinite(s) & np.isfinite(h)
    if ok.sum() < 4:
        raise MissingDataError("the profile has fewer than 4 valid samples.")
    return s[ok], h[ok]


def profile_roughness(profile) -> dict:
    """Ra and Rq (ISO 4287) of one profile from :func:`line_profile`, its least-squares
    mean line removed (primary profile, no cut-off filter)."""
    s, h = _profile_values(profile)
    ra, rq = _ra_rq(h[None, :])
    return {"Ra": float(ra[0]), "Rq": float(rq[0]), "length_um": float(s[-1] - s[0]), "samples": int(s.size),
            "units": profile.attrs.get("units", "")}


def profile_step_height(profile, *, edge_um: float | None = None, exclude_um: float | None = None) -> dict:
    """Height of a step crossed by a profile: two terraces fitted with one common slope.

    The model h = a + b·s + H·[s > edge] is fitted to the samples farther than
    ``exclude_um`` from the edge, so a residual tilt does not add to H and the edge's
    own blur (tip, interpolation) is left out.

    Parameters
    ----------
    edge_um : float, optional
        Where the step is along the profile; by default the steepest point of the
        lightly smoothed profile.
    exclude_um : float, optional
        Half-width of the band around the edge left out of the fit; default 5 % of the
        profile length (at least two samples).

    Returns
    -------
    dict
        step_height (positive when the profile rises along its direction), edge_um,
        slope (unit per µm), intercept (the lower-distance terrace's line at the edge),
        residual_rms, n_left, n_right, units.
    """
    from scipy.ndimage import uniform_filter1d

    s, h = _profile_values(profile)
    spacing = float(np.median(np.diff(s)))
    if edge_um is None:
        grad = np.gradient(uniform_filter1d(h, size=min(5, h.size), mode="nearest"), s)
        edge_um = float(s[int(np.argmax(np.abs(grad)))])
    if not s[0] < edge_um < s[-1]:
        raise InvalidParameterError(f"the edge at {edge_um:g} µm is not inside the profile (0–{s[-1]:.4g} µm).")
    band = max(2 * spacing, 0.05 * (s[-1] - s[0])) if exclude_um is None else float(exclude_um)
    keep = np.abs(s - edge_um) > band
    right = s > edge_um
    n_left, n_right = int((keep & ~right).sum()), int((keep & right).sum())
    if min(n_left, n_right) < 2:
        raise MissingDataError("fewer than 2 samples on one side of the step: move the edge or draw a longer line.")
    design = np.stack([np.ones(keep.sum()), s[keep] - edge_um, right[keep].astype(float)], axis=1)
    coef, *_ = np.linalg.lstsq(design, h[keep], rcond=None)
    resid = h[keep] - design @ coef
    return {"step_height": float(coef[2]), "edge_um": float(edge_um), "slope": float(coef[1]),
            "intercept": float(coef[0]),
            "residual_rms": float(np.sqrt(np.mean(resid ** 2))), "n_left": n_left, "n_right": n_right,
            "units": profile.attrs.get("units", "")}


def region_mask(image, *, x_um=None, y_um=None, above=None, below=None) -> np.ndarray:
    """A region of a map as a boolean mask: a rectangle in µm and/or a value window.

    Parameters
    ----------
    x_um, y_um : (float, float), optional
        Rectangle bounds in the map's µm coordinates (pixel centres inside are taken);
        the whole width/height when omitted.
    above, below : float, optional
        Keep pixels whose value (in ``image``'s unit: a height map for a "mask from a
        height threshold") is above / below these.
    """
    z = _check(image)
    dx = float(image.attrs["pixel_size_um"])
    dy = float(image.attrs.get("pixel_size_y_um", dx))
    xc = (np.arange(z.shape[1]) + 0.5) * dx
    yc = (np.arange(z.shape[0]) + 0.5) * dy
    mask = np.ones(z.shape, bool)
    for bounds, centres, axis in ((x_um, xc, "x"), (y_um, yc, "y")):
        if bounds is None:
            continue
        try:
            lo, hi = sorted(float(v) for v in bounds)
        except (TypeError, ValueError):
            raise InvalidParameterError(f"{axis}_um must be two numbers (µm).") from None
        inside = (centres >= lo) & (centres <= hi)
        mask &= inside[None, :] if axis == "x" else inside[:, None]
    with np.errstate(invalid="ignore"):
        if above is not None:
            mask &= z > float(above)
        if below is not None:
            mask &= z < float(below)
    if not mask.any():
        raise MissingDataError("the region selects no pixel of the map: check the rectangle (µm) and thresholds.")
    return mask


def height_histogram(image, *, bins: int = 128) -> pd.DataFrame:
    """Height distribution: bin centre, count and probability density."""
    z = _check(image)
    v = z[np.isfinite(z)]
    counts, edges = np.histogram(v, bins=int(bins))
    width = np.diff(edges)
    return pd.DataFrame({"height": 0.5 * (edges[1:] + edges[:-1]), "count": counts,
                         "density": counts / (counts.sum() * width)})


def psd(image, *, n_bins: int | None = None) -> pd.DataFrame:
    """Radially averaged 2-D power spectral density.

    Normalised so that ∫ PSD(f) 2πf df over the measured band equals the mean-square
    roughness (Parseval): the column ``psd`` is in unit²·µm².
    """
    z = _check(image)
    z = np.where(np.isfinite(z), z, np.nanmean(z))
    z = z - z.mean()
    ny, nx = z.shape
    dx = image.attrs["pixel_size_um"]
    dy = image.attrs.get("pixel_size_y_um", dx)
    spec = np.abs(np.fft.fft2(z)) ** 2 * dx * dy / (nx * ny)
    fy = np.fft.fftfreq(ny, dy)[:, None]
    fx = np.fft.fftfreq(nx, dx)[None, :]
    fr = np.hypot(fy, fx)
    fmax = min(0.5 / dx, 0.5 / dy)
    nb = int(n_bins or min(nx, ny) // 2)
    edges = np.linspace(0, fmax, nb + 1)
    idx = np.digitize(fr.ravel(), edges) - 1
    ok = (idx >= 0) & (idx < nb)
    sums = np.bincount(idx[ok], weights=spec.ravel()[ok], minlength=nb)
    counts = np.bincount(idx[ok], minlength=nb)
    centres = 0.5 * (edges[1:] + edges[:-1])
    with np.errstate(invalid="ignore"):
        mean = sums / counts
    frame = pd.DataFrame({"frequency_per_um": centres, "psd": mean, "pixels": counts})
    frame = frame[counts > 0].reset_index(drop=True)
    frame.attrs["units"] = f"{image.attrs.get('units', '')}²·µm²"
    return frame


def segment_grains(image, *, threshold: float | None = None, min_area_px: int = 4) -> pd.DataFrame:
    """Grains/particles above a height threshold, one row per grain.

    Parameters
    ----------
    threshold : float, optional
        Height (map unit) above which a pixel belongs to a grain; Otsu's threshold when
        omitted.
    min_area_px : int
        Smaller connected regions are dropped as noise.

    Returns
    -------
    DataFrame
        grain, area_um2, equivalent_diameter_nm, max_height, mean_height, volume (map
        unit × µm², heights taken above the median of the background pixels),
        centroid_x_um, centroid_y_um. ``attrs["labels"]`` holds the label image.
    """
    from scipy import ndimage

    z = _check(image)
    if threshold is None:
        from skimage.filters import threshold_otsu

        threshold = float(threshold_otsu(z[np.isfinite(z)]))
    grains = np.nan_to_num(z, nan=-np.inf) > threshold
    labels, n = ndimage.label(grains)
    if n:
        sizes = ndimage.sum(np.ones_like(z), labels, index=np.arange(1, n + 1))
        keep = np.zeros(n + 1, bool)
        keep[1:] = sizes >= int(min_area_px)
        labels = np.where(keep[labels], labels, 0)
        labels, n = ndimage.label(labels > 0)
    dx = image.attrs["pixel_size_um"]
    dy = image.attrs.get("pixel_size_y_um", dx)
    base = float(np.nanmedian(z[labels == 0])) if (labels == 0).any() else 0.0
    idx = np.arange(1, n + 1)
    area = ndimage.sum(np.ones_like(z), labels, idx) * dx * dy
    cy, cx = (np.array(ndimage.center_of_mass(np.ones_like(z), labels, idx)).reshape(-1, 2).T
              if n else (np.array([]), np.array([])))
    frame = pd.DataFrame({
        "grain": idx,
        "area_um2": area,
        "equivalent_diameter_nm": 2e3 * np.sqrt(area / np.pi),
        "max_height": ndimage.maximum(z, labels, idx) if n else [],
        "mean_height": ndimage.mean(z, labels, idx) if n else [],
        "volume": ndimage.sum(z - base, labels, idx) * dx * dy if n else [],
        "centroid_x_um": (cx + 0.5) * dx, "centroid_y_um": (cy + 0.5) * dy,
    })
    frame.attrs.update({"labels": labels, "threshold": float(threshold), "background": base,
                        "units": image.attrs.get("units", ""),
                        "volume_units": f"{image.attrs.get('units', '')}·µm²"})
    return frame


def grain_summary(grains, image) -> dict:
    """Size statistics of :func:`segment_grains`: count, number density, area coverage and
    the mean, median and standard deviation of the equivalent diameter."""
    scan = image.attrs.get("scan_size_um", [np.nan, np.nan])
    area = float(scan[0] * scan[1])
    d = np.asarray(grains["equivalent_diameter_nm"], float) if len(grains) else np.array([])
    return {"grains": int(len(grains)), "density_per_um2": len(grains) / area if area > 0 else np.nan,
            "coverage_pct": float(grains["area_um2"].sum() / area * 100) if area > 0 and len(grains) else 0.0,
            "mean_diameter_nm": float(d.mean()) if d.size else np.nan,
            "median_diameter_nm": float(np.median(d)) if d.size else np.nan,
            "std_diameter_nm": float(d.std()) if d.size else np.nan,
            "threshold": grains.attrs.get("threshold", np.nan)}


def step_height(image, *, upper=None, lower=None) -> dict:
    """Step height as the difference of mean heights on two terraces (levelled data).

    Parameters
    ----------
    upper, lower : bool arrays, optional
        The two terrace regions. When omitted the levelled heights are split in two by
        Otsu's threshold, and pixels near the split (within a quarter of the separation)
        are left out so that the step edge does not bias either mean.

    Returns
    -------
    dict
        step_height, upper_mean, lower_mean, upper_std, lower_std, n_upper, n_lower.
    """
    z = _check(image)
    if (upper is None) != (lower is None):
        raise InvalidParameterError("give both terrace masks (upper and lower) or neither.")
    if upper is None:
        from skimage.filters import threshold_otsu

        t = float(threshold_otsu(z[np.isfinite(z)]))
        top, bottom = np.nanmedian(z[z > t]), np.nanmedian(z[z <= t])
        # Otsu may place the split anywhere in an empty gap; the midpoint of the two
        # terrace medians is the symmetric choice.
        mid, gap = 0.5 * (top + bottom), 0.25 * (top - bottom)
        upper, lower = z > mid + gap, z < mid - gap
    upper, lower = _mask_arg(upper, z.shape), _mask_arg(lower, z.shape)
    if not upper.any() or not lower.any():
        raise MissingDataError("a terrace region is empty: no step height.")
    a, b = z[upper & np.isfinite(z)], z[lower & np.isfinite(z)]
    return {"step_height": float(a.mean() - b.mean()), "upper_mean": float(a.mean()), "lower_mean": float(b.mean()),
            "upper_std": float(a.std()), "lower_std": float(b.std()), "n_upper": int(a.size), "n_lower": int(b.size),
            "units": image.attrs.get("units", "")}
