"""`battlab secm approach`, `battlab secm map` and `battlab elements` run as real subprocesses."""

import json
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
import tifffile

from battlab.datasets.elements import make_nmc_element_maps
from battlab.datasets.probes import make_approach_curves, make_secm_map


def run(*args):
    return subprocess.run([sys.executable, "-m", "battlab.cli", *args], capture_output=True, text=True, timeout=300,
                          check=False)


@pytest.mark.slow
def test_secm_approach_recovers_kappa_and_contact(tmp_path):
    demo = make_approach_curves()
    paths = []
    for name, curve in demo.data.items():
        p = tmp_path / (name.replace(" ", "_").replace("κ=", "k") + ".csv")
        curve.rename(columns={"distance_um": "Distance (um)", "current_nA": "Current (nA)"}).to_csv(p, index=False)
        paths.append(p)
    out = tmp_path / "out"
    res = run("secm", "approach", *map(str, paths), "--radius-um", "5", "--rg", "10", "--diffusion-cm2-s", "7.8e-6",
              "--out", str(out))
    assert res.returncode == 0, res.stderr
    fits = pd.read_csv(out / "approach_fits.csv")
    assert len(fits) == len(paths)
    for p, truth in zip(paths, demo.truth["curves"].values(), strict=True):
        row = fits.set_index("curve").loc[p.stem]
        assert abs(row["d0_um"] - truth["d0_um"]) < 0.05 * 5  # within 0.05·a
        if truth["kind"] == "kinetic":
            assert row["kappa"] == pytest.approx(truth["kappa"], rel=0.10)
        else:
            assert row["classification"] == truth["kind"]
    prov = json.loads((out / "provenance.json").read_text())
    assert prov["parameters"]["radius_um"] == 5 and len(prov["inputs"]) == len(paths)
    assert "approach_curves.csv" in prov["outputs"]


@pytest.mark.slow
def test_secm_map_k_and_active_sites(tmp_path):
    demo = make_secm_map(size_px=64, pixel_size_um=1.5)
    da = demo.data["tip current"]
    src = tmp_path / "map.txt"
    np.savetxt(src, da.values * 1e-9)  # amperes
    out = tmp_path / "out"
    t = demo.truth
    res = run("secm", "map", str(src), "--pixel-size-um", "1.5", "--value-unit", "A", "--bulk-current-nA",
              str(t["bulk_current_nA"]), "--working-distance-um", str(t["working_distance_um"]), "--radius-um",
              str(t["radius_um"]), "--diffusion-cm2-s", str(t["diffusion_cm2_s"]), "--threshold", "0.004",
              "--out", str(out))
    assert res.returncode == 0, res.stderr
    active = pd.read_csv(out / "active_summary.csv")
    assert active.loc[0, "n_sites"] == 3
    assert active.loc[0, "active_fraction"] == pytest.approx(t["active_fraction"], abs=0.01)
    m = pd.read_csv(out / "map.csv")
    assert np.nanmax(m["k_cm_s"][np.isfinite(m["k_cm_s"])]) == pytest.approx(0.05, rel=0.1)


def test_secm_map_missing_scale_fails_cleanly(tmp_path):
    src = tmp_path / "map.txt"
    np.savetxt(src, np.ones((4, 4)))
    res = run("secm", "map", str(src), "--out", str(tmp_path / "o"))
    assert res.returncode != 0 and "pixel_size_um" in res.stderr and "Traceback" not in res.stderr


@pytest.mark.slow
def test_elements_ratio_from_multipage_tiff(tmp_path):
    demo = make_nmc_element_maps(noise=False)
    maps = demo.data["maps"]
    els = [str(e) for e in maps["element"].values]
    src = tmp_path / "eds.tif"
    tifffile.imwrite(src, np.stack([maps.sel(element=e).values for e in els]).astype("float32"))
    out = tmp_path / "out"
    res = run("elements", str(src), "--pixel-size-um", "0.1", "--elements", ",".join(els), "--ratio", "Ni/Mn",
              "--ratio", "F/C", "--min-counts", "1", "--phases", "2", "--phase-elements", "Ni,Mn,Co",
              "--min-total-counts", "1", "--out", str(out))
    assert res.returncode == 0, res.stderr
    ratios = pd.read_csv(out / "ratio_maps.csv")
    truth = demo.truth["ni_mn_map"].ravel()
    on = np.isfinite(truth)
    np.testing.assert_allclose(ratios["Ni_Mn"].to_numpy()[on], truth[on], rtol=1e-6)  # float32 file
    phases = pd.read_csv(out / "phases.csv")
    assert phases.loc[1, "area_fraction_all"] == pytest.approx(demo.truth["core_area_fraction"], abs=1e-9)
    assert "Ni/Mn" in res.stdout
    res = run("elements", str(src), "--pixel-size-um", "0.1", "--out", str(tmp_path / "o2"))
    assert res.returncode != 0 and "elements=" in res.stderr


@pytest.mark.slow
def test_elements_registration_onto_sem(tmp_path):
    demo = make_nmc_element_maps()
    maps = demo.data["maps"]
    folder = tmp_path / "eds"
    folder.mkdir()
    for e in maps["element"].values:
        np.savetxt(folder / f"{e}_Ka.csv", maps.sel(element=e).values, delimiter=",", fmt="%d")
    sem = tmp_path / "sem.tif"
    tifffile.imwrite(sem, demo.data["sem"].values.astype("float32"))
    out = tmp_path / "out"
    res = run("elements", str(folder), "--pixel-size-um", "0.1", "--register-to", str(sem), "--register-element", "O",
              "--out", str(out))
    assert res.returncode == 0, res.stderr
    reg = pd.read_csv(out / "registration.csv").iloc[0]
    dy, dx = demo.truth["sem_shift_px"]
    # within 0.5 px; the EDS content sits at minus the SEM shift on the SEM grid
    assert reg["shift_y_px"] == pytest.approx(-dy, abs=0.5) and reg["shift_x_px"] == pytest.approx(-dx, abs=0.5)
    prov = json.loads((out / "provenance.json").read_text())
    assert [i["name"] for i in prov["inputs"]][-1] == "sem.tif"
