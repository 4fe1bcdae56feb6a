"""`battlab spectra` (and `battlab batch spectra`) run as real subprocesses."""

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from battlab.datasets.spectra import make_raman_graphite_series

DATA = Path(__file__).resolve().parent / "spectra" / "data"


def run(*args):
    return subprocess.run([sys.executable, "-m", "battlab.cli", *args], capture_output=True, text=True, timeout=300,
                          check=False)


def _write_raman_folder(series, folder):
    folder.mkdir()
    x = series["wavenumber_cm1"].to_numpy()
    rows = []
    for i in range(series.sizes["time"]):
        name = f"raman_{i:03d}.csv"
        pd.DataFrame({"Raman shift (cm-1)": x, "Intensity": series.isel(time=i).to_numpy()}).to_csv(
            folder / name, index=False)
        rows.append({"file": name, "time": pd.Timestamp(series["time"].to_numpy()[i]).tz_localize("UTC").isoformat()})
    pd.DataFrame(rows).to_csv(folder / "timestamps.csv", index=False)


def test_raman_folder_gives_known_d_to_g(tmp_path):
    demo = make_raman_graphite_series(n_spectra=12)
    _write_raman_folder(demo.data, tmp_path / "raman")
    res = run("spectra", str(tmp_path / "raman"), "--timestamps", str(tmp_path / "raman" / "timestamps.csv"),
              "--out", str(tmp_path / "res"))
    assert res.returncode == 0, res.stderr
    assert res.stdout.startswith("raman: 12 spectra")
    d_to_g = pd.read_csv(tmp_path / "res" / "d_to_g.csv")
    truth = demo.truth["bands"]
    # Tolerances: I_D/I_G (heights) 3 %, G band position 0.5 cm⁻¹.
    np.testing.assert_allclose(d_to_g["id_ig"], truth["id_ig_height"], rtol=0.03)
    np.testing.assert_allclose(d_to_g["g_center_cm1"], truth["g_center_cm1"], atol=0.5)
    prov = json.loads((tmp_path / "res" / "provenance.json").read_text())
    assert prov["parameters"]["baseline"]["method"] == "als"
    assert {"bands.csv", "pca_scores.csv"} <= {p.name for p in (tmp_path / "res").iterdir()}


def test_windows_and_baseline_options_are_used(tmp_path):
    spec = make_raman_graphite_series(n_spectra=3).data.isel(time=0)
    path = tmp_path / "one.csv"
    pd.DataFrame({"Raman shift (cm-1)": spec["wavenumber_cm1"].to_numpy(), "Intensity": spec.to_numpy()}).to_csv(
        path, index=False)
    res = run("spectra", str(path), "--window", "band=1500,1700", "--baseline", "none", "--smoothing-points", "0",
              "--out", str(tmp_path / "res"))
    assert res.returncode == 0, res.stderr
    bands = pd.read_csv(tmp_path / "res" / "bands.csv")
    assert list(bands["band"]) == ["band"]
    assert abs(bands["center"].iloc[0] - 1580.0) < 0.5  # the demo's first G band, 0.5 cm⁻¹ tolerance
    prov = json.loads((tmp_path / "res" / "provenance.json").read_text())
    assert prov["parameters"]["windows"] == {"band": [1500.0, 1700.0]}
    assert prov["parameters"]["baseline"] == {"method": "none"}


def test_xps_region_gives_component_fractions(tmp_path):
    from battlab.datasets.spectra import make_xps_sei

    demo = make_xps_sei()
    c1s = demo.data["C 1s"]
    path = tmp_path / "C 1s.csv"
    pd.DataFrame({"Binding Energy (eV)": c1s["binding_energy_eV"].to_numpy(), "Counts": c1s.to_numpy()}).to_csv(
        path, index=False)
    res = run("spectra", str(path), "--out", str(tmp_path / "res"))
    assert res.returncode == 0, res.stderr
    comp = pd.read_csv(tmp_path / "res" / "composition.csv").set_index("species")
    for row in demo.truth["C 1s"]["components"].itertuples():
        assert abs(comp.loc[row.name, "fraction_in_element"] - row.fraction) < 0.02, row.name  # 2 points


def test_too_short_vamas_regions_are_explained(tmp_path):
    res = run("spectra", str(DATA / "xps_regions.vms"), "--out", str(tmp_path / "res"))
    assert res.returncode != 0 and "Traceback" not in res.stderr
    assert "too few" in res.stderr and "no analysis could run" in res.stderr


def test_real_xas_file_with_a_reference(tmp_path, real_data):
    fe = real_data / "xas" / "xraylarch_fe2o3_rt1.xmu"
    res = run("spectra", str(fe), "--reference", f"self={fe}", "--out", str(tmp_path / "res"))
    assert res.returncode == 0, res.stderr
    edge = pd.read_csv(tmp_path / "res" / "edge.csv")
    assert 7105 < edge["e0_eV"].iloc[0] < 7130  # Fe K edge
    lcf = pd.read_csv(tmp_path / "res" / "lcf.csv")
    assert lcf["self_fraction"].iloc[0] == 1.0 and lcf["r_factor"].iloc[0] < 1e-6  # a spectrum fits itself


def test_bad_input_gets_a_clear_error(tmp_path):
    bad = tmp_path / "bad.csv"
    bad.write_text("Raman shift,Intensity\nnot,numbers\n")
    res = run("spectra", str(bad), "--out", str(tmp_path / "res"))
    assert res.returncode != 0
    assert "Traceback" not in res.stderr and "battlab" in res.stderr
    res = run("spectra", str(DATA / "raman_comma.csv"), "--window", "G=oops", "--out", str(tmp_path / "r2"))
    assert res.returncode != 0 and "NAME=LOW,HIGH" in res.stderr


def test_batch_runs_every_spectrum_of_a_folder(tmp_path, real_data):
    res = run("batch", "spectra", str(real_data / "xas"), "--out", str(tmp_path / "campaign"), "--workers", "0")
    assert res.returncode == 0, res.stderr
    campaign = pd.read_csv(tmp_path / "campaign" / "campaign.csv")
    assert len(campaign) >= 2 and (campaign["status"] == "done").all()


def test_echem_gives_g_band_vs_capacity_and_soc(tmp_path):
    """--echem: G-band position against capacity follows the generator's law within 0.5 cm⁻¹."""
    from battlab.correlate.timeline import charge_timeline
    from battlab.io import write_bdf_csv

    demo = make_raman_graphite_series(n_spectra=16)
    _write_raman_folder(demo.data, tmp_path / "raman")
    write_bdf_csv(demo.truth["echem"], tmp_path / "cell.csv")
    res = run("spectra", str(tmp_path / "raman"), "--timestamps", str(tmp_path / "raman" / "timestamps.csv"),
              "--echem", str(tmp_path / "cell.csv"), "--out", str(tmp_path / "res"))
    assert res.returncode == 0, res.stderr
    assert "cycling: cell.csv on the unix clock" in res.stdout
    d_to_g = pd.read_csv(tmp_path / "res" / "d_to_g.csv")
    q_lith = -float(charge_timeline(demo.truth["echem"])["charge_mAh"].min())
    x = -d_to_g["capacity_mAh"] / q_lith
    np.testing.assert_allclose(x, demo.truth["bands"]["x_in_LixC6"], atol=1e-6)
    law = 1580.0 + 22.0 * np.minimum(x / 0.5, 1.0)  # the generator's G-band law
    assert np.max(np.abs(d_to_g["g_center_cm1"] - law)) < 0.5
    for name in ("bands.csv", "pca_scores.csv"):
        table = pd.read_csv(tmp_path / "res" / name)
        assert {"voltage_V", "capacity_mAh", "soc", "cycle"} <= set(table.columns), name
    # soc falls while the graphite lithiates (charge goes out of the working electrode) and rises after.
    lith = d_to_g[d_to_g["direction"] == -1]["soc"].to_numpy()
    delith = d_to_g[d_to_g["direction"] == 1]["soc"].to_numpy()
    assert len(lith) >= 4 and np.all(np.diff(lith) < 0) and np.all(np.diff(delith) > 0)
    assert np.nanmin(d_to_g["soc"]) >= 0.0 and np.nanmax(d_to_g["soc"]) <= 1.0
    prov = json.loads((tmp_path / "res" / "provenance.json").read_text())
    assert prov["inputs"][-1]["name"] == "cell.csv"
    assert prov["parameters"]["alignment"] == {"time_basis": "unix", "clock_offset_s": 0.0}


def write_raw_mossbauer_pair(folder):
    """Raw multichannel counts of an LFP/FP sample (``lfp_raw.txt``, 70 % Fe²⁺) and of the α-Fe
    foil that calibrates their velocity scale (``alpha_fe.txt``); returns the foil's truth."""
    from battlab.datasets.spectra import (
        _mossbauer_counts,
        _triangle_velocity,
        make_alpha_fe_calibration,
        make_mossbauer_lfp_series,
    )

    cal = make_alpha_fe_calibration()
    np.savetxt(folder / "alpha_fe.txt", cal.data, fmt="%d")
    v = _triangle_velocity(cal.data.size, cal.truth["folding_point"], cal.truth["velocity_max_mm_s"])
    sites = [dict(s, area_mm_s=a) for s, a in zip(make_mossbauer_lfp_series(n_spectra=2).truth["sites"], (0.21, 0.09),
                                                 strict=True)]
    np.savetxt(folder / "lfp_raw.txt", np.random.default_rng(1).poisson(_mossbauer_counts(v, sites, 5e5)), fmt="%d")
    return cal.truth


@pytest.mark.slow
def test_mossbauer_raw_channels_with_alpha_fe_calibration(tmp_path):
    truth = write_raw_mossbauer_pair(tmp_path)
    res = run("spectra", str(tmp_path / "lfp_raw.txt"), "--raw-channels", "--calibration",
              str(tmp_path / "alpha_fe.txt"), "--out", str(tmp_path / "res"))
    assert res.returncode == 0, res.stderr
    table = pd.read_csv(tmp_path / "res" / "mossbauer_sites.csv").set_index("site")
    # δ and ΔE_Q within 0.01 mm/s (vs α-Fe), fractions within 2 %.
    assert abs(table.loc["Fe2+ LiFePO4", "isomer_shift_mm_s"] - 1.225) < 0.01
    assert abs(table.loc["Fe3+ FePO4", "quadrupole_splitting_mm_s"] - 1.530) < 0.01
    assert abs(table.loc["Fe3+ FePO4", "fraction"] - 0.3) < 0.02
    prov = json.loads((tmp_path / "res" / "provenance.json").read_text())
    assert abs(prov["parameters"]["velocity_calibration"]["slope_mm_s"] - truth["slope_mm_s"]) < 0.005 * truth[
        "slope_mm_s"]


@pytest.mark.slow
def test_epr_spin_count_cli(tmp_path):
    from battlab.datasets.spectra import make_epr_plating_series, make_epr_reference

    ser = make_epr_plating_series(n_spectra=3)
    ref = make_epr_reference()
    for name, spec in (("sample.csv", ser.data.isel(time=2)), ("ref.csv", ref.data)):
        pd.DataFrame({"Field [G]": spec["field_mT"].to_numpy() * 10, "Intensity": spec.to_numpy()}).to_csv(
            tmp_path / name, index=False)
    res = run("spectra", str(tmp_path / "sample.csv"), "--technique", "epr", "--frequency-GHz", "9.4",
              "--spin-reference", str(tmp_path / "ref.csv"), "--reference-spins", "1e15",
              "--acquisition", "receiver_gain=40", "--reference-acquisition", "receiver_gain=20",
              "--out", str(tmp_path / "res"))
    assert res.returncode == 0, res.stderr
    table = pd.read_csv(tmp_path / "res" / "epr.csv")
    truth = ser.truth["components"].iloc[2]
    # Spins from the fitted line areas within 5 %, g within 1e-4.
    assert table["narrow_spins"].iloc[0] == pytest.approx(truth["narrow_spins"], rel=0.05)
    assert table["broad_spins"].iloc[0] == pytest.approx(truth["broad_spins"], rel=0.05)
    assert table["narrow_g"].iloc[0] == pytest.approx(2.0030, abs=1e-4)
    bad = run("spectra", str(tmp_path / "sample.csv"), "--technique", "epr", "--spin-reference",
              str(tmp_path / "ref.csv"), "--out", str(tmp_path / "res2"))
    assert bad.returncode != 0 and "reference-spins" in bad.stderr


def write_mossbauer_pair(folder, *, n_points=600):
    """An α-Fe calibration spectrum and an LFP/FP sample (``alpha.csv``, ``sample.csv``) on a
    drive whose nominal velocity scale is 1.5 % off with its zero 0.04 mm/s off."""
    from battlab.datasets.spectra import _mossbauer_counts, make_mossbauer_lfp_series

    v_true = np.linspace(-7, 7, n_points)
    alpha = {"kind": "sextet", "isomer_shift_mm_s": 0.0, "quadrupole_mm_s": 0.0, "field_T": 33.0, "fwhm_mm_s": 0.25,
             "area_mm_s": 0.35}
    sites = [dict(s, area_mm_s=a) for s, a in zip(make_mossbauer_lfp_series(n_spectra=2).truth["sites"], (0.12, 0.18),
                                                 strict=True)]
    gen = np.random.default_rng(3)
    nominal = (v_true - 0.04) / 0.985
    for name, model in (("alpha.csv", [alpha]), ("sample.csv", sites)):
        counts = gen.poisson(_mossbauer_counts(v_true, model, 1e6))
        pd.DataFrame({"Velocity (mm/s)": nominal, "Counts": counts}).to_csv(folder / name, index=False)


def test_mossbauer_velocity_axis_recalibrated_in_process(tmp_path, capsys):
    """``--calibration`` with a velocity-axis α-Fe file corrects the data's scale and zero (in process: fast)."""
    from battlab.cli import main

    write_mossbauer_pair(tmp_path)
    assert main(["spectra", str(tmp_path / "sample.csv"), "--calibration", str(tmp_path / "alpha.csv"),
                 "--out", str(tmp_path / "res")]) == 0
    assert capsys.readouterr().out.startswith("mossbauer: 1 spectrum")
    table = pd.read_csv(tmp_path / "res" / "mossbauer_sites.csv").set_index("site")
    # δ and ΔE_Q within 0.01 mm/s after recalibration; fractions within 2 %.
    assert abs(table.loc["Fe2+ LiFePO4", "isomer_shift_mm_s"] - 1.225) < 0.01
    assert abs(table.loc["Fe2+ LiFePO4", "quadrupole_splitting_mm_s"] - 2.960) < 0.01
    assert abs(table.loc["Fe3+ FePO4", "fraction"] - 0.6) < 0.02
    prov = json.loads((tmp_path / "res" / "provenance.json").read_text())
    assert abs(prov["parameters"]["velocity_calibration"]["slope_mm_s"] - 0.985) < 0.005 * 0.985
