"""`battlab saxs` and `battlab reflectometry` run as real subprocesses on files written from the demos."""

import json
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from battlab.datasets.scattering import make_reflectivity_series, make_saxs_series


def run(*args):
    return subprocess.run([sys.executable, "-m", "battlab.cli", *args], capture_output=True, text=True, timeout=300,
                          check=False)


def _write_series(series, folder, value, *, nm=False):
    folder.mkdir()
    q = series["q_inv_A"].to_numpy()
    rows = []
    for i in range(series.sizes["time"]):
        name = f"curve_{i:03d}.dat"
        qcol = "q (1/nm)" if nm else "q (1/A)"
        table = pd.DataFrame({qcol: q * (10 if nm else 1), value: series.isel(time=i).to_numpy(),
                              "sigma": series["sigma"].isel(time=i).to_numpy()})
        if "dq_inv_A" in series.coords and np.isfinite(series["dq_inv_A"]).all():
            table["dq"] = series["dq_inv_A"].isel(time=i).to_numpy() * (10 if nm else 1)
        table.to_csv(folder / name, sep=" ", index=False, header=[f"{c}" for c in table.columns])
        rows.append({"file": name, "time": pd.Timestamp(series["time"].to_numpy()[i]).tz_localize("UTC").isoformat()})
    pd.DataFrame(rows).to_csv(folder / "timestamps.csv", index=False)
    return folder


@pytest.mark.slow  # a subprocess importing the whole CLI
def test_saxs_folder_recovers_eq1_and_joins_cycling(tmp_path):
    demo = make_saxs_series(n_curves=6)
    folder = _write_series(demo.data, tmp_path / "sans", "I", nm=True)
    # The cycling record as the cycler would export it (canonical BDF-like CSV).
    cyc = tmp_path / "cell.csv"
    demo.truth["echem"].rename(columns={"test_time_s": "Test Time / s", "voltage_V": "Voltage / V",
                                        "current_A": "Current / A", "unix_time_s": "Unix Time / s"}) \
        .drop(columns=["step"]).to_csv(cyc, index=False)
    res = run("saxs", str(folder), "--timestamps", str(folder / "timestamps.csv"), "--echem", str(cyc),
              "--contrast", "3.0", "--out", str(tmp_path / "res"))
    assert res.returncode == 0, res.stderr
    assert res.stdout.startswith("saxs: 6 curve(s)")
    fits = pd.read_csv(tmp_path / "res" / "saxs_fits.csv")
    truth = demo.truth["params"]
    np.testing.assert_allclose(fits["R_g_A"], truth["R_g_A"], rtol=0.02)  # 2 % after the nm⁻¹ → Å⁻¹ conversion
    np.testing.assert_allclose(fits["A_Porod"], truth["A_Porod"], rtol=0.05)  # 5 %
    assert fits["voltage_V"].notna().sum() >= 5 and "soc" in fits
    curves = pd.read_csv(tmp_path / "res" / "saxs_curves.csv")
    assert set(curves["curve"]) == set(range(6)) and curves["model"].notna().all()
    prov = json.loads((tmp_path / "res" / "provenance.json").read_text())
    assert prov["parameters"]["contrast_1e6_per_A2"] == 3.0
    assert len(prov["inputs"]) == 8 and prov["inputs"][-1]["role"] == "cycling"  # 6 curves, timestamps, cycling
    assert prov["inputs"][-2]["role"] == "timestamps"


@pytest.mark.slow  # a subprocess importing the whole CLI
def test_reflectometry_with_layers_csv_and_potentials(tmp_path):
    demo = make_reflectivity_series(n_curves=3)
    folder = _write_series(demo.data, tmp_path / "nr", "R")
    layers = tmp_path / "layers.csv"
    demo.truth["layers"].to_csv(layers, index=False)
    volts = ",".join(f"{v:.4f}" for v in demo.truth["params"]["potential_V"])
    res = run("reflectometry", *sorted(str(p) for p in folder.glob("curve_*.dat")), "--layers", str(layers),
              "--free", "SEI:thickness_A,SEI:sld_1e-6_per_A2", "--free", "electrolyte:roughness_A",
              "--background", str(demo.truth["background"]), "--potentials", volts, "--out", str(tmp_path / "res"))
    assert res.returncode == 0, res.stderr
    fits = pd.read_csv(tmp_path / "res" / "reflectivity_fits.csv")
    truth = demo.truth["params"]
    np.testing.assert_allclose(fits["SEI:thickness_A"], truth["SEI:thickness_A"], atol=1.0)  # 1 Å
    np.testing.assert_allclose(fits["SEI:sld_1e-6_per_A2"], truth["SEI:sld_1e-6_per_A2"], rtol=0.02)  # 2 %
    np.testing.assert_allclose(fits["potential_V"], truth["potential_V"], atol=1e-4)
    for name in ("reflectivity_curves.csv", "sld_profiles.csv", "fitted_layers.csv", "provenance.json"):
        assert (tmp_path / "res" / name).is_file()
    prov = json.loads((tmp_path / "res" / "provenance.json").read_text())
    assert prov["parameters"]["free"] == ["SEI:thickness_A", "SEI:sld_1e-6_per_A2", "electrolyte:roughness_A"]


def test_bad_inputs_exit_2_with_one_line(tmp_path, capsys):
    from battlab.cli import main

    bad = tmp_path / "bad.dat"
    bad.write_text("nothing to see\n")
    assert main(["saxs", str(bad), "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("battlab: error:") and "Traceback" not in err
    demo = make_reflectivity_series(n_curves=1)
    folder = _write_series(demo.data, tmp_path / "nr", "R")
    layers = tmp_path / "layers.csv"
    demo.truth["layers"].to_csv(layers, index=False)
    assert main(["reflectometry", str(folder), "--layers", str(layers), "--free", "Gold:thickness_A",
                 "--out", str(tmp_path / "o2")]) == 2
    assert "Gold" in capsys.readouterr().err and not (tmp_path / "o2" / "provenance.json").exists()


def test_info_describes_a_curve_file(tmp_path, capsys):
    from battlab.cli import main

    path = tmp_path / "c.dat"
    path.write_text("q (1/nm) I(q) err\n" + "\n".join(f"{q:.4f} {10 / q:.4f} 0.1" for q in np.linspace(0.1, 2, 12)))
    assert main(["info", str(path)]) == 0
    out = capsys.readouterr().out
    assert "saxs-text" in out and "0.01 to 0.2 Å⁻¹, 12 points" in out and "nm⁻¹" in out


def test_saxs_reduction_options_give_absolute_guinier(tmp_path, capsys):
    from battlab.cli import main
    from battlab.datasets.scattering import make_saxs_reduction

    demo = make_saxs_reduction()
    t = demo.truth

    def write(curve, path):
        pd.DataFrame({"q (1/A)": curve["q_inv_A"].values, "I": curve.values, "sigma": curve["sigma"].values}) \
            .to_csv(path, sep=" ", index=False)
        return str(path)

    sample, background = write(demo.data, tmp_path / "sample.dat"), write(t["background"], tmp_path / "cell.dat")
    assert main(["saxs", sample, "--background", background, "--sample-transmission", str(t["sample_transmission"]),
                 "--background-transmission", str(t["background_transmission"]), "--thickness-cm",
                 str(t["thickness_cm"]), "--calibration-factor", str(t["calibration_factor"]),
                 "--out", str(tmp_path / "res")]) == 0, capsys.readouterr().err
    curves = pd.read_csv(tmp_path / "res" / "saxs_curves.csv")
    # The reduced curve is the absolute one (median deviation < 0.5 %).
    assert abs(np.median(curves["intensity"] / t["absolute"].values - 1)) < 0.005
    prov = json.loads((tmp_path / "res" / "provenance.json").read_text())
    assert prov["parameters"]["reduction"]["thickness_cm"] == t["thickness_cm"]
    assert prov["inputs"][-1]["role"] == "background"
