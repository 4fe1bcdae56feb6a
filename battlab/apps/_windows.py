"""Named axis windows (peak or band ranges) edited with a picker, a range slider and add/remove."""

from __future__ import annotations

import ipywidgets as w

from battlab.errors import InvalidParameterError

__all__ = ["WindowEditor"]


class WindowEditor:
    """Widgets to choose, move, add and remove named (low, high) windows.

    Parameters
    ----------
    label : str
        Slider description, with units ("2θ range (°)", "band range (cm⁻¹)").
    on_change : callable
        Called with no argument after any window changed (not while loading).
    suggest : callable
        ``suggest(exclude: dict) -> (name, (low, high))``: a new window for *Add*.
    placeholder : str
        Hint in the name box.
    guard : callable, optional
        The app's ``_guard(what, func)``: errors become its banner message.
    picker_label : str
        Description of the window picker ("Peak window", "Window").
    """

    def __init__(self, *, label: str, on_change, suggest, placeholder: str = "name", guard=None,
                 picker_label: str = "Window"):
        style = {"description_width": "initial"}
        self.windows: dict = {}
        self._on_change = on_change
        self._suggest = suggest
        self._guard = guard or (lambda what, func, *a: func(*a))
        self._busy = False
        self.picker = w.Dropdown(options=[], description=picker_label, style=style, layout=w.Layout(width="240px"))
        self.slider = w.FloatRangeSlider(value=(0.0, 1.0), min=0.0, max=1.0, step=0.01, description=label,
                                         continuous_update=False, style=style, layout=w.Layout(width="460px"),
                                         readout_format=".2f")
        self.new_name = w.Text(value="", placeholder=placeholder, layout=w.Layout(width="140px"))
        self.add_button = w.Button(description="Add window", icon="plus",
                                   tooltip="adds a window around the strongest peak not yet covered")
        self.remove_button = w.Button(description="Remove", icon="minus")
        self.picker.observe(lambda _: self._guard("selecting a window", self._on_pick), "value")
        self.slider.observe(lambda _: self._guard("moving the window", self._on_slide), "value")
        self.add_button.on_click(lambda _: self._guard("adding a window", self.add))
        self.remove_button.on_click(lambda _: self._guard("removing a window", self.remove))
        self.widget = w.VBox([w.HBox([self.picker, self.slider]),
                              w.HBox([self.new_name, self.add_button, self.remove_button])])

    def set_axis(self, low: float, high: float, *, step: float | None = None):
        """Axis limits of the slider (data range)."""
        self._busy = True
        try:
            self.slider.min, self.slider.max = -1e12, 1e12  # avoid a transient min > max
            self.slider.min, self.slider.max = float(low), float(high)
            if step:
                self.slider.step = float(step)
        finally:
            self._busy = False

    def set_windows(self, windows: dict, *, select=None):
        """Replace all windows (no change callback)."""
        self.windows = {k: (float(v[0]), float(v[1])) for k, v in windows.items()}
        self._refresh(select)

    def _refresh(self, select=None):
        self._busy = True
        try:
            names = list(self.windows)
            self.picker.options = names
            if names:
                self.picker.value = select if select in names else names[0]
                lo, hi = self.windows[self.picker.value]
                self.slider.value = (max(lo, self.slider.min), min(hi, self.slider.max))
        finally:
            self._busy = False

    def _on_pick(self):
        if self._busy or not self.picker.value:
            return
        self._refresh(self.picker.value)

    def _on_slide(self):
        if self._busy or not self.picker.value:
            return
        self.windows[self.picker.value] = tuple(float(v) for v in self.slider.value)
        self._on_change()

    def add(self):
        name, window = self._suggest(dict(self.windows))
        name = self.new_name.value.strip() or name
        if name in self.windows:
            raise InvalidParameterError(f"a window named {name!r} exists; type another name.")
        self.windows[name] = (float(window[0]), float(window[1]))
        self.new_name.value = ""
        self._refresh(name)
        self._on_change()

    def remove(self):
        name = self.picker.value
        if not name:
            return
        if len(self.windows) == 1:
            raise InvalidParameterError("keep at least one window.")
        self.windows.pop(name)
        self._refresh()
        self._on_change()
