"""Stacking curves into a time series: order, repeated and unreadable acquisition times."""

import numpy as np
import pandas as pd
import pytest
import xarray as xr

from battlab.errors import BattlabWarning, MissingDataError
from battlab.series import stack_curves


def _curve(level, *, grid=None):
    grid = np.linspace(10.0, 20.0, 11) if grid is None else grid
    return xr.DataArray(np.full(grid.size, float(level)), dims="two_theta_deg",
                        coords={"two_theta_deg": grid}, name="intensity")


def test_curves_in_time_order_stack_without_notes():
    times = pd.date_range("2026-01-01", periods=3, freq="10min")
    series = stack_curves([_curve(k) for k in range(3)], times=times, label="patterns")
    np.testing.assert_array_equal(series.isel(two_theta_deg=0).values, [0, 1, 2])
    np.testing.assert_allclose(series["elapsed_s"].values, [0, 600, 1200])
    assert series.attrs["battlab"]["notes"] == []


def test_out_of_order_times_are_sorted_with_a_warning_and_a_note():
    times = pd.to_datetime(["2026-01-01 00:20", "2026-01-01 00:00", "2026-01-01 00:10"])
    with pytest.warns(BattlabWarning, match="3 patterns were out of time order"):
        series = stack_curves([_curve(2), _curve(0), _curve(1)], times=times, label="patterns")
    # each curve travels with its own time
    np.testing.assert_array_equal(series.isel(two_theta_deg=0).values, [0, 1, 2])
    np.testing.assert_allclose(series["elapsed_s"].values, [0, 600, 1200])
    assert any("out of time order" in n for n in series.attrs["battlab"]["notes"])


def test_repeated_times_are_kept_in_file_order_with_a_warning():
    times = pd.to_datetime(["2026-01-01 00:00", "2026-01-01 00:10", "2026-01-01 00:10"])
    with pytest.warns(BattlabWarning, match="1 spectra share their acquisition time"):
        series = stack_curves([_curve(0), _curve(1), _curve(2)], times=times, label="spectra")
    np.testing.assert_array_equal(series.isel(two_theta_deg=0).values, [0, 1, 2])


def test_an_unreadable_time_is_refused_not_sorted_to_one_end():
    with pytest.raises(MissingDataError, match="1 of the patterns have an unreadable acquisition time"):
        stack_curves([_curve(0), _curve(1)], times=["2026-01-01 00:00", "NaT"], label="patterns")


def test_curves_on_other_grids_are_interpolated_onto_the_first_with_a_note():
    shifted = _curve(5.0, grid=np.linspace(10.05, 20.05, 11))
    series = stack_curves([_curve(1), shifted], times=pd.date_range("2026-01-01", periods=2, freq="h"),
                          label="patterns")
    assert np.isnan(series.values[1, 0]) and series.values[1, 5] == pytest.approx(5.0)
    assert "interpolated onto the first one" in series.attrs["battlab"]["notes"][0]
