"""Figures for scanning probes and element maps: SECM approach curves with their fits and
the theory's limits, probe maps (via :func:`battlab.plot.afm.afm_image`), ratio maps with
their uncertainty, RGB composites, phase maps and element line profiles."""

from __future__ import annotations

import holoviews as hv
import numpy as np

from battlab.plot._core import HEIGHT, WIDTH, empty

__all__ = ["approach_curves", "approach_residuals", "probe_map", "ratio_maps", "rgb_image", "phase_image",
           "element_profile",
           "registration_overlay"]

_COLORS = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#e377c2", "#17becf"]


def approach_curves(long, *, rg: float = 10.0, selected=None, width=WIDTH + 120, height=HEIGHT + 40,
                    title: str = "SECM approach curves"):
    """Ni vs L of each curve (markers) with its fit (line) and the conductor/insulator limits (dashed)."""
    from battlab.probes.secm import feedback_conductor, feedback_insulator

    if long is None or len(long) == 0:
        return empty("No approach curve.", width=width, height=height)
    Lmax = float(np.nanmax(long["L"])) if np.isfinite(long["L"]).any() else 10.0
    L = np.linspace(0.05, max(Lmax, 1.0), 300)
    layers = [hv.Curve((L, feedback_conductor(L, rg=rg)), "L = d/a", "Ni = I/I∞", label="conductor").opts(
                  color="#777777", line_dash="dashed"),
              hv.Curve((L, feedback_insulator(L, rg=rg)), "L = d/a", "Ni = I/I∞", label="insulator").opts(
                  color="#bbbbbb", line_dash="dashed")]
    names = list(dict.fromkeys(long["curve"]))
    for j, name in enumerate(names):
        if selected is not None and name != selected:
            continue
        sub = long[long["curve"] == name]
        c = _COLORS[j % len(_COLORS)]
        step = max(1, len(sub) // 120)
        layers.append(hv.Scatter((sub["L"].to_numpy()[::step], sub["Ni"].to_numpy()[::step]), "L = d/a", "Ni = I/I∞",
                                 label=str(name)).opts(color=c, size=4, alpha=0.6))
        used = sub[sub["used"]] if "used" in sub else sub
        layers.append(hv.Curve((used["L"], used["Ni_fit"]), "L = d/a", "Ni = I/I∞").opts(color=c, line_width=2))
    return hv.Overlay(layers).opts(width=width, height=height, title=title, legend_position="right",
                                   tools=["hover"], show_grid=True)


def approach_residuals(long, *, selected=None, width=WIDTH + 120, height=HEIGHT - 100,
                       title: str = "Fit residuals (Ni)"):
    """Data minus fit against L, one colour per curve (the same colours as :func:`approach_curves`)."""
    if long is None or len(long) == 0:
        return empty("No fit.", width=width, height=height)
    layers = [hv.HLine(0).opts(color="#888888", line_width=1)]
    for j, name in enumerate(dict.fromkeys(long["curve"])):
        if selected is not None and name != selected:
            continue
        sub = long[(long["curve"] == name) & (long["used"] if "used" in long else True)]
        layers.append(hv.Scatter((sub["L"], sub["residual"]), "L = d/a", "residual", label=str(name)).opts(
            color=_COLORS[j % len(_COLORS)], size=3))
    return hv.Overlay(layers).opts(width=width, height=height, title=title, show_legend=False, tools=["hover"])


def probe_map(image, *, title: str = "", cmap: str = "viridis", log: bool = False, clim=None, width=WIDTH,
              height=HEIGHT):
    """A probe map in µm with its unit on the colour bar (the AFM map figure)."""
    from battlab.plot.afm import afm_image

    if image is None:
        return empty("No map.", width=width, height=height)
    v = np.asarray(image.values, float)
    if np.isinf(v).any():  # the conductor limit of a κ map: show it at the finite maximum
        finite = v[np.isfinite(v)]
        image = image.copy(data=np.where(np.isinf(v), finite.max() if finite.size else 0.0, v))
    return afm_image(image, title=title, cmap=cmap, log=log, clim=clim, width=width, height=height)


def ratio_maps(ratio, *, title: str = "", width=WIDTH - 40, height=HEIGHT - 20):
    """Ratio map and its relative Poisson uncertainty side by side."""
    if ratio is None:
        return empty("No ratio map.", width=width, height=height)
    name = f"{ratio.attrs.get('numerator', '')}/{ratio.attrs.get('denominator', '')}"
    if not np.isfinite(np.asarray(ratio["ratio"].values, float)).any():
        return empty(f"{name}: no pixel has enough counts in both maps (lower min counts?).", width=2 * width,
                     height=height)
    r = ratio["ratio"].rename(name)
    e = (100 * ratio["relative_error"]).rename("σ/R")
    e.attrs = {**ratio["relative_error"].attrs, "units": "%"}
    r.attrs = {**ratio["ratio"].attrs, "units": "–"}
    v = np.asarray(r.values, float)
    clim = tuple(float(q) for q in np.nanpercentile(v, [1, 99])) if np.isfinite(v).any() else None
    return (probe_map(r, title=title or f"{name} ratio", cmap="coolwarm", clim=clim, width=width, height=height)
            + probe_map(e, title="relative uncertainty (%)", cmap="magma", width=width, height=height)).cols(2)


def rgb_image(rgb, *, title: str = "", width=WIDTH, height=HEIGHT):
    """An RGB composite (from :func:`battlab.elements.rgb_composite`) in µm."""
    if rgb is None:
        return empty("No composite.", width=width, height=height)
    ny, nx = rgb.sizes["y"], rgb.sizes["x"]
    px = rgb.attrs.get("pixel_size_um", 1.0)
    els = rgb.attrs.get("elements", ["r", "g", "b"])
    data = np.asarray(rgb.values, float)[::-1]
    return hv.RGB(data, bounds=(0, 0, nx * px, ny * px), kdims=["x (µm)", "y (µm)"]).opts(
        width=width, height=height, title=title or f"R = {els[0]}, G = {els[1]}, B = {els[2]}", data_aspect=1)


def phase_image(labels, table=None, *, title: str = "Phases", width=WIDTH, height=HEIGHT):
    """Phase labels (0 = background) with the area fraction of each phase in the title."""
    if labels is None:
        return empty("No phase map.", width=width, height=height)
    if table is not None and len(table):
        title = title + ": " + ", ".join(f"{int(r.phase)}: {100 * r.area_fraction:.1f} %" for r in table.itertuples())
    lab = labels.astype(float)
    lab.attrs = {**labels.attrs, "units": "label"}
    return probe_map(lab, title=title, cmap="Category10", width=width, height=height)


def element_profile(profile, *, title: str = "Line profile", width=WIDTH + 120, height=HEIGHT - 40):
    """One line per element along the profile."""
    if profile is None or len(profile) == 0:
        return empty("No profile.", width=width, height=height)
    units = profile.attrs.get("units", "counts")
    curves = [hv.Curve((profile["distance_um"], profile[c]), "Distance (µm)", f"Signal ({units})",
                       label=str(c)).opts(color=_COLORS[j % len(_COLORS)])
              for j, c in enumerate(c for c in profile.columns if c not in ("distance_um", "x_um", "y_um"))]
    return hv.Overlay(curves).opts(width=width, height=height, title=title, legend_position="right", tools=["hover"])


def registration_overlay(reference, moved, *, title: str = "Registered overlay", width=WIDTH, height=HEIGHT):
    """Reference image in grey with the registered map blended on top (battlab.correlate.space.blend)."""
    from battlab.correlate.space import blend

    if reference is None or moved is None:
        return empty("No registration.", width=width, height=height)
    b = blend(reference, moved.fillna(float(np.nanmean(moved.values))))
    b.attrs["units"] = "a.u."
    return probe_map(b.rename("blend"), title=title, cmap="gray", width=width, height=height)
