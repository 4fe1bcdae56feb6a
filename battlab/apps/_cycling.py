"""The cell's cycling record beside an operando series: its upload, clock offset and x-axis choice.

Shared by the diffraction and spectroscopy apps: a demo brings its own cycling table; a
cycling file uploaded here stays with every series loaded after it (never the demo's).
The join itself is :func:`battlab.series.curve_echem`.
"""

from __future__ import annotations

import html

import ipywidgets as w

__all__ = ["CyclingControls", "X_AXIS_OPTIONS"]

#: Dropdown entries of the shared x axis (keys of :data:`battlab.plot.series.X_AXES`).
X_AXIS_OPTIONS = [("time (h)", "time"), ("capacity (mAh)", "capacity_mAh"), ("SOC", "soc")]


def _echem_extensions() -> str:
    from battlab.io.registry import formats

    exts = sorted({e for f in formats() if getattr(f, "kind", None) == "echem" for e in f.extensions})
    return ",".join(exts)


class CyclingControls:
    """Upload of the cycling file, clock offset (s) and the x axis of the tracked plots.

    Parameters
    ----------
    app : BaseApp
        The app (its upload limit, upload store, error banner and guard are used).
    on_change : callable
        Called with no argument after the cycling table or the clock offset changed.
    on_axis : callable
        Called with no argument after the x axis changed.
    echem : DataFrame, optional
        A cycling table given to the app's constructor (kept for uploaded series).
    """

    def __init__(self, app, *, on_change, on_axis, echem=None):
        style = {"description_width": "initial"}
        self._app = app
        self._on_change = on_change
        self.given = echem
        self.echem = echem
        self.uploaded = False
        self.source = "given cycling table" if echem is not None else None
        self._loading = False
        self.x_axis = w.Dropdown(options=X_AXIS_OPTIONS, value="time", description="x axis", style=style,
                                 layout=w.Layout(width="220px"))
        self.clock_offset = w.FloatText(value=0.0, description="Clock offset (s)", style=style,
                                        layout=w.Layout(width="200px"),
                                        tooltip="seconds added to the series clock before it meets the cycler's")
        self.upload = app._upload_button(accept=_echem_extensions(), description="Cycling file")
        self.info = w.HTML()
        self.upload.observe(self._on_upload, "value")
        self.x_axis.observe(lambda _: app._guard("changing the x axis", on_axis), "value")
        self.clock_offset.observe(lambda _: None if self._loading else app._guard("setting the clock offset",
                                                                                  on_change), "value")
        self.widget = w.VBox([w.HBox([self.upload, self.info]), w.HBox([self.x_axis, self.clock_offset])])
        self._show()

    @property
    def offset_s(self) -> float:
        return float(self.clock_offset.value or 0.0)

    def for_new_data(self, truth):
        """The cycling table for newly loaded data: a demo's own, else the uploaded or given one."""
        self._loading = True
        try:
            if truth is not None:
                self.echem, self.uploaded = truth.get("echem"), False
                self.source = "the demo's cycling table" if self.echem is not None else None
                self.clock_offset.value = 0.0
            elif not self.uploaded:
                self.echem = self.given
                self.source = "given cycling table" if self.given is not None else None
        finally:
            self._loading = False
        self._show()
        return self.echem

    def usable(self, series):
        """The cycling table if it meets ``series`` on the chosen clock, else None (the reason is shown)."""
        import warnings

        from battlab.errors import BattlabError, BattlabWarning
        from battlab.series import curve_echem

        self._show()
        if self.echem is None or series is None:
            return None
        # Checked once per (curves, table, offset): apps ask again after every control move.
        last = self.__dict__.get("_usable_last")
        if last is not None and last[0] is series and last[1] is self.echem and last[2] == self.offset_s:
            error, messages = last[3], last[4]
        else:
            error, messages = None, []
            try:
                with warnings.catch_warnings(record=True) as caught:
                    warnings.simplefilter("always", BattlabWarning)
                    curve_echem(series, self.echem, clock_offset_s=self.offset_s)
                messages = [str(warning.message) for warning in caught]
            except BattlabError as exc:
                error = str(exc)
            self._usable_last = (series, self.echem, self.offset_s, error, messages)
        if error is not None:
            self.info.value += f"<br><small><b>not used:</b> {html.escape(error)}</small>"
            return None
        for message in messages:
            self.info.value += f"<br><small>{html.escape(message)}</small>"
        return self.echem

    @staticmethod
    def state_text(per_curve, i) -> str:
        """`` · 0.123 V · −1.23 mAh · SOC 0.45`` for curve ``i`` of a per-curve table (empty without one)."""
        if per_curve is None or "curve" not in per_curve:
            return ""
        row = per_curve[per_curve["curve"] == i]
        if row.empty or row["voltage_V"].isna().iloc[0]:
            return ""
        r = row.iloc[0]
        soc = f" · SOC {r['soc']:.2f}" if r["soc"] == r["soc"] else ""
        return f" · {r['voltage_V']:.3f} V · {r['capacity_mAh']:+.3f} mAh{soc}"

    def _show(self):
        if self.echem is None:
            self.info.value = ("<small>no cycling file: the x axis is time; upload the cycler's file for "
                               "capacity and SOC</small>")
        else:
            self.info.value = (f"<small>cycling: {html.escape(self.source or 'table')}, "
                               f"{len(self.echem):,} rows</small>")

    def _on_upload(self, change):
        files = change["new"]
        if not files:
            return
        try:
            self._app._guard("receiving the cycling file", self._receive, files[0])
        finally:
            self.upload.value = ()  # the same file chosen again is a new upload

    def _receive(self, item):
        from battlab.series import load_cycling

        app = self._app
        received = app._receive_upload(item, default_name="cycling",
                                       large_hint="Use the battlab command line (--echem) for large cycling files.")
        if received is None:
            return
        name, content = received
        echem = load_cycling(content, name=name, max_bytes=int(app.upload_limit_mb * 1e6) + 1)
        self.echem, self.uploaded, self.source = echem, True, name
        self._show()
        app.clear_error()
        self._on_change()
