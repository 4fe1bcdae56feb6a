"""The side-view optical app, driven headless by setting widget values (no browser)."""

import datetime
import io
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
    rev = app.frame_plot.revision
    app.frame.value = 1
    assert app.frame_plot.revision == rev + 1
