"""GITT / PITT app: pulse detection, Weppner–Huggins and √t-fit D, OCV, PITT decay fits."""

from __future__ import annotations

import html

import ipywidgets as w

from battlab.apps._base import BaseApp, PlotPane, html_table
from battlab.echem import gitt
from battlab.errors import MissingDataError

__all__ = ["GITTApp"]

_GITT_COLUMNS = [
    ("pulse", "pulse", "{:d}"), ("x_mid", "x", "{:.4f}"), ("soc_end", "SOC end", "{:.3f}"),
    ("current_A", "I (mA)", "{:.4g}"), ("tau_s", "τ (s)", "{:.1f}"), ("ocv_V", "OCV (V)", "{:.4f}"),
    ("delta_Es_V", "ΔEs (mV)", "{:.3f}"), ("delta_Et_V", "ΔEt (mV)", "{:.3f}"),
    ("resistance_start_ohm", "R (Ω)", "{:.3g}"), ("diffusion_coefficient_cm2_s", "D WH (cm²/s)", "{:.3e}"),
    ("diffusion_coefficient_L_cm2_s", "D WH-L (cm²/s)", "{:.3e}"),
    ("diffusion_coefficient_sqrt_t_cm2_s", "D √t (cm²/s)", "{:.3e}"), ("flags", "flags", "{}"),
]
_PITT_COLUMNS = [
    ("step", "step", "{:d}"), ("potential_V", "E (V)", "{:.4f}"), ("step_V", "ΔE (mV)", "{:.2f}"),
    ("duration_s", "duration (s)", "{:.0f}"), ("charge_mAh", "Q (mAh)", "{:.4g}"),
    ("decay_rate_1_s", "decay rate (1/s)", "{:.4g}"), ("diffusion_coefficient_cm2_s", "D (cm²/s)", "{:.3e}"),
    ("flags", "flags", "{}"),
]
_SCALE = {"current_A": 1e3, "delta_Es_V": 1e3, "delta_Et_V": 1e3, "step_V": 1e3}


class GITTApp(BaseApp):
    """Galvanostatic (GITT) and potentiostatic (PITT) intermittent titration.

    Parameters
    ----------
    data : DataFrame, optional
        A canonical table (``battlab.load(path)``); the GITT demo film otherwise.
    mass_mg, molar_mass_g_mol, molar_volume_cm3_mol, area_cm2, thickness_um : float, optional
        Initial geometry/material inputs (0 = not set). They change D by orders of
        magnitude, so they are never defaulted.
    """

    title = "GITT and PITT"
    intro = ("Finds current pulses and rests (or potential steps) by itself, then gives ΔEs, ΔEt, IR drop, the "
             "OCV curve and the diffusion coefficient per pulse (Weppner–Huggins and √t fit; PITT: long-time "
             "current decay). Pulses that break the method's assumptions are flagged.")
    accept = ".mpt,.mpr,.csv,.tsv,.txt,.xlsx,.dta"

    def __init__(self, data=None, *, mass_mg=None, molar_mass_g_mol=None, molar_volume_cm3_mol=None,
                 area_cm2=None, thickness_um=None, **kw):
        self._initial = {"mass": mass_mg, "molar_mass": molar_mass_g_mol, "molar_volume": molar_volume_cm3_mol,
                         "area": area_cm2, "thickness": thickness_um}
        self.data = None
        self.results = None
        self.steps = None
        self.ocv = None
        self.truth = None
        self.technique = "GITT"
        self._updating = False
        super().__init__(data, **kw)

    def demos(self):
        from battlab.datasets import make_gitt, make_pitt

        return {"GITT: thin film with known D(x) (190 pulses)": make_gitt,
                "PITT: thin film, 20 steps of 10 mV, known D": make_pitt}

    # --- controls --------------------------------------------------------------------
    def _build_controls(self):
        style = {"description_width": "initial"}
        lay = w.Layout(width="260px")

        def num(key, label, mx):
            return w.BoundedFloatText(value=self._initial[key] or 0.0, min=0.0, max=mx, description=label,
                                      style=style, layout=lay)

        self.mass = num("mass", "Active mass m_B (mg)", 1e6)
        self.molar_mass = num("molar_mass", "Molar mass M_B (g/mol)", 1e5)
        self.molar_volume = num("molar_volume", "Molar volume V_M (cm³/mol)", 1e5)
        self.area = num("area", "Area S (cm²)", 1e5)
        self.thickness = num("thickness", "Thickness L (µm, 0 = not set)", 1e5)
        self.x_initial = w.FloatText(value=0.0, description="x before 1st pulse", style=style, layout=lay)
        self.geometry_note = w.HTML()
        self.fit_window = w.FloatRangeSlider(value=(0.1, 0.9), min=0.0, max=1.0, step=0.05,
                                             description="Fit window (fraction of pulse)", style=style,
                                             continuous_update=False, layout=w.Layout(width="460px"))
        self.pulse = w.IntSlider(value=1, min=1, max=1, description="Pulse", style=style,
                                 continuous_update=False, layout=w.Layout(width="460px"))
        self.x_axis = w.ToggleButtons(options=["x", "SOC"], value="x", description="D and OCV against",
                                      style=style)
        for widget in (self.mass, self.molar_mass, self.molar_volume, self.area, self.thickness, self.x_initial,
                       self.fit_window):
            widget.observe(lambda _: self._guard("updating the analysis", self._analyse), "value")
        self.pulse.observe(lambda _: self._guard("updating the pulse view", self._update_zoom), "value")
        self.x_axis.observe(lambda _: self._guard("updating the plots", self._update_plots), "value")
        return [w.HBox([self.mass, self.molar_mass, self.molar_volume]),
                w.HBox([self.area, self.thickness, self.x_initial]), self.geometry_note,
                w.HBox([self.fit_window, self.pulse]), self.x_axis]

    def _plot_area(self):
        self.train_plot = PlotPane()
        self.zoom_plot = PlotPane()
        self.d_plot = PlotPane()
        self.ocv_plot = PlotPane()
        return w.VBox([self.train_plot.widget, w.HBox([self.zoom_plot.widget, self.d_plot.widget]),
                       self.ocv_plot.widget])

    # --- parameters ------------------------------------------------------------------
    def geometry(self) -> dict:
        """The material/geometry inputs, None where not set (0)."""
        return {"mass_mg": self.mass.value or None, "molar_mass_g_mol": self.molar_mass.value or None,
                "molar_volume_cm3_mol": self.molar_volume.value or None, "area_cm2": self.area.value or None,
                "thickness_um": self.thickness.value or None}

    def _missing_geometry(self):
        g = self.geometry()
        names = {"mass_mg": "active mass", "molar_mass_g_mol": "molar mass", "molar_volume_cm3_mol": "molar volume",
                 "area_cm2": "area"}
        missing = [label for key, label in names.items() if g[key] is None]
        if self.technique == "PITT":
            return [] if g["thickness_um"] or not missing else missing + ["(or the thickness)"]
        if not missing or g["thickness_um"]:
            return [] if not missing else [m for m in missing if m in ("active mass", "molar mass")]
        return missing

    # --- data ------------------------------------------------------------------------
    def _set_data(self, data, label, truth=None):
        technique = "PITT" if truth and "steps" in truth else "GITT"
        if not truth:
            try:
                gitt.find_pulses(data)
            except MissingDataError as gitt_error:
                try:
                    gitt.find_potential_steps(data)
                except MissingDataError:
                    raise MissingDataError(f"{label}: {gitt_error}") from None
                technique = "PITT"
        self.data, self.truth, self.technique = data, truth, technique
        self._updating = True
        try:
            if truth:
                # A demo brings its own geometry, except where the caller gave a value.
                for key, widget, field in (("mass", self.mass, "active_mass_mg"),
                                           ("molar_mass", self.molar_mass, "molar_mass_g_mol"),
                                           ("molar_volume", self.molar_volume, "molar_volume_cm3_mol"),
                                           ("area", self.area, "area_cm2"),
                                           ("thickness", self.thickness, "thickness_um")):
                    if self._initial[key] is None:
                        widget.value = truth.get(field, 0.0)
                self.x_initial.value = truth.get("x_initial", 0.0) if technique == "GITT" else 0.0
            self.fit_window.value = (0.1, 0.9) if technique == "GITT" else (0.4, 0.9)
            self.fit_window.description = ("Fit window (fraction of pulse)" if technique == "GITT"
                                           else "Fit window (fraction of step)")
            self.pulse.description = "Pulse" if technique == "GITT" else "Step"
        finally:
            self._updating = False
        self._analyse()

    def describe_data(self):
        if self.technique == "PITT" and self.steps is not None:
            return f"{len(self.data):,} rows, PITT: {len(self.steps)} potential steps"
        if self.results is None:
            return ""
        n_valid = int(self.results["valid"].sum())
        return f"{len(self.data):,} rows, GITT: {len(self.results)} pulses ({n_valid} pass the validity checks)"

    def _analyse(self):
        if self.data is None or self._updating:
            return
        g = self.geometry()
        missing = self._missing_geometry()
        self.geometry_note.value = (
            "<span style='color:#a94442'>Enter the " + html.escape(", ".join(missing)) +
            " to compute D (and x). They set D by orders of magnitude, so battlab never assumes them.</span>"
            if missing else "")
        if self.technique == "PITT":
            self.steps = gitt.analyze_pitt(self.data, fit_window=self.fit_window.value, **g)
            n = len(self.steps)
        else:
            self.results = gitt.analyze_gitt(self.data, fit_window=self.fit_window.value,
                                             x_initial=self.x_initial.value, **g)
            self.ocv = gitt.ocv_curve(self.results)
            n = len(self.results)
        with self.pulse.hold_trait_notifications():
            self.pulse.max = max(1, n)
        if self.pulse.value > n:
            self.pulse.value = 1
        self._update_plots()
        self.table.value = self._table_html()

    def _update_plots(self):
        if self.data is None:
            return
        from battlab.plot import gitt as P

        if self.technique == "PITT":
            self.train_plot.update(P.pulse_train(self.data, None, signal="current_A", title="Potential steps: current"))
            self.d_plot.update(P.pitt_diffusion(self.steps))
            self.ocv_plot.update(P.pitt_titration(self.steps))
        else:
            truth = self.truth.get("pulses") if self.truth else None
            self.train_plot.update(self._train_figure(self.pulse.value))
            self.d_plot.update(P.diffusion_vs_composition(self.results, x=self.x_axis.value, truth=truth))
            self.ocv_plot.update(P.ocv_curve(self.ocv, x=self.x_axis.value))
        self._update_zoom(train=False)

    def _update_zoom(self, train=True):
        if self.data is None:
            return
        from battlab.plot import gitt as P

        k = self.pulse.value
        if self.technique == "PITT":
            row = self.steps.loc[self.steps["step"] == k].iloc[0]
            trace = gitt.pitt_trace(self.data, self.steps, k)
            self.zoom_plot.update(P.pitt_decay(trace, row, fit_window=self.fit_window.value))
            return
        row = self.results.loc[self.results["pulse"] == k].iloc[0]
        window = tuple(self.fit_window.value)

        def zoom():
            trace = gitt.pulse_trace(self.data, self.results, k)
            pulse = trace[trace["phase"] == "pulse"]
            fit = gitt.fit_sqrt_time(pulse["time_s"], pulse["voltage_V"], row["tau_s"], fit_window=window)
            return P.pulse_zoom(trace, row, fit, fit_window=window)

        # The pulse's trace and √t fit do not depend on the geometry (mass, M_B, V_M, S): a
        # geometry move reuses the figure (BaseApp._memo), as it does the pulse train below.
        self.zoom_plot.update(self._memo("zoom_figure", (self.data, k, window, float(row["tau_s"]),
                                                         str(row.get("flags", ""))), zoom))
        if train:
            self.train_plot.update(self._train_figure(k))

    def _train_figure(self, selected):
        from battlab.plot import gitt as P

        used = self.results[["pulse", "t_on_s", "tau_s", "rest_s", "ocv_V"]].to_numpy(float)
        return self._memo("train_figure", (self.data, selected, used.tobytes()),
                          lambda: P.pulse_train(self.data, self.results, selected=selected))

    def _table_html(self):
        table, columns = ((self.steps, _PITT_COLUMNS) if self.technique == "PITT" else (self.results, _GITT_COLUMNS))
        # Multi-valued flag cells are stored ';'-separated; show them as a list.
        if "flags" in table:
            table = table.assign(flags=table["flags"].map(lambda v: v.replace(";", ", ") if isinstance(v, str) else v))
        return html_table(table, columns, scale=_SCALE)

    # --- export ----------------------------------------------------------------------
    def _results(self):
        if self.technique == "PITT":
            return {"pitt_steps": self.steps}
        return {"gitt_pulses": self.results, "ocv": self.ocv}

    def _figures(self):
        if self.technique == "PITT":
            return {"potential_steps": self.train_plot.object, "step_decay": self.zoom_plot.object,
                    "diffusion": self.d_plot.object, "titration": self.ocv_plot.object}
        return {"pulse_train": self.train_plot.object, "pulse_zoom": self.zoom_plot.object,
                "diffusion": self.d_plot.object, "ocv": self.ocv_plot.object}

    def _provenance(self):
        from battlab.provenance import Provenance

        table = self.steps if self.technique == "PITT" else self.results
        params = {"technique": self.technique, **self.geometry(), "x_initial": self.x_initial.value,
                  "fit_window": list(self.fit_window.value), "source": self.source_label,
                  **{k: v for k, v in table.attrs.get("battlab", {}).items() if k not in self.geometry()}}
        return Provenance.for_data("battlab.apps.GITTApp", self.data, params)
