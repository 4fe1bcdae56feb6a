"""Cyclic voltammetry app: peaks, Randles–Ševčík, b-values and the Dunn split."""

from __future__ import annotations

import html

import ipywidgets as w
import pandas as pd

from battlab.apps._base import BaseApp, PlotPane, _format_bytes, html_table
from battlab.apps._uploads import safe_display_name
from battlab.echem import cv
from battlab.errors import BattlabError, MissingDataError

__all__ = ["CVApp"]

_TABLE_COLUMNS = [
    ("scan_rate_mV_s", "v (mV/s)", "{:.3g}"),
    ("cycle", "cycle", "{:d}"),
    ("Epa_V", "Epa (V)", "{:.4f}"),
    ("Epc_V", "Epc (V)", "{:.4f}"),
    ("delta_Ep_mV", "ΔEp (mV)", "{:.1f}"),
    ("E_half_V", "E½ (V)", "{:.4f}"),
    ("ipa_uA", "ipa (µA)", "{:.4g}"),
    ("ipc_uA", "ipc (µA)", "{:.4g}"),
    ("peak_current_ratio", "ipa/|ipc|", "{:.3f}"),
    ("capacitive_fraction_pct", "capacitive (%)", "{:.1f}"),
]


class CVApp(BaseApp):
    """Sweeps, scan rates, peaks, ΔEp/E½, Randles–Ševčík D, b-values, Dunn decomposition.

    Parameters
    ----------
    data : DataFrame or list of DataFrame, optional
        CV tables (``battlab.load(path)``), one file with several scan rates or one file
        per rate; the demo otherwise.
    n_electrons, area_cm2, concentration_mol_cm3 : float, optional
        Initial Randles–Ševčík inputs (0 = not set: no D is computed).
    """

    title = "Cyclic voltammetry"
    intro = ("Sweeps and scan rates are found from the potential; peaks are measured against a baseline "
             "extrapolated from a window you choose. Several scan rates give the diffusion coefficient "
             "(Randles–Ševčík), b-values and the capacitive/diffusive split (Dunn).")
    accept = ".mpt,.mpr,.csv,.tsv,.txt,.dta,.DTA"

    def __init__(self, data=None, *, n_electrons: float | None = None, area_cm2: float | None = None,
                 concentration_mol_cm3: float | None = None, **kw):
        self._initial = {"n": n_electrons, "area": area_cm2, "conc": concentration_mol_cm3}
        self.data = None
        self.labelled = None
        self.sweeps = None
        self.peaks = None
        self.pairs = None
        self.rs = None
        self.b = None
        self.dunn = None
        self._busy = False
        self._note = ""
        super().__init__(data, **kw)

    def demos(self):
        from battlab.datasets import make_cv

        return {"CV at 6 scan rates (diffusive + pseudocapacitive)": make_cv}

    # --- several files at once (one per scan rate) -----------------------------------
    def _build_layout(self):
        super()._build_layout()
        self.upload.multiple = True
        self.upload.description = "Upload file(s)"

    def _on_upload(self, change):
        files = change["new"]
        if len(files) <= 1:
            return super()._on_upload(change)
        try:
            self._guard("reading the files", self._load_many, files)
        finally:
            self.upload.value = ()  # so that choosing the same files again is a new upload

    def _load_many(self, files):
        """Several files: one experiment each (e.g. one per scan rate), analysed together."""
        import battlab

        tables, names = [], []
        for item in files:
            name = safe_display_name(item.get("name"))
            content = item.get("content")
            if content is not None and not isinstance(content, (bytes, bytearray, memoryview)):
                self.show_error(f"{name} did not arrive intact; please upload it again.")
                return
            size = len(content) if content is not None else 0
            if size == 0:
                self.show_error(f"{name} is empty or did not arrive; nothing was loaded.")
                return
            if size > self.upload_limit_mb * 1e6:
                self.show_error(f"{name} is {_format_bytes(size)}, above the {self.upload_limit_mb:g} MB upload "
                                "limit; nothing was loaded. Use the battlab command line for large files.")
                return
            self.set_status(f"Reading {name} ({_format_bytes(size)})…")
            self._keep_upload(bytes(content), name)
            tables.append(battlab.load(bytes(content), name=name, max_bytes=int(self.upload_limit_mb * 1e6) + 1,
                                       kind="echem"))
            names.append(name)
        self._accept_data(tables, f"{len(names)} files ({', '.join(names)})")

    # --- controls --------------------------------------------------------------------
    def _build_controls(self):
        style = {"description_width": "initial"}
        self.rates = w.SelectMultiple(options=[], description="Scan rates (mV/s)", style=style, rows=6,
                                      layout=w.Layout(width="260px"))
        self.cycle = w.Dropdown(options=[("first cycle of each rate", "first"), ("last cycle of each rate", "last")],
                                value="first", description="Cycle", style=style, layout=w.Layout(width="300px"))
        slider = {"min": 0.0, "max": 1.0, "step": 0.001, "readout_format": ".3f", "continuous_update": False,
                  "style": style, "layout": w.Layout(width="520px")}
        self.anodic_window = w.FloatRangeSlider(value=(0.4, 0.6), description="Anodic peak window (V)", **slider)
        self.cathodic_window = w.FloatRangeSlider(value=(0.4, 0.6), description="Cathodic peak window (V)", **slider)
        self.baseline = w.Dropdown(options=[("linear, fitted in a window and extrapolated", "window"),
                                            ("line through the two ends of the window", "points"),
                                            ("none (raw current)", "none")], value="window",
                                   description="Baseline", style=style, layout=w.Layout(width="420px"))
        self.anodic_base = w.FloatRangeSlider(value=(0.3, 0.35), description="Anodic baseline window (V)", **slider)
        self.cathodic_base = w.FloatRangeSlider(value=(0.65, 0.7), description="Cathodic baseline window (V)",
                                                **slider)
        self.n_electrons = w.BoundedFloatText(value=self._initial["n"] or 1.0, min=0.0, max=10.0, step=1.0,
                                              description="n (electrons)", style=style, layout=w.Layout(width="180px"))
        self.area = w.BoundedFloatText(value=self._initial["area"] or 0.0, min=0.0, max=1e4, step=0.01,
                                       description="Area (cm², 0 = not set)", style=style,
                                       layout=w.Layout(width="260px"))
        self.concentration = w.BoundedFloatText(value=self._initial["conc"] or 0.0, min=0.0, max=1.0, step=1e-6,
                                                description="C (mol/cm³, 0 = not set)", style=style,
                                                layout=w.Layout(width="280px"))
        self.temperature = w.BoundedFloatText(value=298.15, min=150.0, max=500.0, step=1.0,
                                              description="T (K)", style=style, layout=w.Layout(width="160px"))
        self.dunn_rate = w.Dropdown(options=[], description="Dunn plot at", style=style,
                                    layout=w.Layout(width="240px"))
        for widget in (self.rates, self.cycle, self.anodic_window, self.cathodic_window, self.baseline,
                       self.anodic_base, self.cathodic_base, self.n_electrons, self.area, self.concentration,
                       self.temperature):
            widget.observe(lambda _: self._guard("updating the analysis", self._update), "value")
        self.dunn_rate.observe(lambda _: self._guard("updating the Dunn plot", self._update_dunn_plot), "value")
        return [w.HBox([self.rates, w.VBox([self.cycle, self.dunn_rate])]),
                self.anodic_window, self.cathodic_window, self.baseline, self.anodic_base, self.cathodic_base,
                w.HBox([self.n_electrons, self.area, self.concentration, self.temperature])]

    def _plot_area(self):
        self.cv_plot = PlotPane()
        self.rs_plot = PlotPane()
        self.b_plot = PlotPane()
        self.dunn_plot = PlotPane()
        self.fraction_plot = PlotPane()
        return w.VBox([w.HBox([self.cv_plot.widget, self.rs_plot.widget]),
                       w.HBox([self.b_plot.widget, self.dunn_plot.widget]),
                       self.fraction_plot.widget])

    # --- data ------------------------------------------------------------------------
    def _set_data(self, data, label, truth=None):
        lab = cv.check_cv(data)
        rates = sorted(lab["scan_rate_group_mV_s"].dropna().unique())
        if not rates:
            raise MissingDataError(f"{label}: no sweep with a measurable scan rate.")
        self.data, self.labelled = data, lab
        self.sweeps = lab.attrs["battlab"]["sweeps"]
        self._busy = True
        try:
            e_lo, e_hi = float(lab["voltage_V"].min()), float(lab["voltage_V"].max())
            for s in (self.anodic_window, self.cathodic_window, self.anodic_base, self.cathodic_base):
                with s.hold_trait_notifications():
                    s.min, s.max = -1e6, 1e6  # widen first so that min < max holds at every step
                    s.min, s.max = e_lo, e_hi
            self._default_windows(lab, truth)
            opts = [(f"{r:.3g}", float(r)) for r in rates]
            self.rates.options = opts
            self.rates.value = tuple(float(r) for r in rates)
            self.dunn_rate.options = opts
            self.dunn_rate.value = float(rates[len(rates) // 2])
            if truth:
                self.area.value = self._initial["area"] or truth.get("area_cm2", 0.0)
                self.concentration.value = self._initial["conc"] or truth.get("concentration_mol_cm3", 0.0)
                self.n_electrons.value = self._initial["n"] or truth.get("n_electrons", 1.0)
                self.temperature.value = truth.get("temperature_K", 298.15)
        finally:
            self._busy = False
        self._update()

    def _default_windows(self, lab, truth):
        """Peak windows around the demo's couple, else :func:`battlab.echem.cv.suggest_windows`."""
        if truth and "formal_potential_V" in truth:
            e0 = truth["formal_potential_V"]
            self.anodic_window.value = (e0 - 0.15, e0 + 0.25)
            self.cathodic_window.value = (e0 - 0.25, e0 + 0.15)
            self.anodic_base.value = (e0 - 0.2, e0 - 0.15)
            self.cathodic_base.value = (e0 + 0.15, e0 + 0.25)
            return
        guess = cv.suggest_windows(lab)
        self.anodic_window.value = guess["anodic_window_V"]
        self.cathodic_window.value = guess["cathodic_window_V"]
        self.anodic_base.value = guess["anodic_baseline_V"]
        self.cathodic_base.value = guess["cathodic_baseline_V"]

    def describe_data(self):
        if self.sweeps is None:
            return ""
        rates = ", ".join(f"{r:.3g}" for r in sorted(self.sweeps["scan_rate_group_mV_s"].dropna().unique()))
        return f"{len(self.labelled):,} rows, {len(self.sweeps)} sweeps, scan rates {rates} mV/s. {self._note}"

    # --- analysis --------------------------------------------------------------------
    def _selected(self):
        # Steps below are memoized on their inputs (BaseApp._memo): a move of n, the area, C
        # or T re-runs Randles–Ševčík only, and the figures it did not change are not rebuilt.
        keep = tuple(self.rates.value)
        return self._memo("selected", (self.labelled, keep), lambda: self.labelled.loc[
            self.labelled["scan_rate_group_mV_s"].isin(set(keep))])

    def _find(self, lab, direction):
        window = self.anodic_window.value if direction == "anodic" else self.cathodic_window.value
        base = self.anodic_base.value if direction == "anodic" else self.cathodic_base.value
        mode = self.baseline.value
        return self._memo(f"peaks_{direction}", (lab, tuple(window), tuple(base), mode), lambda: cv.find_peaks(
            lab, window_V=window, direction=direction, baseline=mode,
            baseline_window_V=base if mode == "window" else None,
            baseline_points_V=base if mode == "points" else None, label="couple"))

    def _update(self):
        if self.labelled is None or self._busy:
            return
        from battlab.plot import cv as P

        self._note = ""
        lab = self._selected()
        if lab.empty:
            self.peaks = self.pairs = self.rs = self.b = self.dunn = None
            self.cv_plot.update(P.voltammograms(lab))
            self._note = "Select at least one scan rate."
            self._refresh_rate_plots("Select at least one scan rate.")
            self.table.value = ""
            self.set_status(self._note)
            return
        pa, pc = self._find(lab, "anodic"), self._find(lab, "cathodic")
        self.peaks = self._memo("all_peaks", (pa, pc), lambda: pd.concat([pa, pc], ignore_index=True))
        self.pairs = self._memo("pairs", (pa, pc), lambda: cv.pair_peaks(pa, pc))
        self.cv_plot.update(self._memo("cv_figure", (lab, self.peaks),
                                       lambda: P.voltammograms(lab, peaks=self.peaks)))
        n_rates = len(self.rates.value)
        notes = []
        self.rs = self.b = self.dunn = None
        if n_rates < 2:
            which = ("This data has a single scan rate" if len(self.rates.options) < 2
                     else "Only one scan rate is selected")
            notes.append(f"{which}: Randles–Ševčík, b-values and the Dunn decomposition need two or more, so "
                         "they are switched off.")
        else:
            cycle = self.cycle.value
            self.b = self._try(lambda: self._memo("b", (self.peaks, cycle),
                                                  lambda: cv.power_law(self.peaks, cycle=cycle)), notes)
            self.dunn = self._try(lambda: self._memo("dunn", (lab, cycle),
                                                     lambda: cv.dunn_decomposition(lab, cycle=cycle)), notes)
            if self.area.value > 0 and self.concentration.value > 0 and self.n_electrons.value > 0:
                self.rs = self._try(lambda: cv.randles_sevcik(
                    pa, n_electrons=self.n_electrons.value, area_cm2=self.area.value,
                    concentration_mol_cm3=self.concentration.value, temperature_K=self.temperature.value,
                    cycle=self.cycle.value), notes)
            else:
                notes.append("Enter n, the electrode area and the concentration to get D (Randles–Ševčík).")
        self._note = " ".join(notes)
        self._refresh_rate_plots(" ".join(notes) if n_rates < 2 else "")
        self.table.value = self._table_html()
        if self.source_label:
            self.set_status(f"{self.source_label} — {self.describe_data()}")

    def _try(self, func, notes):
        try:
            return func()
        except BattlabError as exc:
            notes.append(str(exc))
            return None

    def _refresh_rate_plots(self, reason):
        from battlab.plot import cv as P

        rs_reason = reason or "Enter n, area and concentration for Randles–Ševčík."
        self.rs_plot.update(P.randles_sevcik(self.rs, reason=rs_reason))
        self.b_plot.update(self._memo("b_figure", (self.b, reason), lambda: P.b_values(self.b, reason=reason)))
        fractions = self.dunn.fractions_ if self.dunn else None
        self.fraction_plot.update(self._memo("fraction_figure", (fractions, reason),
                                             lambda: P.capacitive_fraction(fractions, reason=reason)))
        self._update_dunn_plot(reason)

    def _update_dunn_plot(self, reason=""):
        if self.labelled is None or self._busy:
            return
        from battlab.plot import cv as P

        rate = self.dunn_rate.value
        reason = reason or self._note

        def figure():
            decomposed = self.dunn.predict(rate) if self.dunn is not None and rate is not None else None
            return P.dunn_decomposed(decomposed, reason=reason)

        self.dunn_plot.update(self._memo("dunn_figure", (self.dunn, rate, reason), figure))

    def _summary(self):
        """Pairs per cycle joined with the capacitive fraction of their scan rate."""
        if self.pairs is None or self.pairs.empty:
            return pd.DataFrame()
        s = self.pairs.copy()
        s["delta_Ep_mV"] = s["delta_Ep_V"] * 1e3
        s["ipa_uA"] = s["ipa_A"] * 1e6
        s["ipc_uA"] = s["ipc_A"] * 1e6
        if self.dunn is not None:
            f = self.dunn.fractions_[["scan_rate_mV_s", "capacitive_fraction_pct"]]
            s = s.merge(f, on="scan_rate_mV_s", how="left")
        return s

    def _table_html(self):
        s = self._summary()
        lines = []
        if self.rs:
            lines.append(f"D (Randles–Ševčík, anodic peak) = {self.rs['diffusion_coefficient_cm2_s']:.3g} cm²/s, "
                         f"R² = {self.rs['r_squared']:.4f}")
        if self.b is not None:
            lines += [f"b ({r.direction} peak) = {r.b_value:.3f} ± {r.b_value_se:.3f}" for r in self.b.itertuples()]
        head_html = "".join(f"<div>{html.escape(x)}</div>" for x in lines)
        if s.empty:
            return head_html + "<p>No peak pair found in the chosen windows.</p>"
        return head_html + html_table(s, _TABLE_COLUMNS)

    # --- export ----------------------------------------------------------------------
    def _results(self):
        out = {"sweeps": self.sweeps}
        if self.peaks is not None:
            out["peaks"] = self.peaks
            out["peak_pairs"] = self.pairs
        if self.rs:
            out["randles_sevcik"] = pd.DataFrame([{k: v for k, v in self.rs.items() if k != "points"}])
            out["randles_sevcik_points"] = self.rs["points"]
        if self.b is not None:
            out["b_values"] = self.b
        if self.dunn is not None:
            out["dunn_coefficients"] = self.dunn.coefficients_
            out["capacitive_fraction"] = self.dunn.fractions_
        return out

    def _figures(self):
        return {"voltammograms": self.cv_plot.object, "randles_sevcik": self.rs_plot.object,
                "b_values": self.b_plot.object, "dunn": self.dunn_plot.object,
                "capacitive_fraction": self.fraction_plot.object}

    def _provenance(self):
        from battlab.provenance import Provenance

        params = {"scan_rates_mV_s": list(self.rates.value), "cycle": self.cycle.value,
                  "anodic_window_V": self.anodic_window.value, "cathodic_window_V": self.cathodic_window.value,
                  "baseline": self.baseline.value, "anodic_baseline_V": self.anodic_base.value,
                  "cathodic_baseline_V": self.cathodic_base.value, "peak_fit_V": 0.01,
                  "n_electrons": self.n_electrons.value, "area_cm2": self.area.value or None,
                  "concentration_mol_cm3": self.concentration.value or None,
                  "temperature_K": self.temperature.value, "randles_sevcik_form": "general",
                  "dunn_n_grid": 400, "sweep_options": self.labelled.attrs["battlab"].get("cv"),
                  "source": self.source_label}
        tables = list(self.data) if isinstance(self.data, (list, tuple)) else [self.data]
        prov = Provenance.for_data("battlab.apps.CVApp", tables[0], params)
        for t in tables[1:]:  # one input record per file
            prov.inputs += Provenance.for_data("", t, {}).inputs
        return prov
