"""Small-angle scattering and reflectometry app: SAXS/SANS fits and trends, Parratt layer fits."""

from __future__ import annotations

import html

import ipywidgets as w
import numpy as np
import pandas as pd

from battlab.apps._base import BaseApp, PlotPane, html_table
from battlab.apps._cycling import CyclingControls
from battlab.errors import InvalidParameterError, MissingDataError, UnsupportedFormatError

__all__ = ["ScatteringApp"]

_STYLE = {"description_width": "initial"}
_SAXS_QUANTITIES = [("R_g (Eq. 1)", "rg"), ("globule volume change", "volume"), ("A_Porod and A_globule", "amps"),
                    ("Porod constant K", "porod"), ("invariant", "invariant")]
_TREND_X = [("time (h)", "time"), ("potential (V)", "voltage_V"), ("capacity (mAh)", "capacity_mAh"),
            ("SOC", "soc")]
_SAXS_COLUMNS = [("curve", "curve", "{:d}"), ("voltage_V", "V", "{:.3f}"), ("soc", "SOC", "{:.2f}"),
                 ("A_Porod", "A_Porod", "{:.4g}"), ("A_globule", "A_globule", "{:.4g}"), ("R_g_A", "R_g (Å)", "{:.2f}"),
                 ("R_g_A_err", "±", "{:.2f}"), ("B_inc", "B_inc", "{:.4g}"), ("guinier_Rg_A", "Guinier R_g (Å)",
                                                                              "{:.2f}"),
                 ("porod_K", "Porod K", "{:.4g}"), ("volume_change_pct", "ΔV (%)", "{:+.1f}"),
                 ("A_Porod_ratio", "A_Porod/first", "{:.3f}"), ("chi2_red", "χ²_red", "{:.2f}")]
_LAYER_PARAMS = (("thickness_A", "thickness (Å)"), ("sld_1e-6_per_A2", "SLD (10⁻⁶ Å⁻²)"),
                 ("roughness_A", "roughness (Å)"))


def _as_series(curve):
    from battlab.scattering.io import stack_scattering

    if "time" in curve.dims:
        return curve
    stamp = curve.attrs.get("battlab", {}).get("start_time_utc") or "1970-01-01T00:00:00Z"
    series = stack_scattering([curve], times=[stamp])
    series.attrs["battlab"] = dict(curve.attrs.get("battlab", {}))
    return series


class LayerEditor:
    """Editable layer table: name, thickness, SLD, roughness, and which of them are fitted."""

    def __init__(self, *, on_change, guard):
        self._on_change = on_change
        self._guard = guard
        self._busy = False
        self.rows = []
        self.grid = w.VBox()
        self.add_button = w.Button(description="Add layer", icon="plus", tooltip="insert a layer above the backing")
        self.remove_button = w.Button(description="Remove layer", icon="minus",
                                      tooltip="remove the layer just above the backing")
        self.add_button.on_click(lambda _: guard("adding a layer", self._add))
        self.remove_button.on_click(lambda _: guard("removing a layer", self._remove))
        head = w.HTML("<small>rows from the fronting medium (top) to the backing (bottom); tick a box to fit that "
                      "value; roughness is that of the interface above the medium</small>")
        self.widget = w.VBox([head, self.grid, w.HBox([self.add_button, self.remove_button])])

    def set_layers(self, layers, free=()):
        from battlab.scattering.reflectometry import layer_table

        table = layer_table(layers)
        free = set(free)
        rows = []
        for i, rec in table.iterrows():
            edge = i in (0, len(table) - 1)
            name = w.Text(value=str(rec["name"]), layout=w.Layout(width="120px"))
            cells, ticks = {}, {}
            for col, label in _LAYER_PARAMS:
                value = float(rec[col]) if np.isfinite(rec[col]) else 0.0
                cells[col] = w.FloatText(value=value, layout=w.Layout(width="120px"))
                ticks[col] = w.Checkbox(value=f"{rec['name']}:{col}" in free, indent=False,
                                        layout=w.Layout(width="30px"), description="")
                if col == "thickness_A" and edge:
                    cells[col].disabled = ticks[col].disabled = True
                if col == "roughness_A" and i == 0:
                    cells[col].disabled = ticks[col].disabled = True
            for widget in [name, *cells.values(), *ticks.values()]:
                widget.observe(self._changed, "value")
            # Absorption (imaginary SLD, X-rays) is kept from a loaded table; it is not edited here.
            imag = float(rec.get("sld_imag_1e-6_per_A2", 0.0) or 0.0)
            rows.append({"name": name, "cells": cells, "ticks": ticks, "imag": imag})
        self._busy = True
        try:
            self.rows = rows
            header = w.HBox([w.HTML("<b>medium</b>", layout=w.Layout(width="120px"))]
                            + [w.HTML(f"<b>{html.escape(label)}</b> fit", layout=w.Layout(width="158px"))
                               for _, label in _LAYER_PARAMS])
            self.grid.children = [header] + [
                w.HBox([r["name"], *(w.HBox([r["cells"][c], r["ticks"][c]]) for c, _ in _LAYER_PARAMS)])
                for r in rows]
        finally:
            self._busy = False

    @property
    def layers(self) -> pd.DataFrame:
        from battlab.scattering.reflectometry import layer_table

        recs = []
        for i, r in enumerate(self.rows):
            rec = {"name": r["name"].value.strip() or f"layer{i}"}
            for col, _ in _LAYER_PARAMS:
                rec[col] = float(r["cells"][col].value)
            rec["sld_imag_1e-6_per_A2"] = r.get("imag", 0.0)
            recs.append(rec)
        return layer_table(pd.DataFrame(recs))

    @property
    def free(self) -> list:
        out = []
        for r in self.rows:
            for col, _ in _LAYER_PARAMS:
                if r["ticks"][col].value and not r["ticks"][col].disabled:
                    out.append(f"{r['name'].value.strip()}:{col}")
        return out

    def show_fit(self, layers):
        """Write fitted values into the cells without triggering a refit."""
        self._busy = True
        try:
            for r, (_, rec) in zip(self.rows, layers.iterrows(), strict=False):
                for col, _ in _LAYER_PARAMS:
                    if np.isfinite(rec[col]) and not r["cells"][col].disabled:
                        r["cells"][col].value = round(float(rec[col]), 4)
        finally:
            self._busy = False

    def _changed(self, _):
        if not self._busy:
            self._guard("updating the layer model", self._on_change)

    def _add(self):
        table = self.layers
        new = {"name": f"layer{len(table) - 1}", "thickness_A": 50.0, "sld_1e-6_per_A2": 3.0, "roughness_A": 5.0}
        table = pd.concat([table.iloc[:-1], pd.DataFrame([new]), table.iloc[-1:]], ignore_index=True)
        self.set_layers(table, self.free)
        self._on_change()

    def _remove(self):
        table = self.layers
        if len(table) <= 2:
            raise InvalidParameterError("the fronting medium and the backing cannot be removed.")
        self.set_layers(table.drop(index=len(table) - 2).reset_index(drop=True), self.free)
        self._on_change()


class ScatteringApp(BaseApp):
    """Small-angle scattering (SAXS/SANS) and reflectometry (neutron/X-ray) of electrodes.

    SAXS/SANS: I(q) with the seed's Eq. (1) (A_Porod, A_globule, R_g, B_inc), Guinier and
    Porod plots, optional background subtraction (transmissions, thickness, calibration),
    and the per-curve fits against time, potential or SOC: swelling and fracture.
    Reflectometry: R(q) (R·q⁴ or log R) with the Parratt model of an editable layer table,
    the SLD depth profile, and fits of the ticked parameters for one curve or every curve
    (thickness and SLD of the SEI against potential).

    Parameters
    ----------
    data : DataArray, optional
        An I(q) or R(q) curve or series (:mod:`battlab.scattering`); the demos otherwise.
    echem : DataFrame, optional
        Canonical cycling table of the cell (a demo brings its own).
    """

    title = "Small-angle scattering and reflectometry"
    intro = ("SAXS/SANS curves fitted with the Porod + globule model, Guinier and Porod analyses and their trends "
             "over the cycle; neutron or X-ray reflectivity fitted with a layer model to follow the SEI.")
    accept = ".dat,.txt,.csv,.abs,.tsv,.ort,.refl"
    data_kind = "saxs"

    def __init__(self, data=None, *, echem: pd.DataFrame | None = None, **kw):
        self._given_echem = echem
        self.saxs = None
        self.saxs_background = None
        self.saxs_table = None
        self.saxs_fit = None
        self.guinier = None
        self.porod = None
        self.refl = None
        self.refl_table = None
        self.refl_fit = None
        self.refl_fits = []
        self._busy = False
        self._refl_echem = None
        self._saxs_echem = None
        self.reduced = None
        super().__init__(data, **kw)
        if self.refl is None:
            self._guard("building the reflectometry demo", self._load_refl_demo)
            if self.source_label:
                self.set_status(f"{self.source_label} — {self.describe_data()}")

    def demos(self):
        from battlab.datasets.scattering import make_reflectivity_series, make_saxs_reduction, make_saxs_series

        return {"SANS: anode swelling and fracture over a cycle (Eq. 1)": make_saxs_series,
                "SAXS: raw sample + empty cell (reduction, Guinier, Porod)": make_saxs_reduction,
                "Neutron reflectometry: SEI growing on Cu with potential":
                    lambda: make_reflectivity_series(n_curves=10)}

    def _load_refl_demo(self):
        from battlab.datasets.scattering import make_reflectivity_series

        demo = make_reflectivity_series(n_curves=10)
        self._set_refl(demo.data, truth=demo.truth)

    # --- controls --------------------------------------------------------------------
    def _build_controls(self):
        # SAXS/SANS
        self.saxs_curve = w.IntSlider(value=0, min=0, max=0, description="Curve", continuous_update=False,
                                      style=_STYLE, layout=w.Layout(width="420px"))
        self.saxs_curve_label = w.HTML()
        self.q_min = w.BoundedFloatText(value=0.0, min=0.0, max=10.0, step=0.001, description="q min (Å⁻¹)",
                                        style=_STYLE, layout=w.Layout(width="200px"))
        self.q_max = w.BoundedFloatText(value=10.0, min=0.0, max=10.0, step=0.01, description="q max (Å⁻¹)",
                                        style=_STYLE, layout=w.Layout(width="200px"))
        self.contrast = w.BoundedFloatText(value=3.0, min=0.0, max=200.0, step=0.1, description="contrast Δρ "
                                           "(10⁻⁶ Å⁻², 0 = none)", style=_STYLE, layout=w.Layout(width="280px"))
        self.fix_background = w.Checkbox(value=False, description="fix B_inc at", indent=False,
                                         layout=w.Layout(width="110px"))
        self.background_value = w.FloatText(value=0.0, layout=w.Layout(width="100px"))
        self.use_background = w.Checkbox(value=False, description="subtract background (empty cell)", indent=False)
        self.sample_T = w.BoundedFloatText(value=1.0, min=0.001, max=1.0, step=0.01, description="T sample",
                                           style=_STYLE, layout=w.Layout(width="160px"))
        self.background_T = w.BoundedFloatText(value=1.0, min=0.001, max=1.0, step=0.01, description="T background",
                                               style=_STYLE, layout=w.Layout(width="180px"))
        self.thickness_cm = w.BoundedFloatText(value=0.1, min=1e-5, max=10.0, step=0.01, description="thickness (cm)",
                                               style=_STYLE, layout=w.Layout(width="190px"))
        self.calibration = w.BoundedFloatText(value=1.0, min=1e-12, max=1e12, description="calibration",
                                              style=_STYLE, layout=w.Layout(width="190px"))
        self.background_upload = self._upload_button(accept=".dat,.txt,.csv,.abs,.tsv",
                                              description="Background file")
        self.background_info = w.HTML("<small>no background curve</small>")
        self._observe_upload(self.background_upload, self._load_background, default_name="background")
        self.saxs_quantity = w.Dropdown(options=_SAXS_QUANTITIES, value="rg", description="Trend", style=_STYLE,
                                        layout=w.Layout(width="300px"))
        self.trend_x = w.Dropdown(options=_TREND_X, value="time", description="against", style=_STYLE,
                                  layout=w.Layout(width="220px"))
        self.cycling = CyclingControls(self, on_change=self._analyse_all, on_axis=lambda: None,
                                       echem=self._given_echem)
        self.cycling.x_axis.layout.display = "none"  # the trend plots have their own x-axis choice

        refit = lambda _: self._guard("fitting the SAXS/SANS curves", self._analyse_saxs)  # noqa: E731
        for widget in (self.q_min, self.q_max, self.contrast, self.fix_background, self.use_background):
            widget.observe(refit, "value")
        # Values that only matter when their switch is on refit only then.
        self.background_value.observe(lambda c: refit(c) if self.fix_background.value else None, "value")
        for widget in (self.sample_T, self.background_T, self.thickness_cm, self.calibration):
            widget.observe(lambda c: refit(c) if self.use_background.value else None, "value")
        self.saxs_curve.observe(lambda _: self._guard("showing the curve", self._draw_saxs_curve), "value")
        self.saxs_quantity.observe(lambda _: self._guard("plotting the trend", self._draw_saxs_trend), "value")
        self.trend_x.observe(lambda _: self._guard("plotting the trends", self._draw_trends), "value")

        self.iq_plot = PlotPane(min_height_px=380)
        self.guinier_plot = PlotPane(min_height_px=320)
        self.porod_plot = PlotPane(min_height_px=320)
        self.saxs_trend_plot = PlotPane(min_height_px=280)
        reduction = w.VBox([w.HBox([self.use_background, self.background_upload, self.background_info]),
                            w.HBox([self.sample_T, self.background_T, self.thickness_cm, self.calibration])])
        saxs_box = w.VBox([
            w.HBox([self.saxs_curve, self.saxs_curve_label]),
            w.HBox([self.q_min, self.q_max, self.contrast]),
            w.HBox([self.fix_background, self.background_value]),
            reduction,
            self.iq_plot.widget,
            w.HBox([self.guinier_plot.widget, self.porod_plot.widget]),
            w.HBox([self.saxs_quantity]),
            self.saxs_trend_plot.widget,
        ])

        # Reflectometry
        self.refl_curve = w.IntSlider(value=0, min=0, max=0, description="Curve", continuous_update=False,
                                      style=_STYLE, layout=w.Layout(width="420px"))
        self.refl_curve_label = w.HTML()
        self.layer_editor = LayerEditor(on_change=self._layers_changed, guard=self._guard)
        self.resolution = w.BoundedFloatText(value=5.0, min=0.0, max=30.0, step=0.5,
                                             description="dq/q FWHM (%) if no dq column", style=_STYLE,
                                             layout=w.Layout(width="300px"))
        self.refl_scale = w.BoundedFloatText(value=1.0, min=1e-6, max=1e6, description="scale", style=_STYLE,
                                             layout=w.Layout(width="160px"))
        self.refl_background = w.BoundedFloatText(value=0.0, min=0.0, max=1.0, step=1e-7, description="background",
                                                  style=_STYLE, layout=w.Layout(width="200px"))
        self.refl_view = w.ToggleButtons(options=[("R·q⁴", "rq4"), ("log R", "log")], value="rq4",
                                         description="View", style=_STYLE)
        self.fit_button = w.Button(description="Fit this curve", icon="play", button_style="primary")
        self.fit_all_button = w.Button(description="Fit every curve", icon="forward")
        self.fit_info = w.HTML()
        self.layers_upload = self._upload_button(accept=".csv", description="Layer table (CSV)")
        self._observe_upload(self.layers_upload, self._load_layers, default_name="layers.csv")
        self.fit_button.on_click(lambda _: self._guard("fitting the curve", self._fit_current))
        self.fit_all_button.on_click(lambda _: self._guard("fitting every curve", self._fit_series))
        self.refl_curve.observe(lambda _: self._guard("showing the curve", self._refl_curve_changed), "value")
        self.refl_view.observe(lambda _: self._guard("drawing the curve", self._draw_refl_curve), "value")
        for widget in (self.resolution, self.refl_scale, self.refl_background):
            widget.observe(lambda _: self._guard("updating the model", self._draw_refl_curve), "value")
        self.rq_plot = PlotPane(min_height_px=380)
        self.sld_plot = PlotPane(min_height_px=360)
        self.refl_trend_plot = PlotPane(min_height_px=280)
        refl_box = w.VBox([
            w.HBox([self.refl_curve, self.refl_curve_label]),
            self.layer_editor.widget,
            w.HBox([self.layers_upload, self.resolution, self.refl_scale, self.refl_background]),
            w.HBox([self.fit_button, self.fit_all_button, self.fit_info]),
            self.refl_view,
            w.HBox([self.rq_plot.widget, self.sld_plot.widget]),
            self.refl_trend_plot.widget,
        ])
        self.tabs = w.Tab(children=[saxs_box, refl_box])
        self.tabs.set_title(0, "SAXS/SANS")
        self.tabs.set_title(1, "Reflectometry")
        self.tabs.observe(lambda _: self._guard("switching tabs", self._tab_changed), "selected_index")
        return [self.cycling.widget, w.HBox([self.trend_x]), self.tabs]

    # --- data ------------------------------------------------------------------------
    def _load_bytes(self, data: bytes, name: str):
        """I(q) or R(q): the file's header decides; without one, the open tab does."""
        from battlab.io.registry import _as_source, detect
        from battlab.scattering.io import read_reflectivity, read_saxs

        src = _as_source(data, name, int(self.upload_limit_mb * 1e6) + 1)
        self.set_status(f"Reading {name}…")
        try:
            kind = detect(src).kind
        except UnsupportedFormatError:
            kind = None
        if kind not in (None, "saxs", "reflectivity"):
            raise UnsupportedFormatError(f"{name} is not a scattering or reflectivity curve (it looks like "
                                         f"{kind} data); open it in the app for that technique.")
        if kind is None:
            kind = "reflectivity" if self.tabs.selected_index == 1 else "saxs"
        curve = read_reflectivity(src) if kind == "reflectivity" else read_saxs(src)
        self._accept_data(curve, name)

    def _load_server_file(self, path):
        """A file on the server goes the same way as an upload (I(q) or R(q) decided by its header)."""
        resolved = self._confined_path(path)
        if resolved is not None:
            self._guard(f"reading {resolved.name}", lambda: self._load_bytes(resolved.read_bytes(), resolved.name))

    def _set_data(self, data, label, truth=None):
        if not hasattr(data, "dims") or "q_inv_A" not in data.dims:
            raise InvalidParameterError("the scattering app needs an I(q) or R(q) curve (battlab.scattering).")
        if data.name == "reflectivity":
            self._set_refl(data, truth=truth)
            self.tabs.selected_index = 1
        else:
            self._set_saxs(data, truth=truth)
            self.tabs.selected_index = 0

    def _set_saxs(self, data, truth=None):
        truth = truth or {}
        self.saxs = _as_series(data)
        self.cycling.for_new_data(truth if truth else None)
        self.saxs_background = truth.get("background")
        self._busy = True
        try:
            q = self.saxs["q_inv_A"].to_numpy()
            self.q_min.value, self.q_max.value = 0.0, 10.0
            self.q_min.step = self.q_max.step = float(10 ** np.floor(np.log10(q.min())))
            self.saxs_curve.max = self.saxs.sizes["time"] - 1
            self.saxs_curve.value = 0
            self.saxs_curve.layout.display = "" if self.saxs.sizes["time"] > 1 else "none"
            if "contrast_1e6_per_A2" in truth:
                self.contrast.value = float(truth["contrast_1e6_per_A2"])
            if self.saxs_background is not None:
                self.use_background.value = True
                self.sample_T.value = float(truth.get("sample_transmission", 1.0))
                self.background_T.value = float(truth.get("background_transmission", 1.0))
                self.thickness_cm.value = float(truth.get("thickness_cm", 0.1))
                self.calibration.value = float(truth.get("calibration_factor", 1.0))
                self.background_info.value = "<small>background: the demo's empty cell</small>"
            else:
                self.use_background.value = False
                self.background_info.value = "<small>no background curve</small>"
        finally:
            self._busy = False
        self._analyse_saxs()

    def _set_refl(self, data, truth=None):
        from battlab.scattering.reflectometry import layer_table

        truth = truth or {}
        self.refl = _as_series(data)
        self._refl_echem = truth.get("echem", self._given_echem)
        self._busy = True
        try:
            if "layers" in truth:
                self.layer_editor.set_layers(truth["layers"], truth.get("free", ()))
                self.refl_background.value = float(truth.get("background", 0.0))
                self.resolution.value = float(truth.get("resolution_pct", 5.0))
            elif not self.layer_editor.rows:
                # A first guess for a bare file: a film on Si in air, its thickness and SLD free.
                self.layer_editor.set_layers(layer_table([("air", 0, 0.0, 0), ("film", 100.0, 3.0, 5.0),
                                                          ("Si", 0, 2.07, 3.0)]),
                                             ("film:thickness_A", "film:sld_1e-6_per_A2"))
            self.refl_curve.max = self.refl.sizes["time"] - 1
            self.refl_curve.value = 0
            self.refl_curve.layout.display = "" if self.refl.sizes["time"] > 1 else "none"
        finally:
            self._busy = False
        self.refl_fits, self.refl_fit, self.refl_table = [], None, None
        self._fit_series()

    def _load_background(self, content: bytes, name: str):
        from battlab.io.registry import _as_source
        from battlab.scattering.io import read_saxs

        self.saxs_background = read_saxs(_as_source(content, name, int(self.upload_limit_mb * 1e6) + 1))
        self.background_info.value = f"<small>background: {html.escape(name)}</small>"
        self.use_background.value = True  # observers refit
        self._analyse_saxs()

    def _load_layers(self, content: bytes, name: str):
        import io

        from battlab.scattering.reflectometry import layer_table

        try:
            table = pd.read_csv(io.BytesIO(content), comment="#", skipinitialspace=True)
        except (pd.errors.ParserError, UnicodeDecodeError, pd.errors.EmptyDataError) as exc:
            raise InvalidParameterError(f"{name}: not a readable CSV layer table ({exc}).") from None
        table.columns = [str(c).strip() for c in table.columns]
        self.layer_editor.set_layers(layer_table(table), self.layer_editor.free)
        self._layers_changed()

    def describe_data(self):
        parts = []
        if self.saxs is not None:
            q = self.saxs["q_inv_A"].to_numpy()
            n = self.saxs.sizes["time"]
            parts.append(f"{self.saxs.attrs.get('technique', 'saxs').upper()}: {n} curve{'s' if n != 1 else ''}, "
                         f"q {q.min():.3g}–{q.max():.3g} Å⁻¹")
        if self.refl is not None:
            n = self.refl.sizes["time"]
            parts.append(f"reflectivity: {n} curve{'s' if n != 1 else ''}")
        return "; ".join(parts)

    # --- SAXS analysis ---------------------------------------------------------------
    def _saxs_curves(self):
        """The series after the optional background subtraction (curve by curve)."""
        from battlab.scattering.io import stack_scattering
        from battlab.scattering.saxs import reduce_saxs

        if not (self.use_background.value and self.saxs_background is not None):
            return self.saxs
        curves = [reduce_saxs(self.saxs.isel(time=i), background=self.saxs_background,
                              sample_transmission=self.sample_T.value, background_transmission=self.background_T.value,
                              thickness_cm=self.thickness_cm.value, calibration_factor=self.calibration.value)
                  for i in range(self.saxs.sizes["time"])]
        series = stack_scattering(curves, times=list(self.saxs["time"].to_numpy()))
        series.attrs["battlab"] = dict(self.saxs.attrs.get("battlab", {}))
        return series

    def _q_range(self):
        lo = self.q_min.value or None
        hi = self.q_max.value if self.q_max.value < 10.0 else None
        return lo, hi

    def _analyse_saxs(self):
        if self._busy or self.saxs is None:
            return
        from battlab.scattering.saxs import fit_saxs_series

        series = self._saxs_curves()
        lo, hi = self._q_range()
        echem = self.cycling.usable(series)
        fixed = {"B_inc": float(self.background_value.value)} if self.fix_background.value else None
        self.reduced = series
        self.saxs_table = fit_saxs_series(series, echem=echem, clock_offset_s=self.cycling.offset_s,
                                          q_min_inv_A=lo, q_max_inv_A=hi,
                                          contrast_1e6_per_A2=self.contrast.value or None, fixed=fixed)
        self._saxs_echem = echem
        self._draw_saxs_curve()
        self._draw_saxs_trend()
        self._show_table()

    def _analyse_all(self):
        self._analyse_saxs()
        self._draw_refl_trend()

    def _draw_saxs_curve(self):
        if self.saxs_table is None or self._busy:
            return
        from battlab.errors import BattlabError
        from battlab.plot.scattering import guinier_plot, intensity_plot, porod_plot
        from battlab.scattering.saxs import GLOBULE_PARAMETERS, fit_guinier, fit_porod, globule_model, mask_q

        i = int(self.saxs_curve.value)
        curve = self.reduced.isel(time=i)
        lo, hi = self._q_range()
        if lo is not None or hi is not None:
            curve = mask_q(curve, q_min_inv_A=lo, q_max_inv_A=hi)
        row = self.saxs_table.iloc[i]
        q = curve["q_inv_A"].to_numpy()
        params = {k: float(row[k]) for k in GLOBULE_PARAMETERS if k in row and np.isfinite(row[k])}
        model = comps = None
        if len(params) == 4:
            parts = globule_model(q, **params, components=True)
            model = (q, parts["total"])
            comps = {"Porod": (q, parts["Porod"]), "globule": (q, parts["globule"]),
                     "background": (q, parts["background"])}
        bg = params.get("B_inc", 0.0)
        try:
            sub = curve - (params.get("A_Porod", 0.0) * q ** -4.0 if len(params) == 4 else 0.0)
            sub.attrs = curve.attrs
            self.guinier = fit_guinier(sub - bg)
        except BattlabError:
            self.guinier = None
        try:
            self.porod = fit_porod(curve, contrast_1e6_per_A2=self.contrast.value or None)
        except BattlabError:
            self.porod = None
        self.saxs_fit = params
        state = CyclingControls.state_text(self._echem_rows(self.saxs_table), i)
        self.saxs_curve_label.value = (f"<small>curve {i}{html.escape(state)}; R_g = {params.get('R_g_A', np.nan):.1f} Å"
                                       "</small>")
        self.iq_plot.update(intensity_plot(
            curve, model=model, components=comps,
            guinier_range=(self.guinier.q_min_inv_A, self.guinier.q_max_inv_A) if self.guinier else None,
            porod_range=(self.porod.q_min_inv_A, self.porod.q_max_inv_A) if self.porod else None,
            title=f"I(q), curve {i}: Eq. (1) fit"))
        glob_only = curve - ((params.get("A_Porod", 0.0) * q ** -4.0) if len(params) == 4 else 0.0) - bg
        self.guinier_plot.update(guinier_plot(glob_only, self.guinier))
        self.porod_plot.update(porod_plot(curve, self.porod))

    @staticmethod
    def _echem_rows(table):
        if table is None or "voltage_V" not in table:
            return None
        return table[["curve", "voltage_V", "capacity_mAh", "soc"]]

    def _draw_saxs_trend(self):
        if self.saxs_table is None:
            return
        from battlab.plot.scattering import trend_plot

        t = self.saxs_table
        x = self.trend_x.value
        which = self.saxs_quantity.value
        if which == "rg":
            fig = trend_plot(t, {"R_g_A": "R_g (Eq. 1)", "guinier_Rg_A": "Guinier R_g"}, x=x, ylabel="R_g (Å)",
                             title="Globule size")
        elif which == "volume":
            fig = trend_plot(t, {"volume_change_pct": "ΔV/V₀ from R_g³"}, x=x, ylabel="Volume change (%)",
                             title="Swelling of the globules")
        elif which == "amps":
            fig = trend_plot(t, {"A_Porod_ratio": "A_Porod / first", "A_globule_ratio": "A_globule / first"},
                             x=x, ylabel="relative amplitude", title="Surface (A_Porod) and globules (A_globule)")
        elif which == "porod":
            fig = trend_plot(t, {"porod_K": "Porod K"}, x=x, ylabel="K", title="Porod constant", logy=True)
        else:
            fig = trend_plot(t, {"invariant": "Q"}, x=x, ylabel="invariant Q", title="Scattering invariant")
        self.saxs_trend_plot.update(fig)

    # --- reflectometry ---------------------------------------------------------------
    def _refl_options(self):
        return {"scale": float(self.refl_scale.value), "background": float(self.refl_background.value),
                "resolution_pct": float(self.resolution.value) or None}

    def _fit_current(self):
        from battlab.scattering.reflectometry import fit_reflectivity

        if self.refl is None:
            raise MissingDataError("no reflectivity curve loaded.")
        free = self.layer_editor.free
        if not free:
            raise InvalidParameterError("tick at least one value in the layer table to fit.")
        i = int(self.refl_curve.value)
        fit = fit_reflectivity(self.refl.isel(time=i), self.layer_editor.layers, free=free, **self._refl_options())
        self.refl_fit = fit
        self.layer_editor.show_fit(fit.layers)
        self.fit_info.value = (f"<small>curve {i}: χ²_red = {fit.reduced_chi_squared:.2f}"
                               + "".join(f"; {html.escape(n)}" for n in fit.notes) + "</small>")
        self._draw_refl_curve()
        self._show_table()

    def _fit_series(self):
        from battlab.scattering.reflectometry import fit_reflectivity_series

        if self.refl is None:
            return
        free = self.layer_editor.free
        if not free:
            self.fit_info.value = "<small>tick values in the layer table, then fit</small>"
            self._draw_refl_curve()
            return
        echem = self._refl_echem
        if echem is None:
            echem = self.cycling.usable(self.refl)
        table, fits = fit_reflectivity_series(self.refl, self.layer_editor.layers, free=free, echem=echem,
                                              clock_offset_s=self.cycling.offset_s, **self._refl_options())
        self.refl_table, self.refl_fits = table, fits
        i = int(self.refl_curve.value)
        self.refl_fit = fits[i] if i < len(fits) else None
        if self.refl_fit is not None:
            self.layer_editor.show_fit(self.refl_fit.layers)
        notes = table.attrs.get("notes", [])
        self.fit_info.value = (f"<small>{sum(f is not None for f in fits)} of {len(fits)} curves fitted"
                               + "".join(f"; {html.escape(n)}" for n in notes[:3]) + "</small>")
        self._draw_refl_curve()
        self._draw_refl_trend()
        self._show_table()

    def _refl_curve_changed(self):
        i = int(self.refl_curve.value)
        if self.refl_fits and i < len(self.refl_fits) and self.refl_fits[i] is not None:
            self.refl_fit = self.refl_fits[i]  # the series fit of this curve
            self.layer_editor.show_fit(self.refl_fit.layers)
        self._draw_refl_curve()

    def _layers_changed(self):
        self.refl_fit = None  # the drawn model is now the edited table, not a fit
        self._draw_refl_curve()

    def _draw_refl_curve(self):
        if self.refl is None or self._busy:
            return
        from battlab.plot.scattering import reflectivity_plot, sld_profile_plot
        from battlab.scattering.reflectometry import reflectivity, sld_profile

        i = int(self.refl_curve.value)
        curve = self.refl.isel(time=i)
        q = curve["q_inv_A"].to_numpy()
        dq = curve["dq_inv_A"].to_numpy()
        layers = self.refl_fit.layers if self.refl_fit is not None else self.layer_editor.layers
        opts = self._refl_options()
        if self.refl_fit is not None:
            opts.update(scale=self.refl_fit.scale, background=self.refl_fit.background)
        model = reflectivity(q, layers, dq_inv_A=dq if np.isfinite(dq).any() else None, **opts)
        what = "fit" if self.refl_fit is not None else "layer table"
        row = self.refl_table[self.refl_table["curve"] == i] if self.refl_table is not None else None
        pot = f" · {row['potential_V'].iloc[0]:.3f} V" if row is not None and len(row) and "potential_V" in row \
            and np.isfinite(row["potential_V"].iloc[0]) else ""
        self.refl_curve_label.value = f"<small>curve {i}{pot}; model: {what}</small>"
        self.rq_plot.update(reflectivity_plot(curve, model=(q, model), mode=self.refl_view.value,
                                              title=f"R(q), curve {i} ({what})"))
        profiles = {f"curve {i}": sld_profile(layers)}
        if self.refl_fits and self.refl_fits[0] is not None and i != 0:
            profiles = {"curve 0": sld_profile(self.refl_fits[0].layers), **profiles}
        self.sld_plot.update(sld_profile_plot(profiles))

    def _draw_refl_trend(self):
        from battlab.plot.scattering import trend_plot

        if self.refl_table is None:
            return
        x = self.trend_x.value
        if x == "voltage_V":
            x = "potential_V"
        cols = {c: c.replace("_1e-6_per_A2", " SLD").replace("_A", " (Å)") for c in self.refl_table.columns
                if ":" in c and not c.endswith("_err")}
        thick = {c: v for c, v in cols.items() if c.endswith(":thickness_A")}
        self.refl_trend_plot.update(trend_plot(self.refl_table, thick or cols, x=x, ylabel="fitted value",
                                               title="Fitted layer parameters"))

    def _draw_trends(self):
        self._draw_saxs_trend()
        self._draw_refl_trend()

    def _tab_changed(self):
        # Bokeh figures are re-rendered once their tab is visible, so they size themselves.
        if self.tabs.selected_index == 1:
            self._draw_refl_curve()
            self._draw_refl_trend()
        else:
            self._draw_saxs_curve()
            self._draw_saxs_trend()
        self._show_table()

    # --- results ---------------------------------------------------------------------
    def _show_table(self):
        if self.tabs.selected_index == 1 and self.refl_table is not None:
            t = self.refl_table
            cols = [("curve", "curve", "{:d}"), ("potential_V", "V", "{:.3f}")]
            for c in t.columns:
                if ":" in c and not c.endswith("_err"):
                    cols += [(c, c, "{:.3f}"), (f"{c}_err", "±", "{:.3f}")]
            cols.append(("chi2_red", "χ²_red", "{:.2f}"))
            self.table.value = html_table(t, cols)
        elif self.saxs_table is not None:
            self.table.value = html_table(self.saxs_table, _SAXS_COLUMNS)

    def _results(self):
        out = {}
        if self.saxs_table is not None:
            out["saxs_fits"] = self.saxs_table
        if self.refl_table is not None:
            out["reflectivity_fits"] = self.refl_table
        if self.refl_fit is not None:
            out["fitted_layers"] = self.refl_fit.layers
            from battlab.scattering.reflectometry import sld_profile

            out["sld_profile"] = sld_profile(self.refl_fit.layers)
        out["layer_table"] = self.layer_editor.layers
        if not out:
            raise MissingDataError("nothing analysed yet.")
        return out

    def _figures(self):
        panes = {"intensity": self.iq_plot, "guinier": self.guinier_plot, "porod": self.porod_plot,
                 "saxs_trend": self.saxs_trend_plot, "reflectivity": self.rq_plot, "sld_profile": self.sld_plot,
                 "reflectivity_trend": self.refl_trend_plot}
        return {name: pane.object for name, pane in panes.items() if pane.object is not None}

    def _provenance(self):
        from battlab.provenance import Provenance

        lo, hi = self._q_range()
        params = {"source": self.source_label,
                  "saxs": {"q_min_inv_A": lo, "q_max_inv_A": hi, "contrast_1e6_per_A2": self.contrast.value or None,
                           "fixed_B_inc": float(self.background_value.value) if self.fix_background.value else None,
                           "background_subtracted": bool(self.use_background.value and
                                                         self.saxs_background is not None),
                           "sample_transmission": self.sample_T.value,
                           "background_transmission": self.background_T.value,
                           "thickness_cm": self.thickness_cm.value, "calibration_factor": self.calibration.value,
                           "model": "seed Eq. (1) + B_inc"},
                  "reflectometry": {"layers": self.layer_editor.layers.to_dict("records"),
                                    "free": self.layer_editor.free, **self._refl_options(),
                                    "residuals": "log10 R weighted by dR"},
                  "trend_x": self.trend_x.value}
        first = self.saxs.isel(time=0) if self.saxs is not None else self.refl.isel(time=0)
        prov = Provenance.for_data("battlab.apps.ScatteringApp", first, params)
        if self.saxs is not None and self.refl is not None:
            ref = Provenance.for_data("", self.refl.isel(time=0), {})
            prov.inputs += ref.inputs
        return prov
