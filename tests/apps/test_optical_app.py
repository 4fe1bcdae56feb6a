"""The side-view optical app, driven headless by setting widget values (no browser)."""

import datetime
import io
import json
import zipfile

import numpy as np
import pandas as pd
import pytest

from battlab.apps import APPS, OpticalApp
from battlab.datasets.optical import make_graphite_movie, write_movie


def _upload(app, name, content: bytes):
    app.upload.value = ({"name": name, "type": "", "size": len(content), "content": memoryview(content),
                         "last_modified": datetime.datetime.now()},)


@pytest.fixture(scope="module")
def app():
    return OpticalApp()


def test_opens_on_demo_with_known_answers(app):
    truth = make_graphite_movie().truth
    assert app.banner.layout.display == "none"
    assert "OpticalApp" in APPS
    assert app.pixel_size.value == pytest.approx(0.5)
    f = app.result.frames
    np.testing.assert_allclose(f["thickness_um"], truth["thickness_um"], rtol=0.02)
    assert app.fit.n == pytest.approx(0.5, abs=0.05)
    assert "peak ε (%)" in app.table.value and "front n" in app.table.value
    assert "100 frames" in app.status.value
    for pane in (app.frame_plot, app.voltage_plot, app.kymo_plot, app.expansion_plot, app.fraction_plot):
        assert pane.widget.children, "every plot shows something"


def test_frame_slider_moves_frame_and_voltage_cursor(app):
    rev_f, rev_v = app.frame_plot.revision, app.voltage_plot.revision
    app.frame.value = 45
    assert app.frame_plot.revision == rev_f + 1 and app.voltage_plot.revision == rev_v + 1
    vlines = [el for el in app.voltage_plot.object if type(el).__name__ == "VLine"]
    assert vlines and vlines[0].data == pytest.approx(45 * 60.0 / 3600.0)
    assert "frame 45" in app.frame_plot.object.opts.get().kwargs.get("title", "")


def test_class_map_overlay(app):
    from battlab.plot.optical import STAGE_COLORS

    app.frame.value = 30
    app.show_classes.value = True
    rgb = app.frame_plot.object.get(0).data  # the displayed image, rows flipped for plotting
    gold = tuple(int(STAGE_COLORS["LiC6"][i:i + 2], 16) for i in (1, 3, 5))
    red = tuple(int(STAGE_COLORS["LiC12"][i:i + 2], 16) for i in (1, 3, 5))
    colours = {tuple(int(c) for c in px) for px in np.asarray(rgb)[::7, ::7].reshape(-1, 3)}
    assert gold in colours and red in colours
    assert len(colours) <= 7  # one flat colour per class (6 classes + unclassified), no camera noise
    app.show_classes.value = False
    raw = {tuple(int(c) for c in px) for px in np.asarray(app.frame_plot.object.get(0).data)[::7, ::7]
           .reshape(-1, 3)}
    assert len(raw) > 50


def test_controls_change_the_analysis(app):
    before = app.result.frames["fraction_LiC6"].copy()
    app.max_de.value = 6.0  # a tight colour cutoff leaves noisy pixels unclassified
    assert app.result.frames["fraction_unclassified"].max() > 0.01
    assert not np.allclose(app.result.frames["fraction_LiC6"], before)
    app.max_de.value = 25.0
    app.rows.value = (30, 90)
    assert app.result.parameters["roi"][:2] == [30, 90]
    app.rows.value = (0, 120)
    app.x_axis.value = "capacity"
    assert app.expansion_plot.object is not None
    app.x_axis.value = "time"


def test_missing_pixel_size_is_a_banner_then_app_recovers(app):
    app.pixel_size.value = 0.0
    assert app.banner.layout.display == "block" and "pixel size" in app.banner.value
    assert "Traceback" not in app.banner.value
    app.pixel_size.value = 0.5
    assert app.banner.layout.display == "none"
    assert app.result.frames["thickness_um"].iloc[0] == pytest.approx(70.0, rel=0.02)


def test_garbage_upload_shows_message_and_app_keeps_working(app):
    _upload(app, "movie.tif", b"\x00\x01garbage" * 50)
    assert app.banner.layout.display == "block" and "movie.tif" in app.banner.value
    assert "Traceback" not in app.banner.value
    _upload(app, "cycler.mpr", b"\x00\x01garbage" * 50)
    assert "cycler.mpr" in app.banner.value
    rev = app.frame_plot.revision
    app.frame.value = 10
    assert app.frame_plot.revision == rev + 1


def test_undecodable_video_message_names_no_server_path(app):
    # ffmpeg's report of a cut QuickTime file names the stored copy on the server and the
    # server's ffmpeg build; the page gets the file's name and what to do instead.
    pytest.importorskip("imageio_ffmpeg")
    content = b"\x00\x00\x00\x14ftypqt  \x00\x00\x00\x00" + b"\x00\x01garbage" * 50
    _upload(app, "cut.mov", content)
    banner = app.banner.value
    assert app.banner.layout.display == "block" and "cut.mov cannot be decoded as video" in banner
    stored = [path for path in app.stored_uploads.values() if path.name == "cut.mov"]
    assert stored and str(stored[0].parent) not in banner
    for leak in ("stderr", "ffmpeg version", "configuration:", "/uploads/", ".cache"):
        assert leak not in banner, leak
    assert app.movie.sizes["time"] == 100  # the demo movie is kept


def test_movie_and_cycling_uploads(tmp_path):
    demo = make_graphite_movie(n_frames=24, lithiation_frames=16)
    path = write_movie(demo.data["movie"], tmp_path / "cell.tif", format="tiff")
    csv = tmp_path / "cycler.csv"
    demo.data["echem"].to_csv(csv, index=False)
    app = OpticalApp(pixel_size_um=0.5)
    _upload(app, "cell.tif", path.read_bytes())
    assert app.banner.layout.display == "none", app.banner.value
    assert app.movie.sizes["time"] == 24 and app.echem is None
    np.testing.assert_allclose(app.result.frames["thickness_um"], demo.truth["thickness_um"], rtol=0.02)
    # a bare TIFF has no frame times: syncing with the cycler asks for them, visibly
    _upload(app, "cycler.csv", csv.read_bytes())
    assert app.banner.layout.display == "block" and "frame interval" in app.banner.value
    assert app.result is not None  # the movie is still analysed
    app.frame_interval.value = 60.0
    assert app.banner.layout.display == "none", app.banner.value
    assert app.result.frames["voltage_V"].notna().all()
    # a movie that knows its frame times joins the cycler file
    ij = write_movie(demo.data["movie"], tmp_path / "cell_ij.tif", format="imagej-tiff", frame_interval_s=60.0)
    app2 = OpticalApp(pixel_size_um=0.5)
    _upload(app2, "cell_ij.tif", ij.read_bytes())
    _upload(app2, "cycler.csv", csv.read_bytes())
    assert app2.banner.layout.display == "none", app2.banner.value
    assert app2.result.frames["voltage_V"].notna().all()
    data = app2.export_zip()
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        names = zf.namelist()
        frames = pd.read_csv(zf.open("frames.csv"))
    assert {"frames.csv", "provenance.json", "expansion_by_cycle.csv", "relative_depth_of_charge.csv",
            "depth_hysteresis.csv"} <= set(names)
    assert {"thickness_um", "fraction_LiC6", "voltage_V", "capacity_mAh"} <= set(frames.columns)


def test_zip_of_png_upload_and_grey_movie_banner(tmp_path):
    demo = make_graphite_movie(n_frames=12, lithiation_frames=8)
    zipped = write_movie(demo.data["movie"], tmp_path / "frames.zip", format="zip")
    app = OpticalApp(pixel_size_um=0.5)
    _upload(app, "frames.zip", zipped.read_bytes())
    assert app.banner.layout.display == "none", app.banner.value
    assert app.movie.sizes["time"] == 12
    np.testing.assert_allclose(app.result.frames["thickness_um"], demo.truth["thickness_um"], rtol=0.02)
    grey = write_movie(demo.data["movie"].values[..., :1], tmp_path / "grey.tif", format="tiff")
    _upload(app, "grey.tif", grey.read_bytes())
    assert app.banner.layout.display == "block" and "RGB" in app.banner.value
    assert app.movie.sizes["time"] == 12  # the previous movie is kept and still answers
    rev = app.frame_plot.revision
    app.frame.value = 5
    assert app.frame_plot.revision == rev + 1


@pytest.mark.slow
def test_real_microscopy_files_never_break_the_app(real_data):
    """Real, non-battery microscopy files: a grey TIFF stack and a bright-field .mov video."""
    app = OpticalApp(pixel_size_um=0.5)
    stack = real_data / "tiff-stack" / "pims_stuck.tif"
    _upload(app, stack.name, stack.read_bytes())
    # one grey channel: a plain message that colour analysis needs RGB, not an unexpected error
    assert app.banner.layout.display == "block" and "RGB" in app.banner.value
    video = real_data / "optical-video" / "pims_bulk-water.mov"
    _upload(app, video.name, video.read_bytes())
    assert "unexpected" not in app.banner.value, app.banner.value
    assert app.movie.attrs["source_name"] == video.name
    # colloids in water: no electrode edges in most frames, and the app says so rather than inventing them
    f = app.result.frames
    assert len(f) == app.movie.sizes["time"]
    assert f["thickness_um"].isna().all()
    assert app.banner.layout.display == "block" and "no electrode was found" in app.banner.value
    # no collector edge: the drift is left alone, and says so, rather than correlating drifting colloids
    assert "skipped" in app.result.parameters["drift"]
    # moving colloids are many sudden local changes: the page lists a bounded number of them
    assert len(app.events) > 100 and "events shown" in app.events_table.value
    rev = app.frame_plot.revision
    app.frame.value = 1
    assert app.frame_plot.revision == rev + 1


@pytest.mark.slow
def test_drift_and_colour_space_controls(app):
    app._load_demo("graphite side view, cycle 1 (√t front, 10 % expansion)")
    f = app.result.frames
    truth = make_graphite_movie().truth
    # drift correction is on by default: measured per frame, with its confidence in the results table
    assert np.max(np.abs(f["drift_dx_px"] - truth["dx_px"])) < 0.15
    assert "min drift confidence" in app.table.value
    app.colour_space.value = "hsv"
    assert app.result.parameters["colour_space"] == "hsv"
    np.testing.assert_allclose(app.result.frames["fraction_LiC6"], truth["fractions"]["fraction_LiC6"], atol=0.02)
    app.colour_space.value = "lab"
    app.drift.value = False
    assert "drift_dx_px" not in app.result.frames and not app.result.parameters["drift_corrected"]
    app.drift.value = True


@pytest.mark.slow
def test_cycle_1_vs_cycle_10_view_and_table():
    app = OpticalApp()
    app._load_demo("graphite cycle 10 compared with cycle 1")
    curves, summary = app.comparison
    s = summary.set_index("label")
    assert s.loc["cycle 10", "k_ratio_to_first"] == pytest.approx(0.97 ** 9, rel=0.02)
    assert "cycle 10" in app.compare_table.value and "k / k(first)" in app.compare_table.value
    labels = {el.label for el in app.compare_plot.object}
    assert {"cycle 1, lithiation", "cycle 10, delithiation"} <= labels
    # keep this movie under a label: it is listed once, beside cycle 1; clearing leaves the current movie
    app.compare_label.value = "cycle 10 again"
    app.keep_button.click()
    assert list(app.comparison[1]["label"]) == ["cycle 1", "cycle 10 again"]
    assert "cycle 10 again" in app.kept_cycles
    app.clear_button.click()
    assert list(app.comparison[1]["label"]) == ["cycle 10 again"]
    with zipfile.ZipFile(io.BytesIO(app.export_zip())) as zf:
        assert {"cycle_comparison.csv", "cycle_comparison_curves.csv", "events.csv"} <= set(zf.namelist())


@pytest.mark.slow
def test_plating_demo_metrics_and_dead_lithium():
    app = OpticalApp()
    app._load_demo("Li‖Li plating then stripping (mossy layer, dendrites, dead Li)")
    assert app.mode.value == "plating" and app.banner.layout.display == "none", app.banner.value
    s = app.plating_summary
    assert s["dead_li_fraction"] == pytest.approx(0.25, abs=0.01)
    np.testing.assert_allclose(app.plating["porosity"].iloc[2:15], 0.3, atol=0.02)  # the mossy layer, pre-onset
    assert s["porosity"] > 0.3  # at the peak the dendrites add height that holds no extra charge
    assert s["onset_time_s"] == pytest.approx(15 * 300.0)  # first frame after the onset at frame 14.5
    for label in ("dead Li fraction", "dense Li, Faraday (µm)", "porosity", "dendrite onset (min)"):
        assert label in app.table.value
    assert app.heights.dims == ("time", "position")
    assert app.compare_box.layout.display == "none" and app.plating_box.layout.display == "flex"
    rev = app.frame_plot.revision
    app.frame.value = 20
    assert app.frame_plot.revision == rev + 1
    assert any(type(el).__name__ == "Curve" for el in app.frame_plot.object)  # the interface profile overlay
    with zipfile.ZipFile(io.BytesIO(app.export_zip())) as zf:
        frames = pd.read_csv(zf.open("frames.csv"))
        assert "plating_summary.csv" in zf.namelist()
    assert {"deposit_thickness_um", "roughness_um", "faraday_thickness_um", "porosity"} <= set(frames.columns)


@pytest.mark.slow
def test_rare_events_table_and_markers():
    from battlab.datasets.optical import make_plating_movie

    app = OpticalApp()
    app._load_demo("Li‖Li soft short and an electrolyte crack (rare events)")
    truth = make_plating_movie(short_frame=30.3, crack_frame=12).truth["events"]
    ev = app.events
    assert len(ev) == 2 and "short (voltage collapse)" in app.events_table.value
    for (_, got), (_, want) in zip(ev.iterrows(), truth.sort_values("time_s").iterrows(), strict=True):
        assert got["frame"] == want["frame"]
        assert np.hypot(got["x_px"] - want["x_px"], got["y_px"] - want["y_px"]) < 3.0
    app.frame.value = 20  # after the crack, before the short: one filled marker, one hollow
    points = [el for el in app.frame_plot.object if type(el).__name__ == "Points"]
    assert sorted(len(p) for p in points) == [1, 1]
    markers = [el for el in app.voltage_plot.object if type(el).__name__ == "Scatter"]
    assert markers and len(markers[0]) == 2
    app.find_events.value = False
    assert app.events is None and "off" in app.events_table.value


def test_moves_that_leave_the_analysis_inputs_alone_reuse_it_and_the_roi_survives_a_frame_interval():
    from battlab.optical import analyze_movie, find_events

    app = OpticalApp()
    app.find_events.value = True

    def measured():  # the per-frame measurement of the movie's pixels: the slow step
        return app._memo_cache["electrode pixels"][1]

    def fresh():
        return analyze_movie(app._timed_movie(), pixel_size_um=app.pixel_size.value, separator=app.separator.value,
                             roi=app.roi, max_delta_e=app.max_de.value, echem=app.echem,
                             clock_offset_s=app.clock_offset.value, colour_space=app.colour_space.value,
                             drift="auto" if app.drift.value else None)

    def searched():  # the search of the movie for local changes (the events' slow step)
        return app._memo_cache["local changes"][1]

    first, events, pixels, local = app.result, app.events, measured(), searched()
    # The event threshold changes the events only: the movie is not measured again.
    app.event_sigma.value = app.event_sigma.value + 1.0
    assert measured() is pixels and app.events is not events and searched() is not local
    assert app.result is first  # not even re-calibrated
    local = searched()
    # ...and the result equals a fresh analysis with the same inputs (deterministic, exact).
    pd.testing.assert_frame_equal(app.result.frames, first.frames)
    pd.testing.assert_frame_equal(app.result.frames, fresh().frames)
    # The pixel size, frame interval and clock offset re-calibrate the same measurement, and the
    # result is what a whole new analysis with those inputs gives.
    for control, value in ((app.pixel_size, app.pixel_size.value * 1.5), (app.frame_interval, 2.0),
                           (app.clock_offset, 30.0)):
        control.value = value
        assert measured() is pixels and searched() is local, control.description
        pd.testing.assert_frame_equal(app.events, find_events(
            app._timed_movie(), app.echem, clock_offset_s=app.clock_offset.value, separator=app.separator.value,
            roi=app.roi, threshold_sigma=app.event_sigma.value))
        result = fresh()
        pd.testing.assert_frame_equal(app.result.frames, result.frames)
        np.testing.assert_array_equal(app.result.kymograph["depth_um"], result.kymograph["depth_um"])
        # (as JSON: the colour calibration holds NaN cells, which never compare equal)
        assert json.dumps(app.result.parameters, sort_keys=True) == json.dumps(result.parameters, sort_keys=True)
    # A typed frame interval keeps the ROI (it used to drop it).
    assert app.result.parameters["roi"] == list(app.roi)
    assert app.result.frames["time_s"].diff().dropna().eq(2.0).all()
    again = app.result
    app.rows.value = (app.rows.value[0] + 2, app.rows.value[1])
    assert measured() is not pixels
    assert app.result is not again and app.result.parameters["roi"] == list(app.roi)
    pd.testing.assert_frame_equal(app.result.frames, fresh().frames)
    assert app.banner.layout.display == "none", app.banner.value


def test_a_reused_step_raises_its_warnings_again(app):
    # A drift warning (banner) or a unit note comes from the step that ran; reusing the step's
    # value must not make the message vanish from the page.
    import warnings

    from battlab.errors import BattlabWarning

    def step():
        warnings.warn("drift correction: 3 frame(s) correlate poorly", BattlabWarning, stacklevel=1)
        return object()

    runs = []
    for _ in range(2):
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            runs.append(app._memo("test-step", (1.0, "x"), step))
        assert [str(w.message) for w in caught] == ["drift correction: 3 frame(s) correlate poorly"]
        assert caught[0].category is BattlabWarning
    assert runs[0] is runs[1]  # the second call reused the first's value
