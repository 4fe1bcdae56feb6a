"""`battlab depth ndp|sims|xps` run as real subprocesses on demo data written to files."""

import json
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from battlab.datasets.depth import make_ndp_profile, make_sims_profile, make_xps_depth_series


def run(*args):
    return subprocess.run([sys.executable, "-m", "battlab.cli", *args], capture_output=True, text=True, timeout=300,
                          check=False)


def test_ndp_channels_and_stopping_table_give_the_li_inventory(tmp_path):
    demo = make_ndp_profile()
    spec, t = demo.data["spectrum"], demo.truth
    pd.DataFrame({"channel": spec["channel"].to_numpy(), "counts": spec.to_numpy()}).to_csv(tmp_path / "ndp.csv",
                                                                                           index=False)
    demo.data["stopping"].to_csv(tmp_path / "stopping.csv", index=False)
    res = run("depth", "ndp", str(tmp_path / "ndp.csv"), "--stopping", str(tmp_path / "stopping.csv"),
              "--offset-kev", "5", "--gain-kev", "3", "--fluence", "1e12", "--solid-angle-fraction", "1e-3",
              "--max-depth-um", "10", "--energy-resolution-kev", "15", "--layer", "surface=0,1",
              "--layer", "graphite=1,8", "--out", str(tmp_path / "res"))
    assert res.returncode == 0, res.stderr
    assert res.stdout.startswith("ndp: 1 spectrum → 40 depth bins")
    layers = pd.read_csv(tmp_path / "res" / "ndp_layers.csv").set_index("layer")
    assert layers.loc["surface", "li_atoms_cm2"] == pytest.approx(t["inventory_atoms_cm2"]["surface layer"], rel=0.05)
    assert layers.loc["graphite", "li_atoms_cm2"] == pytest.approx(t["inventory_atoms_cm2"]["graphite"], rel=0.05)
    prov = json.loads((tmp_path / "res" / "provenance.json").read_text())
    assert {i["name"] for i in prov["inputs"]} == {"ndp.csv", "stopping.csv"}
    assert all(i["sha256"] for i in prov["inputs"]) and prov["parameters"]["bin_um"] == 0.25


def test_ndp_without_calibration_or_stopping_fails_cleanly(tmp_path):
    pd.DataFrame({"channel": [1, 2, 3], "counts": [1, 2, 3]}).to_csv(tmp_path / "n.csv", index=False)
    res = run("depth", "ndp", str(tmp_path / "n.csv"), "--stopping-kev-um", "50", "--out", str(tmp_path / "r"))
    assert res.returncode != 0 and "calibration" in res.stderr and "Traceback" not in res.stderr
    res = run("depth", "ndp", str(tmp_path / "n.csv"), "--out", str(tmp_path / "r"))
    assert res.returncode != 0 and "stopping" in res.stderr


def test_sims_crater_calibration_and_layers(tmp_path):
    demo = make_sims_profile(noise=False)
    demo.data.to_csv(tmp_path / "sims.csv", index=False)
    res = run("depth", "sims", str(tmp_path / "sims.csv"), "--crater-depth-nm", "60", "--ratio", "LiF-/C2H-",
              "--marker", "organic=C2H-", "--marker", "inner=LiF-", "--out", str(tmp_path / "res"))
    assert res.returncode == 0, res.stderr
    assert "rate 0.1 nm/s (crater depth)" in res.stdout
    layers = pd.read_csv(tmp_path / "res" / "sims_layers.csv").set_index("layer")
    assert layers.loc["organic", "thickness"] == pytest.approx(12.0, abs=1.0)
    assert layers.loc["inner", "thickness"] == pytest.approx(25.0, abs=1.0)
    prof = pd.read_csv(tmp_path / "res" / "sims_profile.csv")
    assert np.allclose(prof["depth_nm"], prof["sputter_time_s"] * 0.1)
    assert "LiF-/C2H-" in prof
    res = run("depth", "sims", str(tmp_path / "sims.csv"), "--out", str(tmp_path / "r2"))
    assert res.returncode != 0
    res = run("depth", "sims", str(tmp_path / "sims.csv"), "--rate-nm-s", "0.1", "--marker", "LiF-",
              "--out", str(tmp_path / "r3"))
    assert res.returncode != 0 and "LAYER=FRAGMENT" in res.stderr and "Traceback" not in res.stderr


@pytest.mark.slow
def test_xps_depth_series_csv(tmp_path):
    demo = make_xps_depth_series(sputter_time_s=(0, 200, 500))
    rows = []
    for region, s in demo.data.items():
        for i in range(s.sizes["step"]):
            sp = s.isel(step=i)
            rows.append(pd.DataFrame({"region": region, "sputter_time_s": float(sp["sputter_time_s"]),
                                      "binding_energy_eV": sp["binding_energy_eV"].to_numpy(),
                                      "intensity": sp.to_numpy()}))
    pd.concat(rows).to_csv(tmp_path / "xps.csv", index=False)
    res = run("depth", "xps", str(tmp_path / "xps.csv"), "--rate-nm-s", "0.05", "--out", str(tmp_path / "res"))
    assert res.returncode == 0, res.stderr
    atomic = pd.read_csv(tmp_path / "res" / "xps_atomic.csv")
    truth = demo.truth["atomic"]
    for el in ("C", "O", "F", "Li"):
        assert np.allclose(atomic[f"{el}_at_pct"], truth[f"{el}_at_pct"], atol=2.0)
    assert (tmp_path / "res" / "provenance.json").is_file()


def test_ndp_series_on_the_cycling_clock(tmp_path):
    from battlab.datasets.depth import make_ndp_plating_series

    demo = make_ndp_plating_series(n_spectra=4)
    spectra = demo.data["spectra"]
    frame = pd.DataFrame({"energy_keV": spectra["energy_keV"].to_numpy()})
    for i, t in enumerate(spectra["time_s"].to_numpy()):
        frame[f"t={t:g} s"] = spectra.isel(time=i).to_numpy()
    frame.to_csv(tmp_path / "series.csv", index=False)
    test_time = np.arange(0.0, 8000.0, 10.0)
    pd.DataFrame({"test_time_s": test_time, "voltage_V": 0.2 - 1e-5 * test_time, "current_A": -1e-3}).to_csv(
        tmp_path / "cell.csv", index=False)
    res = run("depth", "ndp", str(tmp_path / "series.csv"), "--stopping-kev-um", "55", "--bin-um", "0.5",
              "--layer", "surface=0,0.5", "--echem", str(tmp_path / "cell.csv"), "--clock-offset-s", "50",
              "--out", str(tmp_path / "res"))
    assert res.returncode == 0, res.stderr
    assert res.stdout.startswith("ndp: 4 spectra")
    table = pd.read_csv(tmp_path / "res" / "ndp_series.csv")
    assert np.allclose(table["test_time_s"], spectra["time_s"].to_numpy() + 50.0)
    assert np.allclose(table["voltage_V"], 0.2 - 1e-5 * table["test_time_s"])
    assert {"counts_surface", "fraction_surface", "capacity_mAh"} <= set(table.columns)
    prov = json.loads((tmp_path / "res" / "provenance.json").read_text())
    assert {"series.csv", "cell.csv"} <= {i["name"] for i in prov["inputs"]}


def test_sims_maps_from_npy_and_hdf5(tmp_path):
    import h5py

    from battlab.datasets.depth import make_sims_map

    demo = make_sims_map(n_scans=40, depth_per_scan_nm=1.25)
    stack = demo.data
    np.save(tmp_path / "lif.npy", stack.sel(fragment="LiF-").values)
    with h5py.File(tmp_path / "maps.h5", "w") as h5:
        h5["C2H-"] = stack.sel(fragment="C2H-").values
    res = run("depth", "sims-map", "--map", f"LiF-={tmp_path / 'lif.npy'}", "--map", f"C2H-={tmp_path / 'maps.h5'}:C2H-",
              "--pixel-size-um", "0.5", "--depth-per-scan-nm", "1.25", "--ratio", "LiF-/C2H-",
              "--marker", "inner=LiF-", "--out", str(tmp_path / "res"))
    assert res.returncode == 0, res.stderr
    ratio = pd.read_csv(tmp_path / "res" / "ratio_map_LiF-_over_C2H-.csv")
    mask = demo.truth["patch_mask"].ravel()
    inside = demo.truth["inside"]["LiF-"].sum() / demo.truth["inside"]["C2H-"].sum()
    outside = demo.truth["outside"]["LiF-"].sum() / demo.truth["outside"]["C2H-"].sum()
    assert np.allclose(ratio["LiF-/C2H-"], np.where(mask, inside, outside), rtol=1e-12)
    layers = pd.read_csv(tmp_path / "res" / "sims_map_layers.csv")
    assert layers["thickness"].iloc[0] == pytest.approx(25.0, abs=1.0)
    prov = json.loads((tmp_path / "res" / "provenance.json").read_text())
    assert {i["name"] for i in prov["inputs"]} == {"lif.npy", "maps.h5"}


def test_xps_depth_from_vamas(tmp_path):
    from tests.depth.test_xps_depth import _vamas

    demo = make_xps_depth_series(sputter_time_s=(0, 200, 500))
    (tmp_path / "depth.vms").write_bytes(_vamas(demo.data, etch_ids=False))
    res = run("depth", "xps", str(tmp_path / "depth.vms"), "--out", str(tmp_path / "r"))
    assert res.returncode != 0 and "time_per_step_s" in res.stderr
    res = run("depth", "xps", str(tmp_path / "depth.vms"), "--time-per-step-s", "100", "--rate-nm-s", "0.05",
              "--out", str(tmp_path / "res"))
    assert res.returncode == 0, res.stderr
    atomic = pd.read_csv(tmp_path / "res" / "xps_atomic.csv")
    assert atomic["sputter_time_s"].tolist() == [0.0, 100.0, 200.0]
    assert atomic["depth_nm"].tolist() == pytest.approx([0.0, 5.0, 10.0])
