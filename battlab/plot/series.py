"""Figures for any (time, axis) series: intensity map beside the voltage on one clock.

Diffraction patterns and spectra share these; the axis label comes from the axis
coordinate's ``long_name`` and ``units``.
"""

from __future__ import annotations

import holoviews as hv
import numpy as np
import pandas as pd

from battlab.plot._core import HEIGHT, WIDTH, empty

__all__ = ["axis_label", "columns_vs_time", "elapsed_hours", "pca_plot", "series_map", "series_map_with_voltage",
           "tracked_quantity", "waterfall"]


def axis_label(data, axis: str) -> str:
    """``"Raman shift (cm⁻¹)"`` from the coordinate's attributes."""
    attrs = data[axis].attrs
    name = attrs.get("long_name", axis)
    units = attrs.get("units")
    return f"{name} ({'°' if units == 'degree' else units})" if units else name


def elapsed_hours(series):
    """Hours since the first curve (index when the series has no clock)."""
    if "elapsed_s" in series.coords:
        return series["elapsed_s"].to_numpy() / 3600.0
    return np.arange(series.sizes["time"], dtype=float)


def series_map(series, *, log: bool = False, width=WIDTH + 220, height=HEIGHT, current: int | None = None,
               cmap: str = "viridis", title: str = "Operando map"):
    """Intensity map: the series axis on x, elapsed time (h) on y; a marker at curve ``current``."""
    if series is None or "time" not in series.dims or series.sizes["time"] < 2:
        return empty("A series of at least two curves is needed for the map.", width=width, height=height)
    from battlab.series import curve_axis

    axis = curve_axis(series)
    z = np.asarray(series.transpose("time", axis).to_numpy(), float)
    if log:
        z = np.log10(np.clip(z - np.nanmin(z) + 1, 1, None))
    x = series[axis].to_numpy()
    y = elapsed_hours(series)
    img = hv.QuadMesh((x, y, z), kdims=[axis_label(series, axis), "Time (h)"],
                      vdims=["log10 I" if log else "Intensity"]).opts(
        cmap=cmap, colorbar=True, width=width, height=height, title=title, tools=["hover"])
    if current is not None:
        img = img * hv.HLine(float(y[min(current, y.size - 1)])).opts(color="white", line_dash="dashed",
                                                                        line_width=1.5)
    return img


def series_map_with_voltage(series, echem, *, current=None, log=False, width=WIDTH + 220,
                            title: str = "Operando map"):
    """The map and, beside it, the voltage curve on the same time axis (time vertical)."""
    c = series_map(series, log=log, current=current, width=width - 160, title=title)
    if echem is None or series is None or "time" not in series.dims or series.sizes["time"] < 2:
        return c
    start = pd.Timestamp(series["time"].to_numpy()[0]).tz_localize("UTC")
    hours = (echem["unix_time_s"].to_numpy() - start.timestamp()) / 3600.0
    v = hv.Curve((echem["voltage_V"].to_numpy(), hours), "Voltage (V)", "Time (h)").opts(
        color="black", width=220, height=HEIGHT, title="Voltage", tools=["hover"], xticks=3)
    if current is not None:
        v = v * hv.HLine(float(elapsed_hours(series)[min(current, series.sizes["time"] - 1)])).opts(
            color="#d62728", line_dash="dashed")
    return (c + v).opts(shared_axes=True)


def tracked_quantity(table: pd.DataFrame, quantity: str, *, group: str, label: str | None = None,
                     width=WIDTH + 220, height=260):
    """A tracked quantity against time (h), one coloured curve per ``group`` value (peak, band)."""
    from battlab.plot._core import cycle_colors

    if table is None or table.empty or quantity not in table or group not in table:
        return empty("Nothing tracked yet.", width=width, height=height)
    label = label or quantity
    names = list(dict.fromkeys(table[group]))
    colors = cycle_colors(names, cmap="Category10") if len(names) <= 10 else cycle_colors(names)
    layers = []
    for name in names:
        sub = table[table[group] == name]
        h = sub["elapsed_s"] / 3600.0
        layers.append(hv.Curve((h, sub[quantity]), "Time (h)", label, label=str(name))
                      .opts(color=colors[name], line_width=1.5)
                      * hv.Scatter((h, sub[quantity]), "Time (h)", label).opts(color=colors[name], size=3))
    return hv.Overlay(layers).opts(width=width, height=height, title=label, legend_position="right",
                                   tools=["hover"])


def columns_vs_time(table: pd.DataFrame, columns: dict, *, ylabel: str, title: str = "", width=WIDTH + 220,
                    height=260):
    """Several columns of a per-curve table (``elapsed_s`` + ``columns`` {column: legend}) against time (h)."""
    from battlab.plot._core import cycle_colors

    present = {c: name for c, name in columns.items() if table is not None and c in table}
    if not present or table.empty:
        return empty("Nothing to plot.", width=width, height=height)
    colors = cycle_colors(list(present), cmap="Category10")
    h = table["elapsed_s"] / 3600.0 if "elapsed_s" in table else np.arange(len(table), dtype=float)
    layers = [hv.Curve((h, table[c]), "Time (h)", ylabel, label=name).opts(color=colors[c], line_width=1.5)
              for c, name in present.items()]
    return hv.Overlay(layers).opts(width=width, height=height, title=title or ylabel, legend_position="right",
                                   tools=["hover"])


def waterfall(series, *, offset: float | None = None, every: int = 1, width=WIDTH + 220, height=HEIGHT,
              cmap: str = "viridis", what: str = "curves"):
    """Curves stacked upwards in time order, each shifted by ``offset``, coloured by time (h).

    Parameters
    ----------
    series : DataArray (time, axis)
    offset : float, optional
        Vertical shift between successive drawn curves (intensity units); default a
        tenth of the intensity range.
    every : int
        Draw every n-th curve (long series stay readable).
    what : str
        What the curves are, for the title ("patterns", "spectra").
    """
    if series is None or "time" not in series.dims or series.sizes["time"] < 1:
        return empty("No series for the waterfall.", width=width, height=height)
    from battlab.series import curve_axis

    axis = curve_axis(series)
    xl = axis_label(series, axis)
    every = max(1, int(every))
    z = np.asarray(series.transpose("time", axis).to_numpy(), float)
    if offset is None:
        span = float(np.nanmax(z) - np.nanmin(z)) if np.isfinite(z).any() else 1.0
        offset = 0.1 * span if span > 0 else 1.0
    x = series[axis].to_numpy()
    hours = elapsed_hours(series)
    paths = [{xl: x, "Intensity + offset": z[i] + k * offset, "Time (h)": float(hours[i])}
             for k, i in enumerate(range(0, z.shape[0], every))]
    return hv.Path(paths, kdims=[xl, "Intensity + offset"], vdims=["Time (h)"]).opts(
        color="Time (h)", cmap=cmap, colorbar=True, line_width=1, width=width, height=height,
        title=f"Waterfall ({f'every {every}th of the {what}' if every > 1 else f'all {what}'}, offset {offset:.3g})",
        tools=["hover"])


def pca_plot(result, *, n_components: int | None = None, axis_title: str | None = None, width=WIDTH + 220,
             height=240):
    """Scores against time (h) and loadings against the curve axis of a :class:`battlab.series.PCAResult`.

    Parameters
    ----------
    result : PCAResult
    n_components : int, optional
        Components drawn; default the significant ones (at least one, at most five).
    axis_title : str, optional
        Label of the loadings' x axis (default the axis name).
    """
    from battlab.plot._core import cycle_colors

    if result is None:
        return empty("No PCA (needs at least three curves).", width=width, height=height)
    avail = [c for c in result.scores.columns if c.startswith("pc")]
    n = n_components or min(max(1, result.n_significant), 5)
    names = avail[:n]
    colors = cycle_colors(names, cmap="Category10")
    has_time = "elapsed_s" in result.scores
    t = result.scores["elapsed_s"] / 3600.0 if has_time else pd.Series(np.arange(len(result.scores)), dtype=float)
    xlabel = "Time (h)" if has_time else "Curve"
    ratio = result.explained_variance_ratio
    scores = hv.Overlay([hv.Curve((t, result.scores[c]), xlabel, "Score",
                                  label=f"{c} ({100 * ratio[k]:.1f} %)").opts(color=colors[c], line_width=1.5)
                         for k, c in enumerate(names)]).opts(
        width=width, height=height, legend_position="right", tools=["hover"],
        title=f"PCA scores ({result.n_significant} significant component{'s' if result.n_significant != 1 else ''})")
    axis = result.components.columns[0]
    loads = hv.Overlay([hv.Curve((result.components[axis], result.components[c]), axis_title or axis, "Loading",
                                 label=c).opts(color=colors[c], line_width=1) for c in names]).opts(
        width=width, height=height, legend_position="right", title="PCA loadings", tools=["hover"])
    return (scores + loads).cols(1)
