"""The GITT/PITT app, driven headless by setting widget values (no browser)."""

import datetime
import io
import json
import zipfile

import numpy as np
import pytest

from battlab.apps import APPS, GITTApp

PITT_DEMO = "PITT: thin film, 20 steps of 10 mV, known D"


def _upload(app, name, content: bytes):
    app.upload.value = ({"name": name, "type": "", "size": len(content), "content": memoryview(content),
                         "last_modified": datetime.datetime.now()},)


@pytest.fixture(scope="module")
def app():
    return GITTApp()


def test_registered_in_gallery():
    assert APPS["GITTApp"][0] == "04_gitt.ipynb"


def test_opens_on_demo_with_geometry_visible_and_filled(app):
    assert app.banner.layout.display == "none"
    assert app.technique == "GITT" and len(app.results) == 190
    truth = app.truth
    g = app.geometry()
    assert g["mass_mg"] == pytest.approx(truth["active_mass_mg"])
    assert g["molar_volume_cm3_mol"] == pytest.approx(truth["molar_volume_cm3_mol"])
    assert g["thickness_um"] == 2.0 and app.geometry_note.value == ""
    for widget in (app.mass, app.molar_mass, app.molar_volume, app.area, app.thickness):
        assert widget.layout.display != "none"
    valid = app.results["valid"].to_numpy()
    err = app.results["diffusion_coefficient_cm2_s"].to_numpy()[valid] / \
        truth["pulses"]["diffusion_coefficient_cm2_s"].to_numpy()[valid] - 1
    assert np.abs(err).max() < 0.10
    assert "190 pulses" in app.status.value and "D WH (cm²/s)" in app.table.value
    for pane in (app.train_plot, app.zoom_plot, app.d_plot, app.ocv_plot):
        assert pane.widget.children, "every plot shows something"


def test_fit_window_and_pulse_selector_update_results_and_plots(app):
    before = app.results["dE_dsqrt_t_V_s05"].to_numpy().copy()
    rev = app.zoom_plot.revision
    app.fit_window.value = (0.3, 0.7)
    assert app.results.attrs["battlab"]["fit_window"] == (0.3, 0.7)
    assert not np.allclose(app.results["dE_dsqrt_t_V_s05"], before)
    assert app.zoom_plot.revision > rev
    rev_zoom, rev_train = app.zoom_plot.revision, app.train_plot.revision
    app.pulse.value = 42
    assert app.zoom_plot.revision == rev_zoom + 1 and app.train_plot.revision == rev_train + 1
    assert "Pulse 42" in str(app.zoom_plot.object.opts.get().kwargs.get("title"))
    app.x_axis.value = "SOC"
    app.x_axis.value = "x"
    app.fit_window.value = (0.1, 0.9)


def test_missing_geometry_is_said_and_never_defaulted(app):
    app.mass.value = 0.0
    assert "active mass" in app.geometry_note.value
    assert app.results["diffusion_coefficient_cm2_s"].isna().all()
    assert app.results["diffusion_coefficient_L_cm2_s"].notna().all()  # thickness still given
    app.thickness.value = 0.0
    assert "active mass" in app.geometry_note.value
    # Neither form can be computed now: both D columns are empty and the plot says why.
    assert app.results["diffusion_coefficient_L_cm2_s"].isna().all()
    assert "Enter the mass" in app.d_plot.object.text
    app.mass.value = app.truth["active_mass_mg"]
    app.thickness.value = 2.0
    assert app.geometry_note.value == ""


def test_file_without_rests_gets_a_banner_and_app_keeps_working(app, real_data):
    path = real_data / "biologic" / "yadg_mb.issue_95.mpr"
    n_before = len(app.results)
    _upload(app, path.name, path.read_bytes())
    assert app.banner.layout.display == "block"
    assert "no open-circuit rest" in app.banner.value and "yadg_mb.issue_95.mpr" in app.banner.value
    assert "Traceback" not in app.banner.value
    assert len(app.results) == n_before  # the previous analysis stays
    rev = app.zoom_plot.revision
    app.pulse.value = 7
    assert app.zoom_plot.revision == rev + 1


def test_garbage_upload_is_reported(app):
    _upload(app, "../junk.mpr", b"\x00\x01junk" * 40)
    assert app.banner.layout.display == "block" and "junk.mpr" in app.banner.value and "../" not in app.banner.value


def test_real_intermittent_titration_upload(real_data):
    app = GITTApp(mass_mg=1.0, molar_mass_g_mol=28.09, molar_volume_cm3_mol=12.06, area_cm2=1.0)
    path = real_data / "biologic" / "cellpy_biol.mpr"
    _upload(app, path.name, path.read_bytes())
    assert app.banner.layout.display == "none", app.banner.value
    assert app.technique == "GITT" and len(app.results) == 4
    assert app.mass.value == 1.0  # the user's geometry is kept for a file
    assert path.name in app.status.value


def test_pitt_demo_and_export():
    app = GITTApp()
    app._load_demo(PITT_DEMO)
    assert app.technique == "PITT" and len(app.steps) == 20
    assert app.fit_window.value == (0.4, 0.9) and app.pulse.description == "Step"
    np.testing.assert_allclose(app.steps["diffusion_coefficient_cm2_s"], app.truth["diffusion_coefficient_cm2_s"],
                               rtol=0.01)
    rev = app.zoom_plot.revision
    app.pulse.value = 5
    assert app.zoom_plot.revision == rev + 1
    app.fit_window.value = (0.5, 0.8)
    np.testing.assert_allclose(app.steps["diffusion_coefficient_cm2_s"], app.truth["diffusion_coefficient_cm2_s"],
                               rtol=0.01)
    blob = app.export_zip()
    with zipfile.ZipFile(io.BytesIO(blob)) as zf:
        names = set(zf.namelist())
        prov = json.loads(zf.read("provenance.json"))
    assert {"pitt_steps.csv", "provenance.json", "diffusion.html"} <= names
    assert prov["parameters"]["technique"] == "PITT" and prov["parameters"]["fit_window"] == [0.5, 0.8]


def test_gitt_export_has_pulses_ocv_and_geometry(app):
    blob = app.export_zip()
    with zipfile.ZipFile(io.BytesIO(blob)) as zf:
        names = set(zf.namelist())
        prov = json.loads(zf.read("provenance.json"))
        html = zf.read("diffusion.html").decode()
    assert {"gitt_pulses.csv", "ocv.csv", "pulse_train.html", "pulse_zoom.html"} <= names
    assert prov["parameters"]["mass_mg"] == pytest.approx(app.truth["active_mass_mg"])
    assert prov["parameters"]["area_cm2"] == 1.0
    assert "cdn.bokeh.org" not in html
