"""Frame ↔ cycler synchronisation on a cycling table with exactly known charge."""

import warnings

import numpy as np
import pandas as pd
import pytest

from battlab.datasets.optical import make_electrode_movie
from battlab.errors import BattlabWarning, InvalidParameterError, MissingDataError
from battlab.imaging import open_movie, per_frame_echem


def _cycler(*, dt=1.0, i_A=2e-3, t_half=1800.0, unix0=1.7e9):
    """Charge at +i for t_half, then discharge at -i: the exact net charge at t is known."""
    t = np.arange(0.0, 2 * t_half + dt / 2, dt)
    current = np.where(t <= t_half, i_A, -i_A)
    current[0] = 0.0
    voltage = 3.0 + 1e-4 * t
    return pd.DataFrame({"test_time_s": t, "unix_time_s": unix0 + t, "voltage_V": voltage, "current_A": current})


def _exact_charge_mAh(t, i_A=2e-3, t_half=1800.0):
    # Cycler rows log the mean current over the interval ending at the row.
    return np.where(t <= t_half, i_A * t, i_A * t_half - i_A * (t - t_half)) / 3.6


def test_known_charge_voltage_and_current_at_each_frame():
    echem = _cycler()
    frame_t = np.arange(0.0, 3000.0, 37.3)  # not on the cycler's 1 s grid
    offset = 120.0
    out = per_frame_echem(frame_t, echem, clock_offset_s=offset)
    assert len(out) == len(frame_t) and list(out["frame"]) == list(range(len(frame_t)))
    t_cyc = frame_t + offset
    np.testing.assert_allclose(out["test_time_s"], t_cyc)
    np.testing.assert_allclose(out["voltage_V"], 3.0 + 1e-4 * t_cyc, atol=1e-12)
    # ∫I dt within 1e-9 mAh of the exact piecewise-linear charge.
    np.testing.assert_allclose(out["charge_mAh"], _exact_charge_mAh(t_cyc), atol=1e-9)
    np.testing.assert_allclose(out["capacity_mAh"], _exact_charge_mAh(t_cyc) - _exact_charge_mAh(t_cyc[0]),
                               atol=1e-9)
    np.testing.assert_allclose(out["charge_C"], out["charge_mAh"] * 3.6)
    expected_current = np.where(t_cyc <= 1800.0, 2e-3, -2e-3)
    np.testing.assert_allclose(out["current_A"], expected_current)
    assert set(out["direction"]) == {1, -1}


def test_movie_input_uses_its_time_axis(tmp_path):
    demo = make_electrode_movie(n_frames=6, shape=(16, 16), frame_interval_s=60.0)
    out = per_frame_echem(demo.data, _cycler(), clock_offset_s=30.0)
    np.testing.assert_allclose(out["time_s"], np.arange(6) * 60.0)
    np.testing.assert_allclose(out["charge_mAh"], _exact_charge_mAh(np.arange(6) * 60.0 + 30.0), atol=1e-9)
    assert out.attrs["battlab"]["alignment"]["clock_offset_s"] == 30.0


def test_frames_outside_the_record_keep_rows_with_nan():
    echem = _cycler()
    frame_t = np.array([-50.0, 0.0, 100.0, 3500.0, 3700.0])
    with pytest.warns(BattlabWarning, match="2 of 5 frames"):
        out = per_frame_echem(frame_t, echem)
    assert len(out) == 5
    assert out["voltage_V"].isna().tolist() == [True, False, False, False, True]
    assert out["capacity_mAh"].iloc[1] == 0.0  # counted from the first frame with data


def test_no_overlap_and_unknown_time_are_explained(tmp_path):
    with pytest.raises(MissingDataError, match="offset"):
        per_frame_echem([1e6, 1e6 + 10], _cycler())
    arr = make_electrode_movie(n_frames=3, shape=(16, 16)).data.values
    import tifffile

    tifffile.imwrite(tmp_path / "m.tif", arr[..., 0], photometric="minisblack")
    movie = open_movie(tmp_path / "m.tif", pixel_size_um=1.0)
    with pytest.raises(MissingDataError, match="frame_rate_fps"):
        per_frame_echem(movie, _cycler())
    with pytest.raises(InvalidParameterError):
        per_frame_echem([0.0, 1.0], _cycler(), clock_offset_s=float("nan"))
    with pytest.raises(InvalidParameterError, match="DataFrame"):
        per_frame_echem([0.0, 1.0], {"test_time_s": [0, 1]})


def test_unix_time_basis():
    echem = _cycler(unix0=1.7e9)
    frame_t = np.arange(0.0, 600.0, 60.0)
    out = per_frame_echem(frame_t, echem, time_basis="unix", movie_start_unix_s=1.7e9 + 500.0)
    np.testing.assert_allclose(out["test_time_s"], frame_t + 500.0)
    np.testing.assert_allclose(out["charge_mAh"], _exact_charge_mAh(frame_t + 500.0), atol=1e-9)
    with pytest.raises(MissingDataError, match="movie_start_unix_s"):
        per_frame_echem(frame_t, echem, time_basis="unix")


def test_no_warning_when_all_frames_inside():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        per_frame_echem(np.arange(0.0, 100.0, 10.0), _cycler())
