"""The in situ TEM app, driven headless by setting widget values (no browser)."""

import datetime
import io
import json
import zipfile

import numpy as np
import pandas as pd
import pytest

from battlab.apps import APPS, TEMApp
from battlab.apps.tem import TABS
from battlab.datasets.tem import make_saed_pattern


def _upload(app, name, content: bytes):
    app.upload.value = ({"name": name, "type": "", "size": len(content), "content": memoryview(content),
                         "last_modified": datetime.datetime.now()},)


@pytest.fixture(scope="module")
def app():
    return TEMApp()


@pytest.fixture(scope="module")
def demo_truth(app):
    """The opening demo session's truth (``app.truth`` follows later uploads; tests may run in any subset)."""
    return app.demos()[app.demo_picker.options[0]]().truth


def test_opens_on_demo_session(app):
    assert "TEMApp" in APPS and APPS["TEMApp"][0] == "06_in_situ_tem.ipynb"
    assert app.banner.layout.display == "none"
    assert "60 frames" in app.status.value and "diffraction pattern" in app.status.value
    assert "λ = 2.5079 pm" in app.wavelength.value
    morph = app.tables["morphometry"]
    assert morph["expansion_definition"].iloc[0] == "A/A0 = (d/d0)^2 (projected area)"
    # the lithiating wire's projected area grows (shell expansion β = 3.7)
    assert morph["expansion_pct"].iloc[-1] > 20
    # the wire swells radially (width); its length is the field of view, so the largest caliper
    # (the band's diagonal) grows far less
    assert morph["radial_strain"].iloc[-1] > 0.2 and morph["axial_strain"].iloc[-1] < morph["radial_strain"].iloc[-1] / 3
    assert app.frame_pane.widget.children and app.morph_pane.widget.children


def test_pca_display_and_residual(app):
    rev = app.frame_pane.revision
    app.denoise.value = "PCA"
    assert app.frame_pane.revision > rev and "PCA: 3 components keep" in app.status.value
    app.show_residual.value = True
    shown = app.frame_pane.object.get(0).data if hasattr(app.frame_pane.object, "get") else None
    assert shown is not None
    residual = np.asarray(app.display_movie.isel(time=5).values)
    assert np.abs(residual).mean() < 0.05  # the wire movie is low-rank: little but noise is removed
    app.denoise.value = "raw"
    assert app.display_movie is None


def test_fronts_tab_tracks_the_core(app):
    app.tabs.selected_index = 1
    truth = app.truth["movie"]
    front = app.tables["front"]
    # two-sided half-width = core radius of the generated wire (1 nm pixels)
    np.testing.assert_allclose(front["half_width"], truth["core_radius_nm"], atol=0.6)
    models = app.tables["front_models"]
    assert {"linear", "parabolic", "power_law", "deal_grove", "jmak"} == set(models["model"])
    params = app.tables["front_parameters"].set_index(["model", "parameter"])
    assert params.loc[("parabolic", "D"), "value"] == pytest.approx(truth["D_nm2_s"], rel=0.05)
    assert "AIC" in app.table.value and "Two regimes" in app.table.value
    rev = app.kin_pane.revision
    app.loglog.value = True
    assert app.kin_pane.revision == rev + 1


def test_diffraction_tab_lists_every_candidate(app):
    app.tabs.selected_index = 3
    matches = app.tables["saed_matches"]
    assert {"Li", "Li2O", "LiF"} <= set(matches["phase"][:4])
    assert "Li2O" in app.table.value
    # calibrating on the pattern itself as a Au standard must fail cleanly (it is not Au)
    app.standard.value = "Au"
    assert app.banner.layout.display == "block" or "saed_calibration" in app.tables
    app.standard.value = "none"
    assert app.banner.layout.display == "none" or "saed_matches" in app.tables


def test_spectroscopy_and_dose_tabs(app):
    app.tabs.selected_index = 4
    assert app.tables["eels_thickness"]["t_over_lambda"].iloc[0] == pytest.approx(0.40, rel=0.02)
    app.edge.value = "O K"
    assert "O K" in app.eels_pane.object.opts.get().kwargs.get("title", "")
    app.tabs.selected_index = 5
    summary = app.tables["dose_summary"].iloc[0]
    assert summary["dose_rate_e_A2_s"] == pytest.approx(0.1, rel=0.01)  # 1.26 pA on a 1 µm disc
    assert summary["dose_per_frame_e_A2"] == pytest.approx(0.5, rel=0.01)
    thr = app.tables["dose_threshold"].iloc[0]
    # the nanowire starts swelling at once: the hinge sits at the first frames' dose (< 1 e/Å² at 0.1 e/Å²/s)
    assert thr["threshold_e_A2"] < 1.0 and thr["metric"] == "expansion_pct"
    app.current_nA.value = 1.0
    assert app.tables["dose_summary"]["dose_rate_e_A2_s"].iloc[0] == pytest.approx(79.47, abs=0.01)
    assert app.tables["dose_summary"]["fits_budget"].iloc[0] == False  # noqa: E712
    app.dose_mode.value = "STEM"
    assert app.tables["dose_summary"]["mode"].iloc[0] == "STEM"


def test_nucleation_demo(app):
    app.demo_picker.value = "Li nucleation (dark Li, invert) + SAED + EELS"
    app._load_demo(app.demo_picker.value)
    app.tabs.selected_index = 2
    fits = app.tables["nucleation_fits"]
    assert fits["model"].iloc[0] == "instantaneous"
    assert fits["N_inf"].iloc[0] == pytest.approx(25, rel=0.05)
    assert "Growth exponent" in app.table.value and "closest: growth, diffusion-limited" in app.table.value
    assert app.count_pane.widget.children and app.growth_pane.widget.children
    # the session's plating transient follows the instantaneous Scharifker–Hills curve (t_m = 5 s)
    tr = app.tables["transient"].iloc[0]
    assert tr["closer"] == "instantaneous" and tr["t_m_s"] == pytest.approx(5.0, rel=0.02)
    assert "Scharifker–Hills: closer to instantaneous" in app.sh_pane.object.opts.get().kwargs["title"]
    assert app.tables["frame_echem"]["current_A"].notna().sum() >= 38  # frames inside the 40 s record


def test_uploaded_progressive_transient(app):
    from battlab.tem.nucleation import scharifker_hills

    t = np.linspace(0.1, 30, 600)
    current = -1e-6 * np.sqrt(scharifker_hills(t / 8.0, model="progressive"))
    csv = pd.DataFrame({"time/s": t, "Ewe/V": -0.1, "I/mA": current * 1e3}).to_csv(index=False).encode()
    _upload(app, "step.csv", csv)
    assert app.banner.layout.display == "none", app.banner.value
    assert app.tables["transient"]["closer"].iloc[0] == "progressive"
    assert app.tables["transient"]["t_m_s"].iloc[0] == pytest.approx(8.0, rel=0.02)


def test_export_zip_has_tables_and_provenance(app):
    data = app.export_zip()
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        names = set(zf.namelist())
        prov = json.loads(zf.read("provenance.json"))
    assert {"front_models.csv", "saed_matches.csv", "eels_edges.csv", "dose.csv", "morphometry.csv",
            "provenance.json", "kinetics.html"} <= names, sorted(names)
    assert prov["analysis"] == "battlab.apps.TEMApp" and prov["parameters"]["voltage_kV"] == 200.0


def test_uploads_real_and_generated(real_data, tmp_path):
    pytest.importorskip("rsciio")
    app = TEMApp()
    _upload(app, "ncempy_08_carbon.dm3", (real_data / "tem" / "ncempy_08_carbon.dm3").read_bytes())
    assert app.banner.layout.display == "none", app.banner.value
    assert app.spectrum.attrs["source_name"] == "ncempy_08_carbon.dm3"
    edges = app.tables["eels_edges"]
    assert edges["edge"].tolist() == ["C K"] and edges["signal"].iloc[0] > 0
    assert app.tabs.selected_index == TABS.index("Spectroscopy")  # the uploaded spectrum is shown
    # a bare .npy pattern without a pixel size is taken as a diffraction pattern
    buf = io.BytesIO()
    np.save(buf, make_saed_pattern(phases={"Si": 1.0}).data.values)
    app.camera_constant.value = 0.0
    app.standard.value = "Si"
    _upload(app, "si.npy", buf.getvalue())
    assert app.banner.layout.display == "none", app.banner.value
    assert app.tables["saed_center"]["calibration"].iloc[0] == "calibrated on Si"
    assert app.tabs.selected_index == TABS.index("Diffraction")
    # refusals: a NeXus master whose data file is missing, an .emi alone, a corrupt .dm4
    _upload(app, "master.h5", (real_data / "hdf5-nexus" / "ncempy_au_145mm_68kx_microprobe_01_master.h5").read_bytes())
    assert app.banner.layout.display == "block" and "reads" in app.banner.value
    _upload(app, "x.emi", (real_data / "tem" / "ncempy_16_STOimage.emi").read_bytes())
    assert "_1.ser" in app.banner.value
    _upload(app, "junk.dm4", b"\x00" * 400)
    assert app.banner.layout.display == "block" and "Traceback" not in app.banner.value
    assert app.spectrum.attrs["source_name"] == "ncempy_08_carbon.dm3"  # the app kept its data
    # a real Velox image lands in the movie tabs as one frame; every tab opens without a traceback
    _upload(app, "ceta.emd", (real_data / "tem" / "ncempy_Camera_Ceta_Imaging_Micro.emd").read_bytes())
    assert app.movie.sizes["time"] == 1 and app.movie.attrs["pixel_size_nm"] == pytest.approx(3.1388, rel=1e-4)
    for tab in range(6):
        app.tabs.selected_index = tab
        assert "unexpected" not in app.banner.value, (tab, app.banner.value)


def test_saed_series_session():
    app = TEMApp()
    app.demo_picker.value = "Si nanowire + SAED series Si → Li15Si4 (JMAK) + EELS"
    app._load_demo(app.demo_picker.value)
    assert app.banner.layout.display == "none", app.banner.value
    assert "diffraction series of 16" in app.status.value
    frac = app.tables["saed_phase_fraction"]
    assert (frac["reactant"].iloc[0], frac["product"].iloc[0]) == ("Si", "Li15Si4")
    np.testing.assert_allclose(frac["product_fraction"], app.truth["pattern"]["product_fraction"], atol=0.05)
    assert "Si → Li15Si4" in app.series_pane.object.opts.get().kwargs["title"]


def test_hrtem_session_fft_spacing():
    app = TEMApp()
    app.demo_picker.value = "HRTEM: graphite (0002) breathing +5.9 % + SAED + EELS"
    app._load_demo(app.demo_picker.value)
    app.tabs.selected_index = 3
    app.run_fft.click()
    table = app.tables["hrtem_d"]
    np.testing.assert_allclose(table["d_A"], app.truth["movie"]["d_A"], rtol=5e-3)  # FFT d within 0.5 %
    assert table["strain"].iloc[-1] == pytest.approx(0.059, abs=0.005)
    assert app.fft_pane.object.opts.get().kwargs["title"].startswith("lattice spacing: 3.35")


def _image_values(pane):
    """The 2-D array of the first Image in a pane's HoloViews object."""
    import holoviews as hv

    obj = pane.object
    img = obj if isinstance(obj, hv.Image) else next(iter(obj.traverse(lambda e: e, [hv.Image])))
    return img.dimension_values(2, flat=False)


@pytest.mark.slow
def test_holography_tab_phase_step_and_voltage(app):
    from battlab.datasets.imaging import make_hologram, make_phase_step
    from battlab.tem.physics import interaction_constant_rad_per_V_nm

    # the session's demos (the app's own truth may belong to a later upload by now)
    holo_truth, step_truth = make_hologram(voltage_kV=200.0).truth, make_phase_step(voltage_kV=200.0).truth
    app.tabs.selected_index = 6
    assert app.banner.layout.display == "none", app.banner.value
    # the session's hologram is reconstructed (reference-corrected) and profiled across the particle
    assert "reference-corrected" in app.holo_summary.value and "Δφ" in app.table.value
    assert app.holo_phase.attrs["sideband_px"] == pytest.approx((-40, 60), abs=0.2)
    diff = (app.holo_phase.values - holo_truth["phase_rad"])[16:-16, 16:-16]
    assert np.sqrt(np.mean((diff - diff.mean()) ** 2)) < 0.05  # rad RMS
    # the phase-step image: ΔV within 2 % once the thickness is given
    app.holo_source.value = "phase"
    app.holo_thickness.value = step_truth["thickness_nm"]
    step = app.tables["holography_step"].iloc[0]
    assert step["delta_potential_V"] == pytest.approx(step_truth["step_V"], rel=0.02)
    assert "ΔV" in app.table.value and app.phase_profile_pane.object is not None
    # C_E follows the voltage control: the same phase at 300 kV is a larger potential
    app.voltage.value = 300.0
    step300 = app.tables["holography_step"].iloc[0]
    ratio = interaction_constant_rad_per_V_nm(200) / interaction_constant_rad_per_V_nm(300)
    assert step300["delta_potential_V"] == pytest.approx(step["delta_potential_V"] * ratio, rel=1e-9)
    app.voltage.value = 200.0
    # a line leaving the image is a message, not a traceback
    app.holo_line[2].value = 5000.0
    assert app.banner.layout.display == "block" and "leaves the" in app.banner.value
    app.holo_line[2].value = 64.0
    assert app.banner.layout.display == "none"


def test_hologram_uploaded_on_the_holography_tab(app):
    from battlab.datasets.imaging import make_hologram

    demo = make_hologram(voltage_kV=200.0, rng=2)
    buf = io.BytesIO()
    np.save(buf, demo.data["hologram"].values)
    app.tabs.selected_index = 6
    app.pixel_size.value = 0.5
    try:
        _upload(app, "holo.npy", buf.getvalue())
    finally:
        app.pixel_size.value = 0.0
    assert app.banner.layout.display == "none", app.banner.value
    assert app.hologram.attrs["source_name"] == "holo.npy" and app.hologram_reference is None
    assert app.holo_source.value == "hologram" and "no reference" in app.holo_summary.value
    assert app.movie.sizes["time"] > 1  # the movie of the session stays


@pytest.mark.slow
def test_radiography_demo_through_the_movie_tabs(app):
    app.tabs.selected_index = 0
    app.demo_picker.value = "Neutron radiography: Li moving anode → cathode (movie tabs)"
    app._load_demo(app.demo_picker.value)
    assert app.banner.layout.display == "none", app.banner.value
    assert app.preset.value == "neutron radiography" and "attenuation" in app.preset_note.value
    assert app.movie.attrs["units"] == "-ln(I/I0)"
    # difference to the first frame with σ(Li) = 70.5 b: the last frame shows Li areal density change
    app.difference.value = True
    app.frame.value = app.movie.sizes["time"] - 1
    values = _image_values(app.frame_pane)
    y0, y1, x0, x1 = app.truth["movie"]["rois"]["anode"]
    anode = values[::-1][y0:y1, x0:x1].mean()  # the plot flips rows
    assert anode == pytest.approx(app.truth["movie"]["delta_areal_density_mg_cm2"]["anode"][-1], rel=0.05)
    # the existing movie tools run on it: a kymograph across the cell and a front fit
    app.tabs.selected_index = 1
    assert app.banner.layout.display == "none", app.banner.value
    app.preset.value = "TEM"
    assert app.preset_note.value == ""
    app.tabs.selected_index = 0


def test_gpa_strain_map_with_g_choice_and_components():
    # hexagonal lattice, right half stretched 2 % along x: ε_xx = 0.02 there, 0 on the reference (left) half
    from battlab.datasets.tem import make_hrtem_lattice

    demo = make_hrtem_lattice(d_A=3.1, pixel_size_nm=0.05, size=192, angle_deg=10.0, noise=0.0)
    n, px = 192, 0.05
    y, x = np.indices((n, n), dtype=float) * px
    # material x coordinate: continuous, compressed 1/1.02 on the right half (the lattice looks stretched)
    x0 = np.where(x < n * px / 2, x, n * px / 2 + (x - n * px / 2) / 1.02)
    img = np.zeros((n, n))
    for j in range(3):
        a = np.radians(10.0 + 60 * j)
        img += np.cos(2 * np.pi * (10 / 3.1) * (x0 * np.cos(a) - y * np.sin(a)))
    image = demo.data.copy(data=img.astype(np.float32))
    app = TEMApp(data=image)
    app.tabs.selected_index = 3
    app.run_gpa.click()
    assert app.banner.layout.display == "none"
    assert len(app.gpa_g1.options) >= 3 and app.gpa_g2.value is not None  # a second lattice row picked
    app.gpa_component.value = "exx"
    assert app.banner.layout.display == "none"
    strain = app.gpa_strain_map.values
    left, right = np.median(strain[40:150, 30:80]), np.median(strain[40:150, 112:162])
    # the FFT spots average both halves, so the reference lies between them: the step is the known answer
    assert right - left == pytest.approx(1 - 1 / 1.02, abs=3e-3)
    app.gpa_component.value = "eyy"  # no strain along y
    eyy = app.gpa_strain_map.values
    assert abs(np.median(eyy[40:150, 112:162]) - np.median(eyy[40:150, 30:80])) < 3e-3
    assert "GPA (eyy" in app.table.value and app.gpa_pane.widget.children
    # strain along one g only: the tensor components need g₂, with a clear message
    app.gpa_g2.value = None
    app.gpa_component.value = "exy"
    assert app.banner.layout.display != "none" and "second lattice vector" in app.banner.value
    app.gpa_component.value = "along_g1"
    assert app.tables["gpa_strain"]["component"].iloc[0] == "along_g1"
    assert app._provenance().parameters["gpa_component"] == "along_g1"


def test_eds_mode_quantifies_the_nmc_particle(app, demo_truth):
    app.tabs.selected_index = 4
    app.spec_mode.value = "EDS"
    assert app.banner.layout.display == "none" and app.eds_box.layout.display == ""
    truth = demo_truth["eds"]
    comp = app.tables["eds_composition"].set_index("element")["at_pct"]
    assert comp["O"] == pytest.approx(66.7, abs=2.0)  # O is 2/3 of the detected atoms of LiTMO2 (Poisson data)
    app.eds_show.value = "Ni"
    at = app.eds_result.arrays["composition"].sel(element="Ni").values
    core, shell = truth["core_mask"], truth["particle_mask"] & ~truth["core_mask"]
    # Ni at.% of LiNi0.8Mn0.1Co0.1O2 is 26.7 in the core and 11.1 in the NMC111 shell (noisy demo: medians ± 2)
    assert np.nanmedian(at[core]) == pytest.approx(100 * 0.8 / 3, abs=2.0)
    assert np.nanmedian(at[shell]) == pytest.approx(100 / 9, abs=2.0)
    assert "Ni at.%" in str(app.eds_map_pane.object)
    # the atomic Ni/Mn ratio map (battlab.elements.ratio_map, k-factors as sensitivities): 8 in the core, 1 outside
    app.eds_quantity.value = "ratio"
    ratio = app.eds_result.arrays["ratio Ni/Mn"].values
    assert np.nanmedian(ratio[core]) == pytest.approx(8.0, rel=0.15)
    assert np.nanmedian(ratio[shell]) == pytest.approx(1.0, rel=0.15)
    app.eds_quantity.value = "at_pct"
    # user k-factors replace the approximate defaults
    before = comp["Ni"]
    app.eds_k.value = "Ni=2.9"
    assert app.tables["eds_composition"].set_index("element")["at_pct"]["Ni"] > before + 5
    assert app._provenance().parameters["eds_k_factors"] == {"Ni": 2.9}
    app.eds_k.value = "Ni:2"
    assert app.banner.layout.display != "none" and "ELEMENT=VALUE" in app.banner.value
    app.eds_k.value = ""
    assert "at.%" in app.table.value
    app.spec_mode.value = "EELS"
    assert app.eels_box.layout.display == "" and app.eds_box.layout.display == "none"


def test_4dstem_virtual_detector_annulus(app, demo_truth):
    app.tabs.selected_index = 3
    truth = demo_truth["cube"]
    bf = app.stem_image.values
    np.testing.assert_allclose(bf / 1000, truth["transmission"], rtol=0.01)  # default disc: BF = counts·T
    app.annulus.value = (7.5, 14.5)
    np.testing.assert_allclose(app.stem_image.values / 1000, 1 - truth["transmission"], atol=0.01)  # ADF
    app.stem_signal.value = "com"
    np.testing.assert_allclose(app.stem_image.values, np.hypot(truth["shift_y_px"], truth["shift_x_px"]), atol=0.1)
    assert "stem_virtual_images" in app._results()


def test_uploaded_eds_and_4dstem_emd_files(tmp_path):
    # real NCEM EMD files written by RosettaSciIO's writer (no instrument EDS or 4D-STEM file is available here)
    rsciio_emd = pytest.importorskip("rsciio.emd")
    from battlab.datasets.tem import make_4dstem_cube, make_eds_spectrum_image

    eds = make_eds_spectrum_image(ny=12, nx=12, radius_px=5, core_radius_px=3)
    rsciio_emd.file_writer(str(tmp_path / "eds.emd"), {
        "data": eds.data.values, "original_metadata": {},
        "metadata": {"General": {"title": "eds"}, "Signal": {}},
        "axes": [{"name": "y", "units": "nm", "scale": 2.0, "offset": 0, "size": 12, "navigate": True},
                 {"name": "x", "units": "nm", "scale": 2.0, "offset": 0, "size": 12, "navigate": True},
                 {"name": "Energy", "units": "keV", "scale": 0.01, "offset": 0.005, "size": 1024,
                  "navigate": False}]})
    cube = make_4dstem_cube(scan=(10, 8), detector=32)
    rsciio_emd.file_writer(str(tmp_path / "cube.emd"), {
        "data": cube.data.values, "original_metadata": {},
        "metadata": {"General": {"title": "cube"}, "Signal": {}},
        "axes": [{"name": "y", "units": "nm", "scale": 0.5, "offset": 0, "size": 10, "navigate": True},
                 {"name": "x", "units": "nm", "scale": 0.5, "offset": 0, "size": 8, "navigate": True},
                 {"name": "ky", "units": "1/nm", "scale": 0.1, "offset": -1.6, "size": 32, "navigate": False},
                 {"name": "kx", "units": "1/nm", "scale": 0.1, "offset": -1.6, "size": 32, "navigate": False}]})
    app = TEMApp()
    _upload(app, "eds.emd", (tmp_path / "eds.emd").read_bytes())
    assert app.banner.layout.display == "none", app.banner.value
    assert app.eds is not None and app.eds.attrs["source_name"] == "eds.emd" and app.spec_mode.value == "EDS"
    app.tabs.selected_index = 4
    comp = app.tables["eds_composition"].set_index("element")["at_pct"]
    assert comp["O"] == pytest.approx(66.7, abs=2.0)
    _upload(app, "cube.emd", (tmp_path / "cube.emd").read_bytes())
    assert app.banner.layout.display == "none", app.banner.value
    app.tabs.selected_index = 3
    assert app.cube.attrs["kind"] == "4D-STEM" and hasattr(app.cube.data, "dask")  # opened lazily
    np.testing.assert_allclose(app.stem_image.values / 1000, cube.truth["transmission"], rtol=0.01)
    assert {"eds", "cube"} <= {i["role"] for i in app._provenance().inputs}


def test_decomposition_of_the_eds_spectrum_image(app, demo_truth, monkeypatch):
    import battlab.apps.tem as tem_app

    app.tabs.selected_index = 4
    app.spec_mode.value = "EDS"
    app.decomp_method.value = "none"
    app.run_decomp.click()
    assert app.banner.layout.display != "none" and "PCA or NMF" in app.banner.value
    # NMF, 2 components: one abundance map is the NMC811 core (|r| with the true core mask > 0.9; measured 0.97)
    app.decomp_method.value, app.decomp_n.value = "NMF", 2
    app.run_decomp.click()
    assert app.banner.layout.display == "none"
    core = demo_truth["eds"]["core_mask"].astype(float).ravel()
    maps = app.decomposition["maps"].values
    r = [abs(np.corrcoef(m.ravel(), core)[0, 1]) for m in maps]
    assert max(r) > 0.9, r
    assert (maps >= 0).all()
    spectra = app.tables["eds_decomposition_spectra"]
    assert list(spectra.columns) == ["energy_eV", "component_1", "component_2"]
    np.testing.assert_allclose(spectra["energy_eV"], app.eds["energy_eV"].values)
    assert "X-ray energy (keV)" in str(app.decomp_spectra_pane.object) and app.decomp_maps_pane.widget.children
    # PCA: explained variance falls monotonically and the first component dominates (measured 0.96)
    app.decomp_method.value, app.decomp_n.value = "PCA", 4
    app.run_decomp.click()
    explained = app.tables["eds_decomposition_scores"]["explained_variance"].to_numpy()
    assert len(explained) == 4 and np.all(np.diff(explained) < 0) and explained[0] > 0.9
    assert "Decomposition:" in app.table.value and app.decomp_scree_pane.object is not None
    # the tables the download writes as CSV (export_zip: every table of _results, see the export test)
    assert {"eds_decomposition_spectra", "eds_decomposition_scores"} <= set(app._results())
    prov = app._provenance().parameters
    assert prov["decomposition_method"] == "PCA" and prov["decomposition_components"] == 4
    assert prov["decomposition_of"] == "EDS spectrum image"
    # a spectrum image above the app's in-memory limit is refused with a message, not computed
    monkeypatch.setattr(tem_app, "_MAX_IN_APP_VALUES", 1000)
    app.run_decomp.click()
    assert app.banner.layout.display != "none" and "too large to decompose" in app.banner.value
    monkeypatch.undo()
    app.spec_mode.value = "EELS"  # the EDS decomposition is not shown against the EELS mode
    assert app.decomposition is None and "eds_decomposition_spectra" not in app.tables


def test_decomposition_of_the_eels_spectrum_image(app):
    from battlab.datasets.tem import make_eels_spectrum_image

    app.tabs.selected_index = 4
    app.spec_mode.value = "EELS"
    for method in ("PCA", "NMF"):
        app.decomp_method.value, app.decomp_n.value = method, 3
        app.run_decomp.click()
        assert app.banner.layout.display == "none", app.banner.value
        spectra = app.decomposition["spectra"]
        assert spectra.dims == ("component", "energy") and spectra.sizes["component"] == 3
        np.testing.assert_allclose(spectra["energy_eV"].values, app.eels_si["energy_eV"].values)
        table = app.tables["eels_decomposition_spectra"]
        np.testing.assert_allclose(table["energy_eV"], app.eels_si["energy_eV"].values)
        assert "energy loss (eV)" in str(app.decomp_spectra_pane.object)
    assert np.isfinite(app.decomposition["maps"].values).all()
    assert app._provenance().parameters["decomposition_of"] == "EELS spectrum image"
    app.decomp_method.value = "none"
    assert app.decomposition is None and "eels_decomposition_scores" not in app.tables
    # an uploaded EELS spectrum image fills the spectrum-image slot; its sum feeds the edge analysis
    si = make_eels_spectrum_image(nx=20, rng=3).data
    app._set_data(si, "eels_si.npy")
    assert app.banner.layout.display == "none" and app.eels_si is si
    np.testing.assert_allclose(app.spectrum.values, si.sum(dim=("y", "x")).values, rtol=1e-5)
    assert "EELS spectrum image 24×20" in app.describe_data()
