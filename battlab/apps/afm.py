"""AFM app: topography (levelling, roughness, histogram, PSD), force curves and force-volume
maps, and EC-AFM series (SEI thickness and step height per frame)."""

from __future__ import annotations

from functools import partial

import ipywidgets as w
import numpy as np
import pandas as pd
import xarray as xr

from battlab.apps._base import BaseApp, PlotPane, html_table
from battlab.errors import InvalidParameterError, MissingDataError, UnsupportedFormatError

__all__ = ["AFMApp"]

_LEVELLING = [("none", "none"), ("plane", "plane"), ("polynomial", "polynomial"),
              ("line by line (median)", "lines-median"), ("line by line (linear)", "lines-poly")]
_ROUGH_COLUMNS = [("channel", "channel", "{}"), ("units", "unit", "{}"), ("Sa", "Sa", "{:.4g}"),
                  ("Sq", "Sq", "{:.4g}"), ("Ssk", "Ssk", "{:.3f}"), ("Sku", "Sku", "{:.3f}"), ("Sz", "Sz", "{:.4g}"),
                  ("Sdr", "Sdr (%)", "{:.3g}"), ("Ra", "Ra (lines)", "{:.4g}"), ("Rq", "Rq (lines)", "{:.4g}"),
                  ("scan_x_um", "scan x (µm)", "{:.3g}"), ("pixel_size_um", "pixel (µm)", "{:.3g}")]
_FORCE_COLUMNS = [("curve", "curve", "{:d}"), ("modulus_GPa", "E (GPa)", "{:.4g}"),
                  ("contact_point_nm", "contact (nm)", "{:.1f}"), ("indentation_nm", "indentation (nm)", "{:.2f}"),
                  ("adhesion_nN", "adhesion (nN)", "{:.3g}"), ("r_squared", "R²", "{:.4f}"),
                  ("fit_ok", "fit ok", "{}")]
_SERIES_COLUMNS = [("frame", "frame", "{:d}"), ("time_s", "time (s)", "{:.0f}"), ("potential_V", "E (V)", "{:.3f}"),
                   ("thickness_nm", "SEI (nm)", "{:.2f}"), ("step_height_nm", "step (nm)", "{:.3f}"),
                   ("swelling_pct", "swelling (%)", "{:.1f}"), ("volume_change_um3", "ΔV (µm³)", "{:.4f}"),
                   ("dy_px", "drift y (px)", "{:.2f}"), ("dx_px", "drift x (px)", "{:.2f}")]
_Z_UNITS = ["nm", "m", "µm", "pm", "V", "nA", "deg"]
_IMAGE_ACCEPT = ".gwy,.spm,.000,.001,.002,.003,.jpk,.sxm,.ibw,.txt,.csv,.asc,.tif,.tiff"


class AFMApp(BaseApp):
    """Atomic force microscopy: one app for images, force curves and EC-AFM series.

    Parameters
    ----------
    data : dict of DataArray, DataFrame or DataArray, optional
        Image channels (:func:`battlab.afm.read_afm`), force curves
        (:func:`battlab.afm.read_force_curves`) or a (time, y, x) EC-AFM series; the rough
        surface demo otherwise.
    """

    title = "Atomic force microscopy"
    intro = ("Height maps: levelling, ISO 25178 roughness, histogram and PSD; force curves: Hertz, Sneddon, "
             "DMT or JKR modulus, contact point and adhesion, force-volume maps; EC-AFM series: SEI thickness "
             "and step swelling frame by frame.")
    accept = ".gwy,.spm,.000,.001,.002,.003,.jpk,.jpk-force,.jpk-force-map,.ibw,.sxm,.txt,.csv,.asc,.tif,.tiff"
    data_kind = "afm"

    def __init__(self, data=None, **kw):
        self.mode = None
        self.channels = {}
        self.levelled = None
        self.tables = {}
        self.curves = None
        self.maps = None
        self.fit = None
        self.series = None
        self.registered = None
        self.truth = {}
        self._busy = False
        self.profile = None
        self.echem = None
        self._clicks = []
        self._overlay_sources = []
        self._series_sources = []
        self._scale_from_controls = False
        super().__init__(data, **kw)

    def demos(self):
        from battlab.datasets.afm import (
            make_conductive_map,
            make_ecafm_series,
            make_kpfm_map,
            make_force_curve,
            make_force_map,
            make_layered_curve,
            make_particle_surface,
            make_rough_surface,
        )

        return {"Rough surface: Sq = 3 nm on a tilted plane": partial(make_rough_surface, size_px=256),
                "Particles on a substrate, with a scan-line scar": make_particle_surface,
                "Force curve: Hertz, E = 1.5 GPa": make_force_curve,
                "Force-volume map: two phases (1.5 and 20 GPa)": make_force_map,
                "Layered SEI: 30 GPa inner layer (3 nm) over 2 GPa": make_layered_curve,
                "EC-AFM: SEI growth and graphite step swelling": make_ecafm_series,
                "C-AFM: current map of conductive grains in an SEI-like film": make_conductive_map,
                "KPFM: surface potential beside an Au reference pad": make_kpfm_map}

    # --- controls --------------------------------------------------------------------
    def _build_controls(self):
        style = {"description_width": "initial"}
        self.channel = w.Dropdown(options=[], description="Channel", style=style, layout=w.Layout(width="300px"))
        self.levelling = w.Dropdown(options=_LEVELLING, value="plane", description="Levelling", style=style,
                                    layout=w.Layout(width="280px"))
        self.order = w.BoundedIntText(value=2, min=1, max=6, description="order", style=style,
                                      layout=w.Layout(width="120px"))
        self.mask_features = w.Checkbox(value=False, description="mask features in the fit", indent=False)
        self.scars = w.Checkbox(value=False, description="remove scars", indent=False)
        self.pixel_size = w.BoundedFloatText(value=0.01, min=1e-6, max=1e4, step=0.001,
                                             description="pixel size for text/TIFF maps (µm)", style=style,
                                             layout=w.Layout(width="320px"))
        self.z_unit = w.Dropdown(options=_Z_UNITS, value="nm", description="value unit", style=style,
                                 layout=w.Layout(width="180px"))
        self.model = w.Dropdown(options=[("Hertz (sphere)", "hertz"), ("Sneddon (cone)", "sneddon"),
                                         ("DMT", "dmt"), ("JKR", "jkr")], value="hertz", description="Model",
                                style=style, layout=w.Layout(width="220px"))
        self.tip_radius = w.BoundedFloatText(value=20.0, min=0.1, max=1e5, description="tip radius (nm)",
                                             style=style, layout=w.Layout(width="200px"))
        self.half_angle = w.BoundedFloatText(value=20.0, min=1.0, max=89.0, description="cone half-angle (°)",
                                             style=style, layout=w.Layout(width="210px"))
        self.poisson = w.BoundedFloatText(value=0.3, min=0.0, max=0.5, step=0.01, description="Poisson ν",
                                          style=style, layout=w.Layout(width="160px"))
        self.map_variable = w.Dropdown(options=[("modulus", "modulus_GPa"), ("adhesion", "adhesion_nN"),
                                                ("contact point", "contact_point_nm"), ("R²", "r_squared")],
                                       value="modulus_GPa", description="Map", style=style,
                                       layout=w.Layout(width="220px"))
        self.curve = w.IntSlider(value=0, min=0, max=0, description="Curve", continuous_update=False, style=style,
                                 layout=w.Layout(width="420px"))
        self.frame = w.IntSlider(value=0, min=0, max=0, description="Frame", continuous_update=False, style=style,
                                 layout=w.Layout(width="420px"))
        self.x_axis = w.ToggleButtons(options=[("vs time", "time_s"), ("vs potential", "potential_V")],
                                      value="time_s", style=style)
        self.frame_label = w.HTML()
        self.ref_wf = w.BoundedFloatText(value=5.1, min=0.0, max=10.0, step=0.01,
                                         description="reference work function (eV)", style=style,
                                         layout=w.Layout(width="300px"))
        self.ref_cpd = w.BoundedFloatText(value=0.0, min=-10.0, max=10.0, step=0.001,
                                          description="reference CPD (V)", style=style, layout=w.Layout(width="220px"))
        self.bias_on = w.ToggleButtons(options=[("bias on sample", "sample"), ("bias on tip", "tip")],
                                       value="sample", style=style)
        # Profile line: two points in µm, typed or clicked on the map.
        um = dict(min=-1e6, max=1e6, step=0.01, style=style, layout=w.Layout(width="150px"))
        self.line_x0 = w.BoundedFloatText(value=0.0, description="line x0 (µm)", **um)
        self.line_y0 = w.BoundedFloatText(value=0.0, description="y0", **um)
        self.line_x1 = w.BoundedFloatText(value=0.0, description="x1", **um)
        self.line_y1 = w.BoundedFloatText(value=0.0, description="y1", **um)
        self.line_width = w.BoundedFloatText(value=0.0, min=0.0, max=1e4, step=0.01, description="width (µm)",
                                             style=style, layout=w.Layout(width="150px"))
        self.click_target = w.ToggleButtons(options=[("clicks set the profile line", "line"),
                                                     ("clicks set the reference rectangle", "region")],
                                            value="line", style=style)
        self.click_hint = w.HTML("<small>Click two points on the map (start, end), or type them.</small>")
        # Reference region (KPFM reference, bare reference of an EC-AFM series): a rectangle in µm.
        self.ref_x0 = w.BoundedFloatText(value=0.0, description="reference x from (µm)", **{**um, "layout": w.Layout(
            width="210px")})
        self.ref_x1 = w.BoundedFloatText(value=0.0, description="to", **um)
        self.ref_y0 = w.BoundedFloatText(value=0.0, description="y from", **um)
        self.ref_y1 = w.BoundedFloatText(value=0.0, description="to", **um)
        self.ref_mode = w.Dropdown(options=[("typed reference CPD", "value"), ("rectangle (µm)", "rect"),
                                            ("height threshold on another channel", "threshold")],
                                   value="value", description="KPFM reference", style=style,
                                   layout=w.Layout(width="380px"))
        self.thr_channel = w.Dropdown(options=[], description="threshold channel", style=style,
                                      layout=w.Layout(width="260px"))
        self.thr_value = w.FloatText(value=0.0, description="threshold", style=style, layout=w.Layout(width="170px"))
        self.thr_side = w.ToggleButtons(options=[("above", "above"), ("below", "below")], value="above", style=style)
        # EC-AFM series from files.
        self.series_upload = self._upload_button(accept=_IMAGE_ACCEPT, multiple=True, description="Series frames")
        self.series_upload.observe(self._on_series_upload, "value")
        self.frame_interval = w.BoundedFloatText(value=60.0, min=1e-3, max=1e7, description="s per frame",
                                                 style=style, layout=w.Layout(width="170px"))
        self.potentials_text = w.Textarea(placeholder="one potential per frame (V), or lines 'time_s, V'",
                                          layout=w.Layout(width="300px", height="70px"))
        self.potentials_button = w.Button(description="Use these potentials", icon="bolt")
        self.potentials_button.on_click(lambda _: self._guard("reading the potentials", self._apply_typed_potentials))
        self.echem_upload = self._upload_button(accept=".mpr,.mpt,.csv,.txt,.res,.xlsx,.ndax,.nda",
                                         description="Cycling file or potential table")
        self._observe_upload(self.echem_upload, self._load_echem_bytes, default_name="cycling")
        self.clock_offset = w.FloatText(value=0.0, description="cycler time − frame time (s)", style=style,
                                        layout=w.Layout(width="280px"))
        self.series_ref_mode = w.Dropdown(options=[("demo regions / darkest 20 % as bare", "auto"),
                                                   ("rectangle (µm) is the bare reference", "rect")],
                                          value="auto", description="Regions", style=style,
                                          layout=w.Layout(width="380px"))

        topo = lambda _: self._guard("levelling the map", self._analyse_topography)
        for widget in (self.channel, self.levelling, self.order, self.mask_features, self.scars):
            widget.observe(topo, "value")
        fits = lambda _: self._guard("fitting the force curves", self._analyse_force)
        for widget in (self.model, self.tip_radius, self.half_angle, self.poisson):
            widget.observe(fits, "value")
        self.map_variable.observe(lambda _: self._guard("drawing the map", self._draw_force), "value")
        self.curve.observe(lambda _: self._guard("showing the curve", self._show_curve), "value")
        self.frame.observe(lambda _: self._guard("showing the frame", self._draw_series), "value")
        self.x_axis.observe(lambda _: self._guard("plotting the series", self._draw_series), "value")
        for widget in (self.line_x0, self.line_y0, self.line_x1, self.line_y1, self.line_width):
            widget.observe(lambda _: self._guard("drawing the profile", self._on_line_change), "value")
        self.click_target.observe(lambda _: self._clicks.clear(), "value")
        kpfm = lambda _: self._guard("computing the work function", self._on_region_change)
        for widget in (self.ref_wf, self.ref_cpd, self.bias_on, self.ref_mode, self.ref_x0, self.ref_x1, self.ref_y0,
                       self.ref_y1, self.thr_channel, self.thr_value, self.thr_side, self.series_ref_mode):
            widget.observe(kpfm, "value")
        for widget in (self.frame_interval, self.clock_offset):
            widget.observe(lambda _: self._guard("updating the frame times", self._update_frame_times), "value")
        self.topo_box = w.VBox([w.HBox([self.channel, self.levelling, self.order]),
                                w.HBox([self.mask_features, self.scars]),
                                self._kpfm_box(),
                                w.HBox([self.pixel_size, self.z_unit])])
        self.click_box = w.VBox([w.HBox([self.line_x0, self.line_y0, self.line_x1, self.line_y1, self.line_width]),
                                 w.HBox([self.click_target, self.click_hint])])
        self.region_box = w.HBox([self.ref_x0, self.ref_x1, self.ref_y0, self.ref_y1])
        self.force_box = w.VBox([w.HBox([self.model, self.tip_radius, self.half_angle, self.poisson]),
                                 w.HBox([self.curve, self.map_variable])])
        self.series_box = w.VBox([w.HBox([self.frame, self.frame_label]), self.x_axis,
                                  w.HBox([self.frame_interval, self.series_ref_mode]),
                                  w.HBox([self.potentials_text, self.potentials_button]),
                                  w.HBox([self.echem_upload, self.clock_offset])])
        series_source = w.HBox([self.series_upload, w.HTML(
            "<small>EC-AFM series: choose all frames at once (several scans of the same area, in name order) "
            "or one multi-page TIFF</small>")])
        return [series_source, self.topo_box, self.force_box, self.series_box, self.click_box, self.region_box]

    def _kpfm_box(self):
        self.threshold_box = w.HBox([self.thr_channel, self.thr_value, self.thr_side])
        self.kpfm_box = w.VBox([w.HBox([self.ref_mode, self.ref_wf, self.ref_cpd]), self.bias_on,
                                self.threshold_box])
        return self.kpfm_box

    def _is_kpfm(self):
        img = self.channels.get(self.channel.value) if self.channels else None
        return img is not None and img.attrs.get("units") == "V" and "potential" in self.channel.value.lower()

    def _plot_area(self):
        self.map_plot = PlotPane(min_height_px=360)
        self.detail_plot = PlotPane(min_height_px=300)
        self.profile_plot = PlotPane(min_height_px=240)
        return w.VBox([self.map_plot.widget, self.detail_plot.widget, self.profile_plot.widget])

    def _show_boxes(self):
        self.topo_box.layout.display = "" if self.mode == "image" else "none"
        self.force_box.layout.display = "" if self.mode == "force" else "none"
        self.series_box.layout.display = "" if self.mode == "series" else "none"
        self.profile_plot.widget.layout.display = "" if self.mode == "image" else "none"
        kpfm = self.mode == "image" and self._is_kpfm()
        self.kpfm_box.layout.display = "" if kpfm else "none"
        self.map_variable.layout.display = "" if self.maps is not None else "none"
        self.ref_cpd.layout.display = "" if self.ref_mode.value == "value" else "none"
        self.threshold_box.layout.display = "" if self.ref_mode.value == "threshold" else "none"
        rect = ((kpfm and self.ref_mode.value == "rect")
                or (self.mode == "series" and self.series_ref_mode.value == "rect"))
        self.region_box.layout.display = "" if rect else "none"
        self.click_box.layout.display = "" if self.mode in ("image", "series") else "none"
        self.click_target.layout.display = "" if kpfm or self.mode == "series" else "none"
        self.click_hint.value = ("<small>Series: the line (across a step) gives step height and swelling per frame; "
                                 "the rectangle is the bare reference. Click two points, or type them.</small>"
                                 if self.mode == "series" else "<small>Click two points on the map (start, end), or "
                                 "type them.</small>")

    # --- data --------------------------------------------------------------------------
    def _load_bytes(self, data: bytes, name: str):
        from battlab.afm.io import is_force_file, read_afm, read_force_curves

        self.set_status(f"Reading {name}…")
        if is_force_file(name, data):
            loaded = read_force_curves(data, name=name)
        else:
            loaded = self._read_scaled(read_afm, data, name)
        self._accept_data(loaded, name)
        if self._scale_from_controls:
            # The file has no scale of its own: say where the one in use came from.
            self.set_status(f"{name}: lateral scale {self.pixel_size.value:g} µm/px and "
                            f"values in {self.z_unit.value} taken from the controls above; set them and upload "
                            "again if they are wrong.")

    def _read_scaled(self, reader, data, name):
        """Read with the file's own scale; the controls' pixel size and unit only when it has none."""
        self._scale_from_controls = False
        try:
            return reader(data, name=name)
        except MissingDataError as exc:
            if "pixel_size_um" not in str(exc) and "z_unit" not in str(exc):
                raise
        self._scale_from_controls = True
        return reader(data, name=name, pixel_size_um=float(self.pixel_size.value), z_unit=self.z_unit.value)

    # --- EC-AFM series from files --------------------------------------------------------
    def _on_series_upload(self, change):
        files = change["new"]
        if not files:
            return
        try:
            self._guard("reading the series frames", self._load_series_files, list(files))
        finally:
            self.series_upload.value = ()  # the same files chosen again are a new upload

    def _load_series_files(self, files):
        import re

        from battlab.afm.ecafm import stack_frames
        from battlab.afm.io import read_afm_frames

        received = [r for r in (self._receive_upload(item, default_name="frame") for item in files) if r is not None]
        if not received:
            return
        natural = lambda item: [int(t) if t.isdigit() else t.lower() for t in re.split(r"(\d+)", item[0])]
        frames, sources = [], []
        for name, data in sorted(received, key=natural):
            self.set_status(f"Reading {name}…")
            got = self._read_scaled(read_afm_frames, data, name)
            frames += got
            import hashlib

            sources.append({"source_name": name, "sha256": hashlib.sha256(data).hexdigest(), "frames": len(got)})
        if len(frames) < 2:
            raise MissingDataError("an EC-AFM series needs at least 2 frames: choose all the frame files at once, "
                                   "or upload a multi-page TIFF.")
        n = len(frames)
        series = stack_frames(frames, time_s=np.arange(n) * float(self.frame_interval.value))
        series.attrs["battlab"] = {"source_name": ", ".join(s_["source_name"] for s_ in sources),
                                   "sha256": sources[0]["sha256"], "format": "afm-series", "files": sources}
        series.attrs["frame_sources"] = [f.attrs.get("frame_source", "") for f in frames]
        self.echem = None
        label = sources[0]["source_name"] if len(sources) == 1 else f"{len(sources)} files"
        self._accept_data(series, label)
        self.set_status(f"EC-AFM series of {n} frames from {label}; frames {self.frame_interval.value:g} s apart"
                        + (" (lateral scale from the controls)" if self._scale_from_controls else "")
                        + ". Give the potentials (typed, or a cycling file) and the bare reference region.")

    def _load_echem_bytes(self, data, name):
        import battlab

        if self.mode != "series":
            raise MissingDataError("load an EC-AFM series first (Series frames), then its cycling file.")
        try:
            echem = battlab.load(data, name=name, max_bytes=int(self.upload_limit_mb * 1e6) + 1, kind="echem")
        except MissingDataError:
            # Not a cycling record (no current): perhaps a plain table of potentials per frame or time.
            table = _potential_table(data)
            if table is None:
                raise
            self.echem = None
            self._echem_name = name
            self._apply_potentials(table=table)
            return
        self.echem = echem
        self._echem_name = name
        self._apply_potentials(echem=self.echem)

    def _apply_typed_potentials(self):
        if self.mode != "series":
            raise MissingDataError("load an EC-AFM series first.")
        rows = []
        for k, line in enumerate(self.potentials_text.value.strip().splitlines(), start=1):
            if not line.strip():
                continue
            try:
                rows.append([float(v) for v in line.replace(";", ",").replace("\t", ",").split(",") if v.strip()])
            except ValueError:
                raise InvalidParameterError(f"potential line {k} is not numbers: {line.strip()[:40]!r}.") from None
        widths = {len(r) for r in rows}
        n = self.series.sizes["time"]
        self.echem = None
        if len(rows) == 1 and len(rows[0]) == n:  # one comma-separated line, a value per frame
            self._apply_potentials(potential_V=rows[0])
        elif widths == {1}:
            self._apply_potentials(potential_V=[r[0] for r in rows])
        elif widths == {2}:
            self._apply_potentials(table=pd.DataFrame(rows, columns=["time_s", "potential_V"]))
        else:
            raise InvalidParameterError(f"type {n} potentials (V), one per frame (a line each or comma-separated), "
                                        "or 'time_s, V' per line.")

    def _apply_potentials(self, **source):
        from battlab.afm.ecafm import frame_potentials

        if "echem" in source:
            source["clock_offset_s"] = float(self.clock_offset.value)
        self.series = frame_potentials(self.series, **source)
        self.x_axis.layout.display = ""
        self._analyse_series()
        self.set_status(f"Potentials per frame: {self.series.attrs['potential_source']}.")

    def _update_frame_times(self):
        if self.mode != "series" or self.series is None or self.source_label.startswith("demo"):
            return
        n = self.series.sizes["time"]
        self.series = self.series.assign_coords(time_s=("time", np.arange(n) * float(self.frame_interval.value)))
        if self.echem is not None:
            self._apply_potentials(echem=self.echem)
        else:
            self._analyse_series()

    def _server_files(self):
        exts = tuple(e for e in self.accept.split(","))
        found = []
        for root in self.data_dirs:
            if not root.is_dir():
                continue
            for path in sorted(root.rglob("*")):
                if path.is_file() and path.name.lower().endswith(exts):
                    found.append((str(path.relative_to(root)), str(path)))
        return found

    def _accepts_name(self, name: str) -> bool:
        return name.lower().endswith(tuple(self.accept.split(",")))

    def _load_server_file(self, path):
        resolved = self._confined_path(path)
        if resolved is not None:
            self._guard(f"reading {resolved.name}", self._load_bytes, resolved.read_bytes(), resolved.name)

    def _set_data(self, data, label, truth=None):
        self.truth = truth or {}
        self.maps = self.curves = self.series = self.registered = self.levelled = None
        self.channels = {}
        self.tables = {}
        self._clicks = []
        self._busy = True
        try:
            if isinstance(data, dict) and data and all(isinstance(v, xr.DataArray) for v in data.values()):
                self.mode = "image"
                self.channels = data
                from battlab.afm._cli import _height_channel

                self.channel.options = list(data)
                self.channel.value = self.truth.get("kpfm_channel") or _height_channel(data)
                self.thr_channel.options = list(data)
                self.thr_channel.value = _height_channel(data)
                image = self.channels[self.channel.value]
                sx, sy = image.attrs["scan_size_um"]
                self._clicks = []
                # A horizontal line across the middle until the user draws one.
                self.line_x0.value, self.line_y0.value = round(0.1 * sx, 6), round(0.5 * sy, 6)
                self.line_x1.value, self.line_y1.value = round(0.9 * sx, 6), round(0.5 * sy, 6)
                self.line_width.value = 0.0
                self.line_width.max = round(float(np.hypot(sx, sy)), 6)  # line_profile refuses wider
                rect = self.truth.get("reference_rectangle_um")
                if rect is not None and self._is_kpfm():
                    (self.ref_x0.value, self.ref_x1.value), (self.ref_y0.value, self.ref_y1.value) = rect
                    self.ref_mode.value = "rect"
                    self.ref_wf.value = float(self.truth.get("reference_work_function_eV", self.ref_wf.value))
                    if "pad_height_nm" in self.truth:
                        self.thr_value.value = 0.5 * float(self.truth["pad_height_nm"])
                else:
                    self.ref_x0.value, self.ref_x1.value, self.ref_y0.value, self.ref_y1.value = 0, 0.25 * sx, 0, sy
            elif isinstance(data, pd.DataFrame) and "force_nN" in data:
                self.mode = "force"
                self.curves = data
                n = int(data["curve"].nunique())
                self.curve.max = max(n - 1, 0)
                self.curve.value = 0
                if "tip_radius_nm" in self.truth:
                    self.tip_radius.value = float(self.truth["tip_radius_nm"])
                if "poisson" in self.truth:
                    self.poisson.value = float(self.truth["poisson"])
            elif isinstance(data, xr.DataArray) and data.dims == ("time", "y", "x"):
                self.mode = "series"
                self.series = data
                self.frame.max = data.sizes["time"] - 1
                self.frame.value = 0
                self.frame_interval.value = float(np.median(np.diff(data["time_s"].values))) if (
                    "time_s" in data.coords and data.sizes["time"] > 1 and np.median(np.diff(data["time_s"].values)) > 0
                ) else self.frame_interval.value
                # No step line until one is drawn across a step.
                self.line_x0.value = self.line_y0.value = self.line_x1.value = self.line_y1.value = 0.0
                sx, sy = data.attrs.get("scan_size_um", [1.0, 1.0])
                self.line_width.max = round(float(np.hypot(sx, sy)), 6)
                if "film_mask" not in self.truth and self.series_ref_mode.value == "auto":
                    self.ref_x0.value, self.ref_x1.value, self.ref_y0.value, self.ref_y1.value = 0, 0.2 * sx, 0, sy
                has_v = "potential_V" in data.coords
                self.x_axis.layout.display = "" if has_v else "none"
                if not has_v:
                    self.x_axis.value = "time_s"
            else:
                raise UnsupportedFormatError("the AFM app takes image channels, force curves or a (time, y, x) "
                                             "EC-AFM series.")
        finally:
            self._busy = False
        self._show_boxes()
        if self.mode == "image":
            self._analyse_topography()
        elif self.mode == "force":
            self._analyse_force()
        else:
            self._analyse_series()

    def describe_data(self):
        if self.mode == "image":
            img = self.channels[self.channel.value]
            sx, sy = img.attrs.get("scan_size_um", [np.nan, np.nan])
            return f"{len(self.channels)} channel(s), {img.sizes['x']}×{img.sizes['y']} px, {sx:.3g}×{sy:.3g} µm"
        if self.mode == "force":
            grid = " (force-volume map)" if "grid_x" in self.curves else ""
            return f"{self.curves['curve'].nunique()} force curve(s){grid}"
        if self.mode == "series":
            return f"EC-AFM series of {self.series.sizes['time']} frames"
        return ""

    # --- topography --------------------------------------------------------------------
    def _analyse_topography(self):
        if self._busy or self.mode != "image":
            return
        from battlab.afm._cli import analyse_image

        self.order.layout.display = "" if self.levelling.value == "polynomial" else "none"
        tables, levelled, main = analyse_image(self.channels, channel=self.channel.value,
                                               levelling=self.levelling.value, order=int(self.order.value),
                                               mask_features=self.mask_features.value, scars=self.scars.value)
        self.tables = tables
        self.levelled = levelled[main]
        self._draw_topography()

    def _draw_topography(self):
        from battlab.plot import afm as P

        raw = self.channels[self.channel.value]
        units = self.levelled.attrs.get("units", "")
        if units == "nA":
            # Currents span decades: log colour scale and current statistics, no roughness.
            from battlab.afm.electrical import current_statistics

            self._render_map(P.afm_image(raw, title="C-AFM current (log scale)", cmap="viridis", log=True))
            stats = current_statistics(raw)
            self.tables["current"] = pd.DataFrame([stats])
            note = (f"<p><small>Conductive fraction {stats['conductive_fraction']:.1%} above "
                    f"{stats['threshold_nA']:.3g} nA; geometric mean {stats['geometric_mean_nA']:.3g} nA, "
                    f"median {stats['median_nA']:.3g} nA.</small></p>")
        elif self._is_kpfm():
            # KPFM: the contact potential becomes a work function calibrated on the reference.
            from battlab.afm.electrical import work_function_map

            mask = self._reference_mask(raw)
            wf = work_function_map(raw, reference_mask=mask,
                                   reference_cpd_V=float(self.ref_cpd.value) if mask is None else None,
                                   reference_work_function_eV=float(self.ref_wf.value), bias_on=self.bias_on.value)
            self.work_function = wf
            self._render_map(P.afm_image(wf, title="Work function (eV)", cmap="RdBu_r"))
            values = wf.values[np.isfinite(wf.values)]
            outside = wf.values[~mask & np.isfinite(wf.values)] if mask is not None else values
            v_ref = wf.attrs["reference_cpd_V"]
            where = {"value": "typed", "rect": "rectangle", "threshold": "height threshold"}[self.ref_mode.value]
            self.tables["work_function"] = pd.DataFrame([{
                "mean_eV": float(values.mean()), "median_eV": float(np.median(values)), "std_eV": float(values.std()),
                "p5_eV": float(np.percentile(values, 5)), "p95_eV": float(np.percentile(values, 95)),
                "outside_reference_mean_eV": float(outside.mean()),
                "difference_to_reference_eV": float(outside.mean()) - float(self.ref_wf.value),
                "reference_cpd_V": v_ref, "reference_region": where,
                "reference_pixels": wf.attrs.get("reference_pixels"),
                "reference_work_function_eV": float(self.ref_wf.value), "bias_on": self.bias_on.value,
                "sign_convention": wf.attrs["sign_convention"]}])
            note = (f"<p><small>Reference ({where}) CPD {v_ref:+.4f} V = {float(self.ref_wf.value):.2f} eV; outside it "
                    f"the work function is {float(outside.mean()):.3f} eV on average, "
                    f"Δφ = {float(outside.mean()) - float(self.ref_wf.value):+.3f} eV. Sign convention (bias on the "
                    f"{self.bias_on.value}): {wf.attrs['sign_convention']}, so a lower CPD means a "
                    f"{'higher' if self.bias_on.value == 'sample' else 'lower'} work function.</small></p>")
        else:
            self._render_map(P.before_after(raw, self.levelled))
            g = self.tables["grain_summary"].iloc[0]
            note = (f"<p><small>{int(g['grains'])} grain(s) above {g['threshold']:.3g} {units} (Otsu): "
                    f"{g['density_per_um2']:.3g} per µm², {g['coverage_pct']:.1f} % coverage, equivalent diameter "
                    f"{g['mean_diameter_nm']:.3g} ± {g['std_diameter_nm']:.3g} nm.</small></p>")
        self.detail_plot.update((P.height_histogram(self.tables["histogram"], units=units)
                                 + P.psd(self.tables["psd"], units=units)).cols(2))
        self._note = note
        self._draw_profile()

    def _reference_mask(self, image):
        """The KPFM reference region chosen in the controls (None for a typed CPD)."""
        from battlab.afm.topography import region_mask

        if self.ref_mode.value == "rect":
            return region_mask(image, x_um=(self.ref_x0.value, self.ref_x1.value),
                               y_um=(self.ref_y0.value, self.ref_y1.value))
        if self.ref_mode.value == "threshold":
            other = self.channels.get(self.thr_channel.value)
            if other is None or other.shape != image.shape:
                raise InvalidParameterError("the threshold channel must be a map of the same size as the potential.")
            side = {self.thr_side.value: float(self.thr_value.value)}
            return region_mask(other, **side)
        return None

    def _on_line_change(self):
        if self.mode == "series" and not self._busy:
            self._update_overlays()
            self._analyse_series()
        else:
            self._draw_profile()

    def _on_region_change(self):
        self._show_boxes()
        if self._busy:
            return
        if self.mode == "image" and self.levelled is not None:
            self._draw_topography()
        elif self.mode == "series" and self.series is not None:
            self._analyse_series()

    def _draw_profile(self):
        if self._busy or self.mode != "image" or self.levelled is None:
            return
        from battlab.afm._cli import analyse_profile
        from battlab.plot import afm as P

        # Lengths are levelled; potentials, currents and phases are profiled as measured.
        length_like = self.levelled.attrs.get("units") in ("nm", "µm")
        image = self.levelled if length_like else self.channels[self.channel.value]
        start = (float(self.line_x0.value), float(self.line_y0.value))
        end = (float(self.line_x1.value), float(self.line_y1.value))
        self._update_overlays()
        tables = analyse_profile(image, (*start, *end), width_um=float(self.line_width.value))
        profile = tables["profile"]
        rough, step = profile.attrs["roughness"], profile.attrs["step_fit"]
        self.profile = profile
        self.tables.update(tables)
        self.profile_plot.update(P.line_profile(profile, step=step, roughness=rough))
        unit = rough["units"]
        line_note = (f"<p><small>Profile ({start[0]:.3g}, {start[1]:.3g}) → ({end[0]:.3g}, {end[1]:.3g}) µm, "
                     f"{profile.attrs['length_um']:.4g} µm long, {profile.attrs['width_um']:.3g} µm wide: "
                     f"Ra {rough['Ra']:.4g} {unit}, Rq {rough['Rq']:.4g} {unit} (ISO 4287, mean line removed)"
                     + (f"; step {step['step_height']:.4g} {unit} at {step['edge_um']:.3g} µm (two terraces, "
                        "common slope)" if step else "") + ".</small></p>")
        self.table.value = html_table(self.tables["roughness"], _ROUGH_COLUMNS) + getattr(self, "_note", "") + line_note
        # Typing the four coordinates passes through half-edited lines; once one draws, their message is stale.
        self.clear_error()

    # --- map clicks (profile line, reference rectangle) -----------------------------------
    def _render_map(self, obj):
        """Show a map and make clicks on it reach Python (a Bokeh Tap event over the widget's comm).

        A map that differs from the one on show only in its values is patched in place, and
        keeps the overlays and click handler added when it was first drawn.
        """
        self.map_plot.update(obj, on_draw=self._add_map_overlays)
        self._update_overlays()

    def _add_map_overlays(self, model):
        from bokeh.events import Tap
        from bokeh.models import ColumnDataSource
        from bokeh.plotting import figure

        self._overlay_sources = []
        for fig in model.select({"type": figure}):
            line = ColumnDataSource({"x": [], "y": []})
            rect = ColumnDataSource({"x": [], "y": []})
            fig.line("x", "y", source=line, color="#00e5ff", line_width=2)
            fig.scatter("x", "y", source=line, color="#00e5ff", size=7)
            fig.patch("x", "y", source=rect, fill_alpha=0.0, line_color="#ff1493", line_width=2, line_dash="dashed")
            self._overlay_sources.append((line, rect))
            fig.on_event(Tap, lambda event: self._guard("using the click", self._on_map_click, event.x, event.y))

    def _update_overlays(self):
        show_line = self.mode == "image" or (self.mode == "series" and self._line_length_um() > 0)
        show_rect = self.region_box.layout.display != "none"
        line = {"x": [self.line_x0.value, self.line_x1.value], "y": [self.line_y0.value, self.line_y1.value]} \
            if show_line else {"x": [], "y": []}
        x0, x1, y0, y1 = self.ref_x0.value, self.ref_x1.value, self.ref_y0.value, self.ref_y1.value
        rect = {"x": [x0, x1, x1, x0], "y": [y0, y0, y1, y1]} if show_rect else {"x": [], "y": []}
        for line_src, rect_src in self._overlay_sources:
            line_src.data = line
            rect_src.data = rect

    def _on_map_click(self, x_um, y_um):
        if x_um is None or y_um is None or self.mode not in ("image", "series"):
            return
        self._clicks.append((float(x_um), float(y_um)))
        target = self.click_target.value
        if len(self._clicks) < 2:
            self.set_status(f"First point ({x_um:.3g}, {y_um:.3g}) µm; click the second.")
            return
        (xa, ya), (xb, yb) = self._clicks[:2]
        self._clicks = []
        self._busy = True
        try:
            if target == "line":
                self.line_x0.value, self.line_y0.value, self.line_x1.value, self.line_y1.value = xa, ya, xb, yb
            else:
                self.ref_x0.value, self.ref_x1.value = sorted((xa, xb))
                self.ref_y0.value, self.ref_y1.value = sorted((ya, yb))
                if self.mode == "image":
                    self.ref_mode.value = "rect"
                else:
                    self.series_ref_mode.value = "rect"
        finally:
            self._busy = False
        self._show_boxes()
        if target == "line" and self.mode == "image":
            self._draw_profile()
        else:
            self._on_region_change()

    # --- force -------------------------------------------------------------------------
    def _options(self):
        return {"tip_radius_nm": float(self.tip_radius.value), "half_angle_deg": float(self.half_angle.value),
                "poisson": float(self.poisson.value)}

    def _analyse_force(self):
        if self._busy or self.mode != "force":
            return
        from battlab.afm._cli import analyse_force
        from battlab.afm.force import fit_force_map

        self.half_angle.layout.display = "" if self.model.value == "sneddon" else "none"
        self.tables = {"force_fits": analyse_force(self.curves, model=self.model.value, **self._options())}
        self.maps = fit_force_map(self.curves, model=self.model.value, fits=self.tables["force_fits"],
                                  **self._options()) if "grid_x" in self.curves else None
        self._show_boxes()
        self._draw_force()

    def _draw_force(self):
        self._show_curve()

    def _show_curve(self):
        if self._busy or self.mode != "force":
            return
        from battlab.afm.force import fit_force_curve
        from battlab.plot import afm as P

        k = int(self.curve.value)
        one = self.curves[self.curves["curve"] == k]
        self.fit = fit_force_curve(one, model=self.model.value, **self._options())
        self.detail_plot.update(P.force_curve(one, fit=self.fit))
        table = self.tables["force_fits"]
        shown = table if len(table) <= 12 else pd.concat([table[table["curve"] == k], table.describe().loc[
            ["mean", "std"]].assign(curve=-1)]).reset_index(drop=True)
        extra = ""
        if len(table) > 1:
            ok = table["fit_ok"].fillna(False).astype(bool) if "fit_ok" in table else np.zeros(len(table), bool)
            extra = (f"<p><small>{len(table)} curves: median E = {table['modulus_GPa'].median():.4g} GPa, "
                     f"{int(ok.sum())} with R² ≥ 0.9; the table shows the selected curve (and mean/std in the "
                     "row marked −1).</small></p>")
        self.table.value = html_table(shown if len(table) > 12 else table, _FORCE_COLUMNS) + extra
        if self.maps is not None:
            row = table.set_index("curve").loc[k]
            self.map_plot.update(P.force_map(self.maps, self.map_variable.value,
                                             selected=(row["grid_x"], row["grid_y"])))
        else:
            # One curve: the apparent modulus slice by slice in depth (layered SEI).
            from battlab.afm.force import modulus_vs_depth
            from battlab.errors import BattlabError

            step = max(self.fit["indentation_nm"] / 10, 0.1)
            try:
                prof = modulus_vs_depth(one, tip_radius_nm=self._options()["tip_radius_nm"],
                                        poisson=self._options()["poisson"], step_nm=step,
                                        contact_window_nm=min(2.0, 2 * step))
            except BattlabError:
                prof = None
            if prof is not None:
                self.tables["modulus_vs_depth"] = prof
            self.map_plot.update(P.modulus_depth(prof))

    # --- EC-AFM series -------------------------------------------------------------------
    def _analyse_series(self):
        from battlab.afm.ecafm import register_series, step_height_series, thickness_series

        if self._busy:
            return
        # Registration depends on the frames only: new potentials, times or regions reuse it.
        cache = getattr(self, "_registration_cache", None)
        if cache is not None and cache[0] is self.series.values:
            registered, drift = cache[1], cache[2]
        else:
            registered, drift = register_series(self.series)
            self._registration_cache = (self.series.values, registered, drift)
        registered = registered.assign_coords({c: ("time", self.series[c].values) for c in ("time_s", "potential_V")
                                               if c in self.series.coords})
        if "potential_V" not in self.series.coords and "potential_V" in registered.coords:
            registered = registered.drop_vars("potential_V")
        self.registered = registered
        table = drift[["frame", "dy_px", "dx_px", "confidence"]].copy()
        film, ref = self._series_regions(registered)
        table = table.merge(thickness_series(registered, film=film, reference=ref), on="frame")
        upper, lower = self.truth.get("upper_mask"), self.truth.get("lower_mask")
        drop = [c for c in ("time_s", "potential_V") if c in registered.coords]
        if upper is not None and lower is not None:
            table = table.merge(step_height_series(registered, upper=upper, lower=lower).drop(columns=drop),
                                on="frame")
        elif self._line_length_um() > 0:
            # Uploaded series: the step (and its swelling) along the line drawn across it.
            from battlab.afm.ecafm import line_step_series

            start, end = (self.line_x0.value, self.line_y0.value), (self.line_x1.value, self.line_y1.value)
            steps = line_step_series(registered, start, end, width_um=float(self.line_width.value))
            table = table.merge(steps.drop(columns=drop + ["edge_um"]), on="frame")
        from battlab.afm.ecafm import volume_change_series

        volume = volume_change_series(registered, region=film, reference=ref)
        table = table.merge(volume[["frame", "volume_change_um3"]], on="frame")
        self.tables = {"ecafm_series": table}
        self._regions = (film, ref)
        self._draw_series()
        self.clear_error()  # a message left by a half-typed line or rectangle no longer applies

    def _line_length_um(self):
        return float(np.hypot(self.line_x1.value - self.line_x0.value, self.line_y1.value - self.line_y0.value))

    def _series_regions(self, registered):
        """(film, bare reference) masks: a typed/clicked rectangle, the demo's, or the darkest 20 %."""
        if self.series_ref_mode.value == "rect":
            from scipy import ndimage

            from battlab.afm.topography import region_mask

            frame = registered.isel(time=0)
            frame.attrs = dict(registered.attrs)
            ref = region_mask(frame, x_um=(self.ref_x0.value, self.ref_x1.value),
                              y_um=(self.ref_y0.value, self.ref_y1.value))
            # The film is measured away from the rectangle's edge (3 px), where tip and drift blur.
            film = ~ndimage.binary_dilation(ref, iterations=3)
            if not film.any():
                raise MissingDataError("the reference rectangle covers the whole frame: leave room for the film.")
            return film, ref
        film, ref = self.truth.get("film_mask"), self.truth.get("reference_mask")
        if film is None or ref is None:
            film, ref = _default_regions(registered)
        return film, ref

    def _draw_series(self):
        if self._busy or self.mode != "series" or self.registered is None:
            return
        from battlab.plot import afm as P

        i = int(self.frame.value)
        frame = self.registered.isel(time=i)
        frame.attrs = dict(self.registered.attrs)
        table = self.tables["ecafm_series"]
        lo, hi = np.nanpercentile(self.registered.values, [1, 99])
        self._render_map(P.afm_image(frame, title=f"Frame {i} (registered)", clim=(float(lo), float(hi))))
        x = self.x_axis.value if self.x_axis.value in table else "time_s"
        self.detail_plot.update(P.series_metrics(table, x=x, current=i))
        v = f", {table['potential_V'].iloc[i]:.3f} V" if "potential_V" in table else ""
        self.frame_label.value = f"t = {table['time_s'].iloc[i]:.0f} s{v}"
        self.table.value = html_table(table, _SERIES_COLUMNS)

    # --- export --------------------------------------------------------------------------
    def _results(self):
        if not self.tables:
            raise MissingDataError("nothing analysed yet.")
        return dict(self.tables)

    def _figures(self):
        return {"map": self.map_plot.object, "detail": self.detail_plot.object}

    def _maps(self):
        """Maps exported as .npy for the correlation notebook (battlab.correlate.read_map)."""
        if self.mode == "image" and self.levelled is not None:
            slug = "".join(c if c.isalnum() else "_" for c in self.channel.value).strip("_").lower()
            out = {f"levelled_{slug}": np.asarray(self.levelled.values, float)}
            if self._is_kpfm() and getattr(self, "work_function", None) is not None:
                out["work_function_eV"] = np.asarray(self.work_function.values, float)
            return out
        if self.mode == "force" and self.maps is not None:
            return {f"{v}_map": np.asarray(self.maps[v].values, float) for v in ("modulus_GPa", "adhesion_nN")}
        if self.mode == "series" and self.registered is not None:
            # Height gained between the first and last registered frames (nm), in frame 0's pixels.
            z = np.asarray(self.registered.values, float)
            return {"height_change_last_minus_first_nm": z[-1] - z[0]}
        return {}

    def export(self, out_dir):
        """Tables, figures and provenance (see BaseApp.export), plus the maps as .npy."""
        import io as _io
        from pathlib import Path

        from battlab.provenance import atomic_write

        written = []
        for name, values in self._maps().items():
            buf = _io.BytesIO()
            np.save(buf, values, allow_pickle=False)
            written.append(atomic_write(Path(out_dir) / f"{name}.npy", buf.getvalue()))
        return written + super().export(out_dir)

    def _provenance(self):
        from battlab.provenance import Provenance

        params = {"mode": self.mode, "source": self.source_label}
        if self.mode == "image":
            params.update(channel=self.channel.value, levelling=self.levelling.value, order=int(self.order.value),
                          mask_features=self.mask_features.value, remove_scars=self.scars.value,
                          map_pixel_size_um=self.channels[self.channel.value].attrs.get("pixel_size_um"),
                          exported_maps=sorted(f"{k}.npy" for k in self._maps()),
                          profile_line_um=[self.line_x0.value, self.line_y0.value, self.line_x1.value,
                                           self.line_y1.value], profile_width_um=self.line_width.value)
            if self._is_kpfm():
                params.update(kpfm_reference=self.ref_mode.value, bias_on=self.bias_on.value,
                              reference_work_function_eV=self.ref_wf.value,
                              reference_rectangle_um=[self.ref_x0.value, self.ref_x1.value, self.ref_y0.value,
                                                      self.ref_y1.value] if self.ref_mode.value == "rect" else None,
                              reference_threshold=({"channel": self.thr_channel.value, self.thr_side.value:
                                                    self.thr_value.value} if self.ref_mode.value == "threshold"
                                                   else None))
            data = self.channels[self.channel.value]
        elif self.mode == "force":
            params.update(model=self.model.value, **self._options())
            data = self.curves
        else:
            rect = self.series_ref_mode.value == "rect"
            params.update(registration="phase correlation, frame to previous frame",
                          regions=("rectangle as bare reference" if rect else "demo masks" if "film_mask" in self.truth
                                   else "darkest 20 % as bare reference"),
                          reference_rectangle_um=[self.ref_x0.value, self.ref_x1.value, self.ref_y0.value,
                                                  self.ref_y1.value] if rect else None,
                          frame_interval_s=self.frame_interval.value,
                          step_line_um=([self.line_x0.value, self.line_y0.value, self.line_x1.value,
                                         self.line_y1.value, self.line_width.value]
                                        if self._line_length_um() > 0 and "upper_mask" not in self.truth else None),
                          potential_source=self.series.attrs.get("potential_source"),
                          cycling_file=getattr(self, "_echem_name", None) if self.echem is not None else None,
                          clock_offset_s=self.clock_offset.value if self.echem is not None else None,
                          frame_sources=self.series.attrs.get("frame_sources"))
            data = self.series
        return Provenance.for_data("battlab.apps.AFMApp", data, params)


def _potential_table(data: bytes):
    """A small text table of potentials: a ``frame`` or time column and a potential column
    (names such as ``potential_V``, ``Ewe (V)``, ``E (mV)``; time in s, min or h). None if
    the bytes are not such a table."""
    import io
    import re

    try:
        raw = pd.read_csv(io.BytesIO(data), sep=None, engine="python", nrows=100_000)
    except Exception:  # not a text table at all: the caller reports the cycling-file error
        return None
    out = {}
    for col in raw.columns:
        low = str(col).strip().lower()
        values = pd.to_numeric(raw[col], errors="coerce")
        if values.isna().all():
            continue
        if low.startswith("frame") and "frame" not in out:
            out["frame"] = values.astype("Int64")
        elif low.startswith("time") and "time_s" not in out:
            unit = re.search(r"\((\w+)\)|_(\w+)$", low)
            factor = {"min": 60.0, "h": 3600.0, "ms": 1e-3}.get((unit.group(1) or unit.group(2)) if unit else "s", 1.0)
            out["time_s"] = values * factor
        elif re.match(r"(potential|ewe|voltage|e\b|e_|e \()", low) and "potential_V" not in out:
            out["potential_V"] = values * (1e-3 if "mv" in low else 1.0)
    if "potential_V" not in out or not ({"frame", "time_s"} & set(out)):
        return None
    return pd.DataFrame(out).dropna()


def _default_regions(series):
    """Without user masks: the darkest 20 % of frame 0 (mean over the series) as the bare
    reference and the rest as film, so an uploaded series still shows a thickness trend."""
    z = np.nanmean(np.asarray(series.values, float), axis=0)
    cut = np.nanpercentile(z, 20)
    ref = z <= cut
    return ~ref & np.isfinite(z), ref

