"""Figures for X-ray microscopy: slices with segmentation, profiles, sizes, tortuosity,
XANES maps and fits, sinograms and reconstructions (HoloViews, Bokeh backend)."""

from __future__ import annotations

import holoviews as hv
import numpy as np
import pandas as pd

from battlab.plot._core import HEIGHT, WIDTH, empty

__all__ = ["PHASE_COLORS", "slice_image", "slice_profile", "size_distribution", "tortuosity_bars", "map_image",
           "pixel_fit", "soc_histogram", "sinogram_image", "particle_changes"]

#: Overlay colours by phase number (pore, binder, active, extra).
PHASE_COLORS = ["#1f77b4", "#2ca02c", "#d62728", "#ff7f0e", "#9467bd"]


def _bounds(ny, nx, dy, dx):
    return (0, 0, nx * dx, ny * dy)


def slice_image(grey, labels=None, *, pixel_size_um=(1.0, 1.0), axes=("x", "y"), alpha: float = 0.35,
                title: str = "", clim=None, width=WIDTH, height=HEIGHT, cmap: str = "gray",
                value_label: str | None = None):
    """A greyscale slice in µm with the phase labels overlaid in colour.

    ``grey`` and ``labels`` are 2-D arrays (rows = the vertical axis); ``pixel_size_um``
    is (row, column) spacing; ``axes`` names (horizontal, vertical). ``cmap`` and
    ``value_label`` (quantity and unit, shown on hover) come from an imaging preset.
    """
    g = np.asarray(grey, float)
    dy, dx = (float(v) for v in np.broadcast_to(pixel_size_um, (2,)))
    ny, nx = g.shape
    kd = [f"{axes[0]} (µm)", f"{axes[1]} (µm)"]
    lo, hi = clim if clim is not None else (float(np.nanpercentile(g, 1)), float(np.nanpercentile(g, 99)))
    img = hv.Image(g[::-1], bounds=_bounds(ny, nx, dy, dx), kdims=kd, vdims=[value_label or "grey"]).opts(
        cmap=cmap, clim=(lo, hi if hi > lo else lo + 1), width=width, height=height, aspect="equal",
        responsive=False, colorbar=False, tools=["hover"], title=title)
    if labels is None:
        return img
    lab = np.asarray(labels, float)
    n = int(np.nanmax(lab)) + 1 if lab.size else 1
    overlay = hv.Image(lab[::-1], bounds=_bounds(ny, nx, dy, dx), kdims=kd, vdims=["phase"]).opts(
        cmap=PHASE_COLORS[:max(n, 2)], clim=(-0.5, max(n, 2) - 0.5), alpha=alpha, colorbar=True,
        width=width, height=height, aspect="equal", responsive=False)
    return (img * overlay).opts(title=title)


def slice_profile(profile: pd.DataFrame, *, axis: str = "z", truth=None, title: str = "Phase fraction per slice"):
    """Phase fractions slice by slice (``fraction_<name>`` columns) against position."""
    cols = [c for c in profile.columns if c.startswith("fraction_")]
    if not cols or profile.empty:
        return empty("no profile")
    x = profile["position_um"] if profile["position_um"].notna().all() else profile["index"]
    xlabel = f"{axis} (µm)" if profile["position_um"].notna().all() else f"{axis} (slice)"
    curves = [hv.Curve((x, profile[c]), xlabel, "volume fraction", label=c.removeprefix("fraction_")).opts(
        color=PHASE_COLORS[k % len(PHASE_COLORS)], line_width=2) for k, c in enumerate(cols)]
    if truth is not None:
        curves.append(hv.Scatter((x, truth), xlabel, "volume fraction", label="truth (pore)").opts(
            color="black", size=3))
    return hv.Overlay(curves).opts(width=WIDTH, height=HEIGHT, title=title, legend_position="right",
                                   ylim=(0, None))


def size_distribution(psd: pd.DataFrame, *, title: str = "Pore size distribution (local thickness)"):
    """Volume-weighted size histogram with the cumulative curve."""
    if psd is None or psd.empty:
        return empty("no size distribution")
    centres = psd["diameter_um"].to_numpy(float)
    width = float(np.diff(centres).mean()) if centres.size > 1 else 1.0
    edges = np.r_[centres - width / 2, centres[-1] + width / 2]
    bars = hv.Histogram((edges, psd["volume_fraction"].to_numpy()), kdims=["diameter (µm)"],
                        vdims=["volume fraction"]).opts(color="#1f77b4", alpha=0.7)
    cum = hv.Curve((psd["diameter_um"], psd["cumulative"]), "diameter (µm)", "volume fraction",
                   label="cumulative").opts(color="black")
    return (bars * cum).opts(width=WIDTH, height=HEIGHT, title=title)


def tortuosity_bars(table: pd.DataFrame, *, title: str = "Tortuosity factor per axis"):
    """τ per axis; axes without a percolating path are labelled instead of drawn."""
    if table is None or table.empty:
        return empty("tortuosity not computed")
    finite = table[np.isfinite(table["tortuosity_factor"])]
    bars = hv.Bars([(a, t) for a, t in zip(finite["axis"], finite["tortuosity_factor"], strict=True)],
                   kdims=["axis"], vdims=["tortuosity factor τ"]).opts(color="#9467bd", width=WIDTH,
                                                                       height=HEIGHT, title=title,
                                                                       tools=["hover"], ylim=(0, None))
    blocked = [a for a, p in zip(table["axis"], table["percolates"], strict=True) if not p]
    if blocked:
        bars = bars.opts(title=f"{title} (no path along {', '.join(blocked)})")
    return bars * hv.HLine(1.0).opts(color="grey", line_dash="dashed")


def map_image(m, *, title: str = "", cmap: str = "viridis", clim=None, width=WIDTH, height=HEIGHT):
    """A (y, x) map in µm with a colour bar labelled with its units."""
    arr = np.asarray(m.values, float)
    ny, nx = arr.shape
    px = float(m.attrs.get("pixel_size_um", 1.0) or 1.0)
    label = f"{m.name} ({m.attrs.get('units', '')})"
    if clim is None:
        finite = arr[np.isfinite(arr)]
        clim = (float(finite.min()), float(finite.max())) if finite.size else (0.0, 1.0)
        if clim[1] <= clim[0]:
            clim = (clim[0], clim[0] + 1e-9)
    return hv.Image(arr[::-1], bounds=(0, 0, nx * px, ny * px), kdims=["x (µm)", "y (µm)"], vdims=[label]).opts(
        cmap=cmap, clim=clim, colorbar=True, width=width, height=height, aspect="equal", responsive=False,
        tools=["hover"], title=title, clipping_colors={"NaN": "#eeeeee"})


def pixel_fit(energy, spectrum, model=None, references=None, *, title: str = "Pixel spectrum and LCF"):
    """A pixel's normalised spectrum, the fitted model, the references and the residual."""
    e = np.asarray(energy, float)
    y = np.asarray(spectrum, float)
    if not np.isfinite(y).any():
        return empty("this pixel is outside the sample")
    parts = [hv.Scatter((e, y), "energy (eV)", "normalised μ", label="pixel").opts(color="black", size=4)]
    for k, (name, ref) in enumerate((references or {}).items()):
        parts.append(hv.Curve((ref["energy_eV"].to_numpy(), ref.to_numpy()), "energy (eV)", "normalised μ",
                              label=name).opts(color=PHASE_COLORS[(k + 1) % 5], line_dash="dotted"))
    if model is not None and np.isfinite(model).any():
        parts.append(hv.Curve((e, model), "energy (eV)", "normalised μ", label="LCF").opts(color="#d62728",
                                                                                          line_width=2))
        parts.append(hv.Curve((e, y - model), "energy (eV)", "normalised μ", label="residual").opts(
            color="#7f7f7f"))
    return hv.Overlay(parts).opts(width=WIDTH, height=HEIGHT, title=title, legend_position="right")


def soc_histogram(hist: pd.DataFrame, particles: pd.DataFrame | None = None, *, title: str = "SOC histogram"):
    """Pixel SOC histogram with each particle's mean as a vertical line."""
    if hist is None or hist.empty:
        return empty("no SOC map")
    width = float(np.diff(hist["soc"]).mean()) if len(hist) > 1 else 0.05
    edges = np.r_[hist["soc"].to_numpy() - width / 2, hist["soc"].to_numpy()[-1] + width / 2]
    out = hv.Histogram((edges, hist["fraction"].to_numpy()), kdims=["SOC (charged fraction)"],
                       vdims=["pixel fraction"]).opts(color="#2ca02c", alpha=0.7)
    if particles is not None and len(particles):
        for _, row in particles.iterrows():
            out = out * hv.VLine(row["mean_soc"]).opts(color="black", line_width=1)
    return out.opts(width=WIDTH, height=HEIGHT, title=title)


def sinogram_image(sino, *, title: str = "Sinogram"):
    """(angle, x) sinogram with angle in degrees on the vertical axis."""
    arr = np.asarray(sino.values, float)
    angles = sino["angle_deg"].to_numpy()
    n = arr.shape[1]
    return hv.Image(arr[::-1], bounds=(0, float(angles.min()), n, float(angles.max())),
                    kdims=["detector x (px)", "angle (°)"], vdims=["absorbance"]).opts(
        cmap="gray", width=WIDTH, height=HEIGHT, colorbar=True, title=title, responsive=False)


def particle_changes(changes: pd.DataFrame, *, current=None, title: str = "Operando: particles over time"):
    """Volume change (%) and crack volume per particle over the time points."""
    if changes is None or changes.empty:
        return empty("no operando series")
    curves = []
    for k, (pid, g) in enumerate(changes.groupby("particle")):
        col = PHASE_COLORS[k % len(PHASE_COLORS)]
        curves.append(hv.Curve((g["time"], g["volume_change_pct"]), "time point", "change",
                               label=f"particle {pid}: volume change (%)").opts(color=col, line_width=2))
        if "crack_volume_um3" in g:
            curves.append(hv.Curve((g["time"], g["crack_volume_um3"]), "time point", "change",
                                   label=f"particle {pid}: crack volume (µm³)").opts(color=col, line_dash="dashed"))
    if current is not None:
        curves.append(hv.VLine(float(current)).opts(color="grey"))
    return hv.Overlay(curves).opts(width=WIDTH + 120, height=HEIGHT, title=title, legend_position="right")
