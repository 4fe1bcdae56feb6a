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


def figure_fingerprint(obj) -> str | None:
    """A digest of everything that decides how a HoloViews object is drawn.

    Apps redraw every figure after a control moves, yet most moves change one or two of
    them; rendering an unchanged figure again costs 50–250 ms for nothing. Two objects
    with the same fingerprint render to the same Bokeh figure. ``None`` means the object
    cannot be fingerprinted (a Bokeh model, a DynamicMap) and must be drawn.

    Objects without a content-based description (callables, Bokeh tools) enter by
    identity: the caller keeps the previously drawn object alive while comparing, so an
    identical id is the same object, never a new one at a recycled address.
    """
    return _fingerprints(obj)[0]


def _fingerprints(obj):
    """:func:`figure_fingerprint` of ``obj`` and, by ``id``, a digest of each of its elements.

    One pass gives both: a plot pane compares the figure as a whole and then its elements
    one by one (see ``PlotPane``), and hashing the data twice was a good part of an update.
    """
    import hashlib

    if not isinstance(obj, hv.core.Dimensioned) or isinstance(obj, hv.DynamicMap):
        return None, {}
    whole = hashlib.blake2b(digest_size=16)
    elements = {}
    try:
        for node in obj.traverse(lambda x: x):
            if isinstance(node, hv.DynamicMap):
                return None, {}
            digest = hashlib.blake2b(digest_size=16)
            digest.update(type(node).__qualname__.encode())
            _feed(digest, {k: v for k, v in node.param.values().items() if k not in ("data", "name")})
            _feed(digest, getattr(node, "_max_cols", None))
            for group in ("plot", "style", "norm"):
                _feed(digest, node.opts.get(group).kwargs)
            if isinstance(node, (hv.core.overlay.CompositeOverlay, hv.core.layout.Layout, hv.core.UniformNdMapping)):
                _feed(digest, [repr(k) for k in node.data])  # the children come next in the traversal
            else:
                _feed(digest, node.data)
            if isinstance(node, hv.Element):
                elements[id(node)] = digest.digest()
            whole.update(digest.digest())
    except _Unhashable:
        return None, {}
    return whole.hexdigest(), elements


class _Unhashable(Exception):
    pass


def _feed(digest, value, depth=0):
    """Add ``value`` to ``digest`` by content where its content is known, else by identity."""
    import datetime as _dt

    import numpy as np
    import pandas as pd
    import param

    if depth > 12:
        raise _Unhashable
    tag = type(value).__qualname__.encode()
    digest.update(b"<" + tag + b">")
    if value is None or isinstance(value, (bool, int, float, complex, str, bytes, np.generic, slice, range,
                                           _dt.date, _dt.time, _dt.timedelta, pd.Timestamp, pd.Timedelta)):
        digest.update(repr(value).encode())
    elif isinstance(value, hv.core.boundingregion.BoundingRegion):
        digest.update(repr(value.lbrt()).encode())
    elif isinstance(value, np.ndarray):
        digest.update(f"{value.dtype}{value.shape}".encode())
        if value.dtype == object:
            try:  # labels, categories: hashed in one vectorised pass
                digest.update(pd.util.hash_array(value.ravel()).tobytes())
            except TypeError:
                _feed(digest, value.tolist(), depth + 1)
        else:
            digest.update(np.ascontiguousarray(value).tobytes())
    elif isinstance(value, (pd.DataFrame, pd.Series)):
        frame = value.to_frame() if isinstance(value, pd.Series) else value
        _feed(digest, [repr(c) for c in frame.columns] + [str(t) for t in frame.dtypes], depth + 1)
        _feed(digest, np.asarray(frame.index), depth + 1)
        for column in range(frame.shape[1]):
            _feed(digest, np.asarray(frame.iloc[:, column]), depth + 1)
    elif hasattr(value, "variables") and hasattr(value, "coords"):  # xarray Dataset
        for name in sorted(map(str, value.variables)):
            _feed(digest, name, depth + 1)
            _feed(digest, np.asarray(value.variables[name].values), depth + 1)
    elif hasattr(value, "coords") and hasattr(value, "values") and hasattr(value, "dims"):  # xarray DataArray
        _feed(digest, value.to_dataset(name="__value__"), depth + 1)
    elif isinstance(value, dict):
        for key in sorted(value, key=repr):
            _feed(digest, key, depth + 1)
            _feed(digest, value[key], depth + 1)
    elif isinstance(value, (list, tuple, set, frozenset)):
        items = sorted(value, key=repr) if isinstance(value, (set, frozenset)) else value
        digest.update(str(len(items)).encode())
        for item in items:
            _feed(digest, item, depth + 1)
    elif isinstance(value, param.Parameterized):  # Dimension, Cycle, Palette, nested elements
        if isinstance(value, hv.core.Dimensioned):
            fingerprint = figure_fingerprint(value)
            if fingerprint is None:
                raise _Unhashable
            digest.update(fingerprint.encode())
        else:
            _feed(digest, {k: v for k, v in value.param.values().items() if k != "name"}, depth + 1)
    else:  # callables, Bokeh models, anything else: identity (see figure_fingerprint)
        digest.update(str(id(value)).encode())


_FIXED_ASPECT = ("aspect", "data_aspect", "match_aspect")


def _axis_dimensions(element):
    """The dimensions an element puts on its x and y axes."""
    return element.kdims[:2] if isinstance(element, hv.Raster) or len(element.kdims) > 1 \
        else element.kdims[:1] + element.vdims[:1]


def figure_layout_key(obj) -> str | None:
    """A digest of what a figure's Bokeh models are built from, leaving out its data.

    Two objects with the same key draw into the same set of glyphs, axes and legend
    entries, so the second can be drawn by updating the first one's models in place
    (new data, ranges, colours, titles and quantities on the axes) instead of building and sending a new figure.
    That is several times cheaper in the kernel and lets the browser repaint rather than
    lay out a new page element. A layout's key covers its panels' keys. ``None`` means the
    object is drawn from scratch: a Bokeh model, a dynamic or animated object, a nested or
    adjoint layout.
    """
    import hashlib

    if isinstance(obj, hv.core.layout.Layout):
        digest = hashlib.blake2b(digest_size=16)
        try:
            _feed(digest, [getattr(obj, "_max_cols", None), obj.opts.get("plot").kwargs, [repr(k) for k in obj.data]])
        except _Unhashable:
            return None
        for panel in obj.values():
            key = None if isinstance(panel, hv.core.layout.Layout) else figure_layout_key(panel)
            if key is None:
                return None
            digest.update(key.encode())
        # Panels whose axes show the same dimension share one range, linked when the layout is
        # built: which axes are linked is part of the layout, the dimensions' names are not.
        canonical = {}
        for panel in obj.values():
            first = panel.traverse(lambda x: x, [hv.Element])[:1]
            axes = _axis_dimensions(first[0]) if first else []
            _feed(digest, [canonical.setdefault((d.name, d.label), len(canonical)) for d in axes])
        return digest.hexdigest()
    if not isinstance(obj, hv.core.Dimensioned) or isinstance(obj, (hv.core.layout.AdjointLayout, hv.core.UniformNdMapping)) \
            and not isinstance(obj, hv.core.overlay.CompositeOverlay):
        return None
    digest = hashlib.blake2b(digest_size=16)
    try:
        nodes = obj.traverse(lambda x: x)
        # HoloViews fits the ranges of a figure with a fixed aspect only when it builds it, so
        # such a figure is patched only by one whose data spans the same extents (an image of
        # the same grid with new values: a levelled map, another threshold).
        # A figure whose explicit xlim and ylim fix its frame does not depend on the extents.
        fixed_aspect = any(any(opts.get(k) not in (None, False) for k in _FIXED_ASPECT)
                           and not (opts.get("xlim") and opts.get("ylim"))
                           for opts in (node.opts.get("plot").kwargs for node in nodes))
        for node in nodes:
            if isinstance(node, (hv.DynamicMap, hv.HoloMap, hv.core.layout.Layout, hv.core.layout.AdjointLayout)):
                return None
            plot_options = node.opts.get("plot").kwargs
            axes = _axis_dimensions(node) if isinstance(node, hv.Element) else []
            if fixed_aspect and axes:
                _feed(digest, [tuple(node.range(d)) for d in axes])
            digest.update(type(node).__qualname__.encode())
            _feed(digest, [node.group, node.label])
            # A new quantity on an axis (capacity for time) is patched: HoloViews updates the axis
            # label, the glyphs' columns and the hover fields of the figure on show. The kind of
            # axis (numbers, dates, categories) is built into it, and so is what the other
            # dimensions name (a colour bar's title, a legend).
            # (An overlay's dimensions are its elements', which are fed on their own.)
            if not isinstance(node, hv.core.overlay.CompositeOverlay):
                _feed(digest, [str(node.get_dimension_type(d)) if any(d is a for a in axes)
                               else (d.name, d.label, d.unit) for d in node.dimensions()])
            # A new title is drawn in place; every other plot option is built into the figure.
            _feed(digest, {k: v for k, v in plot_options.items() if k != "title"})
            _feed(digest, sorted(node.opts.get("style").kwargs))  # which style keys, not their values
            if isinstance(node, (hv.core.overlay.CompositeOverlay, hv.core.UniformNdMapping)):
                _feed(digest, [repr(k) for k in node.data])
            elif isinstance(node, hv.Text):
                _feed(digest, node.text)
    except _Unhashable:
        return None
    return digest.hexdigest()
