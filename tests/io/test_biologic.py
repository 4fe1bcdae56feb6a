"""BioLogic EC-Lab readers: native .mpt, galvani-backed .mpr, against real files and fixtures."""

import datetime as dt
import sys

import numpy as np
import pandas as pd
import pytest

import battlab
from battlab.errors import (
    BattlabWarning,
    CorruptFileError,
    MissingDataError,
    UnsupportedFormatError,
    UnsupportedVersionError,
)
from battlab.io import biologic
from battlab.io.biologic import read_mpr, read_mpt
from battlab.io.registry import Source, formats

CANONICAL = ("test_time_s", "voltage_V", "current_A")

# Every BioLogic file in the real folder and the technique its header (or, for .mpr,
# its settings module) names.
REAL_TECHNIQUES = {
    "cellpy_biol.mpr": "cycling",  # Modulo Bat with GEIS steps
    "impedancepy_exampleDataBioLogic.mpr": "eis",
    "impedancepy_exampleDataBioLogic.mpt": "eis",
    "yadg_cv.mpr": "cv",
    "yadg_cv.mpt": "cv",
    "yadg_gcpl.issue_149.mpr": "cycling",
    "yadg_gcpl.issue_149.mpt": "cycling",
    "yadg_gcpl.pr_182.1.mpr": "cycling",
    "yadg_gcpl.pr_182.1.mpt": "cycling",  # minimal header: inferred from the columns
    "yadg_mb.issue_223.mpr": "cycling",
    "yadg_mb.issue_223.mpt": "cycling",
    "yadg_mb.issue_95.mpr": "cycling",
    "yadg_mb.issue_95.mpt": "cycling",
    "yadg_mb.issue_95.de.mpt": "cycling",
    "yadg_ocv.mpr": "ocv",
    "yadg_ocv.mpt": "ocv",
    "yadg_peis.issue_149.mpr": "eis",
    "yadg_peis.issue_149.mpt": "eis",
}

PAIRS = ["impedancepy_exampleDataBioLogic", "yadg_cv", "yadg_gcpl.issue_149", "yadg_gcpl.pr_182.1",
         "yadg_mb.issue_223", "yadg_mb.issue_95", "yadg_ocv", "yadg_peis.issue_149"]


def _epoch(*args) -> float:
    return (dt.datetime(*args) - dt.datetime(1970, 1, 1)).total_seconds()


# --------------------------------------------------------------------------- real files


def test_every_real_biologic_file_is_listed(real_data):
    on_disk = {p.name for p in (real_data / "biologic").iterdir() if p.suffix in (".mpr", ".mpt")}
    assert on_disk == set(REAL_TECHNIQUES)


@pytest.mark.parametrize("name", sorted(REAL_TECHNIQUES))
def test_real_file_loads_with_technique(real_data, name):
    path = real_data / "biologic" / name
    df = battlab.load(path)
    meta = df.attrs["battlab"]
    assert meta["format"] == ("biologic-mpr" if name.endswith(".mpr") else "biologic-mpt")
    assert meta["technique"] == REAL_TECHNIQUES[name]
    assert meta["sha256"] == Source(data=path.read_bytes(), name=name).sha256
    assert len(df) > 0
    for col in CANONICAL:
        assert df[col].dtype == np.float64
        assert np.isfinite(df[col]).all(), col
    assert df["voltage_V"].between(-10, 10).all()
    assert df["test_time_s"].is_monotonic_increasing
    # vendor columns are kept under their EC-Lab names
    assert "time/s" in df.columns
    assert meta["column_map"]["time/s"] == "test_time_s"


@pytest.mark.parametrize("base", PAIRS)
def test_mpr_agrees_with_paired_mpt(real_data, base):
    mpr = read_mpr(real_data / "biologic" / f"{base}.mpr")
    mpt = read_mpt(real_data / "biologic" / f"{base}.mpt")
    assert len(mpr) == len(mpt)
    for col in ("test_time_s", "voltage_V", "current_A"):
        np.testing.assert_allclose(mpr[col], mpt[col], rtol=1e-5, atol=1e-6, err_msg=col)
    # .mpt text keeps ~8 significant digits of float32 currents; compare at that precision
    np.testing.assert_allclose(mpr["current_A"], mpt["current_A"], rtol=1e-5, atol=1e-12)
    if "step" in mpr and "step" in mpt:
        np.testing.assert_array_equal(mpr["step"], mpt["step"])
    if "unix_time_s" in mpr and "unix_time_s" in mpt:
        np.testing.assert_allclose(mpr["unix_time_s"], mpt["unix_time_s"], rtol=0, atol=1e-3)


def test_german_locale_export_equals_english(real_data):
    de = read_mpt(real_data / "biologic" / "yadg_mb.issue_95.de.mpt")
    en = read_mpt(real_data / "biologic" / "yadg_mb.issue_95.mpt")
    pd.testing.assert_frame_equal(de, en, check_exact=True)


def test_decimal_comma_without_de_in_the_name(real_data):
    # gcpl.issue_149.mpt was exported with decimal commas too; first row checked by eye.
    df = read_mpt(real_data / "biologic" / "yadg_gcpl.issue_149.mpt")
    assert df["test_time_s"].iloc[0] == pytest.approx(30.15299923827115, rel=1e-15)
    assert df["voltage_V"].iloc[0] == pytest.approx(3.4228721, rel=1e-12)


def test_absolute_time_from_acquisition_start(real_data):
    df = read_mpt(real_data / "biologic" / "yadg_gcpl.issue_149.mpt")
    meta = df.attrs["battlab"]
    assert meta["start_time_utc"] == "2024-01-10T11:02:29.886000"
    assert any("time zone" in n for n in meta["notes"])
    # the technique itself started at 11:03:00.039 per the header
    assert df["unix_time_s"].iloc[0] == pytest.approx(_epoch(2024, 1, 10, 11, 3, 0, 39000), abs=2e-3)


def test_concrete_values_of_real_exports(real_data):
    cv = read_mpt(real_data / "biologic" / "yadg_cv.mpt")
    assert cv["test_time_s"].iloc[0] == pytest.approx(43202.04396882385, rel=1e-15)
    assert cv["voltage_V"].iloc[0] == pytest.approx(2.4807117, rel=1e-12)
    assert cv["current_A"].iloc[0] == pytest.approx(-1.235983972946997e-09, rel=1e-12)  # <I>/mA ÷ 1000
    assert cv["<I>/mA"].iloc[0] == pytest.approx(-1.235983972946997e-06, rel=1e-12)
    ocv = read_mpt(real_data / "biologic" / "yadg_ocv.mpt")
    assert ocv["voltage_V"].iloc[0] == pytest.approx(0.25594452, rel=1e-12)
    assert (ocv["current_A"] == 0).all()
    eis = read_mpt(real_data / "biologic" / "impedancepy_exampleDataBioLogic.mpt")
    assert eis["freq/Hz"].iloc[0] == pytest.approx(1000.3201, rel=1e-9)
    assert "Cs/µF" in eis.columns  # cp1252 µ decoded


def test_minimal_header_real_file(real_data):
    df = read_mpt(real_data / "biologic" / "yadg_gcpl.pr_182.1.mpt")
    meta = df.attrs["battlab"]
    assert meta["start_time_utc"] is None and "unix_time_s" not in df
    assert df["voltage_V"].iloc[0] == pytest.approx(2.3403094, rel=1e-12)
    assert len(df) == 2533


def test_mpr_without_current_derives_it_from_dq(real_data):
    df = read_mpr(real_data / "biologic" / "yadg_gcpl.issue_149.mpr")
    assert df.attrs["battlab"]["column_map"]["dq/mA.h"] == "current_A"
    assert any("dq/mA.h" in n for n in df.attrs["battlab"]["notes"])
    assert "I/mA" not in df and "<I>/mA" not in df
    assert (df["current_A"] > 0).any() and (df["current_A"] < 0).any()


def test_mpr_without_log_module_has_only_a_date(real_data):
    df = read_mpr(real_data / "biologic" / "yadg_gcpl.pr_182.1.mpr")
    assert "unix_time_s" not in df
    assert any("2024-05-07" in n for n in df.attrs["battlab"]["notes"])


def test_mpr_column_unknown_to_galvani_is_read(real_data):
    # Column id 112 ("Energy we/W.h") is missing from galvani 0.5; battlab adds it and
    # the values match the .mpt export.
    mpr = read_mpr(real_data / "biologic" / "yadg_mb.issue_223.mpr")
    mpt = read_mpt(real_data / "biologic" / "yadg_mb.issue_223.mpt")
    np.testing.assert_allclose(mpr["Energy we/W.h"], mpt["Energy we/W.h"], rtol=1e-12)
    assert mpr["Energy we/W.h"].iloc[-1] == pytest.approx(-4.651908740225119e-06, rel=1e-12)


def test_mpr_flags_expanded_like_mpt(real_data):
    mpr = read_mpr(real_data / "biologic" / "yadg_mb.issue_95.mpr")
    mpt = read_mpt(real_data / "biologic" / "yadg_mb.issue_95.mpt")
    for flag in ("mode", "ox/red", "error", "control changes", "Ns changes", "counter inc."):
        np.testing.assert_array_equal(mpr[flag].to_numpy(int), mpt[flag].to_numpy(int), err_msg=flag)
    assert "flags" not in mpr


def test_mpr_accepts_path_bytes_and_source(real_data):
    path = real_data / "biologic" / "yadg_ocv.mpr"
    data = path.read_bytes()
    a = read_mpr(path)
    b = read_mpr(data, name="x.mpr")
    c = read_mpr(Source(data=data, name="x.mpr"))
    pd.testing.assert_frame_equal(a, b)
    pd.testing.assert_frame_equal(b, c)


def test_large_mpr_loads_quickly(real_data):
    df = read_mpr(real_data / "biologic" / "cellpy_biol.mpr")
    assert len(df) == 23561
    assert df.attrs["battlab"]["start_time_utc"] == "2017-03-15T10:22:54"


EIS_PAIRS = ["impedancepy_exampleDataBioLogic", "yadg_peis.issue_149"]


@pytest.mark.parametrize("base", EIS_PAIRS)
def test_peis_canonical_impedance_columns(real_data, base):
    mpr = read_mpr(real_data / "biologic" / f"{base}.mpr")
    mpt = read_mpt(real_data / "biologic" / f"{base}.mpt")
    for df in (mpr, mpt):
        meta = df.attrs["battlab"]
        assert meta["column_map"]["-Im(Z)/Ohm"] == "z_imag_ohm"
        assert any("z_imag_ohm = -(-Im(Z)/Ohm)" in n for n in meta["notes"])
        np.testing.assert_array_equal(df["frequency_Hz"], df["freq/Hz"])
        np.testing.assert_array_equal(df["z_real_ohm"], df["Re(Z)/Ohm"])
        np.testing.assert_array_equal(df["z_imag_ohm"], -df["-Im(Z)/Ohm"])
        # EC-Lab's |Z| and Phase(Z) agree with the converted complex impedance
        z = df["z_real_ohm"] + 1j * df["z_imag_ohm"]
        np.testing.assert_allclose(np.abs(z), df["|Z|/Ohm"], rtol=1e-5)
        np.testing.assert_allclose(np.degrees(np.angle(z)), df["Phase(Z)/deg"], rtol=1e-4, atol=1e-4)
    # the .mpt keeps ~8 significant digits of the .mpr's float32 values
    for col in ("frequency_Hz", "z_real_ohm", "z_imag_ohm"):
        np.testing.assert_allclose(mpr[col], mpt[col], rtol=1e-6, err_msg=col)


def test_peis_known_values(real_data):
    # first and last rows of yadg_peis.issue_149.mpt: "199998.14  12.753284  0.96167845 ..."
    # and "99.968163  82.633186  17.386202 ..." (EC-Lab writes -Im(Z) > 0 for a capacitive arc)
    df = read_mpt(real_data / "biologic" / "yadg_peis.issue_149.mpt")
    assert len(df) == 84
    assert df["frequency_Hz"].iloc[0] == 199998.14 and df["frequency_Hz"].iloc[-1] == 99.968163
    assert df["z_real_ohm"].iloc[0] == 12.753284 and df["z_imag_ohm"].iloc[0] == -0.96167845
    assert df["z_real_ohm"].iloc[-1] == 82.633186 and df["z_imag_ohm"].iloc[-1] == -17.386202
    small = read_mpt(real_data / "biologic" / "impedancepy_exampleDataBioLogic.mpt")
    assert len(small) == 43
    assert small["frequency_Hz"].iloc[0] == 1000.3201 and small["frequency_Hz"].iloc[-1] == 0.01689554


def test_modulo_bat_with_impedance_steps(real_data):
    # GEIS steps inside a Modulo Bat run: only rows with a frequency are impedance points,
    # and this file has |Z| and Phase(Z) but no Re(Z)/-Im(Z) columns.
    df = read_mpr(real_data / "biologic" / "cellpy_biol.mpr")
    is_eis = df["freq/Hz"] > 0
    assert int(is_eis.sum()) == 310
    assert df.loc[~is_eis, ["frequency_Hz", "z_real_ohm", "z_imag_ohm"]].isna().all().all()
    eis = df[is_eis]
    z = eis["z_real_ohm"] + 1j * eis["z_imag_ohm"]
    np.testing.assert_allclose(np.abs(z), eis["|Z|/Ohm"], rtol=1e-12)
    np.testing.assert_allclose(np.degrees(np.angle(z)), eis["Phase(Z)/deg"], rtol=1e-9)
    assert (eis["z_imag_ohm"] < 0).mean() > 0.9  # capacitive arcs
    notes = " ".join(df.attrs["battlab"]["notes"])
    assert "23251 rows were recorded outside an impedance step" in notes
    assert "Phase(Z)/deg" in notes


def test_cycling_files_have_no_impedance_columns(real_data):
    df = read_mpt(real_data / "biologic" / "yadg_gcpl.issue_149.mpt")
    assert "frequency_Hz" not in df and "z_imag_ohm" not in df


# --------------------------------------------------------------------------- fixtures


def test_minimal_header_fixture(test_data):
    df = battlab.load(test_data / "eclab_minimal_header.mpt")
    meta = df.attrs["battlab"]
    assert meta["format"] == "biologic-mpt"
    assert meta["technique"] == "cycling"  # from the Ns / half cycle columns
    assert meta["start_time_utc"] is None
    assert df["current_A"].tolist()[2:4] == [0.0005, 0.0005]  # 0.5 mA
    assert df["current_A"].iloc[-1] == -0.0005
    assert df["step"].dtype == np.int64
    assert df["test_time_s"].iloc[-1] == 2411.0


def test_full_header_fixture(test_data):
    df = read_mpt(test_data / "eclab_gcpl_full_header.mpt")
    meta = df.attrs["battlab"]
    assert meta["technique"] == "cycling"
    assert meta["technique_name"] == "Galvanostatic Cycling with Potential Limitation"
    assert meta["start_time_utc"] == "2024-03-12T10:00:00.250000"
    assert df["unix_time_s"].iloc[0] == _epoch(2024, 3, 12, 10, 0, 0, 250000)
    assert df["unix_time_s"].iloc[-1] == pytest.approx(_epoch(2024, 3, 12, 10, 0, 0, 250000) + 2411.0)
    assert "Capacitance charge/µF" in df.columns
    assert {"charge_capacity_Ah", "discharge_capacity_Ah"} <= set(df.columns)


def test_decimal_comma_fixture_matches(test_data):
    raw = (test_data / "eclab_gcpl_full_header.mpt").read_bytes()
    head, _, body = raw.partition(b"Q discharge/mA.h\t\r\n")
    comma = head + b"Q discharge/mA.h\t\r\n" + body.replace(b".", b",")
    a = read_mpt(raw, name="a.mpt")
    b = read_mpt(comma, name="b.mpt")
    pd.testing.assert_frame_equal(a, b, check_exact=True)


@pytest.mark.parametrize("technique_line, expected", [
    ("Galvanostatic Cycling with Potential Limitation", "cycling"),
    ("Modulo Bat", "cycling"),
    ("Cyclic Voltammetry", "cv"),
    ("Potentio Electrochemical Impedance Spectroscopy", "eis"),
    ("Galvano Electrochemical Impedance Spectroscopy", "eis"),
    ("Open Circuit Voltage", "ocv"),
    ("Galvanostatic Intermittent Titration Technique", "gitt"),
    ("Potentiostatic Intermittent Titration Technique", "pitt"),
    ("GITT", "gitt"),
    ("Something New", "cycling"),  # unknown name: falls back to the columns (Ns, dq)
])
def test_technique_from_header_line(test_data, technique_line, expected):
    raw = (test_data / "eclab_gcpl_full_header.mpt").read_bytes()
    raw = raw.replace(b"Galvanostatic Cycling with Potential Limitation", technique_line.encode())
    assert read_mpt(raw, name="x.mpt").attrs["battlab"]["technique"] == expected


def test_microamp_and_amp_current_columns(test_data):
    raw = (test_data / "eclab_minimal_header.mpt").read_bytes()
    ua = read_mpt(raw.replace(b"<I>/mA", b"<I>/\xb5A"), name="x.mpt")  # cp1252 µ
    a = read_mpt(raw.replace(b"<I>/mA", b"I/A"), name="x.mpt")
    base = read_mpt(raw, name="x.mpt")
    np.testing.assert_allclose(ua["current_A"], base["current_A"] * 1e-3)
    np.testing.assert_allclose(a["current_A"], base["current_A"] * 1e3)


# --------------------------------------------------------------------------- errors


def test_not_an_mpt(test_data):
    with pytest.raises(UnsupportedFormatError, match="EC-Lab"):
        read_mpt(b"time,voltage\n1,2\n", name="x.mpt")


def test_damaged_header_count(test_data):
    raw = (test_data / "eclab_minimal_header.mpt").read_bytes()
    with pytest.raises(CorruptFileError, match="Nb header lines"):
        read_mpt(raw.replace(b"Nb header lines", b"Nb heather lines"), name="x.mpt")
    with pytest.raises(CorruptFileError, match="truncated"):
        read_mpt(raw.replace(b"Nb header lines : 3", b"Nb header lines : 90"), name="x.mpt")
    with pytest.raises(CorruptFileError, match="implausible"):
        read_mpt(raw.replace(b"Nb header lines : 3", b"Nb header lines : 99999999"), name="x.mpt")


def test_header_without_data_rows(test_data):
    raw = (test_data / "eclab_minimal_header.mpt").read_bytes()
    header_only = b"\r\n".join(raw.split(b"\r\n")[:3]) + b"\r\n"
    with pytest.raises(MissingDataError, match="no data rows"):
        read_mpt(header_only, name="x.mpt")


def test_truncated_last_row_is_dropped_with_warning(test_data):
    raw = (test_data / "eclab_minimal_header.mpt").read_bytes()
    cut = raw[: raw.rstrip().rfind(b"\t") - 3]
    with pytest.warns(BattlabWarning, match="incomplete"):
        df = read_mpt(cut, name="x.mpt")
    assert len(df) == 7


def test_text_in_data_block_is_corrupt(test_data):
    raw = (test_data / "eclab_minimal_header.mpt").read_bytes()
    with pytest.raises(CorruptFileError, match="not a table of numbers"):
        read_mpt(raw.replace(b"3.1001000E+00", b"3.1oo1000E+00"), name="x.mpt")


def test_settings_file_is_not_an_mpr():
    with pytest.raises(UnsupportedFormatError, match=r"\.mps"):
        read_mpr(b"EC-LAB SETTING FILE\r\n\r\nNumber of linked techniques : 1\r\n", name="run.mpr")


def test_truncated_mpr_is_corrupt(real_data):
    data = (real_data / "biologic" / "yadg_mb.issue_95.mpr").read_bytes()
    with pytest.raises(CorruptFileError, match=r"\.mpt"):
        read_mpr(data[: len(data) // 2], name="cut.mpr")


def test_galvani_unknown_column_becomes_unsupported_version(monkeypatch):
    from galvani import BioLogic as gb

    def boom(_fileobj):
        raise NotImplementedError("Column ID 999 after column time/s is unknown")

    monkeypatch.setattr(gb, "MPRfile", boom)
    with pytest.raises(UnsupportedVersionError, match=r"999.*\.mpt"):
        read_mpr(biologic.MPR_MAGIC + b"\x00" * 64, name="new.mpr")


def test_galvani_unknown_module_version(monkeypatch):
    from galvani import BioLogic as gb

    def boom(_fileobj):
        raise ValueError("Unrecognised version for data module: 9")

    monkeypatch.setattr(gb, "MPRfile", boom)
    with pytest.raises(UnsupportedVersionError, match="Export the file as .mpt"):
        read_mpr(biologic.MPR_MAGIC + b"\x00" * 64, name="new.mpr")


def test_mpr_without_galvani_says_what_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "galvani", None)
    with pytest.raises(UnsupportedFormatError, match="galvani"):
        read_mpr(biologic.MPR_MAGIC + b"\x00" * 64, name="x.mpr")


def test_registered_formats():
    by_name = {f.name: f for f in formats()}
    assert by_name["biologic-mpr"].requires == ("galvani",)
    assert ".mpt" in by_name["biologic-mpt"].extensions
    assert by_name["biologic-mpt"].sniff(b"EC-Lab ASCII FILE\r\nNb header lines : 3", "x") > 0.9
    assert by_name["biologic-mpr"].sniff(biologic.MPR_MAGIC + b"\x1a", "x") > 0.9
