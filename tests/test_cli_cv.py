"""`battlab cv`, run as a real subprocess."""

import json
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from battlab.datasets import make_cv

WINDOWS = ["--anodic-window", "3.3,3.7", "--anodic-baseline", "3.25,3.3",
           "--cathodic-window", "3.2,3.6", "--cathodic-baseline", "3.6,3.7"]


def run(*args):
    return subprocess.run([sys.executable, "-m", "battlab.cli", *args], check=False, capture_output=True, text=True,
                          timeout=300)


@pytest.fixture(scope="module")
def demo_files(tmp_path_factory):
    from battlab.io import write_bdf_csv

    folder = tmp_path_factory.mktemp("cv")
    demo = make_cv()
    one = folder / "cv_all_rates.csv"
    write_bdf_csv(demo.data, one)
    parts = []
    for k, df in enumerate(make_cv(separate_files=True).data):
        parts.append(folder / f"cv_rate{k}.csv")
        write_bdf_csv(df, parts[-1])
    return one, parts, demo.truth


def test_cv_recovers_d_b_and_capacitive_fraction(demo_files, tmp_path):
    one, _, truth = demo_files
    res = run("cv", str(one), "--out", str(tmp_path), "--n-electrons", "1", "--area-cm2", "1",
              "--concentration-mol-cm3", "1e-5", *WINDOWS)
    assert res.returncode == 0, res.stderr
    assert "24 sweeps at 0.1, 0.2, 0.5, 1, 1.5, 2 mV/s" in res.stdout
    rs = pd.read_csv(tmp_path / "randles_sevcik.csv").iloc[0]
    assert rs["diffusion_coefficient_cm2_s"] == pytest.approx(truth["diffusion_coefficient_cm2_s"], rel=0.05)
    b = pd.read_csv(tmp_path / "b_values.csv").set_index("direction")["b_value"]
    assert b["anodic"] == pytest.approx(0.5, abs=0.03)
    frac = pd.read_csv(tmp_path / "capacitive_fraction.csv")
    exact = truth["capacitive_fraction"].query("cycle == 1")["capacitive_fraction_pct"].to_numpy()
    np.testing.assert_allclose(frac["capacitive_fraction_pct"], exact, atol=2.0)
    pairs = pd.read_csv(tmp_path / "peak_pairs.csv")
    np.testing.assert_allclose(pairs["delta_Ep_V"], truth["delta_Ep_V"], atol=2e-3)
    prov = json.loads((tmp_path / "provenance.json").read_text())
    assert prov["parameters"]["anodic_window_V"] == [3.3, 3.7]
    assert prov["parameters"]["windows_source"]["anodic"] == "given"
    assert prov["inputs"][0]["name"] == "cv_all_rates.csv" and len(prov["inputs"][0]["sha256"]) == 64
    assert prov["command"].startswith("battlab cv")


def test_cv_accepts_one_file_per_rate(demo_files, tmp_path):
    _, parts, truth = demo_files
    res = run("cv", *map(str, parts), "--out", str(tmp_path), *WINDOWS)
    assert res.returncode == 0, res.stderr
    assert "no Randles-Sevcik D" in res.stderr  # inputs not given: said, not defaulted
    assert not (tmp_path / "randles_sevcik.csv").exists()
    sweeps = pd.read_csv(tmp_path / "sweeps.csv")
    assert sorted(sweeps["experiment"].unique()) == list(range(6))
    prov = json.loads((tmp_path / "provenance.json").read_text())
    assert [i["name"] for i in prov["inputs"]] == [p.name for p in parts]
    frac = pd.read_csv(tmp_path / "capacitive_fraction.csv")
    assert list(frac["scan_rate_mV_s"]) == list(truth["scan_rates_mV_s"])


def test_cv_on_real_single_rate_file(real_data, tmp_path):
    res = run("cv", str(real_data / "biologic" / "yadg_cv.mpr"), "--out", str(tmp_path))
    assert res.returncode == 0, res.stderr
    assert "one scan rate (0.1 mV/s)" in res.stderr
    sweeps = pd.read_csv(tmp_path / "sweeps.csv")
    assert list(sweeps["direction"]) == ["cathodic", "anodic", "cathodic", "anodic"]
    np.testing.assert_allclose(sweeps["scan_rate_mV_s"], 0.1, rtol=5e-3)
    assert not (tmp_path / "capacitive_fraction.csv").exists()


def test_cv_bad_input_exits_2_with_one_line(real_data, tmp_path):
    res = run("cv", str(real_data / "biologic" / "yadg_gcpl.pr_182.1.mpr"), "--out", str(tmp_path / "o"))
    assert res.returncode == 2
    assert res.stderr.startswith("battlab: error:") and "not a cyclic voltammogram" in res.stderr
    assert "Traceback" not in res.stderr and not (tmp_path / "o").exists()


def test_cv_bad_window_exits_2(demo_files, tmp_path):
    one, _, _ = demo_files
    res = run("cv", str(one), "--out", str(tmp_path), "--anodic-window", "3.3")
    assert res.returncode == 2 and "LOW,HIGH" in res.stderr and "Traceback" not in res.stderr
    res = run("cv", str(one), "--out", str(tmp_path), "--cycle", "second")
    assert res.returncode == 2 and "cycle must be" in res.stderr
