"""Generic cycler tables (CSV/TSV/TXT/XLSX) and the refusal of unreadable vendor binaries."""

import datetime as dt
import io
import zipfile

import numpy as np
import pandas as pd
import pytest

import battlab
from battlab.errors import (
    InvalidParameterError,
    MissingDataError,
    TooLargeError,
    UnsupportedFormatError,
)
from battlab.io import tabular
from battlab.io.registry import detect, formats
from battlab.io.tabular import read_cycler_csv, read_cycler_xlsx


def _epoch(*args) -> float:
    return (dt.datetime(*args) - dt.datetime(1970, 1, 1)).total_seconds()


# --------------------------------------------------------------------------- real exports


def test_neware_regular_export(real_data):
    df = battlab.load(real_data / "neware" / "cellpy_nw_regular_export_ife_example.csv")
    meta = df.attrs["battlab"]
    assert meta["format"] == "cycler-csv"
    assert meta["technique"] == "cycling"
    assert len(df) == 9295  # record rows only (DataPoint 1..9295)
    assert df["DataPoint"].tolist()[:3] == [1, 2, 3] and df["DataPoint"].iloc[-1] == 9295
    # first record: ",,1,00:00:00,00:00:00,0.00000,4.3185,...,2026-03-06 12:37:25,...,26.61"
    assert df["voltage_V"].iloc[0] == 4.3185
    assert df["current_A"].iloc[0] == 0.0
    assert df["temperature_degC"].iloc[0] == 26.61
    assert df["unix_time_s"].iloc[0] == _epoch(2026, 3, 6, 12, 37, 25)
    assert meta["start_time_utc"] == "2026-03-06T12:37:25"
    # "Total Time" (not the step "Time") is the test time; the last is 27:55:43
    assert df["test_time_s"].iloc[-1] == 27 * 3600 + 55 * 60 + 43
    assert df["test_time_s"].is_monotonic_increasing
    assert df["voltage_V"].between(3.8, 4.8).all()
    # signed current: +0.5 A charge, -0.5 A discharge
    assert df["current_A"].max() == 0.5 and df["current_A"].min() == -0.5
    # cycle and step carried down from the nested rows; first CC Chg record is DataPoint 12
    assert df["cycle"].min() == 1 and df["cycle"].max() == 20
    row = df[df["DataPoint"] == 12].iloc[0]
    assert (row["step"], row["Step Type"], row["current_A"]) == (2, "CC Chg", 0.5)
    assert df.loc[df["Step Type"] == "CC DChg", "current_A"].max() < 0
    assert df.loc[df["Step Type"] == "CC Chg", "current_A"].min() > 0
    assert meta["column_map"]["Total Time"] == "test_time_s"


def test_maccor_text_export(real_data):
    df = battlab.load(real_data / "maccor" / "cellpy_maccor_001.txt")
    meta = df.attrs["battlab"]
    assert meta["format"] == "cycler-csv"
    assert len(df) == 6704
    assert meta["vendor_header"]["Procedure"] == "M50_Validation.000"
    # Rec# 1: "0d 00:00:0", 0 A, 3.46250 V, state R; Rec# 3: 0.50401 A in state D
    assert df["voltage_V"].iloc[0] == 3.4625
    assert df["current_A"].iloc[0] == 0.0
    assert df["current_A"].iloc[2] == -0.50401
    assert df["Amps"].iloc[2] == 0.50401  # vendor column untouched
    # the unsigned Amps are signed from State: 2450 C rows, 2082 D rows
    assert (df["current_A"] > 0).sum() == 2450
    assert (df["current_A"] < 0).sum() == 2082
    assert any("unsigned" in n for n in meta["notes"])
    # "2d 02:52:51.5699996948242" -> seconds
    assert df["test_time_s"].iloc[-1] == pytest.approx(2 * 86400 + 2 * 3600 + 52 * 60 + 51.5699996948242)
    assert df["test_time_s"].is_monotonic_increasing
    assert df["voltage_V"].between(2.5, 4.21).all()
    assert df["unix_time_s"].iloc[0] == _epoch(2020, 12, 11, 12, 22, 12)


def test_pec_export(real_data):
    df = battlab.load(real_data / "pec" / "cellpy_pec_Test25209.csv")
    meta = df.attrs["battlab"]
    assert len(df) == 281
    assert meta["vendor_header"]["TestRegime Name"] == "OCV generic long HP"
    # first data row: 00:00:00.002, 3.7525636 V, -6E-06 A, 01/09/2026 15:08:38
    assert df["test_time_s"].iloc[0] == pytest.approx(0.002)
    assert df["voltage_V"].iloc[0] == 3.7525636
    assert df["current_A"].iloc[0] == -6e-06
    assert df["unix_time_s"].iloc[0] == _epoch(2026, 1, 9, 15, 8, 38)  # month first
    assert df["test_time_s"].iloc[-1] == pytest.approx(8 * 3600 + 16 * 60 + 8.1)
    assert df["test_time_s"].is_monotonic_increasing
    assert df["temperature_degC"].iloc[1] == 21.02
    assert df["voltage_V"].between(3.75, 3.76).all()
    assert meta["technique"] is None  # an OCV rest: no charge/discharge to call it cycling
    assert meta["column_map"]["Charge Capacity (mAh)"] == "charge_capacity_Ah"


# --------------------------------------------------------------------------- fixtures


def test_semicolon_decimal_comma_latin1(test_data):
    df = battlab.load(test_data / "cycler_semicolon_comma_latin1.csv")
    meta = df.attrs["battlab"]
    assert meta["format"] == "cycler-csv"
    assert meta["vendor_header"] == {} or "Prüfstand" not in meta["vendor_header"]
    assert df["voltage_V"].iloc[0] == pytest.approx(3.0125)  # 3012,5 mV
    assert df["current_A"].iloc[2] == pytest.approx(-0.00125)  # -1,250 mA
    assert df["current_A"].iloc[-1] == pytest.approx(0.00125)
    assert df["test_time_s"].iloc[-1] == 94530.5  # "26:15:30,5"
    assert df["temperature_degC"].iloc[0] == pytest.approx(24.2)
    assert meta["start_time_utc"] == "2024-03-12T10:00:00"  # 12.03.2024 is day first
    assert df["unix_time_s"].iloc[-1] == _epoch(2024, 3, 13, 12, 15, 30)
    assert df["Capacity (mAh)"].iloc[-1] == pytest.approx(32.4064)  # vendor column, original unit
    assert "Temperature (°C)" in df.columns


def test_same_table_utf8_comma_delimited_gives_same_numbers(test_data):
    text = (test_data / "cycler_semicolon_comma_latin1.csv").read_bytes().decode("latin-1")
    lines = text.split("\r\n")
    converted = []
    for ln in lines:
        cells = ln.split(";")
        converted.append(",".join(c.replace(",", ".") for c in cells))
    a = battlab.load(test_data / "cycler_semicolon_comma_latin1.csv")
    b = battlab.load("\n".join(converted).encode("utf-8"), name="same.csv")
    for col in ("test_time_s", "unix_time_s", "voltage_V", "current_A", "temperature_degC", "step"):
        np.testing.assert_array_equal(a[col], b[col], err_msg=col)


def test_maccor_style_fixture(test_data):
    df = battlab.load(test_data / "cycler_maccor_style.txt")
    assert df["current_A"].tolist()[:3] == [0.0, 0.0, 0.1]
    assert (df.loc[df["State"] == "D", "current_A"] == -0.1).all()
    assert df["test_time_s"].iloc[-2] == pytest.approx(93600.5)  # "1d 02:00:00.50"
    assert df["unix_time_s"].iloc[0] == _epoch(2024, 3, 12, 10, 0, 0)
    assert df.attrs["battlab"]["vendor_header"]["Filename"] == "synthetic_cell_01"


def test_neware_nested_fixture(test_data):
    df = battlab.load(test_data / "cycler_neware_nested.csv")
    assert len(df) == 10
    assert df["cycle"].tolist() == [1, 1, 1, 1, 1, 1, 2, 2, 2, 2]
    assert df["step"].tolist() == [1, 1, 2, 2, 3, 3, 2, 2, 3, 3]
    # first step sits on the first cycle row (Neware merges them)
    assert df["Step Type"].tolist()[:2] == ["Rest", "Rest"]
    assert df["Step Number"].tolist()[-1] == 5
    assert df["test_time_s"].iloc[-1] == 26 * 3600 + 19 * 60 + 50
    assert df["temperature_degC"].iloc[-1] == 25.4


@pytest.mark.parametrize("name, quantity, unit", [
    ("Voltage(V)", "voltage", "v"),
    ("Voltage (V)", "voltage", "v"),
    ("Voltage/V", "voltage", "v"),
    ("Voltage / mV", "voltage", "mv"),
    ("U[V]", "voltage", "v"),
    ("voltage_V", "voltage", "v"),
    ("Volts", "voltage", "v"),
    ("Current(mA)", "current", "ma"),
    ("Cur(mA)", "current", "ma"),
    ("I[µA]", "current", "µa"),
    ("I/uA", "current", "ua"),
    ("Amps", "current", "a"),
    ("Test Time (sec)", "test_time", "sec"),
    ("Test_Time(s)", "test_time", "s"),
    ("Total Time (Hours in hh:mm:ss.xxx)", "test_time", "hoursinhh:mm:ss.xxx"),
    ("Chg. Cap.(mAh)", "charge_capacity", "mah"),
    ("Discharge_Capacity(Ah)", "discharge_capacity", "ah"),
    ("T1(?)", "temperature", "?"),
    ("Cyc#", "cycle", None),
    ("Step Index", "step", None),
    ("Date Time", "unix_time", None),
])
def test_column_names_and_units(name, quantity, unit):
    hit = tabular._classify(name)
    assert hit is not None, name
    assert (hit[0], hit[2]) == (quantity, unit)


@pytest.mark.parametrize("name", ["End Voltage(V)", "Oneset Volt.(V)", "Voltage(A)", "Capacity(mAh)",
                                  "Power(W)", "Aux #1", "Station Temperature (°C)"])
def test_names_that_are_not_canonical(name):
    hit = tabular._classify(name)
    assert hit is None or hit[0] not in ("voltage", "current", "test_time"), name


@pytest.mark.parametrize("text, seconds", [
    ("0:00:00", 0.0), ("27:55:43", 100543.0), ("00:00:00.002", 0.002), ("1-02:03:04", 93784.0),
    ("1.02:03:04", 93784.0), ("  2d 02:52:51.57", 183171.57), ("0d 00:00:0", 0.0),
    ("12:34.5", 754.5), ("26:15:30,5", 94530.5),
])
def test_duration_text_forms(text, seconds):
    out, failed = tabular._durations(pd.Series([text]))
    assert failed == 0
    assert out.iloc[0] == pytest.approx(seconds)


def test_milliamps_and_amps_give_the_same_current():
    amps = "Test Time (s),Voltage (V),Current (A)\n0,3.1,0\n1,3.2,0.0015\n2,3.1,-0.0015\n"
    milli = "Test Time (s),Voltage (mV),Current (mA)\n0,3100,0\n1,3200,1.5\n2,3100,-1.5\n"
    micro = "Test Time (min),Voltage (V),Current (µA)\n0,3.1,0\n0.0166666666666667,3.2,1500\n0.0333333333333333,3.1,-1500\n"
    a = battlab.load(amps.encode(), name="a.csv")
    m = battlab.load(milli.encode(), name="m.csv")
    u = battlab.load(micro.encode("utf-8"), name="u.csv")
    np.testing.assert_allclose(a["current_A"], m["current_A"], rtol=1e-15)
    np.testing.assert_allclose(a["voltage_V"], m["voltage_V"], rtol=1e-15)
    np.testing.assert_allclose(a["current_A"], u["current_A"], rtol=1e-12)
    np.testing.assert_allclose(a["test_time_s"], u["test_time_s"], rtol=1e-12)


def test_column_map_override(test_data):
    path = test_data / "cycler_unmapped_names.csv"
    df = battlab.load(path, column_map={"Laufzeit": "test_time_s", "Klemme": "voltage_V",
                                        "Kanalwert": "current_A"}, time_unit="min", current_unit="uA")
    assert df["test_time_s"].tolist() == [0.0, 90.0, 180.0, 270.0, 360.0]
    assert df["current_A"].tolist()[1] == pytest.approx(250e-6)
    assert df["current_A"].tolist()[3] == pytest.approx(-250e-6)
    assert df["voltage_V"].iloc[0] == 3.2
    meta = df.attrs["battlab"]
    assert meta["column_map"] == {"Laufzeit": "test_time_s", "Klemme": "voltage_V", "Kanalwert": "current_A"}
    assert any("assumed V" in n and "voltage_unit" in n for n in meta["notes"])
    assert df["Bemerkung"].tolist()[0] == "start"


def test_column_map_overrides_a_wrong_automatic_choice():
    text = "Time (s),Voltage (V),Current (A),Ref Voltage (V)\n0,3.0,0,1.0\n1,3.1,0.1,1.1\n"
    df = battlab.load(text.encode(), name="x.csv", column_map={"Ref Voltage (V)": "voltage_V"})
    assert df["voltage_V"].tolist() == [1.0, 1.1]
    assert df["Voltage (V)"].tolist() == [3.0, 3.1]


def test_missing_columns_error_lists_columns_and_column_map(test_data):
    with pytest.raises(MissingDataError) as info:
        battlab.load(test_data / "cycler_unmapped_names.csv")
    msg = str(info.value)
    for col in ("Laufzeit", "Klemme", "Kanalwert", "Bemerkung"):
        assert col in msg
    assert "column_map" in msg and "voltage_V" in msg and "current_A" in msg


def test_missing_current_only():
    text = "Test Time (s),Voltage (V)\n0,3.0\n1,3.1\n"
    with pytest.raises(MissingDataError, match="current_A"):
        read_cycler_csv(text.encode(), name="ocv.csv")


def test_bad_column_map_values():
    text = b"Time (s),Voltage (V),Current (A)\n0,3.0,0\n"
    with pytest.raises(InvalidParameterError, match="not a battlab column"):
        read_cycler_csv(text, name="x.csv", column_map={"Time (s)": "time"})
    with pytest.raises(InvalidParameterError, match="not a column"):
        read_cycler_csv(text, name="x.csv", column_map={"Zeit": "test_time_s"})
    with pytest.raises(InvalidParameterError):
        read_cycler_csv(text, name="x.csv", current_unit="furlong")


def test_row_cap():
    rows = "\n".join(f"{i},3.0,0.1" for i in range(50))
    text = f"Test Time (s),Voltage (V),Current (A)\n{rows}\n".encode()
    with pytest.raises(TooLargeError, match="max_rows"):
        battlab.load(text, name="big.csv", max_rows=10)
    assert len(battlab.load(text, name="big.csv", max_rows=50)) == 50


def test_dayfirst_option():
    text = b"Date,Voltage (V),Current (A)\n01/09/2026 10:00:00,3.0,0\n01/09/2026 10:00:10,3.1,0.1\n"
    month_first = read_cycler_csv(text, name="x.csv")
    day_first = read_cycler_csv(text, name="x.csv", dayfirst=True)
    assert month_first.attrs["battlab"]["start_time_utc"] == "2026-01-09T10:00:00"
    assert day_first.attrs["battlab"]["start_time_utc"] == "2026-09-01T10:00:00"
    # no elapsed-time column: derived from the clock
    assert month_first["test_time_s"].tolist() == [0.0, 10.0]


def test_binary_with_csv_name_is_refused():
    with pytest.raises(UnsupportedFormatError, match="binary"):
        read_cycler_csv(b"\x00\x01\x02garbage" * 10, name="x.csv")


def test_headerless_numeric_table_says_so():
    with pytest.raises(MissingDataError, match="no header row"):
        battlab.load(b"1,2,3\n4,5,6\n", name="numbers.csv")


def test_sniff_is_low_for_generic_tables():
    fmt = {f.name: f for f in formats()}["cycler-csv"]
    assert fmt.sniff(b"Test Time (s),Voltage (V),Current (A)\n0,3,0\n", "x.csv") == pytest.approx(0.3)
    assert fmt.sniff(b"a,b,c\n1,2,3\n", "x.csv") < 0.3
    assert fmt.sniff(b"a,b,c\n1,2,3\n", "x.bin") == 0
    # the specific BDF format wins over the generic table
    bdf = b"Test Time / s,Voltage / V,Current / A\n0,3.0,0\n"
    assert detect(bdf, name="x.csv").name == "bdf-csv"


# --------------------------------------------------------------------------- xlsx


def _neware_style_workbook(path=None) -> bytes:
    import openpyxl

    wb = openpyxl.Workbook()
    info = wb.active
    info.title = "Info"
    info.append(["Barcode:", "SYN-001"])
    record = wb.create_sheet("record")
    record.append(["DataPoint", "Step Type", "Time", "Total Time", "Current(mA)", "Voltage(V)",
                   "Capacity(mAh)", "Chg. Cap.(mAh)", "DChg. Cap.(mAh)", "Date"])
    t0 = dt.datetime(2024, 3, 12, 10, 0, 0)
    rows = [(1, "Rest", "0:00:00", 0, 0.0, 3.1, 0.0, 0.0, 0.0),
            (2, "CC Chg", "0:00:01", 11, 1.5, 3.3, 0.0004, 0.0004, 0.0),
            (3, "CC Chg", "1:00:00", 3610, 1.5, 4.2, 1.5, 1.5, 0.0),
            (4, "CC DChg", "0:00:01", 3611, -1.5, 4.1, 0.0004, 1.5, 0.0004),
            (5, "CC DChg", "25:00:00", 93610, -1.5, 3.0, 1.4, 1.5, 1.4)]
    for dp, kind, step_time, total_s, cur, volt, cap, chg, dchg in rows:
        record.append([dp, kind, step_time, dt.timedelta(seconds=total_s), cur, volt, cap, chg, dchg,
                       t0 + dt.timedelta(seconds=total_s)])
    for row in record.iter_rows(min_row=2, min_col=4, max_col=4):
        row[0].number_format = "[h]:mm:ss"
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def test_xlsx_neware_style(tmp_path):
    path = tmp_path / "export.xlsx"
    path.write_bytes(_neware_style_workbook())
    df = battlab.load(path)
    meta = df.attrs["battlab"]
    assert meta["format"] == "cycler-xlsx"
    assert meta["sheet"] == "record"
    assert df["current_A"].tolist() == pytest.approx([0.0, 0.0015, 0.0015, -0.0015, -0.0015])
    assert df["voltage_V"].tolist() == [3.1, 3.3, 4.2, 4.1, 3.0]
    assert df["test_time_s"].tolist() == [0.0, 11.0, 3610.0, 3611.0, 93610.0]
    assert df["charge_capacity_Ah"].iloc[-1] == pytest.approx(1.5e-3)
    assert df["discharge_capacity_Ah"].iloc[-1] == pytest.approx(1.4e-3)
    assert df["unix_time_s"].iloc[-1] == _epoch(2024, 3, 13, 12, 0, 10)
    assert meta["technique"] == "cycling"


def test_xlsx_sheet_option_and_missing_columns(tmp_path):
    data = _neware_style_workbook()
    with pytest.raises(MissingDataError, match="Info"):
        read_cycler_xlsx(data, name="x.xlsx", sheet="Info")
    with pytest.raises(InvalidParameterError, match="no sheet"):
        read_cycler_xlsx(data, name="x.xlsx", sheet="nope")
    assert len(read_cycler_xlsx(data, name="x.xlsx", sheet=1)) == 5


def test_xlsx_uncompressed_budget_checked_before_opening():
    data = _neware_style_workbook()
    with pytest.raises(TooLargeError, match="expands"):
        read_cycler_xlsx(data, name="x.xlsx", max_uncompressed_bytes=1000)


def _zip(members: dict) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for name, payload in members.items():
            zf.writestr(name, payload)
    return buf.getvalue()


def test_xlsx_zip_bomb_ratio():
    bomb = _zip({"xl/workbook.xml": b"<workbook/>", "xl/worksheets/sheet1.xml": b"\x00" * 20_000_000})
    assert len(bomb) < 100_000
    with pytest.raises(TooLargeError, match="zip bomb"):
        battlab.load(bomb, name="bomb.xlsx")


def test_zip_that_is_not_a_workbook():
    with pytest.raises(UnsupportedFormatError, match="not an Excel workbook"):
        battlab.load(_zip({"hello.txt": b"hi"}), name="x.xlsx")


def test_xlsx_row_cap():
    with pytest.raises(TooLargeError, match="max_rows"):
        read_cycler_xlsx(_neware_style_workbook(), name="x.xlsx", max_rows=3)


# --------------------------------------------------------------------------- unreadable binaries


@pytest.mark.parametrize("name, hint", [
    ("neware/NewareNDA_new_nda_file.nda", "BTSDA"),
    ("neware/NewareNDA_mediafire_2-1-6_61_07005012.nda", "BTSDA"),
    ("neware/NewareNDA_Issue94_Unit27_Example_Data_File.ndax", "BTSDA"),
    ("arbin/cellpy_20160805_test001_45_cc_01.res", "MITS"),
])
def test_unsupported_vendor_binaries_say_which_export(real_data, name, hint):
    with pytest.raises(UnsupportedFormatError) as info:
        battlab.load(real_data / name)
    msg = str(info.value)
    assert hint in msg and "CSV" in msg and "export" in msg.lower()


@pytest.mark.parametrize("data, name, hint", [
    (b"NEWARE20200325" + b"\x00" * 200, "cell.nda", "BTSDA"),
    (b"PK\x03\x04" + b"\x00" * 26 + b"TestInfo.xml" + b"\x00" * 100, "cell.ndax", "BTSDA"),
    (b"\x00\x01\x00\x00Standard Jet DB\x00" + b"\x00" * 200, "test.res", "MITS"),
])
def test_unsupported_vendor_binaries_without_real_files(data, name, hint):
    with pytest.raises(UnsupportedFormatError, match=hint):
        battlab.load(data, name=name)


def test_unreadable_formats_are_not_offered_as_extensions():
    exts = {e for f in formats() for e in f.extensions}
    assert not {".nda", ".ndax", ".res"} & exts


def test_forced_delimiter_and_decimal(test_data):
    path = test_data / "cycler_semicolon_comma_latin1.csv"
    auto = battlab.load(path)
    forced = battlab.load(path, delimiter=";", decimal=",", encoding="latin-1")
    pd.testing.assert_frame_equal(auto, forced)
    with pytest.raises(InvalidParameterError, match="delimiter"):
        battlab.load(path, delimiter=";;")
    with pytest.raises(InvalidParameterError, match="decimal"):
        battlab.load(path, decimal=";")
