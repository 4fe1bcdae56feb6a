"""EC-AFM image series: frame registration, film (SEI) thickness and step height vs time
and potential, swelling.

A series is a DataArray with dims ``("time", "y", "x")``, per-frame coordinates
``time_s`` and (optionally) ``potential_V``, and the attrs of an AFM map
(``pixel_size_um``, ``units``).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import xarray as xr

from battlab.errors import InvalidParameterError, MissingDataError

__all__ = ["register_series", "stack_frames", "frame_potentials", "thickness_series", "step_height_series",
           "line_step_series", "volume_change_series"]


def _check_series(series):
    if not isinstance(series, xr.DataArray) or series.dims != ("time", "y", "x"):
        raise InvalidParameterError("expected an EC-AFM series: a DataArray with dims ('time', 'y', 'x') "
                                    "(battlab.afm.stack_frames or battlab.datasets.afm.make_ecafm_series).")
    if series.sizes["time"] < 1:
        raise MissingDataError("the series has no frames.")
    return series


def stack_frames(frames, *, time_s=None, potential_V=None) -> xr.DataArray:
    """Stack same-size AFM maps (from :func:`battlab.afm.read_afm`) into a (time, y, x) series."""
    frames = list(frames)
    if not frames:
        raise MissingDataError("no frames to stack.")
    shapes = {f.shape for f in frames}
    if len(shapes) != 1:
        raise InvalidParameterError(f"the frames differ in size: {sorted(shapes)}; crop or resample them first.")
    n = len(frames)
    t = np.arange(n, dtype=float) if time_s is None else np.asarray(time_s, float)
    if t.size != n:
        raise InvalidParameterError(f"{t.size} times for {n} frames.")
    series = xr.concat([f.drop_attrs() if hasattr(f, "drop_attrs") else f for f in frames], dim="time")
    series = series.assign_coords(time_s=("time", t))
    if potential_V is not None:
        v = np.asarray(potential_V, float)
        if v.size != n:
            raise InvalidParameterError(f"{v.size} potentials for {n} frames.")
        series = series.assign_coords(potential_V=("time", v))
    series.attrs = dict(frames[0].attrs)
    return series


def frame_potentials(series, *, potential_V=None, table=None, echem=None, clock_offset_s: float = 0.0):
    """Attach the electrode potential of each frame (coordinate ``potential_V``).

    Give exactly one source:

    potential_V : sequence of float
        One potential per frame, in frame order.
    table : DataFrame
        ``potential_V`` with ``time_s`` (interpolated at the frame times, which must lie
        inside the table's range) or with ``frame`` (matched by frame number).
    echem : DataFrame
        A cycling record (``test_time_s``, ``voltage_V``, ``current_A``; e.g. from
        :func:`battlab.load`): the cell voltage at each frame time via
        :func:`battlab.correlate.echem_at`, with cycler time = frame time + ``clock_offset_s``.

    Returns
    -------
    DataArray
        The series with ``potential_V`` and ``attrs["potential_source"]``.
    """
    series = _check_series(series)
    given = [v is not None for v in (potential_V, table, echem)]
    if sum(given) != 1:
        raise InvalidParameterError("give one potential source: potential_V, table or echem.")
    n = series.sizes["time"]
    times = np.asarray(series["time_s"].values, float) if "time_s" in series.coords else np.arange(n, dtype=float)
    if potential_V is not None:
        v = np.asarray(potential_V, float).ravel()
        if v.size != n:
            raise InvalidParameterError(f"{v.size} potentials for {n} frames.")
        source = "one value per frame"
    elif table is not None:
        if not isinstance(table, pd.DataFrame) or "potential_V" not in table:
            raise MissingDataError("the potential table needs a potential_V column with time_s or frame.")
        if "frame" in table:
            by_frame = table.set_index("frame")["potential_V"]
            missing = sorted(set(range(n)) - set(int(k) for k in by_frame.index))
            if missing:
                raise MissingDataError(f"the potential table has no row for frame(s) {missing[:5]}.")
            v = by_frame.loc[list(range(n))].to_numpy(float)
            source = "table by frame"
        elif "time_s" in table:
            t = table["time_s"].to_numpy(float)
            order = np.argsort(t)
            if times.min() < t.min() or times.max() > t.max():
                raise InvalidParameterError(f"the frames span {times.min():g}–{times.max():g} s, beyond the "
                                            f"table's {t.min():g}–{t.max():g} s.")
            v = np.interp(times, t[order], table["potential_V"].to_numpy(float)[order])
            source = "table interpolated at the frame times"
        else:
            raise MissingDataError("the potential table needs a time_s or a frame column next to potential_V.")
    else:
        from battlab.correlate.timeline import echem_at

        v = echem_at(times, echem, clock_offset_s=float(clock_offset_s), label="frames")["voltage_V"].to_numpy(float)
        source = f"cycling record at frame time + {float(clock_offset_s):g} s"
    if not np.isfinite(v).any():
        raise MissingDataError("no frame falls inside the potential record: check the times and clock offset.")
    out = series.assign_coords(potential_V=("time", v))
    out.attrs = {**series.attrs, "potential_source": source}
    return out


def register_series(series, *, reference="previous", upsample_factor: int = 20):
    """Undo lateral drift between frames (phase correlation of :mod:`battlab.imaging.drift`).

    ``reference="previous"`` (default) correlates each frame with the one before and sums
    the shifts: a film that grows through the series changes the image too much for a
    comparison with frame 0, but little from one frame to the next. An integer compares
    every frame with that frame.

    Returns
    -------
    registered : DataArray
        The series shifted onto frame ``reference`` (pixels moved in from outside are NaN).
    drift : DataFrame
        Per frame dy_px, dx_px, dy_um, dx_um and the correlation confidence.
    """
    from battlab.imaging.drift import apply_drift, estimate_drift

    series = _check_series(series)
    # Each frame's own plane is removed first: a tilt is a strong low-frequency pattern
    # that pulls the correlation peak, and uniform height changes must not weigh in.
    z = np.asarray(series.values, float)
    ny, nx = z.shape[1:]
    yy, xx = np.meshgrid(np.linspace(-1, 1, ny), np.linspace(-1, 1, nx), indexing="ij")
    design = np.stack([np.ones(z[0].size), xx.ravel(), yy.ravel()], axis=1)
    flat = z.reshape(z.shape[0], -1).T
    coef = np.linalg.lstsq(design, np.nan_to_num(flat), rcond=None)[0]
    centred = series.copy(data=(flat - design @ coef).T.reshape(z.shape))
    movie = centred.expand_dims(channel=1, axis=-1).transpose("time", "y", "x", "channel")
    movie.attrs = dict(series.attrs)
    ref = reference if reference == "previous" else int(reference)
    drift = estimate_drift(movie, reference=ref, upsample_factor=upsample_factor, scheduler="synchronous")
    full = series.expand_dims(channel=1, axis=-1).transpose("time", "y", "x", "channel")
    full.attrs = dict(series.attrs)
    registered = apply_drift(full, drift, method="linear").isel(channel=0).compute()
    registered = registered.astype(float)
    registered.attrs = dict(series.attrs)
    registered.attrs["registered_to_frame"] = 0 if ref == "previous" else ref
    return registered, drift


def _table(series, values, name):
    out = pd.DataFrame({"frame": np.arange(series.sizes["time"]),
                        "time_s": series["time_s"].to_numpy() if "time_s" in series.coords
                        else np.arange(series.sizes["time"], dtype=float)})
    if "potential_V" in series.coords:
        out["potential_V"] = series["potential_V"].to_numpy()
    out[name] = values
    return out


def _offset_fit(series, a_mask, b_mask, labels):
    """Per frame, the height offset of region a over region b with a common plane removed.

    Fitting z = c0 + c1·x + c2·y + h·[a] on the pixels of both regions makes h immune to
    sample tilt, which would otherwise add to a difference of plain means.
    """
    a, b = (_as_mask(m, series, label) for m, label in zip((a_mask, b_mask), labels, strict=True))
    yy, xx = np.nonzero(a | b)
    in_a = a[yy, xx].astype(float)
    design = np.stack([np.ones(yy.size), xx / series.sizes["x"], yy / series.sizes["y"], in_a], axis=1)
    z = np.asarray(series.values, float)[:, yy, xx]
    out = np.full(z.shape[0], np.nan)
    for i, row in enumerate(z):
        ok = np.isfinite(row)
        if ok.sum() > 4 and in_a[ok].any() and (in_a[ok] == 0).any():
            out[i] = np.linalg.lstsq(design[ok], row[ok], rcond=None)[0][3]
    return out


def thickness_series(series, *, film, reference) -> pd.DataFrame:
    """Film (SEI) thickness per frame: height of the film over a bare reference region.

    The offset between the two regions is fitted together with a common plane, so a
    tilted sample does not bias it (the scratch/step method on levelled data).

    Parameters
    ----------
    series : DataArray
        Registered (time, y, x) heights (:func:`register_series`).
    film, reference : bool arrays (y, x)
        Where the film grows, and a bare reference (a scratched window, a masked strip).
        Both should cover the same terraces so that steps cancel in the difference.

    Returns
    -------
    DataFrame
        frame, time_s, potential_V (if known), thickness_nm, growth_nm (relative to frame 0).
    """
    series = _check_series(series)
    t = _offset_fit(series, film, reference, ("film", "reference"))
    out = _table(series, t, "thickness_nm")
    out["growth_nm"] = t - t[0]
    return out


def step_height_series(series, *, upper, lower) -> pd.DataFrame:
    """Step height per frame (terrace offset fitted with a common plane) and swelling %
    relative to frame 0 (e.g. graphite interlayer swelling on lithiation)."""
    series = _check_series(series)
    h = _offset_fit(series, upper, lower, ("upper terrace", "lower terrace"))
    out = _table(series, h, "step_height_nm")
    out["swelling_pct"] = (h / h[0] - 1) * 100 if h[0] != 0 else np.nan
    return out


def line_step_series(series, start_um, end_um, *, width_um: float = 0.0) -> pd.DataFrame:
    """Step height per frame along a line crossing the step, and swelling % against frame 0.

    Each registered frame is profiled along the same line (:func:`battlab.afm.line_profile`,
    averaged over ``width_um``) and its step fitted as two terraces with one common slope
    (:func:`battlab.afm.profile_step_height`), so tilt and a uniform film on both terraces
    drop out. The edge found in frame 0 is kept for every frame, and only pixels present
    in every frame are averaged.

    A line samples a strip of the surface: texture along it biases the step more than
    whole-terrace masks (:func:`step_height_series`) do, so draw it wide, across the step,
    on the same film on both sides.

    Returns
    -------
    DataFrame
        frame, time_s, potential_V (if known), step_height_nm, swelling_pct, edge_um.
    """
    from battlab.afm.topography import line_profile, profile_step_height

    series = _check_series(series)
    # Only pixels present in every registered frame: otherwise drift borders change which
    # pixels each frame averages, and the texture they carry would pass for swelling.
    common = np.isfinite(np.asarray(series.values, float)).all(axis=0)
    heights, edge = [], None
    for i in range(series.sizes["time"]):
        frame = series.isel(time=i).where(common)
        frame.attrs = dict(series.attrs)
        profile = line_profile(frame, start_um, end_um, width_um=width_um)
        fit = profile_step_height(profile, edge_um=edge)
        edge = fit["edge_um"] if edge is None else edge
        heights.append(fit["step_height"])
    h = np.asarray(heights)
    out = _table(series, h, "step_height_nm")
    out["swelling_pct"] = (h / h[0] - 1) * 100 if h[0] != 0 else np.nan
    out["edge_um"] = edge
    return out


def volume_change_series(series, *, region, reference) -> pd.DataFrame:
    """Volume gained or lost in ``region`` since frame 0, each frame's height referred to a
    region that does not change (a bare or masked area), which removes piezo z drift.

    Returns
    -------
    DataFrame
        frame, time_s, potential_V (if known), volume_change_um3 (Σ Δz·ΔxΔy over the
        region's pixels present in every frame), area_um2 and mean_height_change_nm.
    """
    series = _check_series(series)
    z = np.asarray(series.values, float)
    reg = _as_mask(region, series, "region")
    ref = _as_mask(reference, series, "reference")
    level = np.nanmean(np.where(ref[None], z, np.nan), axis=(1, 2))
    rel = z - level[:, None, None]
    common = reg & np.isfinite(rel).all(axis=0)
    if not common.any():
        raise MissingDataError("no pixel of the region is inside every frame (drift larger than the region?).")
    dx = series.attrs.get("pixel_size_um", np.nan)
    dy = series.attrs.get("pixel_size_y_um", dx)
    dz = (rel[:, common] - rel[0, common]).sum(axis=1)  # nm · pixels
    area = common.sum() * dx * dy
    out = _table(series, dz * dx * dy * 1e-3, "volume_change_um3")
    out["area_um2"] = area
    out["mean_height_change_nm"] = dz / common.sum()
    return out


def _as_mask(mask, series, label):
    m = np.asarray(mask, bool)
    if m.shape != (series.sizes["y"], series.sizes["x"]):
        raise InvalidParameterError(f"the {label} mask is {m.shape}; frames are "
                                    f"{(series.sizes['y'], series.sizes['x'])}.")
    if not m.any():
        raise MissingDataError(f"the {label} mask selects no pixel.")
    return m
