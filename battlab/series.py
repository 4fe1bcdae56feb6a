"""Series of 1-D curves over time: stacking, timestamps, PCA and linear-combination fits.

Operando diffraction patterns and spectra share one representation: an
``xarray.DataArray`` named ``intensity`` over ``(time, <axis>)`` where ``<axis>`` is
``two_theta_deg``, ``wavenumber_cm1``, ``binding_energy_eV``, ``energy_eV`` or
``shift_ppm``; ``time`` holds UTC timestamps and the ``elapsed_s`` coordinate the
seconds since the first curve. Everything here works on any such axis.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from battlab.errors import BattlabWarning, InvalidParameterError, MissingDataError

__all__ = ["ECHEM_COLUMNS", "LinearCombinationFit", "PCAResult", "add_echem", "curve_axis", "curve_echem",
           "cycling_input_record", "echem_of", "echem_over_series", "linear_combination_fit", "load_cycling", "pca",
           "read_timestamps", "series_files",
           "stack_curves", "times_for", "timestamps_input_record"]


def curve_axis(data) -> str:
    """Name of the non-time dimension of a curve or a series."""
    dims = [d for d in data.dims if d != "time"]
    if len(dims) != 1:
        raise InvalidParameterError(f"expected a 1-D curve or a (time, axis) series, got dims {data.dims}.")
    return dims[0]


def stack_curves(curves, *, times=None, label: str = "curves"):
    """Stack 1-D curves into a series over ``time`` (interpolated onto the first curve's grid).

    Parameters
    ----------
    curves : sequence of DataArray
        Curves over the same axis (e.g. ``two_theta_deg``).
    times : sequence of timestamps, optional
        UTC acquisition times; default each curve's ``attrs["battlab"]["start_time_utc"]``.
    label : str
        What the curves are, for messages ("patterns", "spectra").
    """
    import xarray as xr

    if not len(curves):
        raise MissingDataError(f"no {label} to stack.")
    axis = curve_axis(curves[0])
    grid = curves[0][axis].to_numpy()
    notes = []
    rows = []
    for c in curves:
        if curve_axis(c) != axis:
            raise InvalidParameterError(f"cannot stack a curve over {curve_axis(c)} with curves over {axis}.")
        x = c[axis].to_numpy()
        if x.shape == grid.shape and np.allclose(x, grid, rtol=0, atol=1e-6):
            rows.append(c.to_numpy())
        else:
            order = np.argsort(x, kind="stable")
            rows.append(np.interp(grid, x[order], c.to_numpy()[order], left=np.nan, right=np.nan))
            if not notes:
                notes.append(f"{label} on different {axis} grids were interpolated onto the first one.")
    if times is None:
        times = [c.attrs.get("battlab", {}).get("start_time_utc") for c in curves]
    if any(t is None for t in times):
        raise MissingDataError(f"some {label} have no acquisition time: give a timestamps CSV (file,time) "
                               "or times=[...] so the series can be aligned with cycling.")
    t = pd.to_datetime(pd.Series([pd.Timestamp(v) for v in times]), utc=True)
    if t.isna().any():
        raise MissingDataError(f"{int(t.isna().sum())} of the {label} have an unreadable acquisition time; fix "
                               "the timestamps (file,time CSV or times=[...]) so the series can be ordered.")
    order = np.argsort(t.to_numpy(), kind="stable")
    if np.any(np.diff(order) != 1):
        moved = int(np.sum(order != np.arange(len(order))))
        notes.append(f"{moved} {label} were out of time order (file order differs from acquisition order) "
                     "and were sorted by acquisition time.")
        warnings.warn(notes[-1], BattlabWarning, stacklevel=2)
    repeated = int(t.duplicated().sum())
    if repeated:
        notes.append(f"{repeated} {label} share their acquisition time with another one (kept in file order); "
                     "check the timestamps if they should differ.")
        warnings.warn(notes[-1], BattlabWarning, stacklevel=2)
    tvals = t.dt.tz_localize(None).to_numpy()[order]
    data = np.asarray(rows)[order]
    first = curves[0]
    da = xr.DataArray(data, dims=("time", axis),
                      coords={"time": ("time", tvals, {"long_name": "time (UTC)"}),
                              "elapsed_s": ("time", (tvals - tvals[0]) / np.timedelta64(1, "s"), {"units": "s"}),
                              axis: (axis, grid, dict(first[axis].attrs))},
                      name=first.name or "intensity")
    da.attrs.update({k: v for k, v in first.attrs.items() if k != "battlab"})
    meta = dict(first.attrs.get("battlab", {}))
    meta["notes"] = list(meta.get("notes", [])) + notes
    meta["start_time_utc"] = pd.Timestamp(tvals[0]).tz_localize("UTC").isoformat()
    meta[f"n_{label}"] = len(curves)
    meta["sources"] = [curves[j].attrs.get("battlab", {}).get("source_name") for j in order]
    # Every curve's file, not only the first, so provenance can check each one's content on a re-run.
    from battlab.provenance import data_input

    meta["inputs"] = [data_input(curves[j].attrs.get("battlab", {})) for j in order]
    da.attrs["battlab"] = meta
    return da


def read_timestamps(path) -> dict:
    """``{file name: UTC timestamp}`` from a CSV with columns ``file`` and ``time`` (ISO 8601)."""
    path = Path(path)
    table = pd.read_csv(path)
    cols = {c.lower().strip(): c for c in table.columns}
    fcol = next((cols[c] for c in ("file", "filename", "name", "pattern", "spectrum") if c in cols), None)
    tcol = next((cols[c] for c in ("time", "timestamp", "time_utc", "datetime") if c in cols), None)
    if fcol is None or tcol is None:
        raise MissingDataError(f"{path.name}: a timestamps CSV needs columns 'file' and 'time' (ISO 8601, UTC).")
    try:
        times = pd.to_datetime(table[tcol], utc=True, format="ISO8601")
    except (ValueError, TypeError) as exc:
        raise MissingDataError(f"{path.name}: the time column is not ISO 8601 ({exc}).") from exc
    return {Path(str(f)).name: t for f, t in zip(table[fcol], times, strict=True)}


def series_files(folder_or_files, *, suffixes, pattern: str = "*", label: str = "curve") -> list:
    """The files of a series: a folder's files with ``suffixes`` (sorted by name), or the given list.

    A ``timestamps`` CSV inside the folder is not a curve and is left out.
    """
    from battlab.errors import UnsupportedFormatError

    if isinstance(folder_or_files, (str, Path)):
        folder = Path(folder_or_files)
        if not folder.is_dir():
            raise UnsupportedFormatError(f"{folder}: no such file or folder.")
        files = sorted(p for p in folder.glob(pattern) if p.is_file() and p.suffix.lower() in suffixes
                       and "timestamp" not in p.name.lower())
    else:
        files = [Path(p) for p in folder_or_files]
    if not files:
        raise MissingDataError(f"no {label} files ({', '.join(suffixes)}) found in {folder_or_files}.")
    return files


def times_for(files, timestamps, curves, *, label: str = "curves"):
    """Acquisition time of each file: from a timestamps CSV, an explicit list, or the files."""
    if timestamps is None:
        return [c.attrs.get("battlab", {}).get("start_time_utc") for c in curves]
    if isinstance(timestamps, (str, Path)):
        table = read_timestamps(timestamps)
        missing = [Path(f).name for f in files if Path(f).name not in table]
        if missing:
            raise MissingDataError(f"the timestamps CSV has no row for {', '.join(missing[:3])}"
                                   f"{' …' if len(missing) > 3 else ''}.")
        return [table[Path(f).name] for f in files]
    times = list(timestamps)
    if len(times) != len(files):
        raise MissingDataError(f"{len(times)} timestamps for {len(files)} {label}.")
    return times


# --------------------------------------------------------------------------- decomposition


def _matrix(series):
    if series.ndim != 2 or "time" not in series.dims:
        raise InvalidParameterError("PCA needs a (time, axis) series of at least three curves.")
    axis = curve_axis(series)
    m = series.transpose("time", axis).to_numpy().astype(float)
    keep = np.all(np.isfinite(m), axis=0)  # grid points missing in any curve are left out
    if keep.sum() < 3 or m.shape[0] < 3:
        raise MissingDataError("PCA needs at least three curves with at least three common finite points.")
    return m, keep, axis


@dataclass
class PCAResult:
    """Principal components of a series (rows = curves in time).

    Attributes
    ----------
    scores : DataFrame
        ``time``, ``elapsed_s`` and ``pc1`` … per curve.
    components : DataFrame
        The axis column and ``pc1`` … loadings (unit vectors).
    explained_variance_ratio : ndarray
        Share of the variance about the mean curve per component.
    n_significant : int
        Components needed to describe the series to its noise level (see :func:`pca`).
    mean : ndarray
        The mean curve subtracted before the decomposition.
    """

    scores: pd.DataFrame
    components: pd.DataFrame
    explained_variance_ratio: np.ndarray
    singular_values: np.ndarray
    n_significant: int
    mean: np.ndarray
    axis: str

    def reconstruct(self, n_components: int):
        """Curves rebuilt from the first ``n_components`` (rows in time order)."""
        cols = [f"pc{k + 1}" for k in range(n_components)]
        return self.mean + self.scores[cols].to_numpy() @ self.components[cols].to_numpy().T


def pca(series, *, n_components: int = 5, center: bool = True, noise_fraction: float | None = None) -> PCAResult:
    """Principal component analysis of a (time, axis) series.

    Parameters
    ----------
    series : DataArray
        ``(time, axis)`` curves, e.g. from :func:`stack_curves`.
    n_components : int
        Components kept in the result.
    center : bool
        Subtract the mean curve first (the usual PCA). With ``center=False`` the first
        component is the mean shape and a two-reference mixture has two components.
    noise_fraction : float, optional
        A component counts as significant when its singular value exceeds the noise
        floor. Default: the floor is estimated from the point-to-point scatter of the
        curves (σ·√(n_time·n_axis)·(1 + √(n_time/n_axis)), the largest singular value of
        pure noise); give a fraction of the first singular value to override.

    Returns
    -------
    PCAResult
    """
    m, keep, axis = _matrix(series)
    x = series[axis].to_numpy()
    sub = m[:, keep]
    mean = sub.mean(axis=0) if center else np.zeros(sub.shape[1])
    u, s, vt = np.linalg.svd(sub - mean, full_matrices=False)
    # Sign convention: each loading's largest entry is positive, so results are stable.
    signs = np.sign(vt[np.arange(vt.shape[0]), np.argmax(np.abs(vt), axis=1)])
    signs[signs == 0] = 1
    u, vt = u * signs, vt * signs[:, None]
    var = s ** 2
    total = var.sum() if center else np.sum((sub - mean) ** 2)
    ratio = var / total if total > 0 else np.zeros_like(var)
    n_t, n_x = sub.shape
    if noise_fraction is None:
        sigma = 1.4826 * np.median(np.abs(np.diff(sub, axis=1))) / np.sqrt(2)
        floor = sigma * np.sqrt(max(n_t, n_x)) * (1 + np.sqrt(min(n_t, n_x) / max(n_t, n_x)))
    else:
        floor = float(noise_fraction) * s[0]
    n_sig = int(np.sum(s > floor))
    k = int(min(max(1, n_components), s.size))
    names = [f"pc{j + 1}" for j in range(k)]
    scores = pd.DataFrame(u[:, :k] * s[:k], columns=names)
    scores.insert(0, "time", series["time"].to_numpy())
    if "elapsed_s" in series.coords:
        scores.insert(1, "elapsed_s", series["elapsed_s"].to_numpy())
    loads = np.full((x.size, k), np.nan)
    loads[keep] = vt[:k].T
    components = pd.DataFrame(loads, columns=names)
    components.insert(0, axis, x)
    full_mean = np.full(x.size, np.nan)
    full_mean[keep] = mean
    return PCAResult(scores=scores, components=components, explained_variance_ratio=ratio[:k],
                     singular_values=s, n_significant=n_sig, mean=full_mean[keep], axis=axis)


@dataclass
class LinearCombinationFit:
    """Non-negative linear-combination fit of curves by references.

    Attributes
    ----------
    weights : DataFrame
        One row per curve: a column per reference (the fitted weight), ``sum``,
        ``r_factor`` (Σ residual² / Σ data²) and, with ``normalize``, the weights
        divided by their sum as ``<name>_fraction``.
    model : ndarray
        Fitted curves, one row per input curve.
    """

    weights: pd.DataFrame
    model: np.ndarray
    references: list


def linear_combination_fit(data, references: dict, *, normalize: bool = True, offset: bool = False,
                           window=None) -> LinearCombinationFit:
    """Fit each curve as a non-negative combination of reference curves (NNLS).

    Parameters
    ----------
    data : DataArray
        One curve or a (time, axis) series.
    references : dict of name -> DataArray or (x, y)
        Reference curves, interpolated onto the data axis.
    normalize : bool
        Also report weights normalised to sum to one (phase/component fractions).
    offset : bool
        Fit a free constant too (it may be negative).
    window : (float, float), optional
        Only fit this range of the axis.

    Returns
    -------
    LinearCombinationFit
    """
    from scipy.optimize import nnls

    if not references:
        raise MissingDataError("a linear-combination fit needs at least one reference.")
    axis = curve_axis(data)
    x = data[axis].to_numpy().astype(float)
    rows = (data.to_numpy()[None, :] if data.ndim == 1 else data.transpose("time", axis).to_numpy()).astype(float)
    sel = np.ones(x.size, bool) if window is None else (x >= min(window)) & (x <= max(window))
    names = list(references)
    basis = []
    for name in names:
        ref = references[name]
        if hasattr(ref, "dims"):
            rx, ry = ref[curve_axis(ref)].to_numpy(), ref.to_numpy()
        else:
            rx, ry = (np.asarray(v, float) for v in ref)
        order = np.argsort(rx)
        basis.append(np.interp(x, rx[order], ry[order], left=np.nan, right=np.nan))
    basis = np.asarray(basis).T
    sel &= np.all(np.isfinite(basis), axis=1)
    if sel.sum() < len(names) + 2:
        raise MissingDataError("the references do not overlap the data enough for a fit; check their ranges.")
    a = basis[sel]
    if offset:
        a = np.column_stack([a, np.ones(a.shape[0]), -np.ones(a.shape[0])])
    out, models = [], np.full(rows.shape, np.nan)
    for i, row in enumerate(rows):
        good = np.isfinite(row[sel])
        w, _ = nnls(a[good], row[sel][good])
        fit = a @ w
        models[i, sel] = fit
        res = row[sel][good] - fit[good]
        rec = {name: w[j] for j, name in enumerate(names)}
        if offset:
            rec["offset"] = w[-2] - w[-1]
        rec["sum"] = float(np.sum(w[:len(names)]))
        rec["r_factor"] = float(np.sum(res ** 2) / max(np.sum(row[sel][good] ** 2), 1e-300))
        if normalize:
            for name in names:
                rec[f"{name}_fraction"] = rec[name] / rec["sum"] if rec["sum"] > 0 else np.nan
        out.append(rec)
    table = pd.DataFrame(out)
    if "time" in data.dims:
        table.insert(0, "time", data["time"].to_numpy())
        if "elapsed_s" in data.coords:
            table.insert(1, "elapsed_s", data["elapsed_s"].to_numpy())
    return LinearCombinationFit(weights=table, model=models, references=names)


# --------------------------------------------------------------------------- cycling timeline

#: Columns a per-curve results table gains from the cycling record (see :func:`curve_echem`).
ECHEM_COLUMNS = ("test_time_s", "voltage_V", "current_A", "cycle", "half_cycle", "direction", "charge_mAh",
                 "capacity_mAh", "charge_C", "soc")

_NO_CLOCK = np.datetime64("1970-01-01T00:00:00", "ns")


def _series_clock(series, echem, time_basis: str):
    """Measurement times (s from the first curve), the basis used, and the wall-clock start."""
    if "time" not in series.dims:
        raise InvalidParameterError("expected a (time, axis) series to put on the cycling timeline.")
    times = series["time"].to_numpy()
    elapsed = (series["elapsed_s"].to_numpy().astype(float) if "elapsed_s" in series.coords
               else (times - times[0]) / np.timedelta64(1, "s"))
    has_clock = bool(np.all(times != _NO_CLOCK))
    if time_basis == "auto":
        # Absolute clocks on both sides need no offset; a placeholder 1970 stamp is no clock.
        time_basis = "unix" if has_clock and "unix_time_s" in echem else "test"
    if time_basis not in ("test", "unix"):
        raise InvalidParameterError("time_basis must be 'auto', 'test' or 'unix'.")
    start_unix = None
    if time_basis == "unix":
        if not has_clock:
            raise MissingDataError("the series has no acquisition times (set to 1970-01-01), so it cannot be "
                                   "matched to the cycler's wall clock; use time_basis='test' with clock_offset_s.")
        start_unix = float((times[0] - np.datetime64("1970-01-01T00:00:00", "ns")) / np.timedelta64(1, "s")) \
            - float(elapsed[0])
    return elapsed, time_basis, start_unix


def curve_echem(series, echem: pd.DataFrame, *, clock_offset_s: float = 0.0, time_basis: str = "auto",
                label: str = "curves") -> pd.DataFrame:
    """The cell's electrochemistry at each curve of a series (one row per curve, in order).

    The join is :func:`battlab.correlate.timeline.echem_at`: potential interpolated,
    charge integrated from the cycler's rows up to each curve's instant, cycle labels
    and current from the cycler interval that holds it.

    Parameters
    ----------
    series : DataArray (time, axis)
        Patterns or spectra with UTC ``time`` and ``elapsed_s`` coordinates.
    echem : DataFrame
        Canonical cycling table (``test_time_s``, ``voltage_V``, ``current_A``,
        optional ``unix_time_s``).
    clock_offset_s : float
        Seconds added to the series clock before matching. With the ``"test"`` basis it
        is the cycler's test time at the first curve; with ``"unix"`` a correction of
        the series' wall clock against the cycler's.
    time_basis : {"auto", "test", "unix"}
        ``"unix"`` matches the curves' UTC times to the cycler's ``unix_time_s``;
        ``"test"`` matches ``elapsed_s + clock_offset_s`` to ``test_time_s``;
        ``"auto"`` takes ``"unix"`` when both clocks are absolute.
    label : str
        What the curves are, for messages.

    Returns
    -------
    DataFrame
        ``curve`` (position in the series), ``time``, ``elapsed_s`` and
        :data:`ECHEM_COLUMNS`; NaN rows for curves outside the cycling record (a
        :class:`~battlab.errors.BattlabWarning` says how many). ``attrs["battlab"]
        ["alignment"]`` records the basis and offset.
    """
    from battlab.correlate.timeline import echem_at

    elapsed, basis, start_unix = _series_clock(series, echem, time_basis)
    joined = echem_at(elapsed, echem, clock_offset_s=clock_offset_s, time_basis=basis, start_unix_s=start_unix,
                      label=label)
    out = pd.DataFrame({"curve": np.arange(len(elapsed)), "time": series["time"].to_numpy(), "elapsed_s": elapsed})
    for col in ECHEM_COLUMNS:
        out[col] = joined[col].to_numpy() if col in joined else np.nan
    meta = dict(joined.attrs.get("battlab", {}).get("alignment", {}))
    meta.update(clock_offset_s=float(clock_offset_s), time_basis=basis)
    out.attrs["battlab"] = {"alignment": meta}
    return out


def echem_over_series(series, echem: pd.DataFrame, *, clock_offset_s: float = 0.0,
                      time_basis: str = "auto") -> pd.DataFrame:
    """The cycling record over the span of a series, on the series' clock.

    Every cycler row between the first and the last curve (plus the two ends), joined
    like :func:`curve_echem`, so ``capacity_mAh`` counts from the first curve and
    ``elapsed_s`` is the series clock: a voltage curve to draw beside a map on a shared
    time, capacity or SOC axis.
    """
    from battlab.correlate.timeline import echem_at

    elapsed, basis, start_unix = _series_clock(series, echem, time_basis)
    if basis == "unix":
        t_rows = echem["unix_time_s"].to_numpy(dtype=float) - clock_offset_s - start_unix
    else:
        t_rows = echem["test_time_s"].to_numpy(dtype=float) - clock_offset_s
    t0, t1 = float(np.min(elapsed)), float(np.max(elapsed))
    inside = t_rows[(t_rows > t0) & (t_rows < t1)]
    grid = np.r_[t0, inside, t1] if t1 > t0 else np.array([t0])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", BattlabWarning)  # curve_echem already reports curves off the record
        joined = echem_at(grid, echem, clock_offset_s=clock_offset_s, time_basis=basis, start_unix_s=start_unix,
                          label="instants")
    joined.insert(0, "elapsed_s", grid)
    return joined.drop(columns=["time_s"])


def add_echem(table: pd.DataFrame, per_curve: pd.DataFrame, *, index: str | None = None) -> pd.DataFrame:
    """A results table with the electrochemistry of its curves appended.

    Parameters
    ----------
    table : DataFrame
        One or more rows per curve, identified by the ``index`` column (curve position,
        e.g. ``pattern``/``spectrum``) or, without one, by ``time``.
    per_curve : DataFrame
        From :func:`curve_echem` (or any table with ``curve``/``time`` and the
        :data:`ECHEM_COLUMNS`).

    Returns
    -------
    DataFrame
        A copy of ``table`` with :data:`ECHEM_COLUMNS` (replacing any already there).
    """
    cols = [c for c in ECHEM_COLUMNS if c in per_curve]
    out = table.drop(columns=[c for c in cols if c in table]).copy()
    if index is not None and index in out:
        src = per_curve.drop_duplicates("curve").set_index("curve")
        key = out[index].to_numpy()
    elif "time" in out:
        src = per_curve.drop_duplicates("time").set_index("time")
        key = out["time"].to_numpy()
    else:
        raise MissingDataError("the table has neither a curve index nor a time column to attach the "
                               "electrochemistry to.")
    picked = src.reindex(key)
    for c in cols:
        out[c] = picked[c].to_numpy()
    out.attrs = dict(table.attrs)
    return out


def echem_of(table: pd.DataFrame, *, index: str) -> pd.DataFrame | None:
    """The per-curve electrochemistry carried by a results table (None when it has none)."""
    cols = [c for c in ECHEM_COLUMNS if c in table]
    if not cols or index not in table:
        return None
    return table.drop_duplicates(index)[[index, "time", *cols]].rename(columns={index: "curve"})


def load_cycling(source, *, name: str | None = None, max_bytes: int | None = None) -> pd.DataFrame:
    """A cycling file (path or bytes) read as the canonical cycling table, for :func:`curve_echem`."""
    import battlab

    kw = {"name": name} if name else {}
    if max_bytes:
        kw["max_bytes"] = int(max_bytes)
    table = battlab.load(source, kind="echem", **kw)
    if not isinstance(table, pd.DataFrame) or "test_time_s" not in table:
        raise MissingDataError(f"{name or Path(str(source)).name} is not a cycling record (no test time, "
                               "potential and current); give the cycler's export (.mpr, .mpt, .csv…).")
    return table


def timestamps_input_record(path) -> dict:
    """The provenance ``inputs`` entry of a timestamps CSV (it sets the times, so its content counts too)."""
    from battlab.provenance import file_input

    return file_input(path, format="csv", role="timestamps")


def cycling_input_record(echem: pd.DataFrame, fallback_name: str) -> dict:
    """The provenance ``inputs`` entry of a cycling table."""
    from battlab.provenance import data_input

    return data_input(echem.attrs.get("battlab", {}), role="cycling", fallback_name=fallback_name)
