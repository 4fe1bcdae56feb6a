"""Figures for depth profiles: NDP spectra and Li vs depth, SIMS profiles and ion maps, XPS atomic %."""

from __future__ import annotations

import holoviews as hv
import numpy as np

from battlab.plot._core import HEIGHT, WIDTH, empty

__all__ = ["ndp_spectrum", "ndp_profile", "ndp_heatmap", "ndp_counts", "ndp_series_view", "sims_profile", "ion_map",
           "xps_atomic"]

_COLORS = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#e377c2", "#17becf", "#bcbd22"]


def ndp_spectrum(spectrum, *, window=None, lines=None, width=WIDTH, height=HEIGHT):
    """Counts against energy with the analysed window shaded and the surface energies marked."""
    if spectrum is None:
        return empty("No NDP spectrum.", width=width, height=height)
    e = spectrum["energy_keV"].to_numpy()
    layers = [hv.Curve((e, spectrum.to_numpy()), "Energy (keV)", "Counts", label="spectrum")
              .opts(color="#444444", line_width=1)]
    if window is not None:
        layers.append(hv.VSpan(*window).opts(color="#ffbb78", alpha=0.25))
    for name, value in (lines or {}).items():
        layers.append(hv.VLine(value, label=f"{name} {value:g} keV").opts(color="#d62728", line_dash="dashed"))
    return hv.Overlay(layers).opts(width=width, height=height, title="NDP energy spectrum", tools=["hover"],
                                   legend_position="top_left")


def ndp_profile(profile, *, truth=None, interfaces=None, layers=None, width=WIDTH, height=HEIGHT):
    """Li concentration (or relative) against depth as steps, with interfaces and layers."""
    if profile is None or profile.empty:
        return empty("No depth profile.", width=width, height=height)
    q = "li_atoms_cm3" if "li_atoms_cm3" in profile else "relative_concentration"
    label = "Li (atoms/cm³)" if q == "li_atoms_cm3" else "relative Li concentration"
    out = [hv.Curve((profile["depth_um"], profile[q]), "Depth (µm)", label, label="NDP")
           .opts(interpolation="steps-mid", color="#1f77b4", line_width=2)]
    if truth is not None and q in truth:
        out.append(hv.Curve((truth["depth_um"], truth[q]), "Depth (µm)", label, label="ground truth")
                   .opts(color="#7f7f7f", line_dash="dashed"))
    for k, (name, (top, bottom)) in enumerate((layers or {}).items()):
        out.append(hv.VSpan(top, bottom).opts(color=_COLORS[(k + 4) % len(_COLORS)], alpha=0.08))
    for x in (interfaces if interfaces is not None else []):
        out.append(hv.VLine(float(x)).opts(color="#d62728", line_dash="dotted"))
    return hv.Overlay(out).opts(width=width, height=height, title="Li depth profile", tools=["hover"],
                                legend_position="top_right")


def ndp_heatmap(profiles, *, width=WIDTH, height=HEIGHT):
    """A (time × depth) series as a heat map (time in h)."""
    if profiles is None or profiles.sizes.get("time", 0) < 2:
        return empty("One spectrum: no time series.", width=width, height=height)
    t_h = profiles["time_s"].to_numpy() / 3600.0
    img = hv.QuadMesh((profiles["depth_um"].to_numpy(), t_h, profiles.to_numpy()), ["Depth (µm)", "Time (h)"],
                      profiles.attrs.get("units", ""))
    signed = "change" in str(profiles.attrs.get("long_name", ""))
    return img.opts(cmap="RdBu_r" if signed else "viridis", colorbar=True, width=width, height=height, tools=["hover"],
                    symmetric=signed,
                    title=f"{profiles.attrs.get('long_name', 'NDP')} ({profiles.attrs.get('units', '')})")


def ndp_counts(table, *, alarm_pct=None, width=WIDTH, height=HEIGHT):
    """Integrated counts in the analysed window against time (a rise precedes a short circuit)."""
    if table is None or len(table) < 2:
        return empty("One spectrum: no time series.", width=width, height=height)
    t_h = table["time_s"].to_numpy() / 3600.0
    layers = [hv.Curve((t_h, table["window_counts"]), "Time (h)", "Integrated counts").opts(color="#d62728",
                                                                                            line_width=2),
              hv.Scatter((t_h, table["window_counts"]), "Time (h)", "Integrated counts").opts(color="#d62728", size=5)]
    if alarm_pct:
        layers.append(hv.HLine(float(table["window_counts"].iloc[0]) * (1 + alarm_pct / 100))
                      .opts(color="#ff7f0e", line_dash="dashed"))
    return hv.Overlay(layers).opts(width=width, height=height, title="Integrated NDP counts", tools=["hover"])


def ndp_series_view(profiles, table, *, alarm_pct=None):
    """Depth × time heat map beside the integrated counts, or a note for one spectrum."""
    if profiles is None or profiles.sizes.get("time", 0) < 2:
        return empty("One spectrum: no time series.")
    return (ndp_heatmap(profiles) + ndp_counts(table, alarm_pct=alarm_pct)).opts(shared_axes=False)


def sims_profile(profile, fragments, *, axis="depth_nm", interfaces=None, log_y=True, width=WIDTH + 140,
                 height=HEIGHT):
    """Fragment counts (or ratios) against depth or sputter time."""
    if profile is None or not fragments:
        return empty("Pick at least one fragment.", width=width, height=height)
    xl = "Depth (nm)" if axis == "depth_nm" else "Sputter time (s)"
    layers = []
    for k, f in enumerate(fragments):
        y = np.asarray(profile[f], float)
        if log_y:
            y = np.where(y > 0, y, np.nan)
        layers.append(hv.Curve((profile[axis], y), xl, "Intensity", label=str(f))
                      .opts(color=_COLORS[k % len(_COLORS)], line_width=2))
    for x in (interfaces if interfaces is not None else []):
        layers.append(hv.VLine(float(x)).opts(color="#555555", line_dash="dotted"))
    return hv.Overlay(layers).opts(width=width, height=height, logy=log_y, tools=["hover"],
                                   legend_position="right", title="ToF-SIMS depth profile")


def ion_map(image, *, title="ion map", cmap="inferno", width=WIDTH - 60, height=HEIGHT):
    """A 2-D map over (y_um, x_um)."""
    if image is None:
        return empty("No map.", width=width, height=height)
    x = image["x_um"].to_numpy()
    y = image["y_um"].to_numpy()
    img = hv.Image((x, y, np.asarray(image.values, float)), ["x (µm)", "y (µm)"], image.attrs.get("long_name", "value"))
    return img.opts(cmap=cmap, colorbar=True, width=width, height=height, title=title, tools=["hover"],
                    invert_yaxis=True)


def xps_atomic(atomic, *, axis="depth_nm", width=WIDTH + 60, height=HEIGHT):
    """Atomic % of each element against sputter depth (or time)."""
    if atomic is None or atomic.empty:
        return empty("No XPS depth series.", width=width, height=height)
    if axis not in atomic:
        axis = "sputter_time_s"
    xl = "Depth (nm)" if axis == "depth_nm" else "Sputter time (s)"
    cols = [c for c in atomic if c.endswith("_at_pct")]
    layers = [hv.Curve((atomic[axis], atomic[c]), xl, "Atomic %", label=c.replace("_at_pct", ""))
              .opts(color=_COLORS[k % len(_COLORS)], line_width=2) for k, c in enumerate(cols)]
    layers += [hv.Scatter((atomic[axis], atomic[c]), xl, "Atomic %").opts(color=_COLORS[k % len(_COLORS)], size=6)
               for k, c in enumerate(cols)]
    return hv.Overlay(layers).opts(width=width, height=height, tools=["hover"], legend_position="right",
                                   title="XPS depth profile")
