"""Scanning probes and element maps app: SECM approach curves (κ, k, contact), SECM/SICM/ESM
maps (levelling, κ/k map, active sites) and XRF/EDS element maps (ratios with Poisson σ,
RGB, phases, registration onto an SEM image)."""

from __future__ import annotations

from functools import partial
from pathlib import Path

import ipywidgets as w
import numpy as np
import pandas as pd
import xarray as xr

from battlab.apps._base import BaseApp, PlotPane, html_table
from battlab.errors import MissingDataError, UnsupportedFormatError

__all__ = ["ProbesApp"]

_TABS = ["SECM approach curves", "Probe maps", "Element maps"]
_FIT_COLUMNS = [("curve", "curve", "{}"), ("classification", "class", "{}"), ("kappa", "κ", "{:.4g}"),
                ("kappa_err", "± κ", "{:.2g}"), ("k_cm_s", "k (cm/s)", "{:.3g}"), ("k_err_cm_s", "± k", "{:.2g}"),
                ("d0_um", "contact d0 (µm)", "{:.3f}"), ("d0_err_um", "± d0", "{:.3f}"),
                ("bulk_current_nA", "I∞ (nA)", "{:.4g}"), ("rmse", "rms (Ni)", "{:.4f}"), ("model", "model", "{}"),
                ("note", "note", "{}")]
_MAP_COLUMNS = [("channel", "map", "{}"), ("units", "unit", "{}"), ("mean", "mean", "{:.4g}"),
                ("median", "median", "{:.4g}"), ("p05", "5 %", "{:.4g}"), ("p95", "95 %", "{:.4g}"),
                ("Sq", "rms spread", "{:.4g}")]
_SITE_COLUMNS = [("active_fraction", "active fraction", "{:.4f}"), ("active_area_um2", "active area (µm²)", "{:.4g}"),
                 ("n_sites", "sites", "{:d}"), ("threshold", "threshold", "{:.3g}"), ("units", "unit", "{}")]
_ELEMENT_COLUMNS = [("element", "element", "{}"), ("total_counts", "total counts", "{:.4g}"),
                    ("mean_counts", "mean/pixel", "{:.4g}"), ("mean_fraction", "fraction", "{:.4f}")]
_RATIO_COLUMNS = [("ratio", "ratio", "{}"), ("median", "median", "{:.4g}"), ("p05", "5 %", "{:.4g}"),
                  ("p95", "95 %", "{:.4g}"), ("median_relative_error", "σ/R per pixel", "{:.3f}"),
                  ("valid_fraction", "valid pixels", "{:.3f}")]
_PHASE_COLUMNS = [("phase", "phase", "{:d}"), ("area_fraction", "area fraction", "{:.4f}"),
                  ("area_um2", "area (µm²)", "{:.4g}")]


class ProbesApp(BaseApp):
    """SECM approach curves, SECM/SICM/ESM maps and XRF/EDS element maps in one app.

    Parameters
    ----------
    data : optional
        Approach curves (dict name → DataFrame with distance_um/current_nA, or one such
        DataFrame), a probe map (DataArray y, x) or dict of them, element maps (DataArray
        element, y, x) or a dict with ``maps`` (and optionally ``sem``); the approach-curve
        demo otherwise.
    """

    title = "Scanning probes and element maps"
    intro = ("SECM approach curves fitted with the Cornut–Lefrou feedback theory (κ, k, contact point); SECM, SICM "
             "and ESM maps with the AFM map tools, local rate constants and active sites; XRF/EDS element maps: "
             "ratio maps with Poisson uncertainty, RGB composites, phases and registration onto an SEM image.")
    accept = ".csv,.txt,.dat,.tsv,.asc,.tif,.tiff,.zip,.h5,.hdf5"
    data_kind = "probes"

    def __init__(self, data=None, **kw):
        self.mode = None
        self.curves = {}
        self.fits = None
        self.long = None
        self.maps = {}
        self.map_result = None
        self.elements = None
        self.sem = None
        self.element_result = None
        self.registered = None
        self.registration = None
        self.tables = {}
        self.truth = {}
        self._busy = False
        super().__init__(data, **kw)

    def demos(self):
        from battlab.datasets.elements import make_nmc_element_maps
        from battlab.datasets.probes import make_approach_curves, make_esm_maps, make_secm_map, make_sicm_maps

        return {"SECM approach curves: conductor, insulator, κ = 0.3, 1, 3": make_approach_curves,
                "SECM map: insulating film with 3 active spots of known k": make_secm_map,
                "SICM: topography and ion current of two particles": make_sicm_maps,
                "ESM: strain amplitude and phase of fast grains": make_esm_maps,
                "EDS maps: NMC Ni-rich core / Mn-rich shell + shifted SEM": make_nmc_element_maps}

    # --- controls --------------------------------------------------------------------
    def _build_controls(self):
        style = {"description_width": "initial"}
        num = partial(w.BoundedFloatText, style=style, layout=w.Layout(width="230px"))
        # approach curves
        self.radius = num(value=5.0, min=0.01, max=1e4, step=0.1, description="tip radius a (µm)")
        self.rg = num(value=10.0, min=1.1, max=1000, step=0.5, description="RG")
        self.diffusion = num(value=7.8e-6, min=1e-9, max=1e-3, step=1e-7, description="D (cm²/s)")
        self.model = w.Dropdown(options=[("auto", "auto"), ("kinetic (κ)", "kinetic"), ("conductor", "conductor"),
                                         ("insulator", "insulator")], value="auto", description="Model", style=style,
                                layout=w.Layout(width="220px"))
        self.curve_pick = w.Dropdown(options=[], description="Show", style=style, layout=w.Layout(width="300px"))
        self.distance_unit = w.Dropdown(options=["µm", "nm"], value="µm",
                                        description="distance unit (if not in file)",
                                        style=style, layout=w.Layout(width="260px"))
        self.current_unit = w.Dropdown(options=["nA", "pA", "A"], value="nA",
                                       description="current unit (if not in file)", style=style,
                                       layout=w.Layout(width="260px"))
        fit = lambda _: self._guard("fitting the approach curves", self._analyse_approach)  # noqa: E731
        for wd in (self.radius, self.rg, self.diffusion, self.model):
            wd.observe(fit, "value")
        self.curve_pick.observe(lambda _: self._guard("drawing the curves", self._draw_approach), "value")
        self.approach_box = w.VBox([w.HBox([self.radius, self.rg, self.diffusion]),
                                    w.HBox([self.model, self.curve_pick]),
                                    w.HBox([self.distance_unit, self.current_unit])])
        # probe maps
        self.map_channel = w.Dropdown(options=[], description="Map", style=style, layout=w.Layout(width="260px"))
        self.map_kind = w.Dropdown(options=["secm", "sicm-current", "sicm-height", "esm-amplitude", "esm-phase"],
                                   value="secm", description="kind (uploads)", style=style,
                                   layout=w.Layout(width="240px"))
        self.levelling = w.Dropdown(options=["none", "plane", "polynomial", "lines-median"], value="none",
                                    description="Levelling", style=style, layout=w.Layout(width="220px"))
        self.bulk = num(value=2.0, min=1e-6, max=1e6, step=0.1, description="I∞ (nA)")
        self.use_rates = w.Checkbox(value=True, description="κ/k map at the working distance", indent=False)
        self.work_dist = num(value=2.5, min=0.001, max=1e4, step=0.1, description="working distance (µm)")
        self.map_radius = num(value=2.5, min=0.01, max=1e4, step=0.1, description="tip radius a (µm)")
        self.map_rg = num(value=10.0, min=1.1, max=1000, step=0.5, description="RG")
        self.map_diffusion = num(value=7.8e-6, min=1e-9, max=1e-3, step=1e-7, description="D (cm²/s)")
        self.threshold = num(value=0.004, min=-1e9, max=1e9, step=0.001, description="active if above")
        self.pixel_size = num(value=1.0, min=1e-6, max=1e4, step=0.01, description="pixel size for matrix/TIFF (µm)")
        self.value_unit = w.Dropdown(options=["nA", "pA", "A", "nm", "µm", "pm", "deg", "V"], value="nA",
                                     description="value unit (if not in file)", style=style,
                                     layout=w.Layout(width="240px"))
        self.profile_row = w.IntSlider(value=0, min=0, max=1, description="Profile row", continuous_update=False,
                                       style=style, layout=w.Layout(width="420px"))
        analyse_map = lambda _: self._guard("analysing the map", self._analyse_map)  # noqa: E731
        for wd in (self.map_channel, self.levelling, self.bulk, self.use_rates, self.work_dist, self.map_radius,
                   self.map_rg, self.map_diffusion, self.threshold):
            wd.observe(analyse_map, "value")
        self.profile_row.observe(lambda _: self._guard("drawing the profile", self._draw_map_profile), "value")
        self.map_box = w.VBox([w.HBox([self.map_channel, self.levelling, self.bulk]),
                               w.HBox([self.use_rates, self.work_dist, self.map_radius]),
                               w.HBox([self.map_rg, self.map_diffusion, self.threshold]),
                               w.HBox([self.map_kind, self.pixel_size, self.value_unit]), self.profile_row])
        # element maps
        self.numerator = w.Dropdown(options=[], description="Ratio", style=style, layout=w.Layout(width="160px"))
        self.denominator = w.Dropdown(options=[], description="/", style=style, layout=w.Layout(width="120px"))
        self.min_counts = num(value=10.0, min=0.0, max=1e9, step=1.0, description="min counts")
        self.rgb = [w.Dropdown(options=[], description=c, style=style, layout=w.Layout(width="110px"))
                    for c in ("R", "G", "B")]
        self.n_phases = w.BoundedIntText(value=2, min=0, max=8, description="phases (k-means)", style=style,
                                         layout=w.Layout(width="180px"))
        self.phase_elements = w.Text(value="", description="phase elements", placeholder="e.g. Ni,Mn,Co", style=style,
                                     layout=w.Layout(width="240px"))
        self.min_total = num(value=40.0, min=0.0, max=1e9, step=1.0, description="background below (counts)")
        self.element_px = num(value=0.1, min=1e-6, max=1e4, step=0.01, description="pixel size (µm)")
        self.sem_upload = self._upload_button(accept=".tif,.tiff,.csv,.txt",
                                       description="SEM / X-ray image")
        self._observe_upload(self.sem_upload, self._load_sem, default_name="sem.tif")
        el = lambda _: self._guard("analysing the element maps", self._analyse_elements)  # noqa: E731
        for wd in (self.numerator, self.denominator, self.min_counts, self.n_phases, self.phase_elements,
                   self.min_total, *self.rgb):
            wd.observe(el, "value")
        self.element_box = w.VBox([w.HBox([self.numerator, self.denominator, self.min_counts]),
                                   w.HBox([w.HTML("RGB:"), *self.rgb]),
                                   w.HBox([self.n_phases, self.phase_elements, self.min_total]),
                                   w.HBox([self.element_px, self.sem_upload])])
        self.tabs = w.Tab(children=[self.approach_box, self.map_box, self.element_box])
        for j, t in enumerate(_TABS):
            self.tabs.set_title(j, t)
        self.tabs.observe(self._on_tab, "selected_index")
        return [self.tabs]

    def _plot_area(self):
        self.main_plot = PlotPane(min_height_px=360)
        self.second_plot = PlotPane(min_height_px=300)
        self.third_plot = PlotPane(min_height_px=240)
        return w.VBox([self.main_plot.widget, self.second_plot.widget, self.third_plot.widget])

    def _on_tab(self, change):
        if self._busy:
            return
        wanted = {0: "approach", 1: "map", 2: "elements"}.get(change["new"])
        if wanted is None:  # no tab selected (a crafted message can send that)
            return
        if wanted == self.mode:
            return
        have = {"approach": bool(self.curves), "map": bool(self.maps), "elements": self.elements is not None}
        if have[wanted]:
            self.mode = wanted
            self._guard("redrawing", self._analyse)
        else:  # the tab opens on its demo
            prefix = {"approach": "SECM approach", "map": "SECM map", "elements": "EDS"}[wanted]
            self._load_demo(next(n for n in self.demos() if n.startswith(prefix)))

    # --- data --------------------------------------------------------------------------
    def _load_bytes(self, data: bytes, name: str):
        tab = self.tabs.selected_index
        self.set_status(f"Reading {name}…")
        if tab == 0:
            from battlab.probes.io import read_approach_curve

            c = read_approach_curve(data, name=name, distance_unit=self.distance_unit.value,
                                    current_unit=self.current_unit.value)
            loaded = {Path(name).stem: c}
        elif tab == 1:
            from battlab.probes.io import read_probe_map

            loaded = {Path(name).stem: read_probe_map(data, name=name, kind=self.map_kind.value,
                                                      pixel_size_um=float(self.pixel_size.value),
                                                      value_unit=self.value_unit.value)}
        else:
            from battlab.elements.io import read_element_maps

            loaded = read_element_maps(data, name=name, pixel_size_um=float(self.element_px.value))
        self._accept_data(loaded, name)

    def _load_sem(self, data: bytes, name: str):
        from battlab.probes.io import read_probe_map

        if self.elements is None:
            raise MissingDataError("load element maps first, then the SEM/X-ray image to register them onto.")
        self.sem = read_probe_map(data, name=name, kind="secm", pixel_size_um=float(self.element_px.value),
                                  value_unit="a.u.")
        self.sem.attrs["channel"] = "image"
        self._analyse_elements()
        self.set_status(f"{name}: registered the element maps onto it (pixel size {self.element_px.value:g} µm).")

    def _accepts_name(self, name: str) -> bool:
        return name.lower().endswith(tuple(self.accept.split(",")))

    def _server_files(self):
        exts = tuple(self.accept.split(","))
        found = []
        for root in self.data_dirs:
            if root.is_dir():
                found += [(str(p.relative_to(root)), str(p)) for p in sorted(root.rglob("*"))
                          if p.is_file() and p.name.lower().endswith(exts)]
        return found

    def _load_server_file(self, path):
        resolved = self._confined_path(path)
        if resolved is not None:
            self._guard(f"reading {resolved.name}", self._load_bytes, resolved.read_bytes(), resolved.name)

    def _set_data(self, data, label, truth=None):
        self.truth = truth or {}
        self._busy = True
        try:
            if isinstance(data, pd.DataFrame):
                data = {data.attrs.get("name", "curve"): data}
            if isinstance(data, dict) and data and all(isinstance(v, pd.DataFrame) for v in data.values()):
                self.mode, self.curves = "approach", dict(data)
                if "radius_um" in self.truth:
                    self.radius.value = float(self.truth["radius_um"])
                    self.rg.value = float(self.truth["rg"])
                    self.diffusion.value = float(self.truth["diffusion_cm2_s"])
                self.curve_pick.options = ["all"] + list(self.curves)
                self.curve_pick.value = "all"
                self.tabs.selected_index = 0
            elif isinstance(data, xr.DataArray) and data.dims == ("element", "y", "x"):
                self._set_elements(data, None)
            elif isinstance(data, dict) and isinstance(data.get("maps"), xr.DataArray):
                self._set_elements(data["maps"], data.get("sem"))
            elif isinstance(data, xr.DataArray) and data.dims == ("y", "x"):
                self._set_maps({data.attrs.get("channel", "map"): data})
            elif isinstance(data, dict) and data and all(isinstance(v, xr.DataArray) and v.dims == ("y", "x")
                                                         for v in data.values()):
                self._set_maps(dict(data))
            else:
                raise UnsupportedFormatError("this app takes approach curves (distance_um, current_nA), probe maps "
                                             "(y, x) or element maps (element, y, x).")
        finally:
            self._busy = False
        self._analyse()

    def _set_maps(self, maps):
        self.mode, self.maps = "map", maps
        self.map_channel.options = list(maps)
        self.map_channel.value = list(maps)[0]
        t = self.truth
        is_secm = "working_distance_um" in t
        self.use_rates.value = is_secm
        if is_secm:
            self.bulk.value = float(t["bulk_current_nA"])
            self.work_dist.value = float(t["working_distance_um"])
            self.map_radius.value = float(t["radius_um"])
            self.map_rg.value = float(t["rg"])
            self.map_diffusion.value = float(t["diffusion_cm2_s"])
            self.threshold.value = 0.004
        ny = maps[self.map_channel.value].sizes["y"]
        self.profile_row.max = ny - 1
        self.profile_row.value = ny // 3
        self.tabs.selected_index = 1

    def _set_elements(self, maps, sem):
        self.mode, self.elements, self.sem = "elements", maps, sem
        els = [str(e) for e in maps["element"].values]
        self.numerator.options = els
        self.denominator.options = els
        pick = lambda e, k: e if e in els else els[min(k, len(els) - 1)]  # noqa: E731
        self.numerator.value = pick("Ni", 0)
        self.denominator.value = pick("Mn", 1)
        for k, (dd, e) in enumerate(zip(self.rgb, ("Ni", "Mn", "Co"), strict=True)):
            dd.options = els
            dd.value = pick(e, k)
        tm = [e for e in ("Ni", "Mn", "Co") if e in els]
        self.phase_elements.value = ",".join(tm) if len(tm) >= 2 else ""
        self.element_px.value = float(maps.attrs["pixel_size_um"])
        self.tabs.selected_index = 2

    def describe_data(self):
        if self.mode == "approach":
            return f"{len(self.curves)} approach curve(s)"
        if self.mode == "map":
            m = self.maps[self.map_channel.value]
            return f"{len(self.maps)} map(s), {m.sizes['x']}×{m.sizes['y']} px of {m.attrs['pixel_size_um']:g} µm"
        if self.mode == "elements":
            m = self.elements
            sem = " + SEM image" if self.sem is not None else ""
            return f"{m.sizes['element']} element map(s), {m.sizes['x']}×{m.sizes['y']} px{sem}"
        return ""

    # --- analyses ------------------------------------------------------------------------
    def _analyse(self):
        if self.mode == "approach":
            self._analyse_approach()
        elif self.mode == "map":
            self._analyse_map()
        elif self.mode == "elements":
            self._analyse_elements()

    def _analyse_approach(self):
        if self._busy or self.mode != "approach":
            return
        from battlab.probes.workflow import analyse_approach

        self.fits, self.long = analyse_approach(self.curves, radius_um=float(self.radius.value),
                                                rg=float(self.rg.value), model=self.model.value,
                                                diffusion_cm2_s=float(self.diffusion.value))
        self.tables = {"approach_fits": self.fits, "approach_curves": self.long}
        self._draw_approach()

    def _draw_approach(self):
        if self._busy or self.mode != "approach" or self.long is None:
            return
        from battlab.plot import probes as P

        sel = None if self.curve_pick.value in (None, "all") else self.curve_pick.value
        self.main_plot.update(P.approach_curves(self.long, rg=float(self.rg.value), selected=sel))
        self.second_plot.update(P.approach_residuals(self.long, selected=sel))
        self.third_plot.widget.layout.display = "none"
        self.table.value = html_table(self.fits, _FIT_COLUMNS)

    def _analyse_map(self):
        if self._busy or self.mode != "map":
            return
        from battlab.probes.workflow import analyse_probe_map

        image = self.maps[self.map_channel.value]
        secm = image.attrs.get("probe_kind") == "secm" and image.attrs.get("units") == "nA"
        for wd in (self.bulk, self.use_rates, self.work_dist, self.map_radius, self.map_rg, self.map_diffusion):
            wd.layout.display = "" if secm else "none"
        rates = secm and self.use_rates.value
        key = (id(image), self.levelling.value)
        if not secm and getattr(self, "_threshold_for", None) != key:
            # another map or levelling: the threshold starts halfway between the 5th and 95th
            # percentiles of what is analysed (map units)
            from battlab.probes.maps import level_map

            shown = level_map(image, method=self.levelling.value) if self.levelling.value != "none" else image
            lo, hi = np.nanpercentile(np.asarray(shown.values, float), [5, 95])
            self._threshold_for = key
            self._busy = True
            try:
                self.threshold.value = float(0.5 * (lo + hi))
            finally:
                self._busy = False
        self.threshold.description = "active if k (cm/s) above" if rates else (
            f"active if above ({image.attrs.get('units', '')})" if not secm else "active if above")
        self.map_result = analyse_probe_map(
            image, levelling=self.levelling.value, bulk_current_nA=float(self.bulk.value) if secm else None,
            working_distance_um=float(self.work_dist.value) if rates else None,
            radius_um=float(self.map_radius.value), rg=float(self.map_rg.value),
            diffusion_cm2_s=float(self.map_diffusion.value),
            threshold=float(self.threshold.value) if (rates or not secm) else None)
        self.tables = dict(self.map_result["tables"])
        self._draw_map()

    def _draw_map(self):
        from battlab.plot import probes as P

        r = self.map_result
        self.main_plot.update(P.probe_map(r["levelled"], title=f"{self.map_channel.value}"
                                          + (f" (levelled: {self.levelling.value})" if self.levelling.value != "none"
                                             else "")))
        if r["rates"] is not None and "k_cm_s" in r["rates"]:
            k = r["rates"]["k_cm_s"]
            self.second_plot.update(P.probe_map(k.rename("k"), title=f"local k at L = {r['rates'].attrs['L']:.2g}",
                                                cmap="inferno"))
        elif r["feedback"] is not None:
            self.second_plot.update(P.probe_map(r["feedback"], title="feedback Ni = I/I∞", cmap="coolwarm"))
        else:
            from battlab.afm.topography import height_histogram
            from battlab.plot.afm import height_histogram as hist_plot

            self.second_plot.update(hist_plot(height_histogram(r["levelled"]), units=r["levelled"].attrs["units"]))
        self.third_plot.widget.layout.display = ""
        self._draw_map_profile()
        parts = [html_table(self.tables["summary"], _MAP_COLUMNS)]
        if "active_summary" in self.tables:
            parts.append(html_table(self.tables["active_summary"], _SITE_COLUMNS))
        self.table.value = "<br>".join(parts)

    def _draw_map_profile(self):
        if self._busy or self.mode != "map" or self.map_result is None:
            return
        from battlab.plot import probes as P
        from battlab.probes.maps import map_profile

        img = self.map_result["levelled"]
        row = min(int(self.profile_row.value), img.sizes["y"] - 1)
        y = float(img["y_um"].values[row])
        dx = float(img.attrs["pixel_size_um"])
        prof = map_profile(img, (0.5 * dx, y), ((img.sizes["x"] - 0.5) * dx, y), width_um=3 * dx)
        prof = prof.rename(columns={"value": img.attrs.get("channel", "value")})
        prof.attrs["units"] = img.attrs.get("units", "")
        self.third_plot.update(P.element_profile(prof, title=f"Profile at y = {y:.3g} µm (3 px wide)"))

    def _analyse_elements(self):
        if self._busy or self.mode != "elements":
            return
        from battlab.elements.analysis import register_maps, rgb_composite
        from battlab.elements.workflow import analyse_elements

        maps = self.elements
        phase_els = [e.strip() for e in self.phase_elements.value.split(",") if e.strip()] or None
        ratio = f"{self.numerator.value}/{self.denominator.value}"
        self.element_result = analyse_elements(maps, ratios=[ratio], min_counts=float(self.min_counts.value),
                                               n_phases=int(self.n_phases.value), phase_elements=phase_els,
                                               min_total_counts=float(self.min_total.value))
        self.tables = dict(self.element_result["tables"])
        self.rgb_map = rgb_composite(maps, [d.value for d in self.rgb]) if len(set(d.value for d in self.rgb)) == 3 \
            else None
        self.registered = self.registration = None
        if self.sem is not None:
            el = "O" if "O" in [str(e) for e in maps["element"].values] else None
            self.registration, self.registered = register_maps(maps, self.sem, element=el)
            dy, dx = self.registration.details["shift_px"]
            self.tables["registration"] = pd.DataFrame([{"moving": el or "total counts", "shift_y_px": dy,
                                                         "shift_x_px": dx, "confidence": self.registration.confidence,
                                                         "method": self.registration.method}])
        self._draw_elements(ratio)

    def _draw_elements(self, ratio):
        from battlab.plot import probes as P

        self.main_plot.update(P.ratio_maps(self.element_result["ratios"][ratio]))
        if self.registered is not None:
            self.second_plot.update(P.rgb_image(self.rgb_map, width=380, height=300)
                                    + P.registration_overlay(self.sem,
                                                             self.registered.sel(element=self.numerator.value),
                                                             title="on the SEM image", width=380, height=300))
        else:
            self.second_plot.update(P.rgb_image(self.rgb_map))
        self.third_plot.widget.layout.display = ""
        if self.element_result["phases"] is not None:
            self.third_plot.update(P.phase_image(self.element_result["phases"], self.tables.get("phases")))
        else:
            self.third_plot.widget.layout.display = "none"
        parts = [html_table(self.tables["element_summary"], _ELEMENT_COLUMNS),
                 html_table(self.tables["ratio_summary"], _RATIO_COLUMNS)]
        if "phases" in self.tables:
            parts.append(html_table(self.tables["phases"], _PHASE_COLUMNS))
        if "registration" in self.tables:
            t = self.tables["registration"].iloc[0]
            parts.append(f"<p>registered onto the SEM image: shift ({t['shift_y_px']:.2f}, {t['shift_x_px']:.2f}) px, "
                         f"confidence {t['confidence']:.2f}</p>")
        self.table.value = "<br>".join(parts)

    # --- export --------------------------------------------------------------------------
    def _results(self):
        if not self.tables:
            raise MissingDataError("nothing analysed yet.")
        return {k: v for k, v in self.tables.items() if isinstance(v, pd.DataFrame)}

    def _figures(self):
        figs = {"main": self.main_plot.object, "detail": self.second_plot.object}
        if self.third_plot.object is not None and self.third_plot.widget.layout.display != "none":
            figs["profile"] = self.third_plot.object
        return {k: v for k, v in figs.items() if v is not None}

    def _provenance(self):
        from battlab.provenance import Provenance

        params = {"mode": self.mode, "source": self.source_label}
        if self.mode == "approach":
            params.update(radius_um=self.radius.value, rg=self.rg.value, diffusion_cm2_s=self.diffusion.value,
                          model=self.model.value, theory="Cornut & Lefrou 2007/2008")
            data = next(iter(self.curves.values()))
        elif self.mode == "map":
            params.update(map=self.map_channel.value, levelling=self.levelling.value, bulk_current_nA=self.bulk.value,
                          rate_map=self.use_rates.value, working_distance_um=self.work_dist.value,
                          radius_um=self.map_radius.value, rg=self.map_rg.value,
                          diffusion_cm2_s=self.map_diffusion.value, threshold=self.threshold.value)
            data = self.maps[self.map_channel.value]
        else:
            params.update(ratio=f"{self.numerator.value}/{self.denominator.value}", min_counts=self.min_counts.value,
                          n_phases=self.n_phases.value, phase_elements=self.phase_elements.value,
                          min_total_counts=self.min_total.value, rgb=[d.value for d in self.rgb],
                          uncertainty="Poisson σ_R = R·sqrt(1/N + 1/D)")
            data = self.elements
        return Provenance.for_data("battlab.apps.ProbesApp", data, params)
