"""The spectroscopy app, driven headless by setting widget values (no browser)."""

import datetime
import io
import json
import zipfile

import numpy as np
import pytest

from battlab.apps import SpectraApp

DEMOS = {"raman": "Raman: graphite G band and I_D/I_G over one cycle",
         "xas": "XAS: Mn edge, two-state mixture over time",
         "xps": "XPS: SEI C 1s and F 1s (Shirley, components)",
         "ftir": "FTIR: electrolyte decomposition bands",
         "nmr": "⁷Li NMR: lithium plating at ~260 ppm"}


def _upload(app, name, content: bytes):
    app.upload.value = ({"name": name, "type": "", "size": len(content), "content": memoryview(content),
                         "last_modified": datetime.datetime.now()},)


def _demo(app, technique):
    app.demo_picker.value = DEMOS[technique]
    app.demo_button.click()
    assert app.banner.layout.display == "none", app.banner.value
    assert app.technique == technique


@pytest.fixture(scope="module")
def app():
    return SpectraApp()


def test_opens_on_raman_demo_with_known_bands(app):
    from battlab.datasets.spectra import make_raman_graphite_series

    truth = make_raman_graphite_series().truth["bands"]
    assert app.banner.layout.display == "none"
    assert app.technique == "raman" and app.echem is not None
    for pane in (app.map_plot, app.spectrum_plot, app.track_plot):
        assert pane.widget.children, "every plot shows something"
    d_to_g = app.analysis.tables["d_to_g"]
    # Tolerances: band position 0.5 cm⁻¹, I_D/I_G (heights) 3 %.
    np.testing.assert_allclose(d_to_g["g_center_cm1"], truth["g_center_cm1"], atol=0.5)
    np.testing.assert_allclose(d_to_g["id_ig"], truth["id_ig_height"], rtol=0.03)
    assert "position" in app.table.value and "id_ig" in app.table.value


def test_preprocessing_controls_rerun_the_analysis(app):
    before = app.analysis.tables["bands"]["area"].copy()
    rev = app.spectrum_plot.revision
    app.baseline.value = "polynomial"
    app.poly_order.value = 3
    app.smoothing.value = 11
    app.normalization.value = "max"
    assert app.analysis.options["baseline"] == {"method": "polynomial", "order": 3}
    assert app.analysis.options["normalization"] == "max"
    assert not np.allclose(before, app.analysis.tables["bands"]["area"], equal_nan=True)
    assert app.spectrum_plot.revision > rev
    assert app.banner.layout.display == "none"
    app.normalization.value = "none"
    app.baseline.value = "als"


def test_views_slider_and_quantities_redraw(app):
    rev = app.map_plot.revision
    app.view.value = "waterfall"
    assert app.map_plot.revision > rev
    app.view.value = "map"
    rev = app.spectrum_plot.revision
    app.spectrum_slider.value = 30
    assert app.spectrum_plot.revision > rev
    for _, value in app.quantity.options:
        if value == app.quantity.value:
            continue
        rev = app.track_plot.revision
        app.quantity.value = value
        assert app.track_plot.revision > rev, value
        assert app.banner.layout.display == "none", value


def test_window_editor_adds_moves_and_keeps_one(app):
    editor = app.window_editor
    editor.new_name.value = "shoulder"
    editor.set_windows({"G": (1500.0, 1700.0)})
    app._analyse()
    editor.add_button.click()
    assert "shoulder" in editor.windows and app.banner.layout.display == "none"
    assert set(app.analysis.tables["bands"]["band"]) == {"G", "shoulder"}
    editor.picker.value = "G"
    editor.slider.value = (1520.0, 1650.0)
    assert app.analysis.options["windows"]["G"] == (1520.0, 1650.0)
    editor.remove_button.click()
    assert list(editor.windows) == ["shoulder"]
    editor.remove_button.click()  # the last window stays, with a message
    assert "at least one" in app.banner.value and list(editor.windows) == ["shoulder"]


def test_xas_demo_edge_and_lcf_recover_the_mixture(app):
    from battlab.datasets.spectra import make_xas_mixture_series

    truth = make_xas_mixture_series().truth
    _demo(app, "xas")
    lcf = app.analysis.tables["lcf"]
    # Tolerance: 2 percentage points on the LCF fractions with the demo's references.
    np.testing.assert_allclose(lcf["Mn4+_fraction"], truth["fractions"]["fraction_Mn4"], atol=0.02)
    assert app.analysis.pca["xas"].n_significant == 2
    assert "E0 (eV)" in app.table.value and "Linear-combination fit" in app.table.value
    # Edge shift against SOC (x-axis menu), from the demo's own cycling table.
    assert {"soc", "capacity_mAh"} <= set(app.analysis.tables["edge"].columns)
    app.quantity.value = "edge_shift"
    rev = app.track_plot.revision
    app.cycling.x_axis.value = "soc"
    assert app.track_plot.revision > rev and "SOC" in str(app.track_plot.object)
    assert app._provenance().inputs[-1]["role"] == "cycling"
    app.cycling.x_axis.value = "time"


def test_xps_demo_components_and_composition(app):
    from battlab.datasets.spectra import make_xps_sei

    truth = make_xps_sei().truth
    _demo(app, "xps")
    assert app.region.options == ("C 1s", "F 1s")
    comp = app.analysis.tables["composition"].set_index("species")
    for expected in truth.values():
        for row in expected["components"].itertuples():
            # Tolerance: 2 percentage points of the region's area.
            assert comp.loc[row.name, "fraction_in_element"] == pytest.approx(row.fraction, abs=0.02), row.name
    rev = app.spectrum_plot.revision
    app.region.value = "F 1s"
    assert app.spectrum_plot.revision > rev and "LiF" in app.table.value


def test_nmr_and_ftir_demos(app):
    from battlab.datasets.spectra import make_nmr_plating_series

    truth = make_nmr_plating_series().truth
    _demo(app, "nmr")
    app.analysis.tables["li_metal"]  # the window named "Li metal" gives the amount table
    ftir_ok = app.quantity.options
    assert ("Li metal amount", "li_metal") in ftir_ok
    from battlab.spectra import lithium_metal_amount

    amount = lithium_metal_amount(app.regions["nmr"], calibration_umol_per_area=truth["calibration_umol_per_area"])
    final = truth["lithium"]["li_metal_umol"].iloc[-1]
    assert amount["li_metal_umol"].iloc[-1] == pytest.approx(final, rel=0.03)
    _demo(app, "ftir")
    assert len(app.analysis.tables["bands"]["band"].unique()) >= 3


def test_real_xas_upload_and_refusals(app, real_data):
    _upload(app, "fe2o3.xmu", (real_data / "xas" / "xraylarch_fe2o3_rt1.xmu").read_bytes())
    assert app.banner.layout.display == "none", app.banner.value
    assert app.technique == "xas"
    e0 = app.analysis.tables["edge"]["e0_eV"].iloc[0]
    assert 7105 < e0 < 7130  # Fe K edge
    _upload(app, "garbage.csv", b"\x00\x01 this is not a spectrum \xff" * 50)
    assert app.banner.layout.display == "block"
    _upload(app, "pattern.xy", (real_data / "xrd" / "xrayutilities_LaB6_d500_si_psd.xye").read_bytes()[:20000])
    assert app.banner.layout.display == "block" and "diffraction" in app.banner.value.lower()
    _demo(app, "raman")  # still usable


def test_export_zip_has_tables_figures_and_provenance(app):
    _demo(app, "raman")
    with zipfile.ZipFile(io.BytesIO(app.export_zip())) as zf:
        names = set(zf.namelist())
        prov = json.loads(zf.read("provenance.json"))
    assert {"bands.csv", "d_to_g.csv", "pca_scores.csv", "pca_components.csv", "provenance.json",
            "spectrum.html", "map.html", "over_time.html"} <= names
    assert prov["parameters"]["technique"] == "raman"


def test_g_band_against_capacity_and_soc(app):
    """The x-axis dropdown: the G band against capacity follows the generator's law (Raman demo's cycling)."""
    from battlab.correlate.timeline import charge_timeline

    if app.technique != "raman":
        _demo(app, "raman")
    d_to_g = app.analysis.tables["d_to_g"]
    q_lith = -float(charge_timeline(app.echem)["charge_mAh"].min())
    x = -d_to_g["capacity_mAh"].to_numpy() / q_lith
    law = 1580.0 + 22.0 * np.minimum(x / 0.5, 1.0)  # the generator's G-band law against lithiation
    assert np.max(np.abs(d_to_g["g_center_cm1"] - law)) < 0.5
    app.quantity.value = "g_center_cm1"
    i = int(app.spectrum_slider.value)
    assert f"{d_to_g['capacity_mAh'].iloc[i]:+.3f} mAh" in app.spectrum_label.value
    for axis, label in (("capacity_mAh", "Capacity (mAh)"), ("soc", "SOC")):
        map_rev, track_rev = app.map_plot.revision, app.track_plot.revision
        app.cycling.x_axis.value = axis
        assert app.map_plot.revision > map_rev and app.track_plot.revision > track_rev
        assert label in str(app.track_plot.object) and label in str(app.map_plot.object)
        assert app.banner.layout.display == "none", app.banner.value
    app.cycling.x_axis.value = "time"


def test_uploaded_cycling_file_is_used_for_the_spectra(tmp_path):
    from battlab.datasets.spectra import make_raman_graphite_series
    from battlab.io import write_bdf_csv

    small = make_raman_graphite_series(n_spectra=6)
    app = SpectraApp(small.data)  # an uploaded-like series: no cycling until one is uploaded
    assert app.echem is None and "no cycling file" in app.cycling.info.value
    write_bdf_csv(small.truth["echem"], tmp_path / "cell.csv")
    content = (tmp_path / "cell.csv").read_bytes()
    app.cycling.upload.value = ({"name": "cell.csv", "type": "", "size": len(content),
                                 "content": memoryview(content), "last_modified": datetime.datetime.now()},)
    assert app.banner.layout.display == "none", app.banner.value
    assert app.cycling.source == "cell.csv" and "capacity_mAh" in app.analysis.tables["d_to_g"]
    app.cycling.clock_offset.value = 1e8  # far off the record: left out, with the reason shown
    assert "not used" in app.cycling.info.value and "capacity_mAh" not in app.analysis.tables["d_to_g"]
    app.cycling.x_axis.value = "capacity_mAh"
    assert "needs the cycling file" in app.track_plot.object.text


MOSSBAUER_DEMO = "Mössbauer: LiFePO4 → FePO4 doublets along charge"
EPR_DEMO = "EPR: Li metal narrow + broad lines during plating"


@pytest.mark.slow
def test_mossbauer_demo_sites_fractions_and_controls(app):
    from battlab.datasets.spectra import make_mossbauer_lfp_series

    app.demo_picker.value = MOSSBAUER_DEMO
    app.demo_button.click()
    assert app.banner.layout.display == "none", app.banner.value
    assert app.technique == "mossbauer"
    assert app.mossbauer_box.layout.display == "" and app.preprocessing_box.layout.display == "none"
    truth = make_mossbauer_lfp_series().truth["fractions"]
    fractions = app.analysis.tables["site_fractions"]
    # Site fractions within 2 % (absolute), as in tests/spectra/test_mossbauer.py.
    np.testing.assert_allclose(fractions["fraction_Fe3+ FePO4"], truth["fraction_Fe3+ FePO4"], atol=0.02)
    assert "δ vs α-Fe" in app.table.value and "ΔE_Q" in app.table.value
    assert "soc" in fractions  # the demo's cell: fractions against state of charge
    for q in ("site_fractions", "isomer_shift", "quadrupole"):
        rev = app.track_plot.revision
        app.quantity.value = q
        assert app.track_plot.revision > rev or q == app.quantity.options[0][1]
    # Editing the site list refits: one singlet only, so one fraction column.
    app.sites.value = "all iron, singlet, 0.8"
    assert list(app.analysis.tables["site_fractions"].filter(like="fraction_").columns) == ["fraction_all iron"]
    app.sites.value = "broken line"
    assert app.banner.layout.display != "none" and "name, kind" in app.banner.value


@pytest.mark.slow
def test_epr_demo_lines_and_tracking(app):
    from battlab.datasets.spectra import make_epr_plating_series

    app.demo_picker.value = EPR_DEMO
    app.demo_button.click()
    assert app.banner.layout.display == "none", app.banner.value
    assert app.technique == "epr" and app.epr_box.layout.display == ""
    assert app.frequency.value == pytest.approx(9.4)
    truth = make_epr_plating_series().truth
    table = app.analysis.tables["epr"]
    # Line widths and areas within 5 %, g within 1e-4 (last spectrum: both lines strong).
    last = truth["components"].iloc[-1]
    for name in ("narrow", "broad"):
        assert table[f"{name}_fwhm_mT"].iloc[-1] == pytest.approx(truth["lines"][name]["fwhm_mT"], rel=0.05)
        assert table[f"{name}_area"].iloc[-1] == pytest.approx(last[f"{name}_area"], rel=0.05)
        assert table[f"{name}_g"].iloc[-1] == pytest.approx(truth["lines"][name]["g"], abs=1e-4)
    assert "ΔB_pp" in app.table.value and "phase" in app.table.value
    for q in ("epr_areas", "epr_widths", "epr_asym", "epr_di", "epr_g"):
        app.quantity.value = q
        assert app.banner.layout.display == "none", app.banner.value
    app.line_shape.value = "lorentzian"
    assert (app.analysis.tables["epr_components"]["phase_deg"] == 0).all()
    app.n_lines.value = 1
    assert set(app.analysis.tables["epr_components"]["component"]) == {"line 1"}


@pytest.mark.slow
def test_generic_upload_read_as_mossbauer():
    from battlab.datasets.spectra import make_mossbauer_lfp_series

    app = SpectraApp()
    spec = make_mossbauer_lfp_series(n_spectra=2).data.isel(time=1)
    # A JCAMP-DX data type battlab does not know reads as "generic" until the user says what it is.
    rows = "\n".join(f"{v:.5f}, {c:.0f}" for v, c in zip(spec["velocity_mm_s"].to_numpy(), spec.to_numpy(),
                                                         strict=True))
    text = (f"##TITLE=LFP\n##JCAMP-DX=4.24\n##DATA TYPE=GAMMA TRANSMISSION\n##XUNITS=MM/S\n##YUNITS=COUNTS\n"
            f"##NPOINTS={spec.size}\n##XYPOINTS=(XY..XY)\n{rows}\n##END=\n")
    _upload(app, "unknown.jdx", text.encode())
    assert app.banner.layout.display == "none", app.banner.value
    assert app.technique == "generic" and app.read_as.layout.display == ""
    app.read_as.value = "mossbauer"
    assert app.banner.layout.display == "none", app.banner.value
    assert app.technique == "mossbauer" and app.read_as.layout.display == ""
    fractions = app.analysis.tables["site_fractions"]
    assert abs(fractions["fraction_Fe3+ FePO4"].iloc[0] - 0.98) < 0.02  # the demo's last spectrum: 98 % FePO4
    app.read_as.value = "generic"
    assert app.technique == "generic"
    app.demo_picker.value = DEMOS["nmr"]
    app.demo_button.click()
    assert app.read_as.layout.display == "none"


@pytest.mark.slow
def test_mossbauer_raw_channels_with_alpha_fe_and_epr_spin_standard():
    from battlab.datasets.spectra import (
        _mossbauer_counts,
        _triangle_velocity,
        make_alpha_fe_calibration,
        make_epr_plating_series,
        make_epr_reference,
        make_mossbauer_lfp_series,
    )

    app = SpectraApp()
    cal = make_alpha_fe_calibration()
    v = _triangle_velocity(cal.data.size, cal.truth["folding_point"], cal.truth["velocity_max_mm_s"])
    sites = [dict(s, area_mm_s=a) for s, a in zip(make_mossbauer_lfp_series(n_spectra=2).truth["sites"], (0.2, 0.1),
                                                 strict=True)]
    raw = np.random.default_rng(4).poisson(_mossbauer_counts(v, sites, 5e5))
    upload = lambda widget, name, arr: setattr(widget, "value", ({  # noqa: E731
        "name": name, "type": "", "size": 1, "content": memoryview("\n".join(str(int(c)) for c in arr).encode()),
        "last_modified": datetime.datetime.now()},))
    upload(app.raw_upload, "lfp_raw.txt", raw)
    assert app.banner.layout.display != "none" and "velocity scale" in app.banner.value  # no calibration yet
    upload(app.calibration_upload, "alpha_fe.txt", cal.data)
    assert app.banner.layout.display == "none", app.banner.value
    assert app.technique == "mossbauer" and "mm/s per channel" in app.calibration_label.value
    table = app.analysis.tables["mossbauer_sites"].set_index("site")
    # δ within 0.01 mm/s vs α-Fe and fractions within 2 % after folding and calibration in the app.
    assert table.loc["Fe2+ LiFePO4", "isomer_shift_mm_s"] == pytest.approx(1.225, abs=0.01)
    assert table.loc["Fe3+ FePO4", "fraction"] == pytest.approx(1 / 3, abs=0.02)

    app.demo_picker.value = "EPR: Li metal narrow + broad lines during plating"
    app.demo_button.click()
    ref = make_epr_reference()
    text = "Field [G],Intensity\n" + "\n".join(f"{b * 10:.5f},{y:.6g}" for b, y in zip(
        ref.data["field_mT"].to_numpy(), ref.data.to_numpy(), strict=True))
    app.reference_upload.value = ({"name": "standard.csv", "type": "", "size": len(text),
                                   "content": memoryview(text.encode()), "last_modified": datetime.datetime.now()},)
    app.sample_gain.value = 40.0
    app.reference_gain.value = 20.0
    assert app.banner.layout.display == "none", app.banner.value
    table = app.analysis.tables["epr"]
    truth = make_epr_plating_series().truth["components"]
    # Spins of each line against the standard within 5 % (last spectrum).
    assert table["narrow_spins"].iloc[-1] == pytest.approx(truth["narrow_spins"].iloc[-1], rel=0.05)
    assert table["broad_spins"].iloc[-1] == pytest.approx(truth["broad_spins"].iloc[-1], rel=0.05)
