"""Battery Data Format CSV: exact write -> read round trip, atomic writes, detection."""

import os
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import battlab
from battlab.errors import CorruptFileError, MissingDataError
from battlab.io import schema as S
from battlab.io import read_bdf_csv, write_bdf_csv

FLOAT_COLUMNS = (S.TEST_TIME, S.UNIX_TIME, S.VOLTAGE, S.CURRENT, S.TEMPERATURE,
                 S.CHARGE_CAPACITY, S.DISCHARGE_CAPACITY)
INT_COLUMNS = (S.CYCLE, S.STEP, S.HALF_CYCLE)


@st.composite
def canonical_frames(draw):
    n = draw(st.integers(min_value=1, max_value=40))
    floats = st.floats(allow_nan=True, allow_infinity=True, width=64)
    data = {c: draw(hnp.arrays(np.float64, n, elements=floats)) for c in S.REQUIRED_COLUMNS}
    for col in FLOAT_COLUMNS:
        if col not in data and draw(st.booleans()):
            data[col] = draw(hnp.arrays(np.float64, n, elements=floats))
    for col in INT_COLUMNS:
        if draw(st.booleans()):
            data[col] = draw(hnp.arrays(np.int64, n, elements=st.integers(-(2**62), 2**62)))
    order = [c for c in S.BDF_LABELS if c in data]
    return pd.DataFrame({c: data[c] for c in order})


@settings(max_examples=100, derandomize=True, deadline=None,
          suppress_health_check=[HealthCheck.too_slow])
@given(df=canonical_frames())
def test_round_trip_is_exact(df):
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "run.bdf.csv"
        write_bdf_csv(df, path)
        back = read_bdf_csv(path)
        assert os.listdir(tmp) == ["run.bdf.csv"]  # no temporary files left behind
    pd.testing.assert_frame_equal(back[df.columns.tolist()], df, check_exact=True)
    assert list(back.columns) == df.columns.tolist()


def test_labels_and_extra_columns(tmp_path):
    df = pd.DataFrame({"current_A": [0.0, 0.1], "test_time_s": [0.0, 1.5], "voltage_V": [3.0, 3.1],
                       "step": [1, 2], "Ewe/V": [3.0, 3.1], "comment": ["rest", "charge, CC"]})
    path = write_bdf_csv(df, tmp_path / "out.csv")
    header = path.read_text().splitlines()[0]
    assert header == ("Test Time / s,Voltage / V,Current / A,Step Count / 1,Ewe/V,comment")
    back = battlab.load(path)
    assert back.attrs["battlab"]["format"] == "bdf-csv"
    assert back["comment"].tolist() == ["rest", "charge, CC"]
    assert back["step"].dtype == np.int64
    assert back.attrs["battlab"]["column_map"]["Voltage / V"] == "voltage_V"


def test_round_trip_of_a_reader_result(test_data, tmp_path):
    df = battlab.load(test_data / "eclab_gcpl_full_header.mpt")
    path = write_bdf_csv(df, tmp_path / "gcpl.csv")
    back = battlab.load(path)
    canon = [c for c in S.BDF_LABELS if c in df.columns]
    pd.testing.assert_frame_equal(back[canon], df[canon], check_exact=True)
    assert "time/s" in back.columns


def test_write_is_atomic(tmp_path, monkeypatch):
    path = tmp_path / "run.csv"
    first = pd.DataFrame({"test_time_s": [0.0], "voltage_V": [3.0], "current_A": [0.0]})
    write_bdf_csv(first, path)
    before = path.read_bytes()

    import battlab.provenance as prov

    def fail(src, dst):
        raise OSError("disk full")

    monkeypatch.setattr(prov.os, "replace", fail)
    second = pd.DataFrame({"test_time_s": [0.0, 1.0], "voltage_V": [3.0, 3.2], "current_A": [0.0, 0.1]})
    with pytest.raises(OSError):
        write_bdf_csv(second, path)
    assert path.read_bytes() == before
    assert sorted(os.listdir(tmp_path)) == ["run.csv"]


def test_write_needs_the_required_columns(tmp_path):
    with pytest.raises(MissingDataError, match="current_A"):
        write_bdf_csv(pd.DataFrame({"test_time_s": [0.0], "voltage_V": [3.0]}), tmp_path / "x.csv")


def test_read_needs_the_required_labels():
    with pytest.raises(MissingDataError, match="Current / A"):
        read_bdf_csv(b"Test Time / s,Voltage / V\n0,3\n", name="x.csv")


def test_read_rejects_text_in_numeric_columns():
    with pytest.raises(CorruptFileError, match="Voltage / V"):
        read_bdf_csv(b"Test Time / s,Voltage / V,Current / A\n0,abc,0\n", name="x.csv")


def test_sniff_confidence():
    fmt = {f.name: f for f in battlab.io.formats()}["bdf-csv"]
    assert fmt.sniff(b"Test Time / s,Voltage / V,Current / A\n", "x.csv") == 0.9
    assert fmt.sniff(b"Test Time (s),Voltage (V),Current (A)\n", "x.csv") == 0
