"""Electrochemical impedance app: circuit fit, Kramers–Kronig check, DRT, series."""

from __future__ import annotations

import html

import ipywidgets as w
import numpy as np
import pandas as pd

from battlab.apps._base import BaseApp, PlotPane
from battlab.echem import eis
from battlab.errors import InvalidParameterError

__all__ = ["EISApp"]

DEFAULT_CIRCUIT = "R0-p(R1,CPE1)-W1"
#: display form of the units in parameter names
_UNITS = {"ohm": "Ω", "F": "F", "H": "H", "s": "s", "S_s^a": "S·s^α", "ohm_s^-0.5": "Ω·s^-½", "": "–"}
_STYLE = {"description_width": "initial"}


class EISApp(BaseApp):
    """Equivalent-circuit fitting, Lin-KK validation, DRT and multi-spectrum series.

    Parameters
    ----------
    data : DataFrame, optional
        An impedance table (``battlab.load(path)``, canonical EIS columns); the Randles
        demo otherwise. Tables with several sweeps open in series mode.
    circuit : str, optional
        Initial circuit string.
    """

    title = "Electrochemical impedance"
    intro = ("Fit an equivalent circuit (starting values read off the spectrum), check the data with "
             "the Kramers–Kronig test, and resolve time constants with the distribution of relaxation "
             "times. Files with many spectra open in series mode.")
    accept = ".mpt,.mpr,.dta,.csv,.txt,.tsv,.z"

    def __init__(self, data=None, *, circuit: str | None = None, **kw):
        self._initial_circuit = circuit
        self.data = None
        self.spectra = []
        self.labels = pd.DataFrame()
        self.model = None
        self.fit_ok = False
        self.kk = None
        self.drt_result = None
        self.series = None
        self._param_rows = {}
        self._param_sliders = {}
        self._syncing = False  # a slider and its value box are being synchronised
        self._marker_sync = False  # the frequency marker is being fitted to a new spectrum
        self._bulk_update = False  # guess/fit set every value: draw once at the end
        self._busy = False
        super().__init__(data, **kw)

    def demos(self):
        from battlab.datasets import eis as D

        return {
            "Randles cell (CPE + Warburg)": lambda: D.make_randles(noise=0.003),
            "SEI + charge transfer (two arcs)": lambda: D.make_two_arc(noise=0.003),
            "200 spectra along SOC (series)": D.make_eis_series,
            "Randles with inductive cable tail": lambda: D.make_randles(noise=0.003, inductance_H=2e-6),
        }

    # --- controls --------------------------------------------------------------------
    def _build_controls(self):
        self.circuit = w.Text(value=self._initial_circuit or DEFAULT_CIRCUIT, description="Circuit",
                              continuous_update=False, style=_STYLE, layout=w.Layout(width="360px"),
                              placeholder="e.g. R0-p(R1,CPE1)-W1")
        self.circuit_check = w.HTML()
        self.suggest_button = w.Button(description="Use DRT suggestion", icon="magic",
                                       tooltip="circuit with one p(R,CPE) per DRT peak")
        self.weighting = w.Dropdown(options=[("modulus |Z|", "modulus"), ("proportional", "proportional"),
                                             ("unit", "unit")], value="modulus", description="Weighting",
                                    style=_STYLE, layout=w.Layout(width="240px"))
        self.params_box = w.VBox()
        self.guess_button = w.Button(description="Auto guess", icon="crosshairs",
                                     tooltip="reset the starting values from the spectrum")
        self.fit_button = w.Button(description="Fit", icon="play", button_style="primary")
        self.auto_lambda = w.Checkbox(value=True, description="automatic λ (GCV)", style=_STYLE)
        self.lam = w.FloatLogSlider(value=1e-3, base=10, min=-6, max=1, step=0.25, description="DRT λ",
                                    continuous_update=False, disabled=True, style=_STYLE,
                                    readout_format=".1e")
        self.marker_f = w.FloatLogSlider(value=1.0, base=10, min=-2, max=5, step=0.05,
                                         description="mark f (Hz)", continuous_update=False,
                                         style=_STYLE, readout_format=".3g")
        self.marker_readout = w.HTML()
        self.kk_threshold = w.FloatSlider(value=1.0, min=0.1, max=5.0, step=0.1,
                                          description="KK threshold (%)", continuous_update=False,
                                          style=_STYLE)
        self.spectrum = w.IntSlider(value=0, min=0, max=0, description="Spectrum",
                                    continuous_update=False, style=_STYLE, layout=w.Layout(width="460px"))
        self.series_button = w.Button(description="Fit all spectra", icon="list")
        self.trend_x = w.Dropdown(options=["spectrum"], description="x", style=_STYLE,
                                  layout=w.Layout(width="200px"))
        self.series_box = w.HBox([self.spectrum, self.series_button, self.trend_x],
                                 layout=w.Layout(display="none"))
        self.molar_volume = w.BoundedFloatText(value=0.0, min=0.0, max=1e4, step=0.1,
                                               description="V_m (cm³/mol, 0 = not set)", style=_STYLE)
        self.area = w.BoundedFloatText(value=0.0, min=0.0, max=1e4, step=0.01,
                                       description="area (cm²)", style=_STYLE)
        self.dEdx = w.FloatText(value=0.0, description="dE/dx (V)", style=_STYLE)

        self.circuit.observe(lambda _: self._guard("reading the circuit", self._on_circuit), "value")
        self.suggest_button.on_click(lambda _: self._guard("using the DRT suggestion", self._use_suggestion))
        self.guess_button.on_click(lambda _: self._guard("guessing start values", self._auto_guess))
        self.fit_button.on_click(lambda _: self._guard("fitting the circuit", self._fit))
        self.weighting.observe(lambda _: self._guard("fitting the circuit", self._fit), "value")
        self.auto_lambda.observe(lambda _: self._guard("computing the DRT", self._on_auto_lambda), "value")
        self.lam.observe(lambda _: self._guard("computing the DRT", self._update_drt), "value")
        self.kk_threshold.observe(lambda _: self._guard("running the KK test", self._update_kk), "value")
        self.marker_f.observe(lambda _: self._guard("marking the frequency", self._on_marker), "value")
        self.spectrum.observe(lambda _: self._guard("showing the spectrum", self._on_spectrum), "value")
        self.series_button.on_click(lambda _: self._guard("fitting the series", self._fit_series))
        self.trend_x.observe(lambda _: self._guard("plotting the trend", self._update_trend), "value")
        for widget in (self.molar_volume, self.area, self.dEdx):
            widget.observe(lambda _: self._guard("computing D", self._update_table), "value")
        return [w.HBox([self.circuit, self.circuit_check, self.suggest_button]),
                w.HBox([self.weighting, self.guess_button, self.fit_button]),
                w.HTML("<small>starting values (tick to freeze a parameter at its value)</small>"),
                self.params_box,
                w.HBox([self.auto_lambda, self.lam, self.kk_threshold]),
                w.HBox([self.marker_f, self.marker_readout]),
                self.series_box,
                w.HBox([w.HTML("<small>Diffusion from σ of W:</small>"), self.molar_volume, self.area,
                        self.dEdx])]

    def _plot_area(self):
        self.nyquist_plot = PlotPane()
        self.bode_plot = PlotPane()
        self.drt_plot = PlotPane()
        self.kk_plot = PlotPane(min_height_px=240)
        self.residual_plot = PlotPane(min_height_px=240)
        self.trend_plot = PlotPane()
        self.trend_box = w.VBox([self.trend_plot.widget], layout=w.Layout(display="none"))
        return w.VBox([w.HBox([self.nyquist_plot.widget, self.bode_plot.widget]),
                       w.HBox([self.drt_plot.widget, self.kk_plot.widget]),
                       self.residual_plot.widget, self.trend_box])

    # --- data ------------------------------------------------------------------------
    def _set_data(self, data, label, truth=None):
        spectra, labels = eis.split_spectra(data)
        self.data = data
        self.spectra, self.labels = spectra, labels
        self.series = None
        multi = len(spectra) > 1
        self.series_box.layout.display = "flex" if multi else "none"
        self.trend_box.layout.display = "flex" if multi else "none"
        x_opts = [c for c in ("soc", "test_time_s", "spectrum") if c in labels]
        self.trend_x.options = x_opts
        self.trend_x.value = x_opts[0]
        if truth and truth.get("circuit") and self._initial_circuit is None:
            text = truth["circuit"] if not truth.get("inductance_H") else "L0-" + truth["circuit"]
        else:
            text = self.circuit.value
        with self.spectrum.hold_trait_notifications():
            self.spectrum.max = len(spectra) - 1
            self.spectrum.value = 0
        if text != self.circuit.value:
            self.circuit.value = text  # triggers _on_circuit → guess + fit
        else:
            self._on_circuit()
        self._update_trend()

    def describe_data(self):
        if not self.spectra:
            return ""
        f = self.spectra[self.spectrum.value][0]
        n = len(self.spectra)
        what = f"{n} spectra" if n > 1 else "1 spectrum"
        return f"{what}, {f.size} frequencies from {f.max():.3g} Hz to {f.min():.3g} Hz"

    @property
    def current(self):
        return self.spectra[self.spectrum.value]

    # --- circuit and parameters ------------------------------------------------------
    def _on_circuit(self):
        try:
            c = eis.parse_circuit(self.circuit.value)
        except InvalidParameterError:
            self.circuit_check.value = "<span style='color:#d9534f'>✗ invalid</span>"
            self.fit_ok = False
            raise
        self.circuit_check.value = (f"<span style='color:#2a7d2a'>✓ {c.n_params} parameters</span>")
        self.clear_error()
        self._build_param_rows(c)
        if self.data is not None:
            self._auto_guess()
            self._fit()

    def _build_param_rows(self, c):
        rows, box, sliders = {}, [], {}
        for name, label, unit, positive in zip(c.param_names, c.labelled_names, c.units, c.positive):
            val = w.FloatText(value=0.0, description=f"{name}", style={"description_width": "90px"},
                              layout=w.Layout(width="240px"))
            # A slider per parameter: dragging it redraws the model with the values as set
            # (no fit), so a starting point can be tuned by eye before pressing Fit.
            if name.endswith("_alpha"):
                slider = w.FloatSlider(value=0.8, min=0.3, max=1.0, step=0.005, readout=False,
                                       continuous_update=False, layout=w.Layout(width="180px"))
            elif positive:
                slider = w.FloatLogSlider(value=1.0, base=10, min=-2, max=2, step=0.02, readout=False,
                                          continuous_update=False, layout=w.Layout(width="180px"))
            else:
                slider = None
            frz = w.Checkbox(value=False, description="freeze", indent=False, layout=w.Layout(width="80px"))
            se = w.HTML(layout=w.Layout(width="220px"))
            rows[name] = (val, frz, se)
            items = [val, w.HTML(f"<small>{html.escape(_UNITS.get(unit, unit))}</small>",
                                 layout=w.Layout(width="80px"))]
            if slider is not None:
                sliders[name] = slider
                slider.observe(lambda ch, n=name: self._guard("previewing the model", self._on_slider, n), "value")
                items.append(slider)
            val.observe(lambda ch, n=name: self._guard("previewing the model", self._on_value, n), "value")
            box.append(w.HBox(items + [frz, se]))
        self._param_rows = rows
        self._param_sliders = sliders
        self._param_circuit = c
        self.params_box.children = box

    def _set_slider(self, name, value):
        """Move a parameter's slider to ``value``, re-centring a log slider's range on it."""
        slider = self._param_sliders.get(name)
        if slider is None or not np.isfinite(value):
            return
        self._syncing = True
        try:
            if isinstance(slider, w.FloatLogSlider):
                if value <= 0:
                    return
                exponent = np.log10(value)
                if not slider.min + 0.5 <= exponent <= slider.max - 0.5:
                    with slider.hold_trait_notifications():
                        slider.min, slider.max = np.floor(exponent) - 2, np.floor(exponent) + 3
            slider.value = float(np.clip(value, *((10 ** slider.min, 10 ** slider.max)
                                                   if isinstance(slider, w.FloatLogSlider)
                                                   else (slider.min, slider.max))))
        finally:
            self._syncing = False

    def _on_slider(self, name):
        if self._syncing:
            return
        val = self._param_rows[name][0]
        self._syncing = True
        try:
            val.value = float(f"{self._param_sliders[name].value:.6g}")
        finally:
            self._syncing = False
        self._preview()

    def _on_value(self, name):
        if self._syncing:
            return
        self._set_slider(name, self._param_rows[name][0].value)
        if not self._bulk_update:
            self._preview()

    def _preview(self):
        """Redraw Nyquist and Bode with the model at the values now in the boxes (not fitted)."""
        if self.data is None or not self._param_rows:
            return
        from battlab.plot import eis as P

        c = self._param_circuit
        values = np.array([row[0].value for row in self._param_rows.values()], float)
        if np.any(values[c.positive] <= 0):
            return
        f, z = self.current
        zm = eis.circuit_impedance(c, f, values)
        self.fit_ok = False
        label = "model (values as set; press Fit)"
        self.nyquist_plot.update(P.nyquist(f, z, fit=zm, fit_label=label, marker=self._marker_index()))
        self.bode_plot.update(P.bode(f, z, fit=zm, marker=self._marker_index()))
        self.set_status("Model drawn with the values as set; press Fit to refine them.")

    def _auto_guess(self):
        f, z = self.current
        g = eis.guess_parameters(self._param_circuit, f, z)
        self._bulk_update = True
        try:
            for name, (val, _, se) in self._param_rows.items():
                val.value = float(f"{g[name]:.6g}")
                se.value = ""
        finally:
            self._bulk_update = False

    def _use_suggestion(self):
        if self.drt_result is None:
            self._update_drt()
        self.circuit.value = self.drt_result.suggested_circuit

    def _fit(self):
        if self.data is None or not self._param_rows:
            return
        f, z = self.current
        c = self._param_circuit
        guess = {n: row[0].value for n, row in self._param_rows.items()}
        frozen = {n: row[0].value for n, row in self._param_rows.items() if row[1].value}
        bad = [n for n, v in guess.items() if c.positive[c.param_names.index(n)] and not v > 0]
        if bad:
            raise InvalidParameterError(f"starting values of {bad} must be > 0; press 'Auto guess'.")
        self.set_status("Fitting…")
        self.model = eis.EquivalentCircuit(self.circuit.value).fit(
            f, z, weighting=self.weighting.value, initial_guess=guess, frozen=frozen or None)
        self.fit_ok = True
        self._bulk_update = True
        try:
            for (n, (val, frz, se)), v, s in zip(self._param_rows.items(), self.model.parameters_,
                                                 self.model.standard_errors_):
                if not frz.value:
                    val.value = float(f"{v:.6g}")
                rel = f" ({100 * s / abs(v):.2g} %)" if v and s else ""
                se.value = "<small>frozen</small>" if frz.value else f"<small>± {s:.3g}{rel}</small>"
        finally:
            self._bulk_update = False
        self._update_fit_plots()
        self._update_kk()
        self._update_drt()
        self._update_table()
        self.set_status(f"{self.source_label} — {self.describe_data()}; fit χ² = "
                        f"{self.model.chi_squared_:.3g} (reduced {self.model.reduced_chi_squared_:.3g})")

    def _update_fit_plots(self, *, residuals: bool = True):
        from battlab.plot import eis as P

        f, z = self.current
        zf = self.model.predict(f) if self.fit_ok else None
        label = f"fit {self.circuit.value}"
        # One marked frequency on both plots links the Nyquist point to its place in the Bode plot.
        k = self._marker_index()
        self.nyquist_plot.update(P.nyquist(f, z, fit=zf, fit_label=label, marker=k))
        self.bode_plot.update(P.bode(f, z, fit=zf, marker=k))
        if residuals:
            chi2 = self.model.chi_squared_ if zf is not None else None
            self.residual_plot.update(P.fit_residuals(f, z, zf, chi_squared=chi2))
        zk = z[k]
        self.marker_readout.value = (f"<small>marked: f = {f[k]:.4g} Hz, Z′ = {zk.real:.4g} Ω, "
                                     f"−Z″ = {-zk.imag:.4g} Ω, |Z| = {abs(zk):.4g} Ω, "
                                     f"phase = {np.angle(zk, deg=True):.2f}°</small>")

    def _marker_index(self):
        """Index of the data point nearest (in log f) to the marked frequency."""
        f = self.current[0]
        lo, hi = float(np.floor(np.log10(f.min()))), float(np.ceil(np.log10(f.max())))
        hi = max(hi, lo + 1)
        if (self.marker_f.min, self.marker_f.max) != (lo, hi):
            # A new spectrum: fit the slider to its frequency range without redrawing twice.
            self._marker_sync = True
            try:
                self.marker_f.min, self.marker_f.max = min(lo, self.marker_f.min), max(hi, self.marker_f.max)
                self.marker_f.min, self.marker_f.max = lo, hi
                self.marker_f.value = float(np.sqrt(f.min() * f.max()))
            finally:
                self._marker_sync = False
        return int(np.argmin(np.abs(np.log10(f) - np.log10(self.marker_f.value))))

    def _on_marker(self):
        if not self._marker_sync and self.data is not None:
            self._update_fit_plots(residuals=False)

    # --- KK and DRT ------------------------------------------------------------------
    def _update_kk(self):
        if self.data is None:
            return
        from battlab.plot import eis as P

        f, z = self.current
        self.kk = eis.kramers_kronig(f, z, threshold=self.kk_threshold.value / 100)
        self.kk_plot.update(P.kk_residuals(self.kk))
        self._update_table()

    def _on_auto_lambda(self):
        self.lam.disabled = self.auto_lambda.value
        self._update_drt()

    def _update_drt(self):
        if self.data is None:
            return
        from battlab.plot import eis as P

        f, z = self.current
        lam = None if self.auto_lambda.value else self.lam.value
        self.drt_result = eis.drt(f, z, lambda_=lam)
        if lam is None:
            self.lam.value = float(np.clip(self.drt_result.lambda_, 1e-6, 10))
        self.drt_plot.update(P.drt(self.drt_result))
        self._update_table()

    # --- series ----------------------------------------------------------------------
    def _on_spectrum(self):
        if self.data is None:
            return
        if self.series is not None and self.spectrum.value < len(self.series):
            row = self.series.iloc[self.spectrum.value]
            self._bulk_update = True
            try:
                for n, (val, frz, _) in self._param_rows.items():
                    col = self.model.circuit_.labelled_names[self.model.circuit_.param_names.index(n)] \
                        if self.model is not None else None
                    if col in row and np.isfinite(row[col]) and not frz.value:
                        val.value = float(f"{row[col]:.6g}")
            finally:
                self._bulk_update = False
        self._fit()
        self._update_trend()

    def _fit_series(self):
        f_list = [s[0] for s in self.spectra]
        z_list = [s[1] for s in self.spectra]
        c = self._param_circuit
        frozen = {n: row[0].value for n, row in self._param_rows.items() if row[1].value}
        x = self.trend_x.value
        n = len(z_list)

        def progress(i, total):
            if i % 10 == 0 or i == total:
                self.set_status(f"Fitting spectrum {i} of {total}…")

        table = eis.fit_series(f_list, z_list, c.text, labels=self.labels["spectrum"].to_numpy(),
                               label_name="spectrum", weighting=self.weighting.value,
                               frozen=frozen or None, progress=progress)
        for col in self.labels.columns:
            if col != "spectrum":
                table.insert(1, col, self.labels[col].to_numpy())
        self.series = table
        self._update_trend()
        self._update_table()
        ok = int(table["success"].sum())
        self.set_status(f"Series fit: {ok} of {n} spectra converged; trend against {x}.")

    def _update_trend(self):
        if len(self.spectra) < 2:
            return
        from battlab.plot import eis as P

        if self.series is None or self.model is None:
            self.trend_plot.update(P.parameter_trend(None, [], x=self.trend_x.value))
            return
        c = self.model.circuit_
        names = [ln for n, ln in zip(c.param_names, c.labelled_names)
                 if ln.endswith("_ohm") or n.startswith("R")]
        x = self.trend_x.value
        cur = self.series[x].iloc[self.spectrum.value] if self.spectrum.value < len(self.series) else None
        self.trend_plot.update(P.parameter_trend(self.series, names, x=x, current=cur))

    # --- results ---------------------------------------------------------------------
    def diffusion_coefficient(self):
        """D (cm²/s) from the fitted Warburg σ, when V_m, area and dE/dx are all set."""
        if not self.fit_ok or not (self.molar_volume.value and self.area.value and self.dEdx.value):
            return None
        sig = [v for k, v in self.model.parameters_.items() if "_sigma_" in k]
        if not sig:
            return None
        return eis.diffusion_coefficient_from_warburg(
            sig[0], molar_volume_cm3_mol=self.molar_volume.value, area_cm2=self.area.value,
            dE_dx_V=self.dEdx.value)

    def _update_table(self):
        parts = []
        if self.fit_ok and self.model is not None:
            s = self.model.summary()
            rows = "".join(
                f"<tr><td>{html.escape(r.parameter)}</td><td>{r.value:.5g}</td>"
                f"<td>{html.escape(_UNITS.get(r.unit, r.unit))}</td><td>{r.standard_error:.2g}</td>"
                f"<td>{r.relative_error_pct:.2g}</td><td>{'yes' if r.frozen else ''}</td></tr>"
                for r in s.itertuples())
            parts.append("<table class='battlab-results' style='border-collapse:collapse;font-size:12px'>"
                         "<thead><tr><th>parameter</th><th>value</th><th>unit</th><th>± 1σ</th>"
                         "<th>rel. (%)</th><th>frozen</th></tr></thead>"
                         f"<tbody>{rows}</tbody></table>")
            parts.append(f"<p>χ² = {self.model.chi_squared_:.4g}, reduced χ² = "
                         f"{self.model.reduced_chi_squared_:.4g} ({html.escape(self.weighting.value)} "
                         "weighting)</p>")
            d = self.diffusion_coefficient()
            if d is not None:
                parts.append(f"<p>Diffusion coefficient from σ: D = {d:.3e} cm²/s</p>")
        if self.kk is not None:
            parts.append(f"<p>{html.escape(self.kk.verdict)}</p>")
        if self.drt_result is not None:
            pk = self.drt_result.peaks
            items = ", ".join(f"τ = {t:.3g} s (f = {fr:.3g} Hz, R = {r:.3g} Ω)"
                              for t, fr, r in zip(pk.tau_s, pk.frequency_Hz, pk.resistance_ohm))
            parts.append(f"<p>DRT peaks: {html.escape(items) or 'none'}; suggested circuit "
                         f"<code>{html.escape(self.drt_result.suggested_circuit)}</code></p>")
        self.table.value = "".join(parts)

    def _results(self):
        out = {}
        f, z = self.current
        spec = eis.impedance_table(f, z)
        if self.fit_ok:
            out["fit_parameters"] = self.model.summary()
            zf = self.model.predict(f)
            spec["z_real_fit_ohm"], spec["z_imag_fit_ohm"] = zf.real, zf.imag
        out["spectrum"] = spec
        if self.drt_result is not None:
            out["drt"] = self.drt_result.table()
            out["drt_peaks"] = self.drt_result.peaks
        if self.kk is not None:
            out["kk_residuals"] = self.kk.residuals
        if self.series is not None:
            out["series_fit"] = self.series
        return out

    def _figures(self):
        return {"nyquist": self.nyquist_plot.object, "bode": self.bode_plot.object,
                "drt": self.drt_plot.object, "kk_residuals": self.kk_plot.object,
                "fit_residuals": self.residual_plot.object}

    def _provenance(self):
        from battlab.provenance import Provenance

        params = {"circuit": self.circuit.value, "weighting": self.weighting.value,
                  "spectrum": self.spectrum.value,
                  "frozen": {n: r[0].value for n, r in self._param_rows.items() if r[1].value},
                  "initial_guess_method": "battlab.echem.eis.guess_parameters or user values",
                  "drt_lambda": self.drt_result.lambda_ if self.drt_result else None,
                  "drt_lambda_method": self.drt_result.lambda_method if self.drt_result else None,
                  "kk_threshold": self.kk_threshold.value / 100, "kk_mu_criterion": 0.85,
                  "molar_volume_cm3_mol": self.molar_volume.value or None,
                  "area_cm2": self.area.value or None, "dE_dx_V": self.dEdx.value or None,
                  "source": self.source_label}
        return Provenance.for_data("battlab.apps.EISApp", self.data, params)
