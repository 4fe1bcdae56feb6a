"""Figures for side-view operando optical microscopy (HoloViews, Bokeh backend)."""

from __future__ import annotations

import holoviews as hv
import numpy as np
import pandas as pd

from battlab.plot._core import HEIGHT, WIDTH, empty

__all__ = ["STAGE_COLORS", "class_map_rgb", "frame_image", "kymograph", "stage_fractions", "thickness", "voltage_with_cursor"]

#: Plot colours of the graphite stages (match what the eye sees in the cell).
STAGE_COLORS = {"pristine": "#707070", "dilute": "#26306e", "LiC12": "#b02a26", "LiC6": "#deb23a",
                "unclassified": "#bbbbbb"}


def _display(frame, max_px: int):
    """Subsample a frame so that its longer side is at most ``max_px`` (keeps the page light)."""
    arr = np.asarray(frame)
    step = max(1, int(np.ceil(max(arr.shape[:2]) / max_px)))
    arr = arr[::step, ::step]
    if arr.dtype != np.uint8:
        full = np.iinfo(arr.dtype).max if arr.dtype.kind in "ui" else max(float(arr.max()), 1e-12)
        arr = np.clip(arr.astype(float) / full * 255, 0, 255).astype(np.uint8)
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
                title: str = "", width=WIDTH, height=HEIGHT, roi=None):
    """One frame as an RGB image in µm with the electrode edges and front as lines.

    ``row`` is a row of :func:`battlab.optical.analyze_movie`'s frames table (edges in px
    along the depth axis); ``roi`` (y0, y1, x0, x1) is drawn as a box.
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
    if roi is not None:
        y0, y1, x0, x1 = roi
        over.append(hv.Bounds((x0 * pixel_size_um, (ny - y1) * pixel_size_um, x1 * pixel_size_um,
                               (ny - y0) * pixel_size_um)).opts(color="yellow", line_width=1))
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


def voltage_with_cursor(echem: pd.DataFrame | None, *, cursor_time_s=None, width=WIDTH, height=HEIGHT):
    """Cell voltage vs time with a cursor at the current frame."""
    if echem is None or echem.empty:
        return empty("no cycling data: upload the cycler file", width=width, height=height)
    t = echem["test_time_s"].to_numpy(float) / 3600.0
    step = max(1, len(t) // 4000)
    curve = hv.Curve((t[::step], echem["voltage_V"].to_numpy(float)[::step]), "time (h)", "voltage (V)").opts(
        color="#1f77b4", line_width=2, width=width, height=height, title="Voltage (cursor: current frame)")
    over = [curve]
    if cursor_time_s is not None and np.isfinite(cursor_time_s):
        over.append(hv.VLine(cursor_time_s / 3600.0).opts(color="#d62728", line_width=2))
    return hv.Overlay(over).opts(title="Voltage (cursor: current frame)")
