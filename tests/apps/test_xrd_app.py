"""The XRD app, driven headless by setting widget values (no browser)."""

import datetime
import io
import json
import zipfile

import numpy as np
import pytest

from battlab.apps import XRDApp


def _upload(app, name, content: bytes):
    app.upload.value = ({"name": name, "type": "", "size": len(content), "content": memoryview(content),
                         "last_modified": datetime.datetime.now()},)


@pytest.fixture(scope="module")
def app():
    return XRDApp()


def test_opens_on_operando_demo_with_tracking_and_plots(app):
    assert app.banner.layout.display == "none"
    assert app.series.sizes["time"] == 80
    assert set(app.tracked["peak"]) == {"graphite", "LiC12", "LiC6"}
    assert app.echem is not None and "voltage_V" in app.echem
    for pane in (app.map_plot, app.pattern_plot, app.track_plot):
        assert pane.widget.children, "every plot shows something"
    assert "Scherrer size (nm)" in app.table.value and "d (Å)" in app.table.value
    g = app.tracked[app.tracked["peak"] == "graphite"]
    assert g["two_theta_deg"].max() == pytest.approx(26.55, abs=0.01)


def test_pattern_slider_references_and_quantity_update(app):
    rev = app.pattern_plot.revision
    first = app.current_table.copy()
    lic6 = app.tracked[app.tracked["peak"] == "LiC6"]
    app.pattern_slider.value = int(lic6.loc[lic6["area"].idxmax(), "pattern"])  # deepest lithiation
    assert app.pattern_plot.revision > rev
    assert app.current_table.set_index("peak").loc["LiC6", "area"] > first.set_index("peak").loc["LiC6", "area"]
    rev = app.pattern_plot.revision
    app.references.value = ("LiC6", "Si")
    assert app.pattern_plot.revision > rev
    rev = app.track_plot.revision
    app.quantity.value = "fwhm_deg"
    assert app.track_plot.revision > rev
    assert app.banner.layout.display == "none"


def test_x_axis_capacity_and_soc_with_the_demo_cycling(app):
    assert {"capacity_mAh", "soc", "voltage_V"} <= set(app.tracked.columns)
    g = app.tracked[app.tracked["peak"] == "graphite"]
    assert g["capacity_mAh"].iloc[0] == 0.0 and g["capacity_mAh"].min() < -4.0  # mAh lithiated
    row = g[g["pattern"] == app.pattern_slider.value].iloc[0]
    assert f"{row['voltage_V']:.3f} V · {row['capacity_mAh']:+.3f} mAh" in app.pattern_label.value
    for x in ("capacity_mAh", "soc", "time"):
        map_rev, track_rev = app.map_plot.revision, app.track_plot.revision
        app.cycling.x_axis.value = x
        assert app.map_plot.revision > map_rev and app.track_plot.revision > track_rev
        assert app.banner.layout.display == "none", app.banner.value
    app.cycling.x_axis.value = "capacity_mAh"
    assert "Capacity (mAh)" in str(app.track_plot.object)
    rev = app.map_plot.revision
    app.map_view.value = "waterfall"  # patterns at their capacity, beside the voltage
    assert app.map_plot.revision > rev and "Capacity (mAh)" in str(app.map_plot.object)
    assert len(app.map_plot.object) == 4 and app.banner.layout.display == "none"
    app.map_view.value = "contour"
    out = app._provenance()
    assert out.parameters["echem_alignment"]["time_basis"] == "unix"
    assert out.inputs[-1]["role"] == "cycling"
    app.cycling.x_axis.value = "time"


def test_window_and_model_changes_refit(app):
    editor = app.window_editor
    editor.picker.value = "LiC12"
    before = app.tracked.copy()
    editor.slider.value = (25.0, 25.7)
    assert app.windows["LiC12"] == (25.0, 25.7)
    assert not before["area"].equals(app.tracked["area"])
    app.model.value = "gaussian"
    assert (app.tracked["eta"].dropna() == 0).all()
    app.model.value = "pseudo_voigt"
    editor.new_name.value = "extra"
    n = len(app.windows)
    editor.add_button.click()
    assert app.banner.layout.display == "none", app.banner.value
    assert len(app.windows) == n + 1 and "extra" in set(app.tracked["peak"])
    editor.picker.value = "extra"
    editor.remove_button.click()
    assert "extra" not in app.windows and "extra" not in set(app.tracked["peak"])
    editor.new_name.value = "LiC6"  # a name in use is refused with a message, nothing changes
    editor.add_button.click()
    assert "exists" in app.banner.value and len(app.windows) == n


def test_wavelength_controls_change_d_spacing(app):
    d_cu = app.tracked["d_A"].dropna().iloc[0]
    app.anode.value = "Mo"
    assert app.wavelength.value == pytest.approx(0.709319)
    assert app.tracked["d_A"].dropna().iloc[0] == pytest.approx(d_cu * 0.709319 / 1.540598, rel=1e-9)
    app.energy.value = 8.04778  # Cu Kα1 energy in keV
    assert app.wavelength.value == pytest.approx(1.5406, abs=1e-4)


def test_garbage_upload_shows_banner_and_app_keeps_working(app):
    _upload(app, "../../bad.xy", b"\x00\x01garbage" * 50)
    assert app.banner.layout.display == "block" and "Traceback" not in app.banner.value
    assert app.series.sizes["time"] == 80  # previous data still loaded
    rev = app.pattern_plot.revision
    app.pattern_slider.value = 10
    assert app.pattern_plot.revision > rev


def test_real_xrdml_upload_finds_windows(app, real_data):
    path = real_data / "xrd" / "yadg_210520step1_30min.xrdml"
    _upload(app, path.name, path.read_bytes())
    assert app.banner.layout.display == "none", app.banner.value
    assert app.series.sizes["time"] == 1 and len(app.windows) == 3
    assert app.wavelength.value == pytest.approx(1.540598)
    assert app.tracked["present"].all()
    # The strongest line of this sample is at 29.04° 2θ (peak search); the fit agrees within 0.1°.
    assert np.isclose(app.tracked["two_theta_deg"], 29.04, atol=0.1).any()


def test_lto_and_sized_demos():
    app = XRDApp()
    app._load_demo("LTO lattice drift 8.3636 → 8.3580 Å (Kα1+Kα2)")
    assert app.doublet.value and len(app.windows) == 6 and app.banner.layout.display == "none"
    app._load_demo("Si, 25 nm crystallites (Scherrer)")
    sizes = app.current_table["scherrer_size_nm"].to_numpy()
    assert np.all(np.abs(sizes / 25.0 - 1) < 0.05)
    assert app.williamson_hall["size_nm"] == pytest.approx(25.0, rel=0.05)  # no strain in this demo
    assert "Williamson–Hall over 7 peaks" in app.table.value


def test_export_zip_has_tables_figures_and_provenance(app):
    app._load_demo("operando graphite (002) → LiC12 → LiC6")
    names = zipfile.ZipFile(io.BytesIO(app.export_zip())).namelist()
    assert {"tracked_peaks.csv", "phase_fractions.csv", "current_pattern_peaks.csv", "provenance.json",
            "map.html", "pattern.html", "tracking.html"} <= set(names)
    prov = json.loads(zipfile.ZipFile(io.BytesIO(app.export_zip())).read("provenance.json"))
    assert prov["parameters"]["wavelength_A"] == pytest.approx(1.540598)
    assert set(prov["parameters"]["windows_deg"]) == {"graphite", "LiC12", "LiC6"}


def test_waterfall_view_and_pca_panel_export(tmp_path):
    from tests.diffraction.test_pca_waterfall import two_phase_series

    series, _ = two_phase_series()
    app = XRDApp(series)
    assert app.banner.layout.display == "none", app.banner.value
    assert app.pca is not None and app.pca.n_significant == 1  # centred two-phase mixture
    assert "<b>1</b> significant component" in app.pca_info.value and "explained variance" in app.pca_info.value
    assert app.pca_plot.widget.children
    rev = app.pca_plot.revision
    app.pca_center.value = False
    assert app.pca_plot.revision > rev and app.pca.n_significant == 2
    assert "<b>2</b> significant" in app.pca_info.value
    rev = app.map_plot.revision
    app.map_view.value = "waterfall"
    assert app.map_plot.revision > rev and type(app.map_plot.object).__name__ == "Path"
    rev = app.map_plot.revision
    app.pattern_slider.value = 3  # the waterfall has no current-pattern marker to redraw
    assert app.map_plot.revision == rev
    app.map_view.value = "contour"
    assert type(app.map_plot.object).__name__ != "Path"
    zf = zipfile.ZipFile(io.BytesIO(app.export_zip()))
    assert {"pca_scores.csv", "pca_components.csv", "pca.html"} <= set(zf.namelist())
    prov = json.loads(zf.read("provenance.json"))
    assert prov["parameters"]["pca"]["n_significant"] == 2 and prov["parameters"]["pca"]["center"] is False
    import pandas as pd

    scores = pd.read_csv(zf.open("pca_scores.csv"))
    assert len(scores) == series.sizes["time"] and "pc1" in scores


def test_hdf5_upload_and_single_pattern_pca_message(tmp_path):
    from tests.diffraction.test_hdf5 import TIMES, write_series

    app = XRDApp()
    path = write_series(tmp_path / "series.h5")
    _upload(app, path.name, path.read_bytes())
    assert app.banner.layout.display == "none", app.banner.value
    assert app.series.sizes["time"] == len(TIMES) and app.pca is not None
    x = np.linspace(20, 30, 200)
    from battlab.diffraction import make_pattern

    app._accept_data(make_pattern(x, 10 + np.exp(-0.5 * ((x - 25) / 0.1) ** 2) * 100, wavelength_A=1.54), "one")
    assert app.pca is None and "at least three patterns" in app.pca_info.value
    assert "pca_scores" not in app._results()


def test_uploaded_cycling_file_stays_for_uploaded_patterns(tmp_path):
    """A cycling file uploaded in the app is used, also for a pattern uploaded after it; a demo brings its own."""
    from battlab.datasets.diffraction import make_operando_graphite
    from battlab.io import write_bdf_csv

    demo = make_operando_graphite(n_patterns=4)
    app = XRDApp(demo.data)  # like an uploaded series: no cycling until one is uploaded
    assert app.echem is None and "capacity_mAh" not in app.tracked
    write_bdf_csv(demo.truth["echem"], tmp_path / "cell.csv")
    content = (tmp_path / "cell.csv").read_bytes()
    app.cycling.upload.value = ({"name": "cell.csv", "type": "", "size": len(content),
                                 "content": memoryview(content), "last_modified": datetime.datetime.now()},)
    assert app.banner.layout.display == "none", app.banner.value
    assert app.cycling.uploaded and app.cycling.source == "cell.csv" and "cell.csv" in app.cycling.info.value
    assert "capacity_mAh" in app.tracked  # the demo series shares that cycling clock
    # A lone .xy pattern has no acquisition time: on the test clock at 0 s it lies before this record.
    x = demo.data["two_theta_deg"].to_numpy()
    text = "\n".join(f"{a:.3f} {b:.1f}" for a, b in zip(x, demo.data.isel(time=0).to_numpy(), strict=True))
    _upload(app, "one.xy", text.encode())
    assert app.series.sizes["time"] == 1 and app.echem is not None and app.cycling.source == "cell.csv"
    assert "not used" in app.cycling.info.value
    assert "capacity_mAh" not in app.tracked and app.banner.layout.display == "none"
    app.cycling.upload.value = ({"name": "bad.csv", "type": "", "size": 9, "content": memoryview(b"not,a,cyc"),
                                 "last_modified": datetime.datetime.now()},)
    assert app.banner.layout.display == "block" and app.cycling.source == "cell.csv"
    app._accept_data(demo.data, "demo", truth=demo.truth)  # what a demo load does, on the small demo
    assert not app.cycling.uploaded and "demo" in app.cycling.source and "capacity_mAh" in app.tracked
