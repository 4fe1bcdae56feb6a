"""Results reproduce from their provenance.json: `battlab rerun` gives the same numbers.

The input is the synthetic cycling demo (known capacities) written as a BDF CSV into a
folder whose name has a space, which the recorded command must survive.
"""

import json
import shutil
import subprocess
import sys

import pandas as pd
import pytest

from battlab.cli import main
from battlab.datasets import make_cycling
from battlab.errors import InvalidParameterError, MissingDataError
from battlab.io import write_bdf_csv
from battlab.provenance import rerun_argv


@pytest.fixture()
def first_run(tmp_path):
    folder = tmp_path / "my cells"
    folder.mkdir()
    cell = folder / "cell A.csv"
    demo = make_cycling(n_cycles=4)
    write_bdf_csv(demo.data, cell)
    out = tmp_path / "first"
    assert main(["cycling", str(cell), "--mass-mg", "12.5", "--window-mV", "20", "--out", str(out)]) == 0
    return cell, out, demo


def test_rerun_reproduces_the_numbers(first_run, tmp_path):
    cell, out, demo = first_run
    record = json.loads((out / "provenance.json").read_text())
    assert "'" in record["command"]  # the paths with spaces are quoted, so the command splits back
    proc = subprocess.run([sys.executable, "-m", "battlab.cli", "rerun", str(out / "provenance.json"),
                           "--out", str(tmp_path / "again")], capture_output=True, text=True, timeout=300,
                          check=False)
    assert proc.returncode == 0, proc.stderr
    for name in ("cycles.csv", "rate_capability.csv", "dqdv.csv"):
        assert (tmp_path / "again" / name).read_bytes() == (out / name).read_bytes(), name
    again = json.loads((tmp_path / "again" / "provenance.json").read_text())
    assert again["parameters"] == record["parameters"] and again["inputs"] == record["inputs"]
    # and the numbers are the right ones: the demo's capacities within 0.1 %
    cycles = pd.read_csv(tmp_path / "again" / "cycles.csv")
    truth = demo.truth["cycles"]["delithiation_capacity_mAh"].to_numpy()
    assert cycles["charge_capacity_mAh"].to_numpy() == pytest.approx(truth, rel=1e-3)


def test_a_moved_input_is_found_by_content(first_run, tmp_path):
    cell, out, _ = first_run
    moved = tmp_path / "archive" / "renamed.csv"
    moved.parent.mkdir()
    shutil.move(cell, moved)
    with pytest.raises(MissingDataError, match="--input"):
        rerun_argv(out / "provenance.json", out_dir=tmp_path / "x")
    argv = rerun_argv(out / "provenance.json", out_dir=tmp_path / "again", inputs=[moved])
    assert str(moved) in argv
    assert main(argv) == 0
    assert (tmp_path / "again" / "cycles.csv").read_bytes() == (out / "cycles.csv").read_bytes()


def test_changed_input_and_unsafe_requests_are_refused(first_run, tmp_path):
    cell, out, _ = first_run
    with pytest.raises(InvalidParameterError, match="write over"):
        rerun_argv(out / "provenance.json", out_dir=out)
    write_bdf_csv(make_cycling(n_cycles=2).data, cell)  # same name, other content
    with pytest.raises(MissingDataError, match="cell A.csv"):
        rerun_argv(out / "provenance.json", out_dir=tmp_path / "x")


def test_app_exports_say_why_they_cannot_be_rerun(tmp_path):
    from battlab.apps import CyclingApp

    record = next(p for p in CyclingApp().export(tmp_path / "app") if p.name == "provenance.json")
    with pytest.raises(MissingDataError, match="exported from an app"):
        rerun_argv(record, out_dir=tmp_path / "x")


# --- the other techniques' commands reproduce too -------------------------------------------
def _eis_case(tmp_path):
    from battlab.datasets import make_randles

    demo = make_randles(noise=0.003)
    path = tmp_path / "in" / "randles.csv"
    path.parent.mkdir()
    demo.data.rename(columns={"frequency_Hz": "Frequency (Hz)", "z_real_ohm": "Z' (Ohm)",
                              "z_imag_ohm": "Z'' (Ohm)"}).to_csv(path, index=False)
    return ["eis", str(path), "--circuit", "R0-p(R1,CPE1)-W1"]


def _gitt_case(tmp_path):
    from battlab.datasets import make_gitt

    demo = make_gitt(n_pulses=12)
    t = demo.truth
    path = tmp_path / "in" / "film gitt.csv"
    path.parent.mkdir()
    write_bdf_csv(demo.data, path)
    return ["gitt", str(path), "--mass-mg", repr(t["active_mass_mg"]), "--molar-mass-g-mol",
            repr(t["molar_mass_g_mol"]), "--molar-volume-cm3-mol", repr(t["molar_volume_cm3_mol"]),
            "--area-cm2", repr(t["area_cm2"]), "--thickness-um", repr(t["thickness_um"])]


def _xrd_case(tmp_path):
    from battlab.datasets import make_operando_graphite
    from tests.test_cli_xrd import _write_folder

    demo = make_operando_graphite(n_patterns=8)
    folder = tmp_path / "in" / "scans"
    folder.parent.mkdir()
    _write_folder(demo.data, folder)
    args = ["xrd", str(folder), "--anode", "Cu", "--doublet", "off", "--timestamps", str(folder / "timestamps.csv")]
    for name, (lo, hi) in demo.truth["windows"].items():
        args += ["--window", f"{name}={lo},{hi}"]
    return args


def _ndp_case(tmp_path):
    from battlab.datasets import make_ndp_profile

    demo = make_ndp_profile()
    folder = tmp_path / "in"
    folder.mkdir()
    spec = demo.data["spectrum"]
    pd.DataFrame({"channel": spec["channel"].to_numpy(), "counts": spec.to_numpy()}).to_csv(folder / "ndp.csv",
                                                                                           index=False)
    demo.data["stopping"].to_csv(folder / "stopping.csv", index=False)
    return ["depth", "ndp", str(folder / "ndp.csv"), "--stopping", str(folder / "stopping.csv"), "--offset-kev", "5",
            "--gain-kev", "3", "--fluence", "1e12", "--solid-angle-fraction", "1e-3", "--max-depth-um", "10",
            "--energy-resolution-kev", "15", "--layer", "graphite=1,8"]


@pytest.mark.parametrize("case", [_eis_case, _gitt_case, _xrd_case, _ndp_case], ids=["eis", "gitt", "xrd", "depth-ndp"])
def test_other_commands_reproduce_from_their_provenance(case, tmp_path):
    args = case(tmp_path)
    out = tmp_path / "first"
    assert main([*args, "--out", str(out)]) == 0
    argv = rerun_argv(out / "provenance.json", out_dir=tmp_path / "again")
    assert main(argv) == 0
    tables = sorted(p.name for p in out.glob("*.csv"))
    assert tables, "the command wrote result tables"
    for name in tables:
        assert (tmp_path / "again" / name).read_bytes() == (out / name).read_bytes(), name
    first = json.loads((out / "provenance.json").read_text())
    again = json.loads((tmp_path / "again" / "provenance.json").read_text())
    assert again["parameters"] == first["parameters"] and again["inputs"] == first["inputs"]
