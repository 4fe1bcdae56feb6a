"""`battlab afm` and `battlab afm-force` run as real subprocesses."""

import json
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from battlab.datasets.afm import make_rough_surface


def run(*args):
    return subprocess.run([sys.executable, "-m", "battlab.cli", *args], capture_output=True, text=True, timeout=300,
                          check=False)


def test_afm_text_map_roughness_matches_truth(tmp_path):
    demo = make_rough_surface(size_px=256)
    z = demo.data["height"].values
    src = tmp_path / "map.txt"
    np.savetxt(src, z * 1e-9)  # metres, as some exports write
    out = tmp_path / "out"
    res = run("afm", str(src), "--pixel-size-um", "0.01", "--z-unit", "m", "--out", str(out))
    assert res.returncode == 0, res.stderr
    table = pd.read_csv(out / "roughness.csv")
    assert table.loc[0, "Sq"] == pytest.approx(demo.truth["Sq_nm"], rel=0.01)
    assert table.loc[0, "scan_x_um"] == pytest.approx(2.56)
    prov = json.loads((out / "provenance.json").read_text())
    assert prov["parameters"]["levelling"] == "plane" and prov["parameters"]["pixel_size_um"] == 0.01
    assert prov["inputs"][0]["name"] == "map.txt" and len(prov["inputs"][0]["sha256"]) == 64
    assert {"histogram.csv", "psd.csv", "grains.csv", "grain_summary.csv"} <= {p.name for p in out.iterdir()}


def test_afm_text_map_without_pixel_size_fails_cleanly(tmp_path):
    src = tmp_path / "map.csv"
    src.write_text("1,2\n3,4\n")
    res = run("afm", str(src), "--out", str(tmp_path / "o"))
    assert res.returncode != 0 and "pixel_size_um" in res.stderr and "Traceback" not in res.stderr


def test_afm_real_nanoscope(real_data, tmp_path):
    out = tmp_path / "o"
    res = run("afm", str(real_data / "afm" / "nanoscope_full_multiple_images.spm"), "--levelling", "lines-median",
              "--out", str(out))
    assert res.returncode == 0, res.stderr
    table = pd.read_csv(out / "roughness.csv")
    assert list(table["channel"]) == ["Height", "Amplitude"]
    assert (table["scan_x_um"] == 2.0).all() and table.loc[0, "units"] == "nm"


def test_afm_force_real_jpk_map(real_data, tmp_path):
    out = tmp_path / "o"
    res = run("afm-force", str(real_data / "afm" / "afmformats_fmt-jpk-fd_map2x2_extracted.jpk-force-map"),
              "--tip-radius-nm", "1000", "--out", str(out))
    assert res.returncode == 0, res.stderr
    fits = pd.read_csv(out / "force_fits.csv")
    assert len(fits) == 4 and {"grid_x", "grid_y", "modulus_GPa", "adhesion_nN"} <= set(fits.columns)
    assert (fits["modulus_GPa"] > 0).all()
    prov = json.loads((out / "provenance.json").read_text())
    assert prov["parameters"]["tip_radius_nm"] == 1000.0


def test_afm_force_needs_tip_radius_and_a_force_file(real_data, tmp_path):
    res = run("afm-force", str(real_data / "afm" / "afmformats_fmt-igor-fd_SiN_FD_plot.ibw"), "--out", str(tmp_path))
    assert res.returncode != 0 and "tip-radius-nm" in res.stderr
    res = run("afm-force", str(real_data / "afm" / "gwyfile_test.gwy"), "--tip-radius-nm", "20",
              "--out", str(tmp_path / "o"))
    assert res.returncode != 0 and "force-curve" in res.stderr and "Traceback" not in res.stderr


def test_afm_on_a_nanonis_file_with_a_profile_line(tmp_path):
    """A .sxm written from the documented layout (no real one is available) through the CLI,
    with a profile line across a 2 nm step: step height within 1 %, exact length."""
    from tests.afm.test_sxm_ibw import write_sxm

    ny, nx = 64, 80
    x = (np.arange(nx) + 0.5) * 10e-9  # m, 10 nm pixels
    z = np.where(x > 400e-9, 2e-9, 0.0)[None, :] * np.ones((ny, 1)) \
        + np.random.default_rng(0).normal(0, 2e-11, (ny, nx))
    src = tmp_path / "scan.sxm"
    src.write_bytes(write_sxm([("Z", "m", "forward", [z])], nx=nx, ny=ny, range_m=(800e-9, 640e-9)))
    out = tmp_path / "out"
    res = run("afm", str(src), "--levelling", "none", "--profile", "0.1", "0.3", "0.7", "0.3", "--out", str(out))
    assert res.returncode == 0, res.stderr
    summary = pd.read_csv(out / "profile_summary.csv").iloc[0]
    assert summary["step_height"] == pytest.approx(2.0, rel=0.01) and summary["length_um"] == pytest.approx(0.6)
    profile = pd.read_csv(out / "profile.csv")
    assert profile["distance_um"].iloc[-1] == pytest.approx(0.6, rel=1e-12)
    prov = json.loads((out / "provenance.json").read_text())
    assert prov["parameters"]["profile"] == [0.1, 0.3, 0.7, 0.3]
