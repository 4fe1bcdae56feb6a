"""The battlab command line, run as a real subprocess."""

import json
import subprocess
import sys

import pandas as pd
import pytest

from battlab.datasets import make_cycling


def run(*args, cwd=None):
    return subprocess.run([sys.executable, "-m", "battlab.cli", *args], capture_output=True, text=True, cwd=cwd,
                          timeout=300)


@pytest.fixture(scope="module")
def demo_csv(tmp_path_factory):
    from battlab.io import write_bdf_csv

    path = tmp_path_factory.mktemp("demo") / "demo_cell.csv"
    demo = make_cycling(n_cycles=6, rate_block=())
    write_bdf_csv(demo.data, path)
    return path, demo.truth


def test_cycling_writes_cycles_and_provenance(demo_csv, tmp_path):
    path, truth = demo_csv
    out = tmp_path / "results"
    res = run("cycling", str(path), "--mass-mg", "12.5", "--out", str(out))
    assert res.returncode == 0, res.stderr
    cycles = pd.read_csv(out / "cycles.csv")
    assert len(cycles) == 6
    pd.testing.assert_series_equal(cycles["charge_capacity_mAh"], truth["cycles"]["delithiation_capacity_mAh"],
                                   check_names=False, rtol=1e-3)
    assert "out_capacity_mAh_g" in cycles
    prov = json.loads((out / "provenance.json").read_text())
    assert prov["parameters"]["active_mass_mg"] == 12.5
    assert prov["inputs"][0]["name"] == "demo_cell.csv" and len(prov["inputs"][0]["sha256"]) == 64
    assert {"cycles.csv", "rate_capability.csv", "dqdv.csv"} <= set(prov["outputs"])
    assert prov["command"].startswith("battlab cycling")


def test_cycling_on_real_biologic_file(real_data, tmp_path):
    res = run("cycling", str(real_data / "biologic" / "yadg_gcpl.pr_182.1.mpr"), "--mass-mg", "12.5",
              "--out", str(tmp_path))
    assert res.returncode == 0, res.stderr
    cycles = pd.read_csv(tmp_path / "cycles.csv")
    assert len(cycles) >= 1 and (cycles["discharge_capacity_mAh"] > 0).any()


def test_info_describes_a_file(real_data):
    res = run("info", str(real_data / "biologic" / "yadg_gcpl.issue_149.mpt"))
    assert res.returncode == 0, res.stderr
    assert "biologic-mpt" in res.stdout and "technique:  cycling" in res.stdout
    assert "cycles:" in res.stdout


def test_formats_lists_readers():
    res = run("formats")
    assert res.returncode == 0
    assert "biologic-mpr" in res.stdout and "bdf" in res.stdout


def test_bad_input_exits_2_with_one_line(tmp_path):
    bad = tmp_path / "junk.mpr"
    bad.write_bytes(b"\x89PNG\r\n\x1a\n" + b"\x00" * 200)
    res = run("cycling", str(bad), "--out", str(tmp_path / "o"))
    assert res.returncode == 2
    assert res.stderr.startswith("battlab: error:") and "Traceback" not in res.stderr
    missing = run("info", str(tmp_path / "nope.mpt"))
    assert missing.returncode == 2 and "no such file" in missing.stderr
    assert not (tmp_path / "o").exists()  # nothing half-written


def test_raw_input_is_never_modified(demo_csv, tmp_path):
    path, _ = demo_csv
    before = path.read_bytes()
    run("cycling", str(path), "--out", str(tmp_path))
    assert path.read_bytes() == before
