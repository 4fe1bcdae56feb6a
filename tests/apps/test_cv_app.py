"""The CV app, driven headless by setting widget values (no browser)."""

import datetime
import io
import json
import zipfile

import numpy as np
import pytest

from battlab.apps import APPS, CVApp
from battlab.datasets import make_cv


def _upload(app, name, content: bytes):
    app.upload.value = ({"name": name, "type": "", "size": len(content), "content": memoryview(content),
                         "last_modified": datetime.datetime.now()},)


@pytest.fixture(scope="module")
def app():
    return CVApp()


def test_opens_on_demo_with_all_results(app):
    truth = make_cv().truth
    assert "CVApp" in APPS and APPS["CVApp"][0] == "02_cyclic_voltammetry.ipynb"
    assert app.banner.layout.display == "none"
    assert "24 sweeps" in app.status.value and "0.1, 0.2, 0.5, 1, 1.5, 2 mV/s" in app.status.value
    assert app.rates.value == truth["scan_rates_mV_s"]
    assert app.rs["diffusion_coefficient_cm2_s"] == pytest.approx(truth["diffusion_coefficient_cm2_s"], rel=0.05)
    b = app.b.set_index("direction")["b_value"]
    assert b["anodic"] == pytest.approx(0.5, abs=0.03) and b["cathodic"] == pytest.approx(0.5, abs=0.03)
    exact = truth["capacitive_fraction"].query("cycle == 1")["capacitive_fraction_pct"].to_numpy()
    np.testing.assert_allclose(app.dunn.fractions_["capacitive_fraction_pct"], exact, atol=2.0)
    assert "ΔEp (mV)" in app.table.value and "D (Randles–Ševčík" in app.table.value
    for pane in (app.cv_plot, app.rs_plot, app.b_plot, app.dunn_plot, app.fraction_plot):
        assert pane.widget.children, "every plot shows something"


def test_controls_change_results(app):
    d0 = app.rs["diffusion_coefficient_cm2_s"]
    app.area.value = 2.0  # D ∝ 1/A²
    assert app.rs["diffusion_coefficient_cm2_s"] == pytest.approx(d0 / 4, rel=1e-9)
    app.area.value = 1.0
    shown = app.cv_plot.object
    app.anodic_window.value = (3.35, 3.6)
    assert app.cv_plot.object is not shown  # rebuilt; drawn again only where the peaks moved
    assert app.peaks.query("direction == 'anodic'")["peak_potential_V"].between(3.35, 3.6).all()
    before = app.peaks.query("direction == 'anodic'")["peak_current_A"].to_numpy()
    app.baseline.value = "none"
    after = app.peaks.query("direction == 'anodic'")["peak_current_A"].to_numpy()
    assert (after > before).all()  # the capacitive background is no longer subtracted
    app.baseline.value = "window"
    rev = app.dunn_plot.revision
    app.dunn_rate.value = 2.0
    assert app.dunn_plot.revision == rev + 1
    assert app.dunn_plot.object.opts.get().kwargs["title"] == "Dunn decomposition at 2 mV/s"
    app.cycle.value = "last"
    exact = make_cv().truth["capacitive_fraction"].query("cycle == 2")["capacitive_fraction_pct"].to_numpy()
    np.testing.assert_allclose(app.dunn.fractions_["capacitive_fraction_pct"], exact, atol=2.0)
    app.cycle.value = "first"


def test_subset_of_rates_and_single_rate_disables_rate_analyses(app):
    app.rates.value = (0.1, 0.5, 2.0)
    assert app.b is not None and app.b["n_rates"].eq(3).all()
    assert list(app.dunn.fractions_["scan_rate_mV_s"]) == [0.1, 0.5, 2.0]
    app.rates.value = (1.0,)
    assert app.banner.layout.display == "none"  # not an error: an explanation
    assert app.b is None and app.dunn is None and app.rs is None
    assert "need two or more" in app.status.value
    assert len(app.pairs) == 2  # peaks of the one rate are still measured
    app.rates.value = tuple(o[1] for o in app.rates.options)
    assert app.dunn is not None


def test_missing_area_means_no_diffusion_coefficient(app):
    app.concentration.value = 0.0
    assert app.rs is None and "Enter n, the electrode area and the concentration" in app.status.value
    app.concentration.value = 1e-5
    assert app.rs is not None


def test_real_single_rate_file(app, real_data):
    path = real_data / "biologic" / "yadg_cv.mpr"
    _upload(app, path.name, path.read_bytes())
    assert app.banner.layout.display == "none", app.banner.value
    assert "yadg_cv.mpr" in app.status.value and "4 sweeps" in app.status.value
    assert "single scan rate" in app.status.value
    assert app.b is None and app.dunn is None
    assert app.rates.options == (("0.1", 0.1),)


def test_non_cv_upload_shows_banner_and_app_keeps_working(real_data):
    app = CVApp()
    path = real_data / "biologic" / "yadg_gcpl.pr_182.1.mpr"
    _upload(app, path.name, path.read_bytes())
    assert app.banner.layout.display == "block"
    assert "not a cyclic voltammogram" in app.banner.value and "Traceback" not in app.banner.value
    _upload(app, "junk.mpt", b"\x00\x01garbage" * 40)
    assert "junk.mpt" in app.banner.value
    shown = app.cv_plot.object
    app.cathodic_window.value = (3.3, 3.55)
    assert app.cv_plot.object is not shown  # still the demo, still answering
    assert app.peaks.query("direction == 'cathodic'")["peak_potential_V"].between(3.3, 3.55).all()


def test_list_of_files_and_export():
    parts = make_cv(separate_files=True).data
    app = CVApp(parts, n_electrons=1, area_cm2=1.0, concentration_mol_cm3=1e-5)
    assert app.banner.layout.display == "none", app.banner.value
    assert len(app.rates.options) == 6
    blob = app.export_zip()
    with zipfile.ZipFile(io.BytesIO(blob)) as zf:
        names = set(zf.namelist())
        prov = json.loads(zf.read("provenance.json"))
        html = zf.read("voltammograms.html").decode()
    assert {"sweeps.csv", "peaks.csv", "peak_pairs.csv", "b_values.csv", "dunn_coefficients.csv",
            "capacitive_fraction.csv", "provenance.json", "dunn.html"} <= names
    assert prov["parameters"]["area_cm2"] == 1.0 and prov["parameters"]["n_electrons"] == 1
    assert "cdn.bokeh.org" not in html


def test_upload_of_several_files_is_one_multi_rate_experiment(tmp_path):
    from battlab.io import write_bdf_csv

    app = CVApp()
    assert app.upload.multiple
    items = []
    for k, df in enumerate(make_cv(scan_rates_mV_s=(0.2, 1.0, 2.0), separate_files=True).data):
        path = tmp_path / f"rate{k}.csv"
        write_bdf_csv(df, path)
        content = path.read_bytes()
        items.append({"name": path.name, "type": "", "size": len(content), "content": memoryview(content),
                      "last_modified": datetime.datetime.now()})
    app.upload.value = tuple(items)
    assert app.banner.layout.display == "none", app.banner.value
    assert "3 files (rate0.csv, rate1.csv, rate2.csv)" in app.status.value
    assert [v for _, v in app.rates.options] == [0.2, 1.0, 2.0]
    assert sorted(app.labelled["experiment"].unique()) == [0, 1, 2]
    assert app.dunn is not None and len(app.dunn.fractions_) == 3
    assert app.upload.value == ()
    prov = json.loads(zipfile.ZipFile(io.BytesIO(app.export_zip())).read("provenance.json"))
    assert [i["name"] for i in prov["inputs"]] == ["rate0.csv", "rate1.csv", "rate2.csv"]
    items[1] = dict(items[1], content=memoryview(b""), size=0)
    app.upload.value = tuple(items)
    assert "rate1.csv is empty" in app.banner.value
