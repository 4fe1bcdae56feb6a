"""The cycling timeline every other measurement is read against.

:func:`charge_timeline` turns a cycling table into labels plus cumulative charge;
:func:`align_to_cycling` and :func:`echem_at` put any time series (sensor samples, movie
frames, diffraction patterns, spectra, exported tables of any technique) on it;
:func:`estimate_clock_offset` finds the offset between two clocks from a shared event
or by cross-correlation; :func:`on_common_times`, :func:`per_cycle` and
:func:`match_by_soc` bring several datasets onto one grid, one row per cycle, or one
state of charge when the techniques ran in different cells.

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

__all__ = ["charge_timeline", "align_to_cycling", "echem_at", "ECHEM_AT_COLUMNS", "estimate_clock_offset",
           "on_common_times", "per_cycle", "match_by_soc", "FARADAY_C_MOL"]

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
                     rest_current_A: float | None = None, time_column: str = "sensor_time_s") -> pd.DataFrame:
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
    time_column : str
        The column of ``sensor`` that holds its own clock in seconds.
    """
    if time_column != "sensor_time_s":
        if time_column not in sensor:
            raise MissingDataError(f"the table has no {time_column!r} column; name the column that holds its "
                                   f"time in seconds (columns: {', '.join(map(str, sensor.columns[:12]))}).")
        sensor = sensor.rename(columns={"sensor_time_s": "_sensor_time_s"}).assign(
            sensor_time_s=sensor[time_column].to_numpy(dtype=float))
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
            f"the record ({t_sen.min():.0f}–{t_sen.max():.0f} s on the cycler clock) does not overlap "
            f"the cycling record ({t_cyc[0]:.0f}–{t_cyc[-1]:.0f} s); set the clock offset.")
    if not inside.all():
        warnings.warn(f"{int((~inside).sum())} samples fall outside the cycling record and were left "
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
    # SOC against the cycle's charge swing on the cycler (not the samples', which may miss its ends).
    q_tl = tl["charge_mAh"].to_numpy()
    q_prev = np.r_[0.0, q_tl[:-1]]
    by_cycle = pd.DataFrame({"cycle": tl["cycle"].to_numpy(), "lo": np.minimum(q_tl, q_prev),
                             "hi": np.maximum(q_tl, q_prev)}).groupby("cycle").agg({"lo": "min", "hi": "max"})
    lo = out["cycle"].map(by_cycle["lo"]).to_numpy(dtype=float)
    hi = out["cycle"].map(by_cycle["hi"]).to_numpy(dtype=float)
    with np.errstate(invalid="ignore", divide="ignore"):
        out["soc"] = np.where(hi > lo, (out["charge_mAh"].to_numpy() - lo) / (hi - lo), np.nan)
    if time_column != "sensor_time_s":
        out = out.drop(columns="sensor_time_s").rename(columns={"_sensor_time_s": "sensor_time_s"})
    meta = dict(sensor.attrs.get("battlab", {}))
    meta["alignment"] = {"clock_offset_s": float(clock_offset_s), "time_basis": time_basis,
                         "cell_type": cell_type, "samples_outside": int((~inside).sum()),
                         "opening_half": tl.attrs.get("battlab", {}).get("cycling", {}).get("opening_half")}
    out.attrs["battlab"] = meta
    return out


#: Columns of :func:`echem_at`, in order.
ECHEM_AT_COLUMNS = ("time_s", "test_time_s", "voltage_V", "current_A", "cycle", "half_cycle", "direction",
                    "charge_mAh", "capacity_mAh", "charge_C", "soc")


def echem_at(times_s, echem: pd.DataFrame, *, clock_offset_s: float = 0.0, time_basis: str = "test",
             start_unix_s: float | None = None, cell_type: str = "auto", rest_current_A: float | None = None,
             label: str = "samples") -> pd.DataFrame:
    """Electrochemistry at any instants: one row per time, in the order given.

    The join of :func:`align_to_cycling` for things that are not sensor tables: movie
    frames, diffraction patterns, spectra, maps. Instants outside the cycling record
    keep their row with NaN electrochemistry (a :class:`~battlab.errors.BattlabWarning`
    says how many), so the result lines up with the measurement it describes.

    Parameters
    ----------
    times_s : array-like
        The measurement's own clock in seconds.
    echem : DataFrame
        Canonical cycling table (``test_time_s``, ``voltage_V``, ``current_A``; optional
        ``unix_time_s``), e.g. from :func:`battlab.load`.
    clock_offset_s : float
        Cycler time = measurement time + offset (s).
    time_basis : {"test", "unix"}
        Match to ``test_time_s`` (default) or to ``unix_time_s``; with ``"unix"``,
        ``start_unix_s`` is the wall-clock time of ``times_s = 0``.
    cell_type, rest_current_A
        Passed to :func:`battlab.echem.cycling.label_cycles`.
    label : str
        What the instants are, for messages (``"frames"``, ``"patterns"``…).

    Returns
    -------
    DataFrame
        ``time_s`` (the measurement clock), ``test_time_s``, ``voltage_V``
        (interpolated), ``current_A``, ``cycle``, ``half_cycle``, ``direction``,
        ``charge_mAh`` (net charge since the start of the cycling record, positive for
        charge current), ``capacity_mAh`` (the same counted from the first instant),
        ``charge_C``, ``soc`` and ``unix_time_s`` when known.
    """
    t = np.asarray(times_s, dtype=float).ravel()
    if len(t) == 0:
        raise MissingDataError(f"no {label} to put on the cycling timeline.")
    if not np.all(np.isfinite(t)):
        raise InvalidParameterError(f"the times of the {label} must be finite seconds.")
    if not isinstance(echem, pd.DataFrame):
        raise InvalidParameterError("echem must be a cycling table (pandas DataFrame), e.g. from battlab.load().")
    table = pd.DataFrame({"_row": np.arange(len(t)), "time_s": t, "sensor_time_s": t})
    if time_basis == "unix":
        if start_unix_s is None:
            raise MissingDataError(f"time_basis='unix' needs the wall-clock time (Unix seconds) of the {label}' "
                                   "time zero; or use the default test-time basis with clock_offset_s.")
        table["unix_time_s"] = float(start_unix_s) + t
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", BattlabWarning)
        aligned = align_to_cycling(table, echem, clock_offset_s=clock_offset_s, time_basis=time_basis,
                                   cell_type=cell_type, rest_current_A=rest_current_A)
    out = table[["_row", "time_s"]].merge(
        aligned.drop(columns=["time_s", "sensor_time_s", "unix_time_s"], errors="ignore"), on="_row", how="left")
    if "unix_time_s" in aligned:
        out["unix_time_s"] = out["_row"].map(dict(zip(aligned["_row"], aligned["unix_time_s"], strict=True)))
    missing = int(out["voltage_V"].isna().sum())
    if missing:
        warnings.warn(f"{missing} of {len(out)} {label} fall outside the cycling record and have no "
                      "electrochemistry; check the clock offset.", BattlabWarning, stacklevel=2)
    for w in caught:  # pass on anything else the join had to say
        if "outside the cycling record" not in str(w.message):
            warnings.warn(str(w.message), w.category, stacklevel=2)
    first = out["charge_mAh"].dropna()
    out["capacity_mAh"] = out["charge_mAh"] - (first.iloc[0] if len(first) else np.nan)
    out = out.drop(columns="_row")
    cols = [c for c in ECHEM_AT_COLUMNS if c in out] + [c for c in out.columns if c not in ECHEM_AT_COLUMNS]
    out = out[cols]
    out.attrs["battlab"] = dict(aligned.attrs.get("battlab", {}))
    return out


def _current_on_time(echem: pd.DataFrame, threshold_A: float | None) -> float:
    t = echem[S.TEST_TIME].to_numpy(dtype=float)
    i = np.abs(echem[S.CURRENT].to_numpy(dtype=float))
    if threshold_A is None:
        threshold_A = 0.05 * float(np.nanmax(i)) if np.nanmax(i) > 0 else np.inf
    on = np.flatnonzero(i > threshold_A)
    if len(on) == 0:
        raise MissingDataError("the cycling record never switches the current on; an event offset needs one.")
    k = int(on[0])
    # A row's current flows over the interval before it, so current came on at the previous row.
    return float(t[k - 1]) if k > 0 else float(t[0])


def _signal_event_time(t: np.ndarray, y: np.ndarray, n_sigma: float) -> float:
    n0 = max(5, len(y) // 20)
    base = y[:n0]
    centre = float(np.median(base))
    noise = 1.4826 * float(np.median(np.abs(base - centre)))
    if noise == 0:
        noise = 1e-12 * max(1.0, float(np.nanmax(np.abs(y))))
    away = np.flatnonzero(np.abs(y - centre) > n_sigma * noise)
    away = away[away >= n0 // 2]
    if len(away) == 0:
        raise MissingDataError("the signal never leaves its starting baseline; no event to align on.")
    return float(t[max(int(away[0]) - 1, 0)])


def estimate_clock_offset(times_s, signal, echem: pd.DataFrame, *, method: str = "xcorr",
                          echem_column: str = "charge_mAh", max_offset_s: float | None = None,
                          current_threshold_A: float | None = None, n_sigma: float = 6.0) -> dict:
    """Estimate the clock offset between a measurement and the cycler.

    Parameters
    ----------
    times_s, signal : array-like
        The measurement's own clock (s) and a signal that responds to the cell
        (thickness, lattice parameter, mass, lithiation index…).
    echem : DataFrame
        Canonical cycling table.
    method : {"xcorr", "event"}
        ``"xcorr"``: the offset that maximises the absolute Pearson correlation between
        the signal and ``echem_column`` of :func:`charge_timeline` at the shifted times
        (a sign-free match, since a signal may fall as the cell charges), searched on a
        grid of the signal's sample spacing and refined to a fraction of it.
        ``"event"``: the shared event "current on": the first departure of the signal
        from its starting baseline (more than ``n_sigma`` robust standard deviations)
        is matched to the first cycler row with current above ``current_threshold_A``
        (default 5 % of the largest current).
    echem_column : str
        Timeline column the signal follows, for ``"xcorr"`` (``charge_mAh``,
        ``voltage_V``, ``soc``…).
    max_offset_s : float, optional
        Search window ±seconds for ``"xcorr"`` (default: the cycling record's length).

    Returns
    -------
    dict
        ``clock_offset_s`` (cycler time = measurement time + offset), ``method``,
        ``resolution_s`` (the signal's median sample spacing: the offset is known to
        about this) and, for ``"xcorr"``, ``correlation`` (|r| at the optimum) or, for
        ``"event"``, the two event times.
    """
    t = np.asarray(times_s, dtype=float).ravel()
    y = np.asarray(signal, dtype=float).ravel()
    if len(t) != len(y):
        raise InvalidParameterError(f"times_s ({len(t)}) and signal ({len(y)}) must have the same length.")
    keep = np.isfinite(t) & np.isfinite(y)
    t, y = t[keep], y[keep]
    if len(t) < 10:
        raise MissingDataError("at least 10 finite samples are needed to estimate a clock offset.")
    order = np.argsort(t)
    t, y = t[order], y[order]
    dt = float(np.median(np.diff(t))) if len(t) > 1 else 1.0
    if method == "event":
        t_cyc = _current_on_time(echem, current_threshold_A)
        t_sig = _signal_event_time(t, y, n_sigma)
        return {"clock_offset_s": t_cyc - t_sig, "method": "event", "resolution_s": dt,
                "cycler_event_s": t_cyc, "signal_event_s": t_sig}
    if method != "xcorr":
        raise InvalidParameterError("method must be 'xcorr' or 'event'.")
    tl = charge_timeline(echem)
    if echem_column not in tl:
        raise InvalidParameterError(f"echem_column must be one of {', '.join(TIMELINE_COLUMNS[1:])}.")
    tc = tl[S.TEST_TIME].to_numpy(dtype=float)
    yc = tl[echem_column].to_numpy(dtype=float)
    ok = np.isfinite(yc)
    tc, yc = tc[ok], yc[ok]
    span = float(tc[-1] - tc[0])
    window = span if max_offset_s is None else float(max_offset_s)
    # Offsets that keep at least half of the signal inside the cycling record.
    lo = max(-window, tc[0] - t[len(t) // 2])
    hi = min(window, tc[-1] - t[len(t) // 2])
    if hi <= lo:
        raise MissingDataError("the signal and the cycling record cannot overlap within max_offset_s.")

    def score(offset):
        ts = t + offset
        inside = (ts >= tc[0]) & (ts <= tc[-1])
        if inside.sum() < max(10, len(t) // 2):
            return 0.0
        a, b = y[inside], np.interp(ts[inside], tc, yc)
        if a.std() == 0 or b.std() == 0:
            return 0.0
        return abs(float(np.corrcoef(a, b)[0, 1]))

    grid = np.arange(lo, hi + dt / 2, dt)
    scores = np.array([score(o) for o in grid])
    k = int(np.argmax(scores))
    best = float(grid[k])
    # Golden-section refinement inside the neighbouring grid cells.
    a_, b_ = best - dt, best + dt
    g = (np.sqrt(5) - 1) / 2
    for _ in range(30):
        c_, d_ = b_ - g * (b_ - a_), a_ + g * (b_ - a_)
        if score(c_) >= score(d_):
            b_ = d_
        else:
            a_ = c_
    refined = (a_ + b_) / 2
    if score(refined) >= scores[k]:
        best = refined
    return {"clock_offset_s": best, "method": "xcorr", "resolution_s": dt, "correlation": score(best),
            "echem_column": echem_column}


def _numeric_columns(table, columns, skip):
    if columns is None:
        columns = [c for c in table.columns if c not in skip and pd.api.types.is_numeric_dtype(table[c])
                   and not pd.api.types.is_bool_dtype(table[c])]  # flags are not quantities
    missing = [c for c in columns if c not in table]
    if missing:
        raise MissingDataError(f"columns not in the table: {', '.join(map(str, missing))}.")
    return list(columns)


def on_common_times(tables: dict, *, times_s=None, every_s: float | None = None, method: str = "interpolate",
                    tolerance_s: float | None = None, time_column: str = "test_time_s",
                    columns: dict | None = None) -> pd.DataFrame:
    """Several datasets already on the cycler clock, on one grid of times.

    Parameters
    ----------
    tables : dict of str to DataFrame
        Each with ``time_column`` (cycler time, e.g. from :func:`align_to_cycling` or
        :func:`echem_at`); names become column prefixes (``"xrd:a_A"``).
    times_s : array-like, optional
        The common times. Default: every ``every_s`` over the span the tables share.
    method : {"interpolate", "asof"}
        Linear interpolation of numeric columns, or the last sample at or before each
        time (labels, counts, anything not to be blended).
    tolerance_s : float, optional
        A common time further than this from the nearest sample of a dataset gets NaN
        for it (default: no limit for ``"asof"``; twice the dataset's median sample
        spacing for ``"interpolate"``, so gaps are not bridged).
    columns : dict of str to list, optional
        Which columns of each table (default: its numeric columns).

    Returns
    -------
    DataFrame
        ``test_time_s`` plus one column per dataset and column, named ``name:column``.
    """
    if not tables:
        raise MissingDataError("no datasets to put on a common time grid.")
    if method not in ("interpolate", "asof"):
        raise InvalidParameterError("method must be 'interpolate' or 'asof'.")
    spans = []
    for name, table in tables.items():
        if time_column not in table:
            raise MissingDataError(f"{name} has no {time_column!r} column: put it on the cycling timeline first "
                                   "(battlab.correlate.align_to_cycling or echem_at).")
        tt = table[time_column].to_numpy(dtype=float)
        tt = tt[np.isfinite(tt)]
        if len(tt) == 0:
            raise MissingDataError(f"{name} has no finite times.")
        spans.append((tt.min(), tt.max(), float(np.median(np.diff(np.sort(tt)))) if len(tt) > 1 else 0.0))
    if times_s is None:
        start, stop = max(s[0] for s in spans), min(s[1] for s in spans)
        if stop <= start:
            raise MissingDataError("the datasets share no stretch of time; check their clock offsets.")
        step = float(every_s) if every_s is not None else max(max(s[2] for s in spans), 1e-9)
        if not np.isfinite(step) or step <= 0:
            raise InvalidParameterError("every_s must be a positive number of seconds.")
        grid = np.arange(start, stop + step / 2, step)
    else:
        grid = np.sort(np.asarray(times_s, dtype=float).ravel())
    out = pd.DataFrame({time_column: grid})
    for (name, table), (_, _, spacing) in zip(tables.items(), spans, strict=True):
        cols = _numeric_columns(table, (columns or {}).get(name), {time_column})
        tab = table[[time_column, *cols]].dropna(subset=[time_column]).sort_values(time_column)
        tt = tab[time_column].to_numpy(dtype=float)
        tol = tolerance_s if tolerance_s is not None else (2 * spacing if method == "interpolate" else None)
        if method == "asof":
            merged = pd.merge_asof(out[[time_column]], tab, on=time_column, direction="backward",
                                   tolerance=tol)
            for c in cols:
                out[f"{name}:{c}"] = merged[c].to_numpy()
            continue
        idx = np.clip(np.searchsorted(tt, grid), 1, max(len(tt) - 1, 1))
        nearest = np.minimum(np.abs(grid - tt[idx - 1]), np.abs(tt[np.minimum(idx, len(tt) - 1)] - grid))
        inside = (grid >= tt[0]) & (grid <= tt[-1])
        if tol is not None:
            inside &= nearest <= tol
        for c in cols:
            v = tab[c].to_numpy(dtype=float)
            ok = np.isfinite(v)
            col = np.full(len(grid), np.nan)
            if ok.sum() >= 2:
                col[inside] = np.interp(grid[inside], tt[ok], v[ok])
            out[f"{name}:{c}"] = col
    out.attrs["battlab"] = {"common_times": {"method": method, "tolerance_s": tolerance_s,
                                             "datasets": list(tables)}}
    return out


def per_cycle(table: pd.DataFrame, *, columns=None, funcs=("mean", "min", "max"),
              by=("cycle",)) -> pd.DataFrame:
    """One row per cycle (or per ``by`` group) of a table on the cycling timeline.

    Parameters
    ----------
    table : DataFrame
        With the ``by`` columns (from :func:`align_to_cycling` / :func:`echem_at`).
    columns : list of str, optional
        Numeric columns to aggregate (default: all numeric except the labels).
    funcs : sequence of str
        Pandas aggregations; ``"range"`` is max − min (e.g. peak-to-peak expansion).
    by : sequence of str
        Group labels, e.g. ``("cycle", "direction")`` for charge and discharge apart.

    Returns
    -------
    DataFrame
        The ``by`` columns plus ``<column>_<func>`` and ``n_samples``.
    """
    by = list(by)
    missing = [b for b in by if b not in table]
    if missing:
        raise MissingDataError(f"the table has no {', '.join(missing)} column: put it on the cycling timeline "
                               "first (battlab.correlate.align_to_cycling or echem_at).")
    labels = set(TIMELINE_COLUMNS) | {"time_s", "sensor_time_s", "unix_time_s", "frame"}
    cols = _numeric_columns(table, columns, set(by) | (labels if columns is None else set()))
    valid = table.dropna(subset=by)
    grouped = valid.groupby(by, sort=True)
    parts = {}
    for f in funcs:
        if f == "range":
            agg = grouped[cols].max() - grouped[cols].min()
        else:
            agg = grouped[cols].agg(f)
        for c in cols:
            parts[f"{c}_{f}"] = agg[c]
    out = pd.DataFrame(parts)
    out["n_samples"] = grouped.size()
    return out.reset_index()


def match_by_soc(reference: pd.DataFrame, other: pd.DataFrame, *, columns, soc_column: str = "soc",
                 by_direction: bool = True, other_cycle: int | None = None, prefix: str = "other") -> pd.DataFrame:
    """Read another cell's measurement at the reference's states of charge.

    For techniques that ran in different cells, time means nothing across them; the
    state of charge (or capacity) does. Each column of ``other`` is interpolated at the
    reference's ``soc_column`` values, within the same current direction (charge vs
    discharge differ by hysteresis) and, optionally, one cycle of ``other``.

    Returns
    -------
    DataFrame
        ``reference`` with ``<prefix>:<column>`` added (NaN outside the other's range).
    """
    for name, table in (("reference", reference), ("other", other)):
        if soc_column not in table:
            raise MissingDataError(f"the {name} table has no {soc_column!r} column: put it on its cycling "
                                   "timeline first (battlab.correlate.align_to_cycling or echem_at).")
        if by_direction and "direction" not in table:
            raise MissingDataError(f"the {name} table has no 'direction' column; use by_direction=False.")
    src = other if other_cycle is None else other[other["cycle"] == other_cycle]
    if src.empty:
        raise MissingDataError(f"the other table has no rows for cycle {other_cycle}.")
    cols = _numeric_columns(src, columns, set())
    out = reference.copy()
    x_ref = reference[soc_column].to_numpy(dtype=float)
    groups = reference["direction"].to_numpy() if by_direction else np.zeros(len(reference))
    for c in cols:
        out[f"{prefix}:{c}"] = np.nan
    for g in pd.unique(groups):
        rows = groups == g
        part = src[src["direction"] == g] if by_direction else src
        part = part[[soc_column, *cols]].dropna(subset=[soc_column])
        if len(part) < 2:
            continue
        mean = part.groupby(soc_column, sort=True)[cols].mean()  # repeated SOC values: their mean
        xs = mean.index.to_numpy(dtype=float)
        for c in cols:
            v = mean[c].to_numpy(dtype=float)
            ok = np.isfinite(v)
            if ok.sum() < 2:
                continue
            vals = np.interp(x_ref[rows], xs[ok], v[ok], left=np.nan, right=np.nan)
            out.loc[rows, f"{prefix}:{c}"] = vals
    return out
