"""Operando X-ray diffraction app."""

from __future__ import annotations

import html

import ipywidgets as w
import numpy as np
import pandas as pd

from battlab.apps._base import BaseApp, PlotPane, html_table
from battlab.apps._cycling import CyclingControls
from battlab.apps._windows import WindowEditor
from battlab.errors import MissingDataError

__all__ = ["XRDApp"]

_MODELS = [("pseudo-Voigt", "pseudo_voigt"), ("Gaussian", "gaussian"), ("Lorentzian", "lorentzian")]
_QUANTITIES = [("position", "two_theta_deg"), ("d", "d_A"), ("strain", "strain"), ("FWHM", "fwhm_deg"),
               ("intensity", "area")]
_TABLE_COLUMNS = [
    ("peak", "peak", "{}"), ("two_theta_deg", "2θ (°)", "{:.4f}"), ("d_A", "d (Å)", "{:.5f}"),
    ("strain", "strain", "{:.2e}"), ("fwhm_deg", "FWHM (°)", "{:.4f}"), ("eta", "η", "{:.2f}"),
    ("area", "area (counts·°)", "{:.1f}"), ("scherrer_size_nm", "Scherrer size (nm)", "{:.1f}"),
    ("present", "present", "{}"),
]


class XRDApp(BaseApp):
    """Operando diffraction: map of the series beside the voltage, one pattern with its fit
    and reference sticks, peak windows, and tracked position, d, strain, FWHM and intensity.

    Parameters
    ----------
    data : DataArray, optional
        A pattern or series (``battlab.load`` of an .xy/.xye/.csv/.xrdml file, or
        :func:`battlab.diffraction.load_series`); the operando graphite demo otherwise.
    echem : DataFrame, optional
        Canonical cycling table of the cell (a demo brings its own; a cycling file can
        also be uploaded in the app). With it, every tracked quantity gets the cell's
        voltage, capacity and SOC, and the plots can use capacity or SOC as x axis.
    """

    title = "Operando X-ray diffraction"
    intro = ("Peak positions, d-spacings, strain, widths and intensities of every pattern in a series, "
             "beside the voltage on the same clock, with reference sticks of common battery phases.")
    accept = ".xy,.xye,.csv,.xrdml,.brml,.h5,.hdf5,.nxs"
    data_kind = "xrd"

    def __init__(self, data=None, *, echem: pd.DataFrame | None = None, **kw):
        self.series = None
        self._given_echem = echem
        self._echem_used = None
        self.tracked = None
        self.fractions = None
        self.fits = {}
        self.current_table = None
        self.williamson_hall = None
        self.pca = None
        self._busy = False
        super().__init__(data, **kw)

    def demos(self):
        from battlab.datasets.diffraction import (
            make_lto_series,
            make_operando_graphite,
            make_sized_pattern,
        )

        return {"operando graphite (002) → LiC12 → LiC6": make_operando_graphite,
                "LTO lattice drift 8.3636 → 8.3580 Å (Kα1+Kα2)": make_lto_series,
                "Si, 25 nm crystallites (Scherrer)": make_sized_pattern}

    @property
    def echem(self):
        """The cycling table in use for the current series (a demo's, an upload's or the given one)."""
        return self.cycling.echem

    @property
    def windows(self) -> dict:
        """Peak windows, name -> (low, high) in degrees 2θ (edited with :attr:`window_editor`)."""
        return self.window_editor.windows

    # --- controls --------------------------------------------------------------------
    def _build_controls(self):
        from battlab.diffraction.references import PHASES

        style = {"description_width": "initial"}
        self.wavelength = w.BoundedFloatText(value=1.540598, min=0.05, max=5.0, step=0.0001,
                                             description="Wavelength λ (Å)", style=style,
                                             layout=w.Layout(width="220px"))
        self.anode = w.Dropdown(options=[("from file / typed", ""), ("Cu Kα1", "Cu"), ("Mo Kα1", "Mo"),
                                         ("Co Kα1", "Co")], value="", description="Anode", style=style,
                                layout=w.Layout(width="200px"))
        self.energy = w.BoundedFloatText(value=0.0, min=0.0, max=200.0, step=0.1,
                                         description="or energy (keV, 0 = unused)", style=style,
                                         layout=w.Layout(width="240px"))
        self.model = w.Dropdown(options=_MODELS, value="pseudo_voigt", description="Peak shape", style=style,
                                layout=w.Layout(width="220px"))
        self.doublet = w.Checkbox(value=True, description="Kα1/Kα2 doublet when the file gives Kα2", indent=False)
        self.bg_order = w.BoundedIntText(value=1, min=0, max=4, description="local background order", style=style,
                                         layout=w.Layout(width="200px"))
        self.window_editor = WindowEditor(label="2θ range (°)", on_change=self._retrack,
                                          suggest=self._suggest_window, placeholder="name, e.g. (002)",
                                          guard=self._guard, picker_label="Peak window")
        self.cycling = CyclingControls(self, on_change=self._echem_changed, on_axis=self._axis_changed,
                                       echem=self._given_echem)
        self.pattern_slider = w.IntSlider(value=0, min=0, max=0, description="Pattern", continuous_update=False,
                                          style=style, layout=w.Layout(width="460px"))
        self.pattern_label = w.HTML()
        self.references = w.SelectMultiple(options=list(PHASES), value=(), description="Reference sticks",
                                           rows=5, style=style, layout=w.Layout(width="320px"))
        self.quantity = w.ToggleButtons(options=_QUANTITIES, value="two_theta_deg", description="Track",
                                        style=style)
        self.instrument_fwhm = w.BoundedFloatText(value=0.05, min=0.0, max=5.0, step=0.005,
                                                  description="Instrument FWHM (°)", style=style,
                                                  layout=w.Layout(width="220px"))
        self.k_factor = w.BoundedFloatText(value=0.9, min=0.5, max=2.0, step=0.01, description="Scherrer K",
                                           style=style, layout=w.Layout(width="160px"))
        self.log_map = w.Checkbox(value=False, description="log intensity map", indent=False)
        self.map_view = w.ToggleButtons(options=[("contour map", "contour"), ("waterfall", "waterfall")],
                                        value="contour", description="Series view", style=style)
        self.pca_center = w.Checkbox(value=True, description="PCA: subtract the mean pattern", indent=False)
        self.pca_info = w.HTML()

        retrack = lambda _: self._guard("fitting the peaks", self._retrack)
        for widget in (self.wavelength, self.model, self.doublet, self.bg_order):
            widget.observe(retrack, "value")
        self.anode.observe(lambda _: self._guard("setting the wavelength", self._on_anode), "value")
        self.energy.observe(lambda _: self._guard("setting the wavelength", self._on_energy), "value")
        self.pattern_slider.observe(lambda _: self._guard("showing the pattern", self._update_pattern), "value")
        self.references.observe(lambda _: self._guard("drawing reference sticks", self._update_pattern), "value")
        self.quantity.observe(lambda _: self._guard("plotting the tracking", self._update_tracking), "value")
        for widget in (self.instrument_fwhm, self.k_factor):
            widget.observe(lambda _: self._guard("computing sizes", self._update_pattern), "value")
        self.log_map.observe(lambda _: self._guard("drawing the map", self._update_map), "value")
        self.map_view.observe(lambda _: self._guard("drawing the series view", self._update_map), "value")
        self.pca_center.observe(lambda _: self._guard("computing the PCA", self._update_pca), "value")
        return [w.HBox([self.wavelength, self.anode, self.energy]),
                w.HBox([self.model, self.doublet, self.bg_order]),
                self.window_editor.widget,
                w.HBox([self.pattern_slider, self.pattern_label]),
                w.HBox([self.references, w.VBox([self.instrument_fwhm, self.k_factor, self.log_map])]),
                self.cycling.widget,
                self.quantity,
                w.HBox([self.map_view, self.pca_center]),
                self.pca_info]

    def _plot_area(self):
        self.map_plot = PlotPane()
        self.pattern_plot = PlotPane()
        self.track_plot = PlotPane(min_height_px=260)
        self.pca_plot = PlotPane(min_height_px=260)
        return w.VBox([self.map_plot.widget, self.pattern_plot.widget, self.track_plot.widget,
                       self.pca_plot.widget])

    # --- data ------------------------------------------------------------------------
    def _set_data(self, data, label, truth=None):
        if not hasattr(data, "dims") or "two_theta_deg" not in data.dims:
            raise MissingDataError(f"{label} is not a diffraction pattern; upload a .xy, .xye, .csv or .xrdml file.")
        series = data
        if "time" not in data.dims:
            stamp = data.attrs.get("battlab", {}).get("start_time_utc")
            t = pd.Timestamp(stamp).tz_convert("UTC").tz_localize(None) if stamp else pd.Timestamp("1970-01-01")
            series = data.expand_dims(time=[np.datetime64(t, "ns")])
        if "elapsed_s" not in series.coords:
            series = series.assign_coords(elapsed_s=("time", np.zeros(series.sizes["time"])))
        series.attrs = dict(data.attrs)
        self.series = series
        self.cycling.for_new_data(truth)
        truth = truth or {}
        lam = series.attrs.get("wavelength_A")
        self._busy = True
        try:
            self.wavelength.value = float(lam) if lam else 1.540598
            self.anode.value = ""
            self.energy.value = 0.0
            self.doublet.value = bool(series.attrs.get("wavelength2_A") and series.attrs.get("ka2_ratio"))
            if truth.get("instrument_fwhm_deg") is not None:
                self.instrument_fwhm.value = truth["instrument_fwhm_deg"]
            x = series["two_theta_deg"].to_numpy()
            self.window_editor.set_axis(float(x.min()), float(x.max()))
            self.window_editor.set_windows(dict(truth.get("windows") or self._auto_windows()))
            self.pattern_slider.max = series.sizes["time"] - 1
            self.pattern_slider.value = 0
            phases = [p for p in truth.get("reference_phases", []) if p in self.references.options]
            self.references.value = tuple(phases)
        finally:
            self._busy = False
        self._retrack()
        self._update_map()
        self._update_pca()

    def _auto_windows(self):
        from battlab.diffraction import suggest_windows

        return suggest_windows(self._pattern(0), n_peaks=3)

    def describe_data(self):
        if self.series is None:
            return ""
        n = self.series.sizes["time"]
        x = self.series["two_theta_deg"].to_numpy()
        return (f"{n} pattern{'s' if n != 1 else ''}, 2θ {x.min():.2f}–{x.max():.2f}°, "
                f"{len(self.windows)} peak window(s), λ = {self.wavelength.value:.5f} Å")

    def _pattern(self, i):
        pat = self.series.isel(time=int(i))
        pat.attrs = dict(self.series.attrs)
        pat.attrs["wavelength_A"] = float(self.wavelength.value)
        return pat

    # --- windows ---------------------------------------------------------------------
    def _suggest_window(self, exclude):
        """A window around the strongest peak of the shown pattern not yet covered (the editor's *Add*)."""
        from battlab.diffraction import suggest_windows

        found = suggest_windows(self._pattern(self.pattern_slider.value), n_peaks=1, exclude=exclude)
        return next(iter(found.items()))

    # --- cycling ---------------------------------------------------------------------
    def _echem_changed(self):
        self._retrack()
        self._update_map()

    def _axis_changed(self):
        self._update_map()
        self._update_tracking()

    # --- wavelength ------------------------------------------------------------------
    def _on_anode(self):
        from battlab.diffraction import wavelength_A

        if self.anode.value:
            self.wavelength.value = wavelength_A(anode=self.anode.value)

    def _on_energy(self):
        from battlab.diffraction import wavelength_A

        if self.energy.value > 0:
            self.wavelength.value = round(wavelength_A(energy_keV=self.energy.value), 6)

    # --- analysis --------------------------------------------------------------------
    def _retrack(self):
        if self._busy or self.series is None:
            return
        from battlab.diffraction import phase_fractions, track_peaks

        series = self.series.copy()
        series.attrs = dict(self.series.attrs, wavelength_A=float(self.wavelength.value))
        self._echem_used = self.cycling.usable(series)
        self.tracked = track_peaks(series, self.windows, model=self.model.value,
                                   background_order=self.bg_order.value, doublet="auto" if self.doublet.value else None,
                                   echem=self._echem_used, clock_offset_s=self.cycling.offset_s)
        self.fractions = phase_fractions(self.tracked) if len(self.windows) > 1 else None
        self.set_status(f"{self.source_label or 'data'} — {self.describe_data()}")
        self._update_pattern()
        self._update_tracking()

    def _update_pattern(self):
        if self._busy or self.series is None or self.tracked is None:
            return
        from battlab.diffraction import fit_pattern, reference_sticks, scherrer_size_nm
        from battlab.plot import diffraction as P

        i = int(self.pattern_slider.value)
        pat = self._pattern(i)
        table, self.fits = fit_pattern(pat, self.windows, model=self.model.value,
                                       background_order=self.bg_order.value,
                                       doublet="auto" if self.doublet.value else None)
        row = self.tracked[self.tracked["pattern"] == i].set_index("peak")
        table["strain"] = table["peak"].map(row["strain"])
        table["present"] = table["peak"].map(row["present"])
        table["scherrer_size_nm"] = scherrer_size_nm(table["two_theta_deg"], table["fwhm_deg"],
                                                     wavelength_A=self.wavelength.value, k=self.k_factor.value,
                                                     instrument_fwhm_deg=self.instrument_fwhm.value)
        self.current_table = table
        sticks = None
        if self.references.value:
            # Sticks over all of 2θ: the plot keeps each chosen phase even with none in range.
            sticks = pd.concat([reference_sticks(p, wavelength_A=self.wavelength.value, two_theta_range=(0.0, 180.0))
                                for p in self.references.value])
        stamp = pd.Timestamp(self.series["time"].to_numpy()[i])
        hours = float(self.series["elapsed_s"].to_numpy()[i]) / 3600
        from battlab.series import echem_of

        state = self.cycling.state_text(echem_of(self.tracked, index="pattern"), i)
        self.pattern_label.value = f"<small>{html.escape(stamp.isoformat())} UTC · {hours:.2f} h{state}</small>"
        self.pattern_plot.update(P.pattern(pat, fits=self.fits, sticks=sticks, windows=self.windows,
                                           title=f"Pattern {i} ({hours:.2f} h)"))
        self.table.value = html_table(table, _TABLE_COLUMNS) + self._williamson_hall_html(table)
        if self.series.sizes["time"] > 1 and self.map_plot.object is not None and self.map_view.value == "contour":
            self._update_map()

    def _williamson_hall_html(self, table):
        """Size and microstrain from every present peak of this pattern (needs ≥ 3)."""
        from battlab.diffraction import williamson_hall
        from battlab.errors import BattlabError

        ok = table[table["present"].fillna(False).astype(bool)]
        if len(ok) < 3:
            return "<p><small>Williamson–Hall needs at least three peak windows with peaks.</small></p>"
        try:
            wh = williamson_hall(ok["two_theta_deg"], ok["fwhm_deg"], wavelength_A=self.wavelength.value,
                                 k=self.k_factor.value, instrument_fwhm_deg=self.instrument_fwhm.value)
        except BattlabError as exc:
            return f"<p><small>Williamson–Hall: {html.escape(str(exc))}</small></p>"
        self.williamson_hall = wh
        return (f"<p><small>Williamson–Hall over {len(ok)} peaks: size {wh['size_nm']:.1f} nm, microstrain "
                f"{wh['microstrain']:.2e} (R² {wh['r_squared']:.3f}). Peaks of different phases should not be "
                "mixed in one fit.</small></p>")

    def _update_map(self):
        if self.series is None:
            return
        from battlab.plot import diffraction as P

        from battlab.series import echem_of

        x = self.cycling.x_axis.value
        if self.map_view.value == "waterfall":
            n = self.series.sizes["time"]
            if self._echem_used is not None and n > 1:
                from battlab.plot import series as S

                # Patterns at their time/capacity/SOC beside the voltage on that axis.
                self.map_plot.update(S.waterfall_with_voltage(self.series, self._echem_used, x=x,
                                                              clock_offset_s=self.cycling.offset_s,
                                                              every=max(1, n // 30), title="Pattern waterfall"))
                return
            per_curve = echem_of(self.tracked, index="pattern") if self.tracked is not None else None
            self.map_plot.update(P.waterfall(self.series, every=max(1, n // 30), x=x, per_curve=per_curve))
            return
        if self.series.sizes["time"] < 2:
            self.map_plot.update(P.contour(self.series))
            return
        self.map_plot.update(P.contour_with_voltage(self.series, self._echem_used, x=x,
                                                    clock_offset_s=self.cycling.offset_s,
                                                    current=int(self.pattern_slider.value), log=self.log_map.value))

    def _update_pca(self):
        """PCA of the series (battlab.series.pca): significant components, explained variance, scores."""
        if self.series is None:
            return
        from battlab.plot import diffraction as P
        from battlab.series import pca

        if self.series.sizes["time"] < 3:
            self.pca = None
            self.pca_info.value = "<small>PCA needs a series of at least three patterns.</small>"
            self.pca_plot.update(P.pca_plot(None))
            return
        self.pca = pca(self.series, n_components=5, center=self.pca_center.value)
        ratio = ", ".join(f"pc{k + 1} {100 * v:.1f} %" for k, v in enumerate(self.pca.explained_variance_ratio))
        self.pca_info.value = (f"<small>PCA ({'centred' if self.pca_center.value else 'not centred'}): "
                               f"<b>{self.pca.n_significant}</b> significant component(s) above the noise; "
                               f"explained variance {html.escape(ratio)}.</small>")
        self.pca_plot.update(P.pca_plot(self.pca))

    def _update_tracking(self):
        if self.tracked is None:
            return
        from battlab.plot import diffraction as P

        self.track_plot.update(P.tracking(self.tracked, self.quantity.value, x=self.cycling.x_axis.value))

    # --- export ----------------------------------------------------------------------
    def _results(self):
        out = {"tracked_peaks": self.tracked}
        if self.current_table is not None:
            out["current_pattern_peaks"] = self.current_table
        if self.fractions is not None:
            out["phase_fractions"] = self.fractions
        if self.pca is not None:
            out["pca_scores"] = self.pca.scores
            out["pca_components"] = self.pca.components
        return out

    def _figures(self):
        figures = {"map": self.map_plot.object, "pattern": self.pattern_plot.object,
                   "tracking": self.track_plot.object}
        if self.pca is not None:
            figures["pca"] = self.pca_plot.object
        return figures

    def _provenance(self):
        from battlab.provenance import Provenance

        params = {"wavelength_A": self.wavelength.value, "model": self.model.value,
                  "kalpha_doublet": self.doublet.value, "background_order": self.bg_order.value,
                  "windows_deg": self.windows, "min_snr": 3.0, "strain_reference": "first fitted d of each peak",
                  "scherrer_k": self.k_factor.value, "instrument_fwhm_deg": self.instrument_fwhm.value,
                  "instrument_correction": "quadratic", "current_pattern": int(self.pattern_slider.value),
                  "series_view": self.map_view.value, "source": self.source_label,
                  "x_axis": self.cycling.x_axis.value, "cycling": self.cycling.source if self._echem_used is not None
                  else None, "echem_alignment": (self.tracked.attrs.get("battlab", {}).get("alignment")
                                                 if self.tracked is not None else None),
                  "pca": None if self.pca is None else {
                      "center": self.pca_center.value, "n_significant": self.pca.n_significant,
                      "explained_variance_ratio": [float(v) for v in self.pca.explained_variance_ratio]}}
        prov = Provenance.for_data("battlab.apps.XRDApp", self.series, params)
        if self._echem_used is not None:
            from battlab.series import cycling_input_record

            prov.inputs.append(cycling_input_record(self._echem_used, self.cycling.source or "cycling"))
        return prov
