"""The cycling app, driven headless by setting widget values (no browser)."""

import datetime
import io
import json
import zipfile

import numpy as np
import pytest

from battlab.apps import CyclingApp
from battlab.datasets import make_cycling


def _upload(app, name, content: bytes, size=None):
    app.upload.value = ({"name": name, "type": "", "size": len(content) if size is None else size,
                         "content": memoryview(content), "last_modified": datetime.datetime.now()},)


@pytest.fixture(scope="module")
def app():
    return CyclingApp()


def test_opens_on_demo_with_results(app):
    truth = make_cycling().truth
    assert app.banner.layout.display == "none"
    assert len(app.summary) == 100
    assert app.mass.value == pytest.approx(truth["active_mass_mg"])
    np.testing.assert_allclose(app.summary["charge_capacity_mAh"], truth["cycles"]["delithiation_capacity_mAh"],
                               rtol=1e-3)
    assert "CE (%)" in app.table.value and "Q out (mAh/g)" in app.table.value
    assert "100 cycles" in app.status.value
    for pane in (app.profile_plot, app.capacity_plot, app.dqdv_plot, app.rate_plot):
        assert pane.widget.children, "every plot shows something"


def test_mass_and_area_change_the_numbers(app):
    app.mass.value = 25.0
    assert app.summary["out_capacity_mAh_g"].iloc[0] == pytest.approx(app.summary["out_capacity_mAh"].iloc[0] / 0.025)
    app.area.value = 1.54
    assert "charge_capacity_mAh_cm2" in app.summary
    app.mass.value = 0.0  # "not set": specific columns disappear rather than using a default
    assert "out_capacity_mAh_g" not in app.summary
    app.mass.value = 12.5


def test_controls_update_plots(app):
    rev = app.dqdv_plot.revision
    app.window_mV.value = 30.0
    assert app.dqdv_plot.revision == rev + 1
    assert app.ica.attrs["battlab"]["window_V"] == pytest.approx(0.030)
    rev = app.profile_plot.revision
    app.cycle_range.value = (20, 25)
    assert app.profile_plot.revision > rev
    assert sorted(app.ica["cycle"].unique()) == [20, 21, 22, 23, 24, 25]
    app.cycle_range.value = (1, 100)
    assert len(app.selected_cycles()) == 20  # thinned to keep the page responsive
    app.x_axis.value = "SOC"
    assert app.profile_plot.object is not None


def test_garbage_upload_shows_message_and_app_keeps_working(app):
    _upload(app, "../../etc/passwd.mpr", b"\x00\x01garbage" * 50)
    assert app.banner.layout.display == "block"
    assert "Traceback" not in app.banner.value
    assert "passwd.mpr" in app.banner.value and "../" not in app.banner.value
    rev = app.dqdv_plot.revision
    app.smoothing.value = "spline"
    assert app.dqdv_plot.revision == rev + 1


def test_oversized_and_empty_uploads_are_refused_visibly():
    small = CyclingApp(upload_limit_mb=0.001)
    _upload(small, "big.csv", b"x" * 5000)
    assert "above the 0.001 MB upload limit" in small.banner.value
    _upload(small, "lost.csv", b"", size=50_000_000)
    assert "did not arrive" in small.banner.value


def test_real_biologic_upload(app, real_data):
    path = real_data / "biologic" / "yadg_gcpl.pr_182.1.mpr"
    _upload(app, path.name, path.read_bytes())
    assert app.banner.layout.display == "none", app.banner.value
    assert path.name in app.status.value
    assert len(app.summary) >= 1 and (app.summary["charge_capacity_mAh"] > 0).all()


def test_non_cycling_file_gets_a_clear_message(app, real_data):
    path = real_data / "biologic" / "yadg_ocv.mpt"
    _upload(app, path.name, path.read_bytes())
    assert "no charge or discharge current" in app.banner.value


def test_export_zip_has_tables_figures_and_provenance():
    app = CyclingApp()
    app.area.value = 1.0
    blob = app.export_zip()
    with zipfile.ZipFile(io.BytesIO(blob)) as zf:
        names = set(zf.namelist())
        assert {"cycles.csv", "rate_capability.csv", "dqdv.csv", "provenance.json", "capacity.html"} <= names
        prov = json.loads(zf.read("provenance.json"))
        html = zf.read("capacity.html").decode()
    assert prov["parameters"]["active_mass_mg"] == 12.5 and prov["parameters"]["area_cm2"] == 1.0
    assert prov["parameters"]["opening_half"] == "discharge"
    assert "numpy" in prov["versions"] and prov["created_utc"].endswith("+00:00")
    assert "cdn.bokeh.org" not in html  # figures open offline
    app._prepare_download()
    assert "data:application/zip;base64," in app.download_link.value


def test_server_files_are_confined_to_data_dirs(tmp_path):
    good = tmp_path / "cells"
    good.mkdir()
    demo = make_cycling(n_cycles=3, rate_block=(), points_per_half_cycle=40).data
    from battlab.io import write_bdf_csv

    write_bdf_csv(demo, good / "cell.csv")
    app = CyclingApp(data_dirs=[good])
    assert [label for label, _ in app.server_picker.options] == ["cell.csv"]
    app._load_server_file(str(good / "cell.csv"))
    assert app.banner.layout.display == "none", app.banner.value
    assert len(app.summary) == 3
    app._load_server_file(str(tmp_path / "elsewhere.csv"))
    assert "outside the folders" in app.banner.value


def test_same_file_twice_is_processed_twice():
    app = CyclingApp()
    for _ in range(2):
        app.clear_error()
        _upload(app, "again.mpr", b"\x00not a file" * 20)
        assert "again.mpr" in app.banner.value
        assert app.upload.value == ()
