"""`battlab tem` and `battlab saed` run as real subprocesses on generated and real files."""

import json
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from battlab.datasets.tem import make_li_nucleation_movie, make_saed_pattern, make_si_nanowire_movie


def run(*args):
    return subprocess.run([sys.executable, "-m", "battlab.cli", *args], capture_output=True, text=True, timeout=300,
                          check=False)


@pytest.mark.slow
def test_saed_npy_with_standard_then_phase_matching(tmp_path):
    demo = make_saed_pattern(phases={"Au": 1.0})
    np.save(tmp_path / "au.npy", demo.data.values)
    res = run("saed", str(tmp_path / "au.npy"), "--standard", "Au", "--beam-stop", "12", "--out", str(tmp_path / "cal"))
    assert res.returncode == 0, res.stderr
    k = pd.read_csv(tmp_path / "cal" / "center.csv")["camera_constant_px_A"].iloc[0]
    assert k == pytest.approx(demo.truth["camera_constant_px_A"], rel=2e-3)
    # the calibrated constant then identifies an unknown Li2O pattern
    unknown = make_saed_pattern(phases={"Li2O": 1.0}, rng=21)
    np.save(tmp_path / "x.npy", unknown.data.values)
    res = run("saed", str(tmp_path / "x.npy"), "--camera-constant", f"{k:.4f}", "--beam-stop", "12",
              "--out", str(tmp_path / "x"))
    assert res.returncode == 0, res.stderr
    matches = pd.read_csv(tmp_path / "x" / "matches.csv")
    assert matches["phase"].iloc[0] == "Li2O"
    rings = pd.read_csv(tmp_path / "x" / "rings.csv")
    assert rings["d_A"].iloc[0] == pytest.approx(4.6114 / np.sqrt(3), rel=2e-3)  # Li2O(111)
    prov = json.loads((tmp_path / "x" / "provenance.json").read_text())
    assert prov["inputs"][0]["name"] == "x.npy" and len(prov["inputs"][0]["sha256"]) == 64
    assert "matches.csv" in prov["outputs"]


@pytest.mark.slow
def test_tem_movie_front_and_particles(tmp_path):
    wire = make_si_nanowire_movie(n_frames=30)
    np.save(tmp_path / "wire.npy", np.asarray(wire.data.values))
    ax = wire.truth["axis_y_px"]
    res = run("tem", str(tmp_path / "wire.npy"), "--pixel-size-nm", "1", "--frame-time-s", "1",
              "--line", f"{ax - 40},40,{ax + 40},40", "--level", "0.6", "--bootstrap", "20",
              "--dose-rate", "0.1", "--out", str(tmp_path / "wire"))
    assert res.returncode == 0, res.stderr
    front = pd.read_csv(tmp_path / "wire" / "front.csv")
    # the upper core edge sits 40 − r_c + dy(t) px along the line (the stage drifts by dy)
    expected = 40 - wire.truth["core_radius_nm"] + wire.truth["drift_px"][:, 0]
    np.testing.assert_allclose(front["front_nm"], expected, atol=0.6)
    models = pd.read_csv(tmp_path / "wire" / "front_models.csv")
    assert set(models["model"]) >= {"linear", "parabolic", "power_law"}
    dose = pd.read_csv(tmp_path / "wire" / "dose.csv")
    # a potentiostat log on the movie's clock: current at every frame
    t = np.linspace(0, 100, 1001)
    pd.DataFrame({"time/s": t, "Ewe/V": 0.5 - 0.001 * t, "I/mA": -0.2}).to_csv(tmp_path / "cell.csv", index=False)
    res = run("tem", str(tmp_path / "wire.npy"), "--pixel-size-nm", "1", "--frame-time-s", "1", "--echem",
              str(tmp_path / "cell.csv"), "--clock-offset-s", "10", "--out", str(tmp_path / "sync"))
    assert res.returncode == 0, res.stderr
    sync = pd.read_csv(tmp_path / "sync" / "frame_echem.csv")
    np.testing.assert_allclose(sync["voltage_V"], 0.5 - 0.001 * (np.arange(30) + 10), atol=1e-6)
    assert dose["cumulative_dose_e_A2"].iloc[-1] == pytest.approx(3.0)  # 30 frames × 1 s × 0.1 e/Å²/s

    nuc = make_li_nucleation_movie(n_frames=20)
    np.save(tmp_path / "li.npy", np.asarray(nuc.data.values))
    res = run("tem", str(tmp_path / "li.npy"), "--pixel-size-nm", "2", "--frame-time-s", "1", "--particles",
              "--invert", "--min-area", "3", "--out", str(tmp_path / "li"))
    assert res.returncode == 0, res.stderr
    counts = pd.read_csv(tmp_path / "li" / "counts.csv")
    assert counts["count"].iloc[-1] == nuc.truth["count"][-1]
    assert pd.read_csv(tmp_path / "li" / "nucleation_fits.csv")["model"].iloc[0] == "instantaneous"


@pytest.mark.slow
def test_tem_real_files(real_data, tmp_path):
    pytest.importorskip("rsciio")
    res = run("tem", str(real_data / "tem" / "ncempy_08_carbon.dm3"), "--out", str(tmp_path / "eels"))
    assert res.returncode == 0, res.stderr
    edges = pd.read_csv(tmp_path / "eels" / "edges.csv")
    assert edges["edge"].tolist() == ["C K"] and edges["signal"].iloc[0] > 0
    res = run("tem", str(real_data / "tem" / "ncempy_16_STOimage.emi"), "--out", str(tmp_path / "sto"))
    assert res.returncode == 0, res.stderr
    meta = pd.read_csv(tmp_path / "sto" / "metadata.csv").set_index("item")["value"]
    assert float(meta["voltage_kV"]) == 80.0
    spots = pd.read_csv(tmp_path / "sto" / "fft_spots.csv")
    # SrTiO3 (cubic, a = 3.905 Å) viewed down a zone axis: the strongest FFT spots are lattice planes
    assert spots["d_A"].between(1.0, 4.2).all()


@pytest.mark.slow
def test_bad_input_exits_nonzero(real_data, tmp_path):
    res = run("tem", str(real_data / "hdf5-nexus" / "ncempy_au_145mm_68kx_microprobe_01_master.h5"),
              "--out", str(tmp_path / "o"))
    assert res.returncode != 0 and "data_000001.h5" in res.stderr and "Traceback" not in res.stderr
    np.save(tmp_path / "m.npy", np.zeros((4, 16, 16), np.float32))
    res = run("tem", str(tmp_path / "m.npy"), "--out", str(tmp_path / "o2"))
    assert res.returncode != 0 and "pixel_size_nm" in res.stderr
    res = run("saed", str(tmp_path / "m.npy"), "--out", str(tmp_path / "o3"))
    assert res.returncode != 0 and "--camera-constant" in res.stderr  # a series needs a calibration
    np.save(tmp_path / "v.npy", np.zeros((2, 3, 16, 16), np.float32))
    res = run("saed", str(tmp_path / "v.npy"), "--out", str(tmp_path / "o4"))
    assert res.returncode != 0 and "2-D image" in res.stderr


@pytest.mark.slow
def test_saed_series_phase_fraction(tmp_path):
    from battlab.datasets.tem import make_saed_series

    demo = make_saed_series(n_frames=16, frame_time_s=60.0)
    np.save(tmp_path / "series.npy", np.asarray(demo.data.values))
    res = run("saed", str(tmp_path / "series.npy"), "--camera-constant", str(demo.truth["camera_constant_px_A"]),
              "--frame-time-s", "60", "--out", str(tmp_path / "s"))
    assert res.returncode == 0, res.stderr
    frac = pd.read_csv(tmp_path / "s" / "phase_fraction.csv")
    assert frac["reactant"].iloc[0] == "Si" and frac["product"].iloc[0] == "Li15Si4"
    np.testing.assert_allclose(frac["product_fraction"], demo.truth["product_fraction"], atol=0.05)
    assert frac["time_s"].iloc[-1] == pytest.approx(900.0)


def _write_emd(path, data, axes, signal=None):
    """A real NCEM EMD file written by RosettaSciIO's writer (the reader battlab uses)."""
    from rsciio.emd import file_writer

    file_writer(str(path), {"data": data, "axes": axes, "metadata": {"General": {"title": path.stem},
                                                                      "Signal": signal or {}},
                            "original_metadata": {}})


def test_tem_eds_spectrum_image_maps_and_composition(tmp_path):
    from battlab.cli import main
    from battlab.datasets.tem import make_eds_spectrum_image

    demo = make_eds_spectrum_image(ny=16, nx=16, radius_px=7, core_radius_px=4, offset_error_eV=-20.0)
    axes = [{"name": "y", "units": "nm", "scale": 2.0, "offset": 0, "size": 16, "navigate": True},
            {"name": "x", "units": "nm", "scale": 2.0, "offset": 0, "size": 16, "navigate": True},
            {"name": "Energy", "units": "keV", "scale": 0.01, "offset": 0.005, "size": 1024, "navigate": False}]
    _write_emd(tmp_path / "eds.emd", demo.data.values, axes)
    out = tmp_path / "eds"
    rc = main(["tem", str(tmp_path / "eds.emd"), "--eds", "O,Mn,Co,Ni", "--calibrate-lines", "O Ka,Ni Ka",
               "--k-factor", "Ni=1.45", "--ratio", "Ni/Mn", "--nmf", "2", "--out", str(out)])
    assert rc == 0
    cal = pd.read_csv(out / "energy_calibration.csv")
    assert cal["offset_eV"].iloc[0] == pytest.approx(-20.0, abs=1.0)  # the stored axis was 20 eV off
    comp = pd.read_csv(out / "eds_composition.csv").set_index("element")["at_pct"]
    assert comp["O"] == pytest.approx(66.7, abs=2.0)  # LiTMO2: O is 2/3 of the detected atoms
    maps = pd.read_csv(out / "eds_maps.csv")
    inside = demo.truth["particle_mask"].ravel()
    truth_ni = np.nan_to_num(demo.truth["at_pct"]["Ni"]).ravel()
    np.testing.assert_allclose(maps["Ni_at_pct"].to_numpy()[inside], truth_ni[inside], atol=2.0)
    core = demo.truth["core_mask"].ravel()
    assert np.nanmedian(maps["Ni_per_Mn_atomic_ratio"].to_numpy()[core]) == pytest.approx(8.0, rel=0.05)
    nmf = pd.read_csv(out / "eds_nmf_spectra.csv")  # the EELS decomposition, reused
    assert list(nmf.columns) == ["energy_eV", "component_0", "component_1"]
    assert nmf[["component_0", "component_1"]].sum().to_numpy() == pytest.approx([1.0, 1.0])  # unit-area spectra
    prov = json.loads((out / "provenance.json").read_text())
    assert prov["parameters"]["k_factors_given"] == {"Ni": 1.45}
    bad = main(["tem", str(tmp_path / "eds.emd"), "--eds", "O", "--k-factor", "Ni:1", "--out", str(tmp_path / "b")])
    assert bad != 0 and not (tmp_path / "b" / "provenance.json").exists()
    # without --eds the file does not say EDS (NCEM EMD keeps no signal type): a clear pointer, no output
    assert main(["tem", str(tmp_path / "eds.emd"), "--out", str(tmp_path / "c")]) != 0
    assert not (tmp_path / "c" / "provenance.json").exists()


def test_tem_4dstem_virtual_images(tmp_path):
    from battlab.cli import main
    from battlab.datasets.tem import make_4dstem_cube

    demo = make_4dstem_cube(scan=(12, 10), detector=32)
    axes = [{"name": "y", "units": "nm", "scale": 0.5, "offset": 0, "size": 12, "navigate": True},
            {"name": "x", "units": "nm", "scale": 0.5, "offset": 0, "size": 10, "navigate": True},
            {"name": "ky", "units": "1/nm", "scale": 0.1, "offset": -1.6, "size": 32, "navigate": False},
            {"name": "kx", "units": "1/nm", "scale": 0.1, "offset": -1.6, "size": 32, "navigate": False}]
    _write_emd(tmp_path / "cube.emd", demo.data.values, axes)
    rc = main(["tem", str(tmp_path / "cube.emd"), "--adf-px", "7.5,14.5", "--out", str(tmp_path / "o")])
    assert rc == 0
    table = pd.read_csv(tmp_path / "o" / "virtual_images.csv")
    t = demo.truth["transmission"].ravel()
    np.testing.assert_allclose(table["bf_counts"] / 1000, t, rtol=0.01)  # BF = counts·T
    np.testing.assert_allclose(table["adf_counts"] / 1000, 1 - t, atol=0.01)  # ADF = counts·(1 − T)
    np.testing.assert_allclose(table["com_x_px"], demo.truth["shift_x_px"].ravel(), atol=0.1)
    assert (tmp_path / "o" / "mean_pattern.csv").is_file()
