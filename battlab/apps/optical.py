"""Side-view operando optical microscopy app: movie + cycling, thickness, stages, front, plating, events."""

from __future__ import annotations

import logging
from pathlib import Path

import ipywidgets as w
import numpy as np
import pandas as pd

from battlab.apps._base import BaseApp, PlotPane, html_table
from battlab.errors import BattlabError, CorruptFileError, InvalidParameterError, MissingDataError

__all__ = ["OpticalApp"]

log = logging.getLogger("battlab.apps")

MOVIE_SUFFIXES = (".tif", ".tiff", ".zip", ".mp4", ".avi", ".mov")
_MAX_EVENT_ROWS = 100
ELECTRODE, PLATING = "electrode", "plating"

_TABLE_COLUMNS = [
    ("cycle", "cycle", "{:d}"),
    ("frames", "frames", "{:d}"),
    ("peak_expansion_pct", "peak ε (%)", "{:.2f}"),
    ("residual_expansion_pct", "residual ε (%)", "{:.2f}"),
    ("recovery_ratio", "recovery ratio", "{:.3f}"),
    ("k_um_per_s_n", "front k (µm/sⁿ)", "{:.4g}"),
    ("n", "front n", "{:.3f}"),
    ("n_stderr", "± n", "{:.3f}"),
    ("drift_max_um", "max drift (µm)", "{:.3f}"),
    ("drift_min_confidence", "min drift confidence", "{:.2f}"),
]
_PLATING_COLUMNS = [
    ("onset_time_min", "dendrite onset (min)", "{:.1f}"),
    ("max_dendrite_count", "dendrites", "{:d}"),
    ("peak_deposit_um", "peak deposit (µm)", "{:.2f}"),
    ("faraday_thickness_at_peak_um", "dense Li, Faraday (µm)", "{:.2f}"),
    ("apparent_density_g_cm3", "apparent density (g/cm³)", "{:.3f}"),
    ("porosity", "porosity", "{:.3f}"),
    ("peak_roughness_um", "roughness at peak (µm)", "{:.2f}"),
    ("residual_um", "dead Li after stripping (µm)", "{:.2f}"),
    ("dead_li_fraction", "dead Li fraction", "{:.3f}"),
]
_EVENT_COLUMNS = [
    ("event", "#", "{:d}"),
    ("kind", "kind", "{}"),
    ("frame", "frame", "{:.0f}"),
    ("time_min", "t (min)", "{:.1f}"),
    ("x_um", "x (µm)", "{:.1f}"),
    ("y_um", "y (µm)", "{:.1f}"),
    ("area_px", "area (px)", "{:.0f}"),
    ("contrast", "ΔI (counts)", "{:.1f}"),
    ("voltage_before_V", "V before (V)", "{:.4f}"),
    ("voltage_after_V", "V after (V)", "{:.4f}"),
]
_COMPARE_COLUMNS = [
    ("label", "cycle", "{}"),
    ("lithiation_s", "lithiation (min)", "{:.1f}"),
    ("delithiation_s", "delithiation (min)", "{:.1f}"),
    ("final_lithiation_depth", "d* at end of lithiation", "{:.3f}"),
    ("front_k_um_per_s_n", "front k (µm/sⁿ)", "{:.4g}"),
    ("front_n", "front n", "{:.3f}"),
    ("k_ratio_to_first", "k / k(first)", "{:.3f}"),
    ("max_gap", "hysteresis max |Δd*|", "{:.3f}"),
    ("area", "hysteresis area", "{:.3f}"),
]


def _graphite_comparison_demo():
    from battlab.datasets.optical import make_graphite_movie

    demo = make_graphite_movie(cycle=10)
    demo.truth["compare_with"] = {"cycle 1": make_graphite_movie(cycle=1)}
    demo.truth["label"] = "cycle 10"
    return demo


class OpticalApp(BaseApp):
    """Side-view operando optical microscopy: thickness/expansion, colour stages, front, Li plating, events.

    Parameters
    ----------
    data : dict, DataArray, optional
        ``{"movie": DataArray, "echem": DataFrame}`` or a movie alone
        (:func:`battlab.imaging.open_movie`); the graphite demo otherwise.
    pixel_size_um : float, optional
        Initial pixel size (µm/px).
    """

    title = "Operando optical microscopy (side view)"
    intro = ("Electrode cross-section movie beside the cycling: thickness and expansion from the electrode "
             "edges, lithiation stages from colour (CIELAB or HSV), the lithiation front and its √t kinetics, "
             "cycles compared; or Li metal plating (height profile, roughness, dendrites, Faraday thickness, "
             "dead Li); rare events (shorts, cracks) marked. Upload the movie (TIFF, zip of PNG, MP4) and the "
             "cycler file separately.")
    accept = ".tif,.tiff,.zip,.mp4,.avi,.mov,.mpt,.mpr,.csv,.tsv,.txt,.xlsx"

    def __init__(self, data=None, *, pixel_size_um: float | None = None, **kw):
        self._initial_px = pixel_size_um
        self.movie = None
        self.echem = None
        self.result = None
        self.cycles = None
        self.fit = None
        self.events = None
        self.plating = None
        self.heights = None
        self.plating_summary = None
        self.comparison = None  # (curves, summary)
        self.kept_cycles: dict[str, pd.DataFrame] = {}
        self._echem_uploaded = False
        super().__init__(data, **kw)

    def demos(self):
        from battlab.datasets.optical import make_graphite_movie, make_plating_movie

        return {"graphite side view, cycle 1 (√t front, 10 % expansion)": make_graphite_movie,
                "graphite side view, cycle 10 (slower front)": lambda: make_graphite_movie(cycle=10),
                "graphite cycle 10 compared with cycle 1": _graphite_comparison_demo,
                "Li‖Li plating then stripping (mossy layer, dendrites, dead Li)":
                    lambda: make_plating_movie(strip_frames=12, onset_frame=14.5),
                "Li‖Li soft short and an electrolyte crack (rare events)":
                    lambda: make_plating_movie(short_frame=30.3, crack_frame=12)}

    # --- controls --------------------------------------------------------------------
    def _build_controls(self):
        style = {"description_width": "initial"}
        self.mode = w.ToggleButtons(options=[("electrode (thickness, colour stages)", ELECTRODE),
                                             ("Li metal plating", PLATING)], value=ELECTRODE,
                                    description="Analysis", style=style)
        self.pixel_size = w.BoundedFloatText(value=self._initial_px or 0.0, min=0.0, max=1e4, step=0.01,
                                             description="Pixel size (µm/px, required)", style=style,
                                             layout=w.Layout(width="280px"))
        self.separator = w.Dropdown(options=[("left edge", "left"), ("right edge", "right"), ("top edge", "top"),
                                             ("bottom edge", "bottom")], value="left",
                                    description="Separator side", style=style, layout=w.Layout(width="260px"))
        self.rows = w.IntRangeSlider(value=(0, 1), min=0, max=1, description="ROI rows (px)", style=style,
                                     continuous_update=False, layout=w.Layout(width="420px"))
        self.cols = w.IntRangeSlider(value=(0, 1), min=0, max=1, description="ROI columns (px)", style=style,
                                     continuous_update=False, layout=w.Layout(width="420px"))
        self.max_de = w.FloatSlider(value=25.0, min=5.0, max=60.0, step=1.0, description="colour cutoff ΔE",
                                    continuous_update=False, style=style)
        self.colour_space = w.Dropdown(options=[("CIELAB", "lab"), ("HSV", "hsv")], value="lab",
                                       description="Colour space", style=style, layout=w.Layout(width="200px"))
        self.clock_offset = w.FloatText(value=0.0, description="Clock offset (s)", style=style,
                                        layout=w.Layout(width="200px"))
        self.frame = w.IntSlider(value=0, min=0, max=0, description="Frame", style=style, continuous_update=False,
                                 layout=w.Layout(width="460px"))
        self.play = w.Play(value=0, min=0, max=0, interval=400, description="play")
        w.jslink((self.play, "value"), (self.frame, "value"))
        self.frame_interval = w.BoundedFloatText(value=0.0, min=0.0, max=1e6, step=1.0,
                                                 description="Frame interval (s, 0 = from file)", style=style,
                                                 layout=w.Layout(width="280px"))
        self.show_classes = w.Checkbox(value=False, description="show colour classes", indent=False)
        self.x_axis = w.ToggleButtons(options=["time", "capacity"], value="time", description="x axis", style=style)
        self.drift = w.Checkbox(value=True, description="correct stage drift (phase correlation)", indent=False)
        self.find_events = w.Checkbox(value=True, description="find rare events", indent=False)
        self.event_sigma = w.BoundedFloatText(value=6.0, min=2.0, max=50.0, step=0.5,
                                              description="event threshold (× noise σ)", style=style,
                                              layout=w.Layout(width="250px"))
        self.area = w.BoundedFloatText(value=1.0, min=1e-6, max=1e4, step=0.1, description="Electrode area (cm²)",
                                       style=style, layout=w.Layout(width="220px"))
        self.onset_um = w.BoundedFloatText(value=0.5, min=0.01, max=1e3, step=0.1,
                                           description="dendrite onset: roughness > (µm)", style=style,
                                           layout=w.Layout(width="280px"))
        self.prominence_um = w.BoundedFloatText(value=2.0, min=0.01, max=1e3, step=0.1,
                                                description="dendrite prominence (µm)", style=style,
                                                layout=w.Layout(width="250px"))
        self.compare_label = w.Text(value="cycle 1", description="label", style=style, layout=w.Layout(width="180px"))
        self.keep_button = w.Button(description="Keep for cycle comparison", icon="thumb-tack")
        self.keep_button.on_click(lambda _: self._guard("keeping the cycle", self._keep_cycle))
        self.clear_button = w.Button(description="Clear comparison", icon="trash")
        self.clear_button.on_click(lambda _: self._guard("clearing the comparison", self._clear_kept))
        for widget in (self.pixel_size, self.separator, self.rows, self.cols, self.max_de, self.clock_offset,
                       self.frame_interval, self.colour_space, self.drift, self.find_events, self.event_sigma,
                       self.area, self.onset_um, self.prominence_um, self.mode):
            widget.observe(lambda _: self._guard("analysing the movie", self._analyse), "value")
        for widget in (self.frame, self.show_classes):
            widget.observe(lambda _: self._guard("showing the frame", self._update_frame), "value")
        self.x_axis.observe(lambda _: self._guard("updating the plots", self._update_series), "value")
        self.electrode_box = w.VBox([w.HBox([self.max_de, self.colour_space, self.x_axis]),
                                     w.HBox([self.drift, self.compare_label, self.keep_button, self.clear_button])])
        self.plating_box = w.HBox([self.area, self.onset_um, self.prominence_um],
                                  layout=w.Layout(display="none"))
        return [self.mode, w.HBox([self.pixel_size, self.separator]), w.HBox([self.frame_interval, self.clock_offset]),
                w.HBox([self.rows, self.cols]), self.electrode_box, self.plating_box,
                w.HBox([self.find_events, self.event_sigma]),
                w.HBox([self.play, self.frame, self.show_classes])]

    def _plot_area(self):
        self.frame_plot = PlotPane()
        self.voltage_plot = PlotPane()
        self.kymo_plot = PlotPane()
        self.expansion_plot = PlotPane()
        self.fraction_plot = PlotPane()
        self.compare_plot = PlotPane()
        self.events_table = w.HTML(layout=w.Layout(max_height="220px", overflow="auto"))
        self.events_table.add_class("battlab-events")
        self.compare_table = w.HTML(layout=w.Layout(max_height="200px", overflow="auto"))
        self.compare_table.add_class("battlab-compare")
        self.compare_box = w.VBox([w.HTML("<b>Cycles compared</b> (relative depth of charge vs relative time)"),
                                   self.compare_plot.widget, self.compare_table])
        return w.VBox([w.HBox([self.frame_plot.widget, self.voltage_plot.widget]),
                       w.HBox([self.kymo_plot.widget, self.expansion_plot.widget]),
                       w.HBox([self.fraction_plot.widget, self.compare_box]),
                       w.HTML("<b>Events</b> (shorts from the voltage, sudden local changes in the movie)"),
                       self.events_table])

    # --- data ------------------------------------------------------------------------
    def _load_bytes(self, data: bytes, name: str):
        if Path(name).suffix.lower() in MOVIE_SUFFIXES:
            from battlab.imaging.movie import _EXPORT_HINT, VIDEO_SUFFIXES, open_movie

            self.set_status(f"Opening movie {name}…")
            # The movie reader needs a file: the copy the upload store keeps (read-only).
            path = self._keep_upload(data, name)
            if path is None:
                raise BattlabError(f"{name} could not be kept on the server (see the server log), so the movie "
                                   "cannot be opened; try again or ask the administrator about disk space.")
            px = self.pixel_size.value or None
            try:
                movie = open_movie(path, pixel_size_um=px if px else 1.0)
            except CorruptFileError as exc:
                if Path(name).suffix.lower() not in VIDEO_SUFFIXES:
                    raise
                # ffmpeg's report names the stored copy on the server and the server's build:
                # it goes to the log, the page gets the gist.
                log.warning("battlab app: %s could not be decoded as video: %s", name, exc)
                raise CorruptFileError(f"{name} cannot be decoded as video: the file is damaged, incomplete or "
                                       f"not a movie. Check the copy is complete, or {_EXPORT_HINT}.") from None
            if not px:
                movie.attrs["pixel_size_um"] = float("nan")
            # a new movie keeps an uploaded cycling file, never the demo's
            self._accept_data({"movie": movie, "echem": self.echem if self._echem_uploaded else None}, name)
            return
        super()._load_bytes(data, name)

    def _set_data(self, data, label, truth=None):
        if isinstance(data, dict):
            movie, echem = data.get("movie"), data.get("echem")
            if truth is not None:
                self._echem_uploaded = False
        elif isinstance(data, pd.DataFrame):
            if self.movie is None:
                raise MissingDataError("open a movie first, then the cycling file.")
            movie, echem = self.movie, data
            self._echem_uploaded = True
        else:
            movie, echem = data, None
        if movie is None or not hasattr(movie, "dims") or tuple(movie.dims) != ("time", "y", "x", "channel"):
            raise InvalidParameterError(f"{label}: not a movie; upload a TIFF stack, a zip of PNG frames or an MP4.")
        mode = self.mode.value
        if truth is not None:
            mode = PLATING if "height_um" in truth else ELECTRODE
        if mode == ELECTRODE and movie.sizes["channel"] != 3:
            raise InvalidParameterError(f"{label} has {movie.sizes['channel']} colour channel(s); the colour-stage "
                                        "analysis needs RGB frames (the Li metal plating analysis works on grey "
                                        "movies).")
        if echem is not None:
            from battlab.echem.cycling import clean_timeseries

            echem = clean_timeseries(echem)
        self.movie, self.echem = movie, echem
        px = movie.attrs.get("pixel_size_um")
        if truth and truth.get("pixel_size_um"):
            px = truth["pixel_size_um"]
        ny, nx = movie.sizes["y"], movie.sizes["x"]
        n = movie.sizes["time"]
        with self._quiet():
            self.mode.value = mode
            self._show_mode()
            if px and np.isfinite(px) and not (self._initial_px and not truth):
                self.pixel_size.value = float(px)
            for slider, size in ((self.rows, ny), (self.cols, nx)):
                with slider.hold_trait_notifications():
                    slider.max = size
                    slider.min = 0
                slider.value = (0, size)
            self.frame.max = self.play.max = n - 1
            self.frame.value = min(self.frame.value, n - 1)
            if truth and truth.get("separator"):
                self.separator.value = truth["separator"]
            if truth and truth.get("area_cm2"):
                self.area.value = float(truth["area_cm2"])
        if truth is not None:
            self.kept_cycles = {}
            for name, other in (truth.get("compare_with") or {}).items():
                self.kept_cycles[name] = self._electrode_analysis(other.data["movie"], other.data["echem"],
                                                                 own=False).frames
            self.compare_label.value = truth.get("label", f"cycle {truth.get('cycle', 1)}")
        self._analyse()

    def _quiet(self):
        app = self

        class _Quiet:
            def __enter__(self):
                app._busy = True

            def __exit__(self, *exc):
                app._busy = False

        return _Quiet()

    def _show_mode(self):
        plating = self.mode.value == PLATING
        self.plating_box.layout.display = "flex" if plating else "none"
        self.electrode_box.layout.display = "none" if plating else "flex"
        self.show_classes.layout.display = "none" if plating else "flex"
        self.compare_box.layout.display = "none" if plating else "flex"

    @property
    def roi(self):
        return (*self.rows.value, *self.cols.value)

    def _movie_key(self):
        """What the app's timed movie is made of: the loaded movie and the frame-interval input."""
        return (self.movie, float(self.frame_interval.value))

    def _electrode_analysis(self, movie, echem, *, own=True):
        """The colour-stage analysis of the app's movie (``own``: with its ROI), or of a kept cycle's."""
        from battlab.optical.sideview import _calibrate, _measure_movie, _pixel_size

        roi, drift = (self.roi if own else None), ("auto" if self.drift.value else None)
        px = _pixel_size(movie, self.pixel_size.value)  # refused before any frame is read
        # The pixels are measured again only when a control that changes their reading moves (the slow
        # part); the pixel size, frame times, clock offset and cycling file only re-calibrate them.
        key = (self.movie if own else movie, self.separator.value, roi, float(self.max_de.value),
               self.colour_space.value, drift)
        measured = self._memo("electrode pixels" if own else "kept pixels", key, lambda: _measure_movie(
            movie, separator=self.separator.value, roi=roi, max_delta_e=self.max_de.value, drift=drift,
            colour_space=self.colour_space.value))
        # Moves of the event, area or dendrite controls leave the calibrated result as it was too.
        key = (measured, self._movie_key() if own else movie, echem, px, float(self.clock_offset.value))
        return self._memo("electrode" if own else "kept cycle", key, lambda: _calibrate(
            measured, movie, pixel_size_um=px, echem=echem, clock_offset_s=self.clock_offset.value))

    def _analyse(self):
        if self.movie is None or getattr(self, "_busy", False):
            return
        import warnings

        self._show_mode()
        if not self.pixel_size.value:
            self.result = self.plating = None
            raise MissingDataError("set the pixel size (µm/px) from the microscope's scale bar: thickness and "
                                   "front positions are in µm.")
        movie, warning = self._timed_movie(), None
        echem = self.echem
        if echem is not None and not movie.attrs.get("time_known", True):
            echem, warning = None, (f"{movie.attrs.get('source_name', 'the movie')} has no frame times: set the "
                                    "frame interval (s) to line the frames up with the cycling file.")
        if self.mode.value == ELECTRODE and movie.sizes["channel"] != 3:
            raise InvalidParameterError("the colour-stage analysis needs RGB frames; choose the Li metal plating "
                                        "analysis for a grey movie.")
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            if self.mode.value == ELECTRODE:
                w_ = self._analyse_electrode(movie, echem)
            else:
                w_ = self._analyse_plating(movie, echem)
            warning = warning or w_
            self.events = None
            if self.find_events.value:
                from battlab.optical import find_events, local_change_events

                # The movie is searched again only when the search changes, not its clock or the cycling file.
                key = (self.movie, self.separator.value, self.roi, float(self.event_sigma.value))
                local = self._memo("local changes", key, lambda: local_change_events(
                    movie, separator=self.separator.value, roi=self.roi, threshold_sigma=self.event_sigma.value))
                key = (self._movie_key(), echem, float(self.clock_offset.value), local)
                self.events = self._memo("events", key, lambda: find_events(
                    movie, echem, clock_offset_s=self.clock_offset.value, separator=self.separator.value,
                    roi=self.roi, threshold_sigma=self.event_sigma.value, local_events=local))
        if warning is None:
            drift_notes = [str(c.message) for c in caught if "drift" in str(c.message)]
            warning = drift_notes[0] if drift_notes else None
        self.clear_error()
        self.table.value = self._table_html()
        self.events_table.value = self._events_html()
        self._update_series()
        self._update_frame()
        self._warning = warning
        if warning:
            self.show_error(warning)

    def _analyse_electrode(self, movie, echem):
        from battlab.optical import compare_cycles, expansion_by_cycle, first_lithiation_end_s, fit_front_kinetics

        self.plating = self.heights = self.plating_summary = None
        self.result = self._electrode_analysis(movie, echem)
        warning = None
        if self.result.frames["thickness_um"].isna().all():
            warning = ("no electrode was found in any frame (no band of electrode colours between two edges): "
                       "check the separator side, the ROI and the colour calibration.")
        self.cycles = expansion_by_cycle(self.result.frames)
        try:
            self.fit = fit_front_kinetics(self.result.frames, until_s=first_lithiation_end_s(self.result.frames))
        except MissingDataError:
            self.fit = None
        self.comparison = None
        if "half_cycle" in self.result.frames:
            f = self.result.frames
            several = f["cycle"].dropna().nunique() > 1 if "cycle" in f else False
            entries = {**self.kept_cycles}
            if several and not entries:
                entries = f  # cycles within this movie
            else:
                entries[self.compare_label.value or "this movie"] = f
            try:
                self.comparison = compare_cycles(entries)
            except (MissingDataError, InvalidParameterError):
                self.comparison = None
        return warning

    def _analyse_plating(self, movie, echem):
        from battlab.optical import plating_metrics, plating_summary

        self.result = self.cycles = self.fit = self.comparison = None
        self.plating, self.heights = plating_metrics(
            movie, pixel_size_um=self.pixel_size.value, separator=self.separator.value, roi=self.roi,
            onset_threshold_um=self.onset_um.value, dendrite_prominence_um=self.prominence_um.value, echem=echem,
            area_cm2=self.area.value, clock_offset_s=self.clock_offset.value, return_heights=True)
        self.plating_summary = plating_summary(self.plating)
        return None

    def _keep_cycle(self):
        if self.result is None or self.mode.value != ELECTRODE:
            raise MissingDataError("analyse an electrode movie first; then keep it for the cycle comparison.")
        label = self.compare_label.value.strip() or f"movie {len(self.kept_cycles) + 1}"
        self.kept_cycles[label] = self.result.frames
        self.set_status(f"kept {label!r} for the cycle comparison; load the next cycle's movie and cycling file "
                        f"({len(self.kept_cycles)} kept).")
        self._analyse()

    def _clear_kept(self):
        self.kept_cycles = {}
        self._analyse()

    def _accept_data(self, data, label, truth=None):
        self._warning = None
        super()._accept_data(data, label, truth=truth)
        if self._warning:  # the base class clears the banner after a successful load
            self.show_error(self._warning)

    def _timed_movie(self):
        """The movie with frame times from the frame-interval input when it is set."""
        dt = self.frame_interval.value
        if not dt:
            return self.movie
        movie = self.movie.assign_coords(time_s=("time", np.arange(self.movie.sizes["time"]) * float(dt)))
        movie.attrs = {**self.movie.attrs, "time_known": True, "time_source": "frame interval input"}
        return movie

    def describe_data(self):
        if self.movie is None:
            return ""
        m = self.movie
        ec = "no cycling file" if self.echem is None else f"{len(self.echem):,} cycler rows"
        ev = "" if self.events is None else f", {len(self.events)} event(s)"
        return f"{m.sizes['time']} frames of {m.sizes['y']}×{m.sizes['x']} px, {ec}{ev}"

    @property
    def frames_table(self):
        return self.result.frames if self.mode.value == ELECTRODE and self.result is not None else self.plating

    def _update_series(self):
        from battlab.plot import optical as P

        if self.mode.value == PLATING:
            if self.plating is None:
                return
            self.kymo_plot.update(P.height_map(self.heights, events=self.events))
            self.expansion_plot.update(P.plating_series(self.plating))
            self.fraction_plot.update(P.dendrite_count(self.plating))
            return
        if self.result is None:
            return
        f = self.result.frames
        self.kymo_plot.update(P.kymograph(self.result.kymograph, frames=f))
        self.expansion_plot.update(P.thickness(f, x=self.x_axis.value))
        self.fraction_plot.update(P.stage_fractions(f, x=self.x_axis.value))
        curves, summary = self.comparison if self.comparison is not None else (None, pd.DataFrame())
        self.compare_plot.update(P.depth_of_charge_comparison(curves))
        table = summary.copy()
        for col in ("lithiation_s", "delithiation_s"):
            if col in table:
                table[col] = table[col] / 60.0
        self.compare_table.value = html_table(table, _COMPARE_COLUMNS) if len(table) else ""

    def _interface_px(self, frame):
        """Interface position (image px along depth) on every lateral line of the ROI, for the overlay."""
        from battlab.optical import interface_profile

        prof = interface_profile(frame, separator=self.separator.value, roi=self.roi)
        y0, y1, x0, x1 = self.roi
        sep = self.separator.value
        start, stop = (x0, x1) if sep in ("left", "right") else (y0, y1)
        pos = stop - 1 - prof if sep in ("right", "bottom") else start + prof
        lateral0 = y0 if sep in ("left", "right") else x0
        full = np.full(self.movie.sizes["y"] if sep in ("left", "right") else self.movie.sizes["x"], np.nan)
        full[lateral0:lateral0 + len(pos)] = pos
        return full

    def _update_frame(self):
        f = self.frames_table
        if f is None or self.movie is None:
            return
        from battlab.plot import optical as P

        i = int(self.frame.value)
        row = f.iloc[i].to_dict() if i < len(f) and self.mode.value == ELECTRODE else None
        frame = np.asarray(self.movie.isel(time=i).values)
        interface = None
        if self.mode.value == PLATING:
            interface = self._interface_px(frame)
        elif self.show_classes.value:
            from battlab.optical import classify_pixels, default_calibration

            step = max(1, int(np.ceil(max(frame.shape[:2]) / 360)))  # classify only what is displayed
            table = default_calibration()
            classes = np.repeat(np.repeat(classify_pixels(frame[::step, ::step], table, max_delta_e=self.max_de.value,
                                                          colour_space=self.colour_space.value), step, 0), step, 1)
            frame = P.class_map_rgb(classes[:frame.shape[0], :frame.shape[1]], table)
        t = float(f["time_s"].iloc[i]) if i < len(f) else float(self.movie["time_s"].values[i])
        events = self.events
        if events is not None and len(events) > _MAX_EVENT_ROWS:  # a busy scene: mark only the nearby frames
            events = events[(events["frame"].astype(float) - i).abs() <= 2]
        self.frame_plot.update(P.frame_image(frame, pixel_size_um=self.pixel_size.value, row=row,
                                             separator=self.separator.value, roi=self.roi, events=events,
                                             current_frame=i, interface_px=interface,
                                             title=f"frame {i}, t = {t / 60:.1f} min"))
        test_time = f["test_time_s"].iloc[i] if "test_time_s" in f and i < len(f) else np.nan
        cursor = test_time if np.isfinite(test_time) else t + self.clock_offset.value
        self.voltage_plot.update(P.voltage_with_cursor(self.echem, cursor_time_s=cursor, events=self.events))

    def _summary_table(self):
        table = self.cycles.copy() if self.cycles is not None else pd.DataFrame()
        if self.fit is not None and len(table):
            for k, v in self.fit.as_dict().items():
                table[k] = v if k in ("k_um_per_s_n", "n", "n_stderr") else table.get(k)
        f = self.result.frames if self.result is not None else None
        if f is not None and len(table) and "drift_confidence" in f:
            px = self.result.parameters.get("pixel_size_um", np.nan)
            table["drift_max_um"] = float(np.hypot(f["drift_dx_px"], f["drift_dy_px"]).max()) * px
            table["drift_min_confidence"] = float(f["drift_confidence"].min())
        return table

    def _table_html(self):
        if self.mode.value == PLATING:
            s = dict(self.plating_summary or {})
            s["onset_time_min"] = s["onset_time_s"] / 60.0 if s.get("onset_time_s") is not None else np.nan
            return html_table(pd.DataFrame([s]), _PLATING_COLUMNS)
        return html_table(self._summary_table(), _TABLE_COLUMNS)

    def _events_html(self):
        if self.events is None:
            return "<i>event search is off</i>"
        if self.events.empty:
            return "<i>no shorts or sudden local changes found</i>"
        ev = self.events.assign(time_min=self.events["time_s"].astype(float) / 60.0)
        more = len(ev) - _MAX_EVENT_ROWS
        note = (f"<p><i>first {_MAX_EVENT_ROWS} of {len(ev)} events shown; all are in events.csv of the download. "
                "Many events usually mean a scene that keeps moving: raise the event threshold.</i></p>"
                if more > 0 else "")
        return note + html_table(ev.head(_MAX_EVENT_ROWS), _EVENT_COLUMNS)

    # --- export ----------------------------------------------------------------------
    def _results(self):
        if self.frames_table is None:
            raise MissingDataError("nothing to export yet: set the pixel size and load a movie.")
        if self.mode.value == PLATING:
            out = {"frames": self.plating, "plating_summary": pd.DataFrame([self.plating_summary])}
        else:
            out = {"frames": self.result.frames, "expansion_by_cycle": self.cycles}
            if self.fit is not None:
                out["front_kinetics"] = pd.DataFrame([self.fit.as_dict()])
            if self.result.frames.get("half_cycle") is not None:
                from battlab.optical import depth_hysteresis, relative_depth_of_charge

                try:
                    rel = relative_depth_of_charge(self.result.frames)
                except MissingDataError:
                    rel = None
                if rel is not None:
                    out["relative_depth_of_charge"] = rel
                    out["depth_hysteresis"] = depth_hysteresis(rel)
            if self.comparison is not None:
                out["cycle_comparison"] = self.comparison[1]
                out["cycle_comparison_curves"] = self.comparison[0]
        if self.events is not None:
            out["events"] = self.events
        return out

    def _figures(self):
        names = (["height_map", "plating", "dendrites"] if self.mode.value == PLATING
                 else ["kymograph", "expansion", "stage_fractions"])
        figs = dict(zip(names, (self.kymo_plot.object, self.expansion_plot.object, self.fraction_plot.object),
                        strict=True))
        figs["voltage"] = self.voltage_plot.object
        figs["frame"] = self.frame_plot.object
        if self.mode.value == ELECTRODE and self.compare_plot.object is not None:
            figs["cycle_comparison"] = self.compare_plot.object
        return figs

    def _provenance(self):
        from battlab.optical import SideViewResult, provenance

        result = self.result
        if self.mode.value == PLATING:
            result = SideViewResult(frames=self.plating, kymograph=None, parameters={
                "pixel_size_um": self.pixel_size.value, "separator": self.separator.value,
                "roi": [int(v) for v in self.roi], "onset_threshold_um": self.onset_um.value,
                "dendrite_prominence_um": self.prominence_um.value, "area_cm2": self.area.value,
                "clock_offset_s": self.clock_offset.value})
        extra = {"source": self.source_label, "mode": self.mode.value,
                 "kept_cycles": sorted(self.kept_cycles)}
        if self.events is not None:
            extra["events"] = self.events.attrs.get("battlab", {})
        return provenance(result, self.movie, self.echem, analysis="battlab.apps.OpticalApp", extra=extra)
