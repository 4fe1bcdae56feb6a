"""`battlab eis`, run as a real subprocess.

Known answer: the Randles demo written to a CSV is fitted within 2 % (0.3 % noise).
"""

import json
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from battlab.datasets import eis as demos


def run(*args):
    return subprocess.run([sys.executable, "-m", "battlab.cli", *args], capture_output=True, text=True,
                          timeout=300)


@pytest.fixture(scope="module")
def randles_csv(tmp_path_factory):
    demo = demos.make_randles(noise=0.003)
    path = tmp_path_factory.mktemp("eis") / "randles.csv"
    table = demo.data.rename(columns={"frequency_Hz": "Frequency (Hz)", "z_real_ohm": "Z' (Ohm)",
                                      "z_imag_ohm": "Z'' (Ohm)"})
    table.to_csv(path, index=False)
    return path, demo.truth


def test_eis_fits_and_writes_tables_and_provenance(randles_csv, tmp_path):
    path, truth = randles_csv
    res = run("eis", str(path), "--circuit", "R0-p(R1,CPE1)-W1", "--out", str(tmp_path))
    assert res.returncode == 0, res.stderr
    assert "Lin-KK passes" in res.stdout
    fit = pd.read_csv(tmp_path / "fit_parameters.csv")
    np.testing.assert_allclose(fit["value"], list(truth["parameters"].values()), rtol=0.02)
    assert list(fit["parameter"]) == list(truth["parameters"])
    for name in ("spectrum.csv", "kk_residuals.csv", "drt.csv", "drt_peaks.csv"):
        assert (tmp_path / name).is_file()
    spec = pd.read_csv(tmp_path / "spectrum.csv")
    assert {"frequency_Hz", "z_real_ohm", "z_imag_ohm", "z_real_fit_ohm"} <= set(spec.columns)
    prov = json.loads((tmp_path / "provenance.json").read_text())
    assert prov["parameters"]["circuit"] == "R0-p(R1,CPE1)-W1"
    assert prov["parameters"]["drt_lambda_method"] == "GCV"
    assert prov["command"].startswith("battlab eis")


def test_eis_freeze_and_default_circuit(randles_csv, tmp_path):
    path, _ = randles_csv
    res = run("eis", str(path), "--freeze", "CPE1_alpha=0.85", "--out", str(tmp_path))
    assert res.returncode == 0, res.stderr
    fit = pd.read_csv(tmp_path / "fit_parameters.csv").set_index("parameter")
    # no --circuit: the DRT suggestion (one arc + Warburg) is used
    assert list(fit.index) == ["R0", "R1", "CPE1_Q", "CPE1_alpha", "W2_sigma"]
    assert fit.loc["CPE1_alpha", "value"] == 0.85 and fit.loc["CPE1_alpha", "frozen"]


@pytest.mark.parametrize("args,needle", [
    (["--circuit", "R0-p(R1"], "expected ',' or ')'"),
    (["--circuit", "R0-Z1"], "unknown element"),
    (["--freeze", "CPE1_alpha=abc"], "NAME=VALUE"),
    (["--spectrum", "5"], "the file has 1 spectra"),
])
def test_bad_input_exits_2_with_one_line(randles_csv, tmp_path, args, needle):
    path, _ = randles_csv
    res = run("eis", str(path), "--out", str(tmp_path), *args)
    assert res.returncode == 2
    assert needle in res.stderr and "Traceback" not in res.stderr
    assert len(res.stderr.strip().splitlines()) == 1


def test_eis_on_real_multi_sweep_peis(real_data, tmp_path):
    res = run("eis", str(real_data / "biologic" / "yadg_peis.issue_149.mpt"), "--circuit",
              "R0-p(R1,CPE1)", "--out", str(tmp_path))
    assert res.returncode == 0, res.stderr
    series = pd.read_csv(tmp_path / "series_fit.csv")
    assert len(series) == 4 and series["success"].all()
    assert (series["R1_ohm"] > 0).all() and series["test_time_s"].is_monotonic_increasing
