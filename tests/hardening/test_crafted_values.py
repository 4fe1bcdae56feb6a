"""A crafted comm message can set any synced widget to any value: every app refuses or clamps it.

The browser normally keeps a slider inside its range and a number field finite, but the
kernel accepts whatever a message says. For every floating-point control on every app's
page (parameter panel and plot areas alike), NaN is sent the way a comm message
arrives (``set_state``), and ±inf and -1e300 to the unbounded ones (a bounded widget
clamps those itself before any observer runs). Nothing may escape as an exception,
the app must say what it refused, and the next analysis must run on a finite value
inside the control's range.
"""

import math

import ipywidgets as w
import pytest

import battlab.apps as apps

pytestmark = pytest.mark.slow

FLOAT_WIDGETS = (w.FloatText, w.BoundedFloatText, w.FloatSlider, w.FloatLogSlider, w.FloatRangeSlider)


def _float_widgets(root):
    stack, out = [root], []
    while stack:
        node = stack.pop()
        stack.extend(getattr(node, "children", ()) or ())
        if isinstance(node, FLOAT_WIDGETS) and not node.disabled:
            out.append(node)
    return out


def _in_range(widget):
    values = widget.value if isinstance(widget.value, tuple) else (widget.value,)
    if not all(math.isfinite(v) for v in values):
        return False
    lo, hi = getattr(widget, "min", None), getattr(widget, "max", None)
    if isinstance(widget, w.FloatLogSlider):
        lo, hi = widget.base ** lo, widget.base ** hi
    return all((lo is None or v >= lo - abs(lo) * 1e-9) and (hi is None or v <= hi + abs(hi) * 1e-9) for v in values)


@pytest.mark.parametrize("name", list(apps.APPS))
def test_crafted_values_are_refused_or_clamped(name):
    app = getattr(apps, name)()
    widgets = _float_widgets(app.widget)
    assert widgets, f"{name} has floating-point controls"
    for widget in widgets:
        # A bounded widget clamps ±inf and huge values itself (traitlets validation, before any
        # observer); NaN passes that check, so it is sent to every control.
        bounded = getattr(widget, "min", None) is not None
        for crafted in (float("nan"),) if bounded else (float("nan"), float("inf"), -1e300):
            value = (crafted, crafted) if isinstance(widget.value, tuple) else crafted
            app.clear_error()
            widget.set_state({"value": value})  # the kernel's side of a comm message: must not raise
            told = app.banner.layout.display == "block"
            # The next analysis (any control's callback) checks the whole page first.
            app._guard("checking the controls", lambda: None)
            told = told or app.banner.layout.display == "block"
            label = widget.description or type(widget).__name__
            assert _in_range(widget), f"{name}: {label} kept {widget.value!r} after {crafted!r}"
            if math.isnan(crafted) or (math.isinf(crafted) and not bounded):
                assert told, f"{name}: {label} refused {crafted!r} without a message"
            assert "Traceback" not in app.banner.value
    # Still working: the analysis runs without an unexpected error afterwards.
    app.clear_error()
    app._guard("re-running", lambda: None)
    assert "unexpected" not in app.banner.value
