"""Particles in image series: segmentation, shape measurements (Feret), detection and linking.

* :func:`segment` — Gaussian smoothing, Otsu (or a given) threshold, optional inverted
  polarity (dark objects), connected components above a minimum area;
* :func:`region_table` — area, equivalent diameter, perimeter, Feret max/min, ellipse
  axes, orientation and circularity per object (px and calibrated);
* :func:`detect_particles` — :func:`segment` + :func:`region_table` on every frame;
* :func:`link_particles` — frame-to-frame assignment (Hungarian, capped displacement)
  giving each particle an id that persists through the movie.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from battlab.errors import InvalidParameterError, MissingDataError

__all__ = ["detect_particles", "feret_diameters", "link_particles", "region_table", "segment"]


def segment(image, *, threshold: float | None = None, invert: bool = False, smooth_sigma_px: float = 1.0,
            min_area_px: int = 5):
    """Label the bright (or, with ``invert``, dark) objects of an image.

    Returns
    -------
    (labels, threshold) : ndarray of int, float
        0 = background; the threshold used (Otsu on the smoothed image by default).
    """
    from scipy import ndimage
    from skimage.filters import threshold_otsu

    img = np.asarray(image, float)
    if img.ndim != 2:
        raise InvalidParameterError(f"segment needs a 2-D image, got shape {img.shape}.")
    if not np.all(np.isfinite(img)):
        img = np.where(np.isfinite(img), img, np.nanmedian(img))
    if smooth_sigma_px and smooth_sigma_px > 0:
        img = ndimage.gaussian_filter(img, smooth_sigma_px)
    # dark objects: segment the negated image, so both polarities give the same mask
    work = -img if invert else img
    if threshold is None:
        if np.ptp(work) == 0:
            return np.zeros(img.shape, int), float(img.flat[0])
        cut = float(threshold_otsu(work))
    else:
        cut = -float(threshold) if invert else float(threshold)
    mask = work > cut
    threshold = -cut if invert else cut
    labels, n = ndimage.label(mask)
    if n and min_area_px > 1:
        sizes = np.bincount(labels.ravel())
        small = sizes < min_area_px
        small[0] = False
        labels[small[labels]] = 0
        labels, _ = ndimage.label(labels > 0)
    return labels, float(threshold)


def feret_diameters(coords) -> tuple[float, float, float]:
    """Largest and smallest caliper (Feret) width of a pixel set and the max-Feret angle (°).

    Pixel squares are represented by their four corners, so a single pixel is 1 px wide
    and √2 px across.
    """
    from scipy.spatial import ConvexHull, QhullError

    pts = np.asarray(coords, float)
    corners = (pts[:, None, :] + np.array([[-0.5, -0.5], [-0.5, 0.5], [0.5, -0.5], [0.5, 0.5]])[None]).reshape(-1, 2)
    try:
        hull = corners[ConvexHull(corners).vertices]
    except QhullError:
        hull = corners
    # widths perpendicular to each hull edge (rotating calipers): the smallest is min Feret
    edges = np.roll(hull, -1, axis=0) - hull
    norms = np.hypot(edges[:, 0], edges[:, 1])
    ok = norms > 0
    normals = np.column_stack([-edges[ok, 1], edges[ok, 0]]) / norms[ok, None]
    proj = hull @ normals.T
    widths = proj.max(axis=0) - proj.min(axis=0)
    d = hull[:, None, :] - hull[None, :, :]
    dist = np.hypot(d[..., 0], d[..., 1])
    i, j = np.unravel_index(np.argmax(dist), dist.shape)
    angle = float(np.degrees(np.arctan2(-(hull[j, 0] - hull[i, 0]), hull[j, 1] - hull[i, 1]))) % 180
    return float(dist.max()), float(widths.min()), angle


def region_table(labels, *, pixel_size: float | None = None, unit: str = "nm", intensity=None) -> pd.DataFrame:
    """Shape measurements of every labelled object.

    Returns
    -------
    DataFrame
        ``label``, ``y_px``, ``x_px`` (centroid), ``area_px``, ``equivalent_diameter_px``,
        ``perimeter_px``, ``feret_max_px``, ``feret_min_px``, ``feret_angle_deg``,
        ``major_axis_px``, ``minor_axis_px``, ``orientation_deg``, ``circularity``
        (4πA/P²), ``mean_intensity`` (with ``intensity``), plus ``area_<unit>2``,
        ``equivalent_diameter_<unit>``, ``feret_max_<unit>``, ``feret_min_<unit>`` when
        ``pixel_size`` is given.
    """
    from skimage.measure import regionprops

    labels = np.asarray(labels)
    rows = []
    for reg in regionprops(labels, intensity_image=None if intensity is None else np.asarray(intensity, float)):
        fmax, fmin, fang = feret_diameters(reg.coords)
        per = float(reg.perimeter) if reg.area > 1 else 4.0
        rows.append({"label": reg.label, "y_px": reg.centroid[0], "x_px": reg.centroid[1], "area_px": float(reg.area),
                     "equivalent_diameter_px": float(np.sqrt(4 * reg.area / np.pi)), "perimeter_px": per,
                     "feret_max_px": fmax, "feret_min_px": fmin, "feret_angle_deg": fang,
                     "major_axis_px": float(reg.axis_major_length), "minor_axis_px": float(reg.axis_minor_length),
                     "orientation_deg": float(np.degrees(reg.orientation)),
                     "circularity": float(min(4 * np.pi * reg.area / per ** 2, 1.0)) if per > 0 else np.nan,
                     **({"mean_intensity": float(reg.intensity_mean)} if intensity is not None else {})})
    cols = ["label", "y_px", "x_px", "area_px", "equivalent_diameter_px", "perimeter_px", "feret_max_px",
            "feret_min_px", "feret_angle_deg", "major_axis_px", "minor_axis_px", "orientation_deg", "circularity"]
    table = pd.DataFrame(rows, columns=cols + (["mean_intensity"] if intensity is not None else []))
    if pixel_size:
        px = float(pixel_size)
        table[f"area_{unit}2"] = table["area_px"] * px ** 2
        for c in ("equivalent_diameter", "feret_max", "feret_min"):
            table[f"{c}_{unit}"] = table[f"{c}_px"] * px
    return table


def detect_particles(movie, *, threshold: float | None = None, invert: bool = False, smooth_sigma_px: float = 1.0,
                     min_area_px: int = 5, fixed_threshold: bool = True) -> pd.DataFrame:
    """Objects in every frame of a ``(time, y, x)`` movie.

    With ``fixed_threshold`` (default) the Otsu threshold of the *last* frame is used for
    all frames, so that a frame with few or no particles is not split at a noise level.

    Returns
    -------
    DataFrame
        :func:`region_table` columns plus ``frame`` and ``time_s``.
    """
    if "time" not in getattr(movie, "dims", ()):
        raise InvalidParameterError("detect_particles needs a movie with a 'time' dimension.")
    n = movie.sizes["time"]
    px = movie.attrs.get("pixel_size_nm")
    if threshold is None and fixed_threshold:
        _, threshold = segment(np.asarray(movie.isel(time=n - 1).values), invert=invert,
                               smooth_sigma_px=smooth_sigma_px, min_area_px=min_area_px)
    times = movie["time_s"].to_numpy() if "time_s" in movie.coords else np.arange(n, dtype=float)
    tables = []
    for i in range(n):
        frame = np.asarray(movie.isel(time=i).values, float)
        labels, used = segment(frame, threshold=threshold, invert=invert, smooth_sigma_px=smooth_sigma_px,
                               min_area_px=min_area_px)
        t = region_table(labels, pixel_size=px, intensity=frame)
        t.insert(0, "time_s", times[i])
        t.insert(0, "frame", i)
        tables.append(t)
    # frames without objects give empty (object-typed) tables: restore numeric columns
    out = pd.concat([t for t in tables if len(t)] or tables[:1], ignore_index=True).infer_objects()
    out.attrs["battlab"] = {"particles": {"threshold": threshold, "invert": invert, "smooth_sigma_px": smooth_sigma_px,
                                          "min_area_px": min_area_px, "pixel_size_nm": px}}
    return out


def link_particles(particles: pd.DataFrame, *, max_displacement_px: float = 5.0, memory: int = 0) -> pd.DataFrame:
    """Give each particle an id that persists across frames.

    Consecutive frames are matched by minimum total centroid distance (Hungarian
    algorithm); pairs further apart than ``max_displacement_px`` are not linked. A
    particle missing for up to ``memory`` frames keeps its id when it reappears.

    Returns
    -------
    DataFrame
        The input with ``particle_id`` (0, 1, … in order of first appearance).
    """
    from scipy.optimize import linear_sum_assignment

    for col in ("frame", "y_px", "x_px"):
        if col not in particles:
            raise MissingDataError(f"the particle table has no {col!r} column (use detect_particles).")
    if not max_displacement_px > 0:
        raise InvalidParameterError("max_displacement_px must be positive.")
    table = particles.sort_values(["frame"]).reset_index(drop=True).copy()
    ids = np.full(len(table), -1)
    active = {}  # id -> (y, x, last_frame)
    next_id = 0
    for frame, idx in table.groupby("frame").groups.items():
        idx = np.asarray(idx)
        pos = table.loc[idx, ["y_px", "x_px"]].to_numpy(dtype=float)
        cand = [k for k, v in active.items() if frame - v[2] <= memory + 1]
        assigned = np.full(len(idx), -1)
        if cand and len(idx):
            prev = np.array([active[k][:2] for k in cand], dtype=float)
            cost = np.hypot(pos[:, None, 0] - prev[None, :, 0], pos[:, None, 1] - prev[None, :, 1])
            big = 1e9
            rows, cols = linear_sum_assignment(np.where(cost <= max_displacement_px, cost, big))
            for r, c in zip(rows, cols, strict=True):
                if cost[r, c] <= max_displacement_px:
                    assigned[r] = cand[c]
        for j, pid in enumerate(assigned):
            if pid < 0:
                pid = next_id
                next_id += 1
            ids[idx[j]] = pid
            active[pid] = (pos[j, 0], pos[j, 1], frame)
    table["particle_id"] = ids
    return table
