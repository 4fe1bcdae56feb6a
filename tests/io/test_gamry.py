"""Gamry Framework .DTA reader: the real EIS file, hand-made CV / chronopotentiometry files, bad input."""

import re

import numpy as np
import pandas as pd
import pytest

import battlab
from battlab.errors import BattlabWarning, CorruptFileError, MissingDataError, UnsupportedFormatError
from battlab.io.gamry import read_dta
from battlab.io.registry import Source, detect, formats

REAL = "gamry/impedancepy_exampleDataGamry.DTA"


# --------------------------------------------------------------------------- real file


def test_real_eis_file(real_data):
    path = real_data / REAL
    df = battlab.load(path)
    meta = df.attrs["battlab"]
    assert meta["format"] == "gamry-dta"
    assert meta["technique"] == "eis" and meta["tag"] == "EISPOT"
    assert meta["technique_name"] == "Potentiostatic EIS"
    assert meta["sha256"] == Source(data=path.read_bytes(), name="x").sha256
    assert meta["start_time_utc"] == "2018-04-23T16:43:15"
    assert meta["area_cm2"] == 1.0
    assert meta["header"]["VDC"] == -0.05 and meta["header"]["FREQINIT"] == 2.0e5
    assert meta["tables"] == {"OCVCURVE": 387, "ZCURVE": 72}
    assert len(df) == 72  # ZCURVE points 0..71
    # first and last ZCURVE rows, read off the file:
    # "0  1  200015.6  825.8584  -1367.239 ..."   "71  861  0.0158898  17007.49  -6635.557 ..."
    assert df["frequency_Hz"].iloc[0] == 200015.6
    assert df["z_real_ohm"].iloc[0] == 825.8584
    assert df["z_imag_ohm"].iloc[0] == -1367.239  # Gamry's Zimag is Im(Z): copied unchanged
    assert df["frequency_Hz"].iloc[-1] == 0.0158898
    assert df["z_real_ohm"].iloc[-1] == 17007.49
    assert df["z_imag_ohm"].iloc[-1] == -6635.557
    assert df["test_time_s"].iloc[-1] == 861.0
    assert df["voltage_V"].iloc[0] == -0.3413299 and df["current_A"].iloc[0] == -5.89286e-06
    assert df["frequency_Hz"].is_monotonic_decreasing
    # capacitive spectrum: every point has Im(Z) < 0; Zmod/Zphz agree with Zreal/Zimag
    assert (df["z_imag_ohm"] < 0).all()
    z = df["z_real_ohm"] + 1j * df["z_imag_ohm"]
    np.testing.assert_allclose(np.abs(z), df["Zmod"], rtol=1e-5)
    np.testing.assert_allclose(np.degrees(np.angle(z)), df["Zphz"], rtol=1e-4)
    assert {"Pt", "Freq", "Zreal", "Zimag", "Zsig", "Idc", "Vdc", "IERange"} <= set(df.columns)
    assert meta["column_map"]["Zimag"] == "z_imag_ohm"
    assert any("Im(Z) with its true sign" in n for n in meta["notes"])


def test_real_file_ocv_table_on_request(real_data):
    df = read_dta(real_data / REAL, table="OCVCURVE")
    assert len(df) == 387
    # "0  0.258333  -3.46699E-001 ..." and the last row "386  99.975  -2.91980E-001"
    assert df["test_time_s"].iloc[0] == 0.258333 and df["voltage_V"].iloc[0] == -0.346699
    assert df["test_time_s"].iloc[-1] == 99.975 and df["voltage_V"].iloc[-1] == -0.29198
    assert (df["current_A"] == 0).all()
    assert df["Over"].iloc[0] == "..........a"  # text columns stay text
    with pytest.raises(MissingDataError, match="no table 'CURVE9'.*OCVCURVE, ZCURVE"):
        read_dta(real_data / REAL, table="CURVE9")


def test_real_file_truncated_mid_row(real_data):
    data = (real_data / REAL).read_bytes()
    cut = data[: data.rindex(b"\t-2.2") + 4]  # inside the last row's Idc value
    with pytest.warns(BattlabWarning, match="incomplete"):
        df = read_dta(cut, name="cut.DTA")
    assert len(df) == 71 and df["frequency_Hz"].iloc[-1] == 0.0200064


def test_real_file_cut_inside_table_header(real_data):
    data = (real_data / REAL).read_bytes()
    cut = data[: data.index(b"ZCURVE\tTABLE") + 20]
    with pytest.raises(CorruptFileError, match=r"line 446: table ZCURVE has no column-name and unit lines"):
        read_dta(cut, name="cut.DTA")


def test_real_file_cut_before_the_sweep(real_data):
    data = (real_data / REAL).read_bytes()
    cut = data[: data.index(b"ZCURVE\tTABLE")]
    with pytest.raises(MissingDataError, match=r"ends at line 445 without a CURVE or ZCURVE.*only OCVCURVE"):
        read_dta(cut, name="cut.DTA")


# --------------------------------------------------------------------------- hand-made files


def test_cv_with_two_curves(test_data):
    df = battlab.load(test_data / "gamry_cv_two_cycles.DTA")
    meta = df.attrs["battlab"]
    assert meta["format"] == "gamry-dta" and meta["technique"] == "cv"
    assert meta["header"]["SCANRATE"] == 100.0 and meta["header"]["CYCLES"] == 2.0
    assert meta["header"]["NOTES"] == "hand-made battlab test fixture"
    assert meta["start_time_utc"] == "2024-03-12T10:00:00"
    assert meta["area_cm2"] == 0.0707
    assert len(df) == 20
    assert df["cycle"].tolist() == [1] * 10 + [2] * 10
    assert df["cycle"].dtype == np.int64 and df["Pt"].dtype == np.int64
    assert df["test_time_s"].tolist() == [float(t) for t in range(20)]
    assert df["voltage_V"].tolist()[:6] == [0.0, 0.1, 0.2, 0.3, 0.4, 0.5]
    assert df["current_A"].iloc[3] == 9.6e-6 and df["current_A"].iloc[13] == 9.3e-6
    assert df["current_A"].iloc[-1] == -3.9e-6
    assert list(df.columns[:4]) == ["test_time_s", "voltage_V", "current_A", "cycle"]
    assert {"Pt", "T", "Vf", "Im", "Vu", "Sig", "Ach", "IERange", "Over"} <= set(df.columns)
    assert meta["column_map"] == {"T": "test_time_s", "Vf": "voltage_V", "Im": "current_A"}


def test_cv_curves_that_restart_their_clock(test_data):
    raw = (test_data / "gamry_cv_two_cycles.DTA").read_text()
    head, _, curve2 = raw.partition("CURVE2\tTABLE")
    # second curve's T written from 0 again
    curve2 = re.sub(r"\n\t(\d+)\t(\d+)\t", lambda m: f"\n\t{m.group(1)}\t{int(m.group(2)) - 10}\t", curve2)
    df = read_dta((head + "CURVE2\tTABLE" + curve2).encode(), name="x.DTA")
    assert df["T"].tolist()[10] == 0.0
    assert df["test_time_s"].tolist() == [float(t) for t in range(20)]
    assert any("restart their time" in n for n in df.attrs["battlab"]["notes"])


def test_chronopotentiometry(test_data):
    df = battlab.load(test_data / "gamry_chronop.DTA")
    meta = df.attrs["battlab"]
    assert meta["technique"] == "cp" and meta["tag"] == "CHRONOP"
    assert len(df) == 10 and "cycle" not in df
    assert (df["current_A"] == 1e-3).all()
    assert df["voltage_V"].iloc[0] == 3.4102 and df["voltage_V"].iloc[-1] == 3.579
    assert df["test_time_s"].iloc[-1] == 9.0
    assert meta["header"]["ISTEP1"] == 1e-3
    assert meta["header"]["EXPERIMENTABORTED"] == "F"


def test_decimal_comma_gives_the_same_numbers(test_data):
    raw = (test_data / "gamry_chronop.DTA").read_bytes()
    comma = re.sub(rb"(\d)\.(\d)", rb"\1,\2", raw)
    assert comma != raw
    a = read_dta(raw, name="a.DTA")
    b = read_dta(comma, name="b.DTA")
    cols = ["test_time_s", "voltage_V", "current_A", "T", "Vf", "Im", "Sig"]
    pd.testing.assert_frame_equal(a[cols], b[cols], check_exact=True)
    assert b.attrs["battlab"]["header"]["FRAMEWORKVERSION"] == 7.07


def test_crlf_line_ends_give_the_same_table(test_data):
    raw = (test_data / "gamry_cv_two_cycles.DTA").read_bytes()
    a = read_dta(raw, name="a.DTA")
    b = read_dta(raw.replace(b"\n", b"\r\n"), name="b.DTA")
    pd.testing.assert_frame_equal(a, b)


@pytest.mark.parametrize("tag, expected", [
    ("CV", "cv"), ("CHRONOP", "cp"), ("CHRONOA", "ca"), ("EISPOT", "eis"), ("EISGALV", "eis"),
    ("CORPOT", "ocv"), ("LSV", "lsv"), ("PWR800_CHARGE", "cycling"), ("SOMETHING_NEW", None),
])
def test_technique_from_tag(test_data, tag, expected):
    raw = (test_data / "gamry_chronop.DTA").read_bytes().replace(b"TAG\tCHRONOP", b"TAG\t" + tag.encode())
    assert read_dta(raw, name="x.DTA").attrs["battlab"]["technique"] == expected


def test_open_circuit_curve_without_current(test_data):
    raw = (test_data / "gamry_bad_missing_curve.DTA").read_bytes()
    raw = raw.replace(b"TAG\tCV", b"TAG\tCORPOT").replace(b"OCVCURVE\tTABLE", b"CURVE\tTABLE")
    df = read_dta(raw, name="ocp.DTA")
    assert df.attrs["battlab"]["technique"] == "ocv"
    assert df["voltage_V"].tolist() == [0.0123, 0.0124] and (df["current_A"] == 0).all()


# --------------------------------------------------------------------------- bad input


def test_ragged_row_names_its_line(test_data):
    with pytest.raises(CorruptFileError, match=r"line 45: 5 values where the table has 9 columns.*Copy the original"):
        battlab.load(test_data / "gamry_bad_ragged.DTA")


def test_missing_curve_table(test_data):
    with pytest.raises(MissingDataError, match=r"ends at line 31 without a CURVE.*only OCVCURVE.*aborted.*Re-run"):
        battlab.load(test_data / "gamry_bad_missing_curve.DTA")


def test_text_in_a_number_column(test_data):
    raw = (test_data / "gamry_chronop.DTA").read_bytes().replace(b"3.55710E+000\t1", b"3.55x10E+000\t1", 1)
    with pytest.raises(CorruptFileError, match=r"line 31: '3.55x10E\+000' in column 'Vf' is not a number"):
        read_dta(raw, name="x.DTA")


def test_table_without_rows(test_data):
    raw = (test_data / "gamry_chronop.DTA").read_text()
    cut = raw[: raw.index("\t0\t0\t")]
    with pytest.raises(MissingDataError, match="table CURVE has column lines but no data points"), \
            pytest.warns(BattlabWarning, match="declares 10 points but holds 0"):
        read_dta(cut.encode(), name="x.DTA")


def test_declared_count_larger_than_rows_warns(test_data):
    raw = (test_data / "gamry_chronop.DTA").read_bytes().replace(b"CURVE\tTABLE\t10", b"CURVE\tTABLE\t50")
    with pytest.warns(BattlabWarning, match="declares 50 points but holds 10"):
        assert len(read_dta(raw, name="x.DTA")) == 10


def test_not_a_dta():
    with pytest.raises(UnsupportedFormatError, match="EXPLAIN"):
        read_dta(b"TAG\tCV\n", name="x.DTA")
    with pytest.raises(UnsupportedFormatError, match="binary"):
        read_dta(b"EXPLAIN\x00\x01", name="x.DTA")


def test_sniff_and_registration(test_data):
    fmt = {f.name: f for f in formats()}["gamry-dta"]
    assert ".dta" in fmt.extensions
    assert fmt.sniff(b"EXPLAIN\r\nTAG\tCV\r\n", "x.bin") > 0.9
    assert fmt.sniff(b"EXPLAIN\nTITLE\tLABEL\tx\n", "x.DTA") > 0.9
    assert fmt.sniff(b"time,voltage\n", "x.DTA") == 0
    data = (test_data / "gamry_cv_two_cycles.DTA").read_bytes()
    assert detect(data, name="upload").name == "gamry-dta"
