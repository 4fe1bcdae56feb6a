"""A plot pane redraws a figure only when something that decides its drawing changed."""

import holoviews as hv
import numpy as np
import pandas as pd
import pytest

from battlab.apps import CVApp, CyclingApp, EISApp, GITTApp, OpticalApp, ScatteringApp
from battlab.apps._base import PlotPane
from battlab.plot._core import figure_fingerprint, figure_layout_key


def _figure(*, y_last=4.0, color="red", text="peak", width=300, title="capacity", cols=1, bounds_right=1.0,
            unit="V", xlim=None):
    frame = pd.DataFrame({"x": [1.0, 2.0, 3.0], "y": [3.0, 3.5, y_last]})
    curve = hv.Curve(frame, hv.Dimension("x", unit=unit), "y").opts(color=color, title=title)
    if xlim is not None:
        curve = curve.opts(xlim=xlim)
    overlay = (curve * hv.VLine(1.5) * hv.Text(1, 3, text)).opts(width=width)
    image = hv.Image(np.arange(9.0).reshape(3, 3), bounds=(0, 0, bounds_right, 1))
    return (overlay + image).cols(cols)


def test_same_content_same_fingerprint():
    assert figure_fingerprint(_figure()) == figure_fingerprint(_figure())


@pytest.mark.parametrize("change", [
    {"y_last": 4.0000001},      # one data value
    {"color": "blue"},          # a style option
    {"text": "peaks"},          # an annotation's text
    {"width": 301},             # a plot option of the overlay
    {"title": "energy"},        # a title
    {"cols": 2},                # the layout's columns
    {"bounds_right": 2.0},      # an image's extent
    {"unit": "mV"},             # a dimension's unit (axis label)
    {"xlim": (0, 5)},           # axis limits
])
def test_every_drawing_change_changes_the_fingerprint(change):
    assert figure_fingerprint(_figure(**change)) != figure_fingerprint(_figure())


def test_objects_without_content_description_are_never_taken_as_unchanged():
    from bokeh.plotting import figure

    assert figure_fingerprint(figure()) is None
    assert figure_fingerprint(hv.DynamicMap(lambda: hv.Curve([1, 2]))) is None
    # A hook enters by identity: two separately made hooks differ even with equal code.
    def with_hook():
        return hv.Curve([1, 2]).opts(hooks=[lambda plot, element: None])

    assert figure_fingerprint(with_hook()) != figure_fingerprint(with_hook())


def test_pane_skips_an_identical_figure_and_draws_a_changed_one():
    pane = PlotPane()
    pane.update(_figure())
    first = pane.widget.children[0]
    assert pane.revision == 1
    same = _figure()
    pane.update(same)
    assert pane.revision == 1 and pane.widget.children[0] is first
    assert pane.object is same, "exports use the latest object"
    pane.update(_figure(y_last=5.0))
    assert pane.revision == 2 and pane.patched == 1 and pane.widget.children[0] is first
    # Cleared from outside (an app hiding a figure): the same figure is drawn again, anew.
    pane.widget.children = []
    pane.update(_figure(y_last=5.0))
    assert pane.revision == 3 and pane.patched == 1 and len(pane.widget.children) == 1


def test_app_redraws_only_the_figures_a_control_changes():
    app = CVApp()
    panes = {"cv": app.cv_plot, "rs": app.rs_plot, "b": app.b_plot, "dunn": app.dunn_plot,
             "fraction": app.fraction_plot}
    before = {k: p.revision for k, p in panes.items()}
    # n enters only Randles–Ševčík: the voltammograms, b-values and Dunn figures stay as they are.
    app.n_electrons.value = 2
    after = {k: p.revision for k, p in panes.items()}
    assert after["rs"] == before["rs"] + 1
    assert all(after[k] == before[k] for k in ("cv", "b", "dunn", "fraction"))
    assert app.rs["diffusion_coefficient_cm2_s"] > 0 and app.banner.layout.display == "none"
    # Moving the cycle changes every figure that shows one cycle.
    app.cycle.value = "last"
    changed = {k for k, p in panes.items() if p.revision > after[k]}
    assert {"rs", "b"} <= changed


def _drawn(model, *, columns=None):
    """What a reader of the figure sees, by model kind: data, titles, axes, ranges, colours, legend, hover.

    ``columns``: compare only these data columns. A patch that puts a new quantity on an axis
    leaves the old quantity's column in the data source, unused (HoloViews updates the
    columns it draws from); a fresh drawing does not have it.
    """
    from bokeh.models import (
        Axis,
        ColorMapper,
        ColumnDataSource,
        GlyphRenderer,
        HoverTool,
        LegendItem,
        Range1d,
        Title,
    )

    def values(column):
        a = np.asarray(column)
        return np.round(a.astype(float), 9).tobytes() if a.dtype.kind in "fiub" else str([str(v) for v in a.ravel()])

    def colour(spec):
        mapper = getattr(spec, "transform", None)
        return str(spec) if mapper is None else (spec.field, list(mapper.palette), list(getattr(mapper, "factors", [])))

    return {
        "data": sorted(tuple((k, values(m.data[k])) for k in sorted(m.data) if columns is None or k in columns)
                       for m in model.select({"type": ColumnDataSource})),
        "hover": sorted(str(h.tooltips) for h in model.select({"type": HoverTool})),
        "titles": sorted(str(t.text) for t in model.select({"type": Title})),
        "axes": sorted(str(a.axis_label) for a in model.select({"type": Axis})),
        "ranges": sorted((round(float(r.start), 6), round(float(r.end), 6)) for r in model.select({"type": Range1d})
                         if r.start is not None and r.end is not None),
        "colours": sorted(str([colour(getattr(g.glyph, a, None)) for a in ("line_color", "fill_color")])
                          for g in model.select({"type": GlyphRenderer})),
        "mappers": sorted(str((list(m.palette), getattr(m, "low", None), getattr(m, "high", None)))
                          for m in model.select({"type": ColorMapper})),
        "legend": sorted(str(item.label) for item in model.select({"type": LegendItem})),
    }


def test_changed_data_colour_and_title_are_patched_into_the_figure_on_show():
    pane = PlotPane()
    pane.update(_figure())
    shown = pane.widget.children[0]
    sent = []
    shown.send = lambda content, buffers=None: sent.append(content)  # what would go to the page
    new = _figure(y_last=9.0, color="blue", title="energy", bounds_right=2.0)
    assert figure_layout_key(new) == figure_layout_key(_figure())
    pane.update(new)
    assert pane.patched == 1 and pane.widget.children[0] is shown
    assert sent and all(m["msg"] == "patch" for m in sent), "the page gets patches, not a new figure"
    fresh = PlotPane()
    fresh.update(new)
    assert _drawn(shown._model) == _drawn(fresh.widget.children[0]._model)
    drawn = _drawn(shown._model)
    assert "energy" in drawn["titles"] and any("blue" in c for c in drawn["colours"])
    assert max(end for _, end in drawn["ranges"]) >= 9.0, "ranges follow the new data (framewise)"


@pytest.mark.parametrize("change", [{"cols": 2}, {"width": 301}, {"text": "peaks"}])
def test_a_figure_built_differently_is_drawn_anew(change):
    pane = PlotPane()
    pane.update(_figure())
    shown = pane.widget.children[0]
    pane.update(_figure(**change))
    assert pane.revision == 2 and pane.patched == 0 and pane.widget.children[0] is not shown


def _against(x, *, values=None, label=None):
    values = np.linspace(0.0, 5.0, 6) if values is None else values
    x = hv.Dimension(x, label=label or x)
    curve = hv.Curve((values, np.arange(6.0) ** 2), x, ("voltage_V", "voltage (V)"))
    marks = hv.Scatter((values[:2], [0.0, 1.0]), x, ("voltage_V", "voltage (V)"))
    return (curve.opts(tools=["hover"]) * marks).opts(title="against " + x.name)


def test_a_new_quantity_on_an_axis_is_patched_with_its_label_columns_and_hover():
    """An "x axis" selector's move: same figure, another column on the axis."""
    from bokeh.models import GlyphRenderer

    pane = PlotPane()
    pane.update(_against("time_s", label="time (s)"))
    shown = pane.widget.children[0]
    new = _against("capacity_mAh", values=np.linspace(0.0, 1.2, 6), label="capacity (mAh)")
    pane.update(new)
    assert pane.patched == 1 and pane.widget.children[0] is shown
    fresh = PlotPane()
    fresh.update(new)
    drawn = _drawn(fresh.model)
    assert "capacity (mAh)" in drawn["axes"] and "capacity (mAh)" in drawn["hover"][0]
    assert _drawn(shown._model, columns={"capacity_mAh", "voltage_V"}) == drawn

    def glyph_fields(model):
        return sorted((r.glyph.x, r.glyph.y) for r in model.select({"type": GlyphRenderer}))

    assert glyph_fields(shown._model) == glyph_fields(fresh.model) == [("capacity_mAh", "voltage_V")] * 2


def test_a_new_kind_of_axis_or_a_new_link_between_panels_is_drawn_anew():
    numbers = _against("time_s")
    dates = _against("time_s", values=np.datetime64("2026-01-01") + np.arange(6) * np.timedelta64(1, "h"))
    assert figure_layout_key(numbers) != figure_layout_key(dates), "a date axis is built differently"
    # two panels over one quantity share their x range; over two quantities they do not
    shared = _against("time_s") + _against("time_s")
    apart = _against("time_s") + _against("capacity_mAh")
    assert figure_layout_key(shared) != figure_layout_key(apart)
    assert figure_layout_key(apart) == figure_layout_key(_against("cycle") + _against("soc"))


def _map(values, *, bounds=(0, 0, 2.0, 1.0)):
    return hv.Image(values, bounds=bounds).opts(data_aspect=1, cmap="viridis", colorbar=True)


def test_a_fixed_aspect_map_is_patched_only_over_the_same_extents():
    """New values on the same grid patch the map (a levelled AFM image, another threshold);
    new extents are drawn anew, since HoloViews fits an aspect's ranges only when it builds."""
    rng = np.random.default_rng(0)
    pane = PlotPane()
    decorations = []
    pane.update(_map(rng.random((20, 40))), on_draw=decorations.append)
    shown = pane.widget.children[0]
    new_values = 5 + rng.random((20, 40))
    pane.update(_map(new_values), on_draw=decorations.append)
    assert pane.patched == 1 and pane.widget.children[0] is shown and len(decorations) == 1
    fresh = PlotPane()
    fresh.update(_map(new_values))
    assert _drawn(shown._model) == _drawn(fresh.widget.children[0]._model)
    assert figure_layout_key(_map(new_values, bounds=(0, 0, 4.0, 2.0))) != figure_layout_key(_map(new_values))
    pane.update(_map(new_values, bounds=(0, 0, 4.0, 2.0)), on_draw=decorations.append)
    assert pane.patched == 1 and pane.revision == 3 and len(decorations) == 2
    # A figure decorated differently (or not at all) is never patched over a decorated one.
    pane.update(_map(rng.random((20, 40)), bounds=(0, 0, 4.0, 2.0)))
    assert pane.patched == 1 and pane.revision == 4


def test_a_moved_marker_over_an_unchanged_map_sends_the_marker_not_the_map():
    rng = np.random.default_rng(1)
    values = rng.random((200, 400))

    def figure(marker_h, scale=1.0):
        image = hv.Image(values * scale, bounds=(0, 0, 40.0, 10.0), kdims=["2θ (°)", "time (h)"])
        return (image.opts(cmap="viridis", colorbar=True) * hv.HLine(marker_h)).opts(width=500, height=300)

    pane = PlotPane()
    pane.update(figure(2.0))
    shown = pane.widget.children[0]
    sent = []
    shown.send = lambda content, buffers=None: sent.append(len(str(content)) + sum(len(b) for b in buffers or []))
    pane.update(figure(7.5))
    assert pane.patched == 1 and pane.widget.children[0] is shown
    assert 0 < sum(sent) < 20_000, "only the marker crosses, not the 640 kB image"
    fresh = PlotPane()
    fresh.update(figure(7.5))
    assert _drawn(shown._model) == _drawn(fresh.widget.children[0]._model)
    from bokeh.models import Span

    assert [span.location for span in shown._model.select({"type": Span})] == [7.5]
    sent.clear()
    pane.update(figure(7.5, scale=2.0))
    assert sum(sent) > 600_000, "new values are sent"


def test_figures_without_a_layout_key_are_drawn_anew():
    from bokeh.plotting import figure

    assert figure_layout_key(figure()) is None
    assert figure_layout_key(hv.HoloMap({1: hv.Curve([1, 2]), 2: hv.Curve([2, 1])})) is None
    assert figure_layout_key(hv.Layout([hv.Curve([1, 2]) + hv.Curve([2, 1])]) + hv.Curve([3, 1])) is not None
    adjoint = hv.Curve([1, 2]) << hv.Histogram(([0, 1, 2], [1, 2]))
    assert figure_layout_key(adjoint) is None and figure_layout_key(hv.Curve([1, 2]) + adjoint) is None


@pytest.mark.parametrize("app_class, controls", [
    (EISApp, ("kk_threshold", "weighting", "marker_f")),
    (GITTApp, ("pulse", "mass", "area")),
    (CyclingApp, ("x_axis", "mass")),  # a new quantity on the x axis
    (CVApp, ("baseline", "cycle")),  # new b values
    (OpticalApp, ("x_axis", "pixel_size")),
    (ScatteringApp, ("trend_x", "q_max")),
], ids=["eis", "gitt", "cycling", "cv", "optical", "scattering"])
def test_figures_updated_in_place_match_a_fresh_drawing(app_class, controls):
    """Every pane an app updates in place shows what a new pane would draw from the same figure."""
    from bokeh.models import ColumnDataSource

    app = app_class()
    panes = [v for v in vars(app).values() if isinstance(v, PlotPane)]
    for name in controls:
        ctrl = getattr(app, name)
        options = [o[1] if isinstance(o, tuple) else o for o in getattr(ctrl, "options", ())]
        start = ctrl.value
        if options:
            moves = [o for o in options if o != start][:2]
        elif isinstance(start, int):
            moves = [start + 1, start + 2]
        else:
            moves = [start * 1.3, start * 0.8]
        for value in [*moves, start]:
            before = sum(p.patched for p in panes)
            ctrl.value = value
            assert app.banner.layout.display == "none", app.banner.value
            for pane in panes:
                if pane._pipes and pane.widget.children:
                    fresh = PlotPane()
                    fresh.update(pane.object)
                    drawn = _drawn(fresh.model)
                    columns = {k for m in fresh.model.select({"type": ColumnDataSource}) for k in m.data}
                    assert _drawn(pane.model, columns=columns) == drawn, name
        assert sum(p.patched for p in panes) > before or name == controls[-1]
    assert sum(p.patched for p in panes) > 0


def test_changes_echoed_by_the_page_do_not_roll_the_kernel_side_back():
    """The page re-sends every change a patch made; a late echo must not restore older data."""
    from bokeh.models import ColumnDataSource
    from jupyter_bokeh import BokehModel

    pane = PlotPane()
    pane.update(_figure())
    pane.update(_figure(y_last=9.0))  # in place
    shown = pane.widget.children[0]
    source = next(m for m in shown._model.select({"type": ColumnDataSource}) if "y" in m.data)
    now = np.asarray(source.data["y"]).copy()
    echo = {"event": "jsevent", "kind": "ModelChanged", "model": {"id": source.id}, "attr": "data",
            "new": {"type": "map", "entries": [["x", [1.0, 2.0, 3.0]], ["y", [3.0, 3.5, 4.0]]]}}
    shown._sync_model(shown, dict(echo), [])
    np.testing.assert_array_equal(source.data["y"], now)
    # A plain BokehModel takes the same message in: the older data would be back.
    plain = BokehModel(hv.render(hv.Curve([1, 2])))
    plain_source = next(iter(plain._model.select({"type": ColumnDataSource})))
    plain._sync_model(plain, {**echo, "model": {"id": plain_source.id}}, [])
    assert list(plain_source.data["y"]) == [3.0, 3.5, 4.0]
