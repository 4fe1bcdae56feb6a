"""The scattering app, driven headless by setting widget values (no browser)."""

import datetime
import io
import json
import zipfile

import numpy as np
import pandas as pd
import pytest

from battlab.apps import APPS, ScatteringApp

DEMOS = {"series": "SANS: anode swelling and fracture over a cycle (Eq. 1)",
         "reduction": "SAXS: raw sample + empty cell (reduction, Guinier, Porod)",
         "nr": "Neutron reflectometry: SEI growing on Cu with potential"}


def _item(name, content: bytes):
    return {"name": name, "type": "", "size": len(content), "content": memoryview(content),
            "last_modified": datetime.datetime.now()}


def _upload(widget, name, content: bytes):
    widget.value = (_item(name, content),)


pytestmark = pytest.mark.slow  # each test re-renders several Bokeh figures (a few seconds)


@pytest.fixture(scope="module")
def app():
    return ScatteringApp()


def test_opens_on_both_demos_with_known_answers(app):
    from battlab.datasets.scattering import make_reflectivity_series, make_saxs_series

    assert app.banner.layout.display == "none", app.banner.value
    truth = make_saxs_series().truth["params"]
    # Eq. (1) on all 30 demo curves: R_g within 2 %, A_Porod within 5 %.
    np.testing.assert_allclose(app.saxs_table["R_g_A"], truth["R_g_A"], rtol=0.02)
    np.testing.assert_allclose(app.saxs_table["A_Porod"], truth["A_Porod"], rtol=0.05)
    assert "voltage_V" in app.saxs_table and app.saxs_table["voltage_V"].notna().sum() >= 29
    rtruth = make_reflectivity_series(n_curves=10).truth["params"]
    np.testing.assert_allclose(app.refl_table["SEI:thickness_A"], rtruth["SEI:thickness_A"], atol=1.0)  # 1 Å
    for pane in (app.iq_plot, app.guinier_plot, app.porod_plot, app.saxs_trend_plot, app.rq_plot, app.sld_plot,
                 app.refl_trend_plot):
        assert pane.widget.children, "every plot shows something"
    assert "R_g (Å)" in app.table.value and "reflectivity: 10 curves" in app.status.value


def test_listed_in_the_gallery():
    from pathlib import Path

    assert APPS["ScatteringApp"][0] == "13_scattering.ipynb"
    notebooks = Path(__file__).resolve().parents[2] / "notebooks"
    assert (notebooks / "13_scattering.ipynb").is_file()
    assert "13_scattering.ipynb" in (notebooks / "00_gallery.ipynb").read_text(encoding="utf-8")


def test_saxs_controls_refit_and_redraw(app):
    app.tabs.selected_index = 0
    rev = app.iq_plot.revision
    app.saxs_curve.value = 15
    assert app.iq_plot.revision > rev and "curve 15" in app.saxs_curve_label.value
    before = app.saxs_table["R_g_A"].copy()
    app.q_max.value = 0.2  # one refit of all 30 curves on the narrower q range
    assert app.saxs_table["R_g_A"].tolist() != before.tolist()
    app.background_value.value = 0.05
    app.fix_background.value = True
    assert (app.saxs_table["B_inc"] == 0.05).all()
    for value in ("volume", "amps"):
        rev = app.saxs_trend_plot.revision
        app.saxs_quantity.value = value
        assert app.saxs_trend_plot.revision > rev
    rev = app.saxs_trend_plot.revision
    app.trend_x.value = "soc"
    assert app.saxs_trend_plot.revision > rev
    assert app.banner.layout.display == "none", app.banner.value


def test_reduction_demo_and_background_upload(app):
    app.demo_picker.value = DEMOS["reduction"]
    app.demo_button.click()
    assert app.banner.layout.display == "none", app.banner.value
    assert app.use_background.value and app.reduced.attrs["units"] == "cm⁻¹"
    from battlab.datasets.scattering import make_saxs_reduction

    truth = make_saxs_reduction().truth
    assert app.guinier is not None
    # Guinier of the reduced spheres (Eq. 1 Porod term and B_inc off): R_g within 3 %.
    assert abs(app.guinier.Rg_A / truth["Rg_A"] - 1) < 0.03
    # A background uploaded as a file replaces the demo's.
    bg = truth["background"]
    text = "q(1/A) I sigma\n" + "\n".join(f"{q:.8g} {i:.8g} {s:.8g}" for q, i, s in
                                           zip(bg["q_inv_A"].values, bg.values, bg["sigma"].values, strict=True))
    _upload(app.background_upload, "empty_cell.dat", text.encode())
    assert app.banner.layout.display == "none", app.banner.value
    assert "empty_cell.dat" in app.background_info.value


def test_layer_table_edit_fit_and_series(app):
    app.demo_picker.value = DEMOS["nr"]
    app.demo_button.click()
    assert app.tabs.selected_index == 1 and app.banner.layout.display == "none", app.banner.value
    editor = app.layer_editor
    assert editor.free == ["SEI:thickness_A", "SEI:sld_1e-6_per_A2", "electrolyte:roughness_A"]
    app.refl_curve.value = 6
    sei = editor.rows[2]["cells"]
    assert abs(sei["thickness_A"].value - app.refl_table["SEI:thickness_A"][6]) < 1e-3  # the series fit is shown
    rev = app.rq_plot.revision
    sei["thickness_A"].value = 40.0  # an edit redraws the model of the table
    assert app.rq_plot.revision > rev and app.refl_fit is None and "layer table" in app.refl_curve_label.value
    app.fit_button.click()
    assert app.banner.layout.display == "none", app.banner.value
    assert abs(app.refl_fit.params["SEI:thickness_A"] - app.refl_table["SEI:thickness_A"][6]) < 1.0
    assert "χ²_red" in app.fit_info.value
    app.layer_editor.add_button.click()
    assert len(editor.rows) == 5
    app.layer_editor.remove_button.click()
    assert len(editor.rows) == 4
    # No free parameter: the fit says what to do.
    for r in editor.rows:
        for box in r["ticks"].values():
            box.value = False
    app.fit_button.click()
    assert "tick at least one" in app.banner.value
    app.clear_error()


def test_layers_csv_and_curve_uploads(app, tmp_path):
    from battlab.datasets.scattering import make_reflectivity_series

    demo = make_reflectivity_series(n_curves=2)
    _upload(app.layers_upload, "layers.csv", demo.truth["layers"].to_csv(index=False).encode())
    assert app.banner.layout.display == "none", app.banner.value
    assert [r["name"].value for r in app.layer_editor.rows] == ["Si", "Cu", "SEI", "electrolyte"]
    curve = demo.data.isel(time=1)
    text = "# Qz R sR sQz\n" + "\n".join(
        f"{q:.8g} {r:.8g} {s:.8g} {d:.8g}" for q, r, s, d in zip(curve["q_inv_A"].values, curve.values,
                                                                curve["sigma"].values, curve["dq_inv_A"].values,
                                                                strict=True))
    _upload(app.upload, "cell.ort", ("# # ORSO reflectivity data file\n" + text).encode())
    assert app.banner.layout.display == "none", app.banner.value
    assert app.refl.sizes["time"] == 1 and app.tabs.selected_index == 1
    # The same file from a server folder the app may read.
    server = tmp_path / "server"
    server.mkdir()
    (server / "cell2.ort").write_text("# # ORSO reflectivity data file\n" + text)
    app.data_dirs = [server]
    app._load_server_file(str(server / "cell2.ort"))
    assert app.banner.layout.display == "none", app.banner.value
    assert app.source_label == "cell2.ort" and app.refl.sizes["time"] == 1
    _upload(app.upload, "broken.dat", b"just words\nno numbers\n")
    assert app.banner.layout.display == "block"
    app.clear_error()


def test_export_zip_has_tables_figures_and_provenance(app):
    payload = app.export_zip()
    with zipfile.ZipFile(io.BytesIO(payload)) as zf:
        names = set(zf.namelist())
        assert {"saxs_fits.csv", "layer_table.csv", "provenance.json"} <= names
        assert any(n.endswith(".html") for n in names)
        prov = json.loads(zf.read("provenance.json"))
        fits = pd.read_csv(zf.open("saxs_fits.csv"))
    assert prov["analysis"] == "battlab.apps.ScatteringApp" and "reflectometry" in prov["parameters"]
    assert "R_g_A" in fits
