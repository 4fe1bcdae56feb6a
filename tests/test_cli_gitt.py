"""`battlab gitt` run as a real subprocess."""

import json
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from battlab.datasets import make_gitt, make_pitt


def run(*args):
    return subprocess.run([sys.executable, "-m", "battlab.cli", *args], capture_output=True, text=True, timeout=300,
                          check=False)


def _geometry_args(truth, thickness=True):
    args = ["--mass-mg", repr(truth["active_mass_mg"]), "--molar-mass-g-mol", repr(truth["molar_mass_g_mol"]),
            "--molar-volume-cm3-mol", repr(truth["molar_volume_cm3_mol"]), "--area-cm2", repr(truth["area_cm2"])]
    if thickness:
        args += ["--thickness-um", repr(truth["thickness_um"])]
    return args


@pytest.fixture(scope="module")
def gitt_csv(tmp_path_factory):
    from battlab.io import write_bdf_csv

    demo = make_gitt(n_pulses=40)
    path = tmp_path_factory.mktemp("gitt") / "film_gitt.csv"
    write_bdf_csv(demo.data, path)
    return path, demo.truth


def test_gitt_writes_pulses_ocv_and_provenance(gitt_csv, tmp_path):
    path, truth = gitt_csv
    out = tmp_path / "res"
    res = run("gitt", str(path), *_geometry_args(truth), "--x-initial", repr(truth["x_initial"]),
              "--fit-window", "0.2,0.8", "--out", str(out))
    assert res.returncode == 0, res.stderr
    assert "40 GITT pulses" in res.stdout
    pulses = pd.read_csv(out / "gitt_pulses.csv")
    assert len(pulses) == 40
    valid = pulses["valid"].to_numpy(dtype=bool)
    assert valid.sum() >= 20
    d_true = truth["pulses"]["diffusion_coefficient_cm2_s"].to_numpy()
    err = pulses["diffusion_coefficient_cm2_s"].to_numpy()[valid] / d_true[valid] - 1
    assert np.abs(err).max() < 0.10  # same known-answer tolerance as the library test
    np.testing.assert_allclose(pulses["x_end"], truth["pulses"]["x_after"], atol=1e-6)
    ocv = pd.read_csv(out / "ocv.csv")
    assert len(ocv) == 41
    prov = json.loads((out / "provenance.json").read_text())
    p = prov["parameters"]
    assert p["technique"] == "gitt" and p["fit_window"] == [0.2, 0.8]
    assert p["mass_mg"] == pytest.approx(truth["active_mass_mg"]) and p["thickness_um"] == 2.0
    assert prov["inputs"][0]["name"] == "film_gitt.csv" and len(prov["inputs"][0]["sha256"]) == 64
    assert {"gitt_pulses.csv", "ocv.csv"} <= set(prov["outputs"])
    assert prov["command"].startswith("battlab gitt")


def test_pitt_is_recognised_from_the_data(tmp_path):
    from battlab.io import write_bdf_csv

    demo = make_pitt()
    path = tmp_path / "film_pitt.csv"
    write_bdf_csv(demo.data, path)
    res = run("gitt", str(path), *_geometry_args(demo.truth, thickness=False), "--out", str(tmp_path / "o"))
    assert res.returncode == 0, res.stderr
    steps = pd.read_csv(tmp_path / "o" / "pitt_steps.csv")
    assert len(steps) == 20
    np.testing.assert_allclose(steps["diffusion_coefficient_cm2_s"], demo.truth["diffusion_coefficient_cm2_s"],
                               rtol=0.01)
    prov = json.loads((tmp_path / "o" / "provenance.json").read_text())
    assert prov["parameters"]["technique"] == "pitt" and prov["parameters"]["fit_window"] == [0.4, 0.9]


def test_file_without_rests_fails_with_one_line(real_data, tmp_path):
    res = run("gitt", str(real_data / "biologic" / "yadg_mb.issue_95.mpr"), "--mass-mg", "1",
              "--molar-mass-g-mol", "100", "--molar-volume-cm3-mol", "20", "--area-cm2", "1", "--out", str(tmp_path))
    assert res.returncode == 2
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and "no open-circuit rest" in lines[0] and "yadg_mb.issue_95.mpr" in lines[0]
    assert "Traceback" not in res.stderr
    assert not any(tmp_path.iterdir())


def test_geometry_is_required_and_checked(gitt_csv, tmp_path):
    path, _ = gitt_csv
    res = run("gitt", str(path), "--out", str(tmp_path))
    assert res.returncode == 2 and "--mass-mg" in res.stderr
    res = run("gitt", str(path), "--mass-mg", "-1", "--molar-mass-g-mol", "100", "--molar-volume-cm3-mol", "20",
              "--area-cm2", "1", "--out", str(tmp_path / "x"))
    assert res.returncode == 2 and "mass_mg must be a positive number" in res.stderr
    res = run("gitt", str(path), "--mass-mg", "1", "--molar-mass-g-mol", "100", "--molar-volume-cm3-mol", "20",
              "--area-cm2", "1", "--fit-window", "abc", "--out", str(tmp_path / "y"))
    assert res.returncode == 2 and "--fit-window" in res.stderr


def test_real_intermittent_titration(real_data, tmp_path):
    res = run("gitt", str(real_data / "biologic" / "cellpy_biol.mpr"), "--mass-mg", "1", "--molar-mass-g-mol",
              "28.09", "--molar-volume-cm3-mol", "12.06", "--area-cm2", "1", "--out", str(tmp_path))
    assert res.returncode == 0, res.stderr
    pulses = pd.read_csv(tmp_path / "gitt_pulses.csv")
    assert len(pulses) == 4 and (pulses["direction"] == "charge").all()
