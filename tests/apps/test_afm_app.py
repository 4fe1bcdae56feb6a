"""The AFM app, driven headless by setting widget values (no browser)."""

import datetime
import io
import json
import zipfile

import numpy as np
import pytest

from battlab.apps import AFMApp

ROUGH = "Rough surface: Sq = 3 nm on a tilted plane"
PARTICLES = "Particles on a substrate, with a scan-line scar"
CURVE = "Force curve: Hertz, E = 1.5 GPa"
MAP = "Force-volume map: two phases (1.5 and 20 GPa)"
SERIES = "EC-AFM: SEI growth and graphite step swelling"


def _demo(app, name):
    app.demo_picker.value = name
    app.demo_button.click()
    assert app.banner.layout.display == "none", app.banner.value


def _upload(app, name, content: bytes):
    widget = app if hasattr(app, "observe") else app.upload
    widget.value = ({"name": name, "type": "", "size": len(content), "content": memoryview(content),
                         "last_modified": datetime.datetime.now()},)


@pytest.fixture(scope="module")
def app():
    return AFMApp()


def test_opens_on_rough_surface_with_known_sq(app):
    assert app.mode == "image" and app.banner.layout.display == "none"
    row = app.tables["roughness"].iloc[0]
    assert row["Sq"] == pytest.approx(3.0, rel=0.01)  # plane levelling by default
    assert app.map_plot.widget.children and app.detail_plot.widget.children
    assert "Sq" in app.table.value


@pytest.mark.slow
def test_levelling_controls_change_results(app):
    _demo(app, ROUGH)
    rev = app.map_plot.revision
    app.levelling.value = "none"
    assert app.tables["roughness"].iloc[0]["Sq"] > 10  # the tilt is back
    app.levelling.value = "polynomial"
    app.order.value = 3
    assert app.tables["roughness"].iloc[0]["levelling"] == "polynomial order 3"
    assert app.map_plot.revision > rev
    app.levelling.value = "plane"


@pytest.mark.slow
def test_particles_scars_and_grains(app):
    _demo(app, PARTICLES)
    app.scars.value = True
    app.mask_features.value = True
    assert app.banner.layout.display == "none"
    assert len(app.tables["grains"]) >= 20
    app.scars.value = False
    app.mask_features.value = False


def test_force_map_and_curve_browser(app):
    _demo(app, MAP)
    assert app.mode == "force" and app.maps is not None
    fits = app.tables["force_fits"]
    assert len(fits) == 256
    from battlab.datasets.afm import make_force_map

    truth = make_force_map().truth
    e = app.maps["modulus_GPa"].values
    assert np.nanmedian(e[truth["phase"] == 1]) == pytest.approx(20.0, rel=0.05)
    rev = app.detail_plot.revision
    app.curve.value = 100
    assert app.detail_plot.revision > rev and app.fit["modulus_GPa"] > 0
    app.map_variable.value = "adhesion_nN"
    assert app.banner.layout.display == "none"


def test_single_curve_and_model_switch(app):
    _demo(app, CURVE)
    assert app.fit["modulus_GPa"] == pytest.approx(1.5, rel=0.05)
    app.model.value = "sneddon"
    assert app.fit["model"] == "sneddon" and app.banner.layout.display == "none"
    app.model.value = "hertz"


def test_ecafm_series_slider_and_thickness(app):
    _demo(app, SERIES)
    from battlab.datasets.afm import make_ecafm_series

    truth = make_ecafm_series().truth
    table = app.tables["ecafm_series"]
    assert np.abs(table["thickness_nm"] - truth["sei_thickness_nm"]).max() < 0.5
    rev = app.map_plot.revision
    app.frame.value = 11
    assert app.map_plot.revision > rev and "0.050 V" in app.frame_label.value
    app.x_axis.value = "potential_V"
    assert app.banner.layout.display == "none"


def test_export_zip_has_tables_and_provenance(app):
    _demo(app, ROUGH)
    with zipfile.ZipFile(io.BytesIO(app.export_zip())) as zf:
        names = set(zf.namelist())
        prov = json.loads(zf.read("provenance.json"))
    assert {"roughness.csv", "psd.csv", "histogram.csv", "map.html", "provenance.json"} <= names
    assert prov["parameters"]["levelling"] == "plane"
    # The levelled map goes along as .npy for the correlation notebook, with its pixel size.
    assert "levelled_height.npy" in names and prov["parameters"]["map_pixel_size_um"] == pytest.approx(0.01)


def test_exported_map_reads_back_for_correlation(app, tmp_path):
    from battlab.correlate.workflow import read_map

    _demo(app, ROUGH)
    app.export(tmp_path)
    m = read_map(tmp_path / "levelled_height.npy", pixel_size_um=0.01)
    np.testing.assert_allclose(m.values, app.levelled.values)


def test_upload_real_files_and_bad_ones(app, real_data):
    afm = real_data / "afm"
    _upload(app, "nanoscope_full_multiple_images.spm", (afm / "nanoscope_full_multiple_images.spm").read_bytes())
    assert app.banner.layout.display == "none", app.banner.value
    assert app.mode == "image" and app.channel.value == "Height"
    _upload(app, "spot.jpk-force", (afm / "afmformats_fmt-jpk-fd_spot3-0192.jpk-force").read_bytes())
    assert app.banner.layout.display == "none" and app.mode == "force"
    _upload(app, "sample_0.jpk", (afm / "AFMReader_sample_0.jpk").read_bytes())
    assert app.banner.layout.display == "none", app.banner.value
    assert app.channel.value == "Height (retrace)" and len(app.channel.options) == 10
    _upload(app, "map.jpk-force-map", (afm / "afmformats_fmt-jpk-fd_map2x2_extracted.jpk-force-map").read_bytes())
    assert app.banner.layout.display == "none", app.banner.value
    assert app.maps is not None and app.maps["modulus_GPa"].shape == (10, 10)  # 4 of the 10×10 grid measured
    _upload(app, "broken.gwy", b"GWYPgarbage")
    assert app.banner.layout.display == "block" and "Traceback" not in app.banner.value
    _upload(app, "map.txt", b"1 2 3\n4 5 6\n7 8 9\n")
    assert app.banner.layout.display == "none" and app.mode == "image"
    assert "lateral scale 0.01 µm/px" in app.status.value  # the scale in use is named, not silent


def _tap(app, x_um, y_um):
    """A click on the map as the browser sends it: a Bokeh Tap event on the first figure."""
    from bokeh.events import Tap
    from bokeh.plotting import figure

    fig = next(iter(app.map_plot.model.select({"type": figure})))
    fig._trigger_event(Tap(fig, x=x_um, y=y_um))


def test_profile_line_typed_and_clicked_across_an_oblique_step(app):
    # A 2 nm step at 33° on a tilted plane, uploaded as a Gwyddion ASCII export (its header sets the scale).
    rng = np.random.default_rng(3)
    t = np.deg2rad(33.0)
    y, x = np.mgrid[0:160, 0:200]
    x_um, y_um = (x + 0.5) * 0.01, (y + 0.5) * 0.01
    z = 2.0 * ((x_um - 1.0) * np.cos(t) + (y_um - 0.8) * np.sin(t) > 0) + rng.normal(0, 0.05, x.shape)
    text = "# Channel: Height\n# Width: 2.000000 µm\n# Height: 1.600000 µm\n# Value units: nm\n" + "\n".join(
        " ".join(f"{v:.5f}" for v in row) for row in z)
    _upload(app, "step.txt", text.encode())
    assert app.banner.layout.display == "none", app.banner.value
    assert app.channels["Height"].attrs["pixel_size_um"] == pytest.approx(0.01)  # the file's scale, not the control's
    rev = app.profile_plot.revision
    start, end = (1.0 - 0.6 * np.cos(t), 0.8 - 0.6 * np.sin(t)), (1.0 + 0.6 * np.cos(t), 0.8 + 0.6 * np.sin(t))
    app.line_width.value = 0.05
    app.line_x0.value, app.line_y0.value, app.line_x1.value, app.line_y1.value = (*start, *end)
    assert app.profile_plot.revision > rev and app.banner.layout.display == "none", app.banner.value
    summary = app.tables["profile_summary"].iloc[0]
    # Plane levelling tilts the step's terraces; the two-terrace fit with a common slope keeps H within 1 %.
    assert summary["step_height"] == pytest.approx(2.0, rel=0.01)
    assert summary["length_um"] == pytest.approx(1.2, rel=1e-9)
    assert app.tables["profile"]["distance_um"].iloc[-1] == pytest.approx(1.2, rel=1e-9)
    assert "; step 1.99" in app.table.value and "Ra" in app.table.value
    # Two clicks on the map draw the line back to front: the step now falls.
    _tap(app, *end)
    _tap(app, *start)
    assert app.line_x0.value == pytest.approx(end[0]) and app.line_y1.value == pytest.approx(start[1])
    assert app.tables["profile_summary"].iloc[0]["step_height"] == pytest.approx(-2.0, rel=0.01)
    line_src = app._overlay_sources[0][0]
    assert line_src.data["x"] == pytest.approx([end[0], start[0]])  # the drawn line follows
    # A line leaving the map is refused with a message, and the app keeps working.
    app.line_x1.value = 50.0
    assert app.banner.layout.display == "block" and "outside the map" in app.banner.value
    app.line_x1.value = start[0]


def test_current_map(app):
    _demo(app, "C-AFM: current map of conductive grains in an SEI-like film")
    from battlab.datasets.afm import make_conductive_map

    frac = make_conductive_map().truth["conductive_fraction"]
    assert app.tables["current"]["conductive_fraction"].iloc[0] == pytest.approx(frac, abs=0.01)
    assert "Conductive fraction" in app.table.value


def test_layered_sei_modulus_vs_depth(app):
    _demo(app, "Layered SEI: 30 GPa inner layer (3 nm) over 2 GPa")
    prof = app.tables["modulus_vs_depth"]
    assert prof[prof["depth_nm"] < 2.5]["modulus_GPa"].median() == pytest.approx(30.0, rel=0.05)
    assert prof[prof["depth_nm"] > 4.0]["modulus_GPa"].median() == pytest.approx(2.0, rel=0.05)


@pytest.mark.slow
def test_kpfm_work_function(app):
    _demo(app, "KPFM: surface potential beside an Au reference pad")
    from battlab.datasets.afm import make_kpfm_map

    truth = make_kpfm_map().truth
    assert app.kpfm_box.layout.display == "" and app.channel.value == "potential"
    # The demo opens with its pad as the reference rectangle.
    assert app.ref_mode.value == "rect" and app.region_box.layout.display == ""
    wf = app.tables["work_function"].iloc[0]
    # The map's median is the sample (75 % of the pixels): within 0.01 eV of the truth.
    assert wf["median_eV"] == pytest.approx(truth["work_function_eV"], abs=0.01)
    # Outside the reference the difference is V_ref − V_sample = −0.45 eV: within 1 mV.
    assert wf["difference_to_reference_eV"] == pytest.approx(truth["work_function_difference_eV"], abs=0.001)
    assert "V_ref - V_CPD" in app.table.value
    # Reference from a height threshold on the topography channel (the pad stands 30 nm proud).
    app.ref_mode.value = "threshold"
    assert app.thr_channel.value == "height" and app.threshold_box.layout.display == ""
    wf = app.tables["work_function"].iloc[0]
    assert wf["reference_region"] == "height threshold"
    assert wf["reference_cpd_V"] == pytest.approx(-0.10, abs=0.001)
    # A rectangle drawn by two clicks (switching the click target to the region).
    app.ref_mode.value = "value"
    app.click_target.value = "region"
    _tap(app, 0.1, 0.2)
    _tap(app, 1.4, 6.0)
    assert app.ref_mode.value == "rect" and (app.ref_x0.value, app.ref_x1.value) == pytest.approx((0.1, 1.4))
    assert app.tables["work_function"]["reference_cpd_V"].iloc[0] == pytest.approx(-0.10, abs=0.001)
    sample_mean = float(app.work_function.values[truth["sample_mask"]].mean())
    assert sample_mean - app.ref_wf.value == pytest.approx(truth["work_function_difference_eV"], abs=0.001)
    assert app._overlay_sources[0][1].data["x"] == pytest.approx([0.1, 1.4, 1.4, 0.1])
    app.click_target.value = "line"
    app.bias_on.value = "tip"
    assert app.tables["work_function"]["bias_on"].iloc[0] == "tip" and app.banner.layout.display == "none"
    app.bias_on.value = "sample"
    with zipfile.ZipFile(io.BytesIO(app.export_zip())) as zf:
        assert "work_function_eV.npy" in zf.namelist()
        prov = json.loads(zf.read("provenance.json"))
    assert prov["parameters"]["kpfm_reference"] == "rect"


def _upload_many(widget, files):
    widget.value = tuple({"name": name, "type": "", "size": len(content), "content": memoryview(content),
                          "last_modified": datetime.datetime.now()} for name, content in files)


@pytest.mark.slow
def test_ecafm_series_uploaded_as_files_with_cycling_file(app, tmp_path):
    import pandas as pd

    from battlab.datasets.afm import make_ecafm_series
    from battlab.io import write_bdf_csv

    demo = make_ecafm_series()
    files = []
    for i, frame in enumerate(demo.data.values):
        text = "# Channel: Height\n# Width: 5.120000 µm\n# Value units: nm\n" + "\n".join(
            " ".join(f"{v:.4f}" for v in row) for row in frame)
        files.append((f"ecafm_{i + 1}.txt", text.encode()))
    # Chosen in any order: frames are taken in natural name order (…_2 before …_10).
    _upload_many(app.series_upload, files[::-1])
    assert app.banner.layout.display == "none", app.banner.value
    assert app.mode == "series" and app.series.sizes["time"] == 12 and "12 files" in app.source_label
    assert app.series.attrs["frame_sources"][:2] == ["ecafm_1.txt", "ecafm_2.txt"]
    assert app.series.attrs["pixel_size_um"] == pytest.approx(0.04)
    # The bare strip (x 2.15–2.97 µm) typed as the reference rectangle.
    app.series_ref_mode.value = "rect"
    app.ref_x0.value, app.ref_x1.value, app.ref_y0.value, app.ref_y1.value = 2.3, 2.8, 0.0, 5.12
    table = app.tables["ecafm_series"]
    # SEI thickness within 0.5 nm of the truth, from the uploaded files.
    assert np.abs(table["thickness_nm"] - demo.truth["sei_thickness_nm"]).max() < 0.5
    assert "swelling_pct" not in table  # no step line drawn yet
    # A wide line across the graphite step gives step height and swelling per frame (within 1.5 points).
    app.line_width.value = 1.8
    app.line_x0.value, app.line_y0.value, app.line_x1.value, app.line_y1.value = 1.0, 0.6, 1.0, 4.5
    assert app.banner.layout.display == "none", app.banner.value
    swelling = app.tables["ecafm_series"]["swelling_pct"]
    assert np.abs(swelling - demo.truth["swelling_pct"]).max() < 1.5
    # Potentials typed, one per frame.
    app.potentials_text.value = ", ".join(f"{v:.4f}" for v in demo.truth["potential_V"])
    app.potentials_button.click()
    assert app.banner.layout.display == "none", app.banner.value
    np.testing.assert_allclose(app.tables["ecafm_series"]["potential_V"], demo.truth["potential_V"], atol=1e-4)
    # Then from the cycler file: a sweep 1.6 -> 0.05 V; the cycler started 30 s before the first frame.
    tc = np.arange(0.0, 720.0, 1.0)
    echem = pd.DataFrame({"test_time_s": tc, "voltage_V": 1.6 - (1.55 / 660.0) * (tc - 30.0),
                          "current_A": np.full(tc.size, -1e-6)})
    write_bdf_csv(echem, tmp_path / "cell.csv")
    app.clock_offset.value = 30.0
    _upload(app.echem_upload, "cell.csv", (tmp_path / "cell.csv").read_bytes())
    assert app.banner.layout.display == "none", app.banner.value
    # The potential per frame within 1 mV.
    np.testing.assert_allclose(app.tables["ecafm_series"]["potential_V"], demo.truth["potential_V"], atol=1e-3)
    assert "cycling record" in app.series.attrs["potential_source"]
    app.x_axis.value = "potential_V"
    assert app.banner.layout.display == "none"
    app.export(tmp_path / "out")
    prov = json.loads((tmp_path / "out" / "provenance.json").read_text())
    assert prov["parameters"]["regions"] == "rectangle as bare reference"
    assert prov["parameters"]["cycling_file"] == "cell.csv"
    change = np.load(tmp_path / "out" / "height_change_last_minus_first_nm.npy")
    film = ~np.isnan(change)
    assert np.nanmedian(change[film]) > 3.0  # the film grew ~5 nm outside the strip
    app.x_axis.value = "time_s"
    # A plain table of potentials (no current column) goes through the same upload.
    table = "time (min),Ewe (mV)\n0,1600\n11,50\n"
    _upload(app.echem_upload, "potentials.csv", table.encode())
    assert app.banner.layout.display == "none", app.banner.value
    np.testing.assert_allclose(app.tables["ecafm_series"]["potential_V"], demo.truth["potential_V"], atol=1e-9)
    _upload(app.echem_upload, "junk.csv", b"a,b\n1,2\n")
    assert app.banner.layout.display == "block" and "current_A" in app.banner.value
    # A single frame is not a series: said plainly.
    _upload_many(app.series_upload, files[:1])
    assert "at least 2 frames" in app.banner.value


@pytest.mark.slow
def test_upload_sxm_and_asylum_image_and_force_ibw(app, real_data):
    # Files written from the documented layouts (no real .sxm or Asylum image exists here).
    from tests.afm.test_sxm_ibw import write_ibw5, write_sxm

    rng = np.random.default_rng(4)
    z = rng.normal(0, 1e-9, (32, 40))
    _upload(app, "scan.sxm", write_sxm([("Z", "m", "both", [z, z[:, ::-1]])], nx=40, ny=32, range_m=(4e-7, 3.2e-7)))
    assert app.banner.layout.display == "none", app.banner.value
    assert app.mode == "image" and list(app.channel.options) == ["Z (forward)", "Z (backward)"]
    stack = np.stack([rng.normal(0, 1e-9, (40, 32)), rng.normal(45, 3, (40, 32))], axis=2)
    image = write_ibw5(stack, sf_a=(1e-8, 1e-8, 1.0), dim_units=("m", "m", ""),
                       labels=[b"HeightRetrace", b"PhaseRetrace"], note=b"ScanSize: 4e-07")
    _upload(app, "Image0001.ibw", image)
    assert app.banner.layout.display == "none", app.banner.value
    assert app.mode == "image" and app.channel.value == "HeightRetrace"
    assert app.channels["PhaseRetrace"].attrs["units"] == "deg"
    force = (real_data / "afm" / "afmformats_fmt-igor-fd_SiN_FD_plot.ibw").read_bytes()
    _upload(app, "SiN_FD_plot.ibw", force)
    assert app.banner.layout.display == "none", app.banner.value
    assert app.mode == "force"
