"""The depth-profiling app, driven headless by setting widget values (no browser)."""

import datetime
import io
import json
import zipfile

import numpy as np
import pandas as pd
import pytest

from battlab.apps import DepthProfileApp
from battlab.datasets.depth import make_ndp_profile, make_sims_map, make_sims_profile

pytestmark = pytest.mark.slow  # one app build and many re-analyses: ~20 s altogether

PLATING = "Operando NDP: graphite fills, then Li plates on the surface (+ SIMS, XPS)"


def _item(name, content: bytes):
    return ({"name": name, "type": "", "size": len(content), "content": memoryview(content),
             "last_modified": datetime.datetime.now()},)


@pytest.fixture(scope="module")
def app():
    return DepthProfileApp()


def test_opens_on_the_demo_with_known_answers(app):
    assert app.banner.layout.display == "none", app.banner.value
    assert "NDP: 1 spectrum" in app.status.value and "XPS: 10 sputter steps" in app.status.value
    truth = app.truth
    layers = app.tables["ndp_layers"].set_index("layer")
    for name, value in truth["ndp"]["inventory_atoms_cm2"].items():
        if name != "total":
            assert layers.loc[name, "li_atoms_cm2"] == pytest.approx(value, rel=0.05)
    sims = app.tables["sims_layers"].set_index("layer")
    for name, value in truth["sims"]["thickness_nm"].items():
        assert sims.loc[name, "thickness"] == pytest.approx(value, abs=1.0)
    atomic = app.tables["xps_atomic"]
    for el in ("C", "O", "F", "Li"):
        assert np.allclose(atomic[f"{el}_at_pct"], truth["xps"]["atomic"][f"{el}_at_pct"], atol=2.0)
    assert "li_atoms_cm2" in app._results()["ndp_layers"]
    assert "Li (atoms/cm²)" in app.table.value


def test_controls_rerun_the_analyses(app):
    before = app.tables["ndp_profile"]
    app.bin_um.value = 0.5
    assert len(app.tables["ndp_profile"]) < len(before)
    app.bin_um.value = 0.25
    app.tabs.selected_index = 1  # SIMS figures render when their tab is open
    depth = app.tables["sims_profile"]["depth_nm"].to_numpy()
    app.cal_value.value = 120.0  # twice the crater depth: twice every depth
    assert np.allclose(app.tables["sims_profile"]["depth_nm"], 2 * depth)
    app.cal_value.value = 60.0
    app.denominator.value = "C6-"
    assert "LiF-/C6-" in app.tables["sims_profile"]
    assert "LiF-/C6-" in app.tables["sims_ratio_map"]
    app.denominator.value = "C2H-"
    app.map_depth.value = 8
    assert app.map_pane.revision > 1
    app.xps_rate.value = 0.1
    assert app.tables["xps_atomic"]["depth_nm"].iloc[-1] == pytest.approx(50.0)
    app.xps_rate.value = 0.05
    app.tabs.selected_index = 2
    assert app.xps_pane.revision >= 1
    app.tabs.selected_index = 0
    assert app.banner.layout.display == "none", app.banner.value


def test_stopping_table_edit_and_upload(app):
    inv = app.tables["ndp_layers"]["li_atoms_cm2"].sum()
    app.stopping_text.value = "energy_keV,stopping_keV_per_um\n100,55\n3000,55\n"
    app.stopping_apply.click()
    assert app.banner.layout.display == "none", app.banner.value
    assert len(app.parts["stopping"]) == 2
    app.stopping_text.value = "energy_keV,stopping_keV_per_um\n100,-5\n3000,55\n"
    app.stopping_apply.click()
    assert app.banner.layout.display == "block" and "must be &gt; 0" in app.banner.value
    assert len(app.parts["stopping"]) == 2  # the bad table did not replace the good one
    table = make_ndp_profile(noise=False).data["stopping"]
    app.stopping_upload.value = _item("srim.csv", table.to_csv(index=False).encode())
    assert app.banner.layout.display == "none", app.banner.value
    assert app.tables["ndp_layers"]["li_atoms_cm2"].sum() == pytest.approx(inv, rel=1e-9)


def test_uploads_of_each_kind(app, tmp_path):
    ndp = make_ndp_profile(rng=3).data["spectrum"]
    csv = pd.DataFrame({"channel": ndp["channel"].to_numpy(), "counts": ndp.to_numpy()}).to_csv(index=False)
    app.upload.value = _item("my_ndp.csv", csv.encode())
    assert app.banner.layout.display == "none", app.banner.value
    assert app.tabs.selected_index == 0 and app.source_label == "my_ndp.csv"
    assert app.parts["sims"] is not None  # the other tabs keep their data
    sims = make_sims_profile(rng=5).data
    app.upload.value = _item("my_sims.csv", sims.to_csv(index=False).encode())
    assert app.tabs.selected_index == 1 and len(app.tables["sims_profile"]) == len(sims)
    stack = make_sims_map().data
    buf = io.BytesIO()
    np.save(buf, stack.sel(fragment="LiF-").values * 2.0, allow_pickle=False)
    app.map_fragment.value = "LiF-"
    app.map_upload.value = _item("lif.npy", buf.getvalue())
    assert app.banner.layout.display == "none", app.banner.value
    assert np.allclose(app.parts["sims_map"].sel(fragment="LiF-"), 2 * stack.sel(fragment="LiF-"))
    from battlab.datasets.depth import make_xps_depth_series
    from tests.depth.test_xps_depth import _vamas

    xps = make_xps_depth_series(sputter_time_s=(0, 100, 300))
    app.upload.value = _item("depth.vms", _vamas(xps.data, etch_ids=True))
    assert app.banner.layout.display == "none", app.banner.value
    assert app.tabs.selected_index == 2 and len(app.tables["xps_atomic"]) == 3
    assert np.allclose(app.tables["xps_atomic"]["Li_at_pct"], xps.truth["atomic"]["Li_at_pct"], atol=2.0)
    (tmp_path / "server_sims.csv").write_text(sims.to_csv(index=False))
    app.data_dirs = [tmp_path]
    app._load_server_file(str(tmp_path / "server_sims.csv"))
    assert app.banner.layout.display == "none" and app.source_label == "server_sims.csv"
    app._load_server_file("/etc/passwd")
    assert "outside the folders" in app.banner.value
    app.upload.value = _item("junk.csv", b"\x00\x01garbage")
    assert app.banner.layout.display == "block"
    assert "Traceback" not in app.banner.value


def test_plating_demo_and_download(app):
    app.demo_picker.value = PLATING
    app.demo_button.click()
    assert app.banner.layout.display == "none", app.banner.value
    assert "NDP: 8 spectra" in app.status.value
    series = app.tables["ndp_series"]
    assert series["fraction_surface"].iloc[-1] > 2 * series["fraction_surface"].iloc[3]
    archive = zipfile.ZipFile(io.BytesIO(app.export_zip()))
    assert {"ndp_profile.csv", "ndp_series.csv", "ndp_profiles.csv", "sims_layers.csv", "xps_atomic.csv",
            "provenance.json", "ndp_profile.html"} <= set(archive.namelist())
    prov = json.loads(archive.read("provenance.json"))
    assert prov["parameters"]["ndp"]["bin_um"] == 0.25 and prov["inputs"]


def test_ratio_map_matches_library():
    from battlab.depth import ratio_map

    demo = make_sims_map()
    app = DepthProfileApp({"sims_map": demo.data, "sims": make_sims_profile().data})
    app.numerator.value, app.denominator.value = "LiF-", "C2H-"
    got = app.tables["sims_ratio_map"]["LiF-/C2H-"].to_numpy()
    assert np.array_equal(got, ratio_map(demo.data, "LiF-", "C2H-").values.ravel())


def test_density_scale_and_alarm(app):
    if "NDP: 8 spectra" not in app.status.value:  # the plating demo may already be loaded by the test above
        app.demo_picker.value = PLATING
        app.demo_button.click()
    app.tabs.selected_index = 0
    depth_of_last = app.tables["ndp_profile"]["depth_high_um"].iloc[-1]
    app.density_scale.value = 0.5  # half the density: the same energy loss spans twice the depth
    assert app.tables["ndp_profile"]["depth_high_um"].iloc[-1] > 1.9 * depth_of_last
    assert "stopping powers × 0.5" in app.table.value
    app.density_scale.value = 1.0
    app.alarm.value = 50.0
    assert "integrated counts first exceed +50 %" in app.table.value
    revision = app.ndp_time_pane.revision
    app.difference.value = True
    assert app.ndp_time_pane.revision == revision + 1
    values = app.figs["ndp_time"].QuadMesh.I.dimension_values(2)
    n_depth = app.ndp_profiles.sizes["depth_um"]
    assert np.sum(values == 0) >= n_depth and values.min() < 0 < values.max()  # first row 0; Li moved
    assert app.banner.layout.display == "none", app.banner.value
