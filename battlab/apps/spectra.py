"""Operando spectroscopy app: Raman, FTIR, XPS, XAS, NMR, Mössbauer and EPR with technique presets."""

from __future__ import annotations

import hashlib
import html

import ipywidgets as w
import numpy as np
import pandas as pd

from battlab.apps._base import BaseApp, PlotPane, html_table
from battlab.apps._cycling import CyclingControls
from battlab.apps._windows import WindowEditor
from battlab.errors import MissingDataError
from battlab.series import ECHEM_COLUMNS

__all__ = ["SpectraApp"]

_TECHNIQUES = {"raman": "Raman", "ftir": "FTIR", "xps": "XPS", "xas": "XAS (XANES)", "nmr": "⁷Li NMR",
               "mossbauer": "⁵⁷Fe Mössbauer", "epr": "EPR", "generic": "spectra"}
#: Techniques whose analysis is a model fit with its own controls (no baseline/windows).
_FIT_TECHNIQUES = ("mossbauer", "epr")
_SITE_COLUMNS = [("site", "site", "{}"), ("kind", "kind", "{}"), ("isomer_shift_mm_s", "δ vs α-Fe (mm/s)", "{:.3f}"),
                 ("isomer_shift_mm_s_err", "±", "{:.3f}"), ("quadrupole_splitting_mm_s", "ΔE_Q (mm/s)", "{:.3f}"),
                 ("two_epsilon_mm_s", "2ε (mm/s)", "{:.3f}"), ("field_T", "B_hf (T)", "{:.2f}"),
                 ("fwhm_mm_s", "Γ (mm/s)", "{:.3f}"), ("area_mm_s", "area (mm/s)", "{:.4f}"),
                 ("fraction", "fraction", "{:.1%}")]
_EPR_LINE_COLUMNS = [("component", "line", "{}"), ("g", "g", "{:.5f}"), ("g_err", "±", "{:.5f}"),
                     ("fwhm_mT", "FWHM (mT)", "{:.4f}"), ("width_pp_mT", "ΔB_pp (mT)", "{:.4f}"),
                     ("area", "area (double integral)", "{:.4g}"), ("area_fraction", "share", "{:.1%}"),
                     ("phase_deg", "phase (°)", "{:.1f}"), ("asymmetry", "asymmetry", "{:.2f}")]
_EPR_SUMMARY_COLUMNS = [("g", "g (zero crossing)", "{:.5f}"), ("width_pp_mT", "ΔB_pp (mT)", "{:.4f}"),
                        ("double_integral", "double integral", "{:.4g}"),
                        ("double_integral_relative", "vs first", "{:.3f}"), ("spins", "spins", "{:.3g}")]
_BASELINES = [("none", "none"), ("asymmetric least squares", "als"), ("polynomial (iterative)", "polynomial"),
              ("SNIP", "snip"), ("linear (end points)", "linear")]
_NORMALIZATIONS = [("none", "none"), ("to maximum", "max"), ("to area", "area"), ("SNV", "snv")]
_MODELS = [("pseudo-Voigt", "pseudo_voigt"), ("Lorentzian", "lorentzian"), ("Gaussian", "gaussian")]
_BAND_QUANTITIES = [("band position", "center"), ("FWHM", "fwhm"), ("area", "area"), ("height", "height")]

#: (column, header, format) per result table shown under the plots
_BAND_COLUMNS = [("band", "band", "{}"), ("center", "position", "{:.2f}"), ("center_err", "±", "{:.2f}"),
                 ("fwhm", "FWHM", "{:.2f}"), ("area", "area", "{:.4g}"), ("height", "height", "{:.4g}"),
                 ("present", "present", "{}")]
_XPS_COLUMNS = [("region", "region", "{}"), ("name", "species", "{}"), ("center", "BE (eV)", "{:.2f}"),
                ("fwhm", "FWHM (eV)", "{:.2f}"), ("area", "area", "{:.4g}"),
                ("fraction", "share of region", "{:.1%}")]
_COMPOSITION_COLUMNS = [("element", "element", "{}"), ("species", "species", "{}"), ("rsf", "RSF", "{:.3g}"),
                        ("fraction", "fraction (RSF-corrected)", "{:.1%}"),
                        ("fraction_in_element", "of its element", "{:.1%}")]
_EDGE_COLUMNS = [("e0_eV", "E0 (eV)", "{:.2f}"), ("edge_shift_eV", "edge shift (eV)", "{:+.2f}"),
                 ("edge_step", "edge step", "{:.4g}"), ("white_line_eV", "white line (eV)", "{:.2f}"),
                 ("white_line_height", "white-line height", "{:.3f}")]


class SpectraApp(BaseApp):
    """Operando spectroscopy: map or waterfall of a series beside the voltage, one spectrum with
    its baseline and fits, and the technique's tracked quantities.

    Raman: band positions, widths and I_D/I_G. FTIR: band growth. XPS: Shirley background,
    SEI component fits and RSF-corrected composition. XAS: E0, edge shift, white line and
    a linear-combination fit by the first and last spectra. NMR: window integrals and the
    Li-metal amount. Mössbauer: quadrupole doublets/sextets fitted per spectrum, isomer
    shifts, splittings and site fractions. EPR: g, ΔB_pp, double integral and the
    narrow/broad phase-shifted Lorentzian lines of Li metal. Every technique: PCA of the
    series.

    Parameters
    ----------
    data : DataArray or dict of DataArray, optional
        A spectrum, a (time, axis) series (:func:`battlab.spectra.load_spectra_series`) or
        named XPS regions; the operando Raman demo otherwise.
    echem : DataFrame, optional
        Canonical cycling table of the cell (a demo brings its own; a cycling file can
        also be uploaded in the app). With it, every per-spectrum table gets the cell's
        voltage, capacity and SOC, and the plots can use capacity or SOC as x axis.
    """

    title = "Operando spectroscopy"
    intro = ("Raman, FTIR, XPS, XAS, NMR, Mössbauer and EPR spectra: baseline, bands, components or "
             "hyperfine sites and lines, and how they change over time beside the voltage, with technique "
             "presets and PCA of the series.")
    accept = ".csv,.txt,.dat,.tsv,.asc,.jdx,.dx,.jcamp,.xmu,.xdi,.vms"
    data_kind = "spectrum"

    def __init__(self, data=None, *, echem: pd.DataFrame | None = None, **kw):
        self.regions = {}
        self.technique = "generic"
        self._given_echem = echem
        self._echem_used = None
        self.analysis = None
        self.references = None
        self.current_fit_table = None
        self._busy = False
        self._generic = None  # the regions of a file whose axis named no technique ("Read as" relabels them)
        self.velocity_calibration = None  # Mössbauer: α-Fe calibration of raw channel spectra
        self._raw_counts = None  # Mössbauer: (counts, name) of the last raw channel upload
        self.spin_reference = None  # EPR: spectrum of a standard of known spins
        self._relabelling = False
        super().__init__(data, **kw)

    def demos(self):
        from battlab.datasets.spectra import (
            make_epr_plating_series,
            make_ftir_series,
            make_mossbauer_lfp_series,
            make_nmr_plating_series,
            make_raman_graphite_series,
            make_xas_mixture_series,
            make_xps_sei,
        )

        return {"Raman: graphite G band and I_D/I_G over one cycle": make_raman_graphite_series,
                "XAS: Mn edge, two-state mixture over time": make_xas_mixture_series,
                "XPS: SEI C 1s and F 1s (Shirley, components)": make_xps_sei,
                "FTIR: electrolyte decomposition bands": make_ftir_series,
                "⁷Li NMR: lithium plating at ~260 ppm": make_nmr_plating_series,
                "Mössbauer: LiFePO4 → FePO4 doublets along charge": make_mossbauer_lfp_series,
                "EPR: Li metal narrow + broad lines during plating": make_epr_plating_series}

    @property
    def echem(self):
        """The cycling table in use for the current spectra (a demo's, an upload's or the given one)."""
        return self.cycling.echem

    # --- controls --------------------------------------------------------------------
    def _build_controls(self):
        style = {"description_width": "initial"}
        self.technique_label = w.HTML()
        # A table whose header names no axis reads as "generic": the user says what it is.
        self.read_as = w.Dropdown(options=[("generic", "generic"), ("Raman", "raman"), ("FTIR", "ftir"),
                                           ("⁷Li NMR", "nmr"), ("⁵⁷Fe Mössbauer (mm/s)", "mossbauer"),
                                           ("EPR (field in mT)", "epr"), ("EPR (field in G)", "epr-gauss")],
                                  value="generic", description="Read as", style=style,
                                  layout=w.Layout(width="280px", display="none"))
        self.read_as.observe(lambda _: self._guard("reading the spectra as another technique", self._relabel),
                             "value")
        self.region = w.Dropdown(options=[], description="Region", style=style, layout=w.Layout(width="240px"))
        self.baseline = w.Dropdown(options=_BASELINES, value="none", description="Baseline", style=style,
                                   layout=w.Layout(width="300px"))
        self.stiffness = w.FloatSlider(value=6.0, min=2.0, max=9.0, step=0.5, description="ALS log10 λ",
                                       continuous_update=False, style=style, layout=w.Layout(width="300px"))
        self.poly_order = w.BoundedIntText(value=2, min=0, max=8, description="polynomial order", style=style,
                                           layout=w.Layout(width="180px"))
        self.smoothing = w.IntSlider(value=0, min=0, max=51, step=2, description="Smoothing (points, 0 = off)",
                                     continuous_update=False, style=style, layout=w.Layout(width="360px"))
        self.normalization = w.Dropdown(options=_NORMALIZATIONS, value="none", description="Normalise",
                                        style=style, layout=w.Layout(width="220px"))
        self.model = w.Dropdown(options=_MODELS, value="pseudo_voigt", description="Band shape", style=style,
                                layout=w.Layout(width="220px"))
        self.window_editor = WindowEditor(label="band range", on_change=self._windows_changed,
                                          suggest=self._suggest_window, placeholder="name, e.g. G",
                                          guard=self._guard)
        self.spectrum_slider = w.IntSlider(value=0, min=0, max=0, description="Spectrum", continuous_update=False,
                                           style=style, layout=w.Layout(width="460px"))
        self.spectrum_label = w.HTML()
        self.view = w.ToggleButtons(options=[("map", "map"), ("waterfall", "waterfall")], value="map",
                                    description="Series view", style=style)
        self.quantity = w.Dropdown(options=[], description="Plot", style=style,
                                   layout=w.Layout(width="320px"))
        self.cycling = CyclingControls(self, on_change=self._analyse, on_axis=self._axis_changed,
                                       echem=self._given_echem)
        # Mössbauer: sites as text lines, the fit baseline and the isomer-shift reference.
        self.sites = w.Textarea(description="Sites", style=style, layout=w.Layout(width="520px", height="70px"),
                                continuous_update=False,
                                placeholder="name, kind (singlet/doublet/sextet), δ, ΔE_Q or 2ε [, B_hf T]")
        self.fit_baseline = w.Dropdown(options=[("constant", "constant"), ("linear", "linear")], value="constant",
                                       description="Off-resonance level", style=style, layout=w.Layout(width="260px"))
        self.shift_reference = w.FloatText(value=0.0, step=0.01, description="α-Fe centroid at (mm/s)", style=style,
                                           layout=w.Layout(width="240px"))
        # Raw 2N-channel spectra: folded here, on the velocity scale of an α-Fe foil (or a nominal drive).
        raw_types = ".txt,.dat,.csv,.asc,.mca,.ws5"
        self.raw_upload = self._upload_button(accept=raw_types, description="Raw channels")
        self.calibration_upload = self._upload_button(accept=raw_types, description="α-Fe calibration")
        self.velocity_max = w.FloatText(value=0.0, step=0.1, description="or drive ± (mm/s)", style=style,
                                        layout=w.Layout(width="200px"))
        self.calibration_label = w.HTML("<small>no α-Fe calibration</small>")
        self._observe_upload(self.raw_upload, self._load_raw_channels, default_name="raw.txt")
        self._observe_upload(self.calibration_upload, self._load_calibration, default_name="alpha_fe.txt")
        self.velocity_max.observe(lambda _: self._guard("folding the raw spectrum", self._show_raw), "value")
        self.mossbauer_box = w.VBox([self.sites, w.HBox([self.fit_baseline, self.shift_reference]),
                                     w.HBox([self.raw_upload, self.calibration_upload, self.velocity_max,
                                             self.calibration_label])])
        # EPR: frequency (for g), line shape, number of lines and the integration range.
        self.frequency = w.FloatText(value=9.4, step=0.001, description="Microwave frequency (GHz)", style=style,
                                     layout=w.Layout(width="280px"))
        self.line_shape = w.Dropdown(options=[("phase-shifted Lorentzian (Dysonian)", "dysonian"),
                                              ("Lorentzian", "lorentzian")], value="dysonian",
                                     description="Line shape", style=style, layout=w.Layout(width="360px"))
        self.n_lines = w.BoundedIntText(value=2, min=1, max=4, description="Lines", style=style,
                                        layout=w.Layout(width="140px"))
        self.integration = w.FloatText(value=0.0, step=0.5, description="Double integral ± (mT, 0 = sweep)",
                                       style=style, layout=w.Layout(width="300px"))
        # Spin counting: a standard of known spins and the receiver gains of both.
        self.reference_upload = self._upload_button(accept=".csv,.txt,.dat", description="Spin standard")
        self.reference_spins = w.FloatText(value=1e15, description="its spins", style=style,
                                           layout=w.Layout(width="200px"))
        self.sample_gain = w.FloatText(value=1.0, description="gain: sample", style=style,
                                       layout=w.Layout(width="180px"))
        self.reference_gain = w.FloatText(value=1.0, description="standard", style=style,
                                          layout=w.Layout(width="160px"))
        self.reference_label = w.HTML("<small>no spin standard</small>")
        self._observe_upload(self.reference_upload, self._load_spin_reference, default_name="standard.csv")
        self.epr_box = w.VBox([w.HBox([self.frequency, self.line_shape]), w.HBox([self.n_lines, self.integration]),
                               w.HBox([self.reference_upload, self.reference_spins, self.sample_gain,
                                       self.reference_gain, self.reference_label])])
        self.mossbauer_box.layout.display = self.epr_box.layout.display = "none"
        for widget in (self.sites, self.fit_baseline, self.shift_reference, self.frequency, self.line_shape,
                       self.n_lines, self.integration, self.reference_spins, self.sample_gain, self.reference_gain):
            widget.observe(lambda _: self._guard("analysing the spectra", self._analyse), "value")

        rerun = lambda _: self._guard("analysing the spectra", self._analyse)
        for widget in (self.baseline, self.stiffness, self.poly_order, self.smoothing, self.normalization,
                       self.model):
            widget.observe(rerun, "value")
        self.region.observe(lambda _: self._guard("showing the region", self._update_views), "value")
        self.spectrum_slider.observe(lambda _: self._guard("showing the spectrum", self._update_spectrum), "value")
        self.view.observe(lambda _: self._guard("drawing the series", self._update_map), "value")
        self.quantity.observe(lambda _: self._guard("plotting over time", self._update_tracking), "value")
        self.preprocessing_box = w.VBox([w.HBox([self.baseline, self.stiffness, self.poly_order]),
                                         w.HBox([self.smoothing, self.normalization, self.model])])
        return [w.HBox([self.technique_label, self.region, self.read_as]),
                self.preprocessing_box,
                self.mossbauer_box,
                self.epr_box,
                self.window_editor.widget,
                w.HBox([self.spectrum_slider, self.spectrum_label]),
                self.cycling.widget,
                w.HBox([self.view, self.quantity])]

    def _plot_area(self):
        self.map_plot = PlotPane()
        self.spectrum_plot = PlotPane()
        self.track_plot = PlotPane(min_height_px=260)
        return w.VBox([self.map_plot.widget, self.spectrum_plot.widget, self.track_plot.widget])

    # --- data ------------------------------------------------------------------------
    def _set_data(self, data, label, truth=None):
        from battlab.spectra.presets import PRESETS
        from battlab.spectra.workflow import as_regions, technique_of

        regions = as_regions(data)
        technique = technique_of(data)
        if not self._relabelling:
            self._generic = regions if technique == "generic" else None
            self._busy = True
            try:
                self.read_as.value = "generic"
            finally:
                self._busy = False
        self.read_as.layout.display = "" if self._generic is not None else "none"
        self.cycling.for_new_data(truth)
        truth = truth or {}
        self.regions = regions
        self.technique = technique
        # XAS end members: a demo brings its references; otherwise the first and last spectrum.
        self.references = truth.get("references")
        preset = PRESETS.get(technique, {})
        self._busy = True
        try:
            self.region.options = list(regions)
            self.region.value = next(iter(regions))
            self.region.layout.display = "" if len(regions) > 1 else "none"
            self.technique_label.value = f"<b>{html.escape(_TECHNIQUES.get(technique, technique))}</b>&nbsp;"
            base = dict(preset.get("baseline") or {"method": "none"})
            method = base.get("method", "none")
            shown = method if method in dict((v, k) for k, v in _BASELINES) else "none"
            self.baseline.value = shown
            if "lam" in base:
                self.stiffness.value = float(np.clip(np.log10(base["lam"]), 2, 9))
            if "order" in base:
                self.poly_order.value = int(base["order"])
            self.smoothing.value = int((preset.get("smoothing") or {}).get("window_points", 0))
            self.normalization.value = "none"
            self.model.value = preset.get("model", "pseudo_voigt")
            # XPS backgrounds and XAS edge normalisation belong to their analyses, not to a baseline here.
            self.preprocessing_box.layout.display = "none" if technique in ("xps", "xas", *_FIT_TECHNIQUES) else ""
            self.mossbauer_box.layout.display = "" if technique == "mossbauer" else "none"
            self.epr_box.layout.display = "" if technique == "epr" else "none"
            if technique == "mossbauer":
                self.sites.value = _sites_text(preset.get("sites") or [])
            if technique == "epr":
                first = next(iter(regions.values()))
                freq = first.attrs.get("microwave_frequency_GHz")
                if freq:
                    self.frequency.value = float(freq)
            uses_windows = technique in ("raman", "ftir", "nmr", "generic")
            self.window_editor.widget.layout.display = "" if uses_windows else "none"
            series = regions[self.region.value]
            axis = [d for d in series.dims if d != "time"][0]
            x = series[axis].to_numpy()
            step = float(np.median(np.abs(np.diff(x)))) if x.size > 1 else 1.0
            self.window_editor.slider.description = f"band range ({series[axis].attrs.get('units', '')})"
            self.window_editor.set_axis(float(x.min()), float(x.max()), step=max(step / 2, 1e-6))
            windows = truth.get("windows") or preset.get("windows") or {}
            if uses_windows and not windows:
                windows = self._auto_windows(series)
            self.window_editor.set_windows(windows)
            n = max(s.sizes["time"] for s in regions.values())
            self.spectrum_slider.max = n - 1
            self.spectrum_slider.value = 0
        finally:
            self._busy = False
        self._analyse()

    def _auto_windows(self, series):
        from battlab.errors import BattlabError
        from battlab.peaks import suggest_windows

        axis = [d for d in series.dims if d != "time"][0]
        try:
            return suggest_windows(series[axis].to_numpy(), np.nan_to_num(series.isel(time=0).to_numpy()),
                                   n_peaks=2, label="{:.0f}")
        except BattlabError:
            return {}

    def _suggest_window(self, exclude):
        from battlab.peaks import suggest_windows

        spec = self._processed().isel(time=int(self.spectrum_slider.value))
        axis = [d for d in spec.dims if d != "time"][0]
        found = suggest_windows(spec[axis].to_numpy(), np.nan_to_num(spec.to_numpy()), n_peaks=1, exclude=exclude,
                                label="{:.0f}")
        return next(iter(found.items()))

    def _windows_changed(self):
        self._analyse()

    def describe_data(self):
        if not self.regions:
            return ""
        series = self.regions[self.region.value or next(iter(self.regions))]
        axis = [d for d in series.dims if d != "time"][0]
        x = series[axis].to_numpy()
        n = series.sizes["time"]
        units = series[axis].attrs.get("units", "")
        regions = f"{len(self.regions)} regions, " if len(self.regions) > 1 else ""
        return (f"{_TECHNIQUES.get(self.technique, self.technique)}: {regions}{n} spectr{'a' if n != 1 else 'um'}, "
                f"{x.min():.4g}–{x.max():.4g} {units}")

    # --- analysis --------------------------------------------------------------------
    def _baseline_options(self):
        method = self.baseline.value
        if method == "als":
            return {"method": "als", "lam": float(10 ** self.stiffness.value), "p": 0.01}
        if method == "polynomial":
            return {"method": "polynomial", "order": int(self.poly_order.value)}
        return {"method": method}

    def _analyse(self):
        if self._busy or not self.regions:
            return
        from battlab.spectra.workflow import analyse_spectra

        windows = dict(self.window_editor.windows) if self.technique in ("raman", "ftir", "nmr", "generic") else None
        self._echem_used = self.cycling.usable(next(iter(self.regions.values())))
        fitted = self.technique in _FIT_TECHNIQUES
        self.analysis = analyse_spectra(
            self.regions, technique=self.technique, windows=windows,
            baseline={"method": "none"} if fitted else self._baseline_options(),
            smoothing_points=0 if fitted else int(self.smoothing.value),
            normalization="none" if fitted else self.normalization.value,
            model=self.model.value, references=self.references, echem=self._echem_used,
            clock_offset_s=self.cycling.offset_s, technique_options=self._technique_options())
        self._refresh_quantities()
        self.set_status(f"{self.source_label or 'data'} — {self.describe_data()}")
        self._update_views()

    def _relabel(self):
        if self._busy or self._generic is None:
            return
        choice = self.read_as.value
        data = self._generic if choice == "generic" else {
            name: _relabelled(series, choice) for name, series in self._generic.items()}
        self._relabelling = True
        try:
            self._set_data(data if len(data) > 1 else next(iter(data.values())), self.source_label)
        finally:
            self._relabelling = False

    # --- Mössbauer raw channels and EPR spin standard ---------------------------------
    def _load_calibration(self, data: bytes, name: str):
        from battlab.spectra.mossbauer import calibrate_velocity, read_channels

        self.velocity_calibration = calibrate_velocity(read_channels(data, name=name))
        cal = self.velocity_calibration
        self.calibration_label.value = (f"<small>{html.escape(name)}: {cal.slope_mm_s:.5g} mm/s per channel, "
                                        f"±{cal.velocity_max_mm_s:.3f} mm/s, fold at {cal.folding_point:.2f}</small>")
        if self._raw_counts is not None:
            self._show_raw()

    def _load_raw_channels(self, data: bytes, name: str):
        from battlab.spectra.mossbauer import read_channels

        self._raw_counts = (read_channels(data, name=name), name, hashlib.sha256(data).hexdigest())
        self._show_raw()

    def _show_raw(self):
        if self._raw_counts is None:
            return
        from battlab.spectra.mossbauer import channels_to_spectrum

        counts, name, digest = self._raw_counts
        vmax = float(self.velocity_max.value)
        meta = {"format": "mossbauer-channels", "source_name": name, "sha256": digest, "technique": "mossbauer",
                "start_time_utc": None, "notes": []}
        spec = channels_to_spectrum(counts, calibration=self.velocity_calibration,
                                    velocity_max_mm_s=vmax if vmax > 0 else None, meta=meta)
        self._accept_data(spec, name)

    def _load_spin_reference(self, data: bytes, name: str):
        from battlab.spectra.io import load_spectrum

        ref = load_spectrum(data, name=name, technique="epr")
        self.spin_reference = next(iter(ref.values())) if isinstance(ref, dict) else ref
        self.reference_label.value = f"<small>standard: {html.escape(name)}</small>"
        if self.technique == "epr":
            self._analyse()

    def _technique_options(self):
        if self.technique == "mossbauer":
            return {"sites": _parse_sites(self.sites.value), "fit_baseline": self.fit_baseline.value,
                    "shift_reference_mm_s": float(self.shift_reference.value)}
        if self.technique == "epr":
            from battlab.spectra.epr import LI_METAL_COMPONENTS

            n = int(self.n_lines.value)
            half = float(self.integration.value)
            options = {"frequency_GHz": float(self.frequency.value) if self.frequency.value > 0 else None,
                       "line_shape": self.line_shape.value, "components": LI_METAL_COMPONENTS if n == 2 else n,
                       "integration_half_width_mT": half if half > 0 else None}
            if self.spin_reference is not None:
                options.update({"reference": self.spin_reference, "reference_spins": float(self.reference_spins.value),
                                "acquisition": {"receiver_gain": float(self.sample_gain.value)},
                                "reference_acquisition": {"receiver_gain": float(self.reference_gain.value)}})
            return options
        return None

    def _processed(self):
        return self.analysis.processed[self.region.value]

    def _refresh_quantities(self):
        tables = self.analysis.tables
        opts = []
        if self.technique in ("raman", "ftir", "generic") and any(k.endswith("bands") for k in tables):
            opts += _BAND_QUANTITIES
        if any(k.endswith("d_to_g") for k in tables):
            opts += [("I_D/I_G", "id_ig"), ("G-band position", "g_center_cm1")]
        if any(k.endswith("li_metal") for k in tables):
            opts += [("Li metal amount", "li_metal"), ("window integrals", "integrals")]
        if any(k.endswith("edge") for k in tables):
            opts += [("E0 and white line", "edge"), ("edge shift", "edge_shift")]
        if any(k.endswith("lcf") for k in tables):
            opts += [("LCF fractions", "lcf")]
        if "composition" in tables:
            opts += [("composition", "composition")]
        if any(k.endswith("site_fractions") for k in tables):
            opts += [("site fractions", "site_fractions"), ("isomer shifts", "isomer_shift"),
                     ("quadrupole splittings", "quadrupole")]
        if any(k.endswith("epr") for k in tables):
            if any(k.endswith("epr_components") for k in tables):
                opts += [("line areas", "epr_areas"), ("line widths", "epr_widths"), ("line asymmetry", "epr_asym")]
            opts += [("double integral", "epr_di"), ("g factor", "epr_g")]
        if self.analysis.pca:
            opts += [("PCA scores and loadings", "pca")]
        current = self.quantity.value
        self._busy = True
        try:
            self.quantity.options = opts
            values = [v for _, v in opts]
            if values:
                self.quantity.value = current if current in values else values[0]
        finally:
            self._busy = False

    def _table(self, suffix):
        tables = self.analysis.tables
        prefix = f"{self.region.value}_" if len(self.regions) > 1 else ""
        return tables.get(f"{prefix}{suffix}", tables.get(suffix))

    def _axis_changed(self):
        self._update_map()
        self._update_tracking()

    # --- views -----------------------------------------------------------------------
    def _update_views(self):
        if self._busy or self.analysis is None:
            return
        self._update_map()
        self._update_spectrum()
        self._update_tracking()

    def _update_map(self):
        if self.analysis is None:
            return
        from battlab.plot import series as S

        series = self._processed()
        title = f"Operando {_TECHNIQUES.get(self.technique, '')} map"
        x = self.cycling.x_axis.value
        if series.sizes["time"] < 2:
            self.map_plot.update(S.series_map(series))
        elif self.view.value == "waterfall" and self._echem_used is not None:
            # Spectra at their time/capacity/SOC beside the voltage on that axis.
            n = series.sizes["time"]
            self.map_plot.update(S.waterfall_with_voltage(series, self._echem_used, x=x,
                                                          clock_offset_s=self.cycling.offset_s,
                                                          every=max(1, n // 30), title="Spectra waterfall"))
        elif self.view.value == "waterfall":
            n = series.sizes["time"]
            self.map_plot.update(S.waterfall(series, every=max(1, n // 30), what="spectra", x=x,
                                             per_curve=self.analysis.echem.get(self.region.value)))
        else:
            self.map_plot.update(S.series_map_with_voltage(series, self._echem_used, x=x,
                                                           clock_offset_s=self.cycling.offset_s,
                                                           current=int(self.spectrum_slider.value), title=title))

    def _update_spectrum(self):
        if self._busy or self.analysis is None:
            return
        from battlab.plot import spectra as P
        from battlab.spectra.presets import PRESETS

        name = self.region.value
        series = self.regions[name]
        i = min(int(self.spectrum_slider.value), series.sizes["time"] - 1)
        raw = series.isel(time=i)
        axis = [d for d in raw.dims][0]
        x = raw[axis].to_numpy()
        reverse = PRESETS.get(self.technique, {}).get("axis_reversed", False)
        hours = float(series["elapsed_s"].to_numpy()[i]) / 3600 if "elapsed_s" in series.coords else 0.0
        stamp = pd.Timestamp(series["time"].to_numpy()[i])
        state = self.cycling.state_text(self.analysis.echem.get(name), i)
        self.spectrum_label.value = f"<small>{html.escape(stamp.isoformat())} UTC · {hours:.2f} h{state}</small>"
        title = f"{name}: spectrum {i} ({hours:.2f} h)" if len(self.regions) > 1 else f"Spectrum {i} ({hours:.2f} h)"
        notes = "".join(f"<p><small>{html.escape(n)}</small></p>" for n in self.analysis.notes)
        if self.technique in _FIT_TECHNIQUES:
            fits = self.analysis.fits.get(name) or []
            fit = fits[i] if i < len(fits) else None
            if self.technique == "mossbauer":
                self.spectrum_plot.update(P.mossbauer_fit(fit, title=title))
                table = fit.table if fit is not None else None
                self.current_fit_table = table
                self.table.value = (html_table(table, [c for c in _SITE_COLUMNS if c[0] in table])
                                    if table is not None else "<p>No fit.</p>") + notes
            else:
                self.spectrum_plot.update(P.epr_fit(fit, spectrum=raw, title=title))
                summary = self._table("epr")
                row = summary[summary["spectrum"] == i] if summary is not None else None
                lines = fit.table if fit is not None else None
                self.current_fit_table = lines
                self.table.value = ((html_table(row, [c for c in _EPR_SUMMARY_COLUMNS if c[0] in row])
                                     if row is not None else "")
                                    + (html_table(lines, _EPR_LINE_COLUMNS) if lines is not None else "") + notes)
            return
        if self.technique == "xps":
            fits = self.analysis.fits.get(name) or []
            fit = fits[i] if i < len(fits) else None
            if fit is None:
                self.spectrum_plot.update(P.spectrum(raw, reverse_x=True, title=title))
                self.current_fit_table = None
                self.table.value = notes or "<p>No components fitted in this region.</p>"
                return
            base = np.interp(x, fit.x, fit.baseline)
            comps = {n: (fit.x, fit.baseline + c) for n, c in fit.evaluate(components=True).items()}
            self.spectrum_plot.update(P.spectrum(raw, baseline=base, components=comps, total=(fit.x, fit.evaluate()),
                                                 reverse_x=True, title=f"{title}, Shirley background"))
            self.current_fit_table = fit.table
            comp = self.analysis.tables.get("composition")
            comp = comp[comp["spectrum"] == i] if comp is not None else None
            self.table.value = (html_table(fit.table, _XPS_COLUMNS)
                                + ("<p><b>Composition of this spectrum</b> (all fitted regions)</p>"
                                   + html_table(comp, _COMPOSITION_COLUMNS) if comp is not None else "") + notes)
            return
        if self.technique == "xas":
            from battlab.spectra.xas import normalize_xas

            edge = self._table("edge")
            row = edge.iloc[[i]]
            normed, info = normalize_xas(raw, e0=float(row["e0_eV"].iloc[0]))
            self.spectrum_plot.update(P.spectrum(normed, title=f"{title}, normalised, E0 = {info['e0_eV']:.2f} eV"))
            self.current_fit_table = row
            lcf = self._table("lcf")
            extra = ""
            if lcf is not None:
                cols = [(c, c.replace("_fraction", " fraction"), "{:.1%}") for c in lcf.columns if c.endswith("_fraction")]
                by = ", ".join(self.references) if self.references else "the first and last spectra"
                extra = (f"<p><b>Linear-combination fit</b> by {html.escape(by)}</p>"
                         + html_table(lcf.iloc[[i]], cols + [("r_factor", "R factor", "{:.2e}")]))
            self.table.value = html_table(row, _EDGE_COLUMNS) + extra + notes
            return
        processed = self._processed().isel(time=i)
        base = self.analysis.baselines[name].isel(time=i).to_numpy()
        shown = processed + base  # smoothed data on its baseline, as measured
        windows = self.window_editor.windows
        comps = {}
        bands = self._table("bands")
        if bands is not None:
            from battlab.peaks import pseudo_voigt

            rows = bands[(bands["spectrum"] == i) & bands["present"].astype(bool)]
            for r in rows.itertuples():
                lo, hi = windows.get(r.band, (x.min(), x.max()))
                xs = x[(x >= lo) & (x <= hi)]
                comps[str(r.band)] = (xs, np.interp(xs, x, base) + pseudo_voigt(xs, r.area, r.center, r.fwhm, r.eta))
            self.current_fit_table = bands[bands["spectrum"] == i]
            table = html_table(self.current_fit_table, _BAND_COLUMNS)
        else:
            self.current_fit_table = None
            table = ""
        for key in ("d_to_g", "integrals", "li_metal"):
            extra = self._table(key)
            if extra is not None:
                row = extra[extra["spectrum"] == i] if "spectrum" in extra else extra.iloc[[i]]
                cols = [(c, c, "{:.4g}") for c in row.columns
                        if c not in ("time", "elapsed_s", "spectrum", *ECHEM_COLUMNS)]
                table += f"<p><b>{html.escape(key.replace('_', ' '))}</b></p>" + html_table(row, cols)
        self.spectrum_plot.update(P.spectrum(shown, baseline=base if self.baseline.value != "none" else None,
                                             components=comps, windows=windows, reverse_x=reverse, title=title))
        self.table.value = table + notes

    def _update_tracking(self):
        if self._busy or self.analysis is None:
            return
        import holoviews as hv

        from battlab.plot import series as S
        from battlab.plot._core import empty

        q = self.quantity.value
        x = self.cycling.x_axis.value
        name = self.region.value
        units = ""
        series = self.regions[name]
        axis = [d for d in series.dims if d != "time"][0]
        units = series[axis].attrs.get("units", "")
        if q in ("center", "fwhm", "area", "height"):
            label = dict((v, k) for k, v in _BAND_QUANTITIES)[q] + (f" ({units})" if q in ("center", "fwhm") else "")
            fig = S.tracked_quantity(self._table("bands"), q, group="band", label=label, x=x)
        elif q in ("id_ig", "g_center_cm1"):
            label = {"id_ig": "I_D/I_G", "g_center_cm1": "G-band position (cm⁻¹)"}[q]
            fig = S.columns_vs_time(self._table("d_to_g"), {q: label}, ylabel=label, x=x)
        elif q == "li_metal":
            table = self._table("li_metal")
            col = "li_metal_umol" if "li_metal_umol" in table else "li_metal_relative"
            label = "Li metal (µmol)" if col == "li_metal_umol" else "Li metal (relative to first spectrum)"
            fig = S.columns_vs_time(table, {col: label}, ylabel=label, x=x)
        elif q == "integrals":
            table = self._table("integrals")
            cols = {c: c for c in table.columns if c not in ("time", "elapsed_s", "spectrum", *ECHEM_COLUMNS)}
            fig = S.columns_vs_time(table, cols, ylabel="Integral (intensity × ppm)", x=x)
        elif q == "edge":
            fig = S.columns_vs_time(self._table("edge"), {"e0_eV": "E0", "white_line_eV": "white line"},
                                    ylabel="Energy (eV)", x=x)
        elif q == "edge_shift":
            fig = S.columns_vs_time(self._table("edge"), {"edge_shift_eV": "edge shift"}, ylabel="Edge shift (eV)",
                                    x=x)
        elif q == "lcf":
            table = self._table("lcf")
            fig = S.columns_vs_time(table, {c: c.replace("_fraction", "") for c in table.columns
                                            if c.endswith("_fraction")}, ylabel="Fraction", x=x)
        elif q == "composition":
            comp = self.analysis.tables["composition"]
            i = int(self.spectrum_slider.value)
            sub = comp[comp["spectrum"] == min(i, int(comp["spectrum"].max()))]
            fig = hv.Bars((sub["species"], 100 * sub["fraction"]), "Species", "Fraction (%)").opts(
                width=700, height=260, title="RSF-corrected composition", tools=["hover"], xrotation=30)
        elif q == "site_fractions":
            table = self._table("site_fractions")
            cols = {c: c.replace("fraction_", "") for c in table.columns if c.startswith("fraction_")}
            fig = S.columns_vs_time(table, cols, ylabel="Site fraction (area ratio)", x=x)
        elif q in ("isomer_shift", "quadrupole"):
            col = "isomer_shift_mm_s" if q == "isomer_shift" else "quadrupole_splitting_mm_s"
            label = "δ vs α-Fe (mm/s)" if q == "isomer_shift" else "ΔE_Q (mm/s)"
            fig = S.tracked_quantity(self._table("mossbauer_sites"), col, group="site", label=label, x=x)
        elif q in ("epr_areas", "epr_widths", "epr_asym", "epr_di", "epr_g"):
            fig = self._epr_tracking(q, x)
        elif q == "pca":
            from battlab.plot.series import axis_label

            fig = S.pca_plot(self.analysis.pca.get(name), axis_title=axis_label(series, axis))
        else:
            fig = empty("Nothing to plot over time for a single spectrum.", width=700, height=260)
        self.track_plot.update(fig)

    def _epr_tracking(self, q, x):
        from battlab.plot import series as S

        table = self._table("epr")
        comps = self._table("epr_components")
        names = list(dict.fromkeys(comps["component"])) if comps is not None else []
        if q == "epr_di":
            col = "spins" if "spins" in table else "double_integral_relative"
            label = "Spins" if col == "spins" else "Double integral (vs first spectrum)"
            return S.columns_vs_time(table, {col: label}, ylabel=label, x=x)
        if q == "epr_g":
            return S.columns_vs_time(table, {"g": "zero crossing", **{f"{n}_g": n for n in names}}, ylabel="g", x=x)
        suffix, label = {"epr_areas": ("area", "Line area (double integral)"),
                         "epr_widths": ("fwhm_mT", "Line FWHM (mT)"),
                         "epr_asym": ("asymmetry", "Asymmetry (peak ratio)")}[q]
        if q == "epr_areas" and all(f"{n}_spins" in table for n in names):
            suffix, label = "spins", "Spins per line"
        return S.columns_vs_time(table, {f"{n}_{suffix}": n for n in names}, ylabel=label, x=x)

    # --- export ----------------------------------------------------------------------
    def _results(self):
        if self.analysis is None:
            raise MissingDataError("nothing analysed yet.")
        out = dict(self.analysis.tables)
        if self.current_fit_table is not None:
            out["current_spectrum_fit"] = self.current_fit_table
        return out

    def _figures(self):
        return {"map": self.map_plot.object, "spectrum": self.spectrum_plot.object, "over_time": self.track_plot.object}

    def _provenance(self):
        from battlab.provenance import Provenance

        params = dict(self.analysis.options if self.analysis else {})
        if self.technique == "xas":
            params["xas_references"] = sorted(self.references) if self.references else "first and last spectrum"
        params.update({"current_spectrum": int(self.spectrum_slider.value), "region": self.region.value,
                       "source": self.source_label})
        params.update({"x_axis": self.cycling.x_axis.value,
                       "cycling": self.cycling.source if self._echem_used is not None else None})
        first = self.regions[next(iter(self.regions))]
        prov = Provenance.for_data("battlab.apps.SpectraApp", first, params)
        if self._echem_used is not None:
            from battlab.series import cycling_input_record

            prov.inputs.append(cycling_input_record(self._echem_used, self.cycling.source or "cycling"))
        return prov


def _sites_text(sites) -> str:
    """Mössbauer sites as editable lines: name, kind, δ, ΔE_Q (2ε) [, B_hf]."""
    lines = []
    for site in sites:
        parts = [site.get("name", ""), site.get("kind", "doublet"), f"{site.get('isomer_shift_mm_s', 0.0):g}",
                 f"{site.get('quadrupole_mm_s', 0.0):g}"]
        if site.get("kind") == "sextet":
            parts.append(f"{site.get('field_T', 33.0):g}")
        lines.append(", ".join(parts))
    return "\n".join(lines)


def _parse_sites(text: str) -> list:
    from battlab.errors import InvalidParameterError

    sites = []
    for k, line in enumerate(t for t in text.splitlines() if t.strip()):
        parts = [p.strip() for p in line.split(",")]
        try:
            site = {"name": parts[0] or f"site {k + 1}", "kind": parts[1], "isomer_shift_mm_s": float(parts[2])}
            if len(parts) > 3:
                site["quadrupole_mm_s"] = float(parts[3])
            if len(parts) > 4:
                site["field_T"] = float(parts[4])
        except (IndexError, ValueError):
            raise InvalidParameterError(f"site line {k + 1} ({line!r}): write name, kind, δ, ΔE_Q or 2ε [, B_hf], "
                                        "e.g. 'Fe2+, doublet, 1.22, 2.96'.") from None
        sites.append(site)
    if not sites:
        raise InvalidParameterError("give at least one Mössbauer site line (name, kind, δ, ΔE_Q).")
    return sites


def _relabelled(series, choice: str):
    """A generic (time, x) series on the axis of another technique (EPR gauss converted to mT)."""
    from battlab.spectra.io import AXES

    technique = "epr" if choice == "epr-gauss" else choice
    axis, units, long_name, _ = AXES[technique]
    old = [d for d in series.dims if d != "time"][0]
    x = series[old].to_numpy() / (10.0 if choice == "epr-gauss" else 1.0)
    out = series.rename({old: axis}).assign_coords({axis: x})
    out[axis].attrs.update({"units": units, "long_name": long_name})
    out.attrs = {**series.attrs, "technique": technique}
    out.attrs["battlab"] = {**series.attrs.get("battlab", {}), "technique": technique}
    return out
