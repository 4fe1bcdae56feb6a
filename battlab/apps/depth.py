"""Depth-profiling app: NDP (Li vs depth), ToF-SIMS depth profiles and ion maps, XPS sputter series."""

from __future__ import annotations

import hashlib
import html
from pathlib import Path

import ipywidgets as w
import pandas as pd

from battlab.apps._base import BaseApp, PlotPane, html_table
from battlab.errors import InvalidParameterError, MissingDataError

__all__ = ["DepthProfileApp"]

TABS = ("NDP", "ToF-SIMS", "XPS depth")
_KINDS = {"auto (from the columns)": "auto", "NDP spectrum (channel/energy + counts)": "ndp",
          "ToF-SIMS depth profile (time + fragments)": "sims", "XPS depth series (region, time, BE, intensity)": "xps"}
_MAP_SUFFIXES = (".npy", ".tif", ".tiff", ".h5", ".hdf5")


def _session(ndp_maker, name):
    """A demo with data for every tab."""
    from battlab.datasets._base import Demo
    from battlab.datasets.depth import make_sims_map, make_sims_profile, make_xps_depth_series

    def build():
        ndp = ndp_maker()
        sims, smap, xps = make_sims_profile(), make_sims_map(), make_xps_depth_series()
        spectra = ndp.data.get("spectrum", ndp.data.get("spectra"))
        data = {"ndp": spectra, "stopping": ndp.data["stopping"], "sims": sims.data, "sims_map": smap.data,
                "xps": xps.data}
        truth = {"ndp": ndp.truth, "sims": sims.truth, "sims_map": smap.truth, "xps": xps.truth}
        return Demo(data, truth, name)
    return build


def _layers_text(text: str) -> dict:
    out = {}
    for part in (p.strip() for p in text.replace("\n", ";").split(";")):
        if not part:
            continue
        try:
            name, rng = part.split("=", 1)
            top, bottom = (float(v) for v in rng.split(","))
        except ValueError:
            raise InvalidParameterError(f"layer {part!r}: write NAME=TOP,BOTTOM in µm, e.g. surface=0,1.") from None
        out[name.strip()] = (top, bottom)
    return out


def _markers_text(text: str) -> dict:
    out = {}
    for part in (p.strip() for p in text.replace("\n", ";").split(";")):
        if part:
            if "=" not in part:
                raise InvalidParameterError(f"marker {part!r}: write LAYER=FRAGMENT, e.g. inner=LiF-.")
            name, frag = part.split("=", 1)
            out[name.strip()] = frag.strip()
    return out


class DepthProfileApp(BaseApp):
    """Depth profiles from NDP spectra, ToF-SIMS exports and XPS sputter series.

    Parameters
    ----------
    data : dict, optional
        Any of ``{"ndp": spectrum or (time, energy_keV) series, "stopping": table,
        "sims": profile DataFrame, "sims_map": (fragment, depth, y, x) maps,
        "xps": {region: (step, binding_energy_eV)}}``; the SEI demo session otherwise.
    """

    title = "Depth profiles"
    intro = ("Neutron depth profiling turns the energy of tritons from ⁶Li(n,α)³H into depth with your "
             "stopping-power table; ToF-SIMS sputter time becomes depth with a sputter rate, a crater depth or a "
             "reference interface; an XPS sputter series becomes atomic % against depth. Upload a CSV of any of "
             "them (XPS also as VAMAS .vms), a stopping table, or an ion-map stack per fragment (.npy/.tif/.h5).")
    accept = ".csv,.txt,.tsv,.dat,.vms"
    data_kind = "depth"

    def __init__(self, data=None, **kw):
        self.parts = {}
        self.truth = {}
        self.tables = {}
        self.figs = {}
        self.ndp_profiles = None
        super().__init__(data, **kw)

    def demos(self):
        from battlab.datasets.depth import make_ndp_plating_series, make_ndp_profile

        return {"SEI on graphite: NDP profile, ToF-SIMS layers + map, XPS sputter series":
                _session(make_ndp_profile, "SEI on graphite"),
                "Operando NDP: graphite fills, then Li plates on the surface (+ SIMS, XPS)":
                _session(make_ndp_plating_series, "NDP plating series")}

    # --- controls --------------------------------------------------------------------
    def _build_controls(self):
        style = {"description_width": "initial"}
        self.upload_kind = w.Dropdown(options=list(_KINDS.items()), value="auto", description="Upload as",
                                      style=style, layout=w.Layout(width="430px"))
        return [w.HBox([self.upload_kind, w.HTML("<small>what the uploaded CSV holds</small>")])]

    def _plot_area(self):
        style = {"description_width": "initial"}

        def redo(what, func):
            return lambda _: None if self.__dict__.get("_loading") else self._guard(what, func)

        # NDP
        self.particle = w.Dropdown(options=[("triton 2727 keV", "triton"), ("α 2055 keV", "alpha")], value="triton",
                                   description="Particle", style=style)
        self.bin_um = w.BoundedFloatText(value=0.25, min=0.01, max=10.0, step=0.05, description="Depth bin (µm)",
                                         style=style, layout=w.Layout(width="200px"))
        self.offset_kev = w.BoundedFloatText(value=5.0, min=-1e4, max=1e4, description="E(ch 0) keV", style=style,
                                             layout=w.Layout(width="180px"))
        self.gain_kev = w.BoundedFloatText(value=3.0, min=1e-4, max=1e3, step=0.01, description="keV/channel",
                                           style=style, layout=w.Layout(width="180px"))
        self.fluence = w.BoundedFloatText(value=1e12, min=0.0, max=1e25, description="Fluence (n/cm², 0 = relative)",
                                          style=style, layout=w.Layout(width="300px"))
        self.solid_angle = w.BoundedFloatText(value=1e-3, min=0.0, max=1.0, step=1e-4, description="Ω/4π × eff.",
                                              style=style, layout=w.Layout(width="200px"))
        self.li6 = w.BoundedFloatText(value=0.0759, min=1e-4, max=1.0, step=0.01, description="⁶Li fraction",
                                      style=style, layout=w.Layout(width="190px"))
        self.resolution = w.BoundedFloatText(value=15.0, min=0.1, max=500.0, description="Detector FWHM (keV)",
                                             style=style, layout=w.Layout(width="230px"))
        self.density_scale = w.FloatSlider(value=1.0, min=0.2, max=2.0, step=0.01, continuous_update=False,
                                           description="Stopping × (density / table density)", style=style,
                                           layout=w.Layout(width="420px"))
        self.alarm = w.BoundedFloatText(value=0.0, min=0.0, max=1e6, step=1.0,
                                        description="Alarm: counts rise above first (%, 0 = off)", style=style,
                                        layout=w.Layout(width="340px"))
        self.difference = w.Checkbox(value=False, description="map the change since the first spectrum (B − A)",
                                     indent=False)
        self.layers = w.Text(value="surface=0,1; graphite=1,8", description="Layers (µm)", style=style,
                             layout=w.Layout(width="420px"))
        self.spectrum_index = w.IntSlider(value=0, min=0, max=0, description="Spectrum", continuous_update=False,
                                          style=style)
        self.stopping_text = w.Textarea(description="Stopping table", style=style,
                                        layout=w.Layout(width="360px", height="110px"))
        self.stopping_apply = w.Button(description="Use this table", icon="check")
        self.stopping_apply.on_click(lambda _: self._guard("reading the stopping table", self._apply_stopping_text))
        self.stopping_upload = self._upload_button(accept=".csv,.txt,.tsv,.dat",
                                            description="Stopping table")
        self._observe_upload(self.stopping_upload, self._load_stopping, default_name="stopping.csv")
        for wd in (self.particle, self.bin_um, self.offset_kev, self.gain_kev, self.fluence, self.solid_angle,
                   self.li6, self.resolution, self.layers, self.spectrum_index, self.density_scale, self.alarm,
                   self.difference):
            wd.observe(redo("computing the NDP profile", self._analyse_ndp), "value")
        self.ndp_spec_pane, self.ndp_prof_pane, self.ndp_time_pane = PlotPane(), PlotPane(), PlotPane()
        ndp_tab = w.VBox([
            w.HBox([self.particle, self.bin_um, self.resolution]),
            w.HBox([self.offset_kev, self.gain_kev, w.HTML("<small>energy calibration of channel files</small>")]),
            w.HBox([self.fluence, self.solid_angle, self.li6]),
            w.HBox([self.layers, self.spectrum_index]), w.HBox([self.density_scale, self.alarm, self.difference]),
            w.HBox([self.stopping_text, w.VBox([self.stopping_apply, self.stopping_upload,
                                                w.HTML("<small>energy (keV), stopping power (keV/µm) of the host, "
                                                       "e.g. from SRIM</small>")])]),
            w.HBox([self.ndp_spec_pane.widget, self.ndp_prof_pane.widget]), self.ndp_time_pane.widget])
        # ToF-SIMS
        self.cal_method = w.Dropdown(options=[("sputter rate (nm/s)", "rate"), ("crater depth (nm)", "crater"),
                                              ("reference interface depth (nm)", "reference")], value="crater",
                                     description="Depth from", style=style)
        self.cal_value = w.BoundedFloatText(value=60.0, min=1e-6, max=1e9, description="value", style=style,
                                            layout=w.Layout(width="170px"))
        self.ref_fragment = w.Dropdown(options=[], description="reference fragment", style=style)
        self.normalize = w.Dropdown(options=["none", "total"], value="none", description="Normalise to", style=style)
        self.fragments = w.SelectMultiple(options=[], description="Fragments", style=style,
                                          layout=w.Layout(width="260px", height="110px"))
        self.numerator = w.Dropdown(options=[], description="Ratio", style=style, layout=w.Layout(width="200px"))
        self.denominator = w.Dropdown(options=[], description="/", style=style, layout=w.Layout(width="160px"))
        self.markers = w.Text(value="organic (outer)=C2H-; LiF-rich (inner)=LiF-", description="Layer markers",
                              style=style, layout=w.Layout(width="460px"))
        self.interface_method = w.Dropdown(options=[("50 % crossing", "half"), ("max gradient", "gradient")],
                                           value="half", description="Interface", style=style)
        self.map_depth = w.IntSlider(value=0, min=0, max=0, description="Map scan", continuous_update=False,
                                     style=style)
        self.map_fragment = w.Text(value="LiF-", description="Map fragment", style=style,
                                   layout=w.Layout(width="200px"))
        self.map_pixel = w.BoundedFloatText(value=0.5, min=1e-4, max=1e4, description="Pixel (µm)", style=style,
                                            layout=w.Layout(width="160px"))
        self.map_upload = self._upload_button(accept=",".join(_MAP_SUFFIXES), description="Ion map stack")
        self._observe_upload(self.map_upload, self._load_map, default_name="map.npy")
        for wd in (self.cal_method, self.cal_value, self.ref_fragment, self.normalize, self.fragments, self.numerator,
                   self.denominator, self.markers, self.interface_method):
            wd.observe(redo("analysing the SIMS profile", self._analyse_sims), "value")
        for wd in (self.numerator, self.denominator, self.map_depth):  # the maps need no depth calibration
            wd.observe(redo("drawing the maps", self._draw_maps), "value")
        self.sims_pane, self.ratio_pane = PlotPane(), PlotPane()
        self.map_pane, self.ratio_map_pane = PlotPane(), PlotPane()
        sims_tab = w.VBox([
            w.HBox([self.cal_method, self.cal_value, self.ref_fragment]),
            w.HBox([self.fragments, w.VBox([self.normalize, w.HBox([self.numerator, self.denominator]),
                                            self.interface_method])]),
            self.markers, w.HBox([self.sims_pane.widget, self.ratio_pane.widget]),
            w.HTML("<b>Ion maps</b>: the ratio map of the fragments picked above, and one scan of the numerator."),
            w.HBox([self.map_depth, self.map_upload, self.map_fragment, self.map_pixel]),
            w.HBox([self.map_pane.widget, self.ratio_map_pane.widget])])
        # XPS
        self.xps_rate = w.BoundedFloatText(value=0.05, min=1e-6, max=1e4, step=0.01, description="Sputter rate (nm/s)",
                                           style=style, layout=w.Layout(width="240px"))
        self.xps_step_time = w.BoundedFloatText(value=0.0, min=0.0, max=1e7, description="VAMAS s per step "
                                                "(0 = from block names)", style=style, layout=w.Layout(width="330px"))
        self.xps_background = w.Dropdown(options=["shirley", "tougaard", "linear"], value="shirley",
                                         description="Background", style=style)
        self.xps_rate.observe(redo("rescaling the XPS depth", self._analyse_xps_axis), "value")
        self.xps_background.observe(redo("fitting the XPS series", self._analyse_xps), "value")
        self.xps_pane = PlotPane()
        xps_tab = w.VBox([w.HBox([self.xps_rate, self.xps_background, self.xps_step_time]), self.xps_pane.widget])
        self.tabs = w.Tab(children=[ndp_tab, sims_tab, xps_tab])
        for i, name in enumerate(TABS):
            self.tabs.set_title(i, name)
        self.tabs.observe(redo("switching tab", self._on_tab), "selected_index")
        return self.tabs

    # --- data ------------------------------------------------------------------------
    def _read_kind(self, data: bytes, name: str):
        from battlab.depth.ndp import read_ndp_spectra
        from battlab.depth.profiles import read_table
        from battlab.depth.sims import read_sims_profile
        from battlab.depth.xps_depth import read_xps_depth

        kind = self.upload_kind.value
        if Path(name).suffix.lower() == ".vms":
            kind = "xps"
        if kind == "auto":
            cols = [c.lower() for c in read_table(data, name=name).columns]
            if any("region" in c for c in cols):
                kind = "xps"
            elif "chan" in cols[0] or "energy" in cols[0] or "kev" in cols[0]:
                kind = "ndp"
            else:
                kind = "sims"
        if kind == "ndp":
            return "ndp", read_ndp_spectra(data, name=name, offset_keV=self.offset_kev.value,
                                           gain_keV_per_channel=self.gain_kev.value)
        if kind == "sims":
            return "sims", read_sims_profile(data, name=name)
        step = {"time_per_step_s": self.xps_step_time.value} if self.xps_step_time.value > 0 else {}
        return "xps", read_xps_depth(data, name=name, **step)

    def _load_bytes(self, data: bytes, name: str):
        self.set_status(f"Reading {name}…")
        kind, obj = self._read_kind(data, name)
        self._accept_data({kind: obj}, name)
        self.tabs.selected_index = {"ndp": 0, "sims": 1, "xps": 2}[kind]

    def _load_server_file(self, path):
        resolved = self._confined_path(path)
        if resolved is not None:
            self._guard(f"reading {resolved.name}", self._load_bytes, resolved.read_bytes(), resolved.name)

    def _load_stopping(self, data: bytes, name: str):
        from battlab.depth.ndp import read_stopping_table

        self.parts["stopping"] = read_stopping_table(data, name=name)
        self._fill_stopping_text()
        self._analyse_ndp()
        self.clear_error()
        self.set_status(f"stopping table {name}: {len(self.parts['stopping'])} rows")

    def _apply_stopping_text(self):
        from battlab.depth.ndp import read_stopping_table

        tab = read_stopping_table(self.stopping_text.value.encode(), name="edited stopping table")
        self.parts["stopping"] = tab
        self._analyse_ndp()
        self.clear_error()
        self.set_status(f"edited stopping table: {len(tab)} rows")

    def _fill_stopping_text(self):
        tab = self.parts.get("stopping")
        self.stopping_text.value = "" if tab is None else tab.to_csv(index=False, float_format="%.6g")

    def _load_map(self, data: bytes, name: str):
        from battlab.depth.sims import ion_maps, read_sims_maps

        if Path(name).suffix.lower() not in _MAP_SUFFIXES:
            raise InvalidParameterError(f"{name}: an ion-map stack is a .npy, .tif/.tiff or .h5 file.")
        path = self.stored_uploads.get(hashlib.sha256(data).hexdigest()) or self._keep_upload(data, name)
        if path is None:
            raise MissingDataError(f"{name} could not be kept on the server, so it cannot be opened.")
        fragment = self.map_fragment.value.strip() or Path(name).stem
        new = read_sims_maps({fragment: Path(path)}, pixel_size_um=self.map_pixel.value)
        old = self.parts.get("sims_map")
        if old is not None and old.shape[1:] == new.shape[1:]:
            arrays = {str(f): old.sel(fragment=f).values for f in old["fragment"].values if str(f) != fragment}
            arrays[fragment] = new.sel(fragment=fragment).values
            new = ion_maps(arrays, pixel_size_um=self.map_pixel.value)
        self.parts["sims_map"] = new
        self.truth.pop("sims_map", None)
        self._sync_fragment_options()
        self._draw_maps()
        self.clear_error()
        self.set_status(f"ion maps: {', '.join(map(str, new['fragment'].values))} ({new.shape[1]} scans)")

    def _set_data(self, data, label, truth=None):
        if not isinstance(data, dict):
            raise InvalidParameterError("the depth app takes a dict with 'ndp', 'stopping', 'sims', 'sims_map' "
                                        "and/or 'xps'.")
        unknown = set(data) - {"ndp", "stopping", "sims", "sims_map", "xps"}
        if unknown:
            raise InvalidParameterError(f"unknown parts {sorted(unknown)} for the depth app.")
        if truth is not None or len(data) > 2:  # a whole session replaces everything
            self.parts, self.truth = {}, {}
        for key in data:
            self.truth.pop(key, None)
        self.parts.update(data)
        self.truth.update(truth or {})
        self._loading = True
        try:
            self._sync_controls()
        finally:
            self._loading = False
        self._analyse_all()

    def _sync_controls(self):
        ndp = self.parts.get("ndp")
        n = ndp.sizes.get("time", 1) if ndp is not None else 1
        self.spectrum_index.max = max(0, n - 1)
        self.spectrum_index.value = n - 1
        tr = self.truth.get("ndp", {})
        if tr:
            self.fluence.value = tr["fluence_n_cm2"]
            self.solid_angle.value = tr["solid_angle_fraction"]
            self.li6.value = tr["li6_abundance"]
            layers = tr.get("layers_um", {})
            self.layers.value = "; ".join(f"{k}={a:g},{b:g}" for k, (a, b) in layers.items())
        self._fill_stopping_text()
        sims_t = self.truth.get("sims")
        if sims_t:
            self.cal_method.value = "crater"
            self.cal_value.value = sims_t["crater_depth_nm"]
            self.markers.value = "; ".join(f"{k}={v}" for k, v in sims_t["markers"].items())
        self._sync_fragment_options()

    def _sync_fragment_options(self):
        from battlab.depth.sims import sims_fragments

        frags = sims_fragments(self.parts["sims"]) if self.parts.get("sims") is not None else []
        smap = self.parts.get("sims_map")
        if smap is not None:
            frags = frags + [str(f) for f in smap["fragment"].values if str(f) not in frags]
        loading = self.__dict__.get("_loading", False)
        self._loading = True
        try:
            self.fragments.options = frags
            self.fragments.value = tuple(frags[: min(5, len(frags))])
            self.ref_fragment.options = frags
            self.normalize.options = ["none", "total"] + frags
            self.numerator.options = frags
            self.denominator.options = frags
            if "LiF-" in frags and "C2H-" in frags:
                self.numerator.value, self.denominator.value = "LiF-", "C2H-"
            elif len(frags) > 1:
                self.numerator.value, self.denominator.value = frags[0], frags[1]
            if smap is not None:
                self.map_depth.max = smap.sizes["depth"] - 1
                self.map_depth.value = min(self.map_depth.value, self.map_depth.max)
        finally:
            self._loading = loading

    def describe_data(self) -> str:
        bits = []
        ndp = self.parts.get("ndp")
        if ndp is not None:
            n = ndp.sizes.get("time", 1)
            bits.append(f"NDP: {n} spectr{'a' if n > 1 else 'um'}")
        if self.parts.get("sims") is not None:
            bits.append(f"ToF-SIMS: {len(self.parts['sims'])} sputter steps")
        if self.parts.get("sims_map") is not None:
            bits.append(f"ion maps: {self.parts['sims_map'].sizes['fragment']} fragments")
        if self.parts.get("xps"):
            first = next(iter(self.parts["xps"].values()))
            bits.append(f"XPS: {first.sizes['step']} sputter steps × {len(self.parts['xps'])} regions")
        return "; ".join(bits) or "no data"

    # --- analyses --------------------------------------------------------------------
    def _draw(self, pane, key, tab: int):
        """Render now when the figure's tab is shown; otherwise when the user opens that tab."""
        pending = self.__dict__.setdefault("_pending", {})
        if (self.tabs.selected_index or 0) == tab:
            pending.pop(id(pane), None)
            pane.update(self.figs[key])
        else:
            pending[id(pane)] = (tab, pane, key)

    def _on_tab(self):
        tab = self.tabs.selected_index or 0
        for k, (t, pane, key) in list(self.__dict__.get("_pending", {}).items()):
            if t == tab:
                del self._pending[k]
                pane.update(self.figs[key])
        self._show_table()

    def _analyse_all(self):
        self._analyse_ndp()
        self._analyse_sims()
        self._draw_maps()
        self._analyse_xps()

    def _stopping(self):
        from battlab.depth.ndp import stopping_table

        tab = self.parts.get("stopping")
        if tab is None or self.density_scale.value == 1.0:
            return tab
        # Stopping power per µm scales with the host's density (a porous electrode stops less).
        return stopping_table(tab["energy_keV"], tab["stopping_keV_per_um"] * self.density_scale.value,
                              meta=tab.attrs.get("battlab"))

    def _ndp_options(self):
        quantitative = self.fluence.value > 0 and self.solid_angle.value > 0
        return {"particle": self.particle.value, "bin_um": self.bin_um.value,
                "fluence_n_cm2": self.fluence.value if quantitative else None,
                "solid_angle_fraction": self.solid_angle.value if quantitative else None,
                "li6_abundance": self.li6.value, "energy_resolution_keV": self.resolution.value}

    def _ndp_spectra(self):
        from battlab.depth.ndp import channel_to_energy

        ndp = self.parts.get("ndp")
        if ndp is not None and "channel" in ndp.coords:
            energy = channel_to_energy(ndp["channel"].to_numpy(), offset_keV=self.offset_kev.value,
                                       gain_keV_per_channel=self.gain_kev.value)
            ndp = ndp.assign_coords(energy_keV=energy)
        return ndp

    def _analyse_ndp(self):
        from battlab.depth.ndp import NDP_LINES_KEV, layer_inventory, ndp_depth_profile, ndp_series
        from battlab.depth.profiles import find_interfaces
        from battlab.plot import depth as plot

        for key in [k for k in self.tables if k.startswith("ndp")]:
            del self.tables[key]
        ndp, stopping = self._ndp_spectra(), self._stopping()
        if ndp is None:
            self._ndp_empty("No NDP spectrum: upload one (CSV of channel or energy and counts).")
            return
        if stopping is None:
            self._ndp_empty("Give a stopping-power table (upload or type it in) to convert energy to depth.")
            return
        layers = _layers_text(self.layers.value)
        profiles, series = ndp_series(ndp, stopping, layers=layers or None, **self._ndp_options())
        self.ndp_profiles = profiles
        i = min(self.spectrum_index.value, profiles.sizes["time"] - 1)
        one = ndp.isel(time=i) if "time" in ndp.dims else ndp
        profile = ndp_depth_profile(one, stopping, **self._ndp_options())
        q = "li_atoms_cm3" if "li_atoms_cm3" in profile else "relative_concentration"
        interfaces = find_interfaces(profile["depth_um"], profile[q], method="gradient")
        self.tables["ndp_profile"] = profile
        self.tables["ndp_interfaces"] = interfaces
        if layers:
            self.tables["ndp_layers"] = layer_inventory(profile, layers)
        if profiles.sizes["time"] > 1:
            self.tables["ndp_series"] = series
        e0 = NDP_LINES_KEV[self.particle.value]
        window = profile.attrs["battlab"]["parameters"]["energy_window_keV"]
        truth = self.truth.get("ndp", {}).get("profile") if "time" not in ndp.dims else None
        self.figs["ndp_spectrum"] = plot.ndp_spectrum(one, window=window, lines={self.particle.value: e0})
        self.figs["ndp_profile"] = plot.ndp_profile(profile, truth=truth, interfaces=interfaces["position"],
                                                    layers=layers)
        shown = profiles
        if self.difference.value and profiles.sizes["time"] > 1:
            from battlab.depth.ndp import difference_profiles

            shown = difference_profiles(profiles, reference=0)
        self.figs["ndp_time"] = plot.ndp_series_view(shown, series, alarm_pct=self.alarm.value or None)
        self.ndp_alarm = None
        if self.alarm.value and profiles.sizes["time"] > 1:
            rise = 100 * (series["window_counts"] / series["window_counts"].iloc[0] - 1)
            over = series["time_s"][rise > self.alarm.value]
            self.ndp_alarm = (f"integrated counts first exceed +{self.alarm.value:g} % at "
                              f"t = {over.iloc[0] / 3600:.2f} h"
                              if len(over) else f"integrated counts stay within +{self.alarm.value:g} %")
        self._draw(self.ndp_spec_pane, "ndp_spectrum", 0)
        self._draw(self.ndp_prof_pane, "ndp_profile", 0)
        self._draw(self.ndp_time_pane, "ndp_time", 0)
        self.ndp_notes = profile.attrs["battlab"]["notes"]
        self._show_table()

    def _ndp_empty(self, message):
        from battlab.plot._core import empty

        for pane, key in ((self.ndp_spec_pane, "ndp_spectrum"), (self.ndp_prof_pane, "ndp_profile"),
                          (self.ndp_time_pane, "ndp_time")):
            self.figs[key] = empty(message)
            self._draw(pane, key, 0)
        self.ndp_notes = [message]
        self._show_table()

    def _sims_calibrated(self):
        from battlab.depth.sims import calibrate_depth, normalize_profile

        raw = self.parts.get("sims")
        if raw is None:
            return None, None
        method, value = self.cal_method.value, self.cal_value.value
        kw = {"rate": {"rate_nm_s": value}, "crater": {"crater_depth_nm": value},
              "reference": {"reference_depth_nm": value, "reference_fragment": self.ref_fragment.value}}[method]
        prof, cal = calibrate_depth(raw, **kw)
        if self.normalize.value != "none":
            prof = normalize_profile(prof, to=self.normalize.value)
        return prof, cal

    def _analyse_sims(self):
        from battlab.depth.sims import fragment_ratio, layer_thicknesses, sims_interfaces
        from battlab.plot import depth as plot
        from battlab.plot._core import empty

        for key in [k for k in self.tables if k.startswith("sims")]:
            del self.tables[key]
        prof, cal = self._sims_calibrated()
        if prof is None:
            self.figs["sims_profile"] = empty("No ToF-SIMS profile: upload a CSV export.")
            self.figs["sims_ratio"] = empty("No ToF-SIMS profile.")
        else:
            self.sims_calibration = cal
            frags = list(self.fragments.value)
            method = self.interface_method.value
            markers = _markers_text(self.markers.value)
            layers = layer_thicknesses(prof, markers, method=method) if markers else pd.DataFrame()
            bounds = sorted(set(layers["top"].tolist() + layers["bottom"].tolist())) if not layers.empty else []
            bounds = [b for b in bounds if 0 < b < prof["depth_nm"].max()]
            self.tables["sims_layers"] = layers
            self.tables["sims_interfaces"] = sims_interfaces(prof, frags or None, method=method)
            num, den = self.numerator.value, self.denominator.value
            out = prof.copy()
            if num and den and num in prof and den in prof:
                name = f"{num}/{den}"
                out[name] = fragment_ratio(prof, num, den).to_numpy()
                self.figs["sims_ratio"] = plot.sims_profile(out, [name], interfaces=bounds, log_y=False,
                                                            width=420)
            else:
                self.figs["sims_ratio"] = empty("Pick two fragments for a ratio.")
            self.tables["sims_profile"] = out
            self.figs["sims_profile"] = plot.sims_profile(prof, frags, interfaces=bounds,
                                                          log_y=self.normalize.value == "none")
        self._draw(self.sims_pane, "sims_profile", 1)
        self._draw(self.ratio_pane, "sims_ratio", 1)
        self._show_table()

    def _draw_maps(self):
        from battlab.depth.sims import depth_slice, ratio_map
        from battlab.plot import depth as plot
        from battlab.plot._core import empty

        smap = self.parts.get("sims_map")
        frags = [str(f) for f in smap["fragment"].values] if smap is not None else []
        num, den = self.numerator.value, self.denominator.value
        if smap is None or num not in frags:
            self.figs["ion_map"] = empty("No ion maps for this fragment: upload a stack (.npy/.tif/.h5).")
            self.figs["ratio_map"] = empty("No ion maps.")
        else:
            k = min(self.map_depth.value, smap.sizes["depth"] - 1)
            sl = depth_slice(smap, float(smap["depth_nm"][k]) if "depth_nm" in smap.coords else k).sel(fragment=num)
            where = f"{float(sl['depth_nm']):.1f} nm" if "depth_nm" in sl.coords else f"scan {k}"
            self.figs["ion_map"] = plot.ion_map(sl, title=f"{num} at {where}")
            if den in frags and den != num:
                rm = ratio_map(smap, num, den)
                self.figs["ratio_map"] = plot.ion_map(rm, title=f"{num}/{den}, summed over depth", cmap="viridis")
                self.tables["sims_ratio_map"] = rm.to_dataframe(name=f"{num}/{den}").reset_index()
            else:
                self.figs["ratio_map"] = empty("Pick a second fragment present in the maps.")
        self._draw(self.map_pane, "ion_map", 1)
        self._draw(self.ratio_map_pane, "ratio_map", 1)

    def _analyse_xps(self):
        from battlab.depth.xps_depth import xps_depth_profile

        self.xps_result = None
        if self.parts.get("xps"):
            self.xps_result = xps_depth_profile(self.parts["xps"], background=self.xps_background.value)
        self._analyse_xps_axis()

    def _analyse_xps_axis(self):
        from battlab.plot import depth as plot

        for key in [k for k in self.tables if k.startswith("xps")]:
            del self.tables[key]
        atomic = None
        if self.xps_result is not None:
            atomic, species = (t.copy() for t in self.xps_result)
            rate = self.xps_rate.value
            atomic.insert(2, "depth_nm", atomic["sputter_time_s"] * rate)
            species.insert(2, "depth_nm", species["sputter_time_s"] * rate)
            self.tables["xps_atomic"] = atomic
            self.tables["xps_species"] = species
        self.figs["xps_atomic"] = plot.xps_atomic(atomic)
        self._draw(self.xps_pane, "xps_atomic", 2)
        self._show_table()

    # --- results ---------------------------------------------------------------------
    def _show_table(self):
        tab = TABS[self.tabs.selected_index or 0]
        parts = []
        if tab == "NDP":
            notes = list(getattr(self, "ndp_notes", []))
            if getattr(self, "ndp_alarm", None):
                notes.append(self.ndp_alarm)
            if self.density_scale.value != 1.0:
                notes.append(f"stopping powers × {self.density_scale.value:g} (density relative to the table's)")
            parts.append("<br>".join(f"<small>{html.escape(n)}</small>" for n in notes))
            if "ndp_layers" in self.tables:
                cols = [("layer", "layer", "{}"), ("top_um", "top (µm)", "{:.2f}"),
                        ("bottom_um", "bottom (µm)", "{:.2f}"),
                        ("counts", "counts", "{:.0f}"), ("fraction", "fraction", "{:.3f}"),
                        ("li_atoms_cm2", "Li (atoms/cm²)", "{:.3e}")]
                parts.append(html_table(self.tables["ndp_layers"], cols))
            if "ndp_interfaces" in self.tables:
                cols = [("position", "interface depth (µm)", "{:.2f}"), ("direction", "Li", "{}")]
                parts.append(html_table(self.tables["ndp_interfaces"], cols))
        elif tab == "ToF-SIMS":
            cal = getattr(self, "sims_calibration", None)
            if cal and "sims_profile" in self.tables:
                parts.append(f"<small>sputter rate {cal['rate_nm_s']:.4g} nm/s ({html.escape(cal['method'])})</small>")
            if "sims_layers" in self.tables and not self.tables["sims_layers"].empty:
                cols = [("layer", "layer", "{}"), ("marker", "marker", "{}"), ("top", "top", "{:.2f}"),
                        ("bottom", "bottom", "{:.2f}"), ("thickness", "thickness", "{:.2f}"), ("units", "units", "{}")]
                parts.append(html_table(self.tables["sims_layers"], cols))
        elif "xps_atomic" in self.tables:
            atomic = self.tables["xps_atomic"]
            cols = [("step", "step", "{:d}"), ("sputter_time_s", "time (s)", "{:.0f}"),
                    ("depth_nm", "depth (nm)", "{:.1f}")] + [(c, c.replace("_at_pct", " at.%"), "{:.1f}")
                                                             for c in atomic if c.endswith("_at_pct")]
            parts.append(html_table(atomic, cols))
        self.table.value = "".join(parts) or "<i>no results for this tab</i>"

    def _results(self) -> dict:
        out = {}
        for name, table in self.tables.items():
            if isinstance(table, pd.DataFrame) and not table.empty:
                out[name] = table
        if self.ndp_profiles is not None and self.ndp_profiles.sizes["time"] > 1:
            out["ndp_profiles"] = self.ndp_profiles.to_dataframe(name="value").reset_index()
        stopping = self.parts.get("stopping")
        if stopping is not None:
            out["stopping_table"] = stopping
        return out

    def _figures(self) -> dict:
        return dict(self.figs)

    def _provenance(self):
        from battlab.provenance import Provenance, data_input

        params = {"ndp": dict(self._ndp_options(), offset_keV=self.offset_kev.value, gain_keV_per_channel=
                              self.gain_kev.value, layers=self.layers.value,
                              stopping_scale=self.density_scale.value),
                  "sims": {"calibration": getattr(self, "sims_calibration", None), "normalize": self.normalize.value,
                           "ratio": [self.numerator.value, self.denominator.value], "markers": self.markers.value,
                           "interface_method": self.interface_method.value},
                  "xps": {"rate_nm_s": self.xps_rate.value, "background": self.xps_background.value}}
        prov = Provenance(analysis="battlab.apps.DepthProfileApp", parameters=params)
        for key in ("ndp", "stopping", "sims"):
            obj = self.parts.get(key)
            meta = getattr(obj, "attrs", {}).get("battlab", {}) if obj is not None else {}
            if meta:
                prov.inputs.append({"part": key, **data_input(meta)})
        if self.parts.get("xps"):
            meta = next(iter(self.parts["xps"].values())).attrs.get("battlab", {})
            prov.inputs.append({"part": "xps", **data_input(meta)})
        return prov
