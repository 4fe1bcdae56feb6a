"""One call for the CLI and the app: summary, ratio maps and phases of element maps."""

from __future__ import annotations

import numpy as np
import pandas as pd

__all__ = ["analyse_elements"]


def analyse_elements(maps, *, ratios=(), min_counts: float = 10.0, n_phases: int = 0, phase_elements=None,
                     min_total_counts: float = 0.0, sensitivity: dict | None = None) -> dict:
    """Element summary, one ratio map (+ σ) per ``ratios`` entry ("Ni/Mn"), and optional k-means phases.

    Returns a dict: ``tables`` (element_summary, ratio_summary, ratio_maps, phases),
    ``ratios`` (name -> Dataset) and ``phases`` (label map or None).
    """
    from battlab.elements.analysis import element_summary, parse_ratio, phase_map, ratio_map
    from battlab.probes.workflow import map_table

    tables = {"element_summary": element_summary(maps, min_total_counts=min_total_counts)}
    results, rows, columns = {}, [], {}
    for text in ratios:
        num, den = parse_ratio(text)
        r = ratio_map(maps, num, den, min_counts=min_counts, sensitivity=sensitivity)
        results[f"{num}/{den}"] = r
        v = r["ratio"].values
        rel = r["relative_error"].values
        rows.append({"ratio": f"{num}/{den}", "median": float(np.nanmedian(v)) if np.isfinite(v).any() else np.nan,
                     "p05": float(np.nanpercentile(v, 5)) if np.isfinite(v).any() else np.nan,
                     "p95": float(np.nanpercentile(v, 95)) if np.isfinite(v).any() else np.nan,
                     "median_relative_error": float(np.nanmedian(rel)) if np.isfinite(rel).any() else np.nan,
                     "valid_fraction": r.attrs["valid_fraction"], "min_counts": min_counts})
        columns[f"{num}_{den}"] = r["ratio"]
        columns[f"{num}_{den}_sigma"] = r["sigma"]
    if rows:
        tables["ratio_summary"] = pd.DataFrame(rows)
        tables["ratio_maps"] = map_table(**columns)
    labels = None
    if n_phases:
        labels, phases = phase_map(maps, n_phases=n_phases, elements=phase_elements,
                                   min_total_counts=min_total_counts)
        tables["phases"] = phases
    return {"tables": tables, "ratios": results, "phases": labels}
