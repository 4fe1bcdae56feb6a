"""`battlab xrm` and `battlab xanes` run as real subprocesses on generated files."""

import json
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
import tifffile

from battlab.datasets.xrm import make_packed_spheres, make_xanes_stack


def run(*args):
    return subprocess.run([sys.executable, "-m", "battlab.cli", *args], capture_output=True, text=True, timeout=300,
                          check=False)


@pytest.mark.slow
def test_xrm_volume_gives_known_porosity(tmp_path):
    demo = make_packed_spheres(shape=(32, 32, 32), seed=2)
    tifffile.imwrite(tmp_path / "vol.tif", demo.data.values)
    res = run("xrm", str(tmp_path / "vol.tif"), "--voxel-um", "0.5", "--out", str(tmp_path / "res"))
    assert res.returncode == 0, res.stderr
    summary = pd.read_csv(tmp_path / "res" / "summary.csv").iloc[0]
    assert abs(summary["porosity"] - demo.truth["porosity"]) < 0.005
    assert summary["tortuosity_z"] > 1
    profile = pd.read_csv(tmp_path / "res" / "slice_profile.csv")
    np.testing.assert_allclose(profile["position_um"], np.arange(32) * 0.5)
    assert np.max(np.abs(profile["fraction_pore"] - demo.truth["slice_porosity"])) < 0.03
    prov = json.loads((tmp_path / "res" / "provenance.json").read_text())
    assert prov["parameters"]["voxel_size_um"] == [0.5, 0.5, 0.5]
    assert prov["inputs"][0]["name"] == "vol.tif" and prov["inputs"][0]["sha256"]
    assert {"phase_fractions.csv", "connectivity.csv", "tortuosity.csv", "pore_size_distribution.csv",
            "particles.csv"} <= {p.name for p in (tmp_path / "res").iterdir()}


def test_xrm_refuses_a_volume_without_voxel_size(tmp_path):
    tifffile.imwrite(tmp_path / "vol.tif", np.zeros((4, 8, 8), np.uint16), photometric="minisblack")
    res = run("xrm", str(tmp_path / "vol.tif"), "--out", str(tmp_path / "res"))
    assert res.returncode != 0
    assert "voxel_size_um" in res.stderr and "Traceback" not in res.stderr


@pytest.mark.slow
def test_xanes_stack_gives_the_soc_map(tmp_path):
    demo = make_xanes_stack()
    stack = demo.data
    tifffile.imwrite(tmp_path / "stack.tif", stack.values.astype(np.float32))
    refs = []
    for name, ref in demo.truth["references"].items():
        path = tmp_path / f"{name}.csv"
        pd.DataFrame({"energy_eV": ref["energy_eV"].values, "mu": ref.values}).to_csv(path, index=False)
        refs += ["--reference", f"{name}={path}"]
    res = run("xanes", str(tmp_path / "stack.tif"), "--energies", "7102:7192:2", "--pixel-um", "0.05", *refs,
              "--charged", "FePO4", "--out", str(tmp_path / "res"))
    assert res.returncode == 0, res.stderr
    per = pd.read_csv(tmp_path / "res" / "particles.csv")
    assert len(per) == 4
    np.testing.assert_allclose(per["mean_soc"], list(demo.truth["particle_soc"].values()), atol=0.02)
    soc = tifffile.imread(tmp_path / "res" / "map_soc.tif")
    truth = demo.truth["soc"]
    ok = np.isfinite(truth)
    assert np.sqrt(np.mean((soc[ok] - truth[ok]) ** 2)) < 0.05
    bad = run("xanes", str(tmp_path / "stack.tif"), "--energies", "7102:7150:2", "--pixel-um", "0.05", *refs,
              "--out", str(tmp_path / "res2"))
    assert bad.returncode != 0 and "energies" in bad.stderr and "Traceback" not in bad.stderr


@pytest.mark.slow
def test_xrm_on_real_files(tmp_path, real_data):
    res = run("xrm", str(real_data / "tiff-stack" / "pims_stuck.tif"), "--voxel-um", "0.65", "--no-tortuosity",
              "--out", str(tmp_path / "res"))
    assert res.returncode == 0, res.stderr
    profile = pd.read_csv(tmp_path / "res" / "slice_profile.csv")
    assert len(profile) == 5 and profile["position_um"].iloc[-1] == pytest.approx(4 * 0.65)
    broken = run("xrm", str(real_data / "hdf5-nexus" / "ncempy_au_145mm_68kx_microprobe_01_master.h5"),
                 "--voxel-um", "1", "--out", str(tmp_path / "res2"))
    assert broken.returncode != 0 and "missing" in broken.stderr and "Traceback" not in broken.stderr
    assert not (tmp_path / "res2").exists()


def test_energies_are_read_from_the_forms_users_write(tmp_path):
    from battlab.errors import InvalidParameterError
    from battlab.xrm._cli import parse_energies

    grid = np.arange(7102.0, 7193.0, 2.0)
    assert np.array_equal(parse_energies("7102:7192:2"), grid)
    assert np.array_equal(parse_energies("7102, 7104,7106"), grid[:3])
    # numpy's scientific notation, a header and a second column, semicolons, a comment
    np.savetxt(tmp_path / "sci.txt", grid)
    (tmp_path / "table.csv").write_text("energy (eV),I0\n" + "".join(f"{e},{1000 + e}\n" for e in grid))
    (tmp_path / "semi.txt").write_text("# beamline log\n" + "".join(f"{e:.1f};1\n" for e in grid))
    for name in ("sci.txt", "table.csv", "semi.txt"):
        assert np.array_equal(parse_energies(str(tmp_path / name)), grid), name
    (tmp_path / "bad.txt").write_text("7102\n7104\nseven thousand\n")
    (tmp_path / "nan.txt").write_text("7102\nnan\n")
    for bad in ("7192:7102:2", "a,b", str(tmp_path / "bad.txt"), str(tmp_path / "nan.txt")):
        with pytest.raises(InvalidParameterError, match="--energies"):
            parse_energies(bad)
