"""Operando sensors app: EQCM, dilatometry, MOSS stress and acoustic emission."""

from __future__ import annotations

import html

import ipywidgets as w
import numpy as np

from battlab.apps._base import BaseApp, PlotPane, _format_bytes, html_table
from battlab.errors import InvalidParameterError, MissingDataError
from battlab.sensors._io import TABLE_SUFFIXES

__all__ = ["SensorsApp"]

_KINDS = [("EQCM", "eqcm"), ("Dilatometry", "dilatometry"), ("MOSS stress", "stress"),
          ("Acoustic emission", "acoustic")]

_TABLE_COLUMNS = {
    "eqcm": [("cycle", "cycle", "{:d}"), ("direction", "half cycle", "{}"), ("charge_passed_C", "ΔQ (mC)", "mC"),
             ("mass_change_ng", "Δm (ng)", "{:.1f}"), ("mass_per_electron_g_mol", "m.p.e. (g/mol)", "{:.2f}"),
             ("species", "nearest species", "{}")],
    "dilatometry": [("cycle", "cycle", "{:d}"), ("max_pct", "max Δh/h₀ (%)", "{:.1f}"),
                    ("breathing_pct", "breathing (%)", "{:.1f}"),
                    ("reversible_expansion_pct", "reversible (%)", "{:.1f}"),
                    ("irreversible_expansion_pct", "irreversible (%)", "{:.2f}"),
                    ("cumulative_irreversible_pct", "Σ irreversible (%)", "{:.1f}"),
                    ("charge_swing_mAh", "capacity (mAh)", "{:.3f}")],
    "stress": [("cycle", "cycle", "{:d}"), ("max_compressive_GPa", "max compressive (GPa)", "{:.3f}"),
               ("max_tensile_GPa", "max tensile (GPa)", "{:.3f}"), ("stress_hysteresis_GPa", "hysteresis (GPa)",
                                                                    "{:.3f}"),
               ("stress_capacity_loop_GPa_mAh", "∮σ dQ (GPa·mAh)", "{:.4f}")],
    "acoustic": [("cycle", "cycle", "{:d}"), ("direction", "half cycle", "{}"), ("n_hits", "hits", "{:d}"),
                 ("n_particle_cracking", "cracking", "{:d}"), ("n_gas_evolution", "gas", "{:d}"),
                 ("energy_aJ", "energy (aJ)", "{:.3g}"), ("mean_amplitude_dB", "mean amplitude (dB)", "{:.1f}")],
}


def _demos():
    from battlab.datasets import sensors as D

    return {
        "EQCM: graphite film, Li⁺ + first-cycle SEI": ("eqcm", D.make_eqcm),
        "EQCM: soft (viscoelastic) film": ("eqcm", lambda: D.make_eqcm(viscoelastic=True)),
        "Dilatometry: Sb (+110 %) vs milder electrode (+40 %)": ("dilatometry", D.make_dilatometry_pair),
        "MOSS: 108 nm Si film": ("stress", D.make_moss),
        "AE: Si/C anode hit list": ("acoustic", D.make_acoustic),
        "AE: raw waveform (40 bursts)": ("acoustic", D.make_ae_waveform),
    }


class SensorsApp(BaseApp):
    """Operando sensors aligned with the cycling: EQCM mass, thickness, film stress, AE hits.

    Parameters
    ----------
    data : SensorRun or list of SensorRun, optional
        Sensor record(s) with their cycling data (``battlab.sensors.SensorRun``); the EQCM
        demo otherwise.
    """

    title = "Operando sensors"
    intro = ("EQCM mass (Sauerbrey, mass per electron), electrode thickness (dilatometry), film stress (MOSS, "
             "Stoney) and acoustic-emission hits, each put on the cycling timeline. Upload a sensor table "
             "(CSV/TSV: a time column plus sensor columns with units) and the cycling file it ran with.")
    accept = ",".join(TABLE_SUFFIXES)

    def __init__(self, data=None, **kw):
        self.runs = []
        self.truth = None
        self.result = None
        self.comparison = None
        self.compared = {}
        self.echem_override = None
        self._pending = None
        self._loading = False
        super().__init__(data, **kw)

    def demos(self):
        return {name: gen for name, (_, gen) in _demos().items()}

    # --- controls --------------------------------------------------------------------
    def _build_controls(self):
        style = {"description_width": "initial"}

        def num(value, description, lo=0.0, hi=1e9, step=0.1, width="260px"):
            return w.BoundedFloatText(value=value, min=lo, max=hi, step=step, description=description, style=style,
                                      layout=w.Layout(width=width))

        self.kind = w.ToggleButtons(options=_KINDS, value="eqcm", description="Sensor", style=style)
        self.echem_upload = self._upload_button(accept=".mpt,.mpr,.csv,.tsv,.txt,.xlsx",
                                         description="Cycling file")
        self._observe_upload(self.echem_upload, self._load_echem_bytes, default_name="cycling")
        self.clock_offset = w.FloatText(value=0.0, description="Clock offset (s): cycler = sensor +", style=style,
                                        layout=w.Layout(width="320px"))
        self.x_axis = w.ToggleButtons(options=["charge", "potential", "SOC", "time"], value="charge",
                                      description="x axis", style=style)
        # EQCM
        self.f0 = num(5.0, "Crystal f₀ (MHz)", 0.1, 100.0)
        self.area = num(0.0, "Electrode area (cm², 0 = not set)", 0.0, 100.0, 0.01, "300px")
        self.overtone = w.Dropdown(options=[1, 3, 5, 7, 9, 11, 13], value=1, description="Overtone n", style=style,
                                   layout=w.Layout(width="160px"))
        self.diss_limit = num(4.0, "ΔD/(−Δf/n) limit (×10⁻⁷ Hz⁻¹)", 0.01, 1000.0, 0.5, "320px")
        # Dilatometry
        self.thickness = num(0.0, "Initial thickness h₀ (µm, 0 = not set)", 0.0, 1e5, 1.0, "320px")
        # Stress
        self.sub_E = num(130.0, "Substrate E (GPa)", 0.1, 2000.0, 1.0)
        self.sub_nu = w.BoundedFloatText(value=0.28, min=-0.99, max=0.49, step=0.01, description="Substrate ν",
                                         style=style, layout=w.Layout(width="180px"))
        self.sub_h = num(500.0, "Substrate thickness (µm)", 1.0, 1e5, 10.0)
        self.film_h = num(108.0, "Film thickness (nm)", 0.1, 1e6, 1.0)
        self.distance = num(0.6, "Substrate–camera L (m)", 1e-3, 100.0, 0.05)
        self.angle = num(10.0, "Incidence φ (°)", 0.0, 89.0, 1.0, "200px")
        self.expansion = num(0.0, "Modified Stoney β (thickness gain at full lithiation)", 0.0, 10.0, 0.1, "380px")
        # Acoustic emission
        self.threshold = w.FloatSlider(value=40.0, min=20.0, max=90.0, step=1.0, description="Threshold (dB_AE)",
                                       continuous_update=False, style=style)
        self.hdt = num(200.0, "HDT (µs)", 1.0, 1e6, 10.0, "180px")
        self.hlt = num(1000.0, "HLT (µs)", 0.0, 1e7, 100.0, "180px")
        self.clusters = w.IntSlider(value=2, min=1, max=4, description="Hit types (k)", continuous_update=False,
                                    style=style)
        self.boxes = {
            "eqcm": w.HBox([self.f0, self.area, self.overtone, self.diss_limit]),
            "dilatometry": w.HBox([self.thickness]),
            "stress": w.VBox([w.HBox([self.sub_E, self.sub_nu, self.sub_h]),
                              w.HBox([self.film_h, self.distance, self.angle]), self.expansion]),
            "acoustic": w.HBox([self.threshold, self.hdt, self.hlt, self.clusters]),
        }
        self.kind.observe(self._on_kind, "value")
        for widget in (self.clock_offset, self.f0, self.area, self.overtone, self.diss_limit, self.thickness,
                       self.sub_E, self.sub_nu, self.sub_h, self.film_h, self.distance, self.angle, self.expansion,
                       self.threshold, self.hdt, self.hlt, self.clusters):
            widget.observe(self._on_param, "value")
        self.x_axis.observe(lambda _: self._guard("updating the plot", self._update_x_plot), "value")
        self.note = w.HTML()
        self.note.add_class("battlab-note")
        return [self.kind, w.HBox([self.echem_upload, w.HTML("<small>the cycler file the sensor ran with (optional "
                                                             "when the sensor file logs potential and current)"
                                                             "</small>")]),
                w.HBox([self.clock_offset, self.x_axis])] + list(self.boxes.values()) + [self.note]

    def _plot_area(self):
        self.time_plot = PlotPane(min_height_px=480)
        self.x_plot = PlotPane()
        self.metrics_plot = PlotPane()
        self.extra_plot = PlotPane()
        return w.VBox([self.time_plot.widget, w.HBox([self.x_plot.widget, self.metrics_plot.widget]),
                       self.extra_plot.widget])

    def _show_boxes(self):
        for kind, box in self.boxes.items():
            box.layout.display = None if kind == self.kind.value else "none"

    # --- events ----------------------------------------------------------------------
    def _on_kind(self, change):
        self._guard("switching the sensor", self._switch_kind, change["new"])

    def _switch_kind(self, kind):
        self._show_boxes()
        if self._loading or kind is None or (self.runs and self.runs[0].kind == kind):
            return
        # Switching sensor opens that sensor's first demo.
        name = next((n for n, (k, _) in _demos().items() if k == kind), None)
        if name is not None:
            self.demo_picker.value = name
            self._load_demo(name)

    def _on_param(self, _):
        if not self._loading and self._guard("updating the analysis", self._analyze):
            self.clear_error()  # the inputs are valid again
            if self.runs:
                self.set_status(f"{self.runs[0].label} — {self.describe_data()}")

    def _load_echem_bytes(self, content, name):
        import battlab
        from battlab.sensors import SensorRun

        echem = battlab.load(content, name=name, max_bytes=int(self.upload_limit_mb * 1e6) + 1, kind="echem")
        if self._pending is not None:
            run = self._pending
            self._accept_data(SensorRun(run.kind, run.sensor, echem, run.label), f"{run.label} + {name}")
            self._pending = None
        elif self.runs:
            run = self.runs[0]
            self._accept_data(SensorRun(run.kind, run.sensor, echem, run.label), f"{run.label} + {name}")
        self.echem_override = echem

    def _load_bytes(self, data: bytes, name: str):
        from battlab.sensors import SensorRun, read_sensor_table

        self.set_status(f"Reading {name} ({_format_bytes(len(data))})…")
        sensor = read_sensor_table(data, kind=self.kind.value, name=name,
                                   max_bytes=int(self.upload_limit_mb * 1e6) + 1)
        # A new sample has its own area / thickness: never carry the demo's over silently.
        self._loading = True
        try:
            self.area.value = 0.0
            self.thickness.value = 0.0
        finally:
            self._loading = False
        self._accept_data(SensorRun(self.kind.value, sensor, self.echem_override, name), name)

    def _server_files(self):
        found = []
        for root in self.data_dirs:
            if root.is_dir():
                found += [(str(p.relative_to(root)), str(p)) for p in sorted(root.rglob("*"))
                          if p.is_file() and p.suffix.lower() in TABLE_SUFFIXES]
        return found

    def _load_server_file(self, path):
        resolved = self._confined_path(path)
        if resolved is None:
            return
        self._guard(f"reading {resolved.name}", lambda: self._load_bytes(resolved.read_bytes(), resolved.name))

    # --- data ------------------------------------------------------------------------
    def _set_data(self, data, label, truth=None):
        from battlab.sensors import SensorRun

        runs = list(data) if isinstance(data, (list, tuple)) else [data]
        if not runs or not all(isinstance(r, SensorRun) for r in runs):
            raise MissingDataError("SensorsApp needs battlab.sensors.SensorRun objects (sensor table + cycling).")
        previous = (self.runs, self.truth)
        self.runs, self.truth = runs, truth
        self._loading = True
        try:
            if self.kind.value != runs[0].kind:
                self.kind.value = runs[0].kind
            self._show_boxes()
            if truth is not None:
                self._apply_truth(truth)
            elif runs[0].kind == "eqcm" and runs[0].sensor.attrs.get("battlab", {}).get("overtone"):
                self.overtone.value = runs[0].sensor.attrs["battlab"]["overtone"]
        finally:
            self._loading = False
        try:
            self._analyze()
        except InvalidParameterError as exc:
            # Keep the new record: entering the missing input analyses it.
            self.result = None
            raise InvalidParameterError(f"{label}: {exc}") from exc
        except MissingDataError as exc:
            if "no cycling data" in str(exc):
                self._pending = runs[0]
                self.runs, self.truth = previous
                raise MissingDataError(f"{label}: read {len(runs[0].sensor):,} sensor rows; now upload the cycling "
                                       "file it ran with (Cycling file button).") from exc
            self.runs, self.truth = previous
            raise
        except Exception:
            self.runs, self.truth = previous
            raise

    def _apply_truth(self, truth):
        first = truth if "clock_offset_s" in truth or "onset_s" in truth else next(iter(truth.values()))
        self.clock_offset.value = float(first.get("clock_offset_s", 0.0))
        kind = self.runs[0].kind
        if kind == "eqcm":
            self.f0.value = first["f0_Hz"] / 1e6
            self.area.value = first["area_cm2"]
            self.overtone.value = first["overtone"]
        elif kind == "dilatometry":
            self.thickness.value = first["initial_thickness_um"]
        elif kind == "stress":
            self.sub_E.value, self.sub_nu.value = first["substrate_modulus_GPa"], first["substrate_poisson"]
            self.sub_h.value, self.film_h.value = first["substrate_thickness_um"], first["film_thickness_nm"]
            self.distance.value, self.angle.value = first["distance_m"], first["incidence_angle_deg"]

    def parameters(self) -> dict:
        """Options passed to :func:`battlab.sensors.analyze` for the selected sensor."""
        kind = self.kind.value
        p = {"clock_offset_s": self.clock_offset.value}
        if kind == "eqcm":
            p.update(f0_Hz=self.f0.value * 1e6, area_cm2=self.area.value or None, overtone=self.overtone.value,
                     dissipation_threshold_per_Hz=self.diss_limit.value * 1e-7)
        elif kind == "dilatometry":
            p.update(initial_thickness_um=self.thickness.value or None)
        elif kind == "stress":
            p.update(substrate_modulus_GPa=self.sub_E.value, substrate_poisson=self.sub_nu.value,
                     substrate_thickness_um=self.sub_h.value, film_thickness_nm=self.film_h.value,
                     distance_m=self.distance.value, incidence_angle_deg=self.angle.value,
                     thickness_expansion=self.expansion.value)
        else:
            p.update(threshold_dB=self.threshold.value, hit_definition_time_s=self.hdt.value * 1e-6,
                     hit_lockout_time_s=self.hlt.value * 1e-6, n_clusters=self.clusters.value)
        return p

    def _analyze(self):
        from battlab.plot import sensors as P
        from battlab.sensors import analyze, dilatometry

        if not self.runs:
            return
        kind = self.kind.value
        if self.runs[0].kind != kind:
            return
        params = self.parameters()
        primary = self.runs[0]
        result = analyze(kind, primary.sensor, primary.echem, **params)
        compared = {primary.label: result.aligned}
        comparison = None
        if kind == "dilatometry" and len(self.runs) > 1:
            summaries = {primary.label: result.cycles}
            for run in self.runs[1:]:
                offset = params["clock_offset_s"]
                if isinstance(self.truth, dict) and run.label in self.truth:
                    offset = self.truth[run.label].get("clock_offset_s", offset)
                other = analyze(kind, run.sensor, run.echem, **{**params, "clock_offset_s": offset})
                summaries[run.label] = other.cycles
                compared[run.label] = other.aligned
            comparison = dilatometry.compare_electrodes(summaries)
        self.result, self.comparison, self.compared = result, comparison, compared
        warn = [m for m in result.messages if "warning" in m or "outside" in m or "not aligned" in m]
        info = [m for m in result.messages if m not in warn]
        self.note.value = "".join(
            f"<div style='background:#fff4d6;border:1px solid #e0a800;padding:4px 8px;margin:2px 0'>⚠ "
            f"{html.escape(m)}</div>" for m in warn) + "".join(
            f"<div style='color:#2a6a2a'>✓ {html.escape(m)}</div>" for m in info)
        self.time_plot.update(P.signal_vs_time(result.aligned, kind))
        self._update_x_plot()
        self.metrics_plot.update(P.cycle_metrics(result.cycles, kind))
        if kind == "eqcm":
            self.extra_plot.update(P.mpe_vs_potential(result.extra.get("mpe_vs_potential")))
        elif kind == "dilatometry":
            self.extra_plot.update(P.compare_electrodes(compared))
        elif kind == "acoustic":
            self.extra_plot.update(P.hit_clusters(result.aligned))
        else:
            self.extra_plot.update(P.signal_vs_x(result.aligned, kind, x="potential"))
        self.table.value = self._table_html()
        return True

    def _update_x_plot(self):
        from battlab.plot import sensors as P

        if self.result is not None:
            self.x_plot.update(P.signal_vs_x(self.result.aligned, self.result.kind, x=self.x_axis.value))

    def describe_data(self):
        if self.result is None:
            return ""
        r = self.result
        n = f"{len(r.aligned):,} {'hits' if r.kind == 'acoustic' else 'samples'}"
        cycles = r.aligned["cycle"].max() if "cycle" in r.aligned and len(r.aligned) else 0
        return f"{dict(_KINDS_REV)[r.kind]}: {n} on {int(cycles) if np.isfinite(cycles) else 0} cycles"

    def _table_html(self):
        s = self.result.cycles
        spec = [(col, label, "{:.3f}" if fmt == "mC" else fmt) for col, label, fmt in _TABLE_COLUMNS[self.result.kind]]
        scale = {col: 1e3 for col, _, fmt in _TABLE_COLUMNS[self.result.kind] if fmt == "mC"}
        extra = ""
        if self.comparison is not None and not self.comparison.empty:
            extra = "<p><b>Electrode comparison</b></p>" + self.comparison.to_html(
                index=False, float_format=lambda v: f"{v:.2f}", classes="battlab-results", border=0)
        return html_table(s, spec, scale=scale) + extra

    # --- export ----------------------------------------------------------------------
    def _results(self):
        if self.result is None:
            raise MissingDataError("nothing analysed yet: enter the missing inputs first.")
        out = dict(self.result.tables())
        if self.comparison is not None:
            out["electrode_comparison"] = self.comparison
        return out

    def _figures(self):
        return {"sensor_vs_time": self.time_plot.object, "sensor_vs_x": self.x_plot.object,
                "per_cycle": self.metrics_plot.object}

    def _provenance(self):
        from battlab.provenance import Provenance, data_input

        run = self.runs[0]
        prov = Provenance.for_data(f"battlab.sensors.{self.result.kind}", run.sensor,
                                   {**self.result.parameters, "source": self.source_label, "kind": self.result.kind})
        if run.echem is not None:
            prov.inputs.append(data_input(run.echem.attrs.get("battlab", {})))
        return prov


_KINDS_REV = [(v, k) for k, v in _KINDS]
