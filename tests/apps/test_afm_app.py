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
    app.upload.value = ({"name": name, "type": "", "size": len(content), "content": memoryview(content),
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


def test_profile_line_and_current_map(app):
    _demo(app, ROUGH)
    rev = app.profile_plot.revision
    app.profile_row.value = 5
    assert app.profile_plot.revision > rev
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


def test_kpfm_work_function(app):
    _demo(app, "KPFM: surface potential beside an Au reference pad")
    from battlab.datasets.afm import make_kpfm_map

    truth = make_kpfm_map().truth
    assert app.kpfm_box.layout.display == ""
    # The map's median is the sample (75 % of the pixels): within 0.01 eV of the truth.
    assert app.tables["work_function"]["median_eV"].iloc[0] == pytest.approx(truth["work_function_eV"], abs=0.01)
    app.bias_on.value = "tip"
    assert app.tables["work_function"]["bias_on"].iloc[0] == "tip" and app.banner.layout.display == "none"
    app.bias_on.value = "sample"
