"""`battlab correlate` (demo, timeline, maps, population) run as real subprocesses."""

import json
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from battlab.datasets.correlation import make_multimodal
from battlab.io import write_bdf_csv


def landmark_table(moving, *, rotation_deg, scale, translation_um) -> pd.DataFrame:
    """Point pairs placed by a known similarity transform, as the landmark files users click."""
    th = np.deg2rad(rotation_deg)
    moving = np.asarray(moving, float)
    rot = np.array([[np.cos(th), -np.sin(th)], [np.sin(th), np.cos(th)]])
    reference = scale * moving @ rot.T + np.asarray(translation_um)
    return pd.DataFrame({"x_moving_um": moving[:, 0], "y_moving_um": moving[:, 1], "x_reference_um": reference[:, 0],
                         "y_reference_um": reference[:, 1]})


def run(*args):
    return subprocess.run([sys.executable, "-m", "battlab.cli", *args], capture_output=True, text=True, timeout=600,
                          check=False)


@pytest.fixture(scope="module")
def demo():
    return make_multimodal()


@pytest.mark.slow
def test_demo_recovers_clocks_and_placement(tmp_path, demo):
    res = run("correlate", "demo", "--out", str(tmp_path / "res"))
    assert res.returncode == 0, res.stderr
    assert res.stdout.startswith("multimodal demo: clock offsets")
    out = tmp_path / "res"
    est = pd.read_csv(out / "clock_offset_estimates.csv").set_index("dataset")
    for name in ("optical", "xrd"):
        assert abs(est.loc[name, "clock_offset_s"] - demo.truth["clock_offsets_s"][name]) <= est.loc[name,
                                                                                                     "resolution_s"]
    reg = pd.read_csv(out / "registration.csv").iloc[0]
    assert abs(reg["rotation_deg"] - demo.truth["afm_to_xray"]["rotation_deg"]) < 0.5
    check = pd.read_csv(out / "reality_check.csv").set_index("technique")
    assert check.loc["xrd", "rms_difference"] < 0.02
    assert len(pd.read_csv(out / "particles.csv")) >= 12
    prov = json.loads((out / "provenance.json").read_text())
    assert prov["parameters"]["registration"]["method"] == "rotation search + NCC"


def test_timeline_from_exported_tables(tmp_path, demo):
    exp = demo.data
    write_bdf_csv(exp.cycling, tmp_path / "cell.csv")
    exp.tables["xrd"].to_csv(tmp_path / "xrd.csv", index=False)
    exp.tables["optical"].to_csv(tmp_path / "optical.csv", index=False)
    offsets = demo.truth["clock_offsets_s"]
    res = run("correlate", "timeline", "--cycling", str(tmp_path / "cell.csv"),
              "--table", f"xrd={tmp_path / 'xrd.csv'}@{offsets['xrd']}", "--table", f"optical={tmp_path / 'optical.csv'}",
              "--estimate-offsets", "--signal", "optical=thickness_um", "--out", str(tmp_path / "res"))
    assert res.returncode == 0, res.stderr
    out = tmp_path / "res"
    applied = pd.read_csv(out / "clock_offsets.csv").set_index("dataset")["clock_offset_s"]
    assert applied["xrd"] == offsets["xrd"]  # given, not estimated
    assert abs(applied["optical"] - offsets["optical"]) <= 60.0  # one frame interval
    xrd = pd.read_csv(out / "timeline_xrd.csv")
    ok = xrd["x_echem"].notna()
    np.testing.assert_allclose(xrd.loc[ok, "x_xrd"], xrd.loc[ok, "x_echem"], atol=0.02)
    assert {"common_time_grid.csv", "correlations.csv", "reality_check.csv", "provenance.json",
            "per_cycle_xrd.csv"} <= {p.name for p in out.iterdir()}
    per_cycle = pd.read_csv(out / "per_cycle_xrd.csv")
    assert {"cycle", "direction", "x_xrd_range", "n_samples"} <= set(per_cycle.columns)
    prov = json.loads((out / "provenance.json").read_text())
    assert [i["role"] for i in prov["inputs"]] == ["cycling", "xrd", "optical"]


def test_table_of_another_cell_read_at_this_cells_state_of_charge(tmp_path, demo):
    exp = demo.data
    write_bdf_csv(exp.cycling, tmp_path / "cell_a.csv")
    # cell B: the same cell model cycled on another day, XRD started at its own moment
    cell_b = exp.cycling.assign(unix_time_s=exp.cycling["unix_time_s"] + 86400.0)
    write_bdf_csv(cell_b, tmp_path / "cell_b.csv")
    exp.tables["xrd"].to_csv(tmp_path / "xrd_b.csv", index=False)
    exp.tables["optical"].to_csv(tmp_path / "optical_a.csv", index=False)
    xrd_offset = demo.truth["clock_offsets_s"]["xrd"]
    res = run("correlate", "timeline", "--cycling", str(tmp_path / "cell_a.csv"),
              "--table", f"optical={tmp_path / 'optical_a.csv'}@{demo.truth['clock_offsets_s']['optical']}",
              "--other-table", f"xrdB={tmp_path / 'xrd_b.csv'}@{xrd_offset}",
              "--other-cycling", f"xrdB={tmp_path / 'cell_b.csv'}", "--out", str(tmp_path / "res"))
    assert res.returncode == 0, res.stderr
    by_soc = pd.read_csv(tmp_path / "res" / "by_soc_xrdB.csv")
    ok = by_soc["xrdB:fraction_LiC6"].notna()
    assert ok.mean() > 0.8
    # same cell model: cell B's LiC6 fraction at cell A's SOC follows the staging law of x = 1 − SOC
    x = 1.0 - by_soc.loc[ok, "soc"]
    expected = np.clip((x - 0.5) / 0.5, 0, 1)
    assert np.sqrt(np.mean((by_soc.loc[ok, "xrdB:fraction_LiC6"] - expected) ** 2)) < 0.05
    prov = json.loads((tmp_path / "res" / "provenance.json").read_text())
    assert {"xrdB (other cell)", "xrdB cycling"} <= {i["role"] for i in prov["inputs"]}
    res = run("correlate", "timeline", "--cycling", str(tmp_path / "cell_a.csv"),
              "--table", f"optical={tmp_path / 'optical_a.csv'}", "--other-table", f"xrdB={tmp_path / 'xrd_b.csv'}",
              "--out", str(tmp_path / "res2"))
    assert res.returncode != 0 and "--other-cycling xrdB=FILE" in res.stderr


def test_maps_by_search_and_by_landmarks(tmp_path, demo):
    import tifffile

    images = demo.data.images
    tifffile.imwrite(tmp_path / "xray.tif", images["xray_absorption"].to_numpy().astype("float32"))
    np.savetxt(tmp_path / "afm.csv", images["afm_height"].to_numpy(), delimiter=",")
    truth = demo.truth["afm_to_xray"]
    common = ["--reference", str(tmp_path / "xray.tif"), "--reference-pixel-um", "0.5",
              "--moving", str(tmp_path / "afm.csv"), "--moving-pixel-um", "0.12"]
    res = run("correlate", "maps", *common, "--fit-scale", "--out", str(tmp_path / "search"))
    assert res.returncode == 0, res.stderr
    reg = pd.read_csv(tmp_path / "search" / "registration.csv").iloc[0]
    assert abs(reg["rotation_deg"] - truth["rotation_deg"]) < 0.5 and abs(reg["scale"] - truth["scale"]) < 0.005
    assert np.hypot(reg["tx_um"] - truth["translation_um"][0], reg["ty_um"] - truth["translation_um"][1]) < 0.25
    # three clicked particle centres: landmark fit reproduces the designed similarity exactly
    landmark_table([[3.0, 4.0], [25.0, 6.0], [12.0, 27.0]], **truth).to_csv(tmp_path / "points.csv", index=False)
    res = run("correlate", "maps", *common, "--landmarks", str(tmp_path / "points.csv"), "--out",
              str(tmp_path / "landmarks"))
    assert res.returncode == 0, res.stderr
    reg = pd.read_csv(tmp_path / "landmarks" / "registration.csv").iloc[0]
    assert abs(reg["rotation_deg"] - truth["rotation_deg"]) < 1e-6 and reg["rms_um"] < 1e-9
    assert (tmp_path / "landmarks" / "landmark_residuals.csv").is_file()


@pytest.mark.slow
def test_population_on_a_local_dask_cluster_with_two_workers(tmp_path):
    from battlab.datasets.population import population_demo

    cells = population_demo(n_cells=6)
    folder = tmp_path / "cells"
    folder.mkdir()
    for name, table in cells.data.items():
        write_bdf_csv(table, folder / f"{name}.csv")
    res = run("correlate", "population", str(folder), "--workers", "2", "--highlight", "cell_01",
              "--out", str(tmp_path / "res"))
    assert res.returncode == 0, res.stderr
    summary = pd.read_csv(tmp_path / "res" / "population_summary.csv").set_index("cell")
    truth = cells.truth["cells"].set_index("cell")
    assert len(summary) == 6
    done = ~truth["censored"]
    # cycle life within one cycle of the generator's; knee within 5 %
    assert (abs(summary.loc[done, "cycle_life"] - truth.loc[done, "cycle_life"]) <= 1).all()
    assert (abs(summary["knee_cycle"] / truth["knee_cycle"] - 1) < 0.05).all()
    standing = pd.read_csv(tmp_path / "res" / "highlighted_cell.csv").set_index("metric")
    assert standing.loc["cycle_life", "value"] == summary.loc["cell_01", "cycle_life"]
    assert 0 <= standing.loc["cycle_life", "percentile"] <= 100 and standing.loc["cycle_life", "n"] == 6
    prov = json.loads((tmp_path / "res" / "provenance.json").read_text())
    assert prov["parameters"]["workers"] == 2 and len(prov["inputs"]) == 6
    # it ran through battlab batch: one result folder per cell and a campaign table; a re-run resumes
    campaign = pd.read_csv(tmp_path / "res" / "cells" / "campaign.csv")
    assert set(campaign["status"]) == {"done"} and len(campaign) == 6
    (folder / "cell_07.csv").write_text("not,a,cycler\n1,2,3\n")
    res = run("correlate", "population", str(folder), "--workers", "2", "--out", str(tmp_path / "res"))
    assert res.returncode == 0, res.stderr
    assert "6 cells" in res.stdout and "1 failed" in res.stdout
    campaign = pd.read_csv(tmp_path / "res" / "cells" / "campaign.csv").set_index("status")
    assert campaign.index.value_counts().to_dict() == {"skipped": 6, "failed": 1}


def test_bad_inputs_get_battlab_errors(tmp_path):
    (tmp_path / "t.csv").write_text("a,b\n1,2\n")
    res = run("correlate", "timeline", "--cycling", str(tmp_path / "t.csv"), "--table", "xrd", "--out",
              str(tmp_path / "o"))
    assert res.returncode != 0 and "Traceback" not in res.stderr and "battlab" in res.stderr
    res = run("correlate", "maps", "--reference", str(tmp_path / "missing.tif"), "--reference-pixel-um", "0.5",
              "--moving", str(tmp_path / "t.csv"), "--moving-pixel-um", "0.1", "--out", str(tmp_path / "o"))
    assert res.returncode != 0 and "does not exist" in res.stderr and "Traceback" not in res.stderr
    res = run("correlate", "population", str(tmp_path / "nowhere"), "--out", str(tmp_path / "o"))
    assert res.returncode != 0 and "not a folder" in res.stderr
