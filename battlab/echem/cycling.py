"""Galvanostatic charge/discharge cycling.

Half cycles and cycles are found from the sign of the current, not from the cycler's
own cycle column (vendors disagree on when a cycle starts). Rest rows (|I| below a
threshold) belong to the half cycle before them; a constant-voltage hold keeps the
sign of its current and so stays in its half cycle.

Capacity convention: each row's current is the mean current over the interval that
ends at that row (cyclers log <I>), so a half cycle's capacity is Σ I·Δt over its rows.
The first row of a file contributes nothing.

Charge and discharge follow :mod:`battlab.io.schema` (charge = positive current).
Coulombic efficiency is Q_out / Q_in of a cycle, where "in" is the half cycle each cycle
starts with: charge for full cells and cathode half cells, discharge (lithiation) for
anode half cells.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd

from battlab.errors import BattlabWarning, InvalidParameterError, MissingDataError
from battlab.io import schema as S

__all__ = [
    "clean_timeseries",
    "label_cycles",
    "summarize_cycles",
    "voltage_profiles",
    "incremental_capacity",
    "differential_voltage",
    "find_dqdv_peaks",
    "rate_capability",
    "CELL_TYPES",
]

CELL_TYPES = ("auto", "full_cell", "cathode_half", "anode_half")
DIRECTION = "direction"  # +1 charge, -1 discharge, 0 rest
#: No cell, half cell or small module reaches this: a voltage column above it was in mV.
PLAUSIBLE_MAX_VOLTAGE_V = 60.0
#: About three years; a longer record is most likely a millisecond clock read as seconds.
PLAUSIBLE_MAX_DURATION_S = 1e8


def _require(df, columns):
    missing = [c for c in columns if c not in df.columns]
    if missing:
        raise MissingDataError(
            f"the table lacks {', '.join(missing)}; battlab needs {', '.join(S.REQUIRED_COLUMNS)}. "
            "Load files with battlab.load so vendor columns are mapped."
        )


def clean_timeseries(df: pd.DataFrame) -> pd.DataFrame:
    """Make a cycling table safe to integrate; warn about every repair.

    - rows with NaN/inf time, voltage or current are dropped;
    - if test time goes backwards and a monotonic Unix time exists, test time is rebuilt
      from it (a cycler restart); otherwise rows are sorted by time (stable);
    - rows repeating an earlier timestamp are dropped (the first is kept), because a
      zero Δt cannot carry charge;
    - unit mix-ups are warned about, not guessed at: voltages beyond
      :data:`PLAUSIBLE_MAX_VOLTAGE_V` (a millivolt column) and a record longer than
      :data:`PLAUSIBLE_MAX_DURATION_S` (a millisecond clock, which makes every capacity
      1000 times too large).

    The result depends only on the set of rows, not on their order (for distinct times).
    """
    _require(df, S.REQUIRED_COLUMNS)
    out = df
    values = out[[S.TEST_TIME, S.VOLTAGE, S.CURRENT]].to_numpy(dtype=float)
    finite = np.isfinite(values).all(axis=1)
    if not finite.all():
        warnings.warn(f"dropped {int((~finite).sum())} rows with missing or non-finite time, voltage "
                      "or current.", BattlabWarning, stacklevel=2)
        out = out.loc[finite]
    t = out[S.TEST_TIME].to_numpy(dtype=float)
    if len(t) > 1 and (np.diff(t) < 0).any():
        unix = out[S.UNIX_TIME].to_numpy(dtype=float) if S.UNIX_TIME in out else None
        if unix is not None and np.isfinite(unix).all() and (np.diff(unix) >= 0).all():
            warnings.warn("test time restarts inside the file; rebuilt it from the absolute (Unix) "
                          "time.", BattlabWarning, stacklevel=2)
            out = out.copy()
            out[S.TEST_TIME] = unix - unix[0] + t[0]
        else:
            warnings.warn("rows were not in time order; sorted them by test time.", BattlabWarning,
                          stacklevel=2)
            out = out.sort_values(S.TEST_TIME, kind="stable")
        t = out[S.TEST_TIME].to_numpy(dtype=float)
    if len(t) > 1:
        dup = np.r_[False, np.diff(t) == 0]
        if dup.any():
            warnings.warn(f"dropped {int(dup.sum())} rows that repeat an earlier timestamp.",
                          BattlabWarning, stacklevel=2)
            out = out.loc[~dup]
    _warn_unit_mixups(t, out[S.VOLTAGE].to_numpy(dtype=float))
    if out is df:
        return df
    out = out.reset_index(drop=True)
    out.attrs = dict(df.attrs)
    return out


def _warn_unit_mixups(time_s, voltage_V):
    """Warn where a column's values cannot be in the unit its name claims (see clean_timeseries)."""
    if len(voltage_V) and np.percentile(np.abs(voltage_V), 99) > PLAUSIBLE_MAX_VOLTAGE_V:
        warnings.warn(f"voltages reach {np.max(np.abs(voltage_V)):,.4g} V, beyond any cell: the voltage column "
                      "looks like millivolts. Load the file with voltage_unit='mV' (or divide the column by 1000); "
                      "voltage-based results (dQ/dV, averages, cut-offs) are 1000 times off until then.",
                      BattlabWarning, stacklevel=3)
    if len(time_s) > 1 and time_s[-1] - time_s[0] > PLAUSIBLE_MAX_DURATION_S:
        years = (time_s[-1] - time_s[0]) / 3.156e7
        warnings.warn(f"the record spans {years:,.1f} years: the time column looks like milliseconds read as "
                      "seconds, which makes every capacity 1000 times too large. Load the file with time_unit='ms' "
                      "(or divide the column by 1000).", BattlabWarning, stacklevel=3)


def _rest_threshold(current, rest_current_A):
    if rest_current_A is not None:
        if rest_current_A < 0:
            raise InvalidParameterError("rest_current_A must be >= 0.")
        return float(rest_current_A)
    mag = np.abs(current)
    top = np.percentile(mag, 99) if len(mag) else 0.0
    # 0.1 % of the largest currents: below the C/50 tail of a CV hold at 2C.
    return max(1e-12, 1e-3 * top)


def _first_direction(cell_type, directions_nonrest):
    if cell_type not in CELL_TYPES:
        raise InvalidParameterError(f"cell_type must be one of {CELL_TYPES}, not {cell_type!r}.")
    if cell_type == "anode_half":
        return -1
    if cell_type in ("full_cell", "cathode_half"):
        return 1
    return int(directions_nonrest[0]) if len(directions_nonrest) else 1


def label_cycles(df: pd.DataFrame, *, cell_type: str = "auto", rest_current_A: float | None = None,
                 clean: bool = True) -> pd.DataFrame:
    """Add ``direction``, ``half_cycle`` and ``cycle`` columns from the current sign.

    Parameters
    ----------
    df : DataFrame
        Canonical cycling table.
    cell_type : {"auto", "full_cell", "cathode_half", "anode_half"}
        Sets which half cycle opens a cycle: charge for full and cathode half cells,
        discharge for anode half cells. "auto" takes the direction of the first current.
    rest_current_A : float, optional
        |I| at or below this is rest. Default: 0.1 % of the 99th percentile of |I|.
    clean : bool
        Run :func:`clean_timeseries` first.

    Returns
    -------
    DataFrame
        A copy with ``direction`` (+1/−1/0), ``half_cycle`` (1, 2, …; 0 before the first
        current) and ``cycle`` (1, 2, …; 0 for anything before the first opening half).
        ``attrs["battlab"]["cycling"]`` records the rule used.
    """
    out = clean_timeseries(df) if clean else df
    current = out[S.CURRENT].to_numpy(dtype=float)
    thr = _rest_threshold(current, rest_current_A)
    direction = np.where(current > thr, 1, np.where(current < -thr, -1, 0)).astype(np.int8)
    active = np.flatnonzero(direction)
    dir_active = direction[active]
    first = _first_direction(cell_type, dir_active)

    half_active = np.ones(len(active), dtype=np.int64)
    if len(active) > 1:
        half_active[1:] += np.cumsum(dir_active[1:] != dir_active[:-1])
    # Rest rows inherit the half cycle of the last active row before them.
    last_active = np.maximum.accumulate(np.where(direction != 0, np.arange(len(direction)), -1))
    pos_in_active = np.searchsorted(active, last_active)
    half = np.where(last_active >= 0, half_active[np.clip(pos_in_active, 0, max(len(active) - 1, 0))]
                    if len(active) else 0, 0)

    # Direction of each half cycle -> cycle counter increments on every opening half.
    n_half = int(half_active[-1]) if len(active) else 0
    half_dir = np.zeros(n_half + 1, dtype=np.int8)
    if len(active):
        starts = np.r_[0, np.flatnonzero(np.diff(half_active)) + 1]
        half_dir[half_active[starts]] = dir_active[starts]
    opens = half_dir == first
    opens[0] = False
    cycle_of_half = np.cumsum(opens)
    cycle = cycle_of_half[half]

    labelled = out.copy()
    labelled[DIRECTION] = direction
    labelled[S.HALF_CYCLE] = half.astype(np.int64)
    labelled[S.CYCLE] = cycle.astype(np.int64)
    meta = dict(labelled.attrs.get("battlab", {}))
    resolved = {1: "charge", -1: "discharge"}[first]
    meta["cycling"] = {"cell_type": cell_type, "opening_half": resolved, "rest_current_A": thr}
    labelled.attrs["battlab"] = meta
    return labelled


def _ensure_labels(df, cell_type, rest_current_A):
    if {S.HALF_CYCLE, S.CYCLE, DIRECTION} <= set(df.columns) and "cycling" in df.attrs.get("battlab", {}):
        return df
    return label_cycles(df, cell_type=cell_type, rest_current_A=rest_current_A)


def _row_increments(df):
    """Charge (mAh, signed) and energy (mWh, signed) carried by each row's interval."""
    t = df[S.TEST_TIME].to_numpy(dtype=float)
    i = df[S.CURRENT].to_numpy(dtype=float)
    v = df[S.VOLTAGE].to_numpy(dtype=float)
    dt = np.r_[0.0, np.diff(t)]
    dq_mAh = i * dt / 3.6
    v_mid = np.r_[v[0], 0.5 * (v[1:] + v[:-1])] if len(v) else v
    # Across a change of direction the previous voltage belongs to the other half.
    same = np.r_[True, df[DIRECTION].to_numpy()[1:] == df[DIRECTION].to_numpy()[:-1]]
    v_mid = np.where(same, v_mid, v)
    return dq_mAh, dq_mAh * v_mid, dt


def summarize_cycles(df: pd.DataFrame, *, active_mass_mg: float | None = None,
                     area_cm2: float | None = None, cell_type: str = "auto",
                     nominal_capacity_mAh: float | None = None, retention_reference_cycle: int = 1,
                     rest_current_A: float | None = None) -> pd.DataFrame:
    """One row per cycle: capacities, efficiencies, mean voltages, retention.

    Parameters
    ----------
    df : DataFrame
        Canonical cycling table (labelled or not).
    active_mass_mg : float, optional
        Active material mass; adds specific capacities (mAh/g). Never defaulted.
    area_cm2 : float, optional
        Electrode area; adds areal capacities (mAh/cm²).
    cell_type : {"auto", "full_cell", "cathode_half", "anode_half"}
        Which half cycle is "in" (see module docs).
    nominal_capacity_mAh : float, optional
        Sets 1C for the C-rate columns; default the largest "out" capacity in the test.
    retention_reference_cycle : int
        Retention is the "out" capacity relative to this cycle's.

    Returns
    -------
    DataFrame
        Columns: cycle, charge_capacity_mAh, discharge_capacity_mAh, in/out capacities,
        coulombic_efficiency_pct, charge/discharge energy (mWh), energy_efficiency_pct,
        mean charge/discharge voltage (V), voltage_hysteresis_V, capacity_retention_pct,
        irreversible_capacity_mAh and its cumulative sum, charge/discharge C-rates,
        duration, and the specific/areal columns when mass/area are given.

    Examples
    --------
    >>> from battlab.datasets import make_cycling
    >>> demo = make_cycling(n_cycles=5, rate_block=())
    >>> summary = summarize_cycles(demo.data, active_mass_mg=12.5)
    >>> bool((summary["coulombic_efficiency_pct"] <= 100.0).all())
    True
    """
    for name, value in (("active_mass_mg", active_mass_mg), ("area_cm2", area_cm2),
                        ("nominal_capacity_mAh", nominal_capacity_mAh)):
        if value is not None and not (np.isfinite(value) and value > 0):
            raise InvalidParameterError(f"{name} must be a positive number, not {value!r}.")
    lab = _ensure_labels(df, cell_type, rest_current_A)
    opening = lab.attrs["battlab"]["cycling"]["opening_half"]
    in_dir = 1 if opening == "charge" else -1

    dq, de, dt = _row_increments(lab)
    cyc = lab[S.CYCLE].to_numpy()
    direction = lab[DIRECTION].to_numpy()
    n = int(cyc.max()) + 1 if len(cyc) else 1
    charge = direction > 0
    disc = direction < 0
    q_ch = np.bincount(cyc, weights=np.where(charge, dq, 0.0), minlength=n)
    q_dis = -np.bincount(cyc, weights=np.where(disc, dq, 0.0), minlength=n)
    e_ch = np.bincount(cyc, weights=np.where(charge, de, 0.0), minlength=n)
    e_dis = -np.bincount(cyc, weights=np.where(disc, de, 0.0), minlength=n)
    t_ch = np.bincount(cyc, weights=np.where(charge, dt, 0.0), minlength=n)
    t_dis = np.bincount(cyc, weights=np.where(disc, dt, 0.0), minlength=n)
    t_all = np.bincount(cyc, weights=dt, minlength=n)
    # Mean |I| (mA) while current flows sets the C-rate: mAh·3600/s = mA.
    i_ch = np.divide(q_ch * 3600.0, t_ch, out=np.full(n, np.nan), where=t_ch > 0)
    i_dis = np.divide(q_dis * 3600.0, t_dis, out=np.full(n, np.nan), where=t_dis > 0)

    keep = np.arange(n) >= 1
    present = keep & ((q_ch > 0) | (q_dis > 0))
    idx = np.flatnonzero(present)
    s = pd.DataFrame({"cycle": idx})
    s["charge_capacity_mAh"] = q_ch[idx]
    s["discharge_capacity_mAh"] = q_dis[idx]
    q_in = q_ch[idx] if in_dir == 1 else q_dis[idx]
    q_out = q_dis[idx] if in_dir == 1 else q_ch[idx]
    s["in_capacity_mAh"] = q_in
    s["out_capacity_mAh"] = q_out
    complete = (q_in > 0) & (q_out > 0)
    s["coulombic_efficiency_pct"] = np.where(complete, 100.0 * q_out / np.where(q_in > 0, q_in, 1), np.nan)
    s["charge_energy_mWh"] = e_ch[idx]
    s["discharge_energy_mWh"] = e_dis[idx]
    e_in = e_ch[idx] if in_dir == 1 else e_dis[idx]
    e_out = e_dis[idx] if in_dir == 1 else e_ch[idx]
    # For an anode half cell the cell does work on lithiation; ratio kept as out/in like CE.
    s["energy_efficiency_pct"] = np.where(complete & (e_in > 0), 100.0 * e_out / np.where(e_in > 0, e_in, 1),
                                          np.nan)
    with np.errstate(invalid="ignore", divide="ignore"):
        s["mean_charge_voltage_V"] = np.where(q_ch[idx] > 0, e_ch[idx] / q_ch[idx], np.nan)
        s["mean_discharge_voltage_V"] = np.where(q_dis[idx] > 0, e_dis[idx] / q_dis[idx], np.nan)
    s["voltage_hysteresis_V"] = s["mean_charge_voltage_V"] - s["mean_discharge_voltage_V"]
    ref = s.loc[s["cycle"] == retention_reference_cycle, "out_capacity_mAh"]
    ref_q = float(ref.iloc[0]) if len(ref) and ref.iloc[0] > 0 else np.nan
    s["capacity_retention_pct"] = 100.0 * s["out_capacity_mAh"] / ref_q
    s["irreversible_capacity_mAh"] = np.where(complete, q_in - q_out, np.nan)
    s["cumulative_irreversible_capacity_mAh"] = np.nancumsum(s["irreversible_capacity_mAh"].to_numpy())
    nominal = nominal_capacity_mAh
    if nominal is None:
        nominal = float(np.nanmax(q_out)) if len(q_out) and np.nanmax(q_out) > 0 else np.nan
    s["charge_c_rate"] = i_ch[idx] / nominal
    s["discharge_c_rate"] = i_dis[idx] / nominal
    s["duration_h"] = t_all[idx] / 3600.0
    if active_mass_mg is not None:
        g = active_mass_mg * 1e-3
        for col in ("charge_capacity_mAh", "discharge_capacity_mAh", "in_capacity_mAh", "out_capacity_mAh"):
            s[col.replace("_mAh", "_mAh_g")] = s[col] / g
    if area_cm2 is not None:
        for col in ("charge_capacity_mAh", "discharge_capacity_mAh"):
            s[col.replace("_mAh", "_mAh_cm2")] = s[col] / area_cm2
    s.attrs["battlab"] = {
        "opening_half": opening, "cell_type": cell_type, "nominal_capacity_mAh": nominal,
        "nominal_capacity_source": "given" if nominal_capacity_mAh is not None else "largest out capacity",
        "retention_reference_cycle": retention_reference_cycle,
        "rest_current_A": lab.attrs["battlab"]["cycling"]["rest_current_A"],
    }
    return s


def voltage_profiles(df: pd.DataFrame, *, cycles=None, cell_type: str = "auto",
                     active_mass_mg: float | None = None, rest_current_A: float | None = None,
                     max_points_per_half: int | None = None) -> pd.DataFrame:
    """Voltage against capacity, time and state of charge for each half cycle.

    Returns a tidy table: cycle, half_cycle, direction ("charge"/"discharge"),
    capacity_mAh (from 0 within the half cycle), specific_capacity_mAh_g (with mass),
    time_h (from the half cycle's start), soc (0–1 of that half cycle's capacity,
    rising on charge, falling on discharge) and voltage_V. Rest rows are left out.
    ``max_points_per_half`` thins long half cycles evenly for plotting.
    """
    lab = _ensure_labels(df, cell_type, rest_current_A)
    dq, _, _ = _row_increments(lab)
    mask = lab[DIRECTION].to_numpy() != 0
    if cycles is not None:
        mask &= np.isin(lab[S.CYCLE].to_numpy(), np.atleast_1d(cycles))
    sub = lab.loc[mask, [S.CYCLE, S.HALF_CYCLE, DIRECTION, S.TEST_TIME, S.VOLTAGE]]
    q = np.abs(dq[mask])
    half = sub[S.HALF_CYCLE].to_numpy()
    if len(half) == 0:
        return pd.DataFrame(columns=["cycle", "half_cycle", "direction", "capacity_mAh", "time_h", "soc",
                                     "voltage_V"])
    starts = np.r_[True, half[1:] != half[:-1]]
    group = np.cumsum(starts) - 1
    cum = np.cumsum(q)
    offset = (cum - q)[starts]
    cap = cum - offset[group]
    t = sub[S.TEST_TIME].to_numpy()
    t0 = (t - np.r_[0.0, np.diff(t)])[starts]  # the interval before the first row counts
    total = np.bincount(group, weights=q)
    dirs = sub[DIRECTION].to_numpy()
    with np.errstate(invalid="ignore", divide="ignore"):
        frac = cap / total[group]
    soc = np.where(dirs > 0, frac, 1.0 - frac)
    out = pd.DataFrame({
        "cycle": sub[S.CYCLE].to_numpy(), "half_cycle": half,
        "direction": np.where(dirs > 0, "charge", "discharge"),
        "capacity_mAh": cap, "time_h": (t - t0[group]) / 3600.0, "soc": soc,
        "voltage_V": sub[S.VOLTAGE].to_numpy(),
    })
    if active_mass_mg is not None:
        out["specific_capacity_mAh_g"] = out["capacity_mAh"] / (active_mass_mg * 1e-3)
    if max_points_per_half:
        counts = np.bincount(group)
        stride = np.maximum(1, np.ceil(counts / max_points_per_half)).astype(int)
        pos = np.arange(len(group)) - np.r_[0, np.cumsum(counts)[:-1]][group]
        last = pos == counts[group] - 1
        out = out.loc[(pos % stride[group] == 0) | last].reset_index(drop=True)
    return out


def _cv_mask(i_abs, v, direction):
    """Rows of a constant-voltage hold at the end of a half cycle."""
    if len(i_abs) < 5:
        return np.zeros(len(i_abs), dtype=bool)
    i_cc = np.median(i_abs[: max(3, len(i_abs) // 2)])
    v_end = v[-1]
    return (i_abs < 0.9 * i_cc) & (np.abs(v - v_end) < 0.005)


def _odd(n):
    n = max(3, int(round(n)))
    return n if n % 2 else n + 1


def incremental_capacity(df: pd.DataFrame, *, cycles=None, voltage_step_V: float = 0.001,
                         smoothing: str = "savgol", window_V: float = 0.015, polyorder: int = 2,
                         cell_type: str = "auto", rest_current_A: float | None = None) -> pd.DataFrame:
    """dQ/dV (incremental capacity) of each half cycle on a uniform voltage grid.

    Rule for non-monotonic voltage: within a half cycle the voltage must advance with
    capacity (up on charge, down on discharge). A constant-voltage hold at the end is left
    out (count in ``attrs["battlab"]["dropped_rows"]``); noise reversals and short
    relaxations are handled by an isotonic (monotone least-squares) fit of voltage against
    capacity, which pools each run of reversing rows into one point at their mean voltage
    and capacity (count in ``attrs["battlab"]["pooled_rows"]``). Unlike keeping only
    rows that beat the running maximum, pooling uses every row and does not shift the
    curve towards the noise extremes. Capacity is interpolated onto the grid
    and differentiated with a Savitzky–Golay filter ("savgol", window ``window_V``), a
    smoothing spline ("spline", smoothing scale ``window_V``) or plain differences ("none").

    Returns
    -------
    DataFrame
        cycle, half_cycle, direction, voltage_V, capacity_mAh and dqdv_mAh_V
        (positive on charge, negative on discharge, the usual plotting convention).
    """
    if voltage_step_V <= 0 or window_V <= 0:
        raise InvalidParameterError("voltage_step_V and window_V must be positive.")
    if smoothing not in ("savgol", "spline", "none"):
        raise InvalidParameterError("smoothing must be 'savgol', 'spline' or 'none'.")
    from scipy.signal import savgol_filter

    lab = _ensure_labels(df, cell_type, rest_current_A)
    dq, _, _ = _row_increments(lab)
    mask = lab[DIRECTION].to_numpy() != 0
    if cycles is not None:
        mask &= np.isin(lab[S.CYCLE].to_numpy(), np.atleast_1d(cycles))
    half = lab[S.HALF_CYCLE].to_numpy()[mask]
    cyc = lab[S.CYCLE].to_numpy()[mask]
    dirs = lab[DIRECTION].to_numpy()[mask]
    v_all = lab[S.VOLTAGE].to_numpy(dtype=float)[mask]
    i_all = np.abs(lab[S.CURRENT].to_numpy(dtype=float)[mask])
    q_all = np.abs(dq[mask])
    pieces, dropped = [], {"cv_hold": 0, "short_half_cycles": 0}
    pooled = {"non_monotonic": 0}
    bounds = np.r_[0, np.flatnonzero(np.diff(half)) + 1, len(half)]
    for a, b in zip(bounds[:-1], bounds[1:]):
        sign = dirs[a]
        v = v_all[a:b] * sign  # work on a rising voltage
        q = np.cumsum(q_all[a:b])
        cv = _cv_mask(i_all[a:b], v_all[a:b], sign)
        dropped["cv_hold"] += int(cv.sum())
        v, q = v[~cv], q[~cv]
        if len(v) < 5:
            dropped["short_half_cycles"] += 1
            continue
        v, q = _monotone_voltage(v, q)
        pooled["non_monotonic"] += (b - a) - int(cv.sum()) - len(v)
        lo = np.ceil(v[0] / voltage_step_V) * voltage_step_V
        hi = np.floor(v[-1] / voltage_step_V) * voltage_step_V
        n_grid = int(round((hi - lo) / voltage_step_V)) + 1
        window = _odd(window_V / voltage_step_V)
        if n_grid < max(window, 5):
            dropped["short_half_cycles"] += 1
            continue
        grid = lo + voltage_step_V * np.arange(n_grid)
        q_grid = np.interp(grid, v, q)
        if smoothing == "savgol":
            dqdv = savgol_filter(q_grid, window, min(polyorder, window - 1), deriv=1, delta=voltage_step_V)
        elif smoothing == "spline":
            from scipy.interpolate import make_smoothing_spline

            spline = make_smoothing_spline(grid, q_grid, lam=(window_V / 2.0) ** 3 * 1e-1)
            dqdv = spline.derivative()(grid)
        else:
            dqdv = np.gradient(q_grid, voltage_step_V)
        pieces.append(pd.DataFrame({
            "cycle": cyc[a], "half_cycle": half[a],
            "direction": "charge" if sign > 0 else "discharge",
            "voltage_V": grid * sign, "capacity_mAh": q_grid, "dqdv_mAh_V": dqdv * sign,
        }))
    if pieces:
        out = pd.concat(pieces, ignore_index=True)
    else:
        out = pd.DataFrame(columns=["cycle", "half_cycle", "direction", "voltage_V", "capacity_mAh",
                                    "dqdv_mAh_V"])
    out.attrs["battlab"] = {"dropped_rows": dropped, "pooled_rows": pooled["non_monotonic"],
                            "voltage_step_V": voltage_step_V,
                            "smoothing": smoothing, "window_V": window_V}
    return out


def _monotone_voltage(v_rising, q):
    """Isotonic fit of a (should-be) rising voltage against capacity, pooled to unique points."""
    from scipy.optimize import isotonic_regression

    fitted = isotonic_regression(v_rising, increasing=True).x
    # Fitted values are constant over each pooled block; collapse each block to its mean.
    starts = np.r_[0, np.flatnonzero(np.diff(fitted) > 0) + 1]
    counts = np.diff(np.r_[starts, len(fitted)])
    return fitted[starts], np.add.reduceat(q, starts) / counts


def find_dqdv_peaks(ica: pd.DataFrame, *, min_prominence_fraction: float = 0.05) -> pd.DataFrame:
    """Peaks of |dQ/dV| in each half cycle of :func:`incremental_capacity` output.

    Returns cycle, half_cycle, direction, voltage_V and height_mAh_V per peak, with
    peaks lower than ``min_prominence_fraction`` of the half cycle's largest ignored.
    """
    from scipy.signal import find_peaks

    rows = []
    for (cycle, half), g in ica.groupby(["cycle", "half_cycle"], sort=True):
        y = np.abs(g["dqdv_mAh_V"].to_numpy())
        if len(y) < 3 or not np.isfinite(y).any():
            continue
        idx, _ = find_peaks(y, prominence=min_prominence_fraction * np.nanmax(y))
        for k in idx:
            rows.append({"cycle": cycle, "half_cycle": half, "direction": g["direction"].iloc[0],
                         "voltage_V": g["voltage_V"].iloc[k], "height_mAh_V": y[k]})
    return pd.DataFrame(rows, columns=["cycle", "half_cycle", "direction", "voltage_V", "height_mAh_V"])


def differential_voltage(df: pd.DataFrame, *, cycles=None, capacity_step_mAh: float | None = None,
                         window_fraction: float = 0.02, cell_type: str = "auto",
                         rest_current_A: float | None = None) -> pd.DataFrame:
    """dV/dQ of each half cycle on a uniform capacity grid (Savitzky–Golay derivative).

    ``capacity_step_mAh`` defaults to 1/1000 of the half cycle's capacity; the filter
    window spans ``window_fraction`` of it. Returns cycle, half_cycle, direction,
    capacity_mAh, voltage_V and dvdq_V_mAh.
    """
    from scipy.signal import savgol_filter

    if not 0 < window_fraction < 0.5:
        raise InvalidParameterError("window_fraction must be between 0 and 0.5.")
    prof = voltage_profiles(df, cycles=cycles, cell_type=cell_type, rest_current_A=rest_current_A)
    pieces = []
    for (cycle, half), g in prof.groupby(["cycle", "half_cycle"], sort=True):
        q = g["capacity_mAh"].to_numpy()
        v = g["voltage_V"].to_numpy()
        keep = np.r_[True, np.diff(q) > 0]
        q, v = q[keep], v[keep]
        if len(q) < 10 or q[-1] <= 0:
            continue
        step = capacity_step_mAh or q[-1] / 1000.0
        grid = np.arange(0.0, q[-1], step)
        if len(grid) < 7:
            continue
        v_grid = np.interp(grid, q, v)
        window = _odd(window_fraction * len(grid))
        if window >= len(grid):
            continue
        dvdq = savgol_filter(v_grid, window, 2, deriv=1, delta=step)
        pieces.append(pd.DataFrame({"cycle": cycle, "half_cycle": half, "direction": g["direction"].iloc[0],
                                    "capacity_mAh": grid, "voltage_V": v_grid, "dvdq_V_mAh": dvdq}))
    if not pieces:
        return pd.DataFrame(columns=["cycle", "half_cycle", "direction", "capacity_mAh", "voltage_V",
                                     "dvdq_V_mAh"])
    return pd.concat(pieces, ignore_index=True)


#: C-rates a protocol is usually written in; measured rates snap to the nearest.
STANDARD_C_RATES = (1 / 50, 1 / 20, 1 / 10, 1 / 5, 1 / 3, 1 / 2, 1, 2, 3, 5, 10, 20)


def _c_rate_label(c):
    if not np.isfinite(c):
        return "n/a"
    if c < 1:
        return f"C/{round(1 / c):g}"
    return f"{c:g}C"


def rate_capability(summary: pd.DataFrame, *, tolerance: float = 0.25) -> pd.DataFrame:
    """Group consecutive cycles run at the same C-rate (of the "out" half cycle).

    Measured C-rates within ``tolerance`` (relative, in log space) of a standard rate
    (C/50 … 20C) snap to it. Returns one row per block: block, c_rate, c_rate_label,
    first_cycle, last_cycle, n_cycles, mean and std of the out capacity (and mAh/g when
    the summary has it), and retention_pct relative to the first block at the lowest rate.
    """
    if summary.empty:
        return pd.DataFrame(columns=["block", "c_rate", "c_rate_label", "first_cycle", "last_cycle",
                                     "n_cycles", "out_capacity_mAh", "out_capacity_std_mAh", "retention_pct"])
    opening = summary.attrs.get("battlab", {}).get("opening_half", "charge")
    col = "discharge_c_rate" if opening == "charge" else "charge_c_rate"
    measured = summary[col].to_numpy(dtype=float)
    std = np.array(STANDARD_C_RATES)
    snapped = np.full(len(measured), np.nan)
    ok = np.isfinite(measured) & (measured > 0)
    nearest = std[np.abs(np.log(measured[ok, None]) - np.log(std[None, :])).argmin(axis=1)]
    close = np.abs(np.log(measured[ok] / nearest)) < np.log1p(tolerance)
    snapped[ok] = np.where(close, nearest, measured[ok])
    block = np.cumsum(np.r_[True, ~np.isclose(snapped[1:], snapped[:-1], equal_nan=True)])
    s = summary.assign(block=block, c_rate=snapped)
    agg = {"first_cycle": ("cycle", "min"), "last_cycle": ("cycle", "max"), "n_cycles": ("cycle", "size"),
           "c_rate": ("c_rate", "first"), "out_capacity_mAh": ("out_capacity_mAh", "mean"),
           "out_capacity_std_mAh": ("out_capacity_mAh", "std")}
    if "out_capacity_mAh_g" in s:
        agg["out_capacity_mAh_g"] = ("out_capacity_mAh_g", "mean")
    table = s.groupby("block").agg(**agg).reset_index()
    table.insert(2, "c_rate_label", [_c_rate_label(c) for c in table["c_rate"]])
    finite = table["c_rate"].notna()
    if finite.any():
        ref = table.loc[table.loc[finite, "c_rate"].idxmin(), "out_capacity_mAh"]
        table["retention_pct"] = 100.0 * table["out_capacity_mAh"] / ref
    else:
        table["retention_pct"] = np.nan
    return table
