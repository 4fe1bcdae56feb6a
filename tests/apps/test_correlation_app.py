"""The correlation app, driven headless by setting widget values (no browser)."""

import datetime
import io
import json
import zipfile

import numpy as np
import pytest

from battlab.apps import APPS, CorrelationApp
from battlab.apps.correlation import _multimodal

pytestmark = pytest.mark.slow  # each app build analyses the whole multimodal demo


def _upload(widget, name, content: bytes):
    widget.value = ({"name": name, "type": "", "size": len(content), "content": memoryview(content),
                     "last_modified": datetime.datetime.now()},)


@pytest.fixture(scope="module")
def app():
    return CorrelationApp()


@pytest.fixture(scope="module")
def truth():
    return _multimodal().truth  # the app's cached demo


def test_opens_on_the_multimodal_demo_with_every_technique_on_the_timeline(app):
    assert app.banner.layout.display == "none", app.banner.value
    assert set(app.aligned) == {"cycling", "optical", "xrd", "eis"}
    assert set(app.offset_inputs) == {"optical", "xrd", "eis"}
    assert app.timeline_plot.object is not None and "reality" not in app.readout.value
    assert "At the cursor" in app.readout.value and "clock offset (s)" in app.table.value
    assert APPS["CorrelationApp"][0] == "12_correlation.ipynb"


def test_estimated_offsets_bring_xrd_into_agreement(app, truth):
    app.estimate_button.click()
    assert app.banner.layout.display == "none", app.banner.value
    for name in ("optical", "xrd"):
        resolution = app.offset_estimates.set_index("dataset").loc[name, "resolution_s"]
        assert abs(app.offset_inputs[name].value - truth["clock_offsets_s"][name]) <= resolution
    check = app.check.set_index("technique")
    assert check.loc["xrd", "rms_difference"] < 0.02 and check.loc["xrd", "verdict"].startswith("consistent")
    assert "consistent with the charge passed" in app.check_table.value


def test_faraday_check_of_an_imaged_volume(app):
    tl = app.aligned["cycling"]
    half = app.faraday_half.options[0][1]
    part = tl[tl["half_cycle"] == half]
    k = tl.index.get_loc(part.index[0])
    charge_C = abs(part["charge_C"].iloc[-1] - (tl["charge_C"].iloc[k - 1] if k else 0.0))
    app.faraday_button.click()
    assert "enter the volume" in app.banner.value
    # Li metal plated by that charge: V = Q/F · V_m (13.02 cm³/mol = 1.302e13 µm³/mol)
    volume_um3 = charge_C / 96485.33212 * 13.02e12
    app.faraday_half.value = half
    app.faraday_volume.value = volume_um3
    app.faraday_button.click()
    assert app.banner.layout.display == "none", app.banner.value
    assert abs(app.faraday.iloc[0]["ratio"] - 1) < 1e-6 and "consistent" in app.faraday_table.value
    app.faraday_volume.value = volume_um3 / 3  # a third of the material imaged: more charge than imaged
    app.faraday_button.click()
    assert abs(app.faraday.iloc[0]["ratio"] - 3) < 1e-6 and "more charge than imaged" in app.faraday_table.value


def test_offset_typed_by_hand_moves_the_data_and_nan_is_refused(app, truth):
    app.offset_inputs["xrd"].value = truth["clock_offsets_s"]["xrd"] + 900.0
    assert app.check.set_index("technique").loc["xrd", "rms_difference"] > 0.1
    app.offset_inputs["xrd"].value = float("nan")
    assert "not a finite number" in app.banner.value
    assert np.isfinite(app.offset_inputs["xrd"].value)
    app.offset_inputs["xrd"].value = truth["clock_offsets_s"]["xrd"]
    assert app.check.set_index("technique").loc["xrd", "rms_difference"] < 0.02


def test_cursor_reads_every_dataset(app):
    app.cursor.value = 0.5
    assert "xrd" in app.readout.value and "optical" in app.readout.value
    app.column_inputs["optical"].value = "lithiation_index"
    assert "lithiation_index" in app.readout.value


def test_maps_tab_places_the_afm_scan_and_joins_particles(app, truth):
    app.tabs.selected_index = 2
    assert app.banner.layout.display == "none", app.banner.value
    t = app.registration.transform
    assert abs(t.rotation_deg - truth["afm_to_xray"]["rotation_deg"]) < 0.5
    assert np.hypot(*(np.asarray(t.translation_um) - truth["afm_to_xray"]["translation_um"])) < 0.5
    assert len(app.particles) >= 12 and app.particle_corr.iloc[0]["r"] < -0.8
    assert "Per-particle correlation" in app.map_table.value and "overlap_fraction_of_moving" in app.map_table.value
    rev = app.overlay_plot.revision
    app.view.value = "checkerboard"
    assert app.overlay_plot.revision == rev + 1
    app.moving_map.value = app.reference_map.value
    app.register_button.click()
    assert "two different maps" in app.banner.value
    app.moving_map.value = "afm_height"
    app.register_button.click()
    assert app.banner.layout.display == "none", app.banner.value


def test_mutual_information_refines_a_rough_landmark_placement(truth):
    pytest.importorskip("SimpleITK", reason="SimpleITK (battlab[registration]) is not installed")
    app = CorrelationApp()
    app.refine_button.click()
    assert "place the map first" in app.banner.value
    app.tabs.selected_index = 2
    a = truth["afm_to_xray"]
    th = np.deg2rad(a["rotation_deg"] + 1.5)  # clicked points off by 1.5° and 0.4 µm
    moving = np.array([[3.0, 4.0], [25.0, 6.0], [12.0, 27.0]])
    reference = a["scale"] * moving @ np.array([[np.cos(th), np.sin(th)], [-np.sin(th), np.cos(th)]]) + \
        np.asarray(a["translation_um"]) + 0.4
    app.landmarks.value = "\n".join(f"{m[0]}, {m[1]}, {r[0]}, {r[1]}" for m, r in zip(moving, reference, strict=True))
    app.landmark_button.click()
    rough = abs(app.registration.transform.rotation_deg - a["rotation_deg"])
    app.refine_button.click()
    assert app.banner.layout.display == "none", app.banner.value
    assert app.registration.method == "mutual information"
    assert abs(app.registration.transform.rotation_deg - a["rotation_deg"]) < min(0.5, rough)


def test_landmarks_typed_as_coordinates_place_the_map_exactly(app, truth):
    app.tabs.selected_index = 2
    a = truth["afm_to_xray"]
    th = np.deg2rad(a["rotation_deg"])
    moving = np.array([[3.0, 4.0], [25.0, 6.0], [12.0, 27.0]])
    reference = a["scale"] * moving @ np.array([[np.cos(th), np.sin(th)], [-np.sin(th), np.cos(th)]]) + \
        np.asarray(a["translation_um"])
    app.landmarks.value = "\n".join(f"{m[0]}, {m[1]}, {r[0]}, {r[1]}" for m, r in zip(moving, reference, strict=True))
    app.landmark_button.click()
    assert app.banner.layout.display == "none", app.banner.value
    assert abs(app.registration.transform.rotation_deg - a["rotation_deg"]) < 1e-6
    assert app.registration.rms_um < 1e-9 and "from 3 landmarks" in app.status.value
    assert len(app.particles) >= 12  # the particle join follows the new placement
    app.landmarks.value = "1, 2, 3"
    app.landmark_button.click()
    assert "has 3 numbers" in app.banner.value
    app.register_button.click()  # back to the intensity search
    assert app.banner.layout.display == "none", app.banner.value


def test_statistics_and_population_tabs(app):
    app.tabs.selected_index = 3
    cols = list(app.features.value)
    assert len(cols) >= 3 and app.correlations is not None
    assert {"r", "ci_low", "ci_high"} <= set(app.correlations.columns)
    assert app.pca is not None and abs(app.pca.explained_variance_ratio.sum() - 1) < 0.2
    # linked brushing: every scatter panel of the matrix draws from one shared source, with selection tools
    from bokeh.models import GlyphRenderer, Scatter, Tool

    renderers = [r for r in app.matrix_plot.object.select({"type": GlyphRenderer}) if isinstance(r.glyph, Scatter)]
    assert len(renderers) == len(cols) * (len(cols) - 1)
    assert len({id(r.data_source) for r in renderers}) == 1
    tools = {type(t).__name__ for t in app.matrix_plot.object.select({"type": Tool})}
    assert {"BoxSelectTool", "LassoSelectTool"} <= tools
    assert app.lag is not None and "best lag" in str(app.lag_plot.object.opts.get().kwargs.get("title", ""))
    app.features.value = tuple(cols[:2])
    assert len(app.correlations) == 2  # one pair, Pearson and Spearman
    app.tabs.selected_index = 4
    assert app.banner.layout.display == "none", app.banner.value
    assert len(app.population) == 24 and app.highlight.value in app.population["cell"].tolist()
    assert "in its population of 24 cells" in app.population_table.value
    app.metric.value = "knee_cycle"
    assert "knee_cycle" in str(app.population_plot.object)
    assert "delta_q_mAh" in str(app.delta_q_plot.object)


def test_user_cycling_file_then_exported_table(tmp_path, truth):
    from battlab.io import write_bdf_csv

    demo = _multimodal()
    app = CorrelationApp()
    write_bdf_csv(demo.data.cycling, tmp_path / "cell.csv")
    _upload(app.echem_upload, "cell.csv", (tmp_path / "cell.csv").read_bytes())
    assert app.banner.layout.display == "none", app.banner.value
    assert app.experiment.tables == {} and "Only the cycling record" in app.table.value
    _upload(app.upload, "xrd_results.csv", demo.data.tables["xrd"].to_csv(index=False).encode())
    assert app.banner.layout.display == "none", app.banner.value
    assert "xrd_results" in app.aligned
    # a results table whose name is not a known technique: offsets are set by hand
    app.offset_inputs["xrd_results"].value = truth["clock_offsets_s"]["xrd"]
    xrd = app.aligned["xrd_results"]
    np.testing.assert_allclose(xrd["x_xrd"], xrd["x_echem"].fillna(0.0), atol=0.03)


def test_map_upload_needs_its_pixel_size_then_registers(tmp_path):
    import numpy as np

    demo = _multimodal()
    app = CorrelationApp()
    afm = demo.data.images["afm_height"].to_numpy()
    buf = io.BytesIO()
    np.save(buf, afm)
    _upload(app.map_upload, "my_afm_scan.npy", buf.getvalue())
    assert "enter the pixel size of my_afm_scan.npy" in app.banner.value
    app.map_pixel.value = 0.12
    _upload(app.map_upload, "my_afm_scan.npy", buf.getvalue())
    assert app.banner.layout.display == "none", app.banner.value
    assert app.moving_map.value == "my_afm_scan" and "256 × 256 px" in app.status.value
    app.reference_map.value = "xray_absorption"
    app.register_button.click()
    assert app.banner.layout.display == "none", app.banner.value
    assert abs(app.registration.transform.rotation_deg - demo.truth["afm_to_xray"]["rotation_deg"]) < 0.5
    _upload(app.map_upload, "broken.tif", b"II*\x00" + b"\x00" * 40)
    assert "broken.tif" in app.banner.value and "Traceback" not in app.banner.value


def test_bad_uploads_get_a_message_and_the_app_keeps_working(app):
    _upload(app.upload, "../../notes.csv", b"a,b\n1,2\n")
    assert "no time column" in app.banner.value and "../" not in app.banner.value
    _upload(app.upload, "image.csv", b"\x89PNG\x00\x00binary" * 20)
    assert "not a text table" in app.banner.value
    _upload(app.echem_upload, "cell.csv", b"")
    assert "empty" in app.banner.value
    rev = app.timeline_plot.revision
    app.cursor.value = 0.25
    assert app.timeline_plot.revision == rev + 1


def test_export_before_any_tab_was_opened():
    fresh = CorrelationApp()
    with zipfile.ZipFile(io.BytesIO(fresh.export_zip())) as zf:
        names = set(zf.namelist())
    assert {"timeline_xrd.csv", "per_cycle_optical.csv", "provenance.json"} <= names and "overlay.html" not in names


def test_export_zip_has_timeline_tables_and_provenance(app):
    blob = app.export_zip()
    with zipfile.ZipFile(io.BytesIO(blob)) as zf:
        names = set(zf.namelist())
        prov = json.loads(zf.read("provenance.json"))
    assert {"timeline_optical.csv", "timeline_xrd.csv", "clock_offsets.csv", "reality_check.csv",
            "registration.csv", "particles.csv", "provenance.json", "timeline.html", "per_cycle_xrd.csv",
            "population_summary.csv", "lag_correlation.csv"} <= names
    assert prov["analysis"] == "battlab.correlate" and "xrd" in prov["parameters"]["clock_offsets_s"]


def test_real_cycler_file_becomes_the_master_clock(real_data):
    app = CorrelationApp()
    path = real_data / "biologic" / "yadg_gcpl.issue_149.mpr"
    _upload(app.echem_upload, path.name, path.read_bytes())
    assert app.banner.layout.display == "none", app.banner.value
    assert app.experiment.tables == {} and path.name in app.status.value
    timeline = app.aligned["cycling"]
    assert timeline["test_time_s"].is_monotonic_increasing and timeline["cycle"].max() >= 1
    assert set(app.column_inputs["cycling"].options) == {"voltage_V", "current_A", "charge_mAh", "soc"}
    app.column_inputs["cycling"].value = "charge_mAh"
    assert "charge_mAh" in app.readout.value
    # a table sampled on that cycler's own clock joins it with offset 0
    table = timeline[["test_time_s"]].iloc[::5].rename(columns={"test_time_s": "time_s"})
    table["signal"] = np.arange(len(table), dtype=float)
    _upload(app.upload, "probe.csv", table.to_csv(index=False).encode())
    assert app.banner.layout.display == "none", app.banner.value
    np.testing.assert_allclose(app.aligned["probe"]["test_time_s"], table["time_s"].to_numpy())
