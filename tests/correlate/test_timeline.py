"""The cycling timeline: joins, clock offsets, common grids, per-cycle tables, SOC matching.

Ground truth: a cycler record whose net charge at every instant is known exactly
(constant current, rest first, then charge/discharge cycles).
"""

import warnings

import numpy as np
import pandas as pd
import pytest

from battlab.correlate import timeline as tl
from battlab.errors import BattlabWarning, InvalidParameterError, MissingDataError

I_A = 2e-3
REST_S = 300.0
HALF_S = 1800.0


def _cycler(*, n_cycles=2, dt=2.0):
    """Rest, then n_cycles of charge at +I and discharge at -I, each HALF_S long."""
    t = np.arange(0.0, REST_S + 2 * n_cycles * HALF_S + dt / 2, dt)
    phase = np.floor((t - REST_S) / HALF_S)
    current = np.where(t <= REST_S, 0.0, np.where(phase % 2 == 0, I_A, -I_A))
    # A row logs the mean current of the interval ending at it: the row at REST_S + HALF_S still charged.
    on_edge = (t > REST_S) & np.isclose((t - REST_S) % HALF_S, 0.0)
    current[on_edge] = np.where(((t[on_edge] - REST_S) // HALF_S - 1) % 2 == 0, I_A, -I_A)
    voltage = 3.4 + 0.5 * _exact_charge_mAh(t) / (I_A * HALF_S / 3.6)
    return pd.DataFrame({"test_time_s": t, "unix_time_s": 1.7e9 + t, "voltage_V": voltage, "current_A": current})


def _exact_charge_mAh(t):
    s = np.clip(np.asarray(t, dtype=float) - REST_S, 0, None)
    k = np.floor(s / (2 * HALF_S))
    r = s - k * 2 * HALF_S
    return I_A * np.where(r <= HALF_S, r, 2 * HALF_S - r) / 3.6


def test_echem_at_keeps_order_and_rows_and_knows_the_charge():
    echem = _cycler()
    t = np.array([5000.0, 400.0, 2500.0, 9e9])  # unsorted, one outside the record
    with pytest.warns(BattlabWarning, match="1 of 4 patterns fall outside"):
        out = tl.echem_at(t, echem, clock_offset_s=100.0, label="patterns")
    assert list(out["time_s"]) == list(t)
    np.testing.assert_allclose(out["test_time_s"].iloc[:3], t[:3] + 100.0)
    # ∫I dt within 1e-9 mAh of the exact charge at each instant.
    np.testing.assert_allclose(out["charge_mAh"].iloc[:3], _exact_charge_mAh(t[:3] + 100.0), atol=1e-9)
    assert np.isnan(out["voltage_V"].iloc[3])
    assert out["capacity_mAh"].iloc[0] == 0.0


def test_echem_at_on_unix_clock_and_errors():
    echem = _cycler()
    out = tl.echem_at([0.0, 60.0], echem, time_basis="unix", start_unix_s=1.7e9 + 1000.0)
    np.testing.assert_allclose(out["test_time_s"], [1000.0, 1060.0])
    with pytest.raises(MissingDataError, match="wall-clock"):
        tl.echem_at([0.0], echem, time_basis="unix")
    with pytest.raises(InvalidParameterError, match="finite"):
        tl.echem_at([np.nan], echem)
    with pytest.raises(MissingDataError, match="no samples"):
        tl.echem_at([], echem)


def test_align_any_table_by_its_own_time_column():
    echem = _cycler()
    table = pd.DataFrame({"time_s": [600.0, 1200.0], "lattice_A": [4.1, 4.2]})
    out = tl.align_to_cycling(table, echem, time_column="time_s", clock_offset_s=50.0)
    np.testing.assert_allclose(out["charge_mAh"], _exact_charge_mAh([650.0, 1250.0]), atol=1e-9)
    assert "sensor_time_s" not in out and list(out["lattice_A"]) == [4.1, 4.2]
    with pytest.raises(MissingDataError, match="no 'when' column"):
        tl.align_to_cycling(table, echem, time_column="when")


def _signal_following_charge(offset_s, *, dt=20.0, noise=0.002, sign=-1.0, seed=3):
    """A measurement (e.g. thickness) that follows the charge, on a clock started offset_s after the cycler."""
    rng = np.random.default_rng(seed)
    t_own = np.arange(0.0, 6000.0, dt)
    q = _exact_charge_mAh(t_own + offset_s)
    return t_own, 10.0 + sign * 2.0 * q / q.max() + rng.normal(0, noise, len(t_own))


@pytest.mark.parametrize("true_offset_s", [137.0, 250.0])
def test_clock_offset_by_cross_correlation_within_one_sample(true_offset_s):
    t_own, y = _signal_following_charge(true_offset_s)
    est = tl.estimate_clock_offset(t_own, y, _cycler(n_cycles=3), method="xcorr")
    assert est["method"] == "xcorr" and est["correlation"] > 0.99
    assert abs(est["clock_offset_s"] - true_offset_s) <= est["resolution_s"]  # within one sample (20 s)


def test_clock_offset_from_the_current_on_event_within_one_sample():
    true_offset_s = 120.0  # the measurement started 120 s after the cycler, which rests REST_S first
    t_own = np.arange(0.0, 3000.0, 10.0)
    rng = np.random.default_rng(1)
    y = 5.0 + 0.3 * _exact_charge_mAh(t_own + true_offset_s) + rng.normal(0, 1e-4, len(t_own))
    est = tl.estimate_clock_offset(t_own, y, _cycler(), method="event")
    assert abs(est["cycler_event_s"] - REST_S) <= 2.0  # the cycler's own row spacing
    assert abs(est["clock_offset_s"] - true_offset_s) <= est["resolution_s"]
    with pytest.raises(MissingDataError, match="baseline"):
        tl.estimate_clock_offset(t_own, np.ones_like(t_own), _cycler(), method="event")
    with pytest.raises(InvalidParameterError, match="same length"):
        tl.estimate_clock_offset(t_own, y[:-1], _cycler())


def test_common_times_interpolate_asof_and_gaps():
    echem = _cycler()
    a = tl.echem_at(np.arange(400.0, 3000.0, 10.0), echem)
    a["thickness_um"] = 50.0 + a["charge_mAh"]
    b = tl.echem_at(np.r_[np.arange(500.0, 1500.0, 30.0), np.arange(2500.0, 3500.0, 30.0)], echem)
    b["a_A"] = 2.46 + 0.01 * b["charge_mAh"]
    grid = np.arange(600.0, 2900.0, 50.0)
    out = tl.on_common_times({"optical": a[["test_time_s", "thickness_um"]], "xrd": b[["test_time_s", "a_A"]]},
                             times_s=grid)
    # Linear in charge, and charge is piecewise linear in time: interpolation is exact within a half.
    q = _exact_charge_mAh(grid)
    np.testing.assert_allclose(out["optical:thickness_um"], 50.0 + q, atol=1e-9)
    inside_b = (grid <= 1470.0) | (grid >= 2500.0)
    np.testing.assert_allclose(out.loc[inside_b & (grid < 2100), "xrd:a_A"], 2.46 + 0.01 * q[inside_b & (grid < 2100)],
                               atol=1e-9)
    assert out.loc[(grid > 1600) & (grid < 2400), "xrd:a_A"].isna().all()  # the gap is not bridged
    asof = tl.on_common_times({"xrd": b[["test_time_s", "cycle"]]}, times_s=[520.0, 545.0], method="asof")
    assert list(asof["xrd:cycle"]) == [1, 1]
    with pytest.raises(MissingDataError, match="share no stretch"):
        tl.on_common_times({"a": a.assign(test_time_s=a["test_time_s"] + 1e6), "b": b})


def test_per_cycle_aggregates_with_range():
    echem = _cycler(n_cycles=2)
    a = tl.echem_at(np.arange(REST_S + 10.0, REST_S + 4 * HALF_S, 10.0), echem)
    a["thickness_um"] = 50.0 + a["charge_mAh"]
    out = tl.per_cycle(a, columns=["thickness_um"], funcs=("max", "range"))
    q_max = I_A * HALF_S / 3.6
    assert len(out) == 2 and set(out["cycle"]) == {1, 2}
    np.testing.assert_allclose(out["thickness_um_range"], q_max, atol=0.01)  # 10 s sampling of a 1800 s ramp
    with pytest.raises(MissingDataError, match="cycle"):
        tl.per_cycle(pd.DataFrame({"x": [1.0]}))


def test_match_by_soc_across_two_cells():
    echem = _cycler(n_cycles=1)
    ref = tl.echem_at(np.arange(320.0, REST_S + 2 * HALF_S, 60.0), echem)
    other = tl.echem_at(np.arange(310.0, REST_S + 2 * HALF_S, 7.0), echem)
    other["a_A"] = 2.46 + 0.05 * other["soc"] + np.where(other["direction"] == "charge", 0.0, 0.001)  # hysteresis
    out = tl.match_by_soc(ref, other, columns=["a_A"], prefix="cell B")
    expected = 2.46 + 0.05 * ref["soc"] + np.where(ref["direction"] == "charge", 0.0, 0.001)
    ok = out["cell B:a_A"].notna()
    assert ok.mean() > 0.9
    np.testing.assert_allclose(out.loc[ok, "cell B:a_A"], expected[ok], atol=1e-9)
    with pytest.raises(MissingDataError, match="no 'soc'"):
        tl.match_by_soc(ref.drop(columns="soc"), other, columns=["a_A"])


def test_no_warning_when_everything_is_inside():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        tl.echem_at([400.0, 500.0], _cycler())
