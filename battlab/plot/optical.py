"""Figures for side-view operando optical microscopy (HoloViews, Bokeh backend)."""

from __future__ import annotations

import holoviews as hv
import numpy as np
import pandas as pd

from battlab.plot._core import HEIGHT, WIDTH, empty

__all__ = ["STAGE_COLORS", "class_map_rgb", "depth_of_charge_comparison", "frame_image", "height_map", "kymograph",
           "dendrite_count", "plating_series", "stage_fractions", "thickness", "voltage_with_cursor"]

EVENT_COLOR = "#ff1744"

#: Plot colours of the graphite stages (match what the eye sees in the cell).
STAGE_COLORS = {"pristine": "#707070", "dilute": "#26306e", "LiC12": "#b02a26", "LiC6": "#deb23a",
                "unclassified": "#bbbbbb"}


def _display(frame, max_px: int):
    """Subsample a frame so that its longer side is at most ``max_px`` (keeps the page light)."""
    arr = np.asarray(frame)
    step = max(1, int(np.ceil(max(arr.shape[:2]) / max_px)))
    arr = arr[::step, ::step]
    if arr.dtype != np.uint8:
        full = np.iinfo(arr.dtype).max if arr.dtype.kind in "ui" else max(float(np.nanmax(arr)), 1e-12)
        # NaN: pixels with no data after drift correction, shown black
        arr = np.nan_to_num(np.clip(arr.astype(float) / full * 255, 0, 255), nan=0.0).astype(np.uint8)
    if arr.ndim == 2 or arr.shape[-1] == 1:
        arr = np.repeat(arr.reshape(arr.shape[0], arr.shape[1], 1), 3, axis=-1)
    return arr, step


def class_map_rgb(classes, calibration) -> np.ndarray:
    """(y, x, 3) uint8 image of a class-index map (-1 = unclassified) in the stage colours."""
    from battlab.optical.colour import GRAPHITE_RGB

    names = list(calibration["stage"])
    palette = np.zeros((len(names) + 1, 3), dtype=np.uint8)
    palette[0] = (255, 0, 255)  # unclassified: magenta, so it stands out
    for k, name in enumerate(names):
        hexcol = STAGE_COLORS.get(name)
        palette[k + 1] = tuple(int(hexcol[i:i + 2], 16) for i in (1, 3, 5)) if hexcol else \
            GRAPHITE_RGB.get(name, (0, 200, 200))
    return palette[np.asarray(classes) + 1]


def frame_image(frame, *, pixel_size_um: float, row=None, separator: str = "left", max_px: int = 360,
                title: str = "", width=WIDTH, height=HEIGHT, roi=None, events=None, current_frame=None,
                interface_px=None):
    """One frame as an RGB image in µm with the electrode edges and front as lines.

    ``row`` is a row of :func:`battlab.optical.analyze_movie`'s frames table (edges in px
    along the depth axis); ``roi`` (y0, y1, x0, x1) is drawn as a box. ``events``
    (:func:`battlab.optical.find_events`) are marked where they happened: filled once
    they have happened by ``current_frame``, hollow before. ``interface_px``: the
    interface position (px along depth) on every lateral line, drawn as a curve.
    """
    arr, _ = _display(frame, max_px)
    ny, nx = np.asarray(frame).shape[:2]
    # image y grows downwards: put row 0 at the top
    img = hv.RGB(arr[::-1], bounds=(0, 0, nx * pixel_size_um, ny * pixel_size_um),
                 kdims=["x (µm)", "y (µm)"]).opts(width=width, height=height, title=title, aspect="equal",
                                                  responsive=False)
    over = [img]
    vertical = separator in ("left", "right")
    sign = -1 if separator in ("right", "bottom") else 1
    if row is not None:
        for key, color in (("separator_edge_px", "#00e5ff"), ("collector_edge_px", "#ff00ff")):
            v = row.get(key, np.nan)
            if np.isfinite(v):
                pos = v * pixel_size_um
                over.append((hv.VLine(pos) if vertical else hv.HLine(ny * pixel_size_um - pos))
                            .opts(color=color, line_width=2))
        f, s = row.get("front_depth_px", np.nan), row.get("separator_edge_px", np.nan)
        if np.isfinite(f) and np.isfinite(s) and f > 0:
            pos = (s + sign * f) * pixel_size_um
            over.append((hv.VLine(pos) if vertical else hv.HLine(ny * pixel_size_um - pos))
                        .opts(color="white", line_width=2, line_dash="dashed"))
    if interface_px is not None:
        pos = np.asarray(interface_px, float)
        lateral = np.arange(len(pos)) + 0.5
        pts = (pos * pixel_size_um, ny * pixel_size_um - lateral * pixel_size_um) if vertical else \
            (lateral * pixel_size_um, ny * pixel_size_um - pos * pixel_size_um)
        over.append(hv.Curve(pts, "x (µm)", "y (µm)").opts(color="#00e5ff", line_width=2))
    if roi is not None:
        y0, y1, x0, x1 = roi
        over.append(hv.Bounds((x0 * pixel_size_um, (ny - y1) * pixel_size_um, x1 * pixel_size_um,
                               (ny - y0) * pixel_size_um)).opts(color="yellow", line_width=1))
    if events is not None and len(events) and events["x_px"].notna().any():
        ev = events.dropna(subset=["x_px", "y_px"])
        happened = ev["frame"].to_numpy(float) <= (np.inf if current_frame is None else current_frame)
        x = (ev["x_px"].to_numpy(float) + 0.5) * pixel_size_um
        y = (ny - ev["y_px"].to_numpy(float) - 0.5) * pixel_size_um
        data = pd.DataFrame({"x (µm)": x, "y (µm)": y, "event": ev["event"].to_numpy(), "kind": ev["kind"].to_numpy(),
                             "t (min)": ev["time_s"].to_numpy(float) / 60.0})
        for mask, fill in ((happened, EVENT_COLOR), (~happened, None)):
            if mask.any():
                over.append(hv.Points(data[mask], ["x (µm)", "y (µm)"], ["event", "kind", "t (min)"]).opts(
                    marker="circle", size=14, line_color=EVENT_COLOR, line_width=2, fill_color=fill,
                    fill_alpha=0.35 if fill else 0.0, tools=["hover"]))
    return hv.Overlay(over).opts(title=title)


def kymograph(kymo, *, frames: pd.DataFrame | None = None, current_time_s=None, max_px: int = 400,
              width=WIDTH, height=HEIGHT):
    """Time × depth image of the row-averaged colour, with the measured front (optional)."""
    data = np.asarray(kymo.values)
    arr, _ = _display(data, max_px)
    t = kymo["time_s"].to_numpy() / 3600.0
    d = kymo["depth_um"].to_numpy()
    t_lo, t_hi = (float(t[0]), float(t[-1]) if len(t) > 1 and t[-1] > t[0] else float(t[0]) + 1.0)
    img = hv.RGB(arr[::-1], bounds=(0.0, t_lo, float(d[-1]) if len(d) > 1 else 1.0, t_hi),
                 kdims=["depth from ROI edge (µm)", "time (h)"]).opts(width=width, height=height,
                                                                      title="Kymograph")
    over = [img]
    if frames is not None and {"front_depth_um", "separator_edge_px"} <= set(frames.columns):
        px = float(kymo.attrs.get("pixel_size_um", 1.0))
        roi0 = frames.attrs.get("battlab", {}).get("roi")
        sep = frames["separator_edge_px"].to_numpy(float)
        if kymo.attrs.get("separator") in ("left", "top") or kymo.attrs.get("separator") is None:
            start = (roi0[2] if kymo.attrs.get("separator") != "top" else roi0[0]) if roi0 else 0
            sep_depth = (sep - start) * px
        else:
            stop = (roi0[3] if kymo.attrs.get("separator") == "right" else roi0[1]) if roi0 else len(d)
            sep_depth = (stop - 1 - sep) * px
        x = sep_depth + frames["front_depth_um"].to_numpy(float)
        ok = np.isfinite(x) & (frames["front_depth_um"].to_numpy(float) > 0)
        over.append(hv.Curve((x[ok], frames["time_s"].to_numpy()[ok] / 3600.0), "x", "t")
                    .opts(color="white", line_dash="dashed", line_width=2))
    if current_time_s is not None:
        over.append(hv.HLine(current_time_s / 3600.0).opts(color="#00e5ff", line_width=1))
    return hv.Overlay(over).opts(title="Kymograph (row-averaged colour)")


def _x(frames, x):
    if x == "capacity" and "capacity_mAh" in frames and frames["capacity_mAh"].notna().any():
        return frames["capacity_mAh"].to_numpy(float), "capacity (mAh)"
    return frames["time_s"].to_numpy(float) / 3600.0, "time (h)"


def thickness(frames: pd.DataFrame, *, x: str = "time", current_frame=None, width=WIDTH, height=HEIGHT):
    """Thickness (µm) and expansion (%) vs time or capacity."""
    if frames is None or frames.empty or frames["thickness_um"].isna().all():
        return empty("no electrode edges found: check the ROI and separator side", width=width, height=height)
    xs, label = _x(frames, x)
    curve = hv.Curve((xs, frames["expansion_pct"].to_numpy(float)), label, "expansion (%)").opts(
        color="#1f77b4", line_width=2, width=width, height=height, title="Expansion ε = h/h₀ − 1",
        tools=["hover"])
    over = [curve, hv.Scatter((xs, frames["expansion_pct"].to_numpy(float)), label, "expansion (%)")
            .opts(size=3, color="#1f77b4")]
    if current_frame is not None and 0 <= current_frame < len(xs):
        over.append(hv.VLine(xs[current_frame]).opts(color="#d62728", line_width=1))
    return hv.Overlay(over).opts(title="Expansion ε = h/h₀ − 1")


def stage_fractions(frames: pd.DataFrame, *, x: str = "time", current_frame=None, width=WIDTH, height=HEIGHT):
    """Area fraction of each colour class vs time or capacity."""
    cols = [c for c in frames.columns if c.startswith("fraction_")] if frames is not None else []
    if not cols:
        return empty("no stage fractions", width=width, height=height)
    xs, label = _x(frames, x)
    curves = []
    for c in cols:
        name = c[len("fraction_"):]
        curves.append(hv.Curve((xs, 100 * frames[c].to_numpy(float)), label, "area fraction (%)", label=name)
                      .opts(color=STAGE_COLORS.get(name, "#17becf"), line_width=2))
    if current_frame is not None and 0 <= current_frame < len(xs):
        curves.append(hv.VLine(xs[current_frame]).opts(color="#d62728", line_width=1))
    return hv.Overlay(curves).opts(width=width, height=height, title="Stage fractions", legend_position="right")


def voltage_with_cursor(echem: pd.DataFrame | None, *, cursor_time_s=None, events=None, width=WIDTH,
                        height=HEIGHT):
    """Cell voltage vs time with a cursor at the current frame and events (``test_time_s``) as markers."""
    if echem is None or echem.empty:
        return empty("no cycling data: upload the cycler file", width=width, height=height)
    t = echem["test_time_s"].to_numpy(float) / 3600.0
    step = max(1, len(t) // 4000)
    curve = hv.Curve((t[::step], echem["voltage_V"].to_numpy(float)[::step]), "time (h)", "voltage (V)").opts(
        color="#1f77b4", line_width=2, width=width, height=height, title="Voltage (cursor: current frame)")
    over = [curve]
    if cursor_time_s is not None and np.isfinite(cursor_time_s):
        over.append(hv.VLine(cursor_time_s / 3600.0).opts(color="#d62728", line_width=2))
    if events is not None and len(events) and events["test_time_s"].notna().any():
        te = events["test_time_s"].to_numpy(float)
        ok = np.isfinite(te)
        v = np.interp(te[ok], echem["test_time_s"].to_numpy(float), echem["voltage_V"].to_numpy(float))
        data = pd.DataFrame({"time (h)": te[ok] / 3600.0, "voltage (V)": v, "event": events["event"].to_numpy()[ok],
                             "kind": events["kind"].to_numpy()[ok]})
        over.append(hv.Scatter(data, "time (h)", ["voltage (V)", "event", "kind"]).opts(
            marker="inverted_triangle", size=13, color=EVENT_COLOR, line_color="black", tools=["hover"]))
    return hv.Overlay(over).opts(title="Voltage (cursor: current frame)")


def depth_of_charge_comparison(curves: pd.DataFrame | None, *, width=WIDTH, height=HEIGHT):
    """Relative depth of charge d* vs relative time τ of several cycles (lithiation solid, delithiation dashed)."""
    if curves is None or curves.empty:
        return empty("cycle comparison: needs the cycling file (half cycles) and at least one cycle",
                     width=width, height=height)
    palette = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b"]
    over = []
    for k, (label, g) in enumerate(curves.groupby("label", sort=False)):
        for proc, h in g.groupby("process"):
            over.append(hv.Curve((h["tau"].to_numpy(float), h["relative_depth"].to_numpy(float)),
                                 "relative time τ", "relative depth of charge d*", label=f"{label}, {proc}")
                        .opts(color=palette[k % len(palette)], line_width=2,
                              line_dash="solid" if proc == "lithiation" else "dashed"))
    return hv.Overlay(over).opts(width=width, height=height, title="Relative depth of charge: cycles compared",
                                 legend_position="bottom_right")


def height_map(heights, *, events=None, current_time_s=None, width=WIDTH, height=HEIGHT):
    """Deposit height h(x, t) as a time × position image (µm), events marked."""
    if heights is None:
        return empty("no interface heights", width=width, height=height)
    h = np.asarray(heights.values, float)
    t = heights["time_s"].to_numpy() / 3600.0
    pos = heights["position_um"].to_numpy()
    t1 = float(t[-1]) if len(t) > 1 and t[-1] > t[0] else float(t[0]) + 1.0
    img = hv.Image(h[::-1], bounds=(float(pos[0]), float(t[0]), float(pos[-1]) if len(pos) > 1 else 1.0, t1),
                   kdims=["position along the interface (µm)", "time (h)"], vdims=["height (µm)"]).opts(
        cmap="viridis", colorbar=True, width=width, height=height, tools=["hover"], title="Deposit height h(x, t)")
    over = [img]
    if current_time_s is not None:
        over.append(hv.HLine(current_time_s / 3600.0).opts(color="#d62728", line_width=1))
    if events is not None and len(events) and events["y_px"].notna().any():
        ev = events.dropna(subset=["y_px"])
        over.append(hv.Points((ev["y_um"].to_numpy(float), ev["time_s"].to_numpy(float) / 3600.0)).opts(
            marker="x", size=14, color=EVENT_COLOR, line_width=3))
    return hv.Overlay(over).opts(title="Deposit height h(x, t)")


def plating_series(metrics: pd.DataFrame | None, *, current_frame=None, width=WIDTH, height=HEIGHT):
    """Measured deposit thickness vs the dense-Li Faraday thickness, roughness and protrusion vs time."""
    if metrics is None or metrics.empty:
        return empty("no plating metrics", width=width, height=height)
    t = metrics["time_s"].to_numpy(float) / 3600.0
    series = [("deposit_thickness_um", "deposit (mean height)", "#1f77b4", "solid"),
              ("faraday_thickness_um", "dense Li (Faraday, 4.85 µm per mAh/cm²)", "black", "dashed"),
              ("roughness_um", "roughness σ_h", "#2ca02c", "solid"),
              ("protrusion_um", "protrusion (max − median)", "#d62728", "solid")]
    over = [hv.Curve((t, metrics[c].to_numpy(float)), "time (h)", "µm", label=label).opts(
            color=color, line_dash=dash, line_width=2)
            for c, label, color, dash in series if c in metrics]
    onset = metrics.attrs.get("battlab", {}).get("onset_time_s")
    if onset is not None:
        over.append(hv.VLine(onset / 3600.0).opts(color="#ff7f0e", line_dash="dotted", line_width=2))
    if current_frame is not None and 0 <= current_frame < len(t):
        over.append(hv.VLine(t[current_frame]).opts(color="#d62728", line_width=1))
    return hv.Overlay(over).opts(width=width, height=height, legend_position="top_left",
                                 title="Deposit vs Faraday thickness; roughness (onset: dotted)")


def dendrite_count(metrics: pd.DataFrame | None, *, width=WIDTH, height=HEIGHT):
    """Number of dendrites (prominent local maxima of h) vs time."""
    if metrics is None or metrics.empty:
        return empty("no plating metrics", width=width, height=height)
    t = metrics["time_s"].to_numpy(float) / 3600.0
    return hv.Curve((t, metrics["dendrite_count"].to_numpy(float)), "time (h)", "dendrites").opts(
        interpolation="steps-post", color="#9467bd", line_width=2, width=width, height=height,
        title="Dendrite count")
