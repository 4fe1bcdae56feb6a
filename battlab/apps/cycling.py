"""Galvanostatic cycling app."""

from __future__ import annotations

import ipywidgets as w
import numpy as np

from battlab.apps._base import BaseApp, PlotPane, html_table
from battlab.echem import cycling
from battlab.errors import MissingDataError

__all__ = ["CyclingApp"]

MAX_LINES = 20  # lines per plot; more are thinned evenly so the page stays responsive

_CELL_TYPES = [("auto (first current)", "auto"), ("anode half cell (lithiation first)", "anode_half"),
               ("cathode half cell (charge first)", "cathode_half"), ("full cell (charge first)", "full_cell")]

_TABLE_COLUMNS = [
    ("cycle", "cycle", "{:d}"),
    ("charge_capacity_mAh", "Q charge (mAh)", "{:.4f}"),
    ("discharge_capacity_mAh", "Q discharge (mAh)", "{:.4f}"),
    ("out_capacity_mAh_g", "Q out (mAh/g)", "{:.1f}"),
    ("charge_capacity_mAh_cm2", "Q charge (mAh/cm²)", "{:.3f}"),
    ("coulombic_efficiency_pct", "CE (%)", "{:.2f}"),
    ("energy_efficiency_pct", "EE (%)", "{:.2f}"),
    ("mean_charge_voltage_V", "V̄ charge (V)", "{:.3f}"),
    ("mean_discharge_voltage_V", "V̄ discharge (V)", "{:.3f}"),
    ("capacity_retention_pct", "retention (%)", "{:.1f}"),
    ("cumulative_irreversible_capacity_mAh", "Σ irrev. (mAh)", "{:.4f}"),
]


class CyclingApp(BaseApp):
    """Capacity, coulombic efficiency, voltage profiles, dQ/dV and rate capability.

    Parameters
    ----------
    data : DataFrame, optional
        A canonical cycling table (``battlab.load(path)``); the demo cell otherwise.
    active_mass_mg, area_cm2 : float, optional
        Initial values of the mass and area inputs (0 = not set).
    """

    title = "Galvanostatic cycling"
    intro = ("Capacity, coulombic efficiency and voltage profiles of every cycle, incremental capacity "
             "(dQ/dV) and rate capability. Half cycles are found from the current sign.")
    accept = ".mpt,.mpr,.csv,.tsv,.txt,.xlsx"

    def __init__(self, data=None, *, active_mass_mg: float | None = None, area_cm2: float | None = None, **kw):
        self._initial_mass = active_mass_mg
        self._initial_area = area_cm2
        self.data = None
        self.summary = None
        self.rates = None
        self.ica = None
        super().__init__(data, **kw)

    def demos(self):
        from battlab.datasets import make_cycling

        return {"graphite half cell (100 cycles, rate test)": make_cycling}

    # --- controls --------------------------------------------------------------------
    def _build_controls(self):
        style = {"description_width": "initial"}
        self.mass = w.BoundedFloatText(value=self._initial_mass or 0.0, min=0.0, max=1e6, step=0.1,
                                       description="Active mass (mg, 0 = not set)", style=style)
        self.area = w.BoundedFloatText(value=self._initial_area or 0.0, min=0.0, max=1e4, step=0.01,
                                       description="Electrode area (cm², 0 = not set)", style=style)
        self.cell_type = w.Dropdown(options=_CELL_TYPES, value="auto", description="Cell", style=style,
                                    layout=w.Layout(width="360px"))
        self.cycle_range = w.IntRangeSlider(value=(1, 1), min=1, max=1, description="Cycles", style=style,
                                            continuous_update=False, layout=w.Layout(width="460px"))
        self.cycle_stride = w.BoundedIntText(value=1, min=1, max=1000, description="every", style=style,
                                             layout=w.Layout(width="120px"))
        self.x_axis = w.ToggleButtons(options=["capacity", "specific capacity", "time", "SOC"],
                                      value="capacity", description="x axis", style=style)
        self.smoothing = w.Dropdown(options=[("Savitzky–Golay", "savgol"), ("smoothing spline", "spline"),
                                             ("none", "none")], value="savgol", description="dQ/dV smoothing",
                                    style=style)
        self.window_mV = w.FloatSlider(value=15.0, min=2.0, max=60.0, step=1.0, description="window (mV)",
                                       continuous_update=False, style=style)
        for widget in (self.mass, self.area, self.cell_type):
            widget.observe(lambda _: self._guard("updating the summary", self._update_summary), "value")
        for widget in (self.cycle_range, self.cycle_stride, self.x_axis):
            widget.observe(lambda _: self._guard("updating the profiles", self._update_profiles), "value")
        for widget in (self.smoothing, self.window_mV):
            widget.observe(lambda _: self._guard("updating dQ/dV", self._update_dqdv), "value")
        return [w.HBox([self.mass, self.area, self.cell_type]),
                w.HBox([self.cycle_range, self.cycle_stride]), self.x_axis,
                w.HBox([self.smoothing, self.window_mV])]

    def _plot_area(self):
        self.profile_plot = PlotPane()
        self.capacity_plot = PlotPane()
        self.ce_plot = PlotPane(min_height_px=200)
        self.dqdv_plot = PlotPane()
        self.rate_plot = PlotPane()
        return w.VBox([w.HBox([self.profile_plot.widget, self.dqdv_plot.widget]),
                       w.HBox([w.VBox([self.capacity_plot.widget, self.ce_plot.widget]), self.rate_plot.widget])])

    # --- parameters ------------------------------------------------------------------
    @property
    def active_mass_mg(self):
        return self.mass.value or None

    @property
    def area_cm2(self):
        return self.area.value or None

    def selected_cycles(self):
        """Cycles in the range at the chosen stride, thinned evenly to at most 20 lines."""
        lo, hi = self.cycle_range.value
        cycles = list(range(lo, hi + 1, max(1, self.cycle_stride.value)))
        if len(cycles) > MAX_LINES:
            cycles = [cycles[k] for k in np.unique(np.linspace(0, len(cycles) - 1, MAX_LINES).round().astype(int))]
        return cycles

    # --- data ------------------------------------------------------------------------
    def _set_data(self, data, label, truth=None):
        labelled = cycling.label_cycles(data, cell_type="auto")
        if labelled["cycle"].max() < 1:
            raise MissingDataError(f"{label}: no charge or discharge current found, so there are no cycles "
                                   "to analyse (is this an open-circuit or impedance file?).")
        self.data = data
        if truth and self._initial_mass is None:
            self.mass.value = truth.get("active_mass_mg", 0.0)
        n_cycles = int(labelled["cycle"].max())
        with self.cycle_range.hold_trait_notifications():
            self.cycle_range.max = max(1, n_cycles)
            self.cycle_range.min = 1
        self.cycle_range.value = (1, min(n_cycles, 10))
        self._update_summary()
        self._update_profiles()
        self._update_dqdv()

    def describe_data(self):
        if self.summary is None:
            return ""
        return f"{len(self.data):,} rows, {len(self.summary)} cycles, opening half: " \
               f"{self.summary.attrs['battlab']['opening_half']}"

    def _labelled(self):
        return cycling.label_cycles(self.data, cell_type=self.cell_type.value)

    def _update_summary(self):
        if self.data is None:
            return
        from battlab.plot import cycling as P

        lab = self._labelled()
        self.summary = cycling.summarize_cycles(lab, active_mass_mg=self.active_mass_mg, area_cm2=self.area_cm2,
                                                cell_type=self.cell_type.value)
        self.rates = cycling.rate_capability(self.summary)
        self.capacity_plot.update(P.capacity_vs_cycle(self.summary, specific=self.active_mass_mg is not None))
        self.ce_plot.update(P.efficiency_vs_cycle(self.summary))
        self.rate_plot.update(P.rate_capability(self.rates))
        self.table.value = self._table_html()
        if self.x_axis.value == "specific capacity":
            self._update_profiles()

    def _update_profiles(self):
        if self.data is None:
            return
        from battlab.plot import cycling as P

        cycles = tuple(self.selected_cycles())
        key = (self.data, cycles, self.cell_type.value, self.active_mass_mg)
        prof = self._memo("profiles", key, lambda: cycling.voltage_profiles(
            self.data, cycles=list(cycles), cell_type=self.cell_type.value, active_mass_mg=self.active_mass_mg,
            max_points_per_half=400))
        self.profile_plot.update(P.voltage_profile(prof, x=self.x_axis.value))
        self._update_dqdv()

    def _update_dqdv(self):
        if self.data is None:
            return
        cycles = tuple(self.selected_cycles())
        # an x-axis or mass move leaves dQ/dV (curves and figure) as it was
        key = (self.data, cycles, self.smoothing.value, float(self.window_mV.value), self.cell_type.value)
        self.ica, figure = self._memo("dqdv", key, lambda: self._dqdv_and_figure(list(cycles)))
        self.dqdv_plot.update(figure)

    def _dqdv_and_figure(self, cycles):
        from battlab.plot import cycling as P

        ica = cycling.incremental_capacity(self.data, cycles=cycles, smoothing=self.smoothing.value,
                                           window_V=self.window_mV.value / 1e3, cell_type=self.cell_type.value)
        return ica, P.dqdv(ica)

    def _table_html(self):
        return html_table(self.summary, _TABLE_COLUMNS)

    # --- export ----------------------------------------------------------------------
    def _results(self):
        out = {"cycles": self.summary, "rate_capability": self.rates}
        if self.ica is not None and not self.ica.empty:
            out["dqdv"] = self.ica
        return out

    def _figures(self):
        return {"voltage_profiles": self.profile_plot.object, "capacity": self.capacity_plot.object,
                "dqdv": self.dqdv_plot.object, "rate_capability": self.rate_plot.object}

    def _provenance(self):
        from battlab.provenance import Provenance

        params = {"active_mass_mg": self.active_mass_mg, "area_cm2": self.area_cm2,
                  "cell_type": self.cell_type.value, "opening_half": self.summary.attrs["battlab"]["opening_half"],
                  "rest_current_A": self.summary.attrs["battlab"]["rest_current_A"],
                  "nominal_capacity_mAh": self.summary.attrs["battlab"]["nominal_capacity_mAh"],
                  "nominal_capacity_source": self.summary.attrs["battlab"]["nominal_capacity_source"],
                  "retention_reference_cycle": 1, "dqdv_cycles": self.selected_cycles(),
                  "dqdv_smoothing": self.smoothing.value, "dqdv_window_V": self.window_mV.value / 1e3,
                  "dqdv_voltage_step_V": 0.001, "source": self.source_label}
        return Provenance.for_data("battlab.apps.CyclingApp", self.data, params)
