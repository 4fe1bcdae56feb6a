"""Alignment of sensor samples on the cycling timeline (charge, labels, clock offset)."""

import warnings

import numpy as np
import pandas as pd
import pytest

from battlab.datasets import make_cycling
from battlab.echem import cycling
from battlab.errors import InvalidParameterError, MissingDataError
from battlab.sensors import align_to_cycling, charge_timeline


@pytest.fixture(scope="module")
def cell():
    return make_cycling(n_cycles=3, rate_block=(), formation_cycles=0, cv_hold=False, points_per_half_cycle=60)


def _sensor(times):
    df = pd.DataFrame({"sensor_time_s": times, "displacement_um": np.zeros(len(times))})
    df.attrs["battlab"] = {"source_name": "s.csv"}
    return df


def test_charge_timeline_matches_summarize_cycles(cell):
    tl = charge_timeline(cell.data)
    summary = cycling.summarize_cycles(cell.data).set_index("cycle")
    q = tl["charge_mAh"].to_numpy()
    cyc = tl["cycle"].to_numpy()
    for cycle in summary.index:
        rows = np.flatnonzero(cyc == cycle)
        net = q[rows[-1]] - q[rows[0] - 1]  # from the end of the previous cycle to the end of this one
        row = summary.loc[cycle]
        assert net == pytest.approx(row["charge_capacity_mAh"] - row["discharge_capacity_mAh"], abs=1e-12)
        swing = max(q[rows].max(), q[rows[0] - 1]) - min(q[rows].min(), q[rows[0] - 1])
        assert swing == pytest.approx(row["discharge_capacity_mAh"], rel=1e-12)
    assert tl["soc"].between(0, 1).all() or tl["soc"].isna().any()


def test_interpolated_charge_is_exact_for_interval_mean_current(cell):
    df = cell.data
    t = df["test_time_s"].to_numpy()
    i = df["current_A"].to_numpy()
    # Exact charge at arbitrary instants: whole rows plus the fraction of the row in progress.
    rng = np.random.default_rng(1)
    ts = np.sort(rng.uniform(t[0], t[-1], 300))
    row = np.searchsorted(t, ts)
    q_rows = np.r_[0.0, np.cumsum(i[1:] * np.diff(t))]
    exact = q_rows[row - 1] + i[row] * (ts - t[row - 1])
    out = align_to_cycling(_sensor(ts - 50.0), df, clock_offset_s=50.0)
    np.testing.assert_allclose(out["charge_C"], exact, rtol=0, atol=1e-12)
    assert (out["cycle"].to_numpy() == cycling.label_cycles(df)["cycle"].to_numpy()[row]).all()


def test_clock_offset_and_unix_basis_agree(cell):
    df = cell.data
    ts = np.linspace(1000, 20000, 50)
    by_test = align_to_cycling(_sensor(ts - 120.0), df, clock_offset_s=120.0)
    sensor = _sensor(ts)
    sensor["unix_time_s"] = df["unix_time_s"].iloc[0] - df["test_time_s"].iloc[0] + ts
    by_unix = align_to_cycling(sensor, df, time_basis="unix")
    np.testing.assert_allclose(by_test["charge_mAh"], by_unix["charge_mAh"], atol=1e-12)
    np.testing.assert_allclose(by_unix["test_time_s"], ts, atol=1e-6)
    assert by_test.attrs["battlab"]["alignment"]["clock_offset_s"] == 120.0


def test_samples_outside_are_dropped_with_warning_and_no_overlap_is_an_error(cell):
    t_end = cell.data["test_time_s"].iloc[-1]
    with pytest.warns(UserWarning, match="outside the cycling record"):
        out = align_to_cycling(_sensor(np.array([-100.0, 100.0, 200.0, t_end + 5])), cell.data)
    assert len(out) == 2
    with pytest.raises(MissingDataError, match="clock offset"):
        align_to_cycling(_sensor(np.array([1e9, 1e9 + 1])), cell.data)
    with pytest.raises(InvalidParameterError):
        align_to_cycling(_sensor(np.array([1.0, 2.0])), cell.data, time_basis="gps")
    with pytest.raises(MissingDataError, match="no cycling data"):
        align_to_cycling(_sensor(np.array([1.0, 2.0])), None)


def test_sensor_file_with_its_own_potential_and_current():
    t = np.arange(0, 100.0, 1.0)
    sensor = pd.DataFrame({"sensor_time_s": t, "frequency_shift_Hz": -t, "voltage_V": 1 - t / 200,
                           "current_A": np.where(t < 50, -1e-3, 1e-3)})
    sensor.attrs["battlab"] = {"source_name": "eqcm.csv"}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        out = align_to_cycling(sensor, None)
    assert out["charge_C"].iloc[49] == pytest.approx(-49e-3)  # 49 intervals of 1 s at −1 mA
    assert set(out["cycle"]) == {1}


def test_real_biologic_cycling_as_timeline(real_data):
    import battlab

    echem = battlab.load(real_data / "biologic" / "yadg_gcpl.pr_182.1.mpr")
    t = echem["test_time_s"].to_numpy()
    ts = np.linspace(t[0], t[-1], 500)
    out = align_to_cycling(_sensor(ts), echem)
    summary = cycling.summarize_cycles(echem)
    assert len(out) == 500 and out["cycle"].max() == summary["cycle"].max()
    tl = charge_timeline(echem)
    np.testing.assert_allclose(out["charge_mAh"].iloc[-1], tl["charge_mAh"].iloc[-1], rtol=1e-9)
