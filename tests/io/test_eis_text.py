"""Impedance text readers: real CSV/Autolab/CHI/ZPlot/VersaStudio exports, hand-made tables, bad input."""

import numpy as np
import pytest

import battlab
from battlab.errors import BattlabWarning, CorruptFileError, MissingDataError, UnsupportedFormatError
from battlab.io import eis_text
from battlab.io.eis_text import (
    imag_sign_from_data,
    read_chi_txt,
    read_eis_csv,
    read_versastudio_par,
    read_zplot,
    read_zview_txt,
)
from battlab.io.registry import Source, detect, formats

EIS = ("frequency_Hz", "z_real_ohm", "z_imag_ohm")

# real file -> (format, rows, first (f, Z', Im Z), last (f, Z', Im Z)), values read off the files
REAL = {
    "impedancepy_exampleData.csv": (
        "eis-csv", 66, (3.1623e-3, 4.949989776405060160e-02, -2.043869854441892481e-02),
        (1.0e4, 1.577148266048593e-02, 1.015747456493823649e-02)),
    "impedancepy_exampleDataAutolab.txt": (
        "zview-txt", 41, (10000.0, 0.013785863964281, 0.007191946305823),
        (0.1, 0.0345697771923854, -0.00390292888845954)),
    "impedancepy_exampleDataCHInstruments.txt": (
        "chi-txt", 73, (9.961e4, 98.91, -2.748), (0.1, 5685.0, -15860.0)),
    "impedancepy_exampleDataVersaStudio.par": (
        "versastudio-par", 61, (100000.0, 55.31571, 4.575431), (0.02154435, 1516.313, -122.8279)),
    "impedancepy_exampleDataZPlot.z": (
        "zplot-z", 21, (3.0e5, 147.77, -11.335), (3000.0, 613.68, -137.13)),
}


def _randles(f):
    # the hand-made fixtures: R0 = 10 ohm in series with (R1 = 50 ohm || C1 = 10 uF)
    return 10 + 50 / (1 + 1j * 2 * np.pi * np.asarray(f) * 50 * 1e-5)


# --------------------------------------------------------------------------- real files


def test_every_real_eis_text_file_is_listed(real_data):
    assert {p.name for p in (real_data / "eis-text").iterdir()} == set(REAL)


@pytest.mark.parametrize("name", sorted(REAL))
def test_real_file_loads(real_data, name):
    fmt, rows, first, last = REAL[name]
    path = real_data / "eis-text" / name
    df = battlab.load(path)
    meta = df.attrs["battlab"]
    assert meta["format"] == fmt
    assert detect(path).name == fmt
    assert meta["technique"] == "eis"
    assert meta["sha256"] == Source(data=path.read_bytes(), name=name).sha256
    assert list(df.columns[:3]) == list(EIS)
    assert len(df) == rows
    for col in EIS:
        assert df[col].dtype == np.float64 and np.isfinite(df[col]).all()
    assert tuple(df[list(EIS)].iloc[0]) == pytest.approx(first, rel=1e-12)
    assert tuple(df[list(EIS)].iloc[-1]) == pytest.approx(last, rel=1e-12)
    assert (df["frequency_Hz"] > 0).all() and df["frequency_Hz"].is_monotonic_decreasing != \
        df["frequency_Hz"].is_monotonic_increasing
    # every file here stores Im(Z) itself: capacitive points are negative
    assert meta["z_imag_stored_as"] == "Im(Z)"
    assert (df["z_imag_ohm"] < 0).sum() > len(df) / 2
    assert any("Im(Z)" in n for n in meta["notes"])


def test_headerless_csv_convention_detected_both_ways(real_data):
    raw = (real_data / "eis-text" / "impedancepy_exampleData.csv").read_bytes()
    as_is = read_eis_csv(raw, name="a.csv")
    assert "holds Im(Z) (57 of 66 non-zero points are negative" in as_is.attrs["battlab"]["notes"][0]
    # the same spectrum written with the third column negated (-Im(Z), EC-Lab style)
    lines = raw.decode().strip().split("\n")
    flipped = "\n".join(f"{a},{b},{-float(c)!r}" for a, b, c in (ln.split(",") for ln in lines)) + "\n"
    neg = read_eis_csv(flipped.encode(), name="b.csv")
    assert neg.attrs["battlab"]["z_imag_stored_as"] == "-Im(Z)"
    assert "holds -Im(Z)" in neg.attrs["battlab"]["notes"][0]
    np.testing.assert_array_equal(neg["z_imag_ohm"], as_is["z_imag_ohm"])
    assert list(neg.columns) == list(EIS)  # nothing else in a headerless table


def test_chi_columns_agree_with_each_other(real_data):
    df = read_chi_txt(real_data / "eis-text" / "impedancepy_exampleDataCHInstruments.txt")
    meta = df.attrs["battlab"]
    assert meta["start_time_utc"] == "2020-02-20T15:55:08" and meta["instrument"] == "CHI660E"
    z = df["z_real_ohm"] + 1j * df["z_imag_ohm"]
    # CHI prints 4 significant digits; |Z| and phase must match Z', Z" at that precision
    np.testing.assert_allclose(np.abs(z), df["Z/ohm"], rtol=2e-3)
    np.testing.assert_allclose(np.degrees(np.angle(z)), df["Phase/deg"], atol=0.06)


def test_versastudio_time_potential_current(real_data):
    df = read_versastudio_par(real_data / "eis-text" / "impedancepy_exampleDataVersaStudio.par")
    meta = df.attrs["battlab"]
    assert meta["start_time_utc"] == "2018-07-19T09:40:30"
    assert df["test_time_s"].iloc[0] == 1.812 and df["test_time_s"].iloc[-1] == 1575.401
    assert df["current_A"].iloc[0] == -3.282372e-06 and (df["voltage_V"] == 0).all()
    assert df["Point #"].tolist() == list(range(61))
    assert "AC Amplitude" in df.columns and "0" not in df.columns  # Definition's trailing placeholder dropped


def test_zplot_stopped_sweep_and_clock(real_data):
    df = read_zplot(real_data / "eis-text" / "impedancepy_exampleDataZPlot.z")
    meta = df.attrs["battlab"]
    assert meta["start_time_utc"] == "2018-10-12T11:04:34"
    assert any("declares 56 points but 21 were recorded" in n for n in meta["notes"])
    assert df["test_time_s"].iloc[0] == 2.67 and df["Time(Sec)"].iloc[-1] == 19.98


def test_autolab_columns(real_data):
    df = read_zview_txt(real_data / "eis-text" / "impedancepy_exampleDataAutolab.txt")
    assert list(df.columns[4:]) == ["Freq (Hz)", "Ampl", "Bias", "Time(Sec)", "Z'(a)", "Z''(b)", "GD", "Err", "Range"]
    assert df["Freq (Hz)"].iloc[7] == 1333.5 and df["z_imag_ohm"].iloc[7] == -0.000865948762311971


# --------------------------------------------------------------------------- hand-made tables


def test_named_minus_zimag_column(test_data):
    df = battlab.load(test_data / "eis_named_minus_zimag.csv")
    meta = df.attrs["battlab"]
    assert meta["format"] == "eis-csv" and meta["z_imag_stored_as"] == "-Im(Z)"
    assert len(df) == 13 and df["frequency_Hz"].iloc[0] == 1e5 and df["frequency_Hz"].iloc[-1] == 0.1
    z = _randles(df["frequency_Hz"])
    # 6 significant digits in the file
    np.testing.assert_allclose(df["z_real_ohm"], z.real, rtol=1e-5)
    np.testing.assert_allclose(df["z_imag_ohm"], z.imag, rtol=1e-5, atol=1e-6)
    assert (df["z_imag_ohm"] < 0).all()
    assert df["Note"].tolist() == ["ok"] * 13
    assert meta["column_map"] == {"Frequency (Hz)": "frequency_Hz", "Z' (Ohm)": "z_real_ohm",
                                  "-Z'' (Ohm)": "z_imag_ohm"}


def test_semicolon_decimal_comma_detects_minus_imag(test_data):
    df = battlab.load(test_data / "eis_semicolon_comma.csv")
    meta = df.attrs["battlab"]
    assert meta["z_imag_stored_as"] == "-Im(Z)"
    assert "0 of 13 non-zero points are negative" in meta["notes"][0]
    z = _randles(df["frequency_Hz"])
    np.testing.assert_allclose(df["z_real_ohm"], z.real, rtol=1e-5)
    np.testing.assert_allclose(df["z_imag_ohm"], z.imag, rtol=1e-5, atol=1e-6)
    assert df["frequency_Hz"].iloc[1] == 31622.8


def test_modulus_and_phase(test_data):
    df = battlab.load(test_data / "eis_modulus_phase.tsv")
    z = _randles(df["frequency_Hz"])
    np.testing.assert_allclose(df["z_real_ohm"], z.real, rtol=1e-5)
    np.testing.assert_allclose(df["z_imag_ohm"], z.imag, rtol=1e-5, atol=1e-6)
    assert any("computed from '|Z|/Ohm' and 'Phase/deg'" in n for n in df.attrs["battlab"]["notes"])


def test_minus_phase_and_kilohm_and_khz_units():
    f = np.array([10.0, 1.0, 0.1, 0.01, 0.001])  # kHz
    z = _randles(f * 1e3)
    text = "f (kHz),|Z| (kOhm),-Phase (deg)\n" + "".join(
        f"{float(a)!r},{float(abs(b)) / 1e3!r},{float(-np.degrees(np.angle(b)))!r}\n" for a, b in zip(f, z))
    df = read_eis_csv(text.encode(), name="x.csv")
    np.testing.assert_allclose(df["frequency_Hz"], f * 1e3)
    np.testing.assert_allclose(df["z_real_ohm"] + 1j * df["z_imag_ohm"], z, rtol=1e-12)


def test_battlab_export_reads_back(tmp_path):
    # The spectrum table battlab's EIS app and CLI write (canonical names, extra fit columns).
    from battlab.echem.eis import impedance_table

    f = np.logspace(4, -2, 25)
    z = _randles(f)
    table = impedance_table(f, z)
    table["z_real_fit_ohm"] = z.real
    path = tmp_path / "spectrum.csv"
    table.to_csv(path, index=False)
    df = battlab.load(path)
    assert list(df.columns[:3]) == ["frequency_Hz", "z_real_ohm", "z_imag_ohm"]
    assert list(df.columns).count("z_imag_ohm") == 1
    np.testing.assert_allclose(df["z_real_ohm"] + 1j * df["z_imag_ohm"], z, rtol=1e-12)


def test_units_row_under_the_header():
    text = b"Frequency,Z',-Z''\nkHz,kOhm,kOhm\n1,10,1\n0.1,12,5\n0.01,20,9\n"
    df = read_eis_csv(text, name="u.csv")
    assert df["frequency_Hz"].tolist() == [1000.0, 100.0, 10.0]
    assert df["z_real_ohm"].tolist() == [10000.0, 12000.0, 20000.0]
    assert df["z_imag_ohm"].tolist() == [-1000.0, -5000.0, -9000.0]
    assert "Line 2 (kHz, kOhm, kOhm) was read as the units row." in df.attrs["battlab"]["notes"]


@pytest.mark.parametrize("name, kind", [
    ("Z'", "real"), ("Zreal", "real"), ("Re(Z)/Ohm", "real"), ("Z_real", "real"),
    ("Z''", "imag"), ('Z"/ohm', "imag"), ("Im(Z) (Ohm)", "imag"), ("-Zimag", "imag"), ("-Im(Z)/Ohm", "imag"),
    ("Freq/Hz", "frequency"), ("Frequency (Hz)", "frequency"), ("f", "frequency"),
    ("|Z|/Ohm", "modulus"), ("Zmod", "modulus"), ("Phase(Z)/deg", "phase"), ("Zphz", "phase"),
])
def test_column_names(name, kind):
    assert eis_text._classify_eis(name)[0] == kind


def test_sign_rule():
    assert imag_sign_from_data([1.0, -2.0, -3.0, -4.0])[0] == 1
    assert imag_sign_from_data([-1.0, 2.0, 3.0, 4.0])[0] == -1
    sign, reason = imag_sign_from_data([0.0, 0.0])
    assert sign == 1 and "could not be detected" in reason


# --------------------------------------------------------------------------- bad input


def test_ragged_row(test_data):
    with pytest.raises(CorruptFileError, match="line 7: 2 values where the table has 4 columns"):
        battlab.load(test_data / "eis_bad_ragged.csv")


def test_non_numeric_cell(test_data):
    with pytest.raises(CorruptFileError, match=r"line 9: 'n/a' in column \"Z' \(Ohm\)\" is not a number"):
        battlab.load(test_data / "eis_bad_text.csv")


def test_truncated_last_row_dropped(test_data):
    raw = (test_data / "eis_named_minus_zimag.csv").read_bytes()
    cut = raw[: raw.rstrip().rfind(b",") - 2]
    with pytest.warns(BattlabWarning, match="line 15.*incomplete"):
        df = read_eis_csv(cut, name="cut.csv")
    assert len(df) == 12


def test_non_positive_frequency():
    text = "freq,Z',Z''\n100,1,-1\n0,2,-2\n"
    with pytest.raises(CorruptFileError, match="line 3: frequency 0.0 is not a positive number"):
        read_eis_csv(text.encode(), name="x.csv")


def test_header_without_rows_and_no_columns():
    with pytest.raises(MissingDataError, match="no data rows"):
        read_eis_csv(b"freq,Z',Z''\n", name="x.csv")
    with pytest.raises(MissingDataError, match="no frequency and impedance columns"):
        read_eis_csv(b"a,b,c\n1,2,3\n", name="x.csv")


def test_vendor_files_truncated_or_wrong(real_data):
    chi = (real_data / "eis-text" / "impedancepy_exampleDataCHInstruments.txt").read_bytes()
    with pytest.raises(UnsupportedFormatError, match="'Cyclic Voltammetry', not 'A.C. Impedance'"):
        read_chi_txt(chi.replace(b"A.C. Impedance", b"Cyclic Voltammetry"), name="x.txt")
    with pytest.raises(MissingDataError, match="no data rows"):
        read_chi_txt(chi[: chi.index(b"9.961e+4")], name="x.txt")
    z = (real_data / "eis-text" / "impedancepy_exampleDataZPlot.z").read_bytes()
    with pytest.raises(CorruptFileError, match="End Comments"):
        read_zplot(z[:2000], name="x.z")
    par = (real_data / "eis-text" / "impedancepy_exampleDataVersaStudio.par").read_bytes()
    dc = par.replace(b"Frequency(Hz)", b"Step(V)")
    with pytest.raises(MissingDataError, match="no Frequency\\(Hz\\) column.*DC technique"):
        read_versastudio_par(dc, name="x.par")
    bad = par.replace(b"0,3,0,-3.282372E-06,3.008", b"0,3,0,-3.282372E-06", 1)
    with pytest.raises(CorruptFileError, match=r"line 120: 23 values where the table has 24 columns"):
        read_versastudio_par(bad, name="x.par")
    auto = (real_data / "eis-text" / "impedancepy_exampleDataAutolab.txt").read_bytes()
    with pytest.raises(CorruptFileError, match="line 14: 'x' in column"):
        read_zview_txt(auto.replace(b"5623.4,", b"x,"), name="x.txt")


# --------------------------------------------------------------------------- detection


def test_cycler_tables_stay_with_the_cycler_reader(test_data, real_data):
    for path in [*(test_data.glob("cycler_*")), real_data / "pec" / "cellpy_pec_Test25209.csv"]:
        assert detect(path).name == "cycler-csv", path.name
    # a headerless table that is not a log-spaced frequency sweep is not impedance
    assert detect(b"1,2,3\n4,5,6\n", name="n.csv").name == "cycler-csv"
    lin = "".join(f"{t},{3 + t / 100},0.1\n" for t in range(1, 40)).encode()
    assert detect(lin, name="t.csv").name == "cycler-csv"


def test_registered_formats():
    by_name = {f.name: f for f in formats()}
    for name in ("eis-csv", "zview-txt", "zplot-z", "chi-txt", "versastudio-par"):
        assert by_name[name].kind == "echem"
    assert by_name["eis-csv"].sniff(b"Frequency (Hz),Z' (Ohm),Z'' (Ohm)\n1,2,3\n", "x.csv") == 0.5
    assert by_name["cycler-csv"].sniff(b"Frequency (Hz),Z' (Ohm),Z'' (Ohm)\n1,2,3\n", "x.csv") < 0.5
    assert by_name["zplot-z"].sniff(b"ZPLOT2 ASCII\r\n", "x") > 0.9
    assert by_name["versastudio-par"].sniff(b"<Application>\r\nName=VersaStudio\r\n", "x") > 0.9
