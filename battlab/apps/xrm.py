"""X-ray microscopy app: volumes and their microstructure, XANES chemical maps,
reconstruction for teaching, Beer–Lambert and magnification calculators. Neutron
tomography and ¹H MRI volumes open in the same Volume tab under their technique preset."""

from __future__ import annotations

import contextlib
import html

import ipywidgets as w
import numpy as np
import pandas as pd

from battlab.apps._base import BaseApp, PlotPane, html_table
from battlab.errors import BattlabError, InvalidParameterError, MissingDataError

__all__ = ["XRMApp"]

VOLUME_SUFFIXES = (".tif", ".tiff", ".h5", ".hdf5", ".nxs", ".emd", ".npy")
TABS = ("Volume", "Operando", "XANES map", "Reconstruction", "Calculators")
#: Volume techniques (battlab.imaging.presets names) offered by the Volume tab
VOLUME_PRESETS = (("X-ray CT", "X-ray CT"), ("neutron tomography", "neutron tomography"), ("MRI ¹H", "MRI 1H"))

_SUMMARY = [
    ("porosity", "porosity", "{:.4f}"),
    ("specific_surface_area_per_um", "surface area (µm⁻¹)", "{:.3f}"),
    ("pore_d50_um", "pore d50 (µm)", "{:.2f}"),
    ("n_particles", "particles", "{:d}"),
    ("median_particle_diameter_um", "particle d (µm)", "{:.2f}"),
    ("median_sphericity", "sphericity", "{:.3f}"),
    ("tortuosity_z", "τ z", "{:.3f}"),
    ("tortuosity_y", "τ y", "{:.3f}"),
    ("tortuosity_x", "τ x", "{:.3f}"),
]
_XANES = [("particle", "particle", "{:d}"), ("n_pixels", "pixels", "{:d}"), ("area_um2", "area (µm²)", "{:.3f}"),
          ("mean_soc", "mean SOC", "{:.3f}"), ("std_soc", "SOC spread", "{:.3f}"),
          ("median_soc", "median SOC", "{:.3f}")]
_RECON = [("method", "method", "{}"), ("center_offset_px", "axis offset (px)", "{:.2f}"),
          ("n_angles", "angles", "{:d}"), ("rings_removed", "ring removal", "{}"),
          ("relative_rmse", "error vs phantom", "{:.4f}")]


def _mri_volume():
    from battlab.datasets.imaging import make_mri_volume

    return make_mri_volume()


class XRMApp(BaseApp):
    """X-ray microscopy and tomography.

    Parameters
    ----------
    data : optional
        A ``(z, y, x)`` volume (:func:`battlab.xrm.open_volume`), a list of volumes (an
        operando series), a XANES stack ``(energy_eV, y, x)`` or a projection dict
        (``projections``, ``flat``, ``dark``, ``angles_deg``); the packed-sphere demo
        otherwise.
    """

    title = "X-ray microscopy and tomography"
    intro = ("Tomography volumes: segmentation into pores, binder and active material, porosity through the "
             "thickness, pore sizes, particles and tortuosity per axis; an operando series (swelling, cracking); "
             "XANES maps of the state of charge; a reconstruction lab; Beer–Lambert and magnification "
             "calculators. Upload a volume (TIFF stack, HDF5, .npy) after setting its voxel size.")
    accept = ",".join(VOLUME_SUFFIXES)
    data_kind = "volume"

    def __init__(self, data=None, **kw):
        self.mode = None
        self.volume = None
        self.series = None
        self.analysis = None
        self.truth = None
        self.xanes = None
        self.stack = None
        self.references = None
        self.projections = None
        self.recon = None
        self.operando = None
        self._busy = False
        super().__init__(data, **kw)

    def demos(self):
        from battlab.datasets import xrm as D

        return {"packed-sphere electrode with binder (48³)": lambda: D.make_packed_spheres(shape=(48, 48, 48)),
                "straight channels (τ = 1 along z)": D.make_channel_volume,
                "operando: swelling and cracking particles": D.make_cracked_series,
                "XANES: LiFePO4/FePO4 particles, known SOC map": D.make_xanes_stack,
                "CT phantom projections (axis offset, rings)": D.make_phantom_projections,
                "MRI ¹H: electrolyte and Li dendrites (threshold 0.2·I_max)": _mri_volume}

    # --- controls --------------------------------------------------------------------
    def _build_controls(self):
        style = {"description_width": "initial"}
        self.voxel = w.BoundedFloatText(value=0.0, min=0.0, max=1e5, step=0.01, description="Voxel size (µm, required)",
                                        style=style, layout=w.Layout(width="260px"))
        self.method = w.Dropdown(options=[("multi-Otsu", "multiotsu"), ("Otsu (2 phases)", "otsu"),
                                          ("manual thresholds", "manual")], value="multiotsu",
                                 description="Threshold", style=style, layout=w.Layout(width="240px"))
        self.classes = w.IntSlider(value=3, min=2, max=4, description="Phases", style=style,
                                   continuous_update=False, layout=w.Layout(width="240px"))
        self.manual = w.Text(value="", description="Manual thresholds", placeholder="e.g. 14000, 30000",
                             style=style, layout=w.Layout(width="300px"))
        self.min_size = w.IntSlider(value=5, min=0, max=200, description="Remove islands < (voxels)", style=style,
                                    continuous_update=False, layout=w.Layout(width="340px"))
        self.axis = w.ToggleButtons(options=["z", "y", "x"], value="z", description="Slice axis", style=style)
        self.slice = w.IntSlider(value=0, min=0, max=0, description="Slice", style=style, continuous_update=False,
                                 layout=w.Layout(width="420px"))
        self.overlay = w.Checkbox(value=True, description="show segmentation", indent=False)
        self.contrast = w.FloatRangeSlider(value=(1.0, 99.0), min=0.0, max=100.0, step=0.5,
                                           description="Contrast (percentiles)", style=style,
                                           continuous_update=False, layout=w.Layout(width="380px"))
        for widget in (self.method, self.classes, self.manual, self.min_size, self.voxel):
            widget.observe(lambda _: self._guard("segmenting the volume", self._analyse_volume), "value")
        for widget in (self.slice, self.overlay, self.contrast):
            widget.observe(lambda _: self._guard("showing the slice", self._update_slice), "value")
        self.technique = w.Dropdown(options=list(VOLUME_PRESETS), value="X-ray CT", description="Technique",
                                    style=style, layout=w.Layout(width="260px"))
        self.technique_note = w.HTML()
        self.technique.observe(lambda _: None if self._busy else
                               self._guard("applying the technique preset", self._on_technique), "value")
        self.axis.observe(lambda _: self._guard("changing the slice axis", self._on_axis), "value")
        self.time = w.IntSlider(value=0, min=0, max=0, description="Time point", style=style,
                                continuous_update=False, layout=w.Layout(width="420px"))
        self.time.observe(lambda _: self._guard("showing the time point", self._on_time), "value")
        # XANES
        self.pixel_y = w.IntSlider(value=0, min=0, max=0, description="Pixel row", style=style,
                                   continuous_update=False)
        self.pixel_x = w.IntSlider(value=0, min=0, max=0, description="Pixel column", style=style,
                                   continuous_update=False)
        self.xmap = w.Dropdown(options=[("state of charge", "soc"), ("edge energy", "edge_energy"),
                                        ("white-line energy", "white_line_energy"), ("edge step", "edge_step"),
                                        ("LCF r-factor", "r_factor")], value="soc", description="Map", style=style)
        for widget in (self.pixel_y, self.pixel_x, self.xmap):
            widget.observe(lambda _: self._guard("showing the XANES map", self._update_xanes), "value")
        # Reconstruction
        self.rmethod = w.ToggleButtons(options=[("FBP", "fbp"), ("SART", "sart")], value="fbp",
                                       description="Method", style=style)
        self.rfilter = w.Dropdown(options=["ramp", "shepp-logan", "cosine", "hamming", "hann"], value="ramp",
                                  description="FBP filter", style=style, layout=w.Layout(width="220px"))
        self.offset = w.FloatSlider(value=0.0, min=-15, max=15, step=0.1, description="Axis offset (px)",
                                    style=style, continuous_update=False, layout=w.Layout(width="380px"))
        self.auto_offset = w.Button(description="Find axis", icon="crosshairs")
        self.auto_offset.on_click(lambda _: self._guard("finding the rotation axis", self._find_axis))
        self.rings = w.Checkbox(value=True, description="remove rings", indent=False)
        self.angle_step = w.IntSlider(value=1, min=1, max=12, description="Use every n-th angle", style=style,
                                      continuous_update=False)
        for widget in (self.rmethod, self.rfilter, self.offset, self.rings, self.angle_step):
            widget.observe(lambda _: self._guard("reconstructing", self._reconstruct), "value")
        # Calculators
        self.mu = w.FloatText(value=100.0, description="μ (1/cm), layers: comma list", style=style)
        self.mu_text = w.Text(value="100, 30", description="μ per layer (1/cm)", style=style)
        self.thick_text = w.Text(value="50, 200", description="thickness per layer (µm)", style=style)
        self.sod = w.BoundedFloatText(value=20.0, min=1e-6, max=1e6, description="source–object a (mm)", style=style)
        self.oid = w.BoundedFloatText(value=180.0, min=0.0, max=1e6, description="object–detector b (mm)",
                                      style=style)
        self.pitch = w.BoundedFloatText(value=13.5, min=1e-6, max=1e6, description="detector pixel (µm)", style=style)
        self.calc_out = w.HTML()
        for widget in (self.mu_text, self.thick_text, self.sod, self.oid, self.pitch):
            widget.observe(lambda _: self._guard("calculating", self._calculate), "value")
        # Manual phase labelling: a polygon on the current slice (clicked or typed) gets a phase.
        self.draw = w.Checkbox(value=False, description="click polygon vertices on the slice", indent=False)
        self.polygon = w.Text(value="", description="Polygon (µm)", placeholder="h, v; h, v; h, v  (x, y on a z slice)",
                              style=style, layout=w.Layout(width="420px"))
        self.label_phase = w.BoundedIntText(value=0, min=0, max=9, description="Phase", style=style,
                                            layout=w.Layout(width="120px"))
        self.label_scope = w.Dropdown(options=[("this slice", "slice"), ("slab ± n slices", "slab"),
                                               ("all slices", "all")], value="slice", description="Apply to",
                                      style=style, layout=w.Layout(width="220px"))
        self.slab_half = w.BoundedIntText(value=2, min=0, max=100000, description="n", style=style,
                                          layout=w.Layout(width="100px"))
        self.apply_label = w.Button(description="Label polygon", icon="paint-brush")
        self.apply_label.on_click(lambda _: self._guard("labelling the polygon", self._apply_polygon))
        self.clear_labels = w.Button(description="Clear manual labels", icon="eraser")
        self.clear_labels.on_click(lambda _: self._guard("clearing the manual labels", self._clear_labels))
        self.draw.observe(lambda ch: self._guard("showing the slice", self._on_draw, ch["new"]), "value")
        self.polygon.observe(lambda _: None if self._busy or not self.draw.value else
                             self._guard("showing the polygon", self._update_slice), "value")
        self.label_edits: list[dict] = []
        # Progress of the long computations (segmentation + metrics + tortuosity, the
        # operando series, SART). Its value is sent to the page as the loops report, so
        # the bar moves while the kernel computes.
        self.progress = w.FloatProgress(value=0.0, min=0.0, max=1.0, description="Progress",
                                        layout=w.Layout(width="320px"))
        self.progress_label = w.HTML()
        self.progress_history: list[float] = []
        return [w.HBox([self.voxel, self.method, self.classes]), w.HBox([self.manual, self.min_size])]

    def _on_progress(self, fraction, message=""):
        """Move the progress bar (called by the library's ``on_progress`` callbacks)."""
        fraction = float(min(max(fraction, 0.0), 1.0))
        # Only steps of 1 % or more reach the page: a CG loop reports many times a second.
        last = self.progress_history[-1] if self.progress_history else -1.0
        if fraction <= last or (fraction < 1.0 and fraction - last < 0.01):
            return
        self.progress_history.append(fraction)
        self.progress.value = fraction
        self.progress.bar_style = "success" if fraction >= 1.0 else "info"
        self.progress_label.value = (f"<small>{100 * fraction:.0f} %"
                                     + (f" · {html.escape(message)}" if message else "") + "</small>")

    def _start_progress(self):
        self.progress_history = []
        self._on_progress(0.0, "starting")

    def _plot_area(self):
        self.slice_plot = PlotPane()
        self.profile_plot = PlotPane()
        self.psd_plot = PlotPane()
        self.tort_plot = PlotPane()
        self.operando_slice = PlotPane()
        self.operando_plot = PlotPane()
        self.map_plot = PlotPane()
        self.fit_plot = PlotPane()
        self.hist_plot = PlotPane()
        self.sino_plot = PlotPane()
        self.recon_plot = PlotPane()
        self.truth_plot = PlotPane()
        volume = w.VBox([w.HBox([self.technique, self.axis, self.overlay]), self.technique_note,
                         w.HBox([self.slice, self.contrast]),
                         w.HBox([self.draw, self.polygon]),
                         w.HBox([self.label_phase, self.label_scope, self.slab_half, self.apply_label,
                                 self.clear_labels]),
                         w.HBox([self.slice_plot.widget, self.profile_plot.widget]),
                         w.HBox([self.psd_plot.widget, self.tort_plot.widget])])
        operando = w.VBox([self.time, w.HBox([self.operando_slice.widget, self.operando_plot.widget])])
        xanes = w.VBox([w.HBox([self.xmap, self.pixel_y, self.pixel_x]),
                        w.HBox([self.map_plot.widget, self.fit_plot.widget]), w.HBox([self.hist_plot.widget])])
        recon = w.VBox([w.HBox([self.rmethod, self.rfilter, self.rings]),
                        w.HBox([self.offset, self.auto_offset, self.angle_step]),
                        w.HBox([self.sino_plot.widget, self.recon_plot.widget]), w.HBox([self.truth_plot.widget])])
        calc = w.VBox([w.HTML("<b>Beer–Lambert</b> I/I₀ = exp(−Σ μᵢ xᵢ) (layers add in the exponent)"),
                       w.HBox([self.mu_text, self.thick_text]),
                       w.HTML("<b>Geometric magnification</b> M = (a + b)/a; pixel at the sample = pitch / M"),
                       w.HBox([self.sod, self.oid, self.pitch]), self.calc_out])
        self.tabs = w.Tab(children=[volume, operando, xanes, recon, calc])
        for k, name in enumerate(TABS):
            self.tabs.set_title(k, name)
        self._calculate()
        return w.VBox([w.HBox([self.progress, self.progress_label]), self.tabs])

    # --- data ------------------------------------------------------------------------
    def _load_bytes(self, data: bytes, name: str):
        from pathlib import Path

        if Path(name).suffix.lower() not in VOLUME_SUFFIXES:
            raise InvalidParameterError(f"{name}: upload a volume (TIFF stack, HDF5/NeXus, .npy); XANES stacks and "
                                        "projection sets are analysed with the battlab command line.")
        import hashlib

        path = self.stored_uploads.get(hashlib.sha256(data).hexdigest()) or self._keep_upload(data, name)
        if path is None:
            raise BattlabError(f"{name} could not be kept on the server, so the volume cannot be opened.")
        self._open_path(Path(path), name)

    def _open_path(self, path, name):
        """Open a volume lazily from disk (an upload kept in the store, or a server file)."""
        from battlab.xrm import open_volume

        if not self.voxel.value:
            raise MissingDataError("set the voxel size (µm) first: porosity profiles, sizes and surface areas are "
                                   "in µm. Then load the volume again.")
        self.set_status(f"Opening {name}…")
        self._accept_data(open_volume(path, voxel_size_um=self.voxel.value), name)

    # Server files: BaseApp lists them (volume formats are in the registry, filtered by
    # ``accept``) and confines the path; only the opening differs, because a volume is
    # opened lazily from its path with the visible voxel size rather than read whole.
    def _load_server_file(self, path):
        resolved = self._confined_path(path)
        if resolved is not None:
            self._guard(f"reading {resolved.name}", self._open_path, resolved, resolved.name)

    def _set_data(self, data, label, truth=None):
        self.truth = truth
        if isinstance(data, dict) and "projections" in data:
            self.projections = data
            self._switch("Reconstruction")
            self._reconstruct()
            self.table.value = html_table(self._recon_table(), _RECON)
            return
        if isinstance(data, (list, tuple)):
            if not data or not all(getattr(v, "dims", None) == ("z", "y", "x") for v in data):
                raise InvalidParameterError(f"{label}: an operando series is a list of (z, y, x) volumes.")
            self.series = list(data)
            self._switch("Operando")
            self._analyse_series()
            return
        dims = tuple(getattr(data, "dims", ()))
        if dims == ("energy_eV", "y", "x"):
            self.stack = data
            refs = (truth or {}).get("references")
            if not refs:
                raise MissingDataError("XANES maps need reference spectra; use the battlab xanes command with "
                                       "--reference files.")
            self.references = refs
            self._switch("XANES map")
            self._analyse_xanes((truth or {}).get("charged"))
            return
        if dims != ("z", "y", "x"):
            raise InvalidParameterError(f"{label}: not a volume, an operando series, a XANES stack or projections.")
        self.volume = data
        self.label_edits = []  # manual labels belong to the volume they were drawn on
        self._switch("Volume")
        with self._quiet():
            self.voxel.value = float(data.attrs["voxel_size_um"][0])
            if truth and "labels" in truth:  # a demo says how many phases it has
                n = int(np.unique(truth["labels"]).size)
                self.method.value = "otsu" if n == 2 else "multiotsu"
                self.classes.value = max(2, min(4, n))
            technique = data.attrs.get("technique")
            if technique in dict(VOLUME_PRESETS).values():
                self.technique.value = technique
            elif label.startswith("demo:"):
                self.technique.value = "X-ray CT"
        self._on_technique(analyse=False)
        self._on_axis(analyse=True)

    def _on_technique(self, analyse=True):
        """Units, display contrast and labels of the chosen technique; MRI: threshold 0.2·I_max."""
        from battlab.imaging.presets import imaging_preset

        p = imaging_preset(self.technique.value)
        self.technique_note.value = (f"<small><b>{html.escape(p['quantity'])}</b> ({html.escape(p['units'])}): "
                                     f"{html.escape(p['meaning'])}.</small>")
        with self._quiet():
            self.contrast.value = tuple(p["percentiles"])
            if self.technique.value == "MRI 1H" and self.volume is not None:
                # the seed review's segmentation of ¹H MRI: everything below 0.2·I_max has no electrolyte
                self.method.value = "manual"
                self.manual.value = self._mri_threshold = f"{0.2 * float(np.nanmax(self._preview())):.4g}"
            elif self.method.value == "manual" and self.manual.value == self.__dict__.get("_mri_threshold"):
                self.method.value = "multiotsu"  # the MRI threshold was ours, not the user's: undo it
        if self.volume is not None:
            self.volume = self.volume.assign_attrs(technique=self.technique.value)
            if analyse:
                self._analyse_volume()

    def _switch(self, tab):
        self.mode = tab
        self.tabs.selected_index = TABS.index(tab)

    @contextlib.contextmanager
    def _quiet(self):
        """Set several controls without each one re-running the analysis."""
        self._busy = True
        try:
            yield
        finally:
            self._busy = False

    def describe_data(self):
        if self.mode == "Volume" and self.volume is not None:
            v = self.volume
            return f"{v.sizes['z']}×{v.sizes['y']}×{v.sizes['x']} voxels of {v.attrs['voxel_size_um'][0]:g} µm"
        if self.mode == "Operando" and self.series:
            return f"{len(self.series)} time points of {self.series[0].sizes['z']}×{self.series[0].sizes['y']}×" \
                   f"{self.series[0].sizes['x']} voxels"
        if self.mode == "XANES map" and self.stack is not None:
            s = self.stack
            return f"XANES stack: {s.sizes['energy_eV']} energies, {s.sizes['y']}×{s.sizes['x']} pixels"
        if self.mode == "Reconstruction" and self.projections is not None:
            p = np.asarray(self.projections["projections"])
            return f"{p.shape[0]} projections of {p.shape[-1]} detector pixels"
        return ""

    # --- volume ----------------------------------------------------------------------
    def _thresholds(self):
        if self.method.value != "manual":
            return None
        try:
            values = [float(v) for v in self.manual.value.replace(";", ",").split(",") if v.strip()]
        except ValueError:
            raise InvalidParameterError("manual thresholds: type grey levels separated by commas, e.g. 14000, "
                                        "30000.") from None
        if not values:
            raise MissingDataError("type one or more manual grey-level thresholds, separated by commas.")
        return values

    def _analyse_volume(self):
        if self.volume is None or self._busy or self.mode != "Volume":
            return
        from battlab.xrm.workflow import analyse_volume

        if not self.voxel.value:
            raise MissingDataError("set the voxel size (µm) of the volume.")
        if abs(self.voxel.value - self.volume.attrs["voxel_size_um"][0]) > 1e-12:
            from battlab.xrm import make_volume

            self.volume = make_volume(self.volume.data, voxel_size_um=self.voxel.value,
                                      units=self.volume.attrs.get("units", "a.u."),
                                      source_format=self.volume.attrs.get("source_format", ""),
                                      source_name=self.volume.attrs.get("source_name", ""),
                                      source_sha256=self.volume.attrs.get("source_sha256"))
        self._start_progress()
        self.analysis = analyse_volume(self.volume, method=self.method.value, classes=self.classes.value,
                                       thresholds=self._thresholds(), min_size_voxels=self.min_size.value,
                                       axis=self.axis.value, max_voxels_in_memory=64 ** 3,
                                       phase_names=self._phase_names(), label_edits=self.label_edits,
                                       progress=lambda msg: self.set_status(msg), on_progress=self._on_progress)
        self.clear_error()
        self.table.value = html_table(self.analysis.tables["summary"], _SUMMARY)
        from battlab.plot import xrm as P

        truth = None
        if self.truth and self.axis.value == "z" and "slice_porosity" in self.truth:
            truth = self.truth["slice_porosity"]
        self.profile_plot.update(P.slice_profile(self.analysis.tables["slice_profile"], axis=self.axis.value,
                                                 truth=truth))
        self.psd_plot.update(P.size_distribution(self.analysis.tables["pore_size_distribution"]))
        self.tort_plot.update(P.tortuosity_bars(self.analysis.tables["tortuosity"]))
        self._update_slice()
        if self.analysis.notes:
            self.set_status(" ".join(self.analysis.notes))

    def _phase_names(self):
        if self.technique.value == "MRI 1H" and len(self._thresholds() or ()) == 1:
            return {0: "no 1H signal (Li)", 1: "electrolyte"}
        if self.classes.value == 3 and self.method.value == "multiotsu":
            return {0: "pore", 1: "binder", 2: "active"}
        return None

    def _on_axis(self, analyse=False):
        if self.volume is None:
            return
        n = self.volume.sizes[self.axis.value]
        with self._quiet():
            self.slice.max = n - 1
            self.slice.value = n // 2
        if analyse or self.analysis is None:
            self._analyse_volume()
            return
        # Only the profile depends on the axis: recompute it (chunked), not the segmentation.
        from battlab.plot import xrm as P
        from battlab.xrm import slice_profile

        names = {k: v for k, v in zip(self.analysis.tables["phase_fractions"]["phase"],
                                      self.analysis.tables["phase_fractions"]["name"], strict=True)}
        profile = slice_profile(self.analysis.labels, axis=self.axis.value, names=names)
        self.analysis.tables["slice_profile"] = profile
        self.analysis.options["axis"] = self.axis.value
        truth = self.truth.get("slice_porosity") if self.truth and self.axis.value == "z" else None
        self.profile_plot.update(P.slice_profile(profile, axis=self.axis.value, truth=truth))
        self._update_slice()

    def _update_slice(self):
        if self.volume is None or self.analysis is None or self._busy:
            return
        from battlab.plot import xrm as P

        ax = self.axis.value
        k = int(self.slice.value)
        grey = self.volume.isel({ax: k}).values
        lab = self.analysis.labels.isel({ax: k}).values if self.overlay.value else None
        vox = self.volume.attrs["voxel_size_um"]
        order = [a for a in ("z", "y", "x") if a != ax]
        spacing = (vox["zyx".index(order[0])], vox["zyx".index(order[1])])
        pos = k * vox["zyx".index(ax)]
        lo, hi = self.contrast.value
        # Contrast from the whole volume's histogram, so it does not jump from slice to slice.
        clim = tuple(float(v) for v in np.nanpercentile(self._preview(), [lo, hi]))
        from battlab.imaging.presets import imaging_preset

        p = imaging_preset(self.technique.value)
        units = self.volume.attrs.get("units") or p["units"]
        view = P.slice_image(grey, lab, pixel_size_um=spacing, axes=(order[1], order[0]),
                             title=f"{self.technique.value}: {ax} = {pos:.2f} µm (slice {k})",
                             clim=clim, cmap=p["cmap"], value_label=f"signal ({units})")
        self._slice_geometry = (grey.shape, spacing)
        if not self.draw.value:
            self.slice_plot.update(view)
            return
        from bokeh.events import Tap

        fig = P.hv.render(view, backend="bokeh")
        hs, vs = self._polygon_plot_coords()
        fig.patch(hs, vs, fill_alpha=0.25, fill_color="#ff1493", line_color="#ff1493", line_width=2)
        fig.scatter(hs, vs, size=8, marker="circle", color="#ff1493")
        # A click reaches Python through the widget's comm (a Bokeh event), as in the correlation app.
        fig.on_event(Tap, lambda event: self._guard("adding a polygon vertex", self._on_slice_tap, event.x, event.y))
        self.slice_plot.update(fig)

    # --- manual labels ---------------------------------------------------------------
    def _vertices(self):
        """Vertices typed or clicked so far, (horizontal, vertical) µm in volume coordinates."""
        text = self.polygon.value.strip()
        if not text:
            return []
        try:
            pts = [tuple(float(v) for v in pair.split(",")) for pair in text.split(";") if pair.strip()]
        except ValueError:
            raise InvalidParameterError("polygon: type vertices as 'h, v; h, v; h, v' in µm.") from None
        if any(len(pt) != 2 for pt in pts):
            raise InvalidParameterError("polygon: each vertex is two numbers 'h, v' (µm), separated by ';'.")
        return pts

    def _polygon_plot_coords(self):
        # The slice is drawn with row 0 at the top and pixels as areas; vertices are voxel-centre
        # coordinates (index × voxel size), so they shift by half a pixel and flip vertically.
        (nv, _), (dv, dh) = self._slice_geometry
        pts = self._vertices()
        return [h + dh / 2 for h, _ in pts], [(nv - 0.5) * dv - v for _, v in pts]

    def _on_slice_tap(self, x_plot, y_plot):
        if not self.draw.value or x_plot is None or y_plot is None:
            return
        (nv, _), (dv, dh) = self._slice_geometry
        h, v = float(x_plot) - dh / 2, (nv - 0.5) * dv - float(y_plot)
        self.polygon.value = "; ".join(f"{a:.4g}, {b:.4g}" for a, b in [*self._vertices(), (h, v)])
        self._update_slice()

    def _on_draw(self, on):
        if on:
            self.set_status("Click the polygon's corners on the slice (or type them), choose the phase and press "
                            "Label polygon.")
        self._update_slice()

    def _apply_polygon(self):
        if self.volume is None or self.analysis is None:
            raise MissingDataError("load a volume first.")
        pts = self._vertices()
        if len(pts) < 3:
            raise InvalidParameterError("a polygon needs at least three vertices: click them on the slice or type "
                                        "'h, v; h, v; h, v' in µm.")
        ax, k, n = self.axis.value, int(self.slice.value), self.volume.sizes[self.axis.value]
        scope = self.label_scope.value
        slices = (k if scope == "slice" else None if scope == "all"
                  else (max(0, k - self.slab_half.value), min(n, k + self.slab_half.value + 1)))
        from battlab.xrm import label_polygon

        label_polygon(self.analysis.labels.isel({ax: slice(k, k + 1)}), pts, phase=self.label_phase.value,
                      axis=ax, slices=0)  # checks the polygon before the re-analysis
        self.label_edits.append({"vertices_um": pts, "phase": int(self.label_phase.value), "axis": ax,
                                 "slices": slices})
        with self._quiet():
            self.polygon.value = ""
        self._analyse_volume()
        edit = self.analysis.labels.attrs["manual_labels"][-1]
        self.set_status(f"{edit['voxels']:,} voxels set to phase {edit['phase']} "
                        f"({len(self.label_edits)} manual label(s)); metrics recomputed.")

    def _clear_labels(self):
        self.label_edits = []
        with self._quiet():
            self.polygon.value = ""
        self._analyse_volume()

    def _preview(self):
        """A strided sample of the volume (at most ~2 M voxels) for contrast limits."""
        if getattr(self, "_preview_of", None) is not self.volume:
            step = max(1, int(np.ceil((self.volume.size / 2e6) ** (1 / 3))))
            self._preview_values = np.asarray(self.volume.data[::step, ::step, ::step])
            self._preview_of = self.volume
        return self._preview_values

    # --- operando --------------------------------------------------------------------
    def _analyse_series(self):
        from scipy import ndimage as ndi
        from skimage.morphology import ball

        from battlab.xrm import crack_table, particle_changes, particle_table, segment, split_particles

        tables, self._series_labels = [], []
        self._start_progress()
        for t, vol in enumerate(self.series):
            self.set_status(f"segmenting time point {t + 1}/{len(self.series)}…")
            self._on_progress(t / len(self.series), f"time point {t + 1}/{len(self.series)}")
            lab = segment(vol, method="otsu").compute()
            solid = lab.values == 1
            vox = vol.attrs["voxel_size_um"]
            r = 2
            closed = ndi.binary_closing(np.pad(solid, r + 1), structure=ball(r))[(slice(r + 1, -r - 1),) * 3]
            parts = split_particles(closed, min_distance_um=6 * vox[0], voxel_size_um=vox)
            cracks = crack_table(parts, solid, closing_radius_um=r * vox[0])
            tables.append(particle_table(parts, surface=False).merge(cracks, on="particle"))
            self._series_labels.append(lab)
        self.operando = particle_changes(tables)
        self._on_progress(1.0, "done")
        with self._quiet():
            self.time.max = len(self.series) - 1
            self.time.value = min(self.time.value, len(self.series) - 1)
        cols = [("time", "time", "{:d}"), ("particle", "particle", "{:d}"), ("volume_um3", "volume (µm³)", "{:.1f}"),
                ("volume_change_pct", "volume change (%)", "{:.2f}"), ("crack_volume_um3", "crack (µm³)", "{:.2f}"),
                ("cracked", "cracked", "{}"), ("crack_onset", "crack onset", "{:.0f}")]
        self.table.value = html_table(self.operando, cols)
        self._on_time()

    def _on_time(self):
        if not self.series or self.operando is None or self._busy:
            return
        from battlab.plot import xrm as P

        t = int(self.time.value)
        vol = self.series[t]
        k = vol.sizes["z"] // 2
        vox = vol.attrs["voxel_size_um"]
        self.operando_slice.update(P.slice_image(vol.isel(z=k).values, self._series_labels[t].isel(z=k).values,
                                                 pixel_size_um=(vox[1], vox[2]), title=f"time point {t}, mid slice"))
        self.operando_plot.update(P.particle_changes(self.operando, current=t))

    # --- XANES -----------------------------------------------------------------------
    def _analyse_xanes(self, charged=None):
        from battlab.xrm.workflow import analyse_xanes

        self.xanes = analyse_xanes(self.stack, self.references, charged=charged)
        ny, nx = self.stack.sizes["y"], self.stack.sizes["x"]
        inside = np.argwhere(np.isfinite(self.xanes.maps["soc"].values))
        py, px = (inside[len(inside) // 2] if len(inside) else (ny // 2, nx // 2))
        with self._quiet():
            self.pixel_y.max, self.pixel_x.max = ny - 1, nx - 1
            self.pixel_y.value, self.pixel_x.value = int(py), int(px)
        self.table.value = html_table(self.xanes.tables["particles"], _XANES)
        self._update_xanes()

    def _update_xanes(self):
        if self.xanes is None or self._busy:
            return
        from battlab.plot import xrm as P

        name = self.xmap.value
        m = self.xanes.maps[name]
        cmap = {"soc": "coolwarm", "r_factor": "magma"}.get(name, "viridis")
        clim = (0.0, 1.0) if name == "soc" else None
        py, px = int(self.pixel_y.value), int(self.pixel_x.value)
        img = P.map_image(m, title=f"{name.replace('_', ' ')} map", cmap=cmap, clim=clim)
        p = float(m.attrs.get("pixel_size_um", 1.0))
        marker = P.hv.Points([((px + 0.5) * p, (m.sizes["y"] - py - 0.5) * p)]).opts(color="black", marker="x",
                                                                                    size=12)
        self.map_plot.update(img * marker)
        norm = self.xanes.normalized
        e = norm["energy_eV"].to_numpy()
        self.fit_plot.update(P.pixel_fit(e, norm[:, py, px].values, self.xanes.lcf["model"][:, py, px].values,
                                         self.xanes.lcf["references"],
                                         title=f"pixel ({py}, {px}): SOC "
                                               f"{self.xanes.maps['soc'].values[py, px]:.3f}"))
        self.hist_plot.update(P.soc_histogram(self.xanes.tables["soc_histogram"], self.xanes.tables["particles"]))

    # --- reconstruction --------------------------------------------------------------
    def _sinogram(self):
        from battlab.xrm import normalize_projections, remove_rings

        d = self.projections
        step = int(self.angle_step.value)
        sino = normalize_projections(np.asarray(d["projections"])[::step], flat=d["flat"], dark=d.get("dark"),
                                     angles_deg=np.asarray(d["angles_deg"])[::step])
        return remove_rings(sino) if self.rings.value else sino

    def _find_axis(self):
        if self.projections is None:
            raise MissingDataError("load the CT phantom demo first.")
        from battlab.xrm import find_rotation_center

        self.offset.value = round(find_rotation_center(self._sinogram()), 1)  # re-runs the reconstruction

    def _reconstruct(self):
        if self.projections is None or self._busy:
            return
        from battlab.plot import xrm as P
        from battlab.xrm import reconstruct, reconstruction_error

        sino = self._sinogram()
        self._start_progress()
        img = reconstruct(sino, method=self.rmethod.value, filter_name=self.rfilter.value,
                          center_offset_px=self.offset.value, sart_iterations=2,
                          on_progress=lambda f: self._on_progress(f, f"{self.rmethod.value.upper()}"))
        err = reconstruction_error(img, self.truth["phantom"]) if self.truth and "phantom" in self.truth else np.nan
        self.recon = {"image": img, "sinogram": sino, "error": err}
        self.sino_plot.update(P.sinogram_image(sino, title="Sinogram (−ln T)"))
        self.recon_plot.update(P.map_image(img, title=f"{self.rmethod.value.upper()} slice (error {err:.3f})",
                                           cmap="gray"))
        if self.truth and "phantom" in self.truth:
            import xarray as xr

            ph = xr.DataArray(self.truth["phantom"], dims=("y", "x"), name="mu", attrs={"units": "1/pixel"})
            self.truth_plot.update(P.map_image(ph, title="Phantom (truth)", cmap="gray"))
        self.table.value = html_table(self._recon_table(), _RECON)
        self.clear_error()

    def _recon_table(self):
        if self.recon is None:
            return pd.DataFrame()
        return pd.DataFrame([{"method": self.rmethod.value, "center_offset_px": self.offset.value,
                              "n_angles": int(self.recon["sinogram"].sizes["angle"]),
                              "rings_removed": "yes" if self.rings.value else "no",
                              "relative_rmse": self.recon["error"]}])

    # --- calculators -----------------------------------------------------------------
    def _calculate(self):
        from battlab.xrm import effective_pixel_size_um, geometric_magnification, transmission

        try:
            mu = [float(v) for v in self.mu_text.value.split(",") if v.strip()]
            x = [float(v) for v in self.thick_text.value.split(",") if v.strip()]
        except ValueError:
            raise InvalidParameterError("type numbers separated by commas for μ and thickness.") from None
        t = transmission(mu, x)
        m = geometric_magnification(self.sod.value, self.oid.value)
        px = effective_pixel_size_um(self.pitch.value, m)
        self.calc_out.value = (f"<p>Transmission I/I₀ = <b>{t:.4g}</b> (absorbed {100 * (1 - t):.2f} %) · "
                               f"Magnification M = <b>{m:.3g}</b> · pixel at the sample = <b>{px:.4g} µm</b></p>")
        self.calculator = {"transmission": t, "magnification": m, "effective_pixel_size_um": px}
        if hasattr(self, "banner"):
            self.clear_error()

    # --- export ----------------------------------------------------------------------
    def _results(self):
        if self.mode == "Volume" and self.analysis is not None:
            return {k: v for k, v in self.analysis.tables.items() if len(v)}
        if self.mode == "Operando" and self.operando is not None:
            return {"operando_particles": self.operando}
        if self.mode == "XANES map" and self.xanes is not None:
            return self.xanes.tables
        if self.mode == "Reconstruction" and self.recon is not None:
            return {"reconstruction": self._recon_table()}
        raise MissingDataError("nothing to export yet: load a demo or a volume.")

    def _figures(self):
        panes = {"Volume": {"slice": self.slice_plot, "profile": self.profile_plot, "pore_sizes": self.psd_plot,
                            "tortuosity": self.tort_plot},
                 "Operando": {"slice": self.operando_slice, "particles": self.operando_plot},
                 "XANES map": {"map": self.map_plot, "pixel_fit": self.fit_plot, "soc_histogram": self.hist_plot},
                 "Reconstruction": {"sinogram": self.sino_plot, "slice": self.recon_plot}}.get(self.mode, {})
        return {k: p.object for k, p in panes.items() if p.object is not None}

    def exports_for_correlation(self) -> dict:
        """The current 2-D maps as (y, x) DataArrays with ``y_um``/``x_um`` and ``pixel_size_um``:
        XANES maps, or the current volume slice and its phase labels."""
        if self.mode == "XANES map" and self.xanes is not None:
            return dict(self.xanes.maps)
        if self.mode == "Volume" and self.analysis is not None and self.axis.value == "z":
            import xarray as xr

            k = int(self.slice.value)
            vox = self.volume.attrs["voxel_size_um"]
            out = {}
            for name, arr, units in (("grey", self.volume.isel(z=k).values, self.volume.attrs.get("units", "")),
                                     ("phase", self.analysis.labels.isel(z=k).values, "phase index")):
                da = xr.DataArray(arr, dims=("y", "x"), name=name,
                                  coords={"y_um": ("y", self.volume["y_um"].values),
                                          "x_um": ("x", self.volume["x_um"].values)},
                                  attrs={"units": units, "pixel_size_um": float(vox[1]),
                                         "z_um": float(k * vox[0])})
                out[name] = da
            return out
        return {}

    def _provenance(self):
        from battlab.provenance import Provenance

        if self.mode == "Volume" and self.analysis is not None:
            return Provenance.for_data("battlab.apps.XRMApp (battlab.xrm.analyse_volume)", self.volume,
                                       {**self.analysis.options, "source": self.source_label,
                                        "technique": self.technique.value})
        if self.mode == "XANES map" and self.xanes is not None:
            return Provenance.for_data("battlab.apps.XRMApp (battlab.xrm.analyse_xanes)", self.stack,
                                       {**self.xanes.options, "source": self.source_label})
        params = {"source": self.source_label}
        if self.mode == "Reconstruction":
            params.update(method=self.rmethod.value, filter=self.rfilter.value, center_offset_px=self.offset.value,
                          remove_rings=self.rings.value, angle_step=self.angle_step.value)
        return Provenance(analysis=f"battlab.apps.XRMApp ({html.escape(str(self.mode))})", parameters=params)
