"""AFM app: topography (levelling, roughness, histogram, PSD), force curves and force-volume
maps, and EC-AFM series (SEI thickness and step height per frame)."""

from __future__ import annotations

from functools import partial

import ipywidgets as w
import numpy as np
import pandas as pd
import xarray as xr

from battlab.apps._base import BaseApp, PlotPane, html_table
from battlab.errors import MissingDataError, UnsupportedFormatError

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
                   ("swelling_pct", "swelling (%)", "{:.1f}"), ("volume_change_um3", "ΔV (µm³)", "{:.4f}"), ("dy_px", "drift y (px)", "{:.2f}"),
                   ("dx_px", "drift x (px)", "{:.2f}")]
_Z_UNITS = ["nm", "m", "µm", "pm", "V", "nA", "deg"]


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
    accept = ".gwy,.spm,.000,.001,.002,.003,.jpk,.jpk-force,.jpk-force-map,.ibw,.txt,.csv,.asc,.tif,.tiff"
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
        self.profile_row = w.IntSlider(value=0, min=0, max=0, description="Profile line (row)",
                                       continuous_update=False, style=style, layout=w.Layout(width="420px"))

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
        self.profile_row.observe(lambda _: self._guard("drawing the profile", self._draw_profile), "value")
        for widget in (self.ref_wf, self.ref_cpd, self.bias_on):
            widget.observe(lambda _: self._guard("computing the work function", self._draw_topography), "value")
        self.topo_box = w.VBox([w.HBox([self.channel, self.levelling, self.order]),
                                w.HBox([self.mask_features, self.scars]), self.profile_row,
                                self._kpfm_box(),
                                w.HBox([self.pixel_size, self.z_unit])])
        self.force_box = w.VBox([w.HBox([self.model, self.tip_radius, self.half_angle, self.poisson]),
                                 w.HBox([self.curve, self.map_variable])])
        self.series_box = w.VBox([w.HBox([self.frame, self.frame_label]), self.x_axis])
        return [self.topo_box, self.force_box, self.series_box]

    def _kpfm_box(self):
        self.kpfm_box = w.HBox([self.ref_wf, self.ref_cpd, self.bias_on])
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
        self.kpfm_box.layout.display = "" if self.mode == "image" and self._is_kpfm() else "none"
        self.map_variable.layout.display = "" if self.maps is not None else "none"

    # --- data --------------------------------------------------------------------------
    def _load_bytes(self, data: bytes, name: str):
        from battlab.afm.io import is_force_file, read_afm, read_force_curves

        self.set_status(f"Reading {name}…")
        if is_force_file(name):
            loaded = read_force_curves(data, name=name)
        else:
            loaded = read_afm(data, name=name, pixel_size_um=float(self.pixel_size.value), z_unit=self.z_unit.value)
        self._accept_data(loaded, name)
        first = next(iter(loaded.values())) if isinstance(loaded, dict) else None
        if first is not None and first.attrs.get("battlab", {}).get("format") in ("text-matrix", "tiff-map"):
            # A plain map has no scale of its own: say where the one in use came from.
            self.set_status(f"{name}: lateral scale {self.pixel_size.value:g} µm/px and "
                            f"values in {self.z_unit.value} taken from the controls above; set them and upload "
                            "again if they are wrong.")

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
        self._busy = True
        try:
            if isinstance(data, dict) and data and all(isinstance(v, xr.DataArray) for v in data.values()):
                self.mode = "image"
                self.channels = data
                from battlab.afm._cli import _height_channel

                self.channel.options = list(data)
                self.channel.value = _height_channel(data)
                mask = self.truth.get("reference_mask")
                if mask is not None and self._is_kpfm():
                    self.ref_cpd.value = float(np.nanmean(self.channels[self.channel.value].values[mask]))
                    self.ref_wf.value = float(self.truth.get("reference_work_function_eV", self.ref_wf.value))
                ny = self.channels[self.channel.value].sizes["y"]
                self.profile_row.max = ny - 1
                self.profile_row.value = ny // 2
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

            self.map_plot.update(P.afm_image(raw, title="C-AFM current (log scale)", cmap="viridis", log=True))
            stats = current_statistics(raw)
            self.tables["current"] = pd.DataFrame([stats])
            note = (f"<p><small>Conductive fraction {stats['conductive_fraction']:.1%} above "
                    f"{stats['threshold_nA']:.3g} nA; geometric mean {stats['geometric_mean_nA']:.3g} nA, "
                    f"median {stats['median_nA']:.3g} nA.</small></p>")
        elif self._is_kpfm():
            # KPFM: the contact potential becomes a work function calibrated on the reference.
            from battlab.afm.electrical import work_function_map

            wf = work_function_map(raw, reference_cpd_V=float(self.ref_cpd.value),
                                   reference_work_function_eV=float(self.ref_wf.value), bias_on=self.bias_on.value)
            self.map_plot.update(P.afm_image(wf, title="Work function (eV)", cmap="RdBu_r"))
            values = wf.values[np.isfinite(wf.values)]
            self.tables["work_function"] = pd.DataFrame([{
                "mean_eV": float(values.mean()), "median_eV": float(np.median(values)), "std_eV": float(values.std()),
                "p5_eV": float(np.percentile(values, 5)), "p95_eV": float(np.percentile(values, 95)),
                "reference_cpd_V": float(self.ref_cpd.value), "reference_work_function_eV": float(self.ref_wf.value),
                "bias_on": self.bias_on.value}])
            note = (f"<p><small>Work function {np.percentile(values, 5):.3f}–{np.percentile(values, 95):.3f} eV "
                    f"(5–95 %), reference {float(self.ref_wf.value):.2f} eV at {float(self.ref_cpd.value):+.3f} V, "
                    f"bias on the {self.bias_on.value}.</small></p>")
        else:
            self.map_plot.update(P.before_after(raw, self.levelled))
            g = self.tables["grain_summary"].iloc[0]
            note = (f"<p><small>{int(g['grains'])} grain(s) above {g['threshold']:.3g} {units} (Otsu): "
                    f"{g['density_per_um2']:.3g} per µm², {g['coverage_pct']:.1f} % coverage, equivalent diameter "
                    f"{g['mean_diameter_nm']:.3g} ± {g['std_diameter_nm']:.3g} nm.</small></p>")
        self.detail_plot.update((P.height_histogram(self.tables["histogram"], units=units)
                                 + P.psd(self.tables["psd"], units=units)).cols(2))
        self.table.value = html_table(self.tables["roughness"], _ROUGH_COLUMNS) + note
        self._draw_profile()

    def _draw_profile(self):
        if self._busy or self.mode != "image" or self.levelled is None:
            return
        from battlab.afm.topography import line_roughness
        from battlab.plot import afm as P

        row = min(int(self.profile_row.value), self.levelled.sizes["y"] - 1)
        line = self.levelled.isel(y=slice(row, row + 1))
        line.attrs = dict(self.levelled.attrs)
        r = line_roughness(line)
        self.profile_plot.update(P.profile(self.levelled, row, ra=r["Ra"], rq=r["Rq"]))

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

        registered, drift = register_series(self.series)
        self.registered = registered
        table = drift[["frame", "dy_px", "dx_px", "confidence"]].copy()
        film, ref = self.truth.get("film_mask"), self.truth.get("reference_mask")
        if film is None or ref is None:
            film, ref = _default_regions(registered)
        table = table.merge(thickness_series(registered, film=film, reference=ref), on="frame")
        upper, lower = self.truth.get("upper_mask"), self.truth.get("lower_mask")
        if upper is not None and lower is not None:
            table = table.merge(step_height_series(registered, upper=upper, lower=lower)
                                .drop(columns=[c for c in ("time_s", "potential_V") if c in registered.coords]),
                                on="frame")
        from battlab.afm.ecafm import volume_change_series

        volume = volume_change_series(registered, region=film, reference=ref)
        table = table.merge(volume[["frame", "volume_change_um3"]], on="frame")
        self.tables = {"ecafm_series": table}
        self._regions = (film, ref)
        self._draw_series()

    def _draw_series(self):
        if self._busy or self.mode != "series" or self.registered is None:
            return
        from battlab.plot import afm as P

        i = int(self.frame.value)
        frame = self.registered.isel(time=i)
        frame.attrs = dict(self.registered.attrs)
        table = self.tables["ecafm_series"]
        lo, hi = np.nanpercentile(self.registered.values, [1, 99])
        self.map_plot.update(P.afm_image(frame, title=f"Frame {i} (registered)", clim=(float(lo), float(hi))))
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
            return {f"levelled_{slug}": np.asarray(self.levelled.values, float)}
        if self.mode == "force" and self.maps is not None:
            return {f"{v}_map": np.asarray(self.maps[v].values, float) for v in ("modulus_GPa", "adhesion_nN")}
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
                          exported_maps=sorted(f"{k}.npy" for k in self._maps()))
            data = self.channels[self.channel.value]
        elif self.mode == "force":
            params.update(model=self.model.value, **self._options())
            data = self.curves
        else:
            params.update(registration="phase correlation, frame to previous frame",
                          regions="demo masks" if "film_mask" in self.truth else "default strip/outside split")
            data = self.series
        return Provenance.for_data("battlab.apps.AFMApp", data, params)


def _default_regions(series):
    """Without user masks: the darkest 20 % of frame 0 (mean over the series) as the bare
    reference and the rest as film, so an uploaded series still shows a thickness trend."""
    z = np.nanmean(np.asarray(series.values, float), axis=0)
    cut = np.nanpercentile(z, 20)
    ref = z <= cut
    return ~ref & np.isfinite(z), ref

