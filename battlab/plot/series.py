"""Figures for any (time, axis) series: intensity map beside the voltage on one clock.

Diffraction patterns and spectra share these; the axis label comes from the axis
coordinate's ``long_name`` and ``units``.
"""

from __future__ import annotations

import holoviews as hv
import numpy as np
import pandas as pd

from battlab.plot._core import HEIGHT, WIDTH, empty

__all__ = ["X_AXES", "axis_label", "columns_vs_time", "elapsed_hours", "pca_plot", "series_map",
           "series_map_with_voltage", "tracked_quantity", "waterfall", "waterfall_with_voltage"]

#: Shared x (or map y) axes of tracked quantities: column -> label. ``time`` is ``elapsed_s`` in hours.
X_AXES = {"time": "Time (h)", "capacity_mAh": "Capacity (mAh)", "soc": "SOC"}


def _x_values(table, x: str):
    """Values and label of the chosen axis for a per-curve table (None when the table lacks it)."""
    if x not in X_AXES:
        from battlab.errors import InvalidParameterError

        raise InvalidParameterError(f"x must be one of {', '.join(X_AXES)}.")
    if x == "time":
        if "elapsed_s" in table:
            return np.asarray(table["elapsed_s"], float) / 3600.0, X_AXES[x]
        return np.arange(len(table), dtype=float), "Curve"
    if x not in table:
        return None, X_AXES[x]
    return np.asarray(table[x], float), X_AXES[x]


def _no_echem(width, height, x):
    return empty(f"{X_AXES[x]} needs the cycling file of the cell (load or upload it).", width=width, height=height)


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


def _monotonic_runs(y):
    """Index runs over which ``y`` only rises or only falls (turning points shared; repeats and NaN left out)."""
    idx = np.flatnonzero(np.isfinite(y))
    if len(idx) < 2:
        return []
    tiny = 1e-9 * max(float(np.ptp(y[idx])), 1e-300)
    runs, cur, sign = [], [int(idx[0])], 0
    for k in idx[1:]:
        d = y[k] - y[cur[-1]]
        if abs(d) <= tiny:  # a rest: the same capacity again
            continue
        if sign == 0 or np.sign(d) == sign:
            cur.append(int(k))
        else:
            runs.append(cur)
            cur = [cur[-1], int(k)]
        sign = np.sign(d)
    runs.append(cur)
    return [np.array(r) for r in runs if len(r) >= 2]


def _timeline(series, echem, clock_offset_s, time_basis):
    """Per-curve and continuous electrochemistry on the series clock (warnings left to the analysis)."""
    import warnings

    from battlab.errors import BattlabWarning
    from battlab.series import curve_echem, echem_over_series

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", BattlabWarning)
        per_curve = curve_echem(series, echem, clock_offset_s=clock_offset_s, time_basis=time_basis)
        dense = echem_over_series(series, echem, clock_offset_s=clock_offset_s, time_basis=time_basis)
    return per_curve, dense


def _voltage_panel(v, y, ylabel, mark=None):
    curve = hv.Curve((v, y), "Voltage (V)", ylabel).opts(color="black", width=220, height=HEIGHT, title="Voltage",
                                                         tools=["hover"], xticks=3)
    if mark is not None:
        curve = curve * hv.HLine(float(mark)).opts(color="#d62728", line_dash="dashed")
    return curve


def series_map_with_voltage(series, echem, *, x: str = "time", clock_offset_s: float = 0.0,
                            time_basis: str = "auto", current=None, log=False, width=WIDTH + 220,
                            title: str = "Operando map"):
    """The map and, beside it, the voltage curve on the same time, capacity or SOC axis (vertical).

    Parameters
    ----------
    series : DataArray (time, axis)
    echem : DataFrame or None
        Cycling table of the cell; put on the series clock by
        :func:`battlab.series.curve_echem` (``clock_offset_s``, ``time_basis`` as there).
    x : {"time", "capacity_mAh", "soc"}
        The shared axis (vertical in the map). Capacity and SOC go down on discharge and
        up on charge, so the map is split into one panel per monotonic run (half cycle),
        each beside its stretch of the voltage curve.
    current : int, optional
        Curve marked with a dashed line.
    """
    if x not in X_AXES:
        from battlab.errors import InvalidParameterError

        raise InvalidParameterError(f"x must be one of {', '.join(X_AXES)}.")
    if series is None or "time" not in series.dims or series.sizes["time"] < 2:
        return series_map(series, log=log, current=current, width=width - 160, title=title)
    if echem is None:
        if x != "time":
            return _no_echem(width, HEIGHT, x)
        return series_map(series, log=log, current=current, width=width - 160, title=title)
    per_curve, dense = _timeline(series, echem, clock_offset_s, time_basis)
    if x == "time":
        c = series_map(series, log=log, current=current, width=width - 160, title=title)
        mark = elapsed_hours(series)[min(current, series.sizes["time"] - 1)] if current is not None else None
        v = _voltage_panel(dense["voltage_V"].to_numpy(), dense["elapsed_s"].to_numpy() / 3600.0, X_AXES[x], mark)
        return (c + v).opts(shared_axes=True)
    from battlab.series import curve_axis

    axis = curve_axis(series)
    y = per_curve[x].to_numpy(dtype=float)
    runs = _monotonic_runs(y)
    if not runs:
        return empty(f"The curves do not span a range of {X_AXES[x].lower()}; use the time axis.",
                     width=width, height=HEIGHT)
    z = np.asarray(series.transpose("time", axis).to_numpy(), float)
    if log:
        z = np.log10(np.clip(z - np.nanmin(z) + 1, 1, None))
    xs = series[axis].to_numpy()
    elapsed = per_curve["elapsed_s"].to_numpy()
    dense_t = dense["elapsed_s"].to_numpy()
    direction = per_curve["direction"].to_numpy(dtype=float)
    panels = []
    for run in runs:
        sense = np.nanmedian(direction[run]) if np.isfinite(direction[run]).any() else 0.0
        step = "charge" if sense > 0 else "discharge" if sense < 0 else "rest"
        order = np.argsort(y[run])
        rows = run[order]
        img = hv.QuadMesh((xs, y[rows], z[rows]), kdims=[axis_label(series, axis), X_AXES[x]],
                          vdims=["log10 I" if log else "Intensity"]).opts(
            cmap="viridis", colorbar=True, width=width - 160, height=HEIGHT, tools=["hover"],
            title=f"{title}: curves {run[0]}–{run[-1]} ({step})")
        mark = None
        if current is not None and run[0] <= current <= run[-1] and np.isfinite(y[current]):
            mark = y[current]
            img = img * hv.HLine(float(mark)).opts(color="white", line_dash="dashed", line_width=1.5)
        seg = (dense_t >= elapsed[run[0]]) & (dense_t <= elapsed[run[-1]])
        panels += [img, _voltage_panel(dense["voltage_V"].to_numpy()[seg], dense[x].to_numpy()[seg], X_AXES[x],
                                       mark)]
    return hv.Layout(panels).cols(2).opts(shared_axes=True)


def waterfall_with_voltage(series, echem, *, x: str = "time", clock_offset_s: float = 0.0,
                           time_basis: str = "auto", every: int = 1, width=WIDTH + 220,
                           title: str = "Waterfall"):
    """Curves drawn at their time, capacity or SOC (vertical), beside the voltage on that axis.

    Each drawn curve's baseline sits at its own value of the axis and its height is
    scaled to about three curve spacings, so the stack reads against the voltage
    curve. Capacity and SOC are split into monotonic runs as in
    :func:`series_map_with_voltage`. Without a cycling table this is :func:`waterfall`.
    """
    if x not in X_AXES:
        from battlab.errors import InvalidParameterError

        raise InvalidParameterError(f"x must be one of {', '.join(X_AXES)}.")
    if echem is None or series is None or "time" not in series.dims or series.sizes["time"] < 2:
        if x != "time" and series is not None and echem is None:
            return _no_echem(width, HEIGHT, x)
        return waterfall(series, every=every, width=width)
    from battlab.series import curve_axis

    per_curve, dense = _timeline(series, echem, clock_offset_s, time_basis)
    axis = curve_axis(series)
    xl, yl = axis_label(series, axis), X_AXES[x]
    xs = series[axis].to_numpy()
    z = np.asarray(series.transpose("time", axis).to_numpy(), float)
    y = elapsed_hours(series) if x == "time" else per_curve[x].to_numpy(dtype=float)
    runs = [np.flatnonzero(np.isfinite(y))] if x == "time" else _monotonic_runs(y)
    runs = [r for r in runs if len(r) >= 2]
    if not runs:
        return empty(f"The curves do not span a range of {yl.lower()}; use the time axis.", width=width, height=HEIGHT)
    elapsed = per_curve["elapsed_s"].to_numpy()
    dense_t = dense["elapsed_s"].to_numpy()
    dense_y = dense_t / 3600.0 if x == "time" else dense[x].to_numpy()
    every = max(1, int(every))
    panels = []
    for run in runs:
        drawn = run[::every]
        spacing = float(np.median(np.abs(np.diff(y[drawn])))) if len(drawn) > 1 else 1.0
        rel = z[drawn] - np.nanmin(z[drawn], axis=1, keepdims=True)
        amp = float(np.nanpercentile(rel, 99.5)) if np.isfinite(rel).any() else 1.0
        scale = 3.0 * spacing / amp if amp > 0 else 0.0
        paths = [{xl: xs, yl: y[i] + scale * rel[k]} for k, i in enumerate(drawn)]
        sense = np.sign(y[run[-1]] - y[run[0]])
        note = "" if x == "time" else f", {yl.split(' ')[0].lower()} {'rising' if sense > 0 else 'falling'}"
        curves = hv.Path(paths, kdims=[xl, yl]).opts(
            color="#1f3b73", line_width=0.8, width=width - 160, height=HEIGHT, tools=["hover"],
            title=f"{title}: curves {run[0]}–{run[-1]}{note}" + (f", 1 in {every} drawn" if every > 1 else ""))
        seg = (dense_t >= elapsed[run[0]]) & (dense_t <= elapsed[run[-1]])
        panels += [curves, _voltage_panel(dense["voltage_V"].to_numpy()[seg], dense_y[seg], yl)]
    return hv.Layout(panels).cols(2).opts(shared_axes=True)


def tracked_quantity(table: pd.DataFrame, quantity: str, *, group: str, label: str | None = None, x: str = "time",
                     width=WIDTH + 220, height=260):
    """A tracked quantity against time (h), capacity or SOC, one coloured curve per ``group`` value.

    ``x`` is a key of :data:`X_AXES`; capacity and SOC need the electrochemistry columns
    (``track_peaks(..., echem=...)``). Points are joined in time order, so charge and
    discharge draw a hysteresis loop rather than a zigzag.
    """
    from battlab.plot._core import cycle_colors

    if table is None or table.empty or quantity not in table or group not in table:
        return empty("Nothing tracked yet.", width=width, height=height)
    if _x_values(table, x)[0] is None:
        return _no_echem(width, height, x)
    label = label or quantity
    names = list(dict.fromkeys(table[group]))
    colors = cycle_colors(names, cmap="Category10") if len(names) <= 10 else cycle_colors(names)
    layers = []
    for name in names:
        sub = table[table[group] == name]
        h, xl = _x_values(sub, x)
        layers.append(hv.Curve((h, sub[quantity]), xl, label, label=str(name))
                      .opts(color=colors[name], line_width=1.5)
                      * hv.Scatter((h, sub[quantity]), xl, label).opts(color=colors[name], size=3))
    return hv.Overlay(layers).opts(width=width, height=height, title=label, legend_position="right",
                                   tools=["hover"])


def columns_vs_time(table: pd.DataFrame, columns: dict, *, ylabel: str, title: str = "", x: str = "time",
                    width=WIDTH + 220, height=260):
    """Several columns of a per-curve table (``columns`` {column: legend}) against time (h), capacity or SOC."""
    from battlab.plot._core import cycle_colors

    present = {c: name for c, name in columns.items() if table is not None and c in table}
    if not present or table.empty:
        return empty("Nothing to plot.", width=width, height=height)
    h, xl = _x_values(table, x)
    if h is None:
        return _no_echem(width, height, x)
    colors = cycle_colors(list(present), cmap="Category10")
    layers = [hv.Curve((h, table[c]), xl, ylabel, label=name).opts(color=colors[c], line_width=1.5)
              for c, name in present.items()]
    return hv.Overlay(layers).opts(width=width, height=height, title=title or ylabel, legend_position="right",
                                   tools=["hover"])


def waterfall(series, *, offset: float | None = None, every: int = 1, width=WIDTH + 220, height=HEIGHT,
              cmap: str = "viridis", what: str = "curves", x: str = "time", per_curve: pd.DataFrame | None = None):
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
    x : {"time", "capacity_mAh", "soc"}
        What the colour shows; capacity and SOC need ``per_curve`` (one row per curve
        with that column, e.g. :func:`battlab.series.curve_echem`).
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
    xv = series[axis].to_numpy()
    if x == "time":
        colour, cl = elapsed_hours(series), X_AXES["time"]
    else:
        colour, cl = _x_values(per_curve, x) if per_curve is not None else (None, X_AXES.get(x, x))
        if colour is None or len(colour) != z.shape[0]:
            return _no_echem(width, height, x)
    paths = [{xl: xv, "Intensity + offset": z[i] + k * offset, cl: float(colour[i])}
             for k, i in enumerate(range(0, z.shape[0], every))]
    return hv.Path(paths, kdims=[xl, "Intensity + offset"], vdims=[cl]).opts(
        color=cl, cmap=cmap, colorbar=True, line_width=1, width=width, height=height,
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
