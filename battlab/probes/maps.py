"""SECM, SICM and ESM maps: what is specific to probe electrochemistry.

Maps follow the AFM convention (see :mod:`battlab.probes.io`), so levelling, roughness,
histograms, line profiles and grain segmentation are the ones of
:mod:`battlab.afm.topography`, called here, not re-implemented. Added are the SECM feedback
map (I_T / I_T,∞), its conversion into a local κ and k map at a known working distance
through the approach-curve theory of :mod:`battlab.probes.secm`, and the active-site
fraction (pixels, and connected spots, above a rate threshold).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import xarray as xr

from battlab.errors import InvalidParameterError, MissingDataError

__all__ = ["feedback_map", "rate_constant_map", "active_sites", "map_summary", "map_profile", "level_map"]


def _need_map(image):
    if not isinstance(image, xr.DataArray) or image.dims != ("y", "x") or "pixel_size_um" not in image.attrs:
        raise InvalidParameterError("expected a probe map: a DataArray with dims ('y', 'x') and pixel_size_um, from "
                                    "battlab.probes.read_probe_map or battlab.probes.probe_map.")
    return np.asarray(image.values, float)


def _like(image, values, *, name, units, **attrs):
    out = image.copy(data=np.asarray(values, float))
    out.name = name
    out.attrs = {**image.attrs, "units": units, "channel": name, **attrs}
    return out


def level_map(image, *, method: str = "plane", order: int = 2, mask_features: bool = False) -> xr.DataArray:
    """Background removal of a probe map: :func:`battlab.afm.topography.level` (tilt of the
    sample under the scan plane, slow drift of the bulk current)."""
    from battlab.afm.topography import level

    _need_map(image)
    return level(image, method=method, order=order, mask_features=mask_features)


def feedback_map(current, *, bulk_current_nA: float | None = None, percentile: float = 50.0) -> xr.DataArray:
    """Normalised feedback current ``Ni = I_T / I_T,∞`` of an SECM map.

    Parameters
    ----------
    current : DataArray
        SECM tip-current map (nA).
    bulk_current_nA : float, optional
        I_T,∞ measured far from the surface (or :func:`battlab.probes.bulk_current_nA`).
        Without it the map cannot be put on the theory's scale: a ``percentile`` of the
        map is used instead and the result is only relative (flagged in attrs).
    """
    i = _need_map(current)
    relative = bulk_current_nA is None
    if relative:
        bulk_current_nA = float(np.nanpercentile(i, percentile))
    if not np.isfinite(bulk_current_nA) or bulk_current_nA == 0:
        raise InvalidParameterError(f"bulk current must be finite and non-zero, got {bulk_current_nA!r}.")
    return _like(current, i / bulk_current_nA, name="Ni", units="", bulk_current_nA=float(bulk_current_nA),
                 normalisation="map percentile (relative only)" if relative else "measured bulk current")


def rate_constant_map(feedback, *, working_distance_um: float, radius_um: float, rg: float = 10.0,
                      diffusion_cm2_s: float | None = None) -> xr.Dataset:
    """Local κ (and k) from a feedback map recorded at a constant working distance.

    Each pixel's Ni is inverted through the Cornut–Lefrou kinetic curve at
    ``L = working_distance_um / radius_um`` (:func:`battlab.probes.kappa_from_feedback`).
    Pixels at or below the insulator value get κ = 0, at or above the conductor value
    κ = inf: the map resolves κ only between about 0.01 and 100, the range where the
    feedback current depends on it at that L.

    Returns
    -------
    Dataset
        ``kappa`` and, when D is given, ``k_cm_s`` (both in the map convention), plus
        attrs L, rg, radius_um and the Ni of the insulator and conductor limits.
    """
    from battlab.probes.secm import feedback_conductor, feedback_insulator, kappa_from_feedback, rate_constant_cm_s

    ni = _need_map(feedback)
    if feedback.attrs.get("units", "") not in ("", "1"):
        raise InvalidParameterError("rate_constant_map needs the normalised feedback map (feedback_map), not a "
                                    f"current in {feedback.attrs.get('units')}.")
    if working_distance_um <= 0 or radius_um <= 0:
        raise InvalidParameterError("working_distance_um and radius_um must be positive.")
    L = working_distance_um / radius_um
    kappa = kappa_from_feedback(ni, L=L, rg=rg)
    ds = xr.Dataset({"kappa": _like(feedback, kappa, name="kappa", units="")})
    if diffusion_cm2_s is not None:
        k = rate_constant_cm_s(kappa, radius_um=radius_um, diffusion_cm2_s=diffusion_cm2_s)
        ds["k_cm_s"] = _like(feedback, k, name="k", units="cm/s")
    ds.attrs.update({"L": float(L), "rg": float(rg), "radius_um": float(radius_um),
                     "working_distance_um": float(working_distance_um),
                     "Ni_insulator": float(feedback_insulator(L, rg=rg)),
                     "Ni_conductor": float(feedback_conductor(L, rg=rg)),
                     "diffusion_cm2_s": diffusion_cm2_s})
    return ds


def active_sites(image, *, threshold: float, min_area_px: int = 4) -> dict:
    """Pixels and connected spots above ``threshold`` (e.g. k in cm/s, or Ni).

    The spots are :func:`battlab.afm.topography.segment_grains` of the map (infinite
    values, the conductor limit, count as above any threshold).

    Returns
    -------
    dict
        ``active_fraction`` (of finite-or-infinite pixels), ``active_area_um2``,
        ``n_sites``, ``threshold``, and ``sites`` (DataFrame, one row per spot: area,
        equivalent diameter, centroid, mean value).
    """
    from battlab.afm.topography import segment_grains

    v = _need_map(image)
    valid = ~np.isnan(v)
    if not valid.any():
        raise MissingDataError("the map has no valid pixel.")
    active = valid & (v > threshold)
    finite_max = np.nanmax(np.where(np.isfinite(v), v, np.nan)) if np.isfinite(v).any() else threshold
    # segment_grains wants finite numbers: the conductor limit (inf) sits just above the finite maximum
    capped = np.where(np.isposinf(v), max(finite_max, threshold) * 2 + 1, np.where(np.isneginf(v), np.nan, v))
    grains = segment_grains(_like(image, capped, name=image.name or "value", units=image.attrs.get("units", "")),
                            threshold=threshold, min_area_px=min_area_px)
    dx = float(image.attrs["pixel_size_um"])
    dy = float(image.attrs.get("pixel_size_y_um", dx))
    sites = grains.rename(columns={"grain": "site", "mean_height": "mean_value", "max_height": "max_value"})
    return {"active_fraction": float(active.sum() / valid.sum()), "active_area_um2": float(active.sum() * dx * dy),
            "n_sites": int(len(sites)), "threshold": float(threshold), "sites": sites}


def map_summary(image) -> dict:
    """Mean, spread and range of a map: :func:`battlab.afm.topography.roughness` (Sa, Sq,
    Sz …, in the map's unit) plus mean, median and percentiles."""
    from battlab.afm.topography import roughness

    v = _need_map(image)
    f = v[np.isfinite(v)]
    if f.size < 4:
        raise MissingDataError("fewer than 4 finite pixels.")
    stats = roughness(_like(image, np.where(np.isfinite(v), v, np.nan), name=image.name or "value",
                            units=image.attrs.get("units", "")), mask=np.isfinite(v))
    return {"channel": image.attrs.get("channel", image.name or ""), "units": image.attrs.get("units", ""),
            "mean": float(f.mean()), "median": float(np.median(f)), "p05": float(np.percentile(f, 5)),
            "p95": float(np.percentile(f, 95)), "min": float(f.min()), "max": float(f.max()),
            **{k: stats[k] for k in ("Sa", "Sq", "Sz") if k in stats}}


def map_profile(image, start_um, end_um, *, width_um: float = 0.0) -> pd.DataFrame:
    """Values along a line between two (x, y) points in µm, averaged over ``width_um``
    (:func:`battlab.afm.topography.line_profile`; the value column is named ``value``)."""
    from battlab.afm.topography import line_profile

    _need_map(image)
    prof = line_profile(image, start_um, end_um, width_um=width_um)
    out = prof.rename(columns={"height": "value"})
    out.attrs = dict(prof.attrs)
    return out
