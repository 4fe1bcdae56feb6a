"""Side-view operando optical microscopy app: movie + cycling, thickness, stages, front."""

from __future__ import annotations

from pathlib import Path

import ipywidgets as w
import numpy as np
import pandas as pd

from battlab.apps._base import BaseApp, PlotPane, html_table
from battlab.errors import BattlabError, InvalidParameterError, MissingDataError

__all__ = ["OpticalApp"]

MOVIE_SUFFIXES = (".tif", ".tiff", ".zip", ".mp4", ".avi", ".mov")

_TABLE_COLUMNS = [
    ("cycle", "cycle", "{:d}"),
    ("frames", "frames", "{:d}"),
    ("peak_expansion_pct", "peak ε (%)", "{:.2f}"),
    ("residual_expansion_pct", "residual ε (%)", "{:.2f}"),
    ("recovery_ratio", "recovery ratio", "{:.3f}"),
    ("k_um_per_s_n", "front k (µm/sⁿ)", "{:.4g}"),
    ("n", "front n", "{:.3f}"),
    ("n_stderr", "± n", "{:.3f}"),
]


class OpticalApp(BaseApp):
    """Side-view operando optical microscopy: thickness/expansion, colour stages, lithiation front.

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
             "edges, lithiation stages from colour (CIELAB), the lithiation front and its √t kinetics. Upload the "
             "movie (TIFF, zip of PNG, MP4) and the cycler file separately.")
    accept = ".tif,.tiff,.zip,.mp4,.avi,.mov,.mpt,.mpr,.csv,.tsv,.txt,.xlsx"

    def __init__(self, data=None, *, pixel_size_um: float | None = None, **kw):
        self._initial_px = pixel_size_um
        self.movie = None
        self.echem = None
        self.result = None
        self.cycles = None
        self.fit = None
        self._echem_uploaded = False
        super().__init__(data, **kw)

    def demos(self):
        from battlab.datasets.optical import make_graphite_movie

        return {"graphite side view, cycle 1 (√t front, 10 % expansion)": make_graphite_movie,
                "graphite side view, cycle 10 (slower front)": lambda: make_graphite_movie(cycle=10)}

    # --- controls --------------------------------------------------------------------
    def _build_controls(self):
        style = {"description_width": "initial"}
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
        for widget in (self.pixel_size, self.separator, self.rows, self.cols, self.max_de, self.clock_offset,
                       self.frame_interval):
            widget.observe(lambda _: self._guard("analysing the movie", self._analyse), "value")
        for widget in (self.frame, self.show_classes):
            widget.observe(lambda _: self._guard("showing the frame", self._update_frame), "value")
        self.x_axis.observe(lambda _: self._guard("updating the plots", self._update_series), "value")
        return [w.HBox([self.pixel_size, self.separator]), w.HBox([self.frame_interval, self.clock_offset]),
                w.HBox([self.rows, self.cols]), w.HBox([self.max_de, self.x_axis]),
                w.HBox([self.play, self.frame, self.show_classes])]

    def _plot_area(self):
        self.frame_plot = PlotPane()
        self.voltage_plot = PlotPane()
        self.kymo_plot = PlotPane()
        self.expansion_plot = PlotPane()
        self.fraction_plot = PlotPane()
        return w.VBox([w.HBox([self.frame_plot.widget, self.voltage_plot.widget]),
                       w.HBox([self.kymo_plot.widget, self.expansion_plot.widget]),
                       w.HBox([self.fraction_plot.widget])])

    # --- data ------------------------------------------------------------------------
    def _load_bytes(self, data: bytes, name: str):
        if Path(name).suffix.lower() in MOVIE_SUFFIXES:
            from battlab.imaging import open_movie

            self.set_status(f"Opening movie {name}…")
            # The movie reader needs a file: the copy the upload store keeps (read-only).
            path = self._keep_upload(data, name)
            if path is None:
                raise BattlabError(f"{name} could not be kept on the server (see the server log), so the movie "
                                   "cannot be opened; try again or ask the administrator about disk space.")
            px = self.pixel_size.value or None
            movie = open_movie(path, pixel_size_um=px if px else 1.0)
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
        if movie.sizes["channel"] != 3:
            raise InvalidParameterError(f"{label} has {movie.sizes['channel']} colour channel(s); the colour-stage "
                                        "analysis needs RGB frames.")
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
        self._analyse()

    def _quiet(self):
        app = self

        class _Quiet:
            def __enter__(self):
                app._busy = True

            def __exit__(self, *exc):
                app._busy = False

        return _Quiet()

    @property
    def roi(self):
        return (*self.rows.value, *self.cols.value)

    def _analyse(self):
        if self.movie is None or getattr(self, "_busy", False):
            return
        from battlab.optical import (
            analyze_movie,
            expansion_by_cycle,
            first_lithiation_end_s,
            fit_front_kinetics,
        )

        if not self.pixel_size.value:
            self.result = None
            raise MissingDataError("set the pixel size (µm/px) from the microscope's scale bar: thickness and "
                                   "front positions are in µm.")
        movie, warning = self._timed_movie(), None
        echem = self.echem
        if echem is not None and not movie.attrs.get("time_known", True):
            echem, warning = None, (f"{movie.attrs.get('source_name', 'the movie')} has no frame times: set the "
                                    "frame interval (s) to line the frames up with the cycling file.")
        self.result = analyze_movie(movie, pixel_size_um=self.pixel_size.value, separator=self.separator.value,
                                    roi=self.roi, max_delta_e=self.max_de.value, echem=echem,
                                    clock_offset_s=self.clock_offset.value)
        if warning is None and self.result.frames["thickness_um"].isna().all():
            warning = ("no electrode was found in any frame (no band of electrode colours between two edges): "
                       "check the separator side, the ROI and the colour calibration.")
        self.cycles = expansion_by_cycle(self.result.frames)
        try:
            self.fit = fit_front_kinetics(self.result.frames, until_s=first_lithiation_end_s(self.result.frames))
        except MissingDataError:
            self.fit = None
        self.clear_error()
        self.table.value = self._table_html()
        self._update_series()
        self._update_frame()
        self._warning = warning
        if warning:
            self.show_error(warning)

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
        return f"{m.sizes['time']} frames of {m.sizes['y']}×{m.sizes['x']} px, {ec}"

    def _update_series(self):
        if self.result is None:
            return
        from battlab.plot import optical as P

        f = self.result.frames
        self.kymo_plot.update(P.kymograph(self.result.kymograph, frames=f))
        self.expansion_plot.update(P.thickness(f, x=self.x_axis.value))
        self.fraction_plot.update(P.stage_fractions(f, x=self.x_axis.value))

    def _update_frame(self):
        if self.result is None or self.movie is None:
            return
        from battlab.plot import optical as P

        i = int(self.frame.value)
        f = self.result.frames
        row = f.iloc[i].to_dict() if i < len(f) else None
        frame = np.asarray(self.movie.isel(time=i).values)
        if self.show_classes.value:
            from battlab.optical import classify_pixels, default_calibration

            step = max(1, int(np.ceil(max(frame.shape[:2]) / 360)))  # classify only what is displayed
            table = default_calibration()
            classes = np.repeat(np.repeat(classify_pixels(frame[::step, ::step], table,
                                                          max_delta_e=self.max_de.value), step, 0), step, 1)
            frame = P.class_map_rgb(classes[:frame.shape[0], :frame.shape[1]], table)
        t = float(f["time_s"].iloc[i]) if i < len(f) else float(self.movie["time_s"].values[i])
        self.frame_plot.update(P.frame_image(frame, pixel_size_um=self.pixel_size.value, row=row,
                                             separator=self.separator.value, roi=self.roi,
                                             title=f"frame {i}, t = {t / 60:.1f} min"))
        cursor = row.get("test_time_s", t + self.clock_offset.value) if row else None
        self.voltage_plot.update(P.voltage_with_cursor(self.echem, cursor_time_s=cursor))

    def _summary_table(self):
        table = self.cycles.copy() if self.cycles is not None else pd.DataFrame()
        if self.fit is not None and len(table):
            for k, v in self.fit.as_dict().items():
                table[k] = v if k in ("k_um_per_s_n", "n", "n_stderr") else table.get(k)
        return table

    def _table_html(self):
        return html_table(self._summary_table(), _TABLE_COLUMNS)

    # --- export ----------------------------------------------------------------------
    def _results(self):
        if self.result is None:
            raise MissingDataError("nothing to export yet: set the pixel size and load a movie.")
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
        return out

    def _figures(self):
        return {"kymograph": self.kymo_plot.object, "expansion": self.expansion_plot.object,
                "stage_fractions": self.fraction_plot.object, "voltage": self.voltage_plot.object}

    def _provenance(self):
        from battlab.optical import provenance

        return provenance(self.result, self.movie, self.echem, analysis="battlab.apps.OpticalApp",
                          extra={"source": self.source_label})
