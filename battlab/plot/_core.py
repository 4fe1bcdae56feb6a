"""Shared plotting setup: the Bokeh backend, colours, and standalone HTML export."""

from __future__ import annotations

import holoviews as hv
import holoviews.plotting.bokeh  # noqa: F401  registers the backend without notebook output

hv.Store.set_current_backend("bokeh")
# HoloViews draws lines and markers with WebGL by default; where WebGL is unavailable
# (headless or GPU-less browsers) most plots on a page then show axes without data.
hv.renderer("bokeh").webgl = False

WIDTH, HEIGHT = 480, 320
CHARGE_COLOR, DISCHARGE_COLOR = "#d62728", "#1f77b4"
CE_COLOR = "#2ca02c"


def cycle_colors(cycles, cmap="viridis"):
    """One colour per cycle number, evenly spread over ``cmap``."""
    from bokeh.palettes import Viridis256, all_palettes

    cycles = list(cycles)
    palette = Viridis256 if cmap == "viridis" else all_palettes[cmap][max(all_palettes[cmap])]
    if len(cycles) == 1:
        return {cycles[0]: palette[0]}
    step = (len(palette) - 1) / (len(cycles) - 1)
    return {c: palette[int(round(k * step))] for k, c in enumerate(cycles)}


def empty(message: str, **opts):
    """A placeholder plot that says why there is nothing to show."""
    return hv.Text(0.5, 0.5, message).opts(width=opts.get("width", WIDTH), height=opts.get("height", HEIGHT),
                                             xaxis=None, yaxis=None, toolbar=None)


def to_html(obj, *, title: str = "battlab figure") -> str:
    """Standalone HTML for a figure with BokehJS inlined (opens offline)."""
    from bokeh.embed import file_html
    from bokeh.model import Model
    from bokeh.resources import INLINE

    return file_html(obj if isinstance(obj, Model) else hv.render(obj, backend="bokeh"), INLINE, title)
