"""In situ TEM app: movie & morphology, fronts & kinetics, nucleation, diffraction, spectroscopy, dose,
electron holography; neutron radiographs open in the movie tabs with their own preset."""

from __future__ import annotations

import html
from pathlib import Path

import ipywidgets as w
import numpy as np
import pandas as pd

from battlab.apps._base import BaseApp, PlotPane, html_table
from battlab.errors import InvalidParameterError, MissingDataError

__all__ = ["TEMApp"]

TABS = ("Movie & morphology", "Fronts & kinetics", "Nucleation", "Diffraction", "Spectroscopy", "Dose", "Holography")
#: Movie presets: (label, battlab.imaging.presets name or "TEM" for the plain grey display)
MOVIE_PRESETS = (("TEM image (grey levels)", "TEM"), ("neutron radiography (attenuation −ln T)", "neutron radiography"))
_SUFFIXES = (".dm3", ".dm4", ".emd", ".emi", ".ser", ".mrc", ".tif", ".tiff", ".npy")
#: The tab that shows each kind of loaded data (an upload switches to it).
_SLOT_TABS = {"movie": "Movie & morphology", "pattern": "Diffraction", "cube": "Diffraction",
              "spectrum": "Spectroscopy", "eels_si": "Spectroscopy", "eds": "Spectroscopy",
              "hologram": "Holography", "phase_image": "Holography"}
_ECHEM_SUFFIXES = (".csv", ".mpt", ".mpr", ".txt")
#: Largest array (values) the app denoises or decomposes in memory; larger ones go to the library on a crop
_MAX_IN_APP_VALUES = 5e7


def _transient(t_m_s=5.0, i_m_A=2e-6, duration_s=40.0):
    """A potentiostatic plating step whose current follows the instantaneous Scharifker–Hills curve."""
    from battlab.tem.nucleation import scharifker_hills

    t = np.linspace(0.05, duration_s, 800)
    current = -i_m_A * np.sqrt(scharifker_hills(t / t_m_s, model="instantaneous"))
    return pd.DataFrame({"test_time_s": t, "voltage_V": -0.1, "current_A": current})


def _radiography_movie():
    """The neutron radiography demo as an attenuation movie (open-beam and dark corrected)."""
    from battlab.datasets._base import Demo
    from battlab.datasets.imaging import make_neutron_radiography_series
    from battlab.imaging.presets import radiograph_attenuation

    demo = make_neutron_radiography_series()
    att = radiograph_attenuation(demo.data["frames"], open_beam=demo.data["open_beam"], dark=demo.data["dark"])
    att.attrs["source_name"] = "demo: neutron radiography"
    return Demo(att, {k: v for k, v in demo.truth.items() if k != "attenuation"}, demo.description)


def _session(movie_maker, name, with_transient=False, saed_series=False):
    """A demo session: one movie plus the SAED, EELS and holography demos, so every tab has data."""
    from battlab.datasets._base import Demo
    from battlab.datasets.imaging import make_hologram, make_phase_step
    from battlab.datasets.tem import (
        make_4dstem_cube,
        make_eds_spectrum_image,
        make_eels_spectrum,
        make_eels_spectrum_image,
        make_saed_pattern,
        make_saed_series,
    )

    def build():
        movie = movie_maker()
        pattern = make_saed_series(n_frames=16, frame_time_s=60.0) if saed_series else \
            make_saed_pattern(phases={"Li": 1.0, "Li2O": 1.0, "LiF": 1.0})
        spectrum = make_eels_spectrum()
        # at the app's default 200 kV, so the interaction constant shown matches the data
        holo, step = make_hologram(voltage_kV=200.0), make_phase_step(voltage_kV=200.0)
        data = {"movie": movie.data, "pattern": pattern.data, "spectrum": spectrum.data,
                "hologram": holo.data["hologram"], "hologram_reference": holo.data["reference"],
                "phase_image": step.data}
        eds, cube = make_eds_spectrum_image(noise=True), make_4dstem_cube()
        eels_si = make_eels_spectrum_image()
        data.update(eds=eds.data, cube=cube.data, eels_si=eels_si.data)
        truth = {"movie": movie.truth, "pattern": pattern.truth, "spectrum": spectrum.truth, "hologram": holo.truth,
                 "phase_image": step.truth, "eds": eds.truth, "cube": cube.truth, "eels_si": eels_si.truth}
        if with_transient:
            data["echem"] = _transient()
            truth["echem"] = {"t_m_s": 5.0, "model": "instantaneous"}
        return Demo(data, truth, name)
    return build


class TEMApp(BaseApp):
    """In situ TEM: one movie, one diffraction pattern and one spectrum at a time.

    Parameters
    ----------
    data : DataArray or dict, optional
        A TEM DataArray (:func:`battlab.tem.open_tem`) or ``{"movie": ..., "pattern": ...,
        "spectrum": ...}``; the Si nanowire demo session otherwise.
    """

    title = "In situ TEM"
    intro = ("Movie morphology and reaction fronts with their kinetics, nucleation statistics, SAED phase "
             "identification with the relativistic camera equation, EELS edges and thickness, and a dose "
             "ledger. Upload a Gatan .dm3/.dm4, Velox .emd, TIA .emi/.ser, .tif stack or .npy: each tab uses "
             "the data of its kind.")
    accept = ",".join(_SUFFIXES + _ECHEM_SUFFIXES)
    data_kind = "tem"

    def __init__(self, data=None, **kw):
        self.movie = None
        self.hologram = None
        self.hologram_reference = None
        self.phase_image = None
        self.holo_phase = None
        self.echem = None
        self.pattern = None
        self.spectrum = None
        self.eds = None
        self.eels_si = None  # an EELS spectrum image (y, x, energy): its sum is `spectrum`
        self.decomposition = None
        self.cube = None
        self.truth = {}
        self.tables = {}
        self.fits = None
        self.kymo = None
        self.tracks = None
        super().__init__(data, **kw)

    def demos(self):
        from battlab.datasets.tem import make_hrtem_series, make_li_nucleation_movie, make_si_nanowire_movie

        return {"Si nanowire lithiation + SAED Li/Li2O/LiF + EELS": _session(make_si_nanowire_movie, "Si nanowire"),
                "Li nucleation (dark Li, invert) + SAED + EELS": _session(make_li_nucleation_movie, "Li nucleation",
                                                                          with_transient=True),
                "Si nanowire + SAED series Si → Li15Si4 (JMAK) + EELS": _session(make_si_nanowire_movie, "Si series",
                                                                                saed_series=True),
                "HRTEM: graphite (0002) breathing +5.9 % + SAED + EELS": _session(
                    lambda: make_hrtem_series(n_frames=12, size=160), "HRTEM"),
                "Neutron radiography: Li moving anode → cathode (movie tabs)": _session(_radiography_movie,
                                                                                       "neutron radiography")}

    # --- controls --------------------------------------------------------------------
    def _build_controls(self):
        style = {"description_width": "initial"}
        self.pixel_size = w.BoundedFloatText(value=0.0, min=0.0, max=1e6, step=0.01,
                                             description="Pixel size (nm/px, 0 = from file)", style=style,
                                             layout=w.Layout(width="300px"))
        self.frame_time = w.BoundedFloatText(value=0.0, min=0.0, max=1e6, step=0.1,
                                             description="Frame time (s, 0 = from file)", style=style,
                                             layout=w.Layout(width="280px"))
        self.voltage = w.BoundedFloatText(value=200.0, min=1.0, max=3000.0, description="Voltage (kV)", style=style,
                                          layout=w.Layout(width="200px"))
        self.wavelength = w.HTML()
        self.clock_offset = w.FloatText(value=0.0, description="Cycler clock offset (s)", style=style,
                                        layout=w.Layout(width="240px"))
        self.clock_offset.observe(lambda _: None if self.__dict__.get("_loading") else
                                  self._guard("syncing the cycler", self._sync_echem), "value")
        self.voltage.observe(lambda _: self._guard("updating the wavelength", self._update_wavelength), "value")
        return [w.HBox([self.pixel_size, self.frame_time, self.voltage, self.wavelength]),
                w.HBox([self.clock_offset, w.HTML("<small>upload a cycler file (.mpr/.mpt/.csv) to sync the "
                                                  "frames and to test a current transient against "
                                                  "Scharifker–Hills</small>")])]

    def _plot_area(self):
        style = {"description_width": "initial"}

        def redo(what, func):
            # while a new dataset is being set up, control changes do not re-run analyses
            return lambda _: None if self.__dict__.get("_loading") else self._guard(what, func)

        # movie & morphology
        self.frame = w.IntSlider(value=0, min=0, max=0, description="Frame", continuous_update=False, style=style,
                                 layout=w.Layout(width="420px"))
        self.invert = w.Checkbox(value=False, description="objects darker (invert polarity)", indent=False)
        self.shape = w.Dropdown(options=[("projected area A/A0", "projected"), ("sphere (d/d0)³", "sphere"),
                                         ("cylinder (d/d0)²", "cylinder")], value="projected",
                                description="Expansion", style=style)
        self.denoise = w.Dropdown(options=["raw", "temporal average (3 frames)", "PCA"], value="raw",
                                  description="Display", style=style)
        self.n_components = w.IntSlider(value=3, min=1, max=20, description="PCA components",
                                        continuous_update=False, style=style)
        self.show_residual = w.Checkbox(value=False, description="show what denoising removed", indent=False)
        for wd in (self.denoise, self.n_components, self.show_residual):
            wd.observe(redo("denoising", self._denoise), "value")
        self.frame.observe(redo("showing the frame", self._update_frame), "value")
        self.shape.observe(redo("measuring the frames", self._analyse_morphology), "value")
        self.invert.observe(redo("re-segmenting", lambda: self._mark_dirty("morph", "nuc")), "value")
        self.preset = w.Dropdown(options=list(MOVIE_PRESETS), value="TEM", description="Technique", style=style,
                                 layout=w.Layout(width="380px"))
        self.difference = w.Checkbox(value=False, description="change vs first frame (I/I₀ reference)", indent=False)
        self.cross_section = w.BoundedFloatText(value=0.0, min=0.0, max=1e6, step=0.5,
                                                description="σ (barn) → Li areal density (0 = off)", style=style,
                                                layout=w.Layout(width="300px"))
        self.preset_note = w.HTML()
        for wd in (self.preset, self.difference, self.cross_section):
            wd.observe(redo("showing the frame", self._on_preset), "value")
        self.frame_pane, self.morph_pane = PlotPane(), PlotPane()
        movie_tab = w.VBox([w.HBox([self.frame, self.invert, self.shape]),
                            w.HBox([self.denoise, self.n_components, self.show_residual]),
                            w.HBox([self.preset, self.difference, self.cross_section]), self.preset_note,
                            w.HBox([self.frame_pane.widget, self.morph_pane.widget])])
        # fronts
        self.line = [w.FloatText(value=0.0, description=lab, style=style, layout=w.Layout(width="130px"))
                     for lab in ("y0", "x0", "y1", "x1")]
        self.method = w.Dropdown(options=["erf", "gradient", "threshold"], value="erf", description="Front",
                                 style=style)
        self.level = w.FloatText(value=0.0, description="Level (0 = auto)", style=style, layout=w.Layout(width="200px"))
        self.direction = w.Dropdown(options=["forward", "backward"], value="forward", description="from",
                                    style=style)
        self.loglog = w.Checkbox(value=False, description="log–log", indent=False)
        self.two_sided = w.Checkbox(value=True, description="both edges (half-width, drift-free)", indent=False)
        self.run_front = w.Button(description="Track front", icon="play")
        self.run_front.on_click(redo("tracking the front", self._analyse_front))
        self.loglog.observe(redo("drawing the kinetics", self._draw_front), "value")
        self.kymo_pane, self.kin_pane = PlotPane(), PlotPane()
        front_tab = w.VBox([w.HBox(self.line), w.HBox([self.method, self.level, self.direction, self.two_sided]),
                            w.HBox([self.loglog, self.run_front]),
                            w.HBox([self.kymo_pane.widget, self.kin_pane.widget])])
        # nucleation
        self.min_area = w.BoundedIntText(value=3, min=1, max=100000, description="Min area (px)", style=style,
                                         layout=w.Layout(width="180px"))
        self.max_move = w.BoundedFloatText(value=4.0, min=0.1, max=1000.0, description="Max move (px)", style=style,
                                           layout=w.Layout(width="180px"))
        self.run_nuc = w.Button(description="Detect & link", icon="play")
        self.run_nuc.on_click(redo("detecting particles", self._analyse_nucleation))
        self.count_pane, self.growth_pane, self.sh_pane = PlotPane(), PlotPane(), PlotPane()
        nuc_tab = w.VBox([w.HBox([self.min_area, self.max_move, self.run_nuc]),
                          w.HTML("<small>Polarity: the <i>objects darker</i> box on the first tab.</small>"),
                          w.HBox([self.count_pane.widget, self.growth_pane.widget]), self.sh_pane.widget])
        # diffraction
        self.camera_constant = w.BoundedFloatText(value=0.0, min=0.0, max=1e6, step=0.1,
                                                  description="Camera constant K (px·Å, 0 = calibrate)", style=style,
                                                  layout=w.Layout(width="340px"))
        self.standard = w.Dropdown(options=["none", "Au", "Si", "Cu", "Ni"], value="none",
                                   description="Standard", style=style)
        self.tolerance = w.FloatSlider(value=1.5, min=0.2, max=5.0, step=0.1, description="Tolerance (%)",
                                       continuous_update=False, style=style)
        self.beam_stop = w.BoundedFloatText(value=12.0, min=0.0, max=1000.0, description="Beam stop (px)",
                                            style=style, layout=w.Layout(width="180px"))
        for wd in (self.camera_constant, self.standard, self.tolerance, self.beam_stop):
            wd.observe(redo("analysing the pattern", self._analyse_saed), "value")
        self.pattern_pane, self.profile_pane, self.series_pane = PlotPane(), PlotPane(), PlotPane()
        self.run_fft = w.Button(description="Lattice spacing d(t) of the movie (FFT)", icon="play",
                                layout=w.Layout(width="320px"))
        self.run_fft.on_click(redo("measuring lattice spacings", self._analyse_fft))
        self.fft_pane = PlotPane()
        # geometric phase analysis of the frame shown on the movie tab
        self.run_gpa = w.Button(description="GPA strain map of the current frame", icon="play",
                                layout=w.Layout(width="320px"))
        self.run_gpa.on_click(redo("mapping the strain", lambda: self._analyse_gpa(find_spots=True)))
        self.gpa_g1 = w.Dropdown(options=[], description="g₁", style=style, layout=w.Layout(width="300px"))
        self.gpa_g2 = w.Dropdown(options=[], description="g₂", style=style, layout=w.Layout(width="300px"))
        self.gpa_component = w.Dropdown(options=[("ε along g₁", "along_g1"), ("ε_xx", "exx"), ("ε_yy", "eyy"),
                                                 ("ε_xy (shear)", "exy"), ("rotation ω (rad)", "rotation")],
                                        value="along_g1", description="Component", style=style)
        for wd in (self.gpa_g1, self.gpa_g2, self.gpa_component):
            wd.observe(redo("mapping the strain", self._analyse_gpa), "value")
        self.gpa_pane = PlotPane()
        saed_tab = w.VBox([w.HBox([self.camera_constant, self.standard]), w.HBox([self.tolerance, self.beam_stop]),
                           w.HBox([self.pattern_pane.widget, self.profile_pane.widget]), self.series_pane.widget,
                           w.HTML("<b>HRTEM</b>: strongest FFT spot of every movie frame (d = 1/|g|) and the "
                                  "strain against the first frame."), self.run_fft, self.fft_pane.widget,
                           w.HTML("<b>Geometric phase (GPA)</b>: strain relative to the chosen FFT spot(s) of the "
                                  "frame shown on the movie tab. One g gives the strain along g; two "
                                  "non-collinear g give ε_xx, ε_yy, ε_xy and the rotation (x right, y down)."),
                           w.HBox([self.run_gpa, self.gpa_g1, self.gpa_g2, self.gpa_component]),
                           self.gpa_pane.widget, self._stem_box(style, redo)])
        # spectroscopy
        from battlab.tem.eels import EDGES

        self.edge = w.Dropdown(options=list(EDGES), value="C K", description="Edge", style=style)
        self.edge.observe(redo("analysing the spectrum", self._analyse_eels), "value")
        self.eels_pane = PlotPane()
        self.spec_mode = w.ToggleButtons(options=["EELS", "EDS"], value="EELS", description="Mode", style=style)
        self.spec_mode.observe(redo("switching the spectroscopy", self._on_spec_mode), "value")
        self.eds_elements = w.Text(value="O,Mn,Co,Ni", description="Elements (Kα, or 'Mn La')", style=style,
                                   layout=w.Layout(width="320px"))
        self.eds_background = w.Dropdown(options=["linear", "powerlaw"], value="linear", description="Background",
                                         style=style)
        self.eds_k = w.Text(value="", description="k-factors (EL=k, …)", style=style, layout=w.Layout(width="420px"),
                            placeholder="defaults: approximate 200 kV values vs Si")
        self.eds_show = w.Dropdown(options=[], description="Map", style=style)
        self.eds_quantity = w.ToggleButtons(options=[("at.% (Cliff–Lorimer)", "at_pct"), ("net counts", "counts"),
                                                     ("atomic ratio", "ratio")], value="at_pct", style=style)
        self.eds_ratio = w.Text(value="Ni/Mn", description="Ratio", style=style, layout=w.Layout(width="200px"))
        self.eds_ratio.observe(redo("quantifying the EDS", self._analyse_eds), "value")
        for wd in (self.eds_elements, self.eds_background, self.eds_k):
            wd.observe(redo("quantifying the EDS", self._analyse_eds), "value")
        for wd in (self.eds_show, self.eds_quantity):
            wd.observe(redo("drawing the EDS map", self._draw_eds_map), "value")
        self.eds_pane, self.eds_map_pane = PlotPane(), PlotPane()
        self.eels_box = w.VBox([w.HBox([self.edge]), self.eels_pane.widget])
        self.eds_box = w.VBox([w.HBox([self.eds_elements, self.eds_background]), self.eds_k,
                               w.HTML("<small>Net line counts: window ±1 FWHM of the detector (130 eV at Mn Kα) with "
                                      "the background from one-FWHM windows either side (a side on another line is "
                                      "dropped). The default k-factors are approximate: measure yours on a "
                                      "standard.</small>"),
                               w.HBox([self.eds_show, self.eds_quantity, self.eds_ratio]),
                               w.HBox([self.eds_pane.widget, self.eds_map_pane.widget])],
                              layout=w.Layout(display="none"))
        # PCA/NMF of the spectrum image of the mode shown (EELS or EDS); run on request, NMF iterates
        self.decomp_method = w.Dropdown(options=["none", "PCA", "NMF"], value="none", description="Decomposition",
                                        style=style)
        self.decomp_n = w.IntSlider(value=3, min=1, max=10, description="Components", continuous_update=False,
                                    style=style)
        self.run_decomp = w.Button(description="Decompose", icon="play")
        self.run_decomp.on_click(redo("decomposing the spectrum image", self._decompose))
        self.decomp_method.observe(redo("decomposing the spectrum image",
                                        lambda: self._clear_decomposition() if self.decomp_method.value == "none"
                                        else None), "value")
        self.decomp_spectra_pane, self.decomp_scree_pane = PlotPane(), PlotPane()
        self.decomp_maps_pane = PlotPane(min_height_px=200)
        self.decomp_box = w.VBox([
            w.HTML("<small><b>Spectrum image decomposition</b> (EELS or EDS, as the mode above): PCA gives signed "
                   "scores and a scree of the explained variance; NMF gives non-negative component spectra "
                   "(unit area) and abundance maps, easier to read as phases.</small>"),
            w.HBox([self.decomp_method, self.decomp_n, self.run_decomp]),
            w.HBox([self.decomp_spectra_pane.widget, self.decomp_scree_pane.widget]), self.decomp_maps_pane.widget])
        eels_tab = w.VBox([self.spec_mode, self.eels_box, self.eds_box, self.decomp_box])
        # dose
        self.dose_mode = w.ToggleButtons(options=["TEM", "STEM"], value="TEM", description="Mode", style=style)
        # 1.26 pA on a 1 µm disc ≈ 0.1 e⁻/Å²/s, the low-dose rate of the seed review
        self.current_nA = w.BoundedFloatText(value=0.00126, min=0.0, max=1e6, description="Beam current (nA)", style=style,
                                             layout=w.Layout(width="220px"))
        self.diameter_um = w.BoundedFloatText(value=1.0, min=1e-6, max=1e6, description="Beam diameter (µm)",
                                              style=style, layout=w.Layout(width="220px"))
        self.dwell_us = w.BoundedFloatText(value=10.0, min=1e-6, max=1e9, description="Dwell (µs)", style=style,
                                           layout=w.Layout(width="180px"))
        self.scan_px = w.BoundedIntText(value=512, min=1, max=100000, description="Scan (px per side)", style=style,
                                        layout=w.Layout(width="200px"))
        self.probe_px_nm = w.BoundedFloatText(value=0.1, min=1e-6, max=1e6, description="Scan step (nm)",
                                              style=style, layout=w.Layout(width="200px"))
        self.exposure = w.BoundedFloatText(value=5.0, min=1e-6, max=1e6, description="Exposure/frame (s)", style=style,
                                           layout=w.Layout(width="220px"))
        self.interval = w.BoundedFloatText(value=5.0, min=1e-6, max=1e6, description="Frame interval (s)",
                                           style=style, layout=w.Layout(width="220px"))
        self.frames_wanted = w.BoundedIntText(value=100, min=1, max=10**7, description="Frames wanted", style=style,
                                              layout=w.Layout(width="200px"))
        self.budget = w.BoundedFloatText(value=100.0, min=1e-6, max=1e9, description="Dose budget (e⁻/Å²)",
                                         style=style, layout=w.Layout(width="240px"))
        for wd in (self.dose_mode, self.current_nA, self.diameter_um, self.dwell_us, self.scan_px, self.probe_px_nm,
                   self.exposure, self.interval, self.frames_wanted, self.budget):
            wd.observe(redo("computing the dose", self._analyse_dose), "value")
        self.dose_pane = PlotPane()
        self.dose_summary = w.HTML()
        dose_tab = w.VBox([self.dose_mode, w.HBox([self.current_nA, self.diameter_um]),
                           w.HBox([self.dwell_us, self.scan_px, self.probe_px_nm]),
                           w.HBox([self.exposure, self.interval, self.frames_wanted, self.budget]),
                           w.HBox([self.dose_pane.widget, self.dose_summary])])
        # holography
        self.holo_source = w.ToggleButtons(options=[("hologram → phase", "hologram"), ("phase image", "phase")],
                                           value="hologram", description="Input", style=style)
        self.holo_use_reference = w.Checkbox(value=True, description="divide by the vacuum reference hologram",
                                             indent=False)
        self.holo_aperture = w.BoundedFloatText(value=0.0, min=0.0, max=1e4, step=1.0,
                                                description="Aperture radius (FFT px, 0 = auto)", style=style,
                                                layout=w.Layout(width="300px"))
        self.holo_line = [w.FloatText(value=0.0, description=lab, style=style, layout=w.Layout(width="130px"))
                          for lab in ("y0", "x0", "y1", "x1")]
        self.holo_width = w.BoundedIntText(value=9, min=1, max=1000, description="Line width (px)", style=style,
                                           layout=w.Layout(width="180px"))
        self.holo_thickness = w.BoundedFloatText(value=0.0, min=0.0, max=1e5, description="Thickness (nm, 0 = "
                                                 "projected potential only)", style=style,
                                                 layout=w.Layout(width="360px"))
        self.holo_source.observe(redo("switching the input", self._reset_holo_line), "value")
        for wd in (self.holo_source, self.holo_use_reference, self.holo_aperture, self.holo_width,
                   self.holo_thickness, *self.holo_line):
            wd.observe(redo("analysing the phase", self._analyse_holography), "value")
        # C_E follows the voltage: redo the holography numbers now if they are shown, else on the tab's next visit
        self.voltage.observe(redo("analysing the phase", lambda: self._mark_dirty("holo")), "value")
        self.phase_pane, self.phase_profile_pane = PlotPane(), PlotPane()
        self.holo_summary = w.HTML()
        holo_tab = w.VBox([w.HBox([self.holo_source, self.holo_use_reference, self.holo_aperture]),
                           w.HBox(self.holo_line), w.HBox([self.holo_width, self.holo_thickness]),
                           w.HTML("<small>Phase φ = C_E·∫V dz; the interaction constant C_E follows the voltage "
                                  "above. Upload a 2-D hologram or phase image (.dm3/.dm4, .tif, .npy, with the "
                                  "pixel size set) while this tab is open.</small>"),
                           w.HBox([self.phase_pane.widget, self.phase_profile_pane.widget]), self.holo_summary])
        self.tabs = w.Tab(children=[movie_tab, front_tab, nuc_tab, saed_tab, eels_tab, dose_tab, holo_tab])
        for i, name in enumerate(TABS):
            self.tabs.set_title(i, name)
        self.tabs.observe(redo("switching tab", self._refresh_tab), "selected_index")
        return self.tabs

    def _stem_box(self, style, redo):
        self.annulus = w.FloatRangeSlider(value=(0.0, 6.0), min=0.0, max=32.0, step=0.5, description="Annulus (px)",
                                          continuous_update=False, style=style, layout=w.Layout(width="420px"))
        self.stem_signal = w.ToggleButtons(options=[("virtual detector", "virtual"), ("CoM shift |Δ|", "com")],
                                           value="virtual", style=style)
        for wd in (self.annulus, self.stem_signal):
            wd.observe(redo("computing the virtual image", self._analyse_stem), "value")
        self.stem_pattern_pane, self.stem_image_pane = PlotPane(), PlotPane()
        return w.VBox([w.HTML("<b>4D-STEM</b>: a virtual detector over the mean diffraction pattern (inner = 0: "
                              "bright field; an annulus outside the direct beam: annular dark field), summed block "
                              "by block over scan positions; or the centre-of-mass (DPC) shift."),
                       w.HBox([self.annulus, self.stem_signal]),
                       w.HBox([self.stem_pattern_pane.widget, self.stem_image_pane.widget])])

    # --- data ------------------------------------------------------------------------
    def _server_files(self):
        found = []
        for root in self.data_dirs:
            if root.is_dir():
                for path in sorted(root.rglob("*")):
                    if path.is_file() and path.suffix.lower() in _SUFFIXES:
                        found.append((str(path.relative_to(root)), str(path)))
        return found

    def _open_path(self, path: Path, name: str):
        from battlab.tem.io import open_pattern, open_tem

        px = self.pixel_size.value or None
        ft = self.frame_time.value or None
        if path.suffix.lower() in (".npy", ".tif", ".tiff") and px is None:
            # without a real-space pixel size a single 2-D image is taken as a diffraction pattern
            data = open_pattern(path, voltage_kV=self.voltage.value)
            if data.ndim == 2:
                return data
            raise MissingDataError(f"{name} holds a movie: set the pixel size (nm/px) first, then upload it again.")
        return open_tem(path, pixel_size_nm=px, frame_time_s=ft)

    def _load_bytes(self, data: bytes, name: str):
        if Path(name).suffix.lower() in _ECHEM_SUFFIXES:
            import battlab

            self._accept_data({"echem": battlab.load(data, name=name, kind="echem")}, name)
            return
        if Path(name).suffix.lower() not in _SUFFIXES:
            raise InvalidParameterError(f"{name}: the TEM app reads {', '.join(_SUFFIXES)} files.")
        if Path(name).suffix.lower() == ".emi":
            raise MissingDataError(f"{name}: an .emi holds only metadata; upload its _1.ser data file (or put the "
                                   "pair in a server folder and open it there).")
        import hashlib

        path = self.stored_uploads.get(hashlib.sha256(data).hexdigest()) or self._keep_upload(data, name)
        if path is None:
            raise MissingDataError(f"{name} could not be kept on the server, so it cannot be opened.")
        self.set_status(f"Opening {name}…")
        self._accept_data(self._open_path(Path(path), name), name)

    def _load_server_file(self, path):
        resolved = self._confined_path(path)
        if resolved is not None:
            self._guard(f"reading {resolved.name}",
                        lambda: self._accept_data(self._open_path(resolved, resolved.name), resolved.name))

    def _set_data(self, data, label, truth=None):
        self._loading = True
        try:
            slots = self._set_data_quietly(data, label, truth)
            if not label.startswith("demo:") and not isinstance(data, dict):
                # show the user's file: an uploaded spectrum opens the spectroscopy tab, and so on
                tab = next((_SLOT_TABS[s] for s in slots if s in _SLOT_TABS), None)
                if tab is not None:
                    self.tabs.selected_index = TABS.index(tab)
        finally:
            self._loading = False
        self._refresh_tab()

    def _set_data_quietly(self, data, label, truth):
        if isinstance(data, dict):
            parts = data
            self.truth = truth or {}
        elif data.attrs.get("kind") == "image" and (self.tabs.selected_index or 0) == TABS.index("Holography"):
            from battlab.tem.holography import looks_like_hologram

            # opened from the holography tab: a hologram or a phase image, not a movie frame
            parts = {"hologram": data, "hologram_reference": None} if looks_like_hologram(data) else \
                {"phase_image": data}
            self.holo_source.value = "hologram" if "hologram" in parts else "phase"
        else:
            kind = data.attrs.get("kind")
            slot = {"movie": "movie", "diffraction": "pattern", "spectrum": "spectrum", "image": "movie",
                    "4D-STEM": "cube"}.get(kind)
            if kind in ("spectrum", "spectrum image") and self._looks_like_eds(data):
                slot = "eds"
            elif kind == "spectrum image" and data.ndim == 3 and data.dims[-1] == "energy":
                slot = "eels_si"
            if slot is None:
                raise InvalidParameterError(f"the TEM app does not analyse a {kind} yet.")
            if kind == "image":  # a single image: a one-frame movie (morphology and FFT)
                data = data.expand_dims(time=1).assign_coords(time_s=("time", [0.0]))
            parts = {slot: data}
            if slot == "eels_si":  # the edge analysis reads the summed spectrum
                total = data.sum(dim=[d for d in data.dims if d != "energy"], keep_attrs=True)
                parts["spectrum"] = total.assign_attrs(kind="spectrum")
        for slot, value in parts.items():
            setattr(self, slot, value)
        if "movie" in parts:
            m = self.movie
            self.frame.max = m.sizes["time"] - 1
            self.frame.value = 0
            ny, nx = m.sizes["y"], m.sizes["x"]
            default = self.truth.get("movie", {}).get("axis_y_px") if isinstance(self.truth.get("movie"), dict) else None
            if default is not None:  # the nanowire demo: a line across the wire
                vals = (default - 40, nx * 0.3, default + 40, nx * 0.3)
                self.level.value = 0.6
            else:
                vals = (ny * 0.1, nx / 2, ny * 0.9, nx / 2)
                self.level.value = 0.0  # halfway between both sides of the line
            for widget, v in zip(self.line, vals, strict=True):
                widget.value = float(round(v, 1))
            technique = m.attrs.get("technique")
            self.preset.value = technique if technique in dict((v, k) for k, v in MOVIE_PRESETS) else "TEM"
            self.difference.value = False
            if technique == "neutron radiography":
                self.cross_section.value = 70.5  # natural Li, thermal neutrons (battlab.imaging.presets)
            if label.startswith("demo:") and technique != "neutron radiography":
                self.invert.value = True  # both demo movies show objects darker than their surroundings
            self.tables = {k: v for k, v in self.tables.items() if k.startswith(("saed", "eels", "dose"))}
            self.tracks = None
            self.display_movie = None
            self.denoise.value = "raw"
            self._on_preset()
            # movie analyses run when their tab is shown (a movie tab opened later computes then)
            self.__dict__.setdefault("_dirty", set()).update({"morph", "front", "nuc"})
        if any(k in parts for k in ("hologram", "phase_image")):
            self._reset_holo_line()
            self.__dict__.setdefault("_dirty", set()).add("holo")
        if "pattern" in parts:
            if isinstance(self.truth.get("pattern"), dict) and self.truth["pattern"].get("camera_constant_px_A"):
                self.camera_constant.value = round(self.truth["pattern"]["camera_constant_px_A"], 3)
            self._analyse_saed()
        if "spectrum" in parts:
            self._analyse_eels()
        if "eds" in parts or "eels_si" in parts:
            self._clear_decomposition()
        if "eds" in parts:
            if not label.startswith("demo:"):
                self.spec_mode.value = "EDS"
            self.__dict__.setdefault("_dirty", set()).add("eds")
        if "cube" in parts:
            n = min(self.cube.sizes["ky"], self.cube.sizes["kx"]) / 2
            self.annulus.max = float(np.ceil(n))
            self.__dict__.setdefault("_dirty", set()).add("stem")
        if "echem" in parts or "movie" in parts:
            if "movie" in parts and "echem" not in parts and not label.startswith("demo:"):
                pass  # a new movie keeps the cycler file already loaded
            elif "movie" in parts and "echem" not in parts:
                self.echem = None  # a demo session without a transient
            self._sync_echem()
        self._update_wavelength()
        self._analyse_dose()
        return tuple(parts)

    def _mark_dirty(self, *names):
        self.__dict__.setdefault("_dirty", set()).update(names)
        self._refresh_tab()

    def _refresh_tab(self):
        """Run the movie analysis of the visible tab if its inputs changed, then show its table."""
        dirty = self.__dict__.setdefault("_dirty", set())
        tab = self.tabs.selected_index or 0
        self.clear_error()  # a message belongs to the tab that raised it
        todo = {0: ("morph", self._analyse_morphology), 1: ("front", self._analyse_front),
                2: ("nuc", self._analyse_nucleation)}.get(tab)
        if todo and todo[0] in dirty and self.movie is not None:
            dirty.discard(todo[0])
            todo[1]()
        if tab == TABS.index("Spectroscopy") and self.spec_mode.value == "EDS" and "eds" in dirty:
            dirty.discard("eds")
            self._analyse_eds()
        if tab == TABS.index("Diffraction") and "stem" in dirty and self.cube is not None:
            dirty.discard("stem")
            self._analyse_stem(first=True)
        if tab == TABS.index("Holography") and "holo" in dirty:
            dirty.discard("holo")
            self._analyse_holography()
        self._show_table()

    def run_all(self):
        """Compute every tab now (for export or scripting), not only the visible one."""
        for name, func in (("morph", self._analyse_morphology), ("front", self._analyse_front),
                           ("nuc", self._analyse_nucleation)):
            if name in self.__dict__.get("_dirty", set()) and self.movie is not None:
                self._dirty.discard(name)
                func()
        if "holo" in self.__dict__.get("_dirty", set()):
            self._dirty.discard("holo")
            self._analyse_holography()
        if "eds" in self.__dict__.get("_dirty", set()) and self.eds is not None:
            self._dirty.discard("eds")
            self._analyse_eds()
        if "stem" in self.__dict__.get("_dirty", set()) and self.cube is not None:
            self._dirty.discard("stem")
            self._analyse_stem(first=True)

    def _sync_echem(self):
        """Per-frame electrochemistry and the Scharifker–Hills test of the current transient."""
        import holoviews as hv

        from battlab.imaging.timing import per_frame_echem
        from battlab.plot._core import HEIGHT, WIDTH, empty
        from battlab.tem.nucleation import classify_transient, scharifker_hills

        for key in ("frame_echem", "transient"):
            self.tables.pop(key, None)
        if self.echem is None:
            self.sh_pane.update(empty("upload a cycler file for the current transient"))
            return
        if self.movie is not None:
            import warnings

            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # frames outside the record keep NaN rows
                self.tables["frame_echem"] = per_frame_echem(self.movie["time_s"].to_numpy(), self.echem,
                                                             clock_offset_s=self.clock_offset.value)
        t = self.echem["test_time_s"].to_numpy(float)
        res = classify_transient(t - t[0] + (t[1] - t[0] if len(t) > 1 else 0.0), self.echem["current_A"].to_numpy())
        self.tables["transient"] = pd.DataFrame([res])
        x = np.linspace(0.05, 3, 200)
        tt = (t - t[0] + (t[1] - t[0])) / res["t_m_s"]
        y = (np.abs(self.echem["current_A"].to_numpy()) / res["I_m_A"]) ** 2
        sel = tt <= 3
        plot = hv.Overlay([
            hv.Scatter((tt[sel][::4], y[sel][::4]), "t/t_m", "(I/I_m)²", label="measured").opts(color="black", size=3),
            hv.Curve((x, scharifker_hills(x, model="instantaneous")), "t/t_m", "(I/I_m)²",
                     label=f"instantaneous (rms {res['rms_instantaneous']:.3f})").opts(color="#d62728", line_width=2),
            hv.Curve((x, scharifker_hills(x, model="progressive")), "t/t_m", "(I/I_m)²",
                     label=f"progressive (rms {res['rms_progressive']:.3f})").opts(color="#1f77b4", line_width=2),
        ]).opts(width=WIDTH, height=HEIGHT, legend_position="bottom_right",
                title=f"Scharifker–Hills: closer to {res['closer']}")
        self.sh_pane.update(plot)

    def describe_data(self):
        bits = []
        if self.movie is not None:
            bits.append(f"movie {self.movie.sizes['time']} frames of {self.movie.sizes['y']}×{self.movie.sizes['x']}")
        if self.pattern is not None:
            bits.append(f"diffraction series of {self.pattern.sizes['time']}" if "time" in self.pattern.dims
                        else "diffraction pattern")
        if self.spectrum is not None:
            bits.append("EELS spectrum")
        if self.eels_si is not None:
            bits.append(f"EELS spectrum image {self.eels_si.shape[0]}×{self.eels_si.shape[1]}")
        if self.eds is not None:
            bits.append("EDS spectrum image" if self.eds.ndim == 3 else "EDS spectrum")
        if self.cube is not None:
            bits.append(f"4D-STEM cube {self.cube.sizes['y']}×{self.cube.sizes['x']}")
        if self.echem is not None:
            bits.append(f"cycler record ({len(self.echem)} points)")
        if self.hologram is not None:
            bits.append("hologram" + (" + reference" if self.hologram_reference is not None else ""))
        if self.phase_image is not None:
            bits.append("phase image")
        return ", ".join(bits)

    # --- analyses --------------------------------------------------------------------
    def _px(self):
        return self.pixel_size.value or (self.movie.attrs.get("pixel_size_nm") if self.movie is not None else None) or 1.0

    def _update_wavelength(self):
        from battlab.tem.physics import electron_wavelength_pm

        self.wavelength.value = f"λ = {electron_wavelength_pm(self.voltage.value):.4f} pm (relativistic)"

    def _denoise(self):
        """The displayed movie: raw, a running mean, or a PCA reconstruction (or what it removed)."""
        from battlab.tem.movie import pca_denoise, temporal_average

        self.display_movie = None
        if self.movie is None or self.denoise.value == "raw":
            self._update_frame()
            return
        if self.movie.size > _MAX_IN_APP_VALUES:
            raise InvalidParameterError("this movie is too large to denoise in the app; use battlab.tem.pca_denoise "
                                        "on a cropped or binned copy.")
        if self.denoise.value == "PCA":
            self.n_components.max = max(1, min(20, self.movie.sizes["time"]))
            den, res, explained = pca_denoise(self.movie, n_components=self.n_components.value)
            kept = float(explained["explained_variance"][:self.n_components.value].sum())
            self.set_status(f"PCA: {self.n_components.value} components keep {100 * kept:.1f} % of the variance.")
        else:
            den = temporal_average(self.movie, window=3)
            res = self.movie - den
        self.display_movie = res if self.show_residual.value else den
        self._update_frame()

    def _update_frame(self):
        from battlab.plot.tem import frame_plot

        if self.movie is None:
            return
        i = int(self.frame.value)
        shown = self.__dict__.get("display_movie")
        frame = np.asarray((shown if shown is not None else self.movie).isel(time=i).values, float)
        line = [wd.value for wd in self.line]
        cents = None
        if self.tracks is not None:
            cents = self.tracks[self.tracks["frame"] == i]
        t = float(self.movie["time_s"][i]) if "time_s" in self.movie.coords else i
        if self.preset.value == "TEM":
            self.frame_pane.update(frame_plot(frame, pixel_size_nm=self._px(), title=f"frame {i} (t = {t:.1f} s)",
                                              line=line, centroids=cents))
            return
        shown, clim, label = self._preset_movie()
        frame = np.asarray(shown.isel(time=i).values, float)
        self.frame_pane.update(frame_plot(frame, pixel_size_nm=self._px() / 1e3, unit="µm", cmap=shown.attrs["cmap"],
                                          clim=clim, value_label=label, line=line, centroids=cents,
                                          title=f"{self.preset.value}: frame {i} (t = {t:.0f} s)"))

    def _on_preset(self):
        from battlab.imaging.presets import imaging_preset

        self._preset_cache = None
        if self.preset.value == "TEM":
            self.preset_note.value = ""
        else:
            p = imaging_preset(self.preset.value)
            self.preset_note.value = (f"<small><b>{html.escape(p['quantity'])}</b> ({html.escape(p['units'])}): "
                                      f"{html.escape(p['meaning'])}.</small>")
        self._update_frame()

    def _preset_movie(self):
        """The movie as the preset shows it (attenuation, change vs frame 0 or Li areal density) and its limits."""
        from battlab.imaging.presets import (
            apply_preset,
            areal_density,
            attenuation_change,
            imaging_preset,
        )

        key = (id(self.movie), self.preset.value, self.difference.value, self.cross_section.value)
        cache = self.__dict__.get("_preset_cache")
        if cache is not None and cache[0] == key:
            return cache[1]
        p = imaging_preset(self.preset.value)
        movie = self.movie
        label = f"{p['units']}"
        if self.difference.value:
            movie = attenuation_change(movie)
            label = "Δ(−ln T)"
            if self.cross_section.value > 0:
                movie = areal_density(movie, cross_section_barn=self.cross_section.value, molar_mass_g_mol=6.94)
                label = "Δ Li (mg/cm²)"
        shown = apply_preset(movie, self.preset.value, units=label)
        lo, hi = shown.attrs["display_clim"]
        if self.difference.value:  # a change is shown symmetric about zero
            lo, hi = -max(abs(lo), abs(hi)), max(abs(lo), abs(hi))
        shown.attrs["cmap"] = "RdBu_r" if self.difference.value else p["cmap"]
        self._preset_cache = (key, (shown, (lo, hi), label))
        return shown, (lo, hi), label

    def _analyse_morphology(self):
        import holoviews as hv

        from battlab.plot._core import HEIGHT, WIDTH, empty
        from battlab.tem.morphometry import frame_morphometry

        if self.movie is None:
            return
        self.__dict__.setdefault("_dirty", set()).discard("morph")
        try:
            table = frame_morphometry(self.movie, invert=self.invert.value, shape=self.shape.value, min_area_px=20)
        except MissingDataError as exc:
            self.morph_pane.update(empty(str(exc)[:60]))
            return
        self.tables["morphometry"] = table
        curve = hv.Curve((table["time_s"], table["expansion_pct"]), "time (s)", "expansion (%)").opts(
            width=WIDTH, height=HEIGHT, color="#2ca02c", line_width=2,
            title=f"expansion: {table['expansion_definition'].iloc[0]}")
        self.morph_pane.update(curve)
        self._analyse_dose()

    def _analyse_front(self):
        from battlab.tem.workflow import analyse_movie

        if self.movie is None:
            return
        self.__dict__.setdefault("_dirty", set()).discard("front")
        line = [wd.value for wd in self.line]
        res = analyse_movie(self.movie, line=line, front_method=self.method.value, level=self.level.value or None,
                            direction=self.direction.value, two_sided=self.two_sided.value, n_bootstrap=50)
        for name in ("front", "front_models", "front_parameters", "two_regime", "front_velocity"):
            if name in res.tables:
                self.tables[name] = res.tables[name]
            else:
                self.tables.pop(name, None)
        self.kymo = res.arrays.get("kymograph")
        self.fits = res.arrays.get("front_fits")
        if res.notes:
            self.set_status(" ".join(res.notes))
        self._draw_front()
        self._update_frame()
        self._show_table()

    def _draw_front(self):
        from battlab.plot._core import empty
        from battlab.plot.tem import front_fit_plot, kymograph_plot

        if self.kymo is None:
            return
        front = self.tables.get("front")
        self.kymo_pane.update(kymograph_plot(self.kymo, front))
        if front is not None and self.fits is not None:
            self.kin_pane.update(front_fit_plot(front, self.fits, unit=self.kymo.attrs.get("length_unit", "px"),
                                                log=self.loglog.value))
        else:
            self.kin_pane.update(empty("no front along this line"))

    def _analyse_nucleation(self):
        from battlab.plot._core import empty
        from battlab.plot.tem import growth_plot, nucleation_plot
        from battlab.tem.workflow import analyse_movie

        if self.movie is None:
            return
        self.__dict__.setdefault("_dirty", set()).discard("nuc")
        res = analyse_movie(self.movie, particles=True, invert=self.invert.value, min_area_px=self.min_area.value,
                            max_displacement_px=self.max_move.value)
        for name in ("particles", "counts", "size_distribution", "nucleation_fits", "growth"):
            if name in res.tables:
                self.tables[name] = res.tables[name]
            else:
                self.tables.pop(name, None)
        self.tracks = res.tables.get("particles")
        counts = res.tables.get("counts")
        if counts is None:
            self.count_pane.update(empty("no particles: adjust the polarity or the minimum area"))
            self.growth_pane.update(empty("no particles"))
            return
        self.count_pane.update(nucleation_plot(counts, res.tables.get("nucleation_fits")))
        growth = res.tables.get("growth")
        self.growth_pane.update(growth_plot(self.tracks, pixel_size_nm=self._px(),
                                            fitted_n=float(growth["n_fitted"].iloc[0]) if growth is not None else None))
        self._show_table()

    def _analyse_saed(self):
        from battlab.plot.tem import pattern_plot, profile_plot
        from battlab.tem.phases import reflections
        from battlab.tem.workflow import analyse_saed

        if self.pattern is None:
            return
        img = self.pattern.isel(time=-1) if "time" in self.pattern.dims else self.pattern
        std = None if self.standard.value == "none" else self.standard.value
        res = analyse_saed(img, camera_constant=None if std else (self.camera_constant.value or None),
                           standard=std, beam_stop_px=self.beam_stop.value or None,
                           tolerance_pct=self.tolerance.value, voltage_kV=self.voltage.value)
        for name in ("center", "rings", "matches", "candidates", "calibration", "profile"):
            key = f"saed_{name}"
            if name in res.tables:
                self.tables[key] = res.tables[name]
            else:
                self.tables.pop(key, None)
        center = tuple(res.tables["center"][["center_y_px", "center_x_px"]].iloc[0])
        self.pattern_pane.update(pattern_plot(np.asarray(img.values), center=center,
                                              rings_px=res.tables["rings"]["radius_px"].to_numpy()))
        refs = None
        matches = res.tables.get("matches")
        prof = res.arrays["profile"]
        if matches is not None and len(matches) and "d_A" in prof.coords:
            dmin = float(np.nanmin(prof["d_A"]))
            refs = {p: reflections(p, d_min_A=dmin, d_max_A=10) for p in matches["phase"][:3]}
        self.profile_pane.update(profile_plot(prof, rings=res.tables["rings"], references=refs))
        if res.notes:
            self.set_status(" ".join(res.notes))
        self._analyse_saed_series(res)
        self._show_table()

    def _analyse_saed_series(self, single):
        """A pattern series: ring intensities of reactant and product and the product fraction over time."""
        import holoviews as hv

        from battlab.plot._core import HEIGHT, WIDTH, empty
        from battlab.tem.workflow import analyse_saed_series

        for key in ("saed_ring_intensities", "saed_phase_fraction"):
            self.tables.pop(key, None)
        if "time" not in self.pattern.dims:
            self.series_pane.update(empty("a single pattern (a series adds the phase fraction over time)"))
            return
        k = single.tables["center"]["camera_constant_px_A"].iloc[0]
        if not k:
            self.series_pane.update(empty("calibrate first (camera constant or standard)"))
            return
        res = analyse_saed_series(self.pattern, camera_constant=k, beam_stop_px=self.beam_stop.value or None,
                                  tolerance_pct=self.tolerance.value)
        ints, frac = res.tables["ring_intensities"], res.tables["phase_fraction"]
        self.tables["saed_ring_intensities"], self.tables["saed_phase_fraction"] = ints, frac
        rings = [c for c in ints.columns if c != "time_s"]
        curves = [hv.Curve((ints["time_s"], ints[c] / ints[c].max()), "time (s)", "relative intensity / fraction",
                           label=c).opts(line_width=2) for c in rings]
        curves.append(hv.Scatter((frac["time_s"], frac["product_fraction"]), "time (s)",
                                 "relative intensity / fraction", label=f"{frac['product'].iloc[0]} fraction").opts(
            color="black", size=5))
        self.series_pane.update(hv.Overlay(curves).opts(width=WIDTH, height=HEIGHT, legend_position="right",
                                                        title=f"{frac['reactant'].iloc[0]} → {frac['product'].iloc[0]}"))

    def _analyse_fft(self):
        import holoviews as hv

        from battlab.plot._core import HEIGHT, WIDTH
        from battlab.tem.saed import lattice_spacing_series

        if self.movie is None:
            raise MissingDataError("no movie or image loaded.")
        movie = self.movie
        if self.pixel_size.value:
            movie = movie.assign_attrs(pixel_size_nm=self.pixel_size.value)
        if not movie.attrs.get("pixel_size_nm"):
            raise MissingDataError("the FFT needs square pixels of known size: set the pixel size.")
        table = lattice_spacing_series(movie)
        self.tables["hrtem_d"] = table
        self.fft_pane.update(hv.Curve((table["time_s"], table["d_A"]), "time (s)", "d (Å)").opts(
            width=WIDTH, height=HEIGHT, color="#9467bd", line_width=2,
            title=f"lattice spacing: {table['d_A'].iloc[0]:.3f} → {table['d_A'].iloc[-1]:.3f} Å "
                  f"({100 * table['strain'].iloc[-1]:+.2f} %)"))
        self.set_status(f"FFT: d = {table['d_A'].iloc[0]:.4f} Å in frame 0, strain {100 * table['strain'].iloc[-1]:+.2f} % "
                        "at the end.")

    def _gpa_frame(self):
        if self.movie is None:
            raise MissingDataError("no movie or image loaded: GPA maps an HRTEM frame.")
        px = self.pixel_size.value or self.movie.attrs.get("pixel_size_nm")
        if not px:
            raise MissingDataError("GPA needs square pixels of known size: set the pixel size.")
        return np.asarray(self.movie.isel(time=int(self.frame.value)).values, float), float(px)

    def _analyse_gpa(self, find_spots=False):
        """GPA strain of the current frame: along g₁, or the full tensor from g₁ and g₂."""
        from battlab.plot.tem import strain_map_plot
        from battlab.tem.saed import fft_spots, gpa_strain, gpa_strain_tensor

        if find_spots:
            frame, px = self._gpa_frame()
            spots = fft_spots(frame, pixel_size_nm=px, n_spots=6)
            self.tables["gpa_spots"] = spots
            opts = [(f"d = {r.d_A:.3f} Å at {r.angle_deg:.1f}°", (float(r.gy_per_nm), float(r.gx_per_nm)))
                    for r in spots.itertuples()]
            # the second default is the strongest spot at least 20° from the first (a second lattice row)
            far = spots.index[(spots["angle_to_first_deg"] >= 20)
                              & (spots["amplitude"] >= 0.1 * spots["amplitude"].iloc[0])]
            self._loading = True
            try:
                self.gpa_g1.options = opts
                self.gpa_g1.value = opts[0][1]
                self.gpa_g2.options = [("none (strain along g₁ only)", None)] + opts
                self.gpa_g2.value = opts[int(far[0])][1] if len(far) else None
            finally:
                self._loading = False
        if not self.gpa_g1.options:
            return  # no spots yet: the button finds them
        frame, px = self._gpa_frame()
        comp, g1, g2 = self.gpa_component.value, self.gpa_g1.value, self.gpa_g2.value
        if comp == "along_g1":
            strain = gpa_strain(frame, pixel_size_nm=px, spot=g1)
            label = f"ε along g₁ (d_ref = {strain.attrs['d_ref_A']:.3f} Å)"
        else:
            if g2 is None:
                raise MissingDataError(f"{comp} needs a second lattice vector: choose g₂ (a spot at another angle).")
            strain = gpa_strain_tensor(frame, pixel_size_nm=px, spots=(g1, g2)).sel(component=comp)
            label = dict((v, k) for k, v in self.gpa_component.options)[comp]
        values = strain.values
        ny, nx = values.shape
        inner = values[ny // 8: ny - ny // 8, nx // 8: nx - nx // 8]  # edges carry the FFT wrap-around
        self.tables["gpa_strain"] = pd.DataFrame([{
            "frame": int(self.frame.value), "component": comp, "g1_per_nm": str(tuple(round(v, 4) for v in g1)),
            "g2_per_nm": str(tuple(round(v, 4) for v in g2)) if g2 is not None else "",
            "median": float(np.median(inner)), "p05": float(np.percentile(inner, 5)),
            "p95": float(np.percentile(inner, 95))}])
        self.gpa_strain_map = strain
        self.gpa_pane.update(strain_map_plot(values, pixel_size_nm=px, label=label,
                                             title=f"GPA, frame {int(self.frame.value)}: {label}"))
        self.set_status(f"GPA {label}: median {np.median(inner):+.4f} in the frame's inner 3/4.")
        self._show_table()

    @staticmethod
    def _looks_like_eds(data):
        # EDS files say so; otherwise an axis reaching far beyond core-loss EELS (> 3 keV, starting near 0)
        if "EDS" in str(data.attrs.get("signal_type") or ""):
            return True
        e = data["energy_eV"].values if "energy_eV" in data.coords else np.zeros(1)
        return bool(e.max() > 3000 and e.min() < 300 and data.attrs.get("dispersion_eV", 0) >= 2)

    def _on_spec_mode(self):
        eds = self.spec_mode.value == "EDS"
        self.eds_box.layout.display = "" if eds else "none"
        self.eels_box.layout.display = "none" if eds else ""
        if self.decomposition is not None and self.decomposition["mode"] != ("eds" if eds else "eels"):
            self._clear_decomposition()  # the maps shown belong to the other mode's spectrum image
        if eds and self.eds is None:
            raise MissingDataError("no EDS data loaded: upload an EDS spectrum or spectrum image (.emd, .dm3/.dm4).")
        self._refresh_tab()

    def _eds_k_factors(self):
        ks = {}
        for item in filter(None, (t.strip() for t in self.eds_k.value.split(","))):
            name, _, value = item.partition("=")
            try:
                ks[name.strip()] = float(value)
            except ValueError:
                raise InvalidParameterError(f"k-factor {item!r}: write ELEMENT=VALUE, e.g. Ni=1.45.") from None
        return ks or None

    def _analyse_eds(self):
        """EDS: line counts and Cliff–Lorimer of the summed spectrum; element and at.% maps of a spectrum image."""
        from battlab.plot.tem import eds_plot
        from battlab.tem.eds import line_windows
        from battlab.tem.workflow import analyse_eds

        if self.eds is None:
            return
        elements = [e.strip() for e in self.eds_elements.value.split(",") if e.strip()]
        ratio = self.eds_ratio.value.strip()
        res = analyse_eds(self.eds, elements=elements, k_factors=self._eds_k_factors(),
                          background=self.eds_background.value, ratios=(ratio,) if ratio and self.eds.ndim == 3 else ())
        for key in ("eds_lines", "eds_composition", "eds_maps"):
            if key in res.tables:
                self.tables[key] = res.tables[key]
            else:
                self.tables.pop(key, None)
        self.eds_result = res
        self.eds_pane.update(eds_plot(res.arrays["spectrum"], windows=line_windows(elements),
                                      title="EDS: summed spectrum, line and background windows"))
        if "maps" in res.arrays:
            names = list(res.arrays["maps"]["element"].values)
            self._loading = True
            try:
                keep = self.eds_show.value
                self.eds_show.options = names
                self.eds_show.value = keep if keep in names else names[-1]
            finally:
                self._loading = False
            self._draw_eds_map()
        comp = res.tables["eds_composition"]
        self.set_status("EDS (Cliff–Lorimer, " + comp.attrs.get("k_factors_note", "") + "): " +
                        ", ".join(f"{r.element} {r.at_pct:.1f}" for r in comp.itertuples()) + " at.%")
        self._show_table()

    def _draw_eds_map(self):
        from battlab.plot.tem import frame_plot

        res = self.__dict__.get("eds_result")
        if res is None or "maps" not in res.arrays or not self.eds_show.value:
            return
        el, what = self.eds_show.value, self.eds_quantity.value
        ratio = next((k for k in res.arrays if k.startswith("ratio ")), None)
        if what == "ratio" and ratio is not None:
            arr, label = res.arrays[ratio], f"{ratio.removeprefix('ratio ')} atomic ratio"
        elif what == "ratio":
            raise MissingDataError("type a ratio of two mapped elements, e.g. Ni/Mn.")
        else:
            arr = res.arrays["composition" if what == "at_pct" else "maps"].sel(element=el)
            label = f"{el} at.%" if what == "at_pct" else f"{el} net counts"
        self.eds_map_pane.update(frame_plot(arr.values, pixel_size_nm=self.eds.attrs.get("pixel_size_nm") or 1.0,
                                            cmap="viridis", value_label=label, title=f"EDS map: {label}"))

    def _spectrum_image(self):
        """The spectrum image of the spectroscopy mode shown, its table prefix and energy axis label/scale."""
        if self.spec_mode.value == "EDS":
            if self.eds is None or self.eds.ndim != 3:
                raise MissingDataError("no EDS spectrum image loaded: upload one (.emd, .dm3/.dm4) to decompose it.")
            return self.eds, "eds", "X-ray energy (keV)", 1e-3
        if self.eels_si is None:
            raise MissingDataError("no EELS spectrum image loaded: upload one (y, x, energy; .dm3/.dm4, .emd) to "
                                   "decompose it.")
        return self.eels_si, "eels", "energy loss (eV)", 1.0

    def _clear_decomposition(self):
        from battlab.plot._core import empty

        self.decomposition = None
        for key in [k for k in self.tables if k.endswith(("_decomposition_spectra", "_decomposition_scores"))]:
            del self.tables[key]
        self.decomp_spectra_pane.update(empty("choose PCA or NMF and press Decompose"))
        self.decomp_scree_pane.update(empty("scree: PCA only"))
        self.decomp_maps_pane.widget.children = []
        self.decomp_maps_pane.object = None
        self._show_table()

    def _decompose(self):
        """PCA or NMF (:func:`battlab.tem.decompose_spectrum_image`) of the shown mode's spectrum image."""
        from battlab.plot._core import empty
        from battlab.plot.tem import component_maps_plot, component_spectra_plot, scree_plot
        from battlab.tem.eels import decompose_spectrum_image

        self.clear_error()  # a message from an earlier press does not outlive this one
        method = self.decomp_method.value
        if method == "none":
            raise InvalidParameterError("choose PCA or NMF in 'Decomposition' first.")
        si, prefix, energy_label, scale = self._spectrum_image()
        if si.size > _MAX_IN_APP_VALUES:
            raise InvalidParameterError(f"this spectrum image ({si.size:.3g} values) is too large to decompose in the "
                                        "app; use battlab.tem.decompose_spectrum_image (or `battlab tem --nmf N`) on "
                                        "a cropped, binned or energy-limited copy.")
        k = int(self.decomp_n.value)
        maps, spectra, explained = decompose_spectrum_image(si, n_components=k, method=method.lower())
        self.decomposition = {"mode": prefix, "method": method, "maps": maps, "spectra": spectra,
                              "explained": explained}
        self.tables[f"{prefix}_decomposition_spectra"] = pd.DataFrame(
            {"energy_eV": spectra["energy_eV"].to_numpy(),
             **{f"component_{c + 1}": spectra.values[c] for c in range(k)}})
        scores = maps.values.reshape(k, -1)
        summary = pd.DataFrame({"method": method, "component": np.arange(1, k + 1),
                                "score_mean": scores.mean(axis=1), "score_std": scores.std(axis=1),
                                "score_min": scores.min(axis=1), "score_max": scores.max(axis=1)})
        if method == "PCA":
            summary["explained_variance"] = explained
        else:
            summary["relative_residual"] = float(explained[0])
        self.tables[f"{prefix}_decomposition_scores"] = summary
        for other in ({"eds", "eels"} - {prefix}):  # one decomposition at a time: the maps shown are this one's
            for key in (f"{other}_decomposition_spectra", f"{other}_decomposition_scores"):
                self.tables.pop(key, None)
        what = "EDS" if prefix == "eds" else "EELS"
        self.decomp_spectra_pane.update(component_spectra_plot(
            spectra, energy_label=energy_label, energy_scale=scale,
            title=f"{what} {method}: component {'spectra (unit area)' if method == 'NMF' else 'loadings'}"))
        self.decomp_scree_pane.update(scree_plot(explained, title=f"{what} PCA scree") if method == "PCA" else
                                      empty(f"NMF: relative residual ‖X − WH‖/‖X‖ = {explained[0]:.4f}"))
        self.decomp_maps_pane.update(component_maps_plot(maps, pixel_size_nm=si.attrs.get("pixel_size_nm") or 1.0,
                                                         signed=method == "PCA",
                                                         label="score" if method == "PCA" else "abundance"))
        self.set_status(f"{what} {method}, {k} components: " +
                        (f"{100 * explained.sum():.2f} % of the variance" if method == "PCA" else
                         f"relative residual {explained[0]:.4f}") + ".")
        self._show_table()

    def _analyse_stem(self, first=False):
        """Virtual detector image (or CoM shift) of the 4D-STEM cube for the annulus chosen."""
        from battlab.plot.tem import frame_plot, pattern_plot
        from battlab.tem import stem4d

        if self.cube is None:
            return
        if first:
            from battlab.tem.workflow import analyse_4dstem

            res = analyse_4dstem(self.cube)
            self.stem_mean = res.arrays["mean_pattern"]
            self.stem_com = res.arrays["com"]
            self.tables["stem_virtual_images"] = res.tables["virtual_images"]
            self._loading = True
            try:
                self.annulus.value = (0.0, round(2 * res.options["bf_outer_px"]) / 2)
            finally:
                self._loading = False
        inner, outer = self.annulus.value
        ny, nx = self.stem_mean.shape
        center = ((ny - 1) / 2, (nx - 1) / 2)
        self.stem_pattern_pane.update(pattern_plot(self.stem_mean.values, center=center,
                                                   rings_px=[r for r in (inner, outer) if r > 0],
                                                   title="mean diffraction pattern + detector"))
        px = self.cube.attrs.get("pixel_size_nm") or 1.0
        if self.stem_signal.value == "com":
            self.stem_image = self.stem_com["magnitude_px"]
            label, title = "|CoM shift| (px)", "centre-of-mass shift"
        else:
            self.stem_image = stem4d.virtual_image(self.cube, inner_px=inner, outer_px=outer)
            kind = "bright field" if inner == 0 else "annular dark field" if inner > 0 else ""
            label, title = "counts", f"virtual {kind}: {inner:g}–{outer:g} px"
        self.stem_image_pane.update(frame_plot(self.stem_image.values, pixel_size_nm=px, cmap="gray",
                                               value_label=label, title=title))

    def _analyse_eels(self):
        from battlab.plot.tem import eels_plot
        from battlab.tem import eels
        from battlab.tem.workflow import analyse_spectrum

        if self.spectrum is None:
            return
        res = analyse_spectrum(self.spectrum, edges=tuple(eels.EDGES))
        for name in ("edges", "thickness"):
            key = f"eels_{name}"
            if name in res.tables:
                self.tables[key] = res.tables[name]
            else:
                self.tables.pop(key, None)
        spec = res.arrays["spectrum"]
        edge = self.edge.value
        onset, pre, sig = eels._default_windows(edge, None, None, 50.0)
        e = spec["energy_eV"].to_numpy()
        lo_view = max(pre[0] - 20, e.min())
        hi_view = min(sig[1] + 40, e.max())
        view = spec.sel(energy=(spec["energy_eV"] >= lo_view) & (spec["energy_eV"] <= hi_view))
        bg = None
        try:
            bg = eels.powerlaw_background(spec, pre)
        except MissingDataError as exc:
            self.set_status(f"{edge}: {exc}")
        self.eels_pane.update(eels_plot(view, background=bg, windows=[pre, sig], title=f"EELS: {edge} at {onset:g} eV"))
        self._show_table()

    def _analyse_dose(self):
        from battlab.plot.tem import dose_plot
        from battlab.tem import physics as ph

        if self.dose_mode.value == "TEM":
            rate = ph.dose_rate_tem(beam_current_A=max(self.current_nA.value, 1e-12) * 1e-9,
                                    illuminated_diameter_um=self.diameter_um.value)
            per_frame = rate * self.exposure.value
            exposure = self.exposure.value
        else:
            n_px = self.scan_px.value ** 2
            st = ph.dose_rate_stem(beam_current_A=max(self.current_nA.value, 1e-12) * 1e-9,
                                   pixel_size_nm=self.probe_px_nm.value, dwell_time_s=self.dwell_us.value * 1e-6,
                                   n_pixels=n_px)
            rate, per_frame = st["dose_rate_e_A2_s"], st["dose_per_frame_e_A2"]
            exposure = n_px * self.dwell_us.value * 1e-6
        interval = max(self.interval.value, exposure)
        plan = ph.dose_budget(budget_e_A2=self.budget.value, dose_rate_e_A2_s=rate, exposure_s=exposure,
                              frame_interval_s=interval, frames_wanted=self.frames_wanted.value)
        n = self.frames_wanted.value
        ledger = ph.cumulative_dose(np.arange(n) * interval, dose_rate_e_A2_s=rate, exposure_s=exposure)
        self.tables["dose"] = ledger
        summary = pd.DataFrame([{"mode": self.dose_mode.value, "dose_rate_e_A2_s": rate,
                                 "current_density_mA_cm2": float(ph.dose_rate_to_current_density_mA_cm2(rate)),
                                 "dose_per_frame_e_A2": per_frame, "frames_wanted": n,
                                 "total_dose_e_A2": float(ledger["cumulative_dose_e_A2"].iloc[-1]),
                                 "budget_e_A2": self.budget.value, "max_frames": plan["max_frames"],
                                 "max_duration_s": plan["max_duration_s"], "fits_budget": plan["fits_budget"],
                                 "max_dose_rate_e_A2_s": plan["max_dose_rate_e_A2_s"],
                                 "wavelength_pm": float(ph.electron_wavelength_pm(self.voltage.value))}])
        self.tables["dose_summary"] = summary
        verdict = "within" if plan["fits_budget"] else "<b style='color:#d62728'>over</b>"
        self.dose_summary.value = (f"<p>Dose rate <b>{rate:.4g} e⁻/Å²/s</b> "
                                   f"({float(ph.dose_rate_to_current_density_mA_cm2(rate)):.4g} mA/cm²); "
                                   f"<b>{per_frame:.4g} e⁻/Å²</b> per frame.<br>{n} frames: "
                                   f"{summary['total_dose_e_A2'].iloc[0]:.4g} e⁻/Å², {verdict} the budget; the budget "
                                   f"allows {plan['max_frames']} frames ({plan['max_duration_s']:.4g} s).</p>")
        self.dose_pane.update(dose_plot(ledger, budget=self.budget.value))
        self._dose_threshold(rate)
        self._show_table()

    def _dose_threshold(self, rate):
        """Expansion of the movie against the dose it received: the dose at which it starts to change."""
        from battlab.tem.physics import cumulative_dose, fit_dose_threshold

        self.tables.pop("dose_threshold", None)
        morph = self.tables.get("morphometry")
        if self.movie is None or morph is None or self.movie.sizes["time"] < 7:
            return
        times = self.movie["time_s"].to_numpy()
        dose = cumulative_dose(times, dose_rate_e_A2_s=rate)["cumulative_dose_e_A2"].to_numpy()
        ok = np.isfinite(morph["expansion_pct"].to_numpy())
        if ok.sum() < 7:
            return
        fit = fit_dose_threshold(dose[ok], morph["expansion_pct"].to_numpy()[ok])
        self.tables["dose_threshold"] = pd.DataFrame([{**fit, "metric": "expansion_pct"}])
        self.dose_summary.value += (f"<p>Movie expansion starts to change after <b>{fit['threshold_e_A2']:.3g} "
                                    f"e⁻/Å²</b> at this dose rate (hinge fit; compare runs at other dose rates before "
                                    f"blaming the beam).</p>")

    # --- holography ------------------------------------------------------------------
    def _reset_holo_line(self):
        image = self.hologram if self.holo_source.value == "hologram" and self.hologram is not None else \
            self.phase_image if self.phase_image is not None else self.hologram
        if image is None:
            return
        ny, nx = image.shape[-2:]
        was = self.__dict__.get("_loading")
        self._loading = True  # four values, one analysis
        try:
            for widget, v in zip(self.holo_line, (ny / 2, nx * 0.05, ny / 2, nx * 0.95), strict=True):
                widget.value = float(round(v, 1))
        finally:
            self._loading = was

    def _analyse_holography(self):
        """Phase from the hologram (or the phase image), its profile along the line and the step across it."""
        from battlab.imaging.presets import display_limits, imaging_preset
        from battlab.plot._core import empty
        from battlab.plot.tem import frame_plot, phase_profile_plot
        from battlab.tem import holography as H

        for key in ("holography_profile", "holography_step"):
            self.tables.pop(key, None)
        if self.holo_source.value == "hologram":
            if self.hologram is None:
                self.phase_pane.update(empty("no hologram: upload one on this tab, or pick 'phase image'"))
                self.holo_summary.value = ""
                return
            ref = self.hologram_reference if self.holo_use_reference.value else None
            phase = H.reconstruct_phase(self.hologram, reference=ref, aperture_px=self.holo_aperture.value or None,
                                        voltage_kV=self.voltage.value)
            vacuum = phase.values[:max(4, phase.shape[0] // 16), :max(4, phase.shape[1] // 16)]
            phase = phase - float(np.median(vacuum))  # the corner as the vacuum zero
            note = (f"sideband at ({phase.attrs['sideband_px'][0]:.1f}, {phase.attrs['sideband_px'][1]:.1f}) FFT px, "
                    f"aperture {phase.attrs['aperture_px']:.1f} px"
                    + (f" → resolution {phase.attrs['resolution_nm']:.2f} nm" if phase.attrs.get("resolution_nm")
                       else "") + ("; reference-corrected" if ref is not None else "; no reference"))
        else:
            if self.phase_image is None:
                self.phase_pane.update(empty("no phase image: upload one on this tab"))
                self.holo_summary.value = ""
                return
            phase = H.as_phase_image(self.phase_image)
            note = "phase image as given (rad)"
        self.holo_phase = phase
        line = [wd.value for wd in self.holo_line]
        profile = H.phase_profile(phase, line[:2], line[2:], width_px=self.holo_width.value)
        thickness = self.holo_thickness.value or None
        step = H.potential_step(profile, voltage_kV=self.voltage.value, thickness_nm=thickness)
        self.tables["holography_profile"] = profile
        self.tables["holography_step"] = pd.DataFrame([{k: (str(v) if isinstance(v, tuple) else v)
                                                        for k, v in step.items()}])
        px = phase.attrs.get("pixel_size_nm") or 1.0
        preset = imaging_preset("electron holography phase")
        lo, hi = display_limits(phase, percentiles=preset["percentiles"])
        self.phase_pane.update(frame_plot(phase.values, pixel_size_nm=px, cmap=preset["cmap"], clim=(lo, hi),
                                          value_label="phase (rad)", line=line, title="phase (rad)"))
        self.phase_profile_pane.update(phase_profile_plot(profile, step, title="phase along the line"))
        unit = "nm" if "s_nm" in profile else "px"
        text = (f"<p>Δφ = <b>{step['delta_phase_rad']:.4f} ± {step['delta_phase_err_rad']:.4f} rad</b> (right − left "
                f"plateau, {unit}); C_E({self.voltage.value:g} kV) = {step['interaction_constant_rad_per_V_nm']:.5f} "
                f"rad V⁻¹ nm⁻¹ → Δ∫V dz = {step['delta_projected_potential_V_nm']:.3f} ± "
                f"{step['delta_projected_potential_err_V_nm']:.3f} V·nm")
        if thickness:
            text += (f"; ΔV = <b>{step['delta_potential_V']:.4f} ± {step['delta_potential_err_V']:.4f} V</b> at "
                     f"t = {thickness:g} nm")
        self.holo_summary.value = text + f".<br><small>{html.escape(note)}</small></p>"
        self.clear_error()  # an earlier message about the line no longer applies
        self._show_table()

    # --- results ---------------------------------------------------------------------
    _TAB_TABLES = {
        0: ("morphometry", [("frame", "frame", "{:d}"), ("time_s", "t (s)", "{:.1f}"),
                            ("equivalent_diameter_nm", "d_eq (nm)", "{:.2f}"), ("feret_max_nm", "Feret max (nm)", "{:.2f}"),
                            ("feret_min_nm", "Feret min (nm)", "{:.2f}"), ("expansion_pct", "expansion (%)", "{:.2f}"),
                            ("expansion_definition", "definition", "{}")]),
        1: ("front_models", [("model", "model", "{}"), ("aic", "AIC", "{:.1f}"), ("delta_aic", "ΔAIC", "{:.1f}"),
                             ("r_squared", "R²", "{:.4f}"), ("meaning", "meaning", "{}")]),
        2: ("nucleation_fits", [("model", "model", "{}"), ("N_inf", "N∞", "{:.1f}"), ("A_per_s", "A (1/s)", "{:.3g}"),
                                ("rate_per_s", "J (1/s)", "{:.3g}"), ("aic", "AIC", "{:.1f}"),
                                ("r_squared", "R²", "{:.3f}")]),
        3: ("saed_matches", [("phase", "phase", "{}"), ("n_matched", "rings matched", "{:d}"),
                             ("coverage", "coverage", "{:.2f}"), ("mean_abs_delta_pct", "|Δd| (%)", "{:.2f}"),
                             ("score", "score", "{:.2f}"), ("matched", "hkl@d (Å)", "{}")]),
        4: ("eels_edges", [("edge", "edge", "{}"), ("onset_eV", "onset (eV)", "{:.1f}"), ("signal", "signal", "{:.4g}"),
                           ("snr", "SNR", "{:.1f}"), ("r", "background r", "{:.2f}"), ("warning", "note", "{}")]),
        5: ("dose_summary", [("dose_rate_e_A2_s", "e⁻/Å²/s", "{:.4g}"), ("dose_per_frame_e_A2", "e⁻/Å² per frame", "{:.4g}"),
                             ("total_dose_e_A2", "total (e⁻/Å²)", "{:.4g}"), ("max_frames", "max frames", "{:d}"),
                             ("fits_budget", "within budget", "{}")]),
        6: ("holography_step", [("delta_phase_rad", "Δφ (rad)", "{:.4f}"), ("delta_phase_err_rad", "± (rad)", "{:.4f}"),
                                ("delta_projected_potential_V_nm", "Δ∫V dz (V·nm)", "{:.3f}"),
                                ("delta_potential_V", "ΔV (V)", "{:.4f}"), ("delta_potential_err_V", "± (V)", "{:.4f}"),
                                ("voltage_kV", "kV", "{:g}")]),
    }

    def _show_table(self):
        idx = self.tabs.selected_index or 0
        name, cols = self._TAB_TABLES[idx]
        table = self.tables.get(name)
        extra = ""
        if idx == 1 and "front_parameters" in self.tables:
            extra = html_table(self.tables["front_parameters"], [("model", "model", "{}"),
                                                                 ("parameter", "parameter", "{}"),
                                                                 ("value", "value", "{:.4g}"),
                                                                 ("ci_low", "95 % low", "{:.4g}"),
                                                                 ("ci_high", "95 % high", "{:.4g}")])
        if idx == 1 and "two_regime" in self.tables:
            tr = self.tables["two_regime"].iloc[0]
            extra += (f"<p>Two regimes: n₁ = {tr['n1']:.3f}, n₂ = {tr['n2']:.3f}, break at {tr['t_break_s']:.1f} s "
                      f"(BIC {tr['bic']:.1f} vs one power law {tr['bic_single']:.1f}).</p>")
        if idx == 2 and "growth" in self.tables:
            g = self.tables["growth"].iloc[0]
            expected = ", ".join(f"{k.split(' (')[1].rstrip(')')}: {v:.2f}" for k, v in g.items()
                                 if str(k).startswith("n_expected"))
            extra = (f"<p>Growth exponent n = <b>{g['n_fitted']:.3f}</b> (closest: {html.escape(g['closest_model'])})."
                     f" Expected — {html.escape(expected)}.</p>")
        if idx == 2 and "transient" in self.tables:
            tr = self.tables["transient"].iloc[0]
            extra += (f"<p>Current transient: t_m = {tr['t_m_s']:.2f} s, I_m = {tr['I_m_A']:.3g} A; closer to "
                      f"<b>{html.escape(tr['closer'])}</b> nucleation (rms {tr['rms_instantaneous']:.3f} vs "
                      f"{tr['rms_progressive']:.3f}).</p>")
        if idx == 3 and "gpa_strain" in self.tables:
            g = self.tables["gpa_strain"].iloc[0]
            extra += (f"<p>GPA ({html.escape(g['component'])}, frame {g['frame']}): median {g['median']:+.4f}, "
                      f"5–95 % {g['p05']:+.4f} … {g['p95']:+.4f}.</p>")
        if idx == 4 and "eels_thickness" in self.tables:
            extra = f"<p>t/λ = <b>{self.tables['eels_thickness']['t_over_lambda'].iloc[0]:.3f}</b> (log-ratio).</p>"
        if idx == 4 and self.spec_mode.value == "EDS":
            table = self.tables.get("eds_composition")
            cols = [("element", "element", "{}"), ("net_counts", "net counts", "{:.4g}"),
                    ("k_factor", "k", "{:.3g}"), ("at_pct", "at.%", "{:.2f}"), ("at_pct_sigma", "± (counting)", "{:.2f}")]
            extra = ""
        dec = self.tables.get("eds_decomposition_scores" if self.spec_mode.value == "EDS" else
                              "eels_decomposition_scores")
        if idx == 4 and dec is not None:
            extra += "<p>Decomposition:</p>" + html_table(dec, [
                ("method", "method", "{}"), ("component", "component", "{:d}"),
                ("explained_variance", "explained variance", "{:.4g}"), ("relative_residual", "‖X−WH‖/‖X‖", "{:.4f}"),
                ("score_mean", "score mean", "{:.4g}"), ("score_std", "score s.d.", "{:.4g}")])
        self.table.value = (html_table(table, cols) if table is not None and len(table) else
                            "<i>nothing yet for this tab</i>") + extra

    def _results(self):
        self.run_all()
        return {name: table for name, table in self.tables.items() if isinstance(table, pd.DataFrame)}

    def _figures(self):
        self.run_all()
        panes = {"transient": self.sh_pane, "frame": self.frame_pane, "morphometry": self.morph_pane, "kymograph": self.kymo_pane,
                 "kinetics": self.kin_pane, "nucleation": self.count_pane, "growth": self.growth_pane,
                 "pattern": self.pattern_pane, "profile": self.profile_pane, "saed_series": self.series_pane,
                 "hrtem_d": self.fft_pane, "gpa": self.gpa_pane, "eels": self.eels_pane, "eds": self.eds_pane,
                 "eds_map": self.eds_map_pane, "stem_pattern": self.stem_pattern_pane,
                 "stem_image": self.stem_image_pane, "decomposition_spectra": self.decomp_spectra_pane,
                 "decomposition_scree": self.decomp_scree_pane, "decomposition_maps": self.decomp_maps_pane,
                 "dose": self.dose_pane, "phase": self.phase_pane, "phase_profile": self.phase_profile_pane}
        return {k: p.object for k, p in panes.items() if p.object is not None}

    def _provenance(self):
        from battlab.provenance import Provenance

        inputs = []
        for slot in ("movie", "pattern", "spectrum", "eels_si", "eds", "cube", "hologram", "hologram_reference",
                     "phase_image"):
            data = getattr(self, slot)
            if data is not None:
                inputs.append({"name": data.attrs.get("source_name"), "sha256": data.attrs.get("source_sha256"),
                               "format": data.attrs.get("source_format"), "role": slot})
        dec = self.decomposition
        params = {"pixel_size_nm": self.pixel_size.value or "from file", "frame_time_s": self.frame_time.value or
                  "from file", "voltage_kV": self.voltage.value, "invert": self.invert.value,
                  "expansion_definition": self.shape.value, "display": self.denoise.value,
                  "pca_components": self.n_components.value, "line_px": [wd.value for wd in self.line],
                  "front_method": self.method.value, "level": self.level.value or "auto",
                  "direction": self.direction.value, "two_sided": self.two_sided.value, "min_area_px": self.min_area.value,
                  "max_displacement_px": self.max_move.value, "camera_constant_px_A": self.camera_constant.value,
                  "standard": self.standard.value, "tolerance_pct": self.tolerance.value,
                  "beam_stop_px": self.beam_stop.value, "edge": self.edge.value, "dose_mode": self.dose_mode.value,
                  "beam_current_nA": self.current_nA.value, "beam_diameter_um": self.diameter_um.value,
                  "dwell_us": self.dwell_us.value, "exposure_s": self.exposure.value,
                  "frame_interval_s": self.interval.value, "budget_e_A2": self.budget.value,
                  "clock_offset_s": self.clock_offset.value, "movie_preset": self.preset.value,
                  "difference_to_first_frame": self.difference.value,
                  "cross_section_barn": self.cross_section.value or None,
                  "holography_input": self.holo_source.value, "holography_reference": self.holo_use_reference.value,
                  "holography_aperture_px": self.holo_aperture.value or "auto",
                  "holography_line_px": [wd.value for wd in self.holo_line], "holography_width_px": self.holo_width.value,
                  "holography_thickness_nm": self.holo_thickness.value or None,
                  "gpa_g1_per_nm": self.gpa_g1.value, "gpa_g2_per_nm": self.gpa_g2.value,
                  "gpa_component": self.gpa_component.value, "spectroscopy_mode": self.spec_mode.value,
                  "eds_elements": self.eds_elements.value, "eds_background": self.eds_background.value,
                  "eds_k_factors": self._eds_k_factors() or "approximate defaults",
                  "eds_ratio": self.eds_ratio.value,
                  "stem_annulus_px": list(self.annulus.value), "stem_signal": self.stem_signal.value,
                  # the decomposition shown (the controls may have moved since)
                  "decomposition_method": "none" if dec is None else dec["method"],
                  "decomposition_components": None if dec is None else int(dec["maps"].sizes["component"]),
                  "decomposition_of": None if dec is None else f"{dec['mode'].upper()} spectrum image",
                  "decomposition_algorithm": "PCA: SVD of the mean-centred pixels × energies matrix; NMF: Lee–Seung "
                                             "multiplicative updates, 500 iterations, seed 0 (battlab.tem."
                                             "decompose_spectrum_image)"}
        return Provenance(analysis="battlab.apps.TEMApp", parameters=params, inputs=inputs)
