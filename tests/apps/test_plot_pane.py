"""A plot pane redraws a figure only when something that decides its drawing changed."""

import holoviews as hv
import numpy as np
import pandas as pd
import pytest

from battlab.apps import CVApp
from battlab.apps._base import PlotPane
from battlab.plot._core import figure_fingerprint


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
    assert pane.revision == 2 and pane.widget.children[0] is not first
    # Cleared from outside (an app hiding a figure): the same figure is drawn again.
    pane.widget.children = []
    pane.update(_figure(y_last=5.0))
    assert pane.revision == 3 and len(pane.widget.children) == 1


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
