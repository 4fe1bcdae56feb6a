"""One call per task for the CLI and the app: fit approach curves, analyse a probe map."""

from __future__ import annotations

import numpy as np
import pandas as pd

from battlab._cancel import checkpoint
from battlab.errors import InvalidParameterError

__all__ = ["analyse_approach", "analyse_probe_map", "map_table"]


def analyse_approach(curves: dict, *, radius_um: float, rg: float = 10.0, model: str = "auto",
                     diffusion_cm2_s: float | None = None, bulk_current_nA: float | None = None,
                     min_L: float = 0.05) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Fit every curve; returns (one row per curve, long table of data and fitted curves)."""
    from battlab.probes.secm import fit_approach_curve

    if not curves:
        raise InvalidParameterError("no approach curves to fit.")
    rows, long = [], []
    for name, curve in curves.items():
        checkpoint()  # an app stops here when its user has already moved on
        fit = fit_approach_curve(curve, radius_um=radius_um, rg=rg, model=model, diffusion_cm2_s=diffusion_cm2_s,
                                 bulk_current_nA=bulk_current_nA, min_L=min_L)
        table = fit.pop("fit")
        table.insert(0, "curve", name)
        long.append(table)
        rows.append({"curve": name, **fit})
    return pd.DataFrame(rows), pd.concat(long, ignore_index=True)


def map_table(**maps) -> pd.DataFrame:
    """Long table x_um, y_um, one column per map (all on one grid)."""
    first = next(iter(maps.values()))
    yy, xx = np.meshgrid(first["y_um"].values, first["x_um"].values, indexing="ij")
    out = pd.DataFrame({"x_um": xx.ravel(), "y_um": yy.ravel()})
    for name, m in maps.items():
        out[name] = np.asarray(m.values, float).ravel()
    return out


def analyse_probe_map(image, *, levelling: str = "none", bulk_current_nA: float | None = None,
                      working_distance_um: float | None = None, radius_um: float | None = None, rg: float = 10.0,
                      diffusion_cm2_s: float | None = None, threshold: float | None = None) -> dict:
    """Level a probe map, summarise it and, for SECM with a working distance, map κ and k.

    Returns a dict with ``levelled``, ``tables`` (summary, active_sites, map) and, for the
    SECM rate analysis, ``feedback`` and ``rates`` (Dataset with kappa and k_cm_s).
    ``threshold`` is in cm/s when k is mapped, in Ni for a feedback map without D, and in
    the map's unit otherwise (default: no active-site analysis).
    """
    from battlab.probes.maps import active_sites, feedback_map, level_map, map_summary, rate_constant_map

    levelled = level_map(image, method=levelling) if levelling != "none" else image
    out = {"levelled": levelled, "feedback": None, "rates": None}
    summary = [map_summary(levelled)]
    target = levelled
    columns = {"value": levelled}
    is_secm = image.attrs.get("probe_kind", "secm") == "secm" and image.attrs.get("units") == "nA"
    if is_secm and (bulk_current_nA is not None or working_distance_um is not None):
        fb = feedback_map(image, bulk_current_nA=bulk_current_nA)
        out["feedback"] = fb
        summary.append(map_summary(fb))
        columns["Ni"] = fb
        target = fb
        if working_distance_um is not None:
            if radius_um is None:
                raise InvalidParameterError("a κ map needs the tip radius (radius_um) besides the working distance.")
            rates = rate_constant_map(fb, working_distance_um=working_distance_um, radius_um=radius_um, rg=rg,
                                      diffusion_cm2_s=diffusion_cm2_s)
            out["rates"] = rates
            columns["kappa"] = rates["kappa"]
            target = rates["kappa"]
            if "k_cm_s" in rates:
                columns["k_cm_s"] = rates["k_cm_s"]
                target = rates["k_cm_s"]
            finite = np.where(np.isfinite(target.values), target.values, np.nan)
            if np.isfinite(finite).any():
                k_summary = map_summary(target.copy(data=finite))
                k_summary["channel"] = target.attrs.get("channel", "k")
                summary.append(k_summary)
    tables = {"summary": pd.DataFrame(summary), "map": map_table(**columns)}
    if threshold is not None:
        sites = active_sites(target, threshold=threshold)
        table = sites.pop("sites")
        tables["active_sites"] = table
        tables["active_summary"] = pd.DataFrame([{**sites, "quantity": target.attrs.get("channel", ""),
                                                  "units": target.attrs.get("units", "")}])
    out["tables"] = tables
    out["target"] = target
    return out
