"""Put a sensor time series on the cycling timeline.

The charge a sensor sample saw is the cycler's charge integrated up to that instant.
Cyclers log each row's current as the mean over the interval ending at the row
(:mod:`battlab.echem.cycling`), so the cumulative charge is exactly piecewise linear
between rows and is *interpolated* at the sensor times; the discrete labels (cycle,
half cycle, direction, current) are taken from the interval that contains the sample
(an as-of join onto the next cycler row). Potential is interpolated linearly.

Clocks: a sensor sample at ``sensor_time_s = t`` is matched to the cycler at
``test_time_s = t + clock_offset_s`` (or ``unix_time_s`` with ``time_basis="unix"``).
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd

from battlab.echem import cycling
from battlab.errors import BattlabWarning, InvalidParameterError, MissingDataError
from battlab.io import schema as S

__all__ = ["charge_timeline", "align_to_cycling", "FARADAY_C_MOL"]

FARADAY_C_MOL = 96485.33212

#: Columns the aligned table gains from the cycler.
TIMELINE_COLUMNS = ("test_time_s", "voltage_V", "current_A", "cycle", "half_cycle", "direction", "charge_mAh",
                    "charge_C", "soc")


def charge_timeline(echem: pd.DataFrame, *, cell_type: str = "auto",
                    rest_current_A: float | None = None) -> pd.DataFrame:
    """The cycling table as a timeline: labels plus cumulative net charge.

    Returns
    -------
    DataFrame
        test_time_s, unix_time_s (when known), voltage_V, current_A, direction, half_cycle,
        cycle, charge_mAh (cumulative net charge, positive = charge current, 0 at the
        first row), charge_C and soc: the position within each cycle's charge swing, 0 at
        the cycle's lowest net charge (end of discharge; a fully lithiated anode in a half
        cell) and 1 at its highest.
    """
    lab = cycling.label_cycles(echem, cell_type=cell_type, rest_current_A=rest_current_A)
    dq_mAh, _, _ = cycling._row_increments(lab)  # the same charge counting as summarize_cycles
    q = np.cumsum(dq_mAh)
    cols = [S.TEST_TIME] + ([S.UNIX_TIME] if S.UNIX_TIME in lab else []) + [S.VOLTAGE, S.CURRENT]
    out = lab[cols].copy()
    out["direction"] = lab[cycling.DIRECTION].to_numpy()
    out["half_cycle"] = lab[S.HALF_CYCLE].to_numpy()
    out["cycle"] = lab[S.CYCLE].to_numpy()
    out["charge_mAh"] = q
    out["charge_C"] = q * 3.6
    # A row's charge flows over the interval before it, so a cycle spans from the charge
    # at its first row's start (the previous row's value) onwards.
    q_prev = np.r_[0.0, q[:-1]]
    lo = pd.Series(np.minimum(q, q_prev)).groupby(out["cycle"].to_numpy()).transform("min").to_numpy()
    hi = pd.Series(np.maximum(q, q_prev)).groupby(out["cycle"].to_numpy()).transform("max").to_numpy()
    with np.errstate(invalid="ignore", divide="ignore"):
        out["soc"] = np.where(hi > lo, (q - lo) / (hi - lo), np.nan)
    out.attrs["battlab"] = dict(lab.attrs.get("battlab", {}))
    return out


def _timeline_from_sensor(sensor):
    """A cycling table built from potential and current the sensor file logged itself."""
    if not {"voltage_V", "current_A"} <= set(sensor.columns):
        return None
    echem = pd.DataFrame({S.TEST_TIME: sensor["sensor_time_s"].to_numpy(dtype=float),
                          S.VOLTAGE: sensor["voltage_V"].to_numpy(dtype=float),
                          S.CURRENT: sensor["current_A"].to_numpy(dtype=float)})
    if "unix_time_s" in sensor:
        echem[S.UNIX_TIME] = sensor["unix_time_s"].to_numpy(dtype=float)
    echem.attrs["battlab"] = {"source_name": sensor.attrs.get("battlab", {}).get("source_name", "sensor file")}
    return echem


def align_to_cycling(sensor: pd.DataFrame, echem: pd.DataFrame | None = None, *, clock_offset_s: float = 0.0,
                     time_basis: str = "test", cell_type: str = "auto",
                     rest_current_A: float | None = None) -> pd.DataFrame:
    """Join a sensor table onto the cycling timeline (tidy, one row per sensor sample).

    Parameters
    ----------
    sensor : DataFrame
        From :func:`battlab.sensors.read_sensor_table` (``sensor_time_s`` + sensor columns).
    echem : DataFrame, optional
        Canonical cycling table. When omitted, the sensor's own ``voltage_V`` and
        ``current_A`` columns are used (EQCM potentiostats often log them).
    clock_offset_s : float
        Cycler time = sensor time + offset (seconds). Use it when the two instruments
        were started at different moments.
    time_basis : {"test", "unix"}
        Match ``sensor_time_s`` to ``test_time_s``, or the sensor's ``unix_time_s`` to
        the cycler's ``unix_time_s`` (both clocks absolute).

    Returns
    -------
    DataFrame
        The sensor columns plus test_time_s, unix_time_s (when known), voltage_V,
        current_A, cycle, half_cycle, direction, charge_mAh, charge_C and soc (see
        :func:`charge_timeline`). Samples outside the cycling record are dropped (a
        :class:`~battlab.errors.BattlabWarning` says how many).
    """
    if time_basis not in ("test", "unix"):
        raise InvalidParameterError("time_basis must be 'test' or 'unix'.")
    if not np.isfinite(clock_offset_s):
        raise InvalidParameterError("clock_offset_s must be a finite number of seconds.")
    if echem is None:
        echem = _timeline_from_sensor(sensor)
        if echem is None:
            raise MissingDataError(
                "no cycling data to align with: give the cycler file (--echem / the cycling upload) or a "
                "sensor file that also logs potential and current.")
    tl = charge_timeline(echem, cell_type=cell_type, rest_current_A=rest_current_A)
    if time_basis == "unix":
        if "unix_time_s" not in sensor or S.UNIX_TIME not in tl:
            raise MissingDataError("time_basis='unix' needs absolute time in both the sensor file and the "
                                   "cycling file; use time_basis='test' with a clock offset instead.")
        t_cyc = tl[S.UNIX_TIME].to_numpy(dtype=float)
        t_sen = sensor["unix_time_s"].to_numpy(dtype=float) + clock_offset_s
    else:
        t_cyc = tl[S.TEST_TIME].to_numpy(dtype=float)
        t_sen = sensor["sensor_time_s"].to_numpy(dtype=float) + clock_offset_s
    inside = (t_sen >= t_cyc[0]) & (t_sen <= t_cyc[-1])
    if not inside.any():
        raise MissingDataError(
            f"the sensor record ({t_sen.min():.0f}–{t_sen.max():.0f} s on the cycler clock) does not overlap "
            f"the cycling record ({t_cyc[0]:.0f}–{t_cyc[-1]:.0f} s); set the clock offset.")
    if not inside.all():
        warnings.warn(f"{int((~inside).sum())} sensor samples fall outside the cycling record and were left "
                      "out.", BattlabWarning, stacklevel=2)
    sen = sensor.loc[inside].reset_index(drop=True)
    t = t_sen[inside]
    out = sen.copy()
    for col in ("voltage_V", "current_A"):
        if col in out:
            out = out.rename(columns={col: f"sensor_{col}"})
    # Each cycler row closes the interval before it: a sample belongs to the next row.
    row = np.clip(np.searchsorted(t_cyc, t, side="left"), 0, len(t_cyc) - 1)
    out["test_time_s"] = np.interp(t, t_cyc, tl[S.TEST_TIME].to_numpy(dtype=float)) if time_basis == "unix" else t
    if S.UNIX_TIME in tl:
        out["unix_time_s"] = np.interp(t, t_cyc, tl[S.UNIX_TIME].to_numpy(dtype=float))
    out["voltage_V"] = np.interp(t, t_cyc, tl[S.VOLTAGE].to_numpy(dtype=float))
    for col in ("current_A", "cycle", "half_cycle", "direction"):
        out[col] = tl[col].to_numpy()[row]
    out["charge_mAh"] = np.interp(t, t_cyc, tl["charge_mAh"].to_numpy())
    out["charge_C"] = out["charge_mAh"] * 3.6
    grp = out.groupby("cycle")["charge_mAh"]
    lo, hi = grp.transform("min").to_numpy(), grp.transform("max").to_numpy()
    with np.errstate(invalid="ignore", divide="ignore"):
        out["soc"] = np.where(hi > lo, (out["charge_mAh"].to_numpy() - lo) / (hi - lo), np.nan)
    meta = dict(sensor.attrs.get("battlab", {}))
    meta["alignment"] = {"clock_offset_s": float(clock_offset_s), "time_basis": time_basis,
                         "cell_type": cell_type, "samples_outside": int((~inside).sum()),
                         "opening_half": tl.attrs.get("battlab", {}).get("cycling", {}).get("opening_half")}
    out.attrs["battlab"] = meta
    return out
