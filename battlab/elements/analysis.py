"""Element-map analysis: normalisation, fraction and ratio maps with Poisson uncertainty,
RGB composites, phase maps with area fractions, line profiles and registration onto
another image (SEM, X-ray slice) through :mod:`battlab.correlate.space`.

Input is the ``(element, y, x)`` DataArray of :func:`battlab.elements.read_element_maps`.
Counts are treated as Poisson: a pixel with N counts has variance N. Ratios of raw counts
are ratios of intensities; converting them into atomic ratios needs the sensitivity
(k-factor or fundamental-parameter) of each line, which the caller passes as
``sensitivity``. Nothing here makes that correction silently.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import xarray as xr

from battlab.errors import InvalidParameterError, MissingDataError

__all__ = ["select", "total_counts", "normalise", "fraction_maps", "ratio_map", "rgb_composite", "phase_map",
           "element_profiles", "register_maps", "element_summary", "parse_ratio"]


def _need(maps):
    if not isinstance(maps, xr.DataArray) or maps.dims != ("element", "y", "x"):
        raise InvalidParameterError("expected element maps: a DataArray with dims ('element', 'y', 'x') from "
                                    "battlab.elements.read_element_maps or element_maps.")
    if "pixel_size_um" not in maps.attrs:
        raise MissingDataError("the element maps have no pixel_size_um attribute.")
    return maps


def _elements(maps, elements):
    have = [str(e) for e in maps["element"].values]
    if elements is None:
        return have
    elements = [elements] if isinstance(elements, str) else list(elements)
    missing = [e for e in elements if e not in have]
    if missing:
        raise MissingDataError(f"no map for {missing}; the file holds {have}.")
    return elements


def select(maps, element: str) -> xr.DataArray:
    """One element as a 2-D map in the AFM convention (dims y, x; pixel_size_um; units)."""
    maps = _need(maps)
    el = _elements(maps, [element])[0]
    out = maps.sel(element=el, drop=True)
    out.name = el
    out.attrs = {**maps.attrs, "channel": el}
    return out


def total_counts(maps, *, elements=None) -> xr.DataArray:
    """Sum of the selected elements per pixel (2-D map, counts)."""
    maps = _need(maps)
    out = maps.sel(element=_elements(maps, elements)).sum("element", skipna=False)
    out.name = "total"
    out.attrs = {**maps.attrs, "channel": "total"}
    return out


def normalise(maps, *, method: str = "total", reference: str | None = None, elements=None,
              sensitivity: dict | None = None, min_counts: float = 0.0) -> xr.DataArray:
    """Counts → normalised maps.

    Parameters
    ----------
    method : {"total", "element"}
        "total": each element over the per-pixel sum of ``elements`` (fractions summing
        to 1, the usual way to remove thickness and detector-geometry variations);
        "element": each element over the ``reference`` element (e.g. the matrix O).
    sensitivity : dict, optional
        Element -> relative sensitivity; counts are divided by it first, turning
        intensity fractions into atomic fractions.
    min_counts : float
        Pixels whose denominator is at or below this become NaN.
    """
    maps = _need(maps)
    els = _elements(maps, elements)
    sub = maps.sel(element=els).astype(float)
    if sensitivity:
        s = xr.DataArray([float(sensitivity.get(e, 1.0)) for e in els], dims="element", coords={"element": els})
        if (s <= 0).any():
            raise InvalidParameterError("sensitivities must be positive.")
        sub = sub / s
    if method == "total":
        den = sub.sum("element")
        label = "fraction of " + "+".join(els)
    elif method == "element":
        if reference is None:
            raise InvalidParameterError("method='element' needs reference='O' (the matrix element).")
        ref = maps.sel(element=_elements(maps, [reference])[0]).astype(float)
        if sensitivity:
            ref = ref / float(sensitivity.get(reference, 1.0))
        den = ref
        label = f"ratio to {reference}"
    else:
        raise InvalidParameterError(f"method must be 'total' or 'element', got {method!r}.")
    out = (sub / den.where(den > min_counts)).transpose("element", "y", "x")
    out.attrs = {**maps.attrs, "units": "", "normalisation": label, "sensitivity": dict(sensitivity or {})}
    out.name = "normalised"
    return out


def fraction_maps(maps, *, elements=None, sensitivity: dict | None = None, min_counts: float = 0.0) -> xr.DataArray:
    """Per-pixel fraction of each element among ``elements`` (sums to 1 where defined)."""
    return normalise(maps, method="total", elements=elements, sensitivity=sensitivity, min_counts=min_counts)


def parse_ratio(text: str) -> tuple[str, str]:
    """"Ni/Mn" → ("Ni", "Mn")."""
    parts = [p.strip() for p in str(text).split("/")]
    if len(parts) != 2 or not all(parts):
        raise InvalidParameterError(f"a ratio is written numerator/denominator, e.g. Ni/Mn; got {text!r}.")
    return parts[0], parts[1]


def ratio_map(maps, numerator: str, denominator: str | None = None, *, min_counts: float = 10.0,
              sensitivity: dict | None = None) -> xr.Dataset:
    """Ratio of two element maps with its Poisson uncertainty.

    ``R = (N/s_N) / (D/s_D)``; for independent Poisson counts
    ``σ_R = R·√(1/N + 1/D)`` (first-order propagation, good when both counts are ≳ 10).

    Parameters
    ----------
    numerator, denominator : str
        Elements, or ``numerator="Ni/Mn"`` alone.
    min_counts : float
        Pixels where either count is below this are masked (NaN): their ratio is noise.
    sensitivity : dict, optional
        Element -> relative sensitivity (counts per atom fraction).

    Returns
    -------
    Dataset
        ``ratio``, ``sigma`` (absolute), ``relative_error`` and ``valid`` (bool) maps;
        attrs numerator, denominator, min_counts, fraction of valid pixels.
    """
    maps = _need(maps)
    if denominator is None:
        numerator, denominator = parse_ratio(numerator)
    num_el, den_el = _elements(maps, [numerator, denominator])
    n = maps.sel(element=num_el, drop=True).astype(float)
    d = maps.sel(element=den_el, drop=True).astype(float)
    if (n < 0).any() or (d < 0).any():
        raise InvalidParameterError("counts are negative: ratio_map needs raw counts (background-subtracted maps "
                                    "do not follow Poisson statistics; mask them first).")
    sens = sensitivity or {}
    factor = float(sens.get(den_el, 1.0)) / float(sens.get(num_el, 1.0))
    valid = (n >= min_counts) & (d >= min_counts) & (d > 0)
    with np.errstate(divide="ignore", invalid="ignore"):
        r = (n / d * factor).where(valid)
        rel = np.sqrt(1.0 / n + 1.0 / d).where(valid)
    common = {k: v for k, v in maps.attrs.items() if k not in ("units", "channel")}
    ds = xr.Dataset({"ratio": r, "sigma": r * rel, "relative_error": rel, "valid": valid})
    for key, unit in (("ratio", ""), ("sigma", ""), ("relative_error", ""), ("valid", "")):
        ds[key].attrs = {**common, "units": unit, "channel": f"{num_el}/{den_el} {key}"}
    ds.attrs.update({"numerator": num_el, "denominator": den_el, "min_counts": float(min_counts),
                     "valid_fraction": float(valid.mean()), "sensitivity_factor": factor,
                     "pixel_size_um": maps.attrs["pixel_size_um"]})
    return ds


def rgb_composite(maps, elements, *, percentiles=(1.0, 99.0), normalised: bool = False) -> xr.DataArray:
    """Three elements as red, green and blue, each stretched between its percentiles.

    Returns a DataArray with dims ``(y, x, channel)`` (channel r, g, b; values 0–1), the
    AFM map coordinates and attrs ``elements`` and the stretch limits used.
    """
    maps = _need(maps)
    els = _elements(maps, elements)
    if len(els) != 3:
        raise InvalidParameterError(f"an RGB composite takes exactly 3 elements, got {els}.")
    src = normalise(maps) if normalised else maps
    planes, limits = [], {}
    for e in els:
        v = np.asarray(src.sel(element=e).values, float)
        lo, hi = np.nanpercentile(v, percentiles)
        limits[e] = (float(lo), float(hi))
        planes.append(np.clip((v - lo) / (hi - lo), 0, 1) if hi > lo else np.zeros_like(v))
    rgb = np.nan_to_num(np.stack(planes, axis=-1))
    out = xr.DataArray(rgb, dims=("y", "x", "channel"),
                       coords={"y_um": maps["y_um"], "x_um": maps["x_um"], "channel": ["r", "g", "b"]}, name="rgb")
    out.attrs = {"pixel_size_um": maps.attrs["pixel_size_um"], "units": "", "elements": els, "limits": limits}
    return out


def phase_map(maps, *, n_phases: int = 3, elements=None, method: str = "kmeans", thresholds: dict | None = None,
              min_total_counts: float = 0.0, seed: int = 0) -> tuple[xr.DataArray, pd.DataFrame]:
    """Phases from normalised element maps, with area fractions and mean compositions.

    Parameters
    ----------
    method : {"kmeans", "threshold"}
        "kmeans": k-means (k-means++ start, fixed ``seed``) on the per-pixel fractions
        of ``elements``; phases are numbered 1… by increasing fraction of the first
        element, so labels are reproducible. "threshold": ``thresholds`` maps element ->
        minimum fraction, phases numbered in the dict's order (first match wins);
        pixels matching none are phase 0.
    min_total_counts : float
        Pixels with fewer total counts are background (label 0, e.g. pores, carbon).

    Returns
    -------
    labels : DataArray (y, x) of int, 0 = background/unassigned
    table : DataFrame
        phase, n_pixels, area_um2, area_fraction (of assigned pixels), area_fraction_all
        and the mean fraction of each element.
    """
    from scipy.cluster.vq import kmeans2

    maps = _need(maps)
    els = _elements(maps, elements)
    frac = normalise(maps, elements=els)
    f = np.moveaxis(np.asarray(frac.values, float), 0, -1)  # y, x, element
    total = np.asarray(total_counts(maps, elements=els).values, float)
    fg = np.isfinite(f).all(-1) & (total > min_total_counts)
    labels = np.zeros(total.shape, int)
    if fg.sum() < n_phases:
        raise MissingDataError("too few pixels above min_total_counts to find phases.")
    names = []
    if method == "kmeans":
        if not 1 <= int(n_phases) <= 12:
            raise InvalidParameterError(f"n_phases must be 1–12, got {n_phases!r}.")
        x = f[fg]
        centroids, lab = kmeans2(x, int(n_phases), minit="++", seed=seed)
        order = np.argsort(centroids[:, 0])
        rank = np.empty_like(order)
        rank[order] = np.arange(len(order))
        labels[fg] = rank[lab] + 1
        names = [f"phase {k}" for k in range(1, int(n_phases) + 1)]
    elif method == "threshold":
        if not thresholds:
            raise InvalidParameterError("method='threshold' needs thresholds={'Ni': 0.6, ...} (minimum fractions).")
        for k, (el, t) in enumerate(thresholds.items(), start=1):
            j = els.index(_elements(maps, [el])[0]) if el in els else None
            if j is None:
                raise MissingDataError(f"threshold element {el!r} is not among {els}.")
            hit = fg & (labels == 0) & (f[..., j] >= float(t))
            labels[hit] = k
            names.append(f"{el} ≥ {t:g}")
    else:
        raise InvalidParameterError(f"method must be 'kmeans' or 'threshold', got {method!r}.")
    px = float(maps.attrs["pixel_size_um"])
    assigned = max(int((labels > 0).sum()), 1)
    rows = []
    for k, label in enumerate(names, start=1):
        sel = labels == k
        row = {"phase": k, "label": label, "n_pixels": int(sel.sum()), "area_um2": float(sel.sum() * px * px),
               "area_fraction": float(sel.sum() / assigned), "area_fraction_all": float(sel.mean())}
        for j, el in enumerate(els):
            row[f"{el}_fraction"] = float(np.nanmean(f[..., j][sel])) if sel.any() else np.nan
        rows.append(row)
    out = xr.DataArray(labels, dims=("y", "x"), coords={"y_um": maps["y_um"], "x_um": maps["x_um"]}, name="phase")
    out.attrs = {"pixel_size_um": px, "units": "", "channel": "phase", "method": method, "elements": els}
    return out, pd.DataFrame(rows)


def element_profiles(maps, start_um, end_um, *, width_um: float = 0.0, normalised: bool = False,
                     elements=None) -> pd.DataFrame:
    """Counts (or fractions) of each element along a line, one column per element.

    Each element is sampled with :func:`battlab.afm.topography.line_profile` (bilinear,
    averaged over ``width_um``).
    """
    from battlab.afm.topography import line_profile

    maps = _need(maps)
    els = _elements(maps, elements)
    src = normalise(maps, elements=els) if normalised else maps
    out = None
    for el in els:
        m = src.sel(element=el, drop=True)
        m.attrs = {**maps.attrs, "units": src.attrs.get("units", ""), "channel": el}
        p = line_profile(m, start_um, end_um, width_um=width_um)
        if out is None:
            out = p[["distance_um", "x_um", "y_um"]].copy()
        out[el] = p["height"].to_numpy()
    out.attrs = {"start_um": tuple(start_um), "end_um": tuple(end_um), "width_um": width_um,
                 "units": "fraction" if normalised else maps.attrs.get("units", "counts")}
    return out


def register_maps(maps, reference, *, element: str | None = None, method: str = "translation",
                  reference_pixel_size_um: float | None = None, moving_points_um=None, reference_points_um=None,
                  **options):
    """Register element maps onto another image and resample them onto its grid.

    The moving image is ``element``'s map (or the total counts, which show the particle
    outlines an SEM or X-ray image shows too). :func:`battlab.correlate.space.
    register_translation` (equal pixel sizes) or :func:`~battlab.correlate.space.
    register_similarity` (rotation and scale too) or, with ``method="landmarks"``,
    :func:`~battlab.correlate.space.fit_landmarks` on corresponding points
    (``moving_points_um`` in the element maps, ``reference_points_um`` in the image, both
    ``(x_um, y_um)`` rows) finds the transform and
    :func:`~battlab.correlate.space.resample_to` brings every element onto the
    reference grid.

    Returns
    -------
    (Registration, DataArray)
        The registration (``details["shift_px"]`` for a translation) and the element
        maps on the reference grid, NaN outside the mapped field.
    """
    from battlab.correlate.space import (
        as_image,
        fit_landmarks,
        register_similarity,
        register_translation,
        resample_to,
    )

    maps = _need(maps)
    ref = as_image(reference, pixel_size_um=reference_pixel_size_um)
    moving = total_counts(maps) if element is None else select(maps, element)
    moving = as_image(moving)
    if method == "translation":
        reg = register_translation(ref, moving, **options)
    elif method == "similarity":
        reg = register_similarity(ref, moving, **options)
    elif method == "landmarks":
        if moving_points_um is None or reference_points_um is None:
            raise InvalidParameterError("method='landmarks' needs moving_points_um and reference_points_um: the same "
                                        "features as (x_um, y_um) rows in the element maps and in the image.")
        reg = fit_landmarks(moving_points_um, reference_points_um, **options)
    else:
        raise InvalidParameterError(f"method must be 'translation', 'similarity' or 'landmarks', got {method!r}.")
    planes = []
    for el in maps["element"].values:
        planes.append(resample_to(as_image(select(maps, str(el))), ref, reg.transform).values)
    out = xr.DataArray(np.stack(planes), dims=("element", "y", "x"),
                       coords={"element": maps["element"].values, "y_um": ("y", ref["y_um"].values),
                               "x_um": ("x", ref["x_um"].values)}, name=maps.name)
    out.attrs = {**maps.attrs, "pixel_size_um": ref.attrs["pixel_size_um"],
                 "registered_to": ref.attrs.get("source_name", "reference"), "transform": reg.transform.to_dict()}
    return reg, out


def element_summary(maps, *, min_total_counts: float = 0.0) -> pd.DataFrame:
    """One row per element: total, mean and max counts, and mean fraction of the total."""
    maps = _need(maps)
    total = np.asarray(total_counts(maps).values, float)
    fg = total > min_total_counts
    rows = []
    for el in maps["element"].values:
        v = np.asarray(maps.sel(element=el).values, float)
        rows.append({"element": str(el), "total_counts": float(np.nansum(v)), "mean_counts": float(np.nanmean(v)),
                     "max_counts": float(np.nanmax(v)),
                     "mean_fraction": float(np.nansum(v[fg]) / np.nansum(total[fg])) if fg.any() else np.nan})
    return pd.DataFrame(rows)
