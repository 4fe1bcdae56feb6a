"""``battlab sensors KIND FILE --echem FILE --out DIR``, run as a real subprocess."""

import json
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from battlab.datasets import make_acoustic, make_dilatometry, make_eqcm, make_moss


def run(*args):
    return subprocess.run([sys.executable, "-m", "battlab.cli", *args], capture_output=True, text=True, timeout=300)


def _write(demo, tmp_path, rename):
    from battlab.io import write_bdf_csv

    sensor = tmp_path / "sensor.csv"
    demo.data.sensor[list(rename)].rename(columns=rename).to_csv(sensor, index=False)
    echem = tmp_path / "cell.csv"
    write_bdf_csv(demo.data.echem, echem)
    return sensor, echem


def test_eqcm_mass_per_electron_and_provenance(tmp_path):
    demo = make_eqcm()
    sensor, echem = _write(demo, tmp_path, {"sensor_time_s": "Time (s)", "frequency_shift_Hz": "Δf3 (Hz)",
                                            "dissipation_shift": "ΔD3 (1e-6)"})
    # ΔD in the demo is absolute; write it in ppm so the unit in the header is true.
    table = pd.read_csv(sensor)
    table["ΔD3 (1e-6)"] *= 1e6
    table.to_csv(sensor, index=False)
    out = tmp_path / "out"
    res = run("sensors", "eqcm", str(sensor), "--echem", str(echem), "--area-cm2", "1.37",
              "--clock-offset-s", "120", "--out", str(out))
    assert res.returncode == 0, res.stderr
    assert "Sauerbrey applies" in res.stderr
    cycles = pd.read_csv(out / "cycles.csv")
    li = cycles.loc[cycles["direction"] == "charge", "mass_per_electron_g_mol"]
    np.testing.assert_allclose(li, 6.94, rtol=0.02)
    aligned = pd.read_csv(out / "aligned.csv")
    assert {"test_time_s", "cycle", "half_cycle", "charge_C", "mass_ng", "voltage_V"} <= set(aligned.columns)
    prov = json.loads((out / "provenance.json").read_text())
    assert prov["parameters"]["overtone"] == 3 and prov["parameters"]["area_cm2"] == 1.37
    assert [i["name"] for i in prov["inputs"]] == ["sensor.csv", "cell.csv"]
    assert all(len(i["sha256"]) == 64 for i in prov["inputs"])
    assert prov["command"].startswith("battlab sensors eqcm")


def test_dilatometry_stress_and_acoustic(tmp_path):
    d = make_dilatometry()
    sensor, echem = _write(d, tmp_path, {"sensor_time_s": "time (s)", "displacement_um": "Displacement (µm)"})
    res = run("sensors", "dilatometry", str(sensor), "--echem", str(echem), "--thickness-um", "40",
              "--clock-offset-s", "60", "--out", str(tmp_path / "d"))
    assert res.returncode == 0, res.stderr
    cycles = pd.read_csv(tmp_path / "d" / "cycles.csv")
    assert cycles["max_pct"].iloc[0] == pytest.approx(110.0, abs=0.1)

    m = make_moss()
    t = m.truth
    sensor, echem = _write(m, tmp_path, {"sensor_time_s": "time (s)", "spot_spacing": "spot spacing (px)"})
    res = run("sensors", "stress", str(sensor), "--echem", str(echem), "--substrate-modulus-GPa", "130",
              "--poisson", "0.28", "--substrate-thickness-um", "500", "--film-thickness-nm", "108",
              "--distance-m", str(t["distance_m"]), "--angle-deg", str(t["incidence_angle_deg"]),
              "--clock-offset-s", str(t["clock_offset_s"]), "--out", str(tmp_path / "s"))
    assert res.returncode == 0, res.stderr
    cycles = pd.read_csv(tmp_path / "s" / "cycles.csv")
    np.testing.assert_allclose(cycles["max_compressive_GPa"], -1.75, rtol=0.01)

    a = make_acoustic()
    sensor, echem = _write(a, tmp_path, {"sensor_time_s": "Time (s)", "amplitude_dB": "Amplitude (dB)",
                                         "peak_frequency_Hz": "Peak frequency (Hz)",
                                         "centroid_frequency_Hz": "Centroid frequency (Hz)"})
    res = run("sensors", "acoustic", str(sensor), "--echem", str(echem), "--clock-offset-s", "45",
              "--out", str(tmp_path / "a"))
    assert res.returncode == 0, res.stderr
    hits = pd.read_csv(tmp_path / "a" / "aligned.csv")
    assert len(hits) == len(a.data.sensor) and hits["cumulative_hits"].iloc[-1] == len(hits)
    assert set(hits["hit_type"]) == {"particle cracking", "gas evolution"}


def test_bad_input_exits_2_with_one_line(tmp_path):
    bad = tmp_path / "junk.csv"
    bad.write_text("sample,value\n1,2\n")
    res = run("sensors", "eqcm", str(bad), "--area-cm2", "1", "--out", str(tmp_path / "o"))
    assert res.returncode == 2 and res.stderr.startswith("battlab: error:") and "Traceback" not in res.stderr
    assert len(res.stderr.strip().splitlines()) == 1
    good = tmp_path / "eqcm.csv"
    good.write_text("time (s),df (Hz)\n0,0\n1,-1\n2,-2\n")
    res = run("sensors", "eqcm", str(good), "--out", str(tmp_path / "o"))
    assert res.returncode == 2 and "--area-cm2" in res.stderr
    res = run("sensors", "eqcm", str(good), "--area-cm2", "1", "--out", str(tmp_path / "o"))
    assert res.returncode == 2 and "cycling" in res.stderr  # nothing to align with
    assert not (tmp_path / "o").exists()
