"""Figures for the correlation of techniques: linked timeline panels, agreement, maps, statistics."""

from __future__ import annotations

import holoviews as hv
import numpy as np
import pandas as pd

from battlab.plot._core import HEIGHT, WIDTH, empty

__all__ = ["timeline_panels", "lithiation_agreement", "map_image", "overlay", "particle_scatter",
           "scatter_matrix", "population_histogram", "TECHNIQUE_COLORS"]

TECHNIQUE_COLORS = {"electrochemistry": "#444444", "optical": "#ff7f0e", "xrd": "#1f77b4", "eis": "#2ca02c",
                    "afm": "#9467bd", "xray": "#8c564b"}
_LABELS = {"voltage_V": "Potential (V)", "current_A": "Current (A)", "thickness_um": "Thickness (µm)",
           "lithiation_index": "Lithiation index", "x_xrd": "x in LixC6 (XRD)", "R1_ohm": "R_ct (Ω)",
           "x_echem": "x from charge", "charge_mAh": "Net charge (mAh)", "expansion_pct": "Expansion (%)"}


def _label(column):
    return _LABELS.get(column, column)


def timeline_panels(aligned: dict, columns: dict, *, cursor_s: float | None = None, width=2 * WIDTH,
                    panel_height=150):
    """Stacked panels on one time axis (linked zoom and pan), one per dataset and column.

    Parameters
    ----------
    aligned : dict of str to DataFrame
        Tables on the cycling timeline (``test_time_s``), e.g. from
        :func:`battlab.correlate.workflow.on_timeline`.
    columns : dict of str to str
        Dataset → column to show (the cycling panel first if present).
    cursor_s : float, optional
        Cycler time of the shared cursor, drawn in every panel.
    """
    panels = []
    t_dim = hv.Dimension("time_h", label="Time on the cycler clock (h)")
    for name, column in columns.items():
        table = aligned.get(name)
        if table is None or column not in table or table.empty:
            continue
        df = table[["test_time_s", column]].dropna()
        color = TECHNIQUE_COLORS.get("electrochemistry" if name == "cycling" else name, "#555555")
        y_dim = hv.Dimension(f"{name}_{column}", label=f"{_label(column)}")
        element = (hv.Curve if name == "cycling" else hv.Scatter)((df["test_time_s"] / 3600.0, df[column]),
                                                                 t_dim, y_dim)
        opts = {"width": width, "height": panel_height, "color": color, "tools": ["hover"],
                "title": f"{name}: {_label(column)}", "fontsize": {"title": 10}}
        element = element.opts(size=4, **opts) if name != "cycling" else element.opts(**opts)
        if cursor_s is not None and np.isfinite(cursor_s):
            element = element * hv.VLine(cursor_s / 3600.0).opts(color="black", line_dash="dashed", line_width=1)
        panels.append(element)
    if not panels:
        return empty("Nothing on the timeline yet.", width=width, height=panel_height)
    return hv.Layout(panels).cols(1).opts(shared_axes=True)


def lithiation_agreement(estimates: pd.DataFrame, *, width=WIDTH, height=HEIGHT):
    """Each technique's state of lithiation against the charge passed (1:1 line = agreement)."""
    if estimates is None or estimates.empty:
        return empty("No technique reports a state of lithiation.", width=width, height=height)
    x_dim = hv.Dimension("x_echem", label="x from the charge passed", range=(0, 1))
    y_dim = hv.Dimension("x", label="x by the technique", range=(0, 1))
    layers = [hv.Curve(([0, 1], [0, 1]), x_dim, y_dim, label="agreement").opts(color="grey", line_dash="dotted")]
    for technique, part in estimates.groupby("technique", sort=False):
        if technique == "electrochemistry":
            continue
        layers.append(hv.Scatter(part[["x_echem", "x"]].dropna(), x_dim, y_dim, label=technique).opts(
            color=TECHNIQUE_COLORS.get(technique, "#555555"), size=5))
    return hv.Overlay(layers).opts(width=width, height=height, legend_position="bottom_right",
                                   title="Reality check: state of lithiation")


def map_image(image, *, title=None, cmap="viridis", width=WIDTH, height=HEIGHT, clim=None):
    """A calibrated map (dims y, x; coords y_um, x_um) in micrometres."""
    if image is None:
        return empty("No map.", width=width, height=height)
    x = image["x_um"].to_numpy()
    y = image["y_um"].to_numpy()
    values = np.asarray(image.to_numpy(), dtype=float)
    units = image.attrs.get("units", "")
    name = str(image.name or "value")
    vdim = hv.Dimension(name, label=f"{name} ({units})") if units else hv.Dimension(name)
    img = hv.Image((x, y, values), [hv.Dimension("x_um", label="x (µm)"), hv.Dimension("y_um", label="y (µm)")],
                   vdim)
    opts = {"cmap": cmap, "colorbar": True, "width": width, "height": height, "invert_yaxis": True,
            "title": title or str(image.attrs.get("source_name", "")), "tools": ["hover"], "data_aspect": 1}
    if clim is not None:
        opts["clim"] = clim
    return img.opts(**opts)


def overlay(composite, *, title="Overlay", width=WIDTH, height=HEIGHT):
    """An RGB or scalar composite (blend or checkerboard) of two registered maps."""
    if composite is None:
        return empty("Register the maps to see them overlaid.", width=width, height=height)
    x = composite["x_um"].to_numpy()
    y = composite["y_um"].to_numpy()
    values = np.asarray(composite.to_numpy(), dtype=float)
    kdims = [hv.Dimension("x_um", label="x (µm)"), hv.Dimension("y_um", label="y (µm)")]
    if values.ndim == 3:
        element = hv.RGB((x, y, *np.moveaxis(np.clip(np.nan_to_num(values), 0, 1), -1, 0)), kdims)
    else:
        element = hv.Image((x, y, values), kdims).opts(cmap="gray")
    return element.opts(width=width, height=height, invert_yaxis=True, title=title, data_aspect=1)


def particle_scatter(particles: pd.DataFrame, x: str, y: str, *, correlation: pd.DataFrame | None = None,
                     width=WIDTH, height=HEIGHT):
    """One point per particle of two registered maps, with the fitted line and r in the title."""
    if particles is None or particles.empty or x not in particles or y not in particles:
        return empty("No particles joined yet.", width=width, height=height)
    pts = hv.Scatter(particles, hv.Dimension(x, label=_label(x)), [hv.Dimension(y, label=_label(y)), "label"]).opts(
        size=7, color=TECHNIQUE_COLORS["afm"], tools=["hover"])
    title = f"{len(particles)} particles"
    if correlation is not None and not correlation.empty:
        row = correlation.iloc[0]
        title += f": r = {row['r']:.2f} [{row['ci_low']:.2f}, {row['ci_high']:.2f}] ({row['method']})"
    ok = particles[[x, y]].dropna()
    layers = [pts]
    if len(ok) >= 2 and ok[x].std() > 0:
        slope, intercept = np.polyfit(ok[x], ok[y], 1)
        xs = np.array([ok[x].min(), ok[x].max()])
        layers.append(hv.Curve((xs, slope * xs + intercept), x, y).opts(color="black", line_dash="dashed"))
    return hv.Overlay(layers).opts(width=width, height=height, title=title)


def scatter_matrix(table: pd.DataFrame, columns, *, flagged=None, size_px=160):
    """Pairwise scatter plots of features with linked brushing (outliers in red).

    Every panel draws from one shared data source, so points selected with the box or
    lasso tool in one panel are highlighted in all of them; this runs in the browser
    (BokehJS), with no round trip to Python. Returns a Bokeh grid (a HoloViews message
    when there is nothing to show).
    """
    from bokeh.layouts import gridplot
    from bokeh.models import ColumnDataSource
    from bokeh.plotting import figure

    columns = [c for c in columns if c in table]
    if len(columns) < 2:
        return empty("Choose at least two features.", width=2 * WIDTH, height=HEIGHT)
    flags = np.zeros(len(table), dtype=bool) if flagged is None else np.asarray(flagged, dtype=bool)
    data = {f"c{i}": table[c].to_numpy(dtype=float) for i, c in enumerate(columns)}
    data["color"] = np.where(flags, "#d62728", "#1f77b4")
    data["time_h"] = (table["test_time_s"].to_numpy(dtype=float) / 3600.0 if "test_time_s" in table
                      else np.arange(len(table), dtype=float))
    source = ColumnDataSource(data)
    rows = []
    for j, yc in enumerate(columns):
        row = []
        for i, xc in enumerate(columns):
            fig = figure(width=size_px, height=size_px, tools="box_select,lasso_select,reset",
                         toolbar_location=None if (i, j) != (len(columns) - 1, 0) else "right")
            fig.min_border = 4
            if i == j:
                vals = data[f"c{i}"][np.isfinite(data[f"c{i}"])]
                freq, edges = np.histogram(vals, bins=20) if len(vals) else (np.zeros(1), np.array([0.0, 1.0]))
                fig.quad(top=freq, bottom=0, left=edges[:-1], right=edges[1:], fill_color="#cccccc",
                         line_color="#777777")
                fig.title.text = _label(xc)
                fig.title.text_font_size = "8pt"
            else:
                fig.scatter(f"c{i}", f"c{j}", source=source, size=4, color="color", selection_color="#ff7f0e",
                            nonselection_alpha=0.15)
            fig.xaxis.visible = j == len(columns) - 1
            fig.yaxis.visible = i == 0
            if j == len(columns) - 1:
                fig.xaxis.axis_label = _label(xc)
            if i == 0:
                fig.yaxis.axis_label = _label(yc)
            row.append(fig)
        rows.append(row)
    return gridplot(rows, merge_tools=True, toolbar_location="right")


def population_histogram(summary: pd.DataFrame, column: str, *, highlight: str | None = None, width=WIDTH,
                         height=HEIGHT):
    """The population's distribution of one per-cell figure, with one cell marked."""
    if summary is None or summary.empty or column not in summary:
        return empty("No population loaded.", width=width, height=height)
    vals = summary[column].dropna().to_numpy(dtype=float)
    if len(vals) == 0:
        return empty(f"No cell has a {column}.", width=width, height=height)
    freq, edges = np.histogram(vals, bins=min(15, max(5, len(vals) // 2)))
    hist = hv.Histogram((edges, freq), kdims=[hv.Dimension(column, label=_label(column))], vdims=["cells"]).opts(
        color="#cccccc", line_color="#777777")
    layers = [hist]
    title = f"{column} across {len(vals)} cells"
    if highlight is not None and "cell" in summary and (summary["cell"] == highlight).any():
        value = float(summary.loc[summary["cell"] == highlight, column].iloc[0])
        if np.isfinite(value):
            layers.append(hv.VLine(value).opts(color="#d62728", line_width=2))
            title += f"; {highlight} = {value:.4g}"
    return hv.Overlay(layers).opts(width=width, height=height, title=title)
