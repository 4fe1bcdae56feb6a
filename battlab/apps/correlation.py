"""Correlation app: every technique on the cycling timeline, maps on one another, statistics."""

from __future__ import annotations

import functools
import html

import ipywidgets as w
import numpy as np
import pandas as pd

from battlab.apps._base import BaseApp, PlotPane, _format_bytes, html_table
from battlab.apps._uploads import safe_display_name
from battlab.errors import InvalidParameterError, MissingDataError

__all__ = ["CorrelationApp"]

_TABS = ["Timeline", "Reality check", "Maps", "Statistics", "Population"]
_CHECK_COLUMNS = [("technique", "technique", "{}"), ("n", "n", "{:d}"), ("mean_difference", "bias (x − x_echem)",
                                                                          "{:+.3f}"),
                  ("rms_difference", "RMS", "{:.3f}"), ("loa_low", "LoA low", "{:+.3f}"),
                  ("loa_high", "LoA high", "{:+.3f}"), ("pearson_r", "r", "{:.3f}"), ("verdict", "verdict", "{}")]
_CORR_COLUMNS = [("x", "x", "{}"), ("y", "y", "{}"), ("method", "method", "{}"), ("n", "n", "{:d}"),
                 ("r", "r", "{:+.3f}"), ("ci_low", "95 % CI low", "{:+.3f}"), ("ci_high", "95 % CI high", "{:+.3f}"),
                 ("p_value", "p", "{:.2g}")]


@functools.lru_cache(maxsize=1)
def _multimodal():
    from battlab.datasets.correlation import make_multimodal

    return make_multimodal()


@functools.lru_cache(maxsize=1)
def _population():
    from battlab.datasets.population import population_demo

    return population_demo()


class CorrelationApp(BaseApp):
    """Correlate techniques in time (one cycling timeline) and space (registered maps).

    Parameters
    ----------
    data : battlab.datasets.correlation.Experiment, optional
        Cycling record, technique tables and maps; the multimodal demo otherwise.
    """

    title = "Correlation of techniques"
    intro = ("Every technique read against the same cycling timeline (clock offsets set or estimated), their "
             "states of lithiation checked against the charge passed, an AFM scan placed in an X-ray slice, "
             "statistics with confidence intervals, and the cell among its population. Upload results tables "
             "(CSV with a time column) exported by the other battlab apps, and the cycling file they ran with.")
    accept = ".csv,.tsv,.txt"

    def __init__(self, data=None, **kw):
        self.experiment = None
        self.truth = None
        self.aligned = {}
        self.registration = None
        self.particles = None
        self.particle_corr = None
        self.common = None
        self.correlations = None
        self.outliers = None
        self.offset_estimates = None
        self.population = None
        self.population_cells = None
        self._busy = False
        super().__init__(data, **kw)

    def demos(self):
        return {"multimodal graphite cell (optical, XRD, EIS, AFM + X-ray maps)": _multimodal}

    # --- layout ----------------------------------------------------------------------
    def _build_controls(self):
        self.echem_upload = self._upload_button(accept=".mpt,.mpr,.csv,.tsv,.txt,.xlsx,.nda,.ndax,.res",
                                         description="Cycling file")
        self._observe_upload(self.echem_upload, self._load_echem_bytes, default_name="cycling")
        self.offsets_box = w.HBox(layout=w.Layout(flex_flow="row wrap"))
        self.columns_box = w.HBox(layout=w.Layout(flex_flow="row wrap"))
        self.estimate_button = w.Button(description="Estimate offsets", icon="clock",
                                        tooltip="cross-correlate each technique's signal with the charge passed")
        self.estimate_button.on_click(lambda _: self._guard("estimating the clock offsets", self._estimate_offsets))
        self.cursor = w.FloatSlider(value=0.0, min=0.0, max=1.0, step=0.01, description="Cursor (h)",
                                    continuous_update=False, layout=w.Layout(width="520px"))
        self.cursor.observe(lambda _: self._guard("moving the cursor", self._update_timeline), "value")
        self.reference_map = w.Dropdown(description="Reference map", style={"description_width": "initial"})
        self.moving_map = w.Dropdown(description="Map to place", style={"description_width": "initial"})
        self.register_button = w.Button(description="Register maps", icon="crosshairs")
        self.register_button.on_click(lambda _: self._guard("registering the maps", self._register))
        self.refine_button = w.Button(description="Refine (mutual information)", icon="magic",
                                      layout=w.Layout(width="230px"),
                                      tooltip="refine the current placement for maps of different contrast "
                                              "(needs SimpleITK)")
        self.refine_button.on_click(lambda _: self._guard("refining the placement", self._refine))
        self.map_upload = self._upload_button(accept=".npy,.tif,.tiff,.csv,.txt", description="Add map")
        self._observe_upload(self.map_upload, self._load_map_bytes, default_name="map")
        self.map_pixel = w.BoundedFloatText(value=0.0, min=0.0, max=1e4, step=0.01, description="its pixel (µm)",
                                            style={"description_width": "initial"}, layout=w.Layout(width="200px"))
        self.landmarks = w.Textarea(
            placeholder="x_moving_um, y_moving_um, x_reference_um, y_reference_um  (one point pair per line)",
            layout=w.Layout(width="460px", height="80px"))
        self.pick_points = w.ToggleButton(value=False, description="Pick by clicking", icon="mouse-pointer",
                                          tooltip="clicks on the two maps add landmark pairs (moving, then reference)")
        self.pick_points.observe(self._on_pick, "value")
        self._clicks = {"moving": [], "reference": []}
        self._click_sources = {}
        self.landmark_kind = w.Dropdown(options=["similarity", "affine"], value="similarity", description="Fit")
        self.landmark_button = w.Button(description="Fit landmarks", icon="map-pin",
                                        tooltip="place the map from point pairs instead of the intensity search")
        self.landmark_button.on_click(lambda _: self._guard("fitting the landmarks", self._fit_landmarks))
        self.opacity = w.FloatSlider(value=0.5, min=0.0, max=1.0, step=0.05, description="Opacity",
                                     continuous_update=False)
        self.opacity.observe(lambda _: self._guard("redrawing the overlay", self._update_overlay), "value")
        self.view = w.ToggleButtons(options=["blend", "checkerboard"], value="blend")
        self.view.observe(lambda _: self._guard("redrawing the overlay", self._update_overlay), "value")
        self.features = w.SelectMultiple(description="Features", rows=5, layout=w.Layout(width="420px"))
        self.features.observe(lambda _: self._guard("updating the statistics", self._update_statistics), "value")
        self.outlier_method = w.Dropdown(options=[("robust z", "robust_z"), ("Mahalanobis", "mahalanobis")],
                                         description="Outliers")
        self.outlier_method.observe(lambda _: self._guard("updating the statistics", self._update_statistics),
                                    "value")
        self.highlight = w.Dropdown(description="Imaged cell", style={"description_width": "initial"})
        self.metric = w.Dropdown(options=[("cycle life", "cycle_life"), ("knee cycle", "knee_cycle"),
                                          ("fade per cycle", "fade_per_cycle"),
                                          ("log₁₀ var ΔQ(V)", "delta_q_log10_variance")], description="Metric")
        for widget in (self.highlight, self.metric):
            widget.observe(lambda _: self._guard("updating the population", self._update_population), "value")
        self.population_button = w.Button(description="Load population demo", icon="users")
        self.population_button.on_click(lambda _: self._guard("summarising the population", self._load_population))
        return [w.HBox([self.echem_upload, w.HTML("<small>the cycling file the techniques ran with (master "
                                                  "clock)</small>")]),
                w.HTML("<small>Clock offset: cycler time = instrument time + offset (s)</small>"),
                w.HBox([self.offsets_box, self.estimate_button])]

    def _plot_area(self):
        self.timeline_plot = PlotPane(min_height_px=520)
        self.readout = w.HTML()
        self.agreement_plot = PlotPane()
        self.check_table = w.HTML()
        style = {"description_width": "initial"}
        self.faraday_half = w.Dropdown(description="Charge of half cycle", style=style, layout=w.Layout(width="260px"))
        self.faraday_volume = w.BoundedFloatText(value=0.0, min=0.0, max=1e15, description="imaged volume (µm³)",
                                                 style=style, layout=w.Layout(width="250px"))
        self.faraday_vm = w.BoundedFloatText(value=13.02, min=0.01, max=1e4, step=0.01,
                                             description="molar volume (cm³/mol)", style=style,
                                             layout=w.Layout(width="250px"))
        self.faraday_z = w.BoundedFloatText(value=1.0, min=0.1, max=20, step=1.0, description="electrons per formula",
                                            style=style, layout=w.Layout(width="220px"))
        self.faraday_button = w.Button(description="Faraday check", icon="balance-scale")
        self.faraday_button.on_click(lambda _: self._guard("checking against Faraday's law", self._faraday))
        self.faraday_table = w.HTML()
        self.reference_plot = PlotPane()
        self.moving_plot = PlotPane()
        self.overlay_plot = PlotPane()
        self.particle_plot = PlotPane()
        self.map_table = w.HTML()
        self.matrix_plot = PlotPane(min_height_px=400)
        self.stats_table = w.HTML()
        self.lag_plot = PlotPane()
        self.population_plot = PlotPane()
        self.delta_q_plot = PlotPane()
        self.population_table = w.HTML()
        pages = [
            w.VBox([self.columns_box, self.cursor, self.timeline_plot.widget, self.readout]),
            w.VBox([w.HBox([self.agreement_plot.widget, self.check_table]),
                    w.HTML("<b>Faraday's law</b>: does the charge passed match the volume an image shows "
                           "transformed? (default molar volume: Li metal, 13.02 cm³/mol)"),
                    w.HBox([self.faraday_half, self.faraday_volume, self.faraday_vm, self.faraday_z,
                            self.faraday_button]), self.faraday_table]),
            w.VBox([w.HBox([self.map_pixel, self.map_upload,
                            w.HTML("<small>a map exported by the AFM, X-ray or TEM app (.npy/.tif) or a CSV grid; "
                                   "enter its pixel size first</small>")]),
                    w.HBox([self.reference_map, self.moving_map, self.register_button, self.refine_button]),
                    w.HBox([self.landmarks, w.VBox([self.pick_points, self.landmark_kind, self.landmark_button])]),
                    w.HBox([self.reference_plot.widget, self.moving_plot.widget]),
                    w.HBox([self.view, self.opacity]),
                    w.HBox([self.overlay_plot.widget, self.particle_plot.widget]), self.map_table]),
            w.VBox([w.HBox([self.features, self.outlier_method]), self.matrix_plot.widget,
                    w.HBox([self.lag_plot.widget, self.stats_table])]),
            w.VBox([w.HBox([self.population_button, self.highlight, self.metric]),
                    w.HBox([self.population_plot.widget, self.delta_q_plot.widget]), self.population_table]),
        ]
        self.tabs = w.Tab(children=pages)
        for i, name in enumerate(_TABS):
            self.tabs.set_title(i, name)
        self.tabs.observe(self._on_tab, "selected_index")
        return self.tabs

    # --- data sources ----------------------------------------------------------------
    def _load_bytes(self, data: bytes, name: str):
        from battlab.correlate.workflow import read_table

        if self.experiment is None:
            raise MissingDataError("load the demo or a cycling file first, then add technique tables.")
        self.set_status(f"Reading {name} ({_format_bytes(len(data))})…")
        table, time_column = read_table(data, name=name)
        key = safe_display_name(name).rsplit(".", 1)[0][:40] or "table"
        exp = self.experiment
        exp.tables[key] = table
        exp.time_columns[key] = time_column
        exp.clock_offsets_s.setdefault(key, 0.0)
        self._accept_data(exp, f"{self.source_label} + {name}", truth=self.truth)

    def _load_map_bytes(self, content, name):
        import tempfile
        from pathlib import Path

        from battlab.correlate.workflow import read_map

        if self.experiment is None:
            raise MissingDataError("load the demo or a cycling file first, then add maps.")
        if not self.map_pixel.value > 0:
            raise MissingDataError(f"enter the pixel size of {name} (µm) before uploading it: the placement and "
                                   "every area depend on it.")
        with tempfile.TemporaryDirectory(prefix="battlab-map-") as tmp:
            path = Path(tmp) / Path(name).name  # the display name (already sanitised) so messages name the file
            path.write_bytes(content)
            image = read_map(path, pixel_size_um=float(self.map_pixel.value), name=Path(name).stem)
        key = Path(name).stem[:40] or "map"
        image = image.assign_attrs(source_name=name)
        self.experiment.images[key] = image
        self._busy = True
        try:
            names = list(self.experiment.images)
            self.reference_map.options = names
            self.moving_map.options = names
            self.moving_map.value = key
        finally:
            self._busy = False
        self.registration = None
        self._draw_maps()
        self.clear_error()
        self.set_status(f"Added map {key}: {image.sizes['y']} × {image.sizes['x']} px at "
                        f"{self.map_pixel.value:g} µm/px; choose the reference and press Register maps.")

    def _draw_maps(self):
        """Reference and moving maps; clicks on them pick landmarks when picking is on."""
        import holoviews as hv
        from bokeh.events import Tap
        from bokeh.models import ColumnDataSource

        from battlab.plot.correlate import map_image

        images = self.experiment.images
        for role, name, pane, cmap in (("reference", self.reference_map.value, self.reference_plot, "gray"),
                                       ("moving", self.moving_map.value, self.moving_plot, "viridis")):
            if not name:
                continue
            fig = hv.render(map_image(images[name], title=f"{name} ({'reference' if role == 'reference' else 'to place'})",
                                      cmap=cmap), backend="bokeh")
            points = self._clicks[role]
            source = ColumnDataSource({"x": [p[0] for p in points], "y": [p[1] for p in points],
                                       "label": [str(k + 1) for k in range(len(points))]})
            fig.scatter("x", "y", source=source, size=10, marker="cross", color="#ff1493", line_width=2)
            fig.text("x", "y", text="label", source=source, text_color="#ff1493", x_offset=6, y_offset=-6)
            self._click_sources[role] = source
            # A click reaches Python through the widget's comm (a Bokeh event), no server needed.
            fig.on_event(Tap, lambda event, role=role: self._guard("picking a landmark", self._on_click, role,
                                                                   event.x, event.y))
            pane.update(fig)

    def _on_click(self, role, x_um, y_um):
        if not self.pick_points.value or x_um is None or y_um is None:
            return
        self._clicks[role].append((float(x_um), float(y_um)))
        points = self._clicks[role]
        source = self._click_sources.get(role)
        if source is not None:
            source.data = {"x": [p[0] for p in points], "y": [p[1] for p in points],
                           "label": [str(k + 1) for k in range(len(points))]}
        pairs = list(zip(self._clicks["moving"], self._clicks["reference"], strict=False))
        self.landmarks.value = "\n".join(f"{m[0]:.3f}, {m[1]:.3f}, {r[0]:.3f}, {r[1]:.3f}" for m, r in pairs)
        n_m, n_r = len(self._clicks["moving"]), len(self._clicks["reference"])
        self.set_status(f"Landmarks: {n_m} on {self.moving_map.value}, {n_r} on {self.reference_map.value}; "
                        "click the same feature on both maps, in the same order, then Fit landmarks.")

    def _on_pick(self, change):
        if change["new"]:
            self._clicks = {"moving": [], "reference": []}
            self.landmarks.value = ""
            self._guard("drawing the maps", self._draw_maps)
            self.set_status("Click a feature on the map to place, then the same feature on the reference; "
                            "repeat for at least 2 (similarity) or 3 (affine) points.")

    def _load_echem_bytes(self, content, name):
        import battlab
        from battlab.datasets.correlation import Experiment

        echem = battlab.load(content, name=name, max_bytes=int(self.upload_limit_mb * 1e6) + 1, kind="echem")
        if self.experiment is None or self.source_label.startswith("demo"):
            # A new cell: the demo's technique tables and maps belong to another one.
            experiment = Experiment(cycling=echem)
            truth = None
        else:
            experiment = self.experiment
            experiment.cycling = echem
            truth = self.truth
        self._accept_data(experiment, name, truth=truth)

    # --- data ------------------------------------------------------------------------
    def _set_data(self, data, label, truth=None):
        from battlab.datasets.correlation import Experiment

        if not isinstance(data, Experiment):
            raise MissingDataError("CorrelationApp needs a battlab.datasets.correlation.Experiment (a cycling "
                                   "table plus technique tables and maps).")
        self.experiment, self.truth = data, truth
        self.registration = self.particles = self.particle_corr = None
        self._busy = True
        try:
            self._build_dataset_controls()
            names = list(data.images)
            self.reference_map.options = names
            self.moving_map.options = names
            if "xray_absorption" in names:
                self.reference_map.value = "xray_absorption"
            if "afm_height" in names:
                self.moving_map.value = "afm_height"
        finally:
            self._busy = False
        self._analyse()
        self._on_tab({"new": self.tabs.selected_index})

    def _build_dataset_controls(self):
        from battlab.correlate.workflow import DEFAULT_SIGNALS, _with_derived

        exp = self.experiment
        self.offset_inputs = {}
        for name in exp.tables:
            box = w.FloatText(value=float(exp.clock_offsets_s.get(name, 0.0)), description=f"{name} (s)",
                              step=1.0, layout=w.Layout(width="190px"), style={"description_width": "initial"})
            box.observe(lambda _: self._guard("applying the clock offsets", self._analyse_and_show), "value")
            self.offset_inputs[name] = box
        self.offsets_box.children = list(self.offset_inputs.values())
        self.column_inputs = {}
        t_end_h = float(exp.cycling["test_time_s"].max()) / 3600.0 if len(exp.cycling) else 1.0
        self.cursor.max = max(t_end_h, 0.01)
        self.cursor.step = self.cursor.max / 200
        self.cursor.value = min(self.cursor.value, self.cursor.max)
        for name, table in {"cycling": exp.cycling, **exp.tables}.items():
            table = _with_derived(name, table)
            skip = {"frame", "pattern", "spectrum", exp.time_columns.get(name, "time_s"), "test_time_s",
                    "unix_time_s"}
            numeric = [c for c in table.columns if c not in skip and pd.api.types.is_numeric_dtype(table[c])]
            if name == "cycling":  # what the charge timeline carries, not every vendor column
                numeric = [c for c in ("voltage_V", "current_A", "charge_mAh", "soc") if c in numeric or
                           c in ("charge_mAh", "soc")]
            if not numeric:
                continue
            default = "voltage_V" if name == "cycling" else DEFAULT_SIGNALS.get(name, numeric[0])
            box = w.Dropdown(options=numeric, value=default if default in numeric else numeric[0],
                             description=name, layout=w.Layout(width="260px"))
            box.observe(lambda _: self._guard("redrawing the timeline", self._update_timeline), "value")
            self.column_inputs[name] = box
        self.columns_box.children = list(self.column_inputs.values())

    def offsets(self) -> dict:
        """The clock offsets (s) as set in the app."""
        values = {}
        for name, box in getattr(self, "offset_inputs", {}).items():
            value = float(box.value)
            if not np.isfinite(value):
                raise InvalidParameterError(f"the clock offset of {name} must be a number of seconds.")
            values[name] = value
        return values

    def _analyse(self):
        from battlab.correlate import workflow as wf

        self.aligned = wf.on_timeline(self.experiment, offsets=self.offsets()) if self.experiment.tables else \
            {"cycling": wf.on_timeline(self.experiment)["cycling"]}
        self.estimates = None
        try:
            self.estimates = wf.lithiation_estimates(self.aligned)
            self.check = wf.reality_check(self.aligned)
        except MissingDataError:
            self.check = pd.DataFrame()
        halves = self.aligned["cycling"]["half_cycle"].dropna().unique()
        self._busy = True
        try:
            options = [(f"half cycle {int(h)}", int(h)) for h in sorted(halves) if h > 0]
            self.faraday_half.options = options
            self.faraday_half.value = options[0][1] if options else None
        finally:
            self._busy = False
        self._common_table()
        self._update_timeline()
        self._update_check()
        self._update_statistics()

    def _analyse_and_show(self):
        if self._busy or self.experiment is None:
            return
        self._analyse()
        self.clear_error()
        self.set_status(f"{self.source_label} — {self.describe_data()}")

    def _common_table(self):
        from battlab.correlate import workflow as wf

        # Only what the timeline tables hold (a cycler file keeps vendor columns the timeline does not carry).
        columns = {name: [c for c in box.options if c not in ("cycle", "half_cycle", "direction")
                          and c in self.aligned[name] and pd.api.types.is_numeric_dtype(self.aligned[name][c])]
                   for name, box in self.column_inputs.items() if name in self.aligned}
        columns = {k: v for k, v in columns.items() if v}
        if len(columns) < 2:
            self.common = None
        else:
            # the densest technique sets the grid; sparser ones are interpolated within twice their spacing
            step = min(float(np.median(np.diff(np.sort(t["test_time_s"].dropna())))) for k, t in self.aligned.items()
                       if k in columns and k != "cycling" and len(t) > 1) if len(columns) > 1 else None
            try:
                self.common = wf.common_table(self.aligned, columns=columns, every_s=step)
            except MissingDataError:
                self.common = None
        options = [c for c in (self.common.columns if self.common is not None else []) if c != "test_time_s"
                   and self.common[c].notna().sum() >= 4 and self.common[c].std() > 0]
        self._busy = True
        try:
            self.features.options = options
            preferred = [c for c in ("cycling:voltage_V", "optical:thickness_um", "optical:lithiation_index",
                                     "xrd:x_xrd", "eis:R1_ohm") if c in options]
            self.features.value = tuple(preferred or options[:4])
        finally:
            self._busy = False

    def _estimate_offsets(self):
        from battlab.correlate import workflow as wf

        if self.experiment is None:
            return
        signals = {name: box.value for name, box in self.column_inputs.items()
                   if name in self.experiment.tables and name in wf.DEFAULT_SIGNALS}
        if not signals:
            raise MissingDataError("no technique table here follows the charge passed; set the offsets by hand.")
        self.offset_estimates = wf.estimate_offsets(self.experiment, signals=signals)
        self._busy = True
        try:
            for row in self.offset_estimates.itertuples():
                if row.correlation >= 0.9:
                    self.offset_inputs[row.dataset].value = round(float(row.clock_offset_s), 1)
        finally:
            self._busy = False
        self._analyse_and_show()
        notes = "; ".join(f"{r.dataset}: {r.clock_offset_s:+.0f} s (±{r.resolution_s:.0f} s, |r| = {r.correlation:.3f}"
                          f"{'' if r.correlation >= 0.9 else ', doubtful: not applied'})"
                          for r in self.offset_estimates.itertuples())
        self.set_status(f"Estimated clock offsets — {notes}")

    # --- views -----------------------------------------------------------------------
    def _on_tab(self, change):
        if self._busy or self.experiment is None:
            return
        index = change.get("new")
        if index == 2 and self.registration is None and self.experiment.images:
            self._guard("registering the maps", self._register)
        elif index == 2:
            self._guard("showing the maps", self._show_maps)
        elif index == 4 and self.population is None:
            self._guard("summarising the population", self._load_population)

    def _update_timeline(self):
        if self._busy or not self.aligned:
            return
        from battlab.plot.correlate import timeline_panels

        cursor_s = float(self.cursor.value) * 3600.0
        columns = {name: box.value for name, box in self.column_inputs.items() if name in self.aligned}
        self.timeline_plot.update(timeline_panels(self.aligned, columns, cursor_s=cursor_s))
        rows = []
        for name, column in columns.items():
            table = self.aligned[name][["test_time_s", column]].dropna()
            if table.empty:
                continue
            k = int(np.argmin(np.abs(table["test_time_s"].to_numpy() - cursor_s)))
            rows.append({"dataset": name, "column": column, "value": table[column].iloc[k],
                         "at_s": table["test_time_s"].iloc[k]})
        self.readout.value = "<b>At the cursor (nearest sample)</b>" + html_table(
            pd.DataFrame(rows), [("dataset", "dataset", "{}"), ("column", "quantity", "{}"),
                                 ("value", "value", "{:.4g}"), ("at_s", "sample time (s)", "{:.0f}")])
        self.table.value = self._summary_html()

    def _update_check(self):
        from battlab.plot.correlate import lithiation_agreement

        self.agreement_plot.update(lithiation_agreement(self.estimates))
        self.check_table.value = (html_table(self.check, _CHECK_COLUMNS) if self.check is not None
                                  and not self.check.empty else "<i>No technique reports a state of lithiation.</i>")

    def _faraday(self):
        from battlab.correlate.population import faraday_check

        if self.faraday_half.value is None:
            raise MissingDataError("the cycling record has no half cycle with current.")
        if not self.faraday_volume.value > 0:
            raise MissingDataError("enter the volume the image shows transformed (µm³), e.g. the plated or "
                                   "converted region's area × thickness.")
        tl = self.aligned["cycling"]
        part = tl[tl["half_cycle"] == self.faraday_half.value]
        # A row's charge flows over the interval before it: the half cycle starts at the previous row's value.
        first = tl.index.get_loc(part.index[0])
        start = tl["charge_C"].iloc[first - 1] if first > 0 else 0.0
        charge_C = abs(float(part["charge_C"].iloc[-1] - start))
        self.faraday = faraday_check(charge_C, volume_um3=float(self.faraday_volume.value),
                                     molar_volume_cm3_mol=float(self.faraday_vm.value),
                                     electrons_per_formula=float(self.faraday_z.value))
        self.faraday_table.value = html_table(self.faraday, [
            ("charge_C", "charge passed (C)", "{:.4g}"), ("expected_charge_C", "charge for the volume (C)", "{:.4g}"),
            ("ratio", "ratio", "{:.3f}"), ("verdict", "verdict", "{}"), ("hint", "what it may mean", "{}")])
        self.clear_error()

    def _register(self):
        from battlab.correlate import workflow as wf

        ref, mov = self.reference_map.value, self.moving_map.value
        if not ref or not mov:
            raise MissingDataError("this experiment has no maps to register.")
        if ref == mov:
            raise InvalidParameterError("choose two different maps: a reference and a map to place in it.")
        self.set_status(f"Registering {mov} in {ref}…")
        self.registration = wf.register_maps(self.experiment, reference=ref, moving=mov)
        self.particles = self.particle_corr = None
        self._join_particles()
        self._show_maps()
        self.clear_error()
        t = self.registration.transform
        self.set_status(f"Registered {mov} in {ref}: rotation {t.rotation_deg:.2f}°, scale {t.scale:.4f}, "
                        f"confidence (NCC) {self.registration.confidence:.3f}")

    def _refine(self):
        from battlab.correlate.space import refine_mutual_information

        if self.registration is None:
            raise MissingDataError("place the map first (Register maps or landmarks); mutual information refines "
                                   "a placement that is already close.")
        images = self.experiment.images
        self.set_status("Refining by mutual information…")
        before = self.registration.transform
        self.registration = refine_mutual_information(images[self.reference_map.value],
                                                      images[self.moving_map.value], before)
        self.particles = self.particle_corr = None
        self._join_particles()
        self._show_maps()
        self.clear_error()
        t = self.registration.transform
        self.set_status(f"Refined by mutual information: rotation {before.rotation_deg:.2f}° → {t.rotation_deg:.2f}°, "
                        f"scale {t.scale:.4f}, NCC {self.registration.confidence:.3f}")

    def _fit_landmarks(self):
        from battlab.correlate.space import fit_landmarks

        rows = []
        for k, line in enumerate(self.landmarks.value.strip().splitlines(), start=1):
            if not line.strip():
                continue
            try:
                values = [float(v) for v in line.replace(";", ",").replace("\t", ",").split(",") if v.strip()]
            except ValueError:
                raise InvalidParameterError(f"landmark line {k} is not four numbers: {line.strip()[:60]!r}") from None
            if len(values) != 4:
                raise InvalidParameterError(f"landmark line {k} has {len(values)} numbers; give x_moving_um, "
                                            "y_moving_um, x_reference_um, y_reference_um.")
            rows.append(values)
        if not rows:
            raise MissingDataError("enter point pairs first: one line per landmark, four numbers in µm.")
        pts = np.asarray(rows)
        self.registration = fit_landmarks(pts[:, :2], pts[:, 2:], kind=self.landmark_kind.value)
        self.particles = self.particle_corr = None
        self._join_particles()
        self._show_maps()
        self.clear_error()
        t = self.registration.transform
        self.set_status(f"Placed {self.moving_map.value} from {len(rows)} landmarks: rotation {t.rotation_deg:.2f}°, "
                        f"scale {t.scale:.4f}, RMS residual {self.registration.rms_um:.3g} µm")

    def _join_particles(self):
        from battlab.correlate import workflow as wf

        ref, mov = self.reference_map.value, self.moving_map.value
        images = self.experiment.images
        if {"xray_soc", "afm_modulus"} <= set(images) and ref.startswith("xray") and mov.startswith("afm"):
            from battlab.correlate.stats import correlation_table

            self.particles = wf.particle_table(self.experiment, self.registration, segment_on=ref)
            if len(self.particles) >= 4:
                self.particle_corr = correlation_table(self.particles, columns=["soc", "modulus_GPa"],
                                                       method=("pearson",))

    def _show_maps(self):
        from battlab.plot.correlate import particle_scatter

        self._draw_maps()
        self._update_overlay()
        self.particle_plot.update(particle_scatter(self.particles, "soc", "modulus_GPa",
                                                   correlation=self.particle_corr))
        self.map_table.value = self._map_html()

    def _update_overlay(self):
        if self._busy or self.registration is None:
            return
        from battlab.correlate.space import blend, checkerboard, resample_to
        from battlab.plot.correlate import overlay

        images = self.experiment.images
        ref = images[self.reference_map.value]
        moved = resample_to(images[self.moving_map.value], ref, self.registration.transform)
        if self.view.value == "blend":
            composite = blend(ref, moved, alpha=float(self.opacity.value))
        else:
            composite = checkerboard(ref, moved, tile_um=5.0)
        self.overlay_plot.update(overlay(composite, title=f"{self.view.value}: {self.moving_map.value} on "
                                                          f"{self.reference_map.value}"))

    def _map_html(self):
        from battlab.correlate.space import fov_overlap, resolution_table

        if self.registration is None:
            return ""
        images = self.experiment.images
        ref, mov = images[self.reference_map.value], images[self.moving_map.value]
        t = self.registration.transform
        reg = pd.DataFrame([{"method": self.registration.method, "rotation_deg": t.rotation_deg, "scale": t.scale,
                             "tx_um": t.translation_um[0], "ty_um": t.translation_um[1],
                             "confidence": self.registration.confidence}])
        out = "<b>Placement (map → reference)</b>" + html_table(
            reg, [("method", "method", "{}"), ("rotation_deg", "rotation (°)", "{:.2f}"), ("scale", "scale", "{:.4f}"),
                  ("tx_um", "x offset (µm)", "{:.2f}"), ("ty_um", "y offset (µm)", "{:.2f}"),
                  ("confidence", "NCC", "{:.3f}")])
        res = resolution_table(ref, mov)
        out += "<b>Field of view and resolution</b>" + html_table(res, [(c, c, "{:.4g}" if pd.api.types.is_numeric_dtype(
            res[c]) else "{}") for c in res.columns])
        overlap = fov_overlap(ref, mov, t)
        out += "<p>" + html.escape(", ".join(f"{k}: {v:.3g}" if isinstance(v, float) else f"{k}: {v}"
                                             for k, v in overlap.items())) + "</p>"
        if self.particle_corr is not None:
            out += "<b>Per-particle correlation</b>" + html_table(self.particle_corr, _CORR_COLUMNS)
        return out

    def _update_statistics(self):
        if self._busy:
            return
        from battlab.correlate.stats import correlation_table, flag_outliers
        from battlab.plot.correlate import scatter_matrix

        cols = list(self.features.value)
        if self.common is None or len(cols) < 2:
            self.correlations = self.outliers = None
            self.matrix_plot.update(scatter_matrix(pd.DataFrame(), []))
            self.stats_table.value = "<i>Choose at least two features measured over a shared stretch of time.</i>"
            return
        data = self.common[cols].dropna()
        self.correlations = correlation_table(data, columns=cols)
        self.outliers = flag_outliers(data, columns=cols, method=self.outlier_method.value)
        flags = self.outliers["outlier"].to_numpy(dtype=bool)
        self.matrix_plot.update(scatter_matrix(data, cols, flagged=flags))
        extra = ""
        self.pca = None
        if len(cols) >= 3 and len(data) > len(cols):
            from battlab.correlate.stats import combined_pca

            self.pca = combined_pca(data, columns=cols, n_components=min(3, len(cols)))
            ratio = ", ".join(f"PC{i + 1} {v:.0%}" for i, v in enumerate(self.pca.explained_variance_ratio))
            extra = f"<p><b>PCA of the standardised features:</b> {html.escape(ratio)}</p>"
        self._update_lag(cols)
        self.stats_table.value = (f"<p>{len(data)} common time points; {int(flags.sum())} flagged as outliers "
                                  f"({html.escape(self.outlier_method.label)}).</p>" + extra
                                  + html_table(self.correlations, _CORR_COLUMNS))

    def _update_lag(self, cols):
        """Lag correlation of the first two features: which one leads, by how much."""
        import holoviews as hv

        from battlab.correlate.stats import lag_correlation
        from battlab.plot._core import empty

        self.lag = None
        grid = self.common.dropna(subset=cols[:2])
        if len(grid) < 12:
            self.lag_plot.update(empty("Too few common time points for a lag correlation."))
            return
        spacing = float(np.median(np.diff(grid["test_time_s"])))
        self.lag = lag_correlation(grid[cols[0]].to_numpy(), grid[cols[1]].to_numpy(), sample_spacing_s=spacing,
                                   absolute=True, min_overlap=max(6, len(grid) // 3))
        table = self.lag.table
        self.lag_plot.update(hv.Curve((table["lag_s"], table["r"]), "lag (s)", "r").opts(
            width=420, height=260, title=f"{cols[1]} vs {cols[0]}: best lag {self.lag.lag_s:+.0f} s "
                                         f"(r = {self.lag.r:+.2f})", fontsize={"title": 9}))

    def _load_population(self):
        from battlab.correlate.population import population_summary

        demo = _population()
        self.set_status("Summarising the population (knee, cycle life, ΔQ(V))…")
        self.population = population_summary(demo.data)
        self.population_cells = demo.truth.get("imaged_cell")
        self._busy = True
        try:
            self.highlight.options = list(self.population["cell"])
            if self.population_cells in self.highlight.options:
                self.highlight.value = self.population_cells
        finally:
            self._busy = False
        self._update_population()
        self.clear_error()
        self.set_status(f"Population of {len(self.population)} cells summarised.")

    def _update_population(self):
        if self._busy or self.population is None:
            return
        from battlab.correlate.population import highlight_cell
        from battlab.plot.correlate import population_histogram

        self.population_plot.update(population_histogram(self.population, self.metric.value,
                                                         highlight=self.highlight.value))
        self._update_delta_q()
        standing = highlight_cell(self.population, self.highlight.value)
        self.standing = standing
        self.population_table.value = (f"<b>{html.escape(str(self.highlight.value))} in its population of "
                                       f"{len(self.population)} cells</b>" + html_table(
                                           standing, [("metric", "metric", "{}"), ("value", "value", "{:.4g}"),
                                                      ("rank", "rank", "{:.0f}"),
                                                      ("percentile", "percentile", "{:.0f}"),
                                                      ("population_median", "median", "{:.4g}"),
                                                      ("note", "note", "{}")]))

    def _update_delta_q(self):
        import holoviews as hv

        from battlab.correlate.population import delta_q_v
        from battlab.plot._core import empty

        cell = _population().data.get(self.highlight.value)
        if cell is None:
            self.delta_q_plot.update(empty("Pick a cell."))
            return
        try:
            dq = delta_q_v(cell, cycle_a=10, cycle_b=100)
        except MissingDataError as exc:
            self.delta_q_plot.update(empty(str(exc)))
            return
        self.delta_q_plot.update(hv.Curve(dq.curve, "voltage_V", "delta_q_mAh").opts(
            width=420, height=300, color="#d62728", xlabel="Potential (V)", ylabel="ΔQ₁₀₀₋₁₀(V) (mAh)",
            title=f"{self.highlight.value}: var ΔQ = {dq.features['delta_q_variance_mAh2']:.2e} mAh²"))

    def _summary_html(self):
        rows = []
        for name, table in self.aligned.items():
            if name == "cycling":
                continue
            rows.append({"dataset": name, "rows": len(table), "offset_s": self.offsets().get(name, 0.0),
                         "start_s": table["test_time_s"].min() if len(table) else np.nan,
                         "end_s": table["test_time_s"].max() if len(table) else np.nan})
        if not rows:
            return "<i>Only the cycling record so far: upload technique tables (CSV with a time column).</i>"
        return html_table(pd.DataFrame(rows), [("dataset", "dataset", "{}"), ("rows", "rows on the timeline", "{:d}"),
                                               ("offset_s", "clock offset (s)", "{:+.1f}"),
                                               ("start_s", "from (s)", "{:.0f}"), ("end_s", "to (s)", "{:.0f}")])

    def describe_data(self):
        if self.experiment is None:
            return ""
        parts = [f"{len(self.experiment.cycling)} cycler rows"]
        parts += [f"{name} ({len(t)} rows)" for name, t in self.experiment.tables.items()]
        if self.experiment.images:
            parts.append(f"{len(self.experiment.images)} maps")
        return ", ".join(parts)

    # --- export ----------------------------------------------------------------------
    def _results(self):
        if not self.aligned:
            raise MissingDataError("nothing analysed yet.")
        out = {f"timeline_{name}": table for name, table in self.aligned.items() if name != "cycling"}
        from battlab.correlate.timeline import per_cycle

        for name, table in self.aligned.items():
            if name != "cycling" and "cycle" in table and len(table):
                out[f"per_cycle_{name}"] = per_cycle(table, by=("cycle", "direction"),
                                                     funcs=("mean", "min", "max", "range"))
        out["clock_offsets"] = pd.DataFrame([{"dataset": k, "clock_offset_s": v} for k, v in self.offsets().items()])
        if self.offset_estimates is not None:
            out["clock_offset_estimates"] = self.offset_estimates
        if self.check is not None and not self.check.empty:
            out["reality_check"] = self.check
        if self.common is not None:
            out["common_time_grid"] = self.common
        if self.correlations is not None:
            out["correlations"] = self.correlations
        if self.registration is not None:
            t = self.registration.transform
            out["registration"] = pd.DataFrame([{"reference": self.reference_map.value, "moving": self.moving_map.value,
                                                 "method": self.registration.method, "rotation_deg": t.rotation_deg,
                                                 "scale": t.scale, "tx_um": t.translation_um[0],
                                                 "ty_um": t.translation_um[1],
                                                 "confidence": self.registration.confidence}])
        if self.particles is not None:
            out["particles"] = self.particles
        if self.population is not None:
            out["population_summary"] = self.population
        if getattr(self, "faraday", None) is not None:
            out["faraday_check"] = self.faraday
        if getattr(self, "pca", None) is not None:
            out["pca_loadings"] = self.pca.loadings.reset_index()
        if getattr(self, "lag", None) is not None:
            out["lag_correlation"] = self.lag.table
        return out

    def _figures(self):
        figures = {"timeline": self.timeline_plot.object, "reality_check": self.agreement_plot.object,
                   "overlay": self.overlay_plot.object, "particles": self.particle_plot.object,
                   "scatter_matrix": self.matrix_plot.object, "population": self.population_plot.object}
        return {name: fig for name, fig in figures.items() if fig is not None}  # tabs not opened yet have none

    def _provenance(self):
        from battlab.provenance import Provenance

        prov = Provenance.for_data("battlab.correlate", self.experiment.cycling,
                                   {"clock_offsets_s": self.offsets(), "source": self.source_label,
                                    "reference_map": self.reference_map.value, "moving_map": self.moving_map.value})
        return prov
