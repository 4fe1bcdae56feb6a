"""`battlab xrd` run as a real subprocess."""

import json
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from battlab.datasets.diffraction import make_lto_series, make_operando_graphite


def run(*args):
    return subprocess.run([sys.executable, "-m", "battlab.cli", *args], capture_output=True, text=True, timeout=300,
                          check=False)


def _write_folder(series, folder):
    folder.mkdir()
    rows = []
    x = series["two_theta_deg"].to_numpy()
    for i in range(series.sizes["time"]):
        name = f"scan_{i:04d}.xy"
        np.savetxt(folder / name, np.column_stack([x, series.isel(time=i).to_numpy()]), fmt="%.4f")
        rows.append({"file": name, "time": pd.Timestamp(series["time"].to_numpy()[i]).tz_localize("UTC").isoformat()})
    pd.DataFrame(rows).to_csv(folder / "timestamps.csv", index=False)


def test_folder_series_tracks_graphite_staging(tmp_path):
    demo = make_operando_graphite(n_patterns=30)
    _write_folder(demo.data, tmp_path / "scans")
    # The demo is monochromatic Kα1: a Cu tube without monochromator would need the doublet.
    args = ["xrd", str(tmp_path / "scans"), "--anode", "Cu", "--doublet", "off", "--timestamps", str(tmp_path / "scans" / "timestamps.csv"),
            "--out", str(tmp_path / "res")]
    for name, (lo, hi) in demo.truth["windows"].items():
        args += ["--window", f"{name}={lo},{hi}"]
    res = run(*args)
    assert res.returncode == 0, res.stderr
    assert res.stdout.startswith("30 patterns, 3 peak(s)")
    tracked = pd.read_csv(tmp_path / "res" / "tracked_peaks.csv")
    truth = demo.truth["peaks"]
    for name in ("graphite", "LiC12", "LiC6"):
        sub = tracked[tracked["peak"] == name].reset_index(drop=True)
        strong = (truth[f"fraction_{name}"] > 0.2).to_numpy()
        err = np.abs(sub["two_theta_deg"] - truth[f"two_theta_{name}_deg"]).to_numpy()[strong]
        assert np.all(err < 0.01)  # same 0.01° known-answer tolerance as the library test
    np.testing.assert_allclose(tracked.groupby("pattern")["elapsed_s"].first(), demo.data["elapsed_s"], atol=1e-3)
    assert (tmp_path / "res" / "phase_fractions.csv").is_file()
    prov = json.loads((tmp_path / "res" / "provenance.json").read_text())
    assert prov["parameters"]["wavelength_A"] == pytest.approx(1.540598)
    assert prov["parameters"]["windows_deg"]["LiC6"] == [23.4, 24.6]
    assert prov["command"].startswith("battlab xrd")


def test_lattice_parameters_from_hkl(tmp_path):
    demo = make_lto_series(n_patterns=6, doublet=False)
    _write_folder(demo.data, tmp_path / "lto")
    args = ["xrd", str(tmp_path / "lto"), "--wavelength-A", "1.540598", "--timestamps",
            str(tmp_path / "lto" / "timestamps.csv"), "--system", "cubic", "--out", str(tmp_path / "res")]
    for name, (lo, hi) in demo.truth["windows"].items():
        h, k, l = demo.truth["hkl"][name]
        args += ["--window", f"{name}={lo},{hi}", "--hkl", f"{name}={h},{k},{l}"]
    res = run(*args)
    assert res.returncode == 0, res.stderr
    lat = pd.read_csv(tmp_path / "res" / "lattice.csv")
    np.testing.assert_allclose(lat["a_A"], demo.truth["a_A"], atol=1e-3)


def test_real_xrdml_with_auto_windows(tmp_path, real_data):
    res = run("xrd", str(real_data / "xrd" / "yadg_210520step1_30min.xrdml"), "--out", str(tmp_path / "o"))
    assert res.returncode == 0, res.stderr
    tracked = pd.read_csv(tmp_path / "o" / "tracked_peaks.csv")
    assert len(tracked) == 3 and tracked["present"].all()
    assert tracked["time"].iloc[0].startswith("2021-05-20 13:55:51")
    np.testing.assert_allclose(tracked["d_A"], 1.540598 / (2 * np.sin(np.radians(tracked["two_theta_deg"] / 2))))


def test_bad_inputs_exit_2_with_one_line(tmp_path, real_data):
    for args, needle in (
            ([str(real_data / "xrd" / "xraylarch_Pilatus.tiff")], "poni"),
            ([str(real_data / "xrd" / "yadg_210520step1_30min.xy")], "--anode Cu"),
            ([str(real_data / "xrd" / "yadg_210520step1_30min.xrdml"), "--window", "bad"], "NAME=LOW,HIGH"),
            ([str(tmp_path / "missing")], "no such file")):
        res = run("xrd", *args, "--out", str(tmp_path / "o"))
        assert res.returncode == 2, res.stderr
        assert needle in res.stderr and len(res.stderr.strip().splitlines()) == 1


def test_info_describes_a_pattern(real_data):
    res = run("info", str(real_data / "xrd" / "yadg_210520step1_30min.xrdml"))
    assert res.returncode == 0, res.stderr
    assert "format:     xrdml" in res.stdout and "4489 points" in res.stdout
    assert "wavelength: 1.540598 A" in res.stdout and "started:    2021-05-20T13:55:51+00:00" in res.stdout


def test_hdf5_series_writes_pca_tables(tmp_path):
    from tests.diffraction.test_hdf5 import TIMES, write_series

    path = write_series(tmp_path / "series.h5", layout="custom")
    res = run("xrd", str(path), "--h5-path", "intensity=/a/b", "--h5-path", "two_theta=/a/c", "--h5-path", "time=/a/d",
              "--wavelength-A", "1.540598", "--window", "a=25.9,26.9", "--pca-uncentered", "--out", str(tmp_path / "o"))
    assert res.returncode == 0, res.stderr
    assert "\nPCA: " in res.stdout and "significant component" in res.stdout
    scores = pd.read_csv(tmp_path / "o" / "pca_scores.csv")
    comps = pd.read_csv(tmp_path / "o" / "pca_components.csv")
    assert len(scores) == len(TIMES) and {"time", "elapsed_s", "pc1", "pc5"} <= set(scores.columns)
    assert list(comps.columns[:2]) == ["two_theta_deg", "pc1"] and len(comps) == 1201
    prov = json.loads((tmp_path / "o" / "provenance.json").read_text())
    assert prov["parameters"]["pca"]["center"] is False
    assert len(prov["parameters"]["pca"]["explained_variance_ratio"]) == 5
    assert prov["parameters"]["h5_paths"]["intensity"] == "/a/b"


def test_folder_of_detector_images_with_poni(tmp_path):
    pytest.importorskip("pyFAI")
    import tifffile

    from tests.diffraction.test_integrate import PONI_TEXT, TRUE_TTH, synthetic_frame

    folder = tmp_path / "frames"
    folder.mkdir()
    rows = []
    for i in range(3):
        tifffile.imwrite(folder / f"f{i}.tif", synthetic_frame(0.05 * i).astype(np.float32))
        rows.append({"file": f"f{i}.tif", "time": f"2026-02-01T10:0{i}:00Z"})
    pd.DataFrame(rows).to_csv(tmp_path / "times.csv", index=False)
    (tmp_path / "g.poni").write_text(PONI_TEXT)
    lo, hi = TRUE_TTH[1] - 0.4, TRUE_TTH[1] + 0.4
    res = run("xrd", str(folder), "--poni", str(tmp_path / "g.poni"), "--timestamps", str(tmp_path / "times.csv"),
              "--window", f"110={lo},{hi}", "--doublet", "off", "--out", str(tmp_path / "o"))
    assert res.returncode == 0, res.stderr
    tracked = pd.read_csv(tmp_path / "o" / "tracked_peaks.csv")
    np.testing.assert_allclose(tracked["two_theta_deg"], TRUE_TTH[1] + 0.05 * np.arange(3), atol=0.01)
    assert (tmp_path / "o" / "pca_scores.csv").is_file()
    res = run("xrd", str(folder), "--poni", str(tmp_path / "g.poni"), "--anode", "Cu", "--out", str(tmp_path / "p"))
    assert res.returncode == 2 and "--poni gives the wavelength" in res.stderr


def _lithiation_capacity_mAh(echem):
    from battlab.correlate.timeline import charge_timeline

    return -float(charge_timeline(echem)["charge_mAh"].min())


def test_echem_adds_capacity_and_soc_per_pattern(tmp_path):
    """--echem: the (002) position vs capacity follows the generator's staging law."""
    from battlab.io import write_bdf_csv

    demo = make_operando_graphite(n_patterns=30)
    _write_folder(demo.data, tmp_path / "scans")
    write_bdf_csv(demo.truth["echem"], tmp_path / "cell.csv")
    args = ["xrd", str(tmp_path / "scans"), "--anode", "Cu", "--doublet", "off", "--timestamps",
            str(tmp_path / "scans" / "timestamps.csv"), "--echem", str(tmp_path / "cell.csv")]
    for name, (lo, hi) in demo.truth["windows"].items():
        args += ["--window", f"{name}={lo},{hi}"]
    res = run(*args, "--out", str(tmp_path / "res"))
    assert res.returncode == 0, res.stderr
    assert "cycling: cell.csv on the unix clock (offset 0 s)" in res.stdout
    tracked = pd.read_csv(tmp_path / "res" / "tracked_peaks.csv")
    assert {"voltage_V", "capacity_mAh", "soc", "cycle", "direction"} <= set(tracked.columns)
    truth = demo.truth["peaks"]
    g = tracked[tracked["peak"] == "graphite"].reset_index(drop=True)
    # The cycler's test time at each pattern is the generator's, to float precision.
    np.testing.assert_allclose(g["test_time_s"], truth["test_time_s"], atol=1e-3)
    x = -g["capacity_mAh"] / _lithiation_capacity_mAh(demo.truth["echem"])
    np.testing.assert_allclose(x, truth["x_in_LixC6"], atol=1e-6)
    dilute = (x <= 0.2) & g["present"]
    law = 26.55 - 0.35 * x / 0.2  # solid-solution shift of the generator
    assert dilute.sum() >= 4 and np.max(np.abs(g["two_theta_deg"] - law)[dilute]) < 0.01
    fractions = pd.read_csv(tmp_path / "res" / "phase_fractions.csv")
    assert "capacity_mAh" in fractions and np.allclose(fractions["capacity_mAh"], g["capacity_mAh"])
    prov = json.loads((tmp_path / "res" / "provenance.json").read_text())
    assert prov["inputs"][-1]["name"] == "cell.csv" and prov["inputs"][-1]["role"] == "cycling"
    assert prov["parameters"]["echem_alignment"]["time_basis"] == "unix"

    # The test-time basis needs the cycler's test time at the first pattern as the offset.
    offset = float(truth["test_time_s"].iloc[0])
    res = run(*args, "--out", str(tmp_path / "res2"), "--time-basis", "test", "--clock-offset-s", str(offset))
    assert res.returncode == 0, res.stderr
    again = pd.read_csv(tmp_path / "res2" / "tracked_peaks.csv")
    np.testing.assert_allclose(again["capacity_mAh"], tracked["capacity_mAh"], atol=1e-6)


def test_echem_that_is_not_a_cycling_file_is_refused(tmp_path):
    demo = make_operando_graphite(n_patterns=4)
    _write_folder(demo.data, tmp_path / "scans")
    res = run("xrd", str(tmp_path / "scans"), "--anode", "Cu", "--timestamps",
              str(tmp_path / "scans" / "timestamps.csv"), "--echem", str(tmp_path / "scans" / "scan_0000.xy"), "--out", str(tmp_path / "res"))
    assert res.returncode != 0 and "Traceback" not in res.stderr
    assert not (tmp_path / "res" / "tracked_peaks.csv").exists()
