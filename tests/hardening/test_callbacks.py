"""Every callback an app registers survives the values a crafted comm message can carry.

For each app, every observer and click handler battlab registers on any widget of the
page is called the way traitlets calls it, with the widget's current value and, where
the trait accepts it, ``None`` (a dropdown with no option selected, a tab bar with no
tab). The guarded part of a callback (``BaseApp._guard``) is replaced by a marker so
that no analysis runs: what is checked is that nothing before the guard raises, i.e. a
callback either reaches the guard or returns quietly.
"""

import pytest

import battlab.apps as apps

pytestmark = pytest.mark.slow


class _ReachedGuard(Exception):
    pass


def _battlab_handlers(app):
    stack, seen = [app.widget], set()
    while stack:
        widget = stack.pop()
        if id(widget) in seen:
            continue
        seen.add(id(widget))
        stack.extend(getattr(widget, "children", ()) or ())
        for trait, kinds in getattr(widget, "_trait_notifiers", {}).items():
            for handler in kinds.get("change", []):
                if (getattr(getattr(handler, "__func__", handler), "__module__", "") or "").startswith("battlab"):
                    yield widget, trait, handler
        clicks = getattr(widget, "_click_handlers", None)
        for handler in (clicks.callbacks if clicks is not None else []):
            yield widget, "click", handler


@pytest.mark.parametrize("name", list(apps.APPS))
def test_no_callback_raises_before_its_guard(name):
    app = getattr(apps, name)()

    def reached(step):
        if step > 0:
            raise _ReachedGuard

    app._set_busy = reached  # the first thing _guard does
    found = 0
    for widget, trait, handler in _battlab_handlers(app):
        found += 1
        if trait == "click":
            cases = [widget]
        else:
            current = getattr(widget, trait)
            allow_none = widget.traits()[trait].allow_none
            cases = [{"name": trait, "old": current, "new": new, "owner": widget, "type": "change"}
                     for new in ([current, None] if allow_none else [current])]
        for case in cases:
            try:
                handler(case)
            except _ReachedGuard:
                pass
            except Exception as exc:  # noqa: BLE001 - the failure this test looks for
                where = getattr(getattr(handler, "__func__", handler), "__qualname__", handler)
                pytest.fail(f"{name}: {where} ({getattr(widget, 'description', '') or type(widget).__name__}."
                            f"{trait}) raised {type(exc).__name__}: {exc} outside its guard")
    assert found >= 5, f"{name}: the page registers its callbacks"
