"""The sensor-table reader on hand-made fixtures and on broken input."""

import warnings

import numpy as np
import pytest

from battlab.errors import BattlabError, BattlabWarning, InvalidParameterError, MissingDataError, UnsupportedFormatError
from battlab.sensors import read_sensor_table


def test_eqcm_overtones_units_and_decimal_comma(test_data):
    t = read_sensor_table(test_data / "sensor_eqcm_overtones.tsv", kind="eqcm")
    meta = t.attrs["battlab"]
    assert meta["overtones"] == [3, 5] and meta["overtone"] == 3
    np.testing.assert_allclose(t["sensor_time_s"], [0, 30, 60, 90, 120])  # minutes -> s
    np.testing.assert_allclose(t["frequency_shift_Hz"], [0, -3, -6, -9, -12])  # n = 3 is the working column
    np.testing.assert_allclose(t["frequency_shift_n5_Hz"], [0, -5.1, -10.2, -15.3, -20.4])
    np.testing.assert_allclose(t["dissipation_shift"], np.array([0, 0.01, 0.02, 0.03, 0.04]) * 1e-6)  # ppm
    np.testing.assert_allclose(t["current_A"], -5e-6)  # µA, decimal comma
    np.testing.assert_allclose(t["voltage_V"], [1.2, 1.1, 1.0, 0.9, 0.8])
    assert len(meta["sha256"]) == 64


def test_dilatometer_semicolon_nm_and_hours(test_data):
    t = read_sensor_table(test_data / "sensor_dilatometer_semicolon.csv", kind="dilatometry")
    np.testing.assert_allclose(t["sensor_time_s"], [0, 900, 1800, 2700, 3600])
    np.testing.assert_allclose(t["displacement_um"], [0, 0.1205, 0.25, 0.38025, 0.5])
    np.testing.assert_allclose(t["current_A"], -1e-4)


def test_moss_curvature_per_km_and_spacing(test_data):
    t = read_sensor_table(test_data / "sensor_moss.csv", kind="stress")
    np.testing.assert_allclose(t["curvature_1_m"], [0, -2e-4, -4e-4, -6e-4])
    np.testing.assert_allclose(t["spot_spacing"], [250.0, 249.9, 249.8, 249.7])
    assert "note" not in t  # text columns that are not sensor data are not invented


def test_ae_hit_list_units(test_data):
    t = read_sensor_table(test_data / "sensor_ae_hits.csv", kind="acoustic")
    np.testing.assert_allclose(t["amplitude_dB"], [62.1, 45.3, 71.8])
    np.testing.assert_allclose(t["peak_frequency_Hz"], [345e3, 92e3, 362e3])
    np.testing.assert_allclose(t["duration_s"], [180e-6, 310e-6, 240e-6])
    assert list(t["counts"]) == [35, 4, 60] and "amplitude_V" not in t


def test_column_map_and_absolute_frequency():
    text = b"t (s),f_res,xyz\n0,4999800.0,1\n1,4999790.0,2\n2,4999770.0,3\n"
    t = read_sensor_table(text, name="abs.csv", kind="eqcm", column_map={"f_res": "frequency_shift_Hz"})
    np.testing.assert_allclose(t["frequency_shift_Hz"], [0, -10, -30])  # absolute resonance -> shift
    assert t.attrs["battlab"]["column_map"]["f_res"] == "frequency_shift_Hz"
    with pytest.raises(InvalidParameterError, match="not battlab sensor columns"):
        read_sensor_table(text, name="abs.csv", kind="eqcm", column_map={"xyz": "mass"})


def test_unsorted_rows_are_sorted_with_a_warning():
    text = b"time_s,displacement_um\n2,0.2\n0,0.0\n1,0.1\n"
    with pytest.warns(UserWarning, match="sorted"):
        t = read_sensor_table(text, name="d.csv", kind="dilatometry")
    assert list(t["sensor_time_s"]) == [0, 1, 2]


@pytest.mark.parametrize("content, kind, error, words", [
    (b"sample,value\n1,2\n3,4\n", "eqcm", MissingDataError, "no header row with a time column"),
    (b"time (s),temperature\n0,25\n1,26\n", "eqcm", MissingDataError, "no a eqcm column"),
    (b"time (s),displacement (um)\n", "dilatometry", MissingDataError, "no data rows"),
    (b"\x00\x01\x02binary" * 30, "eqcm", UnsupportedFormatError, "binary file"),
    (b"time (s),displacement (um)\n0,1\n", "dilatometry", MissingDataError, "fewer than two"),
])
def test_bad_tables_raise_battlab_errors(content, kind, error, words):
    with pytest.raises(error) as info:
        read_sensor_table(content, name="bad.csv", kind=kind)
    assert words in str(info.value) and "bad.csv" in str(info.value)


def test_unknown_kind():
    with pytest.raises(InvalidParameterError):
        read_sensor_table(b"time,x\n0,1\n", name="x.csv", kind="xrd")


def test_mutated_bytes_only_raise_battlab_errors(test_data):
    rng = np.random.default_rng(0)
    base = bytearray((test_data / "sensor_eqcm_overtones.tsv").read_bytes())
    for _ in range(200):
        data = bytearray(base)
        for pos in rng.integers(0, len(data), 6):
            data[pos] = int(rng.integers(0, 256))
        data = data[: int(rng.integers(1, len(data) + 1))]
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", BattlabWarning)
                read_sensor_table(bytes(data), name="mutated.tsv", kind="eqcm")
        except BattlabError:
            pass


def test_relative_expansion_and_datetime_time_column():
    text = ("Time,Δh/h₀ (%),Potential (V)\n"
            "2026-01-05 10:00:00,0.0,1.5\n2026-01-05 10:00:30,1.5,1.2\n2026-01-05 10:01:00,3.0,0.9\n").encode()
    t = read_sensor_table(text, name="dil.csv", kind="dilatometry")
    np.testing.assert_allclose(t["strain_pct"], [0.0, 1.5, 3.0])
    np.testing.assert_allclose(t["sensor_time_s"], [0.0, 30.0, 60.0])  # counted from the first timestamp
    assert t["unix_time_s"].iloc[0] == pytest.approx(1767607200.0)
